"""Graded tests for microbeam: greedy, temperature, top-k, top-p, beam search, speculative decoding.

Most tests use tiny synthetic models written here: a model is a callable
prefix -> logits, and ``TableModel`` draws each prefix's logits from a RNG
seeded by the prefix itself, so it is a fixed function of the prefix whatever
order the decoder asks in. With 4-6 tokens and 2-4 steps every output
distribution and every sequence's log-prob can be enumerated exactly.

Expected values come from the naive specs below (enumeration, math.fsum),
closed forms (sum_x min(p, q), ceil(M / (gamma + 1)) rounds for a perfect
draft) or properties (beam log-prob >= greedy's on the shipped checkpoint).

Statistical tests are seeded and state their tolerance: every outcome's
frequency must be within 5 standard deviations of its exact probability plus
5 counts, |freq - P| <= 5 * sqrt(P (1 - P) / N) + 5 / N, and an outcome of
probability 0 must never occur. A correct implementation, whatever order it
draws its random numbers in, fails a given outcome with probability below
about 1e-6 (the 5 extra counts cover the skewed tail of rare outcomes).
"""

import functools
import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from workbook.checks import Mismatch, Table, assert_close, assert_equal, call_each, repeat, repeat_in_order

DATA = Path(__file__).resolve().parent / "data" / "microbeam"
CHECKPOINT = DATA / "ngram_models.json"
NAMES = Path(__file__).resolve().parents[1] / "data" / "names.txt"


# === tiny synthetic models ===


class TableModel:
    """Logits drawn per prefix from random.Random(f"{seed}|{prefix}"): a fixed table, any query order.

    banned tokens get logit -inf (probability 0); bias adds to chosen tokens' logits.
    """

    def __init__(self, seed, vocab_size, scale=2.0, banned=(), bias=None):
        self.seed, self.vocab_size, self.scale = seed, vocab_size, scale
        self.banned, self.bias = set(banned), bias or {}
        self.calls = 0
        self.table = {}

    def logits(self, prefix):
        key = tuple(prefix)
        if key not in self.table:
            rng = random.Random(f"{self.seed}|{key}")
            row = [rng.uniform(-self.scale, self.scale) for _ in range(self.vocab_size)]
            for token, extra in self.bias.items():
                row[token] += extra
            for token in self.banned:
                row[token] = -math.inf
            self.table[key] = row
        return list(self.table[key])

    def __call__(self, prefix):
        self.calls += 1
        return self.logits(prefix)


def table_of(model, prompt, vocab, depth):
    """``model``'s logits for every prefix ``prompt + tokens`` with up to ``depth`` tokens, as a ``Table``.

    A ``Table`` is called where the kata runs (no round trip to the grader per
    call in isolated grading); a prefix outside it raises KeyError.
    """
    rows = {}
    for length in range(depth + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            rows[tuple(prompt) + tokens] = model.logits(list(prompt) + list(tokens))
    return Table(rows)


class FixedModel:
    """The same logits whatever the prefix (a unigram)."""

    def __init__(self, logits):
        self.values = list(logits)
        self.calls = 0

    def __call__(self, prefix):
        self.calls += 1
        return list(self.values)


class DictModel:
    """Logits looked up by the prefix tuple, with a default row."""

    def __init__(self, rows, default):
        self.rows, self.default = rows, default
        self.calls = 0

    def __call__(self, prefix):
        self.calls += 1
        return list(self.rows.get(tuple(prefix), self.default))


def logs(probs):
    return [math.log(p) if p > 0 else -math.inf for p in probs]


# === the independent specs ===


def spec_softmax(logits, temperature=1.0):
    top = max(logits)
    weights = [math.exp((x - top) / temperature) for x in logits]
    total = math.fsum(weights)
    return [w / total for w in weights]


def spec_log_softmax(logits):
    top = max(logits)
    log_total = math.log(math.fsum(math.exp(x - top) for x in logits))
    return [x - top - log_total for x in logits]


def spec_rank(probs):
    """Probability descending, ties by lower id."""
    return sorted(range(len(probs)), key=lambda i: (-probs[i], i))


def spec_keep(probs, keep):
    mass = math.fsum(probs[i] for i in keep)
    return [probs[i] / mass if i in keep else 0.0 for i in range(len(probs))]


def spec_top_k(probs, k):
    return spec_keep(probs, set(spec_rank(probs)[:k]))


def spec_top_p(probs, p):
    order = spec_rank(probs)
    for size in range(1, len(order) + 1):
        if sum(probs[i] for i in order[:size]) >= p:
            return spec_keep(probs, set(order[:size]))
    return spec_keep(probs, set(order))


def spec_step(logits, temperature=1.0, top_k=None, top_p=None):
    probs = spec_softmax(logits, temperature)
    if top_k is not None:
        probs = spec_top_k(probs, top_k)
    if top_p is not None:
        probs = spec_top_p(probs, top_p)
    return probs


def spec_sequences(model, prompt, max_new, end, step=spec_softmax):
    """{output tuple: exact probability} of autoregressive sampling with step(logits) -> probs."""
    out = {}

    def walk(seq, prob):
        probs = step(model.logits(prompt + list(seq)) if hasattr(model, "logits") else model(prompt + list(seq)))
        for token, p in enumerate(probs):
            if p <= 0:
                continue
            longer = seq + (token,)
            if token == end or len(longer) == max_new:
                out[longer] = out.get(longer, 0.0) + prob * p
            else:
                walk(longer, prob * p)

    if max_new == 0:
        return {(): 1.0}
    walk((), 1.0)
    return out


def spec_greedy(model, prompt, max_new, end):
    seq = []
    for _ in range(max_new):
        logits = model(prompt + seq)
        best = max(range(len(logits)), key=lambda i: (logits[i], -i))
        seq.append(best)
        if best == end:
            break
    return seq


def spec_logprob(model, prompt, seq):
    return math.fsum(spec_log_softmax(model(prompt + seq[:i]))[t] for i, t in enumerate(seq))


def spec_exhaustive(model, prompt, max_new, end, length_penalty=0.0):
    """Best complete sequence by enumeration: (tokens, plain log-prob)."""
    vocab = len(model(prompt))
    complete = []
    for length in range(1, max_new + 1):
        for seq in itertools.product(range(vocab), repeat=length):
            if end in seq[:-1]:
                continue
            if seq[-1] == end or length == max_new:
                complete.append(list(seq))
    scored = [(spec_logprob(model, prompt, s), s) for s in complete]
    score, tokens = min(scored, key=lambda c: (-c[0] / len(c[1]) ** length_penalty, c[1]))
    return tokens, score


def spec_beam(model, prompt, max_new, end, width, length_penalty=0.0):
    """The documented beam rule, written plainly: (tokens, plain log-prob, model calls)."""
    calls = 0
    live, done = [((), 0.0)], []
    for _ in range(max_new):
        pool = []
        for seq, score in live:
            calls += 1
            for token, lp in enumerate(spec_log_softmax(model(prompt + list(seq)))):
                pool.append((seq + (token,), score + lp))
        pool.sort(key=lambda c: (-c[1], c[0]))
        kept = pool[:width]
        done += [c for c in kept if c[0][-1] == end]
        live = [c for c in kept if c[0][-1] != end]
        if not live:
            break
    done += live
    seq, score = min(done, key=lambda c: (-c[1] / max(1, len(c[0])) ** length_penalty, c[0]))
    return list(seq), score, calls


def assert_frequencies(counts, expected, n, what, hint=""):
    """Every outcome within 5 sigma (+ 5 counts) of its exact probability; probability-0 outcomes never seen."""
    for outcome in sorted(set(counts) | set(expected), key=repr):
        p = expected.get(outcome, 0.0)
        freq = counts.get(outcome, 0) / n
        if p == 0.0 and counts.get(outcome, 0):
            raise Mismatch(
                f"{what}: outcome {outcome!r} has probability 0 but came {counts[outcome]} times in {n}"
                + (f"\n  hint: {hint}" if hint else "")
            )
        tolerance = 5 * math.sqrt(p * (1 - p) / n) + 5 / n
        if abs(freq - p) > tolerance:
            raise Mismatch(
                f"{what}: outcome {outcome!r} came with frequency {freq:.4f} in {n} draws, exact "
                f"probability {p:.4f} (allowed |diff| <= {tolerance:.4f}: 5 sigma + 5 counts)"
                + (f"\n  hint: {hint}" if hint else "")
            )


# === the shipped checkpoint, read independently of the kata ===


@functools.lru_cache(maxsize=None)
def checkpoint_data():
    return json.loads(CHECKPOINT.read_text(encoding="utf-8"))


class CheckpointModel:
    """The documented n-gram formulas, from the checkpoint's counts.

    draft:  q(c | b)  = (N(b c) + alpha) / (N(b) + alpha V)
    target: p(c | ab) = (N(a b c) + beta q(c | b)) / (N(a b) + beta)
    """

    def __init__(self, kind, data=None):
        self.data = data or checkpoint_data()
        self.kind = kind
        self.vocab = self.data["vocab"]
        self.calls = 0
        self.memo = {}

    def probs(self, context):
        vocab, size = self.vocab, len(self.vocab)
        alpha = self.data["draft"]["alpha"]
        row = self.data["draft"]["counts"].get(context[-1], {})
        total = sum(row.values())
        q = [(row.get(c, 0) + alpha) / (total + alpha * size) for c in vocab]
        if self.kind == "draft":
            return q
        beta = self.data["target"]["beta"]
        row = self.data["target"]["counts"].get(context[-2:], {})
        total = sum(row.values())
        return [(row.get(c, 0) + beta * qc) / (total + beta) for c, qc in zip(vocab, q)]

    def __call__(self, prefix):
        self.calls += 1
        context = (".." + "".join(self.vocab[t] for t in prefix))[-2:]
        if context not in self.memo:
            self.memo[context] = [math.log(p) for p in self.probs(context)]
        return list(self.memo[context])

    def encode(self, text):
        return [self.vocab.index(c) for c in text]


_CHECKPOINT_TABLES = {}


def checkpoint_table(kind):
    """CheckpointModel(kind) by value: a Table of its rows for every context it reads (the last two tokens
    for the target, the last one for the draft), each row computed by CheckpointModel itself."""
    if kind not in _CHECKPOINT_TABLES:
        model = CheckpointModel(kind)
        context = 2 if kind == "target" else 1
        tokens = range(len(model.vocab))
        prefixes = [()] + [(t,) for t in tokens] + ([(a, b) for a in tokens for b in tokens] if context == 2 else [])
        _CHECKPOINT_TABLES[kind] = Table({prefix: model(list(prefix)) for prefix in prefixes}, context=context)
    return _CHECKPOINT_TABLES[kind]


# === task 1: greedy decoding ===


@pytest.mark.task("greedy_decode")
def test_greedy_matches_spec(kata):
    for seed in range(6):
        model = TableModel(seed, 5)
        prompt = [seed % 4, (seed * 3) % 4][: seed % 3]
        assert_equal(
            kata.greedy_decode(model, prompt, 6, 4),
            spec_greedy(model, prompt, 6, 4),
            f"greedy_decode(TableModel(seed={seed}, V=5), prompt={prompt}, max_new_tokens=6, end_token=4)",
            hint="call the model on prompt + generated so far; return only the new tokens",
        )


@pytest.mark.task("greedy_decode")
def test_greedy_ties_go_to_lowest_id(kata):
    model = DictModel({(): [0.0, 3.0, 3.0, 1.0], (1,): [2.0, 0.5, 2.0, 2.0]}, [0.0, 0.0, 0.0, 5.0])
    assert_equal(
        kata.greedy_decode(model, [], 5, 3),
        [1, 0, 3],
        "greedy_decode with tied logits [0, 3, 3, 1] then [2, .5, 2, 2]",
        hint="on ties take the lowest token id (the provided argmax does)",
    )


@pytest.mark.task("greedy_decode")
def test_greedy_stops_at_end_token_and_budget(kata):
    end_third = DictModel({(): [5, 0, 0], (0,): [0, 5, 0]}, [0, 0, 5])
    assert_equal(kata.greedy_decode(end_third, [], 9, 2), [0, 1, 2], "greedy stops right after end_token")
    assert_equal(kata.greedy_decode(end_third, [], 2, 2), [0, 1], "greedy stops after max_new_tokens=2")
    assert_equal(kata.greedy_decode(end_third, [0], 9, 2), [1, 2], "greedy with prompt [0] returns new tokens")
    assert_equal(kata.greedy_decode(end_third, [], 0, 2), [], "greedy with max_new_tokens=0")


@pytest.mark.task("greedy_decode")
def test_greedy_rejects_negative_length(kata):
    with pytest.raises(ValueError, match="max_new_tokens"):
        kata.greedy_decode(FixedModel([0.0, 1.0]), [], -1, 0)


@pytest.mark.task("sample_decode")
def test_sample_decode_rejects_negative_length(kata):
    with pytest.raises(ValueError, match="max_new_tokens"):
        kata.sample_decode(FixedModel([0.0, 1.0]), [], -1, 0, random.Random(1))


@pytest.mark.task("beam_search")
def test_beam_rejects_negative_length(kata):
    with pytest.raises(ValueError, match="max_new_tokens"):
        kata.beam_search(FixedModel([0.0, 1.0]), [], -1, 0, 2)


@pytest.mark.task("beam_search")
def test_beam_with_no_new_tokens_and_a_length_penalty(kata):
    # The empty hypothesis has length 0: the penalty must not divide by 0 ** alpha.
    got = kata.beam_search(FixedModel([0.0, 1.0]), [1], 0, 0, 2, length_penalty=0.7)
    assert_equal(list(got[0]), [], "beam_search(max_new_tokens=0, length_penalty=0.7) tokens",
                 hint="normalise by max(1, len(tokens)) ** alpha")
    assert_close(got[1], 0.0, 0.0, "beam_search(max_new_tokens=0, length_penalty=0.7) logprob")


@pytest.mark.task("speculative_decode")
def test_speculative_rejects_negative_length(kata):
    with pytest.raises(ValueError, match="max_new_tokens"):
        kata.speculative_decode(FixedModel([0.0, 1.0]), FixedModel([1.0, 0.0]), [], -1, 0, 2, random.Random(1))


# === task 2: temperature ===


@pytest.mark.task("softmax_with_temperature")
def test_temperature_closed_form(kata):
    for temperature in (1.0, 0.5, 2.5, 0.05):
        rng = random.Random(int(temperature * 100))
        logits = [rng.uniform(-4, 4) for _ in range(7)]
        assert_close(
            kata.softmax_with_temperature(logits, temperature),
            spec_softmax(logits, temperature),
            1e-12,
            f"softmax_with_temperature(7 logits, T={temperature})",
            hint="divide the LOGITS by T, then softmax; dividing probabilities after the softmax is wrong",
        )


@pytest.mark.task("softmax_with_temperature")
def test_temperature_large_and_infinite_logits(kata):
    logits = [1000.0, 998.0, -math.inf, 990.0]
    assert_close(
        kata.softmax_with_temperature(logits, 0.7),
        spec_softmax(logits, 0.7),
        1e-12,
        "softmax_with_temperature([1000, 998, -inf, 990], T=0.7)",
        hint="divide the logits by T, subtract the max before exp(); exp(-inf) is 0",
    )
    # A spread above 745 inside one row (and 1600 after T = 0.5): exp(max - min) overflows, exp(min - max)
    # underflows to 0; only the max-shifted form gets e/(1+e) and 1/(1+e) for the top two.
    e = math.e
    for logits, T in (([-800.0, 800.0, 799.0], 1.0), ([400.0, -400.0, 399.5], 0.5)):
        got = kata.softmax_with_temperature(logits, T)
        top = [0.0, e / (1 + e), 1 / (1 + e)] if T == 1.0 else [e / (1 + e), 0.0, 1 / (1 + e)]
        assert_close(got, top, 1e-12, f"softmax_with_temperature({logits}, T={T})",
                     hint="subtract the row's max (not its mean or min) before exp()")


@pytest.mark.task("softmax_with_temperature")
def test_temperature_must_be_positive(kata):
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            kata.softmax_with_temperature([0.0, 1.0], bad)


# === task 3: top-k ===

TOP_K_CASES = [
    # probs, k, kept ids
    ([0.1, 0.4, 0.2, 0.3], 2, {1, 3}),
    ([0.1, 0.4, 0.2, 0.3], 1, {1}),
    ([0.25, 0.25, 0.25, 0.25], 3, {0, 1, 2}),  # ties at the k-th value: lower ids win
    ([0.1, 0.3, 0.2, 0.3, 0.1], 2, {1, 3}),
    ([0.1, 0.3, 0.2, 0.2, 0.2], 2, {1, 2}),  # three tied for second place
    ([0.1, 0.3, 0.2, 0.2, 0.2], 4, {1, 2, 3, 4}),
    ([0.5, 0.0, 0.5], 3, {0, 1, 2}),
    ([0.2, 0.8], 5, {0, 1}),  # k > vocabulary: keep everything
]


@pytest.mark.task("top_k_filter")
def test_top_k_keeps_exactly_the_k_best(kata):
    for probs, k, kept in TOP_K_CASES:
        assert_close(
            kata.top_k_filter(list(probs), k),
            spec_keep(probs, kept),
            1e-12,
            f"top_k_filter({probs}, k={k}) (expected support {sorted(kept)})",
            hint="rank by probability descending, ties by LOWER id; keep exactly the first k, then renormalise",
        )


@pytest.mark.task("top_k_filter")
def test_top_k_random(kata):
    for seed in range(4):
        rng = random.Random(seed)
        probs = spec_softmax([rng.uniform(-3, 3) for _ in range(9)])
        for k in (1, 2, 5, 8, 9):
            assert_close(kata.top_k_filter(probs, k), spec_top_k(probs, k), 1e-12,
                         f"top_k_filter(9 random probs, seed {seed}, k={k})")


@pytest.mark.task("top_k_filter")
def test_top_k_rejects_bad_k(kata):
    for bad in (0, -2):
        with pytest.raises(ValueError, match=r"\bk\b"):
            kata.top_k_filter([0.5, 0.5], bad)


# === task 4: top-p ===

# Dyadic probabilities, so the running sums are exact and "mass >= p" is exact.
TOP_P_CASES = [
    ([0.5, 0.25, 0.125, 0.125], 0.75, {0, 1}),  # the sum reaches p exactly: stop there
    ([0.5, 0.25, 0.125, 0.125], 0.5, {0}),
    ([0.5, 0.25, 0.125, 0.125], 0.3, {0}),
    ([0.5, 0.25, 0.125, 0.125], 0.625, {0, 1}),
    ([0.5, 0.25, 0.125, 0.125], 0.875, {0, 1, 2}),  # the two 0.125 tie: lower id first
    ([0.5, 0.25, 0.125, 0.125], 1.0, {0, 1, 2, 3}),
    ([0.125, 0.375, 0.125, 0.375], 0.375, {1}),
    ([0.125, 0.375, 0.125, 0.375], 0.5, {1, 3}),  # unsorted input; tie at the top
    ([0.125, 0.375, 0.125, 0.375], 0.8, {0, 1, 3}),
    ([0.25, 0.25, 0.25, 0.25], 0.5, {0, 1}),
    ([0.0, 0.5, 0.0, 0.5], 1.0, {1, 3}),
]


@pytest.mark.task("top_p_filter")
def test_top_p_keeps_the_smallest_prefix_reaching_p(kata):
    for probs, p, kept in TOP_P_CASES:
        assert_close(
            kata.top_p_filter(list(probs), p),
            spec_keep(probs, kept),
            1e-12,
            f"top_p_filter({probs}, p={p}) (expected support {sorted(kept)})",
            hint="add tokens in ranked order until the kept mass is >= p; the token that crosses p stays; "
            "ties by lower id; renormalise",
        )


@pytest.mark.task("top_p_filter")
def test_top_p_random_and_minimal(kata):
    for seed in range(5):
        rng = random.Random(100 + seed)
        probs = spec_softmax([rng.uniform(-3, 3) for _ in range(11)])
        order = spec_rank(probs)
        sums = [sum(probs[i] for i in order[: n + 1]) for n in range(11)]
        for p in (0.2, 0.5, 0.77, 0.9, 0.99):
            if min(abs(s - p) for s in sums) < 1e-9:
                continue  # too close to a boundary for floating point to decide
            got = kata.top_p_filter(probs, p)
            assert_close(got, spec_top_p(probs, p), 1e-12, f"top_p_filter(11 random probs, seed {seed}, p={p})")
            kept = [i for i in order if got[i] > 0]
            mass = sum(probs[i] for i in kept)
            assert mass >= p, f"top_p_filter(p={p}) kept mass {mass:.4f} < p"
            assert mass - probs[kept[-1]] < p, f"top_p_filter(p={p}) is not the smallest prefix"


@pytest.mark.task("top_p_filter")
def test_top_p_rejects_bad_p(kata):
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\bp\b"):
            kata.top_p_filter([0.5, 0.5], bad)


# === task 5: sampling one token ===


@pytest.mark.task("sample_token")
def test_sample_token_frequencies(kata):
    probs = [0.05, 0.0, 0.5, 0.2, 0.0, 0.25]
    rng = random.Random(5)
    n = 20000
    counts = Counter(repeat(kata.sample_token, n, probs, rng))
    assert_frequencies(
        counts,
        {i: p for i, p in enumerate(probs)},
        n,
        "sample_token([.05, 0, .5, .2, 0, .25])",
        hint="walk the cumulative sum; return the first token with u < cumulative",
    )


@pytest.mark.task("sample_token")
def test_sample_token_one_hot(kata):
    rng = random.Random(3)
    draws = {kata.sample_token([0.0, 0.0, 1.0, 0.0], rng) for _ in range(200)}
    assert_equal(draws, {2}, "sample_token of the one-hot [0, 0, 1, 0] (200 draws)")


class FixedDraw:
    """An rng whose random() always returns u: probes the edges of the cumulative walk."""

    def __init__(self, u):
        self.u = u

    def random(self):
        return self.u


@pytest.mark.task("sample_token")
def test_sample_token_rounding_shortfall_returns_last_nonzero_token(kata):
    # probs summing to 0.9 (rounding upstream) and u = 0.95 above the total:
    # the docstring's rule is the last token of non-zero probability, never
    # a zero-probability token after it.
    got = kata.sample_token([0.3, 0.0, 0.3, 0.3, 0.0, 0.0], FixedDraw(0.95))
    assert_equal(got, 3, "sample_token([.3, 0, .3, .3, 0, 0]) with u = 0.95 above the total",
                 hint="remember the last token with p > 0; a zero-probability token is never returned")


# === task 6: sampling a sequence ===

SAMPLE_SETTINGS = [
    (1.0, None, None),
    (0.6, 3, None),
    (1.4, None, 0.6),
    (0.9, 2, 0.55),  # top-k first: 2 tokens, then the nucleus of those
]


@pytest.mark.task("sample_decode")
@pytest.mark.parametrize("setting", SAMPLE_SETTINGS, ids=lambda s: f"T{s[0]}-k{s[1]}-p{s[2]}")
def test_sample_decode_matches_filtered_distribution(kata, setting):
    temperature, top_k, top_p = setting
    model = TableModel(17, 5, scale=1.5)
    prompt = [2]
    n = 4000
    rng = random.Random(11)
    table = table_of(model, prompt, 5, 3)  # the same logits, called in the kata's process when isolated
    counts = Counter(tuple(tokens) for tokens in repeat(
        kata.sample_decode, n, table, prompt, 2, 4, rng, temperature=temperature, top_k=top_k, top_p=top_p))
    expected = spec_sequences(
        model, prompt, 2, 4, lambda logits: spec_step(logits, temperature, top_k, top_p)
    )
    assert_frequencies(
        counts,
        expected,
        n,
        f"sample_decode(T={temperature}, top_k={top_k}, top_p={top_p}): sequences of <= 2 tokens",
        hint="softmax(logits / T), then top-k, then top-p (each renormalised), then sample",
    )


@pytest.mark.task("sample_decode")
def test_sample_decode_filter_order(kata):
    # probs [0.4, 0.3, 0.2, 0.1]: top-k=2 then top-p=0.5 keeps only token 0
    # (0.4 / 0.7 >= 0.5); top-p first would keep tokens 0 and 1.
    model = Table({(): logs([0.4, 0.3, 0.2, 0.1])}, context=0)  # FixedModel by value: calls are not counted here
    rng = random.Random(2)
    seen = {out[0] for out in repeat_in_order(kata.sample_decode, 300, model, [], 1, 3, rng, top_k=2, top_p=0.5)}
    assert_equal(seen, {0}, "first tokens of sample_decode(probs [.4, .3, .2, .1], top_k=2, top_p=0.5)",
                 hint="apply top-k first, then top-p on the renormalised top-k distribution")


@pytest.mark.task("sample_decode")
def test_sample_decode_stops(kata):
    model = Table({(): [0.0, 0.0, 0.0]}, context=0)  # FixedModel by value: calls are not counted here
    rng = random.Random(4)
    for out in repeat_in_order(kata.sample_decode, 200, model, [1], 4, 2, rng):
        assert 1 <= len(out) <= 4, f"sample_decode(max_new_tokens=4) returned {out}"
        assert 2 not in out[:-1], f"sample_decode went on after end_token: {out}"
        assert len(out) == 4 or out[-1] == 2, f"sample_decode stopped early without end_token: {out}"


@pytest.mark.task("sample_decode")
def test_sample_decode_is_reproducible(kata):
    # All randomness comes from rng: the same seed gives the same tokens, whatever the global random
    # state (disturbed between the two runs). Each run must also be a possible output: top_k = 4 drops
    # token 2, and a run is 12 tokens long unless it stops right after end_token 4.
    model = FixedModel([0.3, 0.0, -0.2, 0.1, 0.25])
    state = random.getstate()
    try:
        for seed in (7, 8, 9):
            runs = []
            for disturb in (1, 2):
                random.seed(disturb)
                runs.append(kata.sample_decode(model, [1], 12, 4, random.Random(seed), top_k=4))
            what = f"sample_decode(max_new_tokens=12, end_token=4, top_k=4) with random.Random({seed})"
            assert_equal(runs[1], runs[0], f"{what}, run twice",
                         hint="draw only from the rng argument (no module-level random.*)")
            tokens = runs[0]
            assert isinstance(tokens, list) and all(t in (0, 1, 3, 4) for t in tokens), (
                f"{what} returned {tokens!r}: expected a list of tokens from the top 4 (0, 1, 3, 4)")
            stop = tokens.index(4) + 1 if 4 in tokens else 12
            assert_equal(len(tokens), stop, f"{what}: number of tokens",
                         hint="generate max_new_tokens tokens, or stop right after end_token")
    finally:
        random.setstate(state)


# === task 7: beam search ===


@pytest.mark.task("beam_search")
def test_beam_width_one_is_greedy(kata):
    for seed in range(200, 204):
        model = TableModel(seed, 5)
        tokens, logprob = kata.beam_search(model, [1], 6, 4, 1)
        greedy = spec_greedy(model, [1], 6, 4)
        assert_equal(tokens, greedy, f"beam_search(beam_width=1) on TableModel(seed={seed})",
                     hint="with one beam, the best candidate overall is the greedy token; a hypothesis stops"
                     " growing once it produced end_token")
        assert_close(logprob, spec_logprob(model, [1], greedy), 1e-9, "beam_search(beam_width=1): log-prob")


@pytest.mark.task("beam_search")
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_equals_exhaustive_search(kata, length_penalty):
    # 4 tokens (end = 3), up to 4 steps: 121 complete sequences. A beam of 256
    # keeps every candidate, so beam search must find the exhaustive optimum.
    for seed in range(300, 305):
        model = TableModel(seed, 4, scale=1.5)
        tokens, logprob = kata.beam_search(model, [], 4, 3, 256, length_penalty=length_penalty)
        best, best_lp = spec_exhaustive(model, [], 4, 3, length_penalty)
        what = f"beam_search(TableModel(seed={seed}), width 256 > all candidates, length_penalty={length_penalty})"
        assert_equal(
            tokens,
            best,
            f"{what} vs exhaustive search",
            hint="finished hypotheses (ending in end_token) stop growing; rank finished ones by "
            "logprob / len ** length_penalty",
        )
        assert_close(logprob, best_lp, 1e-9, f"{what}: returned log-prob (plain sum, before the penalty)")


@pytest.mark.task("beam_search")
@pytest.mark.parametrize("width", [2, 3, 4])
def test_beam_follows_the_documented_rule(kata, width):
    for seed in range(400, 404):
        model = TableModel(seed, 6, scale=2.5)
        tokens, logprob = kata.beam_search(model, [0, 5], 5, 5, width)
        want, want_lp, want_calls = spec_beam(TableModel(seed, 6, scale=2.5), [0, 5], 5, 5, width)
        what = f"beam_search(TableModel(seed={seed}, V=6), beam_width={width}, 5 steps)"
        assert_equal(
            tokens,
            want,
            what,
            hint="keep the beam_width best candidates over ALL parents' children, not the best per parent;"
            " hypotheses ending in end_token stop growing",
        )
        assert_close(logprob, want_lp, 1e-9, f"{what}: log-prob")
        assert_equal(model.calls, want_calls, f"{what}: model calls",
                     hint="one model call per live hypothesis per step")


@pytest.mark.task("beam_search")
def test_beam_escapes_the_greedy_trap(kata):
    # Token 0 looks best (0.5) but leads nowhere good; token 1 (0.4) then ends with 0.9.
    model = DictModel(
        {(): logs([0.5, 0.4, 0.1]), (0,): logs([0.34, 0.33, 0.33]), (1,): logs([0.05, 0.05, 0.9])},
        logs([0.3, 0.3, 0.4]),
    )
    tokens, logprob = kata.beam_search(model, [], 2, 2, 2)
    assert_equal(tokens, [1, 2], "beam_search(beam_width=2) on the greedy trap",
                 hint="keep the runner-up first token alive: 0.4 * 0.9 beats 0.5 * 0.34")
    assert_close(logprob, math.log(0.4) + math.log(0.9), 1e-9, "beam_search on the greedy trap: log-prob")


@pytest.mark.task("beam_search")
def test_beam_cross_parent_tie_at_the_cut_goes_to_the_smaller_list(kata):
    # V = 3, end = 2 (logit -1e3: never in the beam until it is the best).
    # Step 1: logits [0, .5]: a = log p(0) < b = log p(1), live [1] (b), [0] (a).
    # Step 2: after [1] the row is swapped, [.5, 0]; after [0] it is [0, .5]. The
    # log-probs are the same two floats, so [1, 1] scores b + a and [0, 1] scores
    # a + b: an exact tie (float + commutes), below [1, 0] (2b), and only one fits
    # in a beam of 2. The rule keeps the smaller list [0, 1], whose parent is the
    # WEAKER one; [1, 1] would win in the order the candidates were generated.
    # Step 3: [0, 1] ends for free (log p = 0) and wins, since b - a = .5 < log 3.
    model = DictModel(
        {(): [0.0, 0.5, -1e3], (1,): [0.5, 0.0, -1e3], (0,): [0.0, 0.5, -1e3], (0, 1): [-1e3, -1e3, 0.0]},
        [0.0, 0.0, 0.0],
    )
    tokens, logprob = kata.beam_search(model, [], 3, 2, 2)
    a, b = spec_log_softmax([0.0, 0.5, -1e3])[:2]
    assert_equal(list(tokens), [0, 1, 2], "beam_search(beam_width=2) with a tie between two parents' children at the cut",
                 hint="sort candidates by (-score, tokens): equal scores go to the lexicographically smaller list,"
                 " not to the child of the stronger parent")
    assert_close(logprob, a + b, 1e-12, "beam_search with a cross-parent tie: log-prob")


@pytest.mark.task("beam_search")
def test_beam_never_worse_than_greedy_on_the_checkpoint(kata):
    model = CheckpointModel("target")
    better = 0
    for letter in "abcejkmrsz":
        prompt = model.encode(letter)
        greedy_lp = spec_logprob(model, prompt, spec_greedy(model, prompt, 10, 0))
        for width in (2, 4):
            tokens, logprob = kata.beam_search(model, prompt, 10, 0, width)
            assert_close(logprob, spec_logprob(model, prompt, tokens), 1e-9,
                         f"beam_search(prompt {letter!r}, width {width}): returned log-prob vs its tokens")
            if logprob < greedy_lp - 1e-9:
                raise Mismatch(f"beam_search(prompt {letter!r}, width {width}) found log-prob {logprob:.4f} "
                               f"< greedy's {greedy_lp:.4f} on the shipped target model")
            better += logprob > greedy_lp + 1e-9
    assert better >= 5, f"beam search beat greedy in only {better} of 20 runs on the shipped target model"


@pytest.mark.task("beam_search")
def test_beam_edge_cases(kata):
    model = TableModel(9, 3)
    assert_equal(tuple(kata.beam_search(model, [], 0, 2, 3)), ([], 0.0), "beam_search(max_new_tokens=0)")
    with pytest.raises(ValueError, match="beam_width"):
        kata.beam_search(model, [], 3, 2, 0)


# === task 8: the residual distribution ===


@pytest.mark.task("residual_distribution")
def test_residual_closed_form(kata):
    p = [0.5, 0.1, 0.3, 0.1, 0.0]
    q = [0.2, 0.3, 0.1, 0.1, 0.3]
    # max(0, p - q) = [.3, 0, .2, 0, 0], normalised by 0.5
    assert_close(kata.residual_distribution(p, q), [0.6, 0.0, 0.4, 0.0, 0.0], 1e-12,
                 "residual_distribution(p, q)", hint="norm(max(0, p - q)): clip at 0, then divide by the sum")
    assert_close(kata.residual_distribution(p, list(p)), p, 1e-12, "residual_distribution(p, p) falls back to p")


@pytest.mark.task("residual_distribution")
def test_residual_rejects_mismatched_lengths(kata):
    with pytest.raises(ValueError, match=r"\bq\b"):
        kata.residual_distribution([0.5, 0.5], [1.0])


# === task 9: the acceptance probability ===


@pytest.mark.task("acceptance_probability")
def test_acceptance_is_sum_of_minimum(kata):
    for seed in range(4):
        rng = random.Random(seed)
        p = spec_softmax([rng.uniform(-2, 2) for _ in range(6)])
        q = spec_softmax([rng.uniform(-2, 2) for _ in range(6)])
        assert_close(
            kata.acceptance_probability(p, q),
            math.fsum(min(a, b) for a, b in zip(p, q)),
            1e-12,
            f"acceptance_probability(p, q) for random 6-token p, q (seed {seed})",
            hint="each drafted x is accepted with min(1, p(x)/q(x)); average that over x ~ q",
        )


@pytest.mark.task("acceptance_probability")
def test_acceptance_extremes(kata):
    p = [0.2, 0.3, 0.5]
    assert_close(kata.acceptance_probability(p, p), 1.0, 1e-12, "acceptance_probability(p, p)")
    assert_close(kata.acceptance_probability([0.0, 0.4, 0.6], [1.0, 0.0, 0.0]), 0.0, 1e-12,
                 "acceptance_probability with disjoint supports")
    assert_close(kata.acceptance_probability([0.9, 0.1], [0.5, 0.5]), 0.6, 1e-12,
                 "acceptance_probability([.9, .1], [.5, .5])", hint="min(1, p/q): a ratio above 1 counts as 1")


# === task 10: verifying a draft ===


@pytest.mark.task("speculative_verify")
def test_verify_output_is_distributed_as_target(kata):
    p = [0.1, 0.45, 0.05, 0.25, 0.15]
    q = [0.4, 0.1, 0.3, 0.2, 0.0]
    target_next = [0.2, 0.2, 0.2, 0.2, 0.2]
    draw = random.Random(21)  # the test draws the draft token itself, x ~ q
    rng = random.Random(22)
    n = 20000
    first, accepted = Counter(), 0
    drafted = [random_choice(q, draw) for _ in range(n)]
    # the arguments every call shares go once, by keyword (isolated: sent once, not 20000 times)
    verified = call_each(kata.speculative_verify, [([x],) for x in drafted],
                         draft_probs=[q], target_probs=[p, target_next], rng=rng)
    for x, (n_ok, nxt) in zip(drafted, verified):
        first[x if n_ok == 1 else nxt] += 1
        accepted += n_ok
    assert_frequencies(first, dict(enumerate(p)), n, "first emitted token of speculative_verify (x ~ q)",
                       hint="accept x with min(1, p(x)/q(x)); on rejection sample from norm(max(0, p - q))")
    alpha = math.fsum(min(a, b) for a, b in zip(p, q))
    assert_frequencies(Counter({"accept": accepted, "reject": n - accepted}),
                       {"accept": alpha, "reject": 1 - alpha}, n, "acceptance frequency of speculative_verify")


def random_choice(probs, rng):
    u, total = rng.random(), 0.0
    for token, p in enumerate(probs):
        total += p
        if u < total:
            return token
    return max(i for i, p in enumerate(probs) if p > 0)


@pytest.mark.task("speculative_verify")
def test_verify_bonus_token_when_all_accepted(kata):
    # p == q at every drafted position: every draft token is accepted, and the
    # next token is the bonus, drawn from the target's LAST distribution.
    dists = [[0.3, 0.3, 0.4], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25]]
    bonus = [0.05, 0.15, 0.8]
    rng = random.Random(8)
    n = 6000
    counts = Counter()
    for n_ok, nxt in repeat(kata.speculative_verify, n, [2, 1, 0], dists, dists + [bonus], rng):
        if n_ok != 3:
            raise Mismatch(f"speculative_verify with p == q accepted {n_ok} of 3 draft tokens, expected all 3")
        counts[nxt] += 1
    assert_frequencies(counts, dict(enumerate(bonus)), n, "bonus token of speculative_verify",
                       hint="after n acceptances sample the bonus token from target_probs[n]")


@pytest.mark.task("speculative_verify")
def test_verify_rejects_a_token_the_target_forbids(kata):
    rng = random.Random(1)
    for n_ok, nxt in repeat_in_order(kata.speculative_verify, 300, [0, 1], [[0.7, 0.3, 0.0], [0.5, 0.5, 0.0]],
                              [[0.0, 0.5, 0.5], [0.2, 0.4, 0.4], [1.0, 0.0, 0.0]], rng):
        assert n_ok == 0 and nxt in (1, 2), f"p(x) = 0 must reject x at once; got ({n_ok}, {nxt})"
    # The outcome is certain: a few calls suffice.
    # The target forbids the SECOND draft token: the first (p = q) is always accepted.
    for n_ok, nxt in repeat_in_order(kata.speculative_verify, 40, [1, 0], [[0.2, 0.8, 0.0], [0.6, 0.1, 0.3]],
                              [[0.2, 0.8, 0.0], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], rng):
        assert n_ok == 1 and nxt in (1, 2), (
            f"draft [1, 0]: p(1) = q(1) accepts the first token, p(0) = 0 rejects the second; got ({n_ok}, {nxt})")


@pytest.mark.task("speculative_verify")
def test_verify_rejects_wrong_number_of_target_distributions(kata):
    with pytest.raises(ValueError, match="target_probs"):
        kata.speculative_verify([0], [[0.5, 0.5]], [[0.5, 0.5]], random.Random(0))


@pytest.mark.task("speculative_verify")
@pytest.mark.parametrize("draft_probs", [[], [[0.5, 0.5], [0.5, 0.5]]], ids=["none", "one-too-many"])
def test_verify_rejects_wrong_number_of_draft_distributions(kata, draft_probs):
    with pytest.raises(ValueError, match="draft_probs"):
        kata.speculative_verify([0], draft_probs, [[0.5, 0.5], [0.5, 0.5]], random.Random(0))


# === task 11: speculative decoding ===


def spec_pair(seed, vocab=4, banned=()):
    """A target and a noticeably different draft over the same vocabulary."""
    target = TableModel(seed, vocab, scale=1.5, banned=banned)
    draft = TableModel(seed + 1000, vocab, scale=1.0, banned=banned)
    return target, draft


@pytest.mark.task("speculative_decode")
@pytest.mark.parametrize("gamma,temperature", [(2, 1.0), (3, 0.7)])
def test_speculative_output_is_distributed_as_target(kata, gamma, temperature):
    target, draft = spec_pair(31 + gamma)
    n = 6000
    rng = random.Random(gamma)
    tables = table_of(target, [1], 4, 4), table_of(draft, [1], 4, 4)  # the same logits, by value
    counts = Counter(tuple(tokens) for tokens, _ in repeat(
        kata.speculative_decode, n, *tables, [1], 3, 3, gamma, rng, temperature=temperature))
    expected = spec_sequences(target, [1], 3, 3, lambda logits: spec_softmax(logits, temperature))
    assert_frequencies(
        counts,
        expected,
        n,
        f"speculative_decode(gamma={gamma}, T={temperature}): sequences of <= 3 tokens vs the target's",
        hint="accept x with min(1, p(x)/q(x)); on rejection sample from norm(max(0, p - q)), after n acceptances"
        " the bonus from target_probs[n]; a round emits the accepted prefix plus ONE more token; "
        "draft at most (tokens left - 1)",
    )


@pytest.mark.task("speculative_decode")
@pytest.mark.parametrize("gamma", [1, 2, 4])
def test_greedy_speculative_equals_target_greedy(kata, gamma):
    for seed in range(50, 53):
        target, draft = spec_pair(seed, vocab=5)
        tokens, stats = kata.speculative_decode(target, draft, [0], 8, 4, gamma, random.Random(seed), greedy=True)
        assert_equal(tokens, spec_greedy(target, [0], 8, 4),
                     f"speculative_decode(greedy=True, gamma={gamma}, models seed {seed}) vs the target's greedy tokens",
                     hint="greedy: both distributions are one-hot at their argmax; the same accept/residual rule,"
                     " and the bonus token comes from target_probs[n] after n acceptances")


@pytest.mark.task("speculative_decode")
def test_greedy_speculative_on_the_checkpoint(kata):
    target, draft = CheckpointModel("target"), CheckpointModel("draft")
    for letter in "adkmoz":
        prompt = target.encode(letter)
        for gamma in (2, 5):
            tokens, stats = kata.speculative_decode(target, draft, prompt, 12, 0, gamma, random.Random(0), greedy=True)
            assert_equal(tokens, spec_greedy(target, prompt, 12, 0),
                         f"greedy speculative_decode(prompt {letter!r}, gamma={gamma}) on the shipped models")


@pytest.mark.task("speculative_decode")
def test_speculative_is_reproducible(kata):
    # Same seed, same (tokens, stats), whatever the global random state (disturbed between the runs).
    # The end token 4 is banned, so each run is 9 tokens from 0..3 and its stats add up.
    target, draft = spec_pair(71, vocab=5, banned=[4])
    state = random.getstate()
    try:
        for seed in (5, 6, 7):
            runs = []
            for disturb in (1, 2):
                random.seed(disturb)
                runs.append(kata.speculative_decode(target, draft, [], 9, 4, 2, random.Random(seed)))
            what = f"speculative_decode(9 tokens, gamma=2) with random.Random({seed})"
            assert_equal(runs[1], runs[0], f"{what}, run twice",
                         hint="draw only from the rng argument (no module-level random.*)")
            tokens, stats = runs[0]
            assert isinstance(tokens, list) and all(t in range(4) for t in tokens), (
                f"{what}: tokens {tokens!r}, expected tokens from 0..3 (4 is banned)")
            assert_equal(len(tokens), 9, f"{what}: number of tokens")
            assert_equal(stats["accepted"] + stats["rounds"], 9, f"{what}: accepted + rounds",
                         hint="every round emits its accepted draft tokens plus one (residual or bonus) token")
    finally:
        random.setstate(state)


@pytest.mark.task("speculative_decode")
@pytest.mark.parametrize("gamma", [1, 3])
def test_speculative_counts(kata, gamma):
    for seed in range(3):
        # No end token (banned): every run makes exactly max_new_tokens tokens.
        target, draft = spec_pair(60 + seed, vocab=5, banned=[4])
        tokens, stats = kata.speculative_decode(target, draft, [], 9, 4, gamma, random.Random(seed))
        what = f"speculative_decode(gamma={gamma}, 9 tokens, models seed {60 + seed})"
        assert_equal(len(tokens), 9, f"{what}: number of tokens")
        assert_equal(target.calls, stats["target_calls"], f"{what}: target calls counted vs stats['target_calls']")
        assert_equal(draft.calls, stats["draft_calls"], f"{what}: draft calls counted vs stats['draft_calls']")
        assert_equal(stats["target_calls"], stats["drafted"] + stats["rounds"], f"{what}: target_calls",
                     hint="each round evaluates the target at drafted + 1 positions")
        assert_equal(stats["draft_calls"], stats["drafted"], f"{what}: draft_calls")
        assert_equal(stats["accepted"] + stats["rounds"], 9, f"{what}: accepted + rounds",
                     hint="every round emits its accepted draft tokens plus one (residual or bonus) token")
        assert 0 <= stats["accepted"] <= stats["drafted"], f"{what}: accepted {stats['accepted']} > drafted"


@pytest.mark.task("speculative_decode")
def test_perfect_draft_closed_form(kata):
    target = TableModel(70, 4, banned=[3])
    for gamma, length in [(1, 7), (2, 9), (3, 10), (4, 3), (6, 1)]:
        tokens, stats = kata.speculative_decode(target, target, [2], length, 3, gamma, random.Random(1))
        rounds = -(-length // (gamma + 1))
        assert_equal(
            (len(tokens), stats["rounds"], stats["drafted"], stats["accepted"], stats["target_calls"]),
            (length, rounds, length - rounds, length - rounds, length),
            f"(tokens, rounds, drafted, accepted, target_calls) with draft == target, gamma={gamma}, "
            f"{length} tokens",
            hint="a perfect draft is always accepted: gamma + 1 tokens per round (bonus included); never draft "
            "more than tokens left - 1",
        )


@pytest.mark.task("speculative_decode")
def test_speculative_acceptance_on_the_checkpoint(kata):
    # The seed's criterion: the draft's tokens are accepted at least half the time.
    # Model calls are not counted here (test_speculative_counts counts them), so the two
    # models go by value and the 150 names are decoded in one round trip when isolated, with the same rng.
    target, draft = checkpoint_table("target"), checkpoint_table("draft")
    rng = random.Random(42)
    totals = Counter()
    produced = 0
    names = 150
    for tokens, stats in repeat(kata.speculative_decode, names, target, draft, [], 15, 0, 2, rng):
        produced += len(tokens)
        totals.update(stats)
    rate = totals["accepted"] / totals["drafted"]
    assert rate >= 0.5, f"acceptance rate {rate:.3f} < 0.5 on the shipped bigram/trigram pair (gamma=2)"
    # Each round yields accepted + 1 tokens, except a name's last round when it
    # ends on an accepted end token.
    assert totals["accepted"] + totals["rounds"] - names <= produced <= totals["accepted"] + totals["rounds"], (
        f"{produced} tokens from {totals['rounds']} rounds with {totals['accepted']} accepted drafts"
    )
    assert produced / totals["rounds"] > 1.5, f"only {produced / totals['rounds']:.2f} tokens per target pass"


@pytest.mark.task("speculative_decode")
def test_speculative_rejects_bad_gamma(kata):
    target, draft = spec_pair(1)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="gamma"):
            kata.speculative_decode(target, draft, [], 3, 3, bad, random.Random(0))


# === the shipped checkpoint regenerates ===


@pytest.mark.slow
@pytest.mark.task("greedy_decode")
def test_checkpoint_regenerates(kata):
    """`python solutions/microbeam/microbeam.py --train` reproduces tests/data/microbeam/ngram_models.json."""
    fresh = json.loads(json.dumps(kata.train_checkpoint(NAMES)))
    assert_equal(fresh == checkpoint_data(), True, "train_checkpoint(data/names.txt) == shipped checkpoint")
    shipped, regenerated = CheckpointModel("target"), CheckpointModel("target", fresh)
    for letter in "aeimz":
        prompt = shipped.encode(letter)
        assert_equal(kata.greedy_decode(regenerated, prompt, 10, 0), kata.greedy_decode(shipped, prompt, 10, 0),
                     f"greedy names from prompt {letter!r}: regenerated vs shipped checkpoint")


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===

BAD_LENGTHS = (-1, 2.5, math.nan, True, 1.0)


@pytest.mark.task("greedy_decode")
def test_greedy_refuses_every_bad_length(kata):
    for bad in BAD_LENGTHS:
        with pytest.raises(ValueError, match="max_new_tokens"):
            kata.greedy_decode(FixedModel([0.0, 1.0]), [], bad, 0)


@pytest.mark.task("sample_decode")
def test_sample_decode_refuses_every_bad_length(kata):
    for bad in BAD_LENGTHS:
        with pytest.raises(ValueError, match="max_new_tokens"):
            kata.sample_decode(FixedModel([0.0, 1.0]), [], bad, 0, random.Random(1))


@pytest.mark.task("beam_search")
def test_beam_refuses_every_bad_length_and_width(kata):
    for bad in BAD_LENGTHS:
        with pytest.raises(ValueError, match="max_new_tokens"):
            kata.beam_search(FixedModel([0.0, 1.0]), [], bad, 0, 2)
    for bad in (0, -1, 2.5, math.nan, True, 2.0):
        with pytest.raises(ValueError, match="beam_width"):
            kata.beam_search(FixedModel([0.0, 1.0]), [], 0, 0, bad)  # no new tokens: still checked


@pytest.mark.task("speculative_decode")
def test_speculative_refuses_every_bad_length_and_gamma(kata):
    target, draft = spec_pair(1)
    for bad in BAD_LENGTHS:
        with pytest.raises(ValueError, match="max_new_tokens"):
            kata.speculative_decode(target, draft, [], bad, 3, 2, random.Random(0))
    for bad in (0, -1, 2.5, math.nan, True, 2.0):
        with pytest.raises(ValueError, match="gamma"):
            kata.speculative_decode(target, draft, [], 0, 3, bad, random.Random(0))  # no new tokens: still checked


@pytest.mark.task("softmax_with_temperature")
def test_temperature_refuses_nan_and_minus_zero(kata):
    for bad in (math.nan, -0.0, -math.inf):
        with pytest.raises(ValueError, match="temperature"):
            kata.softmax_with_temperature([0.0, 1.0], bad)


@pytest.mark.task("top_k_filter")
def test_top_k_refuses_every_bad_k(kata):
    for bad in (2.5, math.nan, True, 1.0):
        with pytest.raises(ValueError, match=r"\bk\b"):
            kata.top_k_filter([0.5, 0.5], bad)


@pytest.mark.task("top_p_filter")
def test_top_p_refuses_nan_and_just_above_one(kata):
    for bad in (math.nan, 1.0 + 2**-52, math.inf):
        with pytest.raises(ValueError, match=r"\bp\b"):
            kata.top_p_filter([0.5, 0.5], bad)
    assert_close(kata.top_p_filter([0.25, 0.75], 1.0), [0.25, 0.75], 1e-12, "top_p_filter([0.25, 0.75], p=1.0)",
                 hint="p = 1 is allowed and keeps every token")


@pytest.mark.task("residual_distribution")
def test_residual_rejects_q_too_long(kata):
    with pytest.raises(ValueError, match=r"\bq\b"):
        kata.residual_distribution([0.5, 0.5], [0.25, 0.25, 0.5])


@pytest.mark.task("speculative_verify")
def test_verify_rejects_one_target_distribution_too_many(kata):
    with pytest.raises(ValueError, match="target_probs"):
        kata.speculative_verify([0], [[0.5, 0.5]], [[0.5, 0.5]] * 3, random.Random(0))
    with pytest.raises(ValueError, match="target_probs"):
        kata.speculative_verify([], [], [], random.Random(0))  # no draft tokens: still one target distribution
