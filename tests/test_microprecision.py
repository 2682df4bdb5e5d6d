"""Graded tests for microprecision: fp16/bf16 rounding on bit patterns, loss scaling, master weights.

Expected values come from independent oracles written here:
* fp16 and fp32: Python's own struct codecs, struct.pack('<e') and
  struct.pack('<f') (which raise OverflowError where the rounded value is
  too large: that case is +-inf);
* bf16 (and fp16/fp32 again): exact rational arithmetic with
  fractions.Fraction, rounding to the nearest multiple of the ulp with ties to
  the even multiple, and inf beyond the largest finite value;
* the loss-scaler's state machine and the SGD update written out again.
Inputs include exact ties, subnormals, the largest finite value, overflow,
inf, nan and -0.0.
"""

import math
import random
import struct
from fractions import Fraction

import pytest

from workbook.checks import Mismatch, assert_equal

FORMATS = {"fp16": (5, 10), "bf16": (8, 7), "fp32": (8, 23)}


# === the independent spec ===


def struct_round(x, code):
    """Round x through struct's '<e' or '<f' codec; overflow is +-inf."""
    try:
        return struct.unpack("<" + code, struct.pack("<" + code, x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def struct_bits(x, code):
    """The bit pattern struct writes for the already-rounded value x."""
    if code == "e":
        return struct.unpack("<H", struct.pack("<e", x))[0]
    return struct.unpack("<I", struct.pack("<f", x))[0]


def fraction_round(x, fmt):
    """Nearest fmt value to x by exact rational arithmetic (ties to the even multiple of the ulp)."""
    E, M = FORMATS[fmt]
    if math.isnan(x) or math.isinf(x) or x == 0:
        return x
    bias = 2 ** (E - 1) - 1
    emin, emax = 1 - bias, bias
    v = abs(Fraction(x))
    k = 0
    while Fraction(2) ** k > v:
        k -= 1
    while Fraction(2) ** (k + 1) <= v:
        k += 1
    ulp = Fraction(2) ** (max(k, emin) - M)
    lower = math.floor(v / ulp)
    rest = v / ulp - lower
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and lower % 2 == 1):
        lower += 1
    result = lower * ulp
    largest = (2 - Fraction(2) ** -M) * Fraction(2) ** emax
    value = math.inf if result > largest else float(result)
    return math.copysign(value, x)


def spec_bf16_bits(value):
    """bf16 pattern of an exactly-bf16 value: the top 16 bits of its (exact) float32 pattern."""
    if math.isnan(value):
        raise AssertionError("no single nan pattern")
    return struct_bits(value, "f") >> 16


def same_float(a, b):
    """Equal as IEEE values, with -0.0 != 0.0 and nan == nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def fp16_values():
    """Random values over every fp16 binade plus ties, subnormals, the top of the range, specials."""
    rng = random.Random(16)
    values = [rng.choice((-1, 1)) * 2.0 ** rng.uniform(-27, 16.5) for _ in range(150)]
    values += [rng.uniform(-70000, 70000) for _ in range(30)]
    ties = [1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 2048 + 1, 2048 + 3, 3 * 2 ** -12 + 2 ** -22]
    subnormal = [2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 5 * 2.0 ** -25, 2.0 ** -26, 1.4e-8, 1e-7, -3e-6,
                 2.0 ** -14 - 2.0 ** -24, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -14, 6.1e-5, 2.0 ** -14 - 2.0 ** -26]
    top = [65504.0, 65519.99, 65520.0, -65520.0, 65536.0, 1e6, -65504.0, 65505.0, 65488.0, 65512.0]
    specials = [0.0, -0.0, math.inf, -math.inf, 1e-300, -1e-300, 5e-324, 1.7e308, 1.0, -2.0]
    return values + ties + subnormal + top + specials


def bf16_values():
    rng = random.Random(61)
    values = [rng.choice((-1, 1)) * 2.0 ** rng.uniform(-140, 128) for _ in range(150)]
    # ties and near-ties; 1 + 2^-8 + 2^-40 must round UP (double rounding via float32 gets it wrong)
    ties = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -40, 1 + 2 ** -8 - 2 ** -40, -(1 + 2 ** -8),
            255 + 0.5, 257.0, 259.0, 0.1, 1 / 3, -2 / 3]
    small = [2.0 ** -133, 2.0 ** -134, 3 * 2.0 ** -134, 2.0 ** -126, 2.0 ** -126 - 2.0 ** -133, 1e-40, 1e-45]
    top = [3.3895313892515355e38, 3.3961775292304e38, 3.3961775292304e38 * (1 - 2 ** -30), 3.4e38, 1e39, -1e39]
    specials = [0.0, -0.0, math.inf, -math.inf, 65504.0, 65520.0]
    return values + ties + small + top + specials


# === task 1: encode ===


@pytest.mark.task("encode")
def test_fp16_encode_equals_struct(kata):
    for x in fp16_values():
        expected = struct_round(x, "e")
        assert_equal(
            kata.encode(x, "fp16"),
            struct_bits(expected, "e"),
            f"encode({x!r}, 'fp16')",
            hint="round n * 2^q to the fp16 grid (ulp 2^(max(k, -14) - 10)), ties to even; |x| >= 65520 is inf",
        )


@pytest.mark.task("encode")
def test_fp16_rounding_ties_go_to_even(kata):
    cases = {1 + 2 ** -11: 0x3C00, 1 + 3 * 2 ** -11: 0x3C02, 2049.0: 0x6800, 2051.0: 0x6802,
             2.0 ** -25: 0x0000, 3 * 2.0 ** -25: 0x0002, -(1 + 2 ** -11): 0xBC00}
    for x, bits in cases.items():
        assert_equal(kata.encode(x, "fp16"), bits, f"encode({x!r}, 'fp16') (an exact tie)",
                     hint="an exact halfway value goes to the neighbour with an even mantissa, not always up")


@pytest.mark.task("encode")
def test_just_above_a_tie_rounds_up(kata):
    # One float64 ulp above the halfway point: the dropped bits exceed half a step, so round up even to odd.
    cases = [(1 + 2 ** -11 + 2 ** -52, "fp16", 0x3C01), (1 + 2 ** -8 + 2 ** -52, "bf16", 0x3F81),
             (1 + 2 ** -24 + 2 ** -52, "fp32", 0x3F800001), (-(2049.0 + 2 ** -41), "fp16", 0xE801)]
    for x, fmt, bits in cases:
        assert_equal(kata.encode(x, fmt), bits, f"encode({x!r}, {fmt!r}) (just above a tie)",
                     hint="compare ALL the dropped bits with half a step: any bit below the halfway bit makes it more than half")


@pytest.mark.task("encode")
def test_fp16_range_ends(kata):
    for x, bits, why in (
        (65504.0, 0x7BFF, "the largest finite fp16"),
        (65519.99, 0x7BFF, "below max + half an ulp: rounds down to 65504"),
        (65520.0, 0x7C00, "max + half an ulp is a tie whose even neighbour is past max: inf"),
        (-1e9, 0xFC00, "overflow keeps its sign"),
        (2.0 ** -24, 0x0001, "the smallest subnormal"),
        (2.0 ** -14 - 2.0 ** -24, 0x03FF, "the largest subnormal"),
        (2.0 ** -14 - 2.0 ** -25, 0x0400, "a tie between the largest subnormal and the smallest normal"),
        (2.0 ** -26, 0x0000, "below half the smallest subnormal: +0"),
        (-1e-30, 0x8000, "underflow keeps the sign: -0"),
        (-0.0, 0x8000, "-0.0 keeps its sign bit"),
        (math.inf, 0x7C00, "inf"),
        (-math.inf, 0xFC00, "-inf"),
    ):
        assert_equal(kata.encode(x, "fp16"), bits, f"encode({x!r}, 'fp16'): {why}")


@pytest.mark.task("encode")
@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp32"])
def test_nan_is_a_nan_pattern(kata, fmt):
    E, M = FORMATS[fmt]
    for x in (math.nan, -math.nan):
        bits = kata.encode(x, fmt)
        exponent, mantissa = (bits >> M) & ((1 << E) - 1), bits & ((1 << M) - 1)
        if exponent != (1 << E) - 1 or mantissa == 0:
            raise Mismatch(f"encode(nan, {fmt!r}) = {bits:#x}: the exponent field must be all ones and the"
                           " mantissa non-zero (a zero mantissa is inf)")
    for x in (math.nan, -math.nan):
        assert_equal(kata.encode(x, "fp16"), struct_bits(x, "e"), f"encode({x!r} with sign bit {int(math.copysign(1, x) < 0)}, 'fp16')",
                     hint="the quiet nan sets the top mantissa bit only, and keeps the sign bit")


@pytest.mark.task("encode")
def test_bf16_encode_equals_exact_rounding(kata):
    for x in bf16_values():
        expected = fraction_round(x, "bf16")
        assert_equal(
            kata.encode(x, "bf16"),
            spec_bf16_bits(expected),
            f"encode({x!r}, 'bf16') (nearest bf16: {expected!r})",
            hint="bf16 has 8 exponent and 7 mantissa bits; round the exact value once (going through float32"
            " first rounds twice)",
        )


@pytest.mark.task("encode")
def test_fp16_encode_equals_exact_rounding(kata):
    for x in fp16_values()[::3]:
        expected = fraction_round(x, "fp16")
        assert_equal(kata.encode(x, "fp16"), struct_bits(expected, "e"), f"encode({x!r}, 'fp16') vs exact rounding")


@pytest.mark.task("encode")
def test_fp32_encode_equals_struct(kata):
    rng = random.Random(32)
    values = [rng.choice((-1, 1)) * 2.0 ** rng.uniform(-152, 129) for _ in range(120)]
    values += [1 + 2 ** -24, 1 + 3 * 2 ** -24, 2.0 ** -149, 2.0 ** -150, 3 * 2.0 ** -150, 3.4028235677973366e38,
               3.4028235677973366e38 * (1 + 2 ** -25), 0.1, -0.0]
    for x in values:
        expected = struct_round(x, "f")
        assert_equal(kata.encode(x, "fp32"), struct_bits(expected, "f"), f"encode({x!r}, 'fp32')")
        assert_equal(fraction_round(x, "fp32"), expected, f"the test's own oracles agree on {x!r}")


@pytest.mark.task("encode")
def test_encode_rounds_an_int_exactly(kata):
    # float(x) first would round twice: 2^60 + 2^36 + 1 becomes 2^60 + 2^36 in
    # float64, an exact fp32 tie that goes to even (2^60); the int itself is
    # above the tie and rounds up. Past 1.8e308 float(x) raises; fp16 says inf.
    cases = [(2 ** 60 + 2 ** 36 + 1, "fp32"), (-(2 ** 60 + 2 ** 36 + 1), "fp32"), (2 ** 53 + 1, "fp32"),
             (2 ** 40 + 2 ** 32 + 1, "bf16"), (65519, "fp16"), (65520, "fp16"), (2049, "fp16"), (2051, "fp16"),
             (7, "fp16"), (0, "fp16"), (-3, "bf16"), (1, "fp16"), (-1, "bf16"), (-1, "fp32"), (1024, "fp16"), (2047, "fp16"), (-1500, "fp16"), (200, "bf16"),
             (2 ** 23 + 5, "fp32")]  # the last five sit exactly on the grid of their binade: no rounding at all
    for x, fmt in cases:
        want = fraction_round(x, fmt)
        bits = struct_bits(want, "e") if fmt == "fp16" else struct_bits(want, "f") >> (16 if fmt == "bf16" else 0)
        assert_equal(kata.encode(x, fmt), bits, f"encode({x}, {fmt!r}) (nearest: {want!r})",
                     hint="round the int's exact value once; float(x) rounds it to 53 bits first")
    for x, fmt, want in ((2 ** 1100, "fp16", 0x7C00), (-(2 ** 1100), "bf16", 0xFF80), (2 ** 1024, "fp32", 0x7F800000)):
        assert_equal(kata.encode(x, fmt), want, f"encode({'-' if x < 0 else ''}2**{abs(x).bit_length() - 1}, {fmt!r})",
                     hint="an int past the float range still rounds (to inf): do not convert it with float()")


@pytest.mark.task("encode")
def test_encode_rejects_bad_arguments(kata):
    for fmt in ("fp8", "FP16", None):
        with pytest.raises(ValueError, match="fmt"):
            kata.encode(1.0, fmt)
    for x in ("1.0", None, [1.0], True, False, 1j):
        with pytest.raises(ValueError, match="x"):
            kata.encode(x, "fp16")


# === task 2: decode ===


def fp16_patterns():
    """Every exponent field with a spread of mantissas and both signs: ~450 patterns."""
    patterns = []
    for sign in (0, 1):
        for exponent in range(32):
            for mantissa in (0, 1, 2, 3, 0x155, 0x200, 0x2AA, 0x3FE, 0x3FF):
                patterns.append(sign << 15 | exponent << 10 | mantissa)
    return patterns


@pytest.mark.task("decode")
def test_fp16_decode_equals_struct(kata):
    for bits in fp16_patterns():
        expected = struct.unpack("<e", struct.pack("<H", bits))[0]
        got = kata.decode(bits, "fp16")
        if not same_float(got, expected):
            raise Mismatch(
                f"decode({bits:#06x}, 'fp16') = {got!r}, expected {expected!r}"
                "\n  hint: exponent 0 is subnormal (m * 2^-24, no implicit 1); all ones is inf or nan"
            )


@pytest.mark.task("decode")
def test_bf16_and_fp32_decode(kata):
    rng = random.Random(3216)
    for _ in range(150):
        bits = rng.randrange(1 << 16)
        expected = struct.unpack("<f", struct.pack("<I", bits << 16))[0]
        got = kata.decode(bits, "bf16")
        if not same_float(got, expected):
            raise Mismatch(f"decode({bits:#06x}, 'bf16') = {got!r}, expected {expected!r} (bf16 is the top half of fp32)")
    for bits in [rng.randrange(1 << 32) for _ in range(150)] + [0x00000001, 0x007FFFFF, 0x7F7FFFFF, 0x80000000]:
        expected = struct.unpack("<f", struct.pack("<I", bits))[0]
        got = kata.decode(bits, "fp32")
        if not same_float(got, expected):
            raise Mismatch(f"decode({bits:#010x}, 'fp32') = {got!r}, expected {expected!r}")


@pytest.mark.task("decode")
def test_decode_round_trips_encode(kata):
    for fmt, values in (("fp16", fp16_values()), ("bf16", bf16_values())):
        for x in values[::2]:
            got = kata.decode(kata.encode(x, fmt), fmt)
            if not same_float(got, fraction_round(x, fmt)):
                raise Mismatch(f"decode(encode({x!r}, {fmt!r})) = {got!r}, expected {fraction_round(x, fmt)!r}")


@pytest.mark.task("decode")
def test_decode_rejects_bad_arguments(kata):
    for bits in (-1, 1 << 16, 1.5, "0x3c00", True, math.nan, None):
        with pytest.raises(ValueError, match="bits"):
            kata.decode(bits, "fp16")
    assert_equal((kata.decode(0, "fp16"), math.isnan(kata.decode((1 << 16) - 1, "fp16"))), (0.0, True),
                 "decode(0) and decode(0xFFFF) in fp16: both ends of [0, 2^16) are patterns")
    with pytest.raises(ValueError, match="bits"):
        kata.decode(1 << 32, "fp32")
    with pytest.raises(ValueError, match="fmt"):
        kata.decode(0, "fp64")


# === task 3: cast_gradients ===

TINY_GRADS = [3e-5, 4e-7, 1e-8, -2.5e-8, 5e-9, -7.7e-9, 2.2e-6, 9e-10]


@pytest.mark.task("cast_gradients")
def test_cast_gradients_is_fp16_of_the_scaled_gradient(kata):
    rng = random.Random(5)
    grads = [rng.choice((-1, 1)) * 10 ** rng.uniform(-10, 1) for _ in range(37)]
    for scale in (1.0, 2.0 ** 10, 2.0 ** 16, 2.0 ** 24, 3.0):
        expected = [struct_round(scale * g, "e") for g in grads]
        assert_equal(kata.cast_gradients(grads, scale), expected, f"cast_gradients(37 grads, scale={scale:g})",
                     hint="multiply by the scale first, then round the product to fp16 once")


@pytest.mark.task("cast_gradients")
def test_tiny_gradients_underflow_without_scaling_and_survive_with_it(kata):
    plain = kata.cast_gradients(TINY_GRADS, 1.0)
    lost = [g for g, h in zip(TINY_GRADS, plain) if h == 0.0]
    if len(lost) < 4:
        raise Mismatch(f"cast_gradients({TINY_GRADS}, 1.0) = {plain}: gradients below 2^-25 must round to 0 in fp16")
    scaled = kata.cast_gradients(TINY_GRADS, 2.0 ** 16)
    for g, h in zip(TINY_GRADS, scaled):
        back = h / 2.0 ** 16
        if h == 0.0 or abs(back - g) > abs(g) * 2 ** -11:
            raise Mismatch(f"with scale 2^16 the gradient {g!r} became {h!r} (= {back!r} after unscaling); expected"
                           " it within fp16's relative precision 2^-11")


@pytest.mark.task("cast_gradients")
def test_cast_gradients_overflows_to_inf(kata):
    got = kata.cast_gradients([0.25, -0.5, 2.0 ** -10], 2.0 ** 20)
    assert_equal(got[:2], [math.inf, -math.inf], "cast_gradients([0.25, -0.5, 2^-10], 2^20)[:2]",
                 hint="2^20 * 0.25 = 262144 is past fp16's 65504: the fp16 value is inf")
    assert_equal(got[2], 1024.0, "cast_gradients([.., 2^-10], 2^20)[2]")


@pytest.mark.task("cast_gradients")
def test_cast_gradients_rejects_bad_scale(kata):
    for scale in (0.0, -2.0, math.inf, math.nan, "2.0"):  # a string is not a number: ValueError, not TypeError
        with pytest.raises(ValueError, match="scale"):
            kata.cast_gradients([1.0], scale)
    with pytest.raises(ValueError, match="fmt"):
        kata.cast_gradients([1.0], 1.0, "fp12")
    with pytest.raises(ValueError, match="fmt"):  # no gradient to round: the format must still be checked
        kata.cast_gradients([], 1.0, "fp12")


# === task 4: unscale_gradients ===


@pytest.mark.task("unscale_gradients")
def test_unscale_divides_in_fp32(kata):
    rng = random.Random(6)
    grads16 = [struct_round(rng.uniform(-3e4, 3e4), "e") for _ in range(29)] + [2.0 ** -24, -0.0]
    for scale in (2.0 ** 16, 1000.0, 1.0):
        got, found = kata.unscale_gradients(grads16, scale)
        assert_equal(list(got), [struct_round(g / scale, "f") for g in grads16], f"unscale_gradients(31 grads, {scale:g})",
                     hint="divide by the scale and round the quotient to fp32")
        assert_equal(found, False, f"unscale_gradients(finite grads, {scale:g}) found_inf")


@pytest.mark.task("unscale_gradients")
def test_unscale_agrees_with_gradscaler_only_for_powers_of_two(kata):
    # torch.amp.GradScaler multiplies by inv_scale = fp32(1/S); this kata divides.
    # The stated limit: equal for S = 2^k, up to one fp32 ulp apart otherwise.
    grads16 = [-898.0, 17600.0, -29968.0, 15584.0, 0.0009765625, -7.5]
    for k in (-3, 0, 7, 16, 24):
        S = 2.0 ** k
        got, _ = kata.unscale_gradients(grads16, S)
        inv = struct_round(1.0 / S, "f")
        assert_equal(list(got), [struct_round(g * inv, "f") for g in grads16], f"unscale_gradients(grads, 2^{k}) vs GradScaler's g * fp32(1/S)",
                     hint="for a power-of-two scale the quotient is exact: divide and round to fp32")
    got, _ = kata.unscale_gradients(grads16, 3.0)
    inv = struct_round(1.0 / 3.0, "f")
    differ = [i for i, g in enumerate(grads16) if struct_round(g / 3.0, "f") != struct_round(g * inv, "f")]
    assert differ, "fixture: some gradient must tell division from GradScaler's reciprocal multiply at S = 3"
    assert_equal(list(got), [struct_round(g / 3.0, "f") for g in grads16], "unscale_gradients(grads, 3.0)",
                 hint="this kata divides by S (then rounds to fp32); multiplying by fp32(1/S), as GradScaler does, "
                      f"is one ulp off for gradients {[grads16[i] for i in differ]}")


@pytest.mark.task("unscale_gradients")
def test_unscale_detects_inf_and_nan(kata):
    for bad in (math.inf, -math.inf, math.nan):
        grads = [0.5, 1.25, bad, -3.0]
        _, found = kata.unscale_gradients(grads, 4.0)
        assert_equal(found, True, f"unscale_gradients([0.5, 1.25, {bad}, -3.0], 4.0) found_inf",
                     hint="any inf or nan (either sign) in the fp16 gradients means overflow")


@pytest.mark.task("unscale_gradients")
def test_unscale_rejects_bad_scale(kata):
    for scale in (0.0, -1.0, -1e-300, math.inf, math.nan, True, None, "2.0"):  # not a number: ValueError, not TypeError
        with pytest.raises(ValueError, match="scale"):
            kata.unscale_gradients([1.0], scale)
        with pytest.raises(ValueError, match="scale"):  # no gradient to divide: validate first
            kata.unscale_gradients([], scale)


# === task 5: update_scale ===


def spec_scaler(scale, good, found_inf, interval, growth=2.0, backoff=0.5):
    if found_inf:
        return scale * backoff, 0
    if good + 1 == interval:
        return scale * growth, 0
    return scale, good + 1


@pytest.mark.task("update_scale")
def test_overflow_halves_and_resets(kata):
    assert_equal(tuple(kata.update_scale(65536.0, 5, True, 10)), (32768.0, 0), "update_scale(2^16, 5, found_inf=True, 10)",
                 hint="on overflow: scale * backoff_factor and the clean-step counter restarts at 0")
    assert_equal(tuple(kata.update_scale(0.5, 0, True, 10)), (0.25, 0), "update_scale(0.5, 0, found_inf=True, 10)",
                 hint="a scale below 1 is still a positive finite scale: repeated overflows can drive it there")
    assert_equal(tuple(kata.update_scale(1.0, 3, False, 10)), (1.0, 4), "update_scale(1.0, 3, found_inf=False, 10)")


@pytest.mark.task("update_scale")
@pytest.mark.parametrize("interval", [1, 3, 7])
def test_scale_grows_after_exactly_n_clean_steps(kata, interval):
    rng = random.Random(interval)
    pattern = [rng.random() < 0.2 for _ in range(40)]
    scale, good = 2.0 ** 16, 0
    want_scale, want_good = scale, good
    for step, found_inf in enumerate(pattern):
        scale, good = kata.update_scale(scale, good, found_inf, interval)
        want_scale, want_good = spec_scaler(want_scale, want_good, found_inf, interval)
        assert_equal((scale, good), (want_scale, want_good), f"update_scale sequence, interval {interval}, step {step}",
                     hint="grow when the counter REACHES growth_interval (not one step later), then reset it")


@pytest.mark.task("update_scale")
def test_update_scale_custom_factors(kata):
    assert_equal(tuple(kata.update_scale(100.0, 2, False, 3, 4.0, 0.25)), (400.0, 0), "update_scale(100, 2, False, 3, growth 4)")
    assert_equal(tuple(kata.update_scale(100.0, 2, True, 3, 4.0, 0.25)), (25.0, 0), "update_scale(100, 2, True, 3, backoff 0.25)")
    assert_equal(tuple(kata.update_scale(100.0, 0, False, 3, 4.0, 0.25)), (100.0, 1), "update_scale(100, 0, False, 3)")


@pytest.mark.task("update_scale")
def test_update_scale_rejects_bad_arguments(kata):
    bad = [
        ("scale", dict(scale=0.0)), ("scale", dict(scale=math.inf)), ("good_steps", dict(good_steps=-1)),
        ("scale", dict(scale="8.0")), ("good_steps", dict(good_steps=1.5)),
        ("growth_interval", dict(growth_interval=0)), ("growth_interval", dict(growth_interval=2.5)),
        ("growth_factor", dict(growth_factor=1.0)), ("backoff_factor", dict(backoff_factor=1.0)),
        ("backoff_factor", dict(backoff_factor=0.0)),
        ("scale", dict(scale=-1.0)), ("scale", dict(scale=math.nan)), ("scale", dict(scale=True)),
        ("good_steps", dict(good_steps=True)), ("good_steps", dict(good_steps=math.nan)),
        ("growth_interval", dict(growth_interval=True)), ("growth_interval", dict(growth_interval=math.nan)),
        ("growth_interval", dict(growth_interval=-1)), ("growth_factor", dict(growth_factor=0.5)),
        ("growth_factor", dict(growth_factor=math.nan)), ("backoff_factor", dict(backoff_factor=math.nan)),
        ("backoff_factor", dict(backoff_factor=-0.5)), ("backoff_factor", dict(backoff_factor=1.5)),
    ]
    for name, change in bad:
        args = dict(scale=8.0, good_steps=0, found_inf=False, growth_interval=5, growth_factor=2.0, backoff_factor=0.5)
        args.update(change)
        with pytest.raises(ValueError, match=name):
            kata.update_scale(**args)


# === task 6: master_step ===


def spec_master_step(master, grads16, scale, lr):
    g32 = [struct_round(g / scale, "f") for g in grads16]
    new = [struct_round(w - struct_round(lr * g, "f"), "f") for w, g in zip(master, g32)]
    return new, [struct_round(w, "e") for w in new]


@pytest.mark.task("master_step")
def test_master_update_equals_the_fp32_reference(kata):
    rng = random.Random(7)
    master = [struct_round(rng.uniform(-2, 2), "f") for _ in range(23)]
    grads16 = [struct_round(rng.uniform(-5e3, 5e3), "e") for _ in range(23)]
    before = list(master)
    new, w16, skipped = kata.master_step(master, grads16, 1024.0, 0.013)
    want, want16 = spec_master_step(master, grads16, 1024.0, 0.013)
    assert_equal(skipped, False, "master_step(finite grads) skipped")
    assert_equal(list(new), want, "master_step(23 weights, scale 1024, lr 0.013): master",
                 hint="w <- fp32(w - fp32(lr * fp32(g / scale)))")
    assert_equal(list(w16), want16, "master_step(...): fp16 weights", hint="the fp16 copy is the rounded NEW master")
    assert_equal(master, before, "master after master_step (the input list)", hint="return new lists")


@pytest.mark.task("master_step")
def test_overflowing_step_is_skipped(kata):
    master = [0.5, -1.25, 3.0]
    new, w16, skipped = kata.master_step(master, [1.0, math.inf, 2.0], 8.0, 0.1)
    assert_equal(skipped, True, "master_step with an inf gradient: skipped")
    assert_equal(list(new), master, "master_step with an inf gradient: master", hint="skip the whole update")
    assert_equal(list(w16), master, "master_step with an inf gradient: fp16 weights")
    new[0] = 99.0  # the docstring promises a new list even when the step is skipped
    assert_equal(master, [0.5, -1.25, 3.0], "the caller's master after changing the list a skipped master_step returned",
                 hint="return list(master) on a skipped step, not the caller's own list")


@pytest.mark.task("master_step")
def test_small_updates_accumulate_in_fp32_masters(kata):
    # lr * g = 1e-4 is below half an fp16 ulp at 1.0 (2^-11): fp16 weights never move.
    master, scale = [1.0, -1.0], 2.0 ** 12
    grads16 = [struct_round(1e-2 * scale, "e"), struct_round(-1e-2 * scale, "e")]
    want = list(master)
    for _ in range(12):
        master, w16, _ = kata.master_step(master, grads16, scale, 0.01)
        want, want16 = spec_master_step(want, grads16, scale, 0.01)
    assert_equal(list(master), want, "12 master steps of 1e-4")
    assert_equal(list(w16), want16, "fp16 copy after 12 master steps")
    if not abs(master[0] - (1 - 12e-4)) < 1e-6:
        raise Mismatch(f"after 12 updates of 1e-4 the master weight is {master[0]!r}, expected ~{1 - 12e-4}")


@pytest.mark.task("master_step")
def test_master_step_rejects_bad_arguments(kata):
    for lr in (0.0, -0.1, math.nan, math.inf, True, None, "0.1"):  # not a number: ValueError, not TypeError
        with pytest.raises(ValueError, match="lr"):
            kata.master_step([1.0], [1.0], 1.0, lr)
        with pytest.raises(ValueError, match="lr"):  # empty master: nothing to update, but validate first
            kata.master_step([], [], 1.0, lr)
    for grads in ([1.0], [1.0, 2.0, 3.0]):  # too short and too long
        with pytest.raises(ValueError, match="grads"):
            kata.master_step([1.0, 2.0], grads, 1.0, 0.1)
    for scale in (0.0, -1.0, math.nan, math.inf, True):
        with pytest.raises(ValueError, match="scale"):
            kata.master_step([1.0], [1.0], scale, 0.1)


# === the demo's criterion: training with tiny gradients ===


@pytest.mark.task("master_step")
def test_scaled_mixed_precision_training_tracks_fp32(kata):
    """The demo's regression (gradients ~1e-6 .. 1e-9): unscaled fp16 stalls, scaled fp16 + masters does not."""
    data = kata.make_data(random.Random(42))
    fp32, _ = kata.train(data, "fp32")
    unscaled, _ = kata.train(data, "fp16")
    scaled, skipped = kata.train(data, "scaled")
    if not abs(scaled - fp32) <= 0.01 * fp32:
        raise Mismatch(f"final loss with loss scaling and fp32 masters {scaled:.4e}, fp32 reference {fp32:.4e}:"
                       " expected within 1%")
    if not unscaled > 100 * fp32:
        raise Mismatch(f"final loss of fp16 without scaling {unscaled:.4e} vs fp32 {fp32:.4e}: expected the unscaled"
                       " run to stall (gradients underflow) at > 100x the fp32 loss")
