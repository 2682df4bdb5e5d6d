"""Realistic microbeam mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

# One speculative round of the solution, from the draft budget to the extra token.
_ROUND = """\
        limit = min(gamma, max_new_tokens - len(tokens) - 1)
        drafted: list[int] = []
        draft_dists: list[list[float]] = []
        while len(drafted) < limit and not (drafted and drafted[-1] == end_token):
            q = distribution(draft, prompt + tokens + drafted)
            drafted.append(sample_token(q, rng))
            draft_dists.append(q)
        # One target pass: n + 1 positions scored together.
        target_dists = [distribution(target, prompt + tokens + drafted[:i]) for i in range(len(drafted) + 1)]
        accepted, next_token = speculative_verify(drafted, draft_dists, target_dists, rng)

        tokens.extend(drafted[:accepted])
        if not (accepted == len(drafted) and drafted and drafted[-1] == end_token):
            tokens.append(next_token)
"""

MUTANTS = [
    Mutant(
        "greedy_ignores_end_token",
        "keeps generating after the end token instead of stopping right after it",
        "        token = argmax(model(prompt + tokens))\n        tokens.append(token)\n"
        "        if token == end_token:\n            break\n",
        "        token = argmax(model(prompt + tokens))\n        tokens.append(token)\n",
    ),
    Mutant(
        "temperature_after_softmax",
        "applies the temperature to the probabilities after the softmax instead of to the logits",
        "    scaled = [x / temperature for x in logits]\n    peak = max(scaled)\n"
        "    weights = [math.exp(x - peak) for x in scaled]\n    total = sum(weights)\n"
        "    return [w / total for w in weights]",
        "    scaled = list(logits)\n    peak = max(scaled)\n"
        "    weights = [math.exp(x - peak) for x in scaled]\n    total = sum(weights)\n"
        "    return [w / total / temperature for w in weights]",
    ),
    Mutant(
        "top_k_off_by_one",
        "keeps k + 1 tokens in top-k",
        "keep = ranked(probs)[:k]",
        "keep = ranked(probs)[: k + 1]",
    ),
    Mutant(
        "top_k_ties_to_higher_id",
        "sorts by (probability, id) descending, so ties at the k-th value go to the higher id",
        "keep = ranked(probs)[:k]",
        "keep = sorted(range(len(probs)), key=lambda t: (probs[t], t), reverse=True)[:k]",
    ),
    Mutant(
        "top_k_no_renormalisation",
        "zeroes the tokens outside the top k but does not renormalise the rest",
        "filtered[token] = probs[token] / kept_mass",
        "filtered[token] = probs[token]",
    ),
    Mutant(
        "top_p_prefix_strictly_below_p",
        "stops before the token that carries the mass across p (keeps a prefix with mass < p)",
        "        keep.append(token)\n        mass += probs[token]\n        if mass >= p:\n            break",
        "        if mass + probs[token] >= p and keep:\n            break\n"
        "        keep.append(token)\n        mass += probs[token]",
    ),
    Mutant(
        "top_p_strict_inequality",
        "stops only when the mass is strictly greater than p, so an exact hit keeps one token too many",
        "        if mass >= p:\n            break",
        "        if mass > p:\n            break",
    ),
    Mutant(
        "top_p_no_renormalisation",
        "zeroes the tokens outside the nucleus but does not renormalise the rest",
        "filtered[token] = probs[token] / mass",
        "filtered[token] = probs[token]",
    ),
    Mutant(
        "top_p_before_top_k",
        "applies top-p before top-k",
        "        if top_k is not None:\n            probs = top_k_filter(probs, top_k)\n"
        "        # top-p after top-k: the nucleus is measured on the already\n"
        "        # renormalised top-k distribution, so p is a share of what survived.\n"
        "        if top_p is not None:\n            probs = top_p_filter(probs, top_p)\n",
        "        if top_p is not None:\n            probs = top_p_filter(probs, top_p)\n"
        "        if top_k is not None:\n            probs = top_k_filter(probs, top_k)\n",
    ),
    Mutant(
        "beam_best_per_parent",
        "keeps only the best child of each parent instead of the best candidates overall",
        "            candidates.extend((score + lp, tokens + [t]) for t, lp in enumerate(log_probs))",
        "            candidates.append(max(((score + lp, tokens + [t]) for t, lp in enumerate(log_probs)),"
        " key=lambda c: c[0]))",
    ),
    Mutant(
        "beam_extends_finished",
        "keeps extending hypotheses after they produced the end token",
        "(finished if tokens[-1] == end_token else live).append((score, tokens))",
        "live.append((score, tokens))",
    ),
    Mutant(
        "beam_ignores_length_penalty",
        "ranks the finished hypotheses by the plain sum even when a length penalty is asked for",
        "return (-score / max(1, len(tokens)) ** length_penalty, tokens)",
        "return (-score, tokens)",
    ),
    Mutant(
        "spec_resample_from_q",
        "after a rejection resamples from the draft distribution q instead of norm(max(0, p - q))",
        "return i, sample_token(residual_distribution(p, q), rng)",
        "return i, sample_token(q, rng)",
    ),
    Mutant(
        "spec_resample_from_p",
        "after a rejection resamples from the target p instead of the residual norm(max(0, p - q))",
        "return i, sample_token(residual_distribution(p, q), rng)",
        "return i, sample_token(p, rng)",
    ),
    Mutant(
        "spec_residual_not_clipped",
        "forgets the max(0, .) in the residual and normalises p - q",
        "excess = [max(0.0, pi - qi) for pi, qi in zip(p, q)]",
        "excess = [pi - qi for pi, qi in zip(p, q)]",
    ),
    Mutant(
        "spec_acceptance_without_min",
        "computes the acceptance probability with p/q instead of min(1, p/q)",
        "return sum(qx * min(1.0, px / qx) for px, qx in zip(p, q) if qx > 0)",
        "return sum(qx * (px / qx) for px, qx in zip(p, q) if qx > 0)",
    ),
    Mutant(
        "spec_accept_with_p",
        "accepts a draft token with probability p(x), ignoring q(x)",
        "if rng.random() < min(1.0, p[x] / q[x]):",
        "if rng.random() < p[x]:",
    ),
    Mutant(
        "spec_bonus_from_wrong_position",
        "samples the bonus token from the target's distribution at the last draft position",
        "return n, sample_token(target_probs[n], rng)",
        "return n, sample_token(target_probs[n - 1], rng)",
    ),
    Mutant(
        "spec_forgets_bonus_token",
        "keeps only the resampled token after a rejection and drops the bonus token when every draft "
        "token is accepted (drafting up to the whole budget instead)",
        _ROUND,
        _ROUND.replace("max_new_tokens - len(tokens) - 1)", "max_new_tokens - len(tokens))").replace(
            "if not (accepted == len(drafted) and drafted and drafted[-1] == end_token):",
            "if accepted < len(drafted):",
        ),
    ),
    Mutant(
        "spec_drafts_past_the_budget",
        "drafts gamma tokens even when fewer than gamma + 1 may still be generated",
        "limit = min(gamma, max_new_tokens - len(tokens) - 1)",
        "limit = gamma",
    ),
    Mutant(
        "spec_counts_one_target_call_per_draft",
        "counts drafted target calls per round, forgetting the position after the last draft token",
        'stats["target_calls"] += len(drafted) + 1',
        'stats["target_calls"] += len(drafted)',
    ),
]
