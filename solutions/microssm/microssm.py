"""
State space models, Mamba-style: a sequence model whose memory is a fixed-size
state h updated once per token, h_t = A_bar h_{t-1} + B_bar x_t, read out as
y_t = C h_t. Linear time in the sequence length, constant memory per step,
and, unlike an RNN, a recurrence that is *linear* in h, so it can be computed
by a parallel scan (Mamba) or, when the parameters do not depend on the input,
as one long convolution (S4).

The file walks the chain: continuous system -> discretisation (zero-order
hold vs Euler) -> sequential selective scan -> the convolution view of a
time-invariant SSM -> the associative scan that parallelises the selective one.

References: Gu, Goel, Re, "Efficiently Modeling Long Sequences with
Structured State Spaces" (S4, 2021); Gu, Dao, "Mamba: Linear-Time Sequence
Modeling with Selective State Spaces" (2023); Blelloch, "Prefix Sums and
Their Applications" (1990).
"""

from __future__ import annotations

import math
import random

# === THE CONTINUOUS SYSTEM ===
#
# One input channel x(t), a state h(t) of N numbers, one output y(t):
#   h'(t) = A h(t) + B x(t)        y(t) = C h(t)
# As in S4D and Mamba, A is diagonal, so each state dimension n evolves on its
# own: h_n'(t) = A_n h_n(t) + B_n x(t). A_n < 0 makes state n a leaky memory
# that forgets at rate |A_n|: small |A_n| remembers for long, large |A_n|
# tracks only the recent input. Everything below works on lists of N floats,
# elementwise over the state dimension.


def softplus(z: float) -> float:
    """log(1 + e^z), computed without overflow; Mamba's map from a score to a step size > 0."""
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


def check_sequence(x, delta, B, C, N):
    """Raise ValueError naming the argument whose length does not match."""
    L = len(x)
    if len(delta) != L:
        raise ValueError(f"delta has {len(delta)} steps but x has {L}: one step size per token")
    for name, rows in (("B", B), ("C", C)):
        if len(rows) != L:
            raise ValueError(f"{name} has {len(rows)} rows but x has {L}: one row per token")
        for t, row in enumerate(rows):
            if len(row) != N:
                raise ValueError(f"{name} row {t} has {len(row)} entries, expected N = {N} (len(A))")
    for t, step in enumerate(delta):
        if not step > 0:  # NaN too: it compares False with everything
            raise ValueError(f"delta[{t}] = {step!r}: step sizes must be > 0")


# === DISCRETISATION ===
#
# A computer sees samples x_0, x_1, ... spaced delta apart, so the ODE becomes
# a recurrence h_t = A_bar h_{t-1} + B_bar x_t.
#
# Zero-order hold (ZOH): assume x is constant during each step and solve the
# ODE exactly over it. For diagonal A:
#   A_bar = exp(delta A)                 B_bar = (exp(delta A) - 1) / A * B
# For A < 0 and any delta > 0, 0 < A_bar < 1: the recurrence cannot blow up,
# however large the step. (As A -> 0, B_bar -> delta B, its limit.)
#
# Euler: take one straight-line step along the derivative:
#   A_bar = 1 + delta A                  B_bar = delta B
# Cheap, and right to first order in delta, but for delta |A| > 2 we get
# |A_bar| > 1 and the state explodes. That is why S4 and Mamba use ZOH for A.
# (Mamba's kernel uses ZOH for A and the Euler-like delta B for B: B_bar
# matters less for stability. This file uses full ZOH for both.)


def discretize_zoh(A, B, delta):
    """Zero-order-hold discretisation of diagonal A (list of N) and B (list of N); returns (A_bar, B_bar).

    delta > 0 is the step size. Where A_n == 0, B_bar_n is the limit delta * B_n.
    B_bar must stay accurate (to ~1e-12) when delta * A_n is tiny, e.g. 1e-10:
    mind the cancellation in exp(x) - 1 there.
    """
    # BEGIN SOLUTION
    A_bar, B_bar = [], []
    for a, b in zip(A, B):
        A_bar.append(math.exp(delta * a))
        # (exp(delta a) - 1) / a tends to delta as a -> 0. Computed as
        # exp(x) - 1 it cancels catastrophically for tiny delta * a (1 + 1e-17
        # is 1.0); math.expm1 keeps full precision. At a == 0 use the limit.
        B_bar.append(math.expm1(delta * a) / a * b if a != 0 else delta * b)
    return A_bar, B_bar
    # END SOLUTION


def discretize_euler(A, B, delta):
    """Forward-Euler discretisation of diagonal A and B; returns (A_bar, B_bar)."""
    # BEGIN SOLUTION
    return [1.0 + delta * a for a in A], [delta * b for b in B]
    # END SOLUTION


# === THE SELECTIVE SCAN (SEQUENTIAL) ===
#
# S4's delta, B and C are fixed parameters: every token is treated alike.
# Mamba makes them functions of the current token (its "selection
# mechanism"): delta_t = softplus(w . x_t + b), B_t = W_B x_t, C_t = W_C x_t.
# A large delta_t means "reset and take this token in" (A_bar ~ 0), a small
# one means "ignore this token, keep the memory" (A_bar ~ 1). Here the
# per-token delta, B, C arrive as inputs; `selection` below shows where they
# come from.
#
# Per token and per state dimension n:
#   A_bar, B_bar = discretize_zoh(A, B_t, delta_t)
#   h_n = A_bar_n * h_n + B_bar_n * x_t
#   y_t = sum_n C_t[n] * h_n
# Cost: a constant amount of work per token, so O(L N) for L tokens, against
# O(L^2 d) for attention. Memory: the N-float state, whatever L is.


def selective_scan(x, delta, A, B, C):
    """Run the recurrence token by token (ZOH at every step); return y, a list of L floats.

    x: L inputs; delta: L step sizes (> 0); A: N diagonal entries (< 0 for a
    stable memory); B, C: L rows of N floats (B_t, C_t for token t). The
    state starts at zero. Raises ValueError naming the argument on mismatched
    lengths (delta, B, C against x; rows of B, C against len(A)), and naming
    delta for a step that is not > 0 (NaN included); use check_sequence.
    """
    # BEGIN SOLUTION
    N = len(A)
    check_sequence(x, delta, B, C, N)
    h = [0.0] * N
    y = []
    for x_t, step, B_t, C_t in zip(x, delta, B, C):
        A_bar, B_bar = discretize_zoh(A, B_t, step)
        h = [a * h_n + b * x_t for a, h_n, b in zip(A_bar, h, B_bar)]
        y.append(sum(c * h_n for c, h_n in zip(C_t, h)))
    return y
    # END SOLUTION


# === THE CONVOLUTION VIEW (TIME-INVARIANT SSM) ===
#
# When delta, B and C are the same for every token (S4, not Mamba), unroll the
# recurrence from h_{-1} = 0:
#   h_t = sum_{k=0..t} A_bar^k B_bar x_{t-k}
#   y_t = sum_{k=0..t} (C . A_bar^k B_bar) x_{t-k} = sum_k K_k x_{t-k}
# So the whole layer is a causal convolution with the kernel
#   K_k = sum_n C_n * A_bar_n^k * B_bar_n,    k = 0 .. L-1
# S4 computes K once and convolves with an FFT in O(L log L), fully parallel
# for training. Selective parameters change K at every token, so Mamba loses
# this trick and needs the parallel scan below instead.


def ssm_kernel(A, B, C, delta, L):
    """The length-L convolution kernel of a time-invariant SSM (ZOH), a list of L floats."""
    # BEGIN SOLUTION
    A_bar, B_bar = discretize_zoh(A, B, delta)
    kernel = []
    power = [1.0] * len(A)  # A_bar_n ** k, built up one step at a time
    for _ in range(L):
        kernel.append(sum(c * p * b for c, p, b in zip(C, power, B_bar)))
        power = [p * a for p, a in zip(power, A_bar)]
    return kernel
    # END SOLUTION


def causal_convolution(kernel, x):
    """y_t = sum_{k=0..t} kernel[k] * x[t-k]; returns a list as long as x."""
    # BEGIN SOLUTION
    return [sum(kernel[k] * x[t - k] for k in range(t + 1)) for t in range(len(x))]
    # END SOLUTION


# === THE PARALLEL (ASSOCIATIVE) SCAN ===
#
# The recurrence h_t = a_t * h_{t-1} + b_t (elementwise over n) is a chain of
# affine maps h -> a h + b. Composing two of them, first (a1, b1) then (a2, b2):
#   h -> a2 (a1 h + b1) + b2 = (a1 a2) h + (a2 b1 + b2)
# so  (a1, b1) o (a2, b2) = (a1 * a2, a2 * b1 + b2).
# This operator is associative (not commutative: order matters), and h_t is
# the b-part of e_0 o e_1 o ... o e_t with e_t = (a_t, b_t) and h_{-1} = 0.
# Prefix "sums" under any associative operator can be computed in parallel.
#
# The recursive odd-even scan (Blelloch's work-efficient scheme):
#   1. combine neighbours: p_i = e_{2i} o e_{2i+1}       (L/2 combines, in parallel)
#   2. scan the half-length list p recursively -> P_i = e_0 o ... o e_{2i+1}
#   3. fill in the gaps:  out_{2i+1} = P_i,  out_{2i} = P_{i-1} o e_{2i}  (i >= 1)
# Total work stays O(L) (under 2L combines) and the longest chain of
# dependent combines is O(log L): on a GPU every level runs at once. Mamba's
# kernel does this within SRAM, fused with the discretisation and readout.


def combine(first, second):
    """Compose two affine steps (a1, b1) then (a2, b2), elementwise over the state: (a1*a2, a2*b1 + b2)."""
    # BEGIN SOLUTION
    a1, b1 = first
    a2, b2 = second
    return [p * q for p, q in zip(a1, a2)], [q * u + v for q, u, v in zip(a2, b1, b2)]
    # END SOLUTION


def parallel_scan(elements, combine=combine):
    """All prefixes e_0, e_0 o e_1, ..., e_0 o ... o e_{L-1} under an associative `combine`.

    Use a work-efficient parallel scheme (e.g. the recursive odd-even scan):
    at most 2L combines, and no chain of more than 2 * ceil(log2 L) dependent
    combines. Only call `combine(left, right)` with left earlier in the
    sequence: it need not be commutative. Returns a new list of length L.
    """
    # BEGIN SOLUTION
    n = len(elements)
    if n <= 1:
        return list(elements)
    pairs = [combine(elements[2 * i], elements[2 * i + 1]) for i in range(n // 2)]
    pair_prefixes = parallel_scan(pairs, combine)
    out = [elements[0]]
    for i in range(1, n):
        if i % 2 == 1:
            out.append(pair_prefixes[i // 2])
        else:
            out.append(combine(pair_prefixes[i // 2 - 1], elements[i]))
    return out
    # END SOLUTION


def selective_scan_parallel(x, delta, A, B, C):
    """The selective scan computed with parallel_scan over (A_bar_t, B_bar_t * x_t); same result as selective_scan.

    Same arguments and the same ValueErrors as selective_scan (check_sequence),
    checked even when x is empty.
    """
    # BEGIN SOLUTION
    N = len(A)
    check_sequence(x, delta, B, C, N)
    if not x:
        return []
    steps = []
    for x_t, step, B_t in zip(x, delta, B):
        A_bar, B_bar = discretize_zoh(A, B_t, step)
        steps.append((A_bar, [b * x_t for b in B_bar]))
    states = [b for _, b in parallel_scan(steps)]
    return [sum(c * h_n for c, h_n in zip(C_t, h)) for C_t, h in zip(C, states)]
    # END SOLUTION


# === THE SELECTION MECHANISM (PROVIDED) ===
#
# Where delta_t, B_t, C_t come from in Mamba: small projections of the token.
# Here a token is one number x_t (one channel), so the projections are
# scalars times x_t plus biases. Signpost: real Mamba projects a
# D-dimensional token, shares B_t and C_t across its D channels, gives each
# channel its own delta and A, wraps the SSM with a gated MLP and a short
# causal convolution, and stores A as -exp(A_log) so it stays negative.


def selection(x, w_delta, b_delta, w_B, w_C):
    """delta_t = softplus(w_delta x_t + b_delta), B_t = w_B x_t, C_t = w_C x_t (w_B, w_C: N floats)."""
    delta = [softplus(w_delta * x_t + b_delta) for x_t in x]
    B = [[w * x_t for w in w_B] for x_t in x]
    C = [[w * x_t + 1.0 for w in w_C] for x_t in x]
    return delta, B, C


# === DEMONSTRATION ===


def random_ssm(rng, N):
    A = [-rng.uniform(0.05, 2.0) for _ in range(N)]
    return A, [rng.uniform(-1, 1) for _ in range(N)], [rng.uniform(-1, 1) for _ in range(N)]


def demo_discretisation() -> None:
    print("1. Discretisation of one state with A = -1: ZOH stays in (0, 1), Euler does not")
    print(f"   {'delta':>6} {'ZOH A_bar':>10} {'Euler A_bar':>12}   |h| after 50 steps (Euler)")
    for step in (0.1, 0.5, 1.0, 1.9, 2.5, 4.0):
        zoh, _ = discretize_zoh([-1.0], [1.0], step)
        euler, _ = discretize_euler([-1.0], [1.0], step)
        growth = abs(euler[0]) ** 50
        print(f"   {step:>6} {zoh[0]:>10.4f} {euler[0]:>12.4f}   {growth:.3g}")
    print()


def demo_three_views(rng) -> None:
    N, L, step = 4, 40, 0.3
    A, B, C = random_ssm(rng, N)
    x = [rng.uniform(-1, 1) for _ in range(L)]
    recurrent = selective_scan(x, [step] * L, A, [B] * L, [C] * L)
    convolved = causal_convolution(ssm_kernel(A, B, C, step, L), x)
    parallel = selective_scan_parallel(x, [step] * L, A, [B] * L, [C] * L)
    print(f"2. One time-invariant SSM (N={N}, L={L}), three ways")
    print(f"   max |recurrent - convolution| = {max(abs(a - b) for a, b in zip(recurrent, convolved)):.2e}")
    print(f"   max |recurrent - parallel|    = {max(abs(a - b) for a, b in zip(recurrent, parallel)):.2e}\n")


def demo_selection(rng) -> None:
    N = 4
    A, _, _ = random_ssm(rng, N)
    x = [0.0] * 6 + [3.0] + [0.0] * 13
    w_B = [rng.uniform(0.5, 1.0) for _ in range(N)]
    delta, B, C = selection(x, w_delta=2.0, b_delta=-3.0, w_B=w_B, w_C=[0.0] * N)
    y = selective_scan(x, delta, A, B, C)
    print("3. Selection: the spike at t=6 gets a large step (take it in), zeros a tiny one (hold it)")
    print(f"   {'t':>3} {'x':>4} {'delta':>7}  y")
    peak = max(abs(v) for v in y) or 1.0
    for t in range(len(x)):
        bar = "#" * round(30 * abs(y[t]) / peak)
        print(f"   {t:>3} {x[t]:>4.1f} {delta[t]:>7.3f}  {bar}")
    print()


class CountingFloat(float):
    """A float that counts the multiplications it takes part in (demo instrumentation)."""

    count = 0

    def __mul__(self, other):
        CountingFloat.count += 1
        return CountingFloat(float(self) * other)

    __rmul__ = __mul__

    def __add__(self, other):
        return CountingFloat(float(self) + other)

    __radd__ = __add__


def demo_cost(rng) -> None:
    N, d = 4, 4
    print(f"4. Multiplications per sequence: selective scan (N={N}, counted: ~3N per token)")
    print(f"   vs attention (d={d}, 2 L^2 d: scores plus weighted sum)")
    rows = []
    for L in (16, 32, 64, 128):
        A, B, C = random_ssm(rng, N)
        x = [CountingFloat(rng.uniform(-1, 1)) for _ in range(L)]
        CountingFloat.count = 0
        selective_scan(x, [0.1] * L, A, [B] * L, [C] * L)
        rows.append((L, CountingFloat.count, 2 * L * L * d))
    largest = rows[-1][2]
    for L, scan, attention in rows:
        print(f"   L={L:<4} scan      {'#' * max(1, round(40 * scan / largest)):<40} {scan:,}")
        print(f"   {'':<6} attention {'#' * max(1, round(40 * attention / largest)):<40} {attention:,}")
    print()


def demo_parallel_depth() -> None:
    print("5. The parallel scan: total combines stay under 2L, dependent chain ~ 2 log2 L")
    print(f"   {'L':>5} {'combines':>9} {'depth':>6} {'sequential depth':>17}")
    for L in (8, 100, 1000, 4096):
        counter = {"combines": 0}

        def tagged(first, second):
            counter["combines"] += 1
            return max(first, second) + 1

        depth = max(parallel_scan([0] * L, tagged))
        print(f"   {L:>5} {counter['combines']:>9} {depth:>6} {L - 1:>17}")
    print()


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_discretisation()
    demo_three_views(rng)
    demo_selection(rng)
    demo_cost(rng)
    demo_parallel_depth()
    print("A state space model reads a sequence with a fixed-size memory: linear work,\n"
          "constant state, and, because the update is linear in h, a parallel scan.")
