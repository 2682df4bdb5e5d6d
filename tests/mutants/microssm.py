"""Realistic microssm mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "zoh_b_is_euler",
        "uses delta * B (the Euler/Mamba shortcut) where ZOH asks for (exp(delta A) - 1) / A * B",
        "B_bar.append(math.expm1(delta * a) / a * b if a != 0 else delta * b)",
        "B_bar.append(delta * b)",
    ),
    Mutant(
        "zoh_wrong_sign",
        "writes exp(-delta A), so a negative A grows instead of decaying",
        "A_bar.append(math.exp(delta * a))",
        "A_bar.append(math.exp(-delta * a))",
    ),
    Mutant(
        "zoh_cancels_for_tiny_a",
        "computes exp(delta A) - 1 directly, which cancels catastrophically for tiny delta A",
        "B_bar.append(math.expm1(delta * a) / a * b if a != 0 else delta * b)",
        "B_bar.append((math.exp(delta * a) - 1.0) / a * b if a != 0 else delta * b)",
    ),
    Mutant(
        "zoh_divides_by_zero",
        "forgets the A = 0 limit of the ZOH B_bar",
        "B_bar.append(math.expm1(delta * a) / a * b if a != 0 else delta * b)",
        "B_bar.append(math.expm1(delta * a) / a * b)",
    ),
    Mutant(
        "euler_without_step",
        "forgets the step size in Euler's A_bar",
        "return [1.0 + delta * a for a in A], [delta * b for b in B]",
        "return [1.0 + a for a in A], [delta * b for b in B]",
    ),
    Mutant(
        "readout_before_update",
        "reads y_t from the previous state h_{t-1}",
        "        h = [a * h_n + b * x_t for a, h_n, b in zip(A_bar, h, B_bar)]\n        y.append(sum(c * h_n for c, h_n in zip(C_t, h)))",
        "        y.append(sum(c * h_n for c, h_n in zip(C_t, h)))\n        h = [a * h_n + b * x_t for a, h_n, b in zip(A_bar, h, B_bar)]",
    ),
    Mutant(
        "fixed_step",
        "discretises every token with the first token's delta (not selective)",
        "A_bar, B_bar = discretize_zoh(A, B_t, step)\n        h = ",
        "A_bar, B_bar = discretize_zoh(A, B_t, delta[0])\n        h = ",
    ),
    Mutant(
        "no_validation",
        "accepts delta <= 0 and mismatched B / C",
        "    N = len(A)\n    check_sequence(x, delta, B, C, N)\n    h = [0.0] * N",
        "    N = len(A)\n    h = [0.0] * N",
    ),
    Mutant(
        "kernel_starts_at_one",
        "starts the kernel at A_bar ** 1 instead of A_bar ** 0",
        "power = [1.0] * len(A)",
        "power = list(A_bar)",
    ),
    Mutant(
        "convolution_not_flipped",
        "multiplies kernel[k] by x[k] instead of x[t - k]",
        "sum(kernel[k] * x[t - k] for k in range(t + 1))",
        "sum(kernel[k] * x[k] for k in range(t + 1))",
    ),
    Mutant(
        "combine_wrong_order",
        "composes the affine maps in the wrong order: a1 * b2 + b1",
        "[q * u + v for q, u, v in zip(a2, b1, b2)]",
        "[p * v + u for p, u, v in zip(a1, b1, b2)]",
    ),
    Mutant(
        "sequential_fold",
        "computes the prefixes with a left-to-right fold (correct, but not parallel)",
        "    n = len(elements)\n    if n <= 1:\n        return list(elements)\n    pairs",
        "    out = list(elements[:1])\n    for element in elements[1:]:\n        out.append(combine(out[-1], element))\n    return out\n    n = len(elements)\n    if n <= 1:\n        return list(elements)\n    pairs",
    ),
    Mutant(
        "fill_swaps_operands",
        "fills the even positions with combine(e_i, prefix): order matters",
        "out.append(combine(pair_prefixes[i // 2 - 1], elements[i]))",
        "out.append(combine(elements[i], pair_prefixes[i // 2 - 1]))",
    ),
]
