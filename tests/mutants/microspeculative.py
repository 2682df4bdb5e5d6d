"""Realistic microspeculative mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "expected_exponent_g",
        "uses a^g instead of a^(g+1), forgetting the round's own extra token",
        "return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)",
        "return (1.0 - alpha ** gamma) / (1.0 - alpha)",
    ),
    Mutant(
        "alpha_one_gives_gamma",
        "returns gamma for a perfect draft, forgetting the bonus token",
        "        return float(gamma + 1)\n",
        "        return float(gamma)\n",
    ),
    Mutant(
        "naive_acceptance",
        "estimates acceptance as accepted / drafted, counting never-tested drafts",
        "return accepted / (accepted + rejected)",
        "return accepted / (gamma * len(accepted_counts))",
    ),
    Mutant(
        "best_gamma_no_draft_cost",
        "divides by g * c instead of g * c + 1, forgetting the target pass itself",
        "speedup = expected_tokens_per_verify(alpha, g) / (g * cost_ratio + 1.0)",
        "speedup = expected_tokens_per_verify(alpha, g) / max(g * cost_ratio, 1e-12)",
    ),
    Mutant(
        "best_gamma_ties_to_larger",
        "lets a tie replace the current best, preferring the larger window",
        "if speedup > best[1]:  # strict",
        "if speedup >= best[1]:  # strict",
    ),
    Mutant(
        "residual_not_clipped",
        "resamples from p - q without clipping negative entries at zero",
        "        excess = [max(0.0, pi - qi) for pi, qi in zip(p, q)]\n        total = sum(excess)\n        # The residual",
        "        excess = [abs(pi - qi) for pi, qi in zip(p, q)]\n        total = sum(excess)\n        # The residual",
    ),
    Mutant(
        "resample_from_target",
        "resamples a rejected draft from the target p instead of the residual",
        "residual = [e / total for e in excess] if total > 0 else list(p)",
        "residual = list(p)",
    ),
    Mutant(
        "accept_ratio_inverted",
        "accepts with min(1, q/p) instead of min(1, p/q)",
        "accept = min(1.0, p[x] / q[x])",
        "accept = min(1.0, q[x] / max(p[x], 1e-300))",
    ),
    Mutant(
        "survival_not_updated",
        "forgets that a later outcome needs every earlier draft accepted",
        "        survive *= accept\n",
        "",
    ),
    Mutant(
        "bonus_from_last_draft_position",
        "samples the bonus token from the last draft position's target distribution",
        "outcomes.append((survive, list(target_probs[g])))",
        "outcomes.append((survive, list(target_probs[max(g - 1, 0)])))",
    ),
    Mutant(
        "step_no_bonus",
        "drops the bonus token when every draft is accepted",
        "return drafted + [sample(target_dists[gamma], rng)], gamma",
        "return drafted, gamma",
    ),
    Mutant(
        "step_keeps_rejected_draft",
        "keeps the rejected draft token and appends the resample after it",
        "return drafted[:i] + [sample(residual, rng)], i",
        "return drafted[:i + 1] + [sample(residual, rng)], i",
    ),
    Mutant(
        "generate_restarts_from_prompt",
        "starts every round from the prompt instead of the tokens generated so far",
        "new, k = speculative_step(target, draft, list(prompt) + tokens, gamma, rng)",
        "new, k = speculative_step(target, draft, list(prompt), gamma, rng)",
    ),
    Mutant(
        "tree_token_first_index",
        "takes a node's token from head 0 at its first index instead of its depth's head at its last index",
        "tokens.append(head_candidates[depth - 1][path[-1]])",
        "tokens.append(head_candidates[depth - 1][path[0]])",
    ),
    Mutant(
        "mask_parent_only",
        "lets a node see only itself and its parent, not the whole ancestry",
        "            for j in range(parent + 1):\n                mask[i][j] = mask[parent][j]",
        "            mask[i][parent] = True",
    ),
    Mutant(
        "mask_causal",
        "uses a plain causal mask: every earlier node is visible, siblings included",
        "            for j in range(parent + 1):\n                mask[i][j] = mask[parent][j]",
        "            for j in range(i):\n                mask[i][j] = True",
    ),
    Mutant(
        "tree_positions_by_index",
        "places node i at position prefix_len + i instead of by its depth",
        "xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + d - 1])] for token, d in zip(tokens, depth)]",
        "xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + i])] for i, (token, d) in enumerate(zip(tokens, depth))]",
    ),
    Mutant(
        "tree_forward_appends_prefix_cache",
        "appends the tree nodes' keys to the prefix cache",
        "            seen = [j for j in range(len(tokens)) if mask[i][j]]\n",
        "            seen = [j for j in range(len(tokens)) if mask[i][j]]\n            keys[layer].append(ks[i]); values[layer].append(vs[i])\n",
    ),
    Mutant(
        "greedy_walk_no_bonus",
        "stops the walk without the target's token at the last accepted node",
        "            return out  # 'want' is the bonus token",
        "            return out[:-1] or out  # 'want' is the bonus token",
    ),
    Mutant(
        "greedy_walk_any_child",
        "accepts a matching token anywhere in the tree, not only among the current node's children",
        "child = next((c for c, parent in enumerate(parents) if parent == current and tokens[c] == want), None)",
        "child = next((c for c, parent in enumerate(parents) if c > current and tokens[c] == want), None)",
    ),
    Mutant(
        "eagle_concat_order",
        "concatenates [embedding ; feature] instead of [feature ; embedding]",
        "        joined = f + list(embedding[token])",
        "        joined = list(embedding[token]) + f",
    ),
    Mutant(
        "eagle_restarts_from_target_feature",
        "predicts every draft from the target's feature instead of the draft's own last prediction",
        "        joined = f + list(embedding[token])",
        "        joined = list(feature) + list(embedding[token])",
    ),
    Mutant(
        "residual_not_normalised",
        "after a rejection samples from max(0, p - q) without dividing by its sum",
        "        residual = [e / total for e in excess] if total > 0 else p\n",
        "        residual = excess if total > 0 else p\n",
    ),
    Mutant(
        "bonus_from_previous_position",
        "samples the bonus token from the target's distribution at the last draft's position, not after it",
        "    return drafted + [sample(target_dists[gamma], rng)], gamma",
        "    return drafted + [sample(target_dists[gamma - 1], rng)], gamma",
    ),
    Mutant(
        "bonus_from_draft",
        "samples the bonus token from the draft's last distribution",
        "    return drafted + [sample(target_dists[gamma], rng)], gamma",
        "    return drafted + [sample(draft_dists[-1], rng)], gamma",
    ),
]
