"""
Weight quantization, from scratch: store a trained model's float32 weights as
small Python integers plus one float scale, and measure what it costs in loss.

A weight matrix is a cloud of small numbers, roughly bell-shaped around zero.
Absmax quantization stretches the integer grid [-127, 127] (INT8) or [-8, 7]
(INT4) over that cloud: one float `scale` per tensor (or per row), one small
integer `code` per weight, and `weight ~= scale * code`. Zero-point
quantization shifts the grid so lopsided data (all-positive activations) uses
every code. Per-channel quantization gives each output row its own scale, so a
row of tiny weights is not crushed onto three codes by a neighbour's outlier.

The file trains a small character-level MLP on names (pure Python, manual
gradients), quantizes every tensor to INT8 and INT4, and compares held-out
loss and bytes: INT8 is 4x smaller at ~0% loss, INT4 8x smaller at ~1%.

References: Jacob et al., "Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference" (2018) for the zero-point scheme;
Dettmers et al., "LLM.int8()" (2022) for absmax and outliers; Bengio et al.,
"A Neural Probabilistic Language Model" (2003) for the model.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import urllib.request
from operator import mul
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "data" / "names.txt"
CHECKPOINT = ROOT / "tests" / "data" / "microquant" / "model.json"
NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
CACHE_FILE = Path.home() / ".cache" / "no-magic" / "names.txt"

# === INTEGER GRIDS AND ROUNDING ===
#
# A b-bit signed integer holds 2^b codes: [-2^(b-1), 2^(b-1) - 1]. The grid is
# lopsided by one: INT8 is [-128, 127] and INT4 is [-8, 7]. Symmetric (absmax)
# quantization maps the largest |weight| to the top code 2^(b-1) - 1, so it
# never needs the extra negative code; asymmetric (zero-point) quantization
# spreads the data over all 2^b codes and does use it.
#
# Rounding: every function here rounds with round_half_away below (ties go
# away from zero, so quantize(-x) == -quantize(x) for absmax). Python's round()
# sends ties to the even neighbour instead; both round to the nearest integer,
# so either keeps the round-trip error within scale / 2.


def round_half_away(x: float) -> int:
    """Nearest integer to x as a Python int; exact halves go away from zero (2.5 -> 3, -2.5 -> -3)."""
    # Compare the fractional part with 0.5 instead of computing floor(|x| + 0.5):
    # that sum is rounded, so 0.49999999999999994 + 0.5 == 1.0 and would round up.
    # |x| - floor(|x|) is exact in floating point.
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:
        n += 1
    return n if x >= 0 else -n


def int_range(bits):
    """Return (qmin, qmax), the smallest and largest signed ``bits``-bit integer codes.

    INT8: (-128, 127). INT4: (-8, 7). bits must be an int >= 2 (one bit
    leaves no positive code; a bool or a float such as 8.0 is refused);
    raises ValueError naming ``bits`` otherwise.
    """
    # BEGIN SOLUTION
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < 2:
        raise ValueError(f"bits must be an integer >= 2, got {bits!r}")
    # Two's complement: one more negative code than positive ones.
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    # END SOLUTION


# === ABSMAX (SYMMETRIC) QUANTIZATION ===
#
# One scale per tensor:   scale = max_i |w_i| / qmax          (qmax = 2^(b-1) - 1)
# Quantize:               q_i   = clip(round(w_i / scale), qmin, qmax)
# Dequantize:             w'_i  = scale * q_i
# The largest |w| lands exactly on +-qmax, zero lands exactly on code 0, and
# every other weight moves by at most half a grid step: |w - w'| <= scale / 2.
# Intuition: a ruler with 255 (INT8) or 15 (INT4) evenly spaced marks, sized
# so the outermost mark touches the largest weight. One outlier makes the
# marks coarse for everyone; that is what per-channel scales (below) and
# LLM.int8()'s outlier columns fight.
#
# Signpost: with a scale given instead of computed (static quantization,
# where activations are quantized with a scale calibrated on other data, or
# a deliberately clipped scale), values beyond the grid saturate at qmin or
# qmax: the clip is not optional.


def absmax_scale(values, bits):
    """Return the absmax scale of a non-empty list of floats: max |v| / qmax, qmax = 2^(bits-1) - 1.

    The largest |v| then maps to code +-qmax. All-zero input: return 1.0 (any
    positive scale gives codes 0 and an exact round trip; never divide by
    zero). Raises ValueError naming ``values`` when empty, ``bits`` when bad.
    """
    # BEGIN SOLUTION
    _, qmax = int_range(bits)
    if len(values) == 0:
        raise ValueError("values is empty: quantize at least one number")
    largest = max(abs(v) for v in values)
    if largest == 0.0:
        return 1.0
    return largest / qmax
    # END SOLUTION


def quantize(values, scale, bits, zero_point=0):
    """Map floats to integer codes: q = clip(round(v / scale) + zero_point, qmin, qmax).

    values: list of floats; scale: float > 0; zero_point: an int code in
    [qmin, qmax] (0 for absmax). Round to the nearest integer (this file uses
    round_half_away; any nearest rounding passes). Returns a list of Python
    ints, each in [qmin, qmax]; values beyond the grid saturate at qmin or
    qmax. Raises ValueError naming ``scale`` (not a positive finite number),
    ``zero_point`` (not an int in range) or ``bits``.
    """
    # BEGIN SOLUTION
    qmin, qmax = int_range(bits)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if not isinstance(zero_point, int) or isinstance(zero_point, bool) or not qmin <= zero_point <= qmax:
        raise ValueError(f"zero_point must be an int in [{qmin}, {qmax}], got {zero_point!r}")
    # w / scale measures the value in grid steps; + zero_point moves the step
    # count so that float 0.0 sits on code zero_point; the clip saturates.
    return [min(qmax, max(qmin, round_half_away(v / scale) + zero_point)) for v in values]
    # END SOLUTION


def dequantize(codes, scale, zero_point=0):
    """Map integer codes back to floats: v' = scale * (q - zero_point). Returns a list of floats.

    Raises ValueError naming ``scale`` when it is not a positive finite number.
    """
    # BEGIN SOLUTION
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    # Subtract first: (q - zero_point) is the signed number of grid steps from
    # float zero, which is exactly what quantize() measured.
    return [scale * (q - zero_point) for q in codes]
    # END SOLUTION


# === ZERO-POINT (ASYMMETRIC) QUANTIZATION ===
#
# Absmax wastes half the grid on lopsided data: post-ReLU activations are all
# >= 0, so every negative code goes unused. Zero-point quantization maps the
# data's own range [lo, hi] onto all 2^b codes:
#   lo = min(min(v), 0)      hi = max(max(v), 0)      (the range always holds 0)
#   scale      = (hi - lo) / (qmax - qmin)            (2^b - 1 steps)
#   zero_point = qmin - round(lo / scale)             (the code of float 0.0)
# Stretching the range to include 0 keeps zero_point inside [qmin, qmax] and
# makes 0.0 exactly representable: padding, ReLU zeros and masked entries
# survive quantization exactly, which integer kernels rely on. Only an
# all-zero tensor has hi == lo; it gets scale 1.0 (never divide by zero).
# Signpost: PyTorch's MinMaxObserver and TFLite compute exactly these
# parameters; real INT8 matmuls fold the zero-points into a correction term.


def zero_point_params(values, bits):
    """Return (scale, zero_point) that map [min(lo, 0), max(hi, 0)] of ``values`` onto [qmin, qmax].

    scale = (hi - lo) / (qmax - qmin) with lo = min(min(values), 0) and
    hi = max(max(values), 0); zero_point = qmin - round(lo / scale), an int in
    [qmin, qmax] (the code of 0.0). All-zero input: scale 1.0 and zero_point
    from the same formula (no division by zero). Raises ValueError naming
    ``values`` when empty, ``bits`` when bad.
    """
    # BEGIN SOLUTION
    qmin, qmax = int_range(bits)
    if len(values) == 0:
        raise ValueError("values is empty: quantize at least one number")
    lo, hi = min(min(values), 0.0), max(max(values), 0.0)
    scale = (hi - lo) / (qmax - qmin) if hi > lo else 1.0
    # lo / scale lies in [-(qmax - qmin), 0], so zero_point lies in [qmin, qmax];
    # the clip only guards against a last-bit rounding surprise.
    zero_point = min(qmax, max(qmin, qmin - round_half_away(lo / scale)))
    return scale, zero_point
    # END SOLUTION


# === GRANULARITY: PER-TENSOR VS PER-CHANNEL ===
#
# Weight matrices here are stored PyTorch-style, one row per OUTPUT channel:
# y_r = sum_c W[r][c] * x[c]. With one scale s_r per row,
#   y_r = sum_c (s_r * q[r][c]) * x[c] = s_r * sum_c q[r][c] * x[c],
# so the scale factors out of the dot product: an integer kernel multiplies
# integers and applies s_r once per output. Per-column scales would not factor
# out, which is why "channel" means the output row.
# Per-tensor: one scale for the whole matrix, set by its single largest
# weight. Per-channel: each row's scale is set by that row's largest weight,
# never larger than the per-tensor one, so every row's error bound s_r / 2 is
# at most the per-tensor bound. It costs one float32 per row.
# Signpost: GPTQ and AWQ go finer still (groups of 64-128 weights per scale),
# trading more scales for less error at 4 bits and below.


def quantize_matrix(W, bits, per_channel):
    """Absmax-quantize a matrix (list of equal-length rows); return (codes, scales).

    codes: list of rows of Python ints, same shape as W. scales: a list of
    floats, one per row when per_channel (row r dequantizes as scales[r] *
    codes[r][c]), else a list holding the single per-tensor scale. Scales
    follow absmax_scale (an all-zero row gets 1.0). Raises ValueError naming
    ``W`` when it is empty or ragged, ``bits`` when bad.
    """
    # BEGIN SOLUTION
    if not W or not W[0] or any(len(row) != len(W[0]) for row in W):
        raise ValueError("W must be a non-empty matrix of equal-length, non-empty rows")
    # Same absmax recipe either way; only the set of weights that shares a
    # scale changes: one row (per-channel) or every value (per-tensor).
    if per_channel:
        scales = [absmax_scale(row, bits) for row in W]
        codes = [quantize(row, s, bits) for row, s in zip(W, scales)]
        return codes, scales
    scale = absmax_scale([v for row in W for v in row], bits)
    # Still a list, so callers and the size count treat both cases alike.
    return [quantize(row, scale, bits) for row in W], [scale]
    # END SOLUTION


def dequantize_matrix(codes, scales):
    """Floats back from quantize_matrix's (codes, scales): one scale per row, or one for all."""
    per_row = scales if len(scales) == len(codes) else scales * len(codes)
    return [dequantize(row, s) for row, s in zip(codes, per_row)]


# === SIZE ACCOUNTING ===
#
# float32 costs 4 bytes a weight. A b-bit code costs b/8 bytes, packed tightly
# (two INT4 codes share a byte; an odd count leaves half a byte, so round up).
# The scales are float32 too, and they are not free: per-channel adds
# 32 bits per row, i.e. 32 / cols extra bits per weight. For a 4096-wide
# layer that is 0.008 bits; for this file's 8-wide embedding rows it is 4 bits,
# as much as the INT4 code itself. A zero-point is stored as an int32 beside
# each scale. "4x smaller" is the limit for wide rows, not a free lunch.


def float32_bytes(rows, cols):
    """Bytes of a rows x cols float32 tensor."""
    return 4 * rows * cols


def quantized_bytes(rows, cols, bits, per_channel, zero_point=False):
    """Bytes to store a rows x cols tensor quantized to ``bits``, scales included.

    Codes are packed tightly across the whole tensor: ceil(rows * cols * bits
    / 8) bytes. Plus one float32 scale (4 bytes) per row when per_channel, else
    one for the tensor; with zero_point, one int32 zero-point (4 bytes) beside
    each scale. Raises ValueError naming ``rows`` or ``cols`` when not a
    positive int, ``bits`` when bad.
    """
    # BEGIN SOLUTION
    int_range(bits)
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    code_bytes = -(-rows * cols * bits // 8)  # ceiling division: a half-filled byte is still a byte
    # Every scale a dequantizer needs must be stored: one per row or one in all,
    # each a float32, plus an int32 zero-point beside it for asymmetric schemes.
    groups = rows if per_channel else 1
    per_group = 4 + (4 if zero_point else 0)
    return code_bytes + groups * per_group
    # END SOLUTION


# === THE MODEL: A CHARACTER-LEVEL MLP (provided) ===
#
# Bengio et al. (2003) in miniature: the previous CONTEXT characters are
# looked up in an embedding table, concatenated, passed through one tanh
# layer, and projected to logits over the next character.
#   x      = [C[c1], C[c2], C[c3]]                  (CONTEXT * EMBED floats)
#   h      = tanh(W1 x + b1)                        (HIDDEN)
#   logits = W2 h + b2                              (VOCAB)
#   loss   = -log softmax(logits)[next]
# Every tensor is a matrix (biases are 1 x n), so every tensor can go through
# quantize_matrix. It is not a GPT, but its weights behave like one's: bell-
# shaped, mostly small, a few large; the quantization math is identical.
# Training is plain minibatch Adam with gradients written by hand, about ten
# seconds in pure Python; random.Random(42) makes it deterministic.

VOCAB = ".abcdefghijklmnopqrstuvwxyz"  # "." marks both the start and the end of a name
CONTEXT, EMBED, HIDDEN = 3, 8, 32
STEPS, BATCH, LEARNING_RATE, SEED = 1500, 32, 0.01, 42
PARAM_NAMES = ("C", "W1", "b1", "W2", "b2")


def load_names(path=NAMES_FILE):
    """The names in a one-name-per-line file, lowercased, blank lines dropped."""
    return [line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def split_names(names):
    """(train, held_out): every 10th name (index % 10 == 0) is held out; the rest train."""
    return [n for i, n in enumerate(names) if i % 10], [n for i, n in enumerate(names) if i % 10 == 0]


def make_examples(names):
    """(context, target) pairs: each character of name + '.' predicted from the CONTEXT before it."""
    index = {ch: i for i, ch in enumerate(VOCAB)}
    examples = []
    for name in names:
        context = [0] * CONTEXT
        for ch in name + ".":
            if ch not in index:
                break  # a character outside a-z: skip the rest of this name
            examples.append((tuple(context), index[ch]))
            context = context[1:] + [index[ch]]
    return examples


def init_params(rng):
    """Random initial weights: 1/sqrt(fan_in) Gaussians keep tanh out of saturation at step 0."""
    fan_in = CONTEXT * EMBED
    V = len(VOCAB)
    return {
        "C": [[rng.gauss(0, 1) for _ in range(EMBED)] for _ in range(V)],
        "W1": [[rng.gauss(0, 1) / math.sqrt(fan_in) for _ in range(fan_in)] for _ in range(HIDDEN)],
        "b1": [[0.0] * HIDDEN],
        # Small output weights: near-uniform predictions at step 0, loss ~ ln 27.
        "W2": [[rng.gauss(0, 1) * 0.5 / math.sqrt(HIDDEN) for _ in range(HIDDEN)] for _ in range(V)],
        "b2": [[0.0] * V],
    }


def hidden_and_logits(params, context):
    """Forward pass for one context: (embedding x, hidden h, logits)."""
    C, W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    x = [v for token in context for v in C[token]]
    h = [math.tanh(sum(map(mul, row, x)) + b) for row, b in zip(W1, b1[0])]
    logits = [sum(map(mul, row, h)) + b for row, b in zip(W2, b2[0])]
    return x, h, logits


def softmax(logits):
    top = max(logits)  # stable softmax: exp(x - max) <= 1 never overflows
    weights = [math.exp(v - top) for v in logits]
    total = sum(weights)
    return [w / total for w in weights]


def mean_loss(params, examples):
    """Mean next-character cross-entropy (nats) of the model over the examples."""
    total = 0.0
    for context, target in examples:
        probs = softmax(hidden_and_logits(params, context)[2])
        total -= math.log(max(probs[target], 1e-10))  # clipped log: never log(0)
    return total / len(examples)


# Backpropagation by hand, the chain rule from the loss back to the embeddings:
#   d logits = softmax - one_hot(next)          (per example, / batch size)
#   d W2 = d logits h^T      d b2 = d logits    d h = W2^T d logits
#   d pre = d h * (1 - h^2)                     (tanh' = 1 - tanh^2)
#   d W1 = d pre x^T         d b1 = d pre       d x = W1^T d pre
#   d C[token] += the slice of d x that token's embedding filled
# Summed over the batch, each weight gradient is a dot product of two columns
# (one per example), which is how the code below computes it.


def gradients(params, batch):
    """Mean cross-entropy over the batch and its gradient for every parameter (manual backprop)."""
    W1, W2 = params["W1"], params["W2"]
    n = len(batch)
    xs, hs, dlogits, loss = [], [], [], 0.0
    for context, target in batch:
        x, h, logits = hidden_and_logits(params, context)
        probs = softmax(logits)
        loss -= math.log(max(probs[target], 1e-10))
        # d loss / d logits = softmax - one_hot, averaged over the batch.
        d = [p / n for p in probs]
        d[target] -= 1.0 / n
        xs.append(x)
        hs.append(h)
        dlogits.append(d)
    # Batch-level products as dot products of transposed columns: far fewer
    # Python-level loops than an outer product per example.
    d_t, h_t, x_t = list(zip(*dlogits)), list(zip(*hs)), list(zip(*xs))
    W2_t, W1_t = list(zip(*W2)), list(zip(*W1))
    grads = {
        "b2": [[sum(col) for col in d_t]],
        "W2": [[sum(map(mul, dk, hj)) for hj in h_t] for dk in d_t],
    }
    # Through W2 and tanh: d pre = (W2^T dlogits) * (1 - h^2).
    dpre = [[sum(map(mul, d, w)) * (1.0 - hj * hj) for w, hj in zip(W2_t, h)] for d, h in zip(dlogits, hs)]
    dpre_t = list(zip(*dpre))
    grads["b1"] = [[sum(col) for col in dpre_t]]
    grads["W1"] = [[sum(map(mul, dj, xi)) for xi in x_t] for dj in dpre_t]
    # Through W1 into the embedding rows that were looked up.
    dC = [[0.0] * EMBED for _ in VOCAB]
    for dp, (context, _) in zip(dpre, batch):
        dx = [sum(map(mul, dp, w)) for w in W1_t]
        for t, token in enumerate(context):
            row = dC[token]
            for e in range(EMBED):
                row[e] += dx[t * EMBED + e]
    grads["C"] = dC
    return loss / n, grads


def train(names, steps=STEPS, seed=SEED, log=None):
    """Train the MLP on ``names`` with minibatch Adam; deterministic for a given seed and corpus."""
    rng = random.Random(seed)
    params = init_params(rng)
    examples = make_examples(names)
    m = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    v2 = {k: [[0.0] * len(r) for r in v] for k, v in params.items()}
    # One shuffled pass over the examples after another; the same rng drives
    # init and shuffling, so seed + corpus fix every float of the result.
    order = list(range(len(examples)))
    rng.shuffle(order)
    position = 0
    for step in range(1, steps + 1):
        if position + BATCH > len(order):
            rng.shuffle(order)
            position = 0
        batch = [examples[i] for i in order[position:position + BATCH]]
        position += BATCH
        loss, grads = gradients(params, batch)
        # Adam (beta1 0.9, beta2 0.999, eps 1e-8) with a linearly decaying rate:
        # m and v are running means of g and g^2; c1, c2 undo their bias toward
        # 0 in the first steps; each weight moves ~lr regardless of g's scale.
        lr = LEARNING_RATE * (1.0 - (step - 1) / steps)
        c1, c2 = 1.0 - 0.9 ** step, 1.0 - 0.999 ** step
        for key in PARAM_NAMES:
            for p_row, g_row, m_row, v_row in zip(params[key], grads[key], m[key], v2[key]):
                for i, g in enumerate(g_row):
                    m_row[i] = 0.9 * m_row[i] + 0.1 * g
                    v_row[i] = 0.999 * v_row[i] + 0.001 * g * g
                    p_row[i] -= lr * (m_row[i] / c1) / (math.sqrt(v_row[i] / c2) + 1e-8)
        if log and (step % 300 == 0 or step == 1):
            log(f"   step {step:>5}/{steps}  batch loss {loss:.4f}")
    return params


def sample_name(params, rng, limit=20):
    """One name sampled from the model, character by character, until '.'."""
    context, out = [0] * CONTEXT, []
    while len(out) < limit:
        probs = softmax(hidden_and_logits(params, context)[2])
        token = rng.choices(range(len(VOCAB)), weights=probs)[0]
        if token == 0:
            break
        out.append(VOCAB[token])
        context = context[1:] + [token]
    return "".join(out)


# === CHECKPOINT (tests/data/microquant/model.json) ===
#
# The graded tests never train: they load this file, produced by
#   python solutions/microquant/microquant.py --train-checkpoint tests/data/microquant/model.json
# from data/names.txt only (never a download), and a slow test checks that
# running the command again reproduces it.


def make_checkpoint(params):
    """The checkpoint dictionary: how it was made, the config, and every tensor as a list of rows."""
    return {
        "format": "microquant-mlp-v1",
        "command": "python solutions/microquant/microquant.py --train-checkpoint tests/data/microquant/model.json",
        "corpus": "data/names.txt",
        "held_out": "every 10th name of data/names.txt (index % 10 == 0); the model never trained on them",
        "vocab": VOCAB,
        "config": {"context": CONTEXT, "embed": EMBED, "hidden": HIDDEN},
        "training": {"steps": STEPS, "batch": BATCH, "learning_rate": LEARNING_RATE, "seed": SEED, "optimizer": "adam"},
        "layout": "h = tanh(W1 [C[c1] C[c2] C[c3]] + b1); logits = W2 h + b2; rows of W are output channels",
        "params": {k: params[k] for k in PARAM_NAMES},
    }


def write_checkpoint(checkpoint, path):
    """Write JSON with one matrix row per line: small diffs, exact float round trip (repr)."""
    lines = ["{"]
    for key, value in checkpoint.items():
        if key != "params":
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "params": {')
    tensors = list(checkpoint["params"].items())
    for t, (name, rows) in enumerate(tensors):
        lines.append(f"    {json.dumps(name)}: [")
        lines.extend(f"      {json.dumps(row)}{',' if r < len(rows) - 1 else ''}" for r, row in enumerate(rows))
        lines.append("    ]" + ("," if t < len(tensors) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_checkpoint(path=CHECKPOINT):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# === DEMONSTRATION ===


def corpus(offline):
    """Full makemore names (downloaded once, cached outside the repo), else the bundled data/names.txt."""
    if not offline:
        try:
            if not CACHE_FILE.is_file():
                with urllib.request.urlopen(NAMES_URL, timeout=5) as response:
                    text = response.read().decode("utf-8")
                CACHE_FILE.parent.mkdir(parents=True, exist_ok=True)
                CACHE_FILE.write_text(text, encoding="utf-8")
            names = load_names(CACHE_FILE)
            if len(names) > 1000:
                return names, f"{CACHE_FILE} (makemore names)"
        except (OSError, ValueError):
            pass  # offline or a bad download: fall back to the bundled corpus
    return load_names(), "data/names.txt (bundled)"


# The demo quantizes EVERY tensor, biases and embeddings included, and then
# runs the float forward pass on the dequantized weights ("fake quantization"):
# the loss it measures is exactly the loss an integer kernel would see, because
# dequantize(quantize(w)) is the value that kernel effectively multiplies by.


def quantize_params(params, bits, per_channel):
    """Every tensor absmax-quantized and dequantized back (what the model sees after loading)."""
    return {k: dequantize_matrix(*quantize_matrix(W, bits, per_channel)) for k, W in params.items()}


def model_bytes(params, bits=None, per_channel=False, zero_point=False):
    """Bytes of every tensor: float32 when bits is None, else quantized with scales counted."""
    if bits is None:
        return sum(float32_bytes(len(W), len(W[0])) for W in params.values())
    return sum(quantized_bytes(len(W), len(W[0]), bits, per_channel, zero_point) for W in params.values())


def histogram(values, bins=15, width=44):
    lo, hi = min(values), max(values)
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    for b, c in enumerate(counts):
        left = lo + (hi - lo) * b / bins
        print(f"   {left:>+7.3f} {'#' * max(0, round(width * c / max(counts)))} {c}")


def demo_grids():
    print("1. The integer grids, and one vector through absmax and zero-point quantization")
    for bits in (8, 4):
        qmin, qmax = int_range(bits)
        print(f"   INT{bits}: codes [{qmin}, {qmax}], {qmax - qmin + 1} levels; absmax uses [{-qmax}, {qmax}]")
    w = [0.91, -0.42, 0.05, -0.0, 0.33, -1.27, 0.6]
    print(f"   w = {w}")
    for bits in (8, 4):
        s = absmax_scale(w, bits)
        q = quantize(w, s, bits)
        back = dequantize(q, s)
        err = max(abs(a - b) for a, b in zip(w, back))
        print(f"   absmax INT{bits}: scale {s:.5f}  codes {q}  max |err| {err:.4f} <= scale/2 = {s / 2:.4f}")
    relu = [0.0, 0.12, 1.9, 0.7, 0.0, 0.33, 1.05]
    print(f"   post-ReLU a = {relu}")
    for bits in (8, 4):
        s_abs = absmax_scale(relu, bits)
        s, z = zero_point_params(relu, bits)
        q = quantize(relu, s, bits, z)
        err_zp = max(abs(a - b) for a, b in zip(relu, dequantize(q, s, z)))
        err_abs = max(abs(a - b) for a, b in zip(relu, dequantize(quantize(relu, s_abs, bits), s_abs)))
        print(
            f"   INT{bits} absmax scale {s_abs:.4f} (max |err| {err_abs:.4f}) vs zero-point scale {s:.4f},"
            f" zero_point {z}, codes {q} (max |err| {err_zp:.4f})"
        )
    s = 0.1
    print(f"   static scale {s}, INT4: w = [-2.0, -0.79, 0.74, 3.0] -> codes {quantize([-2.0, -0.79, 0.74, 3.0], s, 4)}"
          " (saturates at -8 and 7)\n")


def demo_weights(params):
    W1 = params["W1"]
    flat = [v for row in W1 for v in row]
    print(f"2. Trained weights are bell-shaped around zero: histogram of W1 ({len(W1)} x {len(W1[0])})")
    histogram(flat)
    mean = sum(flat) / len(flat)
    std = math.sqrt(sum((v - mean) ** 2 for v in flat) / len(flat))
    big = max(abs(v) for v in flat)
    print(f"   mean {mean:+.4f}  std {std:.4f}  max |w| {big:.4f} = {big / std:.1f} std: the outliers set the scale\n")


def demo_granularity(params):
    print("3. Per-tensor vs per-channel: mean squared error of each tensor after the round trip")
    print(f"   {'tensor':>6} {'shape':>7} {'row max|w| min..max':>20} {'INT8 tensor':>12} {'INT8 chan':>10}"
          f" {'INT4 tensor':>12} {'INT4 chan':>10}")
    for name, W in params.items():
        row_max = [max(abs(v) for v in row) for row in W]
        errors = []
        for bits in (8, 4):
            for per_channel in (False, True):
                back = dequantize_matrix(*quantize_matrix(W, bits, per_channel))
                n = len(W) * len(W[0])
                errors.append(sum((a - b) ** 2 for r, s in zip(W, back) for a, b in zip(r, s)) / n)
        print(f"   {name:>6} {len(W):>3}x{len(W[0]):<3} {min(row_max):>9.3f}..{max(row_max):<9.3f}"
              f" {errors[0]:>12.2e} {errors[1]:>10.2e} {errors[2]:>12.2e} {errors[3]:>10.2e}")
    print("   (1 x n biases are a single row: per-channel equals per-tensor)\n")


def demo_loss_and_size(params, held_out):
    base = mean_loss(params, held_out)
    fp32 = model_bytes(params)
    n_weights = sum(len(W) * len(W[0]) for W in params.values())
    print(f"4. Held-out loss and size ({len(held_out)} held-out characters, {n_weights} weights, scales counted)")
    print(f"   {'model':<22} {'loss':>7} {'vs fp32':>8} {'bytes':>7} {'smaller':>8} {'bits/weight':>12}  criterion")
    print(f"   {'float32':<22} {base:>7.4f} {'':>8} {fp32:>7,} {'1.00x':>8} {32.0:>12.2f}")
    models = {}
    for bits in (8, 4, 3, 2):
        for per_channel in (False, True):
            q = quantize_params(params, bits, per_channel)
            models[(bits, per_channel)] = q
            loss = mean_loss(q, held_out)
            size = model_bytes(params, bits, per_channel)
            limit = {8: 0.10, 4: 0.25}.get(bits)
            verdict = "" if limit is None else (f"within {limit:.0%}: " + ("yes" if loss <= base * (1 + limit) else "NO"))
            label = f"INT{bits} per-{'channel' if per_channel else 'tensor'}"
            print(f"   {label:<22} {loss:>7.4f} {loss / base - 1:>+8.1%} {size:>7,} {fp32 / size:>7.2f}x"
                  f" {8 * size / n_weights:>12.2f}  {verdict}")
    print("   Per-channel adds a float32 per row: 32/cols bits per weight, a lot for 8-wide rows.")
    print(f"   {'':<3}{'a 4096 x 4096 layer':<28} {'per-tensor':>12} {'per-channel':>12}")
    for bits in (8, 4):
        ratios = [float32_bytes(4096, 4096) / quantized_bytes(4096, 4096, bits, pc) for pc in (False, True)]
        print(f"   INT{bits} smaller by{'':<18} {ratios[0]:>11.6f}x {ratios[1]:>11.6f}x")
    print()
    return models


# Same seed, same sampler: where the quantized model's distribution barely
# moved, the sampled names coincide letter for letter; at INT2 they fall apart.


def demo_samples(params, models):
    print("5. Names sampled with the same random seed from each model")
    for label, p in (("float32", params), ("INT8 per-channel", models[(8, True)]),
                     ("INT4 per-channel", models[(4, True)]), ("INT2 per-channel", models[(2, True)])):
        rng = random.Random(7)
        print(f"   {label:<17} {' '.join(sample_name(p, rng) for _ in range(8))}")
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--train-checkpoint", metavar="PATH",
                        help="train on data/names.txt (never downloads) and write the JSON checkpoint to PATH")
    parser.add_argument("--offline", action="store_true", help="demo: use data/names.txt, do not download")
    args = parser.parse_args(argv)
    random.seed(42)

    if args.train_checkpoint:
        start = time.time()
        train_names, _ = split_names(load_names())
        params = train(train_names, log=print)
        write_checkpoint(make_checkpoint(params), args.train_checkpoint)
        print(f"wrote {args.train_checkpoint} in {time.time() - start:.1f}s")
        return

    demo_grids()
    names, source = corpus(args.offline)
    train_names, held_names = split_names(names)
    print(f"Training the MLP on {len(train_names):,} names from {source} ({STEPS} Adam steps)")
    start = time.time()
    params = train(train_names, log=print)
    print(f"   trained in {time.time() - start:.1f}s\n")
    demo_weights(params)
    demo_granularity(params)
    models = demo_loss_and_size(params, make_examples(held_names))
    demo_samples(params, models)
    print("Quantization stores weights as small integers plus a float scale per tensor or row:\n"
          "INT8 is ~4x smaller at no visible cost, INT4 ~8x smaller at a small one. Real\n"
          "inference kernels keep the integers and multiply them directly; this file\n"
          "dequantizes back to floats to measure the damage.")


if __name__ == "__main__":
    main(sys.argv[1:])
