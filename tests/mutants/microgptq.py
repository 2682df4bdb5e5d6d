"""Realistic microgptq mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "hessian_without_two",
        "computes X^T X, forgetting the factor 2",
        "H[i][j] = H[j][i] = 2.0 * math.fsum(row[i] * row[j] for row in X)",
        "H[i][j] = H[j][i] = math.fsum(row[i] * row[j] for row in X)",
    ),
    Mutant(
        "hessian_over_tokens",
        "builds the token-by-token Gram matrix's diagonal pattern by indexing rows instead of columns",
        "H[i][j] = H[j][i] = 2.0 * math.fsum(row[i] * row[j] for row in X)",
        "H[i][j] = H[j][i] = 2.0 * math.fsum(row[i] * row[i] for row in X)",
    ),
    Mutant(
        "cholesky_no_sqrt",
        "stores the pivot itself on the diagonal instead of its square root",
        "L[i][i] = math.sqrt(rest)",
        "L[i][i] = rest",
    ),
    Mutant(
        "cholesky_upper_sum",
        "subtracts products of the i-th row with itself in the off-diagonal update",
        "rest = A[i][j] - math.fsum(L[i][k] * L[j][k] for k in range(j))",
        "rest = A[i][j] - math.fsum(L[i][k] * L[i][k] for k in range(j))",
    ),
    Mutant(
        "cholesky_no_pd_check",
        "takes sqrt of a non-positive pivot without checking (abs to dodge the math error)",
        "                if not rest > 0:\n",
        "                rest = abs(rest) or 1e-300\n                if False:\n",
    ),
    Mutant(
        "damp_sum_not_mean",
        "damps with percdamp * trace(H) instead of percdamp * mean(diag H)",
        "damp = percdamp * math.fsum(H[i][i] for i in range(d)) / d",
        "damp = percdamp * math.fsum(H[i][i] for i in range(d))",
    ),
    Mutant(
        "lower_factor_not_upper",
        "returns the lower Cholesky factor of H^-1 instead of its transpose",
        "return [[lower[j][i] for j in range(d)] for i in range(d)]",
        "return lower",
    ),
    Mutant(
        "factor_of_h_not_inverse",
        "takes the Cholesky factor of the damped H itself rather than of its inverse",
        "    lower = cholesky(H_inv)\n",
        "    lower = cholesky(damped)\n",
    ),
    Mutant(
        "gptq_no_error_feedback",
        "quantizes column by column but never feeds the error forward (that is RTN)",
        "                row[k] -= err * U[j][k]",
        "                pass",
    ),
    Mutant(
        "gptq_error_not_scaled",
        "feeds forward the raw rounding error without dividing by U[j][j]",
        "err = (row[j] - s * q) / U[j][j]",
        "err = row[j] - s * q",
    ),
    Mutant(
        "gptq_error_sign",
        "adds the compensation instead of subtracting it",
        "                row[k] -= err * U[j][k]",
        "                row[k] += err * U[j][k]",
    ),
    Mutant(
        "gptq_feedback_uses_column",
        "reads the update from U's column j instead of its row j",
        "                row[k] -= err * U[j][k]",
        "                row[k] -= err * U[k][j]",
    ),
    Mutant(
        "kmeans_unweighted_mean",
        "moves each centroid to the plain mean of its cluster, ignoring the sensitivities",
        "            totals[a] += w\n            sums[a] += w * v\n",
        "            totals[a] += 1.0\n            sums[a] += v\n",
    ),
    Mutant(
        "kmeans_init_k_steps",
        "spreads the initial grid over K steps instead of K - 1, so the top level misses max",
        "centroids = [lo + (hi - lo) * k / (K - 1) for k in range(K)]",
        "centroids = [lo + (hi - lo) * k / K for k in range(K)]",
    ),
    Mutant(
        "kmeans_no_final_assignment",
        "returns the assignments from before the last centroid update",
        "    return centroids, [nearest_index(v, centroids) for v in values]",
        "    return centroids, (assignments if iters else [nearest_index(v, centroids) for v in values])",
    ),
    Mutant(
        "split_signed_ranking",
        "ranks entries by value instead of magnitude, missing large negative weights",
        "key=lambda rc: (-abs(W[rc[0]][rc[1]]), rc))",
        "key=lambda rc: (-W[rc[0]][rc[1]], rc))",
    ),
    Mutant(
        "split_ties_last",
        "breaks magnitude ties towards the later position",
        "key=lambda rc: (-abs(W[rc[0]][rc[1]]), rc))",
        "key=lambda rc: (-abs(W[rc[0]][rc[1]]), -rc[0], -rc[1]))",
    ),
    Mutant(
        "split_keeps_dense_copy",
        "copies the outliers into sparse but leaves them in dense too (double counted)",
        "        dense[r][c] = 0.0\n",
        "        pass\n",
    ),
    Mutant(
        "split_rounds_count",
        "rounds fraction * entries to the nearest instead of flooring it",
        "count = math.floor(fraction * rows * cols)",
        "count = round(fraction * rows * cols)",
    ),
    Mutant(
        "gptq_floor_plus_half",
        "rounds each code with floor(|x| + 0.5), which sends 0.49999999999999994 to 1",
        "            q = quantize_value(row[j], s, bits)\n",
        "            q = max(-2 ** (bits - 1), min(2 ** (bits - 1) - 1, "
        "int(math.copysign(math.floor(abs(row[j] / s) + 0.5), row[j]))))\n",
    ),
]
