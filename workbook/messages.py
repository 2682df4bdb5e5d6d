"""Mutants that keep every check but blur one error message.

The principle "bad input gets a ValueError that names the argument" is only
graded if some test looks at the message. For every ``raise ValueError(...)``
a learner writes (inside ``BEGIN/END SOLUTION`` markers), this module makes
one mutant of the solution whose message for that raise says only
``invalid input``; the kata's graded tests must reject each one. The text
substitution mutants in ``tests/mutants/<kata>.py`` and the automatic sweep
leave messages alone, so this is the one place that holds them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .build import BEGIN, END

BLURRED = '"invalid input"'


@dataclass(frozen=True)
class MessageMutant:
    """The solution with the message of one ``raise ValueError`` blurred."""

    name: str  # e.g. "flash_attention:L203"
    line: int
    source: str


def _marked_lines(source: str) -> list[tuple[int, int]]:
    blocks, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN.match(line):
            start = number
        elif END.match(line) and start is not None:
            blocks.append((start, number))
            start = None
    return blocks


def _function_at(tree: ast.AST, line: int) -> str:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= line <= node.end_lineno:
            if best is None or node.lineno > best.lineno:
                best = node
    return best.name if best else "module"


def message_mutants(source: str) -> list[MessageMutant]:
    """One mutant per ``raise ValueError(<message>)`` inside the markers."""
    tree = ast.parse(source)
    blocks = _marked_lines(source)
    lines = source.splitlines(keepends=True)
    mutants = []
    for node in ast.walk(tree):
        call = node.exc if isinstance(node, ast.Raise) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "ValueError"):
            continue
        if not call.args or not any(start < node.lineno < end for start, end in blocks):
            continue
        first, last = call.args[0], call.args[-1]
        # ast offsets count UTF-8 bytes, not characters
        head = lines[first.lineno - 1].encode("utf-8")[: first.col_offset].decode("utf-8")
        tail = lines[last.end_lineno - 1].encode("utf-8")[last.end_col_offset:].decode("utf-8")
        before = "".join(lines[: first.lineno - 1]) + head
        after = tail + "".join(lines[last.end_lineno:])
        name = f"{_function_at(tree, node.lineno)}:L{node.lineno}"
        mutants.append(MessageMutant(name, node.lineno, before + BLURRED + after))
    return sorted(mutants, key=lambda m: m.line)
