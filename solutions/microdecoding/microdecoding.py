r"""
Flash-Decoding, simulated: one decoding query against a very long KV cache is
split into chunks that independent workers attend to in parallel, and their
partial softmaxes are merged with a log-sum-exp rescale. The answer is the
same attention, to the last rounding error; only the shape of the work
changes.

Why it is needed: during decoding there is ONE new query per sequence and
head, so a kernel that parallelises over (batch, head, query block), as
FlashAttention does for training, launches batch * heads thread blocks. With
batch 1 and 4 heads (the tiny model of microkv) that is 4 blocks on a GPU
with ~100 streaming multiprocessors: 96 % of the chip idles while each block
walks the whole cache alone. Flash-Decoding adds a third axis of parallelism,
the key sequence itself:

    keys 0 .. n-1     split 0      split 1      ...   split s-1
                      (m, l, acc)  (m, l, acc)        (m, l, acc)   <- in parallel
                            \          |             /
                             log-sum-exp merge (a small second kernel)

Each split computes the same three numbers microflash's online softmax keeps
per query row: the running max m, the running sum of exp(score - m), l, and
the un-normalised weighted sum of values, acc. Partials combine exactly
because exp(s - m) can be rescaled to any other reference max.

This file counts the work each simulated worker does (multiplications), so
the balance between splits is graded exactly, and it states the occupancy
rule that picks the number of splits.

References: Dao, Haziza, Massa, Sizov, "Flash-Decoding for long-context
inference" (PyTorch blog, 2023); Milakov and Gimelshein, "Online normalizer
calculation for softmax" (2018) for the (m, l) recurrence; FlashAttention-2's
split-KV path (num_splits) and FlashInfer's merge_state implement the same.
"""

from __future__ import annotations

import math
import random
import time

# === THE SHAPES (SAME AS microkv) ===
#
# The serving track uses one tiny model: d_model 16 split over 4 heads, so
# each head attends with head_dim 4 vectors. Flash-Decoding works head by head
# (heads never mix inside attention), so the tasks below take ONE head's
# query, keys and values; the demo runs all four heads.

D_MODEL = 16
N_HEAD = 4
HEAD_DIM = D_MODEL // N_HEAD


# === COUNTING WORK (PROVIDED) ===
#
# A worker's cost is its multiplications: a score q . k costs head_dim, and
# adding w * v into the accumulator costs head_dim. So a split of c keys costs
# 2 * head_dim * c, whatever the scores are. The merge is O(head_dim) per
# split and not counted (like microkv leaves out softmax and RMSNorm): it is
# a rounding error next to walking thousands of cached keys.


class Ops:
    """Counts the multiplications of one simulated worker."""

    def __init__(self) -> None:
        self.mults = 0

    def dot(self, a: list[float], b: list[float]) -> float:
        self.mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def axpy(self, w: float, v: list[float], acc: list[float]) -> list[float]:
        """Return acc + w * v as a new list (len(v) multiplications)."""
        self.mults += len(v)
        return [a + w * x for a, x in zip(acc, v)]


def attention(query: list[float], keys: list[list[float]], values: list[list[float]]) -> list[float]:
    """Plain one-query attention, softmax(q . k_j / sqrt(d)) weighted sum of v_j (the spec)."""
    scale = 1.0 / math.sqrt(len(query))
    scores = [sum(a * b for a, b in zip(query, k)) * scale for k in keys]
    peak = max(scores)  # stable softmax: exp(s - max) <= 1
    weights = [math.exp(s - peak) for s in scores]
    total = sum(weights)
    return [sum(w * v[c] for w, v in zip(weights, values)) / total for c in range(len(query))]


def check_kv(query, keys, values) -> None:
    """Raise ValueError naming query, keys or values unless the shapes fit one head's attention."""
    if not isinstance(query, (list, tuple)) or not query:
        raise ValueError(f"query must be a non-empty list of floats, got {query!r}")
    if not isinstance(keys, (list, tuple)) or not keys:
        raise ValueError("keys must be a non-empty list of key vectors")
    if not isinstance(values, (list, tuple)) or len(values) != len(keys):
        raise ValueError(f"values must hold one vector per key ({len(keys)}), got {len(values) if isinstance(values, (list, tuple)) else values!r}")
    for k in keys:
        if len(k) != len(query):
            raise ValueError(f"keys hold a vector of length {len(k)}, the query has {len(query)}")
    for v in values:
        if len(v) != len(query):
            raise ValueError(f"values hold a vector of length {len(v)}, expected {len(query)}")


# === SPLITTING THE SEQUENCE ===
#
# n keys over s workers: the slowest worker sets the latency, so the split
# must be as even as possible. Sizes n // s or n // s + 1, never more apart;
# which splits get the extra key is a convention, fixed here so the counts
# are exact: the FIRST n % s splits are one longer.


def split_bounds(n_keys: int, num_splits: int) -> list[tuple[int, int]]:
    """Cut positions 0 .. n_keys-1 into num_splits contiguous, balanced (start, end) ranges.

    Returns num_splits pairs (start, end), end exclusive, covering 0..n_keys
    in order with no gap and no overlap. Sizes differ by at most one: with
    n_keys = q * num_splits + r (0 <= r < num_splits), the first r splits
    hold q + 1 keys and the rest q. Raises ValueError naming n_keys unless it
    is an int >= 1, and naming num_splits unless it is an int in 1 .. n_keys
    (an empty split has no max to report); a bool or a float is refused.
    """
    # BEGIN SOLUTION
    if not isinstance(n_keys, int) or isinstance(n_keys, bool) or n_keys < 1:
        raise ValueError(f"n_keys must be an integer >= 1, got {n_keys!r}")
    if not isinstance(num_splits, int) or isinstance(num_splits, bool) or not 1 <= num_splits <= n_keys:
        raise ValueError(f"num_splits must be an integer in 1..n_keys = {n_keys}, got {num_splits!r}")
    base, extra = divmod(n_keys, num_splits)
    bounds, start = [], 0
    for i in range(num_splits):
        # Splits 0..extra-1 absorb the remainder, one key each.
        end = start + base + (1 if i < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds
    # END SOLUTION


# === ONE WORKER: THE PARTIAL SOFTMAX ===
#
# Over its keys j, a worker computes scores s_j = q . k_j / sqrt(d) and keeps
#   m   = max_j s_j
#   l   = sum_j exp(s_j - m)
#   acc = sum_j exp(s_j - m) v_j          (NOT divided by l)
# The final answer of this split alone would be acc / l. Keeping acc
# un-normalised is what lets the merge below stay a pair of rescales.
# Intuition: (m, l, acc) is the split's softmax "in units of exp(m)":
# the true totals are exp(m) * l and exp(m) * acc, but those would overflow
# for scores near 1e3, so the exponent m is carried separately.


def partial_attention(query: list[float], keys: list[list[float]], values: list[list[float]], ops: Ops):
    """Return (m, l, acc): one split's max score, sum of exp(score - m), and un-normalised output.

    scores s_j = ops.dot(query, k_j) / sqrt(len(query)); m = max_j s_j;
    l = sum_j exp(s_j - m); acc = sum_j exp(s_j - m) * v_j, accumulated with
    ops.axpy (a list of len(query) floats). So the split costs exactly
    2 * len(query) * len(keys) counted multiplications. Raises ValueError
    naming query, keys or values for bad shapes (use check_kv).
    """
    # BEGIN SOLUTION
    check_kv(query, keys, values)
    scale = 1.0 / math.sqrt(len(query))
    scores = [ops.dot(query, k) * scale for k in keys]
    # Two passes over this split's scores (max first, then exponentials): a
    # GPU worker streams its keys once with the online rescale of microflash;
    # the result is the same (m, l, acc).
    m = max(scores)
    l = 0.0
    acc = [0.0] * len(query)
    for s, v in zip(scores, values):
        w = math.exp(s - m)  # <= 1: no overflow even for scores of 1e3
        l += w
        acc = ops.axpy(w, v, acc)
    return m, l, acc
    # END SOLUTION


# === THE MERGE ===
#
# Two partials (m_a, l_a, acc_a), (m_b, l_b, acc_b) over disjoint keys. The
# union's max is m = max(m_a, m_b); each side's terms exp(s - m_a) become
# exp(s - m) by one factor exp(m_a - m) <= 1:
#   l   = l_a e^(m_a - m)   + l_b e^(m_b - m)
#   acc = acc_a e^(m_a - m) + acc_b e^(m_b - m)
# This is a commutative, associative operation (a monoid), so splits may be
# merged in any order and any tree shape: left to right, pairwise in log2(s)
# rounds, or all at once. The identity element is the EMPTY partial
# (m = -inf, l = 0, acc = 0): it contributes exp(-inf) = 0. Two empty
# partials must merge to an empty one, not to NaN (-inf - -inf is NaN).


def empty_partial(head_dim: int):
    """The merge's identity: the partial of zero keys, (-inf, 0.0, [0.0] * head_dim)."""
    return -math.inf, 0.0, [0.0] * head_dim


def merge_partials(a, b):
    """Combine two partials (m, l, acc) of disjoint key sets into the partial of their union.

    m = max(m_a, m_b); l and acc are each side's rescaled by exp(m_side - m)
    and added. Returns a new tuple (m, l, acc); the inputs are not changed.
    The empty partial (m = -inf, l = 0, acc all 0) is the identity: merging
    with it returns the other side's values, and two empty partials give an
    empty partial (never NaN). Raises ValueError naming b when the two acc
    vectors differ in length.
    """
    # BEGIN SOLUTION
    m_a, l_a, acc_a = a
    m_b, l_b, acc_b = b
    if len(acc_a) != len(acc_b):
        raise ValueError(f"b has an acc of length {len(acc_b)}, a has {len(acc_a)}")
    m = max(m_a, m_b)
    if m == -math.inf:
        # Both empty: exp(-inf - (-inf)) would be exp(nan).
        return m, 0.0, [0.0] * len(acc_a)
    # Each factor is exp(<= 0) <= 1: the side with the smaller max shrinks,
    # the other keeps its scale exactly (factor exp(0) = 1).
    fa, fb = math.exp(m_a - m), math.exp(m_b - m)
    return m, l_a * fa + l_b * fb, [x * fa + y * fb for x, y in zip(acc_a, acc_b)]
    # END SOLUTION


# === FLASH-DECODING: SPLIT, ATTEND IN PARALLEL, REDUCE ===
#
# Kernel 1 (parallel over splits): each worker runs partial_attention on its
# range. Kernel 2 (the reduction): merge all partials, then normalise ONCE,
# o = acc / l. Normalising each split first and then averaging would weight
# every split equally, as if each held the same softmax mass: wrong unless
# all splits happen to have equal l * exp(m).


def flash_decode(query, keys, values, num_splits: int):
    """Attention of one query over all keys, computed in num_splits parallel splits and merged.

    Split the positions with split_bounds(len(keys), num_splits); give each
    split its OWN Ops and run partial_attention on it; merge all partials
    with merge_partials (any order); return (output, split_mults) where
    output = acc / l of the merged partial (len(query) floats) and
    split_mults[i] is the multiplications split i counted. Raises ValueError
    naming query, keys or values for bad shapes and num_splits unless it is
    an int in 1 .. len(keys) (a bool or a float is refused).
    """
    # BEGIN SOLUTION
    check_kv(query, keys, values)
    bounds = split_bounds(len(keys), num_splits)
    partials, split_mults = [], []
    for start, end in bounds:
        ops = Ops()  # one counter per worker: the balance is per worker
        partials.append(partial_attention(query, keys[start:end], values[start:end], ops))
        split_mults.append(ops.mults)
    merged = empty_partial(len(query))
    for partial in partials:
        merged = merge_partials(merged, partial)
    m, l, acc = merged
    # One division at the very end: the only place the softmax is normalised.
    return [x / l for x in acc], split_mults
    # END SOLUTION


# === THE LSE FORM OF THE REDUCTION ===
#
# The real Flash-Decoding kernel does not write (m, l, acc) per split. Each
# split writes its own NORMALISED output o_i = acc_i / l_i and one scalar,
# its log-sum-exp lse_i = m_i + log(l_i) (the log of the split's softmax
# denominator). The reduction then needs only those:
#   LSE = log sum_i exp(lse_i)                   (stably: subtract max lse)
#   o   = sum_i exp(lse_i - LSE) o_i
# exp(lse_i - LSE) is split i's share of the total softmax mass: the weights
# sum to 1. The same LSE is what FlashAttention saves for the backward pass.


def partial_lse(partial) -> tuple[list[float], float]:
    """Convert a partial (m, l, acc) to the kernel's form (o, lse): o = acc / l, lse = m + log(l)."""
    m, l, acc = partial
    return [x / l for x in acc], m + math.log(l)


def combine_lse(outputs: list[list[float]], lses: list[float]) -> list[float]:
    """Merge per-split normalised outputs o_i with their log-sum-exps lse_i into the full output.

    o = sum_i exp(lse_i - LSE) * o_i with LSE = log(sum_i exp(lse_i)),
    computed stably (subtract max lse before exp): lse values of +-1e3 must
    not overflow. Returns a new list of len(outputs[0]) floats. Raises
    ValueError naming outputs when it is empty or its vectors differ in
    length, and naming lses when it does not hold one float per output.
    """
    # BEGIN SOLUTION
    if not outputs:
        raise ValueError("outputs must hold at least one split's output")
    if any(len(o) != len(outputs[0]) for o in outputs):
        raise ValueError("outputs must all have the same length")
    if len(lses) != len(outputs):
        raise ValueError(f"lses must hold one value per output ({len(outputs)}), got {len(lses)}")
    peak = max(lses)
    weights = [math.exp(x - peak) for x in lses]
    total = sum(weights)
    # weights / total = exp(lse_i - LSE): LSE = peak + log(total), never formed.
    return [sum(w * o[c] for w, o in zip(weights, outputs)) / total for c in range(len(outputs[0]))]
    # END SOLUTION


# === HOW MANY SPLITS ===
#
# Without splitting, a decode step launches batch * n_heads workers. A GPU
# with num_sms streaming multiprocessors wants at least one worker per SM.
# Splitting each (sequence, head) into s pieces gives batch * n_heads * s
# workers. Never more splits than keys (every split needs a key), and more
# splits than the chip can run at once only add merge work. Signpost: FlashAttention-2's num_splits heuristic also weighs the
# wave efficiency (how full the last wave of blocks is) and caps s at 128.


def choose_num_splits(batch: int, n_heads: int, num_sms: int, n_keys: int) -> int:
    """Smallest number of splits s with batch * n_heads * s >= num_sms, capped at n_keys.

    Returns an int in 1 .. n_keys. Raises ValueError naming batch, n_heads,
    num_sms or n_keys unless each is an int >= 1 (a bool or a float is
    refused).
    """
    # BEGIN SOLUTION
    for name, value in (("batch", batch), ("n_heads", n_heads), ("num_sms", num_sms), ("n_keys", n_keys)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    workers = batch * n_heads
    # s = ceil(num_sms / workers), as an integer ceiling -(-a // b): floor
    # would leave part of the chip idle.
    return max(1, min(n_keys, -(-num_sms // workers)))
    # END SOLUTION


# === DEMONSTRATION ===


def random_vectors(rng: random.Random, n: int, d: int, scale: float = 1.0) -> list[list[float]]:
    return [[rng.uniform(-scale, scale) for _ in range(d)] for _ in range(n)]


def max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def demo_equality(rng: random.Random) -> None:
    n = 1000
    print(f"1. Flash-Decoding equals full attention (one head, head_dim {HEAD_DIM}, {n} cached keys)")
    print(f"   {'splits':>6} {'keys per split':>15} {'max |flash - full|':>19}   (scores up to +-1e3)")
    query = [rng.uniform(-30.0, 30.0) for _ in range(HEAD_DIM)]
    keys = random_vectors(rng, n, HEAD_DIM, 30.0)
    values = random_vectors(rng, n, HEAD_DIM)
    full = attention(query, keys, values)
    for splits in (1, 2, 3, 7, 16, 64, 333, 1000):
        out, mults = flash_decode(query, keys, values, splits)
        sizes = sorted({m // (2 * HEAD_DIM) for m in mults})
        diff = max_diff(out, full)
        assert diff < 1e-12
        print(f"   {splits:>6} {'/'.join(map(str, sizes)):>15} {diff:>19.1e}")
    print()


def demo_merge(rng: random.Random) -> None:
    print("2. The merge is associative and order-free (6 partials of a 1000-key cache)")
    query = [rng.uniform(-3.0, 3.0) for _ in range(HEAD_DIM)]
    keys, values = random_vectors(rng, 1000, HEAD_DIM, 3.0), random_vectors(rng, 1000, HEAD_DIM)
    parts = [partial_attention(query, keys[a:b], values[a:b], Ops()) for a, b in split_bounds(1000, 6)]
    left = empty_partial(HEAD_DIM)
    for p in parts:
        left = merge_partials(left, p)
    # Pairwise tree: what a reduction kernel with log2(s) rounds does.
    layer = parts
    while len(layer) > 1:
        layer = [merge_partials(*layer[i:i + 2]) if i + 1 < len(layer) else layer[i] for i in range(0, len(layer), 2)]
    shuffled = parts[:]
    rng.shuffle(shuffled)
    mixed = empty_partial(HEAD_DIM)
    for p in shuffled:
        mixed = merge_partials(p, mixed)
    lse_out = combine_lse(*map(list, zip(*[partial_lse(p) for p in parts])))
    final = [x / left[1] for x in left[2]]
    for name, merged in (("pairwise tree", layer[0]), ("shuffled order", mixed)):
        print(f"   left-to-right vs {name:<15}: max |diff| {max_diff(final, [x / merged[1] for x in merged[2]]):.1e}")
    print(f"   left-to-right vs lse combine    : max |diff| {max_diff(final, lse_out):.1e}")
    print(f"   vs full attention               : max |diff| {max_diff(final, attention(query, keys, values)):.1e}\n")


def demo_occupancy(rng: random.Random) -> None:
    n_sms = 108  # an A100
    print(f"3. Why split: workers per decode step on a GPU with {n_sms} SMs (4 heads, one per sequence)")
    print(f"   {'batch':>5} {'cache':>6} {'splits':>6} {'workers':>7} {'SMs busy':>9} "
          f"{'mults per worker':>17} {'speed-up of the attention':>26}")
    for batch, n_keys in ((1, 4096), (1, 65536), (4, 16384), (32, 4096), (64, 2048)):
        s = choose_num_splits(batch, N_HEAD, n_sms, n_keys)
        workers = batch * N_HEAD * s
        per_worker = 2 * HEAD_DIM * -(-n_keys // s)
        # Latency ~ the longest worker's keys times the number of waves of
        # workers the chip needs; the reduction adds O(s) per (sequence, head).
        plain = 2 * HEAD_DIM * n_keys * -(-batch * N_HEAD // n_sms)
        split = per_worker * -(-workers // n_sms)
        print(f"   {batch:>5} {n_keys:>6} {s:>6} {workers:>7} {min(workers, n_sms) / n_sms:>8.0%} "
              f"{per_worker:>17,} {plain / split:>25.1f}x")
    print("   (a big batch fills the chip by itself: then one split is best)\n")

    print("4. Work per worker is balanced, counted (1000 keys, 7 splits):")
    query, keys, values = [0.1] * HEAD_DIM, random_vectors(rng, 1000, HEAD_DIM), random_vectors(rng, 1000, HEAD_DIM)
    _, mults = flash_decode(query, keys, values, 7)
    for i, m in enumerate(mults):
        print(f"   worker {i}: {m:>5} mults {'#' * (m // 40)}")
    print(f"   max - min = {max(mults) - min(mults)} = 2 * head_dim (one key); total {sum(mults)} = "
          f"2 * head_dim * n = {2 * HEAD_DIM * 1000}\n")


def demo_model_heads(rng: random.Random) -> None:
    print(f"5. All {N_HEAD} heads of a d_model = {D_MODEL} layer (microkv's shapes), 2000 cached positions")
    n = 2000
    q = [rng.uniform(-2.0, 2.0) for _ in range(D_MODEL)]
    K, V = random_vectors(rng, n, D_MODEL, 2.0), random_vectors(rng, n, D_MODEL)
    worst = 0.0
    for h in range(N_HEAD):
        lo, hi = h * HEAD_DIM, (h + 1) * HEAD_DIM
        keys, values = [k[lo:hi] for k in K], [v[lo:hi] for v in V]
        s = choose_num_splits(1, N_HEAD, 108, n)
        out, _ = flash_decode(q[lo:hi], keys, values, s)
        worst = max(worst, max_diff(out, attention(q[lo:hi], keys, values)))
    print(f"   {s} splits per head, {N_HEAD * s} workers; max |diff| to full attention over all heads: {worst:.1e}\n")


if __name__ == "__main__":
    started = time.perf_counter()
    random.seed(42)
    rng = random.Random(42)
    demo_equality(rng)
    demo_merge(rng)
    demo_occupancy(rng)
    demo_model_heads(rng)
    print("Flash-Decoding changes no number attention computes; it turns one long walk over the\n"
          f"cache into many short ones plus a tiny log-sum-exp reduction. ({time.perf_counter() - started:.1f} s)")
