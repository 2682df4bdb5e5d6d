"""
The KV cache, counted: why autoregressive decoding without a cache redoes
almost all of its work every step, and how an append-only store of each
layer's keys and values turns that into a constant amount of weight work per
new token, at the price of memory that grows with every position.

A decoder-only transformer is causal: the key and value vectors of position j
depend only on tokens 0..j. Once computed, they never change. Decoding
without a cache throws them away and rebuilds them for the whole prefix each
time one token is added; decoding with a cache computes them once, stores
them, and feeds only the newest token through the network.

This file runs both on the same tiny transformer, proves they produce the
same logits and the same greedy tokens, counts every scalar multiplication
each one performs, and measures the floats the cache holds.

The model's weights are seeded random numbers, not trained ones. That is on
purpose: caching is an exact rewrite of the same arithmetic, so it is correct
for ANY weights. No training is needed to test it, and none is done.

Reference: Pope et al., "Efficiently Scaling Transformer Inference" (2022),
which analyses the KV cache's memory cost and the prefill/decode split; the
cache itself goes back to incremental decoding in the original Transformer
implementations (Vaswani et al., 2017).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Kata skeleton generated from solutions/microkv/microkv.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microkv`; stuck? `python -m workbook hint microkv`.
from workbook import KataTodo

# === THE MODEL (PROVIDED) ===
#
# A GPT-style decoder, as small as it can be while keeping every part that
# matters for caching:
#   x_0     = wte[token] + wpe[position]                 (token + position embedding)
#   per layer:
#     h     = rmsnorm(x)
#     q,k,v = Wq h, Wk h, Wv h                            (d x d each)
#     a     = multi-head causal attention of q over the keys/values of
#             positions 0..t (t = this position)
#     x     = x + Wo a
#     x     = x + W2 relu(W1 rmsnorm(x))                  (d -> d_ff -> d)
#   logits  = lm_head rmsnorm(x)                          (vocab x d)
# RMSNorm has no learned gain here: rmsnorm(x) = x / sqrt(mean(x^2) + 1e-5).
#
# Everything in this section is provided. The kata is about *orchestration*:
# which positions go through these helpers, in which order, and what is kept
# between steps.

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
    """Weights as lists of lists. Every matrix is (out x in): y = W x.

    wte: vocab_size x d_model; wpe: max_len x d_model; layers[l] is a dict
    with "wq", "wk", "wv", "wo" (d x d), "w1" (d_ff x d) and "w2" (d x d_ff);
    lm_head: vocab_size x d_model.
    """

    config: Config
    wte: list
    wpe: list
    layers: list
    lm_head: list


def init_model(config: Config, seed: int = 42) -> Model:
    """A seeded random-weight model (uniform entries); no training needed for caching."""
    for name in ("vocab_size", "d_model", "n_layer", "n_head", "d_ff", "max_len"):
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
    if config.d_model % config.n_head:
        raise ValueError(f"config.n_head = {config.n_head} must divide d_model = {config.d_model}")
    rng = random.Random(seed)

    def matrix(rows: int, cols: int, bound: float) -> list[list[float]]:
        return [[rng.uniform(-bound, bound) for _ in range(cols)] for _ in range(rows)]

    d, f = config.d_model, config.d_ff
    # Uniform(-a, a) has variance a^2/3, so a = sqrt(3 / fan_in) keeps
    # activations ~1. Queries, keys and the output head get twice that, so
    # attention is peaked and greedy tokens differ from step to step: a
    # flat-attention, flat-logit model would hide mistakes behind near-ties.
    unit, wide, ff = math.sqrt(3.0 / d), 2.0 * math.sqrt(3.0 / d), math.sqrt(3.0 / f)
    wte = matrix(config.vocab_size, d, 1.0)
    wpe = matrix(config.max_len, d, 1.0)
    layers = [
        {
            "wq": matrix(d, d, wide),
            "wk": matrix(d, d, wide),
            "wv": matrix(d, d, unit),
            "wo": matrix(d, d, unit),
            "w1": matrix(f, d, unit),
            "w2": matrix(d, f, ff),
        }
        for _ in range(config.n_layer)
    ]
    return Model(config, wte, wpe, layers, matrix(config.vocab_size, d, wide))


# === COUNTING MULTIPLICATIONS (PROVIDED) ===
#
# Every scalar multiplication that matters goes through one of three calls,
# and each call adds to one of two tallies:
#   weight_mults     matvec(W, x): one multiply per weight entry, rows * cols.
#                    Projections (Wq, Wk, Wv, Wo), the MLP (W1, W2), lm_head.
#   attention_mults  dot(q, k): len(q) multiplies (one score).
#                    weighted_sum(w, rows): len(w) * len(rows[0]) multiplies.
# Not counted: RMSNorm, softmax, ReLU, the 1/sqrt(head_dim) score scale,
# residual adds and embedding lookups. They cost O(d) per position, a
# rounding error next to the O(d^2) matvecs, and FLOP counts in the
# literature leave them out the same way.
# Splitting the tally in two is what makes the cache's effect visible: the
# cache removes redundant *weight* work entirely, while attention work is
# inherently one query against every cached key.


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


def embed(model: Model, token: int, position: int) -> list[float]:
    """x_0 = wte[token] + wpe[position]: the residual stream's starting point."""
    return [t + p for t, p in zip(model.wte[token], model.wpe[position])]


def project_qkv(model: Model, layer: int, x: list[float], ops: Ops):
    """(q, k, v) of one position at one layer: Wq, Wk, Wv applied to rmsnorm(x)."""
    weights = model.layers[layer]
    h = rmsnorm(x)
    return ops.matvec(weights["wq"], h), ops.matvec(weights["wk"], h), ops.matvec(weights["wv"], h)


def attend(q: list[float], keys: list[list[float]], values: list[list[float]], n_head: int, ops: Ops) -> list[float]:
    """Multi-head attention of ONE query over the given keys/values (no mask: pass only visible ones).

    Head h uses dimensions [h*hd, (h+1)*hd) with hd = len(q) // n_head:
    scores_j = q_h . k_j,h / sqrt(hd); out_h = sum_j softmax(scores)_j v_j,h.
    Returns the heads' outputs concatenated (len(q) floats).
    """
    if not keys:
        raise ValueError(
            "attend got no keys: a query must see at least itself. Did you attend before "
            "appending the current position's k and v?"
        )
    if len(keys) != len(values):
        raise ValueError(f"attend got {len(keys)} keys but {len(values)} values")
    hd = len(q) // n_head
    out: list[float] = []
    for h in range(n_head):
        lo, hi = h * hd, (h + 1) * hd
        scores = [ops.dot(q[lo:hi], k[lo:hi]) / math.sqrt(hd) for k in keys]
        out.extend(ops.weighted_sum(softmax(scores), [v[lo:hi] for v in values]))
    return out


def block_output(model: Model, layer: int, x: list[float], attn: list[float], ops: Ops) -> list[float]:
    """The rest of a block after attention: x + Wo attn, then the residual MLP."""
    weights = model.layers[layer]
    x = [a + b for a, b in zip(x, ops.matvec(weights["wo"], attn))]
    hidden = [max(0.0, v) for v in ops.matvec(weights["w1"], rmsnorm(x))]
    return [a + b for a, b in zip(x, ops.matvec(weights["w2"], hidden))]


def lm_logits(model: Model, x: list[float], ops: Ops) -> list[float]:
    """Logits over the vocabulary for one position's final residual stream."""
    return ops.matvec(model.lm_head, rmsnorm(x))


def check_tokens(model: Model, tokens: list[int], name: str, start: int = 0) -> None:
    """Raise ValueError naming ``name`` unless tokens is a non-empty list of valid ids
    (ints in 0..vocab_size-1; a bool or a float is refused) that fits at
    positions start .. start+len-1 < max_len."""
    config = model.config
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise ValueError(f"{name} must be a non-empty list of token ids, got {tokens!r}")
    for token in tokens:
        if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < config.vocab_size:
            raise ValueError(f"{name} holds {token!r}, not a token id in 0..{config.vocab_size - 1}")
    if start + len(tokens) > config.max_len:
        raise ValueError(
            f"{name} would occupy positions {start}..{start + len(tokens) - 1}, "
            f"past max_len = {config.max_len} (no position embedding there)"
        )


# === DECODING WITHOUT A CACHE ===
#
# The textbook loop: to get the next token, run the model on the whole
# sequence so far and read the last position's logits. For a sequence of n
# tokens, every position is embedded, projected to q, k, v at every layer,
# attends causally (position i sees keys 0..i), goes through the MLP, and is
# turned into logits. Then one token is appended and ALL of it is done again.
#
# Intuition: at step n the forward pass recomputes the n-1 positions it
# computed at step n-1, bit for bit: causality means a position never sees
# what comes after it, so appending a token cannot change them. Only the last
# row is new. Everything else is the redundancy the cache removes.


def forward_full(model: Model, tokens: list[int], ops: Ops) -> list[list[float]]:
    """Run the whole sequence through the model from scratch; return logits for every position.

    tokens: a non-empty list of token ids, at positions 0 .. len(tokens)-1
    (at most config.max_len of them). Layer by layer, project q, k, v of every
    position with project_qkv, let position i attend to the keys and values
    of positions 0..i only (causal) with attend, and finish each block with
    block_output; then lm_logits for EVERY position (as a training forward
    pass does). All arithmetic goes through the model helpers with ``ops``, so
    the multiplications are counted. Returns len(tokens) lists of vocab_size
    logits. Bad tokens raise ValueError naming "tokens" (use check_tokens).
    """
    raise KataTodo('microkv.forward_full: Run the whole sequence through the model from scratch; return logits for every position.')


def generate_uncached(model: Model, prompt: list[int], n_new: int, ops: Ops | None = None):
    """Greedy decoding that recomputes everything each step (one forward_full per new token).

    Step s runs forward_full on prompt + the s tokens generated so far, takes
    the LAST position's logits, and picks argmax (lowest index on ties). The
    last new token is never fed back: nothing would read its logits. So the
    forward passes cover len(prompt), len(prompt)+1, ..., len(prompt)+n_new-1
    tokens. Returns (new_tokens, step_logits): n_new token ids and, for each,
    the logits it was chosen from. ops: counts the work (a fresh Ops if None).
    Raises ValueError naming "prompt" for a bad prompt and "n_new" unless
    it is an int (a bool or a float is refused) with 1 <= n_new and
    len(prompt) + n_new - 1 <= config.max_len.
    """
    raise KataTodo('microkv.generate_uncached: Greedy decoding that recomputes everything each step (one forward_full per new token).')


# === THE KV CACHE ===
#
# What must be kept so that the next token needs no recomputation? Look at
# what a new position t reads from the past: at every layer, its query is
# dotted with k_0..k_t and weights v_0..v_t. Nothing else from earlier
# positions is ever read (their residual streams, MLP activations and logits
# are dead once computed). So the state of a decoder is exactly
#   keys[layer][position]   = k vector (d floats)
#   values[layer][position] = v vector (d floats)
# for every layer and every token seen: memory that grows with the sequence.
#
# Append-only: a cached k/v never changes (causality), and a new token only
# adds one entry per layer. Each layer needs its OWN lists: layer 1's keys
# are computed from layer 0's outputs and are different vectors.
#
# Signpost: production caches are preallocated tensors of shape
# [n_layer, 2, batch, n_kv_heads, max_len, head_dim] in GPU memory, often in
# fp16/bf16 or quantised to int8/fp8; vLLM splits them into fixed-size pages
# (PagedAttention, the micropaged kata) so sequences of unknown length do not
# fragment memory.


class KVCache:
    """Per-layer lists of cached key and value vectors: keys[layer][position] -> d floats."""

    def __init__(self, n_layer: int, d_model: int) -> None:
        """Make an empty cache: separate key and value lists for each of n_layer layers.

        Sets self.n_layer, self.d_model, self.keys and self.values, where keys
        and values are lists of n_layer empty lists, none shared with
        another. Raises ValueError naming "n_layer" or "d_model" unless each
        is a positive int (a bool or a float is refused).
        """
        raise KataTodo('microkv.KVCache.__init__: Make an empty cache: separate key and value lists for each of n_layer layers.')

    def __len__(self) -> int:
        """Positions cached so far (counted at layer 0): the next token's position."""
        return len(self.keys[0])

    def num_floats(self) -> int:
        """Floats actually held, summed over every layer's keys and values."""
        return sum(len(vector) for per_layer in (*self.keys, *self.values) for vector in per_layer)

    def append(self, layer: int, k: list[float], v: list[float]) -> None:
        """Append one position's key and value vectors to one layer's lists.

        layer: an int with 0 <= layer < n_layer (a bool or a float is
        refused), else ValueError naming "layer"; k and v:
        d_model floats each, else ValueError naming "k" or "v". Only this
        layer's lists grow, by one entry each; nothing stored earlier changes.
        """
        raise KataTodo("microkv.KVCache.append: Append one position's key and value vectors to one layer's lists.")


def check_cache(model: Model, cache: KVCache) -> None:
    """Raise ValueError naming "cache" unless its layer count and width match the model."""
    if cache.n_layer != model.config.n_layer or cache.d_model != model.config.d_model:
        raise ValueError(
            f"cache has n_layer={cache.n_layer}, d_model={cache.d_model}; the model has "
            f"n_layer={model.config.n_layer}, d_model={model.config.d_model}"
        )


# === DECODING WITH A CACHE: ONE TOKEN AT A TIME ===
#
# A decode step feeds ONE token through the network. At each layer:
#   q, k, v = projections of this position only        (work: constant in t)
#   append k, v to this layer's cache                  (now t+1 entries)
#   attend q over all t+1 cached keys/values           (work: grows with t)
#   Wo and the MLP for this position only              (work: constant in t)
# Two details decide correctness:
#   * the position is the number of tokens already cached (len(cache)): the
#     t-th token (0-based) gets wpe[t], exactly as in the full forward pass;
#   * the current token's k, v go into the cache BEFORE attending: in the
#     full forward pass position t attends to keys 0..t, itself included.


def decode_step(model: Model, token: int, cache: KVCache, ops: Ops) -> list[float]:
    """Feed one token at position len(cache): append its k, v at every layer, return its logits.

    At every layer: project_qkv of this position only, cache.append(layer,
    k, v), then attend over ALL of that layer's cached keys and values (the
    new one included), then block_output. Returns vocab_size logits; the
    cache ends one position longer at every layer. Raises ValueError naming
    "token" for a bad id or a full cache (position max_len does not exist),
    and naming "cache" if its n_layer or d_model differ from the model's
    (use check_tokens and check_cache).
    """
    raise KataTodo('microkv.decode_step: Feed one token at position len(cache): append its k, v at every layer, return its logits.')


# === PREFILL: THE WHOLE PROMPT AT ONCE ===
#
# Before the first new token, the prompt's keys and values must be cached.
# Prefill feeds a whole chunk of tokens in one pass, layer by layer (like
# forward_full), but stores every k, v it makes. Within the chunk, position
# start+i attends to cache entries 0..start+i: everything cached before the
# chunk plus the chunk's tokens up to itself. The result must equal feeding
# the chunk one decode_step at a time: same logits, same cache, and, in this
# count, the same multiplications.
#
# So why prefill? On a GPU the chunk's projections are one matrix-MATRIX
# product (P x d times d x d) instead of P matrix-vector products: the same
# FLOPs, but the weights are read from memory once instead of P times.
# Prefill is compute-bound and fast per token; decode reads every weight and
# the whole cache to produce one token, so it is memory-bound. That split is
# why servers schedule the two phases differently (chunked prefill in vLLM,
# disaggregated prefill/decode in DistServe and Splitwise).


def prefill(model: Model, tokens: list[int], cache: KVCache, ops: Ops) -> list[list[float]]:
    """Feed a chunk of tokens at positions len(cache) .. onward: cache their k, v at every layer.

    The chunk's token i sits at position start + i with start = len(cache)
    (0 for an empty cache; later chunks continue where the cache ends). At
    every layer it is projected once, its k, v are appended, and it attends
    to the cached entries 0 .. start+i (never to later chunk tokens). Returns
    logits for every chunk position (len(tokens) lists). The result equals
    calling decode_step once per token. Raises ValueError naming "tokens"
    for bad ids or a chunk running past max_len, and "cache" for a cache of
    the wrong shape (use check_tokens and check_cache).
    """
    raise KataTodo('microkv.prefill: Feed a chunk of tokens at positions len(cache) .. onward: cache their k, v at every layer.')


def generate_cached(model: Model, prompt: list[int], n_new: int, ops: Ops | None = None, cache: KVCache | None = None):
    """Greedy decoding with a KV cache: prefill the prompt once, then one decode_step per token.

    The first new token is argmax of the prefill's last logits; each later
    one is argmax of decode_step(previous new token). The last new token is
    never fed back, so the cache ends holding len(prompt) + n_new - 1
    positions. Returns (new_tokens, step_logits) exactly like
    generate_uncached. ops: counts the work (fresh Ops if None); cache: an
    EMPTY KVCache to fill (a fresh one if None), so callers can inspect it.
    Raises ValueError naming "prompt", "n_new" (same rules as
    generate_uncached) or "cache" (not empty, or the wrong shape).
    """
    raise KataTodo('microkv.generate_cached: Greedy decoding with a KV cache: prefill the prompt once, then one decode_step per token.')


# === ACCOUNTING: THE CLOSED FORMS ===
#
# Split each step's work in two, as Ops does. Weight work is what one
# position costs going through every matvec of the network; attention work
# is what one query costs against the keys it may see. Per generated token:
#   uncached: every position 0..t goes through the network again, and every
#             one of them attends over its own prefix;
#   cached:   one position goes through the network, and one query attends
#             over the t+1 cached keys.
# So per generated token the uncached weight work grows linearly in the
# position (quadratic in total over a generation) and its attention work
# quadratically (cubic in total); the cached weight work is constant (linear
# in total) and its attention work grows linearly (quadratic in total).
# For real models d is large and weight work dominates until sequences get
# long, which is why "uncached is O(n^2), cached is O(n)" is the usual summary.


def step_mults(config: Config, position: int, cached: bool) -> tuple[int, int]:
    """Return (weight_mults, attention_mults) of the decoding step that produces logits at ``position``.

    cached=False: one forward_full over the position+1 tokens 0..position.
    cached=True: one decode_step of the token at ``position`` (position
    entries already cached). Counted as in Ops: weight_mults from matvec,
    attention_mults from dot and weighted_sum. Raises ValueError naming
    "position" unless it is an int >= 0 (a bool or a float is refused).
    """
    raise KataTodo('microkv.step_mults: Return (weight_mults, attention_mults) of the decoding step that produces logits at ``position``.')


def kv_cache_floats(n_layer: int, d_model: int, n_positions: int) -> int:
    """Floats a KV cache holds after ``n_positions`` tokens (all layers, keys and values).

    d_model is the width of one cached k (or v) vector. Raises ValueError
    naming "n_layer" or "d_model" unless positive ints, and naming
    "n_positions" unless an int >= 0 (a bool or a float is refused).
    """
    raise KataTodo('microkv.kv_cache_floats: Floats a KV cache holds after ``n_positions`` tokens (all layers, keys and values).')


# === DEMONSTRATION ===

ALPHABET = "abcdefghijklmnopqrstuvwxyz."


def encode(text: str) -> list[int]:
    return [ALPHABET.index(c) for c in text]


def decode(tokens: list[int]) -> str:
    return "".join(ALPHABET[t] for t in tokens)


def max_difference(a: list[list[float]], b: list[list[float]]) -> float:
    return max(abs(x - y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


def ascii_plot(series: dict[str, list[float]], height: int = 12) -> list[str]:
    """A small scatter plot: one column per x, one marker character per series."""
    top = max(max(values) for values in series.values())
    width = max(len(values) for values in series.values())
    grid = [[" "] * width for _ in range(height)]
    for marker, values in series.items():
        for x, value in enumerate(values):
            row = height - 1 - round((height - 1) * value / top)
            grid[row][x] = marker
    labels = [f"{top * (height - 1 - r) / (height - 1):>11,.0f} |" for r in range(height)]
    return [label + "".join(row) for label, row in zip(labels, grid)] + [" " * 12 + "+" + "-" * width]


def demo_equivalence(model: Model, prompt: str, n_new: int) -> None:
    config = model.config
    print(f"1. Cached and uncached greedy decoding agree (V={config.vocab_size}, d={config.d_model}, "
          f"layers={config.n_layer}, heads={config.n_head}, d_ff={config.d_ff}; random weights)")
    uncached_tokens, uncached_logits = generate_uncached(model, encode(prompt), n_new)
    cached_tokens, cached_logits = generate_cached(model, encode(prompt), n_new)
    assert uncached_tokens == cached_tokens, "the cache changed the generated tokens"
    print(f"   prompt {prompt!r} -> uncached {decode(uncached_tokens)!r}")
    print(f"   prompt {prompt!r} ->   cached {decode(cached_tokens)!r}")
    print(f"   same tokens: {uncached_tokens == cached_tokens}; max |logit difference| over "
          f"{n_new} steps: {max_difference(uncached_logits, cached_logits):.1e}")

    # Prefill equals feeding the prompt token by token: same logits, same cache.
    text = encode("prefillequalsdecode")
    batch, single = KVCache(config.n_layer, config.d_model), KVCache(config.n_layer, config.d_model)
    batch_ops, single_ops = Ops(), Ops()
    batch_logits = prefill(model, text, batch, batch_ops)
    single_logits = [decode_step(model, token, single, single_ops) for token in text]
    cache_diff = max(
        max_difference(batch.keys[layer] + batch.values[layer], single.keys[layer] + single.values[layer])
        for layer in range(config.n_layer)
    )
    print(f"   prefill of {len(text)} tokens vs {len(text)} decode steps: max |logit diff| "
          f"{max_difference(batch_logits, single_logits):.1e}, max |cache diff| {cache_diff:.1e}, "
          f"mults {batch_ops.mults:,} vs {single_ops.mults:,}")
    print("   (random weights: the text is gibberish, but caching is exact for any weights)\n")


def demo_counts(model: Model, prompt_len: int, n_new: int) -> None:
    config = model.config
    print(f"2. Multiplications per generated token (prompt of {prompt_len}, counted by Ops, "
          "checked against step_mults)")
    print(f"   {'token':>5} {'pos':>4} {'uncached weight':>16} {'uncached attn':>14} "
          f"{'cached weight':>14} {'cached attn':>12} {'ratio':>6}")
    prompt = [(7 * i + 3) % config.vocab_size for i in range(prompt_len)]
    cache = KVCache(config.n_layer, config.d_model)
    prefill_ops = Ops()
    logits = prefill(model, prompt, cache, prefill_ops)[-1]
    tokens = prompt + [argmax(logits)]
    rows = []
    for step in range(1, n_new):
        position = len(tokens) - 1
        full, single = Ops(), Ops()
        uncached_logits = forward_full(model, tokens, full)[-1]
        cached_logits = decode_step(model, tokens[-1], cache, single)
        assert argmax(uncached_logits) == argmax(cached_logits)
        assert (full.weight_mults, full.attention_mults) == step_mults(config, position, cached=False)
        assert (single.weight_mults, single.attention_mults) == step_mults(config, position, cached=True)
        rows.append((step, position, full, single))
        tokens.append(argmax(cached_logits))
    for step, position, full, single in rows:
        if step in (1, 2, 3) or step % 8 == 0 or step == len(rows):
            print(f"   {step:>5} {position:>4} {full.weight_mults:>16,} {full.attention_mults:>14,} "
                  f"{single.weight_mults:>14,} {single.attention_mults:>12,} "
                  f"{full.mults / single.mults:>5.1f}x")
    unc_total = sum(full.mults for _, _, full, _ in rows)
    cac_total = sum(single.mults for _, _, _, single in rows)
    print(f"   total over these {len(rows)} decode steps: uncached {unc_total:,}, cached {cac_total:,} "
          f"({unc_total / cac_total:.1f}x); the cached run also paid a prefill of {prefill_ops.mults:,} once")
    print("\n   Multiplications per step ('*' uncached, 'o' cached; one column per decode step):")
    for line in ascii_plot({"*": [full.mults for *_, full, _ in rows], "o": [s.mults for *_, s in rows]}):
        print("   " + line)
    # Both start with one pass over the prompt: forward_full on 6 tokens does
    # exactly the work of the prefill.
    unc_running, cac_running, unc_sum, cac_sum = [], [], prefill_ops.mults, prefill_ops.mults
    for _, _, full, single in rows:
        unc_sum, cac_sum = unc_sum + full.mults, cac_sum + single.mults
        unc_running.append(unc_sum)
        cac_running.append(cac_sum)
    print("\n   Running total, first pass over the prompt included ('*' uncached: quadratic; 'o' cached: linear):")
    for line in ascii_plot({"*": unc_running, "o": cac_running}):
        print("   " + line)

    print("\n   Total multiplications to generate N tokens (prefill included):")
    print(f"   {'N':>4} {'uncached':>14} {'cached':>12} {'ratio':>6}")
    for n in (4, 8, 16, 32):
        uncached = sum(sum(step_mults(config, prompt_len - 1 + s, cached=False)) for s in range(n))
        cached = sum(sum(step_mults(config, p, cached=True)) for p in range(prompt_len + n - 1))
        print(f"   {n:>4} {uncached:>14,} {cached:>12,} {uncached / cached:>5.1f}x")
    print("   doubling N roughly quadruples the uncached total and doubles the cached one\n")


def demo_memory(model: Model, n_positions: int) -> None:
    config = model.config
    per_position = kv_cache_floats(config.n_layer, config.d_model, 1)
    print(f"3. Cache memory grows linearly: 2 x {config.n_layer} layers x {config.d_model} = "
          f"{per_position} floats per position")
    cache, ops = KVCache(config.n_layer, config.d_model), Ops()
    sizes, token = [], 0
    for _ in range(n_positions):
        token = argmax(decode_step(model, token, cache, ops))
        assert cache.num_floats() == kv_cache_floats(config.n_layer, config.d_model, len(cache))
        sizes.append(cache.num_floats())
    print("\n   Floats held by the cache after each position:")
    for line in ascii_plot({"#": sizes}, height=8):
        print("   " + line)
    print(f"   after {n_positions} positions: {sizes[-1]:,} floats ({sizes[-1] * 4:,} bytes at fp32)\n")

    print("   The same formula for real models (fp16, 2 bytes per float):")
    print(f"   {'model':<26} {'layers':>6} {'kv width':>8} {'per token':>10} {'4k-token cache':>15}")
    for name, layers, width in [
        ("GPT-2 small", 12, 768),
        ("Llama-2-7B", 32, 4096),
        ("Llama-2-70B (GQA, 8 kv)", 80, 8 * 128),
        ("Llama-2-70B if MHA", 80, 8192),
    ]:
        per_token = kv_cache_floats(layers, width, 1) * 2
        total = kv_cache_floats(layers, width, 4096) * 2
        print(f"   {name:<26} {layers:>6} {width:>8} {per_token / 1024:>7,.0f} KiB {total / 2**30:>11.2f} GiB")
    print("   Decoding one token reads every weight AND the whole cache: memory-bound.\n")


if __name__ == "__main__":
    random.seed(42)
    model = init_model(Config(), seed=42)
    demo_equivalence(model, "kv", n_new=30)
    demo_counts(model, prompt_len=6, n_new=40)
    demo_memory(model, n_positions=48)
    print(
        "Caching changes no number the model produces; it only stops recomputing\n"
        "keys and values that causality guarantees are unchanged. The price is\n"
        "2 * n_layer * d floats per token, which is why long contexts and large\n"
        "batches run out of GPU memory before they run out of compute."
    )
