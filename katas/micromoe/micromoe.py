"""
Mixture of Experts, from scratch: scale a model's capacity without scaling
its compute. N small expert networks share one layer; a router scores them
for each token and only the top k run. The token's output is the experts'
outputs mixed by the router's probabilities, renormalised over the chosen k:

    p      = softmax(W_r x)                          router, N probabilities
    S      = top-k indices of p                      ties: lower index first
    g_i    = p_i / sum_{j in S} p_j   for i in S     gates, sum to 1
    y      = sum_{i in S} g_i * E_i(x)               only k of N experts compute

Left alone, a router collapses: the expert that happens to win early gets
the gradient, gets better, wins more. Two remedies, both here: a
load-balancing loss (Switch Transformer), N * sum_i f_i * P_i with f_i the
share of assignments expert i received and P_i its mean router probability
(1 under perfectly uniform routing), and a hard capacity per expert, beyond
which tokens are dropped.

The task: predict the next character of a name from the previous two, with
4 experts and top-2 routing. Each expert is a 2-layer MLP (~250 parameters).

References: Shazeer et al., "Outrageously Large Neural Networks: The
Sparsely-Gated Mixture-of-Experts Layer" (2017); Lepikhin et al., "GShard"
(2020) for top-2 routing and expert capacity; Fedus et al., "Switch
Transformers" (2021) for the balance loss; Jiang et al., "Mixtral of
Experts" (2024) for softmax-then-renormalise over the top 2.
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

# Kata skeleton generated from solutions/micromoe/micromoe.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/micromoe`; stuck? `python -m workbook hint micromoe`.
from workbook import KataTodo

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "micromoe" / "checkpoint.json"
CHECKPOINT_COMMAND = "python solutions/micromoe/micromoe.py --train-checkpoint tests/data/micromoe/checkpoint.json"

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
# This Value class is microgpt's canonical one, unchanged. For MoE:
# - dot(weights, inputs) builds ONE node for a whole dot product (local
#   gradients x_i and w_i), where microgpt builds two nodes per term.
# - log_prob(logits, target) is one fused node for log softmax(logits)[target],
#   stable (max subtracted), with local gradients one_hot - softmax.
# - exp(z) and data(z) below accept a Value or a float, so the router code
#   runs on Values in training and on plain floats in evaluation.
# - Only the router is made of Values. The experts are plain floats: their
#   outputs enter the graph as constants, the graph hands back d loss /
#   d output, and expert_backward() finishes the chain rule by hand.
#
# IMPLEMENTATION NOTE: Experts use plain floats (not autograd Value objects) for
# runtime tractability. The router uses scalar autograd because routing decisions
# are the core MoE mechanism — gradients must flow through the gating function.
# Production MoE frameworks (Mixtral, Switch Transformer) vectorize everything;
# we split the approach to stay within pure-Python runtime constraints.


def data(z):
    return z.data if type(z) is Value else z


def exp(z):
    return z.exp() if type(z) is Value else math.exp(z)


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
    values = [data(z) for z in logits]
    top = max(values)  # stable: exp(z - max) <= 1 never overflows
    weights = [math.exp(z - top) for z in values]
    total = sum(weights)
    value = values[target] - top - math.log(total)
    children, local_grads = [], []
    for i, z in enumerate(logits):
        if type(z) is Value:
            children.append(z)
            local_grads.append((1.0 if i == target else 0.0) - weights[i] / total)
    return Value(value, tuple(children), tuple(local_grads)) if children else value


# === THE ROUTER ===
#
# One linear layer, W_r (N x D): a score per expert, softmax over experts.
# Only the chosen k experts run; their gates are their probabilities
# renormalised to sum to 1 (Mixtral), so a token's output is a convex mix of
# k expert outputs whatever the other N - k probabilities were.
#
# Where does the router's gradient come from, if the choice is discrete?
# The top-k CHOICE has no gradient; the GATES do: d loss / d g_i =
# (d loss / d y) . E_i(x). If expert i's output helped, its gate (and so its
# probability, and so W_r's row i) is pushed up, and next time it may be
# chosen more often.

N_EXPERTS, TOP_K, CAPACITY_FACTOR = 4, 2, 1.25


def router_probs(W, x):
    """Softmax of the router scores W x: N probabilities that sum to 1.

    W: N x D router weights (floats or Values); x: D floats. Returns a list of
    N probabilities, Values when W holds Values (gradients flow to W), floats
    otherwise. Stable for scores of +-1e3: subtract the largest score (as a
    plain number) before exp().
    """
    raise KataTodo('micromoe.router_probs: Softmax of the router scores W x: N probabilities that sum to 1.')


def top_k(probs, k):
    """Indices of the k largest probabilities, largest first; on a tie the lower index comes first.

    probs: N floats (or Values: compare their .data). k: an int (not a bool)
    with 1 <= k <= N, else ValueError naming k. Returns a list of k distinct ints.
    """
    raise KataTodo('micromoe.top_k: Indices of the k largest probabilities, largest first; on a tie the lower index comes first.')


def gates(probs, chosen):
    """The chosen experts' probabilities renormalised to sum to 1, in the order of chosen.

    probs: N probabilities (floats or Values); chosen: expert indices.
    Returns [probs[i] / sum_{j in chosen} probs[j] for i in chosen]
    (Values when probs are, so the gradient reaches the router).
    """
    raise KataTodo("micromoe.gates: The chosen experts' probabilities renormalised to sum to 1, in the order of chosen.")


# === CAPACITY AND DISPATCH ===
#
# On real hardware every expert gets a fixed-size buffer, so the batch can be
# laid out statically:
#     capacity = ceil(capacity_factor * tokens * k / N)
# (tokens * k / N is a perfectly even share; the factor is the slack). The
# rule here, exactly: tokens are processed in order t = 0, 1, ...; each
# token's choices in rank order (best first); an assignment (t, i) is kept if
# expert i has kept fewer than `capacity` assignments so far, else it is
# DROPPED. A dropped assignment contributes nothing: the token's output is the
# sum over its kept experts with their (unrenormalised) gates, all zeros if
# none is kept. In a transformer the residual connection carries such a
# token through unchanged; GShard and Switch do exactly this.
# Signpost: GShard's top-2 gating (and DeepSpeed's, fairseq's, Tutel's
# top2gating) places ALL first choices before ANY second choice: the
# second choices' buffer positions start after every first choice
# (locations2 += sum(mask1)), so a second choice is dropped before any first
# choice is. This kata's token-major order is simpler and differs: an early
# token's second choice can take the slot a later token's first choice needed.


def expert_capacity(n_tokens, n_experts, k, capacity_factor):
    """ceil(capacity_factor * n_tokens * k / n_experts): assignments one expert may accept.

    Raises ValueError naming capacity_factor unless it is > 0 (NaN too), and
    naming k unless k is an int (not a bool) in 1..n_experts.
    """
    raise KataTodo('micromoe.expert_capacity: ceil(capacity_factor * n_tokens * k / n_experts): assignments one expert may accept.')


def dispatch(choices, n_experts, capacity):
    """Which assignments survive the capacity: the kept expert indices of each token.

    choices: one list per token of its chosen expert indices, best first.
    Tokens in order, each token's choices in order: an assignment to expert i
    is kept while expert i has kept fewer than `capacity`, else dropped.
    Returns a new list, one list per token of its kept experts (in choice order).
    """
    raise KataTodo('micromoe.dispatch: Which assignments survive the capacity: the kept expert indices of each token.')


def moe_layer(xs, W, experts, k=TOP_K, capacity_factor=CAPACITY_FACTOR):
    """Route a batch of tokens through the mixture: the whole forward pass of the MoE layer.

    xs: T input vectors (D floats each); W: N x D router weights; experts: N
    callables, experts[i](x) -> output vector (floats, all of length V).
    For each token: router_probs, top_k, gates over the k chosen; then
    dispatch with expert_capacity(T, N, k, capacity_factor); then call
    experts[i](x_t) ONLY for the kept assignments, once each, and mix:
    y_t = sum over kept i of gate_i * experts[i](x_t) (V zeros if none kept,
    V the length of the outputs that were computed).
    Returns {"outputs": T lists of V, "probs": T lists of N, "choices": T lists
    of k, "gates": T lists of k (aligned with choices), "kept": T lists}.
    Outputs, probs and gates are Values when W holds Values -- a fully dropped
    token's zeros too (Value(0.0) each, no children) -- and floats otherwise.
    """
    raise KataTodo('micromoe.moe_layer: Route a batch of tokens through the mixture: the whole forward pass of the MoE layer.')


# === THE LOAD-BALANCING LOSS ===
#
# Switch Transformer's auxiliary loss, for top-k:
#     f_i = (assignments to expert i among the top-k choices) / (T * k)
#     P_i = (1 / T) sum_t p_t[i]
#     L_balance = N * sum_i f_i * P_i
# f is a count: it has no gradient. P does, and the product pushes down the
# probability of exactly the experts that are receiving more than their share.
# Under perfectly uniform routing (f_i = P_i = 1/N) L = N * N / N^2 = 1, its
# minimum for uniform f; a collapsed router (everything to one expert) scores
# up to N. Choices are counted BEFORE the capacity drops tokens: the loss is
# about what the router wants, not what the buffers allowed.
# Signpost: transformers' load_balancing_loss_func (Mixtral, Qwen-MoE, ...)
# normalises f_i by T, not T * k (the mean over tokens of a T x k x N one-hot),
# so its value is exactly k times this one: 2 under uniform top-2 routing. For
# Switch's top-1 (k = 1) the two agree; a coefficient tuned for one is k times
# too strong or too weak for the other.


def balance_loss(probs, choices, n_experts):
    """N * sum_i f_i * P_i over a batch (Switch Transformer's load-balancing loss, top-k).

    probs: T lists of N router probabilities (Values or floats); choices: T
    lists of the k chosen experts. f_i = (times i appears in choices) / (T k),
    P_i = mean over tokens of probs[t][i]. Returns a Value when probs are Values.
    """
    raise KataTodo("micromoe.balance_loss: N * sum_i f_i * P_i over a batch (Switch Transformer's load-balancing loss, top-k).")


# === THE EXPERTS (plain floats, manual gradients; provided) ===
#
# Each expert: h = tanh(W1 x + b1) (6 units), out = W2 h + b2 (27 logits),
# 10 * 6 + 6 + 6 * 27 + 27 = 255 parameters. Inputs are the fixed embeddings
# of the previous two characters (5 numbers each): fixed, so that the only
# things that learn are the experts and the router.

VOCAB = ".abcdefghijklmnopqrstuvwxyz"
EMBED, HIDDEN, SEED = 5, 6, 42
D_IN = 2 * EMBED + 1  # two embeddings and a constant 1 (the router's bias)
STEPS, BATCH, LR, ROUTER_LR, ALPHA = 120, 45, 0.02, 0.05, 0.1
ROUTER_TILT = 3.0


def make_embedding(seed=SEED):
    rng = random.Random(seed)
    return [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in VOCAB]


def init_expert(rng):
    return {
        "W1": [[rng.gauss(0, 1) / math.sqrt(D_IN) for _ in range(D_IN)] for _ in range(HIDDEN)],
        "b1": [0.0] * HIDDEN,
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in VOCAB],
        "b2": [0.0] * len(VOCAB),
    }


def expert_hidden(params, x):
    return [math.tanh(sum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"])]


def expert_forward(params, x):
    h = expert_hidden(params, x)
    return [sum(w * hi for w, hi in zip(row, h)) + b for row, b in zip(params["W2"], params["b2"])]


def expert_backward(params, x, grad_out):
    """d loss / d each expert parameter, given d loss / d output (27 floats)."""
    h = expert_hidden(params, x)
    dh = [sum(g * row[j] for g, row in zip(grad_out, params["W2"])) for j in range(len(h))]
    dz = [d * (1.0 - hj * hj) for d, hj in zip(dh, h)]
    return {"W1": [[d * xi for xi in x] for d in dz], "b1": dz,
            "W2": [[g * hj for hj in h] for g in grad_out], "b2": list(grad_out)}


def add_into(total, grads):
    for key, g in grads.items():
        if isinstance(g[0], list):
            for row_t, row_g in zip(total[key], g):
                for j, v in enumerate(row_g):
                    row_t[j] += v
        else:
            for j, v in enumerate(g):
                total[key][j] += v


def zeros_like(params):
    return {k: ([[0.0] * len(r) for r in v] if isinstance(v[0], list) else [0.0] * len(v)) for k, v in params.items()}


def adam(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One bias-corrected Adam step on a dict of matrices/vectors, in place."""
    state["step"] += 1
    c1, c2 = 1.0 - beta1 ** state["step"], 1.0 - beta2 ** state["step"]
    for key, p in params.items():
        rows = p if isinstance(p[0], list) else [p]
        g_rows = grads[key] if isinstance(p[0], list) else [grads[key]]
        m_rows = state["m"][key] if isinstance(p[0], list) else [state["m"][key]]
        v_rows = state["v"][key] if isinstance(p[0], list) else [state["v"][key]]
        for pr, gr, mr, vr in zip(rows, g_rows, m_rows, v_rows):
            for j, g in enumerate(gr):
                mr[j] = beta1 * mr[j] + (1.0 - beta1) * g
                vr[j] = beta2 * vr[j] + (1.0 - beta2) * g * g
                pr[j] -= lr * (mr[j] / c1) / (math.sqrt(vr[j] / c2) + eps)


def new_adam(params):
    return {"step": 0, "m": zeros_like(params), "v": zeros_like(params)}


# === DATA ===


def load_names(path=NAMES_FILE):
    return [line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def split_held_out(names):
    """(train, held_out): every 10th name (index % 10 == 0) is held out."""
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def make_tokens(names):
    """(previous two character ids, next character id) for every character of name + '.'."""
    tokens = []
    for name in names:
        a, b = 0, 0
        for ch in name + ".":
            tokens.append(((a, b), VOCAB.index(ch)))
            a, b = b, VOCAB.index(ch)
    return tokens


def embed(E, context):
    return E[context[0]] + E[context[1]] + [1.0]


# === TRAINING (provided) ===


def train(steps=STEPS, alpha=ALPHA, seed=SEED, log=None):
    """Train router (autograd) and experts (manual gradients) on next-character prediction.

    loss = mean cross-entropy + alpha * balance_loss. Returns (model, history).
    """
    rng = random.Random(seed)
    E = make_embedding(seed)
    # The router starts collapsed: expert 0's bias is ROUTER_TILT higher, the
    # state real routers drift into when one expert gets ahead early (it wins
    # the tokens, so it gets the gradient, so it wins more). The balance
    # loss has to undo it.
    W = [[rng.gauss(0, 1.0) for _ in range(D_IN)] for _ in range(N_EXPERTS)]
    W[0][-1] += ROUTER_TILT
    experts = [init_expert(rng) for _ in range(N_EXPERTS)]
    router_state = new_adam({"W": W})
    expert_states = [new_adam(p) for p in experts]
    train_names, _ = split_held_out(load_names())
    tokens = make_tokens(train_names)
    history = []
    for step in range(1, steps + 1):
        batch = rng.sample(tokens, BATCH)
        xs = [embed(E, c) for c, _ in batch]
        live = [[Value(v) for v in row] for row in W]
        fns = [lambda x, p=p: expert_forward(p, x) for p in experts]
        out = moe_layer(xs, live, fns, TOP_K, CAPACITY_FACTOR)
        ce = -sum(log_prob(y, t) for y, (_, t) in zip(out["outputs"], batch)) * (1.0 / BATCH)
        bal = balance_loss(out["probs"], out["choices"], N_EXPERTS)
        loss = ce + alpha * bal
        loss.backward()
        adam({"W": W}, {"W": [[v.grad for v in row] for row in live]}, router_state, ROUTER_LR)
        # The experts' half of the chain rule, by hand: d loss / d expert
        # output = gate * d loss / d mixed output (read off the graph).
        for t, (x, y) in enumerate(zip(xs, out["outputs"])):
            d_y = [data_grad(z) for z in y]
            for i in out["kept"][t]:
                gate = data(out["gates"][t][out["choices"][t].index(i)])
                grads = expert_backward(experts[i], x, [gate * g for g in d_y])
                expert_states[i].setdefault("acc", zeros_like(experts[i]))
                add_into(expert_states[i]["acc"], grads)
        for p, s in zip(experts, expert_states):
            adam(p, s.pop("acc", zeros_like(p)), s, LR)
        load = [0] * N_EXPERTS
        for chosen in out["choices"]:
            for i in chosen:
                load[i] += 1
        row = {"step": step, "ce": ce.data, "balance": data(bal),
               "share": [c / (BATCH * TOP_K) for c in load],
               "dropped": BATCH * TOP_K - sum(len(m) for m in out["kept"])}
        history.append(row)
        if log and (step == 1 or step % 10 == 0):
            log(f"   step {step:>3}/{steps}  loss {ce.data:.3f}  balance {data(bal):.3f}  "
                f"shares {' '.join(f'{s:4.0%}' for s in row['share'])}  dropped {row['dropped']}")
    return {"router": W, "experts": experts, "embedding_seed": seed}, history


def data_grad(z):
    return z.grad if type(z) is Value else 0.0


def evaluate(model, names, k=TOP_K, capacity_factor=CAPACITY_FACTOR, batch=BATCH):
    """Held-out cross-entropy, share of assignments per expert, and routing by previous character."""
    E = make_embedding(model["embedding_seed"])
    fns = [lambda x, p=p: expert_forward(p, x) for p in model["experts"]]
    tokens = make_tokens(names)
    total, counts, by_char = 0.0, [0] * N_EXPERTS, {}
    for start in range(0, len(tokens), batch):
        chunk = tokens[start:start + batch]
        out = moe_layer([embed(E, c) for c, _ in chunk], model["router"], fns, k, capacity_factor)
        for (context, target), y, chosen in zip(chunk, out["outputs"], out["choices"]):
            total -= log_prob(y, target)
            for i in chosen:
                counts[i] += 1
            by_char.setdefault(context[1], [0] * N_EXPERTS)[chosen[0]] += 1
    return total / len(tokens), [c / sum(counts) for c in counts], by_char


# === CHECKPOINT (tests/data/micromoe/checkpoint.json) ===
#
#   python solutions/micromoe/micromoe.py --train-checkpoint tests/data/micromoe/checkpoint.json
# trains on data/names.txt only (a few seconds) and writes the router and the
# experts; a slow test checks that running it again reproduces the file.


def write_checkpoint(model, path):
    body = {
        "format": "micromoe-v1",
        "command": CHECKPOINT_COMMAND,
        "corpus": "data/names.txt minus every 10th name (index % 10 == 0, held out)",
        "vocab": VOCAB,
        "config": {"experts": N_EXPERTS, "k": TOP_K, "capacity_factor": CAPACITY_FACTOR, "embed": EMBED,
                   "hidden": HIDDEN, "steps": STEPS, "batch": BATCH, "alpha": ALPHA, "seed": SEED},
        "layout": "x = E[c1] + E[c2] (E: make_embedding(seed)); expert: h = tanh(W1 x + b1), out = W2 h + b2",
        "embedding": make_embedding(model["embedding_seed"]),
        "router": model["router"],
        "experts": model["experts"],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def load_checkpoint(path=CHECKPOINT):
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    return {"router": body["router"], "experts": body["experts"], "embedding_seed": body["config"]["seed"]}


# === DEMONSTRATION ===


def bar(value, scale=1.0, width=30):
    return "#" * max(0, min(width, round(value / scale * width)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH", help="train and write the JSON checkpoint to PATH")
    args = parser.parse_args(argv)
    random.seed(SEED)
    start = time.time()
    if args.train_checkpoint:
        model, _ = train(log=print)
        write_checkpoint(model, args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return
    _, held = split_held_out(load_names())
    print(f"1. Training {N_EXPERTS} experts, top-{TOP_K}, capacity factor {CAPACITY_FACTOR}, "
          f"balance weight alpha {ALPHA} ({STEPS} steps of {BATCH} tokens)")
    model, history = train(log=print)
    loss, shares, by_char = evaluate(model, held)
    print(f"\n2. Held-out: cross-entropy {loss:.3f} nats/char (uniform: {math.log(27):.3f})")
    print("   share of routing assignments per expert:")
    for i, s in enumerate(shares):
        print(f"   expert {i}  {s:6.1%} {bar(s, 0.5)}")

    print("\n3. Specialisation: which expert is each token's FIRST choice, by previous character")
    print("   prev   " + "  ".join(f"  e{i}" for i in range(N_EXPERTS)) + "   tokens")
    for c in sorted(by_char, key=lambda c: -sum(by_char[c]))[:12]:
        row = by_char[c]
        print(f"   {VOCAB[c]!r:<6} " + "  ".join(f"{r / sum(row):4.0%}" for r in row) + f"   {sum(row)}")
    groups = {"vowel": set("aeiouy"), "consonant": set("bcdfghjklmnpqrstvwxz"), "start": {"."}}
    print("   by group:")
    spread = []
    for label, chars in groups.items():
        row = [sum(by_char.get(VOCAB.index(ch), [0] * N_EXPERTS)[i] for ch in chars) for i in range(N_EXPERTS)]
        fractions = [r / max(1, sum(row)) for r in row]
        spread.append(fractions)
        print(f"   {label:<10}" + "  ".join(f"{f:4.0%}" for f in fractions))
    specialised = max(abs(a - b) for a, b in zip(spread[0], spread[1]))

    print(f"\n4. Without the balance loss (alpha 0), same seed and steps:")
    no_model, no_balance = train(alpha=0.0)
    _, no_shares, _ = evaluate(no_model, held)
    no_early = sum(h["balance"] for h in no_balance[:10]) / 10
    no_late = sum(h["balance"] for h in no_balance[-10:]) / 10
    print(f"   balance {no_early:.3f} -> {no_late:.3f}; held-out shares "
          f"{' '.join(f'{s:4.0%}' for s in no_shares)} (with alpha {ALPHA}: "
          f"{' '.join(f'{s:4.0%}' for s in shares)})")

    early = sum(h["balance"] for h in history[:10]) / 10
    late = sum(h["balance"] for h in history[-10:]) / 10
    print("\nSuccess criteria")
    checks = [
        (f"every expert gets > 10% of the assignments: min {min(shares):.1%}", min(shares) > 0.10),
        (f"the balance loss falls: {early:.3f} (first 10 steps) -> {late:.3f} (last 10), 1.0 is uniform",
         late < early),
        (f"specialisation: an expert's first-choice share differs by {specialised:.0%} between vowel and "
         f"consonant contexts", specialised > 0.2),
    ]
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")
    print(f"\n(total {time.time() - start:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
