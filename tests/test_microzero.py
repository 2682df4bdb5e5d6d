"""Graded tests for microzero: data parallelism and ZeRO stages 1-3 over simulated devices.

Expected values come from the independent single-device spec below (a
full-batch gradient with math.fsum and a plain Adam loop), from the closed
forms of the ZeRO paper's memory accounting (in floats: params, grads, m, v;
S = ceil(Psi / Nd) floats per shard, zero padding to Nd * S) and of the ring
collectives (floats SENT per device: (Nd - 1) S per collective; DP and
ZeRO-1/2 run two collectives per step, ZeRO-3 three), and from the paper's
Figure 1. The grader brings its own network, so the counts are the grader's.
"""

import copy
import math
import random

import pytest

from workbook.checks import assert_close, assert_equal

TOL = 1e-12  # every stage equals the single-device full-batch Adam step


def named(name):
    """A ValueError message naming ``name`` as a word ("t" and "nd" hide in "must" and "and")."""
    return rf"\b{name}\b"


# === the grader's network ===


class GraderNetwork:
    """Same interface as the kata's Network (p, exchange); the grader's own counts."""

    __wire__ = {"p": "r"}  # isolated grading: the kata may read p (see workbook/isolate.py, allowed)

    def __init__(self, p):
        self.p = p
        self.sent = [0] * p
        self.rounds = 0

    def exchange(self, messages):
        arrived = []
        for src, dst, payload in messages:
            assert 0 <= src < self.p and 0 <= dst < self.p and src != dst, "bad message route"
            copy_ = [float(x) for x in payload]
            self.sent[src] += len(copy_)
            arrived.append(copy_)
        self.rounds += 1
        return arrived


# === the independent single-device spec ===


def spec_grad(w, batch, total):
    """(1/total) * sum over batch of d/dw 1/2 (tanh(w . x) - y)^2, with math.fsum per coordinate."""
    terms = []
    for x, y in batch:
        pred = math.tanh(math.fsum(a * b for a, b in zip(w, x)))
        terms.append([(pred - y) * (1 - pred ** 2) * xi for xi in x])
    return [math.fsum(col) / total for col in zip(*terms)] if terms else [0.0] * len(w)


def spec_loss(w, batch):
    return math.fsum(0.5 * (math.tanh(math.fsum(a * b for a, b in zip(w, x))) - y) ** 2 for x, y in batch) / len(batch)


def spec_adam(w, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    nw, nm, nv = [], [], []
    for wi, gi, mi, vi in zip(w, g, m, v):
        mi = b1 * mi + (1 - b1) * gi
        vi = b2 * vi + (1 - b2) * gi * gi
        mhat = mi / (1 - b1 ** t)
        vhat = vi / (1 - b2 ** t)
        nm.append(mi)
        nv.append(vi)
        nw.append(wi - lr * mhat / (math.sqrt(vhat) + eps))
    return nw, nm, nv


def S(psi, nd):
    return (psi + nd - 1) // nd


def spec_memory(psi, nd, stage):
    s = S(psi, nd)
    layout = {0: (psi, psi, psi, psi), 1: (psi, psi, s, s), 2: (psi, s, s, s), 3: (s, s, s, s)}[stage]
    return sum(layout)


def spec_comm(psi, nd, stage):
    collectives = 3 if stage == 3 else 2
    return collectives * (nd - 1) * S(psi, nd)


def padded(vec, nd):
    return list(vec) + [0.0] * (nd * S(len(vec), nd) - len(vec))


def problem(seed, psi, sizes):
    rng = random.Random(seed)
    teacher = [rng.uniform(-1, 1) for _ in range(psi)]
    batches = []
    for size in sizes:
        batch = []
        for _ in range(size):
            x = [rng.uniform(-1.5, 1.5) for _ in range(psi)]
            batch.append((x, math.tanh(sum(a * b for a, b in zip(teacher, x))) + rng.uniform(-0.3, 0.3)))
        batches.append(batch)
    init = [rng.uniform(-0.5, 0.5) for _ in range(psi)]
    return init, batches


# (psi, micro-batch sizes): Psi rarely divisible by Nd, uneven micro-batches,
# an empty micro-batch, one device, more devices than parameters.
CASES = [
    (7, [3, 1, 2]),
    (10, [2, 0, 3, 1]),
    (5, [4]),
    (3, [1, 2, 1, 1, 2]),
    (13, [5, 4]),
    (12, [2, 3, 1]),
]
IDS = [f"psi{p}-nd{len(s)}" for p, s in CASES]


def run(kata, stage, psi, batches, init, steps, net):
    states = kata.init_states(init, len(batches), stage)
    history = []
    for t in range(1, steps + 1):
        if stage == 0:
            states, losses = kata.data_parallel_step(net, states, batches, t, 0.05)
        elif stage == 3:
            states, losses = kata.zero3_step(net, states, batches, psi, t, 0.05)
        else:
            states, losses = kata.zero12_step(net, states, batches, t, 0.05, stage)
        history.append((states, losses))
    return history


def full_params(states, stage, psi):
    if stage == 3:
        return [x for st in states for x in st["params"]][:psi]
    return states[0]["params"]


ALL_STAGES = [
    pytest.param(0, marks=pytest.mark.task("data_parallel_step"), id="stage0"),
    pytest.param(1, marks=pytest.mark.task("zero12_step"), id="stage1"),
    pytest.param(2, marks=pytest.mark.task("zero12_step"), id="stage2"),
    pytest.param(3, marks=pytest.mark.task("zero3_step"), id="stage3"),
]


# === task 1: adam_step ===


@pytest.mark.task("adam_step")
@pytest.mark.parametrize("t", [1, 2, 7])
def test_adam_step_matches_spec(kata, t):
    rng = random.Random(10 + t)
    n = 9
    w = [rng.uniform(-1, 1) for _ in range(n)]
    g = [rng.uniform(-1e-3, 1e-3) if i % 3 else rng.uniform(-5, 5) for i in range(n)]
    m = [rng.uniform(-0.1, 0.1) for _ in range(n)]
    v = [rng.uniform(0, 0.1) for _ in range(n)]
    got = kata.adam_step(w, g, m, v, t, 0.01)
    want = spec_adam(w, g, m, v, t, 0.01)
    assert_close([list(x) for x in got], [list(x) for x in want], 1e-14, f"adam_step(t={t})",
                 hint="m and v are updated before the bias corrections 1 - beta^t, which use the step number t")


@pytest.mark.task("adam_step")
def test_adam_first_step_moves_by_lr(kata):
    g = [3.0, -0.002, 40.0, -7.0]
    new, _, _ = kata.adam_step([0.0] * 4, g, [0.0] * 4, [0.0] * 4, 1, 0.1)
    want = [-0.1 * gi / (abs(gi) + 1e-8) for gi in g]
    assert_close(new, want, 1e-12, "adam_step at t = 1 from m = v = 0",
                 hint="with bias correction the first step is lr * g / (|g| + eps) whatever the scale of g")


@pytest.mark.task("adam_step")
def test_adam_step_custom_betas_and_no_mutation(kata):
    w, g, m, v = [0.5, -0.25, 2.0], [0.1, 0.2, -0.3], [0.01, 0.0, 0.02], [0.001, 0.002, 0.0]
    before = copy.deepcopy((w, g, m, v))
    got = kata.adam_step(w, g, m, v, 3, 0.2, beta1=0.5, beta2=0.75, eps=1e-3)
    assert_close([list(x) for x in got], [list(x) for x in spec_adam(w, g, m, v, 3, 0.2, 0.5, 0.75, 1e-3)],
                 1e-14, "adam_step(beta1=0.5, beta2=0.75, eps=1e-3)")
    assert_equal((w, g, m, v), before, "adam_step's inputs after the call", hint="return new lists")


@pytest.mark.task("adam_step")
def test_adam_step_accepts_zero_betas(kata):
    w, g, m, v = [0.5, -0.25, 2.0], [0.1, 0.2, -0.3], [0.01, 0.0, 0.02], [0.001, 0.002, 0.0]
    got = kata.adam_step(w, g, m, v, 2, 0.2, beta1=0.0, beta2=0.0)
    assert_close([list(x) for x in got], [list(x) for x in spec_adam(w, g, m, v, 2, 0.2, 0.0, 0.0)],
                 1e-14, "adam_step(beta1=0.0, beta2=0.0)", hint="betas live in [0, 1): 0 is allowed (no averaging)")


@pytest.mark.task("adam_step")
@pytest.mark.parametrize("name,kwargs", [
    ("t", {"t": 0}), ("t", {"t": 1.0}), ("beta1", {"beta1": 1.0}), ("beta2", {"beta2": -0.1}),
    ("grads", {"grads": [0.1]}), ("m", {"m": [0.0, 0.0, 0.0]}), ("v", {"v": [0.0]}),
    ("t", {"t": -1}), ("t", {"t": 2.5}), ("t", {"t": True}), ("t", {"t": math.nan}),
    ("beta1", {"beta1": -0.1}), ("beta1", {"beta1": math.nan}), ("beta1", {"beta1": None}), ("beta2", {"beta2": 1.0}),
    ("beta2", {"beta2": math.nan}), ("beta2", {"beta2": True}), ("grads", {"grads": [0.1, 0.2, 0.3]}),
    ("m", {"m": [0.0]}), ("v", {"v": [0.0, 0.0, 0.0]}),
], ids=["t=0", "t=1.0", "beta1=1", "beta2<0", "grads-short", "m-long", "v-short", "t=-1", "t=2.5", "t=True",
        "t=nan", "beta1<0", "beta1=nan", "beta1=None", "beta2=1", "beta2=nan", "beta2=True", "grads-long", "m-short",
        "v-long"])
def test_adam_step_rejects_bad_arguments(kata, name, kwargs):
    args = {"params": [1.0, 2.0], "grads": [0.1, 0.2], "m": [0.0, 0.0], "v": [0.0, 0.0], "t": 1, "lr": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=named(name)):
        kata.adam_step(**args)
    if name in ("t", "beta1", "beta2"):  # empty lists would update nothing: validate first
        args.update(params=[], grads=[], m=[], v=[])
        with pytest.raises(ValueError, match=named(name)):
            kata.adam_step(**args)


# === task 2: shard_size and partition ===


@pytest.mark.task("shard_size")
def test_shard_size_is_ceiling(kata):
    for psi, nd in [(1, 1), (7, 3), (9, 3), (3, 5), (100, 7), (26, 4)]:
        assert_equal(kata.shard_size(psi, nd), -(-psi // nd), f"shard_size({psi}, {nd})",
                     hint="round up: ceil(psi / nd), so nd shards always cover every parameter")


@pytest.mark.task("shard_size")
@pytest.mark.parametrize("name,args", [("nd", (10, 0)), ("nd", (10, -2)), ("nd", (10, 2.0)), ("psi", (0, 3)),
                                       ("psi", (2.5, 2)), ("nd", (10, True)), ("nd", (10, math.nan)),
                                       ("psi", (True, 2)), ("psi", (-1, 2)), ("psi", (math.nan, 2))],
                         ids=["zero-devices", "negative", "float-devices", "psi=0", "float-psi", "nd=True", "nd=nan",
                              "psi=True", "psi=-1", "psi=nan"])
def test_shard_size_rejects_bad_arguments(kata, name, args):
    with pytest.raises(ValueError, match=named(name)):
        kata.shard_size(*args)


@pytest.mark.task("partition")
@pytest.mark.parametrize("psi,nd", [(7, 3), (9, 3), (3, 5), (1, 1), (11, 4)])
def test_partition_pads_and_cuts(kata, psi, nd):
    flat = [float(i) + 0.5 for i in range(psi)]
    before = list(flat)
    got = kata.partition(flat, nd)
    s = S(psi, nd)
    want = [padded(flat, nd)[k * s:(k + 1) * s] for k in range(nd)]
    assert_equal([list(x) for x in got], want, f"partition(range({psi}), nd={nd})",
                 hint="pad with zeros to nd * ceil(psi/nd), then contiguous shards of equal length")
    assert_equal(flat, before, "partition's input after the call")


@pytest.mark.task("partition")
def test_partition_rejects_zero_devices(kata):
    for nd in (0, -1, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match=named("nd")):
            kata.partition([1.0, 2.0], nd)
    assert_equal([list(x) for x in kata.partition([1.0, 2.0], 1)], [[1.0, 2.0]], "partition([1.0, 2.0], nd=1)",
                 hint="nd = 1 is allowed: one shard holds everything")


# === task 3: init_states (the memory layout) ===


@pytest.mark.task("init_states")
@pytest.mark.parametrize("psi,nd", [(7, 3), (10, 4), (5, 1), (3, 5)])
def test_init_states_layout(kata, psi, nd):
    for stage in range(4):
        check_layout(kata, stage, psi, nd)


def check_layout(kata, stage, psi, nd):
    init = [0.1 * (i + 1) for i in range(psi)]
    before = list(init)
    states = kata.init_states(init, nd, stage)
    assert_equal(init, before, f"init_states(stage={stage})'s params after the call")
    assert_equal(len(states), nd, f"len(init_states(psi={psi}, nd={nd}, stage={stage}))")
    s = S(psi, nd)
    full = {0: (psi, psi, psi, psi), 1: (psi, psi, s, s), 2: (psi, s, s, s), 3: (s, s, s, s)}[stage]
    for k, st in enumerate(states):
        lengths = tuple(len(st[key]) for key in ("params", "grads", "m", "v"))
        assert_equal(lengths, full, f"stage {stage} device {k}: lengths of (params, grads, m, v)",
                     hint="stage 1 shards m and v, stage 2 also grads, stage 3 also params")
        want_params = padded(init, nd)[k * s:(k + 1) * s] if stage == 3 else init
        assert_equal(list(st["params"]), want_params, f"stage {stage} device {k}: params")
        assert_equal([list(st[key]) for key in ("grads", "m", "v")], [[0.0] * n for n in full[1:]],
                     f"stage {stage} device {k}: grads, m, v start at zero")


@pytest.mark.task("init_states")
@pytest.mark.parametrize("stage", [0, 3])
def test_init_states_lists_are_new(kata, stage):
    init = [0.5, -1.0, 2.0, 0.25, 1.5]
    states = kata.init_states(init, 2, stage)
    for key in ("params", "grads", "m", "v"):
        states[0][key][0] = 99.0  # write into device 0's buffer only
    assert_equal(init, [0.5, -1.0, 2.0, 0.25, 1.5], f"init_states(stage={stage}): the caller's params after "
                 "writing into device 0's params", hint="every list is new: copy params, do not hand it out")
    fresh = kata.init_states([0.5, -1.0, 2.0, 0.25, 1.5], 2, stage)[1]
    assert_equal({key: list(states[1][key]) for key in fresh}, {key: list(fresh[key]) for key in fresh},
                 f"init_states(stage={stage}): device 1's buffers after writing into device 0's",
                 hint="every list is new: devices must not share one list")


@pytest.mark.task("init_states")
@pytest.mark.parametrize("name,args", [
    ("nd", ([1.0, 2.0], 0, 1)), ("stage", ([1.0, 2.0], 2, 4)), ("params", ([], 2, 1)),
    ("stage", ([1.0, 2.0], 2, 2.0)), ("stage", ([1.0, 2.0], 2, -1)), ("stage", ([1.0, 2.0], 2, True)),
    ("stage", ([1.0, 2.0], 2, math.nan)), ("stage", ([1.0, 2.0], 2, None)), ("nd", ([1.0, 2.0], True, 1)),
    ("nd", ([1.0, 2.0], 2.5, 1)), ("nd", ([1.0, 2.0], -1, 0)),
], ids=["zero-devices", "stage4", "empty-params", "float-stage", "stage-1", "stageTrue", "stageNaN", "stageNone",
        "ndTrue", "nd2.5", "nd-1"])
def test_init_states_rejects_bad_arguments(kata, name, args):
    with pytest.raises(ValueError, match=named(name)):
        kata.init_states(*args)


# === tasks 4-6: the steps equal single-device full-batch Adam ===


@pytest.mark.parametrize("stage", ALL_STAGES)
@pytest.mark.parametrize("psi,sizes", CASES, ids=IDS)
def test_stage_equals_single_device_adam(kata, stage, psi, sizes):
    init, batches = problem(psi * 31 + len(sizes), psi, sizes)
    full = [ex for b in batches for ex in b]
    net = GraderNetwork(len(sizes))
    history = run(kata, stage, psi, batches, init, 3, net)
    w, m, v = list(init), [0.0] * psi, [0.0] * psi
    for t, (states, losses) in enumerate(history, start=1):
        loss = spec_loss(w, full)
        g = spec_grad(w, full, len(full))
        w, m, v = spec_adam(w, g, m, v, t, 0.05)
        what = f"stage {stage}, psi={psi}, micro-batches {sizes}, step {t}"
        assert_close(list(full_params(states, stage, psi)), w, TOL, f"{what}: parameters",
                     hint="divide each local gradient by the GLOBAL batch size, and update with the reduced gradient")
        assert_close(sum(losses), loss, TOL, f"{what}: sum of the returned losses (full-batch mean loss)",
                     hint="losses[k] is device k's summed loss divided by the global batch size, before the step")
        if stage < 3:
            for k, st in enumerate(states):
                assert_equal(list(st["params"]), list(states[0]["params"]),
                             f"{what}: device {k}'s params vs device 0's", hint="replicas must agree bit for bit")


# Counting needs fewer cases: Psi not divisible by Nd (with an empty
# micro-batch), one device, more devices than parameters, Nd dividing Psi.
COUNT_CASES = [CASES[1], CASES[2], CASES[3], CASES[5]]


@pytest.mark.parametrize("stage", ALL_STAGES)
@pytest.mark.parametrize("psi,sizes", COUNT_CASES, ids=[f"psi{p}-nd{len(s)}" for p, s in COUNT_CASES])
def test_counted_memory_and_communication(kata, stage, psi, sizes):
    init, batches = problem(psi + 5, psi, sizes)
    nd = len(sizes)
    net = GraderNetwork(nd)
    history = run(kata, stage, psi, batches, init, 2, net)
    what = f"stage {stage}, psi={psi}, nd={nd}"
    for states, _ in history:
        resident = [sum(len(st[key]) for key in ("params", "grads", "m", "v")) for st in states]
        assert_equal(resident, [spec_memory(psi, nd, stage)] * nd, f"{what}: model-state floats per device",
                     hint="stage 1 keeps S floats of m and v, stage 2 also of grads, stage 3 also of params")
    assert_equal(net.sent, [2 * spec_comm(psi, nd, stage)] * nd, f"{what}: floats sent per device in 2 steps",
                 hint="DP and ZeRO-1/2: two ring collectives of (nd-1) S floats per step; ZeRO-3 three")
    assert_equal(net.rounds, 2 * (3 if stage == 3 else 2) * (nd - 1), f"{what}: communication rounds in 2 steps")


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_gradient_buffers(kata, stage):
    psi, sizes = 11, [3, 2, 4]
    nd = len(sizes)
    init, batches = problem(77, psi, sizes)
    full = [ex for b in batches for ex in b]
    states, _ = run(kata, stage, psi, batches, init, 1, GraderNetwork(nd))[0]
    g = spec_grad(init, full, len(full))
    s = S(psi, nd)
    what = f"stage {stage}: grads after one step"
    if stage == 0:
        for k, st in enumerate(states):
            assert_close(list(st["grads"]), g, TOL, f"{what}, device {k}", hint="the all-reduced full-batch gradient")
    elif stage == 1:
        total = [math.fsum(col) for col in zip(*[st["grads"] for st in states])]
        assert_close(total, g, TOL, f"{what}: sum over devices of the local gradients",
                     hint="stage 1 keeps each device's local gradient, divided by the global batch size")
        local = spec_grad(init, batches[1], len(full))
        assert_close(list(states[1]["grads"]), local, TOL, f"{what}, device 1 (its own micro-batch only)")
    else:
        for k, st in enumerate(states):
            assert_close(list(st["grads"]), padded(g, nd)[k * s:(k + 1) * s], TOL, f"{what}, device {k}",
                         hint="device k keeps the reduced gradient of shard k, padding included")


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_step_leaves_inputs_alone(kata, stage):
    psi, sizes = 6, [2, 1]
    init, batches = problem(5, psi, sizes)
    states = kata.init_states(init, 2, stage)
    states_before, batches_before = copy.deepcopy(states), copy.deepcopy(batches)
    net = GraderNetwork(2)
    if stage == 0:
        new_states, _ = kata.data_parallel_step(net, states, batches, 1, 0.05)
    elif stage == 3:
        new_states, _ = kata.zero3_step(net, states, batches, psi, 1, 0.05)
    else:
        new_states, _ = kata.zero12_step(net, states, batches, 1, 0.05, stage)
    assert_equal(states, states_before, f"stage {stage}: the states passed in, after the step",
                 hint="build new states; do not update the caller's lists in place")
    assert_equal(batches, batches_before, f"stage {stage}: the batches after the step")
    # ... and the step did its work: the returned parameters are one full-batch Adam step.
    full = [pair for batch in batches for pair in batch]
    want, _, _ = spec_adam(init, spec_grad(init, full, len(full)), [0.0] * psi, [0.0] * psi, 1, 0.05)
    assert_close(full_params(new_states, stage, psi), want, TOL, f"stage {stage}: parameters returned by the step",
                 hint="return (new states, losses): the new parameters are one Adam step on the full-batch gradient")


@pytest.mark.parametrize("stage", [ALL_STAGES[0], ALL_STAGES[1], ALL_STAGES[3]])
@pytest.mark.parametrize("bad", ["states", "batches"])
def test_step_rejects_wrong_device_count(kata, stage, bad):
    psi = 4
    init, batches = problem(3, psi, [1, 1, 1])
    states = kata.init_states(init, 3, stage)
    if bad == "states":
        states = states[:2]
    else:
        batches = batches[:2]
    net = GraderNetwork(3)
    with pytest.raises(ValueError, match=named(bad)):
        if stage == 0:
            kata.data_parallel_step(net, states, batches, 1, 0.05)
        elif stage == 3:
            kata.zero3_step(net, states, batches, psi, 1, 0.05)
        else:
            kata.zero12_step(net, states, batches, 1, 0.05, stage)


@pytest.mark.task("zero12_step")
@pytest.mark.parametrize("stage", [0, 3, True, 1.0, None])
def test_zero12_rejects_other_stages(kata, stage):
    init, batches = problem(4, 4, [1, 1])
    states = kata.init_states(init, 2, 1)
    with pytest.raises(ValueError, match=named("stage")):
        kata.zero12_step(GraderNetwork(2), states, batches, 1, 0.05, stage)


# === task 7: the closed forms ===

GRID = [(psi, nd) for psi in (1, 7, 26, 1000, 1001) for nd in (1, 3, 4, 64)]


@pytest.mark.task("memory_floats")
def test_memory_floats_closed_form(kata):
    got = [[kata.memory_floats(psi, nd, stage) for stage in range(4)] for psi, nd in GRID]
    want = [[spec_memory(psi, nd, stage) for stage in range(4)] for psi, nd in GRID]
    assert_equal(got, want, "memory_floats(psi, nd, stage) over psi in (1, 7, 26, 1000, 1001), nd in (1, 3, 4, 64)",
                 hint="4 Psi, 2 Psi + 2 S, Psi + 3 S, 4 S with S = ceil(Psi / Nd)")


@pytest.mark.task("comm_floats")
def test_comm_floats_closed_form(kata):
    got = [[kata.comm_floats(psi, nd, stage) for stage in range(4)] for psi, nd in GRID]
    want = [[spec_comm(psi, nd, stage) for stage in range(4)] for psi, nd in GRID]
    assert_equal(got, want, "comm_floats(psi, nd, stage) over the grid",
                 hint="(Nd - 1) S floats per ring collective; two per step, three for ZeRO-3")


@pytest.mark.parametrize("func", [
    pytest.param("memory_floats", marks=pytest.mark.task("memory_floats")),
    pytest.param("comm_floats", marks=pytest.mark.task("comm_floats")),
    pytest.param("paper_bytes", marks=pytest.mark.task("paper_bytes")),
])
@pytest.mark.parametrize("name,args", [("nd", (10, 0, 1)), ("psi", (0, 2, 1)), ("stage", (10, 2, 4)),
                                       ("stage", (10, 2, -1)), ("stage", (10, 2, True)), ("stage", (10, 2, 1.0)),
                                       ("stage", (10, 2, None)), ("nd", (10, True, 1)), ("nd", (10, 2.5, 1)),
                                       ("psi", (2.5, 2, 1)), ("psi", (True, 2, 1))],
                         ids=["zero-devices", "psi=0", "stage4", "stage-1", "stageTrue", "stage1.0", "stageNone",
                              "ndTrue", "nd2.5", "psi2.5", "psiTrue"])
def test_closed_forms_reject_bad_arguments(kata, func, name, args):
    with pytest.raises(ValueError, match=named(name)):
        getattr(kata, func)(*args)


@pytest.mark.task("paper_bytes")
def test_paper_figure_1(kata):
    # Rajbhandari et al. (2020), Figure 1: Psi = 7.5B, K = 12, Nd = 64.
    got = [kata.paper_bytes(7_500_000_000, 64, stage) / 1e9 for stage in range(4)]
    assert_close(got, [120.0, 31.4, 16.6, 1.9], 0.05, "paper_bytes(7.5e9, 64, stage) in GB",
                 hint="each stage moves one more term (K, then grads' 2, then params' 2) under / Nd")


@pytest.mark.task("paper_bytes")
@pytest.mark.parametrize("psi,nd,k", [(1000, 8, 10), (1001, 9, 12)])
def test_paper_bytes_formula(kata, psi, nd, k):
    want = [(4 + k) * psi, 4 * psi + k * psi / nd, 2 * psi + (2 + k) * psi / nd, (4 + k) * psi / nd]
    got = [kata.paper_bytes(psi, nd, stage, k=k) for stage in range(4)]
    assert_close(got, want, 1e-9, f"paper_bytes({psi}, {nd}, stage, k={k})",
                 hint="the paper divides by nd exactly (Psi / Nd), it does not round the shard up")
