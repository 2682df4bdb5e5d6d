"""Realistic microquant mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "int4_symmetric_range",
        "takes the INT4 grid to be [-7, 7] (and INT8 [-127, 127]), losing the extra negative code",
        "return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1",
        "return -(2 ** (bits - 1)) + 1, 2 ** (bits - 1) - 1",
    ),
    Mutant(
        "scale_over_128",
        "divides max |w| by 2^(bits-1) (128 for INT8) instead of 2^(bits-1) - 1",
        "return largest / qmax",
        "return largest / (qmax + 1)",
    ),
    Mutant(
        "absmax_ignores_sign",
        "takes the max of the values instead of the max of their magnitudes",
        "largest = max(abs(v) for v in values)",
        "largest = max(values)",
    ),
    Mutant(
        "absmax_zero_division",
        "does not guard the all-zero tensor, so the scale is 0 and quantize divides by zero",
        "    if largest == 0.0:\n        return 1.0\n",
        "",
    ),
    Mutant(
        "no_clipping",
        "rounds but never clips, so values beyond the grid get out-of-range codes",
        "return [min(qmax, max(qmin, round_half_away(v / scale) + zero_point)) for v in values]",
        "return [round_half_away(v / scale) + zero_point for v in values]",
    ),
    Mutant(
        "truncates",
        "truncates toward zero with int() instead of rounding to the nearest code",
        "return [min(qmax, max(qmin, round_half_away(v / scale) + zero_point)) for v in values]",
        "return [min(qmax, max(qmin, int(v / scale) + zero_point)) for v in values]",
    ),
    Mutant(
        "zero_point_not_subtracted",
        "dequantizes as scale * q, forgetting to subtract the zero-point",
        "return [scale * (q - zero_point) for q in codes]",
        "return [scale * q for q in codes]",
    ),
    Mutant(
        "zero_point_wrong_sign",
        "adds round(lo / scale) to qmin instead of subtracting it",
        "zero_point = min(qmax, max(qmin, qmin - round_half_away(lo / scale)))",
        "zero_point = min(qmax, max(qmin, qmin + round_half_away(lo / scale)))",
    ),
    Mutant(
        "zero_point_range_excludes_zero",
        "uses [min(v), max(v)] without stretching it to hold 0",
        "lo, hi = min(min(values), 0.0), max(max(values), 0.0)",
        "lo, hi = min(values), max(values)",
    ),
    Mutant(
        "zero_point_constant_divides_by_zero",
        "computes (hi - lo) / (qmax - qmin) without the all-zero guard",
        "scale = (hi - lo) / (qmax - qmin) if hi > lo else 1.0",
        "scale = (hi - lo) / (qmax - qmin)",
    ),
    Mutant(
        "zero_point_symmetric_steps",
        "spreads the range over 2^bits - 2 steps (a [-7, 7] INT4 grid) in zero-point quantization",
        "scale = (hi - lo) / (qmax - qmin) if hi > lo else 1.0",
        "scale = (hi - lo) / (qmax - qmin - 1) if hi > lo else 1.0",
    ),
    Mutant(
        "per_channel_over_columns",
        "gives each column its own scale instead of each row (output channel)",
        "        scales = [absmax_scale(row, bits) for row in W]\n"
        "        codes = [quantize(row, s, bits) for row, s in zip(W, scales)]\n"
        "        return codes, scales",
        "        scales = [absmax_scale(list(col), bits) for col in zip(*W)]\n"
        "        codes = [[quantize([v], s, bits)[0] for v, s in zip(row, scales)] for row in W]\n"
        "        return codes, scales",
    ),
    Mutant(
        "per_channel_ignored",
        "returns one scale per row, but every one of them is the per-tensor scale",
        "        scales = [absmax_scale(row, bits) for row in W]\n",
        "        scales = [absmax_scale([v for r in W for v in r], bits)] * len(W)\n",
    ),
    Mutant(
        "size_forgets_scales",
        "counts only the packed codes, not the float32 scales",
        "return code_bytes + groups * per_group",
        "return code_bytes",
    ),
    Mutant(
        "size_floor_bytes",
        "rounds the packed INT4 bytes down, dropping the last half-filled byte",
        "code_bytes = -(-rows * cols * bits // 8)",
        "code_bytes = rows * cols * bits // 8",
    ),
    Mutant(
        "size_one_scale_per_channel_model",
        "counts a single scale even for per-channel quantization",
        "groups = rows if per_channel else 1",
        "groups = 1",
    ),
]
