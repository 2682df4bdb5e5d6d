"""Graded tests for microdecoding: Flash-Decoding (split-KV attention with a log-sum-exp merge).

Expected values come from an independent spec written here (one-query
attention with math.fsum, the obvious way), from closed forms (balanced split
sizes n // s and n // s + 1, 2 * head_dim multiplications per key, the ceiling
occupancy rule) and from properties (the merge is associative, commutative,
has the empty partial as identity). The work is counted by this file's own
CountingOps, handed to the kata in place of its Ops.
"""

import itertools
import math
import random

import pytest

from workbook.checks import assert_close, assert_equal, vector

TOL = 1e-12  # the catalogue's criterion: equal to full attention within 1e-12


# === the grader's own pieces ===


def spec_attention(query, keys, values):
    d = len(query)
    scores = [math.fsum(a * b for a, b in zip(query, k)) / math.sqrt(d) for k in keys]
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = math.fsum(weights)
    return [math.fsum(w * v[c] for w, v in zip(weights, values)) / total for c in range(d)]


def spec_partial(query, keys, values):
    d = len(query)
    scores = [math.fsum(a * b for a, b in zip(query, k)) / math.sqrt(d) for k in keys]
    m = max(scores)
    weights = [math.exp(s - m) for s in scores]
    return m, math.fsum(weights), [math.fsum(w * v[c] for w, v in zip(weights, values)) for c in range(d)]


def spec_sizes(n, s):
    """Balanced sizes by dealing keys out one at a time, round robin (no formula)."""
    sizes = [0] * s
    for j in range(n):
        sizes[j % s] += 1
    return sizes


class CountingOps:
    def __init__(self):
        self.mults = 0

    def dot(self, a, b):
        assert len(a) == len(b)
        self.mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def axpy(self, w, v, acc):
        assert len(v) == len(acc)
        self.mults += len(v)
        return [a + w * x for a, x in zip(acc, v)]


def problem(seed, n, d, scale=1.0):
    rng = random.Random(seed)
    query = vector(rng, d, scale)
    keys = [vector(rng, d, scale) for _ in range(n)]
    values = [vector(rng, d) for _ in range(n)]
    return query, keys, values


def as_partial(p):
    m, l, acc = p
    return [m, l, list(acc)]


def normalised(p):
    return [x / p[1] for x in p[2]]


# === split_bounds ===


@pytest.mark.task("split_bounds")
@pytest.mark.parametrize("n,s", [(1, 1), (7, 1), (7, 7), (37, 5), (37, 36), (100, 7), (13, 4), (9, 3)])
def test_split_bounds_are_balanced_contiguous_ranges(kata, n, s):
    bounds = kata.split_bounds(n, s)
    assert_equal(len(bounds), s, f"len(split_bounds({n}, {s}))")
    expected, start = [], 0
    for size in spec_sizes(n, s):
        expected.append((start, start + size))
        start += size
    assert_equal(
        [tuple(b) for b in bounds], expected, f"split_bounds({n}, {s})",
        hint="the first n % s splits hold one key more; the ranges are contiguous, end exclusive",
    )


@pytest.mark.task("split_bounds")
def test_split_bounds_rejects_bad_arguments(kata):
    for bad in (0, -3, 2.0):
        with pytest.raises(ValueError, match="n_keys"):
            kata.split_bounds(bad, 1)
    for bad in (0, 8, -1, 1.5):
        with pytest.raises(ValueError, match="num_splits"):
            kata.split_bounds(7, bad)


# === partial_attention ===


@pytest.mark.task("partial_attention")
@pytest.mark.parametrize("n,d,scale", [(1, 4, 1.0), (5, 3, 1.0), (11, 4, 2.0), (6, 5, 40.0)])
def test_partial_attention_matches_spec(kata, n, d, scale):
    query, keys, values = problem(n * 31 + d, n, d, scale)
    ops = CountingOps()
    got = kata.partial_attention(query, keys, values, ops)
    assert_close(as_partial(got), as_partial(spec_partial(query, keys, values)), TOL,
                 f"partial_attention(n={n}, d={d}, scale={scale})",
                 hint="m is the max scaled score, l = sum exp(s - m), acc = sum exp(s - m) v (not divided by l)")
    assert_equal(ops.mults, 2 * d * n, f"multiplications counted by partial_attention(n={n}, d={d})",
                 hint="one ops.dot per key (d mults) and one ops.axpy per key (d mults)")


@pytest.mark.task("partial_attention")
def test_partial_attention_survives_huge_scores(kata):
    # Scores around +1e3 overflow a naive exp; around -1e3 every exp underflows to 0.
    for sign in (1.0, -1.0):
        rng = random.Random(7)
        query = [30.0, -30.0, 30.0, 30.0]
        keys = [[sign * rng.uniform(8.0, 9.0) * q / 30.0 for q in query] for _ in range(6)]
        values = [vector(rng, 4) for _ in range(6)]
        got = kata.partial_attention(query, keys, values, CountingOps())
        assert all(math.isfinite(x) for x in [got[0], got[1], *got[2]]), f"non-finite partial {got}"
        assert_close(normalised(as_partial(got)), spec_attention(query, keys, values), 1e-9,
                     f"acc / l of partial_attention with scores near {sign * 1e3:+.0f}",
                     hint="subtract the split's max score before exp")


@pytest.mark.task("partial_attention")
def test_partial_attention_rejects_bad_shapes(kata):
    query, keys, values = problem(1, 3, 4)
    with pytest.raises(ValueError, match="query"):
        kata.partial_attention([], keys, values, CountingOps())
    with pytest.raises(ValueError, match="keys"):
        kata.partial_attention(query, [], [], CountingOps())
    with pytest.raises(ValueError, match="keys"):
        kata.partial_attention(query, [k[:3] for k in keys], values, CountingOps())
    with pytest.raises(ValueError, match="values"):
        kata.partial_attention(query, keys, values[:2], CountingOps())


# === merge_partials ===


def partials_of(query, keys, values, cuts):
    out = []
    for a, b in zip(cuts, cuts[1:]):
        out.append(spec_partial(query, keys[a:b], values[a:b]))
    return out


@pytest.mark.task("merge_partials")
def test_merge_of_two_splits_is_the_partial_of_the_union(kata):
    query, keys, values = problem(3, 13, 5, 3.0)
    a, b = partials_of(query, keys, values, [0, 4, 13])
    got = kata.merge_partials(a, b)
    assert_close(as_partial(got), as_partial(spec_partial(query, keys, values)), TOL,
                 "merge_partials(keys 0..3, keys 4..12)",
                 hint="rescale l AND acc of each side by exp(m_side - max(m_a, m_b))")


@pytest.mark.task("merge_partials")
def test_merge_is_associative_and_order_free(kata):
    query, keys, values = problem(5, 17, 4, 6.0)
    parts = partials_of(query, keys, values, [0, 3, 4, 10, 17])
    whole = normalised(as_partial(spec_partial(query, keys, values)))
    for order in itertools.permutations(range(4)):
        acc = parts[order[0]]
        for i in order[1:]:
            acc = kata.merge_partials(acc, parts[i])
        assert_close(normalised(as_partial(acc)), whole, TOL, f"left-to-right merge in order {order}")
    left = kata.merge_partials(kata.merge_partials(parts[0], parts[1]), kata.merge_partials(parts[2], parts[3]))
    right = kata.merge_partials(parts[0], kata.merge_partials(parts[1], kata.merge_partials(parts[2], parts[3])))
    assert_close(as_partial(left), as_partial(right), TOL, "((a b)(c d)) vs (a (b (c d)))")


@pytest.mark.task("merge_partials")
def test_merge_with_the_empty_partial_is_the_identity(kata):
    query, keys, values = problem(9, 6, 3, 2.0)
    p = spec_partial(query, keys, values)
    empty = (-math.inf, 0.0, [0.0, 0.0, 0.0])
    assert_close(as_partial(kata.merge_partials(empty, p)), as_partial(p), 0.0, "merge_partials(empty, p)")
    assert_close(as_partial(kata.merge_partials(p, empty)), as_partial(p), 0.0, "merge_partials(p, empty)")
    m, l, acc = kata.merge_partials(empty, empty)
    assert m == -math.inf and l == 0.0 and list(acc) == [0.0, 0.0, 0.0], (
        f"merge_partials(empty, empty) gave {(m, l, acc)}, expected the empty partial "
        "(hint: exp(-inf - (-inf)) is NaN; handle two empty sides separately)"
    )


@pytest.mark.task("merge_partials")
def test_merge_far_apart_maxima_and_inputs_unchanged(kata):
    # One split near +1e3, the other near -1e3: the low side's factor underflows to 0, no NaN.
    query = [30.0, 30.0, -30.0, 30.0]
    rng = random.Random(2)
    keys = [[9.0 * q / 30.0 for q in query] for _ in range(3)] + [[-9.0 * q / 30.0 for q in query] for _ in range(4)]
    keys = [[x + rng.uniform(-0.1, 0.1) for x in k] for k in keys]
    values = [vector(rng, 4) for _ in range(7)]
    a, b = partials_of(query, keys, values, [0, 3, 7])
    a_copy, b_copy = as_partial(a), as_partial(b)
    got = kata.merge_partials(b, a)
    assert_close(normalised(as_partial(got)), spec_attention(query, keys, values), 1e-9,
                 "merge_partials(split near -1e3, split near +1e3)")
    assert_equal((as_partial(a), as_partial(b)), (a_copy, b_copy), "merge_partials inputs after the call",
                 hint="return a new tuple; do not rescale the inputs in place")


@pytest.mark.task("merge_partials")
def test_merge_rejects_mismatched_partials(kata):
    # a word-bounded "b": a bare "b" would match almost any message ("must be ...")
    with pytest.raises(ValueError, match=r"\bb\b"):
        kata.merge_partials((0.0, 1.0, [1.0, 2.0]), (0.0, 1.0, [1.0, 2.0, 3.0]))


# === flash_decode ===


@pytest.mark.task("flash_decode")
@pytest.mark.parametrize("n,d", [(1, 4), (37, 4), (29, 3)])
def test_flash_decode_equals_full_attention_for_any_split_count(kata, n, d):
    query, keys, values = problem(n + 100 * d, n, d, 2.5)
    expected = spec_attention(query, keys, values)
    for s in sorted({1, 2, 3, 5, 7, n - 1, n} & set(range(1, n + 1))):
        out, mults = kata.flash_decode(query, keys, values, s)
        assert_close(list(out), expected, TOL, f"flash_decode(n={n}, num_splits={s})",
                     hint="merge the un-normalised partials, then divide by l once at the end")
        assert_equal(list(mults), [2 * d * size for size in spec_sizes(n, s)],
                     f"split_mults of flash_decode(n={n}, num_splits={s})",
                     hint="one fresh Ops per split, ranges from split_bounds")


@pytest.mark.task("flash_decode")
def test_flash_decode_work_is_balanced(kata):
    n, d = 103, 4
    query, keys, values = problem(11, n, d)
    for s in (2, 6, 10, 51, 103):
        _, mults = kata.flash_decode(query, keys, values, s)
        assert_equal(sum(mults), 2 * d * n, f"total mults of flash_decode(n={n}, num_splits={s})")
        assert max(mults) - min(mults) <= 2 * d, (
            f"flash_decode(n={n}, num_splits={s}): per-split work {mults} differs by more than one key")


@pytest.mark.task("flash_decode")
def test_flash_decode_large_logits(kata):
    for seed, scale in ((1, 25.0), (2, -25.0)):
        rng = random.Random(seed)
        query = vector(rng, 4, 25.0)
        # keys aligned with +-query: scores of order +-1e3, and one split holds only the far-negative ones
        keys = [[scale * rng.uniform(0.5, 1.5) * q / 25.0 * 1.6 for q in query] for _ in range(20)]
        values = [vector(rng, 4) for _ in range(20)]
        out, _ = kata.flash_decode(query, keys, values, 6)
        assert_close(list(out), spec_attention(query, keys, values), TOL,
                     f"flash_decode with scores of order {scale * 40:+.0f}",
                     hint="subtract each split's max; rescale by exp(m_split - m), which is <= 1")


@pytest.mark.task("flash_decode")
def test_flash_decode_rejects_bad_arguments(kata):
    query, keys, values = problem(4, 5, 3)
    for bad in (0, 6):
        with pytest.raises(ValueError, match="num_splits"):
            kata.flash_decode(query, keys, values, bad)
    with pytest.raises(ValueError, match="values"):
        kata.flash_decode(query, keys, values[:4], 2)
    with pytest.raises(ValueError, match="query"):
        kata.flash_decode([], keys, values, 2)
    # Shapes no single split can see: one value too many (every split's slice of
    # values still matches its keys) and no keys at all ("n_keys" is not "keys").
    with pytest.raises(ValueError, match=r"\bvalues\b"):
        kata.flash_decode(query, keys, values + [[0.5, -0.5, 1.0]], 2)
    with pytest.raises(ValueError, match=r"\bkeys\b"):
        kata.flash_decode(query, [], [], 1)


# === combine_lse ===


@pytest.mark.task("combine_lse")
def test_combine_lse_equals_full_attention(kata):
    query, keys, values = problem(21, 23, 4, 3.0)
    outputs, lses = [], []
    for m, l, acc in partials_of(query, keys, values, [0, 1, 9, 10, 23]):
        outputs.append([x / l for x in acc])
        lses.append(m + math.log(l))
    got = kata.combine_lse(outputs, lses)
    assert_close(list(got), spec_attention(query, keys, values), TOL, "combine_lse over 4 splits",
                 hint="weight o_i by exp(lse_i - LSE), LSE = log sum exp(lse_i)")


@pytest.mark.task("combine_lse")
def test_combine_lse_is_stable_and_exact_on_hand_values(kata):
    # Two splits with lse 1000 and 1000 + log 3: weights 1/4 and 3/4.
    got = kata.combine_lse([[1.0, 0.0], [0.0, 2.0]], [1000.0, 1000.0 + math.log(3.0)])
    assert_close(list(got), [0.25, 1.5], 1e-12, "combine_lse(lse = 1000, 1000 + log 3)",
                 hint="subtract the max lse before exp")
    got = kata.combine_lse([[4.0], [8.0], [-2.0]], [-1000.0, -1000.0, -2000.0])
    assert_close(list(got), [6.0], 1e-12, "combine_lse(lse = -1000, -1000, -2000)")


@pytest.mark.task("combine_lse")
def test_combine_lse_of_one_split_is_its_output(kata):
    # One split holds all the mass: its weight is exp(lse - LSE) = 1 whatever its lse.
    for lse in (0.0, 1000.0, -1000.0):
        got = kata.combine_lse([[0.25, -3.0, 7.5]], [lse])
        assert_close(list(got), [0.25, -3.0, 7.5], 1e-12, f"combine_lse(one output, lse={lse})",
                     hint="a single split is already the full output; outputs[0] is the only vector there is")


@pytest.mark.task("combine_lse")
def test_combine_lse_rejects_bad_arguments(kata):
    with pytest.raises(ValueError, match="outputs"):
        kata.combine_lse([], [])
    with pytest.raises(ValueError, match="outputs"):
        kata.combine_lse([[1.0], [1.0, 2.0]], [0.0, 0.0])
    with pytest.raises(ValueError, match="lses"):
        kata.combine_lse([[1.0], [2.0]], [0.0])


# === choose_num_splits ===


@pytest.mark.task("choose_num_splits")
@pytest.mark.parametrize(
    "cases",
    # The all-ones edge (answer 1 = batch) is graded together with a case whose answer is not batch.
    [[(1, 4, 108, 4096)], [(1, 4, 108, 10)], [(4, 4, 108, 5000)], [(3, 5, 7, 100)], [(32, 4, 108, 4096)],
     [(1, 1, 1, 1), (1, 1, 5, 3)], [(2, 3, 13, 4)]],
    ids=lambda cases: "+".join("-".join(map(str, case)) for case in cases),
)
def test_choose_num_splits_is_the_smallest_that_fills_the_chip(kata, cases):
    for batch, heads, sms, keys in cases:
        # Spec by search: the smallest s >= 1 with batch * heads * s >= sms, then capped at keys.
        s = 1
        while batch * heads * s < sms:
            s += 1
        expected = min(s, keys)
        assert_equal(kata.choose_num_splits(batch, heads, sms, keys), expected,
                     f"choose_num_splits(batch={batch}, n_heads={heads}, num_sms={sms}, n_keys={keys})",
                     hint="a ceiling, not a floor, of num_sms / (batch * n_heads); at most n_keys")


@pytest.mark.task("choose_num_splits")
def test_choose_num_splits_rejects_bad_arguments(kata):
    good = {"batch": 1, "n_heads": 4, "num_sms": 108, "n_keys": 50}
    for name in good:
        for bad in (0, -2, 1.5):
            with pytest.raises(ValueError, match=name):
                kata.choose_num_splits(**{**good, name: bad})


# === validation, completely: both sides of every bound, NaN, 2.5 and True where an int is documented ===


@pytest.mark.task("split_bounds")
def test_split_bounds_refuses_bools_nan_and_fractions(kata):
    for bad in (2.5, math.nan, True, 1.0):
        with pytest.raises(ValueError, match="n_keys"):
            kata.split_bounds(bad, 1)
        with pytest.raises(ValueError, match="num_splits"):
            kata.split_bounds(1, bad)


@pytest.mark.task("partial_attention")
def test_partial_attention_rejects_every_shape_both_ways(kata):
    query, keys, values = problem(2, 3, 4)  # d = 4, 3 keys
    for args, name in (((query, keys, values + values[:1]), "values"),  # one value too many
                       ((query, keys, values[:1] + [values[1][:3]] + values[2:]), "values"),  # a value too narrow
                       ((query, keys, values[:2] + [values[2] + [0.5]]), "values"),  # a value too wide
                       ((query, keys[:2] + [keys[2] + [0.5]], values), "keys")):  # a key too wide
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            kata.partial_attention(*args, CountingOps())


@pytest.mark.task("merge_partials")
def test_merge_rejects_b_shorter_too(kata):
    with pytest.raises(ValueError, match=r"\bb\b"):
        kata.merge_partials((0.0, 1.0, [1.0, 2.0]), (0.0, 1.0, [1.0]))


@pytest.mark.task("flash_decode")
def test_flash_decode_refuses_every_bad_num_splits(kata):
    query, keys, values = problem(5, 1, 2)  # one key: num_splits = 1 is the only valid count
    for bad in (0, 2, -1, 2.5, math.nan, True, 1.0):
        with pytest.raises(ValueError, match="num_splits"):
            kata.flash_decode(query, keys, values, bad)


@pytest.mark.task("combine_lse")
def test_combine_lse_rejects_lses_too_long(kata):
    with pytest.raises(ValueError, match="lses"):
        kata.combine_lse([[1.0], [2.0]], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="outputs"):
        kata.combine_lse([[1.0, 2.0], [1.0]], [0.0, 0.0])  # the second shorter


@pytest.mark.task("choose_num_splits")
def test_choose_num_splits_refuses_bools_and_nan(kata):
    good = {"batch": 1, "n_heads": 1, "num_sms": 1, "n_keys": 1}
    for name in good:
        for bad in (math.nan, True, 2.0):
            with pytest.raises(ValueError, match=name):
                kata.choose_num_splits(**{**good, name: bad})
