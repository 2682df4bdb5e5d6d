"""Realistic microdpo mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "scores_the_prompt",
        "scores the prompt characters too, not only the completion",
        "    for ch in prompt:\n        context = context[1:] + [VOCAB.index(ch)]\n    total = 0.0\n    for ch in completion + \".\":",
        "    total = 0.0\n    for ch in prompt + completion + \".\":",
    ),
    Mutant(
        "no_end_mark",
        "forgets to score the end mark '.' after the completion",
        "    for ch in completion + \".\":\n        token = VOCAB.index(ch)",
        "    for ch in completion:\n        token = VOCAB.index(ch)",
    ),
    Mutant(
        "swapped_pair",
        "subtracts the chosen ratio from the rejected one (prefers the rejected completion)",
        "x = ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)) * beta",
        "x = ((policy_rejected - reference_rejected) - (policy_chosen - reference_chosen)) * beta",
    ),
    Mutant(
        "no_beta",
        "forgets to multiply the margin by beta",
        "x = ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)) * beta",
        "x = ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)) * 1.0",
    ),
    Mutant(
        "naive_softplus",
        "computes log(1 + exp(-x)) directly, without the branch for negative margins",
        "    if value >= 0:\n",
        "    if True:\n",
    ),
    Mutant(
        "negative_branch_drops_x",
        "in the negative-margin branch drops the -x term of -x + log(1 + exp(x))",
        "return -x + (1.0 + x.exp()).log() if type(x) is Value else -x + math.log1p(math.exp(x))",
        "return (1.0 + x.exp()).log() if type(x) is Value else math.log1p(math.exp(x))",
    ),
    Mutant(
        "no_beta_check",
        "accepts beta <= 0 in the loss",
        "    if not beta > 0:\n        raise ValueError(f\"beta must be > 0, got {beta!r}\")\n    x = ",
        "    x = ",
    ),
    Mutant(
        "kl_reversed",
        "computes KL(reference || policy) instead of KL(policy || reference)",
        "kl = sum(math.exp(lp) * (lp - lq) for lp, lq in zip(log_p, log_q) if math.exp(lp) > 0.0)",
        "kl = sum(math.exp(lq) * (lq - lp) for lp, lq in zip(log_p, log_q) if math.exp(lq) > 0.0)",
    ),
    Mutant(
        "kl_unstable_softmax",
        "forgets to subtract the max in the log-softmax of the KL",
        "        top = max(logits)\n        log_total",
        "        top = 0.0\n        log_total",
    ),
    Mutant(
        "summed_loss",
        "sums the per-pair losses instead of averaging them",
        "    loss = total * (1.0 / len(pairs))",
        "    loss = total * 1.0",
    ),
    Mutant(
        "reference_is_policy",
        "computes the reference log-probs with the current policy instead of the frozen reference",
        "ref_w, ref_l = sequence_log_prob(reference, prompt, chosen), sequence_log_prob(reference, prompt, rejected)",
        "ref_w, ref_l = sequence_log_prob(policy, prompt, chosen), sequence_log_prob(policy, prompt, rejected)",
    ),
    Mutant(
        "trains_in_place",
        "updates the caller's policy in place instead of a copy",
        "    current = copy_params(policy)",
        "    current = policy",
    ),
    Mutant(
        "adam_restarts",
        "restarts Adam's moments every step",
        "        adam_update(current, grads, m, v, step, lr)",
        "        adam_update(current, grads, zeros_like(current), zeros_like(current), step, lr)",
    ),
    Mutant(
        "no_lr_check",
        "accepts a learning rate of 0 or below",
        "    if not lr > 0:\n        raise ValueError(f\"lr must be > 0, got {lr!r}\")\n",
        "",
    ),
    Mutant(
        "kl_not_clamped",
        "returns the raw sum, which rounding can leave slightly below 0 for equal distributions",
        "    return max(kl, 0.0)  # rounding can leave -1e-17 when p = q",
        "    return kl",
    ),
    Mutant(
        "train_dpo_no_beta_check",
        "leaves the beta check to dpo_loss, so train_dpo with no batches accepts beta <= 0",
        "    if not beta > 0:\n        raise ValueError(f\"beta must be > 0, got {beta!r}\")\n    if not lr > 0:",
        "    if not lr > 0:",
    ),
    Mutant(
        "ratio_of_probabilities",
        "forms the policy/reference ratios from probabilities (exp of sequence log-probs), 0 / 0 below -745",
        "    x = ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)) * beta\n",
        "    x = ((policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)) * beta\n"
        "    if type(x) is not Value:\n"
        "        x = beta * (math.log(math.exp(policy_chosen) / math.exp(reference_chosen))"
        " - math.log(math.exp(policy_rejected) / math.exp(reference_rejected)))\n",
    ),
    Mutant(
        "kl_log_of_softmax",
        "takes log of softmax probabilities, so an underflowed probability becomes log(0)",
        "        return [z - top - log_total for z in logits]",
        "        total = sum(math.exp(z - top) for z in logits)\n"
        "        return [math.log(math.exp(z - top) / total) for z in logits]",
    ),
]
