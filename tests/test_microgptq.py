"""Graded tests for microgptq: the layer Hessian, Cholesky, GPTQ, SqueezeLLM's k-means and dense+sparse split.

Expected values come from independent specs written here, by different
routes where possible: Cholesky by columns (Crout order) instead of rows;
GPTQ as Optimal Brain Quantization with an explicit inverse Hessian (Gauss-
Jordan with pivoting) that is shrunk by one elimination step per quantized
column, instead of a Cholesky factor of H^-1; Lloyd's algorithm written out
again. Properties: with H = I GPTQ equals round-to-nearest code for code; on
correlated inputs its output error is at most RTN's; weighted k-means never
loses to the uniform grid it starts from; dense + sparse reconstructs W bit
for bit.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal

# === the independent spec ===


def spec_hessian(X):
    d = len(X[0])
    return [[2 * math.fsum(x[i] * x[j] for x in X) for j in range(d)] for i in range(d)]


def spec_cholesky(A):
    """Crout order: column by column."""
    n = len(A)
    L = [[0.0] * n for _ in range(n)]
    for j in range(n):
        L[j][j] = math.sqrt(A[j][j] - math.fsum(L[j][k] ** 2 for k in range(j)))
        for i in range(j + 1, n):
            L[i][j] = (A[i][j] - math.fsum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    return L


def spec_inverse(A):
    """Gauss-Jordan with partial pivoting."""
    n = len(A)
    M = [list(row) + [float(i == j) for j in range(n)] for i, row in enumerate(A)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        M[c], M[p] = M[p], M[c]
        pivot = M[c][c]
        M[c] = [v / pivot for v in M[c]]
        for r in range(n):
            if r != c and M[r][c] != 0.0:
                f = M[r][c]
                M[r] = [a - f * b for a, b in zip(M[r], M[c])]
    return [row[n:] for row in M]


def spec_damped(H, percdamp):
    d = len(H)
    lam = percdamp * sum(H[i][i] for i in range(d)) / d
    return [[H[i][j] + (lam if i == j else 0.0) for j in range(d)] for i in range(d)]


def spec_round(x):
    """Half away from zero, written with math.copysign and math.modf (exact, unlike floor(|x| + 0.5))."""
    frac, whole = math.modf(abs(x))
    return int(math.copysign(whole + (1 if frac >= 0.5 else 0), x))


def spec_quant(v, s, bits):
    qmax = 2 ** (bits - 1) - 1
    return min(qmax, max(-qmax - 1, spec_round(v / s)))


def spec_scales(W, bits):
    qmax = 2 ** (bits - 1) - 1
    return [max(abs(v) for v in row) / qmax if max(abs(v) for v in row) > 0 else 1.0 for row in W]


def spec_rtn_codes(W, bits):
    return [[spec_quant(v, s, bits) for v in row] for row, s in zip(W, spec_scales(W, bits))]


def spec_gptq_obq(W, H, bits, percdamp):
    """OBQ: quantize column j, update the rest with the current inverse Hessian, then eliminate j from it."""
    d = len(W[0])
    Hinv = spec_inverse(spec_damped(H, percdamp))
    scales = spec_scales(W, bits)
    work = [list(r) for r in W]
    codes = [[0] * d for _ in W]
    for j in range(d):
        for r, s in enumerate(scales):
            q = spec_quant(work[r][j], s, bits)
            codes[r][j] = q
            e = (work[r][j] - s * q) / Hinv[j][j]
            for k in range(j + 1, d):
                work[r][k] -= e * Hinv[j][k]
        # Remove column j from the inverse Hessian of the remaining weights (one Gaussian elimination step).
        pivot_row = Hinv[j]
        Hinv = [[Hinv[a][b] - Hinv[a][j] * pivot_row[b] / pivot_row[j] for b in range(d)] for a in range(d)]
    return codes, scales


def spec_output_error(X, W, Wq):
    return math.fsum(
        (math.fsum(x[c] * (W[r][c] - Wq[r][c]) for c in range(len(x)))) ** 2 for x in X for r in range(len(W))
    )


def spec_dequant(codes, scales):
    return [[s * q for q in row] for row, s in zip(codes, scales)]


def correlated(seed, tokens=40, features=9, outputs=5, rank=3):
    rng = random.Random(seed)
    basis = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(rank)]
    X = [[sum(z * b[j] for z, b in zip([rng.gauss(0, 1) for _ in range(rank)], basis)) + 0.05 * rng.gauss(0, 1)
          for j in range(features)] for _ in range(tokens)]
    W = [[rng.gauss(0.01, 0.3) for _ in range(features)] for _ in range(outputs)]
    return X, W


def identity(d):
    return [[float(i == j) for j in range(d)] for i in range(d)]


def matmul(A, B):
    return [[math.fsum(A[i][k] * B[k][j] for k in range(len(B))) for j in range(len(B[0]))] for i in range(len(A))]


def transpose(A):
    return [list(col) for col in zip(*A)]


# === task 1: hessian ===


@pytest.mark.task("hessian")
@pytest.mark.parametrize("shape", [(1, 1), (7, 4), (3, 9)], ids=str)
def test_hessian_is_two_x_transpose_x(kata, shape):
    tokens, features = shape
    rng = random.Random(tokens * 10 + features)
    X = [[rng.uniform(-2, 3) for _ in range(features)] for _ in range(tokens)]
    H = spec_hessian(X)
    assert_close(kata.hessian(X), H, 1e-12 * max(1.0, max(abs(v) for r in H for v in r)), f"hessian({tokens}x{features} X)",
                 hint="H = 2 X^T X is features x features: H[i][j] = 2 sum over tokens of X[t][i] X[t][j]")


@pytest.mark.task("hessian")
def test_hessian_rejects_bad_input(kata):
    for X in ([], [[1.0, 2.0], [1.0]]):
        with pytest.raises(ValueError, match="X"):
            kata.hessian(X)


# === task 2: cholesky ===


@pytest.mark.task("cholesky")
@pytest.mark.parametrize("n", [1, 2, 7])
def test_cholesky_factors_an_spd_matrix(kata, n):
    rng = random.Random(n)
    B = [[rng.uniform(-1, 1) for _ in range(n)] for _ in range(n + 2)]
    A = [[math.fsum(b[i] * b[j] for b in B) + (0.5 if i == j else 0.0) for j in range(n)] for i in range(n)]
    L = kata.cholesky(A)
    assert_close(L, spec_cholesky(A), 1e-12, f"cholesky({n}x{n} SPD A)",
                 hint="L is lower triangular with a positive diagonal; L[i][i] = sqrt(A[i][i] - sum_k L[i][k]^2)")
    assert_close(matmul(L, transpose(L)), A, 1e-12, f"L L^T for cholesky({n}x{n})")


@pytest.mark.task("cholesky")
def test_cholesky_rejects_non_positive_definite(kata):
    for A in ([[1.0, 2.0], [2.0, 1.0]], [[0.0]], [[4.0, 2.0], [2.0, 1.0]], [[1.0, 0.0]]):
        with pytest.raises(ValueError, match="A"):
            kata.cholesky(A)


# === task 3: gptq_hinv_factor ===


@pytest.mark.task("gptq_hinv_factor")
@pytest.mark.parametrize("percdamp", [0.0, 0.01, 0.25])
def test_hinv_factor_is_the_upper_cholesky_of_the_damped_inverse(kata, percdamp):
    X, _ = correlated(3, tokens=30, features=8)
    H = spec_hessian(X)
    U = kata.gptq_hinv_factor(H, percdamp)
    Hinv = spec_inverse(spec_damped(H, percdamp))
    expected = transpose(spec_cholesky(Hinv))
    scale = max(abs(v) for r in expected for v in r)
    assert_close(U, expected, 1e-8 * scale, f"gptq_hinv_factor(H, percdamp={percdamp})",
                 hint="damp with lambda = percdamp * mean(diag H), invert, then take the UPPER Cholesky factor"
                 " (U^T U = H^-1, U = L^T of the inverse's factor)")


@pytest.mark.task("gptq_hinv_factor")
def test_hinv_factor_of_identity(kata):
    U = kata.gptq_hinv_factor(identity(5), 0.44)
    want = [[1 / 1.2 if i == j else 0.0 for j in range(5)] for i in range(5)]
    assert_close(U, want, 1e-14, "gptq_hinv_factor(I_5, percdamp=0.44)",
                 hint="(1 + 0.44) I inverted is I / 1.44; its Cholesky factor is I / 1.2")


@pytest.mark.task("gptq_hinv_factor")
def test_damping_rescues_a_dead_input(kata):
    X, _ = correlated(4, tokens=25, features=6)
    for row in X:
        row[2] = 0.0  # a dead input channel: H is singular
    H = spec_hessian(X)
    with pytest.raises(ValueError, match="H"):
        kata.gptq_hinv_factor(H, 0.0)
    U = kata.gptq_hinv_factor(H, 0.01)
    check = matmul(spec_damped(H, 0.01), matmul(transpose(U), U))
    assert_close(check, identity(6), 1e-8, "(H + lambda I) U^T U for a dead channel, percdamp=0.01")
    with pytest.raises(ValueError, match="percdamp"):
        kata.gptq_hinv_factor(H, -0.01)


@pytest.mark.task("gptq_hinv_factor")
@pytest.mark.parametrize("H", [[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[2.0, 0.0, 0.0], [0.0, 2.0]], []],
                         ids=["3x2", "ragged", "empty"])
def test_hinv_factor_rejects_a_matrix_that_is_not_square(kata, H):
    with pytest.raises(ValueError, match=r"\bH\b"):
        kata.gptq_hinv_factor(H, 0.01)


# === task 4: gptq_quantize ===


@pytest.mark.task("gptq_quantize")
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_gptq_with_identity_hessian_is_round_to_nearest(kata, bits):
    _, W = correlated(bits, outputs=7, features=11)
    for percdamp in (0.0, 0.01, 0.5):
        codes, scales = kata.gptq_quantize(W, identity(11), bits, percdamp)
        assert_equal(codes, spec_rtn_codes(W, bits), f"gptq_quantize(W 7x11, H=I, bits={bits}, percdamp={percdamp}): codes",
                     hint="with H = I the factor U is diagonal, so no error feeds forward: every code is RTN's")
        assert_close(list(scales), spec_scales(W, bits), 1e-15, f"gptq_quantize(H=I, bits={bits}): scales",
                     hint="per-row absmax of the original W")


@pytest.mark.task("gptq_quantize")
@pytest.mark.parametrize("bits,top,just_below", [(8, 1.328125, 0.005228838582677165), (4, 1.171875, 0.08370535714285712)])
def test_gptq_rounds_just_below_a_half_down(kata, bits, top, just_below):
    # just_below / (top / qmax) is 0.49999999999999994, the float under 0.5: its
    # nearest integer is 0, but floor(x + 0.5) gives 1 (x + 0.5 rounds to 1.0).
    qmax = 2 ** (bits - 1) - 1
    assert just_below / (top / qmax) == 0.49999999999999994
    W = [[just_below, top, -just_below, 0.25 * top], [top, 0.5 * top / qmax, -top, 0.0]]
    codes, _ = kata.gptq_quantize(W, identity(4), bits)
    assert_equal(codes, spec_rtn_codes(W, bits), f"gptq_quantize(H=I, bits={bits}) of a row holding {just_below}",
                 hint="0.49999999999999994 rounds to 0: floor(|x| + 0.5) rounds it up, because |x| + 0.5 == 1.0 "
                      "in floating point (round_half_away is provided)")
    assert_equal([codes[0][0], codes[0][2], codes[1][1]], [0, 0, 1], "codes of +-0.49999999999999994 and of an exact half")


@pytest.mark.task("gptq_quantize")
def test_gptq_single_output_row(kata):
    _, W = correlated(5, outputs=1, features=6)
    codes, scales = kata.gptq_quantize(W, identity(6), 4)
    assert_equal(codes, spec_rtn_codes(W, 4), "gptq_quantize(one-row W 1x6, H=I, bits=4): codes",
                 hint="a single output row is a valid W: take the width from it")
    assert_close(list(scales), spec_scales(W, 4), 1e-15, "gptq_quantize(one-row W): scales")


@pytest.mark.task("gptq_quantize")
@pytest.mark.parametrize("bits", [3, 4])
def test_gptq_equals_optimal_brain_quantization(kata, bits):
    X, W = correlated(10 + bits)
    H = spec_hessian(X)
    codes, scales = kata.gptq_quantize(W, H, bits, 0.01)
    want_codes, want_scales = spec_gptq_obq(W, H, bits, 0.01)
    assert_equal(codes, want_codes, f"gptq_quantize(correlated X, bits={bits}): codes vs OBQ with an explicit inverse",
                 hint="quantize column j, err = (w - s q) / U[j][j], w[k] -= err * U[j][k] for k > j, in column order")
    assert_close(list(scales), want_scales, 1e-15, f"gptq_quantize(bits={bits}): scales")


@pytest.mark.task("gptq_quantize")
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_gptq_output_error_at_most_rtn_on_correlated_inputs(kata, seed):
    X, W = correlated(seed, tokens=50, features=12, outputs=6)
    H = spec_hessian(X)
    for bits in (3, 4):
        codes, scales = kata.gptq_quantize(W, H, bits)
        gptq = spec_output_error(X, W, spec_dequant(codes, scales))
        rtn = spec_output_error(X, W, spec_dequant(spec_rtn_codes(W, bits), spec_scales(W, bits)))
        if not gptq <= rtn:
            raise Mismatch(f"gptq_quantize(seed {seed}, bits={bits}): output error {gptq:.4e} > RTN {rtn:.4e}"
                           "\n  hint: the error must feed forward to the columns not yet quantized")


@pytest.mark.task("gptq_quantize")
def test_gptq_does_not_modify_w_and_first_column_is_rtn(kata):
    X, W = correlated(30)
    before = [list(r) for r in W]
    codes, _ = kata.gptq_quantize(W, spec_hessian(X), 4)
    assert_equal(W, before, "W after gptq_quantize", hint="work on a copy of W")
    assert_equal([r[0] for r in codes], [r[0] for r in spec_rtn_codes(W, 4)], "gptq_quantize: column 0",
                 hint="nothing has fed forward into the first column yet")


@pytest.mark.task("gptq_quantize")
def test_gptq_rejects_bad_arguments(kata):
    X, W = correlated(31)
    H = spec_hessian(X)
    for bits in (1, 9, 4.0, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="bits"):
            kata.gptq_quantize(W, H, bits)
    for percdamp in (-0.01, -1e-300, math.nan):
        with pytest.raises(ValueError, match="percdamp"):
            kata.gptq_quantize(W, H, 4, percdamp)
    with pytest.raises(ValueError, match="H"):
        kata.gptq_quantize(W, identity(4), 4)
    with pytest.raises(ValueError, match="W"):
        kata.gptq_quantize([], H, 4)


# === task 5: weighted_kmeans ===


def spec_nearest(v, cs):
    dist = [abs(v - c) for c in cs]
    return dist.index(min(dist))  # first minimum: the lower index on ties


def spec_kmeans(values, weights, bits, iters):
    K = 2 ** bits
    lo, hi = min(values), max(values)
    cs = [lo + (hi - lo) * k / (K - 1) for k in range(K)]
    for _ in range(iters):
        a = [spec_nearest(v, cs) for v in values]
        new = []
        for k in range(K):
            mass = sum(w for w, ak in zip(weights, a) if ak == k)
            new.append(sum(w * v for v, w, ak in zip(values, weights, a) if ak == k) / mass if mass > 0 else cs[k])
        cs = new
    return cs, [spec_nearest(v, cs) for v in values]


def weighted_error(values, weights, cs, a):
    return math.fsum(w * (v - cs[k]) ** 2 for v, w, k in zip(values, weights, a))


@pytest.mark.task("weighted_kmeans")
@pytest.mark.parametrize("bits,iters", [(2, 0), (2, 5), (3, 10), (4, 3)])
def test_weighted_kmeans_equals_lloyd(kata, bits, iters):
    rng = random.Random(bits * 10 + iters)
    values = [rng.gauss(0, 0.3) for _ in range(37)] + [1.9, -1.3]
    weights = [rng.uniform(0, 5) for _ in values]
    cs, a = kata.weighted_kmeans(values, weights, bits, iters)
    want_cs, want_a = spec_kmeans(values, weights, bits, iters)
    assert_close(list(cs), want_cs, 1e-12, f"weighted_kmeans(39 values, bits={bits}, iters={iters}): centroids",
                 hint="start from the uniform grid over [min, max]; update to the WEIGHTED mean of each cluster")
    assert_equal(list(a), want_a, f"weighted_kmeans(bits={bits}, iters={iters}): assignments")


@pytest.mark.task("weighted_kmeans")
def test_weighted_kmeans_never_loses_to_the_uniform_grid(kata):
    rng = random.Random(44)
    for trial in range(4):
        values = [rng.gauss(0, 0.2) for _ in range(30)] + [rng.uniform(1, 2)]
        weights = [rng.expovariate(1.0) for _ in values]
        grid_cs, grid_a = spec_kmeans(values, weights, 3, 0)
        cs, a = kata.weighted_kmeans(values, weights, 3, 10)
        ours, grid = weighted_error(values, weights, cs, a), weighted_error(values, weights, grid_cs, grid_a)
        if not ours <= grid:
            raise Mismatch(f"weighted_kmeans trial {trial}: weighted error {ours:.4e} > uniform grid {grid:.4e}")


@pytest.mark.task("weighted_kmeans")
def test_sensitivity_pulls_the_centroid(kata):
    # Two values share a cluster; almost all the weight sits on 0.3.
    values = [0.0, 0.3, 0.36, 3.0]
    cs, a = kata.weighted_kmeans(values, [1.0, 99.0, 0.0, 1.0], 2, 1)
    # grid 0, 1, 2, 3: 0.0, 0.3, 0.36 -> 0; 3.0 -> 3; centroid 0 = (0 * 1 + 0.3 * 99 + 0) / 100
    assert_close(list(cs), [0.297, 1.0, 2.0, 3.0], 1e-12, "weighted_kmeans([0, 0.3, 0.36, 3], weights [1, 99, 0, 1], bits=2, iters=1)",
                 hint="the centroid is sum(w v) / sum(w) over its cluster; empty clusters keep their place")
    assert_equal(list(a), [0, 0, 0, 3], "its assignments")


@pytest.mark.task("weighted_kmeans")
def test_weighted_kmeans_ties_and_constant_values(kata):
    # grid -1, 0, 1, 2 (bits=2 over [-1, 2]): 0.5 is exactly between 0 and 1 -> the lower index.
    cs, a = kata.weighted_kmeans([-1.0, 0.5, 2.0, 1.5], [1.0, 1.0, 1.0, 1.0], 2, 0)
    assert_equal(list(a), [0, 1, 3, 2], "weighted_kmeans(iters=0) with 0.5 halfway between two levels",
                 hint="on a tie assign to the lower index")
    cs, a = kata.weighted_kmeans([0.7, 0.7, 0.7], [1.0, 2.0, 0.5], 2, 3)
    assert_close(list(cs), [0.7] * 4, 1e-15, "weighted_kmeans(constant values): centroids")
    assert_equal(list(a), [0, 0, 0], "weighted_kmeans(constant values): assignments")


@pytest.mark.task("weighted_kmeans")
def test_weighted_kmeans_rejects_bad_arguments(kata):
    for bits in (1, 9, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="bits"):
            kata.weighted_kmeans([1.0, 2.0], [1.0, 1.0], bits)
    for weights in ([1.0, -1.0], [1.0, -1e-300], [1.0], [1.0, 1.0, 1.0]):  # negative, too short, too long
        with pytest.raises(ValueError, match="weights"):
            kata.weighted_kmeans([1.0, 2.0], weights, 3)
    for iters in (-1, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="iters"):
            kata.weighted_kmeans([1.0, 2.0], [1.0, 1.0], 3, iters)
        with pytest.raises(ValueError, match="iters"):  # iters is checked even when there is nothing to iterate
            kata.weighted_kmeans([1.0], [1.0], 2, iters)
    with pytest.raises(ValueError, match="values"):
        kata.weighted_kmeans([], [], 3)


# === task 6: dense_sparse_split ===


@pytest.mark.task("dense_sparse_split")
@pytest.mark.parametrize("fraction", [0.0, 0.03, 0.1, 0.5, 1.0])
def test_dense_plus_sparse_is_w_exactly(kata, fraction):
    rng = random.Random(int(fraction * 100))
    W = [[rng.gauss(0, 0.3) for _ in range(9)] for _ in range(7)]
    W[2][5], W[6][0] = 4.0, -3.5
    dense, sparse = kata.dense_sparse_split(W, fraction)
    count = math.floor(fraction * 63)
    ranked = sorted(((r, c) for r in range(7) for c in range(9)), key=lambda rc: (-abs(W[rc[0]][rc[1]]), rc[0], rc[1]))
    want = sorted(ranked[:count])
    assert_equal([tuple(e) for e in sparse], [(r, c, W[r][c]) for r, c in want],
                 f"dense_sparse_split(7x9 W, fraction={fraction}): sparse",
                 hint=f"the floor(fraction * 63) = {count} largest |W| entries, as (r, c, value) sorted by (r, c)")
    rebuilt = [list(row) for row in dense]
    for r, c, v in sparse:
        if rebuilt[r][c] != 0.0:
            raise Mismatch(f"dense_sparse_split: dense[{r}][{c}] = {rebuilt[r][c]!r} should be 0.0 (the entry is in sparse)")
        rebuilt[r][c] = rebuilt[r][c] + v
    assert_equal(rebuilt, W, f"dense + sparse for fraction={fraction}", hint="every entry lives in exactly one part")


@pytest.mark.task("dense_sparse_split")
def test_dense_sparse_ties_go_row_major(kata):
    W = [[0.5, -2.0, 1.0], [2.0, 0.1, -2.0]]
    dense, sparse = kata.dense_sparse_split(W, 2 / 6)
    assert_equal([tuple(e) for e in sparse], [(0, 1, -2.0), (1, 0, 2.0)],
                 "dense_sparse_split with three entries of magnitude 2.0, keeping 2",
                 hint="equal magnitudes: the earlier (row, column) position wins")
    assert_equal(dense, [[0.5, 0.0, 1.0], [0.0, 0.1, -2.0]], "its dense part")
    dense, sparse = kata.dense_sparse_split([[0.5, -3.0, 1.0, 0.25]], 0.5)
    assert_equal(([tuple(e) for e in sparse], dense), ([(0, 1, -3.0), (0, 2, 1.0)], [[0.5, 0.0, 0.0, 0.25]]),
                 "dense_sparse_split([[0.5, -3.0, 1.0, 0.25]], 0.5) (one row)",
                 hint="a single row is a valid W: floor(0.5 * 1 * 4) = 2 entries go to the sparse part")


@pytest.mark.task("dense_sparse_split")
def test_dense_sparse_split_rejects_bad_arguments(kata):
    for fraction in (-0.1, 1.5, -1e-300, 1 + 1e-12, math.nan, None):
        with pytest.raises(ValueError, match="fraction"):
            kata.dense_sparse_split([[1.0]], fraction)
    for fraction in (0.0, 1.0):  # both ends of [0, 1] are allowed
        dense, sparse = kata.dense_sparse_split([[1.0, -2.0]], fraction)
        assert_equal(len(sparse), int(fraction * 2), f"dense_sparse_split(1x2, fraction={fraction}): sparse entries")
    with pytest.raises(ValueError, match="W"):
        kata.dense_sparse_split([[1.0], []], 0.1)
