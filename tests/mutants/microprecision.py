"""Realistic microprecision mistakes; each must make at least one graded test fail."""

from workbook.mutants import Mutant

MUTANTS = [
    Mutant(
        "ties_away_from_zero",
        "rounds exact halves up (away from zero) instead of to the even neighbour",
        "if rest > half or (rest == half and rounded & 1):",
        "if rest >= half:",
    ),
    Mutant(
        "ties_down",
        "drops an exact half every time (ties toward zero)",
        "if rest > half or (rest == half and rounded & 1):",
        "if rest > half:",
    ),
    Mutant(
        "truncates",
        "truncates the extra mantissa bits instead of rounding them",
        "        if rest > half or (rest == half and rounded & 1):\n            rounded += 1\n",
        "",
    ),
    Mutant(
        "no_subnormals",
        "uses the binade's spacing even below the normal range, so there is no gradual underflow",
        "step = max(k, emin) - M",
        "step = k - M",
    ),
    Mutant(
        "subnormal_exponent_off_by_one",
        "decodes subnormals with exponent -bias instead of 1 - bias (half their true value)",
        "return math.copysign(math.ldexp(mantissa, 1 - bias - M), sign)",
        "return math.copysign(math.ldexp(mantissa, -bias - M), sign)",
    ),
    Mutant(
        "overflow_off_by_one",
        "lets the all-ones exponent through as a finite number instead of inf",
        "if exponent >= top:",
        "if exponent > top:",
    ),
    Mutant(
        "nan_signalling_pattern",
        "encodes nan with the lowest mantissa bit instead of the quiet bit",
        "return sign_bit | top << M | 1 << (M - 1)",
        "return sign_bit | top << M | 1",
    ),
    Mutant(
        "subnormal_implicit_one",
        "adds the implicit leading 1 to subnormals when decoding",
        "return math.copysign(math.ldexp(mantissa, 1 - bias - M), sign)",
        "return math.copysign(math.ldexp(mantissa + (1 << M), 1 - bias - M), sign)",
    ),
    Mutant(
        "decode_bias_off_by_one",
        "takes the exponent bias to be 2^(E-1) instead of 2^(E-1) - 1 when decoding",
        "bias = (1 << (E - 1)) - 1\n    sign = -1.0",
        "bias = 1 << (E - 1)\n    sign = -1.0",
    ),
    Mutant(
        "nan_decoded_as_inf",
        "treats every all-ones exponent as infinity",
        "return math.copysign(math.inf, sign) if mantissa == 0 else math.copysign(math.nan, sign)",
        "return math.copysign(math.inf, sign)",
    ),
    Mutant(
        "round_then_scale",
        "rounds the gradient to fp16 before multiplying by the loss scale",
        "return [round_to(scale * g, fmt) for g in grads]",
        "return [scale * round_to(g, fmt) for g in grads]",
    ),
    Mutant(
        "only_positive_inf",
        "checks only for +inf, missing -inf and nan",
        "found_inf = any(not math.isfinite(g) for g in grads)",
        "found_inf = any(g == math.inf for g in grads)",
    ),
    Mutant(
        "unscale_in_float64",
        "divides by the scale but never rounds the result to fp32",
        'return [round_to(g / scale, "fp32") for g in grads], found_inf',
        "return [g / scale for g in grads], found_inf",
    ),
    Mutant(
        "overflow_keeps_counter",
        "halves the scale on overflow but keeps counting clean steps from before it",
        "return scale * backoff_factor, 0",
        "return scale * backoff_factor, good_steps",
    ),
    Mutant(
        "grows_one_step_late",
        "grows the scale only after growth_interval + 1 clean steps",
        "if good_steps >= growth_interval:",
        "if good_steps > growth_interval:",
    ),
    Mutant(
        "no_skip_on_overflow",
        "applies the update even when the gradients overflowed",
        "    if found_inf:\n        # Skipping",
        "    if False:\n        # Skipping",
    ),
    Mutant(
        "fp16_from_old_master",
        "returns the fp16 copy of the master weights from before the update",
        'return new, [round_to(w, "fp16") for w in new], found_inf',
        'return new, [round_to(w, "fp16") for w in master], found_inf',
    ),
    Mutant(
        "update_in_fp16",
        "applies the update in fp16 instead of to fp32 master weights",
        'new = [round_to(w - round_to(lr * g, "fp32"), "fp32") for w, g in zip(master, g32)]',
        'new = [round_to(w - round_to(lr * g, "fp32"), "fp16") for w, g in zip(master, g32)]',
    ),
    Mutant(
        "skip_returns_callers_list",
        "on a skipped step returns the caller's master list itself instead of a new list",
        "        new = list(master)\n",
        "        new = master\n",
    ),
]
