"""
Proximal Policy Optimization for RLHF, from scratch: the whole loop in one
file. A reward model learns from preference pairs ("this name is better than
that one") with a pairwise ranking loss; a policy (a small character-level
language model) samples names, the reward model scores them, a value function
predicts the score, and PPO nudges the policy towards completions that scored
better than predicted, never letting one update move any token's probability
ratio outside [1 - eps, 1 + eps], and paying a KL penalty for drifting from
the frozen reference model it started as.

    reward model   loss = -log sigmoid(r(chosen) - r(rejected))
    return         R_t = r(y) - beta * sum_{t' >= t} (log pi_old(a_t') - log ref(a_t'))
    advantage      A_t = R_t - V(s_t)               (no GAE: gamma = lambda = 1)
    surrogate      J = mean_t min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)
                   r_t = pi(a_t | s_t) / pi_old(a_t | s_t)

The preference is microdpo's, for comparability: a name ending in "a" beats a
name with the same first letter that does not. The base policy samples such
names about 30 % of the time; after PPO it is well over half.

The policy is a character MLP over a 3-character context (Bengio et al. 2003),
not microgpt's transformer: PPO only needs per-token log-probabilities, which
any autoregressive model gives, and the scalar Value makes a transformer too
slow for a one-minute demo. The base policy ships as a checkpoint
(tests/data/microppo/checkpoint.json) with the trained reward model.

References: Schulman et al., "Proximal Policy Optimization Algorithms" (2017);
Ziegler et al., "Fine-Tuning Language Models from Human Preferences" (2019)
and Ouyang et al., "Training language models to follow instructions with
human feedback" (InstructGPT, 2022) for the RLHF recipe (reward model, KL
penalty in the reward); Bradley and Terry (1952) for the ranking loss.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
from pathlib import Path

# Kata skeleton generated from solutions/microppo/microppo.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microppo`; stuck? `python -m workbook hint microppo`.
from workbook import KataTodo

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "microppo" / "checkpoint.json"
CHECKPOINT_COMMAND = "python solutions/microppo/microppo.py --train-checkpoint tests/data/microppo/checkpoint.json"

# === SCALAR AUTOGRAD (the canonical Value, as written in microgpt) ===
# Every number in the model is a Value: it remembers which Values made it
# (_children) and the local derivative of itself with respect to each
# (_local_grads). backward() walks that graph once, in reverse topological
# order, applying the chain rule: child.grad += local_grad * node.grad.


class Value:
    """A scalar that records how it was computed, for reverse-mode autodiff."""

    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = float(data)
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    # --- arithmetic: d(a+b)/da = 1, d(a*b)/da = b, d(a**n)/da = n*a**(n-1) ---
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, exponent):
        # exponent is a plain int/float constant, not a Value
        return Value(self.data ** exponent, (self,), (exponent * self.data ** (exponent - 1),))

    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1.0

    def __rtruediv__(self, other):
        return other * self ** -1.0

    # --- elementwise functions: the derivative is stored at creation time ---
    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), (e,))

    def log(self):
        # callers clip first: log(max(p, 1e-10)) -- a Value at 0 has no log
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def relu(self):
        return Value(max(0.0, self.data), (self,), (1.0 if self.data > 0 else 0.0,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,))

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data)) if self.data >= 0 else math.exp(self.data) / (1.0 + math.exp(self.data))
        return Value(s, (self,), (s * (1.0 - s),))

    def backward(self):
        """Fill .grad of every Value this one depends on (d self / d node)."""
        # Iterative depth-first post-order: a recursive one overflows Python's
        # stack on a whole training step (tens of thousands of nodes deep).
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._children if id(child) not in seen)
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node._children, node._local_grads):
                child.grad += local * node.grad

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


# --- AUTOGRAD DIFFERENCES IN THIS SCRIPT ---
# This Value class is microgpt's canonical one, unchanged. For PPO:
# - clip(x, lo, hi): Required for PPO ratio clipping. A function beside the
#   class (the class stays canonical): it passes the gradient through (local
#   derivative 1) inside [lo, hi] and blocks it (0) outside, which is exactly
#   what makes a clipped token stop pulling on the policy.
# - dot(weights, inputs) builds ONE node for a whole dot product, with
#   d(sum w_i x_i)/dw_i = x_i and /dx_i = w_i as its local gradients, where
#   microgpt builds two nodes per term: same gradients, ~20x fewer objects.
# - log_prob(logits, target) is one fused node for log softmax(logits)[target],
#   computed stably (max subtracted) with local gradients one_hot - softmax.
# - Only the policy is made of Values. The reference policy, the reward model
#   and the value function are plain floats (see the IMPLEMENTATION NOTE).
# The helpers return plain floats when no input is a Value, so one forward
# pass serves PPO's gradient step (Values) and sampling (fast floats).
#
# IMPLEMENTATION NOTE: The reward model and value function use plain floats (not
# autograd Value objects) for runtime tractability. The policy model uses scalar
# autograd because PPO gradients must flow through the policy's generation process.
# Production RLHF (InstructGPT, ChatGPT) vectorizes all three models on GPUs;
# we split the approach to stay within pure-Python runtime constraints while
# preserving the complete PPO algorithm.


def clip(x, lo, hi):
    """min(max(x, lo), hi); for a Value, d/dx is 1 inside [lo, hi] and 0 outside."""
    if type(x) is not Value:
        return min(max(x, lo), hi)
    if x.data < lo:
        return Value(lo, (x,), (0.0,))
    if x.data > hi:
        return Value(hi, (x,), (0.0,))
    return Value(x.data, (x,), (1.0,))


def dot(weights, inputs):
    """sum_i weights[i] * inputs[i] as one node (a float when nothing is a Value)."""
    total, children, local_grads = 0.0, [], []
    for w, x in zip(weights, inputs):
        w_is_value, x_is_value = type(w) is Value, type(x) is Value
        wd = w.data if w_is_value else w
        xd = x.data if x_is_value else x
        total += wd * xd
        if w_is_value:
            children.append(w)
            local_grads.append(xd)
        if x_is_value:
            children.append(x)
            local_grads.append(wd)
    return Value(total, tuple(children), tuple(local_grads)) if children else total


def log_prob(logits, target):
    """log softmax(logits)[target] as one node: d/d logit_i = [i == target] - p_i."""
    data = [z.data if type(z) is Value else z for z in logits]
    top = max(data)  # stable: exp(z - max) <= 1 never overflows
    weights = [math.exp(z - top) for z in data]
    total = sum(weights)
    value = data[target] - top - math.log(total)
    children, local_grads = [], []
    for i, z in enumerate(logits):
        if type(z) is Value:
            children.append(z)
            local_grads.append((1.0 if i == target else 0.0) - weights[i] / total)
    return Value(value, tuple(children), tuple(local_grads)) if children else value


def log_softmax(logits):
    """Plain-float log softmax, stable: z - max - log sum exp(z - max)."""
    top = max(logits)
    log_total = math.log(sum(math.exp(z - top) for z in logits))
    return [z - top - log_total for z in logits]


def tanh(z):
    return z.tanh() if type(z) is Value else math.tanh(z)


# === DATA: NAMES AND PREFERENCE PAIRS ===
#
# A prompt is a name's first letter; its completion is the rest. The
# preference is simple enough to check by eye: a completion ending in "a" is
# preferred. Pairs come from data/names.txt, never a download: every name
# ending in "a" is paired with a random name of the same first letter that
# does not end in "a"; 15 % of pairs are swapped, as human labellers disagree
# (the best possible held-out accuracy is then ~85 %, and the reward model
# cannot become infinitely confident). Every 10th name (index % 10 == 0) is held out, so the
# reward model is judged on pairs it never saw.

VOCAB = ".abcdefghijklmnopqrstuvwxyz"
SEED = 42
LABEL_NOISE = 0.15  # labellers disagree: this fraction of pairs is swapped


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, lowercased, blank lines dropped."""
    return [line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def split_held_out(names):
    """(train, held_out): every 10th name (index % 10 == 0) is held out."""
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def preferred(name):
    """The hidden 'human' preference the reward model must discover."""
    return name.endswith("a")


def make_pairs(names, rng, noise=LABEL_NOISE):
    """(chosen, rejected) pairs: each preferred name against a same-letter name that is not.

    With probability `noise` the labeller disagrees and the pair is swapped.
    """
    others = {}
    for name in names:
        if not preferred(name):
            others.setdefault(name[0], []).append(name)
    pairs = []
    for name in names:
        if preferred(name) and name[0] in others:
            pair = (name, rng.choice(others[name[0]]))
            pairs.append(pair[::-1] if rng.random() < noise else pair)
    return pairs


# === THE POLICY: A CHARACTER MLP (provided) ===
#
#   x      = [C[c1], C[c2], C[c3]]          the last 3 characters, embedded
#   h      = tanh(W1 x + b1)                 HIDDEN units
#   logits = W2 h + b2                       one score per character
# "." pads the start of a name and ends it. ~1,100 parameters, the size the
# seed asks for (n_embd = 8). Pretrained on all training names, it is both the
# starting policy and the frozen reference that the KL penalty anchors to.

CONTEXT, EMBED, HIDDEN = 3, 8, 16
BASE_STEPS, BASE_BATCH, BASE_LR = 500, 32, 0.03
MAX_COMPLETION = 10  # characters after the prompt letter, "." included


def init_policy(rng):
    """Random policy weights: 1/sqrt(fan_in) Gaussians keep tanh out of saturation at step 0."""
    fan_in, V = CONTEXT * EMBED, len(VOCAB)
    return {
        "C": [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in range(V)],
        "W1": [[rng.gauss(0, 1) / math.sqrt(fan_in) for _ in range(fan_in)] for _ in range(HIDDEN)],
        "b1": [[0.0] * HIDDEN],
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in range(V)],
        "b2": [[0.0] * V],
    }


def policy_logits(params, context):
    """Logits (27 entries) for a context of CONTEXT token ids. Floats in, floats out; Values in, Values out."""
    x = [v for token in context for v in params["C"][token]]
    h = [tanh(dot(row, x) + b) for row, b in zip(params["W1"], params["b1"][0])]
    return [dot(row, h) + b for row, b in zip(params["W2"], params["b2"][0])]


def as_values(params):
    return {k: [[Value(v) for v in row] for row in rows] for k, rows in params.items()}


def grads_of(live):
    return {k: [[v.grad for v in row] for row in rows] for k, rows in live.items()}


def adam_state(params):
    zeros = {k: [[0.0] * len(row) for row in rows] for k, rows in params.items()}
    return {"step": 0, "m": zeros, "v": copy.deepcopy(zeros)}


def adam_update(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on every matrix of params, in place; state holds step, m, v (bias-corrected)."""
    state["step"] += 1
    c1, c2 = 1.0 - beta1 ** state["step"], 1.0 - beta2 ** state["step"]
    for k, rows in params.items():
        for p_row, g_row, m_row, v_row in zip(rows, grads[k], state["m"][k], state["v"][k]):
            for i, g in enumerate(g_row):
                m_row[i] = beta1 * m_row[i] + (1.0 - beta1) * g
                v_row[i] = beta2 * v_row[i] + (1.0 - beta2) * g * g
                p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + eps)


def make_examples(names):
    """(context, target) pairs: each character of name + '.' predicted from the CONTEXT before it."""
    examples = []
    for name in names:
        context = [0] * CONTEXT
        for ch in name + ".":
            examples.append((tuple(context), VOCAB.index(ch)))
            context = context[1:] + [VOCAB.index(ch)]
    return examples


def pretrain_policy(names, steps=BASE_STEPS, seed=SEED, log=None):
    """Maximum likelihood on names (Adam, linearly decaying rate); deterministic for a seed."""
    rng = random.Random(seed)
    params = init_policy(rng)
    state = adam_state(params)
    examples = make_examples(names)
    for step in range(1, steps + 1):
        batch = rng.sample(examples, BASE_BATCH)
        live = as_values(params)
        loss = -sum(log_prob(policy_logits(live, c), t) for c, t in batch) * (1.0 / len(batch))
        loss.backward()
        adam_update(params, grads_of(live), state, BASE_LR * (1.0 - (step - 1) / steps))
        if log and (step == 1 or step % 100 == 0):
            log(f"   pretrain step {step:>4}/{steps}  batch loss {loss.data:.4f}")
    return params


def sample_token(logits, rng):
    top = max(logits)
    return rng.choices(range(len(logits)), weights=[math.exp(z - top) for z in logits])[0]


def sample_name(params, letter, rng):
    """The prompt letter plus a sampled completion (at most MAX_COMPLETION characters)."""
    context, out = [0, 0, VOCAB.index(letter)], letter
    for _ in range(MAX_COMPLETION):
        token = sample_token(policy_logits(params, context), rng)
        if token == 0:
            break
        out += VOCAB[token]
        context = context[1:] + [token]
    return out


# === THE REWARD MODEL (plain floats, manual gradients) ===
#
# r(name) = w2 . tanh(W1 x + b1) + b2, with x the name's features: which
# letter it ends with (26), how often each letter occurs (26, divided by the
# length) and the length / 10. 8 hidden units: ~450 parameters. It never sees
# the rule "ends in a"; it only sees which of two names won.
#
# Bradley-Terry: P(chosen beats rejected) = sigmoid(r_c - r_r). Maximum
# likelihood over the pairs is the pairwise ranking loss -log sigmoid(r_c - r_r).
# Only the DIFFERENCE of rewards is learned: adding a constant to r changes
# nothing, which is why PPO needs a baseline (the value function) anyway.

REWARD_HIDDEN, REWARD_EPOCHS, REWARD_LR = 8, 3, 0.01
N_FEATURES = 53


def reward_features(name):
    """53 floats: one-hot last letter (26), letter frequencies (26), length / 10."""
    x = [0.0] * N_FEATURES
    if name:
        x[ord(name[-1]) - ord("a")] = 1.0
        for ch in name:
            x[26 + ord(ch) - ord("a")] += 1.0 / len(name)
    x[52] = len(name) / 10.0
    return x


def init_reward_model(rng):
    return {
        "W1": [[rng.gauss(0, 1) / math.sqrt(N_FEATURES) for _ in range(N_FEATURES)] for _ in range(REWARD_HIDDEN)],
        "b1": [0.0] * REWARD_HIDDEN,
        "w2": [rng.gauss(0, 1) / math.sqrt(REWARD_HIDDEN) for _ in range(REWARD_HIDDEN)],
        "b2": 0.0,
    }


def reward_forward(params, x):
    """(reward, hidden activations h) for one feature vector x."""
    h = [math.tanh(sum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"])]
    return sum(w * hi for w, hi in zip(params["w2"], h)) + params["b2"], h


def ranking_loss(r_chosen, r_rejected):
    """Pairwise ranking loss -log sigmoid(r_chosen - r_rejected) and its derivative.

    r_chosen, r_rejected: the reward model's scores (floats) of the preferred
    and the other completion. Returns (loss, grad) with
    grad = d loss / d r_chosen; d loss / d r_rejected is -grad. Must be finite
    and accurate for margins of +-1e3 (no overflow, no log(0)).
    """
    raise KataTodo('microppo.ranking_loss: Pairwise ranking loss -log sigmoid(r_chosen - r_rejected) and its derivative.')


def reward_backward(params, x, grad_out):
    """Backpropagate grad_out = d loss / d r through the reward MLP by hand.

    params: {"W1": H x F rows, "b1": H, "w2": H, "b2": float}; x: F features.
    Returns {"W1": H x F, "b1": H, "w2": H, "b2": float}: d loss / d each
    parameter for loss depending on r(x) with d loss / d r = grad_out. A new
    dictionary; params is not changed.
    """
    raise KataTodo('microppo.reward_backward: Backpropagate grad_out = d loss / d r through the reward MLP by hand.')


def train_reward_model(pairs, epochs=REWARD_EPOCHS, lr=REWARD_LR, seed=SEED, log=None):
    """Adam on the mean ranking loss, one pair at a time; deterministic for a seed."""
    rng = random.Random(seed)
    params = init_reward_model(rng)
    # Adam on a 1-row view of every tensor, so one helper serves them all.
    view = {"W1": params["W1"], "b1": [params["b1"]], "w2": [params["w2"]], "b2": [[params["b2"]]]}
    state = adam_state(view)
    order = list(range(len(pairs)))
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        total = 0.0
        for i in order:
            xc, xr = reward_features(pairs[i][0]), reward_features(pairs[i][1])
            loss, g = ranking_loss(reward_forward(params, xc)[0], reward_forward(params, xr)[0])
            total += loss
            gc, gr = reward_backward(params, xc, g), reward_backward(params, xr, -g)
            grads = {"W1": [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(gc["W1"], gr["W1"])],
                     "b1": [[a + b for a, b in zip(gc["b1"], gr["b1"])]],
                     "w2": [[a + b for a, b in zip(gc["w2"], gr["w2"])]],
                     "b2": [[gc["b2"] + gr["b2"]]]}
            adam_update(view, grads, state, lr)
        params["b2"] = view["b2"][0][0]
        if log:
            log(f"   reward model epoch {epoch}/{epochs}  mean ranking loss {total / len(pairs):.4f}")
    return params


def reward(params, name):
    return reward_forward(params, reward_features(name))[0]


def reward_accuracy(params, pairs):
    """Fraction of pairs where the chosen completion gets the higher reward."""
    return sum(reward(params, c) > reward(params, r) for c, r in pairs) / len(pairs)


# === THE VALUE FUNCTION (plain floats, manual gradients) ===
#
# V(s_t) = w . phi(s_t), linear in phi = one-hot of each of the 3 context
# characters (81) plus a constant 1: 82 weights. It predicts, from where the
# name is now, the penalised return still to come. Subtracting
# it from the reward (the advantage) leaves "better or worse than expected",
# which has the same expected gradient and far less variance.

VALUE_LR, VALUE_EPOCHS = 0.5, 4


def value_features(context):
    phi = [0.0] * (CONTEXT * len(VOCAB) + 1)
    for slot, token in enumerate(context):
        phi[slot * len(VOCAB) + token] = 1.0
    phi[-1] = 1.0
    return phi


def value_of(weights, phi):
    return sum(w * f for w, f in zip(weights, phi))


def value_update(weights, features, returns, lr):
    """One gradient-descent step on the value loss L = (1 / 2n) sum_t (w . phi_t - R_t)^2.

    weights: the value function's weights (floats); features: n feature
    vectors phi_t, each as long as weights; returns: the n targets R_t; lr > 0.
    Returns the new weights w - lr * dL/dw as a new list (weights unchanged).
    Raises ValueError naming lr if lr <= 0, features if it is empty.
    """
    raise KataTodo('microppo.value_update: One gradient-descent step on the value loss L = (1 / 2n) sum_t (w . phi_t - R_t)^2.')


# === ROLLOUTS AND THE KL PENALTY ===
#
# A rollout samples a completion from the CURRENT policy and keeps, for every
# token: the context, the action, log pi_old(action) (the policy that
# sampled it, frozen for this update) and both models' logits at that state.
#
# The KL penalty. Maximising reward alone finds the reward model's blind
# spots (reward hacking: "ba", "la", "ka", short names that are mostly "a")
# and forgets language. RLHF maximises instead
#     E[r(y)] - beta * KL(pi || ref).
# InstructGPT folds the penalty into the reward, token by token: the sampled
# token a_t costs beta * (log pi_old(a_t) - log ref(a_t)), whose expectation
# under pi is the KL at that state. Those costs are rewards like any other,
# so REINFORCE pushes the policy back towards the reference exactly where it
# drifted. (A state's exact KL used as a reward would NOT: it does not depend
# on the action taken there.)
#
# To MEASURE the KL we compute each token's KL exactly over the 27 characters,
#     KL_t = sum_v pi(v | s_t) (log pi(v | s_t) - log ref(v | s_t)) >= 0,
# summed along the sequence: never negative (a single sampled log-ratio can
# be), and 0 exactly when the policy equals the reference at every state.


def rollout(params, ref_params, letter, rng):
    """Sample one completion of `letter` from params; record what PPO needs, per token."""
    context = [0, 0, VOCAB.index(letter)]
    steps = {"name": letter, "contexts": [], "actions": [], "logp_old": [], "logp_ref": [],
             "policy_logits": [], "ref_logits": []}
    for _ in range(MAX_COMPLETION):
        logits = policy_logits(params, context)
        token = sample_token(logits, rng)
        steps["contexts"].append(list(context))
        steps["actions"].append(token)
        steps["logp_old"].append(log_prob(logits, token))
        steps["policy_logits"].append(logits)
        steps["ref_logits"].append(policy_logits(ref_params, context))
        steps["logp_ref"].append(log_prob(steps["ref_logits"][-1], token))
        if token == 0:
            break
        steps["name"] += VOCAB[token]
        context = context[1:] + [token]
    return steps


def sequence_kl(policy_logits_rows, reference_logits_rows):
    """KL(policy || reference) of one sequence: the sum over its tokens of the exact per-token KL.

    policy_logits_rows, reference_logits_rows: T rows of V logits each (floats),
    the two models' logits at the same T states. Returns
    sum_t sum_v p_t(v) (log p_t(v) - log q_t(v)) with p_t = softmax(policy row t),
    q_t = softmax(reference row t); >= 0, and 0 when the rows are equal.
    Stable for logits of +-1e3. Raises ValueError naming reference_logits_rows
    if the row counts differ.
    """
    raise KataTodo('microppo.sequence_kl: KL(policy || reference) of one sequence: the sum over its tokens of the exact per-token KL.')


def advantages(reward_score, logp_old, logp_ref, values, beta):
    """Per-token KL-penalised returns R_t and advantages A_t = R_t - values[t].

    reward_score: the reward model's score of the finished completion (one
    reward, at the end); logp_old[t], logp_ref[t]: log-probability of the
    sampled token t under the sampling policy and under the reference;
    values[t]: V(s_t); beta > 0: the KL penalty coefficient. All lists have
    length T. Token t is charged beta * (logp_old[t] - logp_ref[t]); with no
    discount (gamma = 1) and no GAE its return is everything still to come:
    R_t = reward_score - beta * sum over t' >= t of (logp_old[t'] - logp_ref[t']).
    Returns (returns, advantages), two lists of T floats.
    Raises ValueError naming beta if beta <= 0.
    """
    raise KataTodo('microppo.advantages: Per-token KL-penalised returns R_t and advantages A_t = R_t - values[t].')


# === THE CLIPPED SURROGATE ===
#
# The policy gradient says: raise log pi(a_t | s_t) in proportion to A_t. Do
# it with a big step and the policy can collapse; PPO lets one batch of
# rollouts drive several gradient steps but takes away the incentive to move
# any token's ratio r_t = pi(a_t) / pi_old(a_t) beyond [1 - eps, 1 + eps]:
#     J = mean_t min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t)
# A > 0 (good action): J grows with r only up to 1 + eps, then is flat.
# A < 0 (bad action):  J grows as r falls only down to 1 - eps, then is flat.
# Flat means zero gradient: that token stops pulling. The min keeps the
# pessimistic branch, so a move in the WRONG direction (r < 1 - eps with
# A > 0) is never clipped away: its full gradient still pulls it back.
#
# Before the first gradient step of an update pi IS pi_old, so every r_t is
# exactly 1 and J is the plain mean advantage.

PPO_EPS, PPO_BETA, PPO_LR, PPO_EPOCHS = 0.2, 0.5, 0.01, 2
LOW_BETA = 0.1  # the demo's comparison run: a weaker penalty lets KL grow further
PPO_STEPS, PPO_BATCH = 40, 16


def clipped_surrogate(logp_new, logp_old, advantages_, eps):
    """PPO's clipped objective, averaged over tokens: mean_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t).

    logp_new: log pi(a_t | s_t) under the policy being trained (Values, or
    floats); logp_old: the same under the policy that sampled the rollouts
    (floats); advantages_: A_t (floats); all three of length T >= 1.
    r_t = exp(logp_new[t] - logp_old[t]). Use clip() for the clipped ratio so
    that its gradient is 0 outside the band. Returns the mean (a Value when
    logp_new holds Values). Raises ValueError naming eps unless 0 < eps < 1.
    """
    raise KataTodo("microppo.clipped_surrogate: PPO's clipped objective, averaged over tokens: mean_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t).")


def ppo_update(params, batch, state, eps=PPO_EPS, lr=PPO_LR, epochs=PPO_EPOCHS):
    """Improve the policy on one batch of rollouts: `epochs` Adam steps on -clipped_surrogate.

    params: the policy (dict of matrices, floats); batch: rollouts, each a dict
    with "contexts", "actions", "logp_old" and "advantages" (one entry per
    token); state: Adam state from adam_state(params), or None for a fresh one.
    Every epoch: rebuild the policy as Values, compute log pi(a_t | s_t) for
    every token of the batch (log_prob(policy_logits(...), a_t)), the
    objective over all the batch's tokens at once, loss = -objective,
    backward, one adam_update with lr. params and state are not changed.
    Returns {"params": new params, "state": new state, "ratios": r_t of every
    token (floats, batch order) as measured before the first step,
    "losses": the loss of each epoch, measured before that epoch's step}.
    Raises ValueError naming eps unless 0 < eps < 1, epochs unless it is an
    int (not a bool) >= 1; both before touching the batch.
    """
    raise KataTodo('microppo.ppo_update: Improve the policy on one batch of rollouts: `epochs` Adam steps on -clipped_surrogate.')


# === THE RLHF LOOP (provided) ===


def evaluate(params, reward_params, letters, seed, n=200):
    """(fraction of preferred names, mean reward) over n samples with a fixed seed."""
    rng = random.Random(seed)
    names = [sample_name(params, rng.choice(letters), rng) for _ in range(n)]
    return sum(map(preferred, names)) / n, sum(reward(reward_params, x) for x in names) / n, names


def train_ppo(base, reward_params, letters, steps=PPO_STEPS, batch_size=PPO_BATCH, beta=PPO_BETA,
              eps=PPO_EPS, lr=PPO_LR, epochs=PPO_EPOCHS, seed=SEED, log=None):
    """The RLHF loop: roll out, score, penalise KL, advantages, PPO update, value update."""
    rng = random.Random(seed)
    params, ref = copy.deepcopy(base), base  # ref is never updated: the KL anchor
    value_w = [0.0] * (CONTEXT * len(VOCAB) + 1)
    state, history = None, []
    for step in range(1, steps + 1):
        batch = [rollout(params, ref, rng.choice(letters), rng) for _ in range(batch_size)]
        feats, rets, scores, kls = [], [], [], []
        for ro in batch:
            phis = [value_features(c) for c in ro["contexts"]]
            score = reward(reward_params, ro["name"])
            kl = sequence_kl(ro["policy_logits"], ro["ref_logits"])
            ret, ro["advantages"] = advantages(score, ro["logp_old"], ro["logp_ref"],
                                               [value_of(value_w, p) for p in phis], beta)
            feats += phis
            rets += ret
            scores.append(score)
            kls.append(kl)
        out = ppo_update(params, batch, state, eps, lr, epochs)
        params, state = out["params"], out["state"]
        value_loss = sum((value_of(value_w, p) - r) ** 2 for p, r in zip(feats, rets)) / (2 * len(rets))
        for _ in range(VALUE_EPOCHS):
            value_w = value_update(value_w, feats, rets, VALUE_LR)
        row = {"step": step, "reward": sum(scores) / batch_size, "kl": sum(kls) / batch_size,
               "preferred": sum(preferred(ro["name"]) for ro in batch) / batch_size,
               "loss_first": out["losses"][0], "loss_last": out["losses"][-1], "value_loss": value_loss}
        history.append(row)
        if log and (step == 1 or step % 5 == 0):
            log(f"   ppo step {step:>3}/{steps}  reward {row['reward']:+.3f}  KL {row['kl']:.4f}  "
                f"preferred {row['preferred']:.0%}  loss {row['loss_first']:+.4f} -> {row['loss_last']:+.4f}  "
                f"value loss {value_loss:.4f}")
    return params, history


# === CHECKPOINT (tests/data/microppo/checkpoint.json) ===
#
# The graded tests never pretrain: they load this file, produced by
#   python solutions/microppo/microppo.py --train-checkpoint tests/data/microppo/checkpoint.json
# from data/names.txt only (a few seconds); a slow test checks that running
# the command again reproduces it. It holds the pretrained policy (= the
# reference) and the reward model trained on the training pairs.


def build_checkpoint(log=None):
    names = load_names()
    train, _ = split_held_out(names)
    policy = pretrain_policy(train, log=log)
    pairs = make_pairs(train, random.Random(SEED))
    reward_params = train_reward_model(pairs, log=log)
    return {
        "format": "microppo-v1",
        "command": CHECKPOINT_COMMAND,
        "corpus": "data/names.txt minus every 10th name (index % 10 == 0, held out)",
        "vocab": VOCAB,
        "policy_layout": "x = [C[c1] C[c2] C[c3]]; h = tanh(W1 x + b1[0]); logits = W2 h + b2[0]",
        "reward_layout": "x = reward_features(name); h = tanh(W1 x + b1); r = w2 . h + b2",
        "training": {"policy_steps": BASE_STEPS, "policy_batch": BASE_BATCH, "policy_lr": BASE_LR,
                     "reward_epochs": REWARD_EPOCHS, "reward_lr": REWARD_LR, "seed": SEED},
        "policy": policy,
        "reward_model": reward_params,
    }


def write_checkpoint(checkpoint, path):
    """JSON with one matrix row per line: small diffs, exact float round trip (repr)."""
    lines = ["{"]
    items = list(checkpoint.items())
    for n, (key, value) in enumerate(items):
        end = "," if n < len(items) - 1 else ""
        if isinstance(value, dict) and key in ("policy", "reward_model"):
            lines.append(f"  {json.dumps(key)}: {{")
            tensors = list(value.items())
            for t, (name, rows) in enumerate(tensors):
                tend = "," if t < len(tensors) - 1 else ""
                if isinstance(rows, list) and rows and isinstance(rows[0], list):
                    lines.append(f"    {json.dumps(name)}: [")
                    lines.extend(f"      {json.dumps(r)}{',' if i < len(rows) - 1 else ''}" for i, r in enumerate(rows))
                    lines.append("    ]" + tend)
                else:
                    lines.append(f"    {json.dumps(name)}: {json.dumps(rows)}{tend}")
            lines.append("  }" + end)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_checkpoint(path=CHECKPOINT):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# === DEMONSTRATION ===


def bar(value, scale=1.0, width=30):
    return "#" * max(0, min(width, round(value / scale * width)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH",
                        help="pretrain the policy and train the reward model; write the JSON checkpoint to PATH")
    args = parser.parse_args(argv)
    random.seed(SEED)
    if args.train_checkpoint:
        start = time.time()
        write_checkpoint(build_checkpoint(log=print), args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return

    start = time.time()
    names = load_names()
    train, held = split_held_out(names)
    letters = [n[0] for n in train]
    print("1. Pretrained policy (= the frozen reference)")
    if CHECKPOINT.is_file():
        ck = load_checkpoint()
        base = ck["policy"]
        print(f"   loaded {CHECKPOINT.relative_to(ROOT)} (regenerate with: {CHECKPOINT_COMMAND})")
    else:
        base = pretrain_policy(train, log=print)

    print("\n2. Reward model from preference pairs (plain floats, manual gradients)")
    train_pairs = make_pairs(train, random.Random(SEED))
    held_pairs = make_pairs(held, random.Random(SEED + 1))
    reward_params = train_reward_model(train_pairs, log=print)
    accuracy = reward_accuracy(reward_params, held_pairs)
    print(f"   {len(train_pairs)} training pairs; held-out accuracy {accuracy:.1%} on {len(held_pairs)} pairs")
    print("   score of a few names: " + "  ".join(f"{x} {reward(reward_params, x):+.2f}"
                                                 for x in ("emma", "emmet", "sofia", "sophie", "anna", "andrew")))

    print(f"\n3. PPO: {PPO_STEPS} updates of {PPO_BATCH} rollouts, {PPO_EPOCHS} epochs each, "
          f"eps {PPO_EPS}, beta {PPO_BETA}, lr {PPO_LR}")
    before_pref, before_reward, before_names = evaluate(base, reward_params, letters, seed=7)
    policy, history = train_ppo(base, reward_params, letters, log=print)
    after_pref, after_reward, after_names = evaluate(policy, reward_params, letters, seed=7)

    print("\n4. Before and after, 200 samples each (same prompts, same random numbers)")
    print(f"   {'':<8}{'ends in a':>10}  {'mean reward':>12}   samples")
    print(f"   {'before':<8}{before_pref:>10.0%}  {before_reward:>+12.3f}   {' '.join(before_names[:8])}")
    print(f"   {'after':<8}{after_pref:>10.0%}  {after_reward:>+12.3f}   {' '.join(after_names[:8])}")
    print(f"   ends in a  before {bar(before_pref)}")
    print(f"              after  {bar(after_pref)}")

    half = len(history) // 2
    early_kl = sum(h["kl"] for h in history[:5]) / 5
    late_kl = sum(h["kl"] for h in history[-5:]) / 5
    fall = sum(h["loss_first"] - h["loss_last"] for h in history) / len(history)
    early_v = sum(h["value_loss"] for h in history[:half]) / half
    late_v = sum(h["value_loss"] for h in history[half:]) / (len(history) - half)
    print("\n   KL(policy || reference) per name, averaged over 5 updates:")
    for i in range(0, len(history), 5):
        kl = sum(h["kl"] for h in history[i:i + 5]) / len(history[i:i + 5])
        print(f"   updates {i + 1:>3}-{i + 5:<3} {kl:.4f} {bar(kl, max(late_kl, 1e-9) * 1.5, 40)}")

    print(f"\n5. The penalty controls the drift: the same run with beta {LOW_BETA} instead of {PPO_BETA}")
    low_policy, low_history = train_ppo(base, reward_params, letters, beta=LOW_BETA)
    low_pref, low_reward, low_names = evaluate(low_policy, reward_params, letters, seed=7)
    low_kl = sum(h["kl"] for h in low_history[-5:]) / 5
    print(f"   {'beta':<6}{'final KL':>9}  {'ends in a':>10}  {'mean reward':>12}   samples")
    for b, kl, pref, rew, sample in ((PPO_BETA, late_kl, after_pref, after_reward, after_names),
                                     (LOW_BETA, low_kl, low_pref, low_reward, low_names)):
        print(f"   {b:<6}{kl:>9.4f}  {pref:>10.0%}  {rew:>+12.3f}   {' '.join(sample[:8])}")
    print("   (a weak penalty buys a little more reward with names that stop looking like names:"
          " reward hacking)")

    print("\nSuccess criteria")
    checks = [
        (f"reward model held-out accuracy {accuracy:.1%} > 70% (upstream 87.5%)", accuracy > 0.7),
        (f"policy moves towards preferred: ends in 'a' {before_pref:.0%} -> {after_pref:.0%}, "
         f"mean reward {before_reward:+.3f} -> {after_reward:+.3f} (upstream +2.03 -> +2.10)",
         after_pref > before_pref + 0.2 and after_reward > before_reward),
        (f"PPO loss falls within each update: by {fall:.4f} on average (first epoch -> last)", fall > 0),
        (f"value loss falls: {early_v:.4f} (first half) -> {late_v:.4f} (second half)", late_v < early_v),
        (f"KL rises under the penalty (beta {PPO_BETA}): {early_kl:.4f} (first 5) -> {late_kl:.4f} (last 5)",
         late_kl > early_kl),
        (f"the penalty coefficient controls it: final KL {late_kl:.4f} at beta {PPO_BETA} < "
         f"{low_kl:.4f} at beta {LOW_BETA}", late_kl < low_kl),
    ]
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n(total {time.time() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
