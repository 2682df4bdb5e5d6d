"""Realistic micromoe mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "unstable_router_softmax",
        "exponentiates the raw router scores (no max subtraction)",
        "    top = max(data(s) for s in scores)\n",
        "    top = 0.0\n",
    ),
    Mutant(
        "top_k_smallest",
        "sorts ascending and takes the k SMALLEST probabilities",
        "key=lambda i: (-data(probs[i]), i))[:k]",
        "key=lambda i: (data(probs[i]), i))[:k]",
    ),
    Mutant(
        "tie_to_higher_index",
        "breaks ties towards the higher expert index",
        "key=lambda i: (-data(probs[i]), i))[:k]",
        "key=lambda i: (-data(probs[i]), -i))[:k]",
    ),
    Mutant(
        "no_renormalisation",
        "uses the raw router probabilities as gates (they do not sum to 1)",
        "    return [probs[i] / total for i in chosen]",
        "    return [probs[i] for i in chosen]",
    ),
    Mutant(
        "renormalise_over_all",
        "renormalises over all N probabilities instead of the chosen k",
        "    total = sum(probs[i] for i in chosen)",
        "    total = sum(probs)",
    ),
    Mutant(
        "capacity_floor",
        "rounds the capacity down",
        "return math.ceil(capacity_factor * n_tokens * k / n_experts)",
        "return math.floor(capacity_factor * n_tokens * k / n_experts)",
    ),
    Mutant(
        "capacity_forgets_k",
        "sizes the capacity for one assignment per token, forgetting k",
        "return math.ceil(capacity_factor * n_tokens * k / n_experts)",
        "return math.ceil(capacity_factor * n_tokens / n_experts)",
    ),
    Mutant(
        "capacity_off_by_one",
        "lets each expert keep capacity + 1 assignments",
        "            if load[i] < capacity:",
        "            if load[i] <= capacity:",
    ),
    Mutant(
        "renormalise_after_drops",
        "renormalises the gates again over the experts that survived the capacity",
        "gate = g[chosen.index(i)]",
        "gate = g[chosen.index(i)] / sum(g[chosen.index(j)] for j in mine)",
    ),
    Mutant(
        "dense_experts",
        "runs every expert on every token and masks afterwards",
        "        for i in mine:\n            # The sparse step",
        "        for e in experts:\n            e(x)\n        for i in mine:\n            # The sparse step",
    ),
    Mutant(
        "gate_by_position",
        "takes the gate by the expert's position among the KEPT experts, not among the chosen",
        "gate = g[chosen.index(i)]",
        "gate = g[mine.index(i)]",
    ),
    Mutant(
        "balance_f_over_tokens",
        "divides the counts by T instead of T * k (f sums to k, uniform gives k)",
        "f_i = counts[i] / (T * k)",
        "f_i = counts[i] / T",
    ),
    Mutant(
        "balance_without_n",
        "forgets the factor N (uniform routing gives 1/N)",
        "    return n_experts * total",
        "    return total",
    ),
    Mutant(
        "balance_sum_not_mean",
        "sums the router probabilities over tokens instead of averaging",
        "P_i = sum(p[i] for p in probs) * (1.0 / T)",
        "P_i = sum(p[i] for p in probs)",
    ),
    Mutant(
        "dropped_token_float_zeros",
        "gives a fully dropped token float zeros even when the router (and every other output) holds Values",
        "    outputs = [y if y is not None else [Value(0.0) if type(p[0]) is Value else 0.0 for _ in range(width)]\n               for y, p in zip(outputs, probs)]",
        "    outputs = [y if y is not None else [0.0] * width for y in outputs]",
    ),
    Mutant(
        "capacity_accepts_bool_k",
        "accepts k=True as k=1 (a bool is an int in Python)",
        "    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_experts:",
        "    if not isinstance(k, int) or not 1 <= k <= n_experts:",
    ),
]
