"""Assertions and input generators shared by the graded tests.

Failure messages teach: they name the call that went wrong, what was
expected, what came, and where the first mismatch is.
"""

from __future__ import annotations

import math
import random


class Mismatch(AssertionError):
    """A graded value differs from its independent expectation."""


def matrix(rng: random.Random, rows: int, cols: int, scale: float = 1.0) -> list[list[float]]:
    """A rows x cols list of lists with entries uniform in [-scale, scale)."""
    return [[rng.uniform(-scale, scale) for _ in range(cols)] for _ in range(rows)]


def vector(rng: random.Random, n: int, scale: float = 1.0) -> list[float]:
    return [rng.uniform(-scale, scale) for _ in range(n)]


def _shape(value) -> tuple:
    if isinstance(value, (list, tuple)):
        inner = {_shape(v) for v in value}
        return (len(value),) + (inner.pop() if len(inner) == 1 else ("ragged",))
    return ()


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
    if actual is None and expected is not None:
        raise Mismatch(f"{what}: returned None: did you forget to `return` the result?")
    want, got = _shape(expected), _shape(actual)
    if want != got:
        raise Mismatch(f"{what}: expected shape {want}, got {got} ({_brief(actual)}){hint_line}")
    bad = []
    for (index, a), (_, e) in zip(_flat(actual), _flat(expected)):
        if not _number(a):
            raise Mismatch(f"{what}: entry {_fmt_index(index)} is {a!r}, not a number{hint_line}")
        if not math.isfinite(a):
            bad.append((index, a, e, math.inf))
        elif abs(a - e) > tol:
            bad.append((index, a, e, abs(a - e)))
    if bad:
        index, a, e, diff = bad[0]
        total = sum(1 for _ in _flat(expected))
        raise Mismatch(
            f"{what}: first mismatch at {_fmt_index(index)}: expected {e!r}, got {a!r} "
            f"(|diff| {diff:.3g} > tolerance {tol:g}); {len(bad)} of {total} entries differ{hint_line}"
        )


def assert_equal(actual, expected, what: str, hint: str = "") -> None:
    """Assert exact equality with a message naming the call and both values."""
    __tracebackhide__ = True
    if actual is None and expected is not None:
        raise Mismatch(f"{what}: returned None: did you forget to `return` the result?")
    if actual != expected:
        hint_line = f"\n  hint: {hint}" if hint else ""
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}{hint_line}")


def max_abs_diff(a, b) -> float:
    """Largest absolute entrywise difference of two equally shaped nested lists."""
    return max((abs(x - y) for (_, x), (_, y) in zip(_flat(a), _flat(b))), default=0.0)


def _brief(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
