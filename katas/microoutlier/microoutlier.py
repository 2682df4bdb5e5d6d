"""
Outlier-aware quantization, from scratch: three ways to stop a handful of huge
activation channels from ruining INT8 and INT4 for everyone else.

Large language models grow "outlier features": a few hidden dimensions whose
activations are 20-100x larger than the rest, in almost every token. With
microquant's per-tensor absmax INT8 the scale is set by those few channels, so
every ordinary activation lands on a handful of codes near zero. Three papers
answer this in three different places:

* LLM.int8() (Dettmers et al., 2022) splits the matmul: the outlier columns
  (|x| >= 6) are multiplied in float, everything else in INT8 with one scale
  per token and per output channel. The split is exact; only the INT8 part
  rounds.
* SmoothQuant (Xiao et al., 2023) moves the difficulty from activations to
  weights with a per-channel scale s: X W^T = (X diag(s)^-1)(W diag(s))^T
  exactly, and s = max|X_j|^alpha / max|W_j|^(1-alpha) balances the ranges.
* AWQ (Lin et al., 2024) protects the weights that meet large activations:
  scale those weight columns up before 4-bit rounding (and the activations
  down), choosing the exponent of s = mean|X_j|^alpha by a grid search on the
  layer's output error.

Conventions follow microquant: W holds one row per output channel, X one row
per token, Y = X W^T.

References: Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for
Transformers at Scale" (2022); Xiao et al., "SmoothQuant: Accurate and
Efficient Post-Training Quantization for Large Language Models" (2023); Lin
et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
Acceleration" (2024).
"""

from __future__ import annotations

import math
import random
import sys

# Kata skeleton generated from solutions/microoutlier/microoutlier.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microoutlier`; stuck? `python -m workbook hint microoutlier`.
from workbook import KataTodo

# === PROVIDED: MATRICES AND MICROQUANT'S ABSMAX QUANTIZATION ===
#
# X: T x d (tokens x input features). W: n x d (output channels x input
# features). Column j of X and column j of W meet in every dot product: that
# shared input channel is the axis all three methods act on.


def check_matrix(M, name):
    """ValueError naming ``name`` unless M is a non-empty list of equal-length, non-empty rows."""
    if not M or not M[0] or any(len(row) != len(M[0]) for row in M):
        raise ValueError(f"{name} must be a non-empty matrix of equal-length, non-empty rows")


def matmul_nt(X, W):
    """Y = X W^T: Y[t][o] = sum_j X[t][j] * W[o][j] (exact-sum fsum; zero-width inputs give zeros)."""
    return [[math.fsum(a * b for a, b in zip(x, w)) for w in W] for x in X]


def columns(M, cols):
    """The sub-matrix of M made of the columns ``cols``, in that order."""
    return [[row[j] for j in cols] for row in M]


def round_half_away(x: float) -> int:
    """Nearest integer; exact halves go away from zero (microquant's rounding)."""
    # Compare the fractional part with 0.5 instead of computing floor(|x| + 0.5):
    # that sum is rounded, so 0.49999999999999994 + 0.5 == 1.0 and would round up.
    # |x| - floor(|x|) is exact in floating point.
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:
        n += 1
    return n if x >= 0 else -n


def absmax_codes(values, bits=8):
    """microquant's absmax: (codes, scale) with scale = max|v| / (2^(bits-1) - 1), 1.0 for all zeros."""
    qmax = 2 ** (bits - 1) - 1
    largest = max((abs(v) for v in values), default=0.0)
    scale = largest / qmax if largest > 0 else 1.0
    return [max(-qmax - 1, min(qmax, round_half_away(v / scale))) for v in values], scale


def per_tensor_int8_matmul(X, W):
    """microquant's per-tensor INT8 matmul: one scale for all of X, one for all of W, integer dot products."""
    qx, sx = absmax_codes([v for row in X for v in row])
    qw, sw = absmax_codes([v for row in W for v in row])
    d = len(X[0])
    QX = [qx[t * d:(t + 1) * d] for t in range(len(X))]
    QW = [qw[o * d:(o + 1) * d] for o in range(len(W))]
    return [[sx * sw * sum(a * b for a, b in zip(x, w)) for w in QW] for x in QX]


def rtn_quantize(W, bits):
    """Round-to-nearest weight quantization, one absmax scale per output row; returns dequantized floats."""
    out = []
    for row in W:
        codes, scale = absmax_codes(row, bits)
        out.append([scale * q for q in codes])
    return out


def mse(A, B):
    """Mean squared difference of two equally shaped matrices."""
    return math.fsum((a - b) ** 2 for ra, rb in zip(A, B) for a, b in zip(ra, rb)) / (len(A) * len(A[0]))


# === LLM.int8(): FIND THE OUTLIER FEATURES ===
#
# Dettmers et al. call a hidden dimension an outlier feature when its
# activations reach magnitude 6 (they also require it in >= 25% of layers and
# >= 6% of tokens; for one matrix, "some token reaches 6" is the rule).
# Why 6: at that threshold the transformer's perplexity degradation from
# INT8 vanishes; below it, the remaining activations quantize well.
# Intuition: outliers are not random spikes; they live in a few fixed
# columns, which is what makes a per-column split cheap.


def outlier_columns(X, threshold=6.0):
    """The sorted list of column indices j where some token has |X[t][j]| >= threshold.

    X: T x d list of rows. threshold: positive number (6.0 in LLM.int8()).
    The comparison is inclusive: a value of exactly threshold counts.
    Raises ValueError naming ``X`` (empty or ragged) or ``threshold`` (not
    positive).
    """
    raise KataTodo('microoutlier.outlier_columns: The sorted list of column indices j where some token has |X[t][j]| >= threshold.')


# === LLM.int8(): THE MIXED-PRECISION DECOMPOSITION ===
#
# Split the input channels into the outlier set O and the rest R:
#   X W^T = X[:, O] W[:, O]^T  +  X[:, R] W[:, R]^T
# because a dot product is a sum over channels and any partition of a sum
# adds back to it. Nothing is approximated by the split itself: the float
# part is exact, and only the regular part is quantized.


def decompose(X, W, cols):
    """Split the input channels: return (X_out, W_out, X_reg, W_reg).

    cols: the outlier column indices (sorted, no repeats, each in
    [0, d)). X_out = the columns ``cols`` of X (T x len(cols)), W_out the
    same columns of W (n x len(cols)); X_reg and W_reg hold every other
    column, in increasing order. A part with no columns is a list of empty
    rows ([[]] * T, [[]] * n). X_out W_out^T + X_reg W_reg^T = X W^T.
    Raises ValueError naming ``X`` or ``W`` (empty, ragged, or W's width
    differs from X's) or ``cols`` (an index out of range, repeated, or not
    an int: a bool is not a column index).
    """
    raise KataTodo('microoutlier.decompose: Split the input channels: return (X_out, W_out, X_reg, W_reg).')


# === LLM.int8(): VECTOR-WISE INT8 ===
#
# The regular part is quantized finer than per-tensor: one absmax scale per
# ROW of X (per token) and one per ROW of W (per output channel). Both
# scales factor out of the dot product:
#   Y[t][o] = sum_j (sx_t qx[t][j]) (sw_o qw[o][j]) = sx_t sw_o sum_j qx[t][j] qw[o][j]
# so the kernel multiplies INT8 codes, accumulates in INT32, and rescales
# each output by the outer product of the two scale vectors.
# Signpost: this is the paper's vector-wise INT8 (row-wise absmax of X,
# per-output-channel absmax of W, INT32 accumulation), and llm_int8_matmul
# below is the paper's decomposition. bitsandbytes (Linear8bitLt) is NOT
# exactly this; it trades accuracy for speed and memory in three places:
#   1. the weight is stored once, as INT8 with one scale per row taken over
#      ALL its columns, so the outlier columns' weights come back dequantised
#      from INT8 for the float part, not as the original floats;
#   2. X's row absmax is taken after zeroing only the ELEMENTS with
#      |x| >= threshold, so a 5.5 in an outlier column still sets its
#      token's scale (here the outlier columns are out of X_reg entirely);
#   3. everything is fp16 (the float part, the scales, the output).
# On a planted 48x40x24 layer (issue 22's check) the kata's output error was
# 0.058 and bitsandbytes' 0.243. The kata follows the paper so that the split
# is exact and only the INT8 part of the regular columns rounds.


def vectorwise_int8_matmul(X, W):
    """X W^T with INT8 absmax codes, one scale per row of X and one per row of W.

    sx_t = max_j |X[t][j]| / 127, sw_o = max_j |W[o][j]| / 127 (1.0 for an
    all-zero row); codes round(v / scale) (any round-to-nearest) clipped to
    [-128, 127]; Y[t][o] = sx_t * sw_o * sum_j qx[t][j] * qw[o][j], the sum
    over integer codes. X and W may have zero-width rows (no columns): the
    result is then all zeros. Returns a T x n list of floats. Raises
    ValueError naming ``X`` or ``W`` (no rows, ragged, or widths differ).
    """
    raise KataTodo('microoutlier.vectorwise_int8_matmul: X W^T with INT8 absmax codes, one scale per row of X and one per row of W.')


def llm_int8_matmul(X, W, threshold=6.0):
    """LLM.int8(): return (Y, cols) with Y = X_out W_out^T in float + vectorwise_int8_matmul(X_reg, W_reg).

    cols = outlier_columns(X, threshold); the split is decompose(X, W, cols).
    The float part is an ordinary (unrounded) matmul of the ORIGINAL outlier
    columns of X and W; the INT8 part sees only the regular columns (its
    row scales ignore the outlier columns, even values there below the
    threshold: the paper's rule, not bitsandbytes'). Returns Y (T x n
    floats) and cols. Raises ValueError naming ``threshold``, ``X`` or ``W``.
    """
    raise KataTodo('microoutlier.llm_int8_matmul: LLM.int8(): return (Y, cols) with Y = X_out W_out^T in float + vectorwise_int8_matmul(X_reg, W_reg).')


# === SMOOTHQUANT: MIGRATE THE DIFFICULTY ===
#
# For any positive per-channel s:
#   X W^T = (X diag(s)^-1) (W diag(s))^T
# Dividing activation column j by s_j and multiplying weight column j by s_j
# changes nothing in float. Choose s to flatten the activation outliers at
# the weights' expense:
#   s_j = max_t |X[t][j]|^alpha / max_o |W[o][j]|^(1 - alpha)
# alpha = 1 moves all the range into the weights (every column of X_hat
# then peaks at exactly 1); alpha = 0 moves it all into the activations;
# alpha = 0.5 gives both the same per-channel maximum,
# sqrt(max|X_j| max|W_j|). Weights are easy to quantize (no outliers), so
# they can absorb some of the activations' difficulty.
# Signpost: in deployment s is folded offline into the previous LayerNorm's
# weights and into W, so the smoothing costs nothing at run time; the
# smoothed layer then runs in W8A8 with per-tensor scales.


def smoothquant_scales(X, W, alpha=0.5):
    """Per-input-channel SmoothQuant scales s_j = max_t|X[t][j]|^alpha / max_o|W[o][j]|^(1-alpha).

    X: T x d, W: n x d. alpha: migration strength in [0, 1]. A channel whose
    activation or weight maximum is 0 gets s_j = 1.0. Returns a list of d
    positive floats. Raises ValueError naming ``alpha`` (outside [0, 1]),
    ``X`` or ``W`` (empty, ragged, widths differ).
    """
    raise KataTodo('microoutlier.smoothquant_scales: Per-input-channel SmoothQuant scales s_j = max_t|X[t][j]|^alpha / max_o|W[o][j]|^(1-alpha).')


def smooth(X, W, scales):
    """Apply SmoothQuant: return (X_hat, W_hat) with X_hat[t][j] = X[t][j] / s_j and W_hat[o][j] = W[o][j] * s_j.

    X_hat W_hat^T equals X W^T up to float rounding. Returns new matrices.
    Raises ValueError naming ``scales`` (wrong length or an entry not a
    positive finite number: 0, negative, inf or NaN) or ``X``/``W``.
    """
    raise KataTodo('microoutlier.smooth: Apply SmoothQuant: return (X_hat, W_hat) with X_hat[t][j] = X[t][j] / s_j and W_hat[o][j] = W[o][j] * s_j.')


# === AWQ: ACTIVATION-AWARE WEIGHT QUANTIZATION ===
#
# A weight's rounding error matters in proportion to the activation it
# meets: the output error of column j is x_j * (w_j - Q(w_j)). AWQ scales
# the weight columns of salient channels UP before rounding (the relative
# rounding error of a bigger number is smaller) and their activations down:
#   Y ~= (X diag(s)^-1) Q(W diag(s))^T
# Only the weights change bits; s_j > 1 makes column j's rounding error
# shrink by ~s_j relative to its contribution (it can grow the row's absmax
# a little, which is the price).
# The scale family: s_j = mean_t |X[t][j]|^alpha, then normalised by
# sqrt(max(s) min(s)) so that the scales straddle 1. alpha is found by a grid
# search over {0, 1/grid, ..., (grid-1)/grid} minimising the layer's output
# error ||X W^T - X_hat Q(W_hat)^T||^2 on calibration tokens. alpha = 0 gives
# s = 1, plain round-to-nearest, so the search can never do worse than RTN
# on the calibration data.
# Signpost: AutoAWQ's search_best_scale does this per block with group-wise
# INT4 (group 128) and grid 20. It clamps AFTER the power,
# s = x_mean.pow(ratio).clamp(min=1e-4), where this kata floors the mean
# BEFORE the power, max(mean, 1e-4)^alpha: the two differ only for a channel
# whose mean |x| is below 1e-4 (AutoAWQ's s is then max(mean^alpha, 1e-4),
# ours 1e-4^alpha). AutoAWQ's default duo_scaling also divides by
# w_mean^(1 - alpha), like SmoothQuant; llm-awq uses the activations alone.


def awq_scales(X, alpha):
    """AWQ's scales for one alpha: s_j = max(mean_t |X[t][j]|, 1e-4)^alpha / sqrt(max_k s_k * min_k s_k).

    The mean absolute activation is floored at 1e-4 before the power; the
    normalisation uses the unnormalised values' max and min. Returns a list
    of d positive floats (all 1.0 when alpha = 0).
    """
    raw = [max(math.fsum(abs(row[j]) for row in X) / len(X), 1e-4) ** alpha for j in range(len(X[0]))]
    middle = math.sqrt(max(raw) * min(raw))
    return [s / middle for s in raw]


def awq_search(X, W, bits=4, grid=20):
    """AWQ's grid search: return (best_alpha, best_scales, losses).

    For i = 0, ..., grid-1: alpha = i / grid, s = awq_scales(X, alpha)
    (provided), W_q[o][j] = rtn_quantize(W diag(s), bits)[o][j] / s_j, and
    losses[i] = mse(X W^T, X W_q^T) (mse, rtn_quantize and matmul_nt are
    provided). best_alpha is the alpha of the smallest loss; on an exact tie
    the smaller alpha wins. best_scales = awq_scales(X, best_alpha). Raises
    ValueError naming ``bits`` (not an int in 2..8), ``grid`` (not an int
    >= 1), ``X`` or ``W``.
    """
    raise KataTodo("microoutlier.awq_search: AWQ's grid search: return (best_alpha, best_scales, losses).")


# === DEMONSTRATION ===


def planted_activations(rng, tokens, features, outliers, magnitude):
    """Gaussian activations with a few fixed outlier channels, as in LLM.int8()'s Figure 1."""
    X = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(tokens)]
    for j in outliers:
        sign = rng.choice((-1, 1))
        for row in X:
            row[j] = sign * magnitude * (0.6 + 0.4 * rng.random())
    return X


def demo_int8(X, W, outliers):
    Y = matmul_nt(X, W)
    print("1. INT8 matmul on activations with planted outlier channels", outliers)
    ranges = [max(abs(r[j]) for r in X) for j in range(len(X[0]))]
    print(f"   per-channel max |X|: median {sorted(ranges)[len(ranges) // 2]:.2f}, outliers"
          f" {', '.join(f'{ranges[j]:.1f}' for j in outliers)}")
    Y_llm, cols = llm_int8_matmul(X, W)
    rows = [("per-tensor INT8 (microquant)", per_tensor_int8_matmul(X, W)),
            ("vector-wise INT8", vectorwise_int8_matmul(X, W)),
            (f"LLM.int8(), {len(cols)} float columns", Y_llm)]
    base = mse(Y, rows[0][1])
    for label, Yq in rows:
        err = mse(Y, Yq)
        print(f"   {label:<34} output MSE {err:.3e}  ({err / base:6.1%} of per-tensor)")
    X_out, W_out, X_reg, W_reg = decompose(X, W, cols)
    split = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(matmul_nt(X_out, W_out), matmul_nt(X_reg, W_reg))]
    worst = max(abs(a - b) for ra, rb in zip(Y, split) for a, b in zip(ra, rb))
    print(f"   the float decomposition alone: max |X W^T - (outlier + regular)| = {worst:.1e}")
    share = 100 * len(cols) / len(X[0])
    print(f"   float work: {len(cols)} of {len(X[0])} channels ({share:.1f}%) of the multiply-adds\n")


def demo_smoothquant(X, W):
    Y = matmul_nt(X, W)
    print("2. SmoothQuant: migrate the range into the weights, then per-tensor W8A8")
    print(f"   {'alpha':>5} {'max|X_hat|':>10} {'max|W_hat|':>10} {'W8A8 output MSE':>16}  identity error")
    base = mse(Y, per_tensor_int8_matmul(X, W))
    print(f"   {'none':>5} {max(abs(v) for r in X for v in r):>10.2f} {max(abs(v) for r in W for v in r):>10.3f}"
          f" {base:>16.3e}")
    for alpha in (0.25, 0.5, 0.75, 1.0):
        Xh, Wh = smooth(X, W, smoothquant_scales(X, W, alpha))
        err = mse(Y, per_tensor_int8_matmul(Xh, Wh))
        ident = max(abs(a - b) for ra, rb in zip(Y, matmul_nt(Xh, Wh)) for a, b in zip(ra, rb))
        print(f"   {alpha:>5} {max(abs(v) for r in Xh for v in r):>10.2f} {max(abs(v) for r in Wh for v in r):>10.3f}"
              f" {err:>16.3e}  {ident:.1e}")
    print()


def demo_awq(X, W, outliers):
    print("3. AWQ: INT4 weights, grid search over alpha (s = mean|X_j|^alpha, normalised)")
    alpha, scales, losses = awq_search(X, W, bits=4, grid=20)
    top = max(losses)
    for i, loss in enumerate(losses):
        bar = "#" * max(1, round(40 * loss / top))
        mark = "  <- best" if i / 20 == alpha else ("  <- RTN (s = 1)" if i == 0 else "")
        print(f"   alpha {i / 20:4.2f} {loss:.3e} {bar}{mark}")
    W_rtn = rtn_quantize(W, 4)
    scaled = rtn_quantize([[v * s for v, s in zip(row, scales)] for row in W], 4)
    W_awq = [[v / s for v, s in zip(row, scales)] for row in scaled]
    for label, Wq in (("RTN", W_rtn), ("AWQ", W_awq)):
        sal = math.fsum((W[o][j] - Wq[o][j]) ** 2 for o in range(len(W)) for j in outliers)
        print(f"   {label}: weight squared error on the salient columns {sal:.3e}, output MSE"
              f" {mse(matmul_nt(X, W), matmul_nt(X, Wq)):.3e}")
    print(f"   best alpha {alpha}: output error {losses[int(alpha * 20)] / losses[0]:.1%} of round-to-nearest\n")


def main():
    random.seed(42)
    rng = random.Random(42)
    tokens, features, outputs = 48, 40, 24
    outliers = [5, 17, 31]
    X = planted_activations(rng, tokens, features, outliers, 40.0)
    W = [[rng.gauss(0, 0.3) for _ in range(features)] for _ in range(outputs)]
    print(f"Layer: {tokens} tokens x {features} input channels -> {outputs} outputs\n")
    demo_int8(X, W, outliers)
    demo_smoothquant(X, W)
    demo_awq(X, W, outliers)
    print("Outliers live in a few fixed channels: keep them in float (LLM.int8()), move\n"
          "their range into the weights (SmoothQuant), or give their weights more of the\n"
          "grid (AWQ). All three beat per-tensor INT8 / plain INT4 rounding.")


if __name__ == "__main__":
    main()
    sys.exit(0)
