"""Realistic microtokenizer mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "counts_even_positions_only",
        "counts pairs in disjoint chunks of two, so overlapping and odd-position pairs are missed",
        "for pair in zip(ids, ids[1:]):",
        "for pair in zip(ids[::2], ids[1::2]):",
    ),
    Mutant(
        "merge_reuses_second_id",
        "after a match advances one place instead of two, so the second id is used again",
        "            out.append(new_id)\n            i += 2",
        "            out.append(new_id)\n            i += 1",
    ),
    Mutant(
        "merge_drops_last_id",
        "stops the scan one id early, so a trailing unmatched id is lost",
        "    while i < len(ids):\n        # the i + 1",
        "    while i < len(ids) - 1:\n        # the i + 1",
    ),
    Mutant(
        "pairs_across_strings",
        "joins the whole corpus into one sequence, so merges glue the end of one name to the next",
        'sequences = [list(text.encode("utf-8")) for text in corpus]',
        'sequences = [list("".join(corpus).encode("utf-8"))]',
    ),
    Mutant(
        "tie_first_seen",
        "takes the first most frequent pair the dict yields (insertion order) instead of the documented tie rule",
        "best = min(counts, key=lambda pair: (-counts[pair], pair))",
        "best = max(counts, key=counts.get)",
    ),
    Mutant(
        "tie_largest_pair",
        "breaks ties towards the largest pair",
        "best = min(counts, key=lambda pair: (-counts[pair], pair))",
        "best = max(counts, key=lambda pair: (counts[pair], pair))",
    ),
    Mutant(
        "least_frequent_pair",
        "forgets the minus sign and merges the rarest pair",
        "best = min(counts, key=lambda pair: (-counts[pair], pair))",
        "best = min(counts, key=lambda pair: (counts[pair], pair))",
    ),
    Mutant(
        "one_merge_too_many",
        "makes vocab_size - 255 merges (vocab ends at 257 + merges)",
        "for rank in range(vocab_size - 256):",
        "for rank in range(vocab_size - 255):",
    ),
    Mutant(
        "accepts_small_vocab",
        "only rejects negative vocabulary sizes",
        "or vocab_size < 256:",
        "or vocab_size < 0:",
    ),
    Mutant(
        "vocab_parts_swapped",
        "builds a merged token as the second part followed by the first",
        "vocab.append(vocab[a] + vocab[b])",
        "vocab.append(vocab[b] + vocab[a])",
    ),
    Mutant(
        "encode_by_frequency",
        "encodes by merging the most frequent known pair of the new text first",
        'best = min(present, key=lambda pair: rank.get(pair, float("inf")))',
        "best = max(present, key=lambda pair: (pair in rank, list(zip(ids, ids[1:])).count(pair)))",
    ),
    Mutant(
        "encode_code_points",
        "starts encoding from code points instead of UTF-8 bytes",
        '    ids = list(text.encode("utf-8"))\n    rank =',
        "    ids = [ord(ch) for ch in text]\n    rank =",
    ),
    Mutant(
        "decode_token_by_token",
        "decodes each token's bytes separately, splitting characters that straddle tokens",
        'return b"".join(vocab[token] for token in ids).decode("utf-8", errors="replace")',
        'return "".join(vocab[token].decode("utf-8", errors="replace") for token in ids)',
    ),
    Mutant(
        "decode_ignores_invalid",
        'drops invalid UTF-8 with errors="ignore" instead of replacing it',
        'decode("utf-8", errors="replace")\n',
        'decode("utf-8", errors="ignore")\n',
    ),
    Mutant(
        "decode_range_off_by_one",
        "lets the id len(vocab) through the range check (IndexError instead of ValueError)",
        "not 0 <= token < len(vocab):",
        "not 0 <= token <= len(vocab):",
    ),
    Mutant(
        "ratio_counts_characters",
        "divides characters, not UTF-8 bytes, by tokens",
        'total_bytes = sum(len(text.encode("utf-8")) for text in texts)',
        "total_bytes = sum(len(text) for text in texts)",
    ),
]
