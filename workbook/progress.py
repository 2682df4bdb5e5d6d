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
