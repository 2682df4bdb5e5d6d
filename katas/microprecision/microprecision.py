"""
Mixed-precision training, from scratch: round numbers to fp16 and bf16 by
hand on their bit patterns, watch small gradients vanish, and bring them back
with loss scaling, fp32 master weights and a skipped step on overflow.

A float is three bit fields: sign, exponent, mantissa. fp32 has 8 exponent and
23 mantissa bits; fp16 has 5 and 10, so it holds values from 6e-8 (subnormal)
to 65504 and nothing else; bf16 keeps fp32's 8 exponent bits and only 7
mantissa bits, so it has fp32's range and about 2-3 decimal digits. Half
precision halves memory and doubles tensor-core throughput, but a gradient of
1e-8 rounds to 0 in fp16 and a weight update smaller than half an fp16 ulp
is lost. Mixed precision (Micikevicius et al., 2018) fixes both: multiply the
loss by a scale S so gradients land inside fp16's range, divide by S in fp32,
apply the update to an fp32 master copy of the weights, and when the scaled
gradients overflow to inf, skip the step and halve S (dynamic loss scaling).

References: Micikevicius et al., "Mixed Precision Training" (2018); IEEE 754-2008
(binary16, round-to-nearest-even); Kalamkar et al., "A Study of BFLOAT16 for
Deep Learning Training" (2019); PyTorch's torch.cuda.amp.GradScaler.
"""

from __future__ import annotations

import math
import random
import struct
import sys

# Kata skeleton generated from solutions/microprecision/microprecision.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microprecision`; stuck? `python -m workbook hint microprecision`.
from workbook import KataTodo

# === FLOATING-POINT FORMATS ===
#
# A binary format with E exponent bits and M mantissa bits stores
#     sign (1 bit) | biased exponent e (E bits) | mantissa m (M bits)
# bias = 2^(E-1) - 1. The value is
#     e == 0              : (-1)^s * m / 2^M * 2^(1 - bias)        (subnormal, incl. +-0)
#     0 < e < 2^E - 1     : (-1)^s * (1 + m / 2^M) * 2^(e - bias)  (normal)
#     e == 2^E - 1        : +-inf when m == 0, nan otherwise
# Intuition: the exponent picks a binade [2^k, 2^(k+1)), the mantissa splits it
# into 2^M equal steps. Every binade has the same number of values, so the
# spacing (the ulp) doubles from one binade to the next; subnormals keep the
# smallest spacing all the way down to zero ("gradual underflow").

FORMATS = {
    "fp16": (5, 10),  # IEEE binary16: max 65504, smallest subnormal 2^-24 ~ 6e-8
    "bf16": (8, 7),  # bfloat16: fp32's range (max ~3.4e38), 8 significant bits
    "fp32": (8, 23),  # IEEE binary32: what "fp32 master weights" are
}


def format_bits(fmt):
    """(exponent_bits, mantissa_bits) of a format name; ValueError naming ``fmt`` if unknown."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {sorted(FORMATS)}, got {fmt!r}")
    return FORMATS[fmt]


def float64_parts(x):
    """(sign, integer n, exponent q) with |x| = n * 2^q exactly, from the float64 bit pattern.

    struct reinterprets the 8 bytes of the double as an unsigned 64-bit int; the
    same field decoding as above with E = 11, M = 52 gives the exact value.
    """
    (bits,) = struct.unpack("<Q", struct.pack("<d", x))
    sign, exponent, mantissa = bits >> 63, (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
    if exponent == 0:
        return sign, mantissa, -1074  # subnormal double: no implicit leading 1
    return sign, mantissa | (1 << 52), exponent - 1075


# === ENCODING: ROUND TO NEAREST, TIES TO EVEN ===
#
# Any finite double is exactly n * 2^q with integers n, q (float64_parts).
# To round it into a format with M mantissa bits:
#   1. find its binade: k = floor(log2 |x|) = bit_length(n) - 1 + q;
#   2. the target spacing there is 2^(k - M), but never finer than the
#      subnormal spacing 2^(emin - M) with emin = 1 - bias;
#   3. divide by that spacing and round the integer to the nearest, exact
#      halves to the even neighbour (IEEE's default: no upward drift on average);
#   4. pack the fields; past the top binade the result is inf.
# Everything is integer arithmetic on the bit pattern: no float operation can
# round a second time behind our back ("double rounding").
# Signpost: hardware does exactly this with a guard, round and sticky bit;
# numpy's astype(np.float16) and torch's .half() implement the same rule.


def encode(x, fmt):
    """Round the Python float ``x`` to the nearest ``fmt`` value; return its bit pattern as an int.

    fmt: "fp16" (E=5, M=10), "bf16" (E=8, M=7) or "fp32" (E=8, M=23). The
    pattern is sign << (E+M) | biased_exponent << M | mantissa, an int in
    [0, 2^(1+E+M)). Round to nearest; an exact tie goes to the neighbour
    whose mantissa is even. Results below the normal range become subnormals
    (or +-0, sign kept); a value that rounds past the largest finite value
    becomes +-inf (IEEE: |x| >= max + half an ulp). inf stays inf; nan
    becomes the quiet nan pattern with the top mantissa bit set, sign kept.
    An int x is rounded from its exact integer value, not through float(x)
    (that would round twice, and fail past 1.8e308): 2**60 + 2**36 + 1
    rounds up in fp32, 2**1100 is +inf. Raises ValueError naming ``fmt``
    (unknown) or ``x`` (not a float or int; a bool is neither).
    """
    raise KataTodo('microprecision.encode: Round the Python float ``x`` to the nearest ``fmt`` value; return its bit pattern as an int.')


def decode(bits, fmt):
    """The Python float a ``fmt`` bit pattern stands for (every fp16/bf16/fp32 value is exact in float64).

    Follows the field table above: subnormals when the exponent field is 0,
    +-inf and nan when it is all ones, -0.0 for the pattern with only the sign
    bit. Raises ValueError naming ``fmt`` (unknown) or ``bits`` (not an int
    in [0, 2^(1+E+M))).
    """
    raise KataTodo('microprecision.decode: The Python float a ``fmt`` bit pattern stands for (every fp16/bf16/fp32 value is exact in float64).')


def round_to(x, fmt):
    """x rounded to the nearest ``fmt`` value, as a Python float: decode(encode(x, fmt), fmt)."""
    return decode(encode(x, fmt), fmt)


# === LOSS SCALING ===
#
# In mixed-precision training the backward pass runs in fp16, so every
# gradient is an fp16 number. Gradients of a trained network are often tiny:
# 1e-8 is below fp16's smallest subnormal (2^-24 ~ 6e-8) and becomes 0.
# By the chain rule, multiplying the loss by S multiplies every gradient by S:
#     d(S * L)/dw = S * dL/dw
# so the fp16 backward sees S * g, which for S = 2^16 sits comfortably inside
# fp16's range. The optimizer then divides by S in fp32, where 1e-8 is an
# ordinary number. Powers of two are the natural scales: multiplying and
# dividing by 2^k only moves the exponent, so no mantissa bit is lost unless
# the value leaves the format's range.
# Simulation: we model "the fp16 backward of the scaled loss" as
# round_to(S * g, "fp16"), the exact scaled gradient rounded once to fp16.


def cast_gradients(grads, scale, fmt="fp16"):
    """The gradients an fp16 backward pass produces for the loss scaled by ``scale``: round_to(scale * g, fmt).

    grads: list of floats (exact fp32 gradients); scale: a positive finite
    float (1.0 means no loss scaling). Returns a new list of floats, each a
    ``fmt`` value; values too small become 0.0 (underflow), too large +-inf
    (overflow). Raises ValueError naming ``scale`` or ``fmt``.
    """
    raise KataTodo('microprecision.cast_gradients: The gradients an fp16 backward pass produces for the loss scaled by ``scale``: round_to(scale * g, fmt).')


def unscale_gradients(grads, scale):
    """Divide half-precision gradients by ``scale`` in fp32; return (fp32 grads, found_inf).

    grads: list of floats (fp16 values, possibly +-inf or nan). Each result
    is round_to(g / scale, "fp32"). found_inf is True when any input is inf
    or nan (the step must then be skipped), else False. Raises ValueError
    naming ``scale`` when it is not a positive finite number.
    """
    raise KataTodo('microprecision.unscale_gradients: Divide half-precision gradients by ``scale`` in fp32; return (fp32 grads, found_inf).')


# === DYNAMIC LOSS SCALING ===
#
# Which S? Too small and gradients underflow; too large and S * g overflows to
# inf. The right S drifts during training, so it is found online:
#   overflow (found_inf): skip this step, S <- S * backoff   (backoff = 0.5)
#   `growth_interval` clean steps in a row: S <- S * growth  (growth = 2)
# The scale therefore hovers just below the overflow boundary, as large as is
# safe. A skipped step costs one batch; Micikevicius et al. report that this
# happens rarely once S has settled. Static loss scaling is the special case
# that never changes S (pick it by hand: fine for a known model, brittle).
# Signpost: torch.amp.GradScaler(init_scale=2**16, growth_factor=2.0,
# backoff_factor=0.5, growth_interval=2000) is exactly this state machine.
# Its arithmetic differs in two places: it keeps S as a float32 tensor (here
# a Python float, float64), and it unscales by MULTIPLYING with
# inv_scale = fp32(1/S) (reciprocal taken in float64) instead of dividing.
# For power-of-two scales, all that 2^16 with factors 2 and 0.5 ever
# produces, both are exact and agree; for other scales they can differ by
# one fp32 ulp (S = 1000: 12 of the 31 gradients in the graded test differ).


def update_scale(scale, good_steps, found_inf, growth_interval=2000, growth_factor=2.0, backoff_factor=0.5):
    """One step of the dynamic loss-scale state machine; return (new_scale, new_good_steps).

    scale: current loss scale (positive float); good_steps: clean steps in a
    row since the last change (int >= 0). On found_inf: (scale *
    backoff_factor, 0). Otherwise good_steps + 1; when that reaches
    growth_interval: (scale * growth_factor, 0), else (scale, good_steps + 1).
    Raises ValueError naming ``scale``, ``good_steps``, ``growth_interval``
    (int >= 1), ``growth_factor`` (> 1) or ``backoff_factor`` (in (0, 1)).
    """
    raise KataTodo('microprecision.update_scale: One step of the dynamic loss-scale state machine; return (new_scale, new_good_steps).')


# === FP32 MASTER WEIGHTS ===
#
# The forward and backward passes use an fp16 copy of the weights, but the
# optimizer updates an fp32 master copy. Why: near w = 1.0 the fp16 spacing is
# 2^-10 ~ 1e-3, so an update lr * g = 1e-4 is below half an ulp and
#     fp16(w - 1e-4) == w
# every single step: training silently stalls. In fp32 (spacing 1.2e-7 at 1.0)
# the same updates accumulate. After the update the master weights are
# rounded to fp16 again for the next forward pass.
# One mixed-precision SGD step, with the loss scaled by S:
#     g32 = fp32(g16 / S)                 (unscale_gradients)
#     if any g16 is inf/nan: skip         (master unchanged)
#     w32 <- fp32(w32 - fp32(lr * g32))   (the update, in fp32)
#     w16 <- fp16(w32)                    (the copy the next forward uses)


def master_step(master, grads, scale, lr):
    """One SGD step on fp32 master weights from loss-scaled fp16 gradients; return (master, weights16, skipped).

    master: list of floats (fp32 values); grads: the fp16 gradients of the
    loss scaled by ``scale`` (as cast_gradients returns them). Unscale with
    unscale_gradients. If it found an inf or nan: skipped=True and master is
    returned unchanged (as a new list). Otherwise each weight becomes
    round_to(w - round_to(lr * g, "fp32"), "fp32"). weights16 is the fp16
    rounding of the returned master. Returns new lists; inputs unchanged.
    Raises ValueError naming ``lr`` (not a positive finite number), ``grads``
    (length differs from master) or ``scale``.
    """
    raise KataTodo('microprecision.master_step: One SGD step on fp32 master weights from loss-scaled fp16 gradients; return (master, weights16, skipped).')


# === DEMONSTRATION ===


def bits_string(bits, fmt):
    E, M = FORMATS[fmt]
    s = format(bits, f"0{1 + E + M}b")
    return f"{s[0]} {s[1:1 + E]} {s[1 + E:]}"


def demo_formats():
    print("1. Bit patterns: sign | exponent | mantissa, rounded to nearest-even on the bits")
    print(f"   {'x':>14}  {'fp16 bits':<20} {'fp16 value':>14}  {'bf16 bits':<19} {'bf16 value':>14}")
    for x in (1.0, 0.1, -2.5, 65504.0, 65519.0, 65520.0, 1e-7, 2.0 ** -24, 2.0 ** -25, 3e38, -0.0, math.inf):
        h, b = encode(x, "fp16"), encode(x, "bf16")
        print(f"   {x:>14.6g}  {bits_string(h, 'fp16'):<20} {decode(h, 'fp16'):>14.8g}"
              f"  {bits_string(b, 'bf16'):<19} {decode(b, 'bf16'):>14.8g}")
    ties = [1 + 2 ** -11, 1 + 3 * 2 ** -11]
    print(f"   ties: 1 + 2^-11 -> {round_to(ties[0], 'fp16')!r} (down, even), "
          f"1 + 3*2^-11 -> {round_to(ties[1], 'fp16')!r} (up, even)")
    checked = 0
    for x in [random.Random(1).uniform(-7e4, 7e4) for _ in range(2000)] + [2.0 ** -e for e in range(10, 30)]:
        try:
            ref = struct.unpack("<e", struct.pack("<e", x))[0]
        except OverflowError:
            ref = math.copysign(math.inf, x)
        assert round_to(x, "fp16") == ref, x
        checked += 1
    print(f"   round_to(x, 'fp16') == struct.pack('<e', x) on {checked} values (overflow as inf)\n")


def demo_underflow():
    print("2. A gradient that underflows in fp16, and the same gradient with loss scaling")
    grads = [3e-5, 4e-7, 1e-8, -2.5e-8, 5e-9]
    print(f"   {'true grad':>11} {'fp16, S=1':>12} {'fp16, S=2^16':>14} {'unscaled':>12} {'rel err':>9}")
    plain = cast_gradients(grads, 1.0)
    scaled = cast_gradients(grads, 2.0 ** 16)
    back, _ = unscale_gradients(scaled, 2.0 ** 16)
    for g, p, s, b in zip(grads, plain, scaled, back):
        print(f"   {g:>11.3g} {p:>12.3g} {s:>14.6g} {b:>12.4g} {abs(b - g) / abs(g):>9.1e}")
    lost = sum(1 for p in plain if p == 0.0)
    print(f"   without scaling {lost} of {len(grads)} gradients are exactly 0; with S = 2^16 none are\n")


def demo_scaler():
    print("3. Dynamic loss scaling: overflow halves S and skips the step; 3 clean steps double it")
    scale, good, interval = 2.0 ** 20, 0, 3
    grad = 0.25  # scaled by 2^20 this is 262144 > 65504: inf in fp16
    for step in range(12):
        g16 = cast_gradients([grad], scale)[0]
        _, found_inf = unscale_gradients([g16], scale)
        new_scale, good = update_scale(scale, good, found_inf, growth_interval=interval)
        print(f"   step {step:>2}: S = 2^{int(math.log2(scale)):<3} fp16(S*g) = {g16:<9g}"
              f" {'SKIP, halve' if found_inf else 'apply':<12} -> S = 2^{int(math.log2(new_scale))}")
        scale = new_scale
    print()


# The training demo: y = w0 x + w1 fitted by SGD on a loss multiplied by
# TINY = 2^-20, as if averaged over a million tokens. The gradients start near
# 1e-6 and shrink towards 1e-9 as the fit improves: the regime of the paper's
# Figure 3, where most activation gradients sit below fp16's 2^-24.
TINY = 2.0 ** -20


def make_data(rng, n=40):
    """40 points of y = 0.8 x - 0.3 plus a little noise, x uniform in [-1, 1]."""
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    return [(x, 0.8 * x - 0.3 + 1e-3 * rng.gauss(0, 1)) for x in xs]


def gradients(w, data):
    """d/dw of TINY * mean squared error of y = w0 x + w1 (exact, float64)."""
    g0 = sum(2 * (w[0] * x + w[1] - y) * x for x, y in data) / len(data)
    g1 = sum(2 * (w[0] * x + w[1] - y) for x, y in data) / len(data)
    return [TINY * g0, TINY * g1]


def loss(w, data):
    return TINY * sum((w[0] * x + w[1] - y) ** 2 for x, y in data) / len(data)


def train(data, mode, steps=300, lr=0.3 / TINY):
    """fp32 reference; fp16 without scaling; fp16 + scaling on fp16 weights; fp16 + scaling + fp32 masters."""
    master = [round_to(0.0, "fp32"), round_to(0.0, "fp32")]
    weights16 = [round_to(w, "fp16") for w in master]
    scale, good, skipped = (2.0 ** 24 if mode != "fp16" else 1.0), 0, 0
    for step in range(steps):
        if mode == "fp32":
            g = [round_to(v, "fp32") for v in gradients(master, data)]
            master = [round_to(w - round_to(lr * gi, "fp32"), "fp32") for w, gi in zip(master, g)]
            continue
        g16 = cast_gradients(gradients(weights16, data), scale)
        if mode == "no-master":
            # The update applied to the fp16 weights themselves: small steps vanish.
            g32, skip = unscale_gradients(g16, scale)
            if not skip:
                weights16 = [round_to(w - lr * gi, "fp16") for w, gi in zip(weights16, g32)]
        else:
            master, weights16, skip = master_step(master, g16, scale, lr)
        if mode != "fp16":
            scale, good = update_scale(scale, good, skip, growth_interval=50)
        skipped += skip
        if step % 150 == 0 or step == steps - 1:
            print(f"   {mode:<9} step {step:>3}: loss {loss(weights16, data):.3e}  S = 2^{int(math.log2(scale))}")
    final = loss(master if mode == "fp32" else weights16, data)
    return final, skipped


def demo_training():
    print("4. Training y = w0 x + w1 with gradients ~1e-6 .. 1e-9 (loss x 2^-20), 300 SGD steps")
    data = make_data(random.Random(42))
    results = {mode: train(data, mode) for mode in ("fp32", "fp16", "no-master", "scaled")}
    start = loss([0.0, 0.0], data)
    print(f"   {'mode':<40} {'final loss':>11} {'of start':>9} {'skipped':>8}")
    labels = {"fp32": "fp32 reference", "fp16": "fp16 gradients, no scaling",
              "no-master": "fp16 + dynamic S, updates on fp16 weights",
              "scaled": "fp16 + dynamic S + fp32 master weights"}
    for mode, (final, skipped) in results.items():
        print(f"   {labels[mode]:<40} {final:>11.3e} {final / start:>9.2e} {skipped:>8}")
    print("   Unscaled fp16 gradients round to 0 once the fit is close and training stalls;\n"
          "   with loss scaling and fp32 master weights the loss follows the fp32 reference\n"
          "   (down to the precision of the fp16 weight copy the forward pass uses).\n")


def main():
    random.seed(42)
    demo_formats()
    demo_underflow()
    demo_scaler()
    demo_training()


if __name__ == "__main__":
    main()
    sys.exit(0)
