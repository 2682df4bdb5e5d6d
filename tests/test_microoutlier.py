"""Graded tests for microoutlier: LLM.int8() decomposition, SmoothQuant, AWQ.

Expected values come from the independent spec below (the column split,
vector-wise and per-tensor INT8, the SmoothQuant and AWQ formulas written out
again with plain loops), from exact identities in float (the split and the
smoothing change nothing before rounding), and from error comparisons on
seeded activations with planted outlier channels: LLM.int8() beats
microquant's per-tensor INT8, smoothing shrinks the activation range, AWQ's
search beats round-to-nearest on the salient channels.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal

# === the independent spec ===


def spec_matmul(X, W):
    return [[math.fsum(x[j] * w[j] for j in range(len(x))) for w in W] for x in X]


def spec_codes(values, bits=8):
    """Absmax codes with Python's round (ties never matter on these inputs)."""
    top = max([abs(v) for v in values] + [0.0])
    qmax = 2 ** (bits - 1) - 1
    scale = top / qmax if top else 1.0
    return [min(qmax, max(-qmax - 1, round(v / scale))) for v in values], scale


def spec_vectorwise(X, W):
    out = []
    for x in X:
        qx, sx = spec_codes(x)
        row = []
        for w in W:
            qw, sw = spec_codes(w)
            row.append(sx * sw * sum(a * b for a, b in zip(qx, qw)))
        out.append(row)
    return out


def spec_per_tensor(X, W):
    qx, sx = spec_codes([v for r in X for v in r])
    qw, sw = spec_codes([v for r in W for v in r])
    d = len(X[0])
    return [[sx * sw * sum(qx[t * d + j] * qw[o * d + j] for j in range(d)) for o in range(len(W))] for t in range(len(X))]


def spec_outliers(X, threshold):
    return [j for j in range(len(X[0])) if any(abs(r[j]) >= threshold for r in X)]


def spec_cols(M, cols):
    return [[r[j] for j in cols] for r in M]


def spec_rtn(W, bits):
    out = []
    for row in W:
        q, s = spec_codes(row, bits)
        out.append([s * c for c in q])
    return out


def spec_mse(A, B):
    return math.fsum((a - b) ** 2 for ra, rb in zip(A, B) for a, b in zip(ra, rb)) / (len(A) * len(A[0]))


def spec_awq_scales(X, alpha):
    means = [max(sum(abs(r[j]) for r in X) / len(X), 1e-4) for j in range(len(X[0]))]
    raw = [m ** alpha for m in means]
    norm = (max(raw) * min(raw)) ** 0.5
    return [v / norm for v in raw]


def spec_awq_weights(W, s, bits):
    scaled = spec_rtn([[w * sj for w, sj in zip(row, s)] for row in W], bits)
    return [[w / sj for w, sj in zip(row, s)] for row in scaled]


def planted(seed, tokens=13, features=11, outputs=7, outliers=(2, 8), magnitude=30.0):
    """Gaussian activations with fixed outlier channels; weights without outliers."""
    rng = random.Random(seed)
    X = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(tokens)]
    for j in outliers:
        sign = rng.choice((-1, 1))
        for row in X:
            row[j] = sign * magnitude * rng.uniform(0.6, 1.0)
    W = [[rng.gauss(0.02, 0.3) for _ in range(features)] for _ in range(outputs)]
    return X, W


def rel_close(actual, expected, what, rel=1e-9, hint=""):
    scale = max([abs(v) for r in expected for v in r] + [1.0])
    assert_close(actual, expected, rel * scale, what, hint=hint)


# === task 1: outlier_columns ===


@pytest.mark.task("outlier_columns")
@pytest.mark.parametrize("outliers", [(2, 8), (0,), (10,), ()], ids=str)
def test_outlier_columns_finds_the_planted_channels(kata, outliers):
    X, _ = planted(len(outliers) + 5, outliers=outliers)
    X[4][6] = -7.5  # one token crossing the threshold also makes its channel an outlier
    expected = spec_outliers(X, 6.0)
    assert_equal(list(kata.outlier_columns(X)), expected, f"outlier_columns(X with outliers {outliers} and X[4][6] = -7.5)",
                 hint="a column is an outlier when ANY token's |value| reaches the threshold; check the magnitude, not the sign")


@pytest.mark.task("outlier_columns")
def test_outlier_threshold_is_inclusive(kata):
    X = [[0.5, 6.0, -5.999, 1.0], [-6.0, 0.1, 2.0, 6.0000001]]
    assert_equal(list(kata.outlier_columns(X, 6.0)), [0, 1, 3], "outlier_columns(X with entries of exactly +-6.0)",
                 hint="|x| >= 6.0 counts (inclusive)")
    assert_equal(list(kata.outlier_columns(X, 2.0)), [0, 1, 2, 3], "outlier_columns(X, threshold=2.0)")


@pytest.mark.task("outlier_columns")
def test_outlier_columns_single_token(kata):
    X = [[0.5, -7.0, 6.0, 5.9]]
    assert_equal(list(kata.outlier_columns(X)), [1, 2], "outlier_columns([[0.5, -7.0, 6.0, 5.9]]) (one token)",
                 hint="one token is a valid X: every column of its single row is checked")


@pytest.mark.task("outlier_columns")
def test_outlier_columns_rejects_bad_arguments(kata):
    for threshold in (0.0, -6.0, -1e-300, math.nan, None):
        with pytest.raises(ValueError, match="threshold"):
            kata.outlier_columns([[1.0]], threshold)
    assert_equal(list(kata.outlier_columns([[1e-300, 0.0]], 1e-300)), [0], "outlier_columns(threshold=1e-300): any positive threshold")
    for X in ([], [[1.0, 2.0], [3.0]]):
        with pytest.raises(ValueError, match="X"):
            kata.outlier_columns(X)


# === task 2: decompose ===


@pytest.mark.task("decompose")
@pytest.mark.parametrize("cols", [[2, 8], [0], [10], [], list(range(11))], ids=str)
def test_decompose_is_an_exact_column_split(kata, cols):
    X, W = planted(3)
    X_out, W_out, X_reg, W_reg = kata.decompose(X, W, cols)
    rest = [j for j in range(11) if j not in cols]
    what = f"decompose(13x11 X, 7x11 W, cols={cols})"
    assert_equal(X_out, spec_cols(X, cols), f"{what}: X_out", hint="the outlier columns of X, copied exactly")
    assert_equal(W_out, spec_cols(W, cols), f"{what}: W_out", hint="the SAME columns of W (input channels)")
    assert_equal(X_reg, spec_cols(X, rest), f"{what}: X_reg", hint="every other column, in increasing order")
    assert_equal(W_reg, spec_cols(W, rest), f"{what}: W_reg")
    split = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(spec_matmul(X_out, W_out), spec_matmul(X_reg, W_reg))]
    rel_close(split, spec_matmul(X, W), f"{what}: X_out W_out^T + X_reg W_reg^T vs X W^T", rel=1e-13)


@pytest.mark.task("decompose")
def test_decompose_single_token_single_output(kata):
    X, W = [[1.0, -9.0, 2.0]], [[0.5, 0.25, -1.0]]
    got = kata.decompose(X, W, [1])
    assert_equal(list(got), [[[-9.0]], [[0.25]], [[1.0, 2.0]], [[0.5, -1.0]]],
                 "decompose([[1, -9, 2]], [[0.5, 0.25, -1]], [1]) (one token, one output)",
                 hint="a single row is a valid X or W: take the width from it")


@pytest.mark.task("decompose")
def test_decompose_rejects_bad_arguments(kata):
    X, W = planted(4)
    for cols in ([11], [-1], [2, 2], [True], [1.0], [2.5], [math.nan], [None]):
        with pytest.raises(ValueError, match="cols"):
            kata.decompose(X, W, cols)
    X_out, _, X_reg, _ = kata.decompose(X, W, [0, 10])  # both ends of the range are valid
    assert_equal((len(X_out[0]), len(X_reg[0])), (2, 9), "decompose(cols=[0, 10]) of 11 columns: widths")
    with pytest.raises(ValueError, match="W"):
        kata.decompose(X, [row[:-1] for row in W], [1])
    with pytest.raises(ValueError, match="X"):
        kata.decompose([], W, [1])


# === task 3: vectorwise_int8_matmul ===


@pytest.mark.task("vectorwise_int8_matmul")
@pytest.mark.parametrize("shape", [(1, 1, 1), (13, 11, 7), (5, 3, 9)], ids=str)
def test_vectorwise_equals_the_spec(kata, shape):
    tokens, features, outputs = shape
    X, W = planted(sum(shape), tokens, features, outputs, outliers=())
    # As planted, then with an all-zero token 0 (for one token that is all of X).
    for zero_token in (False, True):
        if zero_token:
            X[0] = [0.0] * features
        rel_close(kata.vectorwise_int8_matmul(X, W), spec_vectorwise(X, W),
                  f"vectorwise_int8_matmul({tokens}x{features}, {outputs}x{features}{', token 0 all zero' if zero_token else ''})",
                  hint="one absmax scale per token (row of X) and one per output channel (row of W); Y = sx_t sw_o sum q q")


@pytest.mark.task("vectorwise_int8_matmul")
def test_vectorwise_rounds_just_below_a_half_down(kata):
    # 0.005228838582677165 / (1.328125 / 127) is 0.49999999999999994, the float
    # under 0.5: its code is 0. floor(|x| + 0.5) makes it 1, since |x| + 0.5 == 1.0.
    top, below = 1.328125, 0.005228838582677165
    assert below / (top / 127) == 0.49999999999999994
    X = [[top, below, -below, 0.0], [1.0, 2.0, 3.0, 4.0]]
    W = [[0.5, 3.0, 5.0, 1.0], [top, below, 2 * below, -top]]
    codes, _ = spec_codes(X[0])
    assert codes == [127, 0, 0, 0]
    rel_close(kata.vectorwise_int8_matmul(X, W), spec_vectorwise(X, W), "vectorwise_int8_matmul of a token holding +-0.49999999999999994 steps",
              hint="round to the NEAREST integer: 0.49999999999999994 gives 0 (round() or round_half_away do; "
                   "floor(|x| + 0.5) does not)")


@pytest.mark.task("vectorwise_int8_matmul")
def test_vectorwise_with_no_columns_is_zero(kata):
    assert_equal(kata.vectorwise_int8_matmul([[], [], []], [[], []]), [[0.0, 0.0]] * 3,
                 "vectorwise_int8_matmul(3 zero-width rows, 2 zero-width rows)", hint="an empty sum is 0")


@pytest.mark.task("vectorwise_int8_matmul")
def test_vectorwise_beats_per_tensor_when_rows_differ(kata):
    rng = random.Random(12)
    X = [[rng.gauss(0, 10.0 ** (t % 3 - 1)) for _ in range(9)] for t in range(8)]
    W = [[rng.gauss(0, 0.3) for _ in range(9)] for _ in range(5)]
    Y = spec_matmul(X, W)
    vec, ten = spec_mse(Y, kata.vectorwise_int8_matmul(X, W)), spec_mse(Y, spec_per_tensor(X, W))
    if not vec < ten:
        raise Mismatch(f"vector-wise INT8 output MSE {vec:.3e} is not below per-tensor {ten:.3e} on tokens of very different size")


@pytest.mark.task("vectorwise_int8_matmul")
def test_vectorwise_rejects_bad_arguments(kata):
    with pytest.raises(ValueError, match="W"):
        kata.vectorwise_int8_matmul([[1.0, 2.0]], [[1.0]])
    with pytest.raises(ValueError, match="X"):
        kata.vectorwise_int8_matmul([], [[1.0]])
    with pytest.raises(ValueError, match="W"):  # no rows in W
        kata.vectorwise_int8_matmul([[1.0, 2.0]], [])
    with pytest.raises(ValueError, match="X"):  # ragged X whose first row still matches W
        kata.vectorwise_int8_matmul([[1.0, 2.0], [3.0]], [[1.0, 0.5]])
    with pytest.raises(ValueError, match="W"):  # ragged W whose first row still matches X
        kata.vectorwise_int8_matmul([[1.0, 2.0]], [[1.0, 0.5], [2.0]])


# === task 4: llm_int8_matmul ===


@pytest.mark.task("llm_int8_matmul")
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_llm_int8_equals_float_outliers_plus_int8_rest(kata, seed):
    X, W = planted(seed)
    Y, cols = kata.llm_int8_matmul(X, W)
    expected_cols = spec_outliers(X, 6.0)
    assert_equal(list(cols), expected_cols, "llm_int8_matmul: outlier columns")
    rest = [j for j in range(len(X[0])) if j not in expected_cols]
    want = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(
        spec_matmul(spec_cols(X, expected_cols), spec_cols(W, expected_cols)),
        spec_vectorwise(spec_cols(X, rest), spec_cols(W, rest)))]
    rel_close(Y, want, f"llm_int8_matmul(planted X, seed {seed})",
              hint="outlier columns in float, the rest through vector-wise INT8, then add")


@pytest.mark.task("llm_int8_matmul")
@pytest.mark.parametrize("magnitude", [8.0, 30.0, 120.0])
def test_llm_int8_beats_per_tensor_int8_with_outliers(kata, magnitude):
    X, W = planted(int(magnitude), tokens=17, features=13, outputs=6, outliers=(1, 9, 12), magnitude=magnitude)
    Y = spec_matmul(X, W)
    ours, _ = kata.llm_int8_matmul(X, W)
    llm, per_tensor = spec_mse(Y, ours), spec_mse(Y, spec_per_tensor(X, W))
    if not llm < per_tensor / 3:
        raise Mismatch(f"LLM.int8() output MSE {llm:.3e} vs per-tensor INT8 {per_tensor:.3e} (outliers of size"
                       f" {magnitude}): expected it at least 3x smaller")


def spec_bitsandbytes_style(X, W, threshold):
    """The mistake of copying bitsandbytes: zero only the elements >= threshold before each token's absmax,
    and take the outlier columns' weights from the INT8 weight rows (the paper keeps both in float)."""
    cols = spec_outliers(X, threshold)
    out = []
    for x in X:
        kept = [0.0 if abs(v) >= threshold else v for v in x]
        qx, sx = spec_codes(kept)
        qx = [0 if j in cols else q for j, q in enumerate(qx)]
        row = []
        for w in W:
            qw, sw = spec_codes(w)
            row.append(sx * sw * sum(a * b for a, b in zip(qx, qw)) + math.fsum(x[j] * sw * qw[j] for j in cols))
        out.append(row)
    return out


@pytest.mark.task("llm_int8_matmul")
def test_llm_int8_follows_the_paper_not_bitsandbytes(kata):
    # Column 1 is an outlier column (token 0 reaches 9); token 1 has a 5.5 there,
    # below the threshold but 5x its regular entries. The paper keeps the whole
    # column in float, so token 1's INT8 scale comes from its regular entries only.
    X = [[0.3, 9.0, -0.7, 0.2], [1.1, 5.5, -0.4, 0.9], [0.05, -7.25, 0.6, -0.35]]
    W = [[0.31, -0.47, 0.12, 0.9], [-0.23, 0.05, 0.77, -0.61]]
    rest = [0, 2, 3]
    want = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(
        spec_matmul(spec_cols(X, [1]), spec_cols(W, [1])), spec_vectorwise(spec_cols(X, rest), spec_cols(W, rest)))]
    Y, cols = kata.llm_int8_matmul(X, W)
    assert_equal(list(cols), [1], "llm_int8_matmul: outlier columns")
    bnb = spec_bitsandbytes_style(X, W, 6.0)
    assert spec_mse(bnb, want) > 1e-8, "fixture: the bitsandbytes-style answer must differ"
    rel_close(Y, want, "llm_int8_matmul(3 tokens, a 5.5 below the threshold in outlier column 1)",
              hint="drop the outlier COLUMNS from the INT8 part entirely (decompose), so a sub-threshold value "
                   "there does not set the token's scale, and multiply them with the original float weights "
                   "(bitsandbytes differs on both counts; the paper does not)")


@pytest.mark.task("llm_int8_matmul")
def test_llm_int8_edge_cases(kata):
    X, W = planted(8)
    Y, cols = kata.llm_int8_matmul(X, W, threshold=1e9)
    assert_equal(list(cols), [], "llm_int8_matmul(threshold=1e9): outlier columns")
    rel_close(Y, spec_vectorwise(X, W), "llm_int8_matmul with no outliers", hint="no outliers: it is vector-wise INT8")
    Y, cols = kata.llm_int8_matmul(X, W, threshold=1e-12)
    assert_equal(len(cols), 11, "llm_int8_matmul(threshold=1e-12): every column an outlier")
    rel_close(Y, spec_matmul(X, W), "llm_int8_matmul with every column an outlier", rel=1e-13,
              hint="all float: the result is the exact matmul; the INT8 part is empty and adds zeros")
    with pytest.raises(ValueError, match="threshold"):
        kata.llm_int8_matmul(X, W, threshold=0.0)


# === task 5: smoothquant_scales ===


@pytest.mark.task("smoothquant_scales")
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 0.85, 1.0])
def test_smoothquant_scales_closed_form(kata, alpha):
    X, W = planted(9)
    W[3] = [-2.5 if j == 4 else v for j, v in enumerate(W[3])]  # a large weight in channel 4
    want = [max(abs(r[j]) for r in X) ** alpha / max(abs(r[j]) for r in W) ** (1 - alpha) for j in range(11)]
    rel_close([list(kata.smoothquant_scales(X, W, alpha))], [want], f"smoothquant_scales(alpha={alpha})", rel=1e-12,
              hint="s_j = max_t |X[t][j]|^alpha / max_o |W[o][j]|^(1 - alpha), per input channel j (a column)")


@pytest.mark.task("smoothquant_scales")
def test_smoothquant_scales_single_rows_and_small_maxima(kata):
    X, W = [[-9.0, 0.25]], [[0.25, 4.0]]
    assert_close(list(kata.smoothquant_scales(X, W, 0.5)), [6.0, 0.25], 1e-15,
                 "smoothquant_scales(one-row X [[-9, 0.25]], one-row W [[0.25, 4.0]], alpha=0.5)",
                 hint="s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) for every non-zero maximum, also below 1;"
                      " one token and one output row are valid")


@pytest.mark.task("smoothquant_scales")
def test_smoothquant_dead_channel_scale_is_one(kata):
    X = [[0.0, 2.0, 1.0], [0.0, -4.0, 3.0]]
    W = [[1.0, 0.5, 0.0], [2.0, -1.0, 0.0]]
    assert_close(list(kata.smoothquant_scales(X, W, 0.5)), [1.0, 2.0, 1.0], 1e-15,
                 "smoothquant_scales(channel 0 all-zero in X, channel 2 all-zero in W)",
                 hint="a channel whose activation or weight maximum is 0 gets s = 1.0")


@pytest.mark.task("smoothquant_scales")
def test_smoothquant_scales_reject_bad_alpha(kata):
    X, W = planted(10)
    for alpha in (-0.1, 1.1, 2):
        with pytest.raises(ValueError, match="alpha"):
            kata.smoothquant_scales(X, W, alpha)
    with pytest.raises(ValueError, match="W"):
        kata.smoothquant_scales(X, [r[:-2] for r in W], 0.5)


# === task 6: smooth ===


@pytest.mark.task("smooth")
@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.8])
def test_smoothing_is_an_identity_that_shrinks_the_activation_range(kata, alpha):
    X, W = planted(11)
    s = [max(abs(r[j]) for r in X) ** alpha / max(abs(r[j]) for r in W) ** (1 - alpha) for j in range(11)]
    Xh, Wh = kata.smooth(X, W, s)
    assert_close(Xh, [[v / sj for v, sj in zip(r, s)] for r in X], 1e-12, f"smooth(alpha={alpha}): X_hat",
                 hint="divide activation column j by s_j")
    assert_close(Wh, [[v * sj for v, sj in zip(r, s)] for r in W], 1e-12, f"smooth(alpha={alpha}): W_hat",
                 hint="multiply weight column j (input channel j) by s_j")
    rel_close(spec_matmul(Xh, Wh), spec_matmul(X, W), f"smooth(alpha={alpha}): X_hat W_hat^T vs X W^T", rel=1e-13)
    before, after = max(abs(v) for r in X for v in r), max(abs(v) for r in Xh for v in r)
    if not after < before / 2:
        raise Mismatch(f"smooth(alpha={alpha}): max |X_hat| = {after:.3f}, expected well below max |X| = {before:.3f}")


@pytest.mark.task("smooth")
def test_smoothing_helps_per_tensor_w8a8(kata):
    X, W = planted(13, tokens=17, features=13, outputs=6, outliers=(1, 9, 12), magnitude=60.0)
    s = [max(abs(r[j]) for r in X) ** 0.5 / max(abs(r[j]) for r in W) ** 0.5 for j in range(13)]
    Xh, Wh = kata.smooth(X, W, s)
    Y = spec_matmul(X, W)
    plain, smoothed = spec_mse(Y, spec_per_tensor(X, W)), spec_mse(Y, spec_per_tensor(Xh, Wh))
    if not smoothed < plain:
        raise Mismatch(f"per-tensor INT8 after smoothing: output MSE {smoothed:.3e}, before {plain:.3e}; expected lower")


@pytest.mark.task("smooth")
def test_smooth_single_token_single_output(kata):
    Xh, Wh = kata.smooth([[6.0, -1.0]], [[0.5, 3.0]], [2.0, 0.25])
    assert_equal((Xh, Wh), ([[3.0, -4.0]], [[1.0, 0.75]]), "smooth([[6, -1]], [[0.5, 3]], [2, 0.25])",
                 hint="one token and one output row are valid: the width comes from the single row")


@pytest.mark.task("smooth")
def test_smooth_does_not_mutate_and_rejects_bad_scales(kata):
    X, W = planted(14)
    X0, W0 = [list(r) for r in X], [list(r) for r in W]
    kata.smooth(X, W, [2.0] * 11)
    assert_equal((X, W), (X0, W0), "X and W after smooth()", hint="return new matrices")
    for scales in ([1.0] * 10, [1.0] * 12, [1.0] * 10 + [0.0], [1.0] * 10 + [-2.0], [1.0] * 10 + [math.nan],
                   [1.0] * 10 + [math.inf]):
        with pytest.raises(ValueError, match="scales"):
            kata.smooth(X, W, scales)


# === task 7: awq_search ===


@pytest.mark.task("awq_search")
@pytest.mark.parametrize("bits,grid", [(4, 20), (3, 7), (8, 1), (2, 4)])
def test_awq_search_equals_the_spec(kata, bits, grid):
    X, W = planted(15 + bits)
    alpha, scales, losses = kata.awq_search(X, W, bits, grid)
    Y = spec_matmul(X, W)
    want = [spec_mse(Y, spec_matmul(X, spec_awq_weights(W, spec_awq_scales(X, i / grid), bits))) for i in range(grid)]
    rel_close([list(losses)], [want], f"awq_search(bits={bits}, grid={grid}): losses", rel=1e-9,
              hint="losses[i] = mse(X W^T, X W_q^T) for alpha = i / grid, W_q = rtn(W diag(s)) diag(s)^-1")
    best = min(range(grid), key=lambda i: (want[i], i))
    assert_close(alpha, best / grid, 1e-15, f"awq_search(bits={bits}, grid={grid}): best alpha")
    assert_close(list(scales), spec_awq_scales(X, best / grid), 1e-12, f"awq_search(bits={bits}, grid={grid}): scales")


@pytest.mark.task("awq_search")
def test_awq_search_one_token(kata):
    X, W = planted(33, tokens=1, outputs=1)
    alpha, scales, losses = kata.awq_search(X, W, 4, 5)
    Y = spec_matmul(X, W)
    want = [spec_mse(Y, spec_matmul(X, spec_awq_weights(W, spec_awq_scales(X, i / 5), 4))) for i in range(5)]
    rel_close([list(losses)], [want], "awq_search(one-token X, one-row W, bits=4, grid=5): losses", rel=1e-9,
              hint="a single calibration token is a valid X")


@pytest.mark.task("awq_search")
def test_awq_first_loss_is_round_to_nearest_and_best_beats_it(kata):
    X, W = planted(21, tokens=19, features=14, outputs=9, outliers=(3, 10), magnitude=25.0)
    alpha, scales, losses = kata.awq_search(X, W, 4, 20)
    Y = spec_matmul(X, W)
    rtn = spec_mse(Y, spec_matmul(X, spec_rtn(W, 4)))
    assert_close(losses[0], rtn, rtn * 1e-9, "awq_search: losses[0] (alpha = 0) vs round-to-nearest",
                 hint="alpha = 0 makes every scale 1: plain RTN")
    if not min(losses) < 0.8 * rtn:
        raise Mismatch(f"awq_search: best loss {min(losses):.3e} vs RTN {rtn:.3e}; expected a clear gain on outlier channels")
    W_awq = spec_awq_weights(W, list(scales), 4)
    W_rtn = spec_rtn(W, 4)
    salient = (3, 10)
    err_awq = math.fsum((W[o][j] - W_awq[o][j]) ** 2 for o in range(9) for j in salient)
    err_rtn = math.fsum((W[o][j] - W_rtn[o][j]) ** 2 for o in range(9) for j in salient)
    if not err_awq < err_rtn:
        raise Mismatch(f"AWQ weight error on the salient channels {err_awq:.3e} is not below RTN's {err_rtn:.3e}")


@pytest.mark.task("awq_search")
def test_awq_ties_pick_the_smallest_alpha(kata):
    # Every channel has the same mean |x|: every alpha gives s = 1, every loss is equal.
    X = [[1.5, -1.5, 1.5, -1.5, 1.5], [-1.5, 1.5, -1.5, 1.5, 1.5], [1.5, 1.5, -1.5, -1.5, -1.5]]
    W = [[0.3, -0.71, 0.05, 0.44, -0.2], [0.9, 0.1, -0.33, 0.0, 0.27]]
    alpha, scales, losses = kata.awq_search(X, W, 3, 6)
    assert_equal(alpha, 0.0, "awq_search with equal losses: best alpha", hint="on an exact tie the smaller alpha wins")
    assert_close(list(scales), [1.0] * 5, 1e-12, "awq_search with equal channel means: scales")


@pytest.mark.task("awq_search")
def test_awq_search_rejects_bad_arguments(kata):
    X, W = planted(22)
    for bits in (1, 9, 4.0, 0, True, math.nan, None):
        with pytest.raises(ValueError, match="bits"):
            kata.awq_search(X, W, bits, 5)
    for grid in (0, -3, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="grid"):
            kata.awq_search(X, W, 4, grid)
    with pytest.raises(ValueError, match="W"):
        kata.awq_search(X, [r[:-1] for r in W], 4, 5)


# === every task that takes X and W rejects an empty or ragged one (rows after the first included) ===

RAGGED_X = [[1.0, 2.0, 0.5], [3.0, 4.0]]    # first row as wide as W, a later one short
RAGGED_W = [[0.5, -1.0, 0.25], [2.0, 1.0]]
GOOD_X, GOOD_W = [[1.0, 2.0, 0.5], [3.0, 4.0, -1.0]], [[0.5, -1.0, 0.25], [2.0, 1.0, 0.5]]


def rejects_bad_matrices(call):
    for name, X, W in (("X", RAGGED_X, GOOD_W), ("W", GOOD_X, RAGGED_W), ("X", [], GOOD_W), ("W", GOOD_X, [])):
        with pytest.raises(ValueError, match=name):
            call(X, W)


@pytest.mark.task("decompose")
def test_decompose_rejects_ragged_or_empty_matrices(kata):
    rejects_bad_matrices(lambda X, W: kata.decompose(X, W, [1]))


@pytest.mark.task("smoothquant_scales")
def test_smoothquant_scales_rejects_ragged_or_empty_matrices(kata):
    rejects_bad_matrices(lambda X, W: kata.smoothquant_scales(X, W, 0.5))


@pytest.mark.task("smooth")
def test_smooth_rejects_ragged_or_empty_matrices(kata):
    rejects_bad_matrices(lambda X, W: kata.smooth(X, W, [1.0, 2.0, 0.5]))


@pytest.mark.task("awq_search")
def test_awq_search_rejects_ragged_or_empty_matrices(kata):
    rejects_bad_matrices(lambda X, W: kata.awq_search(X, W, 4, 3))
