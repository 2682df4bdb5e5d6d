"""Graded tests for microrope: rotary position embedding and context extension.

Expected values come from the independent spec below, which rotates with
Python's built-in complex numbers (pair i read as z = a + ib, rotated by
z * e^{i m theta_i} with cmath), never with 2x2 sin/cos formulas like the
kata's; from closed forms (the relative-position form of the score, the
NTK-aware base); or from properties (rotations keep length, scores depend
only on m - n, the two layouts agree after the permutation).

Tolerances: at position m the angle m * theta_i carries a rounding error of
about m * 2^-53 radians, ~1e-11 at m ~ 1e5, and the vectors here have entries
in [-1, 1]; 1e-9 leaves two orders of magnitude of headroom while a wrong
frequency, sign or position is off by 1e-3 or (much) more.
"""

import cmath
import copy
import math
import random

import pytest

from workbook.checks import assert_close, assert_equal, vector

TOL = 1e-9
DIMS = [2, 6, 10, 14]  # even, and (besides the edge d = 2) not powers of two
POSITIONS = [1, 3, 7.5, -5, 1000, 10**4, 123456]


# === the independent spec (complex numbers, cmath) ===


def spec_thetas(d, base=10000.0):
    """theta_i = base^(-2i/d), written as exp(-(2i/d) ln base)."""
    return [math.exp(-(2 * i / d) * math.log(base)) for i in range(d // 2)]


def spec_pairs(d, layout):
    half = d // 2
    if layout == "interleaved":
        return [(2 * i, 2 * i + 1) for i in range(half)]
    return [(i, i + half) for i in range(half)]


def spec_rotate(x, m, base=10000.0, layout="interleaved"):
    """Rotate by complex multiplication: z_i = x[a] + i x[b], z_i -> z_i e^{i m theta_i}."""
    out = [None] * len(x)
    for (a, b), theta in zip(spec_pairs(len(x), layout), spec_thetas(len(x), base)):
        z = complex(x[a], x[b]) * cmath.exp(1j * m * theta)
        out[a], out[b] = z.real, z.imag
    return out


def spec_relative_dot(q, k, distance, base=10000.0, layout="interleaved"):
    """<R_m q, R_n k> = sum_i Re(q_i conj(k_i) e^{i (m - n) theta_i}): only m - n appears."""
    total = 0.0
    for (a, b), theta in zip(spec_pairs(len(q), layout), spec_thetas(len(q), base)):
        zq, zk = complex(q[a], q[b]), complex(k[a], k[b])
        total += (zq * zk.conjugate() * cmath.exp(1j * distance * theta)).real
    return total


def spec_permutation(d):
    """y[j] = x[perm[j]]: y[i] = x[2i] and y[i + d/2] = x[2i + 1]."""
    half = d // 2
    return [2 * j if j < half else 2 * (j - half) + 1 for j in range(d)]


def dot(a, b):
    return math.fsum(x * y for x, y in zip(a, b))


def norm(x):
    return math.sqrt(dot(x, x))


def vec(seed, d):
    return vector(random.Random(seed), d)


def rotate_with(kata, layout):
    return kata.rotate_interleaved if layout == "interleaved" else kata.rotate_half_split


# The rotation tests run once per layout; each parameter carries the task it
# grades, so every collected test item is marked with exactly one task.
LAYOUTS = [
    pytest.param("interleaved", marks=pytest.mark.task("rotate_interleaved"), id="interleaved"),
    pytest.param("half_split", marks=pytest.mark.task("rotate_half_split"), id="half_split"),
]


# === task 1: frequencies ===


@pytest.mark.task("rope_frequencies")
@pytest.mark.parametrize("base", [10000.0, 500000.0])
@pytest.mark.parametrize("d", DIMS + [128])
def test_frequencies_match_definition(kata, d, base):
    got = kata.rope_frequencies(d, base)
    assert_close(
        got,
        spec_thetas(d, base),
        1e-12,
        f"rope_frequencies(d={d}, base={base:g})",
        hint="theta_i = base ** (-2 * i / d) for i = 0 .. d/2 - 1: the exponent steps by 2/d, not 1/d",
    )
    assert_equal(got[0], 1.0, f"rope_frequencies(d={d})[0]", hint="the first pair (i = 0) turns 1 rad per position")


@pytest.mark.task("rope_frequencies")
def test_frequencies_default_base_is_10000(kata):
    assert_close(kata.rope_frequencies(10), spec_thetas(10, 10000.0), 1e-12, "rope_frequencies(10)")


@pytest.mark.task("rope_frequencies")
@pytest.mark.parametrize("d", [7, 1, 0, -4, -2, 6.0, 2.5, math.nan, True], ids=str)
def test_frequencies_reject_bad_d(kata, d):
    with pytest.raises(ValueError, match=r"\bd\b"):
        kata.rope_frequencies(d)


@pytest.mark.task("rope_frequencies")
@pytest.mark.parametrize("base", [1.0, 0.5, -10000.0, 0.0, math.nan], ids=str)
def test_frequencies_reject_bad_base(kata, base):
    with pytest.raises(ValueError, match="base"):
        kata.rope_frequencies(6, base)


@pytest.mark.task("rope_frequencies")
def test_frequencies_accept_any_base_above_one(kata):
    assert_close(kata.rope_frequencies(6, 1.5), spec_thetas(6, 1.5), 1e-12, "rope_frequencies(6, base=1.5)",
                 hint="use the base you are given (any float > 1), not a hard-coded 10000 or int(base)")


# === tasks 2 and 3: rotation in the two layouts ===


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", DIMS)
def test_position_zero_is_identity(kata, layout, d):
    x = vec(20 + d, d)
    assert_close(
        rotate_with(kata, layout)(x, 0),
        x,
        1e-15,
        f"rotate_{layout}(x, position=0) with d={d}",
        hint="position 0 rotates by angle 0 (positions count from 0, not 1)",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", DIMS)
def test_rotation_equals_complex_multiplication(kata, layout, d):
    x = vec(10 + d, d)
    rotate = rotate_with(kata, layout)
    for m in POSITIONS:
        assert_close(
            rotate(x, m),
            spec_rotate(x, m, layout=layout),
            TOL,
            f"rotate_{layout}(x, position={m}) with d={d}",
            hint="pair (a, b) -> (a cos - b sin, a sin + b cos) with angle position * theta_i;"
            " check the sign of sin and which coordinates form pair i",
        )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rotation_uses_base(kata, layout):
    x = vec(3, 14)
    assert_close(
        rotate_with(kata, layout)(x, 777, base=500000.0),
        spec_rotate(x, 777, 500000.0, layout),
        TOL,
        f"rotate_{layout}(x, 777, base=500000) with d=14",
        hint="pass base on to the frequencies",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", DIMS)
def test_rotation_preserves_norm(kata, layout, d):
    x = vec(30 + d, d)
    rotate = rotate_with(kata, layout)
    for m in POSITIONS:
        assert_close(
            norm(rotate(x, m)),
            norm(x),
            1e-12,
            f"|rotate_{layout}(x, {m})| vs |x| with d={d}",
            hint="a rotation changes direction, never length: each pair must use cos and sin of the same angle",
        )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", [6, 14])
def test_dot_depends_only_on_distance(kata, layout, d):
    # Asymmetric q != k; equal distances at small and ~1e4 / ~1e5 positions.
    rng = random.Random(40 + d)
    q, k = vector(rng, d), vector(rng, d)
    rotate = rotate_with(kata, layout)
    for m, n in [(5, 2), (2, 5), (0, 9), (10**4 + 5, 10**4 + 2), (10**4, 10**4 + 9), (123459, 123456), (17, 17)]:
        assert_close(
            dot(rotate(q, m), rotate(k, n)),
            spec_relative_dot(q, k, m - n, layout=layout),
            TOL,
            f"<rotate_{layout}(q, {m}), rotate_{layout}(k, {n})> with d={d} (m - n = {m - n})",
            hint="q and k must be rotated the same way, each by its own position; the score is then"
            " sum_i Re(q_i conj(k_i) e^{i(m-n)theta_i})",
        )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("d", [7, 1, 0])
def test_rotation_rejects_odd_length(kata, layout, d):
    with pytest.raises(ValueError, match=r"\b(x|d)\b"):
        rotate_with(kata, layout)(vec(1, d), 3)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rotation_leaves_input_alone(kata, layout):
    x = vec(5, 10)
    before = copy.deepcopy(x)
    out = rotate_with(kata, layout)(x, 12)
    assert_equal(x, before, f"x after rotate_{layout}(x, 12)", hint="build and return a new list")
    assert out is not x, f"rotate_{layout} must return a new list, not x itself"
    assert_close(out, spec_rotate(before, 12, layout=layout), TOL, f"rotate_{layout}(x, 12) with d=10")


@pytest.mark.task("rotate_half_split")
@pytest.mark.parametrize("d", DIMS)
def test_layouts_agree_after_permutation(kata, d):
    # Uses the grader's own permutation: y[i] = x[2i], y[i + d/2] = x[2i + 1].
    perm = spec_permutation(d)
    x = vec(50 + d, d)
    for m in [0, 3, -11, 10**4, 2.25]:
        inter = spec_rotate(x, m)  # the grader's interleaved rotation: graded before rotate_interleaved exists
        assert_close(
            kata.rotate_half_split([x[p] for p in perm], m),
            [inter[p] for p in perm],
            TOL,
            f"rotate_half_split(perm x, {m}) vs perm(interleaved rotation of x by {m}) with d={d}",
            hint="half-split pair i is (x[i], x[i + d/2]) and turns at theta_i, like interleaved pair i",
        )


# === task 4: the permutation between layouts ===


@pytest.mark.task("half_split_permutation")
@pytest.mark.parametrize("d", DIMS + [16])
def test_permutation_closed_form(kata, d):
    assert_equal(
        list(kata.half_split_permutation(d)),
        spec_permutation(d),
        f"half_split_permutation({d})",
        hint="y[j] = x[perm[j]]: the first half of y gathers x[0], x[2], ...; the second x[1], x[3], ..."
        " (not the inverse permutation)",
    )


@pytest.mark.task("half_split_permutation")
@pytest.mark.parametrize("d", [6, 14])
def test_permutation_maps_layouts(kata, d):
    # Checked with the grader's complex-number rotations, so only perm is graded.
    perm = list(kata.half_split_permutation(d))
    x = vec(60 + d, d)
    for m in [1, 9, 10**4]:
        rotated = spec_rotate(x, m, layout="interleaved")
        assert_close(
            spec_rotate([x[p] for p in perm], m, layout="half_split"),
            [rotated[p] for p in perm],
            TOL,
            f"half-split rotation of perm(x) vs perm of interleaved rotation, d={d}, m={m}",
            hint="interleaved pair i = (x[2i], x[2i+1]) must become half-split pair i = (y[i], y[i + d/2])",
        )


@pytest.mark.task("half_split_permutation")
@pytest.mark.parametrize("d", [5, 1, 0, -2, 4.0, 2.5, math.nan, True], ids=str)
def test_permutation_rejects_bad_d(kata, d):
    with pytest.raises(ValueError, match=r"\bd\b"):
        kata.half_split_permutation(d)


# === task 5: attention scores ===


def qk(seed, n_q, n_k, d):
    rng = random.Random(seed)
    return [vector(rng, d) for _ in range(n_q)], [vector(rng, d) for _ in range(n_k)]


def spec_scores(Q, K, q_positions, k_positions, base=10000.0):
    d = len(Q[0])
    return [
        [spec_relative_dot(q, k, m - n, base) / math.sqrt(d) for k, n in zip(K, k_positions)]
        for q, m in zip(Q, q_positions)
    ]


@pytest.mark.task("rope_scores")
@pytest.mark.parametrize("d", [2, 6, 14])
def test_scores_match_relative_closed_form(kata, d):
    Q, K = qk(70 + d, 4, 6, d)
    q_pos = [3, 10**4 + 1, 50, 123456]
    k_pos = [0, 10**4, 7, 51, 123000, 2]
    assert_close(
        kata.rope_scores(Q, K, q_pos, k_pos),
        spec_scores(Q, K, q_pos, k_pos),
        TOL,
        f"rope_scores(4 queries, 6 keys, d={d})",
        hint="rotate every query by its position and every key by its own, then dot / sqrt(d)",
    )


@pytest.mark.task("rope_scores")
def test_scores_one_query_one_key(kata):
    Q, K = qk(75, 1, 1, 4)
    assert_close(
        kata.rope_scores(Q, K, [9], [2]), spec_scores(Q, K, [9], [2]), TOL,
        "rope_scores(1 query, 1 key, d=4)", hint="d is the length of a row: len(Q[0])",
    )


@pytest.mark.task("rope_scores")
def test_scores_default_positions_count_from_zero(kata):
    Q, K = qk(80, 5, 7, 10)
    assert_close(
        kata.rope_scores(Q, K, base=500.0),
        spec_scores(Q, K, range(5), range(7), 500.0),
        TOL,
        "rope_scores(Q, K) with default positions (queries 0..4, keys 0..6) and base=500",
        hint="None means positions 0, 1, 2, ... for both Q and K; pass base on",
    )


@pytest.mark.task("rope_scores")
def test_scores_are_shift_invariant_at_large_positions(kata):
    Q, K = qk(90, 3, 5, 10)
    q_pos, k_pos = [4, 9, 2], [0, 1, 5, 8, 3]
    shift = 10**4
    near = kata.rope_scores(Q, K, q_pos, k_pos)
    far = kata.rope_scores(Q, K, [p + shift for p in q_pos], [p + shift for p in k_pos])
    assert_close(near, spec_scores(Q, K, q_pos, k_pos), TOL, "rope_scores (unshifted positions) vs <R_m q, R_n k> / sqrt(d)",
                 hint="rotate q by its position and k by its position (interleaved layout), dot, divide by sqrt(d)")
    assert_close(
        far,
        near,
        TOL,
        f"rope_scores with every position shifted by {shift} vs unshifted",
        hint="the score must depend on m - n only: rotate both q and k (neither left unrotated),"
        " each by its own position, with the same frequencies",
    )


@pytest.mark.task("rope_scores")
def test_scores_are_toeplitz(kata):
    # One query vector and one key vector repeated at consecutive positions:
    # S[a][b] may depend only on a - b, so each diagonal is constant.
    rng = random.Random(95)
    d, n = 14, 6
    q, k = vector(rng, d), vector(rng, d)
    start = 10**4
    S = kata.rope_scores([q] * n, [k] * n, [start + a for a in range(n)], [start + b for b in range(n)])
    for a in range(n):
        for b in range(n):
            assert_close(
                S[a][b],
                S[a - b][0] if a >= b else S[0][b - a],
                TOL,
                f"rope_scores diagonal a - b = {a - b}: S[{a}][{b}]",
                hint="a score must see only the distance between query and key:"
                " rotate both q and k, each by its own position",
            )


@pytest.mark.task("rope_scores")
def test_scores_reject_bad_inputs(kata):
    Q, K = qk(99, 2, 3, 6)
    with pytest.raises(ValueError, match=r"\bQ\b"):
        kata.rope_scores([row[:5] for row in Q], [row[:5] for row in K])
    with pytest.raises(ValueError, match=r"\bQ\b"):
        kata.rope_scores([[] for _ in Q], [[] for _ in K])
    with pytest.raises(ValueError, match=r"\bK\b"):
        kata.rope_scores(Q, [row[:4] for row in K])
    with pytest.raises(ValueError, match="q_positions"):
        kata.rope_scores(Q, K, [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="k_positions"):
        kata.rope_scores(Q, K, [0, 1], [0, 1])
    with pytest.raises(ValueError, match=r"\bQ\b"):
        kata.rope_scores([], K)
    with pytest.raises(ValueError, match=r"\bK\b"):
        kata.rope_scores(Q, [])
    # Both sides of every length: a Q row that differs from Q[0], K rows longer than Q's, positions lists
    # one too short and one too long.
    with pytest.raises(ValueError, match=r"\bQ\b"):
        kata.rope_scores([Q[0], Q[1][:4]], K)
    with pytest.raises(ValueError, match=r"\bK\b"):
        kata.rope_scores(Q, [row + [0.5, 0.5] for row in K])
    with pytest.raises(ValueError, match="q_positions"):
        kata.rope_scores(Q, K, [0], [0, 1, 2])
    with pytest.raises(ValueError, match="k_positions"):
        kata.rope_scores(Q, K, [0, 1], [0, 1, 2, 3])
    with pytest.raises(ValueError, match="q_positions"):
        kata.rope_scores(Q, K, [], None)


# === task 6: NTK-aware base ===


@pytest.mark.task("ntk_scaled_base")
@pytest.mark.parametrize("d", [4, 6, 14, 128])
def test_ntk_keeps_fastest_and_slows_slowest_by_scale(kata, d):
    base = 10000.0
    old = spec_thetas(d, base)
    for scale in (2.0, 1.0, 2.5, 4.0, 8.0):  # s = 1 (base unchanged) alongside cases where it must move
        new = spec_thetas(d, kata.ntk_scaled_base(base, scale, d))
        assert_close(new[0], 1.0, 1e-15, f"theta_0 with ntk_scaled_base(s={scale}, d={d})")
        assert_close(
            new[-1] / old[-1],
            1.0 / scale,
            1e-12,
            f"slowest frequency ratio theta'_(d/2-1) / theta_(d/2-1) with ntk_scaled_base(s={scale}, d={d})",
            hint="solve b'^(-(d-2)/d) = base^(-(d-2)/d) / s for b': the exponent on s is d/(d-2), not 1 nor (d-2)/d",
        )


@pytest.mark.task("ntk_scaled_base")
@pytest.mark.parametrize("base", [10000.0, 500000.0])
@pytest.mark.parametrize("scale,d", [(2.0, 6), (4.0, 128), (3.5, 10), (16.0, 14)])
def test_ntk_base_closed_form(kata, base, scale, d):
    expected = base * scale ** (d / (d - 2))
    got = kata.ntk_scaled_base(base, scale, d)
    assert_close(
        got / expected,
        1.0,
        1e-12,
        f"ntk_scaled_base({base:g}, {scale}, {d}) / (base * s^(d/(d-2)))",
        hint="b' = base * s^(d/(d-2))",
    )


@pytest.mark.task("ntk_scaled_base")
def test_ntk_rejects_bad_inputs(kata):
    for scale in (0.5, 0.0, -2.0, 1.0 - 2**-52, math.nan):
        with pytest.raises(ValueError, match="scale"):
            kata.ntk_scaled_base(10000.0, scale, 8)
    for d in (2, 7, 0, -4, 8.0, 4.5, math.nan, True):
        with pytest.raises(ValueError, match=r"\bd\b"):
            kata.ntk_scaled_base(10000.0, 2.0, d)


# === task 7: rotating in a stretched context ===


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("scale", [2.0, 2.5, 4.0, 8.0])
@pytest.mark.parametrize("d", [6, 14])
def test_pi_rotates_to_scaled_position(kata, d, scale):
    x = vec(110 + d, d)
    for m in [3, 1001, 16383, 10**4 + 7]:
        assert_close(
            kata.rotate_extended(x, m, scale, "pi"),
            spec_rotate(x, m / scale),
            TOL,
            f"rotate_extended(x, {m}, scale={scale}, 'pi') vs rotation to position {m}/{scale}",
            hint="position interpolation divides the POSITION by scale (true division) and keeps the base:"
            " every frequency, the fastest included, is slowed by s",
        )


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("scale", [2.5, 4.0])
def test_pi_score_sees_distance_over_scale(kata, scale):
    rng = random.Random(120)
    q, k = vector(rng, 10), vector(rng, 10)
    for m, n in [(9, 2), (16000, 15990), (40, 400)]:
        assert_close(
            dot(kata.rotate_extended(q, m, scale, "pi"), kata.rotate_extended(k, n, scale, "pi")),
            spec_relative_dot(q, k, (m - n) / scale),
            TOL,
            f"PI score at m={m}, n={n}, scale={scale}",
            hint="with PI the model sees distance (m - n) / s",
        )


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("scale", [2.0, 4.0, 8.0])
@pytest.mark.parametrize("d", [6, 14])
def test_ntk_rotates_with_scaled_base(kata, d, scale):
    x = vec(130 + d, d)
    base = 10000.0
    new_base = base * scale ** (d / (d - 2))
    for m in [5, 4097, 16383]:
        assert_close(
            kata.rotate_extended(x, m, scale, "ntk"),
            spec_rotate(x, m, new_base),
            TOL,
            f"rotate_extended(x, {m}, scale={scale}, 'ntk') with d={d}",
            hint="NTK keeps the position and rotates with base' = ntk_scaled_base(base, scale, d)",
        )


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("d", [6, 14])
def test_ntk_extrapolates_fastest_pair_and_interpolates_slowest(kata, d):
    x = vec(140 + d, d)
    scale, m = 4.0, 12345
    got = kata.rotate_extended(x, m, scale, "ntk")
    plain = spec_rotate(x, m)
    squeezed = spec_rotate(x, m / scale)
    assert_close(got[:2], plain[:2], TOL, f"NTK pair 0 (fastest) at m={m}, d={d}: as without scaling")
    assert_close(got[-2:], squeezed[-2:], TOL, f"NTK last pair (slowest) at m={m}, d={d}: as PI would")


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("method", ["pi", "ntk"])
def test_scale_one_is_plain_rope(kata, method):
    x = vec(150, 10)
    assert_close(
        kata.rotate_extended(x, 2024, 1.0, method, base=500000.0),
        spec_rotate(x, 2024, 500000.0),
        TOL,
        f"rotate_extended(x, 2024, scale=1, {method!r}, base=500000)",
        hint="scale 1 means no stretching; pass base on",
    )


@pytest.mark.task("rotate_extended")
@pytest.mark.parametrize("method", ["pi", "ntk"])
def test_scale_one_is_plain_rope_for_one_pair(kata, method):
    # d = 2: NTK has no slowest pair to rescale, but scale 1 rescales nothing.
    x = vec(151, 2)
    assert_close(
        kata.rotate_extended(x, 37, 1.0, method),
        spec_rotate(x, 37, 10000.0),
        TOL,
        f"rotate_extended(x, 37, scale=1, {method!r}) with d=2",
        hint="with scale 1 there is nothing to stretch: rotate with the base as it is (no ntk_scaled_base)",
    )


@pytest.mark.task("rotate_extended")
def test_extended_rejects_bad_inputs(kata):
    x = vec(160, 6)
    with pytest.raises(ValueError, match="method"):
        kata.rotate_extended(x, 10, 2.0, "yarn")
    for scale in (0.5, 1.0 - 2**-52, math.nan):
        for method in ("pi", "ntk"):
            with pytest.raises(ValueError, match="scale"):
                kata.rotate_extended(x, 10, scale, method)
    with pytest.raises(ValueError, match="method"):
        kata.rotate_extended(x, 0, 1.0, "yarn")  # position 0 and scale 1 change nothing: still checked
    with pytest.raises(ValueError, match=r"\b(x|d)\b"):
        kata.rotate_extended(vec(161, 7), 10, 2.0, "pi")
    with pytest.raises(ValueError, match=r"\bd\b"):
        kata.rotate_extended(vec(162, 2), 10, 2.0, "ntk")
