"""
Activation checkpointing: train an n-layer network while keeping only about
2*sqrt(n) activations in memory instead of all n + 1, by recomputing the
forgotten ones during the backward pass.

Backpropagation walks the layers in reverse and each layer's backward needs
the activations its forward saw. Plain backprop therefore keeps every
activation from the forward pass alive until the backward pass reaches it:
memory grows linearly with depth. Checkpointing cuts the network into
segments, keeps only each segment's input (a "checkpoint") during the forward
pass, and, when the backward pass reaches a segment, replays that segment's
forward from its checkpoint to get the activations back. Memory becomes
(number of segments) + (one segment's activations); the price is one extra
forward evaluation for most layers. Segments of sqrt(n) layers balance the
two terms.

The gradients do not change at all: the replay runs the same float
operations on the same inputs in the same order, so every recomputed
activation is bit-for-bit the one the first forward pass produced.

References: Chen, Xu, Zhang, Guestrin, "Training Deep Nets with Sublinear
Memory Cost" (2016); Griewank and Walther, "Algorithm 799: Revolve" (2000)
for the optimal (binomial) schedules; torch.utils.checkpoint for the
production version.
"""

from __future__ import annotations

import math
import random

# === THE NETWORK ===
#
# n layers, layer i maps activation h_i to h_{i+1}:
#   h_{i+1} = tanh(W_i h_i + b_i)          W_i is d_{i+1} x d_i, b_i has d_{i+1}
# with h_0 = x the input and h_n the output. The loss is L = 0.5 * ||h_n||^2,
# so dL/dh_n = h_n. Widths may change from layer to layer; a layer is the
# pair (W, b) with W a list of rows.
#
# What a layer's backward needs: with z = W x + b and y = tanh(z),
#   dL/dz = dL/dy * (1 - y^2)       tanh' written with the OUTPUT y
#   dL/dW = dL/dz x^T               needs the INPUT x
#   dL/db = dL/dz
#   dL/dx = W^T dL/dz
# so layer i's backward reads both h_i (its input) and h_{i+1} (its output),
# the same pair PyTorch saves for a Linear followed by a Tanh.


def make_network(widths: list[int], seed: int = 42) -> list[tuple[list[list[float]], list[float]]]:
    """A seeded network with len(widths) - 1 layers; layer i maps widths[i] -> widths[i+1].

    Weights are uniform in +-1.5/sqrt(fan_in) so that tanh neither saturates
    nor shrinks the signal to nothing over a few dozen layers.
    """
    rng = random.Random(seed)
    net = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        scale = 1.5 / math.sqrt(fan_in)
        W = [[rng.uniform(-scale, scale) for _ in range(fan_in)] for _ in range(fan_out)]
        b = [rng.uniform(-0.1, 0.1) for _ in range(fan_out)]
        net.append((W, b))
    return net


def loss_and_grad(h: list[float]) -> tuple[float, list[float]]:
    """The scalar loss L = 0.5 * sum(h_j^2) of the output h, and dL/dh = h."""
    return 0.5 * sum(v * v for v in h), list(h)


def layer_forward(layer, x):
    """One layer's forward: return y = tanh(W x + b) as a new list.

    layer: the pair (W, b), W a list of d_out rows of d_in floats, b d_out
    floats. x: d_in floats. Raises ValueError naming x when len(x) != d_in.
    Sum each row left to right, sum(w * v for w, v in zip(row, x)), then add
    b: the same operations in the same order give the same floats every time.
    """
    # BEGIN SOLUTION
    W, b = layer
    if len(x) != len(W[0]):
        raise ValueError(f"x has {len(x)} entries but the layer expects {len(W[0])} (columns of W)")
    return [math.tanh(sum(w * v for w, v in zip(row, x)) + bias) for row, bias in zip(W, b)]
    # END SOLUTION


def layer_backward(layer, x, y, grad_y):
    """One layer's backward: from dL/dy return (dL/dx, dL/dW, dL/db).

    x: the layer's input (d_in floats), y: its output tanh(W x + b) (d_out
    floats), grad_y: dL/dy (d_out floats). Returns grad_x (d_in floats),
    grad_W (d_out rows of d_in floats, the shape of W) and grad_b (d_out
    floats). Use y for the tanh derivative; never re-run the forward here.
    """
    # BEGIN SOLUTION
    W, _ = layer
    # dL/dz_i = dL/dy_i * tanh'(z_i), and tanh'(z) = 1 - tanh(z)^2 = 1 - y^2:
    # the output alone gives the derivative, no need to keep z.
    grad_z = [g * (1.0 - v * v) for g, v in zip(grad_y, y)]
    # dL/dW_ij = dL/dz_i * x_j: an outer product, one row per output.
    grad_W = [[gz * xj for xj in x] for gz in grad_z]
    # dL/dx_j = sum_i W_ij dL/dz_i: W transposed, so walk a column of W.
    grad_x = [sum(W[i][j] * grad_z[i] for i in range(len(W))) for j in range(len(x))]
    return grad_x, grad_W, list(grad_z)
    # END SOLUTION


# === ACTIVATION MEMORY ===
#
# The quantity checkpointing saves is the number of activations held at once.
# Every activation kept between layer calls lives in a store, indexed by its
# position j (h_j, 0 <= j <= n); the store counts how many are held, and the
# peak of that count is "peak stored activations". The one activation in
# flight (what layer_forward just returned and the next layer consumes) may
# sit in a local variable, like a register; everything else goes through
# save / load / free. Forward work is counted separately, as the number of
# layer_forward calls: the graders wrap layer_forward to count them.


class ActivationStore:
    """Simulated activation memory: holds h_j by index j, counts live entries and the peak."""

    def __init__(self) -> None:
        self.slots: dict[int, list[float]] = {}
        self.peak = 0
        self.saves = 0

    def save(self, index: int, h: list[float]) -> None:
        """Keep a copy of h_index; saving an index that is already held is an error."""
        if index in self.slots:
            raise ValueError(f"h_{index} is already stored; free it before saving it again")
        self.slots[index] = list(h)
        self.saves += 1
        self.peak = max(self.peak, len(self.slots))

    def load(self, index: int) -> list[float]:
        """A copy of h_index, which must be held."""
        if index not in self.slots:
            raise KeyError(f"h_{index} is not in the store: never saved, or already freed")
        return list(self.slots[index])

    def free(self, index: int) -> None:
        """Forget h_index, which must be held."""
        if index not in self.slots:
            raise KeyError(f"h_{index} is not in the store: never saved, or already freed")
        del self.slots[index]

    @property
    def live(self) -> int:
        return len(self.slots)


# === PLAIN BACKPROP (THE BASELINE) ===
#
# Forward: save every activation h_0 .. h_n. Backward: for i = n-1 down to 0,
# read h_i and h_{i+1}, run layer i's backward, and free h_{i+1}, which no
# later step needs. Memory peaks at the end of the forward pass, with all
# n + 1 activations held: linear in depth. This is what autograd does by
# default, and what runs out of memory first when models get deep.


def backward_full(net, x, store):
    """Plain backprop: save every activation, then walk back. Returns (loss, grads).

    net: list of n >= 1 layers (W, b); x: the input h_0. store: an
    ActivationStore (save/load/free). The protocol, which fixes the counts:
      forward:  save h_0, then h_1, ..., h_n as layer_forward makes them
                (n calls to layer_forward; compute the loss from h_n);
      backward: for i = n-1 down to 0: load h_i and h_{i+1}, call
                layer_backward(net[i], h_i, h_{i+1}, dL/dh_{i+1}), free h_{i+1};
                finally free h_0, so the store ends empty.
    grads[i] is the tuple (grad_W, grad_b) of layer i. Raises ValueError
    naming net when it has no layers.
    """
    # BEGIN SOLUTION
    if not net:
        raise ValueError("net has no layers: backprop needs n >= 1")
    n = len(net)
    store.save(0, list(x))
    h = list(x)
    for i, layer in enumerate(net):
        h = layer_forward(layer, h)
        store.save(i + 1, h)
    loss, grad = loss_and_grad(h)

    grads = [None] * n
    for i in range(n - 1, -1, -1):
        grad, grad_W, grad_b = layer_backward(net[i], store.load(i), store.load(i + 1), grad)
        grads[i] = (grad_W, grad_b)
        # h_{i+1} was the last thing only layer i needed; h_i is still needed
        # as the OUTPUT of layer i-1.
        store.free(i + 1)
    store.free(0)
    return loss, grads
    # END SOLUTION


# === SEGMENTS ===
#
# A segmentation cuts the n layers into consecutive segments, listed by size
# from the input to the output. The uniform one takes k layers at a time
# starting from the input; when k does not divide n the last segment holds
# what is left. Where the short segment goes is not cosmetic: the peak
# depends on it (see the accounting section).


def segment_sizes(n, k):
    """Uniform segmentation: sizes of consecutive segments of k layers from the input.

    Returns a list of positive ints summing to n: ceil(n/k) segments, all of
    size k except the LAST, which holds the remainder when k does not divide
    n. k >= n gives one segment [n]. Raises ValueError naming n or k when it
    is not a positive int (a bool or a float is refused), n checked first.
    """
    # BEGIN SOLUTION
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer (number of layers), got {n!r}")
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive integer (layers per segment), got {k!r}")
    k = min(k, n)
    full, rest = divmod(n, k)
    return [k] * full + ([rest] if rest else [])
    # END SOLUTION


# === CHECKPOINTED BACKPROP ===
#
# Segments [s, e) with s = b_j, e = b_{j+1}: layers s .. e-1, activations
# h_s .. h_e. Forward: run every layer once, but save only the segment
# inputs h_{b_0}, ..., h_{b_{m-1}} (the checkpoints) and the output h_n,
# which the loss and the last layer's backward need. Backward, one segment at
# a time from the last: load the checkpoint h_s, replay layers s .. e-2 to
# rebuild h_{s+1} .. h_{e-1} (h_e is already held: it is the next segment's
# checkpoint, or h_n), then run the segment's backward exactly as plain
# backprop does, freeing h_{i+1} after layer i. The checkpoint h_s survives
# its own segment because it is the OUTPUT of the segment before.
#
# Intuition: the checkpoints are bookmarks. Instead of keeping every page of
# the forward pass, you keep one bookmark per chapter and reread a chapter
# when the backward pass needs it.
#
# Signpost: torch.utils.checkpoint(fn, *inputs) does the same per wrapped
# module (checkpoint_sequential splits an nn.Sequential into segments);
# Megatron-LM's "selective recomputation" checkpoints only the cheap-to-redo,
# memory-hungry attention internals instead of whole layers.


def backward_checkpointed(net, x, sizes, store):
    """Backprop with checkpoints at segment boundaries. Returns (loss, grads).

    sizes: the segmentation, positive ints summing to n = len(net) (segment j
    covers layers b_j .. b_{j+1}-1 with b_0 = 0, b_{j+1} = b_j + sizes[j]).
    The protocol, which fixes the counts:
      forward:  n calls to layer_forward; save only the checkpoints h_{b_j}
                (the input of every segment, h_0 included) and the output h_n;
                compute the loss from h_n;
      backward: for each segment [s, e), last first: load h_s, replay
                layer_forward for layers s .. e-2 saving h_{s+1} .. h_{e-1}
                (size - 1 calls), then for i = e-1 down to s: load h_i and
                h_{i+1}, call layer_backward(net[i], h_i, h_{i+1}, dL/dh_{i+1}),
                free h_{i+1}; finally free h_0, so the store ends empty.
    Evaluate layers only through layer_forward (the graders count the calls)
    and keep activations only in the store, apart from the one in flight.
    grads[i] is the tuple (grad_W, grad_b) of layer i, equal (==) to what
    backward_full returns. Raises ValueError naming sizes when they are not
    positive ints (a bool or a float is refused) summing to len(net).
    """
    # BEGIN SOLUTION
    n = len(net)
    if not sizes or any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in sizes) or sum(sizes) != n:
        raise ValueError(f"sizes must be positive integers summing to the {n} layers, got {sizes!r}")
    # b_0 .. b_{m-1}: where each segment starts.
    starts = [0]
    for size in sizes[:-1]:
        starts.append(starts[-1] + size)
    checkpoints = set(starts) | {n}

    # Forward: one pass, remembering only the bookmarks.
    h = list(x)
    store.save(0, h)
    for i, layer in enumerate(net):
        h = layer_forward(layer, h)
        if i + 1 in checkpoints:
            store.save(i + 1, h)
    loss, grad = loss_and_grad(h)

    grads = [None] * n
    for start, size in reversed(list(zip(starts, sizes))):
        stop = start + size
        # Replay the segment from its checkpoint. h_stop is not recomputed:
        # it is already held, so only size - 1 layers run again.
        h = store.load(start)
        for j in range(start + 1, stop):
            h = layer_forward(net[j - 1], h)
            store.save(j, h)
        # The segment's backward is plain backprop restricted to [start, stop).
        for i in range(stop - 1, start - 1, -1):
            grad, grad_W, grad_b = layer_backward(net[i], store.load(i), store.load(i + 1), grad)
            grads[i] = (grad_W, grad_b)
            store.free(i + 1)
    store.free(0)
    return loss, grads
    # END SOLUTION


# === ACCOUNTING: THE CLOSED FORMS ===
#
# Count, for a uniform segmentation with m = ceil(n/k) segments, two things
# without running anything:
#   * peak stored activations: the largest number of store entries held at
#     once, over the forward pass and every segment's backward;
#   * extra forward work: layer_forward calls beyond the n of one forward pass.
# Walk the protocol: what does the store hold when the backward pass has just
# replayed segment j? Which segment is the worst one? The answer is not
# quite m + k, and the difference is exactly the case k does not divide n.
# Plain backprop (k = 1: every activation is a checkpoint) must come out as
# n + 1 held and 0 extra.


def checkpoint_cost(n, k):
    """Closed form: (peak stored activations, extra layer_forward calls) for uniform segments of k.

    For backward_checkpointed(net, x, segment_sizes(n, k), store) on an
    n-layer net: the peak of the store's live count and the number of
    layer_forward calls beyond n. k >= n means one segment. O(1): no loop
    over layers or segments. Raises ValueError naming n or k when it is not
    a positive int (a bool or a float is refused), n checked first.
    """
    # BEGIN SOLUTION
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer (number of layers), got {n!r}")
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive integer (layers per segment), got {k!r}")
    k = min(k, n)
    m = -(-n // k)  # ceil(n / k) segments
    last = n - (m - 1) * k  # size of the last segment, 1 .. k
    # While segment j (0-based) is replayed the store holds the checkpoints of
    # segments 0..j (j + 1), the segment's end h_e (1) and the size - 1
    # replayed activations: j + 1 + size_j. Over the uniform segments:
    #   j = m-1 (the last, size `last`):  m + last
    #   j = m-2 (a full one, if m >= 2): m - 1 + k
    # When k divides n the last segment is full and wins with m + k; otherwise
    # it is short and the one before it peaks at m + k - 1. The forward pass
    # holds m + 1 <= both.
    peak = m + k - 1 + (1 if last == k else 0)
    # Each segment replays all its layers but the last: sum(size - 1) = n - m.
    extra = n - m
    return peak, extra
    # END SOLUTION


# === THE SQRT(N) SCHEDULE ===
#
# Peak ~ n/k + k: few big segments cost replay memory, many small ones cost
# checkpoint memory. The sum is smallest near k = sqrt(n), giving a peak of
# about 2 sqrt(n) for n - sqrt(n) extra forwards (~ one extra forward pass,
# ~33% more compute for the usual backward = 2x forward). Rounding matters:
# ceil(sqrt(n)) gives the smallest peak of any uniform segmentation (checked
# for every n < 20000); floor(sqrt(n)) ties with it, except when n + 1 is a
# perfect square (n = 3, 8, 15, 24, ...), where it holds one more activation.
#
# Signpost: uniform segments are not the end of the story. Because finished
# segments free their checkpoints, later segments can afford to be smaller;
# a "staircase" segmentation and Revolve's binomial schedules do better (see
# the demo), and recursive checkpointing trades O(n log n) compute for
# O(log n) memory.


def sqrt_schedule(n):
    """The sqrt(n) schedule: segment_sizes(n, k) with k = ceil(sqrt(n)), computed exactly.

    Use integer arithmetic (math.isqrt), not a float square root. Raises
    ValueError naming n when it is not a positive int (a bool or a float is
    refused).
    """
    # BEGIN SOLUTION
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer (number of layers), got {n!r}")
    # ceil(sqrt(n)) == isqrt(n - 1) + 1 for n >= 1, with no float rounding.
    k = math.isqrt(n - 1) + 1
    return segment_sizes(n, k)
    # END SOLUTION


# === DEMONSTRATION ===


class count_forwards:
    """Context manager: counts layer_forward calls made while it is active (the demo's meter)."""

    def __enter__(self):
        self.calls = 0
        self._original = globals()["layer_forward"]

        def counted(layer, x):
            self.calls += 1
            return self._original(layer, x)

        globals()["layer_forward"] = counted
        return self

    def __exit__(self, *exc):
        globals()["layer_forward"] = self._original
        return False


def run(net, x, sizes=None):
    """Run one backward (full when sizes is None); return (loss, grads, peak, forward calls)."""
    store = ActivationStore()
    with count_forwards() as meter:
        if sizes is None:
            loss, grads = backward_full(net, x, store)
        else:
            loss, grads = backward_checkpointed(net, x, sizes, store)
    assert store.live == 0, "the store should end empty"
    return loss, grads, store.peak, meter.calls


def staircase_sizes(n):
    """Decreasing segments P-1, P-2, ..., 1 (trimmed to sum to n), P as small as covers n layers."""
    peak = 2
    while peak * (peak - 1) // 2 < n:
        peak += 1
    sizes, left = [], n
    for size in range(peak - 1, 0, -1):
        take = min(size, left)
        if take:
            sizes.append(take)
        left -= take
    return sizes


def demo_identical(rng: random.Random) -> None:
    widths = [5, 4, 6, 3, 4, 5, 4, 3, 6, 4, 4, 5, 3, 4]  # 13 layers, widths vary
    net, x = make_network(widths, seed=7), [rng.uniform(-1, 1) for _ in range(widths[0])]
    _, reference, peak, calls = run(net, x)
    print(f"1. Gradients are identical, not just close (n = {len(net)} layers, == on every float)")
    print(f"   {'segmentation':<28} {'grads == full?':>14} {'peak':>5} {'forwards':>9}")
    print(f"   {'none (plain backprop)':<28} {'-':>14} {peak:>5} {calls:>9}")
    for sizes in ([1] * 13, segment_sizes(13, 3), segment_sizes(13, 5), [13], [6, 4, 2, 1], sqrt_schedule(13)):
        _, grads, peak, calls = run(net, x, sizes)
        same = grads == reference
        assert same, "checkpointing changed the gradients"
        label = str(sizes) if len(sizes) <= 6 else f"[1] * {len(sizes)}"
        print(f"   {label:<28} {str(same):>14} {peak:>5} {calls:>9}")
    print()


def demo_costs(rng: random.Random) -> None:
    n = 30
    net = make_network([3] * (n + 1), seed=3)
    x = [rng.uniform(-1, 1) for _ in range(3)]
    print(f"2. Counted costs vs the closed form (n = {n}; counted by running it)")
    print(f"   {'k':>3} {'segments':>9} {'peak':>5} {'closed':>7} {'extra fwd':>10} {'closed':>7}  peak")
    for k in range(1, n + 1):
        _, _, peak, calls = run(net, x, segment_sizes(n, k))
        closed_peak, closed_extra = checkpoint_cost(n, k)
        assert (peak, calls - n) == (closed_peak, closed_extra)
        if k <= 12 or k in (15, 20, 25, 30):
            mark = "  <- sqrt schedule" if k == sqrt_schedule(n)[0] else ""
            print(
                f"   {k:>3} {len(segment_sizes(n, k)):>9} {peak:>5} {closed_peak:>7} {calls - n:>10} "
                f"{closed_extra:>7}  {'#' * peak}{mark}"
            )
    print()


def demo_scaling() -> None:
    print("3. The sqrt(n) schedule: peak ~ 2 sqrt(n) for ~ one extra forward pass")
    print(f"   {'n':>6} {'full peak':>10} {'sqrt k':>7} {'sqrt peak':>10} {'best uniform':>13}"
          f" {'2*sqrt(n)':>10} {'extra fwd':>10} {'memory saved':>13}")
    for n in (8, 15, 16, 100, 1000, 10_000, 1_000_000):
        k = sqrt_schedule(n)[0]
        peak, extra = checkpoint_cost(n, k)
        best = min(checkpoint_cost(n, j)[0] for j in range(1, min(n, 3 * k) + 1))
        floor_peak = checkpoint_cost(n, math.isqrt(n))[0]
        note = f"  (floor k={math.isqrt(n)}: {floor_peak})" if floor_peak != peak else ""
        print(
            f"   {n:>6} {n + 1:>10} {k:>7} {peak:>10} {best:>13} {2 * math.sqrt(n):>10.1f}"
            f" {extra:>10} {(n + 1) / peak:>12.1f}x{note}"
        )
    print()


def demo_staircase(rng: random.Random) -> None:
    n = 36
    net = make_network([3] * (n + 1), seed=5)
    x = [rng.uniform(-1, 1) for _ in range(3)]
    _, reference, _, _ = run(net, x)
    uniform, stairs = sqrt_schedule(n), staircase_sizes(n)
    _, g_uniform, p_uniform, c_uniform = run(net, x, uniform)
    _, g_stairs, p_stairs, c_stairs = run(net, x, stairs)
    assert g_uniform == reference and g_stairs == reference
    print(f"4. Beyond uniform segments (n = {n}): finished segments free their checkpoints,")
    print("   so the segments replayed last (nearest the input) can afford to be longer.")
    print(f"   sqrt schedule {uniform}: peak {p_uniform}, extra forwards {c_uniform - n}")
    print(f"   staircase     {stairs}: peak {p_stairs}, extra forwards {c_stairs - n}")
    print(f"   (~ sqrt(2n) = {math.sqrt(2 * n):.1f} vs 2 sqrt(n) = {2 * math.sqrt(n):.1f})\n")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_identical(rng)
    demo_costs(rng)
    demo_scaling()
    demo_staircase(rng)
    print(
        "Checkpointing trades compute for memory: the recomputed activations are\n"
        "bit-for-bit the originals, so training is unchanged while peak activation\n"
        "memory drops from n + 1 to about 2 sqrt(n)."
    )
