"""Realistic microgalore mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "orthonormalize_once",
        "runs the power iteration without re-orthonormalizing each round: every column collapses onto the top vector",
        "        Q = gram_schmidt(matmul(G, matmul(Gt, Q)))\n    return Q",
        "        Q = matmul(G, matmul(Gt, Q))\n    return gram_schmidt(Q)",
    ),
    Mutant(
        "no_power_iteration",
        "returns the orthonormalized random start without iterating",
        "    for _ in range(iters):\n        # G^T Q first",
        "    for _ in range(0):\n        # G^T Q first",
    ),
    Mutant(
        "random_full_basis",
        "no identity special case: a random orthonormal basis at full rank, which is not plain Adam",
        "    if rank == m:\n        return identity(m)\n",
        "",
    ),
    Mutant(
        "round_up_on_tie",
        "rounds up when u <= fraction, so integers round up when u = 0",
        "return low + 1 if u < x - low else low",
        "return low + 1 if u <= x - low else low",
    ),
    Mutant(
        "nearest_rounding",
        "rounds to nearest instead of stochastically: biased",
        "return low + 1 if u < x - low else low",
        "return low + 1 if x - low >= 0.5 else low",
    ),
    Mutant(
        "round_toward_zero",
        "uses int() (toward zero) instead of floor, wrong for negative values",
        "    low = math.floor(x)\n",
        "    low = int(x)\n",
    ),
    Mutant(
        "qmax_power_of_two",
        "uses 2^(bits-1) as qmax, so the largest code exceeds the signed range",
        "qmax = 2 ** (bits - 1) - 1\n    scales = []",
        "qmax = 2 ** (bits - 1)\n    scales = []",
    ),
    Mutant(
        "bits_unchecked_high",
        "accepts bits up to 16 in quantize_basis",
        "not 2 <= bits <= 8:\n        raise ValueError(f\"bits must be an integer in 2..8",
        "not 2 <= bits <= 16:\n        raise ValueError(f\"bits must be an integer in 2..8",
    ),
    Mutant(
        "refresh_off_by_one",
        "refreshes when t % T == 0 instead of on steps 1, T + 1, ...",
        "if P is None or (t - 1) % refresh_every == 0:",
        "if P is None or t % refresh_every == 0:",
    ),
    Mutant(
        "refresh_every_step",
        "recomputes the projection on every step",
        "if P is None or (t - 1) % refresh_every == 0:",
        "if True:",
    ),
    Mutant(
        "no_bias_correction",
        "forgets Adam's bias correction in the projected space",
        "N.append([(a / c1) / (math.sqrt(b / c2) + eps) for a, b in zip(mr, vr)])",
        "N.append([a / (math.sqrt(b) + eps) for a, b in zip(mr, vr)])",
    ),
    Mutant(
        "alpha_ignored",
        "forgets GaLore's scale alpha",
        "[[w - lr * alpha * u for w, u",
        "[[w - lr * u for w, u",
    ),
    Mutant(
        "reset_moments_on_refresh",
        "resets m and v to zero whenever P is refreshed",
        "    R = project(P, G)\n    n = len(G[0])\n",
        "    R = project(P, G)\n    n = len(G[0])\n    if (t - 1) % refresh_every == 0:\n        state = new_state()\n",
    ),
    Mutant(
        "alpha_unchecked",
        "does not validate alpha",
        "    if not 0.0 <= alpha <= 1.0:\n        raise",
        "    if False:\n        raise",
    ),
    Mutant(
        "zero_column_divides_by_zero",
        "no 1.0 scale for an all-zero column: the absmax scale is 0 and the codes divide by it",
        "scales.append(largest / qmax if largest > 0.0 else 1.0)",
        "scales.append(largest / qmax)",
    ),
    Mutant(
        "iters_unchecked",
        "does not validate iters: a negative count silently runs no rounds",
        "    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 0:",
        "    if False:",
    ),
]
