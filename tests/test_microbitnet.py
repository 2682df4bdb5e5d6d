"""Graded tests for microbitnet: sign binarisation, absmean ternarisation, the ternary matmul, the STE.

Expected values come from the independent spec below (the BitNet and b1.58
formulas written out again with fractions-free plain loops), from finite
differences of the quantised layer, or from properties. The ternary matmul's
work is counted exactly on the test's own number type, which records every
multiplication, division, power, addition and subtraction done on it: the sums
must use zero multiplications.
"""

import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, matrix

# === the independent spec ===


def spec_binarize(W):
    flat = [v for row in W for v in row]
    alpha = sum(flat) / len(flat)
    beta = sum(abs(v) for v in flat) / len(flat)
    return [[1 if v > alpha else -1 for v in row] for row in W], beta


def nearest_away(x):
    """Nearest integer, halves away from zero (written differently from the kata's helper)."""
    whole = int(abs(x))
    if abs(x) - whole >= 0.5:
        whole += 1
    return whole if x >= 0 else -whole


def spec_ternarize(W, eps=1e-5):
    flat = [v for row in W for v in row]
    gamma = sum(abs(v) for v in flat) / len(flat)
    if gamma + eps == 0:
        return [[0 for _ in row] for row in W], gamma
    codes = []
    for row in W:
        out = []
        for v in row:
            q = nearest_away(v / (gamma + eps))
            out.append(1 if q > 1 else -1 if q < -1 else q)
        codes.append(out)
    return codes, gamma


def spec_matvec(W, x):
    return [math.fsum(w * v for w, v in zip(row, x)) for row in W]


def planted(rng, rows, cols, offset=0.0):
    """Bell-shaped weights with a few large ones and a non-zero mean."""
    W = [[rng.gauss(offset, 0.4) for _ in range(cols)] for _ in range(rows)]
    for _ in range(max(1, rows * cols // 10)):
        W[rng.randrange(rows)][rng.randrange(cols)] = rng.choice((-1, 1)) * rng.uniform(1.5, 3.0)
    return W


class Ops:
    """Counts of the arithmetic done on Counted numbers."""

    def __init__(self):
        self.mul = 0
        self.add = 0


class Counted:
    """A number that records each arithmetic operation done on it in a shared Ops."""

    __slots__ = ("value", "ops")

    def __init__(self, value, ops):
        self.value, self.ops = float(value), ops

    def _wrap(self, value):
        return Counted(value, self.ops)

    @staticmethod
    def _raw(other):
        return other.value if isinstance(other, Counted) else other

    def __add__(self, other):
        self.ops.add += 1
        return self._wrap(self.value + self._raw(other))

    __radd__ = __add__

    def __sub__(self, other):
        self.ops.add += 1
        return self._wrap(self.value - self._raw(other))

    def __rsub__(self, other):
        self.ops.add += 1
        return self._wrap(self._raw(other) - self.value)

    def __neg__(self):
        return self._wrap(-self.value)

    def __pos__(self):
        return self

    def _multiply(self, value):
        self.ops.mul += 1
        return self._wrap(value)

    def __mul__(self, other):
        return self._multiply(self.value * self._raw(other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._multiply(self.value / self._raw(other))

    def __rtruediv__(self, other):
        return self._multiply(self._raw(other) / self.value)

    def __pow__(self, other):
        return self._multiply(self.value ** self._raw(other))

    def __float__(self):
        return self.value

    def __eq__(self, other):
        return self.value == self._raw(other)

    def __hash__(self):
        return hash(self.value)


def plain(values):
    return [v.value if isinstance(v, Counted) else float(v) for v in values]


# === task 1: binarize ===


@pytest.mark.task("binarize")
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (3, 11), (1, 9)], ids=str)
def test_binarize_equals_the_bitnet_formula(kata, shape):
    rows, cols = shape
    W = planted(random.Random(rows * 31 + cols), rows, cols, offset=0.3)
    codes, beta = kata.binarize(W)
    want_codes, want_beta = spec_binarize(W)
    assert_equal(codes, want_codes, f"binarize({rows}x{cols} W with mean ~0.3): codes",
                 hint="codes = Sign(W - alpha) with alpha = mean(W): centre before taking signs")
    assert_close(beta, want_beta, 1e-12, f"binarize({rows}x{cols}): beta",
                 hint="beta = ||W||_1 / (n m): the mean of |W|, of W itself (not of W - alpha)")


@pytest.mark.task("binarize")
def test_binarize_entry_equal_to_the_mean_is_minus_one(kata):
    W = [[1.0, 2.0, 3.0], [2.0, 0.5, 3.5]]  # mean exactly 2.0
    codes, _ = kata.binarize(W)
    assert_equal(codes, [[-1, -1, 1], [-1, -1, 1]], "binarize([[1, 2, 3], [2, 0.5, 3.5]]) (mean 2.0)",
                 hint="Sign maps W - alpha <= 0 to -1: an entry equal to the mean gets -1, never 0")


@pytest.mark.task("binarize")
def test_binarize_codes_are_python_ints_in_plus_minus_one(kata):
    codes, beta = kata.binarize(matrix(random.Random(4), 6, 4))
    bad = [q for row in codes for q in row if type(q) is not int or q not in (-1, 1)]
    if bad:
        raise Mismatch(f"binarize: codes must be the Python ints -1 and +1, found {bad[:3]!r}")
    if not beta > 0:
        raise Mismatch(f"binarize: beta {beta!r} must be positive")


@pytest.mark.task("binarize")
def test_binarize_rejects_bad_matrices(kata):
    for W in ([], [[]], [[1.0, 2.0], [3.0]]):
        with pytest.raises(ValueError, match="W"):
            kata.binarize(W)


# === task 2: ternarize ===


@pytest.mark.task("ternarize")
@pytest.mark.parametrize("eps", [1e-5, 0.0, 0.3])
@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (13, 3)], ids=str)
def test_ternarize_equals_absmean_roundclip(kata, shape, eps):
    rows, cols = shape
    W = planted(random.Random(rows * 7 + cols), rows, cols, offset=-0.1)
    codes, gamma = kata.ternarize(W, eps)
    want_codes, want_gamma = spec_ternarize(W, eps)
    assert_close(gamma, want_gamma, 1e-12, f"ternarize({rows}x{cols}, eps={eps}): gamma",
                 hint="gamma = mean |W| over every entry (absmean, not absmax)")
    assert_equal(codes, want_codes, f"ternarize({rows}x{cols}, eps={eps}): codes",
                 hint="codes = clip(round(W / (gamma + eps)), -1, 1)")


@pytest.mark.task("ternarize")
def test_ternarize_exact_halves_go_away_from_zero(kata):
    codes, gamma = kata.ternarize([[0.5, -0.5, 1.5, -1.5]], eps=0.0)
    assert_close(gamma, 1.0, 0.0, "ternarize([[0.5, -0.5, 1.5, -1.5]], eps=0): gamma")
    assert_equal(codes, [[1, -1, 1, -1]], "ternarize([[0.5, -0.5, 1.5, -1.5]], eps=0): codes",
                 hint="W / gamma = +-0.5 is an exact tie: round it away from zero (to +-1), and clip +-2 to +-1")
    codes, _ = kata.ternarize([[0.25, 1.0, -2.0, 0.75]], eps=0.0)
    assert_equal(codes, [[0, 1, -1, 1]], "ternarize([[0.25, 1.0, -2.0, 0.75]], eps=0): codes")


@pytest.mark.task("ternarize")
def test_ternarize_just_below_a_half_rounds_to_zero(kata):
    # gamma = (0.9999999999999999 + 3) / 2 and 0.9999999999999999 / gamma is
    # 0.49999999999999994, the float just below 0.5: nearest is 0. floor(x + 0.5)
    # gets 1, because x + 0.5 rounds to 1.0 in floating point.
    a = 0.9999999999999999
    assert a / (math.fsum([a, 3.0]) / 2) == 0.49999999999999994
    for W, want in (([[a, 3.0]], [[0, 1]]), ([[-a], [3.0]], [[0], [1]]), ([[3.0, 0.5]], [[1, 0]])):
        codes, _ = kata.ternarize(W, eps=0.0)
        assert_equal(codes, want, f"ternarize({W}, eps=0): codes",
                     hint="0.49999999999999994 is below a half: round to 0 (floor(|x| + 0.5) rounds it up; "
                          "compare |x| - floor(|x|) with 0.5 instead)")


@pytest.mark.task("ternarize")
def test_ternarize_all_zero_matrix(kata):
    for eps in (0.0, 1e-5):
        codes, gamma = kata.ternarize([[0.0, -0.0], [0.0, 0.0]], eps)
        assert_equal(codes, [[0, 0], [0, 0]], f"ternarize(zeros, eps={eps}): codes",
                     hint="gamma + eps == 0 must not divide by zero: every code is 0")
        assert_equal(gamma, 0.0, f"ternarize(zeros, eps={eps}): gamma")


@pytest.mark.task("ternarize")
def test_ternary_codes_and_error_bound(kata):
    W = planted(random.Random(9), 9, 8)
    codes, gamma = kata.ternarize(W, 0.0)
    bad = [q for row in codes for q in row if type(q) is not int or q not in (-1, 0, 1)]
    if bad:
        raise Mismatch(f"ternarize: codes must be the Python ints -1, 0, 1, found {bad[:3]!r}")
    for r, (row, qs) in enumerate(zip(W, codes)):
        for c, (w, q) in enumerate(zip(row, qs)):
            if abs(w) <= 1.5 * gamma and abs(w - gamma * q) > gamma / 2 + 1e-12:
                raise Mismatch(f"ternarize: W[{r}][{c}] = {w:.4f} -> code {q}, more than gamma/2 = {gamma / 2:.4f} away")


@pytest.mark.task("ternarize")
def test_ternarize_rejects_bad_arguments(kata):
    for eps in (-1e-3, -1e-300, math.nan, None, "0"):
        with pytest.raises(ValueError, match="eps"):
            kata.ternarize([[1.0]], eps)
        with pytest.raises(ValueError, match="eps"):  # an all-zero W would return zeros at once: validate first
            kata.ternarize([[0.0, 0.0]], eps)
    for W in ([], [[1.0], [2.0, 3.0]]):
        with pytest.raises(ValueError, match="W"):
            kata.ternarize(W)


# === task 3: ternary_matmul ===


@pytest.mark.task("ternary_matmul")
@pytest.mark.parametrize("shape", [(1, 1), (6, 9), (11, 4), (3, 17)], ids=str)
def test_ternary_matmul_equals_the_float_matmul_of_dequantized_weights(kata, shape):
    rows, cols = shape
    rng = random.Random(rows * 100 + cols)
    codes, gamma = spec_ternarize(planted(rng, rows, cols))
    x = [rng.uniform(-3, 3) for _ in range(cols)]
    got = [gamma * v for v in plain(kata.ternary_matmul(codes, x))]
    want = spec_matvec([[gamma * q for q in row] for row in codes], x)
    assert_close(got, want, 1e-12, f"gamma * ternary_matmul({rows}x{cols} codes, x)",
                 hint="add x[c] where the code is +1, subtract it where it is -1, skip 0")


@pytest.mark.task("ternary_matmul")
def test_ternary_matmul_uses_zero_multiplications(kata):
    rng = random.Random(77)
    rows, cols = 9, 14
    codes = [[rng.choice((-1, 0, 0, 1)) for _ in range(cols)] for _ in range(rows)]
    codes[4] = [0] * cols  # a row with nothing to add
    values = [rng.uniform(-2, 2) for _ in range(cols)]
    ops = Ops()
    got = kata.ternary_matmul(codes, [Counted(v, ops) for v in values])
    assert_close(plain(got), spec_matvec(codes, values), 1e-12, "ternary_matmul(9x14 codes, counted x)")
    assert_equal(ops.mul, 0, "multiplications (incl. divisions, powers) done by ternary_matmul on x",
                 hint="never multiply a code by x[c]: branch on the code and add or subtract")
    nonzero = sum(q != 0 for row in codes for q in row)
    if ops.add > nonzero + rows:
        raise Mismatch(f"ternary_matmul did {ops.add} additions/subtractions on x for {nonzero} non-zero codes in"
                       f" {rows} rows; expected at most {nonzero + rows}\n  hint: skip the zero codes entirely")


@pytest.mark.task("ternary_matmul")
def test_ternary_matmul_rejects_bad_arguments(kata):
    with pytest.raises(ValueError, match="codes"):
        kata.ternary_matmul([[1, 2, 0]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="codes"):
        kata.ternary_matmul([[1, 0], [1]], [1.0, 2.0])
    with pytest.raises(ValueError, match="x"):
        kata.ternary_matmul([[1, 0, -1]], [1.0, 2.0])


# === task 4: ste_gradient ===


@pytest.mark.task("ste_gradient")
@pytest.mark.parametrize("clip", [1.0, 0.5, 2.5])
def test_ste_is_identity_inside_the_clip_range(kata, clip):
    rng = random.Random(int(clip * 10))
    latent = [rng.uniform(-2 * clip, 2 * clip) for _ in range(31)] + [clip, -clip, 0.0]
    upstream = [rng.uniform(-1, 1) for _ in latent]
    want = [g if -clip <= w <= clip else 0.0 for w, g in zip(latent, upstream)]
    assert_equal(list(kata.ste_gradient(latent, upstream, clip)), want, f"ste_gradient(34 weights, clip={clip})",
                 hint="pass the upstream gradient unchanged where |w| <= clip (inclusive), 0 outside")


@pytest.mark.task("ste_gradient")
def test_ste_rejects_bad_arguments(kata):
    for clip in (0.0, -1.0, -1e-300, math.nan, None):
        with pytest.raises(ValueError, match="clip"):
            kata.ste_gradient([0.1], [1.0], clip)
        with pytest.raises(ValueError, match="clip"):  # empty lists: nothing to clip, but validate first
            kata.ste_gradient([], [], clip)
    with pytest.raises(ValueError, match="upstream"):
        kata.ste_gradient([0.1, 0.2], [1.0], 1.0)


# === task 5: bitlinear_backward ===


def spec_forward(W, x, eps):
    codes, gamma = spec_ternarize(W, eps)
    return spec_matvec([[gamma * q for q in row] for row in codes], x)


@pytest.mark.task("bitlinear_backward")
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (4, 9)], ids=str)
def test_input_gradient_equals_finite_differences(kata, shape):
    rows, cols = shape
    rng = random.Random(rows * 13 + cols)
    W, x = planted(rng, rows, cols), [rng.uniform(-2, 2) for _ in range(cols)]
    grad_y = [rng.uniform(-1, 1) for _ in range(rows)]
    _, grad_x = kata.bitlinear_backward(W, x, grad_y)
    h = 1e-5
    fd = []
    for c in range(cols):
        up = x[:c] + [x[c] + h] + x[c + 1:]
        down = x[:c] + [x[c] - h] + x[c + 1:]
        fd.append(sum(g * (a - b) for g, a, b in zip(grad_y, spec_forward(W, up, 1e-5), spec_forward(W, down, 1e-5))) / (2 * h))
    assert_close(list(grad_x), fd, 1e-7, f"bitlinear_backward({rows}x{cols}): grad_x vs finite differences",
                 hint="the input gradient flows through the weights the forward used: gamma * codes, not the latent W")


@pytest.mark.task("bitlinear_backward")
def test_input_gradient_uses_the_eps_passed_in(kata):
    # With eps = 0.5 the grid step gamma + eps is larger, so more codes are 0 than
    # with the default 1e-5: grad_x must come from ternarize(W, eps) with THIS eps.
    rng = random.Random(77)
    W, x = planted(rng, 4, 6), [rng.uniform(-2, 2) for _ in range(6)]
    grad_y = [rng.uniform(-1, 1) for _ in range(4)]
    for eps in (0.5, 0.0):
        codes, gamma = spec_ternarize(W, eps)
        want = [gamma * math.fsum(g * row[c] for g, row in zip(grad_y, codes)) for c in range(6)]
        _, grad_x = kata.bitlinear_backward(W, x, grad_y, eps)
        assert_close(list(grad_x), want, 1e-12, f"bitlinear_backward(4x6, eps={eps}): grad_x",
                     hint="ternarize with the eps argument, not the default")
    assert spec_ternarize(W, 0.5)[0] != spec_ternarize(W, 1e-5)[0], "fixture: eps = 0.5 must change some code"


@pytest.mark.task("bitlinear_backward")
def test_weight_gradient_is_straight_through(kata):
    rng = random.Random(21)
    W, x = planted(rng, 6, 5), [rng.uniform(-2, 2) for _ in range(5)]
    grad_y = [rng.uniform(-1, 1) for _ in range(6)]
    grad_W, _ = kata.bitlinear_backward(W, x, grad_y)
    assert_close(grad_W, [[g * v for v in x] for g in grad_y], 1e-15, "bitlinear_backward(6x5): grad_W",
                 hint="STE: dL/dW = dL/dy x^T, as if the latent W had been used (the quantiser's derivative is 1)")


@pytest.mark.task("bitlinear_backward")
def test_bitlinear_backward_rejects_bad_shapes(kata):
    W = [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]]
    with pytest.raises(ValueError, match="x"):
        kata.bitlinear_backward(W, [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="grad_y"):
        kata.bitlinear_backward(W, [1.0, 2.0, 3.0], [1.0])


# === slow: the demo's training comparison ===


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("ternarize")
def test_b158_training_tracks_float(kata):
    float_losses, float_acc, _ = kata.train(False)
    ternary_losses, ternary_acc, params = kata.train(True)
    if not ternary_losses[-1] < 0.2 * ternary_losses[0]:
        raise Mismatch(f"b1.58 training: loss {ternary_losses[0]:.4f} -> {ternary_losses[-1]:.4f}; expected < 20% of the start")
    if not ternary_losses[-1] < 3 * float_losses[-1] or ternary_acc < 0.9:
        raise Mismatch(f"b1.58 final loss {ternary_losses[-1]:.4f} (accuracy {ternary_acc:.1%}) vs float"
                       f" {float_losses[-1]:.4f} ({float_acc:.1%}): expected within 3x and >= 90% accuracy")
    codes, _ = spec_ternarize(params["W1"])
    assert any(q == 0 for row in codes for q in row) and any(q != 0 for row in codes for q in row)
