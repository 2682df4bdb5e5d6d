"""Graded tests for microparallel: tensor-parallel layers, ring collectives, the GPipe schedule.

Expected values come from the naive single-device spec below (explicit loops,
math.fsum), from closed forms of the ring algorithms' traffic and of the
GPipe bubble, or from properties (every device ends with the same floats,
every message goes to the right-hand neighbour, no stage starts a
micro-batch before the stage before it has finished it). The grader brings
its own network, so the counts are the grader's, not the kata's.

The communication model: a round is one call to ``net.exchange``; every
float in a payload counts once for its sender (``sent``) and once for its
receiver (``received``). Ring all-gather of p shards of n/p floats: p-1
rounds, (p-1)/p * n floats sent per device. Ring all-reduce of n floats:
2(p-1) rounds, 2(p-1)/p * n floats sent per device (exact when p divides n;
the total 2(p-1) n is exact for any n, since each of the p chunks travels
p-1 hops in each of the two phases).
"""

import copy
import math
import random
from fractions import Fraction

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, matrix, vector

TOL = 1e-9  # sharded equals single-device within 1e-9

WIDTHS = (6, 12, 30)


def divisors(n):
    return [k for k in range(1, n + 1) if n % k == 0]


WIDTH_AND_P = [(w, p) for w in WIDTHS for p in divisors(w)]


# === the grader's network ===


class GraderNetwork:
    """Same interface as the kata's Network (p, exchange); the grader's own counts."""

    __wire__ = {"p": "r"}  # isolated grading: the kata may read p (see workbook/isolate.py, allowed)

    def __init__(self, p):
        self.p = p
        self.sent = [0] * p
        self.received = [0] * p
        self.rounds = 0
        self.log = []  # (round, src, dst, floats)

    def exchange(self, messages):
        arrived = []
        for src, dst, payload in messages:
            assert 0 <= src < self.p and 0 <= dst < self.p and src != dst, (
                f"message from device {src} to device {dst}: ranks must differ and lie in 0..{self.p - 1}"
            )
            payload = [float(x) for x in payload]
            self.sent[src] += len(payload)
            self.received[dst] += len(payload)
            self.log.append((self.rounds, src, dst, len(payload)))
            arrived.append(payload)
        self.rounds += 1
        return arrived

    def total(self):
        return sum(self.sent)


def assert_ring_rounds(net, rounds, what):
    """Exactly ``rounds`` rounds; in each, every device sends one message to its right neighbour."""
    assert_equal(
        net.rounds,
        rounds,
        f"{what}: number of rounds (calls to net.exchange)",
        hint="one exchange per ring step: p-1 steps per phase, all p messages of a step in one call",
    )
    p = net.p
    for r in range(rounds):
        pairs = sorted((src, dst) for rnd, src, dst, _ in net.log if rnd == r)
        assert_equal(
            pairs,
            [(k, (k + 1) % p) for k in range(p)],
            f"{what}: (sender, receiver) pairs of round {r}",
            hint="on a ring, every device sends exactly one message per round, to device (k + 1) % p",
        )


def assert_traffic(net, total, per_device, what):
    assert_equal(net.total(), total, f"{what}: floats sent by all devices together")
    if per_device is not None:
        assert_equal(
            net.sent,
            [per_device] * net.p,
            f"{what}: floats sent by each device",
            hint="the ring balances the load: every device sends the same number of floats",
        )
        assert_equal(net.received, [per_device] * net.p, f"{what}: floats received by each device")


# === the independent single-device spec ===


def spec_linear(X, W, b):
    return [
        [math.fsum(X[r][i] * W[i][c] for i in range(len(W))) + b[c] for c in range(len(W[0]))]
        for r in range(len(X))
    ]


def spec_gelu(x):
    # GeLU, tanh approximation (Hendrycks & Gimpel 2016, eq. in section 2).
    return 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def spec_mlp(X, A, a, B, b):
    H = [[spec_gelu(v) for v in row] for row in spec_linear(X, A, a)]
    return spec_linear(H, B, b)


def columns(W, start, stop):
    return [row[start:stop] for row in W]


def spec_chunks(n, p):
    """Contiguous chunks of range(n); the first n % p one element longer."""
    bounds, start = [], 0
    for k in range(p):
        size = n // p + (1 if k < n % p else 0)
        bounds.append((start, start + size))
        start += size
    return bounds


# === task 1: sharding the weights ===


@pytest.mark.task("split_columns")
@pytest.mark.parametrize("width", WIDTHS)
def test_split_columns_gives_contiguous_column_blocks(kata, width):
    W = matrix(random.Random(width), 4, width)
    for p in divisors(width):
        shards = kata.split_columns(W, p)
        c = width // p
        assert_equal(len(shards), p, f"split_columns(4 x {width}, p={p}): number of blocks")
        for k in range(p):
            assert_equal(
                shards[k],
                columns(W, k * c, (k + 1) * c),
                f"split_columns(4 x {width}, p={p}): block {k}",
                hint=f"block k holds columns k*{c} .. (k+1)*{c}-1 of every row (contiguous, not strided)",
            )


@pytest.mark.task("split_columns")
@pytest.mark.parametrize("width,p", [(10, 4), (6, 4), (30, 7), (5, 2)])
def test_split_columns_rejects_a_width_not_divisible_by_p(kata, width, p):
    with pytest.raises(ValueError, match=r"\bW\b"):
        kata.split_columns(matrix(random.Random(1), 3, width), p)


@pytest.mark.task("split_columns")
def test_split_columns_rejects_bad_p(kata):
    # 6 columns: p = True (== 1) would divide them; p is checked before W.
    for p in (0, -2, 2.5, math.nan, True):
        with pytest.raises(ValueError, match=r"\bp\b"):
            kata.split_columns(matrix(random.Random(2), 3, 6), p)


@pytest.mark.task("split_columns")
def test_split_columns_leaves_W_alone(kata):
    W = matrix(random.Random(3), 3, 6)
    before = copy.deepcopy(W)
    shards = kata.split_columns(W, 3)
    shards[0][0][0] = 1e6
    assert_equal(W, before, "W after split_columns and writing into a block", hint="build new lists for the blocks")


@pytest.mark.task("split_rows")
@pytest.mark.parametrize("width", WIDTHS)
def test_split_rows_gives_contiguous_row_blocks(kata, width):
    W = matrix(random.Random(width + 7), width, 5)
    for p in divisors(width):
        shards = kata.split_rows(W, p)
        r = width // p
        assert_equal(len(shards), p, f"split_rows({width} x 5, p={p}): number of blocks")
        for k in range(p):
            assert_equal(
                shards[k],
                W[k * r:(k + 1) * r],
                f"split_rows({width} x 5, p={p}): block {k}",
                hint=f"block k holds rows k*{r} .. (k+1)*{r}-1",
            )


@pytest.mark.task("split_rows")
@pytest.mark.parametrize("height,p", [(10, 4), (6, 4), (30, 7), (5, 2)])
def test_split_rows_rejects_a_height_not_divisible_by_p(kata, height, p):
    with pytest.raises(ValueError, match=r"\bW\b"):
        kata.split_rows(matrix(random.Random(4), height, 3), p)


@pytest.mark.task("split_rows")
def test_split_rows_rejects_bad_p(kata):
    # 6 rows: p = True (== 1) would divide them; p is checked before W.
    for p in (0, -1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match=r"\bp\b"):
            kata.split_rows(matrix(random.Random(5), 6, 3), p)


@pytest.mark.task("split_rows")
def test_split_rows_leaves_W_alone(kata):
    W = matrix(random.Random(6), 6, 3)
    before = copy.deepcopy(W)
    shards = kata.split_rows(W, 2)
    shards[1][0][0] = 1e6
    assert_equal(W, before, "W after split_rows and writing into a block", hint="copy the rows, do not share them")


# === task 2: ring reduce-scatter ===

LENGTHS = (1, 7, 12, 13)  # n < p, p not dividing n, p dividing n


def vectors_for(seed, p, n):
    rng = random.Random(seed)
    return [vector(rng, n, 3.0) for _ in range(p)]


def check_reduce_scatter(got, vectors, what):
    n, p = len(vectors[0]), len(vectors)
    expected = [[math.fsum(v[i] for v in vectors) for i in range(start, stop)] for start, stop in spec_chunks(n, p)]
    assert_close(
        got,
        expected,
        TOL,
        what,
        hint="device k must end with chunk k (chunk_bounds) summed over ALL devices; "
        "each receiver adds the incoming chunk to its own copy and forwards the running sum",
    )


@pytest.mark.task("ring_reduce_scatter")
@pytest.mark.parametrize("p", range(1, 7))
def test_reduce_scatter_leaves_chunk_k_summed_on_device_k(kata, p):
    for n in LENGTHS:
        vectors = vectors_for(10 * p + n, p, n)
        got = kata.ring_reduce_scatter(GraderNetwork(p), vectors)
        check_reduce_scatter(got, vectors, f"ring_reduce_scatter(p={p}, n={n})")


@pytest.mark.task("ring_reduce_scatter")
@pytest.mark.parametrize("p,n", [(1, 5), (2, 6), (3, 12), (4, 12), (5, 13), (6, 7)])
def test_reduce_scatter_traffic_is_one_ring_pass(kata, p, n):
    net = GraderNetwork(p)
    vectors = vectors_for(p + n, p, n)
    got = kata.ring_reduce_scatter(net, vectors)
    what = f"ring_reduce_scatter(p={p}, n={n})"
    check_reduce_scatter(got, vectors, what)  # traffic of a call that computed nothing earns nothing
    assert_ring_rounds(net, p - 1, what)
    assert_traffic(net, (p - 1) * n, (p - 1) * n // p if n % p == 0 else None, what)


BAD_VECTORS = [
    (3, vectors_for(1, 2, 4)),  # one too few
    (2, vectors_for(1, 3, 4)),  # one too many
    (2, []),  # none
    (3, [[], []]),  # two empty vectors for three devices
    (2, [[1.0, 2.0], [3.0]]),  # the second shorter
    (2, [[1.0], [2.0, 3.0]]),  # the second longer
    (3, [[], [], [1.0]]),  # the last longer than the empty ones
]


@pytest.mark.task("ring_reduce_scatter")
def test_reduce_scatter_rejects_bad_inputs(kata):
    for p, vectors in BAD_VECTORS:
        with pytest.raises(ValueError, match="vectors"):
            kata.ring_reduce_scatter(GraderNetwork(p), vectors)


@pytest.mark.task("ring_reduce_scatter")
def test_reduce_scatter_leaves_inputs_alone(kata):
    vectors = vectors_for(2, 4, 9)
    before = copy.deepcopy(vectors)
    got = kata.ring_reduce_scatter(GraderNetwork(4), vectors)
    assert_equal(vectors, before, "vectors after ring_reduce_scatter", hint="work on copies of the inputs")
    check_reduce_scatter(got, before, "ring_reduce_scatter(p=4, n=9)")


# === task 3: ring all-gather ===


@pytest.mark.task("ring_all_gather")
@pytest.mark.parametrize("p", range(1, 8))
def test_all_gather_concatenates_in_rank_order(kata, p):
    rng = random.Random(40 + p)
    shards = [vector(rng, 1 + (k * 3) % 4) for k in range(p)]  # unequal lengths on purpose
    got = kata.ring_all_gather(GraderNetwork(p), shards)
    full = [x for shard in shards for x in shard]
    assert_equal(
        got,
        [full] * p,
        f"ring_all_gather(p={p}, shard lengths {[len(s) for s in shards]})",
        hint="every device ends with shards[0] + shards[1] + ... in RANK order, not in arrival order",
    )


@pytest.mark.task("ring_all_gather")
@pytest.mark.parametrize("p,n", [(1, 4), (2, 6), (3, 12), (4, 12), (6, 30), (5, 15)])
def test_all_gather_traffic(kata, p, n):
    net = GraderNetwork(p)
    shards = [vector(random.Random(k), n // p) for k in range(p)]
    got = kata.ring_all_gather(net, shards)
    what = f"ring_all_gather(p={p}, {n // p} floats per shard)"
    full = [x for shard in shards for x in shard]
    assert_equal(got, [full] * p, what, hint="every device ends with shards[0] + shards[1] + ... in rank order")
    assert_ring_rounds(net, p - 1, what)
    assert_traffic(net, (p - 1) * n, (p - 1) * n // p, what)


@pytest.mark.task("ring_all_gather")
def test_all_gather_rejects_wrong_shard_count(kata):
    # one too few, one too many, none, two empty shards for three devices
    for p, shards in [(4, [[1.0], [2.0], [3.0]]), (2, [[1.0], [2.0], [3.0]]), (2, []), (3, [[], []])]:
        with pytest.raises(ValueError, match="shards"):
            kata.ring_all_gather(GraderNetwork(p), shards)


# === task 4: ring all-reduce ===


def check_all_reduce(got, vectors, what):
    n, p = len(vectors[0]), len(vectors)
    total = [math.fsum(v[i] for v in vectors) for i in range(n)]
    assert_close(
        got,
        [total] * p,
        TOL,
        what,
        hint="every device must hold the sum over ALL p devices, not just its neighbours: reduce-scatter"
        " must ADD each incoming chunk, and all-gather must place the chunks in rank order",
    )
    for k in range(1, p):
        assert_equal(
            got[k],
            got[0],
            f"{what}: device {k}'s floats vs device 0's",
            hint="compute each chunk's sum once (reduce-scatter) and then only copy it (all-gather)",
        )


@pytest.mark.task("ring_all_reduce")
@pytest.mark.parametrize("p", range(1, 8))
def test_all_reduce_gives_every_device_the_sum(kata, p):
    for n in LENGTHS + (20,):
        vectors = vectors_for(300 + 10 * p + n, p, n)
        got = kata.ring_all_reduce(GraderNetwork(p), vectors)
        check_all_reduce(got, vectors, f"ring_all_reduce(p={p}, n={n})")


@pytest.mark.task("ring_all_reduce")
@pytest.mark.parametrize("p,n", [(1, 5), (2, 6), (3, 12), (4, 12), (4, 13), (6, 30), (5, 3)])
def test_all_reduce_traffic_is_balanced_and_bandwidth_optimal(kata, p, n):
    net = GraderNetwork(p)
    vectors = vectors_for(p * n, p, n)
    got = kata.ring_all_reduce(net, vectors)
    what = f"ring_all_reduce(p={p}, n={n})"
    check_all_reduce(got, vectors, what)  # traffic of a call that computed nothing earns nothing
    assert_ring_rounds(net, 2 * (p - 1), what)
    assert_traffic(net, 2 * (p - 1) * n, 2 * (p - 1) * n // p if n % p == 0 else None, what)


@pytest.mark.task("ring_all_reduce")
def test_all_reduce_rejects_bad_inputs(kata):
    for p, vectors in BAD_VECTORS:
        with pytest.raises(ValueError, match="vectors"):
            kata.ring_all_reduce(GraderNetwork(p), vectors)


@pytest.mark.task("ring_all_reduce")
def test_all_reduce_leaves_inputs_alone(kata):
    vectors = vectors_for(8, 3, 7)
    before = copy.deepcopy(vectors)
    got = kata.ring_all_reduce(GraderNetwork(3), vectors)
    assert_equal(vectors, before, "vectors after ring_all_reduce", hint="work on copies of the inputs")
    check_all_reduce(got, before, "ring_all_reduce(p=3, n=7)")


# === task 5: column-parallel linear ===


def linear_case(seed, batch, d_in, d_out):
    rng = random.Random(seed)
    return matrix(rng, batch, d_in), matrix(rng, d_in, d_out), vector(rng, d_out, 5.0)


@pytest.mark.task("column_parallel_linear")
@pytest.mark.parametrize("width", WIDTHS)
def test_column_parallel_blocks_without_communication(kata, width):
    X, W, b = linear_case(width, 3, 5, width)
    full = spec_linear(X, W, b)
    for p in divisors(width):
        c = width // p
        net = GraderNetwork(p)
        blocks = kata.column_parallel_linear(
            net, X, [columns(W, k * c, (k + 1) * c) for k in range(p)], [b[k * c:(k + 1) * c] for k in range(p)]
        )
        assert_close(
            blocks,
            [columns(full, k * c, (k + 1) * c) for k in range(p)],
            TOL,
            f"column_parallel_linear(d_out={width}, p={p}) without gather",
            hint="device k computes X W_k + b_k: the k-th block of output columns, with its own bias slice",
        )
        assert_equal(net.total(), 0, f"column_parallel_linear(d_out={width}, p={p}) without gather: floats sent")


@pytest.mark.task("column_parallel_linear")
@pytest.mark.parametrize("width", WIDTHS)
def test_column_parallel_gathered_output(kata, width):
    batch = 3
    X, W, b = linear_case(2 * width, batch, 4, width)
    for p in divisors(width):
        c = width // p
        net = GraderNetwork(p)
        outputs = kata.column_parallel_linear(
            net,
            X,
            [columns(W, k * c, (k + 1) * c) for k in range(p)],
            [b[k * c:(k + 1) * c] for k in range(p)],
            gather_output=True,
        )
        what = f"column_parallel_linear(batch={batch}, d_out={width}, p={p}, gather_output=True)"
        assert_close(
            outputs, [spec_linear(X, W, b)] * p, TOL, what,
            hint="glue the gathered blocks side by side, row by row, in rank order;"
            " block k is X W_k + b_k with its own bias slice",
        )
        assert_ring_rounds(net, p - 1, what)
        n = batch * width
        assert_traffic(net, (p - 1) * n, (p - 1) * n // p, what)


@pytest.mark.task("column_parallel_linear")
def test_column_parallel_rejects_wrong_shard_count(kata):
    X, W, b = linear_case(1, 2, 3, 4)
    with pytest.raises(ValueError, match="W_shards"):
        kata.column_parallel_linear(GraderNetwork(2), X, [W], [b[:2], b[2:]])
    W_shards = [[row[:2] for row in W], [row[2:] for row in W]]
    with pytest.raises(ValueError, match="W_shards"):
        kata.column_parallel_linear(GraderNetwork(2), X, W_shards + W_shards[1:], [b[:2], b[2:]])
    with pytest.raises(ValueError, match="b_shards"):
        kata.column_parallel_linear(GraderNetwork(2), X, W_shards, [b[:2], b[2:], b[2:]])
    with pytest.raises(ValueError, match="b_shards"):
        kata.column_parallel_linear(GraderNetwork(2), X, W_shards, [b[:2]])
    with pytest.raises(ValueError, match="b_shards"):
        kata.column_parallel_linear(GraderNetwork(2), [], W_shards, [], gather_output=True)  # batch 0: still checked


# === task 6: row-parallel linear ===


@pytest.mark.task("row_parallel_linear")
@pytest.mark.parametrize("width", WIDTHS)
def test_row_parallel_equals_single_device(kata, width):
    X, W, b = linear_case(3 * width, 3, width, 4)  # d_in = width is split
    for p in divisors(width):
        r = width // p
        outputs = kata.row_parallel_linear(
            GraderNetwork(p),
            [columns(X, k * r, (k + 1) * r) for k in range(p)],
            [W[k * r:(k + 1) * r] for k in range(p)],
            b,
        )
        assert_close(
            outputs,
            [spec_linear(X, W, b)] * p,
            TOL,
            f"row_parallel_linear(d_in={width}, p={p})",
            hint="sum the partial products X_k W_k with an all-reduce (your ring_all_reduce: pass its tests first),"
            " then add the bias ONCE (not on every device)",
        )


@pytest.mark.task("row_parallel_linear")
@pytest.mark.parametrize("width,p,d_out", [(6, 1, 4), (6, 2, 4), (12, 3, 5), (12, 4, 5), (30, 5, 2), (30, 6, 7)])
def test_row_parallel_uses_one_all_reduce(kata, width, p, d_out):
    batch = 2
    X, W, b = linear_case(width * p, batch, width, d_out)
    r = width // p
    net = GraderNetwork(p)
    outputs = kata.row_parallel_linear(
        net, [columns(X, k * r, (k + 1) * r) for k in range(p)], [W[k * r:(k + 1) * r] for k in range(p)], b
    )
    what = f"row_parallel_linear(batch={batch}, d_out={d_out}, p={p})"
    assert_close(outputs, [spec_linear(X, W, b)] * p, TOL, what,
                 hint="all-reduce the partial products X_k W_k, then add the bias once")
    assert_ring_rounds(net, 2 * (p - 1), what)
    n = batch * d_out
    assert_traffic(net, 2 * (p - 1) * n, 2 * (p - 1) * n // p if n % p == 0 else None, what)


@pytest.mark.task("row_parallel_linear")
def test_row_parallel_rejects_wrong_shard_count(kata):
    X, W, b = linear_case(2, 2, 4, 3)
    with pytest.raises(ValueError, match="X_shards"):
        kata.row_parallel_linear(GraderNetwork(2), [X], [W[:2], W[2:]], b)
    X_shards = [[row[:2] for row in X], [row[2:] for row in X]]
    with pytest.raises(ValueError, match="X_shards"):
        kata.row_parallel_linear(GraderNetwork(2), X_shards + X_shards[:1], [W[:2], W[2:]], b)
    with pytest.raises(ValueError, match="W_shards"):
        kata.row_parallel_linear(GraderNetwork(2), X_shards, [W[:2], W[2:], W[2:]], b)
    with pytest.raises(ValueError, match="W_shards"):
        kata.row_parallel_linear(GraderNetwork(2), X_shards, [W[:2]], b)
    with pytest.raises(ValueError, match="W_shards"):
        kata.row_parallel_linear(GraderNetwork(2), [[], []], [], b)  # batch 0: still checked


# === task 7: the Megatron MLP ===


def mlp_case(seed, batch, d, h):
    rng = random.Random(seed)
    return matrix(rng, batch, d), matrix(rng, d, h), vector(rng, h), matrix(rng, h, d), vector(rng, d, 3.0)


@pytest.mark.task("megatron_mlp")
@pytest.mark.parametrize("p", [1, 2, 3, 6])
def test_megatron_communicates_one_all_reduce_only(kata, p):
    batch, d, h = 3, 6, 12  # h = 2d: an extra gather of H would cost twice the output
    net = GraderNetwork(p)
    case = mlp_case(p, batch, d, h)
    outputs = kata.megatron_mlp(net, *case)
    what = f"megatron_mlp(batch={batch}, d={d}, h={h}, p={p})"
    assert_close(outputs, [spec_mlp(*case)] * p, TOL, what,
                 hint="Y = GeLU(X A + a) B + b on every device; the traffic of a wrong answer earns nothing")
    n = batch * d
    assert_equal(
        net.total(),
        2 * (p - 1) * n,
        f"{what}: floats sent by all devices",
        hint="the only communication is ONE ring all-reduce of the batch x d output: "
        "A split by columns, B by rows, GeLU applied locally, no gather of H",
    )
    assert_ring_rounds(net, 2 * (p - 1), what)
    assert_traffic(net, 2 * (p - 1) * n, 2 * (p - 1) * n // p, what)


@pytest.mark.task("megatron_mlp")
@pytest.mark.parametrize("h,p", WIDTH_AND_P)
def test_megatron_equals_single_device(kata, h, p):
    X, A, a, B, b = mlp_case(h * 31 + p, 3, 5, h)
    outputs = kata.megatron_mlp(GraderNetwork(p), X, A, a, B, b)
    assert_close(
        outputs,
        [spec_mlp(X, A, a, B, b)] * p,
        TOL,
        f"megatron_mlp(batch=3, d=5, h={h}, p={p}): every device's Y",
        hint="Y = GeLU(X A + a) B + b; A and a split by columns, B by rows, b added once after the all-reduce"
        " (your ring_all_reduce: pass its tests first)",
    )


@pytest.mark.task("megatron_mlp")
@pytest.mark.parametrize("h,p", [(10, 4), (6, 4), (30, 4), (12, 5)])
def test_megatron_rejects_hidden_width_not_divisible(kata, h, p):
    with pytest.raises(ValueError, match=r"(?i)hidden|\bh\b"):
        kata.megatron_mlp(GraderNetwork(p), *mlp_case(1, 2, 4, h))


# === task 8: the GPipe schedule ===


def operations(row):
    """[(cell, start, stop)] for the runs of identical busy cells of one stage's row."""
    runs = []
    for t, cell in enumerate(row):
        if cell is None:
            continue
        cell = tuple(cell)
        if runs and runs[-1][0] == cell and runs[-1][2] == t:
            runs[-1][2] = t + 1
        else:
            runs.append([cell, t, t + 1])
    return [tuple(run) for run in runs]


def check_gpipe_structure(timeline, p, m, tf, tb):
    what = f"gpipe_schedule(p={p}, m={m}, forward_ticks={tf}, backward_ticks={tb})"
    assert_equal(len(timeline), p, f"{what}: number of rows (one per stage)")
    assert_equal({len(row) for row in timeline}, {len(timeline[0])}, f"{what}: set of row lengths")
    start, stop = {}, {}
    order = [("F", i) for i in range(m)] + [("B", i) for i in range(m)]
    for s, row in enumerate(timeline):
        ops = operations(row)
        assert_equal(
            [cell for cell, _, _ in ops],
            order,
            f"{what}: operations of stage {s}, in time order",
            hint="each stage runs F0..F(m-1), then B0..B(m-1), each in one unbroken run of cells",
        )
        for cell, a, z in ops:
            ticks = tf if cell[0] == "F" else tb
            assert_equal(z - a, ticks, f"{what}: ticks of {cell} on stage {s}")
            start[s, cell], stop[s, cell] = a, z
    for i in range(m):
        for s in range(1, p):
            if start[s, ("F", i)] < stop[s - 1, ("F", i)]:
                raise Mismatch(
                    f"{what}: stage {s} starts forward of micro-batch {i} at tick {start[s, ('F', i)]}, "
                    f"but stage {s - 1} only finishes it at tick {stop[s - 1, ('F', i)]}\n"
                    "  hint: a stage needs the previous stage's OUTPUT: wait for its finish, not its start"
                )
        for s in range(p - 1):
            if start[s, ("B", i)] < stop[s + 1, ("B", i)]:
                raise Mismatch(
                    f"{what}: stage {s} starts backward of micro-batch {i} at tick {start[s, ('B', i)]}, "
                    f"but stage {s + 1} only finishes it at tick {stop[s + 1, ('B', i)]}\n"
                    "  hint: gradients flow from the last stage back to the first"
                )
    flush = stop[p - 1, ("F", m - 1)]
    if start[p - 1, ("B", 0)] < flush:
        raise Mismatch(f"{what}: the last stage starts backward before its last forward ends (no flush)")
    last = max(stop.values())
    assert_equal(len(timeline[0]), last, f"{what}: row length T (the tick the last operation ends)")


@pytest.mark.task("gpipe_schedule")
@pytest.mark.parametrize(
    "p,m,tf,tb", [(1, 1, 1, 1), (1, 4, 1, 2), (2, 1, 1, 1), (3, 4, 1, 1), (4, 6, 1, 2), (5, 3, 2, 3), (4, 9, 3, 1)]
)
def test_gpipe_respects_the_dependencies(kata, p, m, tf, tb):
    check_gpipe_structure(kata.gpipe_schedule(p, m, tf, tb), p, m, tf, tb)


@pytest.mark.task("gpipe_schedule")
@pytest.mark.parametrize("tf,tb", [(1, 1), (1, 2), (2, 3)])
def test_gpipe_idle_fraction_is_the_bubble(kata, tf, tb):
    for p in range(1, 7):
        for m in range(1, 9):
            timeline = kata.gpipe_schedule(p, m, tf, tb)
            check_gpipe_structure(timeline, p, m, tf, tb)
            idle = sum(1 for row in timeline for cell in row if cell is None)
            assert_equal(
                Fraction(idle, p * len(timeline[0])),
                Fraction(p - 1, m + p - 1),
                f"idle cells / all cells of gpipe_schedule(p={p}, m={m}, forward_ticks={tf}, backward_ticks={tb})",
                hint="start every operation at the earliest tick its stage is free and its input is finished",
            )


@pytest.mark.task("gpipe_schedule")
def test_gpipe_defaults_to_backward_twice_forward(kata):
    timeline = kata.gpipe_schedule(2, 3)
    check_gpipe_structure(timeline, 2, 3, 1, 2)


@pytest.mark.task("gpipe_schedule")
@pytest.mark.parametrize(
    "args,name",
    [((0, 4), "p"), ((3, 0), "m"), ((-1, 2), "p"), ((2, 2, 0, 1), "forward_ticks"), ((2, 2, 1, 0), "backward_ticks")],
)
def test_gpipe_rejects_bad_arguments(kata, args, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.gpipe_schedule(*args)


# === task 9: measuring the bubble ===

F0, F1, B0, B1 = ("F", 0), ("F", 1), ("B", 0), ("B", 1)


@pytest.mark.task("measure_bubble")
@pytest.mark.parametrize(
    "timeline,idle,total",
    [
        ([[F0, B0]], 0, 2),
        ([[F0, None, None, B0], [None, F0, B0, None]], 4, 8),
        ([[F0, F1, None, B0], [None, F0, F1, B1], [None, None, None, None]], 6, 12),
        ([[None], [F0], [F1]], 1, 3),
    ],
)
def test_measure_bubble_counts_idle_over_all_cells(kata, timeline, idle, total):
    assert_close(
        kata.measure_bubble(timeline),
        idle / total,
        1e-12,
        f"measure_bubble of a {len(timeline)} x {len(timeline[0])} timeline with {idle} idle cells",
        hint="idle cells divided by ALL cells (p * T), not by the busy cells",
    )


def spec_gpipe(p, m, tf=1, tb=2):
    """The GPipe timeline in closed form: F(s, i) starts at (s + i) tf; after the flush at (m + p - 1) tf,
    B(s, i) starts (p - 1 - s + i) tb later. Row length (m + p - 1)(tf + tb)."""
    grid = [[None] * ((m + p - 1) * (tf + tb)) for _ in range(p)]
    flush = (m + p - 1) * tf
    for s in range(p):
        for i in range(m):
            for start, ticks, cell in (((s + i) * tf, tf, ("F", i)), (flush + (p - 1 - s + i) * tb, tb, ("B", i))):
                for t in range(start, start + ticks):
                    grid[s][t] = cell
    return grid


@pytest.mark.task("measure_bubble")
@pytest.mark.parametrize("p,m", [(2, 3), (4, 4), (4, 8), (6, 5)])
def test_measure_bubble_of_gpipe(kata, p, m):
    # The grader's own GPipe timeline: measure_bubble is graded before gpipe_schedule is written.
    assert_close(
        kata.measure_bubble(spec_gpipe(p, m)), (p - 1) / (m + p - 1), 1e-12,
        f"measure_bubble of the GPipe timeline (p={p}, m={m})",
    )


@pytest.mark.task("measure_bubble")
@pytest.mark.parametrize("timeline", [[], [[], []]])
def test_measure_bubble_rejects_empty_timeline(kata, timeline):
    with pytest.raises(ValueError, match="timeline"):
        kata.measure_bubble(timeline)


# === task 10: the closed form ===


@pytest.mark.task("gpipe_bubble")
def test_gpipe_bubble_closed_form(kata):
    for p in range(1, 9):
        for m in range(1, 17):
            assert_close(
                kata.gpipe_bubble(p, m),
                (p - 1) / (m + p - 1),
                1e-12,
                f"gpipe_bubble(p={p}, m={m})",
                hint="idle cells over ALL cells: fill + drain over the whole span, not over the busy time",
            )


@pytest.mark.task("gpipe_bubble")
@pytest.mark.parametrize("p,m", [(3, 2), (4, 16), (8, 1), (5, 7)])
def test_gpipe_bubble_matches_the_measured_timeline(kata, p, m):
    # Measured by the grader on its own GPipe timeline, for several tick lengths: gpipe_bubble needs
    # neither gpipe_schedule nor measure_bubble, and the tick lengths must cancel.
    for tf, tb in ((1, 2), (1, 1), (3, 1)):
        timeline = spec_gpipe(p, m, tf, tb)
        idle = sum(cell is None for row in timeline for cell in row)
        assert_close(
            kata.gpipe_bubble(p, m),
            idle / (p * len(timeline[0])),
            1e-12,
            f"gpipe_bubble(p={p}, m={m}) vs the idle fraction of the GPipe timeline with tick lengths {tf}, {tb}",
            hint="idle cells over ALL cells; the tick lengths cancel",
        )


@pytest.mark.task("gpipe_bubble")
@pytest.mark.parametrize("p,m,name", [(0, 4, "p"), (4, 0, "m"), (-2, 3, "p")])
def test_gpipe_bubble_rejects_bad_arguments(kata, p, m, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        kata.gpipe_bubble(p, m)


@pytest.mark.task("gpipe_schedule")
def test_gpipe_rejects_non_int_counts(kata):
    for bad in (-1, 2.5, math.nan, True):
        for args, name in [((bad, 1), "p"), ((1, bad), "m"), ((1, 1, bad, 1), "forward_ticks"),
                           ((1, 1, 1, bad), "backward_ticks")]:
            with pytest.raises(ValueError, match=rf"\b{name}\b"):
                kata.gpipe_schedule(*args)


@pytest.mark.task("gpipe_bubble")
def test_gpipe_bubble_rejects_non_int_counts(kata):
    for bad in (-1, 2.5, math.nan, True):
        with pytest.raises(ValueError, match=r"\bp\b"):
            kata.gpipe_bubble(bad, 1)
        with pytest.raises(ValueError, match=r"\bm\b"):
            kata.gpipe_bubble(1, bad)
