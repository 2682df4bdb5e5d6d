"""
Serving many requests on one model: static batching, continuous
(iteration-level) batching, chunked prefill under a KV-page budget, and
Splitwise-style disaggregation of prefill and decode onto two machines.

A GPU decodes a batch of sequences for nearly the price of one (decoding is
memory-bound: the weights are read once per step for the whole batch), so a
server batches. The question is WHEN a request may join or leave the batch.

  static batching      a batch is formed, runs until its LONGEST request is
                       done, and only then is the next batch formed: slots of
                       requests that finished early sit idle;
  continuous batching  the batch is re-formed every step (every iteration of
                       the model): a finished request leaves at once and a
                       waiting one takes its slot in the next step (Orca);
  chunked prefill      a long prompt is cut into chunks that share each
                       step's token budget with the running decodes, so one
                       big prompt does not stall everyone (Sarathi, vLLM);
  disaggregation       prefill (compute-bound) runs on one machine, decode
                       (memory-bound) on another, and the prompt's KV cache
                       is shipped between them (Splitwise, DistServe).

None of these may change a single generated token: batching is scheduling,
and each request's tokens must equal running it alone. This file simulates
the schedulers step by step, runs their schedules on microkv's tiny model,
and counts steps, idle slots, KV pages and transferred floats exactly.

References: Yu et al., "Orca: A Distributed Serving System for
Transformer-Based Generative Models" (OSDI 2022); Kwon et al., vLLM (SOSP
2023); Agrawal et al., "Sarathi-Serve" (OSDI 2024) for chunked prefill;
Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase
Splitting" (ISCA 2024); Zhong et al., "DistServe" (OSDI 2024).
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
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
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


# === SCHEDULES ===
#
# A request is (prompt, n_new): a prompt of P tokens and n_new >= 1 tokens to
# generate greedily. The schedulers see only the lengths (P, n_new).
# A SCHEDULE is a list of steps (one model iteration each); a step is a list
# of entries (request_index, kind, n_tokens):
#   ("prefill", n)  feed the next n prompt tokens of the request; when this
#                   completes its prompt, the request emits its FIRST token
#                   (argmax of the last prompt position's logits);
#   ("decode", 1)   feed the request's latest token; it emits one more token.
# A request is finished once it has emitted n_new tokens: one prefill
# completion plus n_new - 1 decodes. Its last token is never fed back, so it
# caches P + n_new - 1 positions over its lifetime (as in microkv).
# Every step has a fixed number of SLOTS (the batch size): an entry occupies
# one slot; a slot with no entry in a step is IDLE.
# All requests are in the queue at step 0, in index order (first come, first
# served = lower index first).


def pages_needed(num_tokens: int, page_size: int) -> int:
    """Pages of page_size slots that hold num_tokens positions (micropaged's ceiling)."""
    return -(-num_tokens // page_size)


def check_requests(requests) -> None:
    """Raise ValueError naming requests unless it is a non-empty list of (prompt_len, n_new), both >= 1."""
    if not isinstance(requests, (list, tuple)) or not requests:
        raise ValueError(f"requests must be a non-empty list of (prompt_len, n_new), got {requests!r}")
    for r in requests:
        if (not isinstance(r, (list, tuple)) or len(r) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in r)):
            raise ValueError(f"requests holds {r!r}; each must be (prompt_len, n_new) with both >= 1")


# === STATIC BATCHING ===
#
# The simplest server: take the next batch_size requests, prefill them all in
# one step, decode until the LONGEST of them is done, repeat. A request that
# needs 2 tokens in a batch with one that needs 50 holds its slot, idle, for
# 48 steps, and the requests behind it wait for the whole batch.
# Closed form (what the tests check): batch g runs max_{i in g} n_i steps, so
#   steps = sum_g max_{i in g} n_i,
#   idle  = sum_g (batch_size * max_{i in g} n_i - sum_{i in g} n_i).


def static_batching_schedule(requests, batch_size: int):
    """Schedule requests in fixed batches that run until their longest member finishes.

    requests: list of (prompt_len, n_new). Batches are requests
    [0, batch_size), [batch_size, 2 batch_size), ... (the last may be
    smaller). A batch's first step prefills every member's whole prompt
    (entries (i, "prefill", prompt_len) in index order); each following step
    has (i, "decode", 1) for every member not yet finished, in index order,
    until all members are finished. The next batch starts in the next step.
    No KV budget applies. Returns the schedule: a list of steps, each a list
    of (request_index, kind, n_tokens). Raises ValueError naming requests
    (see check_requests) or batch_size unless it is an int >= 1 (a bool or a
    float is refused).
    """
    # BEGIN SOLUTION
    check_requests(requests)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    schedule = []
    for first in range(0, len(requests), batch_size):
        members = range(first, min(first + batch_size, len(requests)))
        schedule.append([(i, "prefill", requests[i][0]) for i in members])
        # Step s (1-based, after the prefill) decodes request i while it
        # still owes tokens: it has emitted s tokens before this step.
        longest = max(requests[i][1] for i in members)
        for s in range(1, longest):
            schedule.append([(i, "decode", 1) for i in members if requests[i][1] > s])
    return schedule
    # END SOLUTION


# === CONTINUOUS BATCHING WITH A KV BUDGET AND CHUNKED PREFILL ===
#
# The scheduler re-forms the batch at EVERY step. Its rules, in order:
#   1. admission: while fewer than max_batch requests run and the queue is
#      not empty, look at the FIRST waiting request; admit it if its lifetime
#      KV, pages_needed(P + n_new - 1, page_size) pages, fits in the pages not
#      reserved by running requests; otherwise stop (FCFS: nobody overtakes
#      the head of the queue). Reserving the lifetime up front means a running
#      request can never run out of pages, so nobody is ever preempted.
#   2. work, over the running requests in admission order:
#      without chunking (chunk_size None): a request whose prompt is not fed
#      yet gets its whole prompt ("prefill", P); the others ("decode", 1);
#      with chunking: the step may process at most chunk_size tokens. First
#      every request past its prompt gets ("decode", 1) (one token each),
#      then the requests still in their prompt, in admission order, get
#      ("prefill", min(prompt tokens left, budget left)) while budget is left.
#   3. retirement: a request that has now emitted n_new tokens leaves the
#      batch and its pages return to the budget, usable from the next step.
# Intuition: the batch is a set of slots that empty and refill individually,
# like a bus that lets passengers off and on at every stop rather than only
# at the terminus.
# Signpost: vLLM allocates pages on demand and preempts the newest request
# when they run out (micropaged); reservation keeps this simulation free of
# preemption so that every count has one right answer.


def continuous_batching_schedule(requests, max_batch: int, kv_pages: int, page_size: int, chunk_size=None):
    """Schedule requests with iteration-level batching under a KV-page budget (rules above).

    requests: list of (prompt_len, n_new); max_batch: slots per step;
    kv_pages: pages in the KV pool; page_size: positions per page;
    chunk_size: None (whole prompts) or the token budget per step. Returns
    the schedule (a list of steps, each a list of (request_index, kind,
    n_tokens) in the order the rules produce them); it ends with the step in
    which the last request finishes. Raises ValueError naming requests (bad
    entries, or one whose lifetime pages exceed kv_pages: it could never
    run), max_batch, kv_pages or page_size unless ints >= 1, and chunk_size
    unless None or an int >= max_batch (the decodes of a full batch must fit
    in a step); a bool or a float is refused.
    """
    # BEGIN SOLUTION
    check_requests(requests)
    for name, value in (("max_batch", max_batch), ("kv_pages", kv_pages), ("page_size", page_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < max_batch):
        raise ValueError(f"chunk_size must be None or an integer >= max_batch = {max_batch}, got {chunk_size!r}")
    need = [pages_needed(p + n - 1, page_size) for p, n in requests]
    for i, pages in enumerate(need):
        if pages > kv_pages:
            raise ValueError(f"requests[{i}] needs {pages} pages over its lifetime, the pool has {kv_pages}")

    waiting = list(range(len(requests)))
    running: list[int] = []
    fed = [0] * len(requests)  # prompt tokens fed so far
    emitted = [0] * len(requests)
    free_pages = kv_pages
    schedule = []
    while waiting or running:
        while waiting and len(running) < max_batch and need[waiting[0]] <= free_pages:
            i = waiting.pop(0)
            free_pages -= need[i]
            running.append(i)
        step = []
        if chunk_size is None:
            for i in running:
                step.append((i, "prefill", requests[i][0]) if fed[i] == 0 else (i, "decode", 1))
        else:
            # Decodes first: a running conversation must not stall behind a
            # long prompt (that stall is what chunking exists to remove).
            budget = chunk_size
            for i in running:
                if fed[i] == requests[i][0]:
                    step.append((i, "decode", 1))
                    budget -= 1
            for i in running:
                if fed[i] < requests[i][0] and budget > 0:
                    n = min(requests[i][0] - fed[i], budget)
                    step.append((i, "prefill", n))
                    budget -= n
        for i, kind, n in step:
            if kind == "prefill":
                fed[i] += n
                if fed[i] == requests[i][0]:
                    emitted[i] += 1  # the prompt's last position gives the first token
            else:
                emitted[i] += 1
        schedule.append(step)
        for i in [i for i in running if emitted[i] == requests[i][1]]:
            running.remove(i)
            free_pages += need[i]  # returned at the END of the step
    return schedule
    # END SOLUTION


# === RUNNING A SCHEDULE ON THE MODEL ===
#
# Each request keeps its own KV lists (in a real engine: its pages in one
# shared pool, read by one batched kernel). A step feeds each entry's tokens
# through forward_chunk: prompt chunks continue at the position where the
# previous chunk stopped, decodes feed the request's latest token. Since
# nothing crosses between requests, a correct engine reproduces each
# request's solo tokens exactly, whatever the schedule. That is the contract
# every batching trick has to keep.


def run_schedule(model: Model, requests, schedule):
    """Execute a schedule on the model; return each request's generated tokens (a list per request).

    requests: list of (prompt, n_new) with prompt a list of token ids.
    For each step, for each entry in order: ("prefill", n) feeds the
    request's next n prompt tokens with forward_chunk on its own KV lists
    (empty_kv at first); if that completes the prompt, append argmax of the
    last row (lowest id on ties) to its output. ("decode", 1) feeds the
    request's last output token and appends argmax of the result. Raises
    ValueError naming schedule for an entry of an unknown request, an
    unknown kind, an empty prefill (n < 1) or one past the prompt, a decode
    before the prompt is complete or after n_new tokens, or if some request
    ends with fewer than n_new tokens; naming requests for bad prompts
    (check_tokens) or an n_new that is not an int (a bool or a float is
    refused) with 1 <= n_new and len(prompt) + n_new - 1 <= max_len. Request
    indices and prefill counts in the schedule are ints too (not bools).
    """
    # BEGIN SOLUTION
    for prompt, n_new in requests:
        check_tokens(model, prompt, "requests")
        if not isinstance(n_new, int) or isinstance(n_new, bool) or n_new < 1 or len(prompt) + n_new - 1 > model.config.max_len:
            raise ValueError(f"requests holds n_new = {n_new!r}: need 1 <= n_new and P + n_new - 1 <= max_len")
    kv = [empty_kv(model) for _ in requests]
    fed = [0] * len(requests)
    outputs: list[list[int]] = [[] for _ in requests]
    ops = Ops()
    for t, step in enumerate(schedule):
        for i, kind, n in step:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(requests):
                raise ValueError(f"schedule step {t} names request {i!r}, which does not exist")
            prompt, n_new = requests[i]
            if kind == "prefill":
                if not isinstance(n, int) or isinstance(n, bool) or n < 1 or fed[i] + n > len(prompt):
                    raise ValueError(f"schedule step {t} prefills {n!r} tokens of request {i} past its prompt")
                rows = forward_chunk(model, list(prompt[fed[i]:fed[i] + n]), *kv[i], ops)
                fed[i] += n
                if fed[i] == len(prompt):
                    outputs[i].append(argmax(rows[-1]))
            elif kind == "decode":
                if fed[i] < len(prompt) or len(outputs[i]) >= n_new or n != 1:
                    raise ValueError(f"schedule step {t} decodes request {i} before its prompt or past n_new")
                rows = forward_chunk(model, [outputs[i][-1]], *kv[i], ops)
                outputs[i].append(argmax(rows[-1]))
            else:
                raise ValueError(f"schedule step {t} has kind {kind!r}, not 'prefill' or 'decode'")
    for i, (_, n_new) in enumerate(requests):
        if len(outputs[i]) != n_new:
            raise ValueError(f"schedule leaves request {i} with {len(outputs[i])} of {n_new} tokens")
    return outputs
    # END SOLUTION


# === DISAGGREGATION: PREFILL HERE, DECODE THERE ===
#
# Prefill is one big matrix-matrix pass (compute-bound); decode is a long
# series of matrix-vector steps (memory-bound). On one machine they fight:
# a prefill step delays every running decode, and a batch tuned for one is
# wrong for the other. Splitwise puts them on different machines. The price
# is the KV cache of the prompt, which must travel from the prefill machine
# to the decode machine: one key and one value of d floats per layer per
# prompt position,
#     floats moved = 2 * n_layer * d_model * P.
# The first generated token travels with it (it came from the prefill).
# Signpost: Splitwise and DistServe stream the KV layer by layer over
# InfiniBand/NVLink while the prefill is still running, hiding most of it.


def transfer_kv(keys, values):
    """Ship a KV cache to another machine: return (new_keys, new_values, floats_moved).

    keys, values: per-layer lists of position vectors (as from empty_kv /
    forward_chunk). The copies share no list with the originals at any
    level (the other machine has its own memory), and floats_moved counts
    every float copied. Raises ValueError naming values unless it has the
    same number of layers and positions as keys.
    """
    # BEGIN SOLUTION
    if len(values) != len(keys) or any(len(v) != len(k) for k, v in zip(keys, values)):
        raise ValueError("values must have the same layers and positions as keys")
    new_keys = [[list(vector) for vector in layer] for layer in keys]
    new_values = [[list(vector) for vector in layer] for layer in values]
    moved = sum(len(vector) for layer in (*keys, *values) for vector in layer)
    return new_keys, new_values, moved
    # END SOLUTION


def disaggregated_generate(model: Model, prompt, n_new: int):
    """Generate n_new greedy tokens with prefill on one machine and decode on another.

    Prefill machine: forward_chunk the whole prompt on fresh KV lists; the
    first token is argmax of the last row. Then transfer_kv the cache.
    Decode machine: feed each new token with forward_chunk on the TRANSFERRED
    lists until n_new tokens exist (the last is never fed back). Returns
    (tokens, floats_moved). Raises ValueError naming prompt (check_tokens)
    or n_new unless it is an int (a bool or a float is refused) with
    1 <= n_new and len(prompt) + n_new - 1 <= max_len.
    """
    # BEGIN SOLUTION
    check_tokens(model, prompt, "prompt")
    if not isinstance(n_new, int) or isinstance(n_new, bool) or n_new < 1 or len(prompt) + n_new - 1 > model.config.max_len:
        raise ValueError(f"n_new must satisfy 1 <= n_new and len(prompt) + n_new - 1 <= max_len, got {n_new!r}")
    ops = Ops()
    keys, values = empty_kv(model)
    tokens = [argmax(forward_chunk(model, list(prompt), keys, values, ops)[-1])]
    remote_keys, remote_values, moved = transfer_kv(keys, values)
    while len(tokens) < n_new:
        tokens.append(argmax(forward_chunk(model, [tokens[-1]], remote_keys, remote_values, ops)[-1]))
    return tokens, moved
    # END SOLUTION


# === DEMONSTRATION ===


def solo_generate(model: Model, prompt: list[int], n_new: int) -> list[int]:
    """Run one request alone: prefill, then decode."""
    keys, values = empty_kv(model)
    tokens = [argmax(forward_chunk(model, prompt, keys, values, Ops())[-1])]
    while len(tokens) < n_new:
        tokens.append(argmax(forward_chunk(model, [tokens[-1]], keys, values, Ops())[-1]))
    return tokens


def timeline(schedule, requests) -> list[str]:
    """One row per request, one column per step: P prefill, p chunk, D decode, . waiting, - idle slot."""
    n_steps = len(schedule)
    rows = [[" "] * n_steps for _ in requests]
    first: dict[int, int] = {}
    for t, step in enumerate(schedule):
        for i, kind, n in step:
            first.setdefault(i, t)
            rows[i][t] = "D" if kind == "decode" else ("P" if n == requests[i][0] else "p")
    for i in range(len(requests)):
        for t in range(first[i]):
            rows[i][t] = "."
    return [f"   r{i:<2} {''.join(row)}" for i, row in enumerate(rows)]


def static_idle_view(schedule, requests, batch_size: int) -> list[str]:
    lines = timeline(schedule, requests)
    out = []
    for g in range(0, len(requests), batch_size):
        members = range(g, min(g + batch_size, len(requests)))
        end = max(max(t for t, step in enumerate(schedule) if any(e[0] == i for e in step)) for i in members)
        for i in members:
            row = list(lines[i])
            last = max(t for t, step in enumerate(schedule) if any(e[0] == i for e in step))
            for t in range(last + 1, end + 1):
                row[6 + t] = "-"  # finished, but its slot stays reserved until the batch ends
            out.append("".join(row))
    return out


def usage(schedule, slots: int) -> tuple[int, int]:
    steps = len(schedule)
    return steps, slots * steps - sum(len(step) for step in schedule)


def demo_timelines(model: Model, rng: random.Random) -> None:
    lengths = [(5, 3), (3, 9), (6, 2), (4, 4), (2, 7), (7, 2), (3, 5), (5, 3)]
    requests = [([rng.randrange(27) for _ in range(p)], n) for p, n in lengths]
    B = 3
    print(f"1. Eight requests (prompt, n_new) = {lengths}, batch of {B} slots")
    print("   P prefill, D decode, . waiting, - finished but its slot is held idle\n")
    static = static_batching_schedule(lengths, B)
    print("   static batching (a batch runs until its longest request is done):")
    for line in static_idle_view(static, lengths, B):
        print(line)
    steps, idle = usage(static, B)
    print(f"   {steps} steps, {idle} idle slot-steps of {B * steps}\n")
    cont = continuous_batching_schedule(lengths, B, kv_pages=1000, page_size=4)
    print("   continuous batching (a finished request's slot is refilled next step):")
    for line in timeline(cont, lengths):
        print(line)
    steps_c, idle_c = usage(cont, B)
    print(f"   {steps_c} steps, {idle_c} idle slot-steps of {B * steps_c}\n")
    solo = [solo_generate(model, p, n) for p, n in requests]
    for name, schedule in (("static", static), ("continuous", cont)):
        assert run_schedule(model, requests, schedule) == solo, name
    print("   both schedules run on the tiny model give every request exactly its solo tokens\n")


def demo_budget_and_chunks(model: Model, rng: random.Random) -> None:
    lengths = [(20, 4), (3, 6), (4, 5), (18, 3), (2, 8), (5, 4)]
    requests = [([rng.randrange(27) for _ in range(p)], n) for p, n in lengths]
    B, pages, page = 4, 9, 4
    print(f"2. A KV budget of {pages} pages of {page} positions, {B} slots; requests {lengths}")
    solo = [solo_generate(model, p, n) for p, n in requests]
    for chunk in (None, 6):
        schedule = continuous_batching_schedule(lengths, B, pages, page, chunk_size=chunk)
        peak = 0
        for t in range(len(schedule)):
            live = [i for i in range(len(lengths))
                    if min(s for s, st in enumerate(schedule) if any(e[0] == i for e in st)) <= t
                    <= max(s for s, st in enumerate(schedule) if any(e[0] == i for e in st))]
            peak = max(peak, sum(pages_needed(lengths[i][0] + lengths[i][1] - 1, page) for i in live))
        biggest = max(sum(n for _, _, n in step) for step in schedule)
        assert run_schedule(model, requests, schedule) == solo and peak <= pages
        label = "whole prompts" if chunk is None else f"chunks of <= {chunk} tokens per step"
        print(f"   {label}: {len(schedule)} steps, peak pages {peak} <= {pages}, largest step {biggest} tokens")
        for line in timeline(schedule, lengths):
            print(line)
    print("   (p = a prompt chunk: the 20-token prompt no longer makes one step 20+ tokens long)\n")


def demo_disaggregation(model: Model, rng: random.Random) -> None:
    config = model.config
    print("3. Disaggregated serving: prefill machine -> KV transfer -> decode machine")
    print(f"   {'prompt':>6} {'n_new':>5} {'same tokens':>11} {'floats moved':>12} {'2*L*d*P':>8}")
    for p, n in ((1, 5), (7, 9), (20, 12), (40, 20)):
        prompt = [rng.randrange(27) for _ in range(p)]
        tokens, moved = disaggregated_generate(model, prompt, n)
        same = tokens == solo_generate(model, prompt, n)
        assert same and moved == 2 * config.n_layer * config.d_model * p
        print(f"   {p:>6} {n:>5} {str(same):>11} {moved:>12,} {2 * config.n_layer * config.d_model * p:>8,}")
    per_token = 2 * 80 * 8 * 128 * 2
    print(f"   Llama-2-70B (80 layers, 8 KV heads x 128, fp16): {per_token / 1024:.0f} KiB per prompt token, "
          f"{per_token * 4096 / 2**30:.2f} GiB for a 4k prompt\n")


def demo_throughput(rng: random.Random) -> None:
    print("4. 200 requests with skewed output lengths (steps = model iterations)")
    lengths = [(rng.randint(2, 30), max(1, min(200, int(rng.expovariate(1 / 25))))) for _ in range(200)]
    tokens = sum(n for _, n in lengths)
    print(f"   {'scheduler':<34} {'steps':>6} {'idle slots':>10} {'tokens/step':>11}")
    for B in (8, 32):
        static = static_batching_schedule(lengths, B)
        cont = continuous_batching_schedule(lengths, B, kv_pages=10**6, page_size=16)
        tight = continuous_batching_schedule(lengths, B, kv_pages=B * 2 + 16, page_size=16)
        for name, schedule in ((f"static, batch {B}", static), (f"continuous, batch {B}", cont),
                               (f"continuous, batch {B}, {B * 2 + 16} pages", tight)):
            steps, idle = usage(schedule, B)
            print(f"   {name:<34} {steps:>6} {idle:>10} {tokens / steps:>11.2f}")
    print()


if __name__ == "__main__":
    started = time.perf_counter()
    random.seed(42)
    rng = random.Random(42)
    model = init_model(Config(), seed=42)
    demo_timelines(model, rng)
    demo_budget_and_chunks(model, rng)
    demo_disaggregation(model, rng)
    demo_throughput(rng)
    print("Batching decides who shares each step, never what a request computes: every\n"
          f"schedule above reproduced the solo tokens exactly. ({time.perf_counter() - started:.1f} s)")
