"""
Second-order weight quantization, from scratch: GPTQ rounds one column at a
time and pushes each rounding error onto the columns not yet rounded, guided
by the layer's Hessian; SqueezeLLM spends a non-uniform 3- or 4-bit codebook
where the loss is sensitive, and keeps the few largest weights exactly.

microquant rounds every weight to its nearest grid point independently
(round-to-nearest, RTN). But the layer's output error is not the sum of the
weight errors: for a row w and calibration inputs X (one row per token),
    error(w_q) = ||X w - X w_q||^2 = (w - w_q)^T H (w - w_q) / 2,   H = 2 X^T X
When inputs are correlated, the error of one weight can be cancelled by
nudging the weights of correlated inputs. GPTQ (Frantar et al., 2023) does
exactly that, greedily, column by column, with the update rule of Optimal
Brain Surgeon, computed for all columns at once from one Cholesky factor of
H^-1. With H = I (uncorrelated inputs) nothing can be cancelled and GPTQ is
RTN, bit for bit.

SqueezeLLM (Kim et al., 2024) attacks the grid instead: the 2^bits levels of a
row are not evenly spaced but found by k-means weighted by each weight's
sensitivity (here the diagonal of H), and the largest-magnitude weights are
pulled out into a sparse float matrix so they stop stretching the codebook:
W = dense + sparse, exactly.

References: Frantar, Ashkboos, Hoefler and Alistarh, "GPTQ: Accurate
Post-Training Quantization for Generative Pre-trained Transformers" (2023);
Hassibi and Stork, "Optimal Brain Surgeon" (1993); Kim et al., "SqueezeLLM:
Dense-and-Sparse Quantization" (2024).
"""

from __future__ import annotations

import math
import random
import sys

# Kata skeleton generated from solutions/microgptq/microgptq.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microgptq`; stuck? `python -m workbook hint microgptq`.
from workbook import KataTodo

# === PROVIDED: MATRICES AND ROUND-TO-NEAREST (microquant) ===
#
# W: n x d, one row per output channel. X: T x d, one row per calibration
# token. The layer computes Y = X W^T. Quantization is per output row
# (per channel), symmetric absmax, codes in [-2^(b-1), 2^(b-1) - 1].


def check_matrix(M, name):
    """ValueError naming ``name`` unless M is a non-empty list of equal-length, non-empty rows."""
    if not M or not M[0] or any(len(row) != len(M[0]) for row in M):
        raise ValueError(f"{name} must be a non-empty matrix of equal-length, non-empty rows")


def check_bits(bits):
    """ValueError naming ``bits`` unless it is an int in 2..8."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an int in 2..8, got {bits!r}")


def round_half_away(x: float) -> int:
    """Nearest integer; exact halves go away from zero (microquant's rounding)."""
    # Compare the fractional part with 0.5 instead of computing floor(|x| + 0.5):
    # that sum is rounded, so 0.49999999999999994 + 0.5 == 1.0 and would round up.
    # |x| - floor(|x|) is exact in floating point.
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:
        n += 1
    return n if x >= 0 else -n


def row_scales(W, bits):
    """Per-row absmax scales max|W[r]| / (2^(bits-1) - 1); 1.0 for an all-zero row."""
    qmax = 2 ** (bits - 1) - 1
    return [max(abs(v) for v in row) / qmax if any(row) else 1.0 for row in W]


def quantize_value(v, scale, bits):
    """One code: clip(round_half_away(v / scale), -2^(bits-1), 2^(bits-1) - 1)."""
    qmax = 2 ** (bits - 1) - 1
    return max(-qmax - 1, min(qmax, round_half_away(v / scale)))


def rtn_quantize(W, bits):
    """Round-to-nearest: (codes, scales), every weight rounded on its own with its row's scale."""
    scales = row_scales(W, bits)
    return [[quantize_value(v, s, bits) for v in row] for row, s in zip(W, scales)], scales


def dequantize(codes, scales):
    return [[s * q for q in row] for row, s in zip(codes, scales)]


def matmul_nt(X, W):
    """Y = X W^T."""
    return [[math.fsum(a * b for a, b in zip(x, w)) for w in W] for x in X]


def output_error(X, W, W_q):
    """The layer's output error ||X W^T - X W_q^T||^2 (summed over tokens and outputs)."""
    return math.fsum((a - b) ** 2 for ra, rb in zip(matmul_nt(X, W), matmul_nt(X, W_q)) for a, b in zip(ra, rb))


# === THE HESSIAN OF THE LAYER-WISE OBJECTIVE ===
#
# For one output row w, E(w_q) = sum_t (x_t . w - x_t . w_q)^2. It is a
# quadratic in w_q with Hessian
#   H = 2 sum_t x_t x_t^T = 2 X^T X        (d x d; the paper writes 2 X X^T
#                                           with X stored d x tokens)
# The same H serves every row: it depends only on the inputs. Off-diagonal
# entries measure how correlated two input channels are; that correlation
# is what lets one weight compensate for another's rounding error.


def hessian(X):
    """H = 2 X^T X for calibration inputs X (T tokens x d features): H[i][j] = 2 sum_t X[t][i] X[t][j].

    Returns a d x d symmetric list of lists. Raises ValueError naming ``X``
    when it is empty or ragged.
    """
    raise KataTodo('microgptq.hessian: H = 2 X^T X for calibration inputs X (T tokens x d features): H[i][j] = 2 sum_t X[t][i] X[t][j].')


# === CHOLESKY, IN THE STANDARD LIBRARY ===
#
# A symmetric positive-definite A factors as A = L L^T with L lower
# triangular (Cholesky-Banachiewicz, row by row):
#   L[i][j] = (A[i][j] - sum_{k<j} L[i][k] L[j][k]) / L[j][j]     (j < i)
#   L[i][i] = sqrt(A[i][i] - sum_{k<i} L[i][k]^2)
# The square root's argument is positive exactly when A is positive
# definite, so the factorisation doubles as the test for it.


def cholesky(A):
    """Lower-triangular L with A = L L^T for a symmetric positive-definite A (list of lists).

    Entries above the diagonal of L are 0.0. Raises ValueError naming ``A``
    when it is not square or not positive definite (a pivot <= 0).
    """
    raise KataTodo('microgptq.cholesky: Lower-triangular L with A = L L^T for a symmetric positive-definite A (list of lists).')


def lower_inverse(L):
    """L^-1 of a lower-triangular L by forward substitution (itself lower triangular)."""
    n = len(L)
    inv = [[0.0] * n for _ in range(n)]
    for col in range(n):
        # Solve L y = e_col: y[i] = (e_col[i] - sum_{k<i} L[i][k] y[k]) / L[i][i].
        for i in range(col, n):
            rest = (1.0 if i == col else 0.0) - math.fsum(L[i][k] * inv[k][col] for k in range(col, i))
            inv[i][col] = rest / L[i][i]
    return inv


# === DAMPING AND THE CHOLESKY FACTOR OF H^-1 ===
#
# H can be singular (a dead input channel, fewer tokens than features), so
# GPTQ adds a small multiple of the identity first:
#   lambda = percdamp * mean(diag H),   H <- H + lambda I     (percdamp = 0.01)
# Then it needs H^-1 = L^-T L^-1 and, crucially, the UPPER Cholesky factor
# U of H^-1 (H^-1 = U^T U). Row j of U holds, up to a scale, the inverse
# Hessian of the columns j..d-1 that remain after columns 0..j-1 have been
# quantized and fixed: Optimal Brain Surgeon's sequence of shrinking inverse
# Hessians, all read off one factorisation instead of d rank-one updates.


def gptq_hinv_factor(H, percdamp=0.01):
    """Upper-triangular U with U^T U = (H + lambda I)^-1, lambda = percdamp * mean(diag H).

    H: d x d symmetric positive semi-definite (list of lists). Steps: damp,
    L = cholesky(H_damped), H^-1 = L^-T L^-1 (lower_inverse is provided),
    U = transpose(cholesky(H^-1)). Entries below U's diagonal are 0.0.
    Raises ValueError naming ``percdamp`` (negative) or ``H`` (not square,
    or not positive definite after damping).
    """
    raise KataTodo('microgptq.gptq_hinv_factor: Upper-triangular U with U^T U = (H + lambda I)^-1, lambda = percdamp * mean(diag H).')


# === GPTQ: COLUMN BY COLUMN, WITH ERROR FEEDBACK ===
#
# For every row at once (the Hessian is shared), for j = 0, 1, ..., d-1:
#   q_j   = quant(w_j)                                  round column j
#   e     = (w_j - q_j) / U[j][j]                       its scaled error
#   w_k  -= e * U[j][k]   for k > j                     compensate on the rest
# This is OBS's optimal update for the remaining weights,
#   delta_F = -(w_j - q_j) / [H_F^-1]_jj * (H_F^-1)_{:, j},
# with [H_F^-1]_jj = U[j][j]^2 and (H_F^-1)_{j, k} = U[j][j] U[j][k].
# Intuition: a rounding error in column j is partly undone by shifting the
# weights of inputs correlated with input j, which the layer cannot tell
# apart from input j. Columns already rounded are never touched again.
# The scales are fixed from the original W before the loop (per row absmax),
# so error feedback may push a later weight past the grid: it saturates.
# Signpost: the real implementation processes columns in blocks of 128 with
# "lazy batch" updates (same result, GPU-friendly), uses group-wise scales,
# and optionally visits columns in order of decreasing diag(H) (act-order).


def gptq_quantize(W, H, bits, percdamp=0.01):
    """GPTQ: return (codes, scales) for W (n x d) given the Hessian H (d x d) of its inputs.

    scales = per-row absmax of the ORIGINAL W (provided row_scales); U =
    gptq_hinv_factor(H, percdamp). Work on a copy of W; for j = 0..d-1 and
    every row r: codes[r][j] = quantize_value(w[r][j], scales[r], bits)
    (provided: round half away, clip), err = (w[r][j] - scales[r] *
    codes[r][j]) / U[j][j], then w[r][k] -= err * U[j][k] for all k > j.
    codes: n x d Python ints. W is not modified. Raises ValueError naming
    ``bits`` (not an int in 2..8), ``W`` (empty, ragged) or ``H`` (not d x d).
    """
    raise KataTodo('microgptq.gptq_quantize: GPTQ: return (codes, scales) for W (n x d) given the Hessian H (d x d) of its inputs.')


# === SQUEEZELLM: SENSITIVITY-WEIGHTED K-MEANS ===
#
# A uniform grid spends its levels evenly over [min, max], but weights are
# bell-shaped and not equally important. SqueezeLLM picks the 2^bits levels
# of each row by minimising the SENSITIVITY-WEIGHTED squared error
#   sum_i s_i (w_i - c_{a(i)})^2
# with s_i an estimate of how much the loss cares about weight i (the paper
# uses the Fisher information; here the Hessian diagonal H[c][c], the
# second-order cost of moving weight (r, c) alone). That is 1-D weighted
# k-means (Lloyd's algorithm):
#   init:   c_k = lo + (hi - lo) k / (K - 1)        the uniform grid, K = 2^bits
#   repeat: a(i) = argmin_k |w_i - c_k|            (ties: the lower k)
#           c_k  = sum_{a(i)=k} s_i w_i / sum_{a(i)=k} s_i   (unchanged if empty)
# Each step can only lower the weighted error, and the start IS the uniform
# grid: the result is never worse than it. Storage: a b-bit index per weight
# plus a K-entry float16 table per row.


def nearest_index(v, centroids):
    """Index of the centroid nearest to v; on a tie the lower index."""
    best = 0
    for k in range(1, len(centroids)):
        if abs(v - centroids[k]) < abs(v - centroids[best]):
            best = k
    return best


def weighted_kmeans(values, weights, bits, iters=10):
    """SqueezeLLM's 1-D weighted k-means: return (centroids, assignments).

    values: non-empty list of floats; weights: same length, each >= 0 (the
    sensitivities); K = 2^bits centroids. Init: the uniform grid
    c_k = lo + (hi - lo) * k / (K - 1), lo/hi = min/max of values. Each of
    ``iters`` iterations: assign every value to its nearest centroid (ties
    to the lower index; nearest_index is provided), then move each centroid
    to the weighted mean of its values (a centroid with no values, or zero
    total weight, stays). Finally assign once more to the final centroids.
    Returns (list of K floats, list of ints in [0, K)). iters = 0 gives the
    uniform grid. Raises ValueError naming ``bits`` (not an int in 2..8),
    ``values`` (empty), ``weights`` (wrong length or a negative entry) or
    ``iters`` (not an int >= 0).
    """
    raise KataTodo("microgptq.weighted_kmeans: SqueezeLLM's 1-D weighted k-means: return (centroids, assignments).")


# === SQUEEZELLM: DENSE AND SPARSE ===
#
# One weight of magnitude 10 in a row of magnitude-0.1 weights stretches a
# row's range (and its codebook) by 100x. SqueezeLLM removes the top ~0.5%
# by magnitude into a sparse matrix kept in float (CSR on a GPU):
#   W = D + S,   S holds the outliers, D is W with them zeroed.
# The split is exact: every entry lives in exactly one of the two, the other
# holds an exact 0.0. Only D is quantized.


def dense_sparse_split(W, fraction):
    """Split W into (dense, sparse): the floor(fraction * rows * cols) largest |W| entries go to sparse.

    Ranking by |W[r][c]|, largest first; ties broken by row-major position
    (smaller (r, c) first). sparse: a list of (r, c, value) tuples sorted by
    (r, c); dense: a new matrix equal to W except 0.0 at the sparse
    positions. dense + sparse reconstructs W exactly. Raises ValueError
    naming ``fraction`` (outside [0, 1]) or ``W`` (empty, ragged).
    """
    raise KataTodo('microgptq.dense_sparse_split: Split W into (dense, sparse): the floor(fraction * rows * cols) largest |W| entries go to sparse.')


def squeezellm_quantize(W, sensitivity, bits, fraction, iters=10):
    """Dense-and-sparse + per-row weighted k-means: the dequantized W (sparse entries kept exactly).

    sensitivity[c] weighs every weight of column c (the Hessian diagonal).
    """
    dense, sparse = dense_sparse_split(W, fraction)
    sparse_at = {(r, c) for r, c, _ in sparse}
    out = []
    for r, row in enumerate(dense):
        keep = [c for c in range(len(row)) if (r, c) not in sparse_at]
        centroids, assign = weighted_kmeans([row[c] for c in keep], [sensitivity[c] for c in keep], bits, iters)
        q = list(row)
        for c, a in zip(keep, assign):
            q[c] = centroids[a]
        out.append(q)
    for r, c, v in sparse:
        out[r][c] = v
    return out


# === DEMONSTRATION ===


def correlated_inputs(rng, tokens, features, rank=6, noise=0.1):
    """Tokens that live near a low-dimensional subspace: input channels strongly correlated."""
    basis = [[rng.gauss(0, 1) for _ in range(features)] for _ in range(rank)]
    X = []
    for _ in range(tokens):
        z = [rng.gauss(0, 1) for _ in range(rank)]
        X.append([sum(zk * b[j] for zk, b in zip(z, basis)) + noise * rng.gauss(0, 1) for j in range(features)])
    return X


def demo_gptq(X, W):
    H = hessian(X)
    print(f"1. GPTQ vs round-to-nearest: {len(W)} x {len(W[0])} layer, {len(X)} correlated calibration tokens")
    print(f"   {'bits':>4} {'RTN error':>12} {'GPTQ error':>12} {'GPTQ / RTN':>11}")
    for bits in (8, 4, 3, 2):
        rtn = output_error(X, W, dequantize(*rtn_quantize(W, bits)))
        gptq = output_error(X, W, dequantize(*gptq_quantize(W, H, bits)))
        print(f"   {bits:>4} {rtn:>12.4e} {gptq:>12.4e} {gptq / rtn:>10.1%}")
    identity = [[float(i == j) for j in range(len(W[0]))] for i in range(len(W[0]))]
    same = gptq_quantize(W, identity, 4)[0] == rtn_quantize(W, 4)[0]
    print(f"   with H = I (uncorrelated inputs) GPTQ's codes equal RTN's: {same}\n")


def demo_squeezellm(X, W):
    H = hessian(X)
    sensitivity = [H[c][c] for c in range(len(W[0]))]
    print("2. SqueezeLLM at 3 bits: uniform grid vs weighted k-means vs dense-and-sparse")
    uniform = []
    for row in W:
        centroids, assign = weighted_kmeans(row, [sensitivity[c] for c in range(len(row))], 3, iters=0)
        uniform.append([centroids[a] for a in assign])
    rows = [("RTN absmax INT3", dequantize(*rtn_quantize(W, 3))),
            ("uniform [min, max] grid", uniform),
            ("weighted k-means", squeezellm_quantize(W, sensitivity, 3, 0.0)),
            ("k-means + 2% sparse", squeezellm_quantize(W, sensitivity, 3, 0.02))]
    print(f"   {'method':<26} {'weighted weight err':>20} {'output error':>13}")
    for label, W_q in rows:
        werr = math.fsum(sensitivity[c] * (a - b) ** 2 for ra, rb in zip(W, W_q) for c, (a, b) in enumerate(zip(ra, rb)))
        print(f"   {label:<26} {werr:>20.4e} {output_error(X, W, W_q):>13.4e}")
    dense, sparse = dense_sparse_split(W, 0.02)
    exact = all(d + dict(((r, c), v) for r, c, v in sparse).get((i, j), 0.0) == w
                for i, (rd, rw) in enumerate(zip(dense, W)) for j, (d, w) in enumerate(zip(rd, rw)))
    print(f"   dense + sparse == W exactly: {exact} ({len(sparse)} sparse entries of {len(W) * len(W[0])})\n")


def main():
    random.seed(42)
    rng = random.Random(42)
    tokens, features, outputs = 96, 28, 12
    X = correlated_inputs(rng, tokens, features)
    W = [[rng.gauss(0, 0.2) for _ in range(features)] for _ in range(outputs)]
    for _ in range(5):  # a few large weights, as trained LLM layers have
        W[rng.randrange(outputs)][rng.randrange(features)] = rng.choice((-1, 1)) * rng.uniform(1.0, 1.6)
    demo_gptq(X, W)
    demo_squeezellm(X, W)
    print("GPTQ lets correlated inputs absorb each other's rounding errors; SqueezeLLM\n"
          "puts the codebook where the sensitive weights are and keeps outliers exact.")


if __name__ == "__main__":
    main()
    sys.exit(0)
