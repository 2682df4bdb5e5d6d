"""Realistic microvae mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "std_is_exp_logvar",
        "uses exp(logvar) (the variance) as the standard deviation",
        "return [m + math.exp(0.5 * lv) * e for m, lv, e in zip(mu, logvar, eps)]",
        "return [m + math.exp(lv) * e for m, lv, e in zip(mu, logvar, eps)]",
    ),
    Mutant(
        "kl_sign_of_logvar",
        "adds logvar instead of subtracting it in the KL",
        "return 0.5 * sum(m * m + (math.expm1(lv) - lv) for m, lv in zip(mu, logvar))",
        "return 0.5 * sum(m * m + (math.expm1(lv) + lv) for m, lv in zip(mu, logvar))",
    ),
    Mutant(
        "kl_no_half",
        "forgets the factor 0.5 in the KL",
        "return 0.5 * sum(m * m + (math.expm1(lv) - lv) for m, lv in zip(mu, logvar))",
        "return sum(m * m + (math.expm1(lv) - lv) for m, lv in zip(mu, logvar))",
    ),
    Mutant(
        "kl_forgets_minus_one",
        "drops the -1, so the KL is not 0 at the prior",
        "return 0.5 * sum(m * m + (math.expm1(lv) - lv) for m, lv in zip(mu, logvar))",
        "return 0.5 * sum(m * m + (math.exp(lv) - lv) for m, lv in zip(mu, logvar))",
    ),
    Mutant(
        "beta_on_everything",
        "multiplies the whole loss by beta",
        "return recon + beta * kl, recon, kl",
        "return beta * (recon + kl), recon, kl",
    ),
    Mutant(
        "beta_on_recon",
        "puts beta on the reconstruction term instead of the KL",
        "return recon + beta * kl, recon, kl",
        "return beta * recon + kl, recon, kl",
    ),
    Mutant(
        "kl_returned_weighted",
        "returns the beta-weighted KL as the kl component",
        "return recon + beta * kl, recon, kl",
        "return recon + beta * kl, recon, beta * kl",
    ),
    Mutant(
        "grad_missing_eps",
        "forgets the eps factor in dz/dlogvar",
        "dlogvar = [g * 0.5 * math.exp(0.5 * lv) * e + beta",
        "dlogvar = [g * 0.5 * math.exp(0.5 * lv) + beta",
    ),
    Mutant(
        "grad_missing_half",
        "differentiates exp(0.5 logvar) as exp(0.5 logvar), dropping the inner 0.5",
        "dlogvar = [g * 0.5 * math.exp(0.5 * lv) * e + beta",
        "dlogvar = [g * math.exp(0.5 * lv) * e + beta",
    ),
    Mutant(
        "kl_grad_logvar_wrong",
        "takes d KL / d logvar as 0.5 exp(logvar), forgetting the -1",
        "beta * 0.5 * (math.exp(lv) - 1.0)",
        "beta * 0.5 * math.exp(lv)",
    ),
    Mutant(
        "kl_grad_mu_unweighted",
        "adds the KL gradient of mu without beta",
        "dmu = [g + beta * m for g, m in zip(dz, mu)]",
        "dmu = [g + m for g, m in zip(dz, mu)]",
    ),
    Mutant(
        "interpolate_excludes_end",
        "spaces the codes by 1/steps, so the path stops short of x_b",
        "w = s / (steps - 1)",
        "w = s / steps",
    ),
    Mutant(
        "interpolate_logvar",
        "interpolates the log-variances (the wrong half of the encoder output)",
        "mu_a, mu_b = encode(params, x_a)[1], encode(params, x_b)[1]",
        "mu_a, mu_b = encode(params, x_a)[2], encode(params, x_b)[2]",
    ),
    Mutant(
        "reparameterize_in_place",
        "writes z into the caller's mu list and returns it instead of a new list",
        "    return [m + math.exp(0.5 * lv) * e for m, lv, e in zip(mu, logvar, eps)]",
        "    for i in range(len(mu)):\n        mu[i] = mu[i] + math.exp(0.5 * logvar[i]) * eps[i]\n    return mu",
    ),
]
