"""Realistic microattention mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "scale_by_d",
        "divides the scores by d instead of sqrt(d)",
        "scale = 1.0 / math.sqrt(d)",
        "scale = 1.0 / d",
    ),
    Mutant(
        "unstable_softmax",
        "exponentiates the raw scores without subtracting the row max",
        "weights = [math.exp(s - peak) for s in scores]",
        "weights = [math.exp(s) for s in scores]",
    ),
    Mutant(
        "scores_then_mask",
        "computes a score for every key and masks afterwards, so hidden keys still cost work",
        "        keys = range(len(K)) if mask is None else [j for j in range(len(K)) if mask[i][j]]\n"
        "        if not keys:\n"
        "            raise ValueError(f\"mask row {i} hides every key: softmax over nothing is undefined\")\n"
        "        scores = [dot(q, K[j], counter) * scale for j in keys]\n",
        "        keys = range(len(K)) if mask is None else [j for j in range(len(K)) if mask[i][j]]\n"
        "        if not keys:\n"
        "            raise ValueError(f\"mask row {i} hides every key: softmax over nothing is undefined\")\n"
        "        every = [dot(q, k, counter) * scale for k in K]\n"
        "        scores = [every[j] for j in keys]\n",
    ),
    Mutant(
        "split_heads_strided",
        "splits heads by striding over columns (h, h + H, ...) instead of contiguous slices",
        "return [[list(row[h * size:(h + 1) * size]) for row in X] for h in range(n_heads)]",
        "return [[list(row[h::n_heads]) for row in X] for h in range(n_heads)]",
    ),
    Mutant(
        "forgets_output_projection",
        "returns the concatenated heads without multiplying by Wo",
        "    return matmul(merge_heads(heads), params[\"Wo\"], counter)\n    # END SOLUTION\n\n\n"
        "# === MULTI-QUERY ATTENTION ===",
        "    return merge_heads(heads)\n    # END SOLUTION\n\n\n# === MULTI-QUERY ATTENTION ===",
    ),
    Mutant(
        "mha_drops_mask",
        "forgets to pass the mask to the per-head attention in MHA (every head sees the future)",
        "        scaled_dot_product_attention(q, k, v, mask, counter)\n        for q, k, v in zip(",
        "        scaled_dot_product_attention(q, k, v, None, counter)\n        for q, k, v in zip(",
    ),
    Mutant(
        "mqa_projects_kv_per_head",
        "recomputes the shared K and V inside the loop over query heads (same output, n_heads x the work)",
        "heads = [scaled_dot_product_attention(q, K, V, mask, counter) for q in q_heads]",
        "heads = [scaled_dot_product_attention(q, matmul(X, params[\"Wk\"], counter), "
        "matmul(X, params[\"Wv\"], counter), mask, counter) for q in q_heads]",
    ),
    Mutant(
        "gqa_interleaved_groups",
        "assigns query head h to KV head h % n_kv_heads instead of h // group",
        "scaled_dot_product_attention(q_heads[h], k_heads[h // group], v_heads[h // group], mask, counter)",
        "scaled_dot_product_attention(q_heads[h], k_heads[h % n_kv_heads], v_heads[h % n_kv_heads], mask, counter)",
    ),
    Mutant(
        "gqa_no_divisibility_check",
        "does not check that n_kv_heads divides n_heads (crashes or silently drops heads)",
        "if not isinstance(n_kv_heads, int) or isinstance(n_kv_heads, bool) or n_kv_heads <= 0 or n_heads % n_kv_heads:\n"
        "        raise ValueError(\n",
        "if not isinstance(n_kv_heads, int) or isinstance(n_kv_heads, bool) or n_kv_heads <= 0:\n"
        "        raise ValueError(\n",
    ),
    Mutant(
        "pool_sums_heads",
        "adds the heads of a group instead of averaging them",
        "new_row.append(sum(members) / group)",
        "new_row.append(sum(members))",
    ),
    Mutant(
        "window_one_too_wide",
        "sliding window keeps key i - window too (window + 1 keys)",
        "return [[i - window < j <= i for j in range(n)] for i in range(n)]",
        "return [[i - window <= j <= i for j in range(n)] for i in range(n)]",
    ),
    Mutant(
        "window_one_too_narrow",
        "sliding window drops its oldest key (window - 1 keys)",
        "return [[i - window < j <= i for j in range(n)] for i in range(n)]",
        "return [[i - window + 1 < j <= i for j in range(n)] for i in range(n)]",
    ),
    Mutant(
        "window_excludes_self",
        "sliding window shifted back by one: query i sees i-window .. i-1, not itself",
        "return [[i - window < j <= i for j in range(n)] for i in range(n)]",
        "return [[i - window <= j < i or (i == 0 and j == 0) for j in range(n)] for i in range(n)]",
    ),
    Mutant(
        "window_not_causal",
        "symmetric (non-causal) window: query i also sees the next window - 1 keys",
        "return [[i - window < j <= i for j in range(n)] for i in range(n)]",
        "return [[abs(i - j) < window for j in range(n)] for i in range(n)]",
    ),
    Mutant(
        "mults_full_square",
        "counts all n^2 pairs in the multiplication formula instead of the causal triangle/band",
        "pairs = w * (w + 1) // 2 + (seq_len - w) * w",
        "pairs = seq_len * w",
    ),
    Mutant(
        "mults_kv_projections_full_width",
        "counts K and V projections as d_model wide whatever n_kv_heads is",
        "projections = seq_len * d_model * (2 * d_model + 2 * n_kv_heads * head_dim)",
        "projections = seq_len * d_model * (2 * d_model + 2 * d_model)",
    ),
    Mutant(
        "kv_cache_ignores_window",
        "sizes the sliding-window cache as if it kept every position",
        "positions = seq_len if window is None else min(window, seq_len)",
        "positions = seq_len",
    ),
    Mutant(
        "kv_cache_per_query_head",
        "sizes the cache by query heads (counts the repeat_kv copies) instead of KV heads",
        "return 2 * positions * n_kv_heads * head_dim",
        "return 2 * positions * n_heads * head_dim",
    ),
]
