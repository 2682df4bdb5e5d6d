"""Realistic microppo mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "margin_backwards",
        "computes the ranking margin as rejected minus chosen",
        "margin = r_chosen - r_rejected",
        "margin = r_rejected - r_chosen",
    ),
    Mutant(
        "ranking_grad_sign",
        "returns the ranking gradient with the wrong sign (pushes the chosen reward down)",
        "return loss, -p_wrong",
        "return loss, p_wrong",
    ),
    Mutant(
        "naive_softplus",
        "uses the log(1 + exp(-m)) branch for every margin: overflows at m = -1e3",
        "    if margin >= 0:\n        loss = math.log1p",
        "    if True:\n        loss = math.log1p",
    ),
    Mutant(
        "no_tanh_derivative",
        "backpropagates through tanh as if it were the identity",
        "grad_out * w * (1.0 - hj * hj)",
        "grad_out * w",
    ),
    Mutant(
        "bias_grad_is_one",
        "gives the output bias a gradient of 1 whatever grad_out is",
        '        "b2": grad_out,\n    }',
        '        "b2": 1.0,\n    }',
    ),
    Mutant(
        "kl_reversed",
        "computes KL(reference || policy) instead of KL(policy || reference)",
        "math.exp(lp) * (lp - lq)",
        "math.exp(lq) * (lq - lp)",
    ),
    Mutant(
        "kl_from_raw_logits",
        "compares the raw logits instead of the log-probabilities",
        "log_p, log_q = log_softmax(p_row), log_softmax(q_row)",
        "log_p, log_q = p_row, q_row",
    ),
    Mutant(
        "kl_charge_forward",
        "charges token t the KL of the tokens BEFORE it (a running sum from the start)",
        "for t in reversed(range(len(values))):",
        "for t in range(len(values)):",
    ),
    Mutant(
        "kl_bonus",
        "adds the KL penalty to the return instead of subtracting it",
        "to_go -= beta * (logp_old[t] - logp_ref[t])",
        "to_go += beta * (logp_old[t] - logp_ref[t])",
    ),
    Mutant(
        "no_baseline",
        "forgets to subtract the value baseline",
        "return returns, [r - v for r, v in zip(returns, values)]",
        "return returns, list(returns)",
    ),
    Mutant(
        "value_ascent",
        "adds the value gradient instead of subtracting it",
        "return [w - lr * g for w, g in zip(weights, grad)]",
        "return [w + lr * g for w, g in zip(weights, grad)]",
    ),
    Mutant(
        "value_sum_not_mean",
        "sums the value gradient over states instead of averaging",
        "grad[i] += error * f / n",
        "grad[i] += error * f",
    ),
    Mutant(
        "max_not_min",
        "takes the optimistic branch (max) instead of the pessimistic min",
        "terms.append(unclipped if u <= c else clipped)",
        "terms.append(unclipped if u >= c else clipped)",
    ),
    Mutant(
        "always_clipped",
        "uses the clipped ratio alone, without the min",
        "terms.append(unclipped if u <= c else clipped)",
        "terms.append(clipped)",
    ),
    Mutant(
        "ratio_inverted",
        "computes the ratio as pi_old / pi",
        "ratio = (new - old).exp() if type(new) is Value else math.exp(new - old)",
        "ratio = (old - new).exp() if type(new) is Value else math.exp(old - new)",
    ),
    Mutant(
        "wide_band",
        "clips to [1 - eps, 1 + 2 eps]",
        "clip(ratio, 1.0 - eps, 1.0 + eps)",
        "clip(ratio, 1.0 - eps, 1.0 + 2 * eps)",
    ),
    Mutant(
        "sum_not_mean",
        "sums the surrogate over tokens instead of averaging",
        "return sum(terms) * (1.0 / len(terms))",
        "return sum(terms)",
    ),
    Mutant(
        "objective_descent",
        "minimises the objective itself (gradient descent on J, not on -J)",
        "loss = -clipped_surrogate(",
        "loss = clipped_surrogate(",
    ),
    Mutant(
        "ratios_after_steps",
        "records the ratios in the last epoch, after the policy has already moved",
        "        if epoch == 0:\n            # pi == pi_old",
        "        if epoch == epochs - 1:\n            # pi == pi_old",
    ),
    Mutant(
        "updates_caller_params",
        "updates the caller's policy in place instead of a copy",
        "    params = copy.deepcopy(params)\n    state = copy.deepcopy(state)",
        "    state = copy.deepcopy(state)",
    ),
    Mutant(
        "pi_old_refreshed_per_epoch",
        "treats the policy after each epoch as pi_old for the next (every ratio 1 again, nothing ever clipped)",
        "        logp_new = [log_prob(policy_logits(live, c), a) for c, a, _, _ in tokens]\n",
        "        logp_new = [log_prob(policy_logits(live, c), a) for c, a, _, _ in tokens]\n"
        "        tokens = [(c, a, new.data, adv) for (c, a, _, adv), new in zip(tokens, logp_new)]\n",
    ),
    Mutant(
        "kl_not_clamped",
        "returns the raw sum, which rounding can leave slightly below 0 for equal distributions",
        "    return max(total, 0.0)\n",
        "    return total\n",
    ),
    Mutant(
        "epochs_accepts_bool",
        "accepts epochs=True as one epoch (a bool is an int in Python)",
        "    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:",
        "    if not isinstance(epochs, int) or epochs < 1:",
    ),
]
