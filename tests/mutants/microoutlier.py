"""Realistic microoutlier mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "outlier_strict_threshold",
        "uses > threshold instead of >= (a value of exactly 6.0 is missed)",
        "if max(abs(row[j]) for row in X) >= threshold]",
        "if max(abs(row[j]) for row in X) > threshold]",
    ),
    Mutant(
        "outlier_signed_max",
        "looks for large positive values only, missing negative outliers",
        "if max(abs(row[j]) for row in X) >= threshold]",
        "if max(row[j] for row in X) >= threshold]",
    ),
    Mutant(
        "outlier_rows_not_columns",
        "checks the first token's row of features only, not every token of each column",
        "if max(abs(row[j]) for row in X) >= threshold]",
        "if abs(X[0][j]) >= threshold]",
    ),
    Mutant(
        "decompose_w_rows",
        "splits W by rows (output channels) instead of by columns (input channels)",
        "return columns(X, outliers), columns(W, outliers), columns(X, regular), columns(W, regular)",
        "return columns(X, outliers), [W[j] for j in outliers], columns(X, regular), [W[j] for j in regular]",
    ),
    Mutant(
        "decompose_drops_first_regular",
        "builds the regular part with an off-by-one range, dropping column 0",
        "regular = [j for j in range(d) if j not in chosen]",
        "regular = [j for j in range(1, d) if j not in chosen]",
    ),
    Mutant(
        "vectorwise_forgets_weight_scale",
        "rescales the integer dot product by the token's scale only",
        "return [[sx * sw * sum(a * b for a, b in zip(qx, qw)) for qw, sw in QW] for qx, sx in QX]",
        "return [[sx * sum(a * b for a, b in zip(qx, qw)) for qw, sw in QW] for qx, sx in QX]",
    ),
    Mutant(
        "vectorwise_is_per_tensor",
        "uses one scale for all of X instead of one per token",
        "    QX = [absmax_codes(row) for row in X]\n",
        "    _flat = absmax_codes([v for row in X for v in row])[1]\n"
        "    QX = [([max(-128, min(127, round_half_away(v / _flat))) for v in row], _flat) for row in X]\n",
    ),
    Mutant(
        "llm_int8_quantizes_outliers",
        "sends the outlier columns through INT8 too",
        "high = matmul_nt(X_out, W_out)",
        "high = vectorwise_int8_matmul(X_out, W_out)",
    ),
    Mutant(
        "llm_int8_drops_outliers",
        "quantizes the regular part but forgets to add the float outlier part",
        "return [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(high, low)], cols",
        "return low, cols",
    ),
    Mutant(
        "smoothquant_exponent_swapped",
        "puts alpha on the weights and 1 - alpha on the activations",
        "scales.append(x_max ** alpha / w_max ** (1 - alpha) if x_max > 0 and w_max > 0 else 1.0)",
        "scales.append(x_max ** (1 - alpha) / w_max ** alpha if x_max > 0 and w_max > 0 else 1.0)",
    ),
    Mutant(
        "smoothquant_row_max",
        "takes the weight maximum over the output channel's row instead of the input channel's column",
        "w_max = max(abs(row[j]) for row in W)",
        "w_max = max(abs(v) for v in W[j % len(W)])",
    ),
    Mutant(
        "smoothquant_dead_channel_zero",
        "gives a dead channel scale 0 instead of 1",
        "if x_max > 0 and w_max > 0 else 1.0)",
        "if x_max > 0 and w_max > 0 else 0.0)",
    ),
    Mutant(
        "smooth_same_direction",
        "multiplies both X and W by s, so the product changes",
        "return [[v / s for v, s in zip(row, scales)] for row in X], [[v * s for v, s in zip(row, scales)] for row in W]",
        "return [[v * s for v, s in zip(row, scales)] for row in X], [[v * s for v, s in zip(row, scales)] for row in W]",
    ),
    Mutant(
        "awq_no_unscale",
        "quantizes W diag(s) but forgets to divide the dequantized weights by s",
        "W_q = [[v / sj for v, sj in zip(row, s)] for row in scaled]",
        "W_q = scaled",
    ),
    Mutant(
        "awq_last_tie",
        "breaks ties towards the larger alpha",
        "best = min(range(grid), key=lambda i: (losses[i], i))",
        "best = min(range(grid), key=lambda i: (losses[i], -i))",
    ),
    Mutant(
        "awq_grid_includes_one",
        "searches alpha in {1/grid, ..., 1} instead of {0, ..., (grid-1)/grid}",
        "s = awq_scales(X, i / grid)",
        "s = awq_scales(X, (i + 1) / grid)",
    ),
    Mutant(
        "awq_bits_range",
        "accepts any positive bit width (no upper bound of 8)",
        "not 2 <= bits <= 8:",
        "not 2 <= bits:",
    ),
    Mutant(
        "llm_int8_bitsandbytes_row_scale",
        "copies bitsandbytes: zeroes only the elements above the threshold, so a 5.5 in an outlier column sets the token's INT8 scale",
        "    low = vectorwise_int8_matmul(X_reg, W_reg)  # the 99.9%: INT8\n",
        "    chosen = set(cols)\n"
        "    low = []\n"
        "    for x in X:\n"
        "        qx, sx = absmax_codes([0.0 if abs(a) >= threshold else a for a in x])\n"
        "        qx = [q for j, q in enumerate(qx) if j not in chosen]\n"
        "        low.append([sx * sw * sum(a * b for a, b in zip(qx, qw)) for qw, sw in (absmax_codes(r) for r in W_reg)])\n",
    ),
]
