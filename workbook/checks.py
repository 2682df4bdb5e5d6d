"""Assertions and input generators shared by the graded tests.

Failure messages teach: they name the call that went wrong, what was
expected, what came, and where the first mismatch is.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction


from .wire import PREVIOUS, Proxy, Table  # noqa: F401  (Table: a model by value, see call_each)


def call_each(function, arguments, **kwargs) -> list:
    """``[function(*args, **kwargs) for args in arguments]``: the results of many calls of a kata function.

    For the statistical tests that call a kata tens of thousands of times:
    isolated (``--isolate``, ``workbook grade``) the calls run in the worker
    in one round trip, with a ``random.Random`` argument advanced there and
    its state brought back, as one call at a time would. The first call is
    made alone, so the docstring's contracts (inputs not changed) are checked
    on it. A model passed as a ``Table`` is called in the worker too; any
    other object a test passes is still called back in the grader.
    """
    arguments = [tuple(a) for a in arguments]
    if not arguments:
        return []
    first = function(*arguments[0], **kwargs)
    many = getattr(getattr(function, "__workbook_unwrapped__", function), "_wb_many", None)
    if many is None:
        return [first] + [function(*a, **kwargs) for a in arguments[1:]]
    return [first] + (many(arguments[1:], kwargs) if len(arguments) > 1 else [])


def repeat(function, times: int, *args, **kwargs) -> list:
    """``[function(*args, **kwargs) for _ in range(times)]``, in one round trip when isolated (see ``call_each``)."""
    if times < 1:
        return []
    first = function(*args, **kwargs)
    many = getattr(getattr(function, "__workbook_unwrapped__", function), "_wb_repeat", None)
    if many is None:
        return [first] + [function(*args, **kwargs) for _ in range(times - 1)]
    return [first] + (many(times - 1, args, kwargs) if times > 1 else [])


def chain(function, times: int, first, arguments):
    """``x = first``, then ``times`` times ``x = function(*arguments(x))``: the last x.

    For a structure built one call on the last (a 5,000-node chain of a
    kata's ``Value``): isolated, the calls are made in the worker, in one
    round trip. ``arguments(x)`` builds one call's arguments (lists and
    tuples) from x alone: it is called once, with a stand-in for x, to learn
    where x goes.
    """
    many = getattr(getattr(function, "__workbook_unwrapped__", function), "_wb_chain", None)
    if many is None:
        x = first
        for _ in range(times):
            x = function(*arguments(x))
        return x
    return many(times, first, arguments(PREVIOUS))


def call_each_in_order(function, arguments, **kwargs):
    """``call_each`` for a loop that checks each result in turn: an iterator over the results.

    If a call raises, the generators among the arguments are put back and the
    calls are made one at a time as the loop reaches them, so a wrong result
    before the raising call is still the failure reported, as with a plain loop.
    """
    arguments = [tuple(a) for a in arguments]
    return _in_order(lambda: call_each(function, arguments, **kwargs),
                     lambda: (function(*a, **kwargs) for a in arguments),
                     [v for a in arguments for v in a] + list(kwargs.values()))


def repeat_in_order(function, times: int, *args, **kwargs):
    """``repeat`` for a loop that checks each result in turn (see ``call_each_in_order``)."""
    return _in_order(lambda: repeat(function, times, *args, **kwargs),
                     lambda: (function(*args, **kwargs) for _ in range(times)),
                     list(args) + list(kwargs.values()))


def _in_order(batched, one_at_a_time, values: list):
    rngs = {id(v): v for v in values if isinstance(v, random.Random)}.values()
    states = [(rng, rng.getstate()) for rng in rngs]
    try:
        return iter(batched())
    except Exception:
        for rng, state in states:
            rng.setstate(state)
        return one_at_a_time()


def kata_list(kata, values) -> list:
    """A list of ``values`` that the test and the kata share, wherever the kata runs.

    For a test that hands the kata a list, then changes it, to see whether
    the kata kept the list itself or a copy (``cache.append(k, v)``, then
    ``k[0] = 99.0``). In-process any list does. Isolated, a list the test
    passes crosses as a copy, so a kata that keeps the caller's list would
    never see the change: this one is made in the worker, passed to the kata
    as itself, and the test's changes to it reach it there.
    """
    worker = getattr(kata, "_wb_worker", None)
    if worker is None:
        return list(values)
    return worker.channel.request({"q": "svc", "h": 0, "a": ["list", list(values)]})


def read_each(objects, name: str) -> list:
    """``[getattr(o, name) for o in objects]``: one attribute of many kata objects.

    Isolated, the kata's objects live in the worker and each read is a round
    trip; here all of them are read in one (``results' .data``, a graph's
    ``_children`` level by level).
    """
    objects = list(objects)
    channel = objects[0]._wb_channel if objects and type(objects[0]) is Proxy else None
    if channel is None or any(type(o) is not Proxy or o._wb_channel is not channel for o in objects):
        return [getattr(o, name) for o in objects]
    return channel.request({"q": "gets", "h": 0, "a": [objects, name]})


class Mismatch(AssertionError):
    """A graded value differs from its independent expectation.

    ``hint`` is the check's own hint for this failure: the runner shows it
    (and ``python -m workbook hint`` shows it first) before the task's
    general hint levels.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    """A rows x cols list of lists with entries uniform in [-scale, scale)."""
    return [[rng.uniform(-scale, scale) for _ in range(cols)] for _ in range(rows)]


def vector(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    return [rng.uniform(-scale, scale) for _ in range(n)]


class Opaque:
    """An object that is not plain data, as the checks compare it: equal only to itself.

    A value the kata made is never asked whether it equals the expectation
    (an ``__eq__`` that always answers True would pass any test).
    """

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def __eq__(self, other):
        return type(other) is Opaque and other.value is self.value

    def __hash__(self):
        return id(self.value)

    def __repr__(self):
        try:
            text = repr(self.value)
        except Exception:
            text = f"<{type(self.value).__name__} object>"
        return text if len(text) <= 200 else text[:197] + "..."


def plain(value):
    """``value`` as plain data built here: exact built-in numbers, strings, lists, tuples, dicts, sets.

    Subclasses of the built-in types are read with the base type's own
    methods (a kata's overrides never run); anything else becomes an
    ``Opaque``. The checks compare only what this returns.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, str, complex, bytes, Fraction):
        return value
    if isinstance(value, bool):
        return bool.__bool__(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [plain(v) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in tuple.__iter__(value))
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in dict.items(value)}
    if isinstance(value, (set, frozenset)):
        items = {plain(v) for v in set(value)}  # set() of a set copies its table: no __iter__ of the kata's
        return frozenset(items) if isinstance(value, frozenset) else items
    return Opaque(value)


def _shape(value) -> tuple:
    """(rows, cols, ...) of a regular nested list; a ragged level keeps every child's shape."""
    if isinstance(value, (list, tuple)):
        inner = [_shape(v) for v in value]
        if len(set(inner)) <= 1:
            return (len(value),) + (inner[0] if inner else ())
        return (len(value), tuple(inner))
    return ()


def _structure_mismatch(actual, expected, index=()):
    """Index and description of the first place the nesting differs, or None."""
    a_seq, e_seq = isinstance(actual, (list, tuple)), isinstance(expected, (list, tuple))
    if a_seq != e_seq:
        what = "a list" if e_seq else "a number"
        return index, f"expected {what}, got {_brief(actual)}"
    if not e_seq:
        return None
    if len(actual) != len(expected):
        return index, f"expected length {len(expected)}, got length {len(actual)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        found = _structure_mismatch(a, e, index + (i,))
        if found:
            return found
    return None


def _describe(value) -> str:
    shape = _shape(value)
    if len(shape) == 2 and isinstance(shape[1], tuple):  # ragged: say how
        lengths = [len(v) if isinstance(v, (list, tuple)) else "number" for v in value]
        return f"{shape[0]} ragged rows of lengths {_brief(lengths)}"
    return str(shape)


def _flat(value, index=()):
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flat(v, index + (i,))
    else:
        yield index, value


def _fmt_index(index) -> str:
    return "".join(f"[{i}]" for i in index) or "(scalar)"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_close(actual, expected, tol: float, what: str, hint: str = "") -> None:
    """Assert two numbers or nested lists agree within ``tol`` (absolute).

    ``what`` names the call under test, e.g. ``"flash_attention(N=7, B=3)"``.
    """
    __tracebackhide__ = True  # show the test's line, not this helper's
    hint_line = f"\n  hint: {hint}" if hint else ""
    actual, expected = plain(actual), plain(expected)
    if actual is None and expected is not None:
        raise Mismatch(f"{what}: returned None: did you forget to `return` the result?")
    # The nesting must match exactly (lists and tuples alike), ragged levels
    # included: a result regrouped into different chunks is wrong.
    found = _structure_mismatch(actual, expected)
    if found:
        index, detail = found
        raise Mismatch(
            f"{what}: expected shape {_describe(expected)}, got {_describe(actual)}; first "
            f"difference at {_fmt_index(index) if index else 'the top level'}: "
            f"{detail}{hint_line}", hint
        )
    bad = []
    for (index, a), (_, e) in zip(_flat(actual), _flat(expected)):
        if not _number(a):
            raise Mismatch(f"{what}: entry {_fmt_index(index)} is {a!r}, not a number{hint_line}", hint)
        if not math.isfinite(a):
            bad.append((index, a, e, math.inf))
        elif abs(a - e) > tol:
            bad.append((index, a, e, abs(a - e)))
    if bad:
        index, a, e, diff = bad[0]
        total = sum(1 for _ in _flat(expected))
        raise Mismatch(
            f"{what}: first mismatch at {_fmt_index(index)}: expected {e!r}, got {a!r} "
            f"(|diff| {diff:.3g} > tolerance {tol:g}); {len(bad)} of {total} entries differ{hint_line}", hint
        )


def _as_lists(value):
    """Tuples as lists, at every level: a docstring's "floats" or "ints" allows either."""
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return value


def assert_equal(actual, expected, what: str, hint: str = "") -> None:
    """Assert exact equality with a message naming the call and both values.

    A tuple equals the list with the same items (and vice versa), at any depth.
    """
    __tracebackhide__ = True
    actual, expected = plain(actual), plain(expected)
    if actual is None and expected is not None:
        raise Mismatch(f"{what}: returned None: did you forget to `return` the result?")
    if _as_lists(actual) != _as_lists(expected):
        hint_line = f"\n  hint: {hint}" if hint else ""
        where = _difference(actual, expected)
        detail = f"; {where}" if where else ""
        raise Mismatch(f"{what}: expected {_brief(expected, 160)}, got {_brief(actual, 160)}{detail}{hint_line}", hint)


def _keys(keys: list) -> str:
    shown = ", ".join(repr(k) for k in keys[:5])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > 5 else "")


def _difference(actual, expected, at: str = "") -> str:
    """Where two unequal containers first differ: keys missing, extra or changed; a length; an index.

    '' for two unequal scalars (the values themselves say it all).
    """
    if isinstance(actual, dict) and isinstance(expected, dict):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        changed = [k for k in expected if k in actual and _as_lists(actual[k]) != _as_lists(expected[k])]
        parts = []
        if missing:
            parts.append(f"missing key{'s' * (len(missing) > 1)} {_keys(missing)}" + (f" in {at}" if at else ""))
        if extra:
            parts.append(f"extra key{'s' * (len(extra) > 1)} {_keys(extra)}" + (f" in {at}" if at else ""))
        if changed:
            key = changed[0]
            inner = f"{at}[{key!r}]"
            deeper = _difference(actual[key], expected[key], inner)
            count = f"{len(changed)} keys differ, the first at " if len(changed) > 1 else "different value at "
            parts.append(deeper if deeper and len(changed) == 1 else
                         f"{count}{inner}: expected {_brief(expected[key])}, got {_brief(actual[key])}")
        return "; ".join(parts)
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        a, e = _as_lists(actual), _as_lists(expected)
        first = next((i for i, (x, y) in enumerate(zip(a, e)) if x != y), None)
        length = f"expected length {len(e)}, got length {len(a)}" + (f" at {at}" if at else "")
        if first is None:  # one is a prefix of the other
            shorter = min(len(a), len(e))
            tail = e[shorter:] if len(e) > len(a) else a[shorter:]
            which = "missing" if len(e) > len(a) else "extra"
            return f"{length}; the first {shorter} items agree, {which} from index {shorter}: {_brief(tail)}"
        inner = f"{at}[{first}]"
        deeper = _difference(actual[first], expected[first], inner)
        here = deeper or f"first difference at {inner}: expected {_brief(e[first])}, got {_brief(a[first])}"
        count = sum(x != y for x, y in zip(a, e))
        many = f" ({count} of {min(len(a), len(e))} items differ)" if count > 1 and not at else ""
        return (f"{length}; " if len(a) != len(e) else "") + here + many
    return ""


def max_abs_diff(a, b) -> float:
    """Largest absolute entrywise difference of two equally shaped nested lists."""
    return max((abs(x - y) for (_, x), (_, y) in zip(_flat(a), _flat(b))), default=0.0)


def shown_input(value, limit: int = 300) -> str:
    """An argument as a failure message should name it: itself when small, else its start and size.

    ``f"pair_counts({shown_input(sequences)})"`` lets the learner rerun the
    very call, instead of reading "seed 0 sequences".
    """
    return _brief(value, limit)


def _brief(value, limit: int = 80) -> str:
    """``repr(value)``, in full when it is small, else its start and its size."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} items)" if isinstance(value, (list, tuple, dict, str)) else ""
    return text[: limit - 3 - len(size)] + "..." + size


def require_earlier(task: str, checks, tol: float, relative: bool = False) -> None:
    """A later task's test runs earlier tasks: when one of them is wrong, fail naming it, not ``task``.

    ``checks``: ``(earlier task, description, thunk, expected)`` in task
    order. The thunk's result (a number, or a list or tuple of them) must
    equal ``expected``: floats within ``tol`` (times ``max(1, |expected|)``
    when ``relative``), anything else (ints, nested lists) exactly. An earlier task still TODO
    propagates, so the test stays TODO.
    """
    def close(got, want) -> bool:
        if isinstance(want, float):
            scale = max(1.0, abs(want)) if relative else 1.0
            return isinstance(got, (int, float)) and abs(got - want) <= tol * scale
        return got == want

    def agrees(got, want) -> bool:
        if isinstance(want, list):  # item by item; a nested list is compared exactly
            return (isinstance(got, (list, tuple)) and len(got) == len(want)
                    and all(close(g, w) for g, w in zip(got, want)))
        return close(got, want)

    for earlier, what, thunk, want in checks:
        try:
            got = plain(thunk())
            ok = agrees(got, want)
        except NotImplementedError:
            raise  # not written yet: this test stays a TODO
        except Exception as error:  # noqa: BLE001 - reported as the earlier task's failure
            got, ok = f"{type(error).__name__}: {error}", False
        if not ok:
            shown = f"{want:.12g}" if isinstance(want, float) else want
            raise Mismatch(f"{task} runs your {earlier}, which is not right yet ({what}: got {got}, expected {shown});"
                           f" pass {earlier}'s tests first")
