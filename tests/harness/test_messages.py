"""Mismatch messages of workbook.checks (issue 21): which keys of a dict differ, are missing or
extra; a list's length mismatch and first differing index; small values shown whole."""

import pytest


# === mismatch messages for dicts and long lists ===


def mismatch(actual, expected):
    from workbook.checks import Mismatch, assert_equal

    with pytest.raises(Mismatch) as caught:
        assert_equal(actual, expected, "f(x)")
    return str(caught.value)


def test_a_dict_mismatch_names_missing_extra_and_changed_keys():
    text = mismatch({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4})
    assert "missing key 'd'" in text and "extra key 'c'" in text, text
    assert "different value at ['b']: expected 5, got 2" in text, text
    assert "first difference at ['x'][2]: expected 4, got 3" in mismatch({"x": [1, 2, 3]}, {"x": [1, 2, 4]})


def test_a_long_list_mismatch_gives_the_length_and_the_first_differing_index():
    text = mismatch(list(range(100)), list(range(99)))
    assert "expected length 99, got length 100" in text and "extra from index 99: [99]" in text, text
    assert len(text) < 500, text  # long values are cut, not printed whole
    text = mismatch([0] * 50 + [7] + [0] * 49, [0] * 100)
    assert "first difference at [50]: expected 0, got 7" in text, text
    assert "missing from index 2: [3]" in mismatch([1, 2], [1, 2, 3])


def test_small_values_are_shown_whole():
    assert mismatch([[1, 2], [3, 4]], [[1, 2], [3, 5]]).startswith(
        "f(x): expected [[1, 2], [3, 5]], got [[1, 2], [3, 4]]; first difference at [1][1]: expected 5, got 4")
    assert mismatch(3, 4) == "f(x): expected 4, got 3"


def test_an_input_is_shown_itself_when_small():
    from workbook.checks import shown_input

    assert shown_input([[1, 2], [3]]) == "[[1, 2], [3]]"
    long = shown_input(list(range(1000)))
    assert len(long) <= 300 and long.startswith("[0, 1, 2") and long.endswith("(1000 items)"), long
