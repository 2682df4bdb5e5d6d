"""Graded tests for microembedding: hashed n-grams, linear encoder, InfoNCE, neighbours.

Expected values come from the independent spec below (FNV-1a and the n-gram
bag written out again, the loss as the mean of 2B cross-entropies computed
with math.fsum), from central finite differences of that spec (every
gradient), from closed forms (loss = log B when all embeddings coincide; the
number of n-grams of a name), or from properties (unit length, one edit per
augmentation, the normalisation gradient is orthogonal to z).

The loss is the SYMMETRIC InfoNCE (CLIP): the mean over the B rows and the B
columns of S = U V^T / T of the cross-entropy whose target is the diagonal.

The checkpoint tests load tests/data/microembedding/encoder.json, trained by
the solution's own code with

    python solutions/microembedding/microembedding.py --train-checkpoint tests/data/microembedding/encoder.json

(data/names.txt only) and check the seed's criteria on it: positive-pair cosine
> 0.8, random-pair cosine < 0.3, neighbours closer in edit distance than
random names. The slow test re-runs the command and checks it reproduces the
file (`pytest -m slow katas/microembedding --solutions`).
"""

import functools
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, call_each, matrix, repeat

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "tests" / "data" / "microembedding" / "encoder.json"
NAMES = ROOT / "data" / "names.txt"
H = 1e-5  # central-difference step
FD_TOL = 1e-6


# === the independent spec ===


def spec_bucket(gram, dim):
    h = 0x811C9DC5
    for byte in gram.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) % (1 << 32)
    return h % dim


def spec_features(name, dim, n_values=(1, 2, 3)):
    text = f"<{name}>"
    out = [0.0] * dim
    for n in n_values:
        for gram in (text[i:i + n] for i in range(len(text) - n + 1)):
            out[spec_bucket(gram, dim)] += 1.0
    return out


def spec_encode(W, x):
    nonzero = [(j, v) for j, v in enumerate(x) if v != 0]
    z = [math.fsum(row[j] * v for j, v in nonzero) for row in W]
    norm = math.sqrt(math.fsum(v * v for v in z))
    return [v / max(norm, 1e-12) for v in z]


def spec_cross_entropy(logits, target):
    top = max(logits)
    return top + math.log(math.fsum(math.exp(x - top) for x in logits)) - logits[target]


def spec_info_nce(U, V, T):
    B = len(U)
    S = [[math.fsum(a * b for a, b in zip(u, v)) / T for v in V] for u in U]
    rows = [spec_cross_entropy(S[i], i) for i in range(B)]
    cols = [spec_cross_entropy([S[j][i] for j in range(B)], i) for i in range(B)]
    return math.fsum(rows + cols) / (2 * B)


def central_difference(f, X, i, j):
    X[i][j] += H
    up = f()
    X[i][j] -= 2 * H
    down = f()
    X[i][j] += H
    return (up - down) / (2 * H)


def edit_distance(a, b):
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return table[-1][-1]


def one_edits(name):
    """Every string one deletion or one adjacent swap away from name."""
    deletions = {name[:i] + name[i + 1:] for i in range(len(name))}
    swaps = {name[:i] + name[i + 1] + name[i] + name[i + 2:] for i in range(len(name) - 1)}
    return deletions, swaps


def unit_rows(rng, rows, cols):
    out = []
    for row in matrix(rng, rows, cols):
        norm = math.sqrt(sum(v * v for v in row))
        out.append([v / norm for v in row])
    return out


@functools.lru_cache(maxsize=None)
def names():
    return tuple(n.strip() for n in NAMES.read_text(encoding="utf-8").splitlines() if n.strip())


@functools.lru_cache(maxsize=None)
def checkpoint():
    return json.loads(CHECKPOINT.read_text(encoding="utf-8"))


# === task 1: hashed n-gram features ===


@pytest.mark.task("ngram_features")
@pytest.mark.parametrize("name,dim", [("anna", 256), ("katherine", 97), ("a", 13), ("", 7), ("zoë", 31), ("xx", 1), ("Anna-Lee", 89)])
def test_features_match_spec(kata, name, dim):
    assert_equal(
        list(kata.ngram_features(name, dim)),
        spec_features(name, dim),
        f"ngram_features({name!r}, {dim})",
        hint="n-grams of '<' + name + '>' for n = 1, 2, 3; each adds 1.0 at bucket(gram, dim)",
    )


@pytest.mark.task("ngram_features")
@pytest.mark.parametrize("n_values", [(2,), (1, 4), (3, 5, 9)])
def test_features_count_every_ngram(kata, n_values):
    name = "christopher"
    features = kata.ngram_features(name, 61, n_values)
    expected_total = sum(max(0, len(name) + 2 - n + 1) for n in n_values)
    assert_close(sum(features), float(expected_total), 0.0, f"sum(ngram_features({name!r}, 61, {n_values}))",
                 hint="a text of length L has L - n + 1 n-grams (none when n > L); the markers count in L")
    assert_equal(list(features), spec_features(name, 61, n_values), f"ngram_features({name!r}, 61, {n_values})")


@pytest.mark.task("ngram_features")
@pytest.mark.parametrize("dim,n_values,argument",
                         [(0, (1, 2), "dim"), (-4, (1,), "dim"), (2.5, (1,), "dim"), (8.0, (1,), "dim"), (True, (1,), "dim"),
                          (float("nan"), (1,), "dim"), (8, (), "n_values"), (8, (0, 2), "n_values"), (8, (2, -1), "n_values")],
                         ids=["dim-0", "dim-negative", "dim-float", "dim-8.0", "dim-bool", "dim-nan", "n-empty", "n-zero",
                              "n-negative-last"])
def test_features_reject_bad_arguments(kata, dim, n_values, argument):
    with pytest.raises(ValueError, match=argument):
        kata.ngram_features("anna", dim, n_values)


# === task 2: the encoder ===


@pytest.mark.task("encode")
@pytest.mark.parametrize("seed,E,D", [(0, 3, 5), (1, 7, 11), (2, 1, 4), (3, 16, 37)])
def test_encode_matches_spec(kata, seed, E, D):
    rng = random.Random(seed)
    W = matrix(rng, E, D)
    x = [float(rng.choice([0, 0, 1, 2, 3])) for _ in range(D)]
    x[rng.randrange(D)] = 1.0
    got = kata.encode(W, x)
    assert_close(got, spec_encode(W, x), 1e-12, f"encode(W {E}x{D}, x)", hint="z = W x, then divide by ||z||")
    assert_close(math.sqrt(sum(v * v for v in got)), 1.0, 1e-12, f"||encode(W {E}x{D}, x)||")


@pytest.mark.task("encode")
def test_encode_of_a_short_vector_is_still_unit_length(kata):
    W = [[1e-3, -2e-3, 0.5e-3], [2e-3, 1e-3, -1e-3]]  # ||W x|| is about 0.005: below 1, far above the 1e-12 clip
    x = [1.0, 2.0, 1.0]
    got = kata.encode(W, x)
    assert_close(got, spec_encode(W, x), 1e-12, "encode(W with entries ~1e-3, x)",
                 hint="divide by ||z|| itself; the clip at 1e-12 only guards the zero vector")


@pytest.mark.task("encode")
def test_encode_zero_vector(kata):
    assert_close(kata.encode([[1.0, 2.0], [3.0, -1.0]], [0.0, 0.0]), [0.0, 0.0], 0.0, "encode(W, zero features)",
                 hint="clip the norm at 1e-12 instead of dividing by 0")


@pytest.mark.task("encode")
def test_encode_rejects_mismatched_features(kata):
    with pytest.raises(ValueError, match="features"):
        kata.encode([[1.0, 2.0, 3.0]], [1.0, 2.0])


# === task 3: augmentation ===


@pytest.mark.task("augment")
def test_augment_makes_exactly_one_edit(kata):
    rng = random.Random(3)
    name = "katherine"
    deletions, swaps = one_edits(name)
    seen_deleted, seen_swapped = set(), set()
    for out in repeat(kata.augment, 300, name, rng):
        if out in deletions:
            seen_deleted.add(out)
        elif out in swaps:
            seen_swapped.add(out)
        else:
            raise Mismatch(f"augment({name!r}) returned {out!r}: not one deletion or one adjacent swap away")
    assert_equal(seen_deleted, deletions, "distinct deletions seen in 300 augment('katherine') calls",
                 hint="delete at a uniform position in 0 .. len - 1")
    assert_equal(seen_swapped, swaps, "distinct adjacent swaps seen in 300 augment('katherine') calls",
                 hint="swap positions i and i + 1 for a uniform i in 0 .. len - 2")


@pytest.mark.task("augment")
def test_augment_uses_only_its_rng(kata):
    random.seed(1234)
    expected_global = random.random()
    random.seed(1234)
    fresh = [kata.augment("elizabeth", random.Random(9)) for _ in range(5)]
    assert_equal(random.random(), expected_global, "the global random state after augment",
                 hint="draw from the rng argument, never from the random module")
    assert_equal(fresh, [fresh[0]] * 5, "augment('elizabeth') with five fresh Random(9)")
    deletions, swaps = one_edits("elizabeth")
    if fresh[0] not in deletions | swaps:
        raise Mismatch(f"augment('elizabeth', Random(9)) returned {fresh[0]!r}: not one deletion or one adjacent swap away")
    rng_a, rng_b = random.Random(21), random.Random(21)
    stream = [kata.augment("brandon", rng_a) for _ in range(12)]
    assert_equal(stream, [kata.augment("brandon", rng_b) for _ in range(12)], "augment with two Random(21) streams")
    deletions, swaps = one_edits("brandon")
    assert_equal([out for out in stream if out not in deletions | swaps], [],
                 "augment('brandon') results that are not one edit away")


@pytest.mark.task("augment")
def test_augment_edits_two_character_names(kata):
    # 2 characters is not "shorter than 2": "ab" must come back as "a", "b" or "ba"
    rng = random.Random(17)
    outs = set(repeat(kata.augment, 40, "ab", rng))
    assert_equal(outs - {"a", "b", "ba"}, set(), "augment('ab') results that are not one edit away",
                 hint="only names SHORTER than 2 characters come back unchanged")


@pytest.mark.task("augment")
@pytest.mark.parametrize("name", ["", "a"])
def test_augment_leaves_short_names(kata, name):
    assert_equal(kata.augment(name, random.Random(0)), name, f"augment({name!r})")
    longer = name + "xy"  # one more character than the short ones: now it must change
    assert_equal(kata.augment(longer, random.Random(0)) in {longer[:i] + longer[i + 1:] for i in range(len(longer))}
                 | {longer[:i] + longer[i + 1] + longer[i] + longer[i + 2:] for i in range(len(longer) - 1)},
                 True, f"augment({longer!r}) is one edit away", hint="only names SHORTER than 2 characters stay")


@pytest.mark.task("augment")
def test_augment_chooses_edit_and_position_uniformly(kata):
    # "abcdefgh": 8 deletions (1/2 x 1/8 each) and 7 swaps (1/2 x 1/7 each), all distinct strings.
    # Each count must lie within 5 binomial standard deviations of its mean: per category the
    # chance a correct augment fails is 5.7e-7, for all 15 together < 1e-5 (seed fixed: deterministic).
    name, n = "abcdefgh", 4000
    deletions, swaps = one_edits(name)
    probability = {**{d: 1 / 16 for d in deletions}, **{s: 1 / 14 for s in swaps}}
    rng = random.Random(2024)
    counts = {}
    for out in repeat(kata.augment, n, name, rng):
        if out not in probability:
            raise Mismatch(f"augment({name!r}) returned {out!r}: not one deletion or one adjacent swap away")
        counts[out] = counts.get(out, 0) + 1
    for out, p in sorted(probability.items()):
        mean, sd = n * p, math.sqrt(n * p * (1 - p))
        got = counts.get(out, 0)
        if abs(got - mean) > 5 * sd:
            kind = "deletion" if out in deletions else "swap"
            raise Mismatch(f"augment({name!r}) gave the {kind} {out!r} {got} times in {n} calls; expected "
                           f"{mean:.0f} +- {5 * sd:.0f} (probability {p:.4f}: delete or swap with 1/2 each, "
                           "then a uniform position among those that edit)")


# === task 4: InfoNCE ===


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("seed,B,E,T", [(0, 2, 3, 0.5), (1, 5, 4, 0.1), (2, 7, 2, 1.0), (3, 3, 9, 0.07)])
def test_info_nce_matches_spec(kata, seed, B, E, T):
    rng = random.Random(seed)
    U, V = matrix(rng, B, E), matrix(rng, B, E)
    assert_close(kata.info_nce(U, V, T), spec_info_nce(U, V, T), 1e-9, f"info_nce(B={B}, E={E}, T={T})",
                 hint="mean of 2B cross-entropies: each row of S = U V^T / T and each column, target on the diagonal")


@pytest.mark.task("info_nce")
def test_info_nce_is_symmetric_in_both_directions(kata):
    rng = random.Random(8)
    U, V = matrix(rng, 4, 3), matrix(rng, 4, 3)
    U[0] = [5 * v for v in U[0]]  # make rows and columns disagree
    assert_close(kata.info_nce(U, V, 0.3), spec_info_nce(U, V, 0.3), 1e-9, "info_nce with one long row of U",
                 hint="average the row-wise (U -> V) and the column-wise (V -> U) cross-entropies")
    assert_close(kata.info_nce(V, U, 0.3), kata.info_nce(U, V, 0.3), 1e-12, "info_nce(V, U) vs info_nce(U, V)")


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("B,T", [(2, 0.5), (5, 0.05), (9, 1e-3)])
def test_info_nce_is_log_b_when_embeddings_coincide(kata, B, T):
    row = unit_rows(random.Random(B), 1, 4)[0]
    U = [list(row) for _ in range(B)]
    assert_close(kata.info_nce(U, [list(r) for r in U], T), math.log(B), 1e-9,
                 f"info_nce of {B} identical embeddings (T={T})", hint="all logits equal: every softmax is uniform, 1/B")


@pytest.mark.task("info_nce")
def test_info_nce_survives_large_logits(kata):
    rng = random.Random(12)
    U, V = matrix(rng, 6, 3, scale=30.0), matrix(rng, 6, 3, scale=30.0)
    V[2] = [-30.0, -30.0, -30.0]  # a column of scores far below zero
    S = [[sum(a * b for a, b in zip(u, v)) / 0.5 for v in V] for u in U]
    assert max(max(r) - min(r) for r in S) > 3000 and max(max(c) - min(c) for c in zip(*S)) > 3000  # the fixture
    got = kata.info_nce(U, V, 0.5)  # |logits| up to 3.5e3; rows and columns spread over more than 3e3
    assert_close(got, spec_info_nce(U, V, 0.5), 1e-6, "info_nce with logits up to 3.5e3 (spread > 3e3 per row)",
                 hint="subtract the max before exp (stable log-sum-exp)")


BAD_BATCHES = [("T0", "temperature"), ("Tneg", "temperature"), ("Tnan", "temperature"), ("B1", "U"), ("B0", "U"),
               ("rows", "V"), ("width", "V")]
BAD_BATCH_IDS = ["temperature-0", "temperature-negative", "temperature-nan", "batch-1", "batch-0", "V-rows", "V-width"]


def bad_batch(case):
    """A 2 x 2 batch with one argument made invalid: returns (U, V, T)."""
    U, V, T = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], 0.5
    if case == "T0":
        T = 0.0
    elif case == "Tneg":
        T = -0.2
    elif case == "Tnan":
        T = float("nan")
    elif case == "B1":
        U, V = U[:1], V[:1]
    elif case == "B0":
        U, V = [], []
    elif case == "rows":
        V = V + [[0.5, 0.5]]
    else:
        V = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    return U, V, T


@pytest.mark.task("info_nce")
@pytest.mark.parametrize("case,argument", BAD_BATCHES, ids=BAD_BATCH_IDS)
def test_info_nce_rejects_bad_arguments(kata, case, argument):
    U, V, T = bad_batch(case)
    with pytest.raises(ValueError, match=argument):
        kata.info_nce(U, V, T)


# === task 5: its gradient ===


@pytest.mark.task("info_nce_grad")
@pytest.mark.parametrize("seed,B,E,T", [(0, 2, 2, 0.5), (1, 4, 3, 0.2), (2, 5, 5, 1.3)])
def test_info_nce_grad_matches_finite_differences(kata, seed, B, E, T):
    rng = random.Random(40 + seed)
    U, V = matrix(rng, B, E), matrix(rng, B, E)
    dU, dV = kata.info_nce_grad([list(r) for r in U], [list(r) for r in V], T)
    loss = lambda: spec_info_nce(U, V, T)
    assert_close(dU, [[central_difference(loss, U, i, e) for e in range(E)] for i in range(B)], FD_TOL,
                 f"dU of info_nce(B={B}, E={E}, T={T})",
                 hint="dL/dS = (softmax over rows + softmax over columns - 2 I) / 2B; dU = dS V / T")
    assert_close(dV, [[central_difference(loss, V, j, e) for e in range(E)] for j in range(B)], FD_TOL,
                 f"dV of info_nce(B={B}, E={E}, T={T})", hint="dV = dS^T U / T")


@pytest.mark.task("info_nce_grad")
def test_info_nce_grad_is_finite_for_large_logits(kata):
    rng = random.Random(13)
    U, V = matrix(rng, 4, 2, scale=25.0), matrix(rng, 4, 2, scale=25.0)
    U[1], V[3] = [24.0, -24.0], [-23.0, 23.0]  # S[1][3] = -2208: row 1 and column 3 spread over more than 2e3
    S = [[sum(a * b for a, b in zip(u, v)) / 0.5 for v in V] for u in U]
    assert max(abs(x) for r in S for x in r) > 2000 and max(max(r) - min(r) for r in S) > 2000  # the fixture
    dU, dV = kata.info_nce_grad(U, V, 0.5)
    loss = lambda: spec_info_nce(U, V, 0.5)
    expected = [[central_difference(loss, U, i, e) for e in range(2)] for i in range(4)]
    assert_close(dU, expected, 1e-3, "dU of info_nce with logits down to -2.2e3 (spread > 2e3 in a row)",
                 hint="stable softmax: subtract each row's (and each column's) max before exp")
    expected = [[central_difference(loss, V, j, e) for e in range(2)] for j in range(4)]
    assert_close(dV, expected, 1e-3, "dV of info_nce with logits down to -2.2e3", hint="stable softmax over columns")
    assert all(math.isfinite(v) for row in dV for v in row), "dV has a non-finite entry"


@pytest.mark.task("info_nce_grad")
@pytest.mark.parametrize("case,argument", BAD_BATCHES, ids=BAD_BATCH_IDS)
def test_info_nce_grad_rejects_bad_arguments(kata, case, argument):
    U, V, T = bad_batch(case)
    with pytest.raises(ValueError, match=argument):  # the docstring: same ValueErrors as info_nce
        kata.info_nce_grad(U, V, T)


# === task 6: backward through the normalisation ===


@pytest.mark.task("normalize_backward")
@pytest.mark.parametrize("seed,E", [(0, 1), (1, 3), (2, 8)])
def test_normalize_backward_matches_finite_differences(kata, seed, E):
    rng = random.Random(60 + seed)
    z = [v * 3 for v in matrix(rng, 1, E)[0]]
    g = matrix(rng, 1, E)[0]
    got = kata.normalize_backward(list(z), list(g))
    Z = [z]
    loss = lambda: math.fsum(a * b for a, b in zip(spec_encode([[1.0 if r == c else 0.0 for c in range(E)] for r in range(E)], Z[0]), g))
    assert_close(got, [central_difference(loss, Z, 0, e) for e in range(E)], FD_TOL, f"normalize_backward(z, g), E={E}",
                 hint="dL/dz = (g - e (e . g)) / ||z|| with e = z / ||z||")
    assert_close(math.fsum(a * b for a, b in zip(got, z)), 0.0, 1e-12, "dot(normalize_backward(z, g), z)",
                 hint="stretching z does not move z / ||z||: no gradient along z")


@pytest.mark.task("normalize_backward")
def test_normalize_backward_rejects_zero(kata):
    with pytest.raises(ValueError, match="z"):
        kata.normalize_backward([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])


# === task 7: the whole backward pass ===


def batch_features(rng, B, D):
    def one():
        x = [float(rng.choice([0, 0, 0, 1, 2])) for _ in range(D)]
        x[rng.randrange(D)] += 1.0
        return x
    return [one() for _ in range(B)], [one() for _ in range(B)]


@pytest.mark.task("loss_and_grad")
@pytest.mark.parametrize("seed,B,E,D,T", [(0, 2, 2, 3, 0.5), (1, 3, 4, 7, 0.2), (2, 5, 3, 6, 1.0)])
def test_loss_and_grad_matches_finite_differences(kata, seed, B, E, D, T):
    rng = random.Random(80 + seed)
    W = matrix(rng, E, D)
    fa, fb = batch_features(rng, B, D)
    loss = lambda: spec_info_nce([spec_encode(W, x) for x in fa], [spec_encode(W, x) for x in fb], T)
    got_loss, dW = kata.loss_and_grad([list(r) for r in W], fa, fb, T)
    assert_close(got_loss, loss(), 1e-9, f"loss of loss_and_grad(B={B}, E={E}, D={D})",
                 hint="encode every feature vector with W (U from feats_a, V from feats_b), then info_nce")
    assert_close(dW, [[central_difference(loss, W, k, j) for j in range(D)] for k in range(E)], FD_TOL,
                 f"dW of loss_and_grad(B={B}, E={E}, D={D})",
                 hint="chain info_nce_grad -> normalize_backward -> dW += dz x^T, for BOTH views")


@pytest.mark.task("loss_and_grad")
def test_loss_and_grad_with_one_embedding_dimension(kata):
    """E = 1: every embedding is +-1, so the loss is fixed by signs and its gradient in W is 0."""
    W = [[0.5, -0.2, 0.1]]
    fa, fb = [[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]], [[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    loss, dW = kata.loss_and_grad([list(r) for r in W], fa, fb, 0.5)
    expected = spec_info_nce([spec_encode(W, x) for x in fa], [spec_encode(W, x) for x in fb], 0.5)
    assert_close(loss, expected, 1e-12, "loss of loss_and_grad(W 1x3)", hint="W has E rows of D entries: D = len(W[0])")
    assert_close(dW, [[0.0, 0.0, 0.0]], 1e-12, "dW of loss_and_grad(W 1x3): a 1-d unit vector cannot turn",
                 hint="dW has E rows of D entries, like W")


@pytest.mark.task("loss_and_grad")
def test_loss_and_grad_does_not_mutate_w(kata):
    rng = random.Random(5)
    W = matrix(rng, 3, 4)
    copy = [list(r) for r in W]
    fa, fb = batch_features(rng, 3, 4)
    loss, _ = kata.loss_and_grad(W, fa, fb, 0.5)
    assert_equal(W, copy, "W after loss_and_grad")
    expected = spec_info_nce([spec_encode(copy, x) for x in fa], [spec_encode(copy, x) for x in fb], 0.5)
    assert_close(loss, expected, 1e-9, "loss of loss_and_grad(W 3x4)", hint="encode both views with W, then info_nce")


@pytest.mark.task("loss_and_grad")
@pytest.mark.parametrize("argument", ["temperature", "features"])
def test_loss_and_grad_rejects_bad_arguments(kata, argument):
    W = [[1.0, 0.5, 0.0], [0.0, 1.0, 2.0]]
    fa, fb = [[1.0, 0.0, 1.0], [0.0, 2.0, 1.0]], [[1.0, 1.0, 0.0], [2.0, 0.0, 1.0]]
    with pytest.raises(ValueError, match=argument):
        if argument == "temperature":
            kata.loss_and_grad(W, fa, fb, -1.0)
        else:
            kata.loss_and_grad(W, fa, [[1.0, 1.0], [2.0, 0.0]], 0.5)


# === task 8: nearest neighbours ===


def spec_neighbours(query, rows, k):
    def cos(a, b):
        na, nb = math.sqrt(math.fsum(x * x for x in a)), math.sqrt(math.fsum(x * x for x in b))
        return 0.0 if na == 0 or nb == 0 else math.fsum(x * y for x, y in zip(a, b)) / (na * nb)
    return sorted(range(len(rows)), key=lambda i: (-cos(query, rows[i]), i))[:k]


@pytest.mark.task("nearest_neighbours")
@pytest.mark.parametrize("seed,N,k", [(0, 7, 3), (1, 13, 1), (2, 5, 9), (3, 11, 11)])
def test_nearest_neighbours_match_spec(kata, seed, N, k):
    rng = random.Random(90 + seed)
    rows = matrix(rng, N, 4)
    rows[rng.randrange(N)] = [v * 7 for v in matrix(rng, 1, 4)[0]]  # a long vector: cosine, not dot product
    query = matrix(rng, 1, 4)[0]
    assert_equal(list(kata.nearest_neighbours(query, rows, k)), spec_neighbours(query, rows, k),
                 f"nearest_neighbours(N={N}, k={k})", hint="rank by cosine similarity, largest first; k may exceed N")


@pytest.mark.task("nearest_neighbours")
def test_nearest_neighbours_tie_rule(kata):
    rows = [[0.0, 1.0], [2.0, 0.0], [1.0, 0.0], [0.0, 0.0], [3.0, 0.0], [-1.0, 0.0]]
    assert_equal(list(kata.nearest_neighbours([1.0, 0.0], rows, 4)), [1, 2, 4, 0],
                 "nearest_neighbours([1, 0], rows with three exact ties)",
                 hint="equal cosines go to the smaller index; a zero vector has cosine 0")


@pytest.mark.task("nearest_neighbours")
@pytest.mark.parametrize("k,argument", [(0, "k"), (-1, "k"), (1.5, "k"), (True, "k"), (2.0, "k"), (2, "embeddings")])
def test_nearest_neighbours_reject_bad_arguments(kata, k, argument):
    rows = [[1.0, 0.0], [0.0, 1.0]] if argument == "k" else [[1.0, 0.0], [0.0, 1.0, 0.0]]
    with pytest.raises(ValueError, match=argument):
        kata.nearest_neighbours([1.0, 0.0], rows, k)


# === the shipped checkpoint: the seed's success criteria ===


def spec_augment(name, rng):
    if len(name) < 2:
        return name
    if rng.random() < 0.5:
        i = rng.randrange(len(name))
        return name[:i] + name[i + 1:]
    i = rng.randrange(len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


def kata_embed_each(kata, W, names):
    """``[kata.encode(W, kata.ngram_features(n, D)) for n in names]``: two batches (the 16 x 256 W crosses once)."""
    features = call_each(kata.ngram_features, [(n, len(W[0])) for n in names])
    return call_each(kata.encode, [(W, x) for x in features])


@pytest.mark.task("encode")
def test_checkpoint_positive_pairs_are_close_and_random_pairs_far(kata):
    W = checkpoint()["W"]
    rng = random.Random(2024)
    sample = rng.sample(names(), 120)
    views = [spec_augment(n, rng) for n in sample for _ in range(2)]  # two random views of each name
    got = kata_embed_each(kata, W, views + sample)
    positive = [math.fsum(a * b for a, b in zip(got[2 * i], got[2 * i + 1])) for i in range(len(sample))]
    embedded = got[len(views):]
    pairs = [rng.sample(range(len(sample)), 2) for _ in range(300)]
    negative = [math.fsum(a * b for a, b in zip(embedded[i], embedded[j])) for i, j in pairs]
    pos, neg = math.fsum(positive) / len(positive), math.fsum(negative) / len(negative)
    if not (pos > 0.8 and neg < 0.3):
        raise Mismatch(f"checkpoint: mean positive-pair cosine {pos:.3f} (needs > 0.8), random-pair {neg:.3f} (needs < 0.3)"
                       "\n  hint: check ngram_features and encode against their tests first")


@pytest.mark.task("nearest_neighbours")
def test_checkpoint_neighbours_are_closer_in_edit_distance(kata):
    W = checkpoint()["W"]
    pool = list(names()[::11])
    table = [spec_encode(W, spec_features(n, len(W[0]))) for n in pool]
    rng = random.Random(31)
    near, far = [], []
    queries = rng.sample(range(len(pool)), 40)
    found = call_each(kata.nearest_neighbours, [(table[q], table[:q] + table[q + 1:], 1) for q in queries])
    for q, nearest in zip(queries, found):
        best = nearest[0]
        best += best >= q  # index back into pool
        near.append(edit_distance(pool[q], pool[best]))
        far.append(edit_distance(pool[q], pool[rng.randrange(len(pool))]))
    if not sum(near) < 0.85 * sum(far):
        raise Mismatch(f"checkpoint: mean edit distance to the nearest neighbour {sum(near) / 40:.2f} is not clearly"
                       f" below the random-name distance {sum(far) / 40:.2f}")


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.task("loss_and_grad")
def test_regenerated_checkpoint_reproduces_the_shipped_one(kata, tmp_path):
    out = tmp_path / "encoder.json"
    done = subprocess.run([sys.executable, kata.__file__, "--train-checkpoint", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, f"--train-checkpoint failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    fresh, shipped = json.loads(out.read_text()), checkpoint()
    assert_equal({k: v for k, v in fresh.items() if k != "W"}, {k: v for k, v in shipped.items() if k != "W"},
                 "checkpoint metadata")
    assert_close(fresh["W"], shipped["W"], 1e-6, "regenerated W")
