"""Graded tests for microgalore: GaLore's projected Adam and Q-GaLore's INT projection.

Expected values come from the independent spec below (plain matrix products,
a plain Adam loop), from properties (orthonormal columns; the projector onto
the top-r singular subspace of a matrix built with known singular vectors;
P fixed between refreshes), and from exact expectations: stochastic rounding
is graded with a grader-side rng whose draws are chosen, so the probability
of rounding up is measured exactly on a dyadic grid, and with a seeded
empirical mean inside a 5-sigma interval.
"""

import copy
import math
import random

import pytest

from workbook.checks import assert_close, assert_equal, matrix, repeat


def named(name):
    """A ValueError message naming ``name`` as a word ("t" hides in any message)."""
    return rf"\b{name}\b"


# === the independent spec ===


def mm(A, B):
    return [[math.fsum(A[i][k] * B[k][j] for k in range(len(B))) for j in range(len(B[0]))] for i in range(len(A))]


def tr(A):
    return [list(c) for c in zip(*A)]


def orthonormal(rng, m, r):
    cols = []
    while len(cols) < r:
        c = [rng.gauss(0, 1) for _ in range(m)]
        for _ in range(2):
            for q in cols:
                d = math.fsum(a * b for a, b in zip(c, q))
                c = [a - d * b for a, b in zip(c, q)]
        norm = math.sqrt(math.fsum(a * a for a in c))
        cols.append([a / norm for a in c])
    return tr(cols)


def spec_adam(W, G, m, v, t, lr, scale=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Adam on matrices; returns (W, m, v, N) with N the bias-corrected direction."""
    nm = [[b1 * a + (1 - b1) * g for a, g in zip(ra, rg)] for ra, rg in zip(m, G)]
    nv = [[b2 * a + (1 - b2) * g * g for a, g in zip(ra, rg)] for ra, rg in zip(v, G)]
    N = [[(a / (1 - b1 ** t)) / (math.sqrt(b / (1 - b2 ** t)) + eps) for a, b in zip(ra, rb)] for ra, rb in zip(nm, nv)]
    nW = [[w - lr * scale * d for w, d in zip(rw, rd)] for rw, rd in zip(W, N)] if W is not None else None
    return nW, nm, nv, N


def zeros(r, c):
    return [[0.0] * c for _ in range(r)]


def known_svd(seed, m, n, sigmas):
    rng = random.Random(seed)
    U, V = orthonormal(rng, m, len(sigmas)), orthonormal(rng, n, len(sigmas))
    G = [[math.fsum(U[i][k] * s * V[j][k] for k, s in enumerate(sigmas)) for j in range(n)] for i in range(m)]
    return G, U


class ScriptedRng:
    """A grader-side rng: random() returns the scripted draws in order and counts the calls."""

    def __init__(self, draws):
        self.draws = list(draws)
        self.calls = 0

    def random(self):
        u = self.draws[self.calls % len(self.draws)]
        self.calls += 1
        return u


# === task 1: galore_basis ===


@pytest.mark.task("galore_basis")
@pytest.mark.parametrize("m,n,rank", [(5, 7, 1), (5, 7, 3), (6, 6, 2), (9, 4, 4), (7, 11, 5)])
def test_basis_has_orthonormal_columns(kata, m, n, rank):
    G = matrix(random.Random(m * n + rank), m, n)
    P = kata.galore_basis(G, rank)
    assert_equal((len(P), len(P[0])), (m, rank), f"shape of galore_basis({m}x{n}, rank={rank})")
    assert_close(mm(tr(P), P), [[1.0 if i == j else 0.0 for j in range(rank)] for i in range(rank)], 1e-10,
                 f"P^T P for galore_basis({m}x{n}, rank={rank})", hint="orthonormalize after every product")


@pytest.mark.task("galore_basis")
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_basis_spans_top_singular_subspace(kata, rank):
    m, n = 6, 9
    G, U = known_svd(3, m, n, [9.0, 4.0, 1.0, 0.3, 0.05])
    P = kata.galore_basis(G, rank)
    Ur = [row[:rank] for row in U]
    assert_close(mm(P, tr(P)), mm(Ur, tr(Ur)), 1e-6, f"projector P P^T of galore_basis(rank={rank})",
                 hint="multiply by G (G^T Q), not by G^T G, and re-orthonormalize every round")


@pytest.mark.task("galore_basis")
def test_basis_full_rank_is_identity(kata):
    G = matrix(random.Random(8), 4, 7)
    assert_equal(kata.galore_basis(G, 4), [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)],
                 "galore_basis(4x7, rank=4)", hint="rank == m: return the identity, so full rank is plain Adam")


@pytest.mark.task("galore_basis")
def test_basis_is_deterministic(kata):
    G = matrix(random.Random(9), 5, 8)
    first = kata.galore_basis(G, 2)
    random.seed(12345)  # disturb the global rng between the two calls
    random.random()
    assert_equal(kata.galore_basis(G, 2), first, "galore_basis called twice on the same G",
                 hint="seed a private random.Random(seed); never the global rng")
    assert_close(mm(tr(first), first), [[1.0, 0.0], [0.0, 1.0]], 1e-10, "P^T P of galore_basis(5x8 G, 2)",
                 hint="return the orthonormal basis, not None")


@pytest.mark.task("galore_basis")
def test_basis_error_shrinks_at_the_stated_rate(kata):
    # The docstring's limit: P P^T approaches the exact projector like
    # (sigma_{r+1} / sigma_r)^(2 iters). Here sigma_3 / sigma_2 = 1/1.05 (no real gap):
    # 10 rounds are far from the SVD's subspace, 250 rounds are within 1e-6.
    G, U = known_svd(17, 8, 10, [5.0, 2.1, 2.0, 0.7, 0.2])
    U2 = [row[:2] for row in U]
    exact = mm(U2, tr(U2))
    few = mm(*(lambda P: (P, tr(P)))(kata.galore_basis(G, 2)))
    assert max(abs(a - b) for ra, rb in zip(few, exact) for a, b in zip(ra, rb)) > 1e-3, \
        "fixture: 10 rounds should not reach the exact subspace without a gap"
    P = kata.galore_basis(G, 2, iters=250)
    assert_close(mm(P, tr(P)), exact, 1e-6, "projector of galore_basis(8x10 G, 2, iters=250), sigma_3/sigma_2 = 1/1.05",
                 hint="run exactly `iters` rounds (the argument, not POWER_ITERS): without a gap it takes hundreds")


@pytest.mark.task("galore_basis")
@pytest.mark.parametrize("rank", [0, 6, -1, 2.5, True, math.nan, None],
                         ids=["zero", "above-min-m-n", "negative", "2.5", "True", "nan", "None"])
def test_basis_rejects_bad_rank(kata, rank):
    with pytest.raises(ValueError, match=named("rank")):
        kata.galore_basis(matrix(random.Random(1), 5, 8), rank)
    with pytest.raises(ValueError, match=named("rank")):  # a one-row G: rank True == 1 == m is no shortcut
        kata.galore_basis(matrix(random.Random(2), 1, 3), rank)


@pytest.mark.task("galore_basis")
@pytest.mark.parametrize("iters", [-1, 2.5, True, math.nan, None], ids=["-1", "2.5", "True", "nan", "None"])
def test_basis_rejects_bad_iters(kata, iters):
    with pytest.raises(ValueError, match=named("iters")):
        kata.galore_basis(matrix(random.Random(1), 5, 8), 2, iters=iters)
    with pytest.raises(ValueError, match=named("iters")):  # rank == m would return the identity: check first
        kata.galore_basis(matrix(random.Random(1), 5, 8), 5, iters=iters)


@pytest.mark.task("galore_basis")
@pytest.mark.parametrize("iters,seed", [(0, 0), (1, 0), (3, 0), (0, 7), (2, 11)])
def test_basis_runs_exactly_iters_rounds(kata, iters, seed):
    G = matrix(random.Random(1), 5, 8)
    rng = random.Random(seed)
    Q = kata.gram_schmidt([[rng.gauss(0.0, 1.0) for _ in range(2)] for _ in range(5)])
    for _ in range(iters):
        Q = kata.gram_schmidt(mm(G, mm(tr(G), Q)))
    got = kata.galore_basis(G, 2, iters=iters, seed=seed) if seed else kata.galore_basis(G, 2, iters=iters)
    assert_close(got, Q, 1e-12, f"galore_basis(5x8 G, 2, iters={iters}{f', seed={seed}' if seed else ''})",
                 hint="start from gram_schmidt(Z), then exactly `iters` rounds of Q = gram_schmidt(G (G^T Q));"
                      " iters = 0 is allowed and returns the orthonormalised start")


# === task 2: project and project_back ===


@pytest.mark.task("project")
def test_project_is_PT_G(kata):
    rng = random.Random(11)
    P, G = orthonormal(rng, 7, 3), matrix(rng, 7, 5)
    assert_close(kata.project(P, G), mm(tr(P), G), 1e-12, "project(P 7x3, G 7x5)", hint="R = P^T G is r x n")


@pytest.mark.task("project_back")
def test_project_back_is_P_N(kata):
    rng = random.Random(12)
    P, N = orthonormal(rng, 7, 3), matrix(rng, 3, 5)
    assert_close(kata.project_back(P, N), mm(P, N), 1e-12, "project_back(P 7x3, N 3x5)", hint="P N is m x n")


@pytest.mark.task("project")
def test_project_rejects_a_gradient_with_other_rows(kata):
    rng = random.Random(13)
    with pytest.raises(ValueError, match=named("G")):
        kata.project(orthonormal(rng, 7, 3), matrix(rng, 6, 5))


@pytest.mark.task("project_back")
def test_project_back_rejects_an_update_with_other_rows(kata):
    rng = random.Random(14)
    with pytest.raises(ValueError, match=named("N")):
        kata.project_back(orthonormal(rng, 7, 3), matrix(rng, 4, 5))


@pytest.mark.task("project_back")
def test_project_after_project_back_is_identity(kata):
    rng = random.Random(13)
    P, N = orthonormal(rng, 6, 2), matrix(rng, 2, 4)
    assert_close(kata.project(P, kata.project_back(P, N)), N, 1e-12, "project(P, project_back(P, N))",
                 hint="P^T P = I for orthonormal columns")


# === task 3: stochastic_round ===

VALUES = [0.0, 3.0, -2.0, 0.375, -0.375, 2.625, -5.125, 7.875]


@pytest.mark.task("stochastic_round")
@pytest.mark.parametrize("x", VALUES)
def test_stochastic_round_exact_expectation(kata, x):
    # The draws k/64 + 1/128 (k = 0..63) are a uniform grid on [0, 1). For x with
    # a fraction in 64ths, P(up) over the grid equals P(u < frac) for a true
    # uniform u, so the average below is E[stochastic_round(x)] exactly.
    grid = [(k + 0.5) / 64 for k in range(64)]
    outcomes = [kata.stochastic_round(x, ScriptedRng([u])) for u in grid]
    low = math.floor(x)
    assert set(outcomes) <= {low, low + 1}, f"stochastic_round({x}) gave {sorted(set(outcomes))}: only floor or floor + 1"
    assert all(type(o) is int for o in outcomes), f"stochastic_round({x}) returned {outcomes[0]!r}: the docstring promises an int"
    assert_close(math.fsum(outcomes) / 64, x, 1e-15, f"E[stochastic_round({x})] over a uniform grid of draws",
                 hint="round up exactly when u < x - floor(x); nearest rounding is biased")


@pytest.mark.task("stochastic_round")
def test_stochastic_round_threshold_and_one_draw(kata):
    x = -1.25  # floor -2, fraction 0.75
    for u, want in ((0.0, -1), (0.7499, -1), (0.75, -2), (0.9999, -2)):
        rng = ScriptedRng([u])
        got = kata.stochastic_round(x, rng)
        assert_equal(got, want, f"stochastic_round(-1.25) with u = {u}", hint="up iff u < x - floor(x)")
        assert_equal(rng.calls, 1, "rng.random() calls per stochastic_round")
    rng = ScriptedRng([0.0])
    assert_equal(kata.stochastic_round(4.0, rng), 4, "stochastic_round(4.0) with u = 0.0",
                 hint="an integer has fraction 0 and never rounds up")
    assert_equal(rng.calls, 1, "rng.random() calls for an integer x")


@pytest.mark.task("stochastic_round")
@pytest.mark.parametrize("x", [0.3, -1.7, 2.01])
def test_stochastic_round_empirical_mean(kata, x):
    rng = random.Random(42)
    n = 4000
    draws = repeat(kata.stochastic_round, n, x, rng)
    assert set(draws) <= {math.floor(x), math.floor(x) + 1} and all(type(d) is int for d in draws), \
        f"stochastic_round({x}) gave {sorted(set(draws))[:4]}: only the ints floor(x) or floor(x) + 1"
    mean = sum(draws) / n
    frac = x - math.floor(x)
    bound = 5 * math.sqrt(frac * (1 - frac) / n)  # 5 sigma of a Bernoulli mean
    assert abs(mean - x) <= bound, f"mean of {n} stochastic_round({x}) = {mean}, outside x +- {bound:.4f}"


# === task 4: quantize_basis ===


@pytest.mark.task("quantize_basis")
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_quantize_basis_codes_and_scales(kata, bits):
    rng = random.Random(5)
    P = orthonormal(rng, 7, 3)
    draws = [random.Random(6).random() for _ in range(1)] + [((k * 37) % 101 + 0.5) / 101 for k in range(20)]
    codes, scales = kata.quantize_basis(P, bits, ScriptedRng(draws))
    qmax = 2 ** (bits - 1) - 1
    want_scales = [max(abs(v) for v in col) / qmax for col in zip(*P)]
    assert_close(list(scales), want_scales, 1e-15, f"scales of quantize_basis(bits={bits})",
                 hint="one absmax scale per COLUMN: max |P[:, j]| / (2^(bits-1) - 1)")
    # Row-major draws, one per entry: the expected codes follow from the script.
    want, k = [], 0
    for row in P:
        out = []
        for v, s in zip(row, want_scales):
            u = draws[k % len(draws)]
            k += 1
            y = v / s
            out.append(math.floor(y) + (1 if u < y - math.floor(y) else 0))
        want.append(out)
    assert_equal([list(r) for r in codes], want, f"codes of quantize_basis(bits={bits}) with scripted draws",
                 hint="visit entries row by row, one stochastic_round (one draw) per entry")
    assert all(-qmax <= q <= qmax for r in codes for q in r), "codes outside [-qmax, qmax]"


@pytest.mark.task("quantize_basis")
def test_quantize_basis_zero_column_gets_scale_one(kata):
    P = [[0.5, 0.0], [-0.25, 0.0], [0.125, 0.0]]
    codes, scales = kata.quantize_basis(P, 4, ScriptedRng([0.3]))
    assert_close(list(scales), [0.5 / 7, 1.0], 1e-15, "scales of quantize_basis with an all-zero column",
                 hint="an all-zero column has no absmax to divide by: its scale is 1.0")
    # 0.5 / (0.5/7) = 7, -0.25 -> -3.5 (fraction 0.5: u = 0.3 rounds up to -3), 0.125 -> 1.75 (up to 2).
    assert_equal([list(r) for r in codes], [[7, 0], [-3, 0], [2, 0]], "codes of quantize_basis with an all-zero column")


@pytest.mark.task("quantize_basis")
def test_quantize_basis_is_unbiased(kata):
    P = orthonormal(random.Random(7), 5, 2)
    rng = random.Random(42)
    trials = 300
    total = zeros(5, 2)
    scales = None
    for codes, scales in repeat(kata.quantize_basis, trials, P, 4, rng):
        for i in range(5):
            for j in range(2):
                total[i][j] += codes[i][j] * scales[j]
    for i in range(5):
        for j in range(2):
            bound = 5 * scales[j] * 0.5 / math.sqrt(trials)
            mean = total[i][j] / trials
            assert abs(mean - P[i][j]) <= bound, f"mean dequantized P[{i}][{j}] = {mean}, P = {P[i][j]}, bound {bound:.4f}"


@pytest.mark.task("quantize_basis")
@pytest.mark.parametrize("bits", [1, 9, 0, 4.5, True, math.nan, None], ids=["bits1", "bits9", "bits0", "bits4.5", "True", "nan", "None"])
def test_quantize_basis_rejects_bad_bits(kata, bits):
    with pytest.raises(ValueError, match=named("bits")):
        kata.quantize_basis([[0.5, -0.25], [0.1, 0.9]], bits, random.Random(1))


# === task 5: galore_step ===


def grads(seed, m, n, steps):
    rng = random.Random(seed)
    return [matrix(rng, m, n) for _ in range(steps)]


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("m,n", [(3, 5), (4, 4), (1, 6)])
def test_full_rank_equals_plain_adam(kata, m, n):
    W = matrix(random.Random(m + n), m, n)
    Gs = grads(m * n, m, n, 4)
    state = kata.new_state()
    sw, sm, sv = W, zeros(m, n), zeros(m, n)
    for t, G in enumerate(Gs, start=1):
        W, state = kata.galore_step(W, G, state, t, 0.01, m, 2)
        sw, sm, sv, _ = spec_adam(sw, G, sm, sv, t, 0.01)
        assert_close(W, sw, 1e-12, f"galore_step with rank = m = {m}, step {t}",
                     hint="rank == m: identity basis, alpha 1: exactly Adam with bias correction")


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("rank,refresh,alpha,m,n", [(2, 2, 1.0, 5, 7), (1, 3, 0.25, 5, 7), (3, 1, 0.5, 5, 7),
                                                     (2, 2, 0.5, 8, 3), (1, 1, 1.0, 6, 2)])
def test_low_rank_step_matches_spec(kata, rank, refresh, alpha, m, n):
    # wide (m < n) and tall (m > n) gradients: this kata projects on the left in both
    W = matrix(random.Random(21), m, n)
    Gs = grads(22 + rank, m, n, 5)
    state = kata.new_state()
    sw, sm, sv, P = W, zeros(rank, n), zeros(rank, n), None
    for t, G in enumerate(Gs, start=1):
        W, state = kata.galore_step(W, G, state, t, 0.02, rank, refresh, alpha=alpha)
        if (t - 1) % refresh == 0:
            P = kata.galore_basis(G, rank)
        R = mm(tr(P), G)
        _, sm, sv, N = spec_adam(None, R, sm, sv, t, 0.02)
        upd = mm(P, N)
        sw = [[w - 0.02 * alpha * u for w, u in zip(rw, ru)] for rw, ru in zip(sw, upd)]
        what = f"galore_step(rank={rank}, refresh_every={refresh}, alpha={alpha}), step {t}"
        assert_close(W, sw, 1e-12, what,
                     hint="Adam on R = P^T G (m, v kept across refreshes), then W -= lr * alpha * P N")
        assert_equal((len(state["m"]), len(state["m"][0]), len(state["v"]), len(state["v"][0])),
                     (rank, n, rank, n), f"{what}: shapes of m and v",
                     hint="optimizer state is r x n, not m x n")


@pytest.mark.task("galore_step")
def test_low_rank_step_uses_its_adam_hyperparameters(kata):
    # beta1, beta2 and eps are the Adam step's own: a step that keeps 0.9, 0.999, 1e-8 fails.
    m, n, rank, b1, b2, eps = 5, 6, 2, 0.5, 0.75, 1e-2
    W = matrix(random.Random(41), m, n)
    Gs = [[[0.05 * x for x in row] for row in G] for G in grads(42, m, n, 3)]  # small: eps matters
    state = kata.new_state()
    sw, sm, sv = W, zeros(rank, n), zeros(rank, n)
    for t, G in enumerate(Gs, start=1):
        W, state = kata.galore_step(W, G, state, t, 0.02, rank, 10, beta1=b1, beta2=b2, eps=eps)
        P = state["P"]
        _, sm, sv, N = spec_adam(None, mm(tr(P), G), sm, sv, t, 0.02, b1=b1, b2=b2, eps=eps)
        sw = [[w - 0.02 * u for w, u in zip(rw, ru)] for rw, ru in zip(sw, mm(P, N))]
        assert_close(W, sw, 1e-12, f"galore_step(beta1={b1}, beta2={b2}, eps={eps}), step {t}",
                     hint="use the beta1, beta2 and eps passed in (moments and bias corrections), not the defaults")


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("refresh", [1, 3, 4])
def test_projection_refreshes_every_T_steps(kata, refresh):
    m, n, rank = 4, 6, 2
    W = matrix(random.Random(31), m, n)
    Gs = grads(32, m, n, 8)
    state, previous = kata.new_state(), None
    for t, G in enumerate(Gs, start=1):
        W, state = kata.galore_step(W, G, state, t, 0.01, rank, refresh)
        P = [list(r) for r in state["P"]]
        if (t - 1) % refresh == 0:
            assert_close(P, kata.galore_basis(G, rank), 1e-12, f"P after step {t} (refresh_every={refresh})",
                         hint="refresh on steps 1, T + 1, 2T + 1, ... from that step's gradient")
        else:
            assert_equal(P, previous, f"P after step {t} (refresh_every={refresh}): no refresh due",
                         hint="keep P between refreshes")
        previous = P


@pytest.mark.task("galore_step")
def test_qgalore_uses_quantized_basis(kata):
    m, n, rank = 6, 5, 2
    W = matrix(random.Random(41), m, n)
    G = matrix(random.Random(42), m, n)
    new_W, state = kata.galore_step(W, G, kata.new_state(), 1, 0.05, rank, 10, bits=4, rng=random.Random(5))
    codes, scales = kata.quantize_basis(kata.galore_basis(G, rank), 4, random.Random(5))
    P = [[q * s for q, s in zip(row, scales)] for row in codes]
    assert_close(state["P"], P, 1e-15, "Q-GaLore state['P'] after step 1 (bits=4, rng=Random(5))",
                 hint="quantize the fresh basis with the rng, then use the dequantized P")
    _, _, _, N = spec_adam(None, mm(tr(P), G), zeros(rank, n), zeros(rank, n), 1, 0.05)
    want = [[w - 0.05 * u for w, u in zip(rw, ru)] for rw, ru in zip(W, mm(P, N))]
    assert_close(new_W, want, 1e-12, "Q-GaLore step 1 weights")


@pytest.mark.task("galore_step")
def test_galore_step_leaves_inputs_alone(kata):
    W, G = matrix(random.Random(51), 4, 5), matrix(random.Random(52), 4, 5)
    _, state = kata.galore_step(W, G, kata.new_state(), 1, 0.01, 2, 3)
    before = copy.deepcopy((W, G, state))
    kata.galore_step(W, G, state, 2, 0.01, 2, 3)
    assert_equal((W, G, state), before, "W, G and state after galore_step", hint="return new lists")


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("name,kwargs", [
    ("rank", {"rank": 5}), ("rank", {"rank": 0}), ("alpha", {"alpha": 1.5}), ("alpha", {"alpha": -0.1}),
    ("bits", {"bits": 1}), ("bits", {"bits": 9}), ("refresh_every", {"refresh_every": 0}), ("t", {"t": 0}),
    ("refresh_every", {"refresh_every": 1.5}), ("t", {"t": 2.0}),
    ("rank", {"rank": True}), ("rank", {"rank": 2.5}), ("alpha", {"alpha": math.nan}), ("bits", {"bits": True}),
    ("bits", {"bits": 2.5}), ("refresh_every", {"refresh_every": True}), ("t", {"t": True}), ("t", {"t": math.nan}),
    ("t", {"t": -1}),
], ids=["rank>min", "rank0", "alpha>1", "alpha<0", "bits1", "bits9", "refresh0", "t0", "refresh1.5", "t2.0",
        "rankTrue", "rank2.5", "alphaNaN", "bitsTrue", "bits2.5", "refreshTrue", "tTrue", "tNaN", "t-1"])
def test_galore_step_rejects_bad_arguments(kata, name, kwargs):
    args = {"W": zeros(4, 6), "G": matrix(random.Random(3), 4, 6), "state": kata.new_state(), "t": 1,
            "lr": 0.01, "rank": 2, "refresh_every": 2, "rng": random.Random(1)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=named(name)):
        kata.galore_step(**args)


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("bits", [2, 8])
def test_galore_step_accepts_the_edge_bits(kata, bits):
    m, n, rank = 5, 4, 2
    W, G = matrix(random.Random(61), m, n), matrix(random.Random(62), m, n)
    _, state = kata.galore_step(W, G, kata.new_state(), 1, 0.05, rank, 10, bits=bits, rng=random.Random(7))
    codes, scales = kata.quantize_basis(kata.galore_basis(G, rank), bits, random.Random(7))
    assert_close(state["P"], [[q * s for q, s in zip(row, scales)] for row in codes], 1e-15,
                 f"Q-GaLore state['P'] with bits={bits}", hint="bits may be any integer in 2..8, both ends included")


@pytest.mark.task("galore_step")
def test_galore_step_alpha_zero_keeps_the_weights(kata):
    W, G = matrix(random.Random(71), 4, 5), matrix(random.Random(72), 4, 5)
    new_W, state = kata.galore_step(W, G, kata.new_state(), 1, 0.05, 2, 10, alpha=0.0)
    assert_equal(new_W, W, "galore_step(alpha=0.0): weights",
                 hint="alpha = 0 is allowed (the interval is [0, 1]) and scales the update to nothing")
    assert_equal((len(state["m"]), len(state["m"][0])), (2, 5), "galore_step(alpha=0.0): the moments still advance")


@pytest.mark.task("galore_step")
@pytest.mark.parametrize("name,kwargs", [("bits", {"bits": 4.5}), ("bits", {"bits": 1}), ("bits", {"bits": 9}),
                                         ("rank", {"rank": 5}), ("rank", {"rank": 0})],
                         ids=["bits4.5", "bits1", "bits9", "rank>min", "rank0"])
def test_galore_step_rejects_bad_arguments_between_refreshes(kata, name, kwargs):
    W, G = zeros(4, 6), matrix(random.Random(3), 4, 6)
    _, state = kata.galore_step(W, G, kata.new_state(), 1, 0.01, 2, 10, bits=4, rng=random.Random(1))
    args = {"W": W, "G": G, "state": state, "t": 2, "lr": 0.01, "rank": 2, "refresh_every": 10, "bits": 4,
            "rng": random.Random(1)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=named(name)):  # step 2 is no refresh: galore_step itself must check
        kata.galore_step(**args)
