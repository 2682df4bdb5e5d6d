"""Realistic microdecoding mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "extra_keys_to_last_splits",
        "gives the remainder keys to the last splits instead of the first",
        "end = start + base + (1 if i < extra else 0)",
        "end = start + base + (1 if i >= num_splits - extra else 0)",
    ),
    Mutant(
        "floor_split_drops_remainder",
        "splits with n // s keys each and silently drops the remainder",
        "end = start + base + (1 if i < extra else 0)",
        "end = start + base",
    ),
    Mutant(
        "no_score_scale",
        "forgets the 1 / sqrt(head_dim) scale on the scores",
        "scores = [ops.dot(query, k) * scale for k in keys]",
        "scores = [ops.dot(query, k) for k in keys]",
    ),
    Mutant(
        "partial_without_max",
        "exponentiates raw scores in the partial (no max subtracted)",
        "w = math.exp(s - m)  # <= 1",
        "w = math.exp(s)  # <= 1",
    ),
    Mutant(
        "merge_acc_not_rescaled",
        "rescales l in the merge but adds the accumulators as they are",
        "[x * fa + y * fb for x, y in zip(acc_a, acc_b)]",
        "[x + y for x, y in zip(acc_a, acc_b)]",
    ),
    Mutant(
        "merge_l_not_rescaled",
        "rescales the accumulators but adds the sums l as they are",
        "return m, l_a * fa + l_b * fb,",
        "return m, l_a + l_b,",
    ),
    Mutant(
        "merge_min_max",
        "takes the smaller of the two maxima as the merged reference",
        "    m = max(m_a, m_b)\n    if m == -math.inf:",
        "    m = min(m_a, m_b)\n    if m == -math.inf:",
    ),
    Mutant(
        "merge_no_empty_guard",
        "forgets that two empty partials merge to NaN without a guard",
        "    if m == -math.inf:\n        # Both empty",
        "    if False:\n        # Both empty",
    ),
    Mutant(
        "normalise_each_split",
        "normalises every split before merging, then divides again",
        "partials.append(partial_attention(query, keys[start:end], values[start:end], ops))",
        "partials.append((lambda p: (p[0], 1.0, [x / p[1] for x in p[2]]))(partial_attention(query, keys[start:end], values[start:end], ops)))",
    ),
    Mutant(
        "shared_ops",
        "counts all splits with one shared Ops, so per-split work is cumulative",
        "ops = Ops()  # one counter per worker: the balance is per worker",
        "ops = ops if partials else Ops()",
    ),
    Mutant(
        "lse_unstable",
        "combines lse values without subtracting their max",
        "weights = [math.exp(x - peak) for x in lses]",
        "weights = [math.exp(x) for x in lses]",
    ),
    Mutant(
        "lse_equal_weights",
        "averages the normalised split outputs, ignoring their softmax mass",
        "weights = [math.exp(x - peak) for x in lses]",
        "weights = [1.0 for x in lses]",
    ),
    Mutant(
        "splits_floor",
        "uses floor division for the number of splits, leaving SMs idle",
        "-(-num_sms // workers)",
        "num_sms // workers",
    ),
    Mutant(
        "merge_error_names_nothing",
        "raises for mismatched acc lengths without naming the bad argument b",
        'raise ValueError(f"b has an acc of length {len(acc_b)}, a has {len(acc_a)}")',
        'raise ValueError(f"acc lengths differ: {len(acc_a)} vs {len(acc_b)}")',
    ),
]
