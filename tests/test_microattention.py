"""Graded tests for microattention: SDPA, MHA, MQA, GQA, sliding windows, and their costs.

Expected values come from the naive spec below (written independently of the
kata: explicit index loops, math.fsum, one query head at a time), from
closed forms counted by brute-force loops over (query, key) pairs, or from
properties (GQA with n_kv_heads = n_heads is MHA; a position outside the
window cannot influence the output).
"""

import copy
import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, matrix

TOL = 1e-9


# === the independent spec ===


def spec_visible(n, window=None):
    """Causal (window None) or causal sliding window: query i sees key j iff i - window < j <= i."""
    w = n if window is None else window
    return [[(j <= i) and (i - j < w) for j in range(n)] for i in range(n)]


def spec_sdpa(Q, K, V, mask=None):
    d = len(Q[0])
    out = []
    for i, q in enumerate(Q):
        keys = [j for j in range(len(K)) if mask is None or mask[i][j]]
        logits = [math.fsum(a * b for a, b in zip(q, K[j])) / math.sqrt(d) for j in keys]
        top = max(logits)
        weights = [math.exp(x - top) for x in logits]
        total = math.fsum(weights)
        out.append([math.fsum(w * V[j][c] for w, j in zip(weights, keys)) / total for c in range(len(V[0]))])
    return out


def spec_project(X, W, first, width):
    """Columns [first, first + width) of X @ W, by explicit sums."""
    return [
        [math.fsum(X[i][a] * W[a][first + c] for a in range(len(W))) for c in range(width)]
        for i in range(len(X))
    ]


def spec_gqa(X, params, n_heads, n_kv_heads, mask=None):
    """Grouped-query attention one query head at a time: head h reads KV head h // (n_heads / n_kv_heads)."""
    d_model = len(X[0])
    hd = d_model // n_heads
    per_kv = n_heads // n_kv_heads
    concat = [[] for _ in X]
    for h in range(n_heads):
        g = h // per_kv
        q = spec_project(X, params["Wq"], h * hd, hd)
        k = spec_project(X, params["Wk"], g * hd, hd)
        v = spec_project(X, params["Wv"], g * hd, hd)
        for row, out_row in zip(concat, spec_sdpa(q, k, v, mask)):
            row.extend(out_row)
    return spec_project(concat, params["Wo"], 0, d_model)


def spec_mha(X, params, n_heads, mask=None):
    return spec_gqa(X, params, n_heads, n_heads, mask)


def spec_mults(n, d_model, n_heads, n_kv_heads, mask):
    """Multiplications of one layer, counted pair by pair from a mask (None = all pairs)."""
    hd = d_model // n_heads
    pairs = sum(1 for i in range(n) for j in range(n) if mask is None or mask[i][j])
    q_and_o = 2 * n * d_model * d_model
    k_and_v = 2 * n * d_model * n_kv_heads * hd
    # each visible pair: one head_dim dot product (score) + head_dim weighted-value terms
    return q_and_o + k_and_v + n_heads * pairs * (hd + hd)


class CountingCounter:
    """The grader's own counter: the kata's dot/matmul/weighted_sum report to it."""

    def __init__(self):
        self.multiplications = 0

    def multiply(self, n):
        self.multiplications += n


def make_params(seed, d_model, n_kv_cols, scale=None):
    rng = random.Random(seed)
    s = scale if scale is not None else 1.0 / math.sqrt(d_model)
    return {
        "Wq": matrix(rng, d_model, d_model, s),
        "Wk": matrix(rng, d_model, n_kv_cols, s),
        "Wv": matrix(rng, d_model, n_kv_cols, s),
        "Wo": matrix(rng, d_model, d_model, s),
    }


def random_mask(rng, n_q, n_k):
    """Random visibility with at least one visible key per query."""
    mask = [[rng.random() < 0.5 for _ in range(n_k)] for _ in range(n_q)]
    for row in mask:
        row[rng.randrange(n_k)] = True
    return mask


# === task 1: scaled dot-product attention ===


SDPA_CASES = [(1, 1, 1, 1), (3, 5, 2, 4), (6, 6, 3, 3), (7, 4, 5, 1), (9, 11, 4, 6)]


def sdpa_id(case):
    return "nq{}-nk{}-d{}-dv{}".format(*case)


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
@pytest.mark.parametrize("case", SDPA_CASES, ids=sdpa_id)
def test_sdpa_matches_spec(kata, case, masked):
    n_q, n_k, d, d_v = case
    rng = random.Random(11 * n_q + 7 * n_k + d)
    Q, K, V = matrix(rng, n_q, d, 2.0), matrix(rng, n_k, d, 2.0), matrix(rng, n_k, d_v)
    mask = random_mask(rng, n_q, n_k) if masked else None
    assert_close(
        kata.scaled_dot_product_attention(Q, K, V, mask),
        spec_sdpa(Q, K, V, mask),
        TOL,
        f"scaled_dot_product_attention(n_q={n_q}, n_k={n_k}, d={d}, d_v={d_v}, masked={masked})",
        hint="scale every score by 1/sqrt(d) (d = width of Q); masked keys get weight exactly 0",
    )


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_rows_far_below_zero(kata):
    # Every score of every row ~ -1e3 (and one row's ~ -2e3): softmax is still defined.
    Q = [[-40.0, 1.0], [-80.0, 0.5], [-45.0, -2.0]]
    K = [[35.0, 0.0], [36.5, 1.0], [34.0, -1.0], [35.5, 2.0]]
    V = [[1.0, 0.0], [0.0, 1.0], [2.0, -1.0], [0.5, 0.5]]
    assert_close(kata.scaled_dot_product_attention(Q, K, V), spec_sdpa(Q, K, V), TOL,
                 "scaled_dot_product_attention with every score near -1e3",
                 hint="subtract each row's max score (here a large negative number) before exp()")


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_survives_large_logits(kata):
    rng = random.Random(5)
    Q, K, V = matrix(rng, 8, 4, 30.0), matrix(rng, 8, 4, 30.0), matrix(rng, 8, 3)
    mask = spec_visible(8, 3)
    for m in (None, mask):
        assert_close(
            kata.scaled_dot_product_attention(Q, K, V, m),
            spec_sdpa(Q, K, V, m),
            TOL,
            f"scaled_dot_product_attention with logits ~1e3 (mask={'window 3' if m else None})",
            hint="subtract each row's max score before exp() (stable softmax)",
        )


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("masked", [False, True], ids=["full", "masked"])
def test_sdpa_counts_only_visible_pairs(kata, masked):
    rng = random.Random(8)
    n_q, n_k, d, d_v = 7, 9, 5, 3
    Q, K, V = matrix(rng, n_q, d), matrix(rng, n_k, d), matrix(rng, n_k, d_v)
    mask = random_mask(rng, n_q, n_k) if masked else None
    counter = CountingCounter()
    kata.scaled_dot_product_attention(Q, K, V, mask, counter)
    visible = sum(1 for i in range(n_q) for j in range(n_k) if mask is None or mask[i][j])
    assert_equal(
        counter.multiplications,
        visible * (d + d_v),
        f"multiplications counted by scaled_dot_product_attention({visible} visible pairs, d={d}, d_v={d_v})",
        hint="one dot(q, k, counter) per VISIBLE key and one weighted_sum(..., counter) per query over "
        "the visible values only: never compute a score you are going to mask",
    )


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_rejects_bad_shapes(kata):
    rng = random.Random(1)
    Q, K, V = matrix(rng, 3, 4), matrix(rng, 5, 4), matrix(rng, 5, 2)
    with pytest.raises(ValueError, match="K"):
        kata.scaled_dot_product_attention(Q, [row[:3] for row in K], V)
    with pytest.raises(ValueError, match="V"):
        kata.scaled_dot_product_attention(Q, K, V[:4])
    with pytest.raises(ValueError, match="mask"):
        kata.scaled_dot_product_attention(Q, K, V, [[True] * 5] * 2)
    with pytest.raises(ValueError, match="mask"):
        kata.scaled_dot_product_attention(Q, K, V, [[True] * 5, [False] * 5, [True] * 5])


# === tasks 2-3: split and merge heads ===


@pytest.mark.task("split_heads")
@pytest.mark.parametrize("n,width,heads", [(1, 1, 1), (3, 6, 2), (4, 6, 3), (2, 12, 4), (5, 5, 5)])
def test_split_heads_layout(kata, n, width, heads):
    X = matrix(random.Random(n * width), n, width)
    hd = width // heads
    expected = [[[X[i][h * hd + c] for c in range(hd)] for i in range(n)] for h in range(heads)]
    assert_equal(
        kata.split_heads(X, heads),
        expected,
        f"split_heads(n={n}, width={width}, n_heads={heads})",
        hint="head h owns the CONTIGUOUS columns h*head_dim .. (h+1)*head_dim - 1",
    )


@pytest.mark.task("split_heads")
def test_split_heads_rejects_non_divisor(kata):
    X = matrix(random.Random(2), 3, 6)
    for bad in (4, 0, -2):
        with pytest.raises(ValueError, match="n_heads"):
            kata.split_heads(X, bad)


@pytest.mark.task("merge_heads")
@pytest.mark.parametrize("n,hd,heads", [(1, 1, 1), (3, 2, 3), (4, 3, 2), (2, 1, 5)])
def test_merge_heads_concatenates(kata, n, hd, heads):
    rng = random.Random(100 + n + hd + heads)
    parts = [matrix(rng, n, hd) for _ in range(heads)]
    expected = [[parts[h][i][c] for h in range(heads) for c in range(hd)] for i in range(n)]
    assert_equal(
        kata.merge_heads(parts),
        expected,
        f"merge_heads({heads} heads of {n} x {hd})",
        hint="row i is head 0's row i, then head 1's row i, ... (column-wise concatenation)",
    )


# === task 4: multi-head attention ===

MHA_CASES = [(1, 4, 4), (5, 6, 2), (7, 6, 3), (6, 10, 1), (4, 12, 4)]


def mha_id(case):
    return "n{}-d{}-h{}".format(*case)


@pytest.mark.task("multi_head_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("case", MHA_CASES, ids=mha_id)
def test_mha_matches_spec(kata, case, causal):
    n, d, h = case
    X = matrix(random.Random(7 * n + d), n, d, 2.0)
    params = make_params(31 * n + h, d, d)
    mask = spec_visible(n) if causal else None
    assert_close(
        kata.multi_head_attention(X, params, h, mask),
        spec_mha(X, params, h, mask),
        TOL,
        f"multi_head_attention(n={n}, d_model={d}, n_heads={h}, causal={causal})",
        hint="project with Wq/Wk/Wv, split into heads (contiguous columns), attend per head with "
        "head_dim = d_model / n_heads, concatenate, then multiply by Wo",
    )


@pytest.mark.task("multi_head_attention")
def test_mha_survives_large_logits(kata):
    X = matrix(random.Random(3), 6, 6, 10.0)
    params = make_params(4, 6, 6, scale=3.0)
    got = kata.multi_head_attention(X, params, 2, spec_visible(6))
    assert_close(got, spec_mha(X, params, 2, spec_visible(6)), 1e-6, "multi_head_attention with logits ~1e3")


@pytest.mark.task("multi_head_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_mha_multiplications(kata, causal):
    n, d, h = 7, 6, 3
    mask = spec_visible(n) if causal else None
    counter = CountingCounter()
    kata.multi_head_attention(matrix(random.Random(9), n, d), make_params(9, d, d), h, mask, counter)
    assert_equal(
        counter.multiplications,
        spec_mults(n, d, h, h, mask),
        f"multiplications counted by multi_head_attention(n={n}, d_model={d}, n_heads={h}, causal={causal})",
        hint="four projections of n x d_model by d_model x d_model, plus per head the visible pairs "
        "times head_dim (scores) + head_dim (values); use matmul and pass the counter everywhere",
    )


@pytest.mark.task("multi_head_attention")
def test_mha_rejects_non_divisor_heads(kata):
    X = matrix(random.Random(1), 3, 6)
    with pytest.raises(ValueError, match="n_heads"):
        kata.multi_head_attention(X, make_params(1, 6, 6), 4)


# === task 5: multi-query attention ===


@pytest.mark.task("multi_query_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("case", MHA_CASES, ids=mha_id)
def test_mqa_matches_spec(kata, case, causal):
    n, d, h = case
    X = matrix(random.Random(5 * n + d), n, d, 2.0)
    params = make_params(17 * n + h, d, d // h)
    mask = spec_visible(n) if causal else None
    assert_close(
        kata.multi_query_attention(X, params, h, mask),
        spec_gqa(X, params, h, 1, mask),
        TOL,
        f"multi_query_attention(n={n}, d_model={d}, n_heads={h}, causal={causal})",
        hint="every query head attends with the SAME K = X Wk and V = X Wv (d_model x head_dim);"
        " Q heads are contiguous head_dim columns; scale scores by 1/sqrt(head_dim)",
    )


@pytest.mark.task("multi_query_attention")
def test_mqa_projects_shared_kv_once(kata):
    n, d, h = 6, 12, 4
    mask = spec_visible(n)
    counter = CountingCounter()
    kata.multi_query_attention(matrix(random.Random(2), n, d), make_params(2, d, d // h), h, mask, counter)
    assert_equal(
        counter.multiplications,
        spec_mults(n, d, h, 1, mask),
        f"multiplications counted by multi_query_attention(n={n}, d_model={d}, n_heads={h}, causal)",
        hint="compute K and V once, outside the loop over query heads, and reuse them",
    )


@pytest.mark.task("multi_query_attention")
def test_mqa_rejects_bad_shapes(kata):
    X = matrix(random.Random(1), 3, 6)
    with pytest.raises(ValueError, match="n_heads"):
        kata.multi_query_attention(X, make_params(1, 6, 2), 4)
    with pytest.raises(ValueError, match="Wk|Wv"):
        kata.multi_query_attention(X, make_params(1, 6, 6), 3)


# === task 6: grouped-query attention ===

GQA_CASES = [(5, 6, 6, 2), (6, 6, 6, 3), (4, 8, 4, 2), (7, 12, 6, 2), (3, 6, 6, 1), (5, 6, 3, 3)]


def gqa_id(case):
    return "n{}-d{}-h{}-kv{}".format(*case)


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("case", GQA_CASES, ids=gqa_id)
def test_gqa_matches_spec(kata, case, causal):
    n, d, h, kv = case
    X = matrix(random.Random(3 * n + d + kv), n, d, 2.0)
    params = make_params(13 * n + h + kv, d, kv * (d // h))
    mask = spec_visible(n) if causal else None
    assert_close(
        kata.grouped_query_attention(X, params, h, kv, mask),
        spec_gqa(X, params, h, kv, mask),
        TOL,
        f"grouped_query_attention(n={n}, d_model={d}, n_heads={h}, n_kv_heads={kv}, causal={causal})",
        hint="query head h uses KV head h // (n_heads // n_kv_heads): consecutive heads share, "
        "not h % n_kv_heads; heads are contiguous head_dim columns, scores scaled by 1/sqrt(head_dim)",
    )


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("n,d,h", [(5, 6, 3), (6, 8, 4)])
def test_gqa_with_all_kv_heads_is_mha(kata, n, d, h):
    X = matrix(random.Random(n + d), n, d)
    params = make_params(n * d, d, d)
    mask = spec_visible(n)
    # The grader's MHA, not yours: GQA is graded before multi_head_attention is written.
    assert_close(
        kata.grouped_query_attention(X, params, h, h, mask),
        spec_mha(X, params, h, mask),
        1e-9,
        f"grouped_query_attention(n_kv_heads = n_heads = {h}) vs multi-head attention",
        hint="with one KV head per query head, GQA must be exactly MHA",
    )


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("n,d,h", [(5, 6, 3), (6, 8, 4)])
def test_gqa_with_one_kv_head_is_mqa(kata, n, d, h):
    X = matrix(random.Random(n + 2 * d), n, d)
    params = make_params(n * d + 1, d, d // h)
    mask = spec_visible(n)
    # The grader's MQA (every query head reads KV columns 0 .. head_dim - 1), not yours.
    assert_close(
        kata.grouped_query_attention(X, params, h, 1, mask),
        spec_gqa(X, params, h, 1, mask),
        1e-9,
        f"grouped_query_attention(n_kv_heads = 1, n_heads = {h}) vs multi-query attention",
        hint="with a single KV head, every query head shares it: that is MQA",
    )


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("h,kv", [(6, 6), (6, 3), (6, 2), (6, 1)])
def test_gqa_multiplications(kata, h, kv):
    n, d = 5, 12
    mask = spec_visible(n)
    counter = CountingCounter()
    X = matrix(random.Random(kv), n, d)
    kata.grouped_query_attention(X, make_params(kv, d, kv * (d // h)), h, kv, mask, counter)
    assert_equal(
        counter.multiplications,
        spec_mults(n, d, h, kv, mask),
        f"multiplications counted by grouped_query_attention(n={n}, d_model={d}, n_heads={h}, n_kv_heads={kv})",
        hint="project K and V once per KV head (n x d_model x n_kv_heads*head_dim), not once per query head",
    )


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("h,kv", [(6, 4), (6, 5), (4, 3), (6, 0), (6, -2)])
def test_gqa_rejects_non_dividing_kv_heads(kata, h, kv):
    X = matrix(random.Random(1), 3, 12)
    # Wk, Wv as wide as n_kv_heads KV heads would be, so only the head counts are wrong.
    params = make_params(1, 12, max(kv, 1) * (12 // h))
    with pytest.raises(ValueError, match="n_kv_heads"):
        kata.grouped_query_attention(X, params, h, kv)


# === task 7: mean-pooled conversion from MHA ===


def spec_pool(W, n_heads, n_kv_heads):
    hd = len(W[0]) // n_heads
    group = n_heads // n_kv_heads
    return [
        [math.fsum(row[(g * group + m) * hd + c] for m in range(group)) / group for g in range(n_kv_heads) for c in range(hd)]
        for row in W
    ]


@pytest.mark.task("mean_pool_kv_heads")
@pytest.mark.parametrize("rows,h,kv,hd", [(1, 1, 1, 1), (3, 4, 2, 2), (4, 6, 3, 1), (5, 6, 2, 3), (2, 6, 1, 2)])
def test_mean_pool_matches_spec(kata, rows, h, kv, hd):
    W = matrix(random.Random(rows * h + kv), rows, h * hd)
    assert_close(
        kata.mean_pool_kv_heads(W, h, kv),
        spec_pool(W, h, kv),
        1e-12,
        f"mean_pool_kv_heads({rows} x {h * hd}, n_heads={h}, n_kv_heads={kv})",
        hint="KV head g is the MEAN of heads g*group .. (g+1)*group-1, column by column",
    )


@pytest.mark.task("mean_pool_kv_heads")
def test_pooling_identical_heads_keeps_mha(kata):
    # If the heads of each group are identical, pooling loses nothing: the
    # converted GQA model computes exactly what the MHA model does.
    n, d, h, kv = 6, 12, 6, 2
    rng = random.Random(21)
    hd = d // h
    params = make_params(22, d, d)
    for name in ("Wk", "Wv"):
        per_group = [matrix(rng, d, hd, 0.5) for _ in range(kv)]
        params[name] = [
            [per_group[(c // hd) // (h // kv)][r][c % hd] for c in range(d)] for r in range(d)
        ]
    X = matrix(rng, n, d)
    mask = spec_visible(n)
    converted = dict(params, Wk=kata.mean_pool_kv_heads(params["Wk"], h, kv), Wv=kata.mean_pool_kv_heads(params["Wv"], h, kv))
    assert_close(
        spec_gqa(X, converted, h, kv, mask),
        spec_mha(X, params, h, mask),
        1e-9,
        "GQA with mean-pooled weights vs MHA, when each group's KV heads are identical",
        hint="pool consecutive heads (the same grouping GQA uses), and divide by the group size",
    )


def cosine(A, B):
    a = [x for row in A for x in row]
    b = [x for row in B for x in row]
    return math.fsum(x * y for x, y in zip(a, b)) / math.sqrt(math.fsum(x * x for x in a) * math.fsum(x * x for x in b))


def redundant_kv_params(seed, d, h, spread):
    """MHA weights whose KV heads are alike, as in a trained model: every head's Wk/Wv columns
    are one shared d x head_dim block plus uniform noise of `spread` times the weights' scale."""
    rng = random.Random(seed)
    hd, s = d // h, 1.0 / math.sqrt(d)
    params = {"Wq": matrix(rng, d, d, s), "Wo": matrix(rng, d, d, s)}
    for name in ("Wk", "Wv"):
        shared = matrix(rng, d, hd, s)
        params[name] = [[shared[r][c % hd] + spread * rng.uniform(-s, s) for c in range(d)] for r in range(d)]
    return params


@pytest.mark.task("mean_pool_kv_heads")
@pytest.mark.parametrize("kv", [3, 2, 1])
def test_pooled_conversion_of_alike_heads_meets_the_seed_criterion(kata, kv):
    # The seed's criterion: MQA and GQA converted from MHA by mean pooling have
    # cosine similarity > 0.95 to MHA's output. It holds for KV heads that are
    # alike (this construction, spread 0.2); for independent random heads it
    # does not (cosine ~0.3-0.8), which is why GQA uptrains after pooling.
    n, d, h = 13, 24, 6
    params = redundant_kv_params(31, d, h, 0.2)
    X = matrix(random.Random(32), n, d, 2.0)
    mask = spec_visible(n)
    converted = dict(params, Wk=kata.mean_pool_kv_heads(params["Wk"], h, kv), Wv=kata.mean_pool_kv_heads(params["Wv"], h, kv))
    similarity = cosine(spec_gqa(X, converted, h, kv, mask), spec_mha(X, params, h, mask))
    if not similarity > 0.95:
        raise Mismatch(
            f"GQA ({kv} KV heads) converted with mean_pool_kv_heads from MHA with alike KV heads: "
            f"cosine similarity to MHA {similarity:.4f}, expected > 0.95\n"
            "  hint: average the KV heads of each group of consecutive heads (the grouping GQA uses)"
        )


@pytest.mark.task("mean_pool_kv_heads")
def test_mean_pool_rejects_non_divisor(kata):
    W = matrix(random.Random(1), 3, 12)
    with pytest.raises(ValueError, match="n_kv_heads"):
        kata.mean_pool_kv_heads(W, 6, 4)


# === task 8: the sliding-window mask ===


@pytest.mark.task("sliding_window_mask")
@pytest.mark.parametrize("n,w", [(1, 1), (5, 1), (6, 2), (7, 3), (9, 4), (5, 5), (4, 9)])
def test_window_mask_matches_spec(kata, n, w):
    assert_equal(
        kata.sliding_window_mask(n, w),
        spec_visible(n, w),
        f"sliding_window_mask(n={n}, window={w})",
        hint="query i sees key j iff i - window < j <= i: the window most recent positions, itself included",
    )


def first_wrong_edge(mask, n, w):
    """Name the first edge of the window that the mask gets wrong, or None."""
    for i in range(n):
        if mask[i][i] is not True:
            return f"query {i} must see itself (key {i})"
        if i + 1 < n and mask[i][i + 1] is not False:
            return f"query {i} must not see the future key {i + 1}"
        if i - w + 1 >= 0 and mask[i][i - w + 1] is not True:
            return f"query {i} must see key {i - w + 1}, the oldest of its {w} window positions"
        if i - w >= 0 and mask[i][i - w] is not False:
            return f"query {i} must not see key {i - w}: it is {w} positions back, just outside the window"
        if sum(mask[i]) != min(i + 1, w):
            return f"query {i} must see exactly min(i + 1, window) = {min(i + 1, w)} keys"
    return None


@pytest.mark.task("sliding_window_mask")
@pytest.mark.parametrize("n,w", [(8, 1), (8, 3), (10, 4), (6, 6)])
def test_window_edges(kata, n, w):
    wrong = first_wrong_edge(kata.sliding_window_mask(n, w), n, w)
    if wrong:
        raise Mismatch(f"sliding_window_mask(n={n}, window={w}): {wrong}")


@pytest.mark.task("sliding_window_mask")
@pytest.mark.parametrize("bad", [0, -1])
def test_window_rejects_non_positive(kata, bad):
    with pytest.raises(ValueError, match="window"):
        kata.sliding_window_mask(5, bad)


# === task 9: sliding-window attention ===


@pytest.mark.task("sliding_window_attention")
@pytest.mark.parametrize("n,d,h,kv,w", [(6, 6, 2, None, 2), (7, 6, 3, None, 3), (8, 8, 4, 2, 3), (5, 6, 3, 1, 1), (5, 6, 2, None, 9)])
def test_window_attention_matches_spec(kata, n, d, h, kv, w):
    X = matrix(random.Random(n * w + d), n, d, 2.0)
    kvh = h if kv is None else kv
    params = make_params(n + w + kvh, d, kvh * (d // h))
    assert_close(
        kata.sliding_window_attention(X, params, h, w, kv),
        spec_gqa(X, params, h, kvh, spec_visible(n, w)),
        TOL,
        f"sliding_window_attention(n={n}, d_model={d}, n_heads={h}, window={w}, n_kv_heads={kv})",
        hint="grouped-query attention under the mask i - window < j <= i",
    )


@pytest.mark.task("sliding_window_attention")
@pytest.mark.parametrize("w", [1, 2, 4])
def test_window_is_exactly_the_receptive_field(kata, w):
    n, d, h = 9, 6, 3
    rng = random.Random(40 + w)
    X = matrix(rng, n, d)
    params = make_params(41, d, d)
    base = kata.sliding_window_attention(X, params, h, w)
    assert_close(base, spec_mha(X, params, h, spec_visible(n, w)), 1e-9,
                 f"sliding_window_attention(window={w}) vs the spec",
                 hint="grouped-query attention under sliding_window_mask(n, window)")
    for j in range(n):
        moved = copy.deepcopy(X)
        moved[j] = [x + 1.5 for x in moved[j]]
        out = kata.sliding_window_attention(moved, params, h, w)
        for i in range(n):
            inside = i - w < j <= i
            diff = max(abs(a - b) for a, b in zip(out[i], base[i]))
            if inside and diff < 1e-9:
                raise Mismatch(
                    f"sliding_window_attention(window={w}): changing token {j} did not change output {i}, "
                    f"but j = {j} is inside query {i}'s window (i - window < j <= i)"
                )
            if not inside and diff > 1e-12:
                raise Mismatch(
                    f"sliding_window_attention(window={w}): changing token {j} changed output {i} by "
                    f"{diff:.3g}, but j = {j} is outside query {i}'s window (i - window < j <= i)"
                )


@pytest.mark.task("sliding_window_attention")
@pytest.mark.parametrize("w", [1, 3, 5, 20])
def test_window_attention_multiplications(kata, w):
    n, d, h, kv = 11, 6, 3, 3
    counter = CountingCounter()
    kata.sliding_window_attention(matrix(random.Random(w), n, d), make_params(w, d, d), h, w, kv, counter)
    assert_equal(
        counter.multiplications,
        spec_mults(n, d, h, kv, spec_visible(n, w)),
        f"multiplications counted by sliding_window_attention(n={n}, d_model={d}, n_heads={h}, window={w})",
        hint="keys outside the window must cost nothing: that is the point of a sliding window",
    )


# === tasks 10-11: the closed forms ===


def spec_pairs(n, w):
    return sum(min(i + 1, w) for i in range(n))


def closed_mults(n, d, h, kv, window):
    hd = d // h
    w = n if window is None else window
    return 2 * n * d * d + 2 * n * d * kv * hd + 2 * h * hd * spec_pairs(n, w)


FORMULA_CASES = [
    (1, 1, 1, 1, None),
    (7, 6, 3, 3, None),
    (7, 6, 3, 1, 2),
    (9, 12, 6, 2, 4),
    (10, 8, 4, 2, 10),
    (5, 6, 2, 2, 8),
    (12, 12, 4, 4, 1),
]


def formula_id(case):
    return "n{}-d{}-h{}-kv{}-w{}".format(*case)


@pytest.mark.task("attention_multiplications")
@pytest.mark.parametrize("case", FORMULA_CASES, ids=formula_id)
def test_mults_formula_equals_counted(kata, case):
    # spec_mults counts pair by pair from the mask; it is also what the
    # counting tests of grouped_query_attention and sliding_window_attention
    # demand of the counter, so the closed form equals the counted work.
    n, d, h, kv, w = case
    assert_equal(
        kata.attention_multiplications(n, d, h, kv, w),
        spec_mults(n, d, h, kv, spec_visible(n, w)),
        f"attention_multiplications(seq_len={n}, d_model={d}, n_heads={h}, n_kv_heads={kv}, window={w})",
        hint="projections: Q and O are d_model wide, K and V are n_kv_heads*head_dim wide; attention: "
        "2*head_dim per visible causal pair per query head; query i sees min(i + 1, window) keys",
    )


@pytest.mark.task("attention_multiplications")
@pytest.mark.parametrize(
    "n,d,h,kv,w",
    [(4096, 4096, 32, 32, None), (4096, 4096, 32, 8, None), (4096, 4096, 32, 1, 1024), (3000, 768, 12, 4, 4096), (1000, 64, 8, 2, 333)],
)
def test_mults_formula_at_scale(kata, n, d, h, kv, w):
    assert_equal(
        kata.attention_multiplications(n, d, h, kv, w),
        closed_mults(n, d, h, kv, w),
        f"attention_multiplications(seq_len={n}, d_model={d}, n_heads={h}, n_kv_heads={kv}, window={w})",
        hint="count only visible pairs (causal triangle / window band, not all n^2) and K, V projections"
        " n_kv_heads*head_dim wide; a window >= seq_len is plain causal",
    )


def spec_cache_floats(n, d, h, kv, window):
    """Decode one token at a time; count the (KV head, position) pairs still needed; take the peak."""
    hd = d // h
    mask = spec_visible(n, window)
    peak = 0
    for t in range(n):
        live = [j for j in range(t + 1) if any(mask[i][j] for i in range(t, n))]
        peak = max(peak, len(live))
    return 2 * kv * hd * peak


@pytest.mark.task("kv_cache_floats")
@pytest.mark.parametrize("case", FORMULA_CASES + [(30, 16, 8, 4, 7)], ids=formula_id)
def test_kv_floats_equal_live_cache(kata, case):
    n, d, h, kv, w = case
    assert_equal(
        kata.kv_cache_floats(n, d, h, kv, w),
        spec_cache_floats(n, d, h, kv, w),
        f"kv_cache_floats(seq_len={n}, d_model={d}, n_heads={h}, n_kv_heads={kv}, window={w})",
        hint="K and V (2), per KV head (not per query head), head_dim floats, for every position still "
        "visible: all seq_len causally, at most `window` with a sliding window",
    )


@pytest.mark.task("kv_cache_floats")
def test_kv_floats_trade_offs(kata):
    n, d, h = 4096, 4096, 32
    mha = kata.kv_cache_floats(n, d, h, 32)
    assert_equal(mha, 2 * n * d, "kv_cache_floats for MHA (Llama-2-7B layer, 4096 tokens)", hint="2 * seq_len * d_model")
    assert_equal(kata.kv_cache_floats(n, d, h, 8) * 4, mha, "GQA with 8 of 32 KV heads: a quarter of MHA's cache")
    assert_equal(kata.kv_cache_floats(n, d, h, 1) * 32, mha, "MQA: 1/32 of MHA's cache")
    assert_equal(kata.kv_cache_floats(n, d, h, 32, 1024) * 4, mha, "window 1024 of 4096: a quarter of the cache")


@pytest.mark.task("attention_multiplications")
def test_mults_formula_rejects_bad_sizes(kata):
    with pytest.raises(ValueError, match="n_kv_heads"):
        kata.attention_multiplications(10, 12, 6, 5)
    with pytest.raises(ValueError, match="n_heads"):
        kata.attention_multiplications(10, 12, 5, 1)
    with pytest.raises(ValueError, match="window"):
        kata.attention_multiplications(10, 12, 6, 2, -3)


@pytest.mark.task("kv_cache_floats")
def test_kv_floats_reject_bad_sizes(kata):
    with pytest.raises(ValueError, match="n_kv_heads"):
        kata.kv_cache_floats(10, 12, 6, 4)
    with pytest.raises(ValueError, match="window"):
        kata.kv_cache_floats(10, 12, 6, 2, 0)
    with pytest.raises(ValueError, match="seq_len"):
        kata.kv_cache_floats(0, 12, 6, 2)


# === contracts: every documented ValueError, argument by argument; edge sizes ===


def _sdpa_inputs():
    rng = random.Random(3)
    return matrix(rng, 3, 4), matrix(rng, 5, 4), matrix(rng, 5, 2)


SDPA_BAD = {
    "Q empty": (lambda Q, K, V: ([], K, V), "Q"),
    "Q rows of width 0": (lambda Q, K, V: ([[] for _ in Q], K, V), "Q"),
    "Q rows of different widths": (lambda Q, K, V: ([Q[0], Q[1][:3], Q[2]], K, V), "Q"),
    "K empty": (lambda Q, K, V: (Q, [], []), "K"),
    "V rows of width 0": (lambda Q, K, V: (Q, K, [[] for _ in V]), "V"),
    "V rows of different widths": (lambda Q, K, V: (Q, K, [V[0], V[1][:1]] + V[2:]), "V"),
}


@pytest.mark.task("scaled_dot_product_attention")
@pytest.mark.parametrize("case", list(SDPA_BAD))
def test_sdpa_rejects_each_bad_argument(kata, case):
    make, name = SDPA_BAD[case]
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.scaled_dot_product_attention(*make(*_sdpa_inputs()))


@pytest.mark.task("split_heads")
def test_split_heads_rejects_float_heads(kata):
    with pytest.raises(ValueError, match="n_heads"):
        kata.split_heads(matrix(random.Random(2), 3, 6), 2.0)


@pytest.mark.task("multi_head_attention")
@pytest.mark.parametrize("bad", [0, -3, 4, 2.0])
def test_mha_rejects_each_bad_head_count(kata, bad):
    with pytest.raises(ValueError, match="n_heads"):
        kata.multi_head_attention(matrix(random.Random(1), 3, 6), make_params(1, 6, 6), bad)


@pytest.mark.task("multi_query_attention")
def test_mqa_with_width_one(kata):
    # d_model = 1: one head of width 1, and Wk, Wv are 1 x 1.
    X = matrix(random.Random(61), 4, 1, 2.0)
    params = make_params(62, 1, 1)
    assert_close(kata.multi_query_attention(X, params, 1, spec_visible(4)), spec_gqa(X, params, 1, 1, spec_visible(4)),
                 TOL, "multi_query_attention(n=4, d_model=1, n_heads=1)", hint="a 1 x 1 weight matrix has one row")


@pytest.mark.task("multi_query_attention")
@pytest.mark.parametrize("bad", [0, -3, 4, 2.0])
def test_mqa_rejects_each_bad_head_count(kata, bad):
    params = make_params(1, 6, 3)
    with pytest.raises(ValueError, match="n_heads"):
        kata.multi_query_attention(matrix(random.Random(1), 3, 6), params, bad)


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("bad", [0, -3, 4, 2.0])
def test_gqa_rejects_each_bad_head_count(kata, bad):
    params = make_params(1, 6, 6)
    with pytest.raises(ValueError, match="n_heads"):
        kata.grouped_query_attention(matrix(random.Random(1), 3, 6), params, bad, 1)


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("name", ["Wk", "Wv"])
def test_gqa_rejects_wrong_kv_width(kata, name):
    params = make_params(1, 12, 6)  # 3 KV heads of head_dim 2 need 6 columns
    params[name] = [row[:4] for row in params[name]]
    with pytest.raises(ValueError, match=name):
        kata.grouped_query_attention(matrix(random.Random(1), 3, 12), params, 6, 3)


@pytest.mark.task("grouped_query_attention")
@pytest.mark.parametrize("n,d,h,kv", [(1, 4, 2, 1), (1, 3, 1, 1), (2, 5, 1, 1), (3, 1, 1, 1)])
def test_gqa_edge_sizes(kata, n, d, h, kv):
    # One token, one head: the smallest layers the docstring allows.
    X = matrix(random.Random(40 + n + d), n, d, 2.0)
    params = make_params(41 + d, d, kv * (d // h))
    assert_close(
        kata.grouped_query_attention(X, params, h, kv, spec_visible(n)),
        spec_gqa(X, params, h, kv, spec_visible(n)),
        TOL,
        f"grouped_query_attention(n={n}, d_model={d}, n_heads={h}, n_kv_heads={kv})",
        hint="d_model is the width of a row of X; one head and one token are valid sizes",
    )


@pytest.mark.task("mean_pool_kv_heads")
@pytest.mark.parametrize("n_heads,n_kv_heads,name", [(0, 1, "n_heads"), (-6, 2, "n_heads"), (5, 1, "n_heads"),
                                                     (6, 0, "n_kv_heads"), (6, -2, "n_kv_heads")])
def test_mean_pool_rejects_each_bad_argument(kata, n_heads, n_kv_heads, name):
    W = matrix(random.Random(1), 3, 12)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.mean_pool_kv_heads(W, n_heads, n_kv_heads)


@pytest.mark.task("sliding_window_mask")
@pytest.mark.parametrize("bad", [0, -1, 2.0])
def test_window_mask_rejects_bad_n(kata, bad):
    with pytest.raises(ValueError, match=r"\bn\b"):
        kata.sliding_window_mask(bad, 2)


@pytest.mark.task("attention_multiplications")
def test_mults_formula_is_an_exact_int(kata):
    # Beyond 2**53 a float count is no longer exact: counts are ints.
    n, d, h, kv, w = 10**7 + 1, 8192, 64, 8, 4097
    got = kata.attention_multiplications(n, d, h, kv, w)
    assert_equal(type(got), int, f"type of attention_multiplications({n}, {d}, {h}, {kv}, {w})",
                 hint="integer division (//) keeps counts exact")
    hd = d // h
    pairs = sum(range(1, w + 1)) + (n - w) * w  # queries 0..w-1 see i + 1 keys, the rest w
    expected = 2 * n * d * d + 2 * n * d * kv * hd + 2 * h * hd * pairs
    assert_equal(got, expected, f"attention_multiplications({n}, {d}, {h}, {kv}, {w})")


@pytest.mark.task("kv_cache_floats")
def test_kv_floats_is_an_int(kata):
    got = kata.kv_cache_floats(4096, 4096, 32, 8, 1000)
    assert_equal(type(got), int, "type of kv_cache_floats(4096, 4096, 32, 8, 1000)", hint="head_dim = d_model // n_heads")
    assert_equal(got, 2 * 1000 * 8 * (4096 // 32), "kv_cache_floats(4096, 4096, 32, 8, 1000)",
                 hint="K and V x window positions x n_kv_heads x head_dim")


# === validation, completely: every documented ValueError, both sides, NaN, 2.5 and True ===

NOT_POSITIVE_INTS = [0, -1, 2.5, math.nan, True]


@pytest.mark.task("scaled_dot_product_attention")
def test_sdpa_rejects_every_wrong_shape_both_ways(kata):
    Q, K, V = _sdpa_inputs()  # 3 x 4, 5 x 4, 5 x 2
    cases = [
        ((Q, [row + [0.0] for row in K], V), "K"),  # K rows wider than Q's
        ((Q, K[:1] + [K[1][:3]] + K[2:], V), "K"),  # one K row narrower
        ((Q, K, V + V[:1]), "V"),  # one V row too many
        ((Q, K, V[:4]), "V"),  # one too few
        ((Q, K, V, [[True] * 5] * 4), "mask"),  # one mask row too many
        ((Q, K, V, [[True] * 5] * 2), "mask"),  # one too few
        ((Q, K, V, [[True] * 6] * 3), "mask"),  # rows one key too long
        ((Q, K, V, [[True] * 5, [True] * 4, [True] * 5]), "mask"),  # one row one key too short
        ((Q, K, V, [[True] * 5, [True] * 5, [False] * 5]), "mask"),  # the last query sees no key
        (([[1.0]], [[1.0]], [[2.0]], [[False]]), "mask"),  # the only query sees no key
    ]
    for args, name in cases:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.scaled_dot_product_attention(*args)


@pytest.mark.task("split_heads")
def test_split_heads_rejects_each_bad_head_count(kata):
    for bad in NOT_POSITIVE_INTS + [4, 7]:
        with pytest.raises(ValueError, match="n_heads"):
            kata.split_heads(matrix(random.Random(2), 3, 6), bad)


@pytest.mark.task("multi_head_attention")
def test_mha_rejects_non_int_head_counts(kata):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match="n_heads"):
            kata.multi_head_attention(matrix(random.Random(1), 3, 6), make_params(1, 6, 6), bad)


@pytest.mark.task("multi_query_attention")
def test_mqa_rejects_non_int_head_counts(kata):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match="n_heads"):
            kata.multi_query_attention(matrix(random.Random(1), 3, 6), make_params(1, 6, 6), bad)


@pytest.mark.task("multi_query_attention")
def test_mqa_rejects_kv_width_both_ways(kata):
    for name in ("Wk", "Wv"):
        for width in (2, 4):
            params = make_params(1, 6, 3)  # 2 heads of head_dim 3
            params[name] = [row[:width] if width < 3 else row + [0.5] for row in params[name]]
            with pytest.raises(ValueError, match=name):
                kata.multi_query_attention(matrix(random.Random(1), 3, 6), params, 2)


@pytest.mark.task("grouped_query_attention")
def test_gqa_rejects_non_int_head_counts(kata):
    for bad in NOT_POSITIVE_INTS:
        X = matrix(random.Random(1), 3, 6)
        with pytest.raises(ValueError, match=r"\bn_heads\b"):
            kata.grouped_query_attention(X, make_params(1, 6, 6), bad, 1)
        with pytest.raises(ValueError, match="n_kv_heads"):
            kata.grouped_query_attention(X, make_params(1, 6, 6), 3, bad)


@pytest.mark.task("grouped_query_attention")
def test_gqa_rejects_kv_width_too_wide(kata):
    for name in ("Wk", "Wv"):
        params = make_params(1, 12, 6)  # 3 KV heads of head_dim 2 need 6 columns
        params[name] = [row + [0.5, 0.5] for row in params[name]]
        with pytest.raises(ValueError, match=name):
            kata.grouped_query_attention(matrix(random.Random(1), 3, 12), params, 6, 3)


@pytest.mark.task("mean_pool_kv_heads")
def test_mean_pool_rejects_non_int_head_counts(kata):
    for bad in NOT_POSITIVE_INTS:
        W = matrix(random.Random(1), 3, 12)
        with pytest.raises(ValueError, match=r"\bn_heads\b"):
            kata.mean_pool_kv_heads(W, bad, 1)
        with pytest.raises(ValueError, match="n_kv_heads"):
            kata.mean_pool_kv_heads(W, 6, bad)


@pytest.mark.task("sliding_window_mask")
def test_window_mask_rejects_non_int_sizes(kata):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match=r"\bn\b"):
            kata.sliding_window_mask(bad, 2)
        with pytest.raises(ValueError, match="window"):
            kata.sliding_window_mask(1, bad)


SIZE_NAMES = ["seq_len", "d_model", "n_heads", "n_kv_heads", "window"]


def sizes_with(name, bad):
    args = {"seq_len": 1, "d_model": 4, "n_heads": 2, "n_kv_heads": 1, "window": 1}  # the smallest sizes
    args[name] = bad
    return args


@pytest.mark.task("attention_multiplications")
@pytest.mark.parametrize("name", SIZE_NAMES)
def test_mults_formula_rejects_each_bad_size(kata, name):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.attention_multiplications(**sizes_with(name, bad))


@pytest.mark.task("kv_cache_floats")
@pytest.mark.parametrize("name", SIZE_NAMES)
def test_kv_floats_reject_each_bad_size(kata, name):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.kv_cache_floats(**sizes_with(name, bad))


@pytest.mark.task("kv_cache_floats")
def test_kv_floats_reject_head_counts_that_do_not_divide(kata):
    with pytest.raises(ValueError, match=r"\bn_heads\b"):
        kata.kv_cache_floats(1, 12, 5, 1)
    with pytest.raises(ValueError, match="n_kv_heads"):
        kata.kv_cache_floats(1, 12, 6, 5)
