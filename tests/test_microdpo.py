"""Graded tests for microdpo: sequence log-probabilities, the DPO loss, KL to the reference.

Expected values come from the independent spec below (the model written out
again with plain floats, the DPO loss as a softplus, KL as a sum over the
vocabulary), from closed forms (loss = log 2 when policy = reference; the
loss gradient -beta sigmoid(-x); d log p / d bias = one_hot - softmax), from
central finite differences, or from properties (KL >= 0 and 0 at the
reference; a small step against the gradient raises the chosen log-prob ratio
over the rejected one; the reference comes back bit-identical).

The model tests load the reference model from tests/data/microdpo/base.json,
trained by the solution's own code with

    python solutions/microdpo/microdpo.py --train-base tests/data/microdpo/base.json

(about 20 s, data/names.txt only). The slow tests re-run that command and
check it reproduces the shipped file, and train policies to the seed's
success criteria (`pytest katas/microdpo -m slow --solutions`).
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

from workbook.checks import Mismatch, assert_close, assert_equal, require_earlier, vector

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microdpo" / "base.json"
NAMES = ROOT / "data" / "names.txt"
VOCAB = ".abcdefghijklmnopqrstuvwxyz"
LOG2 = math.log(2.0)


# === the independent spec ===


def spec_logits(params, context):
    x = [v for t in context for v in params["C"][t]]
    h = [math.tanh(math.fsum(w * v for w, v in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"])]
    return [math.fsum(w * v for w, v in zip(row, h)) + b for row, b in zip(params["W2"], params["b2"])]


def spec_log_softmax(logits):
    top = max(logits)
    log_total = math.log(math.fsum(math.exp(z - top) for z in logits))
    return [z - top - log_total for z in logits]


def spec_positions(prompt, completion):
    """(context, target) for each scored character: completion + '.', after the prompt."""
    context = [0, 0, 0]
    for ch in prompt:
        context = context[1:] + [VOCAB.index(ch)]
    out = []
    for ch in completion + ".":
        out.append((tuple(context), VOCAB.index(ch)))
        context = context[1:] + [VOCAB.index(ch)]
    return out


def spec_seq_logp(params, prompt, completion):
    return math.fsum(spec_log_softmax(spec_logits(params, c))[t] for c, t in spec_positions(prompt, completion))


def spec_softplus_neg(x):
    """-log sigmoid(x) = log(1 + exp(-x)), written stably."""
    return max(-x, 0.0) + math.log1p(math.exp(-abs(x)))


def spec_dpo(pc, pr, rc, rr, beta):
    return spec_softplus_neg(beta * ((pc - rc) - (pr - rr)))


def spec_mean_dpo(policy, reference, pairs, beta):
    return math.fsum(
        spec_dpo(spec_seq_logp(policy, p, w), spec_seq_logp(policy, p, l),
                 spec_seq_logp(reference, p, w), spec_seq_logp(reference, p, l), beta)
        for p, w, l in pairs) / len(pairs)


def spec_kl(p_logits, q_logits):
    lp, lq = spec_log_softmax(p_logits), spec_log_softmax(q_logits)
    return math.fsum(math.exp(a) * (a - b) for a, b in zip(lp, lq))


@functools.lru_cache(maxsize=None)
def _checkpoint_text():
    return CHECKPOINT.read_text(encoding="utf-8")


def reference():
    """A fresh copy of the shipped reference parameters."""
    return json.loads(_checkpoint_text())["params"]


def nudged(params, seed, scale=0.05):
    """A policy near the reference: every weight moved by up to +-scale (seeded)."""
    rng = random.Random(seed)
    return {k: [[v + rng.uniform(-scale, scale) for v in row] if isinstance(row, list) else row + rng.uniform(-scale, scale)
                for row in t] for k, t in params.items()}


PAIRS = [("k", "ayla", "evin"), ("m", "ia", "ax"), ("j", "ana", "on"), ("e", "va", "d")]


def number(x):
    return x.data if hasattr(x, "data") else x


def require_pair_pieces(kata, task):
    pol = nudged(reference(), 3, 0.02)
    require_earlier(task, [
        ("sequence_log_prob", "sequence_log_prob(policy, 'k', 'ayla')",
         lambda: number(kata.sequence_log_prob(pol, "k", "ayla")), spec_seq_logp(pol, "k", "ayla")),
        ("dpo_loss", "dpo_loss(-7.5, -9.0, -8.0, -8.25, 0.7)",
         lambda: number(kata.dpo_loss(-7.5, -9.0, -8.0, -8.25, 0.7)), spec_dpo(-7.5, -9.0, -8.0, -8.25, 0.7)),
    ], 1e-9, relative=True)


_PASSED = set()  # (id of the kata module, earlier task) already checked in this session


def require_loss_and_grads(kata, task):
    require_pair_pieces(kata, task)
    if (id(kata), "dpo_loss_and_grads") in _PASSED:
        return
    pol, ref = nudged(reference(), 4, 0.02), reference()
    require_earlier(task, [
        ("dpo_loss_and_grads", "the loss of dpo_loss_and_grads(policy, reference, [('m', 'ia', 'ax')], beta=0.5)",
         lambda: number(kata.dpo_loss_and_grads(pol, ref, PAIRS[1:2], 0.5)[0]), spec_mean_dpo(pol, ref, PAIRS[1:2], 0.5)),
    ], 1e-9, relative=True)
    _PASSED.add((id(kata), "dpo_loss_and_grads"))


# === task 1: sequence_log_prob ===


@pytest.mark.task("sequence_log_prob")
@pytest.mark.parametrize("prompt,completion", [("k", "ayla"), ("", "anna"), ("m", ""), ("abcd", "e"), ("zz", "yxq")])
def test_sequence_log_prob_matches_the_spec(kata, prompt, completion):
    params = reference()
    assert_close(number(kata.sequence_log_prob(params, prompt, completion)), spec_seq_logp(params, prompt, completion),
                 1e-9, f"sequence_log_prob(prompt={prompt!r}, completion={completion!r})",
                 hint="score every completion character and the final '.', not the prompt; the context starts as '...'")


@pytest.mark.task("sequence_log_prob")
def test_sequence_log_prob_is_differentiable(kata):
    params = reference()
    live = kata.as_values(params)
    got = kata.sequence_log_prob(live, "r", "osa")
    assert_close(got.data, spec_seq_logp(params, "r", "osa"), 1e-9, "sequence_log_prob with Value parameters")
    got.backward()
    # d log p / d b2[i] = sum over scored positions of (1[i == target] - softmax_i)
    expected = [0.0] * 27
    for context, target in spec_positions("r", "osa"):
        probs = [math.exp(v) for v in spec_log_softmax(spec_logits(params, context))]
        for i in range(27):
            expected[i] += (i == target) - probs[i]
    assert_close([v.grad for v in live["b2"]], expected, 1e-9, "d sequence_log_prob / d b2",
                 hint="build the sum from the Values log_prob returns, so backward() reaches the parameters")


# === task 2: dpo_loss ===


@pytest.mark.task("dpo_loss")
@pytest.mark.parametrize("pc,pr", [(-7.3, -11.2), (0.0, 0.0), (-30.5, -2.25)])
@pytest.mark.parametrize("beta", [0.1, 0.5, 3.0])
def test_loss_is_log_2_when_policy_equals_reference(kata, pc, pr, beta):
    assert_close(number(kata.dpo_loss(pc, pr, pc, pr, beta)), LOG2, 1e-12,
                 f"dpo_loss with policy = reference (beta={beta})",
                 hint="x = beta * ((pc - rc) - (pr - rr)) is 0 here, and -log sigmoid(0) = log 2")


@pytest.mark.task("dpo_loss")
def test_dpo_loss_matches_the_spec(kata):
    rng = random.Random(3)
    for _ in range(12):
        pc, pr, rc, rr = (rng.uniform(-20, -1) for _ in range(4))
        beta = rng.choice([0.05, 0.3, 1.0, 4.0])
        assert_close(number(kata.dpo_loss(pc, pr, rc, rr, beta)), spec_dpo(pc, pr, rc, rr, beta), 1e-12,
                     f"dpo_loss({pc:.3f}, {pr:.3f}, {rc:.3f}, {rr:.3f}, beta={beta})",
                     hint="compare log-ratios: (pc - rc) - (pr - rr), times beta, then -log sigmoid")


@pytest.mark.task("dpo_loss")
@pytest.mark.parametrize("margin", [1e3, -1e3, 2e3, -2e3, 745.5, -745.5], ids=lambda m: f"margin{m:+g}")
def test_dpo_loss_is_stable_at_huge_margins(kata, margin):
    beta = 1.0 if abs(margin) < 1500 else 0.5
    pc = kata.Value(-3.0 + margin)
    pr = kata.Value(-3.0)
    loss = kata.dpo_loss(pc, pr, -3.0, -3.0, beta)
    x = beta * margin
    assert_close(loss.data, spec_softplus_neg(x), 1e-9, f"dpo_loss at beta * margin = {x:g}",
                 hint="-log sigmoid(x) = log(1 + exp(-x)); for x < 0 rewrite it as -x + log(1 + exp(x))")
    loss.backward()
    # d loss / d pc = -beta sigmoid(-x), written without overflow
    slope = -beta * (math.exp(-x) / (1.0 + math.exp(-x)) if x >= 0 else 1.0 / (1.0 + math.exp(x)))
    assert_close([pc.grad, pr.grad], [slope, -slope], 1e-9, f"gradient of dpo_loss at beta * margin = {x:g}",
                 hint="the gradient must stay finite: avoid log(sigmoid(x)) when sigmoid(x) underflows to 0")


@pytest.mark.task("dpo_loss")
def test_dpo_loss_gradient_matches_finite_differences(kata):
    rng = random.Random(9)
    h = 1e-6
    for _ in range(6):
        pc, pr, rc, rr = (rng.uniform(-15, -1) for _ in range(4))
        beta = rng.choice([0.1, 0.7, 2.0])
        a, b = kata.Value(pc), kata.Value(pr)
        kata.dpo_loss(a, b, rc, rr, beta).backward()
        fd_c = (spec_dpo(pc + h, pr, rc, rr, beta) - spec_dpo(pc - h, pr, rc, rr, beta)) / (2 * h)
        fd_r = (spec_dpo(pc, pr + h, rc, rr, beta) - spec_dpo(pc, pr - h, rc, rr, beta)) / (2 * h)
        assert_close([a.grad, b.grad], [fd_c, fd_r], 1e-7, f"d dpo_loss / d (pc, pr) at beta={beta}",
                     hint="the loss must be built from Value operations so backward() reaches pc and pr")
        if not (a.grad < 0 < b.grad):
            raise Mismatch(f"descending the loss must raise the chosen log-prob and lower the rejected one; "
                           f"got d/dpc = {a.grad:.4g}, d/dpr = {b.grad:.4g}")


@pytest.mark.task("dpo_loss")
@pytest.mark.parametrize("as_value", [False, True], ids=["floats", "Values"])
def test_dpo_loss_with_sequence_log_probs_below_minus_745(kata, as_value):
    # Long completions have log-probabilities far below log(min float): exp(-800) is 0.0, so any
    # detour through probabilities (pi / ref) divides 0 by 0. Only the log-ratios matter.
    cases = [(-800.0, -1210.5, -803.25, -1200.0, 0.5), (-2000.0, -760.0, -1999.0, -761.5, 2.0),
             (-746.0, -746.0, -746.0, -746.0, 0.1)]
    for pc, pr, rc, rr, beta in cases:
        a, b = (kata.Value(pc), kata.Value(pr)) if as_value else (pc, pr)
        got = kata.dpo_loss(a, b, rc, rr, beta)
        assert_close(number(got), spec_dpo(pc, pr, rc, rr, beta), 1e-9,
                     f"dpo_loss({pc}, {pr}, {rc}, {rr}, beta={beta})",
                     hint="subtract log-probabilities ((pc - rc) - (pr - rr)); never exponentiate a sequence log-prob")


@pytest.mark.task("dpo_loss")
@pytest.mark.parametrize("beta", [0.0, -0.5, float("nan"), -1e-12], ids=["beta0", "beta-negative", "beta-nan",
                                                                         "beta-tiny-negative"])
def test_dpo_loss_rejects_bad_beta(kata, beta):
    with pytest.raises(ValueError, match=r"\bbeta\b"):
        kata.dpo_loss(-1.0, -2.0, -1.5, -1.5, beta)


# === task 3: kl_divergence ===


@pytest.mark.task("kl_divergence")
def test_kl_matches_the_spec_and_is_nonnegative(kata):
    rng = random.Random(4)
    for n in (1, 2, 5, 27):
        for _ in range(3):
            p, q = vector(rng, n, 4.0), vector(rng, n, 4.0)
            got = kata.kl_divergence(p, q)
            assert_close(got, spec_kl(p, q), 1e-12, f"kl_divergence on {n} logits",
                         hint="KL(p || q) = sum_i p_i (log p_i - log q_i) with p from the policy (first argument)")
            assert got >= 0.0, f"kl_divergence returned {got} < 0"


@pytest.mark.task("kl_divergence")
def test_kl_is_zero_at_the_reference_and_shift_invariant(kata):
    rng = random.Random(5)
    q = vector(rng, 27, 3.0)
    assert_close(kata.kl_divergence(q, list(q)), 0.0, 1e-15, "kl_divergence(q, q)")
    assert_close(kata.kl_divergence([z + 123.5 for z in q], q), 0.0, 1e-12, "kl_divergence(q + 123.5, q)",
                 hint="compare probabilities, not raw logits: softmax ignores a constant shift")


@pytest.mark.task("kl_divergence")
def test_kl_is_never_negative_when_the_distributions_are_equal(kata):
    """The docstring promises a float >= 0: equal softmaxes from shifted logits can round to -1e-17."""
    rng = random.Random(5)
    for trial in range(12):
        q = vector(rng, 27, 3.0)
        for shift in (0.5, 123.5, -7.25):
            got = kata.kl_divergence([z + shift for z in q], q)
            assert_close(got, 0.0, 1e-12, f"kl_divergence(q + {shift}, q) (trial {trial})")
            if not got >= 0.0:
                raise Mismatch(f"kl_divergence(q + {shift}, q) (trial {trial}) returned {got!r} < 0; the docstring "
                               "promises a float >= 0\n  hint: rounding leaves a tiny negative sum: clamp it at 0")


@pytest.mark.task("kl_divergence")
def test_kl_with_a_spread_above_745_inside_one_row(kata):
    # exp(-800) underflows to 0.0: softmax probabilities of exactly 0, whose log is an error.
    p = [0.0, -800.0, 2.5, -1200.0, 1.0]
    q = [3.0, 0.5, -790.0, 1.5, -2000.0]
    for a, b in ((p, q), (q, p), (p, p)):
        assert_close(kata.kl_divergence(a, b), spec_kl(a, b), 1e-9, f"kl_divergence({a}, {b})",
                     hint="work in log-softmax (z - max - log sum exp(z - max)); an entry whose policy probability "
                          "underflows to 0 contributes 0, and a reference log-prob of -790 is finite")


@pytest.mark.task("kl_divergence")
@pytest.mark.parametrize("offset", [1000.0, -1000.0, -5000.0])
def test_kl_survives_large_logits(kata, offset):
    rng = random.Random(6)
    p = [offset + v for v in vector(rng, 9, 30.0)]
    q = [-offset / 2 + v for v in vector(rng, 9, 30.0)]
    got = kata.kl_divergence(p, q)
    assert_close(got, spec_kl(p, q), 1e-9, f"kl_divergence with logits around {offset:g}",
                 hint="subtract the max before exp (log-softmax); a probability that underflows contributes 0")


# === task 4: dpo_loss_and_grads ===


@pytest.mark.task("dpo_loss_and_grads")
def test_loss_is_log_2_at_the_start(kata):
    require_pair_pieces(kata, "dpo_loss_and_grads")
    ref = reference()
    loss, _ = kata.dpo_loss_and_grads(reference(), ref, PAIRS[1:3], 0.5)
    assert_close(loss, LOG2, 1e-12, "dpo_loss_and_grads with policy = reference",
                 hint="average the per-pair losses; each is log 2 while the policy equals the reference")


@pytest.mark.task("dpo_loss_and_grads")
def test_grads_match_finite_differences(kata):
    require_pair_pieces(kata, "dpo_loss_and_grads")
    ref, policy = reference(), nudged(reference(), 8)
    pairs, beta, h = PAIRS[2:], 0.7, 1e-5
    before = copy.deepcopy(policy)
    loss, grads = kata.dpo_loss_and_grads(policy, ref, pairs, beta)
    assert_close(loss, spec_mean_dpo(policy, ref, pairs, beta), 1e-9, "dpo_loss_and_grads loss (policy != reference)",
                 hint="log-ratios against the REFERENCE model's log-probs, averaged over the pairs")
    assert_equal(policy, before, "policy after dpo_loss_and_grads (the caller updates it, not this function)")
    rng = random.Random(2)
    for name in ("C", "W1", "b1", "W2", "b2"):
        tensor = policy[name]
        i = rng.randrange(len(tensor))
        j = rng.randrange(len(tensor[i])) if isinstance(tensor[i], list) else None
        row, idx = (tensor[i], j) if j is not None else (tensor, i)
        keep = row[idx]
        row[idx] = keep + h
        up = spec_mean_dpo(policy, ref, pairs, beta)
        row[idx] = keep - h
        down = spec_mean_dpo(policy, ref, pairs, beta)
        row[idx] = keep
        got = grads[name][i][j] if j is not None else grads[name][i]
        assert_close(got, (up - down) / (2 * h), 1e-6, f"d loss / d {name}[{i}]{'' if j is None else f'[{j}]'}",
                     hint="differentiate the mean over pairs with respect to the policy only")


@pytest.mark.task("dpo_loss_and_grads")
def test_a_step_against_the_gradient_raises_chosen_over_rejected(kata):
    require_pair_pieces(kata, "dpo_loss_and_grads")
    ref = reference()
    prompt, chosen, rejected = PAIRS[0]
    _, grads = kata.dpo_loss_and_grads(reference(), ref, [PAIRS[0]], 0.5)
    assert_equal(ref, reference(), "reference after dpo_loss_and_grads (frozen: bit-identical)")
    norm = math.sqrt(sum(g * g for t in grads.values() for row in t for g in (row if isinstance(row, list) else [row])))
    step = 1e-3 / norm
    moved = {k: [[v - step * g for v, g in zip(row, grow)] if isinstance(row, list) else row - step * grow
                 for row, grow in zip(ref[k], grads[k])] for k in ref}
    d_chosen = spec_seq_logp(moved, prompt, chosen) - spec_seq_logp(ref, prompt, chosen)
    d_rejected = spec_seq_logp(moved, prompt, rejected) - spec_seq_logp(ref, prompt, rejected)
    if not d_chosen - d_rejected > 0:
        raise Mismatch(f"a small step against the gradient changed log p(chosen) by {d_chosen:.3g} and log p(rejected)"
                       f" by {d_rejected:.3g}: the chosen must gain on the rejected"
                       "\n  hint: the loss is -log sigmoid(beta * (chosen ratio - rejected ratio))")


# === task 5: train_dpo ===


@pytest.mark.task("train_dpo")
def test_train_dpo_freezes_the_reference_and_lowers_the_loss(kata):
    require_loss_and_grads(kata, "train_dpo")
    ref, policy = reference(), reference()
    batch = [PAIRS[1]]
    trained, losses = kata.train_dpo(policy, ref, [batch] * 3, 0.5, 0.01)
    assert_equal(ref, reference(), "reference after train_dpo (frozen: bit-identical)")
    assert_equal(policy, reference(), "the policy passed in (train_dpo must train a copy)")
    assert_equal(len(losses), 3, "len(losses) after 3 batches")
    assert_close(losses[0], LOG2, 1e-12, "losses[0]: the first batch's loss before any update")
    after = spec_mean_dpo(trained, ref, batch, 0.5)
    if not after < LOG2 - 0.02:
        raise Mismatch(f"3 DPO steps on one batch: loss log 2 -> {after:.4f}; expected a clear drop"
                       "\n  hint: step against the gradient, and keep the reference frozen")
    kl = math.fsum(spec_kl(spec_logits(trained, c), spec_logits(ref, c)) for c, _ in spec_positions("m", "ia"))
    assert kl > 0.0, "the policy moved, so KL(policy || reference) must be > 0"


@pytest.mark.task("train_dpo")
def test_train_dpo_is_adam_on_the_dpo_gradient(kata):
    require_loss_and_grads(kata, "train_dpo")
    ref, policy = reference(), nudged(reference(), 12, 0.02)
    batches = [[PAIRS[3]], [PAIRS[1]]]
    trained, _ = kata.train_dpo(policy, ref, batches, 1.0, 0.003)
    # the spec: Adam (0.9, 0.999, 1e-8), steps from 1, on the kata's own gradient
    cur, m, v = copy.deepcopy(policy), {}, {}
    for t, batch in enumerate(batches, start=1):
        _, grads = kata.dpo_loss_and_grads(cur, ref, batch, 1.0)
        for k in cur:
            rows = cur[k] if isinstance(cur[k][0], list) else [cur[k]]
            grows = grads[k] if isinstance(grads[k][0], list) else [grads[k]]
            for r, (row, grow) in enumerate(zip(rows, grows)):
                for j, g in enumerate(grow):
                    key = (k, r, j)
                    m[key] = 0.9 * m.get(key, 0.0) + 0.1 * g
                    v[key] = 0.999 * v.get(key, 0.0) + 0.001 * g * g
                    row[j] -= 0.003 * (m[key] / (1 - 0.9 ** t)) / (math.sqrt(v[key] / (1 - 0.999 ** t)) + 1e-8)
    for k in cur:
        assert_close(trained[k], cur[k], 1e-12, f"policy[{k!r}] after 2 steps",
                     hint="one Adam state for the whole run, steps numbered from 1, gradients from dpo_loss_and_grads")


@pytest.mark.task("train_dpo")
def test_train_dpo_logs_step_loss_and_updated_policy(kata):
    require_loss_and_grads(kata, "train_dpo")
    ref, policy = reference(), nudged(reference(), 7, 0.02)
    calls = []
    trained, losses = kata.train_dpo(policy, ref, [[PAIRS[0]], [PAIRS[2]], [PAIRS[1]]], 0.5, 0.01,
                                     log=lambda step, loss, current: calls.append((step, loss, copy.deepcopy(current))))
    assert_equal([c[0] for c in calls], [1, 2, 3], "the steps passed to log(step, loss, policy), one call per batch",
                 hint="call log after each update, steps numbered from 1")
    assert_close([c[1] for c in calls], losses, 0.0, "the losses passed to log: log(step, losses[step - 1], policy)")
    for k in trained:
        assert_close(calls[-1][2][k], trained[k], 0.0, f"policy[{k!r}] passed to the last log call (the updated policy)",
                     hint="call log after adam_update, with the policy being trained")


@pytest.mark.task("train_dpo")
@pytest.mark.parametrize("kwargs,word", [({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"),
                                         ({"lr": 0.0}, "lr"), ({"lr": -0.1}, "lr"),
                                         ({"beta": 0.0, "batches": []}, "beta"), ({"lr": 0.0, "batches": []}, "lr"),
                                         ({"beta": float("nan"), "batches": []}, "beta"),
                                         ({"lr": float("nan"), "batches": []}, "lr"),
                                         ({"lr": -1e-12, "batches": []}, "lr")],
                         ids=["beta0", "beta-negative", "lr0", "lr-negative", "beta0-no-batches", "lr0-no-batches",
                              "beta-nan-no-batches", "lr-nan-no-batches", "lr-tiny-negative-no-batches"])
def test_train_dpo_rejects_bad_arguments(kata, kwargs, word):
    """train_dpo itself checks (not only dpo_loss on the first batch): with no batches it must still raise."""
    args = {"beta": 0.5, "lr": 0.01, "batches": [[PAIRS[0]]], **kwargs}
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.train_dpo(reference(), reference(), args["batches"], args["beta"], args["lr"])


# === slow: the seed's success criteria and the checkpoint ===


def split_names():
    names = [n.strip().lower() for n in NAMES.read_text(encoding="utf-8").splitlines() if n.strip()]
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def spec_sample(params, rng, limit=20):
    context, out = [0, 0, 0], []
    while len(out) < limit:
        probs = [math.exp(v) for v in spec_log_softmax(spec_logits(params, context))]
        token = rng.choices(range(27), weights=probs)[0]
        if token == 0:
            break
        out.append(VOCAB[token])
        context = context[1:] + [token]
    return "".join(out)


def ends_in_a_rate(params, n=300):
    rng = random.Random(123)
    return sum(spec_sample(params, rng).endswith("a") for _ in range(n)) / n


def run_dpo(kata, beta, steps=40):
    """Train with the kata's own recipe (pairs, batches, hyperparameters); (policy, losses, spec KL every 10 steps)."""
    train, held = split_names()
    ref = reference()
    pairs = kata.make_pairs(train, kata.N_PAIRS, random.Random(kata.SEED))
    batches = kata.make_batches(pairs, steps, kata.DPO_BATCH, random.Random(kata.SEED))
    contexts = sorted({c for name in held[::8] for c, _ in spec_positions("", name)})
    ref_logits = [spec_logits(ref, c) for c in contexts]
    trace = [0.0]

    def log(step, loss, policy):
        if step % 10 == 0:
            trace.append(math.fsum(spec_kl(spec_logits(policy, c), q) for c, q in zip(contexts, ref_logits)) / len(contexts))

    policy, losses = kata.train_dpo(ref, ref, batches, beta, kata.DPO_LR, log=log)
    return policy, losses, trace


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("train_dpo")
def test_dpo_loss_falls_preferred_names_rise_and_kl_grows(kata):
    policy, losses, trace = run_dpo(kata, kata.BETA)
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert abs(losses[0] - LOG2) < 1e-9, f"first batch loss {losses[0]} is not log 2"
    if not last < first - 0.1:
        raise Mismatch(f"DPO loss did not fall: first 10 batches {first:.4f}, last 10 {last:.4f}")
    before, after = ends_in_a_rate(reference()), ends_in_a_rate(policy)
    if not after > before + 0.2:
        raise Mismatch(f"preferred names (ending in 'a') {before:.0%} of reference samples -> {after:.0%}; expected +20 points")
    if not all(a < b for a, b in zip(trace, trace[1:])):
        raise Mismatch(f"KL(policy || reference) every 10 steps should grow: {[round(k, 4) for k in trace]}")


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.task("train_dpo")
def test_beta_controls_the_kl(kata):
    kl_small = run_dpo(kata, 0.1, steps=30)[2][-1]
    kl_large = run_dpo(kata, 2.0, steps=30)[2][-1]
    if not kl_small > kl_large:
        raise Mismatch(f"after 30 steps KL is {kl_small:.4f} for beta 0.1 and {kl_large:.4f} for beta 2.0; "
                       "a larger beta should keep the policy closer to the reference")


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.task("sequence_log_prob")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    """Re-run the documented command and compare (tolerance 1e-6 for libm differences across platforms)."""
    out = tmp_path / "base.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-base", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=140)
    assert done.returncode == 0, f"--train-base failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), json.loads(_checkpoint_text())
    assert_equal({k: v for k, v in fresh.items() if k != "params"},
                 {k: v for k, v in shipped.items() if k != "params"}, "checkpoint metadata")
    assert_equal(sorted(fresh["params"]), sorted(shipped["params"]), "checkpoint tensors")
    for name, tensor in shipped["params"].items():
        assert_close(fresh["params"][name], tensor, 1e-6, f"regenerated tensor {name}")
    _, held = split_names()
    examples = [("", name) for name in held[::20]]
    mean = math.fsum(number(kata.sequence_log_prob(fresh["params"], p, c)) for p, c in examples) / len(examples)
    assert_close(mean, math.fsum(spec_seq_logp(fresh["params"], p, c) for p, c in examples) / len(examples), 1e-9,
                 "mean held-out sequence log-prob of the regenerated model")
