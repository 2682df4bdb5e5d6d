"""What a learner has done so far, read statically from their files.

The pristine skeleton of a kata says which functions are tasks (those whose
body raises ``KataTodo``). It comes from the solution when the workbook has
one, else from the copy a student bundle keeps in ``workbook/pristine/``.
A task is still TODO while the learner's function raises ``KataTodo``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from .build import enclosing, functions, generate
from .grading import NOT_RUN
from .layout import Kata

PRISTINE_DIR = Path("workbook") / "pristine"
TODO_CALL = re.compile(r"raise KataTodo\((?P<message>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\)")


def pristine_copy(kata: Kata) -> Path:
    return kata.root / PRISTINE_DIR / f"{kata.name}.py"


def pristine_source(kata: Kata) -> str:
    """The skeleton as generated: from the solution, or the bundle's saved copy."""
    if kata.solution.is_file():
        return generate(kata.name, kata.solution.read_text(encoding="utf-8"), str(kata.solution))
    copy = pristine_copy(kata)
    if copy.is_file():
        return copy.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"no pristine skeleton for {kata.name}: neither {kata.solution} nor {copy} exists"
    )


@dataclass(frozen=True)
class TaskInfo:
    """A task of a kata and where it stands in the learner's file."""

    function: str
    text: str
    stub_line: int | None  # line of `raise KataTodo` in the learner's file, None once written
    def_line: int | None  # line of the function in the learner's file

    @property
    def todo(self) -> bool:
        return self.stub_line is not None


def _stubs(source: str) -> tuple[dict[str, tuple[str, int]], dict[str, int]]:
    """({function: (task text, line of its raise KataTodo)}, {function: def line}) of a source."""
    defs = functions(ast.parse(source))
    found = {}
    for number, line in enumerate(source.splitlines(), start=1):
        match = TODO_CALL.search(line)
        func = enclosing(defs, number) if match else None
        if func is not None:
            message = ast.literal_eval(match.group("message"))
            found.setdefault(func[2], (message.partition(": ")[2], number))
    return found, {name: first for first, _, name, _ in defs}


def tasks(kata: Kata) -> list[TaskInfo]:
    """Every task of the kata in file order, with its state in the learner's file.

    Raises SyntaxError if the learner's file does not parse.
    """
    pristine, _ = _stubs(pristine_source(kata))
    mine, defs = _stubs(kata.skeleton.read_text(encoding="utf-8") if kata.skeleton.is_file() else "")
    return [
        TaskInfo(function, text, mine[function][1] if function in mine else None, defs.get(function))
        for function, (text, _) in pristine.items()
    ]


# === what to do next ===

DONE = "pass"


def pristine_tasks(source: str) -> list[tuple[str, str]]:
    """``(function, one-line task)`` of a pristine skeleton, in file order (the order a learner meets them)."""
    return [(function, text) for function, (text, _) in _stubs(source)[0].items()]


def next_task(rows: list[tuple[str, list[tuple[str, str]]]]) -> tuple[str, str, str] | None:
    """The one answer to "what next?": ``(kata, task, status)`` or None when all is done.

    ``rows`` holds, per kata in learning-path order, its ``(task, status)``
    pairs in kata order. The kata you are working on (some task written, not
    all done) comes first; otherwise the first kata with work left. Within a
    kata it is the first task that is not done, so a failing or timed-out
    task comes before the TODOs after it. Tasks that did not run in a partial
    run are not claimed either way.

    pytest's closing table, ``status`` and ``hint`` all call this.
    """
    def first_open(tasks):
        return next(((task, status) for task, status in tasks if status not in (DONE, NOT_RUN)), None)

    started = [
        (kata, tasks) for kata, tasks in rows
        if any(status not in ("todo", NOT_RUN) for _, status in tasks)
    ]
    for kata, tasks in started + rows:
        found = first_open(tasks)
        if found is not None:
            return (kata, *found)
    return None


def stub_lines(source: str) -> dict[str, tuple[str, int]]:
    """{task function: (one-line task, line of its ``raise KataTodo``)} still in a learner's source.

    ``{}`` when the source does not parse (the run reports that file as an error).
    """
    try:
        return _stubs(source)[0]
    except (SyntaxError, ValueError):
        return {}


def stub_function(kata: str, message: str) -> str:
    """The task whose stub raised: ``"microprefix.PrefixCache.allocate: ..."`` -> ``"PrefixCache.allocate"``."""
    head = message.partition(": ")[0]
    return head[len(kata) + 1:] if head.startswith(kata + ".") else head


def task_state(statuses: list[str], own_stub: bool) -> str:
    """What a learner is told about one task, from its tests' statuses.

    ``own_stub``: the task's own ``raise KataTodo`` is still in the learner's
    file. A task is

    * ``error`` if a test could not run (the file did not load, a fixture broke);
    * ``pass`` once every test passes;
    * ``todo`` while its own stub is still there and some test reaches a stub;
    * ``fail`` once written, if any test fails or times out (even if other
      tests wait for a later task's stub: the written code is wrong now);
    * ``todo`` when written but its tests wait for another task's stub
      (``blocked``: the next step is that other task);

    so the closing table, its FAIL lines, ``status`` and ``next:`` agree.
    Points are per test and do not depend on this (see ``grading``).
    """
    statuses = [s for s in statuses if s != "skip"]
    if not statuses:
        return NOT_RUN
    if "error" in statuses:
        return "error"
    if all(s == DONE for s in statuses):
        return DONE
    if own_stub and "todo" in statuses:
        return "todo"
    if "fail" in statuses or "timeout" in statuses:
        return "fail"
    return "todo" if "todo" in statuses else DONE


def function_specs(source: str) -> dict[str, tuple[str, list[str]]]:
    """{top-level function: (docstring, parameter names)} as a pristine skeleton states them.

    The contract checks read a task's promises from here, so a learner's
    edited docstring cannot opt their code out of them.
    """
    tree = ast.parse(source)
    specs = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
            specs[node.name] = (ast.get_docstring(node) or "", names)
    return specs
