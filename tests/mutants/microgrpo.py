"""Realistic microgrpo mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "sample_std",
        "normalises by the sample std (divide by G - 1) instead of the population std",
        "std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)",
        "std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1))",
    ),
    Mutant(
        "center_only",
        "subtracts the group mean but forgets to divide by the std",
        "return [(r - mean) / (std + std_eps) for r in rewards]",
        "return [(r - mean) for r in rewards]",
    ),
    Mutant(
        "std_zero_test",
        "detects equal rewards by std == 0, which rounding defeats (7 x 0.1)",
        "    if max(rewards) == min(rewards):\n        # The mean",
        "    if math.sqrt(sum((r - sum(rewards) / len(rewards)) ** 2 for r in rewards) / len(rewards)) == 0.0:\n        # The mean",
    ),
    Mutant(
        "max_not_min",
        "takes the max of the clipped and unclipped terms instead of the min",
        "    if clipped < r * advantage:",
        "    if clipped > r * advantage:",
    ),
    Mutant(
        "clip_always",
        "uses the clipped term alone, without the min",
        "    if clipped < r * advantage:",
        "    if clipped != r * advantage:",
    ),
    Mutant(
        "clip_keeps_gradient",
        "returns the clipped term as ratio-scaled Value, so gradient flows where the clip binds",
        "return Value(clipped) if is_value else clipped  # a constant: zero gradient",
        "return ratio * (clipped / r) if is_value else clipped  # a constant: zero gradient",
    ),
    Mutant(
        "no_eps_check",
        "accepts eps outside (0, 1) in the surrogate",
        "    if not 0.0 < eps < 1.0:\n        raise ValueError(f\"eps must be in (0, 1), got {eps!r}\")\n    is_value",
        "    is_value",
    ),
    Mutant(
        "k1_estimator",
        "uses k1 = -log r, which is negative half the time",
        "        return Value(math.expm1(x) - x, (log_r,), (math.expm1(x),))\n    return math.expm1(log_r) - log_r",
        "        return -log_r\n    return -log_r",
    ),
    Mutant(
        "k3_inverted_ratio",
        "takes r = pi / pi_ref instead of pi_ref / pi",
        "    log_r = ref_logp - logp",
        "    log_r = logp - ref_logp",
    ),
    Mutant(
        "no_autoregression",
        "conditions every position on the prompt instead of the previous token",
        "            lps.append(log_prob(logits, token))\n            previous = token",
        "            lps.append(log_prob(logits, token))",
    ),
    Mutant(
        "token_sum",
        "sums the per-token terms instead of averaging over the completion's tokens",
        "total = total + per_token * (1.0 / len(completion))",
        "total = total + per_token",
    ),
    Mutant(
        "kl_rewarded",
        "adds the KL penalty to the objective instead of subtracting it",
        "clipped_surrogate(ratio, advantage, eps) - beta * kl_k3(logp, ref_logp)",
        "clipped_surrogate(ratio, advantage, eps) + beta * kl_k3(logp, ref_logp)",
    ),
    Mutant(
        "ratio_to_reference",
        "computes the ratio against the reference instead of the sampling (old) policy",
        "ratio = exp(logp - old_logp)",
        "ratio = exp(logp - ref_logp)",
    ),
    Mutant(
        "raw_rewards",
        "uses the raw rewards as advantages (no group baseline)",
        "rollouts.append((prompt, completions, group_advantages(rewards), old_logps, ref_logps))",
        "rollouts.append((prompt, completions, rewards, old_logps, ref_logps))",
    ),
    Mutant(
        "batch_normalised",
        "normalises each group's rewards together with the other groups of the step (a batch baseline, not a group one)",
        "rollouts.append((prompt, completions, group_advantages(rewards), old_logps, ref_logps))",
        "rollouts.append((prompt, completions, group_advantages(rewards_seen + rewards)[len(rewards_seen):], old_logps, ref_logps))",
    ),
    Mutant(
        "no_lr_check",
        "accepts a learning rate of 0 or below",
        "    if not lr > 0:\n        raise ValueError(f\"lr must be > 0, got {lr!r}\")\n",
        "",
    ),
    Mutant(
        "adam_per_step",
        "creates a fresh Adam optimizer at every GRPO step, losing its moments",
        "    for step, prompts in enumerate(prompt_batches, start=1):\n        old = copy_params(current)\n        rollouts, rewards_seen",
        "    for step, prompts in enumerate(prompt_batches, start=1):\n        optimizer = Adam(lr)\n        old = copy_params(current)\n        rollouts, rewards_seen",
    ),
    Mutant(
        "equal_by_tolerance",
        "treats rewards within 1e-6 of each other as equal, zeroing a real (tiny) difference",
        "    if max(rewards) == min(rewards):",
        "    if max(rewards) - min(rewards) < 1e-6:",
    ),
    Mutant(
        "pi_old_refreshed",
        "recomputes pi_old from the current policy at every inner step, so the ratio is always 1 and the clip never binds",
        "            live = as_values(current)\n            loss = sum(grpo_loss(live, *rollout",
        "            live = as_values(current)\n            rollouts = [(p, c, a, [token_log_probs(current, p, x) for x in c], r)"
        " for p, c, a, o, r in rollouts]\n            loss = sum(grpo_loss(live, *rollout",
    ),
    Mutant(
        "reference_is_old",
        "takes the KL to the sampling policy instead of the frozen reference",
        "ref_logps = [token_log_probs(reference, prompt, c) for c in completions]",
        "ref_logps = [token_log_probs(old, prompt, c) for c in completions]",
    ),
    Mutant(
        "mean_reward_last_group",
        "reports the mean reward of the step's last group instead of all its completions",
        "        mean_rewards.append(sum(rewards_seen) / len(rewards_seen))",
        "        mean_rewards.append(sum(rewards) / len(rewards))",
    ),
    Mutant(
        "naive_k3",
        "computes k3 as exp(x) - x - 1, which rounds to -1.1e-16 next to the reference",
        "        x = log_r.data\n        return Value(math.expm1(x) - x, (log_r,), (math.expm1(x),))\n    return math.expm1(log_r) - log_r",
        "        return exp(log_r) - log_r - 1.0\n    return exp(log_r) - log_r - 1.0",
    ),
    Mutant(
        "train_trusts_sample_group_for_group_size",
        "leaves the group_size check to sample_group, so an empty run accepts group_size = 1",
        "    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:\n        raise ValueError(f\"group_size must be an integer >= 2, got {group_size!r}\")\n    if not lr > 0:",
        "    if not lr > 0:",
    ),
    Mutant(
        "log_numbered_from_zero",
        "logs steps numbered from 0 (log(s, mean_rewards[s]) with s from 0)",
        "            log(step, mean_rewards[-1])\n    return current, mean_rewards\n    # END SOLUTION",
        "            log(step - 1, mean_rewards[-1])\n    return current, mean_rewards\n    # END SOLUTION",
    ),
]
