"""Graded tests for microflash: tiled attention with an online softmax.

Expected values come from the naive spec below (written independently of the
kata: math.fsum, explicit loops), from closed forms of the FlashAttention
paper's IO accounting, or from properties (any split of the scores gives the
same softmax; memory does not grow with N^2).
"""

import copy
import math
import random
import tracemalloc

import pytest
from pytest_check import check

from workbook.checks import Mismatch, assert_close, assert_equal, matrix

TOL = 1e-6  # the seed's success criterion: flash equals standard within 1e-6


# === the independent spec ===


def spec_attention(Q, K, V, causal=False):
    """softmax(Q K^T / sqrt(d)) V, one query at a time, in the most obvious way."""
    d = len(Q[0])
    out = []
    for i, q in enumerate(Q):
        keys = range(i + 1) if causal else range(len(K))
        logits = [math.fsum(a * b for a, b in zip(q, K[j])) / math.sqrt(d) for j in keys]
        top = max(logits)
        weights = [math.exp(x - top) for x in logits]
        total = math.fsum(weights)
        out.append([math.fsum(w * V[j][c] for w, j in zip(weights, keys)) / total for c in range(len(V[0]))])
    return out


def spec_softmax(xs):
    top = max(xs)
    weights = [math.exp(x - top) for x in xs]
    total = math.fsum(weights)
    return [w / total for w in weights]


class CountingHBM:
    """The grader's own slow memory: counts floats moved by load and store."""

    def __init__(self):
        self.reads = 0
        self.writes = 0

    def load(self, matrix_, start, stop):
        rows = [list(r) for r in matrix_[start:stop]]
        self.reads += sum(len(r) for r in rows)
        return rows

    def store(self, matrix_, start, rows):
        for offset, row in enumerate(rows):
            matrix_[start + offset] = list(row)
        self.writes += sum(len(r) for r in rows)


def qkv(seed, n, d, scale=1.0):
    rng = random.Random(seed)
    return matrix(rng, n, d, scale), matrix(rng, n, d, scale), matrix(rng, n, d, scale)


# Shapes chosen so that N is rarely a multiple of B, B = 1 and B >= N occur,
# and d is odd as often as even.
FLASH_CASES = [
    (1, 1, 1),
    (2, 3, 1),
    (5, 2, 2),
    (7, 4, 3),
    (9, 3, 4),
    (13, 5, 4),
    (13, 5, 13),
    (16, 4, 5),
    (17, 6, 16),
    (11, 3, 40),
]


def case_id(case):
    n, d, b = case
    return f"N{n}-d{d}-B{b}"


# === task 1: standard attention ===


@pytest.mark.task("standard_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("n,d", [(1, 1), (4, 2), (7, 3), (12, 5)])
def test_standard_matches_spec(kata, n, d, causal):
    Q, K, V = qkv(100 + 7 * n + d, n, d)
    got = kata.standard_attention(Q, K, V, causal=causal)
    assert_close(
        got,
        spec_attention(Q, K, V, causal),
        TOL,
        f"standard_attention(N={n}, d={d}, causal={causal})",
        hint="scale the scores by 1/sqrt(d); causal: query i sees keys 0..i (j <= i)",
    )


@pytest.mark.task("standard_attention")
def test_standard_survives_large_logits(kata):
    Q, K, V = qkv(7, 9, 4, scale=30.0)  # logits up to ~1800: exp() would overflow
    assert_close(
        kata.standard_attention(Q, K, V),
        spec_attention(Q, K, V),
        TOL,
        "standard_attention with logits ~1e3",
        hint="subtract the row max before exp() (stable softmax)",
    )


@pytest.mark.task("standard_attention")
@pytest.mark.parametrize("n,d", [(3, 2), (10, 4)])
def test_standard_round_trips_the_n_by_n_matrices(kata, n, d):
    hbm = CountingHBM()
    kata.standard_attention(*qkv(3, n, d), hbm=hbm)
    expected = (2 * n * n + 3 * n * d, 2 * n * n + n * d)
    assert_equal(
        (hbm.reads, hbm.writes),
        expected,
        f"HBM (reads, writes) of standard_attention(N={n}, d={d})",
        hint="load Q, K; store S; load S; store P; load P, V; store O - all through hbm",
    )


@pytest.mark.task("standard_attention")
def test_standard_rejects_mismatched_inputs(kata):
    Q, K, V = qkv(1, 4, 3)
    with pytest.raises(ValueError, match="K"):
        kata.standard_attention(Q, K[:3], V)
    with pytest.raises(ValueError, match="V"):
        kata.standard_attention(Q, K, [row[:2] for row in V])


# === task 2: the online-softmax update ===


def fold(kata, scores, values, cuts):
    """Feed scores to the learner's update in the blocks given by cut points."""
    m, l, acc = -math.inf, 0.0, [0.0] * len(values[0])
    edges = [0, *cuts, len(scores)]
    for start, stop in zip(edges, edges[1:]):
        m, l, acc = kata.online_softmax_update(m, l, list(acc), scores[start:stop], values[start:stop])
    return m, l, acc


def random_cuts(rng, n):
    return sorted(rng.sample(range(1, n), rng.randint(0, n - 1))) if n > 1 else []


@pytest.mark.task("online_softmax_update")
@pytest.mark.parametrize("seed", range(8))
def test_any_split_gives_softmax(kata, seed):
    rng = random.Random(seed)
    n = rng.randint(1, 17)
    scores = [rng.uniform(-8, 8) for _ in range(n)]
    one_hot = [[1.0 if c == j else 0.0 for c in range(n)] for j in range(n)]
    cuts = random_cuts(rng, n)
    m, l, acc = fold(kata, scores, one_hot, cuts)
    what = f"online softmax of {n} scores split at {cuts}"
    # Three soft checks (pytest-check): seeing which of m, l, acc is wrong
    # tells the learner which update line to look at.
    with check:
        assert_close(m, max(scores), 0.0, f"{what}: running max m", hint="m' = max(m, max(block))")
    with check:
        assert_close(
            l,
            math.fsum(math.exp(s - max(scores)) for s in scores),
            1e-9,
            f"{what}: running sum l",
            hint="rescale the old l by exp(m - m') before adding the block's exp(s - m')",
        )
    with check:
        assert_close(
            [a / l for a in acc],
            spec_softmax(scores),
            1e-9,
            f"{what}: acc / l with one-hot values",
            hint="rescale the old acc by exp(m - m') too; keep acc unnormalised",
        )


@pytest.mark.task("online_softmax_update")
@pytest.mark.parametrize("block", [1, 2, 3, 7])
def test_fixed_blocks_weight_values(kata, block):
    rng = random.Random(50 + block)
    scores = [rng.uniform(-5, 5) for _ in range(11)]
    values = matrix(rng, 11, 3)
    m, l, acc = fold(kata, scores, values, list(range(block, 11, block)))
    weights = spec_softmax(scores)
    expected = [math.fsum(w * v[c] for w, v in zip(weights, values)) for c in range(3)]
    assert_close([a / l for a in acc], expected, 1e-9, f"online softmax over blocks of {block}: acc / l")


@pytest.mark.task("online_softmax_update")
def test_first_block_from_empty_state(kata):
    m, l, acc = kata.online_softmax_update(-math.inf, 0.0, [0.0, 0.0], [1.0, 3.0], [[1.0, 0.0], [0.0, 1.0]])
    e = math.exp(-2.0)
    assert_close([m, l], [3.0, 1.0 + e], 1e-12, "update from the empty state (m=-inf, l=0): (m, l)")
    assert_close(acc, [e, 1.0], 1e-12, "update from the empty state: acc")


@pytest.mark.task("online_softmax_update")
def test_running_max_not_block_max(kata):
    # A huge first block, then blocks whose own max is ~2000 lower: rescaling
    # by exp(m - block max) would overflow. The running max keeps every
    # exponent <= 0.
    scores = [1000.0, 990.0, -1000.0, -995.0, 5.0]
    values = [[1.0], [2.0], [3.0], [4.0], [5.0]]
    m, l, acc = fold(kata, scores, values, [2, 4])
    weights = spec_softmax(scores)
    expected = math.fsum(w * v[0] for w, v in zip(weights, values))
    assert_close(m, 1000.0, 0.0, "running max after blocks [1000, 990] [-1000, -995] [5]", hint="m' = max(m, max(block))")
    assert_close(acc[0] / l, expected, 1e-9, "acc / l for logits spread over 2000")


@pytest.mark.task("online_softmax_update")
def test_every_score_far_below_zero(kata):
    # All scores ~ -1000: a running max started at 0 instead of -inf makes
    # every exp(s - m) underflow to 0, and acc / l is 0 / 0.
    scores = [-1000.0, -1003.0, -998.5, -1001.0, -999.0]
    values = [[1.0, -1.0], [2.0, 0.5], [3.0, 0.0], [4.0, 2.0], [5.0, 1.0]]
    m, l, acc = fold(kata, scores, values, [2, 3])
    weights = spec_softmax(scores)
    assert_close(m, -998.5, 0.0, "running max over scores all near -1000",
                 hint="m is the max of every score seen so far: start at -inf (not 0), fold in each block's max")
    assert_close([a / l for a in acc], [math.fsum(w * v[c] for w, v in zip(weights, values)) for c in range(2)],
                 1e-9, "acc / l for scores all near -1000",
                 hint="start m at -inf, not 0; when the max grows, rescale the old acc and l by exp(m_old - m_new)")


# === task 3: flash attention ===


@pytest.mark.task("flash_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("case", FLASH_CASES, ids=case_id)
def test_flash_equals_standard(kata, case, causal):
    n, d, b = case
    Q, K, V = qkv(1000 + n * 31 + d * 7 + b, n, d)
    assert_close(
        kata.flash_attention(Q, K, V, b, causal=causal),
        spec_attention(Q, K, V, causal),
        TOL,
        f"flash_attention(N={n}, d={d}, block_size={b}, causal={causal})",
        hint="check the last partial block (N % B != 0), the 1/sqrt(d) scale, the mask j <= i, rescaling acc and l"
        " by exp(m_old - m_new), and dividing by l once at the end",
    )


@pytest.mark.task("flash_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_flash_large_logits_in_falling_order(kata, causal):
    # d = 1, q = 40, k_j = 4 * (N - j): scores fall by 160 per key, so with B = 3
    # the third key block's max is 960 below the first's: exp(960) overflows.
    n = 10
    Q = [[40.0] for _ in range(n)]
    K = [[40.0 * (n - j) / 10] for j in range(n)]
    V = [[float(j)] for j in range(n)]
    assert_close(
        kata.flash_attention(Q, K, V, 3, causal=causal),
        spec_attention(Q, K, V, causal),
        TOL,
        f"flash_attention with logits falling by 160 per key (causal={causal})",
        hint="rescale with the running max m, never with the block's max",
    )
    Q, K, V = qkv(77, 12, 4, scale=30.0)
    assert_close(
        kata.flash_attention(Q, K, V, 5, causal=causal),
        spec_attention(Q, K, V, causal),
        TOL,
        f"flash_attention with random logits ~1e3 (causal={causal})",
    )


@pytest.mark.task("flash_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_flash_rows_far_below_zero(kata, causal):
    # q . k ~ -1.5e3 for every key: each row's largest score is far below zero (exp underflows to 0).
    n = 7
    Q = [[-60.0 - i, 1.0] for i in range(n)]
    K = [[35.0 + 0.5 * j, 0.3 * j] for j in range(n)]
    V = [[float(j), 1.0 - j] for j in range(n)]
    assert_close(
        kata.flash_attention(Q, K, V, 3, causal=causal),
        spec_attention(Q, K, V, causal),
        TOL,
        f"flash_attention with every score near -1e3 (causal={causal})",
        hint="the running max starts at -inf: starting at 0 underflows every exp() when all scores are negative;"
        " and every row block, the last partial one (N % B != 0) included, must be computed",
    )


def expected_flash_traffic(n, d, b, causal):
    """Independent closed form: Q once, K and V once per query block (causal: up to its end)."""
    blocks = -(-n // b)
    if causal:
        keys = sum(min((i + 1) * b, n) for i in range(blocks))
    else:
        keys = blocks * n
    return n * d + 2 * d * keys, n * d


@pytest.mark.task("flash_attention")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("case", [(7, 2, 3), (12, 3, 4), (13, 2, 1), (9, 4, 20)], ids=case_id)
def test_flash_hbm_traffic_is_counted_per_tile(kata, case, causal):
    n, d, b = case
    hbm = CountingHBM()
    kata.flash_attention(*qkv(5, n, d), b, causal=causal, hbm=hbm)
    assert_equal(
        (hbm.reads, hbm.writes),
        expected_flash_traffic(n, d, b, causal),
        f"HBM (reads, writes) of flash_attention(N={n}, d={d}, block_size={b}, causal={causal})",
        hint="load each Q tile once and each K, V tile once per Q tile, store each O tile once;"
        " causal: skip key blocks that start after the query block ends",
    )


@pytest.mark.task("flash_attention")
def test_flash_never_holds_the_n_by_n_matrix(kata):
    n, d, b = 240, 2, 8
    Q, K, V = qkv(9, n, d)
    # Memory and values are graded here, not traffic: the kata's given HBM runs where the kata does
    # (a CountingHBM would be called back in the grader for every tile under isolated grading).
    hbm = kata.HBM()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        O = kata.flash_attention(Q, K, V, b, causal=False, hbm=hbm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The memory of a call that computed nothing earns nothing: the output must be right too.
    assert_close(O, spec_attention(Q, K, V), TOL, f"flash_attention(N={n}, d={d}, block_size={b})")
    # A Python list of N*N floats needs at least 8 bytes per slot; a tiled
    # implementation needs O(N*d + B*B) floats, far below a quarter of that.
    quadratic = 8 * n * n
    if peak >= quadratic / 4:
        raise Mismatch(
            f"flash_attention(N={n}, B={b}) peaked at {peak:,} bytes of Python memory, about as "
            f"much as an {n}x{n} matrix ({quadratic:,} bytes at 8 per slot); keep only B x B "
            "score tiles alive, never a full row-by-column score matrix"
        )


@pytest.mark.task("flash_attention")
@pytest.mark.parametrize("bad", [0, -3])
def test_flash_rejects_bad_block_size(kata, bad):
    Q, K, V = qkv(2, 4, 2)
    with pytest.raises(ValueError, match="block_size"):
        kata.flash_attention(Q, K, V, bad)


@pytest.mark.task("flash_attention")
def test_flash_leaves_inputs_alone(kata):
    Q, K, V = qkv(4, 6, 3)
    before = copy.deepcopy((Q, K, V))
    O = kata.flash_attention(Q, K, V, 4, causal=True)
    assert_equal((Q, K, V), before, "Q, K, V after flash_attention", hint="write results to a new O, not into the inputs")
    assert_close(O, spec_attention(*before, causal=True), TOL, "flash_attention(N=6, d=3, block_size=4, causal=True)")


# === task 4: the accounting ===


@pytest.mark.task("standard_hbm_traffic")
@pytest.mark.parametrize("n,d", [(1, 1), (7, 3), (64, 16), (1000, 128)])
def test_standard_traffic_closed_form(kata, n, d):
    assert_equal(
        tuple(kata.standard_hbm_traffic(n, d)),
        (2 * n * n + 3 * n * d, 2 * n * n + n * d),
        f"standard_hbm_traffic(N={n}, d={d})",
        hint="add up what each of the three passes reads and writes",
    )


@pytest.mark.task("flash_hbm_traffic")
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("n,d,b", [(1, 1, 1), (7, 2, 3), (12, 3, 4), (100, 8, 7), (9, 4, 20), (1024, 64, 128)])
def test_flash_traffic_closed_form(kata, n, d, b, causal):
    assert_equal(
        tuple(kata.flash_hbm_traffic(n, d, b, causal=causal)),
        expected_flash_traffic(n, d, b, causal),
        f"flash_hbm_traffic(N={n}, d={d}, block_size={b}, causal={causal})",
        hint="Q is read once; K and V are read once per query block; O is written once",
    )


@pytest.mark.task("flash_hbm_traffic")
def test_flash_moves_less_than_standard_for_long_sequences(kata):
    n, d, b = 4096, 64, 128
    flash = sum(kata.flash_hbm_traffic(n, d, b))
    standard = 2 * n * n + 3 * n * d + 2 * n * n + n * d
    assert flash < standard / 3, f"flash moves {flash:,} floats vs standard {standard:,}: expected < 1/3"


@pytest.mark.task("flash_sram_floats")
@pytest.mark.parametrize("d,b", [(1, 1), (4, 3), (16, 64), (128, 128)])
def test_sram_working_set(kata, d, b):
    assert_equal(
        kata.flash_sram_floats(d, b),
        4 * b * d + b * b + 2 * b,
        f"flash_sram_floats(d={d}, block_size={b})",
        hint="three B x d tiles (Q, K, V), a B x B score tile, a B x d accumulator, B maxima and B sums",
    )


# === validation, completely: every bad shape both ways, block_size 2.5 / NaN / True ===


def bad_inputs():
    """(Q, K, V, name) with N = 3, d = 2: each matrix one row short and one row long, rows too narrow and too wide."""
    Q, K, V = qkv(7, 3, 2)
    yield [], K, V, "Q"
    yield [[] for _ in Q], K, V, "Q"
    for name in ("K", "V"):
        for wrong in (lambda M: M[:2], lambda M: M + M[:1], lambda M: [M[0][:1]] + M[1:], lambda M: M[:2] + [M[2] + [0.5]]):
            args = {"Q": Q, "K": K, "V": V}
            args[name] = wrong(args[name])
            yield args["Q"], args["K"], args["V"], name


@pytest.mark.task("standard_attention")
def test_standard_rejects_every_bad_shape(kata):
    for Q, K, V, name in bad_inputs():
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.standard_attention(Q, K, V)


@pytest.mark.task("flash_attention")
def test_flash_rejects_every_bad_shape_and_block_size(kata):
    for Q, K, V, name in bad_inputs():
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.flash_attention(Q, K, V, 2)
    Q, K, V = qkv(8, 1, 2)  # N = 1: one tile whatever block_size is, the check must still run
    for bad in (0, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="block_size"):
            kata.flash_attention(Q, K, V, bad)
