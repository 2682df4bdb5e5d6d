"""Realistic microrope mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "theta_exponent_i_over_d",
        "writes theta_i = base^(-i/d) instead of base^(-2i/d), so frequencies fall half as fast",
        "return [base ** (-2 * i / d) for i in range(d // 2)]",
        "return [base ** (-i / d) for i in range(d // 2)]",
    ),
    Mutant(
        "odd_d_accepted",
        "does not reject an odd head dimension: the last coordinate silently has no partner",
        "if not isinstance(d, int) or isinstance(d, bool) or d <= 0 or d % 2:\n"
        '        raise ValueError(f"d must be a positive even int (RoPE',
        "if not isinstance(d, int) or isinstance(d, bool) or d <= 0:\n"
        '        raise ValueError(f"d must be a positive even int (RoPE',
    ),
    Mutant(
        "sin_sign_flipped",
        "rotates clockwise, (a cos + b sin, -a sin + b cos): norms and m - n still hold",
        "out[2 * i] = x0 * c - x1 * s\n        out[2 * i + 1] = x0 * s + x1 * c",
        "out[2 * i] = x0 * c + x1 * s\n        out[2 * i + 1] = -x0 * s + x1 * c",
    ),
    Mutant(
        "half_split_sin_sign_flipped",
        "half-split rotate_half with the minus on the wrong half: concat(x2, -x1)",
        "out[i] = x0 * c - x1 * s\n        out[i + half] = x0 * s + x1 * c",
        "out[i] = x0 * c + x1 * s\n        out[i + half] = -x0 * s + x1 * c",
    ),
    Mutant(
        "half_split_pairs_adjacent",
        "pairs adjacent coordinates (x[2i], x[2i+1]) in the half-split layout",
        "x0, x1 = x[i], x[i + half]\n        out[i] = x0 * c - x1 * s\n        out[i + half] = x0 * s + x1 * c",
        "x0, x1 = x[2 * i], x[2 * i + 1]\n        out[2 * i] = x0 * c - x1 * s\n        out[2 * i + 1] = x0 * s + x1 * c",
    ),
    Mutant(
        "interleaved_pairs_halves",
        "pairs x[i] with x[i + d/2] in the interleaved layout",
        "x0, x1 = x[2 * i], x[2 * i + 1]\n        out[2 * i] = x0 * c - x1 * s\n        out[2 * i + 1] = x0 * s + x1 * c",
        "x0, x1 = x[i], x[i + d // 2]\n        out[i] = x0 * c - x1 * s\n        out[i + d // 2] = x0 * s + x1 * c",
    ),
    Mutant(
        "half_split_frequency_per_coordinate",
        "half-split: uses theta of coordinate index i // 2 (interleaved habit) instead of pair i",
        "    half = d // 2\n    out = list(x)\n    for i, theta in enumerate(rope_frequencies(d, base)):\n"
        "        angle = position * theta\n",
        "    half = d // 2\n    out = list(x)\n    thetas = rope_frequencies(d, base)\n"
        "    for i, theta in enumerate(thetas):\n        angle = position * thetas[i // 2]\n",
    ),
    Mutant(
        "positions_from_one",
        "rotates by (m + 1) * theta: positions counted from 1",
        "angle = position * theta\n        c, s = math.cos(angle), math.sin(angle)\n        x0, x1 = x[2 * i]",
        "angle = (position + 1) * theta\n        c, s = math.cos(angle), math.sin(angle)\n        x0, x1 = x[2 * i]",
    ),
    Mutant(
        "inverse_permutation",
        "returns the inverse permutation (half-split -> interleaved) instead of interleaved -> half-split",
        "return list(range(0, d, 2)) + list(range(1, d, 2))",
        "return [j // 2 + (j % 2) * (d // 2) for j in range(d)]",
    ),
    Mutant(
        "scores_key_not_rotated",
        "rotates the queries but forgets to rotate the keys",
        "k_rot = [rotate_interleaved(k, n, base) for k, n in zip(K, k_positions)]",
        "k_rot = [list(k) for k in K]",
    ),
    Mutant(
        "scores_query_offset",
        "default query positions start at 1 while keys start at 0 (an off-by-one between q and k)",
        "q_positions = list(range(len(Q))) if q_positions is None",
        "q_positions = list(range(1, len(Q) + 1)) if q_positions is None",
    ),
    Mutant(
        "scores_no_sqrt_d",
        "forgets the 1/sqrt(d) scale of attention logits",
        "scale = 1.0 / math.sqrt(d)",
        "scale = 1.0",
    ),
    Mutant(
        "ntk_without_exponent",
        "NTK base' = base * s, forgetting the d/(d-2) exponent: the slowest pair is not slowed by s",
        "return base * scale ** (d / (d - 2))",
        "return base * scale",
    ),
    Mutant(
        "ntk_exponent_upside_down",
        "NTK base' = base * s^((d-2)/d)",
        "return base * scale ** (d / (d - 2))",
        "return base * scale ** ((d - 2) / d)",
    ),
    Mutant(
        "pi_scales_frequencies_via_base",
        "position interpolation done by scaling the base (the frequencies) instead of the positions",
        "return rotate_interleaved(x, position / scale, base)",
        "return rotate_interleaved(x, position, base * scale)",
    ),
    Mutant(
        "pi_wrong_direction",
        "position interpolation multiplies positions by s (extrapolates further) instead of dividing",
        "return rotate_interleaved(x, position / scale, base)",
        "return rotate_interleaved(x, position * scale, base)",
    ),
    Mutant(
        "pi_floor_division",
        "position interpolation with integer division position // s, so fractional positions collapse",
        "return rotate_interleaved(x, position / scale, base)",
        "return rotate_interleaved(x, position // scale, base)",
    ),
    Mutant(
        "ntk_also_interpolates_positions",
        "NTK scaling that also divides positions by s (PI and NTK applied together)",
        "return rotate_interleaved(x, position, base if scale == 1 else ntk_scaled_base(base, scale, d))",
        "return rotate_interleaved(x, position / scale, base if scale == 1 else ntk_scaled_base(base, scale, d))",
    ),
]
