"""Contracts every graded call is held to, whatever the test checks.

``guard_inputs(kata)`` wraps the module under test (or any proxy standing in
for it) so that every function a graded test calls through it is checked:

* **inputs are not mutated**: list, dict, tuple and set arguments are copied
  before the call and compared after it (exactly, NaN equal to NaN). A task
  whose docstring documents a change to its arguments opts out by saying so:
  the words "in place", "modifies", "mutates" or "appends" in its docstring;
* **a new list is a new list**: when the docstring says "new list" (or "new
  vector", "new matrix"), the result must not be one of the arguments, nor
  share a row with one.

Classes are handed back unwrapped (a method may well change its object), and
so is anything that is not a plain function. Attribute writes (pytest's
``monkeypatch.setattr(kata, ...)``) go to the wrapped object, so patched
helpers are seen by the kata's own calls.

The wrapper is cheap: only containers are copied (their leaves are shared, so
a change inside a custom object held in a list is not seen), and arguments
holding no container are not copied at all. While ``tracemalloc`` traces (a
test measuring the kata's peak memory) calls are passed straight through.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import tracemalloc

from .checks import Mismatch

OPT_OUT = re.compile(r"\bin[ -]place\b|\bmodifies\b|\bmutates\b|\bappends\b", re.IGNORECASE)
NEW_RESULT = re.compile(r"\bnew\b[^.;]*?\b(list|lists|vector|matrix)\b", re.IGNORECASE)
CONTAINERS = (list, dict, tuple, set)


def _snapshot(value):
    """A copy of the containers in ``value`` (leaves shared): cheaper than deepcopy."""
    kind = type(value)
    if kind is list:
        return [_snapshot(v) for v in value]
    if kind is tuple:
        return tuple(_snapshot(v) for v in value)
    if kind is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    if kind is set:
        return set(value)
    return value


def _same(a, b) -> bool:
    """Exact structural equality, with NaN equal to NaN."""
    if a is b:
        return True
    try:
        if type(a) is type(b) and a == b:  # the fast path: C-level comparison of the containers
            return True
    except Exception:
        pass
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:  # an object without a usable ==: identity was checked above
        return False


def _first_change(before, after, path="") -> str:
    """Where ``after`` first differs from ``before``, e.g. ``[2][0]: 0.5 -> 0.0``."""
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        if len(before) != len(after):
            return f"{path or 'the argument'}: length {len(before)} -> {len(after)}"
        for i, (x, y) in enumerate(zip(before, after)):
            if not _same(x, y):
                return _first_change(x, y, f"{path}[{i}]")
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            if key not in after or key not in before or not _same(before[key], after[key]):
                return _first_change(before.get(key), after.get(key), f"{path}[{key!r}]")
    return f"{path or 'the argument'}: {_brief(before)} -> {_brief(after)}"


def _brief(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rows(value):
    """The value and, for a list of lists, its rows: the objects a new result must not reuse."""
    yield value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                yield item


def check_calls(function, name: str, spec: tuple[str, list[str]] | None = None):
    """``function`` wrapped with the contract checks its docstring allows.

    ``spec`` is ``(docstring, parameter names)`` from the pristine skeleton;
    without it they are read from the function itself.
    """
    if spec is not None:
        doc, parameters = spec
    else:
        doc = inspect.getdoc(function) or ""
        try:
            parameters = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            parameters = []
    check_inputs = not OPT_OUT.search(doc)
    check_new = bool(NEW_RESULT.search(doc))
    if not (check_inputs or check_new):
        return function

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        __tracebackhide__ = True
        if tracemalloc.is_tracing():  # a test measuring memory: copies here would count as the kata's
            return function(*args, **kwargs)
        named = list(zip(parameters, args)) + list(kwargs.items())
        watched = [(arg, value, _snapshot(value)) for arg, value in named if isinstance(value, CONTAINERS)]
        result = function(*args, **kwargs)
        if check_inputs:
            for arg, value, before in watched:
                if not _same(before, value):
                    raise Mismatch(
                        f"{name}() changed its argument {arg!r} ({_first_change(before, value)}); "
                        "the docstring does not allow changing inputs\n"
                        "  hint: build new lists for the result instead of writing into the input "
                        "(copy first: row[:] or list(row))"
                    )
        if check_new and isinstance(result, list):
            inputs = {id(obj) for _, value, _ in watched for obj in _rows(value)}
            if any(id(obj) in inputs for obj in _rows(result)):
                raise Mismatch(
                    f"{name}() returned (part of) one of its arguments; the docstring promises a new list\n"
                    "  hint: the caller may change the result: build new lists (row[:] or list(row))"
                )
        return result

    guarded.__workbook_unwrapped__ = function
    return guarded


class GuardedKata:
    """The module under test (or a proxy for it), with every plain function call checked."""

    __slots__ = ("_target", "_cache", "_specs")

    def __init__(self, target, specs: dict | None = None) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_specs", specs or {})

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        spec = self._specs.get(name)
        # A plain function, or (isolated grading) a callable proxy of one the
        # pristine skeleton defines; classes pass through.
        if not (inspect.isfunction(value) or (spec is not None and callable(value) and not isinstance(value, type))):
            return value
        cached = self._cache.get(name)
        if cached is None or cached.__workbook_unwrapped__ is not value:
            cached = check_calls(value, name, spec)
            if cached is value:
                return value
            self._cache[name] = cached
        return cached

    def __setattr__(self, name: str, value) -> None:
        setattr(self._target, name, getattr(value, "__workbook_unwrapped__", value))

    def __delattr__(self, name: str) -> None:
        delattr(self._target, name)

    @property
    def __dict__(self):  # monkeypatch reads it to know what undo must restore
        return self._target.__dict__

    def __dir__(self):
        return dir(self._target)

    def __repr__(self) -> str:
        return f"<contract-checked {self._target!r}>"


def guard_inputs(kata, specs: dict | None = None):
    """Wrap the module under test (or a proxy for it) with the contract checks; idempotent.

    ``specs`` maps function names to ``(docstring, parameter names)`` from the
    pristine skeleton (``progress.function_specs``): the promises a learner's
    file cannot change. Functions not in it are checked by their own docstring.
    """
    return kata if isinstance(kata, GuardedKata) else GuardedKata(kata, specs)
