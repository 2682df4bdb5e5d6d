"""Graded tests for micromoe: router softmax, top-k, renormalised gates, capacity, dispatch, balance loss.

Expected values come from the independent spec below (softmax, a sort for
top-k with the documented tie rule, the capacity rule and dispatch written
out again), closed forms (the capacity formula; a balance loss of exactly 1
under uniform routing) and central finite differences. Work is counted:
the tests hand moe_layer their own experts, which count every call, so
"only k of N experts compute" is checked exactly.

The checkpoint test loads tests/data/micromoe/checkpoint.json (router and
experts), made by the solution's own code with

    python solutions/micromoe/micromoe.py --train-checkpoint tests/data/micromoe/checkpoint.json

(data/names.txt only, a few seconds). The slow tests re-run that command and
check it reproduces the file, and run the seed's success criteria
(`pytest katas/micromoe --solutions -m slow`).
"""

import functools
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, matrix, require_earlier, vector

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "micromoe" / "checkpoint.json"
NAMES = ROOT / "data" / "names.txt"
VOCAB = ".abcdefghijklmnopqrstuvwxyz"


# === the independent spec ===


def spec_softmax(scores):
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = math.fsum(weights)
    return [w / total for w in weights]


def spec_probs(W, x):
    return spec_softmax([math.fsum(w * xi for w, xi in zip(row, x)) for row in W])


def spec_top_k(probs, k):
    return sorted(range(len(probs)), key=lambda i: (-probs[i], i))[:k]


def spec_dispatch(choices, n, capacity):
    load, kept = [0] * n, []
    for chosen in choices:
        row = []
        for i in chosen:
            if load[i] < capacity:
                load[i] += 1
                row.append(i)
        kept.append(row)
    return kept


def spec_balance(probs, choices, n):
    T, k = len(probs), len(choices[0])
    f = [sum(c.count(i) for c in choices) / (T * k) for i in range(n)]
    P = [math.fsum(p[i] for p in probs) / T for i in range(n)]
    return n * math.fsum(a * b for a, b in zip(f, P))


def spec_moe(xs, W, expert_fns, k, capacity_factor):
    probs = [spec_probs(W, x) for x in xs]
    choices = [spec_top_k(p, k) for p in probs]
    capacity = math.ceil(capacity_factor * len(xs) * k / len(W))
    kept = spec_dispatch(choices, len(W), capacity)
    outputs = []
    for x, p, chosen, mine in zip(xs, probs, choices, kept):
        total = math.fsum(p[i] for i in chosen)
        y = [0.0] * 3
        for i in mine:
            y = [a + p[i] / total * o for a, o in zip(y, expert_fns[i](x))]
        outputs.append(y)
    return outputs, choices, kept


class CountingExpert:
    """A grader-side expert: a fixed affine map to 3 outputs that records every input it is called on."""

    def __init__(self, index):
        rng = random.Random(500 + index)
        self.index = index
        self.A = matrix(rng, 3, 4)
        self.b = vector(rng, 3)
        self.calls = []

    def __call__(self, x):
        self.calls.append(tuple(x))
        return [math.fsum(a * xi for a, xi in zip(row, x)) + b for row, b in zip(self.A, self.b)]


def plain(v):
    return v.data if hasattr(v, "data") else v


def require_routing(kata, task="moe_layer"):
    """moe_layer runs the five earlier tasks: when one of them is wrong, name it instead of blaming moe_layer."""
    W, x = [[0.4, -1.0], [1.2, 0.3], [-0.5, 0.9]], [1.0, 0.5]
    probs = spec_probs(W, x)
    checks = [
        ("router_probs", "router_probs(3x2 W, x)", lambda: [plain(v) for v in kata.router_probs(W, x)], probs),
        ("top_k", "top_k(probs, 2)", lambda: list(kata.top_k(probs, 2)), spec_top_k(probs, 2)),
        ("gates", "gates(probs, [1, 0])", lambda: [plain(v) for v in kata.gates(probs, [1, 0])],
         [probs[1] / (probs[1] + probs[0]), probs[0] / (probs[1] + probs[0])]),
        ("expert_capacity", "expert_capacity(7, 4, 2, 1.25)", lambda: [kata.expert_capacity(7, 4, 2, 1.25)], [5]),
        ("dispatch", "dispatch([[0, 1], [0, 2], [0, 1]], 3, 2)",
         lambda: [list(r) for r in kata.dispatch([[0, 1], [0, 2], [0, 1]], 3, 2)], [[0, 1], [0, 2], [1]]),
    ]
    require_earlier(task, checks, 1e-12)


# === task 1: router probabilities ===


@pytest.mark.task("router_probs")
@pytest.mark.parametrize("n,d,scale", [(4, 5, 1.0), (3, 7, 2.0), (1, 2, 1.0), (5, 3, 400.0)])
def test_router_probs_match_softmax(kata, n, d, scale):
    rng = random.Random(n * 10 + d)
    W, x = matrix(rng, n, d, scale), vector(rng, d, 3.0)
    got = kata.router_probs(W, x)
    assert_close([plain(p) for p in got], spec_probs(W, x), 1e-12, f"router_probs(N={n}, D={d}, scores ~{scale:g})",
                 hint="softmax(W x) over experts; subtract the largest score before exp()")


@pytest.mark.task("router_probs")
def test_router_probs_when_every_score_is_far_below_zero(kata):
    W = [[-1000.0, 0.5], [-1001.5, 0.0], [-999.0, -0.25], [-1003.0, 1.0]]
    x = [1.0, 2.0]
    assert_close([plain(p) for p in kata.router_probs(W, x)], spec_probs(W, x), 1e-12,
                 "router_probs with every score near -1e3", hint="exp(-1000) is 0.0: subtract the max score first")


@pytest.mark.task("router_probs")
def test_router_probs_gradient_reaches_the_router(kata):
    rng = random.Random(3)
    W, x, c = matrix(rng, 4, 3), vector(rng, 3), [0.7, -1.2, 0.4, 2.0]
    live = [[kata.Value(w) for w in row] for row in W]
    probs = kata.router_probs(live, x)
    objective = sum(ci * p for ci, p in zip(c, probs))
    objective.backward()
    h = 1e-6
    for i in range(4):
        for j in range(3):
            up = [row[:] for row in W]
            up[i][j] += h
            down = [row[:] for row in W]
            down[i][j] -= h
            numeric = (math.fsum(a * b for a, b in zip(c, spec_probs(up, x)))
                       - math.fsum(a * b for a, b in zip(c, spec_probs(down, x)))) / (2 * h)
            assert_close(live[i][j].grad, numeric, 1e-7, f"d(sum c_i p_i) / dW[{i}][{j}] through router_probs",
                         hint="build the softmax from Value operations (or subtract the max as a plain float)")


# === task 2: top-k with the documented tie rule ===


@pytest.mark.task("top_k")
@pytest.mark.parametrize("seed", range(4))
def test_top_k_matches_sort(kata, seed):
    rng = random.Random(seed)
    n = rng.randint(2, 9)
    probs = spec_softmax(vector(rng, n, 3.0))
    for k in range(1, n + 1):
        assert_equal(list(kata.top_k(probs, k)), spec_top_k(probs, k), f"top_k(N={n}, k={k})",
                     hint="the k largest, largest first")


@pytest.mark.task("top_k")
def test_top_k_breaks_exact_ties_by_lower_index(kata):
    probs = [0.15, 0.3, 0.3, 0.25]
    assert_equal(list(kata.top_k(probs, 1)), [1], "top_k([.15, .3, .3, .25], 1): a tie for first",
                 hint="on a tie the lower expert index wins")
    assert_equal(list(kata.top_k(probs, 2)), [1, 2], "top_k([.15, .3, .3, .25], 2)")
    assert_equal(list(kata.top_k([0.25] * 4, 3)), [0, 1, 2], "top_k of a uniform distribution")
    # An exact tie made by the router itself: experts 1 and 3 have identical rows.
    W = [[0.1, -0.4], [0.9, 0.3], [-0.5, 0.2], [0.9, 0.3]]
    probs = spec_probs(W, [1.0, 2.0])
    assert_equal(list(kata.top_k(probs, 2)), [1, 3], "top_k of softmax(W x) with two identical router rows")


@pytest.mark.task("top_k")
@pytest.mark.parametrize("k", [0, 5, -1, 2.5, True, 2.0], ids=["k0", "k-too-big", "k-negative", "k2.5", "k-True",
                                                               "k2.0"])
def test_top_k_rejects_bad_k(kata, k):
    with pytest.raises(ValueError, match=r"\bk\b"):
        kata.top_k([0.1, 0.2, 0.3, 0.4], k)


# === task 3: renormalised gates ===


@pytest.mark.task("gates")
@pytest.mark.parametrize("chosen_lists", [([2, 0], [0, 1, 2, 3]), ([3], [1, 3, 0])], ids=["pair-and-all", "one-and-three"])
def test_gates_renormalise_the_chosen(kata, chosen_lists):
    # Choosing all four experts of a distribution leaves probs unchanged: paired with a case where it does not.
    probs = [0.1, 0.45, 0.3, 0.15]
    for chosen in chosen_lists:
        got = [plain(g) for g in kata.gates(probs, chosen)]
        total = math.fsum(probs[i] for i in chosen)
        assert_close(got, [probs[i] / total for i in chosen], 1e-15, f"gates(probs, chosen={chosen})",
                     hint="divide each chosen probability by the sum over the chosen only, in the order of chosen")
        assert_close(math.fsum(got), 1.0, 1e-12, f"sum of gates(probs, chosen={chosen})")


@pytest.mark.task("gates")
def test_gates_pass_the_gradient(kata):
    probs = [kata.Value(p) for p in (0.1, 0.45, 0.3, 0.15)]
    g = kata.gates(probs, [1, 2])
    g[0].backward()
    # d/dp1 of p1 / (p1 + p2) = p2 / (p1 + p2)^2; d/dp2 = -p1 / (p1 + p2)^2
    assert_close([p.grad for p in probs], [0.0, 0.3 / 0.75 ** 2, -0.45 / 0.75 ** 2, 0.0], 1e-12,
                 "d gate_0 / d probs for chosen [1, 2]", hint="the gates must stay Values built from probs")


# === task 4: expert capacity ===


@pytest.mark.task("expert_capacity")
@pytest.mark.parametrize("rows", [
    [(10, 4, 2, 1.0, 5), (1, 4, 1, 1.0, 1), (45, 4, 2, 1.25, 29)],
    [(8, 4, 2, 2.0, 8), (7, 4, 2, 1.0, 4), (13, 3, 1, 1.5, 7)],
    [(6, 3, 3, 1.0, 6), (11, 5, 2, 0.5, 3), (5, 4, 4, 0.5, 3)],  # k == experts is allowed (every expert chosen)
], ids=["group1", "group2", "group3"])
def test_expert_capacity_closed_form(kata, rows):
    # Each group mixes a case whose capacity happens to equal the token count with cases where it does not.
    for tokens, n, k, factor, want in rows:
        assert_equal(kata.expert_capacity(tokens, n, k, factor), want,
                     f"expert_capacity(tokens={tokens}, experts={n}, k={k}, capacity_factor={factor})",
                     hint="ceil(capacity_factor * tokens * k / experts): round UP, and count k assignments per token")


@pytest.mark.task("expert_capacity")
@pytest.mark.parametrize("k,factor,word", [(2, 0.0, "capacity_factor"), (2, -1.0, "capacity_factor"),
                                           (2, float("nan"), "capacity_factor"), (0, 1.0, "k"), (5, 1.0, "k"),
                                           (-1, 1.0, "k"), (2.5, 1.0, "k"), (True, 1.0, "k"), (2.0, 1.0, "k")],
                         ids=["capacity_factor0", "capacity_factor-negative", "capacity_factor-nan", "k0",
                              "k-too-big", "k-negative", "k2.5", "k-True", "k2.0"])
@pytest.mark.parametrize("tokens", [10, 0], ids=["ten-tokens", "no-tokens"])
def test_expert_capacity_rejects_bad_arguments(kata, k, factor, word, tokens):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.expert_capacity(tokens, 4, k, factor)


# === task 5: dispatch under the capacity ===


@pytest.mark.task("dispatch")
def test_dispatch_hand_built_case(kata):
    choices = [[0, 1], [0, 2], [0, 1], [1, 0], [2, 0], [1, 3]]
    before = [list(c) for c in choices]
    kept = kata.dispatch(choices, 4, 2)
    # expert 0 fills at tokens 0 and 1; expert 1 fills at tokens 0 and 2; later assignments to them drop.
    assert_equal([list(r) for r in kept], [[0, 1], [0, 2], [1], [], [2], [3]], "dispatch(capacity=2)",
                 hint="tokens in order, each token's choices in order; keep while the expert has < capacity")
    assert_equal(choices, before, "dispatch must not change choices")


@pytest.mark.task("dispatch")
@pytest.mark.parametrize("seed,n,k,capacity", [(1, 4, 2, 3), (2, 5, 1, 2), (3, 3, 3, 4), (4, 4, 2, 100), (5, 6, 2, 1)])
def test_dispatch_matches_spec(kata, seed, n, k, capacity):
    rng = random.Random(seed)
    choices = [rng.sample(range(n), k) for _ in range(rng.randint(5, 17))]
    kept = [list(r) for r in kata.dispatch(choices, n, capacity)]
    want = spec_dispatch(choices, n, capacity)
    assert_equal(kept, want, f"dispatch(T={len(choices)}, N={n}, k={k}, capacity={capacity})")
    loads = [sum(r.count(i) for r in kept) for i in range(n)]
    if max(loads) > capacity:
        raise Mismatch(f"dispatch: an expert kept {max(loads)} assignments, capacity {capacity}")


# === task 6: the MoE layer, with counted expert work ===


def batch_inputs(seed, t):
    rng = random.Random(seed)
    return [vector(rng, 4, 2.0) for _ in range(t)]


@pytest.mark.task("moe_layer")
@pytest.mark.parametrize("t,k", [(1, 1), (7, 2), (11, 3)])
def test_only_k_of_n_experts_compute(kata, t, k):
    require_routing(kata)
    xs, W = batch_inputs(t, t), matrix(random.Random(99 + t), 4, 4, 1.5)
    experts = [CountingExpert(i) for i in range(4)]
    out = kata.moe_layer(xs, W, experts, k, 2.0)  # capacity ceil(2 T k / 4) >= T: nothing drops
    assert_equal(sum(len(e.calls) for e in experts), t * k, f"expert calls for T={t}, k={k} (capacity ample)",
                 hint="call only the chosen experts, once per kept assignment, never all N")
    for x in xs:
        called = sorted(e.index for e in experts for c in e.calls if c == tuple(x))
        assert_equal(called, sorted(spec_top_k(spec_probs(W, x), k)), "experts called on one token",
                     hint="exactly the token's top-k experts run on it")
    want, choices, _ = spec_moe(xs, W, experts, k, 2.0)
    assert_close([[plain(v) for v in y] for y in out["outputs"]], want, 1e-12, f"moe_layer outputs (T={t}, k={k})",
                 hint="y = sum over the chosen of gate * expert(x), gates renormalised over the k chosen")
    assert_equal([list(c) for c in out["choices"]], choices, "moe_layer choices")
    for g in out["gates"]:
        assert_close(math.fsum(plain(v) for v in g), 1.0, 1e-12, "a token's selected gates sum to 1")


@pytest.mark.task("moe_layer")
def test_over_capacity_assignments_are_dropped_as_documented(kata):
    require_routing(kata)
    xs = batch_inputs(8, 9)
    W = [[2.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.0], [0.0, 0.0, 0.0, 0.1]]
    experts = [CountingExpert(i) for i in range(4)]
    out = kata.moe_layer(xs, W, experts, 2, 0.5)  # capacity ceil(0.5 * 9 * 2 / 4) = 3
    calls = [len(e.calls) for e in experts]
    want, choices, kept = spec_moe(xs, W, experts, 2, 0.5)
    assert_equal([list(r) for r in out["kept"]], kept, "moe_layer kept assignments with capacity 3",
                 hint="capacity = ceil(capacity_factor * T * k / N); tokens in order, choices in rank order")
    assert_equal(calls, [sum(r.count(i) for r in kept) for i in range(4)],
                 "expert calls per expert with capacity 3", hint="a dropped assignment must not run its expert")
    assert_close([[plain(v) for v in y] for y in out["outputs"]], want, 1e-12, "moe_layer outputs with drops",
                 hint="a dropped expert adds nothing; the kept gates are NOT renormalised again; no kept expert: zeros")
    if not any(len(r) == 0 for r in kept):
        raise Mismatch("fixture error: expected a token with every assignment dropped")


@pytest.mark.task("moe_layer")
def test_a_fully_dropped_token_gets_value_zeros_from_a_value_router(kata):
    require_routing(kata)
    xs = batch_inputs(8, 9)
    W = [[2.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.0], [0.0, 0.0, 0.0, 0.1]]
    live = [[kata.Value(w) for w in row] for row in W]
    experts = [CountingExpert(i) for i in range(4)]
    out = kata.moe_layer(xs, live, experts, 2, 0.5)  # capacity 3: some token keeps nothing
    want, _, kept = spec_moe(xs, W, experts, 2, 0.5)
    dropped = [t for t, r in enumerate(kept) if not r]
    assert dropped, "fixture error: expected a token with every assignment dropped"
    for t, y in enumerate(out["outputs"]):
        kinds = sorted({"Value" if isinstance(v, kata.Value) else type(v).__name__ for v in y})
        if kinds != ["Value"]:
            raise Mismatch(f"moe_layer with a Value router: outputs[{t}] holds {kinds} "
                           f"({'every assignment dropped' if t in dropped else 'kept'}); expected Values only"
                           "\n  hint: a token with nothing kept gets Value(0.0)s when the router holds Values")
    assert_close([[plain(v) for v in y] for y in out["outputs"]], want, 1e-12, "moe_layer outputs (Value router)")
    objective = sum(v for y in out["outputs"] for v in y)
    objective.backward()  # every output is part of the graph (the zeros as constants)
    # One expert, top-1, capacity ceil(0.5 * 3 * 1 / 1) = 2: the third token is dropped.
    one = [[kata.Value(w) for w in (0.5, 0.1, 0.0, 0.2)]]
    out = kata.moe_layer(batch_inputs(9, 3), one, [CountingExpert(0)], 1, 0.5)
    assert_equal([list(r) for r in out["kept"]], [[0], [0], []], "kept with one expert and capacity 2")
    kinds = sorted({"Value" if isinstance(v, kata.Value) else type(v).__name__ for v in out["outputs"][2]})
    if kinds != ["Value"]:
        raise Mismatch(f"moe_layer with one Value-router expert: the dropped token's outputs hold {kinds}; "
                       "expected Value(0.0)s")
    assert_close([plain(v) for v in out["outputs"][2]], [0.0] * len(out["outputs"][0]), 0.0,
                 "the dropped token's outputs (one expert)")


@pytest.mark.task("moe_layer")
def test_moe_layer_gradient_reaches_the_router(kata):
    require_routing(kata)
    xs, W = batch_inputs(4, 5), matrix(random.Random(12), 4, 4)
    experts = [CountingExpert(i) for i in range(4)]
    c = [0.3, -0.8, 1.1]
    live = [[kata.Value(w) for w in row] for row in W]
    out = kata.moe_layer(xs, live, experts, 2, 2.0)
    objective = sum(ci * v for y in out["outputs"] for ci, v in zip(c, y))
    objective.backward()
    h = 1e-6
    for i, j in ((0, 0), (1, 2), (2, 3), (3, 1)):
        up = [row[:] for row in W]
        up[i][j] += h
        down = [row[:] for row in W]
        down[i][j] -= h
        f = lambda M: math.fsum(ci * v for y in spec_moe(xs, M, experts, 2, 2.0)[0] for ci, v in zip(c, y))
        assert_close(live[i][j].grad, (f(up) - f(down)) / (2 * h), 1e-6, f"d objective / dW[{i}][{j}] through moe_layer",
                     hint="the gates must be Values: the router learns through them")


@functools.lru_cache(maxsize=None)
def checkpoint():
    return json.loads(CHECKPOINT.read_text(encoding="utf-8"))


@pytest.mark.task("moe_layer")
def test_checkpoint_router_uses_every_expert(kata):
    """The seed's criterion on the shipped model: each expert gets > 10 % of held-out assignments."""
    require_routing(kata)
    ck = checkpoint()
    E = ck["embedding"]
    names = [n.strip().lower() for n in NAMES.read_text(encoding="utf-8").splitlines() if n.strip()][::10][:30]
    contexts = []
    for name in names:
        a, b = 0, 0
        for ch in name + ".":
            contexts.append((a, b))
            a, b = b, VOCAB.index(ch)
    xs = [E[a] + E[b] + [1.0] for a, b in contexts][:135]

    def make(params):
        def expert(x):
            h = [math.tanh(math.fsum(w * xi for w, xi in zip(row, x)) + b) for row, b in zip(params["W1"], params["b1"])]
            return [math.fsum(w * hi for w, hi in zip(row, h)) + b for row, b in zip(params["W2"], params["b2"])]
        return expert

    experts = [make(p) for p in ck["experts"]]
    counts = [0] * 4
    for start in range(0, len(xs), 45):
        out = kata.moe_layer(xs[start:start + 45], ck["router"], experts, 2, 1.25)
        for chosen in out["choices"]:
            for i in chosen:
                counts[i] += 1
        assert_equal([list(c) for c in out["choices"]], [spec_top_k(spec_probs(ck["router"], x), 2)
                                                        for x in xs[start:start + 45]], "checkpoint routing choices")
    shares = [c / sum(counts) for c in counts]
    if min(shares) <= 0.10:
        raise Mismatch(f"expert shares on held-out tokens {[f'{s:.1%}' for s in shares]}: every one must exceed 10 %")


# === task 7: the load-balancing loss ===


@pytest.mark.task("balance_loss")
def test_balance_loss_is_one_under_uniform_routing(kata):
    probs = [[0.25] * 4 for _ in range(6)]
    choices = [[0, 1], [2, 3], [1, 2], [3, 0], [0, 2], [1, 3]]
    assert_close(plain(kata.balance_loss(probs, choices, 4)), 1.0, 1e-12, "balance_loss under uniform routing",
                 hint="N * sum_i f_i P_i with f_i = count_i / (T k): uniform gives N * N * (1/N)^2 = 1")


@pytest.mark.task("balance_loss")
@pytest.mark.parametrize("seed,t,n,k", [(1, 5, 4, 2), (2, 9, 3, 1), (3, 1, 5, 2), (4, 13, 6, 3)])
def test_balance_loss_matches_spec(kata, seed, t, n, k):
    rng = random.Random(seed)
    probs = [spec_softmax(vector(rng, n, 2.0)) for _ in range(t)]
    choices = [spec_top_k(p, k) for p in probs]
    assert_close(plain(kata.balance_loss(probs, choices, n)), spec_balance(probs, choices, n), 1e-12,
                 f"balance_loss(T={t}, N={n}, k={k})",
                 hint="f_i counts the top-k choices over T*k; P_i is the mean probability over tokens")


@pytest.mark.task("balance_loss")
def test_balance_loss_penalises_collapse_and_has_the_right_gradient(kata):
    probs = [[0.97, 0.01, 0.01, 0.01] for _ in range(5)]
    assert_close(plain(kata.balance_loss(probs, [[0]] * 5, 4)), 4 * 0.97, 1e-12, "balance_loss of a collapsed router")
    live = [[kata.Value(p) for p in row] for row in ([0.4, 0.3, 0.2, 0.1], [0.1, 0.5, 0.3, 0.1], [0.2, 0.2, 0.5, 0.1])]
    choices = [[0, 1], [1, 2], [2, 0]]
    loss = kata.balance_loss(live, choices, 4)
    loss.backward()
    # d/d p_t[i] = N * f_i / T; f = (2, 2, 2, 0) / 6
    want = [[4 * f / 3 for f in (2 / 6, 2 / 6, 2 / 6, 0.0)] for _ in range(3)]
    assert_close([[p.grad for p in row] for row in live], want, 1e-12, "d balance_loss / d probs",
                 hint="f_i is a count (no gradient); the gradient flows through P_i only")


# === slow: the seed's success criteria and the checkpoint's regeneration ===


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("balance_loss")
def test_training_balances_and_specialises_the_experts(kata):
    model, history = kata.train()
    _, held = kata.split_held_out(kata.load_names())
    loss, shares, by_char = kata.evaluate(model, held)
    assert min(shares) > 0.10, f"held-out expert shares {shares}: every expert needs > 10 %"
    early = sum(h["balance"] for h in history[:10]) / 10
    late = sum(h["balance"] for h in history[-10:]) / 10
    assert late < early, f"the balance loss should fall: {early:.3f} -> {late:.3f}"
    assert loss < 2.7, f"held-out cross-entropy {loss:.3f} (uniform is 3.30)"
    vowels = [sum(by_char.get(VOCAB.index(c), [0] * 4)[i] for c in "aeiouy") for i in range(4)]
    consonants = [sum(by_char.get(VOCAB.index(c), [0] * 4)[i] for c in "bcdfghjklmnpqrstvwxz") for i in range(4)]
    gap = max(abs(v / sum(vowels) - c / sum(consonants)) for v, c in zip(vowels, consonants))
    assert gap > 0.2, f"no specialisation: first-choice shares differ by only {gap:.0%} between vowels and consonants"


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("moe_layer")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    out = tmp_path / "checkpoint.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-checkpoint", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), checkpoint()
    assert_equal(sorted(fresh), sorted(shipped), "checkpoint keys")
    for key in shipped:
        if key in ("router", "experts", "embedding"):
            assert_close(fresh[key] if key != "experts" else [[e[n] for n in ("W1", "W2")] for e in fresh[key]],
                         shipped[key] if key != "experts" else [[e[n] for n in ("W1", "W2")] for e in shipped[key]],
                         1e-6, f"regenerated {key}")
        else:
            assert_equal(fresh[key], shipped[key], f"checkpoint {key!r}")
