"""Realistic microbitnet mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "binarize_no_centring",
        "takes Sign(W) instead of Sign(W - mean(W))",
        "codes = [[1 if v - alpha > 0 else -1 for v in row] for row in W]",
        "codes = [[1 if v > 0 else -1 for v in row] for row in W]",
    ),
    Mutant(
        "binarize_sign_zero_plus",
        "sends an entry equal to the mean to +1",
        "codes = [[1 if v - alpha > 0 else -1 for v in row] for row in W]",
        "codes = [[1 if v - alpha >= 0 else -1 for v in row] for row in W]",
    ),
    Mutant(
        "binarize_beta_absmax",
        "uses the largest |W| as beta instead of the mean |W|",
        "beta = math.fsum(abs(v) for row in W for v in row) / count",
        "beta = max(abs(v) for row in W for v in row)",
    ),
    Mutant(
        "binarize_beta_of_centred",
        "computes beta from W - alpha instead of W",
        "beta = math.fsum(abs(v) for row in W for v in row) / count",
        "beta = math.fsum(abs(v - alpha) for row in W for v in row) / count",
    ),
    Mutant(
        "ternarize_absmax",
        "scales by max |W| (absmax) instead of the mean |W| (absmean)",
        "gamma = math.fsum(abs(v) for row in W for v in row) / (len(W) * len(W[0]))",
        "gamma = max(abs(v) for row in W for v in row)",
    ),
    Mutant(
        "ternarize_per_row_mean",
        "divides the sum of |W| by the number of columns instead of the number of entries",
        "gamma = math.fsum(abs(v) for row in W for v in row) / (len(W) * len(W[0]))",
        "gamma = math.fsum(abs(v) for row in W for v in row) / len(W[0])",
    ),
    Mutant(
        "ternarize_truncates",
        "truncates W / gamma toward zero instead of rounding it",
        "codes = [[max(-1, min(1, round_half_away(v / denominator))) for v in row] for row in W]",
        "codes = [[max(-1, min(1, int(v / denominator))) for v in row] for row in W]",
    ),
    Mutant(
        "ternarize_bankers_rounding",
        "uses Python's round(), so exact halves go to 0 instead of away from zero",
        "codes = [[max(-1, min(1, round_half_away(v / denominator))) for v in row] for row in W]",
        "codes = [[max(-1, min(1, round(v / denominator))) for v in row] for row in W]",
    ),
    Mutant(
        "ternarize_zero_division",
        "does not guard gamma + eps == 0",
        "    if denominator == 0:\n        return [[0] * len(row) for row in W], gamma\n",
        "",
    ),
    Mutant(
        "ternarize_ignores_eps",
        "divides by gamma alone, ignoring eps",
        "denominator = gamma + eps",
        "denominator = gamma if gamma else eps",
    ),
    Mutant(
        "matmul_multiplies",
        "multiplies each code by x instead of adding or subtracting",
        "            if q == 1:\n                acc = acc + v\n",
        "            if q == 1:\n                acc = acc + q * v\n",
    ),
    Mutant(
        "matmul_sign_flip",
        "adds x for code -1 as well",
        "acc = acc - v",
        "acc = acc + v",
    ),
    Mutant(
        "ste_exclusive_boundary",
        "passes the gradient only strictly inside the clip range",
        "return [g if abs(w) <= clip else 0.0 for w, g in zip(latent, upstream)]",
        "return [g if abs(w) < clip else 0.0 for w, g in zip(latent, upstream)]",
    ),
    Mutant(
        "ste_no_clip",
        "passes every gradient through, even far outside the clip range",
        "return [g if abs(w) <= clip else 0.0 for w, g in zip(latent, upstream)]",
        "return list(upstream)",
    ),
    Mutant(
        "grad_x_through_latent",
        "backpropagates to x through the latent float weights instead of the ternary ones",
        "grad_x = [gamma * math.fsum(g * row[c] for g, row in zip(grad_y, codes)) for c in range(len(x))]",
        "grad_x = [math.fsum(g * row[c] for g, row in zip(grad_y, W)) for c in range(len(x))]",
    ),
    Mutant(
        "grad_x_forgets_gamma",
        "backpropagates through the codes but forgets the scale gamma",
        "grad_x = [gamma * math.fsum(g * row[c] for g, row in zip(grad_y, codes)) for c in range(len(x))]",
        "grad_x = [math.fsum(g * row[c] for g, row in zip(grad_y, codes)) for c in range(len(x))]",
    ),
    Mutant(
        "grad_W_quantised",
        "scales the weight gradient by the ternary codes (differentiating through the quantiser's output)",
        "grad_W = [[g * v for v in x] for g in grad_y]",
        "grad_W = [[g * v * q for v, q in zip(x, qs)] for g, qs in zip(grad_y, codes)]",
    ),
    Mutant(
        "ternarize_floor_plus_half",
        "rounds with floor(|x| + 0.5), which sends 0.49999999999999994 to 1 (the sum rounds up to 1.0)",
        "round_half_away(v / denominator)",
        "int(math.copysign(math.floor(abs(v / denominator) + 0.5), v))",
    ),
]
