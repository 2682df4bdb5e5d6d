"""Graded tests for microppo: reward model, value baseline, KL-penalised advantages, clipped surrogate.

Expected values come from the independent spec below (softplus, log-softmax,
the clipped objective and the character MLP written out again with
math.fsum), from central finite differences, or from properties: the KL is
>= 0 and exactly 0 at the reference, every ratio is 1 before the first
gradient step, a clipped token gets exactly zero gradient.

The model tests load tests/data/microppo/checkpoint.json (the pretrained
policy and the trained reward model), made by the solution's own code with

    python solutions/microppo/microppo.py --train-checkpoint tests/data/microppo/checkpoint.json

(data/names.txt only). The slow tests re-run that command and check it
reproduces the shipped file, and run the seed's success criteria
(`pytest katas/microppo --solutions -m slow`).
"""

import copy
import functools
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, matrix, vector

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microppo" / "checkpoint.json"
NAMES = ROOT / "data" / "names.txt"
VOCAB = ".abcdefghijklmnopqrstuvwxyz"


# === the independent spec ===


def spec_ranking_loss(margin):
    """-log sigmoid(m) = log(1 + exp(-m)), evaluated without overflow."""
    return math.log1p(math.exp(-margin)) if margin >= 0 else -margin + math.log1p(math.exp(margin))


def spec_log_softmax(row):
    top = max(row)
    total = math.fsum(math.exp(z - top) for z in row)
    return [z - top - math.log(total) for z in row]


def spec_kl(p_rows, q_rows):
    total = []
    for p, q in zip(p_rows, q_rows):
        lp, lq = spec_log_softmax(p), spec_log_softmax(q)
        total.append(math.fsum(math.exp(a) * (a - b) for a, b in zip(lp, lq)))
    return math.fsum(total)


def spec_reward(params, x):
    h = [math.tanh(math.fsum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"])]
    return math.fsum(w * hi for w, hi in zip(params["w2"], h)) + params["b2"]


def spec_features(name):
    """Last letter one-hot (26), letter counts / length (26), length / 10: the checkpoint's layout."""
    x = [0.0] * 53
    x[ord(name[-1]) - 97] = 1.0
    for ch in name:
        x[26 + ord(ch) - 97] += 1.0 / len(name)
    x[52] = len(name) / 10
    return x


def spec_logits(params, context):
    x = [v for token in context for v in params["C"][token]]
    h = [math.tanh(math.fsum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"][0])]
    return [math.fsum(w * hi for w, hi in zip(row, h)) + b for row, b in zip(params["W2"], params["b2"][0])]


def spec_surrogate(logp_new, logp_old, adv, eps):
    terms = []
    for new, old, a in zip(logp_new, logp_old, adv):
        r = math.exp(new - old)
        terms.append(min(r * a, min(max(r, 1 - eps), 1 + eps) * a))
    return math.fsum(terms) / len(terms)


@functools.lru_cache(maxsize=None)
def checkpoint():
    return json.loads(CHECKPOINT.read_text(encoding="utf-8"))


def random_reward_model(seed, hidden, features):
    rng = random.Random(seed)
    return {"W1": matrix(rng, hidden, features), "b1": vector(rng, hidden), "w2": vector(rng, hidden),
            "b2": rng.uniform(-1, 1)}


# === task 1: the pairwise ranking loss ===


MARGINS = [0.0, 0.37, -1.9, 7.5, -12.25, 1e3, -1e3, 745.5, -800.0]


@pytest.mark.task("ranking_loss")
@pytest.mark.parametrize("margin", MARGINS, ids=[f"m{m:g}" for m in MARGINS])
def test_ranking_loss_matches_softplus(kata, margin):
    r_rejected = 0.625
    loss, grad = kata.ranking_loss(r_rejected + margin, r_rejected)
    want = spec_ranking_loss(margin)
    assert_close(loss, want, 1e-12 * max(1.0, abs(want)), f"ranking_loss loss at margin {margin}",
                 hint="loss = -log sigmoid(r_chosen - r_rejected); for large |margin| use the softplus form")
    # d/dm log(1 + exp(-m)) = -1 / (1 + exp(m)) = -sigmoid(-m)
    want_grad = -1.0 / (1.0 + math.exp(margin)) if margin < 700 else -math.exp(-margin)
    assert_close(grad, want_grad, 1e-12, f"ranking_loss d loss / d r_chosen at margin {margin}",
                 hint="the derivative is -sigmoid(r_rejected - r_chosen): negative, pushing r_chosen up")


@pytest.mark.task("ranking_loss")
def test_ranking_loss_is_log_2_for_a_tie_and_matches_finite_differences(kata):
    loss, grad = kata.ranking_loss(1.75, 1.75)
    assert_close(loss, math.log(2), 1e-15, "ranking_loss(1.75, 1.75): a tie", hint="sigmoid(0) = 1/2")
    assert_close(grad, -0.5, 1e-15, "ranking_loss(1.75, 1.75): gradient at a tie")
    h = 1e-6
    for rc, rr in ((0.3, -1.1), (-2.0, 0.4), (5.0, 4.0)):
        numeric = (kata.ranking_loss(rc + h, rr)[0] - kata.ranking_loss(rc - h, rr)[0]) / (2 * h)
        assert_close(kata.ranking_loss(rc, rr)[1], numeric, 1e-7, f"ranking_loss({rc}, {rr}) gradient vs finite differences")
        numeric_rejected = (kata.ranking_loss(rc, rr + h)[0] - kata.ranking_loss(rc, rr - h)[0]) / (2 * h)
        assert_close(-kata.ranking_loss(rc, rr)[1], numeric_rejected, 1e-7,
                     f"ranking_loss({rc}, {rr}): d loss / d r_rejected is minus the returned gradient",
                     hint="the loss depends on r_chosen - r_rejected only; check the sign of the margin")


@pytest.mark.task("ranking_loss")
def test_checkpoint_reward_model_ranks_held_out_pairs(kata):
    """The seed's criterion on the shipped reward model: > 70 % of held-out pairs ranked right."""
    names = [n.strip().lower() for n in NAMES.read_text(encoding="utf-8").splitlines() if n.strip()]
    held = names[::10]
    pairs = []
    for name in held:
        if name.endswith("a"):
            other = next((o for o in held if o[0] == name[0] and not o.endswith("a")), None)
            if other:
                pairs.append((name, other))
    params = checkpoint()["reward_model"]
    scores = [(spec_reward(params, spec_features(c)), spec_reward(params, spec_features(r))) for c, r in pairs]
    accuracy = sum(a > b for a, b in scores) / len(pairs)
    if not accuracy > 0.7:
        raise Mismatch(f"shipped reward model ranks {accuracy:.1%} of {len(pairs)} held-out pairs right (need > 70 %)")
    mean = sum(kata.ranking_loss(a, b)[0] for a, b in scores) / len(scores)
    assert_close(mean, math.fsum(spec_ranking_loss(a - b) for a, b in scores) / len(scores), 1e-12,
                 "mean ranking_loss of the shipped reward model on held-out pairs")


# === task 2: manual backpropagation through the reward model ===


@pytest.mark.task("reward_backward")
@pytest.mark.parametrize("hidden,features,grad_out", [(3, 5, 1.0), (1, 1, -0.7), (7, 4, 2.5)])
def test_reward_backward_matches_finite_differences(kata, hidden, features, grad_out):
    params = random_reward_model(100 + hidden * 7 + features, hidden, features)
    x = vector(random.Random(features), features, 2.0)
    before = copy.deepcopy(params)
    got = kata.reward_backward(params, x, grad_out)
    assert_equal(params, before, "reward_backward must not change params")
    h = 1e-6

    def numeric(path):
        def shifted(delta):
            p = copy.deepcopy(params)
            if len(path) == 1:
                p[path[0]] += delta
            elif len(path) == 2:
                p[path[0]][path[1]] += delta
            else:
                p[path[0]][path[1]][path[2]] += delta
            return spec_reward(p, x)
        return grad_out * (shifted(h) - shifted(-h)) / (2 * h)

    want = {
        "W1": [[numeric(("W1", j, i)) for i in range(features)] for j in range(hidden)],
        "b1": [numeric(("b1", j)) for j in range(hidden)],
        "w2": [numeric(("w2", j)) for j in range(hidden)],
        "b2": numeric(("b2",)),
    }
    for key, hint in (("b2", "dr/db2 = 1, times grad_out"), ("w2", "dr/dw2_j = h_j, times grad_out"),
                      ("b1", "chain through tanh: (1 - h_j^2) * w2_j * grad_out"),
                      ("W1", "dz_j/dW1_ji = x_i, times the b1 gradient")):
        assert_close(got[key], want[key], 1e-6, f"reward_backward(...)[{key!r}] (H={hidden}, F={features})", hint=hint)


@pytest.mark.task("reward_backward")
def test_reward_backward_on_the_checkpoint_model(kata):
    params = checkpoint()["reward_model"]
    x = spec_features("isabella")
    got = kata.reward_backward(params, x, 1.0)
    h = 1e-6
    p = copy.deepcopy(params)
    for j in (0, 3, 7):
        p["b1"][j] += h
        up = spec_reward(p, x)
        p["b1"][j] -= 2 * h
        down = spec_reward(p, x)
        p["b1"][j] += h
        assert_close(got["b1"][j], (up - down) / (2 * h), 1e-6, f"reward_backward on the checkpoint: b1[{j}]")


# === task 3: the sequence KL ===


def logit_rows(seed, t, v, scale):
    rng = random.Random(seed)
    return matrix(rng, t, v, scale)


@pytest.mark.task("sequence_kl")
@pytest.mark.parametrize("t,v,scale", [(1, 2, 1.0), (5, 27, 2.0), (7, 5, 4.0), (3, 27, 1e3)])
def test_sequence_kl_matches_spec(kata, t, v, scale):
    p, q = logit_rows(t * 31 + v, t, v, scale), logit_rows(t * 17 + v + 1, t, v, scale)
    got = kata.sequence_kl(p, q)
    want = spec_kl(p, q)
    assert_close(got, want, 1e-9 * max(1.0, want), f"sequence_kl(T={t}, V={v}, logits ~{scale:g})",
                 hint="KL(p || q) = sum_v p(v) (log p(v) - log q(v)), from log-softmax, summed over tokens")


@pytest.mark.task("sequence_kl")
def test_sequence_kl_is_zero_at_the_reference_and_nonnegative(kata):
    p = logit_rows(5, 6, 27, 3.0)
    assert_equal(kata.sequence_kl(p, [list(r) for r in p]), 0.0, "sequence_kl(policy, policy): KL at the reference")
    shifted = [[z + 5.0 * (i + 1) for z in row] for i, row in enumerate(p)]  # same softmax, different logits
    assert_close(kata.sequence_kl(p, shifted), 0.0, 1e-12, "sequence_kl of logits that differ by a constant per row",
                 hint="softmax ignores a constant added to a row; compare distributions, not raw logits")
    rng = random.Random(9)
    for trial in range(6):
        a, b = matrix(rng, 4, 27, 5.0), matrix(rng, 4, 27, 5.0)
        kl = kata.sequence_kl(a, b)
        if not kl >= 0:
            raise Mismatch(f"sequence_kl trial {trial}: {kl} < 0; the exact KL is never negative")


@pytest.mark.task("sequence_kl")
def test_sequence_kl_is_never_negative_for_equal_distributions(kata):
    """Rows shifted by constants give the same softmax; rounding can leave the sum at -1e-17, the docstring says >= 0."""
    rng = random.Random(5)
    for trial in range(12):
        q = matrix(rng, 3, 27, 3.0)
        p = [[z + shift for z in row] for row, shift in zip(q, (0.5, 123.5, -7.25))]
        got = kata.sequence_kl(p, q)
        assert_close(got, 0.0, 1e-12, f"sequence_kl of rows shifted by constants (trial {trial})")
        if not got >= 0.0:
            raise Mismatch(f"sequence_kl of rows shifted by constants (trial {trial}) returned {got!r} < 0; the "
                           "docstring promises >= 0\n  hint: rounding leaves a tiny negative sum: clamp it at 0")


@pytest.mark.task("sequence_kl")
def test_sequence_kl_survives_far_negative_logits(kata):
    p = [[-1000.0, -1001.5, -1003.0, -999.25], [1000.0, -1000.0, 998.0, 999.0]]
    q = [[-1002.0, -1000.0, -1000.5, -1001.0], [999.0, 1000.0, -998.0, 997.5]]
    assert_close(kata.sequence_kl(p, q), spec_kl(p, q), 1e-9, "sequence_kl with logits around +-1e3",
                 hint="subtract each row's max (log-softmax); exp(-1000) underflows to 0 and log(0) fails")


@pytest.mark.task("sequence_kl")
def test_sequence_kl_rejects_mismatched_rows(kata):
    with pytest.raises(ValueError, match=r"\breference_logits_rows\b"):
        kata.sequence_kl(logit_rows(1, 3, 4, 1.0), logit_rows(2, 2, 4, 1.0))
    for policy_rows, reference_rows in (([], logit_rows(3, 1, 4, 1.0)), (logit_rows(4, 2, 4, 1.0), [])):
        with pytest.raises(ValueError, match=r"\breference_logits_rows\b"):  # an empty side too
            kata.sequence_kl(policy_rows, reference_rows)


# === task 4: KL-penalised returns and advantages ===


def spec_advantages(score, old, ref, values, beta):
    returns = [score - beta * math.fsum(o - r for o, r in zip(old[t:], ref[t:])) for t in range(len(values))]
    return returns, [r - v for r, v in zip(returns, values)]


@pytest.mark.task("advantages")
@pytest.mark.parametrize("t,beta", [(1, 0.5), (4, 0.1), (9, 2.0)])
def test_advantages_match_spec(kata, t, beta):
    rng = random.Random(t * 13)
    old, ref = [rng.uniform(-3, -0.1) for _ in range(t)], [rng.uniform(-3, -0.1) for _ in range(t)]
    values = vector(rng, t)
    returns, adv = kata.advantages(0.83, old, ref, values, beta)
    want_returns, want_adv = spec_advantages(0.83, old, ref, values, beta)
    assert_close(list(returns), want_returns, 1e-12, f"advantages(T={t}, beta={beta}): returns",
                 hint="R_t = reward - beta * (sum of logp_old - logp_ref over tokens t' >= t): the cost still to come")
    assert_close(list(adv), want_adv, 1e-12, f"advantages(T={t}, beta={beta}): advantages",
                 hint="A_t = R_t - values[t]")


@pytest.mark.task("advantages")
def test_advantages_without_drift_are_reward_minus_value(kata):
    old = [-1.25, -0.5, -2.0]
    returns, adv = kata.advantages(-0.4, old, list(old), [0.1, -0.3, 0.0], 0.7)
    assert_close(list(returns), [-0.4] * 3, 0.0, "advantages with policy == reference: returns are the reward")
    assert_close(list(adv), [-0.5, -0.1, -0.4], 1e-15, "advantages with policy == reference")


@pytest.mark.task("advantages")
@pytest.mark.parametrize("beta", [0.0, -0.5, float("nan"), -1e-12], ids=["beta0", "beta-negative", "beta-nan",
                                                                         "beta-tiny-negative"])
def test_advantages_reject_bad_beta(kata, beta):
    with pytest.raises(ValueError, match=r"\bbeta\b"):
        kata.advantages(1.0, [-1.0], [-1.0], [0.0], beta)
    with pytest.raises(ValueError, match=r"\bbeta\b"):  # validation first: also for an empty completion
        kata.advantages(1.0, [], [], [], beta)


# === task 5: the value function step ===


@pytest.mark.task("value_update")
@pytest.mark.parametrize("n,d", [(1, 1), (5, 3), (11, 82)])
def test_value_update_is_one_gradient_step(kata, n, d):
    rng = random.Random(n + d)
    w = vector(rng, d)
    feats = [[float(rng.random() < 0.3) for _ in range(d - 1)] + [1.0] for _ in range(n)]
    targets = vector(rng, n, 2.0)
    before = list(w)
    got = kata.value_update(w, feats, targets, 0.3)
    assert_equal(w, before, "value_update must not change the weights it was given")
    grad = [math.fsum((math.fsum(a * b for a, b in zip(w, f)) - r) * f[i] for f, r in zip(feats, targets)) / n
            for i in range(d)]
    assert_close(list(got), [wi - 0.3 * g for wi, g in zip(w, grad)], 1e-12, f"value_update(n={n}, d={d}, lr=0.3)",
                 hint="w - lr * (1/n) sum_t (w . phi_t - R_t) phi_t: descend, and average over the n states")


@pytest.mark.task("value_update")
@pytest.mark.parametrize("features,returns,lr,word", [
    ([[1.0, 0.0]], [1.0], 0.0, "lr"), ([[1.0, 0.0]], [1.0], -0.1, "lr"), ([], [], 0.1, "features"),
    ([[1.0, 0.0]], [1.0], float("nan"), "lr"), ([[1.0, 0.0]], [1.0], -1e-12, "lr"),
], ids=["lr0", "lr-negative", "features-empty", "lr-nan", "lr-tiny-negative"])
def test_value_update_rejects_bad_arguments(kata, features, returns, lr, word):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.value_update([0.0, 0.0], features, returns, lr)


# === task 6: the clipped surrogate ===

# Four tokens, one in each corner of the PPO picture, plus two inside the band.
#   (ratio, advantage, clipped?)
CORNERS = [
    (1.45, 0.8, True),    # good action already pushed past 1 + eps: flat, no gradient
    (0.55, 0.8, False),   # good action made LESS likely: unclipped branch is the min, full gradient
    (0.55, -1.3, True),   # bad action already pushed below 1 - eps: flat
    (1.45, -1.3, False),  # bad action made MORE likely: unclipped, full gradient pulls it back
    (1.05, 2.0, False),   # inside the band
    (0.9, -0.6, False),
]


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("eps", [0.2, 0.35])
def test_clipped_surrogate_value_matches_spec(kata, eps):
    old = [-1.1, -0.4, -2.3, -0.9, -1.7, -0.2]
    new = [o + math.log(r) for o, (r, _, _) in zip(old, CORNERS)]
    adv = [a for _, a, _ in CORNERS]
    assert_close(kata.clipped_surrogate(new, old, adv, eps), spec_surrogate(new, old, adv, eps), 1e-12,
                 f"clipped_surrogate on floats, eps={eps}",
                 hint="mean over tokens of min(r A, clip(r, 1-eps, 1+eps) A) with r = exp(new - old)")


@pytest.mark.task("clipped_surrogate")
def test_clipped_surrogate_gradient_is_zero_outside_the_band(kata):
    eps = 0.2
    old = [-1.1, -0.4, -2.3, -0.9, -1.7, -0.2]
    new = [kata.Value(o + math.log(r)) for o, (r, _, _) in zip(old, CORNERS)]
    adv = [a for _, a, _ in CORNERS]
    objective = kata.clipped_surrogate(new, old, adv, eps)
    objective.backward()
    assert_close(objective.data, spec_surrogate([v.data for v in new], old, adv, eps), 1e-12,
                 "clipped_surrogate on Values: the objective")
    n = len(CORNERS)
    for i, ((ratio, a, clipped), v) in enumerate(zip(CORNERS, new)):
        # d/d logp_new of (r A) / n is r A / n; a clipped token's term is a constant.
        want = 0.0 if clipped else ratio * a / n
        assert_close(v.grad, want, 1e-12, f"d objective / d logp_new[{i}] (ratio {ratio}, advantage {a})",
                     hint="zero only where the CLIPPED branch is the smaller one: the min decides, not the band alone"
                     if not clipped else "outside the band on the side the advantage favours, the objective is flat")


@pytest.mark.task("clipped_surrogate")
def test_ratio_one_gives_the_mean_advantage_and_its_gradient(kata):
    old = [-0.7, -2.2, -1.4, -0.05, -3.0]
    adv = [0.5, -1.5, 2.25, -0.125, 0.75]
    new = [kata.Value(o) for o in old]
    objective = kata.clipped_surrogate(new, old, adv, 0.1)
    objective.backward()
    assert_close(objective.data, sum(adv) / 5, 1e-15, "clipped_surrogate with ratio 1 everywhere")
    assert_close([v.grad for v in new], [a / 5 for a in adv], 1e-15, "gradient of clipped_surrogate at ratio 1",
                 hint="at r = 1 every token is inside the band: d/d logp_new = A_t / T")


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("as_value", [False, True], ids=["floats", "Values"])
def test_clipped_surrogate_with_log_probs_below_minus_745(kata, as_value):
    # exp(-800) is 0.0: a ratio of probabilities would be 0 / 0; exp(new - old) is exact enough.
    new = [-800.0, -1200.05, -760.5, -2000.0]
    old = [-800.1, -1200.0, -760.0, -2000.3]
    adv = [1.5, -0.7, 0.4, -2.0]
    got = kata.clipped_surrogate([kata.Value(v) for v in new] if as_value else new, old, adv, 0.2)
    assert_close(got.data if as_value else got, spec_surrogate(new, old, adv, 0.2), 1e-12,
                 f"clipped_surrogate with log-probs around -800 to -2000 ({'Values' if as_value else 'floats'})",
                 hint="r = exp(logp_new - logp_old): subtract in log space, never divide exp(logp_new) by exp(logp_old)")


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("eps", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_clipped_surrogate_rejects_bad_eps(kata, eps):
    with pytest.raises(ValueError, match=r"\beps\b"):
        kata.clipped_surrogate([-1.0], [-1.0], [1.0], eps)
    with pytest.raises(ValueError, match=r"\beps\b"):  # validation first: also with no tokens at all
        kata.clipped_surrogate([], [], [], eps)


# === task 7: one PPO update ===


@functools.lru_cache(maxsize=None)
def toy_batch():
    """Rollouts from the shipped policy (the provided sampler) with fixed, asymmetric advantages."""
    params = checkpoint()["policy"]
    rng = random.Random(5)
    batch = []
    for letter in "mqe":
        context, ro = [0, 0, VOCAB.index(letter)], {"contexts": [], "actions": [], "logp_old": [], "advantages": []}
        for step in range(5):
            logits = spec_logits(params, context)
            top = max(logits)
            token = rng.choices(range(27), weights=[math.exp(z - top) for z in logits])[0]
            ro["contexts"].append(list(context))
            ro["actions"].append(token)
            ro["logp_old"].append(spec_log_softmax(logits)[token])
            ro["advantages"].append(rng.uniform(-1, 1) + (0.5 if letter == "m" else 0.0))
            if token == 0:
                break
            context = context[1:] + [token]
        batch.append(ro)
    return batch


def n_tokens(batch):
    return sum(len(ro["actions"]) for ro in batch)


@pytest.mark.task("ppo_update")
def test_ratios_are_one_before_the_first_step(kata):
    batch = toy_batch()
    out = kata.ppo_update(checkpoint()["policy"], batch, None, eps=0.2, lr=0.01, epochs=2)
    assert_close(list(out["ratios"]), [1.0] * n_tokens(batch), 1e-12, "ppo_update ratios before the first step",
                 hint="measure r_t = exp(logp_new - logp_old) in the first epoch, before any adam_update")
    mean_adv = sum(a for ro in batch for a in ro["advantages"]) / n_tokens(batch)
    assert_close(out["losses"][0], -mean_adv, 1e-12, "ppo_update: loss of the first epoch",
                 hint="with every ratio 1 the objective is the mean advantage; the loss is its negative")


@pytest.mark.task("ppo_update")
def test_ppo_update_steps_along_the_policy_gradient(kata):
    params, batch, lr = checkpoint()["policy"], toy_batch(), 0.003
    before = copy.deepcopy(params)
    out = kata.ppo_update(params, batch, None, eps=0.2, lr=lr, epochs=1)
    assert_equal(params, before, "ppo_update must not change the params it was given")
    # At ratio 1, d objective / d theta = mean_t A_t d log pi(a_t | s_t) / d theta. Adam's first step
    # moves each weight by lr in the direction of +gradient of the objective (-gradient of the loss).
    tokens = [(c, a, adv) for ro in batch for c, a, adv in zip(ro["contexts"], ro["actions"], ro["advantages"])]

    def objective(p):
        return math.fsum(adv * spec_log_softmax(spec_logits(p, c))[a] for c, a, adv in tokens) / len(tokens)

    h = 1e-5
    for key, i, j in (("b2", 0, 0), ("b2", 0, 1), ("b2", 0, 13), ("b1", 0, 4), ("W2", 1, 2), ("W1", 7, 11)):
        p = copy.deepcopy(params)
        p[key][i][j] += h
        up = objective(p)
        p[key][i][j] -= 2 * h
        slope = (up - objective(p)) / (2 * h)
        moved = out["params"][key][i][j] - params[key][i][j]
        if abs(slope) > 1e-3:
            assert_close(moved, math.copysign(lr, slope), 1e-6, f"ppo_update(epochs=1): change of {key}[{i}][{j}]",
                         hint="minimise -objective: weights move up the objective's gradient")


@pytest.mark.task("ppo_update")
def test_later_epochs_measure_ratios_against_the_sampling_policy(kata):
    """pi_old is the policy that SAMPLED the batch: epoch 2's ratios use the rollouts' logp_old, not epoch 1's policy."""
    params, batch = checkpoint()["policy"], toy_batch()
    one = kata.ppo_update(params, batch, None, eps=0.2, lr=0.01, epochs=1)
    two = kata.ppo_update(params, batch, None, eps=0.2, lr=0.01, epochs=2)
    tokens = [(c, a, old, adv) for ro in batch
              for c, a, old, adv in zip(ro["contexts"], ro["actions"], ro["logp_old"], ro["advantages"])]
    # The policy after one step, scored by the spec: after one Adam step several ratios already lie outside the band.
    logp = [spec_log_softmax(spec_logits(one["params"], c))[a] for c, a, _, _ in tokens]
    ratios = [math.exp(new - old) for new, (_, _, old, _) in zip(logp, tokens)]
    if not any(abs(r - 1.0) > 0.2 for r in ratios):
        raise Mismatch(f"fixture error: no ratio left the band after one step: {ratios}")
    want = -spec_surrogate(logp, [t[2] for t in tokens], [t[3] for t in tokens], 0.2)
    assert_close(two["losses"][1], want, 1e-9, "ppo_update(epochs=2): the loss of the second epoch",
                 hint="every epoch compares against the logp_old stored in the rollouts; do not refresh pi_old "
                      "between epochs (the ratios would all be 1 again and nothing would ever be clipped)")


@pytest.mark.task("ppo_update")
def test_ppo_update_lowers_the_loss_and_keeps_state(kata):
    params, batch = checkpoint()["policy"], toy_batch()
    out = kata.ppo_update(params, batch, None, eps=0.2, lr=0.01, epochs=3)
    assert_equal(len(out["losses"]), 3, "ppo_update(epochs=3): one loss per epoch")
    if not out["losses"][-1] < out["losses"][0]:
        raise Mismatch(f"ppo_update(epochs=3) losses {out['losses']}: the loss should fall across epochs")
    again = kata.ppo_update(out["params"], batch, out["state"], eps=0.2, lr=0.01, epochs=1)
    assert_equal(again["state"]["step"], 4, "Adam state step count after 3 + 1 epochs (the state is carried)")


@pytest.mark.task("ppo_update")
@pytest.mark.parametrize("eps,epochs,word", [
    (0.0, 1, "eps"), (1.0, 1, "eps"), (0.2, 0, "epochs"), (-0.2, 1, "eps"), (1.5, 1, "eps"), (float("nan"), 1, "eps"),
    (0.2, -1, "epochs"), (0.2, 2.5, "epochs"), (0.2, True, "epochs"), (0.2, 2.0, "epochs"),
], ids=["eps0", "eps1", "epochs0", "eps-negative", "eps1.5", "eps-nan", "epochs-negative", "epochs2.5", "epochs-True",
        "epochs2.0"])
@pytest.mark.parametrize("empty", [False, True], ids=["toy-batch", "empty-batch"])
def test_ppo_update_rejects_bad_arguments(kata, eps, epochs, word, empty):
    params, batch = checkpoint()["policy"], ([] if empty else toy_batch())
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.ppo_update(params, batch, None, eps=eps, lr=0.01, epochs=epochs)


# === slow: the seed's success criteria and the checkpoint's regeneration ===


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("ppo_update")
def test_rlhf_moves_the_policy_towards_preferred_names(kata):
    """Reward model > 70 % on held-out pairs; more names end in 'a'; PPO loss falls; KL rises, less for larger beta."""
    names = kata.load_names()
    train, held = kata.split_held_out(names)
    letters = [n[0] for n in train]
    reward_params = kata.train_reward_model(kata.make_pairs(train, random.Random(42)))
    accuracy = kata.reward_accuracy(reward_params, kata.make_pairs(held, random.Random(43)))
    assert accuracy > 0.7, f"reward model held-out accuracy {accuracy:.1%} <= 70 %"
    base = checkpoint()["policy"]
    before, reward_before, _ = kata.evaluate(base, reward_params, letters, seed=7)
    policy, history = kata.train_ppo(base, reward_params, letters, beta=0.5)
    after, reward_after, _ = kata.evaluate(policy, reward_params, letters, seed=7)
    assert after > before + 0.3, f"names ending in 'a': {before:.0%} -> {after:.0%}, want +30 points"
    assert reward_after > reward_before + 0.5, f"mean reward {reward_before:+.3f} -> {reward_after:+.3f}"
    fall = sum(h["loss_first"] - h["loss_last"] for h in history) / len(history)
    assert fall > 0, f"the PPO loss should fall within an update on average, changed by {-fall:+.4f}"
    kl = [h["kl"] for h in history]
    assert kl[0] == 0.0 and min(kl) >= 0.0, f"KL must start at 0 and never be negative: {kl[:3]}"
    late = sum(kl[-5:]) / 5
    assert late > sum(kl[:5]) / 5, "KL should rise during training"
    _, low_history = kata.train_ppo(base, reward_params, letters, beta=0.1)
    low = sum(h["kl"] for h in low_history[-5:]) / 5
    assert late < low, f"a stronger penalty should keep KL lower: beta 0.5 -> {late:.3f}, beta 0.1 -> {low:.3f}"


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("reward_backward")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    out = tmp_path / "checkpoint.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-checkpoint", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), checkpoint()
    assert_equal(sorted(fresh), sorted(shipped), "checkpoint keys")
    for key in shipped:
        if key in ("policy", "reward_model"):
            for name, value in shipped[key].items():
                assert_close(fresh[key][name], value, 1e-6, f"regenerated {key}[{name!r}]")
        else:
            assert_equal(fresh[key], shipped[key], f"checkpoint {key!r}")
