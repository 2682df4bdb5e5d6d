"""Graded tests for microkv: decoding with and without a KV cache.

Expected values come from an independent naive transformer written below
(it reads the model's weights and recomputes everything with math.fsum,
attention matrix and all), from closed forms of the multiplication counts
derived here, or from properties: cached equals uncached, prefill equals
token-by-token decoding, the cache holds 2 * n_layer * d floats per position.

The work is counted by this file's own CountingOps, handed to the kata in
place of its Ops: every matvec, dot and weighted_sum the model helpers make
is tallied here, independently of the kata's code. Tests that grade only
logits, tokens or the cache pass the kata's given Ops instead: under
isolated grading it runs where the kata runs, while each call of a
CountingOps is a round trip back to the grader.
"""

import copy
import math
import random

import pytest

from workbook.checks import assert_close, assert_equal, kata_list

TOL = 1e-9  # the criterion: cached and uncached logits within 1e-9


# === the grader's counting wrapper ===


class CountingOps:
    """Same interface as the kata's Ops; counts multiplications on its own."""

    def __init__(self):
        self.weight_mults = 0
        self.attention_mults = 0

    @property
    def mults(self):
        return self.weight_mults + self.attention_mults

    def counts(self):
        return (self.weight_mults, self.attention_mults)

    def matvec(self, W, x):
        assert all(len(row) == len(x) for row in W), "matvec: a weight row and x differ in length"
        self.weight_mults += len(W) * len(x)
        return [sum(w * v for w, v in zip(row, x)) for row in W]

    def dot(self, a, b):
        assert len(a) == len(b), "dot: vectors differ in length"
        self.attention_mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def weighted_sum(self, weights, rows):
        assert len(weights) == len(rows), "weighted_sum: one weight per row"
        self.attention_mults += len(weights) * len(rows[0])
        return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(len(rows[0]))]


# === the independent spec ===

# (vocab, d_model, n_layer, n_head, d_ff, max_len, seed): d is never a power
# of two, one config has a single head, one has three layers.
CONFIGS = {
    "A": (11, 6, 2, 2, 10, 24, 3),
    "B": (13, 9, 3, 3, 7, 20, 11),
    "C": (7, 5, 2, 1, 9, 14, 5),
    "D": (3, 8, 2, 2, 6, 9, 17),  # a vocabulary smaller than the hidden size
}


def make_model(kata, name):
    vocab, d, layers, heads, d_ff, max_len, seed = CONFIGS[name]
    config = kata.Config(vocab_size=vocab, d_model=d, n_layer=layers, n_head=heads, d_ff=d_ff, max_len=max_len)
    return kata.init_model(config, seed=seed)


def _rms(x):
    return [v / math.sqrt(math.fsum(u * u for u in x) / len(x) + 1e-5) for v in x]


def _mat(W, x):
    return [math.fsum(w * v for w, v in zip(row, x)) for row in W]


def spec_forward(model, tokens):
    """Naive causal forward pass: (logits per position, K[layer][pos], V[layer][pos])."""
    cfg = model.config
    d, heads = cfg.d_model, cfg.n_head
    hd = d // heads
    X = [[model.wte[t][c] + model.wpe[p][c] for c in range(d)] for p, t in enumerate(tokens)]
    all_k, all_v = [], []
    for w in model.layers:
        H = [_rms(x) for x in X]
        Q = [_mat(w["wq"], h) for h in H]
        K = [_mat(w["wk"], h) for h in H]
        V = [_mat(w["wv"], h) for h in H]
        all_k.append(K)
        all_v.append(V)
        A = []
        for i in range(len(X)):
            row = []
            for h in range(heads):
                cols = range(h * hd, (h + 1) * hd)
                logits = [math.fsum(Q[i][c] * K[j][c] for c in cols) / math.sqrt(hd) for j in range(i + 1)]
                top = max(logits)
                e = [math.exp(s - top) for s in logits]
                z = math.fsum(e)
                row += [math.fsum(e[j] * V[j][c] for j in range(i + 1)) / z for c in cols]
            A.append(row)
        X = [[a + b for a, b in zip(x, _mat(w["wo"], a_))] for x, a_ in zip(X, A)]
        X = [
            [a + b for a, b in zip(x, _mat(w["w2"], [max(0.0, u) for u in _mat(w["w1"], _rms(x))]))]
            for x in X
        ]
    return [_mat(model.lm_head, _rms(x)) for x in X], all_k, all_v


def spec_argmax(values):
    best = max(values)
    return values.index(best)


_GREEDY = {}


def spec_greedy(model, name, prompt, n_new):
    """Greedy tokens and the logits each was chosen from; checks no near-ties."""
    key = (name, tuple(prompt), n_new)
    if key not in _GREEDY:
        tokens = list(prompt)
        new, step_logits = [], []
        for _ in range(n_new):
            logits = spec_forward(model, tokens)[0][-1]
            ranked = sorted(logits, reverse=True)
            assert ranked[0] - ranked[1] > 1e-6, "test fixture has a near-tie; pick another seed"
            new.append(spec_argmax(logits))
            step_logits.append(logits)
            tokens.append(new[-1])
        _GREEDY[key] = (new, step_logits)
    return _GREEDY[key]


def prompt_for(name, length, salt=0):
    vocab = CONFIGS[name][0]
    rng = random.Random(1000 * length + salt + ord(name))
    return [rng.randrange(vocab) for _ in range(length)]


# === the closed forms ===


def weight_per_position(model):
    """One position through every layer: Wq, Wk, Wv, Wo, W1, W2, then lm_head."""
    c = model.config
    per_layer = 3 * c.d_model * c.d_model + c.d_model * c.d_model + c.d_ff * c.d_model + c.d_model * c.d_ff
    return c.n_layer * per_layer + c.vocab_size * c.d_model


def attention_per_query(model, n_keys):
    """A query over n_keys keys: a d-long score dot product and a d-wide weighted
    sum per key (summed over heads), at every layer."""
    c = model.config
    return c.n_layer * n_keys * (c.d_model + c.d_model)


def expected_rows(model, first_position, count):
    """Counts of running `count` positions from first_position, each attending to all before it."""
    weight = count * weight_per_position(model)
    attention = sum(attention_per_query(model, p + 1) for p in range(first_position, first_position + count))
    return weight, attention


def cache_float_count(cache, n_layer):
    """Floats in the cache, counted by walking its lists (not by the kata)."""
    return sum(len(vec) for layer in range(n_layer) for vec in cache.keys[layer] + cache.values[layer])


def snapshot(cache, n_layer):
    return [(copy.deepcopy(cache.keys[layer]), copy.deepcopy(cache.values[layer])) for layer in range(n_layer)]


def assert_cache_matches(cache, all_k, all_v, what, hint=""):
    for layer in range(len(all_k)):
        assert_close(cache.keys[layer], all_k[layer], TOL, f"{what}: cache.keys[{layer}]", hint=hint)
        assert_close(cache.values[layer], all_v[layer], TOL, f"{what}: cache.values[{layer}]", hint=hint)


# === task 1: forward_full ===


@pytest.mark.task("forward_full")
@pytest.mark.parametrize("name,length", [("A", 1), ("A", 7), ("B", 5), ("B", 20), ("C", 14), ("D", 9)])
def test_forward_full_matches_spec(kata, name, length):
    model = make_model(kata, name)
    tokens = prompt_for(name, length)
    got = kata.forward_full(model, tokens, kata.Ops())  # values graded: the kata's own Ops runs where the kata does
    assert_close(
        got,
        spec_forward(model, tokens)[0],
        TOL,
        f"forward_full(config {name}, {length} tokens)",
        hint="position i attends to keys/values 0..i (itself included); logits for every position",
    )


@pytest.mark.task("forward_full")
@pytest.mark.parametrize("name,length", [("A", 1), ("A", 6), ("B", 11), ("C", 3)])
def test_forward_full_counts_every_multiplication(kata, name, length):
    model = make_model(kata, name)
    ops = CountingOps()
    kata.forward_full(model, prompt_for(name, length), ops)
    assert_equal(
        ops.counts(),
        expected_rows(model, 0, length),
        f"(weight_mults, attention_mults) of forward_full(config {name}, {length} tokens)",
        hint="pass ops to every helper; every position is projected once per layer and gets logits",
    )


@pytest.mark.task("forward_full")
def test_forward_full_rejects_bad_tokens(kata):
    model = make_model(kata, "C")
    for bad in ([], [0, 7], [-1], [0] * 15):
        with pytest.raises(ValueError, match="tokens"):
            kata.forward_full(model, bad, CountingOps())


# === task 2: generate_uncached ===


@pytest.mark.task("generate_uncached")
@pytest.mark.parametrize("name,prompt_len,n_new", [("A", 1, 6), ("A", 4, 9), ("B", 3, 8), ("C", 2, 1)])
def test_uncached_generation_matches_spec(kata, name, prompt_len, n_new):
    model = make_model(kata, name)
    prompt = prompt_for(name, prompt_len)
    tokens, logits = kata.generate_uncached(model, list(prompt), n_new, kata.Ops())
    want_tokens, want_logits = spec_greedy(model, name, prompt, n_new)
    assert_close(
        logits, want_logits, TOL, f"generate_uncached(config {name}, prompt of {prompt_len}) step logits",
        hint="each step's logits are the LAST position's logits of a forward pass over everything so far",
    )
    assert_equal(tokens, want_tokens, f"generate_uncached(config {name}, prompt of {prompt_len}) tokens",
                 hint="greedy: argmax of each step's logits, appended before the next step")


@pytest.mark.task("generate_uncached")
@pytest.mark.parametrize("name,prompt_len,n_new", [("A", 3, 5), ("B", 1, 4)])
def test_uncached_work_recomputes_the_prefix(kata, name, prompt_len, n_new):
    model = make_model(kata, name)
    ops = CountingOps()
    kata.generate_uncached(model, prompt_for(name, prompt_len), n_new, ops)
    weight = attention = 0
    for length in range(prompt_len, prompt_len + n_new):  # one full forward per new token
        w, a = expected_rows(model, 0, length)
        weight, attention = weight + w, attention + a
    assert_equal(
        ops.counts(),
        (weight, attention),
        f"(weight_mults, attention_mults) of generate_uncached(config {name}, prompt {prompt_len}, n_new {n_new})",
        hint="one forward_full per new token, over prompt + tokens so far; the last new token is not fed back",
    )


@pytest.mark.task("generate_uncached")
def test_uncached_rejects_bad_arguments(kata):
    model = make_model(kata, "C")  # max_len 14
    for n_new in (0, -2, 13):  # 13: a prompt of 3 would need 15 positions
        with pytest.raises(ValueError, match="n_new"):
            kata.generate_uncached(model, [1, 2, 3], n_new, CountingOps())
    for prompt in ([], [1, 99]):
        with pytest.raises(ValueError, match="prompt"):
            kata.generate_uncached(model, prompt, 2, CountingOps())


# === task 3: the cache's storage ===


@pytest.mark.task("KVCache.__init__")
@pytest.mark.parametrize("n_layer,d", [(1, 4), (3, 5)])
def test_new_cache_has_separate_empty_lists_per_layer(kata, n_layer, d):
    cache = kata.KVCache(n_layer, d)
    assert_equal((cache.n_layer, cache.d_model), (n_layer, d), "KVCache(n_layer, d_model) attributes")
    assert_equal((cache.keys, cache.values), ([[]] * n_layer, [[]] * n_layer), f"KVCache({n_layer}, {d}) keys, values")
    distinct = len({id(lst) for lst in cache.keys + cache.values})
    assert_equal(
        distinct, 2 * n_layer, "number of distinct lists among cache.keys + cache.values",
        hint="[[]] * n puts the SAME list in every slot: build a new list per layer",
    )
    assert_equal(len(cache), 0, "len(new cache)")


@pytest.mark.task("KVCache.__init__")
def test_cache_rejects_bad_sizes(kata):
    for n_layer in (0, -1):
        with pytest.raises(ValueError, match="n_layer"):
            kata.KVCache(n_layer, 4)
    with pytest.raises(ValueError, match="d_model"):
        kata.KVCache(2, 0)


@pytest.mark.task("KVCache.append")
def test_append_grows_only_its_layer(kata):
    cache = kata.KVCache(3, 2)
    k, v = kata_list(kata, [1.0, 2.0]), kata_list(kata, [3.0, 4.0])  # lists the kata gets as themselves
    cache.append(1, k, v)
    k[0], v[0] = 99.0, 99.0  # the caller reuses its lists: the cache must not change
    cache.append(1, [5.0, 6.0], [7.0, 8.0])
    cache.append(0, [0.5, 0.25], [0.125, 0.0625])
    assert_equal(
        (cache.keys, cache.values),
        ([[[0.5, 0.25]], [[1.0, 2.0], [5.0, 6.0]], []], [[[0.125, 0.0625]], [[3.0, 4.0], [7.0, 8.0]], []]),
        "cache after append(1, ...), append(1, ...), append(0, ...)",
        hint="append to keys[layer] and values[layer] only, one entry each, storing copies",
    )
    assert_equal(cache_float_count(cache, 3), 12, "floats in the cache after three appends of 2-float k and v")


@pytest.mark.task("KVCache.append")
def test_append_rejects_bad_layer_or_width(kata):
    cache = kata.KVCache(2, 3)
    for layer in (2, -1):
        with pytest.raises(ValueError, match="layer"):
            cache.append(layer, [0.0] * 3, [0.0] * 3)
    with pytest.raises(ValueError, match=r"\bk\b"):
        cache.append(0, [0.0] * 2, [0.0] * 3)
    with pytest.raises(ValueError, match=r"\bv\b"):
        cache.append(0, [0.0] * 3, [0.0] * 4)
    assert_equal((cache.keys, cache.values), ([[], []], [[], []]), "cache after rejected appends",
                 hint="validate before appending anything")


# === task 4: decode_step ===


@pytest.mark.task("decode_step")
@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_decode_steps_match_spec(kata, name):
    model = make_model(kata, name)
    cfg = model.config
    tokens = prompt_for(name, cfg.max_len, salt=7)  # fill the cache to max_len
    logits, all_k, all_v = spec_forward(model, tokens)
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    ops = kata.Ops()  # values graded, not counts (test_decode_step_work_is_constant_plus_linear counts)
    for position, token in enumerate(tokens):
        got = kata.decode_step(model, token, cache, ops)
        assert_close(
            got, logits[position], TOL, f"decode_step of token {position} (config {name})",
            hint="embed at position len(cache); append this k, v BEFORE attending so the token sees itself",
        )
    assert_cache_matches(cache, all_k, all_v, f"cache after {len(tokens)} decode steps (config {name})",
                         hint="each layer has its own lists; append exactly once per layer per token")


@pytest.mark.task("decode_step")
@pytest.mark.parametrize("name", ["A", "B"])
def test_decode_step_work_is_constant_plus_linear(kata, name):
    model = make_model(kata, name)
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    for position, token in enumerate(prompt_for(name, 9)):
        ops = CountingOps()
        kata.decode_step(model, token, cache, ops)
        assert_equal(
            ops.counts(),
            expected_rows(model, position, 1),
            f"(weight_mults, attention_mults) of decode_step at position {position} (config {name})",
            hint="project ONLY the new token (constant weight work); one query over position+1 cached keys",
        )


@pytest.mark.task("decode_step")
def test_cache_grows_by_two_layers_times_d_per_token(kata):
    model = make_model(kata, "B")
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    ops = kata.Ops()  # the cache is graded here, the work elsewhere
    for position, token in enumerate(prompt_for("B", 8)):
        before = snapshot(cache, cfg.n_layer)
        kata.decode_step(model, token, cache, ops)
        assert_equal(
            cache_float_count(cache, cfg.n_layer),
            2 * cfg.n_layer * cfg.d_model * (position + 1),
            f"floats in the cache after {position + 1} decode steps",
            hint="one k and one v of d floats per layer per token: append once per layer",
        )
        assert_equal(len(cache), position + 1, f"len(cache) after {position + 1} decode steps")
        for layer in range(cfg.n_layer):
            assert_equal(
                (cache.keys[layer][:position], cache.values[layer][:position]),
                before[layer],
                f"layer {layer}'s earlier cache entries after decode step {position}",
                hint="the cache is append-only: never rewrite earlier entries",
            )


@pytest.mark.task("decode_step")
def test_decode_rejects_bad_token_full_or_mismatched_cache(kata):
    model = make_model(kata, "C")
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    with pytest.raises(ValueError, match="token"):
        kata.decode_step(model, cfg.vocab_size, cache, CountingOps())
    ops = kata.Ops()
    for token in prompt_for("C", cfg.max_len):
        kata.decode_step(model, token, cache, ops)
    with pytest.raises(ValueError, match="token"):  # position max_len has no embedding
        kata.decode_step(model, 0, cache, CountingOps())
    with pytest.raises(ValueError, match="cache"):
        kata.decode_step(model, 0, kata.KVCache(cfg.n_layer + 1, cfg.d_model), CountingOps())


# === task 5: prefill ===


@pytest.mark.task("prefill")
@pytest.mark.parametrize("name,length", [("A", 1), ("A", 8), ("B", 13), ("C", 14)])
def test_prefill_matches_spec(kata, name, length):
    model = make_model(kata, name)
    cfg = model.config
    tokens = prompt_for(name, length, salt=3)
    logits, all_k, all_v = spec_forward(model, tokens)
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    got = kata.prefill(model, tokens, cache, kata.Ops())  # values graded; the work is graded below
    assert_close(got, logits, TOL, f"prefill(config {name}, {length} tokens) logits",
                 hint="chunk token i attends to cache entries 0..i only: the whole chunk is cached by then")
    assert_cache_matches(cache, all_k, all_v, f"cache after prefill of {length} tokens (config {name})")


@pytest.mark.task("prefill")
@pytest.mark.parametrize("name,length", [("A", 1), ("A", 9), ("B", 6)])
def test_prefill_equals_token_by_token(kata, name, length):
    model = make_model(kata, name)
    cfg = model.config
    tokens = prompt_for(name, length, salt=5)
    batch, single = kata.KVCache(cfg.n_layer, cfg.d_model), kata.KVCache(cfg.n_layer, cfg.d_model)
    batch_ops, single_ops = CountingOps(), CountingOps()
    got = kata.prefill(model, tokens, batch, batch_ops)
    # A property: the two ways of filling a cache must agree in logits,
    # cache contents and work (each is also checked against the spec).
    want = [kata.decode_step(model, t, single, single_ops) for t in tokens]
    assert_close(got, want, TOL, f"prefill vs {length} decode steps (config {name}): logits")
    for layer in range(cfg.n_layer):
        assert_close(batch.keys[layer], single.keys[layer], TOL, f"prefill vs decode steps: keys[{layer}]")
        assert_close(batch.values[layer], single.values[layer], TOL, f"prefill vs decode steps: values[{layer}]")
    assert_equal(
        batch_ops.counts(),
        expected_rows(model, 0, length),
        f"(weight_mults, attention_mults) of prefill of {length} tokens (config {name})",
        hint="project each chunk token once per layer; token i's query meets i+1 keys",
    )
    assert_equal(batch_ops.counts(), single_ops.counts(), "prefill work vs token-by-token work")


@pytest.mark.task("prefill")
@pytest.mark.parametrize("seed", range(4))
def test_chunked_prefill_continues_the_cache(kata, seed):
    rng = random.Random(seed)
    name = "AB"[seed % 2]
    model = make_model(kata, name)
    cfg = model.config
    length = rng.randint(6, cfg.max_len)
    tokens = prompt_for(name, length, salt=seed)
    cuts = sorted(rng.sample(range(1, length), rng.randint(1, 4)))
    logits, all_k, all_v = spec_forward(model, tokens)
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    got = []
    for start, stop in zip([0, *cuts], [*cuts, length]):
        ops = CountingOps()
        got += kata.prefill(model, tokens[start:stop], cache, ops)
        assert_equal(
            ops.counts(),
            expected_rows(model, start, stop - start),
            f"(weight_mults, attention_mults) of prefill of tokens[{start}:{stop}] onto a cache of {start}",
            hint="chunk token i sits at position start+i and meets start+i+1 keys",
        )
    what = f"prefill in chunks split at {cuts} ({length} tokens, config {name})"
    assert_close(got, logits, TOL, f"{what}: logits",
                 hint="a later chunk starts at position len(cache): embed at start+i, attend to keys 0..start+i")
    assert_cache_matches(cache, all_k, all_v, what)


@pytest.mark.task("prefill")
def test_prefill_rejects_overflow_and_bad_tokens(kata):
    model = make_model(kata, "C")  # max_len 14
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    kata.prefill(model, [1] * 10, cache, kata.Ops())
    for bad in ([2] * 5, [], [3, -4]):
        with pytest.raises(ValueError, match="tokens"):
            kata.prefill(model, bad, cache, CountingOps())
    with pytest.raises(ValueError, match="cache"):
        kata.prefill(model, [1], kata.KVCache(cfg.n_layer, cfg.d_model + 1), CountingOps())


# === task 6: generate_cached ===


GENERATIONS = [("A", 1, 6), ("A", 4, 9), ("B", 3, 8), ("C", 2, 1), ("C", 5, 10), ("D", 2, 8)]


@pytest.mark.task("generate_cached")
@pytest.mark.parametrize("name,prompt_len,n_new", GENERATIONS)
def test_cached_equals_uncached(kata, name, prompt_len, n_new):
    model = make_model(kata, name)
    prompt = prompt_for(name, prompt_len)
    tokens, logits = kata.generate_cached(model, list(prompt), n_new, kata.Ops())
    what = f"generate_cached(config {name}, prompt of {prompt_len}, n_new {n_new})"
    # Graded against the grader's own greedy decoder (the same tokens and logits generate_uncached must give),
    # so it needs neither your generate_uncached nor its tests.
    want_tokens, want_logits = spec_greedy(model, name, prompt, n_new)
    assert_close(logits, want_logits, TOL, f"{what} step logits vs greedy decoding without a cache",
                 hint="first logits: prefill's last row, then decode_step(previous NEW token), never the prompt again")
    assert_equal(tokens, want_tokens, f"{what} tokens vs greedy decoding without a cache")


@pytest.mark.task("generate_cached")
@pytest.mark.parametrize("name,prompt_len,n_new", [("A", 3, 5), ("B", 1, 4), ("C", 6, 1)])
def test_cached_work_is_prefill_plus_one_row_per_token(kata, name, prompt_len, n_new):
    model = make_model(kata, name)
    ops = CountingOps()
    kata.generate_cached(model, prompt_for(name, prompt_len), n_new, ops)
    # Every position 0 .. prompt_len + n_new - 2 passes through the network
    # exactly once (prefill, then one decode step per fed-back token).
    assert_equal(
        ops.counts(),
        expected_rows(model, 0, prompt_len + n_new - 1),
        f"(weight_mults, attention_mults) of generate_cached(config {name}, prompt {prompt_len}, n_new {n_new})",
        hint="prefill the prompt once, then decode ONE token per step; nothing is recomputed",
    )


@pytest.mark.task("generate_cached")
@pytest.mark.parametrize("name,prompt_len,n_new", [("A", 4, 7), ("B", 1, 1), ("C", 3, 12)])
def test_cache_holds_two_layers_times_d_per_position(kata, name, prompt_len, n_new):
    model = make_model(kata, name)
    cfg = model.config
    prompt = prompt_for(name, prompt_len)
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    kata.generate_cached(model, prompt, n_new, kata.Ops(), cache)
    positions = prompt_len + n_new - 1  # the last new token is never fed back
    assert_equal(len(cache), positions, f"len(cache) after generate_cached(prompt {prompt_len}, n_new {n_new})",
                 hint="the cache holds the prompt and every new token except the last")
    assert_equal(
        cache_float_count(cache, cfg.n_layer),
        2 * cfg.n_layer * cfg.d_model * positions,
        f"floats in the cache after generate_cached(config {name}, prompt {prompt_len}, n_new {n_new})",
    )
    new, _ = spec_greedy(model, name, prompt, n_new)
    _, all_k, all_v = spec_forward(model, prompt + new[:-1])
    assert_cache_matches(cache, all_k, all_v, f"cache contents after generate_cached (config {name})")


@pytest.mark.task("generate_cached")
def test_totals_grow_quadratically_without_cache_linearly_with(kata):
    # Config C: one head. The count of a position does not depend on the number of heads (2d per key per
    # layer, summed over heads), and one head halves the CountingOps calls, each a round trip when isolated.
    model = make_model(kata, "C")
    prompt = prompt_for("C", 2)
    uncached, cached = [], []
    for n_new in range(1, 7):
        u, c = CountingOps(), CountingOps()
        kata.generate_uncached(model, prompt, n_new, u)
        kata.generate_cached(model, prompt, n_new, c)
        uncached.append(u.counts())
        cached.append(c.counts())

    def diffs(xs):
        return [b - a for a, b in zip(xs, xs[1:])]

    per_position = weight_per_position(model)
    row = 2 * model.config.n_layer * model.config.d_model  # attention per extra key
    # Weight work: uncached total is quadratic in n_new (constant 2nd difference C),
    # cached total is linear (constant 1st difference C).
    assert_equal(diffs(diffs([w for w, _ in uncached])), [per_position] * 4,
                 "2nd differences of the uncached weight-mult totals for n_new = 1..6")
    assert_equal(diffs([w for w, _ in cached]), [per_position] * 5,
                 "1st differences of the cached weight-mult totals for n_new = 1..6",
                 hint="each extra token must cost exactly one position's weight work")
    # Attention work: uncached total is cubic (constant 3rd difference),
    # cached total quadratic (constant 2nd difference).
    assert_equal(diffs(diffs(diffs([a for _, a in uncached]))), [row] * 3,
                 "3rd differences of the uncached attention-mult totals for n_new = 1..6")
    assert_equal(diffs(diffs([a for _, a in cached])), [row] * 4,
                 "2nd differences of the cached attention-mult totals for n_new = 1..6")


@pytest.mark.task("generate_cached")
def test_cached_rejects_bad_arguments(kata):
    model = make_model(kata, "C")  # max_len 14
    cfg = model.config
    for n_new in (0, -1, 13):
        with pytest.raises(ValueError, match="n_new"):
            kata.generate_cached(model, [1, 2, 3], n_new, CountingOps())
    for prompt in ([], [cfg.vocab_size]):
        with pytest.raises(ValueError, match="prompt"):
            kata.generate_cached(model, prompt, 2, CountingOps())
    used = kata.KVCache(cfg.n_layer, cfg.d_model)
    kata.decode_step(model, 1, used, kata.Ops())
    with pytest.raises(ValueError, match="cache"):
        kata.generate_cached(model, [1, 2], 2, CountingOps(), used)
    for n_layer, d_model in ((cfg.n_layer + 1, cfg.d_model), (cfg.n_layer, cfg.d_model + 2)):
        with pytest.raises(ValueError, match="cache"):
            kata.generate_cached(model, [1, 2], 2, CountingOps(), kata.KVCache(n_layer, d_model))


@pytest.mark.task("generate_cached")
def test_cached_and_uncached_work_without_ops(kata):
    # ops is optional: None means a fresh Ops, and the tokens do not depend on it.
    model = make_model(kata, "C")
    prompt = prompt_for("C", 3)
    with_ops = kata.generate_cached(model, list(prompt), 4, kata.Ops())
    assert_equal(kata.generate_cached(model, list(prompt), 4)[0], with_ops[0],
                 "generate_cached(model, prompt, 4) without ops", hint="ops=None means a fresh Ops()")
    assert_equal(kata.generate_uncached(model, list(prompt), 4)[0], with_ops[0],
                 "generate_uncached(model, prompt, 4) without ops", hint="ops=None means a fresh Ops()")


# === task 7: the accounting ===


@pytest.mark.task("step_mults")
@pytest.mark.parametrize("name", ["A", "B", "C"])
@pytest.mark.parametrize("position", [0, 1, 6, 19])
def test_step_mults_closed_form(kata, name, position):
    model = make_model(kata, name)
    assert_equal(
        tuple(kata.step_mults(model.config, position, cached=True)),
        expected_rows(model, position, 1),
        f"step_mults(config {name}, position={position}, cached=True)",
        hint="one position's weight work; attention: one query over position+1 keys, 2d per key per layer",
    )
    assert_equal(
        tuple(kata.step_mults(model.config, position, cached=False)),
        expected_rows(model, 0, position + 1),
        f"step_mults(config {name}, position={position}, cached=False)",
        hint="a full forward over position+1 tokens: row i meets i+1 keys",
    )


@pytest.mark.task("step_mults")
def test_step_mults_for_a_real_size(kata):
    # GPT-2 small shapes (d 768, 12 layers, d_ff 3072, vocab 50257), position 1023.
    config = kata.Config(vocab_size=50257, d_model=768, n_layer=12, n_head=12, d_ff=3072, max_len=1024)
    per_position = 12 * (4 * 768 * 768 + 2 * 768 * 3072) + 50257 * 768
    assert_equal(tuple(kata.step_mults(config, 1023, cached=True)), (per_position, 12 * 2 * 768 * 1024),
                 "step_mults(GPT-2 small, position=1023, cached=True)")
    assert_equal(tuple(kata.step_mults(config, 1023, cached=False)),
                 (1024 * per_position, 12 * 768 * 1024 * 1025), "step_mults(GPT-2 small, position=1023, cached=False)")


@pytest.mark.task("step_mults")
def test_step_mults_rejects_negative_position(kata):
    config = kata.Config()
    with pytest.raises(ValueError, match="position"):
        kata.step_mults(config, -1, cached=True)


@pytest.mark.task("kv_cache_floats")
@pytest.mark.parametrize("n_layer,d,n", [(1, 1, 0), (2, 6, 1), (3, 9, 17), (32, 4096, 4096), (80, 1024, 4096)])
def test_kv_cache_floats_closed_form(kata, n_layer, d, n):
    assert_equal(
        kata.kv_cache_floats(n_layer, d, n),
        n_layer * n * d * 2,
        f"kv_cache_floats(n_layer={n_layer}, d_model={d}, n_positions={n})",
        hint="a key and a value, d floats each, per layer, per position",
    )


@pytest.mark.task("kv_cache_floats")
def test_kv_cache_floats_rejects_bad_sizes(kata):
    with pytest.raises(ValueError, match="n_layer"):
        kata.kv_cache_floats(0, 8, 4)
    with pytest.raises(ValueError, match="d_model"):
        kata.kv_cache_floats(2, -8, 4)
    with pytest.raises(ValueError, match="n_positions"):
        kata.kv_cache_floats(2, 8, -1)


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===

NOT_INTS = [2.5, math.nan, True]
NOT_INT_IDS = ["2.5", "nan", "True"]


@pytest.mark.task("forward_full")
def test_forward_full_rejects_every_bad_token(kata):
    model = make_model(kata, "C")  # vocab 7, max_len 14
    for bad in ([7], [0, -1], [2.5], [math.nan], [True], [0] * 15, [1.0]):
        with pytest.raises(ValueError, match="tokens"):
            kata.forward_full(model, bad, CountingOps())
    assert_equal(len(kata.forward_full(model, [6] + [0] * 13, kata.Ops())), 14,
                 "forward_full of max_len tokens (ids 6 = vocab_size - 1 and 0): number of logit rows",
                 hint="the last id and max_len tokens are still valid")


GENERATORS = [pytest.param(name, marks=pytest.mark.task(name), id=name) for name in ("generate_uncached", "generate_cached")]


@pytest.mark.parametrize("task", GENERATORS)
def test_generate_rejects_every_bad_n_new(kata, task):
    model = make_model(kata, "C")  # max_len 14: a prompt of 3 allows n_new up to 12
    for n_new in (0, -1, 13, 2.5, math.nan, True, 2.0):
        with pytest.raises(ValueError, match="n_new"):
            getattr(kata, task)(model, [1, 2, 3], n_new, CountingOps())


@pytest.mark.parametrize("task", GENERATORS)
def test_generate_accepts_the_largest_n_new(kata, task):
    model = make_model(kata, "C")  # prompt 3 + 12 new - 1 (the last is never fed back) = 14 = max_len
    tokens, logits = getattr(kata, task)(model, [1, 2, 3], 12, kata.Ops())
    assert_equal((len(tokens), len(logits)), (12, 12), f"{task}(prompt of 3, n_new=12) with max_len 14: lengths",
                 hint="the last new token is never fed back: len(prompt) + n_new - 1 <= max_len is allowed")


@pytest.mark.parametrize("task", GENERATORS)
def test_generate_rejects_every_bad_prompt(kata, task):
    model = make_model(kata, "C")
    for prompt in ([], [7], [-1], [1, 2.5], [True], [0] * 15):
        with pytest.raises(ValueError, match="prompt"):
            getattr(kata, task)(model, prompt, 1, CountingOps())


@pytest.mark.task("KVCache.__init__")
def test_cache_rejects_every_bad_size(kata):
    for bad in (0, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="n_layer"):
            kata.KVCache(bad, 4)
        with pytest.raises(ValueError, match="d_model"):
            kata.KVCache(2, bad)


@pytest.mark.task("KVCache.append")
def test_append_rejects_every_bad_argument(kata):
    cache = kata.KVCache(2, 3)
    for layer in (2, -1, 1.5, True, math.nan):
        with pytest.raises(ValueError, match="layer"):
            cache.append(layer, [0.0] * 3, [0.0] * 3)
    for k, v, name in (([0.0] * 4, [0.0] * 3, r"\bk\b"), ([0.0] * 3, [0.0] * 2, r"\bv\b"), ([], [], r"\bk\b")):
        with pytest.raises(ValueError, match=name):
            cache.append(1, k, v)
    assert_equal((cache.keys, cache.values), ([[], []], [[], []]), "cache after rejected appends",
                 hint="validate before appending anything")


@pytest.mark.task("decode_step")
def test_decode_rejects_every_bad_token(kata):
    model = make_model(kata, "C")  # vocab 7
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    for token in (7, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="token"):
            kata.decode_step(model, token, cache, CountingOps())


@pytest.mark.task("prefill")
def test_prefill_rejects_every_bad_chunk(kata):
    model = make_model(kata, "C")  # max_len 14, vocab 7
    cfg = model.config
    cache = kata.KVCache(cfg.n_layer, cfg.d_model)
    for bad in ([True], [1, 2.5], [7], [-1], [0] * 15, []):
        with pytest.raises(ValueError, match="tokens"):
            kata.prefill(model, bad, cache, CountingOps())
    for shape in ((cfg.n_layer - 1, cfg.d_model), (cfg.n_layer, cfg.d_model - 1)):
        with pytest.raises(ValueError, match="cache"):
            kata.prefill(model, [1], kata.KVCache(*shape), CountingOps())
    logits = kata.prefill(model, [6] * 14, cache, kata.Ops())  # exactly max_len, the last id: allowed
    assert_equal(len(logits), 14, "prefill of max_len tokens: number of logit rows")


@pytest.mark.task("step_mults")
def test_step_mults_rejects_every_bad_position(kata):
    for position in (-1, 2.5, math.nan, True):
        for cached in (True, False):
            with pytest.raises(ValueError, match="position"):
                kata.step_mults(kata.Config(), position, cached=cached)


@pytest.mark.task("kv_cache_floats")
def test_kv_cache_floats_rejects_every_bad_size(kata):
    for bad in (0, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match="n_layer"):
            kata.kv_cache_floats(bad, 8, 0)
        with pytest.raises(ValueError, match="d_model"):
            kata.kv_cache_floats(2, bad, 0)
        if bad != 0:
            with pytest.raises(ValueError, match="n_positions"):
                kata.kv_cache_floats(2, 8, bad)
    assert_equal(kata.kv_cache_floats(1, 1, 0), 0, "kv_cache_floats(1, 1, 0)", hint="an empty cache holds 0 floats")
