"""Graded tests for microgrpo: group-relative advantages, the clipped surrogate, k3 KL, the GRPO loop.

Expected values come from the independent spec below (population mean and
std, the clipped surrogate and Schulman's k3 written out again, the policy's
log-probabilities and their gradient one_hot - softmax), from closed forms
(d k3 / d log pi = 1 - r; Adam's first step moves every weight by
lr * sign(-g)), from central finite differences, or from properties
(advantages have mean 0 and std 1; equal rewards give exactly zero gradient;
k3 >= 0 and 0 at the reference). No checkpoint: the policy is a 130-number
table that the tests build from a seed, and the slow test trains it on the
counting task in a few seconds (`pytest katas/microgrpo -m slow --solutions`).
"""

import copy
import math
import random

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal, call_each, read_each, require_earlier, vector

DIGITS, LENGTH = 10, 3


# === the independent spec ===


def spec_policy(seed, scale=0.7):
    rng = random.Random(seed)
    return {"T": [[rng.gauss(0, scale) for _ in range(DIGITS)] for _ in range(DIGITS)],
            "P": [[rng.gauss(0, scale) for _ in range(DIGITS)] for _ in range(LENGTH)]}


def spec_log_softmax(logits):
    top = max(logits)
    log_total = math.log(math.fsum(math.exp(z - top) for z in logits))
    return [z - top - log_total for z in logits]


def spec_logits(params, previous, t):
    return [a + b for a, b in zip(params["T"][previous], params["P"][t])]


def spec_token_logps(params, prompt, completion):
    out, previous = [], prompt
    for t, token in enumerate(completion):
        out.append(spec_log_softmax(spec_logits(params, previous, t))[token])
        previous = token
    return out


def spec_sample_token(logits, rng):
    """Inverse CDF with one rng.random() draw, as sample_token documents."""
    top = max(logits)
    weights = [math.exp(z - top) for z in logits]
    u, acc = rng.random() * sum(weights), 0.0
    for token, w in enumerate(weights):
        acc += w
        if u < acc:
            return token
    return len(weights) - 1


def spec_sample_group(params, prompt, group_size, rng):
    completions = []
    for _ in range(group_size):
        previous, tokens = prompt, []
        for t in range(LENGTH):
            previous = spec_sample_token(spec_logits(params, previous, t), rng)
            tokens.append(previous)
        completions.append(tokens)
    return completions


def spec_advantages(rewards, std_eps=0.0):
    if max(rewards) == min(rewards):
        return [0.0] * len(rewards)
    mean = math.fsum(rewards) / len(rewards)
    std = math.sqrt(math.fsum((r - mean) ** 2 for r in rewards) / len(rewards))
    return [(r - mean) / (std + std_eps) for r in rewards]


def spec_surrogate(ratio, advantage, eps):
    return min(ratio * advantage, min(max(ratio, 1 - eps), 1 + eps) * advantage)


def spec_k3(logp, ref_logp):
    x = ref_logp - logp
    return math.expm1(x) - x


def spec_grpo_loss(params, prompt, completions, advantages, old_logps, ref_logps, eps, beta):
    total = 0.0
    for comp, a, old, ref in zip(completions, advantages, old_logps, ref_logps):
        terms = [spec_surrogate(math.exp(lp - o), a, eps) - beta * spec_k3(lp, r)
                 for lp, o, r in zip(spec_token_logps(params, prompt, comp), old, ref)]
        total += math.fsum(terms) / len(comp)
    return -total / len(completions)


def count_up(prompt, completion):
    return sum(1 for t, tok in enumerate(completion) if tok == (prompt + t + 1) % DIGITS) / len(completion)


def a_group(seed, policy, prompt, size):
    """A sampled group with its old and reference log-probs (old = a nudged copy of the policy)."""
    rng = random.Random(seed)
    comps = [[rng.randrange(DIGITS) for _ in range(LENGTH)] for _ in range(size)]
    old = spec_policy(seed + 1)
    ref = spec_policy(seed + 2)
    rewards = [count_up(prompt, c) + rng.uniform(0, 0.1) for c in comps]
    return (comps, spec_advantages(rewards), [spec_token_logps(old, prompt, c) for c in comps],
            [spec_token_logps(ref, prompt, c) for c in comps])


def number(x):
    return x.data if hasattr(x, "data") else x


def require(kata, task, earlier_tasks):
    """A later task's test runs earlier tasks: when one of them is wrong, name it instead of blaming ``task``."""
    checks = {
        "group_advantages": ("group_advantages([0.0, 1.0, 0.5])",
                             lambda: kata.group_advantages([0.0, 1.0, 0.5]), spec_advantages([0.0, 1.0, 0.5])),
        "clipped_surrogate": ("clipped_surrogate(1.3, 0.8, 0.2) and (0.9, 0.8, 0.2)",
                              lambda: [number(kata.clipped_surrogate(r, 0.8, 0.2)) for r in (1.3, 0.9)],
                              [spec_surrogate(r, 0.8, 0.2) for r in (1.3, 0.9)]),
        "kl_k3": ("kl_k3(-1.5, -0.25)", lambda: [number(kata.kl_k3(-1.5, -0.25))], [spec_k3(-1.5, -0.25)]),
        "sample_group": ("sample_group(policy, 3, 2, Random(5))[0]",
                         lambda: [list(c) for c in kata.sample_group(spec_policy(7), 3, 2, random.Random(5))[0]],
                         spec_sample_group(spec_policy(7), 3, 2, random.Random(5))),
        "grpo_loss": ("grpo_loss of a group of 3 (eps 0.2, beta 0.1)",
                      lambda: [number(kata.grpo_loss(spec_policy(40), 6, *a_group(50, spec_policy(40), 6, 3), 0.2, 0.1))],
                      [spec_grpo_loss(spec_policy(40), 6, *a_group(50, spec_policy(40), 6, 3), 0.2, 0.1)]),
    }
    require_earlier(task, [(earlier, *checks[earlier]) for earlier in earlier_tasks], 1e-9)


LOSS_PARTS = ("clipped_surrogate", "kl_k3")
LOOP_PARTS = ("group_advantages", "clipped_surrogate", "kl_k3", "sample_group", "grpo_loss")


# === task 1: group_advantages ===


def population_std(xs):
    mean = math.fsum(xs) / len(xs)
    return math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / len(xs))


@pytest.mark.task("group_advantages")
@pytest.mark.parametrize("size", [2, 3, 7, 11])
def test_advantages_have_mean_0_and_std_1(kata, size):
    rewards = vector(random.Random(size), size, 3.0)
    got = kata.group_advantages(rewards)
    assert_close(got, spec_advantages(rewards), 1e-12, f"group_advantages of {size} rewards",
                 hint="(r - mean) / std with the POPULATION std (divide by G)")
    assert_close([math.fsum(got) / size, population_std(got)], [0.0, 1.0], 1e-12,
                 f"(mean, population std) of the advantages of {size} rewards")


@pytest.mark.task("group_advantages")
def test_advantages_use_the_population_std(kata):
    assert_close(kata.group_advantages([0.0, 1.0]), [-1.0, 1.0], 1e-15, "group_advantages([0, 1])",
                 hint="population std of [0, 1] is 0.5; the sample std (divide by G - 1) would give +-0.707")
    assert_close(kata.group_advantages([0.0, 1.0, 1.0, 1.0], std_eps=0.25),
                 spec_advantages([0.0, 1.0, 1.0, 1.0], 0.25), 1e-15, "group_advantages(..., std_eps=0.25)",
                 hint="std_eps is added to the std: (r - mean) / (std + std_eps)")


@pytest.mark.task("group_advantages")
@pytest.mark.parametrize("rewards", [[0.1] * 7, [1 / 3] * 5, [0.0, 0.0], [0.7], [2.5] * 3],
                         ids=["seven-0.1", "five-thirds", "zeros", "single", "three-2.5"])
def test_equal_rewards_give_zero_advantages(kata, rewards):
    assert_equal(list(kata.group_advantages(list(rewards))), [0.0] * len(rewards), f"group_advantages({rewards})",
                 hint="test max == min: the mean of equal floats can round away from them, giving a tiny std")


@pytest.mark.task("group_advantages")
def test_nearly_equal_rewards_are_still_normalised(kata):
    # 1 and 1 + 2**-30: mean 1 + 2**-31 and population std 2**-31, all exact in binary, so A = -1, +1 exactly
    assert_close(kata.group_advantages([1.0, 1.0 + 2 ** -30]), [-1.0, 1.0], 1e-12, "group_advantages([1, 1 + 2**-30])",
                 hint="only EXACTLY equal rewards (max == min) give zeros; a tolerance erases a real, tiny difference")


@pytest.mark.task("group_advantages")
def test_group_advantages_returns_a_new_list(kata):
    rewards = [0.3, 0.9, 0.1]
    got = kata.group_advantages(rewards)
    assert_equal(rewards, [0.3, 0.9, 0.1], "rewards after group_advantages (must not be modified)")
    assert got is not rewards, "group_advantages returned its argument: return a new list"
    assert_close(list(got), spec_advantages([0.3, 0.9, 0.1]), 1e-12, "group_advantages([0.3, 0.9, 0.1])",
                 hint="(r - mean) / std with the population std, into a new list")


@pytest.mark.task("group_advantages")
@pytest.mark.parametrize("args,word", [(([],), "rewards"), (([0.1, 0.2], -0.1), "std_eps"),
                                       (([0.1, 0.2], float("nan")), "std_eps"), (([0.5, 0.5], -1e-9), "std_eps")],
                         ids=["empty", "std_eps-negative", "std_eps-nan", "std_eps-negative-equal-rewards"])
def test_group_advantages_rejects_bad_arguments(kata, args, word):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.group_advantages(*args)


# === task 2: clipped_surrogate ===

RATIOS = [0.3, 0.79, 0.8, 0.95, 1.0, 1.13, 1.2, 1.21, 2.5]


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("eps", [0.2, 0.1])
@pytest.mark.parametrize("advantage", [1.7, -0.6, 0.0])
def test_clipped_surrogate_values(kata, eps, advantage):
    got = [number(kata.clipped_surrogate(r, advantage, eps)) for r in RATIOS]
    assert_close(got, [spec_surrogate(r, advantage, eps) for r in RATIOS], 1e-12,
                 f"clipped_surrogate(ratio in {RATIOS}, A={advantage}, eps={eps})",
                 hint="min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A): the min, not the clipped term alone")


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("advantage", [1.7, -0.6])
def test_zero_gradient_where_the_clip_binds(kata, advantage):
    eps = 0.2
    grads, expected = [], []
    for r in RATIOS:
        v = kata.Value(r)
        out = kata.clipped_surrogate(v, advantage, eps)
        out.backward()
        grads.append(v.grad)
        binds = min(max(r, 1 - eps), 1 + eps) * advantage < r * advantage
        expected.append(0.0 if binds else advantage)
    assert_equal(grads, expected, f"d clipped_surrogate / d ratio at ratios {RATIOS}, A={advantage}",
                 hint="where the clipped term wins the min it is a constant (gradient 0); elsewhere the gradient is A")


@pytest.mark.task("clipped_surrogate")
@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, 1.5, float("nan")],
                         ids=["eps0", "eps1", "eps-negative", "eps-above-1", "eps-nan"])
def test_clipped_surrogate_rejects_bad_eps(kata, eps):
    with pytest.raises(ValueError, match=r"\beps\b"):
        kata.clipped_surrogate(1.1, 0.5, eps)


# === task 3: kl_k3 ===


@pytest.mark.task("kl_k3")
def test_k3_closed_form_and_nonnegative(kata):
    rng = random.Random(7)
    for _ in range(20):
        logp, ref = -rng.uniform(0.01, 6), -rng.uniform(0.01, 6)
        got = number(kata.kl_k3(logp, ref))
        assert_close(got, spec_k3(logp, ref), 1e-12, f"kl_k3({logp:.4f}, {ref:.4f})",
                     hint="r = pi_ref / pi = exp(ref_logp - logp); k3 = r - log r - 1")
        assert got >= 0.0, f"kl_k3({logp}, {ref}) = {got} < 0"
    for logp in (-0.0, -1.5, -23.0):
        assert_equal(number(kata.kl_k3(logp, logp)), 0.0, f"kl_k3 at the reference (logp = ref_logp = {logp})")


@pytest.mark.task("kl_k3")
@pytest.mark.parametrize("logp,ref", [(-2.0, -0.5), (-0.3, -4.0), (-1.0, -1.0), (-60.0, -2.0), (-1.0, -40.0)])
def test_k3_gradient(kata, logp, ref):
    v = kata.Value(logp)
    out = kata.kl_k3(v, ref)
    out.backward()
    assert_close(number(out), spec_k3(logp, ref), 1e-12 * max(1.0, spec_k3(logp, ref)),
                 f"kl_k3(Value({logp}), {ref})", hint="k3 = r - log r - 1 with r = exp(ref_logp - logp)")
    assert_close(v.grad, 1.0 - math.exp(ref - logp), 1e-9 * max(1.0, math.exp(ref - logp)),
                 f"d kl_k3 / d logp at logp={logp}, ref={ref}",
                 hint="build k3 from Value operations on logp: d/d logp = 1 - r")


def near_reference_pairs(n=3000):
    """(logp, ref_logp) with |ref_logp - logp| in [1e-12, 1e-6]: where exp(x) - x - 1 rounds below 0."""
    rng = random.Random(21)
    pairs = []
    for _ in range(n):
        logp = -rng.uniform(0.01, 8.0)
        pairs.append((logp, logp + rng.choice((1.0, -1.0)) * 10 ** rng.uniform(-12, -6)))
    return pairs


@pytest.mark.task("kl_k3")
@pytest.mark.parametrize("as_value", [False, True], ids=["float", "Value"])
def test_k3_is_never_negative_near_the_reference(kata, as_value):
    # With these 3000 seeded pairs, exp(x) - x - 1 is negative 5 times and exp(x) - 1 - x 28 times
    # (-1.1e-16 each); expm1(x) - x never is. True k3 here is x^2 / 2 <= 5e-13.
    pairs = near_reference_pairs()
    logps = call_each(kata.Value, [(logp,) for logp, _ in pairs]) if as_value else [logp for logp, _ in pairs]
    results = call_each(kata.kl_k3, [(x, ref) for x, (_, ref) in zip(logps, pairs)])
    if as_value and all(hasattr(result, "data") for result in results[:1]):
        results = read_each(results, "data")  # one round trip when isolated, not 3000
    for (logp, ref), result in zip(pairs, results):
        got = number(result)
        if not 0.0 <= got <= 1e-12:
            raise Mismatch(f"kl_k3({'Value(' + repr(logp) + ')' if as_value else repr(logp)}, {ref!r}) = {got!r}: "
                           f"expected a number in [0, 1e-12] (k3 = {spec_k3(logp, ref):.3e} >= 0)"
                           "\n  hint: exp(x) - x - 1 cancels to a rounding error below 0 next to the reference; "
                           "use math.expm1(x) - x")


# === task 4: sample_group ===


@pytest.mark.task("sample_group")
@pytest.mark.parametrize("prompt,size", [(0, 2), (7, 5), (3, 13)])
def test_sample_group_follows_the_documented_draws(kata, prompt, size):
    policy = spec_policy(31 + prompt)
    completions, logps = kata.sample_group(policy, prompt, size, random.Random(99))
    expected = spec_sample_group(policy, prompt, size, random.Random(99))
    assert_equal([list(c) for c in completions], expected, f"sample_group(prompt={prompt}, group_size={size})",
                 hint="one sample_token call per token, completion by completion; position 0 follows the prompt digit")
    assert_close([list(l) for l in logps], [spec_token_logps(policy, prompt, c) for c in expected], 1e-12,
                 f"logps of sample_group(prompt={prompt})", hint="log softmax of the logits the token was drawn from")


@pytest.mark.task("sample_group")
def test_sample_group_frequencies_match_the_policy(kata):
    """Counts within 5 binomial standard deviations (+1) of n p_k, for each of the 10 tokens, at three places:
    the first token; the second token among completions whose first token is the most frequent one; the third
    among those whose second token is then the most frequent. A correct sampler fails one of these 30 checks
    with probability < 30 x 6e-7 (normal approximation); the rng is seeded, so the verdict never changes."""
    policy = spec_policy(5, scale=1.0)
    completions, _ = kata.sample_group(policy, 4, 3000, random.Random(1))
    assert_equal([len(c) for c in completions], [LENGTH] * 3000, "lengths of the 3000 completions of sample_group",
                 hint="group_size completions of LENGTH tokens each")
    counts = [sum(1 for c in completions if c[0] == k) for k in range(DIGITS)]
    def check(label, sample, previous, position):
        n = len(sample)
        probs = [math.exp(v) for v in spec_log_softmax(spec_logits(policy, previous, position))]
        for k in range(DIGITS):
            count = sum(1 for token in sample if token == k)
            sd = math.sqrt(n * probs[k] * (1 - probs[k]))
            if abs(count - n * probs[k]) > 5 * sd + 1:
                raise Mismatch(f"{label} {k}: {count} of {n} samples, expected {n * probs[k]:.0f} +- {5 * sd:.0f}"
                               "\n  hint: token t is drawn from next_logits(policy, previous token, t)")

    check("first token", [c[0] for c in completions], 4, 0)
    first = max(range(DIGITS), key=lambda k: counts[k])
    after = [c for c in completions if c[0] == first]
    check(f"second token after first token {first}", [c[1] for c in after], first, 1)
    second = max(range(DIGITS), key=lambda k: sum(1 for c in after if c[1] == k))
    check(f"third token after {first}, {second}", [c[2] for c in after if c[1] == second], second, 2)


@pytest.mark.task("sample_group")
@pytest.mark.parametrize("size", [1, 0, -3, 2.5, True, 2.0], ids=["size1", "size0", "size-negative", "size2.5",
                                                                  "size-True", "size2.0"])
def test_sample_group_rejects_groups_below_two(kata, size):
    with pytest.raises(ValueError, match=r"\bgroup_size\b"):
        kata.sample_group(spec_policy(1), 2, size, random.Random(0))


# === task 5: grpo_loss ===


@pytest.mark.task("grpo_loss")
@pytest.mark.parametrize("eps,beta", [(0.2, 0.1), (0.1, 0.0), (0.3, 1.5)])
def test_grpo_loss_matches_the_spec(kata, eps, beta):
    require(kata, "grpo_loss", LOSS_PARTS)
    policy = spec_policy(40)
    comps, adv, old, ref = a_group(50, policy, 6, 7)
    got = number(kata.grpo_loss(policy, 6, comps, adv, old, ref, eps, beta))
    assert_close(got, spec_grpo_loss(policy, 6, comps, adv, old, ref, eps, beta), 1e-12,
                 f"grpo_loss (G=7, eps={eps}, beta={beta})",
                 hint="minus the mean over completions of the MEAN over tokens of surrogate - beta * k3")


@pytest.mark.task("grpo_loss")
def test_grpo_loss_gradient_matches_finite_differences(kata):
    require(kata, "grpo_loss", LOSS_PARTS)
    policy = spec_policy(41)
    comps, adv, old, ref = a_group(60, policy, 2, 5)
    live = {k: [[kata.Value(v) for v in row] for row in t] for k, t in policy.items()}
    loss = kata.grpo_loss(live, 2, comps, adv, old, ref, 0.2, 0.3)
    loss.backward()
    h = 1e-6
    for name, i, j in (("T", 2, comps[0][0]), ("T", comps[1][0], comps[1][1]), ("P", 0, 4), ("P", 2, comps[2][2])):
        keep = policy[name][i][j]
        policy[name][i][j] = keep + h
        up = spec_grpo_loss(policy, 2, comps, adv, old, ref, 0.2, 0.3)
        policy[name][i][j] = keep - h
        down = spec_grpo_loss(policy, 2, comps, adv, old, ref, 0.2, 0.3)
        policy[name][i][j] = keep
        assert_close(live[name][i][j].grad, (up - down) / (2 * h), 1e-6, f"d grpo_loss / d {name}[{i}][{j}]",
                     hint="the ratio is exp(log pi - log pi_old): build it from the policy's Values")


@pytest.mark.task("grpo_loss")
def test_equal_rewards_and_no_kl_give_zero_gradient(kata):
    require(kata, "grpo_loss", LOSS_PARTS)
    policy = spec_policy(42)
    comps, _, old, ref = a_group(70, policy, 9, 6)
    live = {k: [[kata.Value(v) for v in row] for row in t] for k, t in policy.items()}
    advantages = [0.0] * 6  # group_advantages of six equal rewards, as documented
    kata.grpo_loss(live, 9, comps, advantages, old, ref, 0.2, 0.0).backward()
    grads = [v.grad for t in live.values() for row in t for v in row]
    assert_equal(grads, [0.0] * len(grads), "gradient of grpo_loss for a group with equal rewards and beta = 0",
                 hint="equal rewards -> all advantages 0 -> nothing to learn from this group")


@pytest.mark.task("grpo_loss")
def test_grpo_loss_rejects_negative_beta(kata):
    policy = spec_policy(1)
    comps, adv, old, ref = a_group(80, policy, 1, 2)
    with pytest.raises(ValueError, match=r"\bbeta\b"):
        kata.grpo_loss(policy, 1, comps, adv, old, ref, 0.2, -0.01)
    for beta in (float("nan"), -1e-12):  # validation first: also with an empty group
        with pytest.raises(ValueError, match=r"\bbeta\b"):
            kata.grpo_loss(policy, 1, [], [], [], [], 0.2, beta)


# === task 6: train_grpo ===


@pytest.mark.task("train_grpo")
def test_constant_reward_leaves_the_policy_unchanged(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    policy, ref = spec_policy(90), spec_policy(90)
    trained, rewards = kata.train_grpo(policy, ref, [[1, 4], [8]], random.Random(3), group_size=4,
                                       beta=0.0, lr=0.1, inner_steps=2, reward_fn=lambda p, c: 0.25)
    assert_equal(trained, spec_policy(90), "policy after GRPO with a constant reward and beta = 0",
                 hint="equal rewards in a group give zero advantages: the gradient is exactly 0")
    assert_equal(list(rewards), [0.25, 0.25], "mean_rewards with a constant reward of 0.25")
    assert_equal(policy, spec_policy(90), "the policy passed in (train a copy)")
    assert_equal(ref, spec_policy(90), "the reference (frozen)")


def spec_policy_gradient(ref, prompts, G, rng, reward_fn):
    """(gradient, rewards) of the GRPO loss at policy = old = reference (rho = 1, d k3 = 0):
    dL/dtheta = -(1/P) sum_groups (1/G) sum_i (A_i / 3) sum_t d log pi(o_it) / d theta."""
    grad = {k: [[0.0] * DIGITS for _ in t] for k, t in ref.items()}
    seen = []
    for prompt in prompts:
        comps = spec_sample_group(ref, prompt, G, rng)
        rs = [reward_fn(prompt, c) for c in comps]
        seen += rs
        for comp, a in zip(comps, spec_advantages(rs)):
            previous = prompt
            for t, token in enumerate(comp):
                probs = [math.exp(v) for v in spec_log_softmax(spec_logits(ref, previous, t))]
                for k in range(DIGITS):
                    d = -(a / LENGTH) / G / len(prompts) * ((k == token) - probs[k])
                    grad["T"][previous][k] += d
                    grad["P"][t][k] += d
                previous = token
    return grad, seen


@pytest.mark.task("train_grpo")
def test_first_step_is_an_adam_step_on_the_policy_gradient(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    ref = spec_policy(91)
    prompts, G, lr = [3, 0, 3], 5, 0.05
    trained, rewards = kata.train_grpo(ref, ref, [prompts], random.Random(17), group_size=G, eps=0.2, beta=0.5,
                                       lr=lr, inner_steps=1, reward_fn=count_up)
    grad, seen = spec_policy_gradient(ref, prompts, G, random.Random(17), count_up)
    assert_close(list(rewards), [math.fsum(seen) / len(seen)], 1e-12, "mean_rewards of the first step")
    for k in ref:
        # Adam's first step: m/c1 = g and sqrt(v/c2) = |g|, so every weight moves by -lr g / (|g| + 1e-8)
        expected = [[w - lr * g / (abs(g) + 1e-8) for w, g in zip(row, grow)] for row, grow in zip(ref[k], grad[k])]
        assert_close(trained[k], expected, 1e-9, f"policy[{k!r}] after one GRPO step (inner_steps=1)",
                     hint="sample from a frozen copy, group-normalise, mean the group losses, one Adam step")


@pytest.mark.task("train_grpo")
def test_one_adam_runs_across_steps(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    ref = spec_policy(93)
    G, lr = 4, 0.05

    def reward(prompt, completion):  # prompt 5 teaches nothing (equal rewards), others count up
        return 0.5 if prompt == 5 else count_up(prompt, completion)

    trained, _ = kata.train_grpo(ref, ref, [[5], [3, 0]], random.Random(23), group_size=G, eps=0.2, beta=0.5,
                                 lr=lr, inner_steps=1, reward_fn=reward)
    rng = random.Random(23)
    spec_sample_group(ref, 5, G, rng)  # step 1: zero gradient, the policy does not move
    grad, _ = spec_policy_gradient(ref, [3, 0], G, rng, reward)
    c1, c2 = 1 - 0.9 ** 2, 1 - 0.999 ** 2  # step 2 of the same Adam, after a zero first gradient
    for k in ref:
        expected = [[w - lr * (0.1 * g / c1) / (math.sqrt(0.001 * g * g / c2) + 1e-8) for w, g in zip(row, grow)]
                    for row, grow in zip(ref[k], grad[k])]
        assert_close(trained[k], expected, 1e-9, f"policy[{k!r}] after a zero step and a real one",
                     hint="create the Adam optimizer once for the whole run, not once per step")


def spec_loss_gradient(params, rollouts, eps, beta):
    """Closed-form gradient of the mean over groups of the GRPO loss, rollouts = [(prompt, comps, adv, old, ref)].
    Per token, d term / d log pi = A rho (0 where the clip binds) - beta (1 - pi_ref / pi), and
    d log pi / d logit_k = [k == token] - p_k, where logit_k = T[previous][k] + P[t][k]."""
    grad = {k: [[0.0] * DIGITS for _ in t] for k, t in params.items()}
    n_bound = 0
    for prompt, comps, advs, olds, refs in rollouts:
        for comp, a, old, ref in zip(comps, advs, olds, refs):
            previous = prompt
            for t, token in enumerate(comp):
                logps = spec_log_softmax(spec_logits(params, previous, t))
                rho = math.exp(logps[token] - old[t])
                bound = min(max(rho, 1 - eps), 1 + eps) * a < rho * a
                n_bound += bound
                d_logp = (0.0 if bound else a * rho) - beta * (1.0 - math.exp(ref[t] - logps[token]))
                scale = -d_logp / len(comp) / len(comps) / len(rollouts)
                for k in range(DIGITS):
                    d = scale * ((k == token) - math.exp(logps[k]))
                    grad["T"][previous][k] += d
                    grad["P"][t][k] += d
                previous = token
    return grad, n_bound


@pytest.mark.task("train_grpo")
def test_inner_steps_reuse_the_rollouts_against_pi_old_and_the_reference(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    policy, reference = spec_policy(94), spec_policy(95)
    prompts, G, eps, beta, lr = [6, 1], 4, 0.05, 0.3, 0.1

    def reward(prompt, completion):  # groups with different means: mean_rewards must average all of them
        return prompt / 10 + count_up(prompt, completion)

    trained, rewards = kata.train_grpo(policy, reference, [prompts], random.Random(29), group_size=G, eps=eps,
                                       beta=beta, lr=lr, inner_steps=2, reward_fn=reward)
    rng, rollouts, seen = random.Random(29), [], []
    for prompt in prompts:  # sampled once, from the policy as it was at the start of the step (pi_old)
        comps = spec_sample_group(policy, prompt, G, rng)
        rs = [reward(prompt, c) for c in comps]
        seen += rs
        rollouts.append((prompt, comps, spec_advantages(rs), [spec_token_logps(policy, prompt, c) for c in comps],
                         [spec_token_logps(reference, prompt, c) for c in comps]))
    assert_close(list(rewards), [math.fsum(seen) / len(seen)], 1e-12, "mean_rewards of a step with two groups",
                 hint="the mean over every completion sampled in the step, all groups together")
    theta, m, v = copy.deepcopy(policy), {}, {}
    for step in (1, 2):
        grad, n_bound = spec_loss_gradient(theta, rollouts, eps, beta)
        c1, c2 = 1 - 0.9 ** step, 1 - 0.999 ** step
        for k in theta:
            for i, row in enumerate(theta[k]):
                for j, g in enumerate(grad[k][i]):
                    m[k, i, j] = 0.9 * m.get((k, i, j), 0.0) + 0.1 * g
                    v[k, i, j] = 0.999 * v.get((k, i, j), 0.0) + 0.001 * g * g
                    row[j] -= lr * (m[k, i, j] / c1) / (math.sqrt(v[k, i, j] / c2) + 1e-8)
    assert n_bound > 0, "test fixture: the clip should bind on some token at the second inner step"
    for k in policy:
        assert_close(trained[k], theta[k], 1e-9, f"policy[{k!r}] after one step of 2 inner steps (ratios != 1)",
                     hint="the inner steps reuse the SAME rollouts: pi_old and the reference log-probs are computed "
                          "once per step, from the frozen copy and from the reference")


@pytest.mark.task("train_grpo")
def test_train_grpo_is_deterministic_for_a_seed(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    ref = spec_policy(92)
    batches = [[2, 5], [7, 7]]
    for seed in (4, 8, 15):
        a = kata.train_grpo(ref, ref, batches, random.Random(seed), group_size=3, inner_steps=2)
        random.seed(seed * 1000 + 1)  # disturb the global random state: only the rng passed in may be used
        random.random()
        b = kata.train_grpo(ref, ref, batches, random.Random(seed), group_size=3, inner_steps=2)
        assert_equal(a[0], b[0], f"policy after two runs with seed {seed}",
                     hint="draw every random number from the rng argument, never from the random module")
        assert_equal(list(a[1]), list(b[1]), f"mean_rewards of two runs with seed {seed}")
        # ...and the run must be a real one: its first step samples from the reference with this rng.
        rng = random.Random(seed)
        seen = [count_up(p, c) for p in (2, 5) for c in spec_sample_group(ref, p, 3, rng)]
        assert_close(a[1][0], math.fsum(seen) / len(seen), 1e-12, f"mean_rewards[0] with seed {seed}",
                     hint="step 1 samples a group per prompt from the starting policy with the rng passed in")


@pytest.mark.task("train_grpo")
@pytest.mark.parametrize("kwargs,word", [
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"inner_steps": 0}, "inner_steps"), ({"eps": 1.0}, "eps"),
    ({"eps": 0.0}, "eps"), ({"beta": -0.5}, "beta"), ({"group_size": 1}, "group_size"),
], ids=["lr0", "lr-negative", "inner0", "eps1", "eps0", "beta-negative", "group1"])
def test_train_grpo_rejects_bad_arguments(kata, kwargs, word):
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.train_grpo(spec_policy(1), spec_policy(1), [[3]], random.Random(0), **kwargs)


@pytest.mark.task("train_grpo")
@pytest.mark.parametrize("kwargs,word", [
    ({"lr": 0.0}, "lr"), ({"inner_steps": 0}, "inner_steps"), ({"eps": 1.0}, "eps"), ({"eps": 0.0}, "eps"),
    ({"eps": -0.5}, "eps"), ({"eps": 1.5}, "eps"), ({"beta": -0.5}, "beta"),
    ({"lr": float("nan")}, "lr"), ({"lr": -1e-12}, "lr"), ({"eps": float("nan")}, "eps"),
    ({"beta": float("nan")}, "beta"), ({"inner_steps": 2.5}, "inner_steps"), ({"inner_steps": True}, "inner_steps"),
    ({"inner_steps": -1}, "inner_steps"), ({"group_size": 1}, "group_size"), ({"group_size": 0}, "group_size"),
    ({"group_size": 2.5}, "group_size"), ({"group_size": True}, "group_size"), ({"group_size": 3.0}, "group_size"),
], ids=["lr0", "inner0", "eps1", "eps0", "eps-negative", "eps1.5", "beta-negative", "lr-nan", "lr-tiny-negative",
        "eps-nan", "beta-nan", "inner2.5", "inner-True", "inner-negative", "group1", "group0", "group2.5",
        "group-True", "group3.0"])
def test_train_grpo_checks_its_arguments_before_any_step(kata, kwargs, word):
    """With no prompt batches nothing downstream runs: train_grpo itself must raise."""
    with pytest.raises(ValueError, match=rf"\b{word}\b"):
        kata.train_grpo(spec_policy(1), spec_policy(1), [], random.Random(0), **kwargs)


@pytest.mark.task("train_grpo")
def test_train_grpo_accepts_the_smallest_group(kata):
    """group_size = 2 is the smallest allowed group: one step with it is a real GRPO step."""
    require(kata, "train_grpo", LOOP_PARTS)
    ref = spec_policy(96)
    trained, rewards = kata.train_grpo(ref, ref, [[4, 7]], random.Random(31), group_size=2, eps=0.2, beta=0.5,
                                       lr=0.05, inner_steps=1, reward_fn=count_up)
    grad, seen = spec_policy_gradient(ref, [4, 7], 2, random.Random(31), count_up)
    assert_close(list(rewards), [math.fsum(seen) / len(seen)], 1e-12, "mean_rewards of one step with group_size=2",
                 hint="group_size must be an int >= 2: 2 itself is allowed")
    for k in ref:
        expected = [[w - 0.05 * g / (abs(g) + 1e-8) for w, g in zip(row, grow)] for row, grow in zip(ref[k], grad[k])]
        assert_close(trained[k], expected, 1e-9, f"policy[{k!r}] after one GRPO step with groups of 2")


@pytest.mark.task("train_grpo")
def test_train_grpo_logs_each_step_and_its_mean_reward(kata):
    require(kata, "train_grpo", LOOP_PARTS)
    ref = spec_policy(93)
    calls = []
    _, rewards = kata.train_grpo(ref, ref, [[2], [5], [8]], random.Random(6), group_size=3, inner_steps=1,
                                 reward_fn=lambda prompt, completion: prompt + count_up(prompt, completion),
                                 log=lambda step, mean_reward: calls.append((step, mean_reward)))
    assert_equal([c[0] for c in calls], [1, 2, 3], "the steps passed to log(step, mean_reward)",
                 hint="one call after each step, steps numbered from 1")
    assert_close([c[1] for c in calls], list(rewards), 0.0, "the rewards passed to log: log(step, mean_rewards[step - 1])",
                 hint="steps are numbered from 1: the first call is log(1, mean_rewards[0])")
    assert_equal(len(rewards), 3, "len(mean_rewards) after 3 steps")
    assert all(p <= r <= p + 1 for p, r in zip((2, 5, 8), rewards)), (
        f"mean_rewards {list(rewards)}: prompts 2, 5, 8 give rewards in [2, 3], [5, 6], [8, 9]: "
        "mean_rewards[step - 1] must be the mean of step `step`, in order")


# === slow: GRPO learns the counting task ===


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.task("train_grpo")
def test_grpo_learns_to_count(kata):
    ref = kata.init_policy(random.Random(kata.SEED))
    batches = kata.make_prompt_batches(kata.STEPS, kata.PROMPTS_PER_STEP, random.Random(kata.SEED))
    policy, rewards = kata.train_grpo(ref, ref, batches, random.Random(1))
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    if not last > first + 0.3:
        raise Mismatch(f"GRPO mean sampled reward {first:.3f} (first 5 steps) -> {last:.3f} (last 5): expected +0.3")
    greedy = 0.0
    for prompt in range(DIGITS):
        previous, comp = prompt, []
        for t in range(LENGTH):
            logits = spec_logits(policy, previous, t)
            previous = max(range(DIGITS), key=lambda k: logits[k])
            comp.append(previous)
        greedy += count_up(prompt, comp) / DIGITS
    assert greedy >= 0.6, f"greedy completions earn {greedy:.3f} on average after GRPO; expected >= 0.6"
