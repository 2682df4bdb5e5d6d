"""
Speculative decoding in depth: how many tokens one target pass buys, how to
choose the draft window, and two ways to draft better than a separate small
model: a Medusa-style candidate TREE verified in one pass with a tree
attention mask, and an EAGLE-style draft that predicts the target's own
features instead of tokens.

microbeam showed the verify step: a draft q proposes tokens, the target p
accepts each with probability min(1, p(x)/q(x)) and resamples a rejection
from norm(max(0, p - q)), so the output is distributed exactly as p. This
kata goes further:

  * the numbers: with acceptance rate a and window g, one target pass yields
    (1 - a^(g+1)) / (1 - a) tokens on average (Leviathan et al.); a is
    estimated from the accepted counts; the best g depends on the draft's
    cost relative to the target's;
  * losslessness by EXACT enumeration: the distribution of one draft/verify
    round, summed over every possible draft, equals the target's;
  * Medusa: several candidates per position form a tree; one target pass
    over all its nodes, each node attending only to its ancestors, verifies
    every branch at once, and greedy tree decoding equals target greedy;
  * EAGLE: the draft runs autoregressively on the target's last hidden state
    (its "feature") and reuses the target's output head.

The target is microkv's tiny transformer (random weights, vocab 27, d 16,
4 layers); the demo's drafts are cheap views of it (its first layer only,
the "layer-skip" self-draft, and a least-squares EAGLE head).

References: Leviathan, Kalman, Matias, "Fast Inference from Transformers via
Speculative Decoding" (ICML 2023); Chen et al., "Accelerating Large Language
Model Decoding with Speculative Sampling" (2023); Cai et al., "Medusa: Simple
LLM Inference Acceleration Framework with Multiple Decoding Heads" (2024);
Li et al., "EAGLE: Speculative Sampling Requires Rethinking Feature
Uncertainty" (ICML 2024); Miao et al., "SpecInfer" (2024) for tree
attention.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

# === THE TINY MODEL (PROVIDED, AS IN microkv) ===
#
# The serving track's one model: microkv's GPT-style decoder with seeded
# random weights (vocab 27, d_model 16, 4 layers, 4 heads, d_ff 32):
#   x_0 = wte[token] + wpe[position]
#   per layer: q, k, v = W rmsnorm(x); x += Wo attention(q, cached k, v);
#              x += W2 relu(W1 rmsnorm(x))
#   logits = lm_head rmsnorm(x)
# Random weights are enough: every technique in this kata is an exact
# rewrite of the same arithmetic, so it must be exact for ANY weights.
# Ops counts multiplications as in microkv: weight_mults for every matvec,
# attention_mults for every score and weighted sum.

RMS_EPS = 1e-5


@dataclass(frozen=True)
class Config:
    """Model sizes. n_head must divide d_model; positions run 0 .. max_len-1."""

    vocab_size: int = 27
    d_model: int = 16
    n_layer: int = 4
    n_head: int = 4
    d_ff: int = 32
    max_len: int = 64


@dataclass
class Model:
    """Weights as lists of lists, every matrix (out x in); layers[l] has wq, wk, wv, wo, w1, w2."""

    config: Config
    wte: list
    wpe: list
    layers: list
    lm_head: list


def init_model(config: Config, seed: int = 42) -> Model:
    """A seeded random-weight model, exactly microkv's init_model."""
    for name in ("vocab_size", "d_model", "n_layer", "n_head", "d_ff", "max_len"):
        value = getattr(config, name)
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
    if config.d_model % config.n_head:
        raise ValueError(f"config.n_head = {config.n_head} must divide d_model = {config.d_model}")
    rng = random.Random(seed)

    def matrix(rows: int, cols: int, bound: float) -> list[list[float]]:
        return [[rng.uniform(-bound, bound) for _ in range(cols)] for _ in range(rows)]

    d, f = config.d_model, config.d_ff
    unit, wide, ff = math.sqrt(3.0 / d), 2.0 * math.sqrt(3.0 / d), math.sqrt(3.0 / f)
    wte = matrix(config.vocab_size, d, 1.0)
    wpe = matrix(config.max_len, d, 1.0)
    layers = [
        {"wq": matrix(d, d, wide), "wk": matrix(d, d, wide), "wv": matrix(d, d, unit),
         "wo": matrix(d, d, unit), "w1": matrix(f, d, unit), "w2": matrix(d, f, ff)}
        for _ in range(config.n_layer)
    ]
    return Model(config, wte, wpe, layers, matrix(config.vocab_size, d, wide))


class Ops:
    """The arithmetic every model helper uses, with its multiplications counted."""

    def __init__(self) -> None:
        self.weight_mults = 0
        self.attention_mults = 0

    @property
    def mults(self) -> int:
        return self.weight_mults + self.attention_mults

    def matvec(self, W: list[list[float]], x: list[float]) -> list[float]:
        self.weight_mults += len(W) * len(x)
        return [sum(w * xi for w, xi in zip(row, x)) for row in W]

    def dot(self, a: list[float], b: list[float]) -> float:
        self.attention_mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def weighted_sum(self, weights: list[float], rows: list[list[float]]) -> list[float]:
        self.attention_mults += len(weights) * len(rows[0])
        return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(len(rows[0]))]


def rmsnorm(x: list[float]) -> list[float]:
    scale = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + RMS_EPS)
    return [v * scale for v in x]


def softmax(scores: list[float]) -> list[float]:
    peak = max(scores)  # stable softmax: exp(s - max) <= 1 never overflows
    weights = [math.exp(s - peak) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def argmax(values: list[float]) -> int:
    """Index of the largest value; the LOWEST index wins a tie (greedy decoding)."""
    best = 0
    for index, value in enumerate(values):
        if value > values[best]:
            best = index
    return best


def attend(q: list[float], keys: list[list[float]], values: list[list[float]], n_head: int, ops: Ops) -> list[float]:
    """Multi-head attention of ONE query over the given (visible) keys and values."""
    hd = len(q) // n_head
    out: list[float] = []
    for h in range(n_head):
        lo, hi = h * hd, (h + 1) * hd
        scores = [ops.dot(q[lo:hi], k[lo:hi]) / math.sqrt(hd) for k in keys]
        out.extend(ops.weighted_sum(softmax(scores), [v[lo:hi] for v in values]))
    return out


def check_tokens(model: Model, tokens, name: str, start: int = 0) -> None:
    """Raise ValueError naming ``name`` unless tokens is a non-empty list of valid ids
    that fits at positions start .. start+len-1 < max_len."""
    config = model.config
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise ValueError(f"{name} must be a non-empty list of token ids, got {tokens!r}")
    for token in tokens:
        if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < config.vocab_size:
            raise ValueError(f"{name} holds {token!r}, not a token id in 0..{config.vocab_size - 1}")
    if start + len(tokens) > config.max_len:
        raise ValueError(f"{name} would occupy positions {start}..{start + len(tokens) - 1}, past max_len = {config.max_len}")


def forward_chunk(model: Model, tokens: list[int], keys: list, values: list, ops: Ops) -> list[list[float]]:
    """microkv's prefill on plain per-layer lists: feed tokens at positions len(keys[0]) onward.

    keys[layer] and values[layer] hold the cached vectors of positions
    0 .. start-1 (start = len(keys[0])); this APPENDS the chunk's k, v to
    them (the lists grow) and returns one row of logits per chunk token.
    Chunk token i attends to cached positions 0 .. start + i. Feeding a
    sequence in any chunks gives the same logits and the same cache as one
    chunk: causality makes it an exact rewrite.
    """
    config = model.config
    start = len(keys[0])
    check_tokens(model, tokens, "tokens", start=start)
    xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + i])] for i, token in enumerate(tokens)]
    for layer, w in enumerate(model.layers):
        hs = [rmsnorm(x) for x in xs]
        qs = [ops.matvec(w["wq"], h) for h in hs]
        for h in hs:
            keys[layer].append(ops.matvec(w["wk"], h))
            values[layer].append(ops.matvec(w["wv"], h))
        new_xs = []
        for i, (x, q) in enumerate(zip(xs, qs)):
            seen = start + i + 1  # causal: keys 0 .. start+i
            a = attend(q, keys[layer][:seen], values[layer][:seen], config.n_head, ops)
            x = [u + v for u, v in zip(x, ops.matvec(w["wo"], a))]
            hidden = [max(0.0, v) for v in ops.matvec(w["w1"], rmsnorm(x))]
            new_xs.append([u + v for u, v in zip(x, ops.matvec(w["w2"], hidden))])
        xs = new_xs
    return [ops.matvec(model.lm_head, rmsnorm(x)) for x in xs]


def empty_kv(model: Model) -> tuple[list, list]:
    """Fresh per-layer key and value lists (one new list per layer) for forward_chunk."""
    return [[] for _ in range(model.config.n_layer)], [[] for _ in range(model.config.n_layer)]


# === SAMPLING (PROVIDED) ===
#
# A MODEL in the speculative tasks is any callable prefix -> list of
# next-token PROBABILITIES (a distribution over the vocabulary). Drawing
# from a distribution is inverse-CDF sampling, as in microbeam.


def sample(probs: list[float], rng: random.Random) -> int:
    """Draw a token id with probability probs[id]; never a zero-probability id."""
    u = rng.random()
    cumulative, last = 0.0, 0
    for token, p in enumerate(probs):
        if p > 0:
            cumulative += p
            last = token
            if u < cumulative:
                return token
    return last


# === HOW MANY TOKENS PER TARGET PASS ===
#
# Model the acceptance of each draft token as an independent coin with
# probability a (exact when p and q do not depend on the context, a good
# approximation otherwise). A round drafts g tokens; the first rejection
# stops it, and the round always adds ONE token of its own (the residual
# resample, or the bonus token after g acceptances). So with k accepted
# (P(k) = a^k (1 - a) for k < g, P(g) = a^g) the round yields k + 1 tokens:
#   E[tokens per target pass] = 1 + a + a^2 + ... + a^g = (1 - a^(g+1)) / (1 - a).
# a -> 1 gives g + 1 (everything accepted); a = 0 gives 1 (plain decoding).


def expected_tokens_per_verify(alpha: float, gamma: int) -> float:
    """Expected tokens one draft/verify round yields: (1 - alpha^(gamma+1)) / (1 - alpha).

    alpha: the per-token acceptance probability, 0 <= alpha <= 1 (alpha = 1
    gives gamma + 1 exactly, no division by zero); gamma: draft tokens per
    round, an integer >= 1. Raises ValueError naming alpha or gamma when out
    of range.
    """
    # BEGIN SOLUTION
    if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if not isinstance(gamma, int) or isinstance(gamma, bool) or gamma < 1:
        raise ValueError(f"gamma must be an integer >= 1, got {gamma!r}")
    if alpha == 1.0:
        return float(gamma + 1)
    # The geometric series 1 + a + ... + a^g in closed form.
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)
    # END SOLUTION


# === ESTIMATING THE ACCEPTANCE RATE ===
#
# A server measures a from its own rounds. Naive "accepted / drafted" is
# biased low: drafts after the first rejection are never tested, yet count
# as drafted. The maximum-likelihood estimate under the coin model counts
# only the coins actually tossed: round i with k_i accepted tossed k_i
# successes, plus one failure if k_i < g. Likelihood a^A (1 - a)^R with
# A = sum k_i and R = #rounds with k_i < g, maximised at
#   a_hat = A / (A + R).


def estimate_acceptance(accepted_counts, gamma: int) -> float:
    """Maximum-likelihood acceptance rate from per-round accepted counts: A / (A + R).

    accepted_counts: accepted draft tokens per round, each an integer in
    0 .. gamma; A is their sum, R the number of rounds with fewer than gamma
    accepted (each ended with one rejected coin). Returns a float in [0, 1].
    Raises ValueError naming gamma unless an integer >= 1, and naming
    accepted_counts when it is empty or holds a count outside 0 .. gamma.
    """
    # BEGIN SOLUTION
    if not isinstance(gamma, int) or isinstance(gamma, bool) or gamma < 1:
        raise ValueError(f"gamma must be an integer >= 1, got {gamma!r}")
    if not accepted_counts:
        raise ValueError("accepted_counts must hold at least one round")
    for k in accepted_counts:
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= gamma:
            raise ValueError(f"accepted_counts holds {k!r}, not an integer in 0..{gamma}")
    accepted = sum(accepted_counts)
    rejected = sum(1 for k in accepted_counts if k < gamma)
    # A + R >= 1 always: a round either accepted something or was rejected.
    return accepted / (accepted + rejected)
    # END SOLUTION


# === CHOOSING THE WINDOW ===
#
# Drafting is not free. With c = (cost of one draft step) / (cost of one
# target pass), a round costs g c + 1 target passes and yields E(a, g)
# tokens, so the speed-up over plain decoding (1 token per target pass) is
#   S(g) = (1 - a^(g+1)) / ((1 - a)(g c + 1))          (Leviathan, Thm 3.8)
# E grows ever more slowly in g (each extra draft survives only with
# probability a^g), while the cost grows linearly: S has a best g, smaller
# for a worse draft or a costlier one. g = 0 means "do not speculate", S = 1.


def best_gamma(alpha: float, cost_ratio: float, max_gamma: int) -> tuple[int, float]:
    """Return (g, speed-up) maximising S(g) = E(alpha, g) / (g * cost_ratio + 1) over g = 0 .. max_gamma.

    S(0) = 1 (plain decoding). Ties go to the SMALLER g. alpha in [0, 1],
    cost_ratio >= 0 (not NaN), max_gamma an integer >= 0 (a bool is not);
    ValueError names the bad argument.
    """
    # BEGIN SOLUTION
    if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if isinstance(cost_ratio, bool) or not isinstance(cost_ratio, (int, float)) or not cost_ratio >= 0:
        raise ValueError(f"cost_ratio must be >= 0, got {cost_ratio!r}")
    if not isinstance(max_gamma, int) or isinstance(max_gamma, bool) or max_gamma < 0:
        raise ValueError(f"max_gamma must be an integer >= 0, got {max_gamma!r}")
    best = (0, 1.0)
    for g in range(1, max_gamma + 1):
        speedup = expected_tokens_per_verify(alpha, g) / (g * cost_ratio + 1.0)
        if speedup > best[1]:  # strict: a tie keeps the smaller window
            best = (g, speedup)
    return best
    # END SOLUTION


# === ONE VERIFY STEP, EXACTLY ===
#
# Given the drafts x_1..x_g (x_{i+1} drawn from q_i), the verify step is a
# chain of coins: x_{i+1} is accepted with a_i = min(1, p_i(x_{i+1}) /
# q_i(x_{i+1})). Its outcome is "k accepted, then one more token y":
#   k < g: probability a_0 ... a_{k-1} (1 - a_k), y ~ norm(max(0, p_k - q_k))
#   k = g: probability a_0 ... a_{g-1},           y ~ p_g   (the bonus token)
# Writing the outcome as a DISTRIBUTION (not a sample) is what lets a test
# sum over every possible draft and prove, to rounding error, that the
# round emits tokens distributed exactly as the target.


def verify_outcomes(draft_tokens, draft_probs, target_probs) -> list[tuple[float, list[float]]]:
    """The exact outcome distribution of verifying g drafts: g + 1 pairs (probability, next-token distribution).

    draft_tokens: x_1..x_g; draft_probs[i]: the distribution x_{i+1} was
    drawn from (q_i, with q_i[x_{i+1}] > 0); target_probs: g + 1 target
    distributions, target_probs[i] at the same position as draft_probs[i]
    and target_probs[g] after the last draft. Entry k (k = 0 .. g) is the
    probability that exactly k drafts are accepted, with the distribution of
    the token that follows them: the residual norm(max(0, p_k - q_k)) for
    k < g (p_k itself if that residual has zero mass), p_g for k = g.
    Probabilities sum to 1. Raises ValueError naming draft_probs unless it
    holds g distributions, and naming target_probs unless it holds g + 1.
    """
    # BEGIN SOLUTION
    g = len(draft_tokens)
    if len(draft_probs) != g:
        raise ValueError(f"draft_probs must hold one distribution per draft token ({g}), got {len(draft_probs)}")
    if len(target_probs) != g + 1:
        raise ValueError(f"target_probs must hold g + 1 = {g + 1} distributions, got {len(target_probs)}")
    outcomes = []
    survive = 1.0  # probability that drafts 1..i were all accepted
    for i, x in enumerate(draft_tokens):
        p, q = target_probs[i], draft_probs[i]
        accept = min(1.0, p[x] / q[x])
        excess = [max(0.0, pi - qi) for pi, qi in zip(p, q)]
        total = sum(excess)
        # The residual refills exactly the mass the draft under-proposed.
        residual = [e / total for e in excess] if total > 0 else list(p)
        outcomes.append((survive * (1.0 - accept), residual))
        survive *= accept
    outcomes.append((survive, list(target_probs[g])))
    return outcomes
    # END SOLUTION


# === THE DRAFT/VERIFY LOOP ===
#
# One round: the draft proposes g tokens autoregressively (g cheap calls),
# the target scores all g + 1 prefixes (ONE pass in a real transformer: the
# drafts go through it like a prompt chunk), and the verify outcome decides
# how many drafts stay plus one token of the target's. The target's KV cache
# is then rolled back past the rejected drafts (a truncation: positions are
# append-only). Signpost: vLLM and TensorRT-LLM batch this across requests
# and adapt g online from the measured acceptance.


def speculative_step(target, draft, prefix, gamma: int, rng: random.Random) -> tuple[list[int], int]:
    """One draft/verify round: return (new tokens, number of drafts accepted).

    target, draft: callables prefix -> next-token probabilities. Draft
    x_1..x_gamma with sample() from draft(prefix + drafts so far); evaluate
    target on prefix + x_1..x_i for i = 0 .. gamma; then draw the outcome
    with exactly the probabilities of verify_outcomes (e.g. accept x_{i+1}
    when rng.random() < min(1, p/q), else resample from the residual).
    New tokens = the k accepted drafts followed by one more token (k + 1 in
    all). Uses only rng for randomness, so equal seeds give equal results.
    Raises ValueError naming gamma unless an integer >= 1.
    """
    # BEGIN SOLUTION
    if not isinstance(gamma, int) or isinstance(gamma, bool) or gamma < 1:
        raise ValueError(f"gamma must be an integer >= 1, got {gamma!r}")
    prefix = list(prefix)
    drafted, draft_dists = [], []
    for _ in range(gamma):
        q = draft(prefix + drafted)
        drafted.append(sample(q, rng))
        draft_dists.append(q)
    target_dists = [target(prefix + drafted[:i]) for i in range(gamma + 1)]
    for i, x in enumerate(drafted):
        p, q = target_dists[i], draft_dists[i]
        if rng.random() < min(1.0, p[x] / q[x]):
            continue
        excess = [max(0.0, pi - qi) for pi, qi in zip(p, q)]
        total = sum(excess)
        residual = [e / total for e in excess] if total > 0 else p
        return drafted[:i] + [sample(residual, rng)], i
    # Every draft accepted: the target's distribution after the last draft
    # came with the same pass, so the bonus token is free.
    return drafted + [sample(target_dists[gamma], rng)], gamma
    # END SOLUTION


def speculative_generate(target, draft, prompt, num_rounds: int, gamma: int, rng: random.Random):
    """Run num_rounds speculative_step rounds from prompt; return (new tokens, accepted count per round).

    Each round continues from prompt + all tokens generated so far. The
    measured tokens per verify is len(tokens) / num_rounds. Raises
    ValueError naming num_rounds unless an integer >= 1 (gamma as
    speculative_step).
    """
    # BEGIN SOLUTION
    if not isinstance(num_rounds, int) or isinstance(num_rounds, bool) or num_rounds < 1:
        raise ValueError(f"num_rounds must be an integer >= 1, got {num_rounds!r}")
    tokens: list[int] = []
    accepted: list[int] = []
    for _ in range(num_rounds):
        new, k = speculative_step(target, draft, list(prompt) + tokens, gamma, rng)
        tokens.extend(new)
        accepted.append(k)
    return tokens, accepted
    # END SOLUTION


# === MEDUSA: A TREE OF CANDIDATES ===
#
# Medusa adds K small heads to the target. From the hidden state of the
# last position t, the target's own LM head predicts position t + 1 and
# Medusa head k (k = 1..K) predicts position t + k + 1; each head offers its
# top few candidates. Instead of one draft sequence, combine them into a
# tree: a node at depth k is a path (i_0, ..., i_{k-1}) meaning "candidate
# i_0 for the first drafted position, then candidate i_1 for the next, ...".
# Medusa ships a fixed list of such paths (its "medusa choices"), chosen
# offline for high acceptance.
#   nodes: one per path, in the order the paths are given;
#   parent of (i_0..i_{k-1}) is the node of (i_0..i_{k-2}); a depth-1 node's
#   parent is the ROOT: -1.
# How this kata's indexing maps onto Medusa's: in Medusa the ROOT is the
# base LM head's token for t + 1 (its argmax under greedy decoding: already
# the target's choice, so it needs no verification), and depth k holds
# Medusa head k's candidates for t + k + 1. Here the root is the last
# accepted token and head_candidates[0] already offers several candidates
# for t + 1, so head_candidates[h] is for position t + h + 1: Medusa head k
# is this kata's head_candidates[k] with the base token as the root of its
# subtree. The tree algebra (parents, mask, greedy acceptance) is the same.
# All nodes are scored by the target in ONE pass. Node i sits at position
# prefix_len + depth(i) - 1 and must see the prefix and its own ancestors,
# never a sibling's branch: that is the tree attention mask.


def build_tree(head_candidates, paths) -> tuple[list[int], list[int]]:
    """Turn Medusa candidates and a list of paths into tree nodes: (tokens, parents).

    head_candidates[h]: head h's candidate token ids, best first. paths: a
    list of tuples of candidate indices; path (i_0, ..., i_{k-1}) is a node
    at depth k whose token is head_candidates[k-1][i_{k-1}]. Node order is
    the order of paths; parents[n] is the index of the node of path[:-1], or
    -1 for depth 1. Raises ValueError naming paths when a path is empty, a
    duplicate, deeper than the number of heads, ends in an index outside
    0 .. len(head_candidates[k-1]) - 1, or appears before (or without) its
    parent path.
    """
    # BEGIN SOLUTION
    index: dict[tuple, int] = {}
    tokens, parents = [], []
    for path in paths:
        path = tuple(path)
        if not path or path in index:
            raise ValueError(f"paths holds {path!r}: paths must be non-empty and distinct")
        depth = len(path)
        if depth > len(head_candidates) or not 0 <= path[-1] < len(head_candidates[depth - 1]):
            raise ValueError(f"paths holds {path!r}, which has no candidate in head_candidates")
        if depth > 1 and path[:-1] not in index:
            raise ValueError(f"paths holds {path!r} before its parent {path[:-1]!r}")
        # Only the LAST index picks this node's token; the earlier ones are
        # the route through its ancestors.
        tokens.append(head_candidates[depth - 1][path[-1]])
        parents.append(index[path[:-1]] if depth > 1 else -1)
        index[path] = len(tokens) - 1
    return tokens, parents
    # END SOLUTION


def tree_attention_mask(parents) -> list[list[bool]]:
    """mask[i][j] is True exactly when node j is node i itself or one of its ancestors.

    parents: as from build_tree (-1 = child of the root); every parent
    index must be smaller than the node's own. Returns an n x n list of
    bools (lower triangular). Raises ValueError naming parents when a parent
    is not in -1 .. i-1.
    """
    # BEGIN SOLUTION
    n = len(parents)
    mask = [[False] * n for _ in range(n)]
    for i, parent in enumerate(parents):
        if not isinstance(parent, int) or isinstance(parent, bool) or not -1 <= parent < i:
            raise ValueError(f"parents[{i}] = {parent!r}: a parent must be an earlier node or -1")
        mask[i][i] = True
        if parent >= 0:
            # The parent's row already lists the parent and all ITS ancestors.
            for j in range(parent + 1):
                mask[i][j] = mask[parent][j]
    return mask
    # END SOLUTION


def tree_forward(model: Model, keys, values, tokens, parents, ops: Ops) -> list[list[float]]:
    """Score every tree node in one pass with the tree mask; return one logits row per node.

    keys, values: the prefix's per-layer KV lists (prefix_len = len(keys[0])
    >= 1 positions), NOT modified. Node i (token tokens[i]) sits at position
    prefix_len + depth(i) - 1 (depth 1 = child of the root). At every layer
    it is projected like any position (rmsnorm, Wq/Wk/Wv via ops.matvec) and
    attends (provided attend) to the prefix keys followed by the keys of the
    nodes j with mask[i][j] in index order, then Wo and the MLP; logits =
    lm_head rmsnorm(x). Row i must equal the logits of running prefix +
    the path to node i through the model. Raises ValueError naming parents
    (as tree_attention_mask), tokens (bad ids, a length other than
    len(parents), or a node past max_len) or keys (an empty prefix).
    """
    # BEGIN SOLUTION
    mask = tree_attention_mask(parents)
    if len(tokens) != len(parents):
        raise ValueError(f"tokens has {len(tokens)} entries for {len(parents)} parents")
    if not keys or not keys[0]:
        raise ValueError("keys must hold the prefix's cache (at least one position)")
    start = len(keys[0])
    depth = []
    for parent in parents:
        depth.append(1 if parent < 0 else depth[parent] + 1)
    for token, d in zip(tokens, depth):
        check_tokens(model, [token], "tokens", start=start + d - 1)
    xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + d - 1])] for token, d in zip(tokens, depth)]
    for layer, w in enumerate(model.layers):
        hs = [rmsnorm(x) for x in xs]
        qs = [ops.matvec(w["wq"], h) for h in hs]
        ks = [ops.matvec(w["wk"], h) for h in hs]
        vs = [ops.matvec(w["wv"], h) for h in hs]
        new_xs = []
        for i, (x, q) in enumerate(zip(xs, qs)):
            # The mask row is the whole trick: siblings and cousins sit in the
            # same pass but are invisible, so each node sees exactly its path.
            seen = [j for j in range(len(tokens)) if mask[i][j]]
            a = attend(q, keys[layer] + [ks[j] for j in seen], values[layer] + [vs[j] for j in seen],
                       model.config.n_head, ops)
            x = [u + v for u, v in zip(x, ops.matvec(w["wo"], a))]
            hidden = [max(0.0, v) for v in ops.matvec(w["w1"], rmsnorm(x))]
            new_xs.append([u + v for u, v in zip(x, ops.matvec(w["w2"], hidden))])
        xs = new_xs
    return [ops.matvec(model.lm_head, rmsnorm(x)) for x in xs]
    # END SOLUTION


# === GREEDY TREE VERIFICATION ===
#
# Greedy acceptance on a tree: from the root, the target's choice is the
# argmax of the root logits; if one of the root's children carries that
# token, accept it and continue from that child, else stop. The target's
# choice at the node where the walk stops is one more free token (the
# "bonus"). Every accepted token is exactly what greedy decoding would have
# produced, so the output equals target greedy whatever the candidates are;
# good candidates only make the accepted path longer.
# Signpost: Medusa also has a sampling mode ("typical acceptance") that is
# NOT lossless; EAGLE-2 and SpecInfer verify trees losslessly by sampling
# with a multi-branch version of the residual rule.


def tree_greedy_step(root_logits, node_logits, tokens, parents) -> list[int]:
    """Walk the tree greedily; return the accepted tokens followed by the target's next token.

    root_logits: the target's logits after the prefix; node_logits[i]: after
    the path to node i (tree_forward). From the root, let t = argmax of the
    current logits (lowest id on ties); if a child of the current node has
    token t, accept it (the FIRST such child in node order) and move to it;
    otherwise append t and stop. Also stop (after appending t) at a leaf.
    Returns a new list of 1 .. depth + 1 tokens. Raises ValueError naming
    node_logits unless it holds one row per node, and naming parents as
    tree_attention_mask.
    """
    # BEGIN SOLUTION
    tree_attention_mask(parents)  # validates parents
    if len(node_logits) != len(parents) or len(tokens) != len(parents):
        raise ValueError(f"node_logits must hold one row per node ({len(parents)}), got {len(node_logits)}")
    out: list[int] = []
    current, logits = -1, root_logits
    while True:
        want = argmax(logits)
        out.append(want)
        child = next((c for c, parent in enumerate(parents) if parent == current and tokens[c] == want), None)
        if child is None:
            return out  # 'want' is the bonus token: it came from this node's logits
        current, logits = child, node_logits[child]
    # END SOLUTION


# === EAGLE: DRAFTING IN FEATURE SPACE ===
#
# The target's last hidden state ("feature") f_t already knows most of what
# comes next; its lm_head turns it into logits. EAGLE's draft is one small
# layer that predicts the NEXT feature from the current feature and the
# embedding of the token just chosen:
#   f_{t+1} ~ fc [f_t ; e(x_{t+1})]       (here: one linear map, d x 2d)
#   x_{t+2}  = argmax lm_head rmsnorm(f_{t+1})   (the target's own head)
# and repeats on its own predictions. Features are less random than tokens,
# so a feature-level draft beats a token-level draft of the same size; the
# first step starts from the target's TRUE feature, so errors only build up
# within a round. Signpost: EAGLE's draft layer is a full transformer
# decoder layer trained on the target's features; EAGLE-2 grows the draft
# tree dynamically from the draft's confidence.


def eagle_draft(fc, embedding, lm_head, feature, token, gamma: int) -> list[int]:
    """Draft gamma tokens autoregressively at the feature level; return them.

    fc: d x 2d matrix (list of d rows); embedding: vocab x d (the target's
    wte); lm_head: vocab x d; feature: the target's final hidden state f_t
    (d floats, before the final rmsnorm); token: x_{t+1}, the token chosen
    after it. Repeat gamma times: f = fc [f ; embedding[token]] (concatenate,
    then matrix-vector), token = argmax(lm_head rmsnorm(f)) (lowest id on
    ties), record the token. Raises ValueError naming gamma unless an integer
    >= 1, naming fc unless its rows have 2 * len(feature) entries, and
    naming token unless it indexes embedding.
    """
    # BEGIN SOLUTION
    if not isinstance(gamma, int) or isinstance(gamma, bool) or gamma < 1:
        raise ValueError(f"gamma must be an integer >= 1, got {gamma!r}")
    if any(len(row) != 2 * len(feature) for row in fc):
        raise ValueError(f"fc rows must have 2 * d = {2 * len(feature)} entries")
    if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < len(embedding):
        raise ValueError(f"token must index embedding (0..{len(embedding) - 1}), got {token!r}")
    drafts = []
    f = list(feature)
    for _ in range(gamma):
        joined = f + list(embedding[token])
        f = [sum(w * v for w, v in zip(row, joined)) for row in fc]
        token = argmax([sum(w * v for w, v in zip(row, rmsnorm(f))) for row in lm_head])
        drafts.append(token)
    return drafts
    # END SOLUTION


# === DEMONSTRATION ===
#
# The tiny target behind the callables: an incremental KV cache that rolls
# back by truncation (positions are append-only, so the cache of a shorter
# prefix is a prefix of the cache), exactly what a serving engine does after
# rejected drafts. A "layer-skip" self-draft runs only the target's first
# layer and its output head (LayerSkip / Draft & Verify).


def hidden_chunk(model: Model, tokens, keys, values, n_layers: int, ops: Ops) -> list[list[float]]:
    """forward_chunk through the first n_layers only; return the final hidden states (pre-norm)."""
    start = len(keys[0])
    xs = [[t + p for t, p in zip(model.wte[token], model.wpe[start + i])] for i, token in enumerate(tokens)]
    for layer in range(n_layers):
        w = model.layers[layer]
        hs = [rmsnorm(x) for x in xs]
        qs = [ops.matvec(w["wq"], h) for h in hs]
        for h in hs:
            keys[layer].append(ops.matvec(w["wk"], h))
            values[layer].append(ops.matvec(w["wv"], h))
        new_xs = []
        for i, (x, q) in enumerate(zip(xs, qs)):
            a = attend(q, keys[layer][: start + i + 1], values[layer][: start + i + 1], model.config.n_head, ops)
            x = [u + v for u, v in zip(x, ops.matvec(w["wo"], a))]
            hidden = [max(0.0, v) for v in ops.matvec(w["w1"], rmsnorm(x))]
            new_xs.append([u + v for u, v in zip(x, ops.matvec(w["w2"], hidden))])
        xs = new_xs
    return xs


class IncrementalModel:
    """prefix -> probabilities, with a KV cache that follows the prefix and truncates on rollback."""

    def __init__(self, model: Model, n_layers: int | None = None, greedy: bool = False) -> None:
        self.model, self.greedy = model, greedy
        self.n_layers = n_layers or model.config.n_layer
        self.tokens: list[int] = []
        self.keys = [[] for _ in range(model.config.n_layer)]
        self.values = [[] for _ in range(model.config.n_layer)]
        self.feats: list[list[float]] = []
        self.rows: list[list[float]] = []
        self.ops = Ops()
        self.positions = 0  # positions pushed through the network (work)

    def sync(self, prefix) -> None:
        common = 0
        while common < min(len(prefix), len(self.tokens)) and prefix[common] == self.tokens[common]:
            common += 1
        for store in (*self.keys, *self.values):
            del store[common:]
        del self.feats[common:], self.rows[common:], self.tokens[common:]
        if common < len(prefix):
            new = list(prefix[common:])
            xs = hidden_chunk(self.model, new, self.keys, self.values, self.n_layers, self.ops)
            self.feats.extend(xs)
            self.rows.extend(self.ops.matvec(self.model.lm_head, rmsnorm(x)) for x in xs)
            self.tokens.extend(new)
            self.positions += len(new)

    def logits(self, prefix) -> list[float]:
        self.sync(prefix)
        return self.rows[len(prefix) - 1]

    def feature(self, prefix) -> list[float]:
        self.sync(prefix)
        return self.feats[len(prefix) - 1]

    def __call__(self, prefix) -> list[float]:
        logits = self.logits(prefix)
        if self.greedy:
            one_hot = [0.0] * len(logits)
            one_hot[argmax(logits)] = 1.0
            return one_hot
        return softmax(logits)


def table_model(table: dict, vocab: int):
    """A model from a table: the next-token distribution depends on the last token only (-1 = empty)."""
    return lambda prefix: table[prefix[-1] if prefix else -1]


def random_distribution(rng: random.Random, vocab: int, sharpness: float = 1.0) -> list[float]:
    weights = [rng.random() ** sharpness for _ in range(vocab)]
    total = sum(weights)
    return [w / total for w in weights]


def exact_round_error(rng: random.Random, vocab: int, gamma: int) -> float:
    """Max |P(first gamma+1 tokens) - target| after one exact round completed by target sampling."""
    p_table = {c: random_distribution(rng, vocab, 2.0) for c in range(-1, vocab)}
    q_table = {c: random_distribution(rng, vocab, 2.0) for c in range(-1, vocab)}
    horizon = gamma + 1

    def target_joint(seq):
        prob, prev = 1.0, -1
        for t in seq:
            prob *= p_table[prev][t]
            prev = t
        return prob

    got: dict[tuple, float] = {}
    drafts = [[]]
    for _ in range(gamma):
        drafts = [d + [x] for d in drafts for x in range(vocab)]
    for d in drafts:
        q_prob, prev, qs = 1.0, -1, []
        for x in d:
            qs.append(q_table[prev])
            q_prob *= q_table[prev][x]
            prev = x
        ps = [p_table[([-1] + d)[i]] for i in range(gamma + 1)]
        for k, (prob, nxt) in enumerate(verify_outcomes(d, qs, ps)):
            for y, py in enumerate(nxt):
                emitted = tuple(d[:k]) + (y,)
                mass = q_prob * prob * py
                if mass == 0.0:
                    continue
                # Complete to the horizon with the target itself.
                stack = [(emitted, mass)]
                while stack:
                    seq, m = stack.pop()
                    if len(seq) >= horizon:
                        got[seq[:horizon]] = got.get(seq[:horizon], 0.0) + m
                        continue
                    for z, pz in enumerate(p_table[seq[-1]]):
                        stack.append((seq + (z,), m * pz))
    worst = 0.0
    seqs = [()]
    for _ in range(horizon):
        seqs = [s + (z,) for s in seqs for z in range(vocab)]
    for s in seqs:
        worst = max(worst, abs(got.get(s, 0.0) - target_joint(s)))
    return worst


def demo_formulas() -> None:
    print("1. Tokens per target pass E = (1 - a^(g+1)) / (1 - a), and the best window g")
    print("   " + " " * 8 + "".join(f"g={g:<6}" for g in range(1, 9)))
    for a in (0.5, 0.7, 0.8, 0.9):
        print(f"   a={a:<5} " + "".join(f"{expected_tokens_per_verify(a, g):<8.2f}" for g in range(1, 9)))
    print(f"\n   {'a':>5} {'c = draft/target cost':>22} {'best g':>7} {'speed-up':>9}")
    for a in (0.6, 0.8, 0.9):
        for c in (0.02, 0.1, 0.3):
            g, s = best_gamma(a, c, 16)
            print(f"   {a:>5} {c:>22} {g:>7} {s:>8.2f}x")
    print("   a better draft wants a longer window; a costlier draft a shorter one\n")


def demo_exact(rng: random.Random) -> None:
    print("2. Lossless, by exact enumeration (every draft, every verify outcome; context-dependent tables)")
    for vocab, gamma in ((2, 1), (3, 2), (3, 3), (4, 2)):
        err = exact_round_error(rng, vocab, gamma)
        assert err < 1e-12
        print(f"   vocab {vocab}, g = {gamma}: max |P_spec(first {gamma + 1} tokens) - P_target| = {err:.1e}")
    print()


def demo_measured(rng: random.Random) -> None:
    print("3. Measured tokens per verify vs the closed form (context-free p, q: the coin model is exact)")
    print(f"   {'a':>6} {'g':>2} {'rounds':>6} {'measured':>9} {'closed form':>11} {'4-sigma interval':>18} "
          f"{'a_hat (MLE)':>11} {'accepted/drafted':>16}")
    for p, q, gamma in (([0.5, 0.3, 0.2, 0.0], [0.25] * 4, 3), ([0.6, 0.4], [0.5, 0.5], 5),
                        ([0.1, 0.2, 0.7], [0.5, 0.3, 0.2], 2)):
        alpha = sum(min(a, b) for a, b in zip(p, q))
        rounds = 4000
        tokens, accepted = speculative_generate(lambda s: p, lambda s: q, [0], rounds, gamma, rng)
        mean = expected_tokens_per_verify(alpha, gamma)
        probs = [alpha ** k * (1 - alpha) for k in range(gamma)] + [alpha ** gamma]
        var = sum(pk * (k + 1 - mean) ** 2 for k, pk in enumerate(probs))
        half = 4 * math.sqrt(var / rounds)
        measured = len(tokens) / rounds
        assert abs(measured - mean) <= half
        print(f"   {alpha:>6.3f} {gamma:>2} {rounds:>6} {measured:>9.3f} {mean:>11.3f} "
              f"{f'[{mean - half:.3f}, {mean + half:.3f}]':>18} {estimate_acceptance(accepted, gamma):>11.3f} "
              f"{sum(accepted) / (rounds * gamma):>16.3f}")
    print("   accepted/drafted is biased low (drafts after a rejection are never tested); the MLE is not\n")


def demo_transformer(model: Model, rng: random.Random) -> None:
    print("4. The tiny transformer (target, 4 layers) with a layer-skip draft (its first layer + head)")
    print(f"   {'g':>2} {'rounds':>6} {'tokens':>6} {'a_hat':>6} {'tokens/verify':>13} {'E(a_hat, g)':>11} "
          f"{'target positions':>16}")
    for gamma in (2, 4):
        target, draft = IncrementalModel(model), IncrementalModel(model, n_layers=1)
        accepted_all, produced, rounds = [], 0, 0
        for start in range(6):
            prompt = [rng.randrange(27) for _ in range(3)]
            tokens, accepted = speculative_generate(target, draft, prompt, 8, gamma, rng)
            accepted_all += accepted
            produced += len(tokens)
            rounds += len(accepted)
        a_hat = estimate_acceptance(accepted_all, gamma)
        print(f"   {gamma:>2} {rounds:>6} {produced:>6} {a_hat:>6.3f} {produced / rounds:>13.3f} "
              f"{expected_tokens_per_verify(a_hat, gamma):>11.3f} {target.positions:>16}")
    print("   (a real context changes a from token to token, so the coin model is only approximate here)")
    target, draft = IncrementalModel(model, greedy=True), IncrementalModel(model, n_layers=1, greedy=True)
    prompt = [rng.randrange(27) for _ in range(3)]
    spec, _ = speculative_generate(target, draft, prompt, 10, 3, rng)
    plain = IncrementalModel(model)
    greedy = []
    for _ in range(len(spec)):
        greedy.append(argmax(plain.logits(prompt + greedy)))
    print(f"   greedy speculative ({len(spec)} tokens) == target greedy: {spec == greedy}\n")


def medusa_candidates(draft: IncrementalModel, prefix: list[int], heads: int, top: int) -> list[list[int]]:
    """Stand-in heads: the layer-skip draft's top candidates along its own greedy path.

    out[h] holds candidates for position len(prefix) + h (h = 0 is the next
    token, which Medusa would take from the target's own LM head as the root).
    """
    out, path = [], list(prefix)
    for _ in range(heads):
        logits = draft.logits(path)
        ranked = sorted(range(len(logits)), key=lambda t: -logits[t])
        out.append(ranked[:top])
        path.append(ranked[0])
    return out


CHOICES = [(0,), (1,), (2,), (0, 0), (0, 1), (1, 0), (2, 0), (0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 0, 0, 0)]


def demo_medusa(model: Model, rng: random.Random) -> None:
    tokens, parents = build_tree([[10, 11, 12], [20, 21], [30, 31], [40]], CHOICES)
    mask = tree_attention_mask(parents)
    print(f"5. Medusa-style tree: {len(CHOICES)} nodes from paths {CHOICES[:5]}...; the tree attention mask")
    for i, row in enumerate(mask):
        print(f"   node {i:>2} {str(CHOICES[i]):<13} token {tokens[i]:>2}  " + "".join("x" if m else "." for m in row))
    target, draft = IncrementalModel(model), IncrementalModel(model, n_layers=1)
    prompt = [rng.randrange(27) for _ in range(4)]
    out, passes, accepted_depth = [], 0, []
    while len(out) < 40:
        prefix = prompt + out
        heads = medusa_candidates(draft, prefix, 4, 3)
        node_tokens, node_parents = build_tree(heads, CHOICES)
        target.sync(prefix)
        node_logits = tree_forward(model, target.keys, target.values, node_tokens, node_parents, Ops())
        new = tree_greedy_step(target.rows[-1], node_logits, node_tokens, node_parents)
        passes += 1
        accepted_depth.append(len(new) - 1)
        out += new
    plain = IncrementalModel(model)
    greedy = []
    for _ in range(len(out)):
        greedy.append(argmax(plain.logits(prompt + greedy)))
    print(f"   {len(out)} tokens in {passes} tree passes ({len(out) / passes:.2f} tokens per target pass); "
          f"accepted depth per pass {accepted_depth}")
    print(f"   greedy tree decoding == target greedy: {out == greedy}\n")


def solve(A: list[list[float]], B: list[list[float]]) -> list[list[float]]:
    """Solve A X = B (A square) by Gaussian elimination with partial pivoting."""
    n, m = len(A), len(B[0])
    M = [list(A[i]) + list(B[i]) for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(M[r][col]))
        M[col], M[pivot] = M[pivot], M[col]
        for r in range(n):
            if r != col and M[r][col]:
                factor = M[r][col] / M[col][col]
                M[r] = [a - factor * b for a, b in zip(M[r], M[col])]
    return [[M[i][n + j] / M[i][i] for j in range(m)] for i in range(n)]


def fit_eagle(model: Model, rng: random.Random, sequences: int, length: int, ridge: float = 1e-3):
    """Least-squares fc: f_{t+1} ~ fc [f_t ; e(x_{t+1})] on features of sampled target text."""
    target = IncrementalModel(model)
    d = model.config.d_model
    xtx = [[0.0] * (2 * d) for _ in range(2 * d)]
    xty = [[0.0] * d for _ in range(2 * d)]
    for _ in range(sequences):
        seq = [rng.randrange(27)]
        while len(seq) < length:
            seq.append(sample(target(seq), rng))
        target.sync(seq)
        for t in range(len(seq) - 1):
            x = target.feats[t] + model.wte[seq[t + 1]]
            y = target.feats[t + 1]
            for i in range(2 * d):
                xi = x[i]
                row = xtx[i]
                for j in range(2 * d):
                    row[j] += xi * x[j]
                yrow = xty[i]
                for j in range(d):
                    yrow[j] += xi * y[j]
    for i in range(2 * d):
        xtx[i][i] += ridge
    w_t = solve(xtx, xty)  # 2d x d
    return [[w_t[i][j] for i in range(2 * d)] for j in range(d)]


def greedy_spec_rounds(model: Model, prompt, rounds: int, gamma: int, propose) -> tuple[list[int], list[int]]:
    """Greedy speculative decoding where propose(target, sequence) gives gamma drafts after sequence."""
    target = IncrementalModel(model)
    seq = list(prompt) + [argmax(target.logits(prompt))]
    accepted_counts = []
    for _ in range(rounds):
        drafts = propose(target, seq)
        k = 0
        while k < gamma and argmax(target.logits(seq + drafts[:k])) == drafts[k]:
            k += 1
        bonus = argmax(target.logits(seq + drafts[:k]))
        seq += drafts[:k] + [bonus]
        accepted_counts.append(k)
    return seq[len(prompt):], accepted_counts


def demo_eagle(model: Model, rng: random.Random) -> None:
    started = time.perf_counter()
    fc = fit_eagle(model, rng, sequences=16, length=48)
    print(f"6. EAGLE-style feature draft: one linear layer fc (16 x 32) fitted by least squares on the target's")
    print(f"   features of 16 sampled sequences ({time.perf_counter() - started:.1f} s); greedy, g = 3, 6 prompts x 6 rounds")
    skip = IncrementalModel(model, n_layers=1)
    gamma = 3

    def eagle(target: IncrementalModel, seq):
        return eagle_draft(fc, model.wte, model.lm_head, target.feature(seq[:-1]), seq[-1], gamma)

    def layer_skip(target: IncrementalModel, seq):
        drafts = []
        for _ in range(gamma):
            drafts.append(argmax(skip.logits(seq + drafts)))
        return drafts

    print(f"   {'draft':<22} {'a_hat':>6} {'tokens/verify':>13}")
    prompts = [[rng.randrange(27) for _ in range(3)] for _ in range(6)]
    for name, propose in (("layer-skip tokens", layer_skip), ("EAGLE features", eagle)):
        counts, produced = [], 0
        for prompt in prompts:
            tokens, accepted = greedy_spec_rounds(model, prompt, 6, gamma, propose)
            counts += accepted
            produced += sum(accepted) + len(accepted)
        print(f"   {name:<22} {estimate_acceptance(counts, gamma):>6.3f} {produced / len(counts):>13.3f}")
    print("   (random weights: the numbers show the method, not EAGLE's published 3x on trained LLMs)\n")


if __name__ == "__main__":
    started = time.perf_counter()
    random.seed(42)
    rng = random.Random(42)
    model = init_model(Config(), seed=42)
    demo_formulas()
    demo_exact(rng)
    demo_measured(rng)
    demo_transformer(model, rng)
    demo_medusa(model, rng)
    demo_eagle(model, rng)
    print("Speculation never changes the output distribution; it only changes how many tokens each\n"
          f"pass of the big model buys. (demo {time.perf_counter() - started:.1f} s)")
