"""Graded tests for microssm: discretisation, selective scan, convolution view, parallel scan.

Expected values come from the closed-form ZOH/Euler formulas, from the
unrolled product form of the recurrence (an O(L^2) spec written here), and
from properties: the three views agree, the parallel scan keeps order with a
non-commutative operator, its work is linear and its depth logarithmic, and
the scan's multiplications grow linearly with the length.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal

TOL = 1e-9


# === independent specs ===


def spec_zoh(A, B, delta):
    A_bar = [math.exp(delta * a) for a in A]
    B_bar = [delta * b if a == 0 else math.expm1(delta * a) / a * b for a, b in zip(A, B)]
    return A_bar, B_bar


def spec_scan(x, delta, A, B, C):
    """y_t = sum_n C_t[n] sum_{s<=t} (prod_{r=s+1..t} A_bar_r[n]) B_bar_s[n] x_s."""
    L, N = len(x), len(A)
    bars = [spec_zoh(A, B[t], delta[t]) for t in range(L)]
    y = []
    for t in range(L):
        total = 0.0
        for n in range(N):
            for s in range(t + 1):
                decay = math.prod(bars[r][0][n] for r in range(s + 1, t + 1))
                total += C[t][n] * decay * bars[s][1][n] * x[s]
        y.append(total)
    return y


def problem(seed, L, N, selective=True):
    rng = random.Random(seed)
    A = [-rng.uniform(0.05, 3.0) for _ in range(N)]
    x = [rng.uniform(-2, 2) for _ in range(L)]
    if selective:
        delta = [rng.uniform(0.01, 2.0) for _ in range(L)]
        B = [[rng.uniform(-1, 1) for _ in range(N)] for _ in range(L)]
        C = [[rng.uniform(-1, 1) for _ in range(N)] for _ in range(L)]
    else:
        step = rng.uniform(0.05, 1.0)
        b, c = [rng.uniform(-1, 1) for _ in range(N)], [rng.uniform(-1, 1) for _ in range(N)]
        delta, B, C = [step] * L, [b] * L, [c] * L
    return x, delta, A, B, C


SHAPES = [(1, 1), (2, 3), (7, 2), (13, 5), (20, 3)]


# === task: discretize_zoh ===


@pytest.mark.task("discretize_zoh")
@pytest.mark.parametrize("delta", [0.01, 0.3, 1.7, 25.0])
def test_zoh_matches_closed_form(kata, delta):
    A, B = [-0.5, -2.0, -7.3], [1.5, -0.25, 2.0]
    got = kata.discretize_zoh(A, B, delta)
    expected = spec_zoh(A, B, delta)
    assert_close(got[0], expected[0], 1e-12, f"discretize_zoh A_bar (delta={delta})", hint="A_bar = exp(delta * A)")
    assert_close(
        got[1], expected[1], 1e-12, f"discretize_zoh B_bar (delta={delta})",
        hint="B_bar = (exp(delta A) - 1) / A * B: the exact integral over the step, not delta * B",
    )


@pytest.mark.task("discretize_zoh")
def test_zoh_handles_a_zero_eigenvalue(kata):
    got = kata.discretize_zoh([0.0, -1.0], [2.0, 1.0], 0.5)
    assert_close(got[0], [1.0, math.exp(-0.5)], 1e-12, "discretize_zoh A_bar with A_0 = 0")
    assert_close(got[1], [1.0, 1 - math.exp(-0.5)], 1e-12, "discretize_zoh B_bar with A_0 = 0", hint="the limit is delta * B")


@pytest.mark.task("discretize_zoh")
def test_zoh_is_accurate_for_tiny_a(kata):
    # For |delta * a| ~ 1e-10, exp(delta a) - 1 keeps only ~6 of its 16 digits:
    # B_bar = (exp(delta a) - 1) / a * b is then off by ~1e-7. Its Taylor series
    # delta * b * (1 + delta a / 2 + (delta a)^2 / 6) is exact to 1e-30 here.
    A, B, delta = [-3e-10, 1e-12, -7e-9, 2.5e-11], [1.5, -0.8, 2.0, 0.3], 0.37
    expected = [delta * b * (1 + delta * a / 2 + (delta * a) ** 2 / 6) for a, b in zip(A, B)]
    got = kata.discretize_zoh(A, B, delta)
    assert_close(
        got[1], expected, 1e-14, "discretize_zoh B_bar for tiny A (delta=0.37)",
        hint="exp(x) - 1 cancels catastrophically for tiny x: math.expm1(x) computes it exactly",
    )


@pytest.mark.task("discretize_zoh")
def test_zoh_is_stable_for_any_step(kata):
    for delta in (1e-3, 0.5, 3.0, 100.0):
        A_bar, _ = kata.discretize_zoh([-0.1, -1.0, -10.0], [1.0, 1.0, 1.0], delta)
        if not all(0.0 <= a < 1.0 for a in A_bar):
            raise Mismatch(f"discretize_zoh(delta={delta}) gave A_bar = {A_bar}: for A < 0 it must lie in [0, 1)")


# === task: discretize_euler ===


@pytest.mark.task("discretize_euler")
@pytest.mark.parametrize("delta", [0.1, 1.0, 2.5])
def test_euler_matches_closed_form(kata, delta):
    A, B = [-0.5, -2.0, -7.3], [1.5, -0.25, 2.0]
    A_bar, B_bar = kata.discretize_euler(A, B, delta)
    assert_close(A_bar, [1 + delta * a for a in A], 1e-12, f"discretize_euler A_bar (delta={delta})", hint="one step along the derivative: 1 + delta * A")
    assert_close(B_bar, [delta * b for b in B], 1e-12, f"discretize_euler B_bar (delta={delta})")


# === task: selective_scan ===


@pytest.mark.task("selective_scan")
@pytest.mark.parametrize("L,N", SHAPES, ids=[f"L{l}-N{n}" for l, n in SHAPES])
def test_scan_matches_the_unrolled_spec(kata, L, N):
    x, delta, A, B, C = problem(10 * L + N, L, N)
    assert_close(
        kata.selective_scan(x, delta, A, B, C),
        spec_scan(x, delta, A, B, C),
        TOL,
        f"selective_scan(L={L}, N={N}) with per-token delta, B, C",
        hint="discretise (ZOH: exp(delta A), (exp(delta A) - 1) / A * B) with token t's delta and B, update h,"
        " then read out with token t's C",
    )


@pytest.mark.task("selective_scan")
def test_scan_stays_bounded_over_long_sequences(kata):
    L, N = 3000, 3
    x, delta, A, B, C = problem(5, L, N)
    delta = [d * 5 for d in delta]  # steps up to 10: Euler would explode here
    y = kata.selective_scan(x, delta, A, B, C)
    assert len(y) == L, f"selective_scan returned {len(y)} outputs for {L} tokens"
    # |h_n| <= max_t |B_bar x| / (1 - max_t A_bar): a geometric series.
    bound = 0.0
    for n in range(N):
        bars = [spec_zoh(A, B[t], delta[t]) for t in range(0, L, 1)]
        top_a = max(bar[0][n] for bar in bars)
        top_b = max(abs(bar[1][n] * x_t) for bar, x_t in zip(bars, x))
        bound += top_b / (1 - top_a)
    worst = max(abs(v) for v in y)
    if not math.isfinite(worst) or worst > bound:
        raise Mismatch(f"selective_scan over {L} tokens reached |y| = {worst:.3g}, above the bound {bound:.3g}")
    assert_close(y[-3:], spec_scan(x[-40:], delta[-40:], A, B[-40:], C[-40:])[-3:], 1e-6,
                 "last outputs of a 3000-token scan (older tokens have decayed away)")


class CountingFloat(float):
    """Counts every multiplication it takes part in."""

    count = 0

    def __mul__(self, other):
        CountingFloat.count += 1
        return CountingFloat(float(self) * float(other))

    __rmul__ = __mul__

    def __add__(self, other):
        return CountingFloat(float(self) + float(other))

    __radd__ = __add__


@pytest.mark.task("selective_scan")
def test_scan_work_grows_linearly_with_length(kata):
    counts = {}
    for L in (12, 24, 48):
        x, delta, A, B, C = problem(3, L, 3)
        x = [CountingFloat(v) for v in x]
        CountingFloat.count = 0
        kata.selective_scan(x, delta, A, B, C)
        counts[L] = CountingFloat.count
    assert counts[12] > 0, "no multiplication touched the inputs x"
    if counts[48] - counts[24] != 2 * (counts[24] - counts[12]):
        raise Mismatch(
            f"multiplications involving x for L = 12, 24, 48: {counts[12]}, {counts[24]}, {counts[48]}; "
            "a scan does the same work per token, so doubling L must double the extra work "
            "(do not recompute the state from the start at each token)"
        )


@pytest.mark.task("selective_scan")
def test_scan_rejects_bad_inputs(kata):
    x, delta, A, B, C = problem(1, 4, 2)
    with pytest.raises(ValueError, match="delta"):
        kata.selective_scan(x, [0.1, 0.2, 0.0, 0.1], A, B, C)
    with pytest.raises(ValueError, match="B"):
        kata.selective_scan(x, delta, A, B[:3], C)
    with pytest.raises(ValueError, match="C"):
        kata.selective_scan(x, delta, A, B, [row[:1] for row in C])


# === tasks: the convolution view ===


@pytest.mark.task("ssm_kernel")
@pytest.mark.parametrize("L,N", [(1, 1), (9, 2), (17, 4)])
def test_kernel_closed_form(kata, L, N):
    rng = random.Random(L)
    A = [-rng.uniform(0.1, 2) for _ in range(N)]
    B, C = [rng.uniform(-1, 1) for _ in range(N)], [rng.uniform(-1, 1) for _ in range(N)]
    A_bar, B_bar = spec_zoh(A, B, 0.4)
    expected = [sum(C[n] * A_bar[n] ** k * B_bar[n] for n in range(N)) for k in range(L)]
    assert_close(
        kata.ssm_kernel(A, B, C, 0.4, L), expected, 1e-12, f"ssm_kernel(N={N}, L={L})",
        hint="K_k = sum_n C_n * A_bar_n ** k * B_bar_n with the ZOH A_bar, B_bar, starting at k = 0",
    )


@pytest.mark.task("causal_convolution")
def test_causal_convolution(kata):
    kernel, x = [1.0, 10.0, 100.0], [1.0, 2.0, 3.0, 4.0, 5.0]
    assert_close(
        kata.causal_convolution(kernel + [0.0, 0.0], x),
        [1.0, 12.0, 123.0, 234.0, 345.0],
        0.0,
        "causal_convolution([1, 10, 100, 0, 0], [1, 2, 3, 4, 5])",
        hint="y_t = sum over k <= t of kernel[k] * x[t - k]",
    )


@pytest.mark.task("causal_convolution")
@pytest.mark.parametrize("L,N", SHAPES, ids=[f"L{l}-N{n}" for l, n in SHAPES])
def test_convolution_view_equals_recurrence(kata, L, N):
    x, delta, A, B, C = problem(7 * L + N, L, N, selective=False)
    kernel = [sum(C[0][n] * spec_zoh(A, B[0], delta[0])[0][n] ** k * spec_zoh(A, B[0], delta[0])[1][n]
                  for n in range(N)) for k in range(L)]
    assert_close(
        kata.causal_convolution(kernel, x),
        spec_scan(x, delta, A, B, C),
        TOL,
        f"causal_convolution with an LTI SSM kernel (L={L}, N={N})",
    )


# === tasks: the parallel scan ===


@pytest.mark.task("combine")
def test_combine_composes_affine_maps(kata):
    a, b = kata.combine(([2.0, 0.5], [1.0, -1.0]), ([3.0, 4.0], [10.0, 20.0]))
    assert_close([a, b], [[6.0, 2.0], [13.0, 16.0]], 0.0, "combine((a1=[2,.5], b1=[1,-1]), (a2=[3,4], b2=[10,20]))",
                 hint="first (a1, b1) then (a2, b2): h -> a2 (a1 h + b1) + b2")


@pytest.mark.task("combine")
def test_combine_is_associative(kata):
    rng = random.Random(4)
    e = [([rng.uniform(-1, 1) for _ in range(3)], [rng.uniform(-1, 1) for _ in range(3)]) for _ in range(3)]
    left = kata.combine(kata.combine(e[0], e[1]), e[2])
    right = kata.combine(e[0], kata.combine(e[1], e[2]))
    assert_close([list(left[0]), list(left[1])], [list(right[0]), list(right[1])], 1e-12, "(e0 o e1) o e2 vs e0 o (e1 o e2)")
    (a0, b0), (a1, b1), (a2, b2) = e
    expected = [[x * y * z for x, y, z in zip(a0, a1, a2)],
                [z * (y * u + v) + w for y, z, u, v, w in zip(a1, a2, b0, b1, b2)]]
    assert_close([list(left[0]), list(left[1])], expected, 1e-12, "(e0 o e1) o e2 vs h -> a2 (a1 (a0 h + b0) + b1) + b2",
                 hint="first (a1, b1) then (a2, b2): h -> a2 (a1 h + b1) + b2")


def concat(left, right):
    return left + right


@pytest.mark.task("parallel_scan")
@pytest.mark.parametrize("L", [0, 1, 2, 3, 5, 8, 13, 31, 64, 100])
def test_parallel_scan_keeps_order(kata, L):
    letters = [chr(ord("a") + i % 26) + str(i) for i in range(L)]
    expected = ["".join(letters[: t + 1]) for t in range(L)]
    assert_equal(
        list(kata.parallel_scan(letters, concat)), expected, f"parallel_scan of {L} strings under concatenation",
        hint="the operator is not commutative: always combine(earlier, later)",
    )


@pytest.mark.task("parallel_scan")
@pytest.mark.parametrize("L", [2, 3, 7, 16, 33, 100, 257, 1000])
def test_parallel_scan_work_and_depth(kata, L):
    calls = {"n": 0}

    def tagged(left, right):
        # each value is the length of the longest chain of combines behind it
        calls["n"] += 1
        return max(left, right) + 1

    depth = max(kata.parallel_scan([0] * L, tagged))
    limit = 2 * math.ceil(math.log2(L))
    if calls["n"] > 2 * L:
        raise Mismatch(f"parallel_scan(L={L}) used {calls['n']} combines; a work-efficient scan needs at most 2L = {2 * L}")
    if depth > limit:
        raise Mismatch(
            f"parallel_scan(L={L}) has a chain of {depth} dependent combines; a parallel scan needs at most "
            f"2 * ceil(log2 L) = {limit} (a left-to-right fold has L - 1)"
        )


@pytest.mark.task("selective_scan_parallel")
@pytest.mark.parametrize("L,N", SHAPES, ids=[f"L{l}-N{n}" for l, n in SHAPES])
def test_parallel_selective_scan_equals_spec(kata, L, N, monkeypatch):
    used = {"calls": 0}
    real = kata.parallel_scan

    def watched(elements, *args, **kwargs):
        used["calls"] += 1
        return real(elements, *args, **kwargs)

    monkeypatch.setattr(kata, "parallel_scan", watched)
    x, delta, A, B, C = problem(3 * L + N, L, N)
    assert_close(
        kata.selective_scan_parallel(x, delta, A, B, C),
        spec_scan(x, delta, A, B, C),
        TOL,
        f"selective_scan_parallel(L={L}, N={N})",
        hint="element t is (A_bar_t, B_bar_t * x_t) with the ZOH A_bar, B_bar; combine(earlier, later) ="
        " (a1 a2, a2 b1 + b2); the b-part of each prefix is h_t",
    )
    assert used["calls"] >= 1, "selective_scan_parallel must compute the states with parallel_scan"


@pytest.mark.task("selective_scan_parallel")
def test_parallel_selective_scan_rejects_bad_delta(kata):
    x, delta, A, B, C = problem(2, 3, 2)
    with pytest.raises(ValueError, match="delta"):
        kata.selective_scan_parallel(x, [0.1, -1.0, 0.1], A, B, C)


# === validation, completely: every length one short and one long, delta 0, negative and NaN ===


def bad_sequences():
    x, delta, A, B, C = problem(3, 4, 2)  # L = 4, N = 2
    yield x, delta[:3], A, B, C, "delta"
    yield x, delta + [0.1], A, B, C, "delta"
    for step in (0.0, -0.1, math.nan):
        yield x, delta[:2] + [step] + delta[3:], A, B, C, "delta"
    yield x, delta, A, B + B[:1], C, "B"
    yield x, delta, A, [B[0] + [0.5]] + B[1:], C, "B"
    yield x, delta, A, B, C[:3], "C"
    yield x, delta, A, B, C[:3] + [C[3][:1]], "C"
    yield [], [0.1], A, [], [], "delta"  # no tokens, but a step size: still a mismatch


SCANS = [pytest.param(name, marks=pytest.mark.task(name), id=name) for name in ("selective_scan", "selective_scan_parallel")]


@pytest.mark.parametrize("task", SCANS)
def test_scans_reject_every_bad_sequence(kata, task):
    for x, delta, A, B, C, name in bad_sequences():
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            getattr(kata, task)(x, delta, A, B, C)
