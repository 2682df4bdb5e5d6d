"""
LoRA, from scratch: adapt a frozen language model to new data by training two
thin matrices per weight, A (r x d_in, the down-projection) and B (d_out x r,
the up-projection), instead of the weight itself. The adapted layer computes
W x + (alpha / r) B (A x); as in Hu et al. and peft, A starts random and B at
zero, so training starts from exactly the base model, and after training the
product can be folded back into W at no inference cost.

Why it works: the update a fine-tune makes to a pretrained matrix is close to
low-rank (Hu et al. measure useful ranks of 1-8 on GPT-3's 12288-wide layers).
Training r (d_in + d_out) numbers instead of d_in * d_out cuts the gradients
and the optimizer state by the same factor, and the frozen base cannot drift.

The model is a character-level MLP over a 3-character context (Bengio et al.
2003), not microgpt's transformer: with the scalar autograd Value a transformer
base would take minutes to train, and the LoRA mathematics is the same for any
linear layer. Base: trained on names starting with A-M (shipped checkpoint
tests/data/microlora/base.json). Adaptation: rank-1 adapters on both layers,
trained on names starting with N-Z. Forgetting is the trap (the upstream script
lost 0.5 nats on A-M); this file keeps A-M within a stated bound with a low
rank, a few steps, a small learning rate and 60 % A-M "replay" in each batch.

References: Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models"
(2021); Aghajanyan et al., "Intrinsic Dimensionality Explains the Effectiveness
of Language Model Fine-Tuning" (2020); Bengio et al., "A Neural Probabilistic
Language Model" (2003) for the base model.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "microlora" / "base.json"
CHECKPOINT_COMMAND = "python solutions/microlora/microlora.py --train-base tests/data/microlora/base.json"

# === SCALAR AUTOGRAD (the canonical Value, as written in microgpt) ===
# Every number in the model is a Value: it remembers which Values made it
# (_children) and the local derivative of itself with respect to each
# (_local_grads). backward() walks that graph once, in reverse topological
# order, applying the chain rule: child.grad += local_grad * node.grad.

import math


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
# This Value class is microgpt's canonical one, unchanged. For LoRA:
# - dot(weights, inputs) below builds ONE node for a whole dot product, with
#   d(sum w_i x_i)/dw_i = x_i and /dx_i = w_i as its local gradients, where
#   microgpt builds two nodes per term. Same gradients, ~20x fewer objects:
#   it is what lets a pure-Python training step finish in milliseconds.
# - log_prob(logits, target) is one fused node for log softmax(logits)[target],
#   computed stably (max subtracted) with local gradients one_hot - softmax.
# - Freezing: a frozen weight is a plain float, never a Value, so backward()
#   has no node to reach and the base weights cannot change. (The seed's
#   variant, resetting .grad of frozen Values after backward, works too; a
#   float makes the guarantee structural, and it skips their gradient work.)
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
# "." marks both the start (padding) and the end of a name. The two weight
# matrices, W1 (32 x 24) and W2 (27 x 32), are where the adapters go: in a
# transformer they would be the attention projections W_q, W_v.

VOCAB = ".abcdefghijklmnopqrstuvwxyz"
CONTEXT, EMBED, HIDDEN = 3, 8, 32
BASE_STEPS, BASE_BATCH, BASE_LR, SEED = 400, 24, 0.02, 42
ADAPTED = ("W1", "W2")            # the matrices that get an adapter
RANK, ALPHA, SIGMA = 1, 1.0, 1.0  # adapter rank, scale numerator, std of A
ADAPT_STEPS, ADAPT_BATCH, ADAPT_LR, REPLAY = 150, 24, 0.02, 0.6
FORGETTING_BOUND = 0.10  # A-M loss may rise by at most this much (nats/char)


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, lowercased, blank lines dropped."""
    return [line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def split_by_letter(names):
    """(A-M names, N-Z names), by first letter: the base and the adaptation distribution."""
    return [n for n in names if n[0] <= "m"], [n for n in names if n[0] > "m"]


def split_held_out(names):
    """(train, held_out): every 10th name (index % 10 == 0) is held out."""
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def make_examples(names):
    """(context, target) pairs: each character of name + '.' predicted from the CONTEXT before it."""
    index = {ch: i for i, ch in enumerate(VOCAB)}
    examples = []
    for name in names:
        context = [0] * CONTEXT
        for ch in name + ".":
            examples.append((tuple(context), index[ch]))
            context = context[1:] + [index[ch]]
    return examples


def init_base(rng):
    """Random base weights: 1/sqrt(fan_in) Gaussians keep tanh out of saturation at step 0."""
    fan_in, V = CONTEXT * EMBED, len(VOCAB)
    return {
        "C": [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in range(V)],
        "W1": [[rng.gauss(0, 1) / math.sqrt(fan_in) for _ in range(fan_in)] for _ in range(HIDDEN)],
        "b1": [0.0] * HIDDEN,
        # Small output weights: near-uniform predictions at step 0, loss ~ ln 27.
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in range(V)],
        "b2": [0.0] * V,
    }


def forward(params, context, adapters=None, alpha=ALPHA):
    """Logits (27 entries) for one context; adapters maps a matrix name to its (A, B).

    Matrices without an adapter go through linear(); adapted ones through
    lora_linear(). Floats in, floats out; any Value in, Values out.
    """
    adapters = adapters or {}

    def project(name, x):
        if name in adapters:
            A, B = adapters[name]
            return lora_linear(params[name], A, B, x, alpha)
        return linear(params[name], x)

    x = [v for token in context for v in params["C"][token]]
    h = [tanh(z + b) for z, b in zip(project("W1", x), params["b1"])]
    return [z + b for z, b in zip(project("W2", h), params["b2"])]


def mean_loss(params, examples, adapters=None, alpha=ALPHA):
    """Mean next-character cross-entropy (nats per character) over the examples."""
    return -sum(log_prob(forward(params, c, adapters, alpha), t) for c, t in examples) / len(examples)


# === TRAINING UTILITIES ===
#
# Parameters live as plain floats between steps. A step wraps exactly the
# trainable ones in fresh Values, runs the forward pass, calls backward() once
# on the batch loss, and reads the gradients off the wrappers. Whatever is not
# wrapped is frozen by construction.


def as_values(matrix):
    return [[Value(v) for v in row] for row in matrix]


def grads_of(matrix):
    return [[v.grad for v in row] for row in matrix]


def adam_update(matrix, grad, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on a matrix (list of rows) in place; m and v are its moment matrices.

    m and v are running means of g and g^2; dividing by 1 - beta^step undoes
    their bias toward 0 in the first steps. On step 1 every weight with a
    non-zero gradient moves by lr * sign(-g) (up to eps), whatever |g| is.
    """
    c1, c2 = 1.0 - beta1 ** step, 1.0 - beta2 ** step
    for p_row, g_row, m_row, v_row in zip(matrix, grad, m, v):
        for i, g in enumerate(g_row):
            m_row[i] = beta1 * m_row[i] + (1.0 - beta1) * g
            v_row[i] = beta2 * v_row[i] + (1.0 - beta2) * g * g
            p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + eps)


def zeros_like(matrix):
    return [[0.0] * len(row) for row in matrix]


def train_base(names, steps=BASE_STEPS, seed=SEED, log=None):
    """Pretrain every base weight on ``names`` (Adam, linearly decaying rate); deterministic."""
    rng = random.Random(seed)
    params = init_base(rng)
    examples = make_examples(names)
    # Vectors are trained as 1-row matrices so one Adam helper serves all.
    shapes = {k: (v if isinstance(v[0], list) else [v]) for k, v in params.items()}
    m = {k: zeros_like(v) for k, v in shapes.items()}
    v2 = {k: zeros_like(v) for k, v in shapes.items()}
    for step in range(1, steps + 1):
        batch = rng.sample(examples, BASE_BATCH)
        live = {k: as_values(v) for k, v in shapes.items()}
        model = {k: (live[k] if isinstance(params[k][0], list) else live[k][0]) for k in params}
        loss = -sum(log_prob(forward(model, c), t) for c, t in batch) * (1.0 / len(batch))
        loss.backward()
        lr = BASE_LR * (1.0 - (step - 1) / steps)
        for k in shapes:
            adam_update(shapes[k], grads_of(live[k]), m[k], v2[k], step, lr)
        if log and (step == 1 or step % 100 == 0):
            log(f"   base step {step:>4}/{steps}  batch loss {loss.data:.4f}")
    return params


def make_batches(new_examples, replay_examples, steps, batch_size, replay, rng):
    """``steps`` batches: round(batch_size * replay) old (replay) examples, the rest new."""
    n_old = round(batch_size * replay)
    return [rng.sample(new_examples, batch_size - n_old) + rng.sample(replay_examples, n_old) for _ in range(steps)]


# === LOW-RANK ADAPTERS ===
#
# An adapted matrix computes
#   y = W x + (alpha / r) B (A x)          A: r x d_in (random), B: d_out x r (zero)
# This is Hu et al.'s convention, letter for letter (h = W0 x + B A x, "random
# Gaussian initialization for A and zero for B"), and peft's (lora_A is the
# r x in_features down-projection, Kaiming-uniform by default or Gaussian with
# init_lora_weights="gaussian"; lora_B, out_features x r, starts at zero).
# Zeroing the up-projection matters for the dynamics, not only for the start:
# on the first step only B moves (dL/dA = s B^T g x^T = 0), and it moves along
# the fixed random directions A x. Evaluating A x first costs r (d_in + d_out)
# multiplications instead of d_out d_in for the full product BA. alpha / r
# keeps the update's size roughly independent of r, so changing the rank does
# not mean re-tuning the learning rate.


def init_adapter(d_out, d_in, rank, rng, sigma=SIGMA):
    """A fresh adapter (A, B) for a d_out x d_in matrix: A random, B zero (Hu et al.).

    A (the down-projection): rank x d_in, entries rng.gauss(0, sigma) drawn
    row by row (A[0][0], A[0][1], ..., A[1][0], ...). B (the up-projection):
    d_out x rank, all 0.0. With B = 0 the adapted layer equals the base layer
    exactly, and only B gets a gradient on the first step (dL/dA = s B^T g
    x^T = 0). Returns (A, B) as lists of rows.
    Raises ValueError if rank is not an int in [1, min(d_out, d_in)] or if
    sigma <= 0.
    """
    # BEGIN SOLUTION
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= min(d_out, d_in):
        raise ValueError(f"rank must be an integer in [1, min(d_out, d_in)] = [1, {min(d_out, d_in)}], got {rank!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    A = [[rng.gauss(0.0, sigma) for _ in range(d_in)] for _ in range(rank)]
    # Zero, not random: a random B would add a random rank-r matrix to W and
    # the "adapted" model would start worse than the base it came from.
    B = [[0.0] * rank for _ in range(d_out)]
    return A, B
    # END SOLUTION


def lora_linear(W, A, B, x, alpha):
    """The adapted layer: y = W x + (alpha / r) B (A x), d_out entries, r = len(A).

    W: d_out x d_in (frozen; floats). A: r x d_in, B: d_out x r (Values while
    training, floats otherwise). x: length d_in (floats or Values). Compute the
    base part as linear(W, x) and A x before B (never form B A). Any input may
    be a Value; use dot() / linear() so the result is a Value exactly when one
    is involved. With B all zeros the result equals linear(W, x) bit for bit.
    Raises ValueError naming ``alpha`` unless alpha > 0, and naming ``B``
    when its shape does not fit (len(B) != len(W), or len(B[0]) != len(A)).
    """
    # BEGIN SOLUTION
    if not alpha > 0:
        raise ValueError(f"alpha (the adapter scale) must be > 0, got {alpha!r}")
    if len(B) != len(W) or len(B[0]) != len(A):
        raise ValueError(f"B must be d_out x r = {len(W)} x {len(A)}, got {len(B)} x {len(B[0])}")
    base = linear(W, x)
    scale = alpha / len(A)
    down = linear(A, x)  # r numbers: x projected onto the adapter's r directions
    return [y + scale * dot(b_row, down) for y, b_row in zip(base, B)]
    # END SOLUTION


def merge_adapter(W, A, B, alpha):
    """The merged weight W + (alpha / r) B A as a new d_out x d_in list of rows (floats).

    W, A, B as in lora_linear, all floats; W is not modified. After merging,
    linear(merged, x) equals lora_linear(W, A, B, x, alpha) up to rounding,
    and serving the adapted model costs nothing extra. Raises ValueError like
    lora_linear: naming ``alpha`` unless alpha > 0, ``B`` for a bad shape.
    """
    # BEGIN SOLUTION
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 to merge, got {alpha!r}")
    if len(B) != len(W) or len(B[0]) != len(A):
        raise ValueError(f"B is {len(B)} x {len(B[0])}: merge needs d_out x r = {len(W)} x {len(A)}")
    scale = alpha / len(A)
    rank = len(A)
    return [
        [w + scale * sum(B[i][k] * A[k][j] for k in range(rank)) for j, w in enumerate(W_row)]
        for i, W_row in enumerate(W)
    ]
    # END SOLUTION


def count_parameters(params, adapters):
    """(base_count, adapter_count): numbers in the base model and in all its adapters.

    params: name -> matrix (list of rows) or vector (list of floats).
    adapters: name -> (A, B). Full fine-tuning trains base_count numbers;
    LoRA trains adapter_count: every number in every A and B.
    """
    # BEGIN SOLUTION
    # Per adapter r (d_in + d_out) numbers, where the full update B A would
    # have d_out d_in: the whole point of the low rank.
    base = sum(sum(len(row) for row in t) if isinstance(t[0], list) else len(t) for t in params.values())
    adapter = sum(len(A) * len(A[0]) + len(B) * len(B[0]) for A, B in adapters.values())
    return base, adapter
    # END SOLUTION


# === TRAINING THE ADAPTERS ONLY ===
#
# The loss is the usual mean cross-entropy, now a function of A and B alone:
#   L(A, B) = -1/n sum_examples log p(next | context; W frozen, A, B)
# Chain rule through one adapted layer y = W x + s B (A x), g = dL/dy:
#   dL/dB = s g (A x)^T        dL/dA = s (B^T g) x^T
# Autograd does this for us; we only decide which numbers are Values.


def adapter_loss_and_grads(params, adapters, batch, alpha=ALPHA):
    """(loss, grads) for one batch, differentiating with respect to the adapters only.

    params: the frozen base (floats, never modified). adapters: name -> (A, B),
    floats. batch: list of (context, target) pairs. loss: the mean over the
    batch of -log p(target | context) under the adapted model, a float.
    grads: name -> (dA, dB), floats with the shapes of A and B.
    """
    # BEGIN SOLUTION
    live = {name: (as_values(A), as_values(B)) for name, (A, B) in adapters.items()}
    # Only A and B are Values: the base weights stay floats and get no node.
    loss = -sum(log_prob(forward(params, c, live, alpha), t) for c, t in batch) * (1.0 / len(batch))
    loss.backward()
    grads = {name: (grads_of(A), grads_of(B)) for name, (A, B) in live.items()}
    return loss.data, grads
    # END SOLUTION


def train_adapter(params, adapters, batches, alpha=ALPHA, lr=ADAPT_LR, log=None):
    """Train the adapters with Adam, one step per batch; return (new_adapters, losses).

    params: the frozen base (floats; must come back bit-identical).
    adapters: name -> (A, B), floats; not modified (train copies). batches: a
    list of batches of (context, target) pairs. Use adapter_loss_and_grads and
    adam_update (defaults: beta1 0.9, beta2 0.999, eps 1e-8) with a constant
    learning rate lr, steps numbered from 1. losses[i] is the loss of batch i
    before its update. log: None, or a callable called as log(step, loss)
    after each step (progress lines; the tests pass None). Raises ValueError
    if lr <= 0.
    """
    # BEGIN SOLUTION
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    current = {name: ([list(r) for r in A], [list(r) for r in B]) for name, (A, B) in adapters.items()}
    moments = {name: [(zeros_like(M), zeros_like(M)) for M in pair] for name, pair in current.items()}
    losses = []
    for step, batch in enumerate(batches, start=1):
        loss, grads = adapter_loss_and_grads(params, current, batch, alpha)
        losses.append(loss)
        for name, pair in current.items():
            for M, G, (m, v) in zip(pair, grads[name], moments[name]):
                adam_update(M, G, m, v, step, lr)
        if log:
            log(step, loss)
    return current, losses
    # END SOLUTION


def adapt(params, new_names, old_names, steps=ADAPT_STEPS, replay=REPLAY, rank=RANK, lr=ADAPT_LR,
          seed=SEED, log=None):
    """The whole recipe: adapters on ADAPTED, batches with replay, training. Returns (adapters, losses)."""
    rng = random.Random(seed)
    adapters = {}
    for name in ADAPTED:
        W = params[name]
        adapters[name] = init_adapter(len(W), len(W[0]), rank, rng)
    batches = make_batches(make_examples(new_names), make_examples(old_names), steps, ADAPT_BATCH, replay, rng)

    def progress(step, loss):
        if log and (step == 1 or step % 25 == 0):
            log(f"   adapt step {step:>3}/{steps}  batch loss {loss:.4f}")

    return train_adapter(params, adapters, batches, ALPHA, lr, log=progress)


# === CHECKPOINT (tests/data/microlora/base.json) ===
#
# The graded tests never pretrain: they load this file, produced by
#   python solutions/microlora/microlora.py --train-base tests/data/microlora/base.json
# from the A-M training names of data/names.txt (about 20 s); a slow test
# checks that running the command again reproduces it.


def make_checkpoint(params):
    """The checkpoint dictionary: how it was made, the config, and every tensor."""
    return {
        "format": "microlora-mlp-v1",
        "command": CHECKPOINT_COMMAND,
        "corpus": "data/names.txt, names starting with a-m, minus every 10th of them (index % 10 == 0, held out)",
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


def sample_name(params, rng, adapters=None, limit=20):
    """One name sampled character by character until '.'."""
    context, out = [0] * CONTEXT, []
    while len(out) < limit:
        logits = forward(params, context, adapters)
        top = max(logits)
        token = rng.choices(range(len(VOCAB)), weights=[math.exp(z - top) for z in logits])[0]
        if token == 0:
            break
        out.append(VOCAB[token])
        context = context[1:] + [token]
    return "".join(out)


def bar(value, scale, width=30):
    return "#" * max(0, min(width, round(value / scale * width)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-base", metavar="PATH",
                        help="pretrain the base model on the A-M names and write the JSON checkpoint to PATH")
    args = parser.parse_args(argv)
    random.seed(42)
    old, new = split_by_letter(load_names())
    old_train, old_held = split_held_out(old)
    new_train, new_held = split_held_out(new)

    if args.train_base:
        start = time.time()
        params = train_base(old_train, log=print)
        write_checkpoint(make_checkpoint(params), args.train_base)
        print(f"wrote {args.train_base} in {time.time() - start:.1f}s")
        return

    start = time.time()
    if CHECKPOINT.is_file():
        params = load_checkpoint()
        print(f"Base model: {CHECKPOINT.relative_to(ROOT)} (pretrained on {len(old_train):,} A-M names; "
              f"regenerate with: {CHECKPOINT_COMMAND})")
    else:
        print(f"Pretraining the base model on {len(old_train):,} A-M names ({BASE_STEPS} Adam steps)")
        params = train_base(old_train, log=print)
    held_old, held_new = make_examples(old_held), make_examples(new_held)
    base_old, base_new = mean_loss(params, held_old), mean_loss(params, held_new)
    print(f"   held-out loss  A-M {base_old:.4f}   N-Z {base_new:.4f}   (uniform guessing: {math.log(27):.4f})\n")

    probe = {name: init_adapter(len(params[name]), len(params[name][0]), RANK, random.Random(0)) for name in ADAPTED}
    n_base, n_adapter = count_parameters(params, probe)
    print("Trainable parameters")
    print(f"   full fine-tuning   {n_base:>6,}")
    for name in ADAPTED:
        d_out, d_in = len(params[name]), len(params[name][0])
        print(f"   LoRA on {name} ({d_out}x{d_in}), r={RANK}: {RANK * (d_out + d_in):>4}  instead of {d_out * d_in}")
    print(f"   LoRA total         {n_adapter:>6,}  = {n_adapter / n_base:.1%} of the base\n")

    print(f"Adapting to {len(new_train):,} N-Z names: rank {RANK}, {ADAPT_STEPS} steps of {ADAPT_BATCH}, "
          f"lr {ADAPT_LR}, {REPLAY:.0%} A-M replay per batch")
    adapters, _ = adapt(params, new_train, old_train, log=print)
    after_old, after_new = mean_loss(params, held_old, adapters), mean_loss(params, held_new, adapters)
    print(f"\nWithout replay (same steps, N-Z only), to show what forgetting looks like:")
    naive, _ = adapt(params, new_train, old_train, replay=0.0, log=print)
    naive_old, naive_new = mean_loss(params, held_old, naive), mean_loss(params, held_new, naive)

    print("\nHeld-out loss (nats per character)       A-M              N-Z")
    rows = [("base (frozen)", base_old, base_new), ("LoRA, 60% replay", after_old, after_new),
            ("LoRA, no replay", naive_old, naive_new)]
    for label, a, b in rows:
        print(f"   {label:<18} {a:.4f} {bar(a, 3.3, 12):<12}  {b:.4f} {bar(b, 3.3, 12)}")

    merged = dict(params, **{k: merge_adapter(params[k], A, B, ALPHA) for k, (A, B) in adapters.items()})
    contexts = [c for c, _ in held_new[:200]]
    gap = max(abs(a - b) for c in contexts for a, b in zip(forward(params, c, adapters), forward(merged, c)))
    print(f"\nMerged weights vs adapter path on 200 contexts: max |logit difference| = {gap:.2e}")

    rng = random.Random(7)
    for label, kwargs in (("base", {}), ("adapted", {"adapters": adapters})):
        names = [sample_name(params, rng, **kwargs) for _ in range(200)]
        late = sum(1 for n in names if n and n[0] > "m") / len(names)
        print(f"   {label:<8} samples: {' '.join(names[:8])}   ({late:.0%} start with N-Z)")

    print("\nSuccess criteria")
    checks = [
        (f"base A-M held-out loss {base_old:.4f} < 2.5", base_old < 2.5),
        (f"N-Z held-out loss improves: {base_new:.4f} -> {after_new:.4f}", after_new < base_new - 0.3),
        (f"no forgetting: A-M {base_old:.4f} -> {after_old:.4f} (bound: +{FORGETTING_BOUND})",
         after_old <= base_old + FORGETTING_BOUND),
        (f"trainable {n_adapter} / {n_base} = {n_adapter / n_base:.1%} < 10%", n_adapter < 0.1 * n_base),
    ]
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n(upstream: A-M 2.30 -> 2.81 after adaptation, 354 s; this run: {time.time() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
