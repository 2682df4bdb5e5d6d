"""Realistic microdiffusion mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "betas_divide_by_T",
        "spaces the betas by (end - start) / T, so the last beta falls short of beta_end",
        "return [beta_start + (beta_end - beta_start) * t / (T - 1) for t in range(T)]",
        "return [beta_start + (beta_end - beta_start) * t / T for t in range(T)]",
    ),
    Mutant(
        "alpha_bar_of_betas",
        "multiplies the betas instead of the alphas (1 - beta)",
        "running *= 1.0 - beta",
        "running *= beta",
    ),
    Mutant(
        "variance_as_std",
        "scales x0 by alpha_bar itself instead of its square root",
        "signal = math.sqrt(alpha_bar[t])\n    return [signal * v for v in x0], 1.0 - alpha_bar[t]",
        "signal = alpha_bar[t]\n    return [signal * v for v in x0], 1.0 - alpha_bar[t]",
    ),
    Mutant(
        "noise_without_sqrt",
        "scales the noise by 1 - alpha_bar (a variance) instead of its square root in q_sample",
        "    signal, noise = math.sqrt(alpha_bar[t]), math.sqrt(1.0 - alpha_bar[t])\n    return [signal * a + noise * e",
        "    signal, noise = math.sqrt(alpha_bar[t]), 1.0 - alpha_bar[t]\n    return [signal * a + noise * e",
    ),
    Mutant(
        "embedding_interleaved",
        "interleaves sin and cos per frequency instead of all sines then all cosines",
        "return [math.sin(t * f) for f in freqs] + [math.cos(t * f) for f in freqs]",
        "return [v for f in freqs for v in (math.sin(t * f), math.cos(t * f))]",
    ),
    Mutant(
        "embedding_frequency_exponent",
        "divides by dim instead of dim / 2 in the frequency exponent",
        "freqs = [max_period ** (-i / half) for i in range(half)]",
        "freqs = [max_period ** (-i / dim) for i in range(half)]",
    ),
    Mutant(
        "alpha_bar_prev_off_by_one",
        "uses alpha_bar[t] as alpha_bar_prev",
        "ab_prev = alpha_bar[t - 1] if t > 0 else 1.0",
        "ab_prev = alpha_bar[t]",
    ),
    Mutant(
        "posterior_var_is_beta",
        "uses beta_t as the sampling variance instead of the posterior variance",
        "    sigma = math.sqrt(var)\n",
        "    sigma = math.sqrt(beta)\n",
    ),
    Mutant(
        "reverse_scale_sqrt_missing",
        "divides the noise coefficient by 1 - alpha_bar instead of its square root",
        "scale = beta / math.sqrt(1.0 - alpha_bar[t])",
        "scale = beta / (1.0 - alpha_bar[t])",
    ),
    Mutant(
        "reverse_no_alpha_division",
        "forgets to divide by sqrt(alpha_t) in the reverse step",
        "return [(x - scale * e) / math.sqrt(1.0 - beta) + sigma * n",
        "return [(x - scale * e) + sigma * n",
    ),
    Mutant(
        "predict_x0_plus",
        "adds the noise back instead of subtracting it when inverting the jump",
        "return [(x - noise * e) / signal for x, e in zip(x_t, eps)]",
        "return [(x + noise * e) / signal for x, e in zip(x_t, eps)]",
    ),
    Mutant(
        "loss_sum_over_coordinates",
        "averages over examples only, summing the two coordinates",
        "        count += len(eps)\n",
        "        count += 1\n",
    ),
    Mutant(
        "noise_on_last_step",
        "adds noise on the final step t = 0 too",
        "z = [rng.gauss(0, 1), rng.gauss(0, 1)] if t > 0 else [0.0, 0.0]",
        "z = [rng.gauss(0, 1), rng.gauss(0, 1)]",
    ),
    Mutant(
        "sample_forward_in_time",
        "walks the timesteps from 0 up to T-1",
        "for t in range(len(betas) - 1, -1, -1):\n            eps = predict_noise(params, x, t)",
        "for t in range(len(betas)):\n            eps = predict_noise(params, x, t)",
    ),
]
