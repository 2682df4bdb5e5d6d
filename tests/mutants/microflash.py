"""Realistic microflash mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "no_rescale",
        "adds the new block to acc without rescaling the old acc by exp(m - m')",
        "alpha * a + sum(w * row[c]",
        "a + sum(w * row[c]",
    ),
    Mutant(
        "no_rescale_of_sum",
        "rescales acc but forgets to rescale the running sum l",
        "l_new = alpha * l + sum(weights)",
        "l_new = l + sum(weights)",
    ),
    Mutant(
        "block_max",
        "uses the block's max instead of the running max",
        "m_new = max(m, max(scores))",
        "m_new = max(scores)",
    ),
    Mutant(
        "missing_scale",
        "forgets the 1/sqrt(d) scale in flash attention",
        "    hbm = hbm if hbm is not None else HBM()\n    scale = 1.0 / math.sqrt(d)\n    O = zeros(n, d)",
        "    hbm = hbm if hbm is not None else HBM()\n    scale = 1.0\n    O = zeros(n, d)",
    ),
    Mutant(
        "scale_by_d",
        "divides the scores by d instead of sqrt(d) in standard attention",
        "    hbm = hbm if hbm is not None else HBM()\n    scale = 1.0 / math.sqrt(d)\n\n",
        "    hbm = hbm if hbm is not None else HBM()\n    scale = 1.0 / d\n\n",
    ),
    Mutant(
        "divide_twice",
        "normalises the output by l twice",
        "[[a / l[r] for a in acc[r]]",
        "[[a / l[r] / l[r] for a in acc[r]]",
    ),
    Mutant(
        "divide_early",
        "normalises acc inside the update instead of once at the end",
        "    return m_new, l_new, acc_new",
        "    return m_new, l_new, [a / l_new for a in acc_new]",
    ),
    Mutant(
        "mask_excludes_diagonal",
        "causal mask off by one: query i sees keys 0..i-1",
        "visible = min(k_stop, position + 1) if causal else k_stop",
        "visible = min(k_stop, position) if causal else k_stop",
    ),
    Mutant(
        "mask_peeks_ahead",
        "causal mask off by one: query i also sees key i+1",
        "visible = min(k_stop, position + 1) if causal else k_stop",
        "visible = min(k_stop, position + 2) if causal else k_stop",
    ),
    Mutant(
        "drops_last_partial_block",
        "only loops over whole blocks, so N % B trailing rows are never computed",
        "for q_start in range(0, n, block_size):\n        q_stop",
        "for q_start in range(0, n - n % block_size, block_size):\n        q_stop",
    ),
    Mutant(
        "no_causal_block_skip",
        "masks inside every key block instead of skipping blocks above the diagonal",
        "key_limit = q_stop if causal else n",
        "key_limit = n",
    ),
    Mutant(
        "unstable_softmax",
        "standard attention exponentiates raw scores (no max subtraction)",
        "weights = [math.exp(s - peak) for s in row]",
        "weights = [math.exp(s) for s in row]",
    ),
    Mutant(
        "materialises_scores",
        "flash attention that quietly computes standard attention",
        '    n, d = check_inputs(Q, K, V)\n    if not isinstance(block_size, int)',
        '    return standard_attention(Q, K, V, causal, hbm)\n    n, d = check_inputs(Q, K, V)\n    if not isinstance(block_size, int)',
    ),
    Mutant(
        "flash_traffic_ignores_causal",
        "counts causal flash traffic as if every key block were loaded",
        "keys_streamed += q_stop if causal else N",
        "keys_streamed += N",
    ),
    Mutant(
        "sram_forgets_score_tile",
        "leaves the B x B score tile out of the SRAM working set",
        "return 3 * B * d + B * B + B * d + 2 * B",
        "return 3 * B * d + B * d + 2 * B",
    ),
]
