"""
1-bit and 1.58-bit networks, from scratch: binarise weights to {-1, +1}, ternarise
them to {-1, 0, +1}, multiply without multiplying, and train through the
rounding with the straight-through estimator.

microquant rounds a trained model's weights onto a grid after training. BitNet
goes to the extreme and trains the model on the grid from the start: every
weight of a linear layer is a sign (BitNet, 1 bit) or a sign-or-zero (BitNet
b1.58, log2(3) = 1.58 bits) times ONE float scale per matrix. A matrix-vector
product with such weights needs no multiplications at all: each output adds
the inputs whose code is +1, subtracts those whose code is -1, skips the 0s,
and multiplies by the scale once at the end. Training works because the
optimiser keeps a float "latent" copy of every weight; the forward pass uses
its quantised version, and the backward pass pretends the quantiser was the
identity (the straight-through estimator), so small gradient steps accumulate
in the latent weights until a code flips.

The demo trains the same tiny classifier twice, in float and in b1.58, and
compares their losses.

References: Wang et al., "BitNet: Scaling 1-bit Transformers for Large Language
Models" (2023); Ma et al., "The Era of 1-bit LLMs: All Large Language Models are
in 1.58 Bits" (2024); Bengio, Leonard and Courville, "Estimating or Propagating
Gradients Through Stochastic Neurons" (2013) for the straight-through estimator.
"""

from __future__ import annotations

import math
import random
import sys

# Kata skeleton generated from solutions/microbitnet/microbitnet.py by `python -m workbook build`.
# Replace each `raise KataTodo(...)` with your code; grade it with
# `pytest katas/microbitnet`; stuck? `python -m workbook hint microbitnet`.
from workbook import KataTodo

# === SHAPES AND CONVENTIONS ===
#
# Matrices are lists of rows, one row per OUTPUT unit (PyTorch's nn.Linear
# layout, as in microquant): y_r = sum_c W[r][c] * x[c]. Codes are Python
# ints. Every quantiser here is per-tensor: one float scale for the whole
# matrix, which is what both BitNet papers use.


def check_matrix(W, name="W"):
    """ValueError naming ``name`` unless W is a non-empty list of equal-length, non-empty rows."""
    if not W or not W[0] or any(len(row) != len(W[0]) for row in W):
        raise ValueError(f"{name} must be a non-empty matrix of equal-length, non-empty rows")


def round_half_away(x: float) -> int:
    """Nearest integer to x; exact halves go away from zero (0.5 -> 1, -0.5 -> -1)."""
    # Compare the fractional part with 0.5 instead of computing floor(|x| + 0.5):
    # that sum is rounded, so 0.49999999999999994 + 0.5 == 1.0 and would round up.
    # |x| - floor(|x|) is exact in floating point.
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:
        n += 1
    return n if x >= 0 else -n


# === BITNET: SIGN BINARISATION ===
#
# BitNet (2023) centres the weights, takes their signs, and keeps one scale:
#   alpha = mean(W)                          (centring: balances +1 and -1 codes)
#   codes = Sign(W - alpha)                  (+1 if > 0, else -1: 0 maps to -1)
#   beta  = ||W||_1 / (n m) = mean |W|       (the dequantisation scale)
#   W    ~= beta * codes
# Why mean |W| and not max |W|: with only two levels, the scale that
# minimises ||W - beta * sign(W)||^2 is exactly mean |W| (set the derivative
# in beta to zero), so the scale is a least-squares fit, not a range bound.
# Careful: that is the fit for the UNcentred codes sign(W). For BitNet's own
# codes Sign(W - alpha) the least-squares scale is mean(W * code), which is
# smaller than mean |W| whenever alpha != 0 makes some code disagree with its
# weight's sign. The paper (and this kata) uses mean |W| anyway.
# Signpost: BitNet also quantises activations to 8 bits (absmax per token)
# and normalises them before the binarised matmul (SubLN); we keep x in float.


def binarize(W):
    """BitNet 1-bit weights: return (codes, beta) with codes[r][c] in {-1, +1} and W ~= beta * codes.

    alpha = mean of all entries of W; codes[r][c] = +1 if W[r][c] - alpha > 0,
    else -1 (an entry exactly equal to the mean gets -1). beta = mean of
    |W[r][c]| over all entries (of W itself, not of W - alpha). codes has
    W's shape and holds Python ints. Raises ValueError naming ``W`` when it
    is empty or ragged.
    """
    raise KataTodo('microbitnet.binarize: BitNet 1-bit weights: return (codes, beta) with codes[r][c] in {-1, +1} and W ~= beta * codes.')


# === BITNET b1.58: ABSMEAN TERNARISATION ===
#
# b1.58 (2024) adds the code 0, which lets the network switch a connection
# off (feature filtering), and drops the centring:
#   gamma = mean |W|
#   codes = RoundClip(W / (gamma + eps), -1, 1)    RoundClip(x) = max(-1, min(1, round(x)))
#   W    ~= gamma * codes
# Intuition: weights smaller than gamma / 2 in magnitude become 0, the rest
# become their sign. With bell-shaped weights roughly a third of the codes
# are 0. eps only guards against an all-zero matrix (gamma = 0).
# Three codes fit in log2(3) = 1.58 bits; packed five to a byte (3^5 = 243
# <= 256) they cost 1.6 bits each.
# Rounding: this kata's convention is halves away from zero (round_half_away,
# as in microquant). The paper does not say; common implementations (HF
# transformers' BitNet, the authors' training recipe) call torch.round, which
# sends halves to the EVEN neighbour: W / gamma = +-0.5 becomes 0 there, +-1
# here. Only exact ties differ.


def ternarize(W, eps=1e-5):
    """BitNet b1.58 absmean weights: return (codes, gamma) with codes in {-1, 0, +1} and W ~= gamma * codes.

    gamma = mean of |W[r][c]| over all entries; codes[r][c] =
    clip(round(W[r][c] / (gamma + eps)), -1, 1), rounding to the nearest
    integer with exact halves away from zero (0.5 -> 1, -0.5 -> -1;
    round_half_away is provided). If gamma + eps == 0 (all-zero W with
    eps = 0) every code is 0. Codes are Python ints, W's shape. Raises
    ValueError naming ``W`` (empty or ragged) or ``eps`` (negative).
    """
    raise KataTodo('microbitnet.ternarize: BitNet b1.58 absmean weights: return (codes, gamma) with codes in {-1, 0, +1} and W ~= gamma * codes.')


def dequantize(codes, scale):
    """scale * codes as a float matrix: the weights the quantised layer actually applies."""
    return [[scale * q for q in row] for row in codes]


# === THE TERNARY MATMUL: ADDITIONS ONLY ===
#
# With codes in {-1, 0, +1}:
#   y_r = gamma * sum_c codes[r][c] * x[c]
#       = gamma * ( sum_{c: code = +1} x[c]  -  sum_{c: code = -1} x[c] )
# The inner part is adds and subtracts only; the zeros are skipped, so they
# cost nothing at all. The single multiply by gamma per output (or per
# tensor, folded into the next layer's normalisation) is all that is left.
# Intuition: the network's arithmetic becomes "route each input to the
# plus pile, the minus pile, or nowhere". This is the paper's energy
# argument: an fp16 multiply costs far more energy than an add on 7 nm
# silicon, and the matmul is nearly all of a transformer's arithmetic.
# Signpost: bitnet.cpp's kernels go further, packing codes into lookup
# tables (T-MAC) so that groups of weights index precomputed partial sums.


def ternary_matmul(codes, x):
    """The ternary matrix-vector product without the scale: y_r = sum_c codes[r][c] * x[c], with no multiplication.

    codes: rows x cols matrix of ints in {-1, 0, +1}; x: list of cols
    numbers. For each row, add x[c] where the code is +1 and subtract it
    where the code is -1; skip zeros. Never multiply, divide or take powers
    (the tests count them, on number objects that record every operation),
    and use at most one addition or subtraction per non-zero code (plus one
    per row, e.g. for a final "plus pile minus minus pile"). Returns a
    list of rows numbers (multiply by the scale afterwards). Raises
    ValueError naming ``codes`` (empty, ragged, or a code outside {-1, 0, 1})
    or ``x`` (wrong length).
    """
    raise KataTodo('microbitnet.ternary_matmul: The ternary matrix-vector product without the scale: y_r = sum_c codes[r][c] * x[c], with no multiplication.')


# === THE STRAIGHT-THROUGH ESTIMATOR ===
#
# Rounding and sign are step functions: their derivative is 0 almost
# everywhere, so honest backpropagation would never move a latent weight.
# The straight-through estimator (STE) uses the identity's derivative
# instead, d quant(w) / dw := 1, inside a clip range, and 0 outside it:
#   dL/dw = dL/dquant(w) * 1{|w| <= clip}
# The clip is the derivative of hardtanh: a latent weight already far past
# the grid's edge gets no more push in the same direction, which keeps the
# latent copy from drifting off to infinity. BitNet's weights use the plain
# identity (no clip); the clipped form is the classic one for sign() of
# activations (BinaryNet), and the one with a range to test.


def ste_gradient(latent, upstream, clip=1.0):
    """Straight-through gradient: upstream[i] where |latent[i]| <= clip (inclusive), else 0.0.

    latent, upstream: equal-length lists of floats. Returns a new list.
    Raises ValueError naming ``clip`` (not a positive number) or
    ``upstream`` (length differs from latent).
    """
    raise KataTodo('microbitnet.ste_gradient: Straight-through gradient: upstream[i] where |latent[i]| <= clip (inclusive), else 0.0.')


# === BITLINEAR: FORWARD AND BACKWARD ===
#
# Forward (b1.58):  codes, gamma = ternarize(W);  y = gamma * ternary_matmul(codes, x)
# Backward, given dL/dy:
#   dL/dx[c] = sum_r dL/dy[r] * gamma * codes[r][c]     (through the weights the forward USED)
#   dL/dW[r][c] = dL/dy[r] * x[c]                       (STE: as if W itself had been used)
# The two halves treat the quantiser differently on purpose: the input
# gradient is the true gradient of the quantised layer (it flows on to the
# layers below), the weight gradient is the STE's guess, applied to the
# latent float weights by the optimiser.


def bitlinear_forward(W, x, eps=1e-5):
    """The b1.58 layer's output: gamma * ternary_matmul(codes, x) with (codes, gamma) = ternarize(W, eps)."""
    codes, gamma = ternarize(W, eps)
    return [gamma * v for v in ternary_matmul(codes, x)]


def bitlinear_backward(W, x, grad_y, eps=1e-5):
    """Gradients of a b1.58 layer y = (gamma * codes) x: return (grad_W, grad_x).

    W: rows x cols latent float weights; x: cols inputs; grad_y: rows
    upstream gradients dL/dy. grad_x[c] = sum_r grad_y[r] * gamma *
    codes[r][c] (the exact gradient through the ternarised weights, with
    (codes, gamma) = ternarize(W, eps)); grad_W[r][c] = grad_y[r] * x[c]
    (straight-through: the quantiser's derivative taken as 1). Raises
    ValueError naming ``x`` or ``grad_y`` when its length does not match W.
    """
    raise KataTodo('microbitnet.bitlinear_backward: Gradients of a b1.58 layer y = (gamma * codes) x: return (grad_W, grad_x).')


# === DEMONSTRATION: FLOAT VS b1.58 TRAINING ===
#
# A 2 -> 32 -> 3 classifier (tanh hidden layer, softmax output) on three
# overlapping Gaussian blobs, trained with full-batch Adam. The b1.58 model
# keeps latent float weights; both of its weight matrices are ternarised in
# every forward pass (per tensor), and its gradients use the STE above.
# Biases stay in float, as is usual for the tiny non-matmul parameters.

HIDDEN, CLASSES, STEPS, LR, SEED = 32, 3, 300, 0.05, 42


def make_blobs(rng, n=150):
    """n points in 3 classes: Gaussian blobs (std 0.7) at radius 1.5, 120 degrees apart."""
    data = []
    for i in range(n):
        label = i % CLASSES
        angle = 2 * math.pi * label / CLASSES
        data.append(([1.5 * math.cos(angle) + rng.gauss(0, 0.7), 1.5 * math.sin(angle) + rng.gauss(0, 0.7)], label))
    return data


def init_params(rng):
    return {
        "W1": [[rng.gauss(0, 1 / math.sqrt(2)) for _ in range(2)] for _ in range(HIDDEN)],
        "b1": [0.0] * HIDDEN,
        "W2": [[rng.gauss(0, 1 / math.sqrt(HIDDEN)) for _ in range(HIDDEN)] for _ in range(CLASSES)],
        "b2": [0.0] * CLASSES,
    }


def softmax(logits):
    top = max(logits)  # stable: exp never overflows
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def forward_backward(params, data, ternary):
    """Mean cross-entropy, accuracy and gradients (STE for ternary weights) over the whole batch."""
    if ternary:
        codes1, g1 = ternarize(params["W1"])
        codes2, g2 = ternarize(params["W2"])
        W1, W2 = dequantize(codes1, g1), dequantize(codes2, g2)
    else:
        W1, W2 = params["W1"], params["W2"]
    grads = {k: [[0.0] * len(r) for r in v] if isinstance(v[0], list) else [0.0] * len(v) for k, v in params.items()}
    total, correct = 0.0, 0
    for x, label in data:
        if ternary:  # the multiplication-free path: adds, subtracts, one scale per layer
            pre = [g1 * v + b for v, b in zip(ternary_matmul(codes1, x), params["b1"])]
        else:
            pre = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(W1, params["b1"])]
        h = [math.tanh(v) for v in pre]
        if ternary:
            logits = [g2 * v + b for v, b in zip(ternary_matmul(codes2, h), params["b2"])]
        else:
            logits = [sum(w * v for w, v in zip(row, h)) + b for row, b in zip(W2, params["b2"])]
        probs = softmax(logits)
        total -= math.log(max(probs[label], 1e-10))  # clipped log
        correct += max(range(CLASSES), key=lambda k: probs[k]) == label
        d_logits = [p - (k == label) for k, p in enumerate(probs)]
        # Backward: the same rules as bitlinear_backward, accumulated over the batch.
        for r, d in enumerate(d_logits):
            grads["b2"][r] += d
            for c, v in enumerate(h):
                grads["W2"][r][c] += d * v  # STE: dL/dW = dL/dW_used
        d_h = [sum(d_logits[r] * W2[r][c] for r in range(CLASSES)) for c in range(HIDDEN)]
        d_pre = [d * (1 - v * v) for d, v in zip(d_h, h)]
        for r, d in enumerate(d_pre):
            grads["b1"][r] += d
            for c, v in enumerate(x):
                grads["W1"][r][c] += d * v
    n = len(data)
    scale = lambda t: [[v / n for v in r] for r in t] if isinstance(t[0], list) else [v / n for v in t]  # noqa: E731
    return total / n, correct / n, {k: scale(v) for k, v in grads.items()}


def adam(params, grads, state, step, lr=LR, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step on the latent float parameters, in place."""
    for key, value in params.items():
        rows = value if isinstance(value[0], list) else [value]
        grows = grads[key] if isinstance(value[0], list) else [grads[key]]
        m, v = state.setdefault(key, ([[0.0] * len(r) for r in rows], [[0.0] * len(r) for r in rows]))
        for i, (row, grow) in enumerate(zip(rows, grows)):
            for j, g in enumerate(grow):
                m[i][j] = b1 * m[i][j] + (1 - b1) * g
                v[i][j] = b2 * v[i][j] + (1 - b2) * g * g
                m_hat, v_hat = m[i][j] / (1 - b1 ** step), v[i][j] / (1 - b2 ** step)
                row[j] -= lr * m_hat / (math.sqrt(v_hat) + eps)


def train(ternary, steps=STEPS, log=None):
    """Train from the same seed; return (losses per step, final accuracy, params)."""
    rng = random.Random(SEED)
    data = make_blobs(rng)
    params, state, losses = init_params(rng), {}, []
    for step in range(1, steps + 1):
        loss, acc, grads = forward_backward(params, data, ternary)
        losses.append(loss)
        adam(params, grads, state, step)
        if log and (step == 1 or step % 50 == 0):
            log(f"   {'b1.58' if ternary else 'float':<6} step {step:>3}: loss {loss:.4f}  accuracy {acc:.1%}")
    loss, acc, _ = forward_backward(params, data, ternary)
    losses.append(loss)
    return losses, acc, params


def demo_quantisers():
    print("1. One matrix, three ways (W ~= scale * codes)")
    rng = random.Random(1)
    W = [[round(rng.gauss(0, 0.5), 2) for _ in range(6)] for _ in range(3)]
    codes_b, beta = binarize(W)
    codes_t, gamma = ternarize(W)
    for r, row in enumerate(W):
        print(f"   W  {row}\n      sign {codes_b[r]}   ternary {codes_t[r]}")
    for name, codes, s in (("BitNet 1-bit", codes_b, beta), ("b1.58 ternary", codes_t, gamma)):
        err = sum((a - s * q) ** 2 for row, qs in zip(W, codes) for a, q in zip(row, qs)) / 18
        zeros = sum(q == 0 for qs in codes for q in qs)
        print(f"   {name:<14} scale {s:.4f}  zeros {zeros:>2}/18  mean squared error {err:.4f}")
    print()


def demo_matmul():
    print("2. The ternary matmul: adds and subtracts only")
    rng = random.Random(2)
    W = [[rng.gauss(0, 1) for _ in range(64)] for _ in range(48)]
    x = [rng.gauss(0, 1) for _ in range(64)]
    codes, gamma = ternarize(W)
    y = [gamma * v for v in ternary_matmul(codes, x)]
    ref = [sum(w * v for w, v in zip(row, x)) for row in dequantize(codes, gamma)]
    nonzero = sum(q != 0 for row in codes for q in row)
    print(f"   48 x 64 layer: float matmul 3072 multiplications; ternary: 0 in the sums,"
          f" {len(codes)} scale multiplies")
    print(f"   additions/subtractions: {nonzero} (one per non-zero code; {3072 - nonzero} zeros skipped)")
    print(f"   max |ternary - float matmul of dequantised W| = {max(abs(a - b) for a, b in zip(y, ref)):.2e}\n")


def demo_training():
    print(f"3. Training a 2 -> {HIDDEN} -> 3 classifier on 150 blob points, full-batch Adam, {STEPS} steps")
    results = {}
    for ternary in (False, True):
        results[ternary] = train(ternary, log=print)
    print(f"   {'model':<22} {'first loss':>10} {'final loss':>10} {'accuracy':>9}")
    for ternary, (losses, acc, _) in results.items():
        print(f"   {'b1.58 (ternary)' if ternary else 'float32':<22} {losses[0]:>10.4f} {losses[-1]:>10.4f} {acc:>9.1%}")
    (fl, _, _), (tl, _, params) = results[False], results[True]
    print(f"   b1.58 / float final loss: {tl[-1] / fl[-1]:.2f}")
    codes, _ = ternarize(params["W1"])
    zeros = sum(q == 0 for row in codes for q in row)
    print(f"   trained b1.58 W1: {zeros} of {HIDDEN * 2} codes are 0 (connections switched off)")
    print("   The latent float weights learn through the STE; the model that runs uses only\n"
          "   {-1, 0, +1} and one scale per matrix.\n")


def main():
    random.seed(42)
    demo_quantisers()
    demo_matmul()
    demo_training()


if __name__ == "__main__":
    main()
    sys.exit(0)
