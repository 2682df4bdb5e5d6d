"""Graded tests for microbatching: static and continuous batching, chunked prefill, disaggregation.

Expected values come from pieces written here: the static-batching closed
forms (steps = sum of each batch's longest n_new, idle = batch_size * that -
its tokens), a step-by-step model of the continuous scheduler written from
the docstring's rules with its own data structures, a greedy decoder with
its own KV cache for every request's solo tokens, and the transfer closed
form 2 * n_layer * d_model * P floats. run_schedule is graded on schedules
built here, so it does not depend on the kata's schedulers.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_equal

# (vocab, d_model, n_layer, n_head, d_ff, max_len, seed)
CONFIG = (11, 6, 2, 2, 10, 40, 3)


def make_model(kata):
    vocab, d, layers, heads, d_ff, max_len, seed = CONFIG
    return kata.init_model(kata.Config(vocab, d, layers, heads, d_ff, max_len), seed=seed)


# === the grader's greedy decoder (own cache, own arithmetic) ===


def _rms(x):
    return [v / math.sqrt(sum(u * u for u in x) / len(x) + 1e-5) for v in x]


def _mat(W, x):
    return [sum(w * v for w, v in zip(row, x)) for row in W]


def spec_step(model, token, pos, K, V):
    """Feed one token at position pos; K, V: per-layer lists that grow. Returns logits."""
    cfg = model.config
    hd = cfg.d_model // cfg.n_head
    x = [a + b for a, b in zip(model.wte[token], model.wpe[pos])]
    for layer, w in enumerate(model.layers):
        h = _rms(x)
        q = _mat(w["wq"], h)
        K[layer].append(_mat(w["wk"], h))
        V[layer].append(_mat(w["wv"], h))
        att = []
        for head in range(cfg.n_head):
            cols = range(head * hd, (head + 1) * hd)
            s = [sum(q[c] * k[c] for c in cols) / math.sqrt(hd) for k in K[layer]]
            top = max(s)
            e = [math.exp(v - top) for v in s]
            z = sum(e)
            att += [sum(ei * v[c] for ei, v in zip(e, V[layer])) / z for c in cols]
        x = [a + b for a, b in zip(x, _mat(w["wo"], att))]
        x = [a + b for a, b in zip(x, _mat(w["w2"], [max(0.0, u) for u in _mat(w["w1"], _rms(x))]))]
    return _mat(model.lm_head, _rms(x))


_SOLO = {}


def solo(model, prompt, n_new):
    key = (id(model), tuple(prompt), n_new)
    if key not in _SOLO:
        K = [[] for _ in model.layers]
        V = [[] for _ in model.layers]
        for pos, t in enumerate(prompt):
            logits = spec_step(model, t, pos, K, V)
        out = []
        while True:
            ranked = sorted(logits, reverse=True)
            assert ranked[0] - ranked[1] > 1e-9, "fixture has a near-tie"
            out.append(logits.index(ranked[0]))
            if len(out) == n_new:
                break
            logits = spec_step(model, out[-1], len(prompt) + len(out) - 1, K, V)
        _SOLO[key] = out
    return _SOLO[key]


_MODEL = {}


def model_of(kata):
    if id(kata) not in _MODEL:
        _MODEL[id(kata)] = make_model(kata)
    return _MODEL[id(kata)]


def make_requests(seed, lengths):
    rng = random.Random(seed)
    return [([rng.randrange(11) for _ in range(p)], n) for p, n in lengths]


# === the grader's schedulers ===


def spec_static(lengths, b):
    steps = []
    for g in range(0, len(lengths), b):
        members = list(range(g, min(g + b, len(lengths))))
        owed = {i: lengths[i][1] for i in members}
        steps.append([(i, "prefill", lengths[i][0]) for i in members])
        for i in members:
            owed[i] -= 1
        while any(owed.values()):
            steps.append([(i, "decode", 1) for i in members if owed[i]])
            for i in members:
                owed[i] = max(0, owed[i] - 1)
    return steps


def spec_continuous(lengths, max_batch, kv_pages, page, chunk=None):
    life = {i: -(-(p + n - 1) // page) for i, (p, n) in enumerate(lengths)}
    queue = list(range(len(lengths)))
    batch = []
    prompt_left = {i: p for i, (p, _) in enumerate(lengths)}
    owed = {i: n for i, (_, n) in enumerate(lengths)}
    used = 0
    steps = []
    while queue or batch:
        while queue and len(batch) < max_batch and used + life[queue[0]] <= kv_pages:
            used += life[queue[0]]
            batch.append(queue.pop(0))
        if chunk is None:
            step = [(i, "prefill", prompt_left[i]) if prompt_left[i] else (i, "decode", 1) for i in batch]
        else:
            step = [(i, "decode", 1) for i in batch if not prompt_left[i]]
            room = chunk - len(step)
            for i in batch:
                if prompt_left[i] and room:
                    take = min(room, prompt_left[i])
                    step.append((i, "prefill", take))
                    room -= take
        for i, kind, n in step:
            if kind == "decode":
                owed[i] -= 1
            else:
                prompt_left[i] -= n
                owed[i] -= prompt_left[i] == 0
        steps.append(step)
        for i in list(batch):
            if owed[i] == 0:
                batch.remove(i)
                used -= life[i]
    return steps


def as_steps(schedule):
    return [[tuple(e) for e in step] for step in schedule]


def occupancy(schedule, lengths, page):
    """Pages held at each step by requests between their first and last entry (a lower bound)."""
    first, last = {}, {}
    for t, step in enumerate(schedule):
        for e in step:
            first.setdefault(e[0], t)
            last[e[0]] = t
    return [sum(-(-(lengths[i][0] + lengths[i][1] - 1) // page) for i in first if first[i] <= t <= last[i])
            for t in range(len(schedule))]


LENGTHS_A = [(5, 3), (3, 9), (6, 2), (4, 4), (2, 7), (7, 2), (3, 5), (5, 3)]
LENGTHS_B = [(20, 4), (3, 6), (4, 5), (18, 3), (2, 8), (5, 4), (1, 1)]


# === static_batching_schedule ===


@pytest.mark.task("static_batching_schedule")
@pytest.mark.parametrize("b", [1, 3, 4, 8, 11])
def test_static_schedule_and_closed_forms(kata, b):
    got = as_steps(kata.static_batching_schedule(LENGTHS_A, b))
    assert_equal(got, spec_static(LENGTHS_A, b), f"static_batching_schedule(LENGTHS_A, batch_size={b})",
                 hint="one prefill step per batch, then decode steps until its longest member is done")
    groups = [LENGTHS_A[g:g + b] for g in range(0, len(LENGTHS_A), b)]
    steps = sum(max(n for _, n in g) for g in groups)
    idle = sum(b * max(n for _, n in g) - sum(n for _, n in g) for g in groups)
    assert_equal((len(got), b * len(got) - sum(len(s) for s in got)), (steps, idle),
                 f"(steps, idle slots) of static batching with batch_size={b}",
                 hint="steps = sum over batches of the longest n_new")


@pytest.mark.task("static_batching_schedule")
def test_static_schedule_rejects_bad_arguments(kata):
    for bad in ([], [(3, 0)], [(0, 2)], [(3,)], [(2.0, 3)], None):
        with pytest.raises(ValueError, match="requests"):
            kata.static_batching_schedule(bad, 2)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="batch_size"):
            kata.static_batching_schedule([(3, 2)], bad)


# === continuous_batching_schedule ===


@pytest.mark.task("continuous_batching_schedule")
@pytest.mark.parametrize(
    "lengths,max_batch,pages,page",
    [(LENGTHS_A, 3, 1000, 4), (LENGTHS_A, 1, 1000, 4), (LENGTHS_A, 5, 6, 2), (LENGTHS_B, 4, 9, 4),
     (LENGTHS_B, 2, 8, 3), (LENGTHS_B, 3, 23, 1), (LENGTHS_A, 8, 3, 5)],
)
def test_continuous_schedule_follows_the_rules(kata, lengths, max_batch, pages, page):
    got = as_steps(kata.continuous_batching_schedule(lengths, max_batch, pages, page))
    assert_equal(got, spec_continuous(lengths, max_batch, pages, page),
                 f"continuous_batching_schedule(max_batch={max_batch}, kv_pages={pages}, page_size={page})",
                 hint="admit the head of the queue while a slot is free and its lifetime pages fit; "
                      "finished requests free slot and pages at the end of the step")
    held = occupancy(got, lengths, page)
    if max(held) > pages:
        raise Mismatch(f"KV budget exceeded: {max(held)} pages held at step {held.index(max(held))}, budget {pages}")


@pytest.mark.task("continuous_batching_schedule")
@pytest.mark.parametrize("lengths", [LENGTHS_A, LENGTHS_B])
def test_continuous_never_loses_to_static(kata, lengths):
    for b in (1, 2, 3, 5):
        cont = as_steps(kata.continuous_batching_schedule(lengths, b, 10**6, 4))
        static = spec_static(lengths, b)
        finish_c = {e[0]: t for t, s in enumerate(cont) for e in s}
        finish_s = {e[0]: t for t, s in enumerate(static) for e in s}
        late = [i for i in finish_s if finish_c.get(i, 10**9) > finish_s[i]]
        assert not late, f"batch {b}: requests {late} finish later with continuous batching than with static"
        if b == 1:
            assert_equal((len(cont), sum(len(s) for s in cont)), (sum(n for _, n in lengths),) * 2,
                         "(steps, entries) with one slot: every request alone, n_new steps each")


@pytest.mark.task("continuous_batching_schedule")
@pytest.mark.parametrize(
    "lengths,max_batch,pages,page,chunk",
    [(LENGTHS_B, 4, 9, 4, 6), (LENGTHS_B, 3, 30, 2, 3), (LENGTHS_A, 3, 1000, 4, 4), (LENGTHS_B, 2, 12, 5, 7),
     (LENGTHS_B, 1, 8, 4, 1)],
)
def test_chunked_prefill_follows_the_rules(kata, lengths, max_batch, pages, page, chunk):
    got = as_steps(kata.continuous_batching_schedule(lengths, max_batch, pages, page, chunk_size=chunk))
    assert_equal(got, spec_continuous(lengths, max_batch, pages, page, chunk),
                 f"continuous_batching_schedule(max_batch={max_batch}, kv_pages={pages}, page_size={page}, "
                 f"chunk_size={chunk})",
                 hint="decodes first (one token each), then prompt chunks in admission order while budget is left")
    for t, step in enumerate(got):
        assert sum(n for _, _, n in step) <= chunk, f"step {t} processes more than chunk_size = {chunk} tokens"
    held = occupancy(got, lengths, page)
    assert max(held) <= pages, f"KV budget exceeded: {max(held)} > {pages}"


@pytest.mark.task("continuous_batching_schedule")
def test_continuous_schedule_rejects_bad_arguments(kata):
    good = {"requests": [(3, 2), (2, 4)], "max_batch": 2, "kv_pages": 4, "page_size": 2}
    for name in ("max_batch", "kv_pages", "page_size"):
        for bad in (0, -1, 2.5):
            with pytest.raises(ValueError, match=name):
                kata.continuous_batching_schedule(**{**good, name: bad})
    for bad in (1, 0, 1.5):
        with pytest.raises(ValueError, match="chunk_size"):
            kata.continuous_batching_schedule(**good, chunk_size=bad)
    with pytest.raises(ValueError, match="requests"):
        kata.continuous_batching_schedule(**{**good, "requests": [(3, 2), (6, 4)]})  # 9 positions: 5 pages > 4
    with pytest.raises(ValueError, match="requests"):
        kata.continuous_batching_schedule(**{**good, "requests": []})


# === run_schedule ===


@pytest.mark.task("run_schedule")
@pytest.mark.parametrize("which", ["static", "continuous", "chunked", "one_token_chunks"])
def test_run_schedule_reproduces_solo_tokens(kata, which):
    model = model_of(kata)
    lengths = [(5, 3), (1, 6), (7, 2), (4, 4), (3, 1), (6, 5)]
    requests = make_requests(7, lengths)
    schedule = {
        "static": lambda: spec_static(lengths, 4),
        "continuous": lambda: spec_continuous(lengths, 3, 8, 3),
        "chunked": lambda: spec_continuous(lengths, 3, 8, 3, chunk=4),
        "one_token_chunks": lambda: spec_continuous(lengths, 1, 100, 2, chunk=1),
    }[which]()
    got = kata.run_schedule(model, requests, schedule)
    expected = [solo(model, p, n) for p, n in requests]
    assert_equal([list(o) for o in got], expected, f"run_schedule(a {which} schedule)",
                 hint="a prompt chunk continues at the position the previous chunk stopped; the first token "
                      "comes from the chunk that completes the prompt; a decode feeds the latest token")


@pytest.mark.task("run_schedule")
def test_run_schedule_rejects_bad_schedules(kata):
    model = model_of(kata)
    requests = make_requests(3, [(3, 2), (2, 3)])
    bad = {
        "decode before the prompt": [[(0, "prefill", 2), (1, "decode", 1)]],
        "prefill past the prompt": [[(0, "prefill", 4)]],
        "unknown request": [[(2, "prefill", 1)]],
        "unknown kind": [[(0, "verify", 1)]],
        "unfinished request": [[(0, "prefill", 3), (1, "prefill", 2)], [(0, "decode", 1)]],
        "decode past n_new": [[(0, "prefill", 3), (1, "prefill", 2)], [(0, "decode", 1), (1, "decode", 1)],
                              [(0, "decode", 1), (1, "decode", 1)]],
    }
    for name, schedule in bad.items():
        with pytest.raises(ValueError, match="schedule"):
            kata.run_schedule(model, requests, schedule)
    with pytest.raises(ValueError, match="requests"):
        kata.run_schedule(model, [([1, 99], 2)], [[(0, "prefill", 2)], [(0, "decode", 1)]])
    with pytest.raises(ValueError, match="requests"):
        kata.run_schedule(model, [([1, 2], 0)], [[(0, "prefill", 2)]])


@pytest.mark.task("run_schedule")
def test_run_schedule_rejects_entries_a_complete_schedule_would_hide(kata):
    """Each bad entry sits in a schedule that would otherwise finish, or fail only later for another reason."""
    model = model_of(kata)
    requests = make_requests(4, [(3, 1)])
    bad = {
        "request -1 (no negative indices)": [[(-1, "prefill", 3)]],
        "unknown kind after the request is done": [[(0, "prefill", 3)], [(0, "verify", 1)]],
        "prefill past the prompt, then a decode": [[(0, "prefill", 4)], [(0, "decode", 1)]],
        "an empty prefill first": [[(0, "prefill", 0)], [(0, "prefill", 3)]],
    }
    for name, schedule in bad.items():
        try:
            kata.run_schedule(model, requests, schedule)
        except ValueError as error:
            assert "schedule" in str(error), f"{name}: the ValueError must name schedule, got {error}"
        else:
            raise Mismatch(f"run_schedule with {name}: {schedule} returned without a ValueError naming schedule"
                           "\n  hint: check every entry as it comes: the request exists (0 <= i < len(requests)), "
                           "the kind is prefill or decode, a prefill stays inside the prompt")


@pytest.mark.task("run_schedule")
def test_run_schedule_at_the_context_limit(kata):
    model = model_of(kata)
    max_len = model.config.max_len
    prompt = make_requests(12, [(10, 1)])[0][0]
    n_new = max_len - len(prompt) + 1  # P + n_new - 1 == max_len: the last token is never fed back
    schedule = [[(0, "prefill", len(prompt))]] + [[(0, "decode", 1)] for _ in range(n_new - 1)]
    got = kata.run_schedule(model, [(prompt, n_new)], schedule)
    assert_equal([list(o) for o in got], [solo(model, prompt, n_new)],
                 f"run_schedule of a request with P + n_new - 1 == max_len = {max_len}",
                 hint="the last generated token is never fed, so P + n_new - 1 positions must fit, not P + n_new")
    with pytest.raises(ValueError, match="requests"):
        kata.run_schedule(model, [(prompt, n_new + 1)], schedule + [[(0, "decode", 1)]])


# === transfer_kv ===


@pytest.mark.task("transfer_kv")
def test_transfer_kv_copies_and_counts_every_float(kata):
    rng = random.Random(4)
    L, d, P = 3, 5, 7
    keys = [[[rng.uniform(-1, 1) for _ in range(d)] for _ in range(P)] for _ in range(L)]
    values = [[[rng.uniform(-1, 1) for _ in range(d)] for _ in range(P)] for _ in range(L)]
    snapshot = ([[list(v) for v in layer] for layer in keys], [[list(v) for v in layer] for layer in values])
    new_k, new_v, moved = kata.transfer_kv(keys, values)
    assert_equal(moved, 2 * L * d * P, "floats moved by transfer_kv (3 layers, d = 5, 7 positions)")
    assert_equal(([[list(v) for v in layer] for layer in new_k], [[list(v) for v in layer] for layer in new_v]),
                 snapshot, "transferred keys and values")
    keys[0][0][0] = 99.0
    keys[1].append([0.0] * d)
    values[2][6][4] = -99.0
    assert_equal(([[list(v) for v in layer] for layer in new_k], [[list(v) for v in layer] for layer in new_v]),
                 snapshot, "transferred cache after the source changed",
                 hint="copy every level: the decode machine has its own memory")


@pytest.mark.task("transfer_kv")
def test_transfer_kv_rejects_mismatched_values(kata):
    keys = [[[1.0, 2.0]], [[3.0, 4.0]]]
    with pytest.raises(ValueError, match="values"):
        kata.transfer_kv(keys, [[[1.0, 2.0]]])
    with pytest.raises(ValueError, match="values"):
        kata.transfer_kv(keys, [[[1.0, 2.0]], []])


# === disaggregated_generate ===


@pytest.mark.task("disaggregated_generate")
@pytest.mark.parametrize("p,n", [(1, 1), (1, 6), (7, 5), (13, 9)])
def test_disaggregated_generate_gives_solo_tokens_and_moves_the_prompt_kv(kata, p, n):
    model = model_of(kata)
    prompt = make_requests(p * 31 + n, [(p, n)])[0][0]
    tokens, moved = kata.disaggregated_generate(model, prompt, n)
    assert_equal(list(tokens), solo(model, prompt, n), f"disaggregated_generate(prompt of {p}, n_new={n})")
    cfg = model.config
    assert_equal(moved, 2 * cfg.n_layer * cfg.d_model * p, f"floats moved for a prompt of {p}",
                 hint="transfer the cache right after the prefill: 2 * n_layer * d_model * P floats")


@pytest.mark.task("disaggregated_generate")
def test_disaggregated_decode_reads_only_the_transferred_cache(kata, monkeypatch):
    # The prefill machine hands its memory to the next request once the KV has
    # shipped: the wrapper overwrites the originals with noise right after the
    # real transfer_kv copied them. Decoding on the transferred copies is
    # unaffected; decoding on the prefill machine's lists reads the noise.
    real = kata.transfer_kv
    noise = random.Random(77)

    def transfer_then_reuse_memory(keys, values):
        shipped = real(keys, values)
        for layer in (*keys, *values):
            for vector in layer:
                vector[:] = [noise.uniform(-3.0, 3.0) for _ in vector]
        return shipped

    monkeypatch.setattr(kata, "transfer_kv", transfer_then_reuse_memory)
    model = model_of(kata)
    for p, n in ((4, 7), (9, 6)):
        prompt = make_requests(500 + p, [(p, n)])[0][0]
        tokens, _ = kata.disaggregated_generate(model, prompt, n)
        assert_equal(list(tokens), solo(model, prompt, n), f"disaggregated_generate(prompt of {p}, n_new={n}) "
                     "with the prefill machine's memory reused after transfer_kv",
                     hint="after transfer_kv, decode on the lists it returned, not on the prefill machine's")


@pytest.mark.task("disaggregated_generate")
def test_disaggregated_generate_rejects_bad_arguments(kata):
    model = model_of(kata)
    with pytest.raises(ValueError, match="prompt"):
        kata.disaggregated_generate(model, [], 3)
    with pytest.raises(ValueError, match="prompt"):
        kata.disaggregated_generate(model, [1, 11], 3)
    for bad in (0, 40):
        with pytest.raises(ValueError, match="n_new"):
            kata.disaggregated_generate(model, [1, 2], bad)


@pytest.mark.task("disaggregated_generate")
def test_disaggregated_generate_at_the_context_limit(kata):
    model = model_of(kata)
    prompt = make_requests(12, [(10, 1)])[0][0]
    n_new = model.config.max_len - len(prompt) + 1  # P + n_new - 1 == max_len
    tokens, _ = kata.disaggregated_generate(model, prompt, n_new)
    assert_equal(list(tokens), solo(model, prompt, n_new), f"disaggregated_generate(prompt of 10, n_new={n_new})",
                 hint="the last generated token is never fed, so P + n_new - 1 positions must fit, not P + n_new")
    with pytest.raises(ValueError, match="n_new"):
        kata.disaggregated_generate(model, prompt, n_new + 1)


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===


@pytest.mark.task("static_batching_schedule")
def test_static_schedule_refuses_bools_and_nan(kata):
    for bad in (True, math.nan, 2.0):
        with pytest.raises(ValueError, match="batch_size"):
            kata.static_batching_schedule([(1, 1)], bad)
    for bad in ([(True, 2)], [(3, True)], [(3, 2, 1)], [(3, math.nan)]):
        with pytest.raises(ValueError, match="requests"):
            kata.static_batching_schedule(bad, 1)


@pytest.mark.task("continuous_batching_schedule")
def test_continuous_schedule_refuses_every_bad_size(kata):
    good = {"requests": [(1, 1)], "max_batch": 1, "kv_pages": 1, "page_size": 1}  # the smallest valid problem
    for name in ("max_batch", "kv_pages", "page_size"):
        for bad in (True, math.nan, 2.0):
            with pytest.raises(ValueError, match=name):
                kata.continuous_batching_schedule(**{**good, name: bad})
    for bad in (True, math.nan, 2.5, 2.0, 0):
        with pytest.raises(ValueError, match="chunk_size"):
            kata.continuous_batching_schedule(**{**good, "max_batch": 2}, chunk_size=bad)
    # The other side of each bound: chunk_size == max_batch and a request that needs exactly the whole pool.
    schedule = kata.continuous_batching_schedule(**{**good, "requests": [(3, 2)], "kv_pages": 2, "page_size": 2},
                                                 chunk_size=1)
    assert_equal(sum(n for step in schedule for _, kind, n in step if kind == "prefill"), 3,
                 "prompt tokens prefilled for one (3, 2) request with chunk_size = max_batch = 1 and a 2-page pool",
                 hint="chunk_size == max_batch is allowed; 3 + 2 - 1 = 4 positions fill 2 pages of 2 exactly")


@pytest.mark.task("run_schedule")
def test_run_schedule_refuses_bools_fractions_and_too_many_tokens(kata):
    model = model_of(kata)  # max_len 40
    requests = make_requests(5, [(3, 1)])
    for schedule in ([[(True, "prefill", 3)]], [[(0, "prefill", True)], [(0, "prefill", 2)]],
                     [[(0, "prefill", 1.0)], [(0, "prefill", 2)]], [[(0.0, "prefill", 3)]]):
        with pytest.raises(ValueError, match="schedule"):
            kata.run_schedule(model, requests, schedule)
    prompt = requests[0][0]
    for n_new in (True, 2.5, math.nan, -1, 39):  # 3 + 39 - 1 = 41 > max_len
        with pytest.raises(ValueError, match="requests"):
            kata.run_schedule(model, [(prompt, n_new)], [[(0, "prefill", 3)]])


@pytest.mark.task("transfer_kv")
def test_transfer_kv_rejects_values_too_big(kata):
    keys = [[[1.0, 2.0]], [[3.0, 4.0]]]
    with pytest.raises(ValueError, match="values"):
        kata.transfer_kv(keys, keys + [[[5.0, 6.0]]])  # one layer too many
    with pytest.raises(ValueError, match="values"):
        kata.transfer_kv(keys, [[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]])  # one position too many
    with pytest.raises(ValueError, match="values"):
        kata.transfer_kv([], [[]])  # no layers in keys, one in values


@pytest.mark.task("disaggregated_generate")
def test_disaggregated_generate_refuses_every_bad_n_new(kata):
    model = model_of(kata)  # max_len 40
    for bad in (-1, 2.5, math.nan, True, 2.0, 40):  # a prompt of 2 allows n_new up to 39
        with pytest.raises(ValueError, match="n_new"):
            kata.disaggregated_generate(model, [1, 2], bad)
    with pytest.raises(ValueError, match="prompt"):
        kata.disaggregated_generate(model, [1, True], 1)
