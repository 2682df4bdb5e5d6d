"""Graded tests for microspeculative: window arithmetic, exact losslessness, Medusa trees, EAGLE drafts.

Expected values come from pieces written here: the geometric sum
1 + a + ... + a^g and the exact truncated-geometric distribution of tokens
per round; brute-force maximisation of the speed-up; an exact enumeration
of one draft/verify round over every draft on a tiny vocabulary, completed
with target sampling and compared with the target's joint distribution; a
naive transformer (math.fsum) run separately on every tree path; ancestor
sets by walking parents; and an independent feature-level recursion for the
EAGLE draft. Statistical checks use seeded generators and state their
interval (4 or 5 standard errors).
"""

import copy
import itertools
import math
import random

import pytest

from workbook.checks import Mismatch, Table, assert_close, assert_equal, repeat

TOL = 1e-12


# === small helpers ===


def dist(rng, vocab, zeros=()):
    w = [0.0 if i in zeros else rng.random() ** 2 + 0.01 for i in range(vocab)]
    total = math.fsum(w)
    return [x / total for x in w]


def tables(seed, vocab, zeros_p=(), zeros_q=()):
    """Context-dependent target and draft: the distribution depends on the last token (-1 = none)."""
    rng = random.Random(seed)
    p = {c: dist(rng, vocab, zeros_p if c % 2 else ()) for c in range(-1, vocab)}
    q = {c: dist(rng, vocab, zeros_q if c % 2 == 0 else ()) for c in range(-1, vocab)}
    return p, q


def geometric_sum(a, g):
    return math.fsum(a ** i for i in range(g + 1))


def round_distribution(a, g):
    """P(tokens in one round = k + 1) under the coin model."""
    return [a ** k * (1 - a) for k in range(g)] + [a ** g]


# === expected_tokens_per_verify ===


@pytest.mark.task("expected_tokens_per_verify")
@pytest.mark.parametrize("a,g", [(0.0, 1), (0.0, 5), (0.3, 1), (0.7, 3), (0.85, 7), (0.999, 4), (1.0, 1), (1.0, 6)])
def test_expected_tokens_is_the_geometric_sum(kata, a, g):
    got = kata.expected_tokens_per_verify(a, g)
    assert_close(got, geometric_sum(a, g), 1e-12, f"expected_tokens_per_verify(alpha={a}, gamma={g})",
                 hint="(1 - a^(g+1)) / (1 - a): the exponent is g + 1, and a = 1 gives g + 1")
    mean = math.fsum((k + 1) * pk for k, pk in enumerate(round_distribution(a, g)))
    assert_close(got, mean, 1e-12, f"expected_tokens_per_verify({a}, {g}) vs the mean of the round distribution")


@pytest.mark.task("expected_tokens_per_verify")
def test_expected_tokens_rejects_bad_arguments(kata):
    for bad in (-0.1, 1.5, -1e-300, 1 + 1e-12, math.nan, None):
        with pytest.raises(ValueError, match="alpha"):
            kata.expected_tokens_per_verify(bad, 3)
    for bad in (0, -1, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="gamma"):
            kata.expected_tokens_per_verify(0.5, bad)
        with pytest.raises(ValueError, match="gamma"):  # alpha = 1 has a closed form g + 1: validate first
            kata.expected_tokens_per_verify(1.0, bad)


# === estimate_acceptance ===


@pytest.mark.task("estimate_acceptance")
def test_estimate_acceptance_on_hand_counts(kata):
    cases = [([3, 3, 3], 3, 1.0), ([0, 0], 4, 0.0), ([1, 2, 0, 3], 3, 6 / 9), ([2], 5, 2 / 3), ([4, 4, 1], 4, 9 / 10),
             ([1, 0, 1, 1], 1, 3 / 4)]
    for counts, g, expected in cases:
        assert_close(kata.estimate_acceptance(counts, g), expected, 1e-12,
                     f"estimate_acceptance({counts}, gamma={g})",
                     hint="A / (A + R): R counts only rounds that ended in a rejection (k < gamma)")


@pytest.mark.task("estimate_acceptance")
def test_estimate_acceptance_maximises_the_likelihood(kata):
    rng = random.Random(3)
    g = 4
    counts = [min(g, int(math.log(rng.random()) / math.log(0.7))) for _ in range(300)]
    a_hat = kata.estimate_acceptance(counts, g)

    def loglik(a):
        return math.fsum(math.log(a) * k + (math.log(1 - a) if k < g else 0.0) for k in counts)

    for other in (a_hat - 0.01, a_hat + 0.01, a_hat - 0.1, a_hat + 0.1):
        if 0 < other < 1:
            assert loglik(a_hat) >= loglik(other), f"a_hat = {a_hat} is not the maximum-likelihood estimate"


@pytest.mark.task("estimate_acceptance")
def test_estimate_acceptance_rejects_bad_arguments(kata):
    for gamma in (0, -1, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="gamma"):
            kata.estimate_acceptance([1], gamma)
    for bad in ([], [1, 4], [-1], [1.5], [True], [math.nan], None):
        with pytest.raises(ValueError, match="accepted_counts"):
            kata.estimate_acceptance(bad, 3)


# === best_gamma ===


@pytest.mark.task("best_gamma")
@pytest.mark.parametrize("a,c,m", [(0.6, 0.1, 12), (0.8, 0.05, 20), (0.9, 0.3, 10), (0.3, 0.5, 8), (0.95, 0.01, 7),
                                   (0.8, 0.0, 5), (0.3, 0.1, 6)])
def test_best_gamma_matches_brute_force(kata, a, c, m):
    speedups = [1.0] + [geometric_sum(a, g) / (g * c + 1) for g in range(1, m + 1)]
    best = max(range(m + 1), key=lambda g: (speedups[g], -g))
    g, s = kata.best_gamma(a, c, m)
    assert_equal(g, best, f"best_gamma(alpha={a}, cost_ratio={c}, max_gamma={m})",
                 hint="speed-up = E(a, g) / (g * c + 1); g = 0 means plain decoding with speed-up 1")
    assert_close(s, speedups[best], 1e-12, f"speed-up returned by best_gamma({a}, {c}, {m})")


@pytest.mark.task("best_gamma")
def test_best_gamma_ties_go_to_the_smaller_window(kata):
    # a = 0: every window yields 1 token, and with c = 0 costs nothing extra: all speed-ups tie at 1.
    assert_equal(tuple(kata.best_gamma(0.0, 0.0, 6)), (0, 1.0), "best_gamma(0, 0, 6) (all tie)")
    # a = 1, c = 1: S(g) = (g + 1) / (g + 1) = 1 for every g.
    assert_equal(kata.best_gamma(1.0, 1.0, 6)[0], 0, "best_gamma(1, 1, 6) (all tie)")
    assert_equal(tuple(kata.best_gamma(0.9, 0.1, 0)), (0, 1.0), "best_gamma with max_gamma = 0")


@pytest.mark.task("best_gamma")
def test_best_gamma_rejects_bad_arguments(kata):
    for kwargs, name in (({"alpha": 1.2}, "alpha"), ({"cost_ratio": -0.1}, "cost_ratio"),
                         ({"max_gamma": -1}, "max_gamma"), ({"max_gamma": 2.0}, "max_gamma"),
                         # max_gamma = 0 tries no window: alpha must be checked even then
                         ({"alpha": 1.2, "max_gamma": 0}, "alpha"), ({"alpha": -0.1, "max_gamma": 0}, "alpha"),
                         ({"cost_ratio": -0.1, "max_gamma": 0}, "cost_ratio"),
                         ({"cost_ratio": math.nan}, "cost_ratio"), ({"cost_ratio": None}, "cost_ratio"),
                         ({"alpha": math.nan}, "alpha"), ({"max_gamma": True}, "max_gamma"),
                         ({"max_gamma": 2.5}, "max_gamma"), ({"max_gamma": None}, "max_gamma")):
        args = {"alpha": 0.5, "cost_ratio": 0.1, "max_gamma": 4, **kwargs}
        with pytest.raises(ValueError, match=name):
            kata.best_gamma(**args)
            pytest.fail(f"best_gamma({args}) did not raise ValueError naming {name}")


# === verify_outcomes: exact losslessness ===


def exact_error(kata, p, q, vocab, gamma):
    """Max |P(first gamma+1 tokens of one round, completed by the target) - target joint|."""
    horizon = gamma + 1
    got = {}
    for drafts in itertools.product(range(vocab), repeat=gamma):
        q_prob, prev, qs = 1.0, -1, []
        for x in drafts:
            qs.append(q[prev])
            q_prob *= q[prev][x]
            prev = x
        if q_prob == 0.0:
            continue
        ps = [p[([-1] + list(drafts))[i]] for i in range(gamma + 1)]
        outcomes = kata.verify_outcomes(list(drafts), qs, ps)
        if len(outcomes) != gamma + 1:
            raise Mismatch(f"verify_outcomes returned {len(outcomes)} outcomes for {gamma} drafts, expected {gamma + 1}")
        for k, (prob, nxt) in enumerate(outcomes):
            for y in range(vocab):
                emitted = tuple(drafts[:k]) + (y,)
                mass = q_prob * prob * nxt[y]
                for tail in itertools.product(range(vocab), repeat=horizon - len(emitted)):
                    seq, m, last = emitted + tail, mass, emitted[-1]
                    for z in tail:
                        m *= p[last][z]
                        last = z
                    got[seq] = got.get(seq, 0.0) + m
    worst = 0.0
    for seq in itertools.product(range(vocab), repeat=horizon):
        joint, last = 1.0, -1
        for t in seq:
            joint *= p[last][t]
            last = t
        worst = max(worst, abs(got.get(seq, 0.0) - joint))
    return worst


@pytest.mark.task("verify_outcomes")
@pytest.mark.parametrize("vocab,gamma,seed", [(3, 2, 1), (2, 3, 2), (4, 1, 3), (3, 1, 4)])
def test_one_round_is_lossless_by_exact_enumeration(kata, vocab, gamma, seed):
    p, q = tables(seed, vocab, zeros_p=(0,), zeros_q=(vocab - 1,))
    err = exact_error(kata, p, q, vocab, gamma)
    if err > TOL:
        raise Mismatch(
            f"verify_outcomes(vocab={vocab}, gamma={gamma}): summed over every draft, the round's output differs "
            f"from the target's joint distribution by {err:.3g}\n  hint: accept with min(1, p/q), resample a "
            "rejection from norm(max(0, p - q)), and after g acceptances sample the bonus from p_g")


@pytest.mark.task("verify_outcomes")
def test_verify_outcomes_on_hand_values(kata):
    out = kata.verify_outcomes([0], [[1.0, 0.0]], [[0.5, 0.5], [0.2, 0.8]])
    assert_close([[pr, list(d)] for pr, d in out], [[0.5, [0.0, 1.0]], [0.5, [0.2, 0.8]]], 1e-12,
                 "verify_outcomes(draft 0 from q = [1, 0], p = [.5, .5])")
    p = [0.3, 0.7]
    out = kata.verify_outcomes([1, 1], [p, [0.1, 0.9]], [p, [0.6, 0.4], [0.25, 0.75]])
    expected = [[0.0, p], [1.0 * (1 - 0.4 / 0.9), [1.0, 0.0]], [0.4 / 0.9, [0.25, 0.75]]]
    assert_close([[pr, list(d)] for pr, d in out], expected, 1e-12, "verify_outcomes with p == q at the first draft",
                 hint="a residual with zero mass (p == q) falls back to p; its probability is 0 anyway")
    assert_close(math.fsum(pr for pr, _ in out), 1.0, 1e-12, "sum of outcome probabilities")


@pytest.mark.task("verify_outcomes")
def test_verify_outcomes_rejects_bad_arguments(kata):
    with pytest.raises(ValueError, match="draft_probs"):
        kata.verify_outcomes([0, 1], [[0.5, 0.5]], [[0.5, 0.5]] * 3)
    with pytest.raises(ValueError, match="target_probs"):
        kata.verify_outcomes([0], [[0.5, 0.5]], [[0.5, 0.5]])


# === speculative_step ===


def last_token_model(table):
    """``table[prefix[-1]]`` (``table[-1]`` for the empty prefix) as a ``Table``: called where the kata runs."""
    return Table({((c,) if c >= 0 else ()): row for c, row in table.items()}, context=1)


def one_hot_model(table):
    def model(prefix):
        probs = table[prefix[-1] if prefix else -1]
        best = max(range(len(probs)), key=lambda t: (probs[t], -t))
        return [1.0 if t == best else 0.0 for t in range(len(probs))]

    return model


@pytest.mark.task("speculative_step")
def test_speculative_step_first_token_is_distributed_as_the_target(kata):
    p, q = tables(9, 4, zeros_p=(2,))
    target, draft = last_token_model(p), last_token_model(q)
    rng = random.Random(5)
    n = 3000
    counts = [0] * 4
    for tokens, k in repeat(kata.speculative_step, n, target, draft, [1], 2, rng):
        assert 0 <= k <= 2 and len(tokens) == k + 1, f"speculative_step returned {tokens} with k = {k}"
        counts[tokens[0]] += 1
    for t in range(4):
        se = math.sqrt(p[1][t] * (1 - p[1][t]) / n)
        assert abs(counts[t] / n - p[1][t]) <= 5 * se + 1e-12, (
            f"first token {t}: frequency {counts[t] / n:.4f}, target probability {p[1][t]:.4f} "
            f"(more than 5 standard errors, {5 * se:.4f}, apart)")


def chi_square_survival(x, df):
    """P(chi^2_df > x) for an even df: exp(-x/2) sum_{i < df/2} (x/2)^i / i!."""
    half = x / 2
    return math.exp(-half) * math.fsum(half ** i / math.factorial(i) for i in range(df // 2))


def chi_square_critical(df, alpha):
    """The x with P(chi^2_df > x) = alpha, by bisection (df even)."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if chi_square_survival(mid, df) > alpha else (lo, mid)
    return hi


@pytest.mark.task("speculative_step")
def test_speculative_step_two_token_joint_is_the_targets(kata):
    # gamma = 1, vocab 3: a round emits x_1 and the bonus when the draft is accepted,
    # else one resampled token (completed here by the target's own next token). The
    # 9 two-token sequences must follow the target's joint p(a) p(b | a): a
    # chi-square test with 8 degrees of freedom at a false-failure rate of 1e-6,
    # seeded, so the verdict is deterministic. A bonus drawn from the wrong
    # distribution (the draft's, or the target's at the previous position) fails.
    p, q = tables(23, 3)
    q[-1] = [0.5 * a + 0.5 * b for a, b in zip(p[-1], q[-1])]  # a draft close to the target: many bonuses
    target, draft = last_token_model(p), last_token_model(q)  # by value: calls are not counted here
    rng, completer = random.Random(29), random.Random(31)
    n = 6000
    counts, bonuses = {}, 0
    for tokens, k in repeat(kata.speculative_step, n, target, draft, [], 1, rng):
        if k == 1:
            bonuses += 1
            pair = tuple(tokens[:2])
        else:
            first = tokens[0]
            pair = (first, completer.choices(range(3), weights=p[first])[0])
        counts[pair] = counts.get(pair, 0) + 1
    assert bonuses > n // 4, f"fixture: only {bonuses} of {n} rounds accepted the draft"
    chi2 = 0.0
    for a in range(3):
        for b in range(3):
            expected = n * p[-1][a] * p[a][b]
            chi2 += (counts.get((a, b), 0) - expected) ** 2 / expected
    limit = chi_square_critical(8, 1e-6)
    if chi2 > limit:
        raise Mismatch(f"speculative_step: the two-token sequences of {n} rounds (gamma = 1) give chi^2 = {chi2:.1f} "
                       f"against the target's joint (limit {limit:.1f} at a 1e-6 false-failure rate); counts {counts}\n"
                       "  hint: after all gamma drafts are accepted, sample the bonus token from the target's "
                       "distribution AFTER the last draft (target(prefix + x_1..x_gamma))")


@pytest.mark.task("speculative_step")
def test_speculative_step_resamples_from_the_normalised_residual(kata):
    # The draft over-proposes token 0, so most rounds reject it and resample from
    # max(0, p - q) = [0, .2, .2, .2], whose mass is 0.6: drawing from it without
    # dividing by 0.6 piles the missing 0.4 onto one token (0.46 instead of 0.3).
    p, q = [0.1, 0.3, 0.3, 0.3], [0.7, 0.1, 0.1, 0.1]
    rng = random.Random(17)
    n = 2000
    counts = [0] * 4
    for tokens, _ in repeat(kata.speculative_step, n, Table({(): p}, context=0), Table({(): q}, context=0), [0], 3, rng):
        counts[tokens[0]] += 1
    for t in range(4):
        se = math.sqrt(p[t] * (1 - p[t]) / n)
        if abs(counts[t] / n - p[t]) > 5 * se:
            raise Mismatch(
                f"speculative_step first token {t}: frequency {counts[t] / n:.4f}, target probability {p[t]} "
                f"(more than 5 standard errors, {5 * se:.4f}, apart); after a rejection, sample from "
                "max(0, p - q) divided by its sum")


@pytest.mark.task("speculative_step")
def test_speculative_step_greedy_equals_target_greedy(kata):
    p, q = tables(11, 5)
    target, draft = one_hot_model(p), one_hot_model(q)
    rng = random.Random(1)
    for prefix in ([0], [3, 1], [4]):
        tokens, k = kata.speculative_step(target, draft, prefix, 4, rng)
        expected, last = [], prefix[-1]
        drafted, dl = [], prefix[-1]
        for _ in range(4):
            dl = max(range(5), key=lambda t: (q[dl][t], -t))
            drafted.append(dl)
        matches = 0
        while matches < 4:
            want = max(range(5), key=lambda t: (p[last][t], -t))
            if drafted[matches] != want:
                break
            last = want
            matches += 1
        for _ in range(matches + 1):
            last = max(range(5), key=lambda t: (p[last][t], -t))
            expected.append(last)
        assert_equal((list(tokens), k), (expected, matches), f"greedy speculative_step from {prefix}")


@pytest.mark.task("speculative_step")
@pytest.mark.parametrize("gamma", [1, 3])
def test_speculative_step_scores_each_prefix_once(kata, gamma):
    # A one-hot draft makes the drafts known in advance; the target is random, so rounds accept and reject.
    p, q = tables(19, 4)
    drafts_table = one_hot_model(q)
    target_calls, draft_calls = [], []

    def target(prefix):
        target_calls.append(tuple(prefix))
        return p[prefix[-1]]

    def draft(prefix):
        draft_calls.append(tuple(prefix))
        return drafts_table(prefix)

    rng = random.Random(7)
    for prefix in ([1], [0, 3], [2, 2, 1], [3], [1, 0]):
        target_calls.clear()
        draft_calls.clear()
        drafted, last = [], prefix[-1]
        for _ in range(gamma):
            last = max(range(4), key=lambda t: (q[last][t], -t))
            drafted.append(last)
        tokens, k = kata.speculative_step(target, draft, prefix, gamma, rng)
        assert_equal(draft_calls, [tuple(prefix + drafted[:i]) for i in range(gamma)],
                     f"prefixes given to the draft by speculative_step({prefix}, gamma={gamma})",
                     hint="draft gamma tokens, each from draft(prefix + drafts so far)")
        assert_equal(sorted(target_calls), sorted(tuple(prefix + drafted[:i]) for i in range(gamma + 1)),
                     f"prefixes given to the target by speculative_step({prefix}, gamma={gamma}), each once",
                     hint="score prefix + x_1..x_i once for every i = 0 .. gamma (one target pass)")
        assert_equal((len(tokens), list(tokens[:k])), (k + 1, drafted[:k]),
                     f"(length, accepted drafts) of speculative_step({prefix}, gamma={gamma}) with k = {k}")


@pytest.mark.task("speculative_step")
def test_speculative_step_is_reproducible_and_validates_gamma(kata):
    p, q = tables(2, 3)
    target, draft = (lambda s: p[s[-1]]), (lambda s: q[s[-1]])
    a = [kata.speculative_step(target, draft, [0], 3, random.Random(8)) for _ in range(2)]
    assert_equal([list(a[0][0]), a[0][1]], [list(a[1][0]), a[1][1]], "two runs with the same seed")
    for bad in (0, -1, 1.5, True, math.nan, None):
        with pytest.raises(ValueError, match="gamma"):
            kata.speculative_step(target, draft, [0], bad, random.Random(0))


# === speculative_generate ===


@pytest.mark.task("speculative_generate")
@pytest.mark.parametrize("p,q,gamma", [([0.5, 0.3, 0.2, 0.0], [0.25] * 4, 3), ([0.6, 0.4], [0.5, 0.5], 5)])
def test_measured_tokens_per_verify_match_the_closed_form(kata, p, q, gamma):
    alpha = math.fsum(min(a, b) for a, b in zip(p, q))
    rng, tokens, accepted = random.Random(21), [], []
    for _ in range(30):  # 30 runs of 50 rounds: short sequences keep the prefixes cheap to copy
        new_tokens, new_accepted = kata.speculative_generate(Table({(): p}, context=0), Table({(): q}, context=0),
                                                             [0], 50, gamma, rng)
        assert_equal((len(new_accepted), len(new_tokens)), (50, sum(new_accepted) + 50),
                     "(rounds, tokens) of speculative_generate(num_rounds=50)",
                     hint="each round adds its accepted drafts plus one token")
        tokens += new_tokens
        accepted += new_accepted
    rounds = len(accepted)
    probs = round_distribution(alpha, gamma)
    mean = geometric_sum(alpha, gamma)
    sd = math.sqrt(math.fsum(pk * (k + 1 - mean) ** 2 for k, pk in enumerate(probs)))
    half = 4 * sd / math.sqrt(rounds)
    measured = len(tokens) / rounds
    assert abs(measured - mean) <= half, (
        f"measured tokens per verify {measured:.4f} outside the 4-sigma interval "
        f"[{mean - half:.4f}, {mean + half:.4f}] around (1 - a^(g+1)) / (1 - a) = {mean:.4f}")
    histogram = [accepted.count(k) / rounds for k in range(gamma + 1)]
    for k, (h, pk) in enumerate(zip(histogram, probs)):
        se = math.sqrt(pk * (1 - pk) / rounds)
        assert abs(h - pk) <= 5 * se + 1e-9, f"P(k = {k} accepted) measured {h:.4f}, coin model {pk:.4f}"


@pytest.mark.task("speculative_generate")
def test_speculative_generate_continues_from_its_own_tokens(kata):
    p, q = tables(13, 5)
    tokens, accepted = kata.speculative_generate(one_hot_model(p), one_hot_model(q), [2, 4], 6, 2, random.Random(0))
    expected, last = [], 4
    for _ in range(len(tokens)):
        last = max(range(5), key=lambda t: (p[last][t], -t))
        expected.append(last)
    assert_equal(list(tokens), expected, "greedy speculative_generate vs target greedy")
    one, accepted_one = kata.speculative_generate(one_hot_model(p), one_hot_model(q), [2, 4], 1, 2, random.Random(0))
    assert_equal((list(one), len(accepted_one)), (expected[:len(one)], 1), "speculative_generate(num_rounds=1)")
    for bad in (0, -1, 2.5, True, math.nan, None):
        with pytest.raises(ValueError, match="num_rounds"):
            kata.speculative_generate(one_hot_model(p), one_hot_model(q), [2], bad, 2, random.Random(0))


# === build_tree and tree_attention_mask ===

PATHS = [(0,), (1,), (2,), (0, 0), (0, 1), (1, 0), (2, 0), (0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 0, 0, 0)]
HEADS = [[7, 3, 9], [1, 8], [4, 2], [6]]


@pytest.mark.task("build_tree")
def test_build_tree_tokens_and_parents(kata):
    tokens, parents = kata.build_tree(HEADS, PATHS)
    exp_tokens = [HEADS[len(path) - 1][path[-1]] for path in PATHS]
    exp_parents = [PATHS.index(path[:-1]) if len(path) > 1 else -1 for path in PATHS]
    assert_equal((list(tokens), list(parents)), (exp_tokens, exp_parents), "build_tree(HEADS, PATHS)",
                 hint="a depth-k node's token is head k-1's candidate at its LAST index; its parent is path[:-1]")


@pytest.mark.task("build_tree")
def test_build_tree_rejects_bad_paths(kata):
    for bad in ([(0,), (0, 0), (0, 0)], [(0, 0)], [(3,)], [(0,), (0, 2)], [()], [(0,), (0, 0), (0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0, 0)],
                [(0,), (0, 0, 0)], [(-1,)], [(0,), (0, -1)]):
        with pytest.raises(ValueError, match="paths"):
            kata.build_tree(HEADS, bad)
            pytest.fail(f"build_tree(HEADS, {bad}) did not raise ValueError naming paths")


def random_parents(rng, n):
    return [rng.randrange(-1, i) for i in range(n)]


@pytest.mark.task("tree_attention_mask")
@pytest.mark.parametrize("seed,n", [(1, 1), (2, 5), (3, 11), (4, 17)])
def test_a_node_sees_exactly_its_ancestors(kata, seed, n):
    parents = random_parents(random.Random(seed), n)
    mask = kata.tree_attention_mask(parents)
    expected = []
    for i in range(n):
        seen, node = set(), i
        while node != -1:
            seen.add(node)
            node = parents[node]
        expected.append([j in seen for j in range(n)])
    assert_equal([[bool(x) for x in row] for row in mask], expected, f"tree_attention_mask({parents})",
                 hint="a node sees itself and every ancestor up to the root, never a sibling or a cousin")


@pytest.mark.task("tree_attention_mask")
def test_tree_attention_mask_rejects_bad_parents(kata):
    for bad in ([0], [-1, 1], [-1, -2], [-1, 0, 3], [-1, True], [-1, 0.0], [-1, math.nan], [None]):
        with pytest.raises(ValueError, match="parents"):
            kata.tree_attention_mask(bad)


# === tree_forward ===

CONFIG = (11, 6, 2, 2, 10, 24, 3)


def make_model(kata):
    vocab, d, layers, heads, d_ff, max_len, seed = CONFIG
    return kata.init_model(kata.Config(vocab, d, layers, heads, d_ff, max_len), seed=seed)


def _rms(x):
    return [v / math.sqrt(math.fsum(u * u for u in x) / len(x) + 1e-5) for v in x]


def _mat(W, x):
    return [math.fsum(w * v for w, v in zip(row, x)) for row in W]


_SPEC = {}


def spec_last_logits(model, tokens):
    """Logits after the last token, by the obvious full causal pass (memoised)."""
    key = (id(model), tuple(tokens))
    if key not in _SPEC:
        _SPEC[key] = _spec_last_logits(model, tokens)
    return _SPEC[key]


def _spec_last_logits(model, tokens):
    cfg = model.config
    d, heads = cfg.d_model, cfg.n_head
    hd = d // heads
    X = [[model.wte[t][c] + model.wpe[p][c] for c in range(d)] for p, t in enumerate(tokens)]
    for w in model.layers:
        H = [_rms(x) for x in X]
        Q, K, V = [_mat(w["wq"], h) for h in H], [_mat(w["wk"], h) for h in H], [_mat(w["wv"], h) for h in H]
        A = []
        for i in range(len(X)):
            row = []
            for h in range(heads):
                cols = range(h * hd, (h + 1) * hd)
                s = [math.fsum(Q[i][c] * K[j][c] for c in cols) / math.sqrt(hd) for j in range(i + 1)]
                top = max(s)
                e = [math.exp(x - top) for x in s]
                z = math.fsum(e)
                row += [math.fsum(e[j] * V[j][c] for j in range(i + 1)) / z for c in cols]
            A.append(row)
        X = [[a + b for a, b in zip(x, _mat(w["wo"], a_))] for x, a_ in zip(X, A)]
        X = [[a + b for a, b in zip(x, _mat(w["w2"], [max(0.0, u) for u in _mat(w["w1"], _rms(x))]))] for x in X]
    return _mat(model.lm_head, _rms(X[-1]))


def path_of(parents, tokens, i):
    out = []
    while i != -1:
        out.append(tokens[i])
        i = parents[i]
    return out[::-1]


class CountingOps:
    def __init__(self):
        self.weight_mults = 0
        self.attention_mults = 0

    @property
    def mults(self):
        return self.weight_mults + self.attention_mults

    def matvec(self, W, x):
        self.weight_mults += len(W) * len(x)
        return [sum(w * v for w, v in zip(row, x)) for row in W]

    def dot(self, a, b):
        self.attention_mults += len(a)
        return sum(x * y for x, y in zip(a, b))

    def weighted_sum(self, weights, rows):
        self.attention_mults += len(weights) * len(rows[0])
        return [sum(w * row[c] for w, row in zip(weights, rows)) for c in range(len(rows[0]))]


def prefix_cache(kata, model, prefix):
    keys, values = kata.empty_kv(model)
    kata.forward_chunk(model, prefix, keys, values, kata.Ops())  # the given helper; its work is not graded
    return keys, values


@pytest.mark.task("tree_forward")
def test_tree_forward_equals_running_every_path(kata):
    model = make_model(kata)
    prefix = [3, 7, 1, 9, 0]
    tokens, parents = [5, 2, 8, 5, 1, 6, 10, 4], [-1, -1, 0, 0, 1, 3, 3, 5]
    keys, values = prefix_cache(kata, model, prefix)
    snapshot = copy.deepcopy((keys, values))
    ops = CountingOps()
    rows = kata.tree_forward(model, keys, values, tokens, parents, ops)
    expected = [spec_last_logits(model, prefix + path_of(parents, tokens, i)) for i in range(len(tokens))]
    assert_close([list(r) for r in rows], expected, 1e-9, "tree_forward logits vs each path run on its own",
                 hint="node i sits at position prefix_len + depth - 1 and attends to the prefix plus its ancestors")
    assert_equal(copy.deepcopy((keys, values)), snapshot, "prefix keys/values after tree_forward",
                 hint="tree nodes are temporary: do not append them to the prefix cache")
    cfg = model.config
    depth = [len(path_of(parents, tokens, i)) for i in range(len(tokens))]
    per_position = cfg.n_layer * (4 * cfg.d_model ** 2 + 2 * cfg.d_model * cfg.d_ff) + cfg.vocab_size * cfg.d_model
    assert_equal((ops.weight_mults, ops.attention_mults),
                 (len(tokens) * per_position, sum(2 * cfg.d_model * cfg.n_layer * (len(prefix) + k) for k in depth)),
                 "(weight_mults, attention_mults) of tree_forward",
                 hint="each node is one position of weight work and attends to prefix_len + depth keys per layer")


@pytest.mark.task("tree_forward")
def test_tree_forward_single_node_and_chain(kata):
    model = make_model(kata)
    prefix = [4]
    keys, values = prefix_cache(kata, model, prefix)
    for tokens, parents in (([6], [-1]), ([6, 2, 9], [-1, 0, 1])):
        rows = kata.tree_forward(model, keys, values, tokens, parents, kata.Ops())  # logits graded, not work
        expected = [spec_last_logits(model, prefix + tokens[: i + 1]) for i in range(len(tokens))]
        assert_close([list(r) for r in rows], expected, 1e-9, f"tree_forward on the chain {tokens}")


@pytest.mark.task("tree_forward")
def test_tree_forward_one_layer_up_to_the_last_position(kata):
    # One layer (keys holds a single list) and a tree whose deepest node sits at position max_len - 1.
    model = kata.init_model(kata.Config(9, 4, 1, 2, 6, 8), seed=5)
    prefix = [3, 0, 8, 1, 5]
    keys, values = prefix_cache(kata, model, prefix)
    tokens, parents = [2, 7, 4, 6], [-1, -1, 0, 2]  # depths 1, 1, 2, 3: positions 5, 5, 6, 7
    ops = kata.Ops()  # logits graded, not work (test_tree_forward_equals_running_every_path counts)
    rows = kata.tree_forward(model, keys, values, tokens, parents, ops)
    expected = [spec_last_logits(model, prefix + path_of(parents, tokens, i)) for i in range(len(tokens))]
    assert_close([list(r) for r in rows], expected, 1e-9,
                 "tree_forward on a 1-layer model with nodes up to position max_len - 1 = 7",
                 hint="node i sits at position prefix_len + depth - 1; the last valid position is max_len - 1")
    with pytest.raises(ValueError, match="tokens"):
        kata.tree_forward(model, keys, values, [2, 4, 6, 1], [-1, 0, 1, 2], ops)  # depth 4: position 8
        pytest.fail("tree_forward accepted a node at position 8 = max_len (expected ValueError naming tokens)")


@pytest.mark.task("tree_forward")
def test_tree_forward_rejects_bad_arguments(kata):
    model = make_model(kata)
    keys, values = prefix_cache(kata, model, [1, 2])
    with pytest.raises(ValueError, match="parents"):
        kata.tree_forward(model, keys, values, [1, 2], [-1, 1], CountingOps())
    with pytest.raises(ValueError, match="tokens"):
        kata.tree_forward(model, keys, values, [1], [-1, 0], CountingOps())
    with pytest.raises(ValueError, match="tokens"):
        kata.tree_forward(model, keys, values, [1, 11], [-1, 0], CountingOps())
    empty_k, empty_v = kata.empty_kv(model)
    with pytest.raises(ValueError, match="keys"):
        kata.tree_forward(model, empty_k, empty_v, [1], [-1], CountingOps())


# === tree_greedy_step ===


def spec_tree_walk(root, rows, tokens, parents):
    out, cur, logits = [], -1, root
    while True:
        want = max(range(len(logits)), key=lambda t: (logits[t], -t))
        out.append(want)
        kids = [c for c in range(len(tokens)) if parents[c] == cur and tokens[c] == want]
        if not kids:
            return out
        cur, logits = kids[0], rows[kids[0]]


def onehot_logits(t, vocab=6, tie=None):
    row = [-5.0] * vocab
    row[t] = 3.0
    if tie is not None:
        row[tie] = 3.0
    return row


@pytest.mark.task("tree_greedy_step")
def test_tree_greedy_step_on_hand_logits(kata):
    tokens, parents = [2, 4, 1, 3, 5, 0], [-1, -1, 0, 0, 3, 1]
    root = onehot_logits(2)
    rows = [onehot_logits(3), onehot_logits(1), onehot_logits(0), onehot_logits(5), onehot_logits(4), onehot_logits(2)]
    assert_equal(list(kata.tree_greedy_step(root, rows, tokens, parents)), [2, 3, 5, 4],
                 "tree_greedy_step down the path 2 -> 3 -> 5 (a leaf), then the bonus token",
                 hint="after the last accepted node, append the target's choice from THAT node's logits")
    root = onehot_logits(0, tie=4)  # tie between tokens 0 and 4: the lower id wins, no child has 0
    assert_equal(list(kata.tree_greedy_step(root, rows, tokens, parents)), [0],
                 "tree_greedy_step when the root's choice (a tie, lowest id) matches no child")
    tokens2, parents2 = [2, 2], [-1, -1]  # two children with the same token: the first in node order is taken
    rows2 = [onehot_logits(1), onehot_logits(5)]
    assert_equal(list(kata.tree_greedy_step(onehot_logits(2), rows2, tokens2, parents2)), [2, 1],
                 "tree_greedy_step with two equal children")


@pytest.mark.task("tree_greedy_step")
def test_greedy_tree_decoding_equals_target_greedy(kata):
    model = make_model(kata)
    rng = random.Random(4)
    prompt = [5, 1]
    out = []
    while len(out) < 8:
        prefix = prompt + out
        # Candidates: the target's true next tokens mixed with random ones (so paths are accepted and rejected).
        truth, seq = [], list(prefix)
        for _ in range(3):
            logits = spec_last_logits(model, seq)
            truth.append(max(range(11), key=lambda t: (logits[t], -t)))
            seq.append(truth[-1])
        heads = [[rng.randrange(11), truth[h]] if rng.random() < 0.7 else [rng.randrange(11), rng.randrange(11)]
                 for h in range(3)]
        tokens, parents = [], []
        for path in [(0,), (1,), (1, 0), (1, 1), (0, 1), (1, 1, 1), (1, 1, 0)]:
            tokens.append(heads[len(path) - 1][path[-1]])
            parents.append([(0,), (1,), (1, 0), (1, 1), (0, 1), (1, 1, 1), (1, 1, 0)].index(path[:-1]) if len(path) > 1 else -1)
        rows = [spec_last_logits(model, prefix + path_of(parents, tokens, i)) for i in range(len(tokens))]
        root = spec_last_logits(model, prefix)
        new = list(kata.tree_greedy_step(root, rows, tokens, parents))
        assert_equal(new, spec_tree_walk(root, rows, tokens, parents), f"tree_greedy_step after {prefix}")
        out += new
    greedy, seq = [], list(prompt)
    for _ in range(len(out)):
        logits = spec_last_logits(model, seq)
        seq.append(max(range(11), key=lambda t: (logits[t], -t)))
        greedy.append(seq[-1])
    assert_equal(out, greedy, "greedy tree decoding vs target greedy")


@pytest.mark.task("tree_greedy_step")
def test_tree_greedy_step_rejects_bad_arguments(kata):
    with pytest.raises(ValueError, match="node_logits"):
        kata.tree_greedy_step([0.0, 1.0], [[0.0, 1.0]], [1, 0], [-1, -1])
    with pytest.raises(ValueError, match="parents"):
        kata.tree_greedy_step([0.0, 1.0], [[0.0, 1.0]], [1], [0])


# === eagle_draft ===


def spec_eagle(fc, emb, head, f, token, gamma):
    out = []
    for _ in range(gamma):
        f = _mat(fc, list(f) + list(emb[token]))
        logits = _mat(head, _rms(f))
        token = max(range(len(logits)), key=lambda t: (logits[t], -t))
        out.append(token)
    return out


def linear_target(seed, vocab, d):
    rng = random.Random(seed)
    A = [[rng.uniform(-0.6, 0.6) for _ in range(d)] for _ in range(d)]
    E = [[rng.uniform(-1, 1) for _ in range(d)] for _ in range(vocab)]
    H = [[rng.uniform(-2, 2) for _ in range(d)] for _ in range(vocab)]
    return A, E, H


@pytest.mark.task("eagle_draft")
def test_eagle_draft_follows_the_feature_recursion(kata):
    rng = random.Random(6)
    vocab, d = 7, 5
    _, E, H = linear_target(1, vocab, d)
    fc = [[rng.uniform(-0.5, 0.5) for _ in range(2 * d)] for _ in range(d)]
    for token, gamma in ((0, 1), (3, 4), (6, 6)):
        f = [rng.uniform(-1, 1) for _ in range(d)]
        assert_equal(list(kata.eagle_draft(fc, E, H, f, token, gamma)), spec_eagle(fc, E, H, f, token, gamma),
                     f"eagle_draft(token={token}, gamma={gamma})",
                     hint="f = fc [f ; embedding[token]], then token = argmax(lm_head rmsnorm(f)), repeated")


@pytest.mark.task("eagle_draft")
def test_a_perfect_feature_draft_is_always_accepted(kata):
    # The toy target: f_{t+1} = A f_t + E[x_{t+1}], x_{t+2} = argmax H rmsnorm(f_{t+1}). fc = [A | I] is exact.
    vocab, d = 9, 4
    A, E, H = linear_target(5, vocab, d)
    fc = [A[r] + [1.0 if c == r else 0.0 for c in range(d)] for r in range(d)]
    f, token = [0.3, -0.2, 0.9, 0.1], 2
    greedy, g, t = [], f, token
    for _ in range(6):
        g = [a + e for a, e in zip(_mat(A, g), E[t])]
        logits = _mat(H, _rms(g))
        t = max(range(vocab), key=lambda x: (logits[x], -x))
        greedy.append(t)
    assert_equal(list(kata.eagle_draft(fc, E, H, f, token, 6)), greedy,
                 "eagle_draft with the target's exact feature map vs the target's greedy continuation")


@pytest.mark.task("eagle_draft")
def test_eagle_draft_rejects_bad_arguments(kata):
    vocab, d = 4, 3
    _, E, H = linear_target(2, vocab, d)
    fc = [[0.1] * (2 * d) for _ in range(d)]
    f = [0.1, 0.2, 0.3]
    for bad in (0, -1, 1.5, True, math.nan, None):
        with pytest.raises(ValueError, match="gamma"):
            kata.eagle_draft(fc, E, H, f, 1, bad)
    with pytest.raises(ValueError, match="fc"):
        kata.eagle_draft([[0.1] * d for _ in range(d)], E, H, f, 1, 2)
    for bad in (-1, 4, True, 1.0, None):
        with pytest.raises(ValueError, match="token"):
            kata.eagle_draft(fc, E, H, f, bad, 2)
    assert_equal(len(kata.eagle_draft(fc, E, H, f, 3, 1)), 1, "eagle_draft(token=3, gamma=1): the last id and gamma 1 are valid")
