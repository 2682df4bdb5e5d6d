"""
Byte-pair encoding, from scratch: how text becomes the integers a language
model reads, and why those integers are not characters.

Start from the 256 possible bytes, so any string (accents, CJK, emoji) is
already encodable: UTF-8 turns it into bytes and every byte is a token. Then
compress: count every adjacent pair of tokens in a training corpus, give the
most frequent pair a new id, replace it everywhere, and repeat. Each merge adds
one token to the vocabulary and shortens the corpus. The ordered list of merges
IS the tokenizer: encoding new text replays the merges in the order they were
learned (their rank), never by what happens to be frequent in the new text;
decoding looks every id up as a byte string and joins them.

The file trains a 512-token vocabulary (256 merges) on data/names.txt in a few
seconds and shows the corpus shrinking by about 2x, while every string, emoji
included, survives the round trip exactly.

References: Gage, "A New Algorithm for Data Compression" (1994), the original
BPE; Sennrich et al., "Neural Machine Translation of Rare Words with Subword
Units" (2016), BPE for subwords; Radford et al., "Language Models are
Unsupervised Multitask Learners" (GPT-2, 2019), byte-level BPE.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

# Kata skeleton generated from solutions/microtokenizer/microtokenizer.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microtokenizer`; stuck? `python -m workbook hint microtokenizer`.
from workbook import KataTodo

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
VOCAB_SIZE = 512  # 256 byte tokens + 256 merges
SEED = 42

# === BYTES: THE BASE VOCABULARY ===
#
# A character-level vocabulary needs a token for every character anyone might
# type (150,000+ Unicode code points) or an <unk> token for the rest. Byte-level
# BPE sidesteps both: text.encode("utf-8") turns ANY string into bytes 0..255,
# ASCII as one byte, "é" as two (c3 a9), "中" as three, "😀" as four. Token ids
# 0..255 are those bytes; ids 256, 257, ... are learned merges. Nothing is ever
# out of vocabulary, at the price of long sequences before any merge is learned.
#
# Conventions used throughout:
#   ids      a list of ints, one token id each
#   pair     a tuple (a, b) of two adjacent ids
#   merges   a list of pairs in the order they were learned; merges[r] is the
#            pair of rank r and it creates the token id 256 + r


# === COUNTING PAIRS ===
#
# The statistic BPE is built on: how often does token a sit right before
# token b? Each name is its own sequence; pairs never straddle two names (GPT-2
# likewise splits text into words with a regex first, so merges never glue the
# end of one word to the start of the next).


def pair_counts(sequences):
    """Count every adjacent pair of ids inside each sequence; return a new dict {(a, b): count}.

    sequences: a list of id lists. The count of (a, b) is the number of
    positions i in any sequence with (seq[i], seq[i+1]) == (a, b), so
    overlapping occurrences count separately: [7, 7, 7] holds (7, 7) twice.
    Pairs never cross from one sequence into the next. Pairs that never occur
    are absent (no zero counts). The inputs are not modified.
    """
    raise KataTodo('microtokenizer.pair_counts: Count every adjacent pair of ids inside each sequence; return a new dict {(a, b): count}.')


# === MERGING ONE PAIR ===
#
# Replace every occurrence of (a, b) by the new id, scanning left to right.
# Overlaps resolve greedily from the left: merging (7, 7) in [7, 7, 7] gives
# [new, 7], because once positions 0 and 1 are consumed, position 1 cannot
# also pair with position 2. Each replacement shortens the sequence by one.


def merge(ids, pair, new_id):
    """Return a new list: ids with every occurrence of pair replaced by new_id, left to right.

    ids: list of ints; pair: (a, b); new_id: the id that replaces a matched a, b.
    Scan from the left; on a match, emit new_id and skip both ids, so
    overlapping matches resolve leftmost-first ([7, 7, 7] with (7, 7) ->
    [new_id, 7]). The input list is not modified.
    """
    raise KataTodo('microtokenizer.merge: Return a new list: ids with every occurrence of pair replaced by new_id, left to right.')


# === TRAINING ===
#
# The training loop, one merge per iteration:
#   counts  = pair_counts(corpus)
#   best    = the most frequent pair (tie rule below)
#   corpus  = merge(every sequence, best, 256 + len(merges))
#   merges += [best]
# until the vocabulary reaches vocab_size = 256 + number of merges.
#
# The tie rule matters more than it looks: two pairs with the same count are
# common (especially late, when counts are small), and "whichever the dict
# yields first" would make the tokenizer depend on the order of the corpus.
# Breaking ties by the smallest (a, b) makes training a pure function of the
# multiset of texts: shuffle the corpus and the merges stay identical.
#
# Signpost: production trainers (HuggingFace tokenizers, tiktoken's educational
# trainer, SentencePiece) do not recount from scratch after each merge; they
# keep a heap of pair counts and update only the pairs next to each replaced
# occurrence, which turns O(merges x corpus) into roughly O(corpus log corpus).
# They also count unique words once with a multiplicity.


def train(corpus, vocab_size, log=None):
    """Learn BPE merges on a list of strings; return the merges, a list of (a, b) pairs in rank order.

    corpus: a non-empty list of strings; each is UTF-8 encoded to its own id
    sequence (pairs never cross strings). vocab_size: an int >= 256; training
    makes vocab_size - 256 merges, or stops early when no adjacent pair is
    left anywhere. Each step merges the most frequent pair (pair_counts);
    ties are broken by the smallest pair, comparing (a, b) as tuples of ids
    (so (97, 122) beats (98, 97) beats (98, 98)). merges[r] creates id 256 + r.
    log: optional callable that receives progress lines (strings).
    Raises ValueError naming corpus (empty list, or a str instead of a list)
    or vocab_size (not an int, or < 256).
    """
    raise KataTodo('microtokenizer.train: Learn BPE merges on a list of strings; return the merges, a list of (a, b) pairs in rank order.')


# === THE VOCABULARY ===
#
# Token id -> the bytes it stands for. Ids 0..255 are single bytes; a merged
# token is the concatenation of its two parts, which are always older tokens
# (a merge can only combine ids that existed when it was learned), so one pass
# in rank order fills the table:
#   vocab[256 + r] = vocab[a_r] + vocab[b_r]
# vocab size = 256 + len(merges), exactly.


def build_vocab(merges):
    """Return a list of bytes of length 256 + len(merges): vocab[i] is what token id i decodes to.

    vocab[i] = bytes([i]) for i < 256, and vocab[256 + r] = vocab[a] + vocab[b]
    for merges[r] = (a, b). Raises ValueError naming merges when merges[r]
    uses an id that does not exist yet (negative, or >= 256 + r).
    """
    raise KataTodo('microtokenizer.build_vocab: Return a list of bytes of length 256 + len(merges): vocab[i] is what token id i decodes to.')


# === ENCODING: REPLAY THE MERGES BY RANK ===
#
# The rule that makes a tokenizer a function: apply the merges in the order
# they were LEARNED. At each step, among the pairs present in the text, merge
# the one with the lowest rank (learned earliest), everywhere, and repeat
# until no present pair is a known merge.
#
# Why not "most frequent pair in this text"? Because training built token
# 256 + r on top of the segmentation that merges 0..r-1 produced. Take merges
# [(a, b), (b, c)] and the text "abcbcbc": by rank, (a, b) goes first and
# leaves [ab, c, bc, bc]; by frequency in the text, (b, c) (three times) would
# go first and give [a, bc, bc, bc], a segmentation training never produced,
# and the same word would tokenize differently in different documents.


def encode(text, merges):
    """Encode a string to token ids: UTF-8 bytes, then merges applied in rank order.

    text: any str that UTF-8 can encode (a lone surrogate raises
    UnicodeEncodeError, itself a ValueError). merges: list of (a, b) in rank
    order, merges[r] creating id 256 + r. Repeatedly merge, everywhere in the
    sequence, the present pair with the LOWEST rank (never the most frequent
    one); stop when no adjacent pair is a merge. Returns a new list of ints;
    "" encodes to [].
    """
    raise KataTodo('microtokenizer.encode: Encode a string to token ids: UTF-8 bytes, then merges applied in rank order.')


# === DECODING ===
#
# Decoding is a table lookup plus one subtlety: join ALL the bytes first, and
# only then decode UTF-8. A token can end in the middle of a character (byte-
# level merges know nothing about characters: "a" + the first byte of "é" is a
# perfectly good merge), so decoding token by token would split characters.
# Ids from a model's sampler need not form valid UTF-8 at all; errors="replace"
# turns each invalid sequence into U+FFFD instead of crashing, as GPT-2 does.


def decode(ids, merges):
    """Decode token ids to a string: concatenate every token's bytes, then UTF-8 decode with errors="replace".

    ids: list of ints in [0, 256 + len(merges)); merges as in encode. Invalid
    UTF-8 (from arbitrary ids) becomes U+FFFD exactly as
    bytes.decode("utf-8", errors="replace") does on the concatenated bytes.
    Raises ValueError naming ids for an id outside the vocabulary, including
    one that is not an int (1.5, True): check every id before indexing, so a
    bad id is a ValueError, never the TypeError or KeyError of a lookup.
    """
    raise KataTodo('microtokenizer.decode: Decode token ids to a string: concatenate every token\'s bytes, then UTF-8 decode with errors="replace".')


# === COMPRESSION ===
#
# The figure of merit of a tokenizer: UTF-8 bytes per token. 1.0 means no
# compression (pure bytes); GPT-4's tokenizer gets ~4 on English prose. A
# longer sequence costs a transformer quadratically in attention and linearly
# everywhere else, so compression is compute saved.


def compression_ratio(texts, merges):
    """Return total UTF-8 bytes / total tokens of encode(text, merges) over a list of strings.

    Raises ValueError naming texts when it is empty or encodes to zero tokens.
    """
    raise KataTodo('microtokenizer.compression_ratio: Return total UTF-8 bytes / total tokens of encode(text, merges) over a list of strings.')


# === DEMONSTRATION ===


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, blank lines dropped."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def show(token_bytes):
    """A token's bytes as readable text: decoded when valid UTF-8, else hex."""
    try:
        return repr(token_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        return token_bytes.hex(" ")


def demo_rank_versus_frequency():
    print("Encoding replays merges by RANK, not by frequency in the new text")
    merges = [(ord("a"), ord("b")), (ord("b"), ord("c"))]
    vocab = build_vocab(merges)
    text = "abcbcbc"
    by_rank = encode(text, merges)
    # what a frequency-driven encoder would do: (b, c) occurs 3x, so it goes first
    by_frequency = merge(merge(list(text.encode()), merges[1], 257), merges[0], 256)
    print(f"   merges: rank 0 ('a','b') -> 256, rank 1 ('b','c') -> 257; text {text!r}")
    print(f"   by rank      {by_rank}  = {[vocab[t].decode() for t in by_rank]}")
    print(f"   by frequency {by_frequency}  = {[vocab[t].decode() for t in by_frequency]}  (never seen in training)\n")


def demo_round_trip(merges):
    print("Round trip decode(encode(s)) == s")
    samples = ["emma", "Zoë", "José María", "日本語", "😀👍🏽", "e\u0301", "👩‍👩‍👧", ""]
    rng = random.Random(SEED)
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x4E00, 0x4FFF), (0x1F300, 0x1F64F)]
    for _ in range(2000):
        samples.append("".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 12))))
    ok = sum(decode(encode(s, merges), merges) == s for s in samples)
    for s in samples[:8]:
        ids = encode(s, merges)
        print(f"   {s!r:22} {len(s.encode('utf-8')):3d} bytes -> {len(ids):2d} tokens {ids[:8]}{' ...' if len(ids) > 8 else ''}")
    print(f"   {ok}/{len(samples)} strings round-trip exactly ({len(samples) - 8} random Unicode strings included)")
    print(f"   invalid UTF-8 ids decode to U+FFFD: decode([0xff, 104, 105]) = {decode([0xFF, 104, 105], merges)!r}\n")
    return ok == len(samples)


def main():
    random.seed(SEED)
    names = load_names()
    rng = random.Random(SEED)
    held_out = set(rng.sample(range(len(names)), len(names) // 10))
    train_names = [n for i, n in enumerate(names) if i not in held_out]
    test_names = [n for i, n in enumerate(names) if i in held_out]

    demo_rank_versus_frequency()

    print(f"Training byte-level BPE on {len(names):,} names from data/names.txt (vocab {VOCAB_SIZE})")
    start = time.time()
    merges = train(names, VOCAB_SIZE, log=print)
    print(f"   {len(merges)} merges in {time.time() - start:.1f}s; vocabulary = 256 + {len(merges)} = {256 + len(merges)}\n")

    vocab = build_vocab(merges)
    print("The first merges (most frequent pairs) and the longest tokens")
    first = ", ".join(f"{show(vocab[256 + r])}" for r in range(12))
    longest = sorted(range(256, len(vocab)), key=lambda t: (-len(vocab[t]), t))[:8]
    print(f"   first 12: {first}")
    print(f"   longest : {', '.join(show(vocab[t]) for t in longest)}\n")

    print("Compression (UTF-8 bytes per token) as the vocabulary grows")
    held_merges = train(train_names, VOCAB_SIZE)
    for k in (0, 16, 32, 64, 128, 256):
        ratio = compression_ratio(names, merges[:k])
        print(f"   {256 + k:4d} tokens  {ratio:5.2f}x  {'#' * round(ratio * 20)}")
    ratio = compression_ratio(names, merges)
    held_ratio = compression_ratio(test_names, held_merges)
    print(f"   held-out names (trained on the other 90%): {held_ratio:.2f}x\n")

    round_trip_ok = demo_round_trip(merges)

    print("Success criteria (seed 003)")
    print(f"   round trip on every test string : {'yes' if round_trip_ok else 'NO'}")
    print(f"   compression on data/names.txt   : {ratio:.2f}x (>= 1.5x required; upstream 2.01x) "
          f"{'PASS' if ratio >= 1.5 else 'FAIL'}")
    print(f"   runtime                         : {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
