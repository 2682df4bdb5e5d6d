"""
Attention variants side by side: scaled dot-product, multi-head (MHA),
multi-query (MQA), grouped-query (GQA) and causal sliding-window attention,
each a small modification of the one before, with exact counts of the
multiplications each one does and the floats its KV cache must hold.

The whole family is one equation, softmax(Q K^T / sqrt(d)) V, applied per
head. The variants differ only in two choices:
  * how many distinct key/value heads there are (MHA: one per query head;
    MQA: one for all; GQA: one per group of query heads), which sets the size
    of the KV cache that dominates inference memory;
  * which keys each query may see (full, causal, or the last `window`
    positions), which sets the attention work and, for a sliding window, caps
    the cache.
Pure Python cannot show the speed-ups, but it can count them exactly, and the
counts are the whole argument for these architectures.

References: Vaswani et al., "Attention Is All You Need" (2017); Shazeer,
"Fast Transformer Decoding: One Write-Head is All You Need" (2019, MQA);
Ainslie et al., "GQA: Training Generalized Multi-Query Transformer Models
from Multi-Head Checkpoints" (2023); Beltagy et al., "Longformer" (2020) and
Jiang et al., "Mistral 7B" (2023) for causal sliding windows.
"""

from __future__ import annotations

import math
import random

# === COUNTING ===
#
# Every matrix product in this file goes through three helpers that report
# their multiplications to an optional counter. This kata's cost unit is the
# multiplication, one per multiply-accumulate of a matrix product; the usual
# FLOP figure is 2x this (one multiply + one add). The 1/sqrt(d)
# scaling, the exps and the divisions of the softmax are O(n^2) scalar ops per
# head, a factor head_dim smaller than the products, and are not counted.
# A counter is any object with a `multiply(n)` method; the tests bring their
# own.


class Counter:
    """Counts multiplications reported by dot, matmul and weighted_sum."""

    def __init__(self) -> None:
        self.multiplications = 0

    def multiply(self, n: int) -> None:
        self.multiplications += n


def dot(a: list[float], b: list[float], counter=None) -> float:
    """sum_k a[k] * b[k]; reports len(a) multiplications."""
    if len(a) != len(b):
        raise ValueError(f"dot: vectors of length {len(a)} and {len(b)}")
    if counter is not None:
        counter.multiply(len(a))
    return sum(x * y for x, y in zip(a, b))


def matmul(A: list[list[float]], B: list[list[float]], counter=None) -> list[list[float]]:
    """A (n x k) @ B (k x m), a new n x m list of lists; reports n*k*m multiplications."""
    if not A or not B or len(A[0]) != len(B):
        raise ValueError(
            f"matmul: A is {len(A)} x {len(A[0]) if A else 0}, B has {len(B)} rows: inner sizes must match"
        )
    columns = list(zip(*B))
    return [[dot(row, column, counter) for column in columns] for row in A]


def weighted_sum(weights: list[float], rows: list[list[float]], counter=None) -> list[float]:
    """sum_j weights[j] * rows[j], a new vector; reports len(weights) * len(rows[0]) multiplications."""
    if len(weights) != len(rows):
        raise ValueError(f"weighted_sum: {len(weights)} weights for {len(rows)} rows")
    width = len(rows[0])
    if counter is not None:
        counter.multiply(len(weights) * width)
    return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(width)]


# === SCALED DOT-PRODUCT ATTENTION ===
#
#   scores[i][j] = q_i . k_j / sqrt(d)       how well query i matches key j
#   P[i]         = softmax(scores[i])        a probability over the keys
#   out[i]       = sum_j P[i][j] v_j         a blend of the values
# Why 1/sqrt(d): for random unit-variance q and k the dot product has variance
# d, so without the scale the logits grow with the head size and softmax
# saturates to one-hot (vanishing gradients). Dividing by sqrt(d) keeps the
# variance at 1 whatever d is.
# A mask says which keys a query may see. A hidden key gets weight exactly 0;
# the cheapest way to get that is to never compute its score at all, which is
# where causal and sliding-window attention save their work.


def scaled_dot_product_attention(Q, K, V, mask=None, counter=None):
    """Return softmax(Q K^T / sqrt(d)) V for one head, skipping masked keys entirely.

    Q: n_q x d, K: n_k x d, V: n_k x d_v (lists of lists; n_q may differ from
    n_k and d_v from d). mask: None (every query sees every key) or an
    n_q x n_k list of lists of bools, mask[i][j] True when query i may see key
    j. Hidden keys cost nothing: no dot product and no weighted-sum term, so
    with `dot` for each visible score and one `weighted_sum` per query the
    counter sees exactly visible_pairs * (d + d_v) multiplications.
    Use a stable softmax (subtract the row max). Raises ValueError naming Q,
    K, V or mask for empty or mismatched shapes, and naming mask when a
    query row can see no key at all. Returns n_q x d_v.
    """
    # BEGIN SOLUTION
    if not Q or not Q[0]:
        raise ValueError("Q is empty: attention needs at least one query of width d >= 1")
    if not K:
        raise ValueError("K is empty: attention needs at least one key")
    d = len(Q[0])
    if any(len(row) != d for row in Q):
        raise ValueError(f"Q rows must all have length d = {d}")
    if any(len(row) != d for row in K):
        raise ValueError(f"K rows must have the query width d = {d}")
    if len(V) != len(K) or not V[0] or any(len(row) != len(V[0]) for row in V):
        raise ValueError(f"V must have one row per key ({len(K)}) and rows of equal width >= 1")
    if mask is not None and (len(mask) != len(Q) or any(len(row) != len(K) for row in mask)):
        raise ValueError(f"mask must be {len(Q)} x {len(K)} (queries x keys)")

    scale = 1.0 / math.sqrt(d)
    out = []
    for i, q in enumerate(Q):
        # The visible keys of this query: masked ones never enter the sums.
        keys = range(len(K)) if mask is None else [j for j in range(len(K)) if mask[i][j]]
        if not keys:
            raise ValueError(f"mask row {i} hides every key: softmax over nothing is undefined")
        scores = [dot(q, K[j], counter) * scale for j in keys]
        # Stable softmax: exp(s - max) <= 1, so logits of 1e3 cannot overflow;
        # the max cancels in the ratio.
        peak = max(scores)
        weights = [math.exp(s - peak) for s in scores]
        total = sum(weights)
        out.append(weighted_sum([w / total for w in weights], [V[j] for j in keys], counter))
    return out
    # END SOLUTION


# === MULTI-HEAD ATTENTION: SPLIT, ATTEND, CONCAT, PROJECT ===
#
# One head sees one similarity. MHA runs n_heads attentions in parallel, each
# in its own head_dim = d_model / n_heads dimensional subspace, so different
# heads can attend to different things (syntax, position, coreference) for
# the same cost as one big head:
#   Q = X Wq, K = X Wk, V = X Wv            n x d_model each
#   head h uses columns [h*head_dim, (h+1)*head_dim) of Q, K and V
#   out = concat(head_0 .. head_{H-1}) Wo
# The column layout is a convention, but everything downstream (weight
# loading, GQA grouping, tensor parallelism) relies on it: head h owns one
# contiguous slice, exactly what `view(n, H, head_dim)` gives in PyTorch.


def split_heads(X, n_heads):
    """Split the columns of X (n x n_heads*head_dim) into n_heads matrices of n x head_dim.

    Head h gets columns [h*head_dim, (h+1)*head_dim), in order. Returns a new
    list of n_heads lists of lists (the input is not modified). Raises
    ValueError naming n_heads when it is not a positive int (a float or a
    bool is refused) dividing the width.
    """
    # BEGIN SOLUTION
    width = len(X[0]) if X else 0
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads <= 0 or width % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of the width {width}, got {n_heads!r}")
    size = width // n_heads
    return [[list(row[h * size:(h + 1) * size]) for row in X] for h in range(n_heads)]
    # END SOLUTION


def merge_heads(heads):
    """Concatenate per-head outputs (each n x head_dim) column-wise into n x (n_heads*head_dim).

    The inverse of split_heads: row i is heads[0][i] + heads[1][i] + ...
    Returns a new list of lists.
    """
    # BEGIN SOLUTION
    return [[x for head in heads for x in head[i]] for i in range(len(heads[0]))]
    # END SOLUTION


def multi_head_attention(X, params, n_heads, mask=None, counter=None):
    """Multi-head attention: project, split into heads, attend per head, concat, project out.

    X: n x d_model. params: {"Wq", "Wk", "Wv", "Wo"}, each d_model x d_model
    (input rows x output columns, so Q = matmul(X, Wq)). n_heads must be a
    positive int dividing d_model (ValueError naming n_heads otherwise; a
    float or a bool is refused). mask: as in
    scaled_dot_product_attention, shared by all heads. Every product goes
    through matmul / scaled_dot_product_attention with `counter`.
    Returns n x d_model.
    """
    # BEGIN SOLUTION
    d_model = len(X[0])
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads <= 0 or d_model % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of d_model = {d_model}, got {n_heads!r}")
    # Three projections first, then cut each into heads: one big product is
    # what GPUs like, and the split is free (a reshape).
    q_heads = split_heads(matmul(X, params["Wq"], counter), n_heads)
    k_heads = split_heads(matmul(X, params["Wk"], counter), n_heads)
    v_heads = split_heads(matmul(X, params["Wv"], counter), n_heads)
    heads = [
        scaled_dot_product_attention(q, k, v, mask, counter)
        for q, k, v in zip(q_heads, k_heads, v_heads)
    ]
    # Wo mixes the heads: without it each output column would only ever see
    # one head's subspace.
    return matmul(merge_heads(heads), params["Wo"], counter)
    # END SOLUTION


# === MULTI-QUERY ATTENTION ===
#
# At decode time each new token re-reads the whole KV cache (K and V of every
# past position, for every KV head), so inference is bound by memory
# bandwidth, and the cache, not the weights, limits the batch size. MQA keeps all n_heads query heads but a single
# key head and a single value head, shared by every query head: the cache
# shrinks by a factor n_heads (32x for a 32-head model) for a small quality
# loss. Only Wk and Wv change shape: d_model x head_dim.


def multi_query_attention(X, params, n_heads, mask=None, counter=None):
    """Multi-query attention: n_heads query heads all attending to ONE shared key/value head.

    X: n x d_model. params: Wq and Wo are d_model x d_model; Wk and Wv are
    d_model x head_dim with head_dim = d_model // n_heads (ValueError naming
    n_heads unless it is a positive int dividing d_model, a float or a bool
    refused; naming Wk/Wv when their width is not head_dim). Project K and V once and reuse them for every query head.
    Returns n x d_model.
    """
    # BEGIN SOLUTION
    d_model = len(X[0])
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads <= 0 or d_model % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of d_model = {d_model}, got {n_heads!r}")
    head_dim = d_model // n_heads
    for name in ("Wk", "Wv"):
        if len(params[name][0]) != head_dim:
            raise ValueError(f"{name} must be d_model x head_dim = {head_dim} wide for MQA")
    # The shared K and V are computed once: n * d_model * head_dim each,
    # instead of n * d_model * d_model in MHA.
    K = matmul(X, params["Wk"], counter)
    V = matmul(X, params["Wv"], counter)
    q_heads = split_heads(matmul(X, params["Wq"], counter), n_heads)
    heads = [scaled_dot_product_attention(q, K, V, mask, counter) for q in q_heads]
    return matmul(merge_heads(heads), params["Wo"], counter)
    # END SOLUTION


# === GROUPED-QUERY ATTENTION ===
#
# GQA interpolates: n_kv_heads key/value heads, each shared by a group of
# n_heads / n_kv_heads consecutive query heads. Query head h reads KV head
#   g = h // (n_heads / n_kv_heads)
# so n_kv_heads = n_heads is MHA and n_kv_heads = 1 is MQA. Llama 2 70B,
# Llama 3 and Mistral use 8 KV heads: the cache is 4-8x smaller than MHA's at
# nearly MHA quality.
# Signpost: real code (HF `repeat_kv`) copies each KV head group-size times
# to reuse a plain MHA kernel; the copy is transient, the cache holds the
# n_kv_heads originals. Fused kernels (FlashAttention-2) index the shared
# head directly, as this file does.


def grouped_query_attention(X, params, n_heads, n_kv_heads, mask=None, counter=None):
    """Grouped-query attention: query head h attends with KV head h // (n_heads // n_kv_heads).

    X: n x d_model. params: Wq, Wo are d_model x d_model; Wk, Wv are
    d_model x (n_kv_heads * head_dim), head_dim = d_model // n_heads, KV head
    g owning columns [g*head_dim, (g+1)*head_dim). Groups are consecutive:
    with 6 query heads and 2 KV heads, heads 0,1,2 share KV head 0. Project
    K and V once (n_kv_heads heads, not one copy per query head).
    Raises ValueError naming n_kv_heads when it is not a positive divisor of
    n_heads, naming n_heads when n_heads does not divide d_model (head counts
    are positive ints: a float or a bool is refused), naming Wk
    or Wv when its width is not n_kv_heads * head_dim. Returns n x d_model.
    """
    # BEGIN SOLUTION
    d_model = len(X[0])
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads <= 0 or d_model % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of d_model = {d_model}, got {n_heads!r}")
    if not isinstance(n_kv_heads, int) or isinstance(n_kv_heads, bool) or n_kv_heads <= 0 or n_heads % n_kv_heads:
        raise ValueError(
            f"n_kv_heads must divide n_heads = {n_heads} (each KV head serves a whole group), got {n_kv_heads!r}"
        )
    head_dim = d_model // n_heads
    for name in ("Wk", "Wv"):
        if len(params[name][0]) != n_kv_heads * head_dim:
            raise ValueError(f"{name} must have {n_kv_heads * head_dim} columns: one head_dim slice per KV head")
    group = n_heads // n_kv_heads
    q_heads = split_heads(matmul(X, params["Wq"], counter), n_heads)
    k_heads = split_heads(matmul(X, params["Wk"], counter), n_kv_heads)
    v_heads = split_heads(matmul(X, params["Wv"], counter), n_kv_heads)
    # Consecutive query heads share: integer division, not modulo.
    heads = [
        scaled_dot_product_attention(q_heads[h], k_heads[h // group], v_heads[h // group], mask, counter)
        for h in range(n_heads)
    ]
    return matmul(merge_heads(heads), params["Wo"], counter)
    # END SOLUTION


# GQA's "uptraining": turn a trained MHA checkpoint into GQA by replacing each
# group's key (and value) projection heads with their mean, then train for
# ~5% of the original steps. Mean-pooling beat keeping one head of the group
# or random init in the paper. If the heads of a group were identical, the
# pooled model is exactly the MHA model; the more they differ, the more the
# short uptraining has to recover.


def mean_pool_kv_heads(W, n_heads, n_kv_heads):
    """Convert an MHA key or value projection into GQA form by averaging the heads of each group.

    W: d_model x (n_heads * head_dim), head h in columns [h*head_dim,
    (h+1)*head_dim). Returns a new d_model x (n_kv_heads * head_dim) matrix
    whose KV head g is the mean of query heads g*group .. (g+1)*group - 1,
    group = n_heads // n_kv_heads (the grouping grouped_query_attention uses).
    Raises ValueError naming n_kv_heads when it does not divide n_heads, and
    naming n_heads when it does not divide W's width (head counts are positive
    ints: a float or a bool is refused; n_heads is checked first).
    """
    # BEGIN SOLUTION
    width = len(W[0])
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads <= 0 or width % n_heads:
        raise ValueError(f"n_heads must be a positive divisor of W's width {width}, got {n_heads!r}")
    if not isinstance(n_kv_heads, int) or isinstance(n_kv_heads, bool) or n_kv_heads <= 0 or n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads must divide n_heads = {n_heads}, got {n_kv_heads!r}")
    head_dim = width // n_heads
    group = n_heads // n_kv_heads
    pooled = []
    for row in W:
        new_row = []
        for g in range(n_kv_heads):
            for c in range(head_dim):
                # Column c of KV head g: the mean of column c over its group.
                members = [row[h * head_dim + c] for h in range(g * group, (g + 1) * group)]
                new_row.append(sum(members) / group)
        pooled.append(new_row)
    return pooled
    # END SOLUTION


# === CAUSAL SLIDING-WINDOW ATTENTION ===
#
# Causal attention lets query i see keys 0..i, so the work grows with n^2 and
# the cache grows without bound. A sliding
# window of size w lets query i see only the w most recent positions,
# itself included:
#   key j is visible to query i  <=>  i - w < j <= i
# Work drops to about n*w pairs and the cache never holds more than w
# positions (Mistral's rolling buffer overwrites slot i mod w). Information
# from further back is not lost outright: stacking L layers lets it hop w
# positions per layer, a receptive field of about L*w.


def sliding_window_mask(n, window):
    """Return the n x n causal sliding-window mask: mask[i][j] is True iff i - window < j <= i.

    Query i sees the `window` most recent positions including itself
    (min(i + 1, window) keys); window >= n gives the plain causal mask, and
    window = 1 lets each position see only itself. Raises ValueError naming
    n or window when it is not a positive int (a float or a bool is refused).
    """
    # BEGIN SOLUTION
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    # The left edge is strict: i - window itself is the first position that
    # has slid out, leaving exactly `window` keys i-window+1 .. i.
    return [[i - window < j <= i for j in range(n)] for i in range(n)]
    # END SOLUTION


def sliding_window_attention(X, params, n_heads, window, n_kv_heads=None, counter=None):
    """Causal sliding-window attention: grouped-query attention under sliding_window_mask(n, window).

    X: n x d_model; params as in grouped_query_attention (n_kv_heads None
    means n_heads, i.e. MHA weights). Mistral 7B combines exactly these two:
    8 KV heads and a 4096-token window. Returns n x d_model.
    """
    # BEGIN SOLUTION
    mask = sliding_window_mask(len(X), window)
    kv = n_heads if n_kv_heads is None else n_kv_heads
    return grouped_query_attention(X, params, n_heads, kv, mask, counter)
    # END SOLUTION


# === ACCOUNTING: THE CLOSED FORMS ===
#
# The point of MQA, GQA and windows is cost, so the cost must be exact. For a
# causal layer (mask = sliding_window_mask(n, window), window None = plain
# causal) count the multiplications of the code above, piece by piece:
#   projections   four matmuls of X (or of the merged heads); which of them
#                 shrink when KV heads are shared?
#   attention     one score dot product and one weighted-sum term per
#                 visible (query, key) pair, in every query head: sharing KV
#                 heads saves projections and cache, not this part.
# And the KV cache: decoding one token at a time, the cache must hold K and V
# for every KV head and every position a current or future query can still
# see. Signpost: production estimates multiply by layers and bytes per float
# (2 for fp16); serving engines (vLLM) size their batch by exactly this.


def check_sizes(seq_len, d_model, n_heads, n_kv_heads, window):
    """Provided: the argument checks of the two closed forms; raises ValueError naming the bad one."""
    for name, value in (("seq_len", seq_len), ("d_model", d_model), ("n_heads", n_heads), ("n_kv_heads", n_kv_heads)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window <= 0):
        raise ValueError(f"window must be a positive integer or None, got {window!r}")
    if d_model % n_heads:
        raise ValueError(f"n_heads = {n_heads} must divide d_model = {d_model}")
    if n_heads % n_kv_heads:
        raise ValueError(f"n_kv_heads = {n_kv_heads} must divide n_heads = {n_heads}")


def attention_multiplications(seq_len, d_model, n_heads, n_kv_heads, window=None):
    """Multiplications counted for one causal attention layer over seq_len tokens.

    The count grouped_query_attention (or sliding_window_attention) reports
    to its counter with mask = sliding_window_mask(seq_len, window or
    seq_len): projections plus attention over the visible pairs. window None
    means plain causal. Returns an int (a count is exact). Raises ValueError
    naming the argument for sizes that are not positive ints (a float or a
    bool is refused) or head counts that do not divide (call check_sizes
    first).
    """
    # BEGIN SOLUTION
    check_sizes(seq_len, d_model, n_heads, n_kv_heads, window)
    head_dim = d_model // n_heads
    w = seq_len if window is None else min(window, seq_len)
    # Visible pairs: queries 0..w-1 see 1..w keys (a triangle), the other
    # seq_len - w queries see w keys each (a band).
    pairs = w * (w + 1) // 2 + (seq_len - w) * w
    projections = seq_len * d_model * (2 * d_model + 2 * n_kv_heads * head_dim)
    return projections + 2 * n_heads * head_dim * pairs
    # END SOLUTION


def kv_cache_floats(seq_len, d_model, n_heads, n_kv_heads, window=None):
    """Floats the KV cache of one layer must hold at its fullest while decoding seq_len tokens.

    K and V, head_dim floats each, for each of the n_kv_heads heads and each
    position still visible to the current or a later query (all of them
    causal; the last `window` with a sliding window). window None means plain
    causal. Returns an int. Raises ValueError naming the argument for sizes
    that are not positive ints (a float or a bool is refused) or head counts
    that do not divide (call check_sizes first).
    """
    # BEGIN SOLUTION
    check_sizes(seq_len, d_model, n_heads, n_kv_heads, window)
    head_dim = d_model // n_heads
    # A window caps the cache at `window` positions: a rolling buffer.
    positions = seq_len if window is None else min(window, seq_len)
    return 2 * positions * n_kv_heads * head_dim
    # END SOLUTION


# === DEMONSTRATION ===


def random_matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    return [[rng.gauss(0.0, scale) for _ in range(cols)] for _ in range(rows)]


def cosine_similarity(A, B) -> float:
    """Cosine of the angle between two equally shaped matrices, flattened."""
    a = [x for row in A for x in row]
    b = [x for row in B for x in row]
    return dot(a, b) / math.sqrt(dot(a, a) * dot(b, b))


def mha_checkpoint(rng: random.Random, d_model: int, n_heads: int, spread: float):
    """Random MHA weights whose KV heads are a shared direction plus `spread` of per-head noise.

    Trained models have redundant KV heads (that is why MQA/GQA conversion
    works); spread = 0 makes all KV heads identical, spread = 1 makes them as
    different from each other as they are large.
    """
    head_dim = d_model // n_heads
    scale = 1.0 / math.sqrt(d_model)
    params = {"Wq": random_matrix(rng, d_model, d_model, scale), "Wo": random_matrix(rng, d_model, d_model, scale)}
    for name in ("Wk", "Wv"):
        shared = random_matrix(rng, d_model, head_dim, scale)
        params[name] = [
            [shared[r][c % head_dim] + spread * rng.gauss(0.0, scale) for c in range(d_model)]
            for r in range(d_model)
        ]
    return params


def pooled(params, n_heads: int, n_kv_heads: int):
    return {
        "Wq": params["Wq"],
        "Wo": params["Wo"],
        "Wk": mean_pool_kv_heads(params["Wk"], n_heads, n_kv_heads),
        "Wv": mean_pool_kv_heads(params["Wv"], n_heads, n_kv_heads),
    }


def demo_table(rng: random.Random) -> None:
    n, d_model, n_heads, window, spread = 24, 32, 8, 6, 0.2
    X = random_matrix(rng, n, d_model, 2.0)
    params = mha_checkpoint(rng, d_model, n_heads, spread)
    causal = sliding_window_mask(n, n)
    print(
        f"1. One causal layer, every variant on the same input (n={n}, d_model={d_model}, "
        f"{n_heads} query heads, head_dim={d_model // n_heads})"
    )
    print(f"   MQA/GQA weights: MHA's KV heads mean-pooled per group (KV-head spread {spread})")
    print(
        f"   {'variant':<22} {'q/kv heads':>10} {'mults':>8} {'= formula':>10} "
        f"{'KV floats':>10} {'KV vs MHA':>10} {'cos sim to MHA':>15}"
    )
    counter = Counter()
    reference = multi_head_attention(X, params, n_heads, causal, counter)
    rows = [("MHA", n_heads, None, reference, counter.multiplications)]
    for kv in (4, 2):
        counter = Counter()
        out = grouped_query_attention(X, pooled(params, n_heads, kv), n_heads, kv, causal, counter)
        rows.append((f"GQA ({kv} groups)", kv, None, out, counter.multiplications))
    counter = Counter()
    out = multi_query_attention(X, pooled(params, n_heads, 1), n_heads, causal, counter)
    rows.append(("MQA", 1, None, out, counter.multiplications))
    for kv in (n_heads, 2):
        counter = Counter()
        weights = params if kv == n_heads else pooled(params, n_heads, kv)
        out = sliding_window_attention(X, weights, n_heads, window, kv, counter)
        label = f"sliding w={window}" + ("" if kv == n_heads else f" + GQA {kv}")
        rows.append((label, kv, window, out, counter.multiplications))
    mha_kv = kv_cache_floats(n, d_model, n_heads, n_heads)
    for label, kv, win, out, counted in rows:
        formula = attention_multiplications(n, d_model, n_heads, kv, win)
        assert counted == formula, f"{label}: counted {counted} != formula {formula}"
        assert all(math.isfinite(x) for row in out for x in row)
        floats = kv_cache_floats(n, d_model, n_heads, kv, win)
        print(
            f"   {label:<22} {f'{n_heads}/{kv}':>10} {counted:>8,} {'yes':>10} "
            f"{floats:>10,} {floats / mha_kv:>9.1%} {cosine_similarity(out, reference):>15.4f}"
        )
    worst = min(cosine_similarity(out, reference) for label, kv, win, out, _ in rows if win is None)
    print(f"   seed criterion, MQA and GQA cos sim to MHA > 0.95: lowest {worst:.4f} -> "
          f"{'PASS' if worst > 0.95 else 'FAIL'}")
    print("   (sliding-window rows differ from MHA by design: each query sees at most 6 keys)\n")


def demo_spread(rng: random.Random) -> None:
    n, d_model, n_heads = 16, 24, 6
    X = random_matrix(rng, n, d_model, 2.0)
    mask = sliding_window_mask(n, n)
    print("2. Mean-pooled conversion works as well as the KV heads are alike (cos sim to MHA)")
    print(f"   {'KV-head spread':>15} {'GQA 3':>8} {'GQA 2':>8} {'MQA':>8}")
    for spread in (0.0, 0.1, 0.3, 0.6, 1.0):
        params = mha_checkpoint(rng, d_model, n_heads, spread)
        reference = multi_head_attention(X, params, n_heads, mask)
        sims = [
            cosine_similarity(grouped_query_attention(X, pooled(params, n_heads, kv), n_heads, kv, mask), reference)
            for kv in (3, 2, 1)
        ]
        print(f"   {spread:>15.1f} " + " ".join(f"{s:>8.4f}" for s in sims))
    print("   spread 0: pooling identical heads changes nothing (exactly MHA); real checkpoints\n"
          "   sit in between, which is why GQA uptrains for ~5% of the pre-training steps.\n")


def demo_large_logits(rng: random.Random) -> None:
    n, d = 10, 4
    Q, K, V = (random_matrix(rng, n, d, 25.0) for _ in range(3))
    largest = max(abs(dot(q, k)) / math.sqrt(d) for q in Q for k in K)
    out = scaled_dot_product_attention(Q, K, V, sliding_window_mask(n, 3))
    finite = all(math.isfinite(x) for row in out for x in row)
    print(f"3. Stable softmax: logits up to {largest:,.0f} (exp would overflow past ~709): all finite = {finite}\n")


def demo_scale() -> None:
    # A Llama-2-7B-shaped layer stack (32 layers, d_model 4096, 32 heads) at a
    # 4096-token context, 2 bytes per float (fp16/bf16).
    n, d_model, n_heads, layers = 4096, 4096, 32, 32
    print(f"4. The same formulas at real scale: {layers} layers, d_model={d_model}, {n_heads} heads, "
          f"{n} tokens, fp16")
    print(f"   {'variant':<20} {'KV cache / sequence':>20} {'prefill GFLOPs':>19}")
    for label, kv, window in [
        ("MHA", 32, None), ("GQA 8 KV heads", 8, None), ("MQA", 1, None),
        ("sliding w=1024", 32, 1024), ("GQA 8 + w=1024", 8, 1024),
    ]:
        cache_bytes = 2 * layers * kv_cache_floats(n, d_model, n_heads, kv, window)
        flops = 2 * layers * attention_multiplications(n, d_model, n_heads, kv, window)
        print(f"   {label:<20} {cache_bytes / 2**30:>16.3f} GiB {flops / 1e9:>19,.0f}")
    print("   KV heads shrink the cache (memory-bound decoding); the window shrinks the\n"
          "   cache AND the n^2 attention work, at the price of a bounded receptive field.")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_table(rng)
    demo_spread(rng)
    demo_large_logits(rng)
    demo_scale()
