"""
Group Relative Policy Optimization, from scratch: reinforcement learning for a
language model with no value network. For each prompt, sample a GROUP of G
completions, score them with a verifiable reward, and use each completion's
reward relative to its own group as its advantage:

    A_i = (r_i - mean(r)) / std(r)        (all A_i = 0 when every r_i is equal)

then maximise PPO's clipped surrogate with a KL penalty to a frozen reference,
token by token:

    J = 1/G sum_i 1/|o_i| sum_t [ min(rho_it A_i, clip(rho_it, 1-eps, 1+eps) A_i) - beta KL_it ]
    rho_it = pi(o_it | ...) / pi_old(o_it | ...)
    KL_it  = pi_ref/pi - log(pi_ref/pi) - 1        (Schulman's k3 estimator, >= 0)

The group mean replaces PPO's learned value baseline V(s): no second network,
no value loss, no GAE. That is what made GRPO cheap enough for DeepSeek-R1's
reasoning RL, where rewards are checks (is the answer right?) and a group of
answers to one question is a natural batch.

The task here is a verifiable toy: the prompt is a digit d, the completion is
three digits, and the reward is the fraction of them that count up from d
(d+1, d+2, d+3 mod 10). The policy is the smallest autoregressive model that
still has per-token probabilities and ratios: next-token logits
T[previous token] + P[position] over the 10 digits, held as Values. A
transformer would be too slow in pure Python and would teach nothing extra
about GRPO. The demo trains GRPO and a PPO-style baseline (one sample per
prompt, a learned value table as the baseline, the same clipped objective and
KL) on the same task with the same number of samples, and compares them.

References: Shao et al., "DeepSeekMath" (2024), section 4.1 (GRPO);
DeepSeek-AI, "DeepSeek-R1" (2025); Schulman et al., "Proximal Policy
Optimization Algorithms" (2017); Schulman, "Approximating KL Divergence" (2020)
for the k3 estimator.
"""

from __future__ import annotations

import math
import random
import sys
import time

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
                stack.extend((child, False) for child in node._children)
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node._children, node._local_grads):
                child.grad += local * node.grad

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


# --- AUTOGRAD DIFFERENCES IN THIS SCRIPT ---
# This Value class is microgpt's canonical one, unchanged. For GRPO:
# - log_prob(logits, target) below is one fused node for
#   log softmax(logits)[target], computed stably (max subtracted) with local
#   gradients one_hot - softmax.
# - The clip in PPO's surrogate needs no new operation: where the clip is
#   active the clipped term is a plain float (no children), so its gradient is
#   exactly zero -- the same thing torch.clamp's gradient does.
# - The old policy and the reference are plain floats: their log-probabilities
#   are computed once per rollout and never differentiated.


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


# === THE TASK AND THE POLICY ===
#
# Prompt: one digit d. Completion: LENGTH digits. Reward: the fraction of
# positions t (0-based) whose digit is (d + t + 1) mod 10, so "3" -> "456"
# earns 1.0 and "3" -> "459" earns 2/3. The reward is a check, not a learned
# model: GRPO's home ground (DeepSeek-R1 rewards a math answer by comparing it
# with the known result).
#
# Policy: logits for position t after token prev = T[prev] + P[t], a table of
# 10 x 10 "bigram" logits plus a 3 x 10 position bias: 130 numbers. The
# reference is the policy we start from, frozen.

DIGITS, LENGTH = 10, 3
GROUP, PROMPTS_PER_STEP, STEPS = 4, 10, 50
EPS, BETA, LR, INNER_STEPS, SEED = 0.2, 0.04, 0.1, 4, 42


def count_up_reward(prompt, completion):
    """Fraction of the completion's digits that count up from the prompt digit."""
    return sum(1 for t, token in enumerate(completion) if token == (prompt + t + 1) % DIGITS) / len(completion)


def init_policy(rng, scale=0.5):
    """Random starting policy: small Gaussian logits, so it is not uniform but knows nothing."""
    return {
        "T": [[rng.gauss(0.0, scale) for _ in range(DIGITS)] for _ in range(DIGITS)],
        "P": [[rng.gauss(0.0, scale) for _ in range(DIGITS)] for _ in range(LENGTH)],
    }


def next_logits(params, previous, position):
    """The 10 next-token logits after token ``previous`` at completion position ``position``."""
    return [a + b for a, b in zip(params["T"][previous], params["P"][position])]


def token_log_probs(params, prompt, completion):
    """[log pi(o_t | prompt, o_<t) for each t]: floats for float params, Values for Value params."""
    out, previous = [], prompt
    for t, token in enumerate(completion):
        out.append(log_prob(next_logits(params, previous, t), token))
        previous = token
    return out


def sample_token(logits, rng):
    """One token from softmax(logits) by inverse CDF with exactly one rng.random() draw."""
    top = max(logits)
    weights = [math.exp(z - top) for z in logits]
    u, acc = rng.random() * sum(weights), 0.0
    for token, w in enumerate(weights):
        acc += w
        if u < acc:
            return token
    return len(weights) - 1  # u landed on the rounding error at the very top


# === TRAINING UTILITIES ===


def as_values(params):
    return {k: [[Value(v) for v in row] for row in t] for k, t in params.items()}


def grads_of(live):
    return {k: [[v.grad for v in row] for row in t] for k, t in live.items()}


def copy_params(params):
    return {k: [list(row) for row in t] for k, t in params.items()}


class Adam:
    """Adam (beta1 0.9, beta2 0.999, eps 1e-8) over a dict of matrices; step() updates in place."""

    def __init__(self, lr):
        self.lr, self.t, self.m, self.v = lr, 0, {}, {}

    def step(self, params, grads):
        self.t += 1
        c1, c2 = 1.0 - 0.9 ** self.t, 1.0 - 0.999 ** self.t
        for k, tensor in params.items():
            m = self.m.setdefault(k, [[0.0] * len(row) for row in tensor])
            v = self.v.setdefault(k, [[0.0] * len(row) for row in tensor])
            for p_row, g_row, m_row, v_row in zip(tensor, grads[k], m, v):
                for i, g in enumerate(g_row):
                    m_row[i] = 0.9 * m_row[i] + 0.1 * g
                    v_row[i] = 0.999 * v_row[i] + 0.001 * g * g
                    p_row[i] -= self.lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + 1e-8)


def exp(x):
    """e^x for a float or a Value."""
    return x.exp() if type(x) is Value else math.exp(x)


def make_prompt_batches(steps, per_step, rng):
    """``steps`` lists of ``per_step`` random prompt digits."""
    return [[rng.randrange(DIGITS) for _ in range(per_step)] for _ in range(steps)]


# === GROUP-RELATIVE ADVANTAGES ===
#
# PPO asks a value network "how good is this prompt usually?" and uses
# r - V(prompt) as the advantage. GRPO asks the group instead: G answers to
# the same prompt, and the group's mean is the baseline. Dividing by the
# group's std puts every prompt on the same scale, easy or hard.
# Convention: THIS KATA's, not the paper's. DeepSeekMath writes std(r)
# without saying which std; this kata takes the POPULATION std (divide by G),
# so with std_eps = 0 the advantages have mean 0 and population std exactly 1.
# TRL's GRPOTrainer uses torch's default std, the sample std (Bessel: divide
# by G - 1), and adds 1e-4: A = (r - mean) / (std_sample + 1e-4). Since
# std_sample = std_pop * sqrt(G / (G - 1)), TRL's advantages (eps aside) are
# this kata's times sqrt((G - 1) / G): 0.866 for G = 4, 0.97 for G = 16, a
# constant per G that Adam's normalisation mostly absorbs. std_eps here plays
# TRL's 1e-4: it shrinks the advantages of nearly-tied groups a little. A
# group whose rewards are all equal teaches nothing (no answer was better than
# another): its advantages are all 0 and it contributes no gradient.


def group_advantages(rewards, std_eps=0.0):
    """Group-normalised advantages A_i = (r_i - mean) / (std + std_eps), std the population std.

    The population std (divide by G) is this kata's convention, not the
    paper's (DeepSeekMath writes std(r) and does not say); TRL divides by
    G - 1 and adds 1e-4, which scales every advantage by sqrt((G - 1) / G).
    rewards: the G rewards of one group (floats, G >= 1). If every reward is
    exactly equal (max == min), return G zeros, whatever rounding says.
    Returns a new list of G floats. Raises ValueError if rewards is empty or
    std_eps < 0.
    """
    # BEGIN SOLUTION
    if len(rewards) == 0:
        raise ValueError("rewards must hold at least one reward (a group of G >= 1 completions)")
    if not std_eps >= 0:
        raise ValueError(f"std_eps must be >= 0, got {std_eps!r}")
    if max(rewards) == min(rewards):
        # The mean of equal floats can round away from them (3 x 0.1); test
        # equality directly instead of trusting a tiny computed std.
        return [0.0] * len(rewards)
    n = len(rewards)
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    return [(r - mean) / (std + std_eps) for r in rewards]
    # END SOLUTION


# === THE CLIPPED SURROGATE ===
#
# rho = pi / pi_old is 1 when the rollouts are fresh. After an update on the
# same rollouts it drifts, and PPO's objective stops rewarding drift beyond
# 1 +- eps:
#   surrogate = min(rho A, clip(rho, 1 - eps, 1 + eps) A)
# For A > 0 the objective stops growing once rho > 1 + eps; for A < 0 once
# rho < 1 - eps. There the clipped term wins the min and is a constant, so
# the gradient is exactly 0: no incentive to move further. On the other side
# (A > 0 and rho < 1 - eps, say) the unclipped term wins and the gradient
# still pulls the ratio back. min() makes the objective a pessimistic bound.


def clipped_surrogate(ratio, advantage, eps):
    """min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) for one token.

    ratio: pi / pi_old, a float or a Value. advantage: a float. eps in (0, 1).
    Returns a float for a float ratio, a Value for a Value ratio. When the
    clipped term is strictly smaller (the clip binds), return it as a constant
    Value with no children, so d/d ratio = 0; otherwise (including ties, e.g.
    ratio inside the band) return ratio * advantage, with d/d ratio = A.
    Raises ValueError if eps is not in (0, 1).
    """
    # BEGIN SOLUTION
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    is_value = type(ratio) is Value
    r = ratio.data if is_value else ratio
    unclipped = ratio * advantage
    clipped = min(max(r, 1.0 - eps), 1.0 + eps) * advantage
    if clipped < r * advantage:
        return Value(clipped) if is_value else clipped  # a constant: zero gradient
    return unclipped
    # END SOLUTION


# === KL TO THE REFERENCE, PER TOKEN ===
#
# GRPO puts the KL penalty in the loss (PPO-RLHF folds it into the reward).
# It only sees the sampled token, so it needs an estimator of
# KL(pi || pi_ref) from one sample o ~ pi. With r = pi_ref(o) / pi(o):
#   k1 = -log r             unbiased, but negative half the time
#   k3 = r - log r - 1      unbiased too, and >= 0 always (log r <= r - 1)
# k3 is 0 exactly when pi(o) = pi_ref(o), and its gradient there is 0 too:
#   d k3 / d log pi = 1 - r.
# In floats, "exp(x) - x - 1" near x = 0 subtracts numbers within an ulp of
# 1 and can come out as -1.1e-16: a "KL" below zero. expm1(x) = e^x - 1
# computed without that cancellation gives k3 = expm1(x) - x, which is >= 0
# in floating point too (expm1(x) >= x holds after rounding: x is a float and
# the true e^x - 1 lies above it). TRL writes torch.exp(x) - x - 1, which is
# fine in float32 training: a -1e-16 there is noise, here it breaks ">= 0".


def kl_k3(logp, ref_logp):
    """Schulman's k3 estimate of KL(pi || pi_ref) from one token: r - log r - 1 with r = pi_ref / pi.

    logp: log pi(token) (a float or a Value); ref_logp: log pi_ref(token)
    (a float). Compute log r = ref_logp - logp and work from it, never from a
    division of probabilities: r - 1 = expm1(log r) (math.expm1), so
    k3 = expm1(log r) - log r. Returns a float or a Value (with
    d k3 / d logp = 1 - r), never negative -- not even by one rounding error
    when logp is within 1e-6 of ref_logp -- and exactly 0 when logp == ref_logp.
    """
    # BEGIN SOLUTION
    log_r = ref_logp - logp
    if type(log_r) is Value:
        # One node: k3(x) = expm1(x) - x, d k3 / d x = e^x - 1 = expm1(x);
        # the chain rule through x = ref_logp - logp gives d/d logp = 1 - r.
        x = log_r.data
        return Value(math.expm1(x) - x, (log_r,), (math.expm1(x),))
    return math.expm1(log_r) - log_r
    # END SOLUTION


# === GROUP SAMPLING ===


def sample_group(policy, prompt, group_size, rng):
    """Sample a group of completions of one prompt: (completions, logps).

    For i = 0 .. group_size - 1 and t = 0 .. LENGTH - 1, in that order, draw
    token t of completion i with sample_token(next_logits(policy, previous, t),
    rng), where previous is the prompt digit for t = 0 and the previous token
    after. completions: group_size lists of LENGTH ints. logps[i][t]: the
    float log pi(token) under this policy (the "old" policy of the update).
    Raises ValueError if group_size < 2 (one sample has no group to compare with).
    """
    # BEGIN SOLUTION
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size must be an integer >= 2, got {group_size!r}")
    completions, logps = [], []
    for _ in range(group_size):
        previous, tokens, lps = prompt, [], []
        for t in range(LENGTH):
            logits = next_logits(policy, previous, t)
            token = sample_token(logits, rng)
            tokens.append(token)
            lps.append(log_prob(logits, token))
            previous = token
        completions.append(tokens)
        logps.append(lps)
    return completions, logps
    # END SOLUTION


# === THE GRPO OBJECTIVE ===
#
#   loss = -1/G sum_i 1/|o_i| sum_t [ min(rho_it A_i, clip(rho_it) A_i) - beta k3_it ]
#   rho_it = exp(log pi(o_it) - log pi_old(o_it))
# Every token of completion i shares the completion's advantage A_i; the
# 1/|o_i| average keeps long answers from outweighing short ones.


def grpo_loss(policy, prompt, completions, advantages, old_logps, ref_logps, eps, beta):
    """The GRPO loss (to minimise) of one group: minus the mean over completions of the mean over tokens.

    policy: parameters (Values to differentiate; floats to evaluate).
    completions: G token lists; advantages: G floats; old_logps, ref_logps:
    G lists of per-token floats (from the sampling policy and the reference).
    Per token: rho = exp(log pi - log pi_old) from token_log_probs(policy, ...),
    term = clipped_surrogate(rho, A_i, eps) - beta * kl_k3(log pi, log pi_ref).
    Returns -(1/G) sum_i (1/|o_i|) sum_t term, a Value for Value params.
    Raises ValueError if beta < 0 (beta = 0 drops the KL term).
    """
    # BEGIN SOLUTION
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    total = 0.0
    for completion, advantage, old, ref in zip(completions, advantages, old_logps, ref_logps):
        per_token = 0.0
        for logp, old_logp, ref_logp in zip(token_log_probs(policy, prompt, completion), old, ref):
            ratio = exp(logp - old_logp)
            per_token = per_token + clipped_surrogate(ratio, advantage, eps) - beta * kl_k3(logp, ref_logp)
        total = total + per_token * (1.0 / len(completion))
    return -total * (1.0 / len(completions))
    # END SOLUTION


# === THE TRAINING LOOP ===
#
# One GRPO step: freeze a copy of the policy as pi_old, sample a group per
# prompt from it, reward, normalise within groups, then take INNER_STEPS
# optimizer steps on the same rollouts. The first inner step has rho = 1
# everywhere (a plain policy gradient); later ones are where the clip works.


def train_grpo(policy, reference, prompt_batches, rng, group_size=GROUP, eps=EPS, beta=BETA, lr=LR,
               inner_steps=INNER_STEPS, reward_fn=count_up_reward, log=None):
    """Train the policy with GRPO; return (new_policy, mean_rewards), one mean reward per step.

    policy, reference: parameter dicts of floats; neither is modified.
    prompt_batches: a list of lists of prompt digits, one list per step. For
    each step: old = a copy of the current policy; for each prompt (in order)
    sample_group(old, prompt, group_size, rng), rewards reward_fn(prompt,
    completion), group_advantages(rewards), reference log-probs with
    token_log_probs(reference, ...). Then inner_steps times: the mean over the
    step's groups of grpo_loss on the current policy (as Values), backward(),
    and one step of a single Adam(lr) kept for the whole run.
    Steps are numbered from 1: mean_rewards[step - 1] is the mean reward of
    all completions sampled at step ``step`` (the list itself is 0-indexed).
    log: None or a callable, called after each step as log(step,
    mean_rewards[step - 1]), so the first call is log(1, mean_rewards[0]).
    Raises ValueError, before any sampling, for lr <= 0, inner_steps not an
    int >= 1, eps outside (0, 1), beta < 0 or group_size not an int >= 2.
    """
    # BEGIN SOLUTION
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
        raise ValueError(f"group_size must be an integer >= 2, got {group_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 1:
        raise ValueError(f"inner_steps must be an integer >= 1, got {inner_steps!r}")
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta!r}")
    current, optimizer, mean_rewards = copy_params(policy), Adam(lr), []
    for step, prompts in enumerate(prompt_batches, start=1):
        old = copy_params(current)
        rollouts, rewards_seen = [], []
        for prompt in prompts:
            completions, old_logps = sample_group(old, prompt, group_size, rng)
            rewards = [reward_fn(prompt, c) for c in completions]
            ref_logps = [token_log_probs(reference, prompt, c) for c in completions]
            rollouts.append((prompt, completions, group_advantages(rewards), old_logps, ref_logps))
            rewards_seen.extend(rewards)
        for _ in range(inner_steps):
            live = as_values(current)
            loss = sum(grpo_loss(live, *rollout, eps, beta) for rollout in rollouts) * (1.0 / len(rollouts))
            loss.backward()
            optimizer.step(current, grads_of(live))
        mean_rewards.append(sum(rewards_seen) / len(rewards_seen))
        if log:
            log(step, mean_rewards[-1])
    return current, mean_rewards
    # END SOLUTION


# === A PPO-STYLE BASELINE ON THE SAME TASK ===
#
# Same policy, same clipped surrogate, same k3 penalty, same number of samples
# per step; the difference is the baseline. PPO samples ONE completion per
# prompt (GROUP times as many prompts) and needs a value function V(prompt)
# for its advantage r - V(prompt): here a table of 10 floats trained by
# regression on the rewards it sees (the "value network"). Advantages are
# normalised over the batch, as PPO implementations do. No GAE: the reward
# arrives once, at the end of the completion.


def train_ppo_baseline(policy, reference, prompt_batches, rng, eps=EPS, beta=BETA, lr=LR,
                       inner_steps=INNER_STEPS, value_lr=0.3, log=None):
    """PPO with a learned value table; each step uses GROUP x len(prompts) single samples."""
    current, optimizer, values, mean_rewards = copy_params(policy), Adam(lr), [0.0] * DIGITS, []
    for step, prompts in enumerate(prompt_batches, start=1):
        old = copy_params(current)
        batch = [rng.randrange(DIGITS) for _ in range(len(prompts) * GROUP)]
        samples = []
        for prompt in batch:
            previous, tokens, lps = prompt, [], []
            for t in range(LENGTH):
                logits = next_logits(old, previous, t)
                token = sample_token(logits, rng)
                tokens.append(token)
                lps.append(log_prob(logits, token))
                previous = token
            reward = count_up_reward(prompt, tokens)
            samples.append((prompt, tokens, reward - values[prompt], lps, token_log_probs(reference, prompt, tokens)))
        raw = [s[2] for s in samples]
        mean = sum(raw) / len(raw)
        std = math.sqrt(sum((a - mean) ** 2 for a in raw) / len(raw)) or 1.0
        for _ in range(inner_steps):
            live = as_values(current)
            loss = sum(grpo_loss(live, p, [c], [(a - mean) / std], [o], [r], eps, beta)
                       for p, c, a, o, r in samples) * (1.0 / len(samples))
            loss.backward()
            optimizer.step(current, grads_of(live))
        for prompt, tokens, _, _, _ in samples:  # value regression: V(p) <- V(p) + lr (r - V(p))
            values[prompt] += value_lr * (count_up_reward(prompt, tokens) - values[prompt])
        mean_rewards.append(sum(count_up_reward(p, c) for p, c, *_ in samples) / len(samples))
        if log:
            log(step, mean_rewards[-1])
    return current, mean_rewards


# === DEMONSTRATION ===


def greedy_accuracy(policy):
    """Mean reward of the most likely completion of every prompt (ties: the lowest token)."""
    total = 0.0
    for prompt in range(DIGITS):
        previous, tokens = prompt, []
        for t in range(LENGTH):
            logits = next_logits(policy, previous, t)
            previous = max(range(DIGITS), key=lambda k: logits[k])
            tokens.append(previous)
        total += count_up_reward(prompt, tokens)
    return total / DIGITS


def mean_k3(policy, reference, rng, n=200):
    """Monte-Carlo KL(policy || reference) per token with k3 over n sampled completions."""
    total = 0.0
    for _ in range(n):
        prompt = rng.randrange(DIGITS)
        completions, logps = sample_group(policy, prompt, 2, rng)
        ref = token_log_probs(reference, prompt, completions[0])
        total += sum(kl_k3(lp, r) for lp, r in zip(logps[0], ref)) / LENGTH
    return total / n


def main():
    random.seed(42)
    start = time.time()
    print("Task: prompt digit d, complete with 3 digits; reward = fraction counting up from d (3 -> 456 = 1.0)")
    group = [[1, 2, 3], [1, 2, 9], [5, 5, 5], [1, 7, 3]]
    rewards = [count_up_reward(0, c) for c in group]
    print(f"A group for prompt 0: {group} -> rewards {[round(r, 3) for r in rewards]}"
          f" -> advantages {[round(a, 3) for a in group_advantages(rewards)]}")
    g = len(rewards)
    mean = sum(rewards) / g
    sample_std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (g - 1))  # TRL: torch .std(), Bessel
    trl = [(r - mean) / (sample_std + 1e-4) for r in rewards]
    print(f"   TRL's convention (sample std, G - 1, + 1e-4): {[round(a, 3) for a in trl]}"
          f" = this kata's x {trl[0] / group_advantages(rewards)[0]:.4f}"
          f" (sqrt((G-1)/G) = {math.sqrt((g - 1) / g):.4f}, G = {g})")
    print(f"A group with equal rewards {[0.5] * 4} -> advantages {group_advantages([0.5] * 4)} (no gradient)\n")

    print("Clipped surrogate, eps = 0.2: value and d/d ratio")
    print("   ratio    A=+1: value  grad     A=-1: value  grad")
    for r in (0.5, 0.8, 1.0, 1.2, 1.5):
        row = []
        for a in (1.0, -1.0):
            v = Value(r)
            out = clipped_surrogate(v, a, EPS)
            out.backward()
            row.append(f"{out.data:+.2f} {v.grad:+.0f}")
        print(f"   {r:<6}   {row[0]:>12}      {row[1]:>12}")
    print()

    reference = init_policy(random.Random(SEED))
    batches = make_prompt_batches(STEPS, PROMPTS_PER_STEP, random.Random(SEED))
    samples = PROMPTS_PER_STEP * GROUP
    print(f"GRPO: {STEPS} steps x {PROMPTS_PER_STEP} prompts x group {GROUP} = {samples} samples/step, "
          f"eps {EPS}, beta {BETA}, lr {LR}, {INNER_STEPS} inner steps")
    print(f"PPO-style baseline: {samples} single samples/step, value table of {DIGITS} floats, same objective")
    print("Both run with sampling seeds 1, 2, 3 (RL on a toy is noisy; one seed proves little).")
    curves, first_policy = {"GRPO": [], "PPO": []}, {}
    for seed in (1, 2, 3):
        for label, trainer in (("GRPO", train_grpo), ("PPO", train_ppo_baseline)):
            def progress(step, reward, label=label, seed=seed):
                if step % 25 == 0:
                    print(f"   {label:<4} seed {seed} step {step:>3}/{STEPS}  mean reward {reward:.3f}")
            policy, curve = trainer(reference, reference, batches, random.Random(seed), log=progress)
            curves[label].append(curve)
            first_policy.setdefault(label, policy)
    grpo, ppo = first_policy["GRPO"], first_policy["PPO"]
    grpo_curve = [sum(c[i] for c in curves["GRPO"]) / 3 for i in range(STEPS)]
    ppo_curve = [sum(c[i] for c in curves["PPO"]) / 3 for i in range(STEPS)]

    print("\nMean sampled reward per step (5-step averages, mean of 3 seeds)")
    print("   steps     GRPO                      PPO + value table")
    for i in range(0, STEPS, 5):
        g, p = sum(grpo_curve[i:i + 5]) / 5, sum(ppo_curve[i:i + 5]) / 5
        print(f"   {i + 1:>2}-{i + 5:<3}  {g:.3f} {'#' * round(g * 20):<20}  {p:.3f} {'#' * round(p * 20)}")
    rng = random.Random(5)
    print(f"\n{'seed 1':<10} {'greedy reward':>14} {'KL(k3) to ref':>14} {'value params':>13}")
    for label, policy, extra in (("reference", reference, 0), ("GRPO", grpo, 0), ("PPO", ppo, DIGITS)):
        print(f"{label:<10} {greedy_accuracy(policy):>14.3f} {mean_k3(policy, reference, rng):>14.4f} {extra:>13}")
    finals = {k: [sum(c[-5:]) / 5 for c in v] for k, v in curves.items()}
    first, last = sum(grpo_curve[:5]) / 5, sum(grpo_curve[-5:]) / 5
    adv = group_advantages(rewards)
    adv_mean = sum(adv) / len(adv)
    adv_std = math.sqrt(sum((a - adv_mean) ** 2 for a in adv) / len(adv))
    equal = group_advantages([0.5] * 4)
    kl_ref, kl_grpo = mean_k3(reference, reference, random.Random(6)), mean_k3(grpo, reference, random.Random(6))
    print("\nCriteria")
    checks = [
        (f"group advantages: mean {adv_mean:+.1e}, population std {adv_std:.12f}; equal rewards -> {equal}",
         abs(adv_mean) < 1e-12 and abs(adv_std - 1) < 1e-12 and equal == [0.0] * 4),
        (f"GRPO mean sampled reward rises (3 seeds): first 5 steps {first:.3f} -> last 5 {last:.3f}", last > first + 0.3),
        (f"k3 KL estimate: 0 at the reference ({kl_ref:.4f}), >= 0 after training ({kl_grpo:.4f})",
         kl_ref == 0.0 and kl_grpo >= 0.0),
    ]
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")
    print(f"   [COMPARE] same task, same samples per step: GRPO {sum(finals['GRPO']) / 3:.3f} vs PPO-style "
          f"{sum(finals['PPO']) / 3:.3f} (mean final reward, 3 seeds); GRPO trains no value network")
    print("On this easy task a 10-entry value table is learned almost for free, and PPO does as well\n"
          "or a little better; GRPO's case is that it needs no second network at all, which matters\n"
          "when that network is another LLM the size of the policy.")
    print(f"\n({time.time() - start:.1f} s)")


if __name__ == "__main__":
    main()
