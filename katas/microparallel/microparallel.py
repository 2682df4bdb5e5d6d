"""
Tensor and pipeline parallelism, simulated: split one model over p devices
that are plain Python lists, move every float between them through a
counting Network, and prove the split model computes exactly what the
single-device model computes.

Two ideas carry all of large-model parallelism:
  * tensor parallelism (Megatron-LM): cut each weight matrix into p slices,
    one per device, and pay for it with a collective (all-gather or
    all-reduce) that stitches the partial results back together;
  * pipeline parallelism (GPipe): give each device a consecutive block of
    layers and stream micro-batches through them, paying with "bubbles",
    the idle slots while the pipeline fills and drains.

Pure Python shows WHAT moves and WHO waits, not how fast: here every device
is a list in the same memory. The counts are the point: floats sent per
device, communication rounds, idle slots in the timeline.

References: Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter
Language Models Using Model Parallelism" (2019), section 3; Huang et al.,
"GPipe: Efficient Training of Giant Neural Networks using Pipeline
Parallelism" (2019); Patarasuk & Yuan, "Bandwidth optimal all-reduce
algorithms for clusters of workstations" (2009) for the ring all-reduce.
"""

from __future__ import annotations

import math
import random

# Kata skeleton generated from solutions/microparallel/microparallel.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microparallel`; stuck? `python -m workbook hint microparallel`.
from workbook import KataTodo

# === SIMULATED DEVICES AND THE NETWORK ===
#
# A "device" is a rank k in 0..p-1. Whatever device k holds is entry k of a
# Python list: every parallel function below takes and returns lists of p
# per-device values. Devices never read each other's entries directly; data
# crosses between them only through Network.exchange, which counts it.
#
# The communication model (the one NCCL's documentation uses for its "bus
# bandwidth"): time advances in rounds; in one round any set of point-to-point
# messages travel at once. What we count:
#   sent[k]      floats device k put on the wire
#   received[k]  floats device k took off the wire
#   rounds       calls to exchange (latency: each round costs one hop)
#   log          (round, src, dst, floats) of every message, to check topology
# The cost that matters for large tensors is the bandwidth term, floats per
# device; the ring algorithms below make it the same on every device and
# (almost) independent of p.


class Network:
    """p simulated devices joined by point-to-point links; counts every float sent."""

    def __init__(self, p: int) -> None:
        if not isinstance(p, int) or isinstance(p, bool) or p <= 0:
            raise ValueError(f"p (the number of devices) must be a positive integer, got {p!r}")
        self.p = p
        self.sent = [0] * p
        self.received = [0] * p
        self.rounds = 0
        self.log: list[tuple[int, int, int, int]] = []

    def exchange(self, messages: list[tuple[int, int, list[float]]]) -> list[list[float]]:
        """Deliver one round of messages at once and return what arrived, in order.

        messages: a list of (src, dst, payload) with payload a flat list of
        floats. Returns one copy of each payload, in the order of messages:
        the receiver's copy, which the sender can no longer change.
        """
        arrived = []
        for src, dst, payload in messages:
            for name, rank in (("src", src), ("dst", dst)):
                if not isinstance(rank, int) or not 0 <= rank < self.p:
                    raise ValueError(f"{name} must be a device rank in 0..{self.p - 1}, got {rank!r}")
            if src == dst:
                raise ValueError(f"device {src} cannot send to itself: it already holds its data")
            copy = [float(x) for x in payload]
            self.sent[src] += len(copy)
            self.received[dst] += len(copy)
            self.log.append((self.rounds, src, dst, len(copy)))
            arrived.append(copy)
        self.rounds += 1
        return arrived

    def total_sent(self) -> int:
        return sum(self.sent)


# === SMALL HELPERS (PROVIDED) ===
#
# Matrices are lists of rows. A linear layer is Y = X W + b with
#   X: batch x d_in   (one row per token)
#   W: d_in x d_out   (row i holds the weights leaving input feature i)
#   b: d_out
# so "columns of W" are output features and "rows of W" are input features.


def matmul(X: list[list[float]], W: list[list[float]]) -> list[list[float]]:
    """X @ W for lists of rows (X: n x k, W: k x m)."""
    columns = list(zip(*W))
    return [[sum(x * w for x, w in zip(row, col)) for col in columns] for row in X]


def add_bias(Y: list[list[float]], b: list[float]) -> list[list[float]]:
    """Y + b, the bias broadcast over the rows of Y."""
    return [[y + c for y, c in zip(row, b)] for row in Y]


def gelu(x: float) -> float:
    """GeLU, the tanh approximation used by GPT-2 and Megatron-LM."""
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def flatten(rows: list[list[float]]) -> list[float]:
    """A matrix as one flat row-major vector (collectives move flat vectors)."""
    return [x for row in rows for x in row]


def unflatten(vector: list[float], cols: int) -> list[list[float]]:
    """The inverse of flatten: cut a row-major vector into rows of ``cols``."""
    return [list(vector[i:i + cols]) for i in range(0, len(vector), cols)]


def concat_columns(blocks: list[list[list[float]]]) -> list[list[float]]:
    """Glue column blocks side by side: row r is blocks[0][r] + blocks[1][r] + ..."""
    return [[x for block in blocks for x in block[r]] for r in range(len(blocks[0]))]


def chunk_bounds(n: int, p: int) -> list[tuple[int, int]]:
    """Cut range(n) into p contiguous chunks [start, stop); the first n % p are one longer."""
    base, extra = divmod(n, p)
    bounds, start = [], 0
    for k in range(p):
        stop = start + base + (1 if k < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def check_per_device(net: Network, values: list, name: str) -> None:
    """Raise ValueError unless ``values`` holds exactly one entry per device of ``net``."""
    if len(values) != net.p:
        raise ValueError(f"{name} has {len(values)} entries but the network has p = {net.p} devices")


# === SHARDING THE WEIGHTS ===
#
# Tensor parallelism splits a weight matrix, not the batch. Two ways:
#
#   column split  W = [W_0 | W_1 | ... | W_{p-1}]     each d_in x d_out/p
#       Y = X W = [X W_0 | X W_1 | ...]               device k computes the
#       k-th block of output columns from the FULL input X. Exact, no sum.
#
#   row split     W = [W_0; W_1; ...; W_{p-1}]        each d_in/p x d_out
#       Y = X W = X_0 W_0 + X_1 W_1 + ...             device k needs only
#       the k-th block of input columns X_k, and produces a PARTIAL SUM of
#       the full output. The partial sums must be added: an all-reduce.
#
# Both keep 1/p of the weights on each device: that is the memory saving
# that lets a 175B-parameter model exist at all. Equal slices keep the work
# balanced, so the width must be divisible by p.


def split_columns(W, p):
    """Split W (d_in x d_out) into p contiguous column blocks, one per device.

    Returns a list of p matrices; block k holds columns
    [k * d_out/p, (k+1) * d_out/p) of every row, as new lists (W is not
    changed). Raises ValueError naming p when p is not a positive int (a
    float or a bool is refused), checked first, and naming W when d_out is
    not divisible by p.
    """
    raise KataTodo('microparallel.split_columns: Split W (d_in x d_out) into p contiguous column blocks, one per device.')


def split_rows(W, p):
    """Split W (d_in x d_out) into p contiguous row blocks, one per device.

    Returns a list of p matrices; block k holds rows
    [k * d_in/p, (k+1) * d_in/p), as new lists (W is not changed). Raises
    ValueError naming p when p is not a positive int (a float or a bool is
    refused), checked first, and naming W when d_in is not divisible by p.
    """
    raise KataTodo('microparallel.split_rows: Split W (d_in x d_out) into p contiguous row blocks, one per device.')


# === RING COLLECTIVES ===
#
# The p devices sit on a ring: device k only ever sends to (k + 1) % p. Cut
# every length-n vector into p chunks (chunk_bounds(n, p)). Two phases:
#
#   reduce-scatter, p-1 rounds: in each round every device passes ONE chunk
#   to its right neighbour, who ADDS it to its own copy of that chunk and
#   passes the running sum on in the next round. Schedule the chunks so that
#   after p-1 rounds chunk c has visited every device and its complete sum
#   sits on device c.
#
#   all-gather, p-1 rounds: every device passes one finished piece to its
#   right neighbour, who KEEPS it (no addition) and forwards it next round.
#   After p-1 rounds every piece has reached every device.
#
# all-reduce = reduce-scatter, then all-gather of the reduced chunks.
#
# Intuition: nobody is a bottleneck. A naive "everyone sends everything to
# rank 0, rank 0 sends the sum back" moves the same total, but rank 0 sends
# and receives (p-1) n floats while the others idle; in the ring every device
# carries an equal share every round, and that share shrinks as p grows.
# Signpost: NCCL uses rings (and trees for latency at small sizes); the
# per-device cost of the ring all-reduce is the "bus bandwidth" formula in
# nccl-tests' PERFORMANCE.md.


def ring_reduce_scatter(net, vectors):
    """Sum the devices' vectors so that device k ends up with the sum of chunk k only.

    net: a Network (use only net.p and net.exchange). vectors: p lists of n
    floats, vectors[k] held by device k. Cut range(n) with chunk_bounds(n, p).
    Run p-1 rounds; in every round each device k sends exactly one chunk of
    its running sums to device (k + 1) % p, which adds it into its own copy.
    Returns p lists: entry k is sum_j vectors[j][start_k:stop_k]. The inputs
    are not changed. Raises ValueError when len(vectors) != net.p or the
    vectors differ in length.
    """
    raise KataTodo("microparallel.ring_reduce_scatter: Sum the devices' vectors so that device k ends up with the sum of chunk k only.")


def ring_all_gather(net, shards):
    """Give every device the concatenation of all devices' shards, in rank order.

    net: a Network. shards: p lists of floats (lengths may differ), shards[k]
    held by device k. Run p-1 rounds; in every round each device k sends
    exactly one shard it holds (its own first, then the ones it received) to
    device (k + 1) % p. Returns p lists, each shards[0] + shards[1] + ... +
    shards[p-1]. Raises ValueError when len(shards) != net.p.
    """
    raise KataTodo("microparallel.ring_all_gather: Give every device the concatenation of all devices' shards, in rank order.")


def ring_all_reduce(net, vectors):
    """Give every device the elementwise sum of all devices' vectors (ring algorithm).

    net: a Network. vectors: p lists of n floats. A ring reduce-scatter
    followed by a ring all-gather of the reduced chunks: 2(p-1) rounds, every
    message from device k to device (k + 1) % p. Returns p lists of n floats,
    the same floats bit for bit on every device. Raises ValueError like
    ring_reduce_scatter.
    """
    raise KataTodo("microparallel.ring_all_reduce: Give every device the elementwise sum of all devices' vectors (ring algorithm).")


# === TENSOR-PARALLEL LINEAR LAYERS ===
#
# column_parallel_linear: X replicated on every device, W and b split by
# columns. Device k computes Y_k = X W_k + b_k, which is exactly block k of
# the columns of Y. If the next operation needs all of Y on every device,
# all-gather the blocks; if it can work on column blocks (an elementwise
# activation followed by a row-parallel layer), leave them where they are.
#
# row_parallel_linear: the input arrives already split by columns (X_k, the
# output of a column-parallel layer), W split by rows. Device k computes the
# partial product X_k W_k; the true output is their SUM, so all-reduce the
# partials, then add the bias. The bias belongs to the sum, not to the parts.


def column_parallel_linear(net, X, W_shards, b_shards, gather_output=False):
    """Y = X W + b with W and b split by columns: device k computes column block k.

    net: a Network with p devices. X: batch x d_in, the same on every device.
    W_shards[k]: d_in x (d_out/p); b_shards[k]: d_out/p floats. Without
    gather_output, returns p blocks, block k = X W_k + b_k (batch x d_out/p),
    and sends nothing. With gather_output, all-gathers the flattened blocks
    in ONE ring_all_gather (p-1 rounds) and returns p copies of the full Y
    (batch x d_out). Raises ValueError when W_shards or b_shards do not hold
    one entry per device.
    """
    raise KataTodo('microparallel.column_parallel_linear: Y = X W + b with W and b split by columns: device k computes column block k.')


def row_parallel_linear(net, X_shards, W_shards, b):
    """Y = X W + b with X split by columns and W by rows: partial sums, one all-reduce.

    net: a Network with p devices. X_shards[k]: batch x (d_in/p), the k-th
    column block of X. W_shards[k]: (d_in/p) x d_out. b: d_out floats, NOT
    split. Device k computes X_k W_k; ONE ring_all_reduce over the flattened
    batch x d_out partials (2(p-1) rounds) sums them; the bias is added once,
    after the sum. Returns p copies of Y (batch x d_out). Raises ValueError
    when X_shards or W_shards do not hold one entry per device.
    """
    raise KataTodo('microparallel.row_parallel_linear: Y = X W + b with X split by columns and W by rows: partial sums, one all-reduce.')


# === THE MEGATRON MLP ===
#
# A transformer MLP is Y = GeLU(X A + a) B + b with A: d x h, B: h x d
# (h = 4d in GPT). Megatron-LM's split:
#   A by columns  -> device k computes H_k = GeLU(X A_k + a_k) on its own:
#                    GeLU is elementwise, so applying it to a column block is
#                    applying it to those columns of the full matrix;
#   B by rows     -> H is already split the way a row-parallel layer wants its
#                    input: device k computes H_k B_k, a partial sum of Y.
# One all-reduce of batch x d floats per MLP forward, and no communication at
# all between the two linears.
# Why not the other splits? Split A by rows and every device holds a partial
# sum of XA: GeLU(sum) != sum of GeLU, so you must all-reduce BEFORE the
# activation. Split B by columns and every device needs all of H: an extra
# all-gather of batch x h floats (h = 4d: four times the output).
# Signpost: attention splits the same way (heads are column blocks of the
# QKV projection, the output projection is row-parallel); sequence
# parallelism replaces the all-reduce by reduce-scatter + all-gather to
# shard the LayerNorm activations too.


def megatron_mlp(net, X, A, a, B, b):
    """Y = GeLU(X A + a) B + b over net.p devices, Megatron-style, with ONE all-reduce.

    X: batch x d; A: d x h; a: h floats; B: h x d; b: d floats (d need not be
    divisible by p). Split A and a by columns and B by rows (split_columns,
    split_rows), run column_parallel_linear without gathering, apply gelu
    (provided) locally, and finish with row_parallel_linear: the only
    communication is its one all-reduce of batch x d floats. Returns p copies
    of Y (batch x d). Raises ValueError naming the hidden width h when h is
    not divisible by p.
    """
    raise KataTodo('microparallel.megatron_mlp: Y = GeLU(X A + a) B + b over net.p devices, Megatron-style, with ONE all-reduce.')


# === PIPELINE PARALLELISM: THE GPIPE SCHEDULE ===
#
# Split the layers into p consecutive stages, stage s on device s. A batch
# is cut into m micro-batches. Micro-batch i must go through stage s-1
# before stage s can start it (forward), and come back through stage s+1
# before stage s can run its backward. GPipe runs every forward first, then
# (after the pipeline is flushed) every backward, each stage taking the
# micro-batches in order 0, 1, ..., m-1, each as early as its inputs allow.
#
# The timeline is a grid: one row per stage, one column per clock tick.
# A forward takes forward_ticks ticks, a backward backward_ticks (about twice
# a forward in practice: two matmuls per matmul). While the first
# micro-batch walks down the pipe the later stages wait; while the last one
# walks back up the early stages wait. Those idle cells are the bubble.
#
#   p = 3, m = 4, forward 1 tick, backward 1 tick:
#   stage 0  F0 F1 F2 F3 .  .  .  .  B0 B1 B2 B3
#   stage 1  .  F0 F1 F2 F3 .  .  B0 B1 B2 B3 .
#   stage 2  .  .  F0 F1 F2 F3 B0 B1 B2 B3 .  .
#
# Signpost: PipeDream-Flush / 1F1B (Megatron-LM 2021) interleaves one
# forward and one backward per stage to cap stored activations at p
# micro-batches instead of m; its bubble is the same size. Interleaved
# stages (v model chunks per device) shrink it by a factor v.


def gpipe_schedule(p, m, forward_ticks=1, backward_ticks=2):
    """The GPipe timeline for p stages and m micro-batches, each operation as early as allowed.

    Returns a grid: p rows (row s = stage s), each a list of T cells, where T
    is the tick at which the last operation finishes. A cell is None (idle)
    or a tuple (phase, i): phase "F" (forward) or "B" (backward) of
    micro-batch i. An operation occupies forward_ticks (or backward_ticks)
    consecutive cells of its stage's row. Rules: each stage runs F0..F(m-1)
    in order, then B0..B(m-1) in order; F(s, i) starts only after F(s-1, i)
    has finished; B(s, i) only after B(s+1, i) has finished; the last stage
    starts B0 only after its last forward (the flush). Every operation starts
    at the earliest tick these rules allow. Raises ValueError naming p, m,
    forward_ticks or backward_ticks when one is not a positive int (a float
    or a bool is refused).
    """
    raise KataTodo('microparallel.gpipe_schedule: The GPipe timeline for p stages and m micro-batches, each operation as early as allowed.')


def measure_bubble(timeline):
    """The fraction of all (stage, tick) cells of a timeline that are idle (None).

    timeline: a grid as returned by gpipe_schedule (p rows of T cells).
    Returns idle cells / (p * T) as a float in [0, 1]. Raises ValueError
    naming timeline when it has no cells.
    """
    raise KataTodo('microparallel.measure_bubble: The fraction of all (stage, tick) cells of a timeline that are idle (None).')


def gpipe_bubble(p, m):
    """The closed form for the idle fraction of the GPipe timeline: p stages, m micro-batches.

    Returns a float. Raises ValueError naming p or m when one is not a
    positive int (a float or a bool is refused).
    """
    raise KataTodo('microparallel.gpipe_bubble: The closed form for the idle fraction of the GPipe timeline: p stages, m micro-batches.')


# === DEMONSTRATION ===


def random_matrix(rng: random.Random, rows: int, cols: int) -> list[list[float]]:
    return [[rng.uniform(-1.0, 1.0) for _ in range(cols)] for _ in range(rows)]


def single_device_mlp(X, A, a, B, b):
    H = [[gelu(v) for v in row] for row in add_bias(matmul(X, A), a)]
    return add_bias(matmul(H, B), b)


def max_difference(a, b) -> float:
    return max(abs(x - y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b))


def divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def demo_equality(rng: random.Random) -> None:
    batch, d = 3, 5
    print(f"1. Megatron MLP on p devices equals the single-device MLP (batch {batch}, d = {d})")
    print(f"   {'h':>3} {'p':>3} {'weights/device':>15} {'max sent/device':>19} {'max |diff|':>11}")
    for h in (6, 12, 30):
        X, A, a = random_matrix(rng, batch, d), random_matrix(rng, d, h), random_matrix(rng, 1, h)[0]
        B, b = random_matrix(rng, h, d), random_matrix(rng, 1, d)[0]
        reference = single_device_mlp(X, A, a, B, b)
        for p in divisors(h):
            net = Network(p)
            outputs = megatron_mlp(net, X, A, a, B, b)
            diff = max(max_difference(Y, reference) for Y in outputs)
            assert diff < 1e-9, "the sharded MLP disagrees with the single-device MLP"
            per_device = 2 * d * h // p + h // p + d
            print(f"   {h:>3} {p:>3} {per_device:>15} {max(net.sent):>19} {diff:>11.1e}")
    try:
        megatron_mlp(Network(4), X, random_matrix(rng, d, 10), [0.0] * 10, random_matrix(rng, 10, d), b)
    except ValueError as error:
        print(f"   h = 10 on p = 4 devices: ValueError: {error}")
    print()


def demo_collectives(rng: random.Random) -> None:
    n = 120
    print(f"2. Ring collectives on n = {n} floats: measured floats sent per device vs closed form")
    print(
        f"   {'p':>3} {'all-gather':>11} {'(p-1)n/p':>9} {'all-reduce':>11} {'2(p-1)n/p':>10}"
        f" {'rounds':>7} {'naive root all-reduce, root sends':>34}"
    )
    for p in (1, 2, 3, 4, 6, 8, 12):
        shards = [[rng.random() for _ in range(n // p)] for _ in range(p)]
        gather = Network(p)
        ring_all_gather(gather, shards)
        reduce = Network(p)
        ring_all_reduce(reduce, [[rng.random() for _ in range(n)] for _ in range(p)])
        assert len(set(gather.sent)) == 1 and len(set(reduce.sent)) == 1, "ring load must be balanced"
        print(
            f"   {p:>3} {gather.sent[0]:>11} {(p - 1) * n // p:>9} {reduce.sent[0]:>11}"
            f" {2 * (p - 1) * n // p:>10} {reduce.rounds:>7} {(p - 1) * n:>34}"
        )
    print("   the ring's per-device cost tends to 2n as p grows; the naive root's grows as (p-1)n\n")


def demo_megatron_vs_column_split(rng: random.Random) -> None:
    batch, d, h, p = 4, 8, 32, 4
    X, A, a = random_matrix(rng, batch, d), random_matrix(rng, d, h), random_matrix(rng, 1, h)[0]
    B, b = random_matrix(rng, h, d), random_matrix(rng, 1, d)[0]
    megatron = Network(p)
    megatron_mlp(megatron, X, A, a, B, b)
    # The alternative: split B by columns too. Every device then needs all of
    # H, and the output has to be gathered as well.
    naive = Network(p)
    ch, cd = h // p, d // p
    H = column_parallel_linear(
        naive, X, split_columns(A, p), [a[k * ch:(k + 1) * ch] for k in range(p)], gather_output=True
    )
    H = [[[gelu(v) for v in row] for row in Hk] for Hk in H]
    column_parallel_linear(
        naive, H[0], split_columns(B, p), [b[k * cd:(k + 1) * cd] for k in range(p)], gather_output=True
    )
    print(f"3. Why B is split by rows (batch {batch}, d = {d}, h = 4d = {h}, p = {p})")
    print(f"   Megatron (A cols, B rows): one all-reduce of batch x d     {megatron.total_sent():>5} floats in all")
    print(f"   A cols, B cols: gather H (batch x h) + gather Y (batch x d) {naive.total_sent():>5} floats in all")
    print(f"   closed forms: 2(p-1) b d = {2 * (p - 1) * batch * d},  (p-1) b (h + d) = {(p - 1) * batch * (h + d)}\n")


def draw(timeline) -> list[str]:
    lines = []
    for s, row in enumerate(timeline):
        text = "".join("." if cell is None else (cell[0] if cell[0] == "F" else "b") for cell in row)
        lines.append(f"   stage {s}  {text}")
    return lines


def demo_pipeline() -> None:
    p, m = 4, 6
    timeline = gpipe_schedule(p, m)
    print(f"4. GPipe timeline, p = {p} stages, m = {m} micro-batches (F forward 1 tick, b backward 2 ticks)")
    print("\n".join(draw(timeline)))
    print(
        f"   idle cells / all cells = {measure_bubble(timeline):.4f};"
        f" closed form = {gpipe_bubble(p, m):.4f}"
    )
    busy = sum(1 for row in timeline for cell in row if cell is not None)
    idle = len(timeline) * len(timeline[0]) - busy
    print(f"   idle / busy = {idle / busy:.4f}: Megatron-LM's 'bubble time fraction', a different ratio\n")
    print(f"   bubble fraction vs micro-batches, p = {p} (measured from the timeline):")
    for m in (1, 2, 4, 8, 16, 32, 64):
        measured = measure_bubble(gpipe_schedule(p, m))
        assert abs(measured - gpipe_bubble(p, m)) < 1e-12
        print(f"   m = {m:>2}  {measured:6.1%}  {'#' * round(40 * measured)}")
    print("   more micro-batches amortise the fill and drain; GPipe suggests m >= 4p\n")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_equality(rng)
    demo_collectives(rng)
    demo_megatron_vs_column_split(rng)
    demo_pipeline()
    print(
        "Every device here is a Python list in the same memory, so nothing runs faster.\n"
        "What the counts show is real: 1/p of the weights per device, one all-reduce per\n"
        "Megatron MLP, a ring that keeps every link equally busy, and a pipeline bubble\n"
        "of (p-1)/(m+p-1) that only more micro-batches can shrink."
    )
