"""Graded tests for microcheckpoint: activation checkpointing with a manual backward.

Expected values come from the naive spec below (all activations kept, explicit
loops, math.fsum), from central finite differences, from closed forms derived
from the protocol in the kata's docstrings, or from properties: checkpointed
gradients are == (bit for bit) the plain-backprop ones, every layer's backward
sees its input and output in the store, and the sqrt(n) schedule's peak is the
minimum over every uniform segment size.

Counting conventions (the kata's docstrings pin them): "stored activations" is
the number of entries held by the store passed in, peak over the whole call;
"extra forward work" is the number of layer_forward calls beyond n. The
grader's own store and a wrapper around the kata's layer_forward count them.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, call_each_in_order, matrix, vector

TOL = 1e-9  # spec vs kata: same math, different summation order (fsum)


# === the independent spec ===


def make_net(widths, seed):
    """The grader's own seeded network: layer i is (W, b), W widths[i+1] x widths[i]."""
    rng = random.Random(seed)
    net = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        net.append((matrix(rng, fan_out, fan_in, 1.4 / math.sqrt(fan_in)), vector(rng, fan_out, 0.2)))
    return net


def spec_layer(layer, x):
    W, b = layer
    return [math.tanh(math.fsum(w * v for w, v in zip(row, x)) + bias) for row, bias in zip(W, b)]


def spec_layer_backward(layer, x, y, grad_y):
    """One layer's (grad_x, grad_W, grad_b), as layer_backward's docstring defines them."""
    W, _ = layer
    dz = [g * (1.0 - v * v) for g, v in zip(grad_y, y)]
    return [math.fsum(W[r][c] * dz[r] for r in range(len(W))) for c in range(len(x))], [[d * v for v in x] for d in dz], dz


def spec_activations(net, x):
    hs = [list(x)]
    for layer in net:
        hs.append(spec_layer(layer, hs[-1]))
    return hs


def spec_loss(net, x):
    return 0.5 * math.fsum(v * v for v in spec_activations(net, x)[-1])


def spec_backprop(net, x):
    """Naive backprop with every activation kept: (loss, [(grad_W, grad_b)], grad_x)."""
    hs = spec_activations(net, x)
    grad = list(hs[-1])  # L = 0.5 ||h_n||^2
    grads = [None] * len(net)
    for i in reversed(range(len(net))):
        grad, grad_W, grad_b = spec_layer_backward(net[i], hs[i], hs[i + 1], grad)
        grads[i] = (grad_W, grad_b)
    return 0.5 * math.fsum(v * v for v in hs[-1]), grads, grad


def spec_sizes(n, k):
    """Uniform segmentation: k layers at a time from the input, the remainder last."""
    k = min(k, n)
    sizes = []
    left = n
    while left > 0:
        sizes.append(min(k, left))
        left -= sizes[-1]
    return sizes


def spec_peak(sizes):
    """Peak store entries under the protocol, for any segmentation.

    Forward: the m checkpoints and h_n (m + 1). While segment j (0-based) is
    replayed: the checkpoints of segments 0..j (j + 1; later ones are freed),
    its end h_e (1) and its size_j - 1 replayed activations.
    """
    return max([len(sizes) + 1] + [j + 1 + size for j, size in enumerate(sizes)])


def closed_cost(n, k):
    """Closed form for uniform segments: (peak, extra forwards).

    m = ceil(n/k) segments. The last segment peaks at m + (its size); the one
    before it (a full one) at m - 1 + k. When k divides n the last is full and
    wins (m + k); otherwise the second to last does (m + k - 1). Replays:
    every segment but its last layer, sum(size - 1) = n - m.
    """
    k = min(k, n)
    m = -(-n // k)
    peak = m + k if n % k == 0 else m + k - 1
    return peak, n - m


def ceil_sqrt(n):
    return math.isqrt(n - 1) + 1


def normal(grads):
    """grads as plain nested lists, so tuples and lists compare equal."""
    return [[[list(row) for row in gW], list(gb)] for gW, gb in grads]


def inputs(seed, widths):
    rng = random.Random(seed)
    return make_net(widths, seed), vector(rng, widths[0])


# === the grader's store and meters ===


class CountingStore:
    """The grader's activation memory: counts live entries and rejects protocol slips."""

    def __init__(self):
        self.slots = {}
        self.peak = 0
        self.saves = 0

    def save(self, index, h):
        if index in self.slots:
            raise Mismatch(
                f"store.save({index}): h_{index} is already stored; saving it twice means it was "
                "recomputed although it was held (or never freed)"
            )
        self.slots[index] = [float(v) for v in h]
        self.saves += 1
        self.peak = max(self.peak, len(self.slots))

    def load(self, index):
        if index not in self.slots:
            raise Mismatch(
                f"store.load({index}): h_{index} is not in the store (never saved, or freed too "
                f"early); held now: {sorted(self.slots)}"
            )
        return list(self.slots[index])

    def free(self, index):
        if index not in self.slots:
            raise Mismatch(f"store.free({index}): h_{index} is not in the store (freed twice?)")
        del self.slots[index]


class Meter:
    """Wraps the kata's layer_forward / layer_backward to count calls and check the protocol."""

    def __init__(self, kata, monkeypatch, net, store, spec=False):
        self.forwards = 0
        self.backward_order = []
        self.held_at_first_backward = None
        if spec:  # counts only: the grader's own layers (graded without the learner's layer tasks; isolated,
            # no second round trip back into the worker per layer call)
            original_forward, original_backward = spec_layer, spec_layer_backward
        else:
            original_forward, original_backward = kata.layer_forward, kata.layer_backward

        def forward(layer, x):
            self.forwards += 1
            return original_forward(layer, x)

        def backward(layer, x, y, grad_y):
            i = next((j for j, candidate in enumerate(net) if candidate is layer), None)
            if i is None:
                i = next((j for j, candidate in enumerate(net) if candidate == layer), None)
            if i is None:
                raise Mismatch("layer_backward was called with a layer that is not in net: pass net[i]")
            if self.held_at_first_backward is None:
                self.held_at_first_backward = sorted(store.slots)
            for name, index, value in (("x", i, x), ("y", i + 1, y)):
                if store.slots.get(index) != [float(v) for v in value]:
                    raise Mismatch(
                        f"layer_backward(net[{i}], ...): its {name} should be h_{index}, loaded from "
                        f"the store; the store holds {sorted(store.slots)} and "
                        + ("h_%d differs from the value passed" % index if index in store.slots else f"not h_{index}")
                    )
            self.backward_order.append(i)
            return original_backward(layer, x, y, grad_y)

        monkeypatch.setattr(kata, "layer_forward", forward)
        monkeypatch.setattr(kata, "layer_backward", backward)


def run_full(kata, monkeypatch, net, x):
    store = CountingStore()
    meter = Meter(kata, monkeypatch, net, store)
    loss, grads = kata.backward_full(net, x, store)
    monkeypatch.undo()
    return loss, grads, store, meter


def layerwise_backprop(kata, net, x):
    """backward_full's protocol run by the grader with the kata's layer_forward / layer_backward: its floats
    bit for bit, without the learner's backward_full (so backward_checkpointed is graded on its own)."""
    hs = [list(x)]
    for layer in net:
        hs.append(kata.layer_forward(layer, hs[-1]))
    grad = list(hs[-1])  # dL/dh_n = h_n for L = 0.5 ||h_n||^2
    grads = [None] * len(net)
    for i in reversed(range(len(net))):
        grad, grad_W, grad_b = kata.layer_backward(net[i], hs[i], hs[i + 1], grad)
        grads[i] = (grad_W, grad_b)
    return grads


def run_checkpointed(kata, monkeypatch, net, x, sizes, spec=False):
    store = CountingStore()
    meter = Meter(kata, monkeypatch, net, store, spec)
    loss, grads = kata.backward_checkpointed(net, x, list(sizes), store)
    monkeypatch.undo()
    return loss, grads, store, meter


# === task 1: layer_forward ===

LAYER_SHAPES = [(1, 1), (3, 2), (2, 5), (4, 4), (6, 3)]


@pytest.mark.task("layer_forward")
@pytest.mark.parametrize("d_in,d_out", LAYER_SHAPES)
def test_layer_forward_matches_spec(kata, d_in, d_out):
    rng = random.Random(10 * d_in + d_out)
    layer = (matrix(rng, d_out, d_in, 2.0), vector(rng, d_out))
    x = vector(rng, d_in)
    assert_close(
        kata.layer_forward(layer, x),
        spec_layer(layer, x),
        1e-12,
        f"layer_forward with W {d_out}x{d_in}",
        hint="y_i = tanh(sum_j W[i][j] * x[j] + b[i]); W has one row per output",
    )


@pytest.mark.task("layer_forward")
def test_layer_forward_leaves_input_alone(kata):
    layer = ([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]], [0.1, 0.2, -0.3])
    x = [0.3, -0.7]
    y = kata.layer_forward(layer, x)
    assert_equal(x, [0.3, -0.7], "x after layer_forward", hint="return a new list; do not write into x")
    assert_close(y, spec_layer(layer, [0.3, -0.7]), 1e-12, "layer_forward((W, b), x) with d_in=2, d_out=3",
                 hint="y = tanh(W x + b), one entry per row of W")


@pytest.mark.task("layer_forward")
def test_layer_forward_rejects_wrong_width(kata):
    layer = ([[1.0, 2.0, 3.0]], [0.0])
    with pytest.raises(ValueError, match="x"):
        kata.layer_forward(layer, [1.0, 2.0])


# === task 2: layer_backward ===


@pytest.mark.task("layer_backward")
@pytest.mark.parametrize("d_in,d_out", LAYER_SHAPES)
def test_layer_backward_matches_spec(kata, d_in, d_out):
    rng = random.Random(100 + 10 * d_in + d_out)
    layer = (matrix(rng, d_out, d_in, 1.5), vector(rng, d_out))
    x = vector(rng, d_in)
    y = spec_layer(layer, x)
    grad_y = vector(rng, d_out)
    grad_x, grad_W, grad_b = kata.layer_backward(layer, x, y, grad_y)
    dz = [g * (1.0 - v * v) for g, v in zip(grad_y, y)]
    what = f"layer_backward with W {d_out}x{d_in}"
    assert_close(list(grad_b), dz, 1e-12, f"{what}: grad_b", hint="dL/dz = dL/dy * (1 - y^2): tanh' from the OUTPUT y")
    assert_close(
        [list(r) for r in grad_W],
        [[d * v for v in x] for d in dz],
        1e-12,
        f"{what}: grad_W (d_out rows of d_in)",
        hint="dL/dW[i][j] = dL/dz[i] * x[j]: the shape of W, one row per output",
    )
    assert_close(
        list(grad_x),
        [math.fsum(layer[0][i][j] * dz[i] for i in range(d_out)) for j in range(d_in)],
        1e-12,
        f"{what}: grad_x",
        hint="dL/dx[j] = sum_i W[i][j] * dL/dz[i]: multiply by W transposed",
    )


@pytest.mark.task("layer_backward")
def test_layer_backward_matches_finite_differences(kata):
    rng = random.Random(5)
    d_in, d_out = 3, 4
    W, b = matrix(rng, d_out, d_in, 1.5), vector(rng, d_out)
    x, c = vector(rng, d_in), vector(rng, d_out)

    def scalar(W_, b_, x_):  # L = c . tanh(W x + b), so dL/dy = c
        return math.fsum(ci * yi for ci, yi in zip(c, spec_layer((W_, b_), x_)))

    y = spec_layer((W, b), x)
    grad_x, grad_W, grad_b = kata.layer_backward((W, b), x, y, c)
    eps = 1e-6
    numeric_x = []
    for j in range(d_in):
        plus, minus = list(x), list(x)
        plus[j] += eps
        minus[j] -= eps
        numeric_x.append((scalar(W, b, plus) - scalar(W, b, minus)) / (2 * eps))
    numeric_W = []
    for i in range(d_out):
        row = []
        for j in range(d_in):
            plus, minus = [list(r) for r in W], [list(r) for r in W]
            plus[i][j] += eps
            minus[i][j] -= eps
            row.append((scalar(plus, b, x) - scalar(minus, b, x)) / (2 * eps))
        numeric_W.append(row)
    assert_close(list(grad_x), numeric_x, 1e-6, "layer_backward grad_x vs central differences")
    assert_close([list(r) for r in grad_W], numeric_W, 1e-6, "layer_backward grad_W vs central differences")


# === task 3: backward_full ===

NETS = [
    ("n1", [3, 2]),
    ("n4-widths-vary", [4, 3, 5, 2, 3]),
    ("n9", [3, 4, 2, 5, 3, 3, 4, 2, 3, 4]),
]


@pytest.mark.task("backward_full")
@pytest.mark.parametrize("name,widths", NETS, ids=[n for n, _ in NETS])
def test_full_gradients_match_spec(kata, monkeypatch, name, widths):
    net, x = inputs(len(widths), widths)
    loss, grads, _, _ = run_full(kata, monkeypatch, net, x)
    want_loss, want_grads, _ = spec_backprop(net, x)
    n = len(net)
    assert_close(loss, want_loss, TOL, f"backward_full loss ({name})", hint="L = 0.5 * sum(h_n^2), from loss_and_grad")
    assert_equal(len(grads), n, f"backward_full: number of (grad_W, grad_b) pairs ({name})")
    assert_close(
        normal(grads),
        [[gW, gb] for gW, gb in want_grads],
        TOL,
        f"backward_full grads ({name}), as [[grad_W, grad_b] per layer]",
        hint="walk i = n-1 down to 0 with x = h_i, y = h_{i+1}; grads[i] belongs to layer i",
    )


@pytest.mark.task("backward_full")
def test_full_gradients_match_finite_differences(kata, monkeypatch):
    net, x = inputs(3, [3, 4, 2, 3, 3, 2])
    _, grads, _, _ = run_full(kata, monkeypatch, net, x)
    eps = 1e-6
    for i, r, c in [(0, 1, 2), (2, 0, 1), (4, 1, 0), (1, 1, 3)]:
        W, b = net[i]
        plus = [list(row) for row in W]
        minus = [list(row) for row in W]
        plus[r][c] += eps
        minus[r][c] -= eps
        numeric = (
            spec_loss(net[:i] + [(plus, b)] + net[i + 1:], x) - spec_loss(net[:i] + [(minus, b)] + net[i + 1:], x)
        ) / (2 * eps)
        assert_close(grads[i][0][r][c], numeric, 1e-6, f"backward_full dL/dW_{i}[{r}][{c}] vs central differences")


@pytest.mark.task("backward_full")
@pytest.mark.parametrize("name,widths", NETS, ids=[n for n, _ in NETS])
def test_full_keeps_every_activation(kata, monkeypatch, name, widths):
    net, x = inputs(len(widths) + 1, widths)
    n = len(net)
    _, _, store, meter = run_full(kata, monkeypatch, net, x)
    assert_equal(meter.forwards, n, f"layer_forward calls in backward_full ({name})", hint="one forward pass, no recompute")
    assert_equal(
        meter.backward_order,
        list(range(n - 1, -1, -1)),
        f"order of layer_backward calls ({name})",
        hint="backprop visits layers from the last to the first, each once",
    )
    assert_equal(store.peak, n + 1, f"peak stored activations of backward_full ({name})", hint="save h_0 .. h_n")
    assert_equal(sorted(store.slots), [], f"store after backward_full ({name})", hint="free h_{i+1} after layer i, then h_0")


@pytest.mark.task("backward_full")
def test_full_rejects_empty_net(kata):
    with pytest.raises(ValueError, match="net"):
        kata.backward_full([], [1.0, 2.0], CountingStore())


# === task 4: segment_sizes ===


@pytest.mark.task("segment_sizes")
@pytest.mark.parametrize(
    "n,k,expected",
    [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (10, 4, [4, 4, 2]), (5, 1, [1] * 5), (5, 5, [5]), (5, 9, [5]), (1, 1, [1])],
)
def test_segment_sizes_examples(kata, n, k, expected):
    assert_equal(
        list(kata.segment_sizes(n, k)),
        expected,
        f"segment_sizes(n={n}, k={k})",
        hint="k layers at a time from the input; the LAST segment holds the remainder; never a 0",
    )


@pytest.mark.task("segment_sizes")
def test_segment_sizes_all_small_cases(kata):
    cases = [(n, k) for n in range(1, 26) for k in range(1, n + 3)]
    for (n, k), got in zip(cases, call_each_in_order(kata.segment_sizes, cases)):
        assert_equal(list(got), spec_sizes(n, k), f"segment_sizes(n={n}, k={k})")


@pytest.mark.task("segment_sizes")
@pytest.mark.parametrize("n,k,name", [(0, 2, "n"), (-3, 2, "n"), (5, 0, "k"), (5, -1, "k")])
def test_segment_sizes_rejects_bad_sizes(kata, n, k, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.segment_sizes(n, k)


# === task 5: backward_checkpointed ===

SEGMENTATIONS = [
    ("k1", [1] * 7),
    ("k3-rem1", [3, 3, 1]),
    ("k2-rem1", [2, 2, 2, 1]),
    ("one-segment", [7]),
    ("uneven", [1, 4, 2]),
    ("staircase", [3, 2, 1, 1]),
]


@pytest.mark.task("backward_checkpointed")
@pytest.mark.parametrize("name,sizes", SEGMENTATIONS, ids=[n for n, _ in SEGMENTATIONS])
def test_checkpointed_gradients_identical_to_full(kata, monkeypatch, name, sizes):
    widths = [4, 3, 5, 2, 4, 3, 3, 4]  # 7 layers, widths vary
    net, x = inputs(17, widths)
    full_grads = layerwise_backprop(kata, net, x)
    loss, grads, _, _ = run_checkpointed(kata, monkeypatch, net, x, sizes)
    assert_close(loss, spec_backprop(net, x)[0], TOL, f"loss with segments {sizes}", hint="compute the loss from h_n")
    # Same floats in, same operations in the same order: the replayed
    # activations are the originals, so nothing may differ in any bit.
    assert_equal(
        normal(grads),
        normal(full_grads),
        f"gradients with segments {sizes} vs plain backprop through your layer_forward/layer_backward (==)",
        hint="replay the segment from its own checkpoint h_s through layer_forward; grads[i] is layer i's",
    )


@pytest.mark.task("backward_checkpointed")
def test_checkpointed_gradients_match_spec(kata, monkeypatch):
    widths = [3, 4, 2, 5, 3, 3, 4, 2, 3, 4, 3]  # 10 layers
    net, x = inputs(23, widths)
    loss, grads, _, _ = run_checkpointed(kata, monkeypatch, net, x, [4, 4, 2])
    want_loss, want_grads, _ = spec_backprop(net, x)
    assert_close(loss, want_loss, TOL, "backward_checkpointed loss, segments [4, 4, 2]")
    assert_close(normal(grads), [[gW, gb] for gW, gb in want_grads], TOL, "backward_checkpointed grads, segments [4, 4, 2]")


def check_counts(kata, monkeypatch, net, x, sizes, expected_peak, expected_extra):
    n = len(net)
    _, _, store, meter = run_checkpointed(kata, monkeypatch, net, x, sizes, spec=True)
    what = f"backward_checkpointed(n={n}, sizes={sizes})"
    starts = [sum(sizes[:j]) for j in range(len(sizes))]
    # When the first layer_backward runs (layer n-1), the store holds the
    # checkpoints, h_n and the replayed inside of the last segment.
    assert_equal(
        meter.held_at_first_backward,
        sorted(set(starts) | set(range(starts[-1] + 1, n + 1))),
        f"{what}: activations held when the backward pass starts",
        hint="the forward pass saves only segment inputs h_{b_j} and h_n; the last segment is replayed first",
    )
    assert_equal(
        meter.backward_order, list(range(n - 1, -1, -1)), f"{what}: order of layer_backward calls",
        hint="segments from last to first, and inside a segment layers from last to first",
    )
    assert_equal(
        meter.forwards - n,
        expected_extra,
        f"{what}: layer_forward calls beyond the first n",
        hint="replay each segment from ITS checkpoint, layers s .. e-2 only: h_e is already held",
    )
    assert_equal(
        store.peak,
        expected_peak,
        f"{what}: peak stored activations",
        hint="free h_{i+1} right after layer i's backward, checkpoints included; keep h_s for the segment before",
    )
    assert_equal(sorted(store.slots), [], f"{what}: store at the end", hint="the store must end empty")


@pytest.mark.task("backward_checkpointed")
@pytest.mark.parametrize("n", [1, 2, 5, 7, 9, 12, 13])
def test_checkpointed_counts_match_closed_form(kata, monkeypatch, n):
    net, x = inputs(n, [3] + [2, 4, 3] * 5)
    net = net[:n]
    for k in range(1, n + 2):
        sizes = spec_sizes(n, k)
        peak, extra = closed_cost(n, k)
        assert peak == spec_peak(sizes) and extra == n - len(sizes)  # the grader's two derivations agree
        check_counts(kata, monkeypatch, net, x, sizes, peak, extra)


@pytest.mark.task("backward_checkpointed")
@pytest.mark.parametrize("sizes", [[1, 5, 2], [4, 4, 4, 1], [2, 3, 4], [6, 4, 2, 1], [5, 1, 1, 1]], ids=str)
def test_checkpointed_counts_for_any_segmentation(kata, monkeypatch, sizes):
    n = sum(sizes)
    net, x = inputs(n + 50, [3] * (n + 1))
    check_counts(kata, monkeypatch, net, x, sizes, spec_peak(sizes), n - len(sizes))


@pytest.mark.task("backward_checkpointed")
@pytest.mark.parametrize("sizes", [[2, 2], [2, 2, 2], [3, 0, 2], [-1, 6], []], ids=str)
def test_checkpointed_rejects_bad_sizes(kata, sizes):
    net, x = inputs(3, [2] * 6)
    with pytest.raises(ValueError, match="sizes"):
        kata.backward_checkpointed(net, x, sizes, CountingStore())


# === task 6: checkpoint_cost ===


@pytest.mark.task("checkpoint_cost")
@pytest.mark.parametrize("n,k", [(1, 1), (7, 3), (6, 3), (13, 4), (12, 4), (10, 1), (10, 10), (10, 25), (100, 10)])
def test_cost_examples(kata, n, k):
    assert_equal(
        tuple(kata.checkpoint_cost(n, k)),
        closed_cost(n, k),
        f"checkpoint_cost(n={n}, k={k}) as (peak, extra forwards)",
        hint="peak: while segment j is replayed the store holds j + 1 checkpoints, h_e and size_j - 1 replays"
        " (which segment is the worst when the last one is short?); extra forwards: n - ceil(n/k);"
        " k > n is one segment of n layers",
    )


@pytest.mark.task("checkpoint_cost")
def test_cost_all_small_cases(kata):
    cases = [(n, k) for n in range(1, 41) for k in range(1, n + 3)]
    for (n, k), got in zip(cases, call_each_in_order(kata.checkpoint_cost, cases)):
        assert_equal(tuple(got), closed_cost(n, k), f"checkpoint_cost(n={n}, k={k})")


@pytest.mark.task("checkpoint_cost")
def test_cost_plain_backprop_and_large_n(kata):
    for n in (1, 9, 64):
        assert_equal(tuple(kata.checkpoint_cost(n, 1)), (n + 1, 0), f"checkpoint_cost(n={n}, k=1): plain backprop")
    for n, k in [(10**6, 1000), (10**6 + 1, 1001), (10**9, 31623), (10**9 + 7, 10**9 + 7)]:
        assert_equal(tuple(kata.checkpoint_cost(n, k)), closed_cost(n, k), f"checkpoint_cost(n={n}, k={k})")


@pytest.mark.task("checkpoint_cost")
@pytest.mark.parametrize("n,k,name", [(0, 1, "n"), (-2, 3, "n"), (4, 0, "k"), (4, -7, "k")])
def test_cost_rejects_bad_sizes(kata, n, k, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.checkpoint_cost(n, k)


# === task 7: sqrt_schedule ===


@pytest.mark.task("sqrt_schedule")
def test_sqrt_schedule_minimises_peak_among_uniform_segments(kata):
    cases = [(n,) for n in range(1, 301)]
    for (n,), got in zip(cases, call_each_in_order(kata.sqrt_schedule, cases)):
        sizes = list(got)
        assert_equal(sum(sizes), n, f"sum(sqrt_schedule({n}))")
        assert_equal(sizes, spec_sizes(n, sizes[0]), f"sqrt_schedule({n}) is a uniform segmentation")
        best_k = min(range(1, n + 1), key=lambda k: closed_cost(n, k)[0])
        assert_equal(
            spec_peak(sizes),
            closed_cost(n, best_k)[0],
            f"peak of sqrt_schedule({n}) = {sizes} vs the best uniform k ({best_k})",
            hint="floor(sqrt(n)) is not always optimal: try n = 8 or 15",
        )


@pytest.mark.task("sqrt_schedule")
@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 9, 10, 15, 16, 17, 99, 100, 101, 10**6 + 1])
def test_sqrt_schedule_uses_ceil_sqrt(kata, n):
    assert_equal(
        list(kata.sqrt_schedule(n)),
        spec_sizes(n, ceil_sqrt(n)),
        f"sqrt_schedule({n}) with k = ceil(sqrt({n})) = {ceil_sqrt(n)}",
        hint="k = ceil(sqrt(n)) = isqrt(n - 1) + 1, then segments of k with the remainder last",
    )


@pytest.mark.task("sqrt_schedule")
@pytest.mark.parametrize("n", [0, -4])
def test_sqrt_schedule_rejects_bad_n(kata, n):
    with pytest.raises(ValueError, match=r"\bn\b"):
        kata.sqrt_schedule(n)


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===

NOT_POSITIVE_INTS = (0, -1, 2.5, math.nan, True)


@pytest.mark.task("layer_forward")
def test_layer_forward_rejects_x_too_long_and_empty(kata):
    layer = ([[1.0, 2.0, 3.0]], [0.0])
    for x in ([1.0, 2.0, 3.0, 4.0], []):
        with pytest.raises(ValueError, match=r"\bx\b"):
            kata.layer_forward(layer, x)


@pytest.mark.parametrize("task", [pytest.param(name, marks=pytest.mark.task(name), id=name)
                                  for name in ("segment_sizes", "checkpoint_cost")])
def test_sizes_refuse_every_non_positive_int(kata, task):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match=r"\bn\b"):
            getattr(kata, task)(bad, 1)
        with pytest.raises(ValueError, match=r"\bk\b"):
            getattr(kata, task)(1, bad)


@pytest.mark.task("sqrt_schedule")
def test_sqrt_schedule_refuses_every_non_positive_int(kata):
    for bad in NOT_POSITIVE_INTS:
        with pytest.raises(ValueError, match=r"\bn\b"):
            kata.sqrt_schedule(bad)


@pytest.mark.task("backward_checkpointed")
def test_checkpointed_refuses_sizes_that_are_not_positive_ints(kata):
    net, x = inputs(3, [2] * 6)  # 5 layers
    for sizes in ([2.5, 2.5], [True, 4], [math.nan, 5], [5.0], [1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 5]):
        with pytest.raises(ValueError, match="sizes"):
            kata.backward_checkpointed(net, x, sizes, CountingStore())
