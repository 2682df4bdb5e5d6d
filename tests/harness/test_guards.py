"""The contract layer's randomness and type guards (workbook/contracts.py), on toy kata modules."""

import random
import sys
import textwrap
import types

import pytest

from workbook.checks import Mismatch
from workbook.contracts import guard_inputs, promise


def _kata(tmp_path, source, name="toykata"):
    """A real module from a file, as the plugin imports a kata (the guard names its file and line)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return guard_inputs(module), path


RANDOM_KATA = '''
import random
from random import gauss


def noise(n, rng):
    """n draws from rng."""
    return [rng.random() for _ in range(n)]


def noise_global(n, rng):
    """n draws from rng."""
    out = []
    for _ in range(n):
        out.append(random.random())
    return out


def noise_imported(n, rng):
    """n draws from rng."""
    return [gauss(0, 1) for _ in range(n)]


def noise_seeded(n, seed):
    """n draws from random.Random(seed)."""
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def noise_default_seed(n, seed=7):
    """n draws from random.Random(seed)."""
    return [random.random() for _ in range(n)]


def noise_global_seed(n, seed):
    """n draws from random.Random(seed)."""
    random.seed(seed)
    return [random.random() for _ in range(n)]


def shuffle_optional(x, rng=None):
    """A shuffled copy of x (the global generator when rng is None)."""
    y = list(x)
    (rng or random).shuffle(y)
    return y


def calls_back(n, rng, draw):
    """Calls draw() n times."""
    return [draw() for _ in range(n)]


def draw_then_fail(n, rng):
    """Raises ValueError for n < 0."""
    random.random()
    if n < 0:
        raise ValueError("n must be >= 0")
    return n
'''


def test_a_task_using_its_rng_passes(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    expected = random.Random(0)
    assert kata.noise(3, random.Random(0)) == [expected.random() for _ in range(3)]
    expected = random.Random(5)
    assert kata.noise_seeded(2, seed=5) == [expected.random() for _ in range(2)]


def test_a_global_draw_fails_naming_the_kata_line(tmp_path):
    kata, path = _kata(tmp_path, RANDOM_KATA)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "out.append(random.random())" in text)
    with pytest.raises(Mismatch, match=rf"noise_global\(\) drew from the global random module although it was given "
                                       rf"'rng': random.random\(\) at .*toykata.py:{line}") as failure:
        kata.noise_global(2, random.Random(0))
    assert "use the rng you were given" in str(failure.value)


def test_a_name_imported_from_random_is_seen_too(tmp_path):
    kata, path = _kata(tmp_path, RANDOM_KATA)
    with pytest.raises(Mismatch, match=r"random.gauss\(\) at .*toykata.py:\d+"):
        kata.noise_imported(1, random.Random(0))
    module = kata._target
    assert module.gauss is random.gauss  # restored after the call


def test_a_seed_means_an_own_generator(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    with pytest.raises(Mismatch, match=r"given 'seed'.*\n.*random.Random\(seed\)"):
        kata.noise_global_seed(2, 7)
    with pytest.raises(Mismatch, match=r"given 'seed'"):
        kata.noise_default_seed(2)  # a default seed is given too


def test_the_global_module_is_restored_and_its_draws_still_work(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    functions = {name: getattr(random, name) for name in ("random", "gauss", "shuffle", "seed", "choices")}
    with pytest.raises(Mismatch):
        kata.noise_global(1, random.Random(0))
    assert {name: getattr(random, name) for name in functions} == functions
    state = random.getstate()
    assert kata.noise(1, random.Random(1))  # a clean call leaves the global generator alone
    assert random.getstate() == state


def test_no_rng_given_means_no_check(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    assert sorted(kata.shuffle_optional([3, 1, 2])) == [1, 2, 3]  # rng=None: the docstring allows the global one


class _GlobalShuffler(random.Random):
    """A test's stub rng whose shuffle uses the global generator: the draw is not the kata's."""

    def shuffle(self, x):
        random.shuffle(x)


def test_draws_made_by_code_the_test_handed_in_are_not_the_katas(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    assert len(kata.calls_back(2, random.Random(0), lambda: random.random())) == 2
    assert sorted(kata.shuffle_optional([3, 1, 2], _GlobalShuffler())) == [1, 2, 3]


def test_a_draw_before_a_documented_error_is_still_reported(tmp_path):
    kata, _ = _kata(tmp_path, RANDOM_KATA)
    with pytest.raises(Mismatch, match="drew from the global random module"):
        kata.draw_then_fail(-1, random.Random(0))
    assert kata.draw_then_fail.__wrapped__(3, random.Random(0)) == 3  # unguarded: no check


# === promised return types ===


TYPED_KATA = '''
class Value:
    def __init__(self, data):
        self.data = data


def count(n):
    """Returns an int."""
    return n


def mean(xs):
    """Returns a float."""
    return sum(xs) / len(xs) if xs else 0


def codes(xs):
    """Returns a list of ints, each in [-127, 127]."""
    return [round(x) if x < 1 else float(x) for x in xs]


def probs(xs):
    """Returns a list of d floats summing to 1."""
    return [x / sum(xs) for x in xs]


def cells(xs):
    """Returns n_hidden Values."""
    return [Value(x) if x else x for x in xs]


def loss(x):
    """Returns a float for float inputs, a Value (differentiable) for Value inputs."""
    return Value(x.data * 2) if isinstance(x, Value) else x * 2


def loss_always_value(x):
    """Returns a float for float inputs, a Value (differentiable) for Value inputs."""
    return Value(x.data if isinstance(x, Value) else x)


def partial(m, acc):
    """Returns a new tuple (m, acc)."""
    return (m, acc)


def counts(d):
    """Return a new dict {key: count}."""
    return d


def three(x):
    """Return (a, b, c), three floats."""
    return (x, x, [x])


def mask(n):
    """Returns an n x n list of bools."""
    return [[i >= j for j in range(n)] for i in range(n)]


def flag(x):
    """Returns an int."""
    return x > 0
'''


def test_an_int_promised_rejects_floats_and_bools(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    assert kata.count(3) == 3
    with pytest.raises(Mismatch, match=r"count\(\) returned the wrong type: the docstring promises 'an int', "
                                       r"and the result is a float \(3.0\), not an int\n  hint: .*round\(\)"):
        kata.count(3.0)
    with pytest.raises(Mismatch, match=r"the result is a bool \(True\), not an int"):
        kata.flag(2)


def test_a_float_promised_accepts_an_int_but_not_a_value_or_bool(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    assert kata.mean([1.0, 2.0]) == 1.5
    assert kata.mean([]) == 0  # the int 0 is the number 0.0: accepted (CONTRIBUTING.md)
    with pytest.raises(Mismatch, match=r"the result is a Value, not a float\n  hint: .*\.data"):
        _typed("Returns a float.", kata.Value(1.0))
    with pytest.raises(Mismatch, match=r"the result is a bool \(True\), not a float"):
        _typed("Returns a float.", True)


def test_list_elements_are_checked_with_their_index(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    assert kata.codes([0.2, -0.7]) == [0, -1]
    with pytest.raises(Mismatch, match=r"promises 'a list of ints', and the result\[1\] is a float \(3.0\), not an int"):
        kata.codes([0.2, 3.0])
    assert kata.probs([1, 3]) == [0.25, 0.75]
    assert kata.mask(2) == [[True, False], [True, True]]  # an n x n list of bools: the leaves are checked


def test_values_promised(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    assert len(kata.cells([1.0, 2.0])) == 2
    with pytest.raises(Mismatch, match=r"the result\[1\] is an int \(0\), not a Value\n  hint: return the Value"):
        kata.cells([1.0, 0])


def test_float_or_value_follows_the_inputs(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    assert kata.loss(2.0) == 4.0
    assert kata.loss(kata.Value(2.0)).data == 4.0
    with pytest.raises(Mismatch, match=r"the result is a Value, not a float"):
        kata.loss_always_value(2.0)  # a float path that returns a Value


def test_new_tuple_and_new_dict_are_new_and_typed(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    with pytest.raises(Mismatch, match="promises a new tuple"):
        kata.partial(1.0, [1.0, 2.0])  # the tuple is new, its acc list is the argument
    with pytest.raises(Mismatch, match="promises a new dict"):
        kata.counts({"a": 1})
    assert kata.counts.__wrapped__({"a": 1}) == {"a": 1}
    with pytest.raises(Mismatch, match=r"the result is a list, not a dict"):
        _typed("Return a new dict {key: count}.", [1])
    with pytest.raises(Mismatch, match=r"the result is a list, not a tuple"):
        _typed("Returns a new tuple (m, l, acc);", [1.0, 1.0, []])


def _typed(doc, result):
    """Check ``result`` against what ``doc`` promises, as a guarded call would."""

    def function():
        return result

    function.__doc__ = doc
    module = types.ModuleType("toy")
    module.function = function
    return guard_inputs(module).function()


def test_named_tuples_with_a_count(tmp_path):
    kata, _ = _kata(tmp_path, TYPED_KATA)
    with pytest.raises(Mismatch, match=r"the result\[2\] is a list, not a float"):
        kata.three(1.0)
    with pytest.raises(Mismatch, match="has 2 items, not 3"):
        _typed("Return (a, b, c), three floats.", (1.0, 2.0))


@pytest.mark.parametrize(
    "doc, good, bad",
    [
        ("Returns a float in [0, 1].", 0.5, "0.5"),
        ("Returns an int (a count is exact).", 4, 4.0),
        ("Return its bit pattern as an int.", 0x3C00, 1.0),
        ("Returns a list of Python ints, each in [qmin, qmax];", [1, -2], [1, 2.0]),
        ("Returns a new list of len(outputs[0]) floats.", [1.0, 2], (1.0, 2.0)),
        ("Returns a list of T lists of n_hidden Values.", [[]], [[1.0]]),
        ("Returns a new list of strings (empty for \"\").", ["a"], [b"a"]),
        ("Returns a list of bytes of length 256.", [b"a"], ["a"]),
        ("Returns head_dim floats.", [1.0], [None]),
        ("Returns (dmu, dlogvar), two new lists: the partial derivatives", ([1.0], [2.0]), ([1.0], (2.0,))),
    ],
)
def test_the_phrasings_the_katas_use(doc, good, bad):
    assert _typed(doc, good) == good
    with pytest.raises(Mismatch, match="returned the wrong type"):
        _typed(doc, bad)


@pytest.mark.parametrize(
    "doc",
    [
        "Returns a Value when probs are Values.",  # conditional: nothing checkable
        "Returns a list of N probabilities, Values when W holds Values, floats otherwise.",
        "If rank == m, return the m x m identity.",
        "Return (tokens, logprob): the best finished hypothesis.",
        "Scale x by s.",
    ],
)
def test_no_promise_where_the_docstring_states_no_plain_type(doc):
    assert promise(doc) is None or promise(doc).leaf is None


def test_every_guard_is_cheap_enough_to_leave_on():
    # promise() parses once per docstring
    assert promise("Returns a float.") is promise("Returns a float.")
    assert sys.modules["workbook.contracts"].promise.cache_info().hits >= 1
