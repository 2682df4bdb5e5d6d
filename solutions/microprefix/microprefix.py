"""
Automatic prefix caching, simulated: requests that start with the same tokens
(a system prompt, a few-shot preamble, the earlier turns of a chat) share the
KV cache of that prefix instead of recomputing it.

micropaged stored each sequence's KV cache in fixed-size blocks. A FULL block
is immutable: its keys and values depend only on the tokens up to its end
(causality), never on what comes after. So a full block can be named by its
content, and any later request whose prompt begins with the same tokens can
point its block table at the existing block:

    request A: [ the cat sat ][ on the mat ][ and ...
                   block 0        block 1
    request B: [ the cat sat ][ on the mat ][ but ...   -> reuses blocks 0, 1

The name must cover the WHOLE prefix, not only the block's own tokens: the
keys of "on the mat" after "the cat sat" differ from those after "a dog
sat". vLLM therefore hashes each block together with the hash of the block
before it, a hash chain:

    h_0 = H(None, tokens[0:B]),   h_i = H(h_{i-1}, tokens[iB:(i+1)B])

Equal h_i means equal tokens from position 0 to the block's end. Blocks whose
last user is gone stay cached (refcount 0) until memory is needed; they are
then evicted in least-recently-freed order. A block that some running
request still reads is never evicted.

This file runs the tiny model of microkv on top of such a cache and checks
that cached prefill gives exactly the logits of a full prefill while counting
the blocks reused and the multiplications saved.

References: Kwon et al., "Efficient Memory Management for Large Language
Model Serving with PagedAttention" (SOSP 2023) and vLLM's automatic prefix
caching design (block hashes chained through the parent, an LRU free-block
queue); Zheng et al., "SGLang: Efficient Execution of Structured Language
Model Programs" (2024) for the radix-tree variant (RadixAttention).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import dataclass

# === THE TINY MODEL (PROVIDED, AS IN microkv) ===
#
# The serving track's one model: microkv's GPT-style decoder with seeded
# random weights (vocab 27, d_model 16, 4 layers, 4 heads, d_ff 32):
#   x_0 = wte[token] + wpe[position]
#   per layer: q, k, v = W rmsnorm(x); x += Wo attention(q, cached k, v);
#              x += W2 relu(W1 rmsnorm(x))
#   logits = lm_head rmsnorm(x)
# Random weights are enough: every technique in this kata is an exact
# rewrite of the same arithmetic, so it must be exact for ANY weights.
# Ops counts multiplications as in microkv: weight_mults for every matvec,
# attention_mults for every score and weighted sum.

RMS_EPS = 1e-5


@dataclass(frozen=True)
class Config:
    """Model sizes. n_head must divide d_model; positions run 0 .. max_len-1."""

    vocab_size: int = 27
    d_model: int = 16
    n_layer: int = 4
    n_head: int = 4
    d_ff: int = 32
    max_len: int = 64


@dataclass
class Model:
    """Weights as lists of lists, every matrix (out x in); layers[l] has wq, wk, wv, wo, w1, w2."""

    config: Config
    wte: list
    wpe: list
    layers: list
    lm_head: list


def init_model(config: Config, seed: int = 42) -> Model:
    """A seeded random-weight model, exactly microkv's init_model."""
    for name in ("vocab_size", "d_model", "n_layer", "n_head", "d_ff", "max_len"):
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
    if config.d_model % config.n_head:
        raise ValueError(f"config.n_head = {config.n_head} must divide d_model = {config.d_model}")
    rng = random.Random(seed)

    def matrix(rows: int, cols: int, bound: float) -> list[list[float]]:
        return [[rng.uniform(-bound, bound) for _ in range(cols)] for _ in range(rows)]

    d, f = config.d_model, config.d_ff
    unit, wide, ff = math.sqrt(3.0 / d), 2.0 * math.sqrt(3.0 / d), math.sqrt(3.0 / f)
    wte = matrix(config.vocab_size, d, 1.0)
    wpe = matrix(config.max_len, d, 1.0)
    layers = [
        {"wq": matrix(d, d, wide), "wk": matrix(d, d, wide), "wv": matrix(d, d, unit),
         "wo": matrix(d, d, unit), "w1": matrix(f, d, unit), "w2": matrix(d, f, ff)}
        for _ in range(config.n_layer)
    ]
    return Model(config, wte, wpe, layers, matrix(config.vocab_size, d, wide))


class Ops:
    """The arithmetic every model helper uses, with its multiplications counted."""

    def __init__(self) -> None:
        self.weight_mults = 0
        self.attention_mults = 0

    @property
    def mults(self) -> int:
        return self.weight_mults + self.attention_mults

    def matvec(self, W: list[list[float]], x: list[float]) -> list[float]:
        self.weight_mults += len(W) * len(x)
        return [sum(w * xi for w, xi in zip(row, x)) for row in W]

    def dot(self, a: list[float], b: list[float]) -> float:
        self.attention_mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def weighted_sum(self, weights: list[float], rows: list[list[float]]) -> list[float]:
        self.attention_mults += len(weights) * len(rows[0])
        return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(len(rows[0]))]


def rmsnorm(x: list[float]) -> list[float]:
    scale = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + RMS_EPS)
    return [v * scale for v in x]


def softmax(scores: list[float]) -> list[float]:
    peak = max(scores)  # stable softmax: exp(s - max) <= 1 never overflows
    weights = [math.exp(s - peak) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def argmax(values: list[float]) -> int:
    """Index of the largest value; the LOWEST index wins a tie (greedy decoding)."""
    best = 0
    for index, value in enumerate(values):
        if value > values[best]:
            best = index
    return best


def attend(q: list[float], keys: list[list[float]], values: list[list[float]], n_head: int, ops: Ops) -> list[float]:
    """Multi-head attention of ONE query over the given (visible) keys and values."""
    hd = len(q) // n_head
    out: list[float] = []
    for h in range(n_head):
        lo, hi = h * hd, (h + 1) * hd
        scores = [ops.dot(q[lo:hi], k[lo:hi]) / math.sqrt(hd) for k in keys]
        out.extend(ops.weighted_sum(softmax(scores), [v[lo:hi] for v in values]))
    return out


def check_tokens(model: Model, tokens, name: str, start: int = 0) -> None:
    """Raise ValueError naming ``name`` unless tokens is a non-empty list of valid ids
    that fits at positions start .. start+len-1 < max_len."""
    config = model.config
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise ValueError(f"{name} must be a non-empty list of token ids, got {tokens!r}")
    for token in tokens:
        if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < config.vocab_size:
            raise ValueError(f"{name} holds {token!r}, not a token id in 0..{config.vocab_size - 1}")
    if start + len(tokens) > config.max_len:
        raise ValueError(f"{name} would occupy positions {start}..{start + len(tokens) - 1}, past max_len = {config.max_len}")


def forward_chunk(model: Model, tokens: list[int], keys: list, values: list, ops: Ops) -> list[list[float]]:
    """microkv's prefill on plain per-layer lists: feed tokens at positions len(keys[0]) onward.

    keys[layer] and values[layer] hold the cached vectors of positions
    0 .. start-1 (start = len(keys[0])); this APPENDS the chunk's k, v to
    them (the lists grow) and returns one row of logits per chunk token.
    Chunk token i attends to cached positions 0 .. start + i. Feeding a
    sequence in any chunks gives the same logits and the same cache as one
    chunk: causality makes it an exact rewrite.
    """
    config = model.config
    start = len(keys[0])
    check_tokens(model, tokens, "tokens", start=start)
    xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + i])] for i, token in enumerate(tokens)]
    for layer, w in enumerate(model.layers):
        hs = [rmsnorm(x) for x in xs]
        qs = [ops.matvec(w["wq"], h) for h in hs]
        for h in hs:
            keys[layer].append(ops.matvec(w["wk"], h))
            values[layer].append(ops.matvec(w["wv"], h))
        new_xs = []
        for i, (x, q) in enumerate(zip(xs, qs)):
            seen = start + i + 1  # causal: keys 0 .. start+i
            a = attend(q, keys[layer][:seen], values[layer][:seen], config.n_head, ops)
            x = [u + v for u, v in zip(x, ops.matvec(w["wo"], a))]
            hidden = [max(0.0, v) for v in ops.matvec(w["w1"], rmsnorm(x))]
            new_xs.append([u + v for u, v in zip(x, ops.matvec(w["w2"], hidden))])
        xs = new_xs
    return [ops.matvec(model.lm_head, rmsnorm(x)) for x in xs]


def empty_kv(model: Model) -> tuple[list, list]:
    """Fresh per-layer key and value lists (one new list per layer) for forward_chunk."""
    return [[] for _ in range(model.config.n_layer)], [[] for _ in range(model.config.n_layer)]


# === BLOCK HASHES ===
#
# The hash must be deterministic across processes and machines: a cache
# shared by many workers (or saved to disk) must agree on names. Python's
# hash() of a str is salted per process (PYTHONHASHSEED), so it is no good
# here; a cryptographic digest over a canonical encoding is. "Canonical"
# matters too: the encoding of tokens [1, 23] must differ from [12, 3], so
# concatenating digits is wrong, and a tuple and a list of the same ids must
# give the same name.
# Signpost: vLLM hashes (parent_hash, token ids, extra keys such as LoRA id or
# image hashes) with sha256 (or a faster hash when configured); SGLang keys a
# radix tree by the tokens themselves instead of hashing.


def block_hash(parent_hash, block_tokens) -> str:
    """Name one full block by its tokens AND everything before it: a sha256 hex digest.

    parent_hash: the previous block's hash (a str), or None for block 0.
    block_tokens: the block's token ids (a list or tuple of ints). Return
    hashlib.sha256 of a canonical encoding of (parent_hash, the token ids),
    as a 64-character hex string: equal inputs give equal hashes in any
    process, a list and a tuple of the same ids give the same hash, and
    different parents or different token sequences give different hashes.
    Raises ValueError naming parent_hash unless it is None or a str, and
    naming block_tokens unless it is a non-empty list/tuple of ints >= 0.
    """
    # BEGIN SOLUTION
    if parent_hash is not None and not isinstance(parent_hash, str):
        raise ValueError(f"parent_hash must be None or a str, got {parent_hash!r}")
    if not isinstance(block_tokens, (list, tuple)) or not block_tokens:
        raise ValueError(f"block_tokens must be a non-empty list of token ids, got {block_tokens!r}")
    for token in block_tokens:
        if not isinstance(token, int) or isinstance(token, bool) or token < 0:
            raise ValueError(f"block_tokens holds {token!r}, not a token id")
    # JSON of [parent, [ids]]: separators keep every token delimited, null
    # marks "no parent", and a tuple encodes like a list.
    payload = json.dumps([parent_hash, list(block_tokens)], separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    # END SOLUTION


def hash_blocks(tokens, block_size: int) -> list[str]:
    """The chained hashes of every FULL block of tokens: len(tokens) // block_size of them.

    h_0 = block_hash(None, tokens[0:B]); h_i = block_hash(h_{i-1},
    tokens[iB:(i+1)B]). A last, partly filled block gets no hash (its
    content is not final). Raises ValueError naming block_size unless it is
    an integer >= 1 (a bool is not), and naming tokens unless it is a
    list/tuple.
    """
    # BEGIN SOLUTION
    if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
        raise ValueError(f"block_size must be an integer >= 1, got {block_size!r}")
    if not isinstance(tokens, (list, tuple)):
        raise ValueError(f"tokens must be a list of token ids, got {tokens!r}")
    hashes: list[str] = []
    parent = None
    # range stops at the last FULL block: n // B blocks, never the partial one.
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = block_hash(parent, tokens[start:start + block_size])
        hashes.append(parent)
    return hashes
    # END SOLUTION


# === THE PREFIX CACHE: BLOCKS, REFCOUNTS, AN LRU OF FREE BLOCKS ===
#
# State (all provided; the methods below are the tasks):
#   refcount[b]     how many block tables hold block b (0 = free)
#   free_queue      every block with refcount 0, in eviction order: the
#                   FRONT is evicted (reused) first. It starts as 0..N-1.
#   block_hash[b]   the hash registered for block b, or None
#   cached          hash -> block: the lookup table of the prefix cache
#   tables          seq_id -> the sequence's block table (list of blocks)
#   k[b][slot], v[b][slot]   one position's keys (values): a list of n_layer
#                   vectors, one per layer
#   hits, evictions counters: blocks reused by allocate, hashes dropped
# Invariants that catch every bookkeeping bug:
#   * free_queue holds exactly the blocks with refcount 0, each once;
#   * cached[block_hash[b]] == b for every block with a hash;
#   * only a block taken from the free queue can lose its hash, so a block
#     some table holds (refcount > 0) is never evicted.
# A free block KEEPS its hash and its KV: that is the whole point. It is only
# evicted (hash dropped, contents overwritten) when take_free_block hands it
# to someone else.


class OutOfBlocks(RuntimeError):
    """No block can be had. Raised before any state changes, so a retry is safe."""


class PrefixCache:
    """Refcounted KV blocks with content hashes and a least-recently-freed eviction queue."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        for name, value in (("num_blocks", num_blocks), ("block_size", block_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.refcount = [0] * num_blocks
        self.free_queue: list[int] = list(range(num_blocks))
        self.block_hash: list = [None] * num_blocks
        self.cached: dict[str, int] = {}
        self.tables: dict = {}
        self.k: list[list] = [[None] * block_size for _ in range(num_blocks)]
        self.v: list[list] = [[None] * block_size for _ in range(num_blocks)]
        self.hits = 0
        self.evictions = 0

    def lookup(self, tokens) -> int:
        """How many leading full blocks of tokens are cached and may be reused (no state change).

        Walk hash_blocks(tokens, block_size) from block 0 and count while
        each hash is in self.cached; stop at the first miss. Only blocks that
        end at or before position len(tokens) - 2 count: the LAST prompt
        token is always recomputed, because its logits are needed to choose
        the next token and logits are not cached. So at most
        (len(tokens) - 1) // block_size blocks. Raises ValueError naming
        tokens unless it is a non-empty list/tuple.
        """
        # BEGIN SOLUTION
        if not isinstance(tokens, (list, tuple)) or not tokens:
            raise ValueError(f"tokens must be a non-empty list of token ids, got {tokens!r}")
        # Hashing only tokens[:-1] yields exactly the full blocks that leave
        # the last token out: (n - 1) // B of them.
        count = 0
        for h in hash_blocks(tokens[:-1], self.block_size):
            if h not in self.cached:
                break  # the chain is broken: later blocks have other parents
            count += 1
        return count
        # END SOLUTION

    def take_free_block(self) -> int:
        """Pop the block at the FRONT of free_queue (least recently freed) and evict its hash.

        If the block has a hash, drop it: delete it from self.cached, set
        block_hash[b] = None, add 1 to self.evictions. Set its refcount to 1
        and return it. Raises OutOfBlocks when free_queue is empty.
        """
        # BEGIN SOLUTION
        if not self.free_queue:
            raise OutOfBlocks(f"all {self.num_blocks} blocks are in use")
        block = self.free_queue.pop(0)
        old = self.block_hash[block]
        if old is not None:
            # Eviction: the content is about to be overwritten, so the name
            # must go first, or a later lookup would hit garbage.
            del self.cached[old]
            self.block_hash[block] = None
            self.evictions += 1
        self.refcount[block] = 1
        return block
        # END SOLUTION

    def allocate(self, seq_id, tokens) -> int:
        """Build seq_id's block table for a prompt, reusing cached blocks; return the tokens reused.

        Let c = lookup(tokens) and n = ceil(len(tokens) / block_size). The
        table is the c cached blocks (in order) followed by n - c blocks from
        take_free_block. A reused block gains one reference; one that was
        free (refcount 0) also leaves free_queue. self.hits grows by c.
        Then every NEW block that is full (it ends at or before len(tokens))
        is registered under its chained hash (block_hash[b] = h,
        cached[h] = b) unless that hash is already cached (the existing block
        keeps it). Returns c * block_size, the tokens whose KV is reused.
        Raises OutOfBlocks before changing anything when fewer than n - c
        blocks are free once the reused ones are taken out; ValueError naming
        seq_id if it already has a table, naming tokens if empty.
        """
        # BEGIN SOLUTION
        if seq_id in self.tables:
            raise ValueError(f"seq_id {seq_id!r} already has a block table")
        c = self.lookup(tokens)
        B = self.block_size
        hashes = hash_blocks(tokens, B)
        reused = [self.cached[h] for h in hashes[:c]]
        n = -(-len(tokens) // B)
        # A reused free block is about to leave the queue: it cannot also be
        # handed out as a fresh one, so it does not count as available.
        available = len(self.free_queue) - sum(1 for b in reused if self.refcount[b] == 0)
        if n - c > available:
            raise OutOfBlocks(f"prompt needs {n - c} new blocks, only {available} free")
        for b in reused:
            if self.refcount[b] == 0:
                self.free_queue.remove(b)  # a hit revives a free block: no longer evictable
            self.refcount[b] += 1
        self.hits += c
        table = list(reused)
        for i in range(c, n):
            b = self.take_free_block()
            table.append(b)
            # Register full blocks now: the caller fills them in this step.
            if i < len(hashes) and hashes[i] not in self.cached:
                self.block_hash[b] = hashes[i]
                self.cached[hashes[i]] = b
        self.tables[seq_id] = table
        return c * B
        # END SOLUTION

    def free(self, seq_id) -> None:
        """Drop seq_id's table: release each block, walking the table from its LAST block to its first.

        Each release lowers the refcount by one; a block reaching 0 is
        appended to the END of free_queue and keeps its hash and KV (it stays
        cached until evicted). Walking backwards puts a sequence's tail in
        front of its head in the queue, so the prefix blocks, the ones other
        requests are most likely to share, are evicted last. Raises
        ValueError naming seq_id when it has no table.
        """
        # BEGIN SOLUTION
        if seq_id not in self.tables:
            raise ValueError(f"seq_id {seq_id!r} has no block table")
        for b in reversed(self.tables.pop(seq_id)):
            self.refcount[b] -= 1
            # Only the last user frees it: a block shared with a running
            # request must never reach the queue (and so never be evicted).
            if self.refcount[b] == 0:
                self.free_queue.append(b)
        # END SOLUTION


# === CACHED PREFILL ===
#
# With the table built, prefill has two parts:
#   1. gather: read the reused positions' keys and values out of their
#      blocks into plain per-layer lists (position p is in block
#      table[p // B], slot p % B);
#   2. compute: run forward_chunk on the remaining tokens only, starting at
#      position c, then scatter the new positions' k, v into their blocks.
# Because the gathered vectors are the very floats a full prefill would have
# computed, the logits are identical, and only n - c positions pay for the
# network. Signpost: a GPU kernel never gathers; the attention reads the
# blocks in place through the block table (micropaged's paged attention).


def cached_prefill(model: Model, cache: PrefixCache, seq_id, tokens, ops: Ops):
    """Prefill a prompt through the prefix cache; return (logits of the computed positions, c).

    allocate(seq_id, tokens) gives c reused tokens. Gather positions
    0 .. c-1 from their blocks into per-layer lists (see empty_kv), run
    forward_chunk(model, tokens[c:], keys, values, ops), and store every
    new position p >= c into cache.k/v[table[p // B]][p % B] as a list of
    n_layer vectors (one per layer). Returns (rows, c): rows holds
    len(tokens) - c logit rows, the last one for the last prompt token.
    Raises ValueError naming tokens for bad ids or a prompt past max_len
    (check_tokens), naming seq_id as allocate does, and naming cache when
    a position it would reuse does not hold n_layer vectors (a cache filled
    by another model). Every check comes BEFORE allocate: a rejected call
    leaves the cache unchanged, so the next correct call works.
    """
    # BEGIN SOLUTION
    check_tokens(model, tokens, "tokens")
    n_layer, B = model.config.n_layer, cache.block_size
    # Check the blocks lookup would reuse before allocate registers anything:
    # a table allocated and then rejected would hold fresh blocks already
    # named by their hashes but with no KV in them (the next hit reads None).
    for h in hash_blocks(tokens, B)[: cache.lookup(tokens)]:
        for stored in cache.k[cache.cached[h]]:
            if stored is None or len(stored) != n_layer:
                got = "no vectors" if stored is None else f"{len(stored)} layers"
                raise ValueError(f"cache holds {got} for a reused position, the model has {n_layer} layers")
    c = cache.allocate(seq_id, tokens)
    table = cache.tables[seq_id]
    keys, values = empty_kv(model)
    for p in range(c):
        block, slot = table[p // B], p % B
        stored_k, stored_v = cache.k[block][slot], cache.v[block][slot]
        for layer in range(n_layer):
            keys[layer].append(stored_k[layer])
            values[layer].append(stored_v[layer])
    rows = forward_chunk(model, list(tokens[c:]), keys, values, ops)
    # forward_chunk appended positions c..n-1; write them back into blocks.
    for p in range(c, len(tokens)):
        block, slot = table[p // B], p % B
        cache.k[block][slot] = [keys[layer][p] for layer in range(n_layer)]
        cache.v[block][slot] = [values[layer][p] for layer in range(n_layer)]
    return rows, c
    # END SOLUTION


# === DEMONSTRATION ===


def full_prefill(model: Model, tokens: list[int], ops: Ops) -> list[list[float]]:
    keys, values = empty_kv(model)
    return forward_chunk(model, tokens, keys, values, ops)


def max_diff(a, b) -> float:
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def demo_chat(model: Model, rng: random.Random) -> None:
    B = 4
    cache = PrefixCache(num_blocks=40, block_size=B)
    system = [rng.randrange(27) for _ in range(18)]
    print(f"1. A shared system prompt of {len(system)} tokens, pages of B = {B}: five requests")
    print(f"   {'request':<8} {'prompt':>6} {'shared':>6} {'reused':>6} {'floor(c/B)':>10} "
          f"{'weight mults':>13} {'without cache':>14} {'max |logit diff|':>17}")
    history: list[list[int]] = []
    for r in range(5):
        tail = [rng.randrange(27) for _ in range(3 + 2 * r)]
        prompt = system + tail if r != 3 else [rng.randrange(27) for _ in range(12)]
        shared = max((next((i for i, (a, b) in enumerate(zip(prompt, h)) if a != b), min(len(prompt), len(h)))
                      for h in history), default=0)
        ops, plain = Ops(), Ops()
        rows, c = cached_prefill(model, cache, f"r{r}", prompt, ops)
        reference = full_prefill(model, prompt, plain)
        diff = max_diff(rows, reference[c:])
        assert diff == 0.0 and c == B * min(shared // B, (len(prompt) - 1) // B)
        print(f"   r{r:<7} {len(prompt):>6} {shared:>6} {c:>6} {shared // B:>10} {ops.weight_mults:>13,} "
              f"{plain.weight_mults:>14,} {diff:>17.1e}")
        history.append(prompt)
        if r % 2:
            cache.free(f"r{r}")
    print(f"   blocks reused in total: {cache.hits}; request r3 shares nothing and reuses nothing\n")


def demo_collision(model: Model) -> None:
    B = 3
    cache = PrefixCache(num_blocks=8, block_size=B)
    a = [1, 2, 3, 7, 8, 9, 4]
    b = [5, 5, 5, 7, 8, 9, 4]
    print("2. Equal blocks after different prefixes never collide (B = 3)")
    print(f"   A = {a}: block hashes {[h[:8] for h in hash_blocks(a, B)]}")
    print(f"   B = {b}: block hashes {[h[:8] for h in hash_blocks(b, B)]}")
    cached_prefill(model, cache, "A", a, Ops())
    rows, c = cached_prefill(model, cache, "B", b, Ops())
    print(f"   block 1 holds [7, 8, 9] in both, but its hash covers the parent: B reuses {c} tokens; "
          f"logit diff {max_diff(rows, full_prefill(model, b, Ops())):.1e}\n")


def demo_eviction(model: Model, rng: random.Random) -> None:
    B, N = 4, 10
    cache = PrefixCache(num_blocks=N, block_size=B)
    print(f"3. LRU eviction of free blocks only ({N} blocks of {B})")

    def show(event: str) -> None:
        cells = "".join(
            ("#" if cache.refcount[b] else "c" if cache.block_hash[b] else ".") for b in range(N)
        )
        print(f"   {event:<44} pool {cells}  queue {cache.free_queue}  evictions {cache.evictions}")

    prompts = {name: [rng.randrange(27) for _ in range(length)] for name, length in (("x", 13), ("y", 9), ("z", 17))}
    cached_prefill(model, cache, "x", prompts["x"], Ops())
    show("x (13 tokens) prefilled")
    cache.free("x")
    show("x finished: its blocks are free but cached")
    cached_prefill(model, cache, "y", prompts["y"], Ops())
    show("y (9 tokens) takes never-used blocks first")
    _, c = cached_prefill(model, cache, "x2", prompts["x"], Ops())
    show(f"x again: reuses {c} tokens from the cache")
    try:
        cached_prefill(model, cache, "z", prompts["z"], Ops())
    except OutOfBlocks as error:
        show("z (17 tokens) refused, nothing changed")
        print(f"   ({error}; '#' in use, 'c' free but cached, '.' free)")
    cache.free("y")
    cached_prefill(model, cache, "z", prompts["z"], Ops())
    show("y freed, z admitted: cached blocks evicted")
    in_use = {b for t in cache.tables.values() for b in t}
    assert all(cache.block_hash[b] is None or cache.cached[cache.block_hash[b]] == b for b in range(N))
    assert not in_use & set(cache.free_queue)
    print("   no block in a live table was ever evicted\n")


def demo_savings(model: Model, rng: random.Random) -> None:
    B = 4
    system = [rng.randrange(27) for _ in range(40)]
    print(f"4. Work saved: 8 requests = a {len(system)}-token system prompt + 6 own tokens (B = {B})")
    cache, cached_ops, plain_ops = PrefixCache(num_blocks=200, block_size=B), Ops(), Ops()
    for r in range(8):
        prompt = system + [rng.randrange(27) for _ in range(6)]
        cached_prefill(model, cache, r, prompt, cached_ops)
        full_prefill(model, prompt, plain_ops)
    ratio = plain_ops.mults / cached_ops.mults
    print(f"   multiplications: without cache {plain_ops.mults:,}, with cache {cached_ops.mults:,} ({ratio:.1f}x fewer)")
    print(f"   blocks reused {cache.hits} = 7 requests x floor(40 / {B}) = {7 * (40 // B)}; "
          f"blocks in use {sum(1 for r in cache.refcount if r)} instead of {8 * -(-46 // B)}\n")


if __name__ == "__main__":
    started = time.perf_counter()
    random.seed(42)
    rng = random.Random(42)
    model = init_model(Config(), seed=42)
    demo_chat(model, rng)
    demo_collision(model)
    demo_eviction(model, rng)
    demo_savings(model, rng)
    print("Prefix caching changes no logit; it names each full block by everything before it, so\n"
          f"a repeated prefix is computed once. ({time.perf_counter() - started:.1f} s)")
