"""
Rotary position embedding (RoPE): encode a token's position by ROTATING its
query and key vectors, pair of coordinates by pair of coordinates, through an
angle proportional to the position. The attention score q . k then depends on
the two positions only through their difference m - n: relative position for
free, with no learned table and nothing added to the token embedding.

This file builds RoPE from its three ingredients (a ladder of frequencies, a
2-D rotation per coordinate pair, the dot product of two rotated vectors),
shows that the two memory layouts used in practice (GPT-J's interleaved pairs,
GPT-NeoX / Llama-in-HF's half-split pairs) are the same rotation up to a fixed
permutation of coordinates, and implements the two classic ways of stretching a
trained model to a longer context: position interpolation and NTK-aware base
scaling.

References: Su et al., "RoFormer: Enhanced Transformer with Rotary Position
Embedding" (2021); Chen et al., "Extending Context Window of Large Language
Models via Positional Interpolation" (2023); bloc97, "NTK-Aware Scaled RoPE"
(r/LocalLLaMA, 2023); Peng et al., "YaRN" (2023) for what came after.
"""

from __future__ import annotations

import math
import random

# === CONVENTIONS ===
#
# d        the head dimension (length of one query or key vector); must be even,
#          because RoPE rotates coordinates two at a time.
# theta_i  the frequency of pair i, for i = 0 .. d/2 - 1:
#              theta_i = base ** (-2 i / d),   base = 10000 by default
#          theta_0 = 1 (one radian per position, the fastest pair); the last
#          pair turns slowest, by base ** (-(d-2)/d) radians per position.
# m, n     positions (0-based). A vector at position m has pair i rotated by
#          the angle m * theta_i, counter-clockwise: (a, b) -> (a cos - b sin,
#          a sin + b cos). Positions may be floats (context extension needs it).
#
# Two layouts decide WHICH coordinates form pair i:
#   interleaved (GPT-J, the RoFormer paper, Meta's original Llama code):
#       pair i = (x[2i], x[2i+1])
#   half-split  (GPT-NeoX, Llama / Mistral / Qwen in Hugging Face transformers):
#       pair i = (x[i], x[i + d/2])
# In both, the first element of the pair plays the real part and the second
# the imaginary part of the complex number z_i that gets rotated.


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def norm(x: list[float]) -> float:
    return math.sqrt(dot(x, x))


def head_dim(x: list[float]) -> int:
    """Return len(x) if it is a valid RoPE head dimension, else raise ValueError naming x."""
    d = len(x)
    if d == 0 or d % 2:
        raise ValueError(
            f"x has length {d}: RoPE rotates coordinates in pairs, so the head dimension d "
            "must be even and >= 2"
        )
    return d


# === FREQUENCIES ===
#
# Why a geometric ladder of frequencies? Each pair is a clock hand turning at
# its own speed. Fast hands (theta ~ 1 rad/token) tell neighbouring tokens
# apart but wrap around after ~6 tokens; slow hands (wavelength 2 pi / theta up
# to ~2 pi * base tokens) never wrap inside the context and tell "near" from
# "far". Together they act like the digits of a number written in a strange
# base: the same idea as the sinusoidal embedding of "Attention Is All You
# Need", which uses exactly these frequencies.


def rope_frequencies(d, base=10000.0):
    """Return the d/2 rotation frequencies theta_i = base ** (-2 i / d), i = 0 .. d/2 - 1.

    d: head dimension, a positive even int. base: > 1 (10000 in the RoFormer
    paper and Llama 2; 500000 in Llama 3). Returns a list of d/2 floats,
    theta_0 = 1.0 first, strictly decreasing. Raises ValueError naming d when
    d is not a positive even int, naming base when base <= 1.
    """
    # BEGIN SOLUTION
    if not isinstance(d, int) or isinstance(d, bool) or d <= 0 or d % 2:
        raise ValueError(f"d must be a positive even int (RoPE rotates pairs), got {d!r}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base!r}")
    # Math to code: the exponent counts in steps of 2/d, one step per pair,
    # so it runs 0, 2/d, 4/d, ... (d-2)/d and never reaches -1.
    return [base ** (-2 * i / d) for i in range(d // 2)]
    # END SOLUTION


# === ROTATION, INTERLEAVED LAYOUT ===
#
# Rotating pair i by angle a = m * theta_i is a 2x2 matrix acting on (x0, x1):
#     [x0']   [cos a  -sin a] [x0]
#     [x1'] = [sin a   cos a] [x1]
# The full d x d matrix R_m is block diagonal with one such block per pair, so
# it is never built: each pair is rotated on its own (O(d), not O(d^2)).
# Rotations preserve length, so RoPE changes where a vector points, never how
# long it is, and R_0 is the identity: position 0 leaves the vector alone.


def rotate_interleaved(x, position, base=10000.0):
    """Rotate x to `position` in the interleaved layout: pair i = (x[2i], x[2i+1]).

    x: a list of d floats (d even). position: int or float m (may be large or
    negative). Pair i turns counter-clockwise by m * theta_i, theta_i =
    base ** (-2i/d): (a, b) -> (a cos - b sin, a sin + b cos). Returns a new
    list; x is not modified. Raises ValueError naming x when len(x) is odd or 0.
    """
    # BEGIN SOLUTION
    d = head_dim(x)
    out = list(x)
    for i, theta in enumerate(rope_frequencies(d, base)):
        angle = position * theta
        c, s = math.cos(angle), math.sin(angle)
        x0, x1 = x[2 * i], x[2 * i + 1]
        out[2 * i] = x0 * c - x1 * s
        out[2 * i + 1] = x0 * s + x1 * c
    return out
    # END SOLUTION


# === ROTATION, HALF-SPLIT LAYOUT ===
#
# GPT-NeoX chose to pair coordinate i with coordinate i + d/2. On a GPU that
# is two contiguous slices instead of a strided gather, which is why Hugging
# Face writes it as
#     q * cos + rotate_half(q) * sin,   rotate_half(q) = concat(-q[d/2:], q[:d/2])
# with cos and sin each repeated twice along the last axis. Same rotation,
# different bookkeeping: the math of pair i is unchanged, only where its two
# numbers live in memory.


def rotate_half_split(x, position, base=10000.0):
    """Rotate x to `position` in the half-split layout: pair i = (x[i], x[i + d/2]).

    Same rotation as rotate_interleaved (pair i turns counter-clockwise by
    m * theta_i, the first element of the pair playing the real part), only
    the pairing differs. Returns a new list. Raises ValueError naming x when
    len(x) is odd or 0.
    """
    # BEGIN SOLUTION
    d = head_dim(x)
    half = d // 2
    out = list(x)
    for i, theta in enumerate(rope_frequencies(d, base)):
        angle = position * theta
        c, s = math.cos(angle), math.sin(angle)
        x0, x1 = x[i], x[i + half]
        out[i] = x0 * c - x1 * s
        out[i + half] = x0 * s + x1 * c
    return out
    # END SOLUTION


# === FROM ONE LAYOUT TO THE OTHER ===
#
# A model trained with one layout runs with the other if its query and key
# projection weights are permuted: reorder the output rows of W_q and W_k so
# that what was coordinate 2i lands at i and what was 2i + 1 lands at i + d/2.
# That is exactly what Hugging Face's convert_llama_weights_to_hf.py does to
# Meta's checkpoints (its `permute` function). Values and the attention output
# are untouched: the dot product is a sum over coordinates, and a sum does not
# care about order, so permuting q and k the same way keeps every score.


def half_split_permutation(d):
    """Return perm, a list of d ints, with y[j] = x[perm[j]] the half-split layout of interleaved x.

    Interleaved pair i, (x[2i], x[2i+1]), must land on half-split pair i,
    (y[i], y[i + d/2]). With it, for every x and position m:
        rotate_half_split([x[p] for p in perm], m)
            == [rotate_interleaved(x, m)[p] for p in perm].
    Raises ValueError naming d when d is not a positive even int.
    """
    # BEGIN SOLUTION
    if not isinstance(d, int) or isinstance(d, bool) or d <= 0 or d % 2:
        raise ValueError(f"d must be a positive even int, got {d!r}")
    # First half: the real parts x[0], x[2], x[4], ...; second half: the
    # imaginary parts x[1], x[3], x[5], ... (a "deinterleave"). Its inverse
    # interleaves again: x[2i] = y[i], x[2i+1] = y[i + d/2].
    return list(range(0, d, 2)) + list(range(1, d, 2))
    # END SOLUTION


# === ATTENTION SCORES: WHY ONLY m - n SURVIVES ===
#
# Read pair i of q as the complex number q_i (first element real, second
# imaginary). Rotation by angle a is multiplication by e^{ia}, and the dot
# product of two 2-vectors is Re(q_i * conj(k_i)). So
#     <R_m q, R_n k> = sum_i Re( q_i e^{i m theta_i} * conj(k_i e^{i n theta_i}) )
#                    = sum_i Re( q_i conj(k_i) e^{i (m - n) theta_i} ):
# the absolute positions cancel and only the distance m - n is left. Intuition:
# rotating both vectors by the same extra angle cannot change the angle
# between them. This is also why a KV cache can store keys already rotated:
# a key's rotation depends on its own position only, never on the query's.


def rope_scores(Q, K, q_positions=None, k_positions=None, base=10000.0):
    """Return the RoPE attention logits S[a][b] = <R_{m_a} Q[a], R_{n_b} K[b]> / sqrt(d).

    Q: list of queries, K: list of keys, each a list of d floats (d even and
    >= 2, the same d for all rows). q_positions / k_positions: the position of each row
    (int or float); None means 0, 1, 2, ... Rotation in the interleaved layout
    (as rotate_interleaved). Returns a len(Q) x len(K) list of lists, before
    any mask or softmax. Raises ValueError naming the argument when Q or K is
    empty, a row length is odd or differs from Q[0]'s, or a positions list has
    the wrong length.
    """
    # BEGIN SOLUTION
    if not Q or not K:
        raise ValueError("Q and K must each hold at least one row")
    d = len(Q[0])
    if d == 0 or d % 2:
        raise ValueError(f"Q rows have length {d}: the head dimension d must be even and >= 2")
    for name, rows in (("Q", Q), ("K", K)):
        for index, row in enumerate(rows):
            if len(row) != d:
                raise ValueError(f"{name} row {index} has {len(row)} entries, expected d = {d}")
    q_positions = list(range(len(Q))) if q_positions is None else list(q_positions)
    k_positions = list(range(len(K))) if k_positions is None else list(k_positions)
    if len(q_positions) != len(Q):
        raise ValueError(f"q_positions has {len(q_positions)} entries for {len(Q)} queries")
    if len(k_positions) != len(K):
        raise ValueError(f"k_positions has {len(k_positions)} entries for {len(K)} keys")
    # Rotate each vector once (O((N + M) d)), then take plain dot products:
    # RoPE adds no cost to the N x M score computation itself.
    q_rot = [rotate_interleaved(q, m, base) for q, m in zip(Q, q_positions)]
    k_rot = [rotate_interleaved(k, n, base) for k, n in zip(K, k_positions)]
    scale = 1.0 / math.sqrt(d)
    return [[dot(q, k) * scale for k in k_rot] for q in q_rot]
    # END SOLUTION


# === CONTEXT EXTENSION ===
#
# A model trained on sequences of L tokens has only ever seen angles
# m * theta_i with m < L. Run it at L' = s * L and the slow pairs reach angles
# they never saw during training; attention scores there are out of
# distribution and quality collapses (the RoFormer model does not extrapolate).
#
# Position interpolation (PI, Chen et al. 2023): squeeze the new positions
# into the trained range, m -> m * L / L' = m / s. Every angle stays inside
# what training covered; only its resolution is finer (neighbours are now 1/s
# of a radian apart on the fastest pair). The paper proves the interpolated
# scores stay far closer to trained ones than extrapolated ones and needs about
# 1000 fine-tuning steps to adapt. Cost: the fast pairs, which tell adjacent
# tokens apart, are squeezed as much as the slow ones.
#
# NTK-aware scaling (bloc97, 2023): keep positions as they are and change the
# base instead, so that the fast pairs are left (almost) alone and only the
# slow ones are interpolated. Because theta_0 = base^0 = 1 for any base, the
# fastest pair never changes; the base' is chosen so that the SLOWEST pair is
# slowed down by exactly s, as PI would have done to it. In between, pair i is
# interpolated by a factor growing smoothly from 1 to s. It works without any
# fine-tuning at moderate s (and better with it). The name comes from Neural
# Tangent Kernel theory: networks learn high-frequency detail poorly from
# low-dimensional inputs, so squeezing the high frequencies (as PI does) costs
# more than squeezing the low ones.
#
# Signpost: Hugging Face calls PI rope_scaling "linear" and NTK "dynamic" when
# s is recomputed from the current length; YaRN (Llama-3.1-style "llama3"
# scaling is a cousin) interpolates per pair by wavelength and also tempers
# the softmax.


def ntk_scaled_base(base, scale, d):
    """Return the NTK-aware base b' for stretching the context by `scale`.

    b' is the base for which, with theta_i = b' ** (-2i/d): the fastest pair
    theta_0 stays 1 (it always does) and the slowest pair theta_{d/2-1} is
    exactly the original one divided by `scale`. scale >= 1 (L_target /
    L_train); d even and >= 4 (with one pair there is nothing between fastest
    and slowest). Raises ValueError naming scale or d.
    """
    # BEGIN SOLUTION
    if not scale >= 1:
        raise ValueError(f"scale must be >= 1 (L_target / L_train), got {scale!r}")
    if not isinstance(d, int) or isinstance(d, bool) or d < 4 or d % 2:
        raise ValueError(f"d must be an even int >= 4 for NTK scaling, got {d!r}")
    # Slowest pair: b'^(-(d-2)/d) = base^(-(d-2)/d) / s. Raise both sides to
    # the power -d/(d-2): b' = base * s^(d/(d-2)). For d = 128 the exponent is
    # 1.016, so b' is a little more than s * base.
    return base * scale ** (d / (d - 2))
    # END SOLUTION


def rotate_extended(x, position, scale, method="pi", base=10000.0):
    """Rotate x (interleaved layout) to `position` in a context stretched by `scale`.

    scale = L_target / L_train >= 1 (float allowed). method "pi": position
    interpolation, rotate to position / scale with the same base (Chen et
    al. 2023). method "ntk": rotate to position itself with the base from
    ntk_scaled_base(base, scale, d). scale = 1 gives rotate_interleaved(x,
    position, base) for both, for any even d >= 2. Returns a new list. Raises
    ValueError naming method (unknown method), scale (< 1), x (odd length) or
    d ("ntk" with scale > 1 and d = 2: one pair cannot be rescaled).
    """
    # BEGIN SOLUTION
    d = head_dim(x)
    if not scale >= 1:
        raise ValueError(f"scale must be >= 1 (L_target / L_train), got {scale!r}")
    if method == "pi":
        # True division: positions become fractional, that is the point.
        return rotate_interleaved(x, position / scale, base)
    if method == "ntk":
        # scale 1 stretches nothing: the base stays, whatever d (even d = 2,
        # where ntk_scaled_base has no slowest pair to rescale).
        return rotate_interleaved(x, position, base if scale == 1 else ntk_scaled_base(base, scale, d))
    raise ValueError(f"method must be 'pi' or 'ntk', got {method!r}")
    # END SOLUTION


# === DEMONSTRATION ===


def random_vector(rng: random.Random, d: int) -> list[float]:
    return [rng.uniform(-1.0, 1.0) for _ in range(d)]


def bar(value: float, largest: float, width: int = 40) -> str:
    return "#" * max(0, round(width * value / largest))


def demo_frequencies() -> None:
    d, base, train = 128, 10000.0, 4096
    thetas = rope_frequencies(d, base)
    print(f"1. Frequencies for d = {d}, base = {base:g}: theta_i = base^(-2i/d)")
    print(f"   {'pair i':>7} {'theta_i (rad/token)':>20} {'wavelength 2pi/theta (tokens)':>31}")
    for i in (0, 1, 2, 8, 16, 32, 48, 56, 63):
        print(f"   {i:>7} {thetas[i]:>20.6g} {2 * math.pi / thetas[i]:>31,.1f}")
    slow = sum(1 for t in thetas if 2 * math.pi / t > train)
    print(
        f"   {slow} of {d // 2} pairs have a wavelength longer than the {train}-token training context:\n"
        "   they never complete a turn in training, and they go out of distribution beyond it.\n"
    )


def demo_rotation(rng: random.Random) -> None:
    d = 10
    x = random_vector(rng, d)
    print(f"2. Rotation preserves length and position 0 is the identity (d = {d})")
    print(f"   {'position':>9} {'|x|':>10} {'|R_m x| interleaved':>20} {'|R_m x| half-split':>19}")
    for m in (0, 1, 7, 1000, 10**4, 123456):
        a, b = rotate_interleaved(x, m), rotate_half_split(x, m)
        print(f"   {m:>9} {norm(x):>10.6f} {norm(a):>20.12f} {norm(b):>19.12f}")
    perm = half_split_permutation(d)
    worst = 0.0
    for m in (0, 3, 10**4, -17.5):
        lhs = rotate_half_split([x[p] for p in perm], m)
        rhs = [rotate_interleaved(x, m)[p] for p in perm]
        worst = max(worst, max(abs(u - v) for u, v in zip(lhs, rhs)))
    print(f"   half-split permutation for d = {d}: {perm}")
    print(f"   max |half_split(perm x) - perm(interleaved x)| over 4 positions: {worst:.2e}\n")


def demo_relative(rng: random.Random) -> None:
    d = 14
    q, k = random_vector(rng, d), random_vector(rng, d)
    print(f"3. The score <R_m q, R_n k> depends only on m - n (d = {d})")
    print(f"   {'m':>7} {'n':>7} {'m - n':>6} {'score':>16}")
    for m, n in [(5, 2), (8, 5), (10003, 10000), (123459, 123456), (2, 5), (10000, 10003)]:
        print(f"   {m:>7} {n:>7} {m - n:>6} {dot(rotate_interleaved(q, m), rotate_interleaved(k, n)):>16.12f}")
    print()


def demo_decay() -> None:
    # RoFormer's "long-term decay": with q = k = all ones the score is
    # 2 * sum_i cos((m - n) theta_i), which shrinks (noisily) with distance.
    d = 64
    ones = [1.0] * d
    print(f"4. Long-term decay: score of q = k = ones(d = {d}) against distance (unscaled dot)")
    rows = [(r, dot(rotate_interleaved(ones, r), ones)) for r in (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)]
    largest = max(abs(v) for _, v in rows)
    for r, value in rows:
        print(f"   m - n = {r:>5} {value:>8.2f} {bar(abs(value), largest)}")
    print()


def demo_extension(rng: random.Random) -> None:
    d, base, train, s = 128, 10000.0, 4096, 4.0
    target = int(train * s)
    new_base = ntk_scaled_base(base, s, d)
    old, ntk = rope_frequencies(d, base), rope_frequencies(d, new_base)
    print(f"5. Stretching a {train}-token model to {target} tokens (s = {s:g}, d = {d})")
    print(f"   NTK-aware base: {base:g} * s^(d/(d-2)) = {new_base:,.1f}")
    print(f"   {'pair i':>7} {'PI: theta_i/s':>14} {'NTK: theta_i':>14} {'NTK interpolation factor':>25}")
    for i in (0, 1, 8, 32, 48, 63):
        print(f"   {i:>7} {old[i] / s:>14.6g} {ntk[i]:>14.6g} {old[i] / ntk[i]:>25.4f}")
    last = target - 1
    print(
        f"   largest angle on the slowest pair at position {last}: original {last * old[-1]:.4f} rad,"
        f" PI {last / s * old[-1]:.4f}, NTK {last * ntk[-1]:.4f}"
        f" (training reached {(train - 1) * old[-1]:.4f})"
    )
    x = random_vector(rng, d)
    pi_gap = max(abs(u - v) for u, v in zip(rotate_extended(x, 4 * 1000, s, "pi"), rotate_interleaved(x, 1000)))
    print(f"   PI check: rotate_extended(x, 4000, s=4, 'pi') vs rotate_interleaved(x, 1000): {pi_gap:.1e}")
    print("   PI slows every pair by s; NTK leaves the fastest pair alone and slows only the slowest by s.\n")


if __name__ == "__main__":
    random.seed(42)
    rng = random.Random(42)
    demo_frequencies()
    demo_rotation(rng)
    demo_relative(rng)
    demo_decay()
    demo_extension(rng)
    print(
        "RoPE in one line: rotate q and k by position-dependent angles; their dot product\n"
        "then sees only the distance between them. Everything above is O(d) per vector."
    )
