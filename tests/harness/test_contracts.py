"""The shared checks and the generic contracts every graded call is held to."""

import math
import types

import pytest

from workbook.checks import Mismatch, assert_close, assert_equal
from workbook.contracts import guard_inputs


# === assert_close compares the nesting exactly ===


def test_regrouped_ragged_result_is_rejected():
    with pytest.raises(Mismatch, match=r"first difference at \[0\]: expected length 1, got length 2"):
        assert_close([[1.0, 2.0], [3.0]], [[1.0], [2.0, 3.0]], 1e-9, "chunks()")


def test_extra_nesting_level_is_rejected():
    with pytest.raises(Mismatch, match="expected a number"):
        assert_close([[1.0], [2.0]], [1.0, 2.0], 1e-9, "f()")
    with pytest.raises(Mismatch, match="expected a list"):
        assert_close([1.0, 2.0], [[1.0], [2.0]], 1e-9, "f()")


def test_tuples_are_accepted_where_lists_are_expected():
    assert_close((1.0, (2.0, 3.0)), [1.0, [2.0, 3.0]], 1e-9, "f()")
    assert_close([[1.0], (2.0, 3.0)], [[1.0], [2.0, 3.0]], 1e-9, "ragged()")
    assert_equal((1, (2, 3)), [1, [2, 3]], "g()")
    with pytest.raises(Mismatch):
        assert_equal((1, 2), [1, 3], "g()")


# === guard_inputs: inputs not changed, new lists new ===


def _module(**functions):
    module = types.ModuleType("toy")
    for name, function in functions.items():
        function.__name__ = name
        setattr(module, name, function)
    return module


def scale_in_place_bad(x, s):
    """Return x scaled by s."""
    for i in range(len(x)):
        x[i] *= s
    return x


def scale_documented(x, s):
    """Scale x by s in place."""
    for i in range(len(x)):
        x[i] *= s


def identity_new(x):
    """Return x as a new list."""
    return x


def copy_new(rows):
    """Return a new list of lists equal to rows."""
    return [row for row in rows]  # shares the rows: not new


def good(x):
    """Return a new list: x doubled."""
    return [2 * v for v in x]


def test_changing_an_argument_fails_naming_it():
    kata = guard_inputs(_module(scale=scale_in_place_bad))
    with pytest.raises(Mismatch, match=r"scale\(\) changed its argument 'x' \(\[0\]: 1.0 -> 2.0\)"):
        kata.scale([1.0, math.nan], 2.0)


def test_documented_in_place_change_is_allowed():
    kata = guard_inputs(_module(scale=scale_documented))
    x = [1.0, 2.0]
    kata.scale(x, 3.0)
    assert x == [3.0, 6.0]


def test_new_list_must_not_be_an_argument_or_share_its_rows():
    kata = guard_inputs(_module(identity=identity_new, copy_rows=copy_new, good=good))
    with pytest.raises(Mismatch, match="promises a new list"):
        kata.identity([1.0])
    with pytest.raises(Mismatch, match="promises a new list"):
        kata.copy_rows([[1.0], [2.0]])
    assert kata.good((1.0, 2.0)) == [2.0, 4.0]


def test_nan_inputs_count_as_unchanged():
    kata = guard_inputs(_module(good=good))
    assert math.isnan(kata.good([math.nan])[0])


def test_monkeypatch_goes_through_to_the_module(monkeypatch):
    module = _module(good=good)
    kata = guard_inputs(module)
    monkeypatch.setattr(kata, "good", lambda x: "patched")
    assert module.good([1.0]) == "patched"
    monkeypatch.undo()
    assert module.good is good
    assert guard_inputs(kata) is kata


def test_classes_and_values_pass_through():
    module = _module(good=good)
    module.Thing = type("Thing", (), {})
    module.LIMIT = 3
    kata = guard_inputs(module)
    assert kata.Thing is module.Thing and kata.LIMIT == 3


# === end to end: the kata fixture applies the checks ===


def test_kata_fixture_rejects_a_changed_input(tmp_path):
    from toy_workbook import make, pytest as run_pytest

    root = make(tmp_path)
    sneaky = tmp_path / "microtoy.py"
    sneaky.write_text(
        "import math\n\n\ndef double(x):\n    return 2 * x\n\n\n"
        "def norm(v):\n    v.sort()\n    return math.sqrt(sum(a * a for a in v))\n"
    )
    (root / "tests" / "test_microtoy.py").write_text(
        (root / "tests" / "test_microtoy.py").read_text().replace("kata.norm([3, 4])", "kata.norm([4, 3])")
    )
    done = run_pytest(root, "tests/test_microtoy.py", "--kata-file", f"microtoy={sneaky}")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "norm() changed its argument 'v'" in done.stdout, done.stdout


@pytest.mark.parametrize("mode", [[], ["--isolate"]], ids=["in-process", "isolated"])
def test_a_learners_docstring_cannot_opt_out_of_the_contract(tmp_path, mode):
    """The promises come from the pristine skeleton: writing "in place" into your own docstring changes nothing."""
    from toy_workbook import make, pytest as run_pytest

    root = make(tmp_path)
    sneaky = tmp_path / "microtoy.py"
    sneaky.write_text(
        "import math\n\n\ndef double(x):\n    return 2 * x\n\n\n"
        "def norm(v):\n    \"\"\"Sorts v in place.\"\"\"\n    v.sort()\n    return math.sqrt(sum(a * a for a in v))\n"
    )
    (root / "tests" / "test_microtoy.py").write_text(
        (root / "tests" / "test_microtoy.py").read_text().replace("kata.norm([3, 4])", "kata.norm([4, 3])")
    )
    done = run_pytest(root, "tests/test_microtoy.py", "--kata-file", f"microtoy={sneaky}", *mode)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "norm() changed its argument 'v'" in done.stdout, done.stdout


def test_calls_under_tracemalloc_are_not_copied():
    import tracemalloc

    kata = guard_inputs(_module(scale=scale_in_place_bad))
    tracemalloc.start()
    try:
        assert kata.scale([1.0], 2.0) == [2.0]  # passed straight through: nothing allocated for checks
    finally:
        tracemalloc.stop()
