"""Realistic microembedding mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "no_boundary_markers",
        "builds n-grams of the bare name, without the '<' and '>' markers",
        'text = "<" + name + ">"',
        "text = name",
    ),
    Mutant(
        "ngram_window_off_by_one",
        "stops the n-gram window one position early, losing the last n-gram",
        "for start in range(len(text) - n + 1):",
        "for start in range(len(text) - n):",
    ),
    Mutant(
        "no_normalisation",
        "returns W x without dividing by its norm",
        "    return [v / norm for v in z]\n    # END SOLUTION",
        "    return z\n    # END SOLUTION",
    ),
    Mutant(
        "swap_not_adjacent",
        "swaps position i with the last character instead of its neighbour",
        "return name[:i] + name[i + 1] + name[i] + name[i + 2:]",
        "return name[:i] + name[-1] + name[i + 1:-1] + name[i]",
    ),
    Mutant(
        "delete_never_last",
        "draws the deletion position from 0 .. len - 2, so the last character is never deleted",
        "        i = rng.randrange(len(name))\n        return name[:i] + name[i + 1:]",
        "        i = rng.randrange(len(name) - 1)\n        return name[:i] + name[i + 1:]",
    ),
    Mutant(
        "one_direction_only",
        "computes InfoNCE over the rows only (U -> V), not the symmetric mean",
        "    return (rows + columns) / (2 * B)",
        "    return rows / B",
    ),
    Mutant(
        "times_temperature",
        "multiplies the similarities by the temperature instead of dividing",
        "    S = [[sum(a * b for a, b in zip(u, v)) / temperature for v in V] for u in U]\n    rows",
        "    S = [[sum(a * b for a, b in zip(u, v)) * temperature for v in V] for u in U]\n    rows",
    ),
    Mutant(
        "unstable_log_softmax",
        "exponentiates the raw logits in the log-softmax (no max subtraction)",
        "    top = max(logits)\n    log_total",
        "    top = 0.0\n    log_total",
    ),
    Mutant(
        "accepts_negative_temperature",
        "only rejects a temperature of exactly zero",
        "or not temperature > 0:",
        "or temperature == 0:",
    ),
    Mutant(
        "grad_misses_column_term",
        "differentiates only the row-wise cross-entropy",
        "G = [[(P_row[i][j] + P_col_t[j][i] - 2.0 * (i == j)) / (2 * B)",
        "G = [[(P_row[i][j] - 1.0 * (i == j)) / (2 * B)",
    ),
    Mutant(
        "grad_forgets_temperature",
        "forgets the 1/T of S = U V^T / T in dU",
        "dU = [[sum(G[i][j] * V[j][e] for j in range(B)) / temperature",
        "dU = [[sum(G[i][j] * V[j][e] for j in range(B))",
    ),
    Mutant(
        "grad_dv_uses_v",
        "builds dV from V instead of U",
        "dV = [[sum(G[i][j] * U[i][e] for i in range(B))",
        "dV = [[sum(G[i][j] * V[i][e] for i in range(B))",
    ),
    Mutant(
        "normalize_backward_no_projection",
        "divides the incoming gradient by ||z|| but forgets to remove its component along z",
        "return [(g - a * along) / norm for g, a in zip(grad_e, e)]",
        "return [g / norm for g in grad_e]",
    ),
    Mutant(
        "only_first_view_updates_w",
        "backpropagates into W from the first view only",
        "for z, active, g in zip(zs, xs, dU + dV):",
        "for z, active, g in zip(zs, xs, dU):",
    ),
    Mutant(
        "skip_normalize_backward",
        "passes the embedding gradient straight to W, ignoring the normalisation",
        "        dz = normalize_backward(z, g)\n",
        "        dz = g\n",
    ),
    Mutant(
        "neighbours_by_dot_product",
        "ranks by raw dot product instead of cosine similarity",
        "scores = [(-cosine(query, row), i) for i, row in enumerate(embeddings)]",
        "scores = [(-sum(a * b for a, b in zip(query, row)), i) for i, row in enumerate(embeddings)]",
    ),
    Mutant(
        "neighbours_least_similar",
        "sorts ascending by similarity (farthest first)",
        "scores = [(-cosine(query, row), i) for i, row in enumerate(embeddings)]",
        "scores = [(cosine(query, row), i) for i, row in enumerate(embeddings)]",
    ),
    Mutant(
        "grad_skips_batch_checks",
        "the gradient checks the temperature but not the batch shapes",
        "    check_batch(U, V, temperature)\n    B, E = len(U), len(U[0])",
        "    if not temperature > 0:\n        raise ValueError('temperature must be positive')\n    B, E = len(U), len(U[0])",
    ),
    Mutant(
        "features_lowercase",
        "lowercases the name before taking n-grams",
        'text = "<" + name + ">"',
        'text = "<" + name.lower() + ">"',
    ),
]
