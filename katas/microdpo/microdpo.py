"""
Direct Preference Optimization, from scratch: align a language model with
preferences, "this completion is better than that one", without a reward model
and without reinforcement learning. DPO pushes the policy's log-probability of
the chosen completion up and of the rejected one down, each measured against a
frozen reference copy of the starting model:

    loss = -log sigmoid(beta * [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))])

Why this is enough: for the KL-regularised RLHF objective the optimal policy is
pi*(y) = ref(y) exp(r(y) / beta) / Z, so a reward is beta * log(pi / ref) plus a
constant. Put that into the Bradley-Terry preference model and Z cancels: the
policy is its own reward model, and preference data trains it directly.

The model is a character-level MLP over a 3-character context (Bengio et al.
2003), not microgpt's transformer: with the scalar autograd Value a transformer
would take minutes per pass, and DPO only needs sequence log-probabilities,
which any autoregressive model provides. Base/reference: trained on all names
(shipped checkpoint tests/data/microdpo/base.json). Preferences: generated from
a seed out of data/names.txt; a name ending in "a" is preferred to a name with
the same first letter that does not. Success: the DPO loss falls, sampled names
end in "a" more often, and KL(policy || reference) grows, more for small beta.

References: Rafailov et al., "Direct Preference Optimization: Your Language
Model is Secretly a Reward Model" (2023); Bradley and Terry (1952) for the
preference model; Christiano et al. (2017) and Ouyang et al. (2022) for RLHF.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

# Kata skeleton generated from solutions/microdpo/microdpo.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microdpo`; stuck? `python -m workbook hint microdpo`.
from workbook import KataTodo

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "microdpo" / "base.json"
CHECKPOINT_COMMAND = "python solutions/microdpo/microdpo.py --train-base tests/data/microdpo/base.json"

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
# This Value class is microgpt's canonical one, unchanged. For DPO:
# - dot(weights, inputs) below builds ONE node for a whole dot product, with
#   d(sum w_i x_i)/dw_i = x_i and /dx_i = w_i as its local gradients, where
#   microgpt builds two nodes per term. Same gradients, ~20x fewer objects:
#   it is what lets a pure-Python training step finish in a fraction of a second.
# - log_prob(logits, target) is one fused node for log softmax(logits)[target],
#   computed stably (max subtracted) with local gradients one_hot - softmax.
# - The reference model is plain floats, never Values: it is frozen by
#   construction and its log-probabilities are computed once per pair.
# - The DPO loss needs -log sigmoid(x) for margins of +-1000; Value.sigmoid()
#   then .log() would take log(0). dpo_loss builds it from exp() and log() in
#   two branches instead (a softplus), with no new Value operation.
# Both helpers return a plain float when no input is a Value, so the same
# forward pass serves training (Values) and evaluation (fast floats).


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


def linear(W, x):
    """W x for a d_out x d_in matrix (list of rows) and a length-d_in vector: d_out entries."""
    return [dot(row, x) for row in W]


def tanh(z):
    return z.tanh() if type(z) is Value else math.tanh(z)


# === THE BASE MODEL: A CHARACTER MLP ===
#
# Given the previous CONTEXT characters, predict the next one:
#   x      = [C[c1], C[c2], C[c3]]          embeddings, concatenated (3 * EMBED)
#   h      = tanh(W1 x + b1)                 HIDDEN units
#   logits = W2 h + b2                       one score per character
# "." marks both the start (padding) and the end of a name. The same network
# plays two parts: the reference (frozen floats) and the policy (trained).

VOCAB = ".abcdefghijklmnopqrstuvwxyz"
CONTEXT, EMBED, HIDDEN = 3, 8, 32
BASE_STEPS, BASE_BATCH, BASE_LR, SEED = 400, 24, 0.02, 42
BETA, DPO_STEPS, DPO_BATCH, DPO_LR = 0.5, 40, 6, 0.005
N_PAIRS = 600


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, lowercased, blank lines dropped."""
    return [line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def split_held_out(names):
    """(train, held_out): every 10th name (index % 10 == 0) is held out."""
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def make_examples(names):
    """(context, target) pairs: each character of name + '.' predicted from the CONTEXT before it."""
    examples = []
    for name in names:
        context = [0] * CONTEXT
        for ch in name + ".":
            examples.append((tuple(context), VOCAB.index(ch)))
            context = context[1:] + [VOCAB.index(ch)]
    return examples


def init_base(rng):
    """Random weights: 1/sqrt(fan_in) Gaussians keep tanh out of saturation at step 0."""
    fan_in, V = CONTEXT * EMBED, len(VOCAB)
    return {
        "C": [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in range(V)],
        "W1": [[rng.gauss(0, 1) / math.sqrt(fan_in) for _ in range(fan_in)] for _ in range(HIDDEN)],
        "b1": [0.0] * HIDDEN,
        # Small output weights: near-uniform predictions at step 0, loss ~ ln 27.
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in range(V)],
        "b2": [0.0] * V,
    }


def forward(params, context):
    """Logits (27 entries) for one context (3 token ids). Floats in, floats out; Values in, Values out."""
    x = [v for token in context for v in params["C"][token]]
    h = [tanh(z + b) for z, b in zip(linear(params["W1"], x), params["b1"])]
    return [z + b for z, b in zip(linear(params["W2"], h), params["b2"])]


# === TRAINING UTILITIES ===
#
# Parameters live as plain floats between steps. A step wraps the trainable
# ones in fresh Values, runs the forward pass, calls backward() once on the
# batch loss and reads the gradients off the wrappers. A tensor is a vector
# (list of floats) or a matrix (list of rows).


def as_values(params):
    """The parameter dict with every float wrapped in a fresh Value (same nesting)."""
    return {k: [[Value(v) for v in row] if isinstance(row, list) else Value(row) for row in t] for k, t in params.items()}


def grads_of(live):
    """The .grad of every Value of as_values' result, with the same nesting."""
    return {k: [[v.grad for v in row] if isinstance(row, list) else row.grad for row in t] for k, t in live.items()}


def zeros_like(params):
    return {k: [[0.0] * len(row) if isinstance(row, list) else 0.0 for row in t] for k, t in params.items()}


def copy_params(params):
    return {k: [list(row) if isinstance(row, list) else row for row in t] for k, t in params.items()}


def adam_update(params, grads, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on every tensor of a parameter dict, in place; m and v have the same nesting.

    m and v are running means of g and g^2; dividing by 1 - beta^step undoes
    their bias toward 0 in the first steps.
    """
    c1, c2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step

    def update(p_row, g_row, m_row, v_row):
        for i, g in enumerate(g_row):
            m_row[i] = beta1 * m_row[i] + (1.0 - beta1) * g
            v_row[i] = beta2 * v_row[i] + (1.0 - beta2) * g * g
            p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + eps)

    for k, tensor in params.items():
        if isinstance(tensor[0], list):
            for rows in zip(tensor, grads[k], m[k], v[k]):
                update(*rows)
        else:
            update(tensor, grads[k], m[k], v[k])


def train_base(names, steps=BASE_STEPS, seed=SEED, log=None):
    """Pretrain the model on ``names`` (Adam, linearly decaying rate); deterministic."""
    rng = random.Random(seed)
    params = init_base(rng)
    examples = make_examples(names)
    m, v = zeros_like(params), zeros_like(params)
    for step in range(1, steps + 1):
        batch = rng.sample(examples, BASE_BATCH)
        live = as_values(params)
        loss = -sum(log_prob(forward(live, c), t) for c, t in batch) * (1.0 / len(batch))
        loss.backward()
        adam_update(params, grads_of(live), m, v, step, BASE_LR * (1.0 - (step - 1) / steps))
        if log and (step == 1 or step % 100 == 0):
            log(f"   base step {step:>4}/{steps}  batch loss {loss.data:.4f}")
    return params


# === PREFERENCE PAIRS ===
#
# A pair is (prompt, chosen, rejected): two completions of the same prompt,
# the first preferred. Here the prompt is a first letter and the completions
# are the rest of two real names with that letter: the chosen name ends in
# "a", the rejected one does not ("k" + "ayla" over "k" + "evin"). The signal
# is simple enough to check by eye, and real preference data is the same
# shape: human raters compare two samples for one prompt.


def prefers(name):
    """The preference this file aligns to: names ending in 'a'."""
    return name.endswith("a")


def make_pairs(names, n, rng):
    """n pairs (prompt, chosen, rejected) from names sharing a first letter; deterministic for rng."""
    by_letter = {}
    for name in names:
        if len(name) >= 2:
            by_letter.setdefault(name[0], ([], []))[0 if prefers(name) else 1].append(name)
    letters = sorted(k for k, (good, bad) in by_letter.items() if good and bad)
    weights = [len(by_letter[k][0]) + len(by_letter[k][1]) for k in letters]
    pairs = []
    for _ in range(n):
        letter = rng.choices(letters, weights=weights)[0]
        good, bad = by_letter[letter]
        pairs.append((letter, rng.choice(good)[1:], rng.choice(bad)[1:]))
    return pairs


# === SEQUENCE LOG-PROBABILITIES ===
#
# A language model scores a whole completion y = y_1 ... y_T (then ".") by
# the chain rule:  log p(y | prompt) = sum_t log p(y_t | prompt, y_<t).
# The prompt's own characters are context only; they are not scored.


def sequence_log_prob(params, prompt, completion):
    """log p(completion + '.' | prompt): the summed log-probabilities of the completion's characters and the end mark.

    params: the model (floats, or Values for a trained policy). prompt,
    completion: strings over a-z (either may be empty). The context starts as
    CONTEXT end marks (token 0), then each prompt character is pushed in
    (unscored), then each character of completion + '.' is scored with
    log_prob(forward(params, context), token) and pushed in. Returns a float
    for float params, a Value (differentiable) for Value params.
    """
    raise KataTodo("microdpo.sequence_log_prob: log p(completion + '.' | prompt): the summed log-probabilities of the completion's characters and the end mark.")


# === THE DPO LOSS ===
#
# With implicit rewards r(y) = beta * log(pi(y) / ref(y)), Bradley-Terry says
#   P(chosen beats rejected) = sigmoid(r_w - r_l)
# and DPO minimises its negative log-likelihood:
#   x    = beta * [(log pi_w - log ref_w) - (log pi_l - log ref_l)]
#   loss = -log sigmoid(x) = log(1 + exp(-x))            (softplus of -x)
#   dloss/dx = -sigmoid(-x): large while the pair is ranked wrong, ~0 once it
#   is ranked right by a wide margin. That weight is what keeps DPO from
#   pushing forever on pairs it already gets right.
# At the start pi = ref, so x = 0 and loss = log 2 for every pair.


def dpo_loss(policy_chosen, policy_rejected, reference_chosen, reference_rejected, beta):
    """-log sigmoid(beta * ((pc - rc) - (pr - rr))) for one pair, stable for any margin.

    policy_*: sequence log-probabilities under the policy (floats or Values);
    reference_*: under the frozen reference (floats). Returns a float, or a
    Value when any input is a Value. Must stay finite (and its gradient too)
    for beta * margin = +-1000: never compute exp of a large positive number
    or log of 0. Raises ValueError if beta <= 0.
    """
    raise KataTodo('microdpo.dpo_loss: -log sigmoid(beta * ((pc - rc) - (pr - rr))) for one pair, stable for any margin.')


# === KL(POLICY || REFERENCE) ===
#
# How far has the policy moved? For one context, with p = softmax(policy
# logits) and q = softmax(reference logits):
#   KL(p || q) = sum_i p_i (log p_i - log q_i)  >= 0, and 0 only when p = q.
# DPO never computes it while training (the reference enters only through
# log-ratios); we measure it on held-out contexts to watch the drift.


def kl_divergence(policy_logits, reference_logits):
    """KL(softmax(policy_logits) || softmax(reference_logits)) in nats, a float >= 0.

    Both are equal-length lists of floats (logits, not probabilities), possibly
    ~+-1e3 in size: use log-softmax with the max subtracted. Entries where the
    policy probability underflows to 0 contribute 0.
    """
    raise KataTodo('microdpo.kl_divergence: KL(softmax(policy_logits) || softmax(reference_logits)) in nats, a float >= 0.')


def mean_kl(policy, reference, contexts):
    """Mean over contexts of KL(policy(. | c) || reference(. | c))."""
    return sum(kl_divergence(forward(policy, c), forward(reference, c)) for c in contexts) / len(contexts)


# === TRAINING THE POLICY ===


def dpo_loss_and_grads(policy, reference, pairs, beta=BETA):
    """(loss, grads): the mean DPO loss over pairs and its gradient for every policy parameter.

    policy, reference: parameter dicts of floats; neither is modified (the
    reference is frozen, the policy is updated by the caller). pairs: list of
    (prompt, chosen, rejected). grads has the policy's nesting: name ->
    matrix or vector of floats. loss is a float.
    """
    raise KataTodo('microdpo.dpo_loss_and_grads: (loss, grads): the mean DPO loss over pairs and its gradient for every policy parameter.')


def train_dpo(policy, reference, batches, beta=BETA, lr=DPO_LR, log=None):
    """Train the policy on batches of pairs with Adam; return (new_policy, losses).

    policy: the starting policy (floats; not modified: train a copy).
    reference: frozen (floats; must come back bit-identical). batches: a list
    of lists of (prompt, chosen, rejected). One Adam step per batch with
    adam_update (steps numbered from 1, constant lr) on the gradients of
    dpo_loss_and_grads. losses[i] is batch i's loss before its update.
    log: None or a callable, called as log(step, loss, policy) after each
    update, with the step number, that batch's loss (losses[step - 1]) and the
    updated policy (read it, do not modify it).
    Raises ValueError if beta <= 0 or lr <= 0.
    """
    raise KataTodo('microdpo.train_dpo: Train the policy on batches of pairs with Adam; return (new_policy, losses).')


def make_batches(pairs, steps, batch_size, rng):
    """``steps`` batches of ``batch_size`` pairs drawn without replacement within a batch."""
    return [rng.sample(pairs, batch_size) for _ in range(steps)]


# === CHECKPOINT (tests/data/microdpo/base.json) ===
#
# The graded tests never pretrain: they load this file, produced by
#   python solutions/microdpo/microdpo.py --train-base tests/data/microdpo/base.json
# from the training names of data/names.txt (about 20 s); a slow test checks
# that running the command again reproduces it.


def make_checkpoint(params):
    """The checkpoint dictionary: how it was made, the config, and every tensor."""
    return {
        "format": "microdpo-mlp-v1",
        "command": CHECKPOINT_COMMAND,
        "corpus": "data/names.txt minus every 10th name (index % 10 == 0, held out)",
        "vocab": VOCAB,
        "config": {"context": CONTEXT, "embed": EMBED, "hidden": HIDDEN},
        "training": {"steps": BASE_STEPS, "batch": BASE_BATCH, "learning_rate": BASE_LR, "seed": SEED,
                     "optimizer": "adam, linearly decaying rate"},
        "layout": "x = [C[c1] C[c2] C[c3]]; h = tanh(W1 x + b1); logits = W2 h + b2; rows of W are outputs",
        "params": params,
    }


def write_checkpoint(checkpoint, path):
    """Write JSON with one matrix row per line: small diffs, exact float round trip (repr)."""
    lines = ["{"]
    for key, value in checkpoint.items():
        if key != "params":
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "params": {')
    tensors = list(checkpoint["params"].items())
    for t, (name, rows) in enumerate(tensors):
        end = "," if t < len(tensors) - 1 else ""
        if isinstance(rows[0], list):
            lines.append(f"    {json.dumps(name)}: [")
            lines.extend(f"      {json.dumps(row)}{',' if r < len(rows) - 1 else ''}" for r, row in enumerate(rows))
            lines.append("    ]" + end)
        else:
            lines.append(f"    {json.dumps(name)}: {json.dumps(rows)}{end}")
    lines += ["  }", "}"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_checkpoint(path=CHECKPOINT):
    return json.loads(Path(path).read_text(encoding="utf-8"))["params"]


# === DEMONSTRATION ===


def sample_name(params, rng, limit=20):
    """One name sampled character by character until '.'."""
    context, out = [0] * CONTEXT, []
    while len(out) < limit:
        logits = forward(params, context)
        top = max(logits)
        token = rng.choices(range(len(VOCAB)), weights=[math.exp(z - top) for z in logits])[0]
        if token == 0:
            break
        out.append(VOCAB[token])
        context = context[1:] + [token]
    return "".join(out)


def preferred_rate(params, n=400, seed=7):
    """Fraction of n sampled names that have the preferred property (fixed sampling seed)."""
    rng = random.Random(seed)
    return sum(prefers(sample_name(params, rng)) for _ in range(n)) / n


def pair_accuracy(policy, reference, pairs):
    """Fraction of pairs whose implicit reward ranks chosen above rejected."""
    right = 0
    for prompt, chosen, rejected in pairs:
        margin = (sequence_log_prob(policy, prompt, chosen) - sequence_log_prob(reference, prompt, chosen)) - (
            sequence_log_prob(policy, prompt, rejected) - sequence_log_prob(reference, prompt, rejected))
        right += margin > 0
    return right / len(pairs)


def run(reference, pairs, contexts, beta, steps=DPO_STEPS, log=print):
    """Train one policy from the reference; returns (policy, losses, [(step, KL)])."""
    batches = make_batches(pairs, steps, DPO_BATCH, random.Random(SEED))
    trace = [(0, mean_kl(reference, reference, contexts))]

    def progress(step, loss, policy):
        if step % 10 == 0 or step == steps:
            trace.append((step, mean_kl(policy, reference, contexts)))
            if log:
                log(f"   beta {beta:<4} step {step:>3}/{steps}  batch loss {loss:.4f}  KL(policy||ref) {trace[-1][1]:.4f}")

    policy, losses = train_dpo(reference, reference, batches, beta, DPO_LR, log=progress)
    return policy, losses, trace


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-base", metavar="PATH",
                        help="pretrain the base/reference model and write the JSON checkpoint to PATH")
    args = parser.parse_args(argv)
    random.seed(42)
    train_names, held_names = split_held_out(load_names())
    if args.train_base:
        start = time.time()
        params = train_base(train_names, log=print)
        write_checkpoint(make_checkpoint(params), args.train_base)
        print(f"wrote {args.train_base} in {time.time() - start:.1f}s")
        return

    start = time.time()
    if CHECKPOINT.is_file():
        reference = load_checkpoint()
        print(f"Reference model: {CHECKPOINT.relative_to(ROOT)} (regenerate with: {CHECKPOINT_COMMAND})")
    else:
        print(f"Pretraining the reference model ({BASE_STEPS} Adam steps)")
        reference = train_base(train_names, log=print)
    pairs = make_pairs(train_names, N_PAIRS, random.Random(SEED))
    held_pairs = make_pairs(held_names, 200, random.Random(SEED + 1))
    contexts = [c for c, _ in make_examples(held_names[::8])]
    print(f"{len(pairs)} preference pairs, e.g. " + ", ".join(f"{p}+{w} > {p}+{l}" for p, w, l in pairs[:3]))
    print(f"KL is measured on {len(contexts)} held-out contexts.\n")

    print(f"DPO, beta = {BETA}: {DPO_STEPS} Adam steps of {DPO_BATCH} pairs, lr {DPO_LR}")
    policy, losses, trace = run(reference, pairs, contexts, BETA)
    others = {}
    print("\nThe same run with other betas (beta is how hard the reference pulls back):")
    for beta in (0.1, 2.0):
        others[beta] = run(reference, pairs, contexts, beta, log=None)[2][-1][1]
        print(f"   beta {beta:<4} final KL(policy||ref) {others[beta]:.4f}")

    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    rate_ref, rate_pol = preferred_rate(reference), preferred_rate(policy)
    acc_ref, acc_pol = pair_accuracy(reference, reference, held_pairs), pair_accuracy(policy, reference, held_pairs)
    print("\nKL(policy || reference) during training (beta = %s)" % BETA)
    for step, kl in trace:
        print(f"   step {step:>3}  {kl:.4f} {'#' * round(kl * 100)}")
    print(f"\nHeld-out pairs ranked right by the implicit reward: {acc_pol:.0%} (reference: ties, {acc_ref:.0%})")
    rng = random.Random(3)
    print("   reference samples: " + " ".join(sample_name(reference, rng) for _ in range(10)))
    print("   policy samples:    " + " ".join(sample_name(policy, rng) for _ in range(10)))

    kls = [kl for _, kl in trace]
    print("\nSuccess criteria")
    checks = [
        (f"DPO loss falls: mean of first 10 batches {first:.4f} -> last 10 {last:.4f} (start: log 2 = {math.log(2):.4f})",
         last < first),
        (f"names ending in 'a': {rate_ref:.0%} of reference samples -> {rate_pol:.0%} of policy samples",
         rate_pol > rate_ref + 0.2),
        ("KL grows with training: " + " -> ".join(f"{kl:.3f}" for kl in kls), all(a < b for a, b in zip(kls, kls[1:]))),
        (f"KL controlled by beta: beta 0.1 {others[0.1]:.3f} > beta {BETA} {kls[-1]:.3f} > beta 2.0 {others[2.0]:.3f}",
         others[0.1] > kls[-1] > others[2.0]),
    ]
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n(upstream: 298 s; this run: {time.time() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
