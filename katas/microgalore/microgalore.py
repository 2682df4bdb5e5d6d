"""
GaLore and Q-GaLore, from scratch: train a weight matrix with Adam whose
state lives in a rank-r subspace of the gradient, found by power iteration,
refreshed every T steps, and (Q-GaLore) stored as INT4 with stochastic
rounding.

Adam keeps two floats (m, v) per weight: for an m x n matrix that is 2 m n
floats, twice the model. GaLore observes that the gradient G of a weight
matrix is close to low rank during training, so it projects it:
    R = P^T G            (r x n: the gradient in the subspace)
    N = Adam(R)          (m and v are r x n: 2 r n floats, not 2 m n)
    W <- W - lr * alpha * P N      (back to m x n)
where P (m x r) holds the top-r left singular vectors of G. P is recomputed
only every T steps: the subspace drifts slowly, and an SVD is expensive.
Q-GaLore stores P in INT4 (the projection tolerates it) and keeps the
weights themselves in INT8, updated with stochastic rounding so that small
updates survive on average. This kata teaches stochastic rounding on P
instead (see the Q-GALORE section for what the paper does).

References: Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient
Low-Rank Projection" (ICML 2024), Algorithm 2; Zhang et al., "Q-GaLore:
Quantized GaLore with INT4 Projection and Layer-Adaptive Low-Rank Gradients"
(2024); Halko, Martinsson, Tropp, "Finding structure with randomness" (2011)
for subspace iteration.
"""

from __future__ import annotations

import math
import random

# Kata skeleton generated from solutions/microgalore/microgalore.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microgalore`; stuck? `python -m workbook hint microgalore`.
from workbook import KataTodo

# === SMALL MATRIX HELPERS (PROVIDED) ===
#
# Matrices are lists of rows. G is m x n (rows = output features of a
# linear layer), P is m x r, the projected gradient R = P^T G is r x n.


def transpose(A):
    """A^T as a new list of rows."""
    return [list(col) for col in zip(*A)]


def matmul(A, B):
    """A @ B for lists of rows (A: a x k, B: k x b)."""
    cols = list(zip(*B))
    return [[sum(x * y for x, y in zip(row, col)) for col in cols] for row in A]


def gram_schmidt(A):
    """Orthonormal columns spanning A's columns (modified Gram-Schmidt, left to right).

    A: m x r with linearly independent columns. Returns m x r with Q^T Q = I
    and column j of Q in the span of columns 0..j of A (same orientation:
    Q[:, j] . A[:, j] > 0).
    """
    cols = [list(c) for c in zip(*A)]
    done = []
    for c in cols:
        # Subtract the parts along the finished columns one at a time, each
        # from the UPDATED vector (the "modified" variant), and do it twice:
        # when c lies almost inside their span (a rank-deficient G), one pass
        # leaves rounding noise that is not orthogonal; a second pass fixes
        # it ("twice is enough", Giraud et al. 2005).
        for _ in range(2):
            for q in done:
                dot = sum(a * b for a, b in zip(c, q))
                c = [a - dot * b for a, b in zip(c, q)]
        norm = math.sqrt(sum(a * a for a in c))
        if norm == 0.0:
            raise ValueError("A has linearly dependent columns: cannot orthonormalize")
        done.append([a / norm for a in c])
    return [list(row) for row in zip(*done)]


def identity(m):
    return [[1.0 if i == j else 0.0 for j in range(m)] for i in range(m)]


def check_rank(rank, G):
    """ValueError naming rank unless 1 <= rank <= min(m, n)."""
    m, n = len(G), len(G[0])
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= min(m, n):
        raise ValueError(f"rank must be an integer in 1..min(m, n) = {min(m, n)}, got {rank!r}")


# === THE PROJECTION: TOP-r LEFT SINGULAR VECTORS BY SUBSPACE ITERATION ===
#
# GaLore takes P from an SVD of G. Without numpy we use subspace (block
# power) iteration, which needs only matrix products:
#     Q_0 = gram_schmidt(Z),   Z an m x r matrix of N(0, 1) draws
#     Q_{i+1} = gram_schmidt(G (G^T Q_i))         i = 0 .. iters-1
# G G^T has eigenvalues sigma_j^2, so each round multiplies the component
# along singular vector j by sigma_j^2 before renormalising: after k rounds
# the unwanted directions shrink like (sigma_{r+1} / sigma_r)^(2k). Gram-
# Schmidt every round stops every column collapsing onto the top vector.
#
# Full rank: when r = m the subspace is all of R^m, and ANY orthonormal
# basis spans it. But Adam is elementwise, not rotation invariant: Adam on
# Q^T G then rotated back by Q differs from Adam on G unless Q is the
# identity (or a signed permutation). This file's convention: rank = m
# returns exactly the identity, so full-rank GaLore IS plain Adam.
# Signpost: the GaLore code calls torch.linalg.svd on every refresh; the
# randomized range finder above is what large-scale SVD libraries use.
# GaLore also picks the SIDE: for G of m x n it projects on the left
# (P^T G, P is m x r) when m < n and on the right (G Q, Q is n x r) when
# m >= n, so the orthonormal factor is always the smaller one
# (min(m, n) x r) and the state r x max(m, n). This kata always projects on
# the left, which is GaLore's choice only for m < n (the demo's 12 x 16).
#
# The limit of a fixed number of rounds: the error of the subspace shrinks
# like (sigma_{r+1} / sigma_r)^(2 iters). With a clear gap (ratio 0.5) ten
# rounds give ~1e-6; with NO gap (ratio near 1, e.g. rank 4 of a rank-2
# signal plus noise, where sigma_4 / sigma_5 can be 1.02) ten rounds leave a
# projector far from the SVD's (0.24 in its largest entry on the demo's
# planted 12 x 16 case): a different subspace, not a rounding error. It takes about ln(1 / tol) / (2 ln(sigma_r / sigma_{r+1})) rounds
# to reach tol (hundreds here); an SVD has no such limit. The demo shows it.

POWER_ITERS = 10  # rounds of subspace iteration: exact only where sigma_{r+1} / sigma_r is well below 1
BASIS_SEED = 0    # the fixed seed of the random start


def galore_basis(G, rank, iters=POWER_ITERS, seed=BASIS_SEED):
    """Return P (m x rank) with orthonormal columns spanning G's top-rank left singular subspace.

    G: m x n gradient. rank: 1 <= rank <= min(m, n). If rank == m, return
    the m x m identity (see above). Otherwise: rng = random.Random(seed);
    Z[i][j] = rng.gauss(0.0, 1.0) drawn row by row (i outer, j inner);
    Q = gram_schmidt(Z); then ``iters`` times Q = gram_schmidt(G (G^T Q)).
    Returns Q as a new list of rows. Raises ValueError naming ``rank`` when it
    is not an int in 1..min(m, n), ``iters`` when it is not an int >= 0 (a
    bool is not an int here), both checked before the rank == m shortcut.

    Limit: P P^T approaches the SVD's projector like
    (sigma_{rank+1} / sigma_rank)^(2 iters). The default 10 rounds are exact
    to ~1e-6 only for a clear gap (ratio <= 0.5); with no gap (ratio near 1)
    P spans a different subspace unless iters is in the hundreds (graded:
    ratio 1/1.05, 250 rounds, within 1e-6 of the exact projector).
    """
    raise KataTodo("microgalore.galore_basis: Return P (m x rank) with orthonormal columns spanning G's top-rank left singular subspace.")


def project(P, G):
    """R = P^T G: the m x n gradient as r x n coordinates in the basis P (m x r). Returns new lists.

    Raises ValueError naming G when G does not have P's m rows.
    """
    raise KataTodo('microgalore.project: R = P^T G: the m x n gradient as r x n coordinates in the basis P (m x r). Returns new lists.')


def project_back(P, N):
    """P N: an r x n update in the subspace back to the m x n weight space. Returns new lists.

    Raises ValueError naming N when N does not have P's r rows.
    """
    raise KataTodo('microgalore.project_back: P N: an r x n update in the subspace back to the m x n weight space. Returns new lists.')


# === Q-GALORE: AN INT PROJECTION WITH STOCHASTIC ROUNDING ===
#
# What Q-GaLore (Zhang et al. 2024) does, and what this kata does instead:
#   * P is stored in INT4 with ORDINARY (round-to-nearest) block-wise
#     quantization (blocks of 256 values); no stochastic rounding on P.
#   * the WEIGHTS are stored in INT8, and stochastic rounding is applied to
#     the weight update W - lr * update, so that updates smaller than one
#     INT8 step still move W on average instead of being rounded away.
#   * subspaces are refreshed lazily, per layer: when a layer's successive
#     projections stay aligned (cosine similarity >= 40% over a few checks)
#     its SVD interval doubles.
# This kata keeps float weights and a fixed T, and puts stochastic rounding
# on P with one scale per column: the same unbiased-rounding idea, on a
# matrix small enough to inspect. Treat quantize_basis as the SR exercise,
# not as Q-GaLore's projection quantizer.
#
# Absmax quantization as in microquant: codes in [-qmax, qmax], qmax =
# 2^(bits-1) - 1, value = scale * code. One scale per COLUMN of P: each
# column is one basis vector, and their entries have similar sizes.
#   scale_j = max_i |P[i][j]| / qmax          (1.0 for an all-zero column)
# Round to nearest is biased for any fixed value: 0.3 always becomes 0.
# Stochastic rounding goes up with probability equal to the fraction:
#     x = f + p, f = floor(x), 0 <= p < 1:   up to f + 1 with probability p
#     E[round(x)] = f (1 - p) + (f + 1) p = f + p = x      exactly
# so averaged over refreshes (or over the many entries a matmul sums) the
# rounding errors cancel instead of piling up in one direction.


def stochastic_round(x, rng):
    """Round x to floor(x) + 1 with probability x - floor(x), else to floor(x); return an int.

    rng: anything with a random() method returning a float in [0, 1). Call
    rng.random() exactly once (even when x is an integer); round up iff
    u < x - floor(x). So integers never move, and E[result] = x exactly.
    """
    raise KataTodo('microgalore.stochastic_round: Round x to floor(x) + 1 with probability x - floor(x), else to floor(x); return an int.')


def quantize_basis(P, bits, rng):
    """Quantize P (m x r) to signed ``bits``-bit codes, one absmax scale per column, stochastic rounding.

    qmax = 2^(bits-1) - 1; scales[j] = max_i |P[i][j]| / qmax (1.0 if the
    column is all zeros); codes[i][j] = stochastic_round(P[i][j] / scales[j],
    rng), visiting entries row by row (i outer, j inner). Returns (codes,
    scales): codes an m x r list of ints in [-qmax, qmax], scales a list of
    r floats. Raises ValueError naming ``bits`` unless it is an int in 2..8.
    """
    raise KataTodo('microgalore.quantize_basis: Quantize P (m x r) to signed ``bits``-bit codes, one absmax scale per column, stochastic rounding.')


def dequantize_basis(codes, scales):
    """codes[i][j] * scales[j] as floats: the P the optimizer actually uses."""
    return [[q * s for q, s in zip(row, scales)] for row in codes]


# === THE GALORE OPTIMIZER STEP ===
#
# One step at step number t (1, 2, ...), following GaLore's Algorithm 2:
#   if t is a refresh step: P = galore_basis(G, r)   (Q-GaLore: quantized)
#   R = P^T G
#   m = b1 m + (1 - b1) R;   v = b2 v + (1 - b2) R^2       (r x n, elementwise)
#   N = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#   W = W - lr * alpha * P N
# Refresh steps are t = 1, T + 1, 2T + 1, ...: P is fixed in between. As in
# the GaLore code, m and v are KEPT across a refresh (they were measured in
# the old basis; the paper finds the mismatch harmless when T is large).
# alpha is GaLore's scale (0.25 in the paper), in [0, 1].


def new_state():
    """The optimizer state before the first step: no basis yet, no moments."""
    return {"P": None, "m": None, "v": None}


def galore_step(W, G, state, t, lr, rank, refresh_every, alpha=1.0, bits=None, rng=None,
                beta1=0.9, beta2=0.999, eps=1e-8):
    """One GaLore (bits=None) or this kata's Q-GaLore variant (bits=4: P with stochastic rounding) step; returns (new_W, new_state).

    W, G: m x n weights and gradient. state: new_state() before step 1, else
    the state the previous step returned: {"P": m x r floats, "m": r x n,
    "v": r x n}. t: step number >= 1. On refresh steps ((t - 1) %
    refresh_every == 0) P = galore_basis(G, rank); with bits set, P is
    replaced by dequantize_basis(*quantize_basis(P, bits, rng)) (rng is used
    only there). On the first step m and v start as r x n zeros. Then the
    equations above. W, G and state are not changed. Raises ValueError
    naming ``rank`` (not in 1..min(m, n)), ``alpha`` (outside [0, 1]),
    ``bits`` (not None and not in 2..8), ``refresh_every`` (not a positive
    int) or ``t`` (not a positive int).
    """
    raise KataTodo("microgalore.galore_step: One GaLore (bits=None) or this kata's Q-GaLore variant (bits=4: P with stochastic rounding) step; returns (new_W, new_state).")


def adam_step_matrix(W, G, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Plain Adam on a matrix (the baseline): returns (W, m, v), new lists."""
    c1, c2 = 1.0 - beta1 ** t, 1.0 - beta2 ** t
    new_W, new_m, new_v = [], [], []
    for w_row, g_row, m_row, v_row in zip(W, G, m, v):
        mr = [beta1 * a + (1.0 - beta1) * g for a, g in zip(m_row, g_row)]
        vr = [beta2 * b + (1.0 - beta2) * g * g for b, g in zip(v_row, g_row)]
        new_m.append(mr)
        new_v.append(vr)
        new_W.append([w - lr * (a / c1) / (math.sqrt(b / c2) + eps) for w, a, b in zip(w_row, mr, vr)])
    return new_W, new_m, new_v


# === DEMONSTRATION: A LOW-RANK REGRESSION ===
#
# Learn W (m x n) so that W x matches a rank-2 teacher's outputs; loss is the
# mean squared error over a fixed batch (targets with a little noise), gradient G = (2/B) (W X - Y) X^T.
# The gradient of such a problem is close to low rank, GaLore's premise.


def regression_problem(rng, m, n, batch, true_rank):
    U = [[rng.gauss(0, 1) for _ in range(true_rank)] for _ in range(m)]
    V = [[rng.gauss(0, 1) / math.sqrt(n) for _ in range(n)] for _ in range(true_rank)]
    teacher = matmul(U, V)
    X = [[rng.gauss(0, 1) for _ in range(batch)] for _ in range(n)]
    noise = [[rng.gauss(0, 0.05) for _ in range(batch)] for _ in range(m)]
    return teacher, X, [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(matmul(teacher, X), noise)]


def loss_and_grad(W, X, Y):
    B = len(X[0])
    diff = [[a - b for a, b in zip(ra, rb)] for ra, rb in zip(matmul(W, X), Y)]
    loss = sum(d * d for row in diff for d in row) / (len(diff) * B)
    G = [[2.0 * g / (len(diff) * B) for g in row] for row in matmul(diff, transpose(X))]
    return loss, G


def train(kind, W0, X, Y, steps, lr, rank=None, refresh_every=10, bits=None):
    W, state = [list(r) for r in W0], new_state()
    m = [[0.0] * len(W0[0]) for _ in W0]
    v = [[0.0] * len(W0[0]) for _ in W0]
    rng = random.Random(42)
    losses = []
    for t in range(1, steps + 1):
        loss, G = loss_and_grad(W, X, Y)
        losses.append(loss)
        if kind == "adam":
            W, m, v = adam_step_matrix(W, G, m, v, t, lr)
        else:
            W, state = galore_step(W, G, state, t, lr, rank, refresh_every, bits=bits, rng=rng)
    return losses, state


def main():
    random.seed(42)
    rng = random.Random(42)
    print("1. Stochastic rounding is unbiased: 20,000 rounds of each value")
    for x in (0.3, -1.7, 2.5, 3.0):
        draws = [stochastic_round(x, rng) for _ in range(20000)]
        mean = sum(draws) / len(draws)
        print(f"   x = {x:>5}: outcomes {sorted(set(draws))}, mean {mean:+.4f}  (round-to-nearest: {round(x)})")
    print()

    m, n, batch = 12, 16, 40
    teacher, X, Y = regression_problem(rng, m, n, batch, true_rank=2)
    W0 = [[0.0] * n for _ in range(m)]
    _, G = loss_and_grad(W0, X, Y)
    print(f"2. Power iteration on the first gradient ({m} x {n}); teacher rank 2")
    for r in (1, 2, 4):
        P = galore_basis(G, r)
        R = project(P, G)
        kept = sum(x * x for row in R for x in row) / sum(x * x for row in G for x in row)
        err = max(abs(a - (1.0 if i == j else 0.0)) for i, row in enumerate(matmul(transpose(P), P))
                  for j, a in enumerate(row))
        print(f"   rank {r}: |P^T G|^2 / |G|^2 = {kept:.6f}   max |P^T P - I| = {err:.1e}")
    print()

    # The limit of 10 rounds: compare with a basis iterated to convergence.
    # With Gram-Schmidt each round, column j converges to singular vector j,
    # so the row norms of Q^T G of a converged rank-5 basis are sigma_1..5.
    converged5 = galore_basis(G, 5, iters=1000)
    sigma = [math.sqrt(sum(x * x for x in row)) for row in project(converged5, G)]
    print("3. When 10 rounds are not enough: the gap sigma_r / sigma_(r+1) decides")
    print("   sigma_1..5 = " + ", ".join(f"{x:.4f}" for x in sigma))

    def projector_distance(A, B):
        PA, PB = matmul(A, transpose(A)), matmul(B, transpose(B))
        return max(abs(a - b) for ra, rb in zip(PA, PB) for a, b in zip(ra, rb))

    for r in (2, 4):
        exact = galore_basis(G, r, iters=1000)
        cells = "   ".join(f"{k:>4} rounds {projector_distance(galore_basis(G, r, iters=k), exact):.1e}"
                           for k in (10, 50, 200))
        print(f"   rank {r} (sigma_{r}/sigma_{r + 1} = {sigma[r - 1] / sigma[r]:.3f}): max |P P^T - exact| {cells}")
    # A planted 12 x 16 gradient with known singular vectors and NO gap at rank 4.
    U = gram_schmidt([[rng.gauss(0, 1) for _ in range(6)] for _ in range(m)])
    V = gram_schmidt([[rng.gauss(0, 1) for _ in range(6)] for _ in range(n)])
    planted = [3.0, 2.0, 0.6, 0.51, 0.5, 0.45]
    G_flat = [[sum(U[i][k] * planted[k] * V[j][k] for k in range(6)) for j in range(n)] for i in range(m)]
    exact = [row[:4] for row in U]
    cells = "   ".join(f"{k:>4} rounds {projector_distance(galore_basis(G_flat, 4, iters=k), exact):.1e}"
                       for k in (10, 50, 200, 1000))
    print(f"   planted, rank 4 (sigma_4/sigma_5 = {planted[3] / planted[4]:.2f}): max |P P^T - exact| {cells}")
    print("   With a gap, 10 rounds are exact. Without one they return a DIFFERENT subspace than the\n"
          "   SVD GaLore calls (torch.linalg.svd): ~ln(1/tol) / (2 ln(sigma_r/sigma_r+1)) rounds are needed.\n")

    steps, lr = 80, 0.05
    runs = [("Adam (full)", "adam", None, None), ("GaLore r = m", "galore", m, None),
            ("GaLore r = 4", "galore", 4, None), ("GaLore r = 2", "galore", 2, None),
            ("Q-GaLore r = 4, INT4", "galore", 4, 4)]
    print(f"4. Training W ({m} x {n}) for {steps} steps, lr {lr}, projection refresh every 10 steps")
    print(f"   {'optimizer':<22} {'loss@1':>9} {'loss@20':>9} {'loss@80':>9} {'state floats':>13}")
    results = {}
    for label, kind, r, bits in runs:
        losses, state = train(kind, W0, X, Y, steps, lr, rank=r, bits=bits)
        results[label] = losses
        floats = 2 * m * n if kind == "adam" else 2 * r * n
        print(f"   {label:<22} {losses[0]:>9.5f} {losses[19]:>9.5f} {losses[-1]:>9.5f} {floats:>13}")
    same = max(abs(a - b) for a, b in zip(results["Adam (full)"], results["GaLore r = m"]))
    print(f"   full-rank GaLore vs Adam: max |loss difference| = {same:.1e} (identity basis: exactly Adam)")
    p_floats = m * 4
    print(f"   projection P (m x r = {p_floats} values): {32 * p_floats} bits as float32,"
          f" {4 * p_floats + 32 * 4} bits as INT4 + one float32 scale per column\n")
    print("GaLore keeps Adam's m and v for the r x n projected gradient only; this kata's\n"
          "Q-GaLore variant also stores the projection in 4 bits, unbiased by stochastic rounding\n"
          "(the paper rounds P to nearest and puts stochastic rounding on its INT8 weights).")


if __name__ == "__main__":
    main()
