"""Graded tests for microquant: absmax and zero-point quantization, granularity, size.

Expected values come from the independent spec below (the two's-complement
grid, the absmax and min/max formulas written out again), from closed forms
(bytes of packed codes plus float32 scales), or from properties: codes are
Python ints on the grid and nearest to w / scale, the round trip moves no
value by more than scale / 2, zero survives exactly, per-channel error never
exceeds per-tensor error. Rounding ties are never decisive: any
round-to-nearest rule passes.

The model tests load a small character-level MLP from
tests/data/microquant/model.json, trained by the solution's own code with

    python solutions/microquant/microquant.py --train-checkpoint tests/data/microquant/model.json

(about 10 s, data/names.txt only). They evaluate it with the forward pass
written below, never the kata's. The slow test re-runs that command and
checks it reproduces the shipped file (`pytest -m slow tests/test_microquant.py --solutions`).
"""

import functools
import json
import math
import random
import subprocess
import sys
from operator import mul
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, vector

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microquant" / "model.json"
NAMES = ROOT / "data" / "names.txt"
SLACK = 1e-9  # relative slack on float comparisons (the last bits of a division)


# === the independent spec ===


def grid(bits):
    """Two's-complement range of a signed bits-bit integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def spec_absmax_scale(values, bits):
    return max(abs(v) for v in values) / grid(bits)[1]


def spec_quantize(values, scale, bits, zero_point=0):
    """The grader's quantize (any nearest rounding will do here): codes for the dequantize and zero-point tests,
    so they grade before your quantize is written."""
    qmin, qmax = grid(bits)
    return [min(qmax, max(qmin, round(v / scale) + zero_point)) for v in values]


def spec_dequantize(codes, scale, zero_point=0):
    return [scale * (q - zero_point) for q in codes]


def spec_zero_point_range(values, bits):
    """(lo, hi, scale): the range stretched to hold 0, spread over 2^bits - 1 steps."""
    lo, hi = min(0.0, *values), max(0.0, *values)
    return lo, hi, (hi - lo) / ((1 << bits) - 1)


def check_codes(codes, ideal, bits, what, hint=""):
    """Each code is a Python int on the grid, nearest to its ideal real value (or saturated)."""
    qmin, qmax = grid(bits)
    hint_line = f"\n  hint: {hint}" if hint else ""
    if len(codes) != len(ideal):
        raise Mismatch(f"{what}: expected {len(ideal)} codes, got {len(codes)}{hint_line}")
    for i, (code, x) in enumerate(zip(codes, ideal)):
        if type(code) is not int:
            raise Mismatch(
                f"{what}: code [{i}] is {code!r} of type {type(code).__name__}, not a Python int"
                f"\n  hint: codes are integers: round, then int() if your rounding returns a float"
            )
        if not qmin <= code <= qmax:
            raise Mismatch(f"{what}: code [{i}] = {code} is outside [{qmin}, {qmax}]{hint_line}")
        nearest = min(qmax, max(qmin, x))  # the saturated ideal
        if abs(code - nearest) > 0.5 + 1e-9:
            raise Mismatch(
                f"{what}: code [{i}] = {code}, but the value sits at {x:.6f} grid steps"
                f" (saturated: {nearest:.6f}); expected the nearest integer code{hint_line}"
            )


def check_round_trip(values, back, scale, what, hint=""):
    """|v - v'| <= scale / 2 for every value."""
    assert_equal(len(back), len(values), f"{what}: number of dequantized values")
    worst = max(range(len(values)), key=lambda i: abs(values[i] - back[i]))
    err = abs(values[worst] - back[worst])
    if not err <= scale / 2 * (1 + SLACK) + 1e-15:
        raise Mismatch(
            f"{what}: |v - dequantize(quantize(v))| = {err:.6g} at [{worst}] (v = {values[worst]!r},"
            f" got {back[worst]!r}) exceeds scale / 2 = {scale / 2:.6g}"
            + (f"\n  hint: {hint}" if hint else "")
        )


def is_positive_finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


# === task 1: the integer grid ===


@pytest.mark.task("int_range")
def test_int_range_is_twos_complement(kata):
    for bits in (2, 3, 5, 6, 7, 12, 16):
        assert_equal(
            tuple(kata.int_range(bits)),
            grid(bits),
            f"int_range({bits})",
            hint="a signed b-bit integer runs from -2^(b-1) to 2^(b-1) - 1: one more negative code",
        )


@pytest.mark.task("int_range")
def test_int4_is_minus_eight_to_seven(kata):
    assert_equal(tuple(kata.int_range(4)), (-8, 7), "int_range(4)", hint="INT4 has 16 codes: -8 is one of them")
    assert_equal(tuple(kata.int_range(8)), (-128, 127), "int_range(8)")


@pytest.mark.task("int_range")
def test_int_range_rejects_bad_bits(kata):
    for bits in (1, 0, -4, 4.5):
        with pytest.raises(ValueError, match="bits"):
            kata.int_range(bits)


# === task 2: the absmax scale ===


@pytest.mark.task("absmax_scale")
@pytest.mark.parametrize("bits", [8, 4, 3, 2])
def test_absmax_scale_closed_form(kata, bits):
    for n in (1, 7, 50):
        values = vector(random.Random(10 * n + bits), n, scale=2.5)
        expected = spec_absmax_scale(values, bits)
        assert_close(
            kata.absmax_scale(values, bits),
            expected,
            expected * SLACK,
            f"absmax_scale({n} values, bits={bits})",
            hint="scale = max |v| / (2^(bits-1) - 1): the largest magnitude lands on the top code",
        )


@pytest.mark.task("absmax_scale")
def test_absmax_scale_uses_the_largest_magnitude(kata):
    # The largest magnitude is negative; the largest value is small.
    values = [0.2, -3.1, 0.7, -0.05, 1.4]
    assert_close(
        kata.absmax_scale(values, 8),
        3.1 / 127,
        1e-15,
        "absmax_scale([0.2, -3.1, 0.7, -0.05, 1.4], 8)",
        hint="take the max of |v|, not of v: -3.1 is the value that must still fit",
    )


@pytest.mark.task("absmax_scale")
def test_absmax_scale_of_all_zeros(kata):
    for bits in (8, 4):
        scale = kata.absmax_scale([0.0, -0.0, 0.0], bits)
        if not is_positive_finite(scale):
            raise Mismatch(
                f"absmax_scale([0.0, -0.0, 0.0], {bits}) returned {scale!r}; expected a positive finite"
                " scale (the docstring says 1.0) so that quantize never divides by zero"
            )


@pytest.mark.task("absmax_scale")
def test_absmax_scale_rejects_bad_input(kata):
    with pytest.raises(ValueError, match="values"):
        kata.absmax_scale([], 8)
    with pytest.raises(ValueError, match="bits"):
        kata.absmax_scale([1.0, 2.0], 1)


# === task 3: quantize ===


@pytest.mark.task("quantize")
@pytest.mark.parametrize("bits", [8, 4, 3])
def test_quantize_rounds_to_the_nearest_code(kata, bits):
    rng = random.Random(300 + bits)
    values = vector(rng, 41, scale=1.3)
    scale = spec_absmax_scale(values, bits) * 0.8  # a clipped scale: the outer values saturate
    check_codes(
        kata.quantize(values, scale, bits),
        [v / scale for v in values],
        bits,
        f"quantize(41 values, scale={scale:.5f}, bits={bits})",
        hint="q = clip(round(v / scale), qmin, qmax)",
    )


@pytest.mark.task("quantize")
def test_quantize_saturates_at_both_ends_of_the_int4_grid(kata):
    # In grid steps: -20, -7.9, 7.4, 30. The grid is [-8, 7]: -7.9 rounds to -8,
    # which is a legal INT4 code; -20 and 30 saturate.
    assert_equal(
        kata.quantize([-2.0, -0.79, 0.74, 3.0], 0.1, 4),
        [-8, -8, 7, 7],
        "quantize([-2.0, -0.79, 0.74, 3.0], scale=0.1, bits=4)",
        hint="clip every code into [-8, 7]; -8 is a valid INT4 code, not out of range",
    )
    assert_equal(
        kata.quantize([-2.0, -1.279, -1.2749, 1.5, 0.004], 0.01, 8),
        [-128, -128, -127, 127, 0],
        "quantize([-2.0, -1.279, -1.2749, 1.5, 0.004], scale=0.01, bits=8)",
        hint="clip into [-128, 127] after rounding",
    )


@pytest.mark.task("quantize")
@pytest.mark.parametrize("bits,zero_point", [(8, -30), (8, 100), (4, -5), (4, 3)])
def test_quantize_adds_the_zero_point(kata, bits, zero_point):
    rng = random.Random(bits * 1000 + zero_point)
    values = vector(rng, 23, scale=1.0)
    scale = 0.9 / (grid(bits)[1] - grid(bits)[0]) * 2
    check_codes(
        kata.quantize(values, scale, bits, zero_point),
        [v / scale + zero_point for v in values],
        bits,
        f"quantize(23 values, scale={scale:.5f}, bits={bits}, zero_point={zero_point})",
        hint="q = clip(round(v / scale) + zero_point, qmin, qmax): shift, then clip",
    )


@pytest.mark.task("quantize")
@pytest.mark.parametrize("bits", [8, 4])
def test_quantize_rejects_bad_scale_and_zero_point(kata, bits):
    for scale in (0.0, -0.5, math.inf, math.nan):
        with pytest.raises(ValueError, match="scale"):
            kata.quantize([0.1, 0.2], scale, bits)
    qmin, qmax = grid(bits)
    for zero_point in (qmin - 1, qmax + 1, 1.0, True):  # not an int code (a bool is not one either)
        with pytest.raises(ValueError, match="zero_point"):
            kata.quantize([0.1, 0.2], 0.01, bits, zero_point)


# === task 4: dequantize and the absmax round trip ===


@pytest.mark.task("dequantize")
def test_dequantize_closed_form(kata):
    codes = [-8, 7, 0, 3, -1]
    assert_close(kata.dequantize(codes, 0.25), [-2.0, 1.75, 0.0, 0.75, -0.25], 1e-15, "dequantize(codes, 0.25)")
    assert_close(
        kata.dequantize(codes, 0.25, -3),
        [-1.25, 2.5, 0.75, 1.5, 0.5],
        1e-15,
        "dequantize(codes, 0.25, zero_point=-3)",
        hint="v' = scale * (q - zero_point): subtract the zero-point before scaling",
    )


@pytest.mark.task("dequantize")
@pytest.mark.parametrize("bits", [8, 4, 3, 2])
def test_absmax_round_trip_within_half_a_step(kata, bits):
    for n in (1, 9, 64):
        values = vector(random.Random(7 * n + bits), n, scale=0.8)
        scale = spec_absmax_scale(values, bits)
        codes = spec_quantize(values, scale, bits)
        check_round_trip(
            values,
            kata.dequantize(codes, scale),
            scale,
            f"absmax round trip ({n} values, bits={bits})",
            hint="round to the nearest code (not toward zero) and multiply back by the same scale; a scale below"
            " max |v| / (2^(bits-1) - 1) clips the largest values",
        )


@pytest.mark.task("dequantize")
@pytest.mark.parametrize(
    "values",
    [[0.0], [0.0, 0.0, -0.0, 0.0], [3.3], [-0.2], [0.7] * 5, [-1.9] * 3, [1e-3] * 4],
    ids=["zero", "zeros", "single+", "single-", "const+", "const-", "const-tiny"],
)
def test_absmax_constant_zero_and_single_tensors(kata, values):
    # Each case beside a constant one whose codes are not its values (+-qmax): an all-zero tensor's codes
    # ARE its values, so a dequantize that returns its codes must still fail here.
    for values, bits in [(values, 8), (values, 4), ([-0.45] * 2, 4)]:
        top = abs(values[0])
        scale = top / grid(bits)[1] if top else 1.0
        codes = spec_quantize(values, scale, bits)
        what = f"absmax round trip of {values} (bits={bits}): dequantize({codes}, {scale!r})"
        # Exact where possible: a constant tensor sits exactly on a grid point.
        assert_close(
            kata.dequantize(codes, scale),
            values,
            1e-12 * max(top, 1.0),
            what,
            hint="a constant tensor lands exactly on +-qmax; zeros need a positive scale, not 0/0",
        )


@pytest.mark.task("dequantize")
def test_dequantize_rejects_bad_scale(kata):
    with pytest.raises(ValueError, match="scale"):
        kata.dequantize([1, 2], 0.0)
    with pytest.raises(ValueError, match="scale"):
        kata.dequantize([1, 2], -1.0)


# === task 5: zero-point quantization ===

SKEWED = {
    "mixed": (-0.3, 1.7),
    "positive": (0.05, 2.0),
    "negative": (-4.0, -0.5),
    "narrow": (-0.02, 0.01),
}


@pytest.mark.task("zero_point_params")
@pytest.mark.parametrize("kind", list(SKEWED))
def test_zero_point_params_closed_form(kata, kind):
    for bits in (8, 4, 3):
        check_zero_point_params(kata, bits, kind)


def check_zero_point_params(kata, bits, kind):
    low, high = SKEWED[kind]
    rng = random.Random(len(kind) * 31 + bits)
    values = [rng.uniform(low, high) for _ in range(29)]
    lo, hi, expected_scale = spec_zero_point_range(values, bits)
    qmin, qmax = grid(bits)
    scale, zero_point = kata.zero_point_params(values, bits)
    what = f"zero_point_params({kind} values in [{low}, {high}], bits={bits})"
    assert_close(
        scale,
        expected_scale,
        expected_scale * SLACK,
        f"{what}: scale",
        hint="scale = (hi - lo) / (qmax - qmin) with the range stretched to include 0; INT4 has 15 steps",
    )
    if type(zero_point) is not int or not qmin <= zero_point <= qmax:
        raise Mismatch(f"{what}: zero_point {zero_point!r} must be a Python int in [{qmin}, {qmax}]")
    ideal = qmin - lo / expected_scale
    if abs(zero_point - ideal) > 0.5 + 1e-9:
        raise Mismatch(
            f"{what}: zero_point {zero_point}, expected the integer nearest qmin - lo / scale = {ideal:.4f}"
            "\n  hint: the zero-point is the code that float 0.0 maps to; lo must map to qmin"
        )


@pytest.mark.task("zero_point_params")
@pytest.mark.parametrize("bits", [8, 4])
def test_zero_point_of_one_sided_data_is_an_end_of_the_grid(kata, bits):
    qmin, qmax = grid(bits)
    assert_equal(
        kata.zero_point_params([0.4, 1.1, 0.25, 2.2], bits)[1],
        qmin,
        f"zero_point of all-positive data (bits={bits})",
        hint="the range is [0, max]: float 0.0 is the lowest value, so it takes the lowest code",
    )
    assert_equal(
        kata.zero_point_params([-0.4, -1.1, -0.25, -2.2], bits)[1],
        qmax,
        f"zero_point of all-negative data (bits={bits})",
        hint="the range is [min, 0]: float 0.0 is the highest value, so it takes the highest code",
    )


@pytest.mark.task("zero_point_params")
@pytest.mark.parametrize("kind", list(SKEWED))
def test_zero_point_round_trip_within_half_a_step(kata, kind):
    low, high = SKEWED[kind]
    for bits in (8, 4, 3):
        rng = random.Random(len(kind) * 17 + bits)
        values = [rng.uniform(low, high) for _ in range(37)] + [0.0]
        scale, zero_point = kata.zero_point_params(values, bits)
        # The grader's quantize and dequantize: zero_point_params is graded on its own.
        codes = spec_quantize(values, scale, bits, zero_point)
        back = spec_dequantize(codes, scale, zero_point)
        check_round_trip(
            values, back, scale, f"zero-point round trip ({kind}, bits={bits})",
            hint="dequantize subtracts the zero-point: v' = scale * (q - zero_point)",
        )
        assert_equal(back[-1], 0.0, f"zero-point round trip of 0.0 ({kind}, bits={bits})",
                     hint="0.0 maps to exactly the zero-point code, and back to exactly 0.0")


@pytest.mark.task("zero_point_params")
def test_zero_point_halves_the_step_on_one_sided_data(kata):
    # Post-ReLU activations: absmax leaves every negative code unused.
    values = [abs(v) for v in vector(random.Random(5), 40, scale=3.0)]
    for bits in (8, 4):
        scale, _ = kata.zero_point_params(values, bits)
        absmax = spec_absmax_scale(values, bits)
        if not scale < 0.51 * absmax:
            raise Mismatch(
                f"zero_point_params on non-negative data (bits={bits}): scale {scale:.5g} is not about half"
                f" the absmax scale {absmax:.5g}; the range [0, max] should span all 2^bits codes"
            )


@pytest.mark.task("zero_point_params")
@pytest.mark.parametrize(
    "values",
    [[0.0], [0.0] * 5, [2.5] * 4, [-0.7] * 3, [3.3], [-1e-3]],
    ids=["zero", "zeros", "const+", "const-", "single+", "single-"],
)
def test_zero_point_constant_zero_and_single_tensors(kata, values):
    for bits in (8, 4):
        check_zero_point_constant(kata, bits, values)


def check_zero_point_constant(kata, bits, values):
    scale, zero_point = kata.zero_point_params(values, bits)
    qmin, qmax = grid(bits)
    what = f"zero-point round trip of {values} (bits={bits})"
    if not is_positive_finite(scale):
        raise Mismatch(f"{what}: scale {scale!r} must be positive and finite (never 0/0)")
    if type(zero_point) is not int or not qmin <= zero_point <= qmax:
        raise Mismatch(f"{what}: zero_point {zero_point!r} must be a Python int in [{qmin}, {qmax}]")
    codes = spec_quantize(values, scale, bits, zero_point)  # the grader's: zero_point_params is graded on its own
    assert_close(
        spec_dequantize(codes, scale, zero_point),
        values,
        1e-12 * max(abs(values[0]), 1.0),
        what,
        hint="a constant c has range [min(c, 0), max(c, 0)]: c lands exactly on an end of the grid;"
        " dequantize as scale * (q - zero_point)",
    )


@pytest.mark.task("zero_point_params")
def test_zero_point_params_rejects_bad_input(kata):
    with pytest.raises(ValueError, match="values"):
        kata.zero_point_params([], 8)
    with pytest.raises(ValueError, match="bits"):
        kata.zero_point_params([1.0, -1.0], 0)


# === task 6: per-tensor vs per-channel ===


def uneven_matrix(seed, rows, cols):
    """Rows whose magnitudes differ by up to 1000x, like channels of a real layer."""
    rng = random.Random(seed)
    magnitudes = [10 ** rng.uniform(-2, 1) for _ in range(rows)]
    return [[m * rng.gauss(0, 1) for _ in range(cols)] for m in magnitudes]


def spec_dequantize_matrix(codes, scales):
    return [[s * q for q in row] for row, s in zip(codes, scales if len(scales) == len(codes) else scales * len(codes))]


@pytest.mark.task("quantize_matrix")
@pytest.mark.parametrize("bits", [8, 4])
def test_per_tensor_has_one_scale(kata, bits):
    for shape in ((1, 1), (1, 9), (7, 13), (13, 7)):
        check_per_tensor(kata, bits, shape)


def check_per_tensor(kata, bits, shape):
    W = uneven_matrix(sum(shape) + bits, *shape)
    codes, scales = kata.quantize_matrix(W, bits, per_channel=False)
    what = f"quantize_matrix({shape[0]}x{shape[1]}, bits={bits}, per_channel=False)"
    assert_equal(len(scales), 1, f"{what}: number of scales", hint="per-tensor: one scale for the whole matrix")
    expected = spec_absmax_scale([v for row in W for v in row], bits)
    assert_close(scales[0], expected, expected * SLACK, f"{what}: scale", hint="max |w| over the whole matrix / qmax")
    assert_equal(len(codes), shape[0], f"{what}: rows of codes")
    for r, row in enumerate(W):
        check_codes(codes[r], [v / scales[0] for v in row], bits, f"{what}: codes row {r}")


@pytest.mark.task("quantize_matrix")
@pytest.mark.parametrize("bits", [8, 4])
def test_per_channel_has_one_scale_per_row(kata, bits):
    for shape in ((7, 13), (13, 7), (1, 9), (5, 1)):
        check_per_channel(kata, bits, shape)


def check_per_channel(kata, bits, shape):
    W = uneven_matrix(3 * sum(shape) + bits, *shape)
    codes, scales = kata.quantize_matrix(W, bits, per_channel=True)
    what = f"quantize_matrix({shape[0]}x{shape[1]}, bits={bits}, per_channel=True)"
    assert_equal(
        len(scales), shape[0], f"{what}: number of scales",
        hint="one scale per output channel, i.e. per ROW of W (not per column)",
    )
    expected = [spec_absmax_scale(row, bits) for row in W]
    assert_close(scales, expected, max(expected) * SLACK, f"{what}: scales", hint="scales[r] = max |W[r][c]| over c / qmax")
    for r, row in enumerate(W):
        check_codes(codes[r], [v / scales[r] for v in row], bits, f"{what}: codes row {r}")


@pytest.mark.task("quantize_matrix")
@pytest.mark.parametrize("bits", [8, 4, 3])
def test_per_channel_error_never_exceeds_per_tensor(kata, bits):
    W = uneven_matrix(40 + bits, 9, 17)
    tensor = spec_dequantize_matrix(*kata.quantize_matrix(W, bits, per_channel=False))
    codes, scales = kata.quantize_matrix(W, bits, per_channel=True)
    channel = spec_dequantize_matrix(codes, scales)
    what = f"per-channel vs per-tensor ({bits} bits, rows of magnitude 0.01..10)"
    tensor_bound = spec_absmax_scale([v for row in W for v in row], bits) / 2
    for r, row in enumerate(W):
        check_round_trip(row, channel[r], scales[r], f"{what}: per-channel row {r}")
        check_round_trip(row, channel[r], 2 * tensor_bound, f"{what}: per-channel row {r} vs the per-tensor bound")
        check_round_trip(row, tensor[r], 2 * tensor_bound, f"{what}: per-tensor row {r}")
    def sq(A, rows):
        return math.fsum((A[r][c] - W[r][c]) ** 2 for r in rows for c in range(len(W[0])))

    every = range(len(W))
    if not sq(channel, every) < sq(tensor, every):
        raise Mismatch(f"{what}: squared error per-channel {sq(channel, every):.4g} >= per-tensor {sq(tensor, every):.4g}")
    # Rows far below the largest one get a grid >= 4x finer: their error must drop.
    top = max(max(abs(v) for v in row) for row in W)
    small = [r for r, row in enumerate(W) if max(abs(v) for v in row) < top / 4]
    assert small, "the test matrix needs rows of uneven magnitude"
    if not sq(channel, small) < sq(tensor, small) / 4:
        raise Mismatch(
            f"{what}: on the {len(small)} rows below a quarter of the largest, squared error per-channel"
            f" {sq(channel, small):.4g} is not well below per-tensor {sq(tensor, small):.4g}"
            "\n  hint: each row's scale must come from that row's own max |w|"
        )


@pytest.mark.task("quantize_matrix")
@pytest.mark.parametrize("per_channel", [False, True], ids=["tensor", "channel"])
def test_quantize_matrix_with_a_zero_row(kata, per_channel):
    W = [[0.5, -1.5, 0.25], [0.0, 0.0, 0.0], [2.0, 0.1, -0.3]]
    codes, scales = kata.quantize_matrix(W, 4, per_channel)
    if not all(is_positive_finite(s) for s in scales):
        raise Mismatch(f"quantize_matrix with an all-zero row: scales {scales} must all be positive and finite")
    assert_equal(codes[1], [0, 0, 0], f"codes of the all-zero row (per_channel={per_channel})")
    assert_close(spec_dequantize_matrix(codes, scales)[1], [0.0] * 3, 0.0, "the all-zero row after the round trip")


@pytest.mark.task("quantize_matrix")
def test_quantize_matrix_rejects_bad_matrices(kata):
    for W in ([], [[]], [[1.0, 2.0], [3.0]]):
        with pytest.raises(ValueError, match="W"):
            kata.quantize_matrix(W, 8, per_channel=True)


# --- the trained model: loss within the seed's budget ---


@functools.lru_cache(maxsize=None)
def checkpoint():
    return json.loads(CHECKPOINT.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def held_out():
    """(context, next) pairs of every 10th name of data/names.txt, the slice the model never saw."""
    ck = checkpoint()
    vocab, context_size = ck["vocab"], ck["config"]["context"]
    names = [n.strip() for n in NAMES.read_text(encoding="utf-8").splitlines() if n.strip()]
    pairs = []
    for name in names[::10]:
        window = [0] * context_size
        for ch in name + ".":
            pairs.append((tuple(window), vocab.index(ch)))
            window = window[1:] + [vocab.index(ch)]
    return pairs


def spec_loss(params, pairs):
    """Mean cross-entropy in nats: x = concat C rows, h = tanh(W1 x + b1), logits = W2 h + b2."""
    C, W1, W2 = params["C"], params["W1"], params["W2"]
    b1, b2 = params["b1"][0], params["b2"][0]
    total = 0.0
    for window, target in pairs:
        x = [v for token in window for v in C[token]]
        h = [math.tanh(sum(map(mul, row, x)) + b) for row, b in zip(W1, b1)]
        logits = [sum(map(mul, row, h)) + b for row, b in zip(W2, b2)]
        top = max(logits)
        total += top + math.log(math.fsum(math.exp(z - top) for z in logits)) - logits[target]
    return total / len(pairs)


@functools.lru_cache(maxsize=None)
def float_loss():
    loss = spec_loss(checkpoint()["params"], held_out())
    # A trained model, not a random one: uniform guessing costs ln 27 = 3.30.
    assert loss < 2.4, f"the shipped checkpoint's held-out loss is {loss:.3f}: regenerate it"
    return loss


_QUANTIZED_LOSS = {}


def quantized_loss(kata, bits, per_channel):
    """Held-out loss after every tensor goes through the kata's quantize_matrix and back."""
    key = (kata.__name__, bits, per_channel)
    if key not in _QUANTIZED_LOSS:
        params = {}
        for name, W in checkpoint()["params"].items():
            codes, scales = kata.quantize_matrix(W, bits, per_channel)
            params[name] = spec_dequantize_matrix(codes, scales)
        _QUANTIZED_LOSS[key] = spec_loss(params, held_out())
    return _QUANTIZED_LOSS[key]


@pytest.mark.task("quantize_matrix")
@pytest.mark.parametrize("per_channel", [False, True], ids=["tensor", "channel"])
@pytest.mark.parametrize("bits,budget", [(8, 0.10), (4, 0.25)], ids=["int8", "int4"])
def test_quantized_model_loss_within_budget(kata, bits, budget, per_channel):
    base, loss = float_loss(), quantized_loss(kata, bits, per_channel)
    if not loss <= base * (1 + budget):
        raise Mismatch(
            f"INT{bits} per-{'channel' if per_channel else 'tensor'} model: held-out loss {loss:.4f} is more than"
            f" {budget:.0%} above float32's {base:.4f}"
            "\n  hint: check each tensor's round trip first; every weight should move by at most scale / 2"
        )


@pytest.mark.task("quantize_matrix")
def test_per_channel_int4_model_beats_per_tensor(kata):
    channel, tensor = quantized_loss(kata, 4, True), quantized_loss(kata, 4, False)
    if not channel < tensor:
        raise Mismatch(f"INT4 held-out loss: per-channel {channel:.4f} should beat per-tensor {tensor:.4f}")


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.task("quantize_matrix")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    """Re-run the documented command and compare (tolerance 1e-6 for libm differences across platforms)."""
    out = tmp_path / "model.json"
    done = subprocess.run(
        [sys.executable, kata.__file__, "--train-checkpoint", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), checkpoint()
    assert_equal({k: v for k, v in fresh.items() if k != "params"},
                 {k: v for k, v in shipped.items() if k != "params"}, "checkpoint metadata")
    assert_equal(sorted(fresh["params"]), sorted(shipped["params"]), "checkpoint tensors")
    for name, W in shipped["params"].items():
        assert_close(fresh["params"][name], W, 1e-6, f"regenerated tensor {name}")
    base = spec_loss(fresh["params"], held_out())
    for bits, budget in ((8, 0.10), (4, 0.25)):
        params = {k: spec_dequantize_matrix(*kata.quantize_matrix(W, bits, True)) for k, W in fresh["params"].items()}
        assert spec_loss(params, held_out()) <= base * (1 + budget), f"INT{bits} regenerated model over budget"


# === task 7: size accounting ===


def spec_bytes(rows, cols, bits, per_channel, zero_point=False):
    """Packed codes, rounded up to whole bytes, plus 4 bytes per scale and per zero-point."""
    bits_total = rows * cols * bits
    code_bytes = bits_total // 8 + (1 if bits_total % 8 else 0)
    groups = rows if per_channel else 1
    return code_bytes + groups * 4 * (2 if zero_point else 1)


@pytest.mark.task("quantized_bytes")
@pytest.mark.parametrize("zero_point", [False, True], ids=["absmax", "zeropoint"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["tensor", "channel"])
def test_quantized_bytes_closed_form(kata, per_channel, zero_point):
    shapes = [(1, 1, 8), (1, 1, 4), (7, 5, 4), (3, 3, 3), (27, 8, 4), (32, 24, 8), (1, 27, 4), (4096, 4096, 4)]
    for rows, cols, bits in shapes:
        assert_equal(
            kata.quantized_bytes(rows, cols, bits, per_channel, zero_point),
            spec_bytes(rows, cols, bits, per_channel, zero_point),
            f"quantized_bytes({rows}, {cols}, bits={bits}, per_channel={per_channel}, zero_point={zero_point})",
            hint="ceil(rows*cols*bits/8) for the packed codes + 4 bytes per scale (one per row or one in"
            " all) + 4 per zero-point",
        )


@pytest.mark.task("quantized_bytes")
@pytest.mark.parametrize("per_channel", [False, True], ids=["tensor", "channel"])
def test_bytes_count_what_quantize_matrix_stores(kata, per_channel):
    for bits in (8, 4, 3):
        # What quantize_matrix returns for a 5 x 7 matrix: 35 codes and one scale per row (or one in all).
        stored, n_scales = 5 * 7, 5 if per_channel else 1
        honest = -(-stored * bits // 8) + 4 * n_scales
        assert_equal(
            kata.quantized_bytes(5, 7, bits, per_channel),
            honest,
            f"quantized_bytes(5, 7, bits={bits}, per_channel={per_channel}) vs the codes and scales"
            " quantize_matrix returns",
            hint="ceil(rows*cols*bits/8) bytes of packed codes (a half-filled last byte counts) plus 4 bytes for"
            " every scale quantize_matrix returns",
        )


@pytest.mark.task("quantized_bytes")
@pytest.mark.parametrize("bits,limit", [(8, 4), (4, 8)])
def test_model_is_4x_and_8x_smaller_scales_included(kata, bits, limit):
    params = checkpoint()["params"]
    fp32 = sum(4 * len(W) * len(W[0]) for W in params.values())
    tensor = sum(kata.quantized_bytes(len(W), len(W[0]), bits, False) for W in params.values())
    assert_equal(tensor, sum(spec_bytes(len(W), len(W[0]), bits, False) for W in params.values()),
                 f"INT{bits} per-tensor bytes of the shipped model")
    ratio = fp32 / tensor
    if not limit * 0.97 < ratio < limit:
        raise Mismatch(f"INT{bits} per-tensor model is {ratio:.3f}x smaller; expected just under {limit}x (scales cost a little)")
    wide = 4 * 4096 * 4096 / kata.quantized_bytes(4096, 4096, bits, True)
    if not limit * 0.995 < wide < limit:
        raise Mismatch(f"INT{bits} per-channel 4096x4096 layer is {wide:.4f}x smaller; expected just under {limit}x")


@pytest.mark.task("quantized_bytes")
def test_quantized_bytes_rejects_bad_shapes(kata):
    for rows, cols, name in ((0, 4, "rows"), (-2, 4, "rows"), (3, 0, "cols"), (3, -1, "cols"), (2.5, 4, "rows")):
        with pytest.raises(ValueError, match=name):
            kata.quantized_bytes(rows, cols, 8, True)
    with pytest.raises(ValueError, match="bits"):
        kata.quantized_bytes(3, 4, 1, True)


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===

BAD_BITS = (1, 0, -1, 2.5, 8.0, math.nan, True)


@pytest.mark.task("int_range")
def test_int_range_refuses_every_bad_bits(kata):
    for bits in BAD_BITS:
        with pytest.raises(ValueError, match="bits"):
            kata.int_range(bits)
    assert_equal(tuple(kata.int_range(2)), (-2, 1), "int_range(2)", hint="bits = 2 is the smallest valid width")


@pytest.mark.task("absmax_scale")
def test_absmax_scale_refuses_every_bad_bits(kata):
    for bits in BAD_BITS:
        with pytest.raises(ValueError, match="bits"):
            kata.absmax_scale([0.0], bits)  # all zeros: the shortcut answer 1.0 must not skip the check


@pytest.mark.task("zero_point_params")
def test_zero_point_params_refuses_every_bad_bits(kata):
    for bits in BAD_BITS:
        with pytest.raises(ValueError, match="bits"):
            kata.zero_point_params([0.0], bits)


@pytest.mark.task("quantize")
def test_quantize_checks_everything_even_for_no_values(kata):
    for bits in BAD_BITS:
        with pytest.raises(ValueError, match="bits"):
            kata.quantize([], 0.5, bits)
    for scale in (0.0, -1.0, math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="scale"):
            kata.quantize([], scale, 8)
    for zero_point in (-129, 128, 2.5, math.nan, True, 0.0):
        with pytest.raises(ValueError, match="zero_point"):
            kata.quantize([], 0.5, 8, zero_point)


@pytest.mark.task("dequantize")
def test_dequantize_refuses_every_bad_scale_even_for_no_codes(kata):
    for scale in (0.0, -1.0, math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="scale"):
            kata.dequantize([], scale)
        with pytest.raises(ValueError, match="scale"):
            kata.dequantize([3, -2], scale, 1)


@pytest.mark.task("quantize_matrix")
def test_quantize_matrix_refuses_every_bad_argument(kata):
    for W in ([[1.0], [2.0, 3.0]], [[1.0, 2.0], []]):
        for per_channel in (True, False):
            with pytest.raises(ValueError, match=r"\bW\b"):
                kata.quantize_matrix(W, 8, per_channel=per_channel)
    for bits in BAD_BITS:
        for per_channel in (True, False):
            with pytest.raises(ValueError, match="bits"):
                kata.quantize_matrix([[0.0]], bits, per_channel=per_channel)


@pytest.mark.task("quantized_bytes")
def test_quantized_bytes_refuses_every_bad_argument(kata):
    for bad in (0, -1, 2.5, math.nan, True, 3.0):
        with pytest.raises(ValueError, match="rows"):
            kata.quantized_bytes(bad, 1, 8, False)
        with pytest.raises(ValueError, match="cols"):
            kata.quantized_bytes(1, bad, 8, True)
    for bits in BAD_BITS:
        with pytest.raises(ValueError, match="bits"):
            kata.quantized_bytes(1, 1, bits, False)
