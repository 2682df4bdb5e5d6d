"""Generate learner skeletons from reference solutions.

A solution marks each learner task with a pair of comment lines, nbgrader's
convention::

    def online_softmax_update(m, l, acc, scores, values):
        \"\"\"Fold one block of scores into the running (m, l, acc).\"\"\"
        # BEGIN SOLUTION
        ...the reference code...
        # END SOLUTION

The skeleton keeps everything outside the markers (signature, docstring,
provided helpers, comments) and replaces each block with::

        raise KataTodo("microflash.online_softmax_update: Fold one block ...")

The one-line task is the text after ``# BEGIN SOLUTION`` if any, else the
first line of the enclosing function's docstring.

Every build records the SHA-256 of the skeleton it wrote in
``katas/<name>/.skeleton.sha256``. A kata file whose hash differs from that
record has been edited by the learner, and ``build`` refuses to overwrite it
unless forced; a forced overwrite first copies the learner's file to
``katas/<name>/backup/``.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .layout import Kata, shown

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b(?P<task>.*)$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
IMPORT_LINE = "from workbook import KataTodo"


class MarkerError(ValueError):
    """A solution's BEGIN/END SOLUTION markers are malformed."""


@dataclass(frozen=True)
class Task:
    """One marked block: the learner's unit of work."""

    function: str  # qualified name, e.g. "flash_attention" or "Pager.append"
    text: str  # the one-line task
    line: int  # 1-based line of the BEGIN marker in the solution


def functions(tree: ast.AST) -> list[tuple[int, int, str, ast.AST]]:
    """(first line, last line, qualified name, node) of every function."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found.append((child.lineno, child.end_lineno, name, child))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def enclosing(defs, line: int):
    """The innermost of ``defs`` (from ``functions``) whose body contains ``line``."""
    inside = [f for f in defs if f[0] <= line <= f[1]]
    return max(inside, key=lambda f: f[0]) if inside else None


def find_tasks(source: str, filename: str = "<solution>") -> list[Task]:
    """The marked tasks of a solution, in file order."""
    tree = ast.parse(source, filename)
    defs = functions(tree)
    tasks: list[Task] = []
    open_line = None
    for number, line in enumerate(source.splitlines(), start=1):
        begin = BEGIN.match(line)
        if begin:
            if open_line is not None:
                raise MarkerError(
                    f"{filename}:{number}: BEGIN SOLUTION inside the block opened at line {open_line}"
                )
            func = enclosing(defs, number)
            if func is None:
                raise MarkerError(f"{filename}:{number}: BEGIN SOLUTION must be inside a function")
            text = begin.group("task").strip(" :-\t")
            if not text:
                doc = ast.get_docstring(func[3]) or ""
                text = doc.strip().splitlines()[0] if doc.strip() else f"write {func[2]}"
            tasks.append(Task(func[2], text, number))
            open_line = number
        elif END.match(line):
            if open_line is None:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without BEGIN SOLUTION")
            open_line = None
    if open_line is not None:
        raise MarkerError(f"{filename}:{open_line}: BEGIN SOLUTION is never closed")
    return tasks


def _import_position(tree: ast.Module) -> int:
    """Line after which the KataTodo import goes: after the leading imports."""
    position = 0
    for index, node in enumerate(tree.body):
        is_docstring = (
            index == 0
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        if is_docstring or isinstance(node, (ast.Import, ast.ImportFrom)):
            position = node.end_lineno
        else:
            break
    return position


STUBS = ("todo", "none", "identity")


def _first_argument(func: ast.AST) -> str:
    """The first parameter a caller passes (not ``self``/``cls``), or ``None`` if there is none."""
    if func.name == "__init__":
        return "None"  # __init__ must return None
    params = [*func.args.posonlyargs, *func.args.args]
    if params and params[0].arg in ("self", "cls"):
        params = params[1:]
    if params:
        return params[0].arg
    if func.args.vararg:
        return func.args.vararg.arg
    return "None"


def generate(name: str, source: str, filename: str = "<solution>", stub: str = "todo") -> str:
    """The skeleton text for kata ``name`` built from its solution ``source``.

    ``stub`` is what replaces each marked block: ``todo`` (the learner's
    skeleton, ``raise KataTodo(...)``), or one of the two trivial
    submissions the graded tests must give no points: ``none`` (``return
    None``, a task that does nothing) and ``identity`` (return the first
    argument unchanged).
    """
    if stub not in STUBS:
        raise ValueError(f"stub must be one of {', '.join(STUBS)}, got {stub!r}")
    tasks = {task.line: task for task in find_tasks(source, filename)}
    tree = ast.parse(source, filename)
    defs = functions(tree)
    insert_after = _import_position(tree)
    header = (
        "\n"
        f"# Kata skeleton generated from solutions/{name}/{name}.py by `python -m workbook build`.\n"
        "# Replace each `raise KataTodo(...)` with your code; grade it with\n"
        f"# `pytest katas/{name}`; stuck? `python -m workbook hint {name}`.\n"
        f"{IMPORT_LINE}\n"
    )
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        if number in tasks:
            task = tasks[number]
            indent = BEGIN.match(line.rstrip("\n")).group("indent")
            message = f"{name}.{task.function}: {task.text}"
            if stub == "todo":
                out.append(f"{indent}raise KataTodo({message!r})\n")
            elif stub == "none":
                out.append(f"{indent}return None\n")
            else:
                out.append(f"{indent}return {_first_argument(enclosing(defs, number)[3])}\n")
            inside = True
        elif inside:
            inside = not END.match(line)
        else:
            out.append(line)
        if number == insert_after:
            out.append(header)
    if insert_after == 0:
        out.insert(0, header.lstrip("\n") + "\n")
    text = "".join(out)
    ast.parse(text, f"skeleton of {filename}")  # a broken skeleton is a build bug
    return text


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record(kata: Kata) -> Path:
    return kata.skeleton.parent / ".skeleton.sha256"


def recorded_hash(kata: Kata) -> str | None:
    """The hash of the skeleton ``build`` last wrote for this kata, if any."""
    record = _record(kata)
    return record.read_text().strip() if record.is_file() else None


def is_modified(kata: Kata) -> bool:
    """True when the learner's file differs from the skeleton build last wrote."""
    if not kata.skeleton.is_file():
        return False
    recorded = recorded_hash(kata)
    current = sha256(kata.skeleton.read_text(encoding="utf-8"))
    return recorded is None or recorded != current


def backup(kata: Kata) -> Path:
    """Copy the learner's file to ``katas/<name>/backup/<name>-<time>.py``."""
    folder = kata.skeleton.parent / "backup"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{kata.name}-{stamp}.py"
    counter = 1
    while target.exists():
        target = folder / f"{kata.name}-{stamp}-{counter}.py"
        counter += 1
    shutil.copy2(kata.skeleton, target)
    return target


def write_skeleton(kata: Kata, text: str) -> None:
    kata.skeleton.parent.mkdir(parents=True, exist_ok=True)
    kata.skeleton.write_text(text, encoding="utf-8")
    _record(kata).write_text(sha256(text) + "\n")


@dataclass
class Outcome:
    """What building one kata did, for the command line to print."""

    kata: Kata
    status: str  # written | up-to-date | refused | stale | forced
    detail: str = ""
    ok: bool = True


def build_one(kata: Kata, *, check: bool = False, force: bool = False) -> Outcome:
    """Build (or with ``check`` only compare) one kata's skeleton."""
    if not kata.solution.is_file():
        return Outcome(
            kata, "no-solution", f"{shown(kata.solution)} not found (a student bundle has no solutions)", ok=False
        )
    source = kata.solution.read_text(encoding="utf-8")
    text = generate(kata.name, source, str(kata.solution))
    current = kata.skeleton.read_text(encoding="utf-8") if kata.skeleton.is_file() else None
    if current == text:
        if recorded_hash(kata) != sha256(text) and not check:
            _record(kata).write_text(sha256(text) + "\n")
        return Outcome(kata, "up-to-date")
    modified = current is not None and is_modified(kata)
    if check:
        why = (
            "differs from its generated skeleton (edited by hand?)"
            if modified
            else f"is stale: {shown(kata.solution)} changed since it was built"
        )
        if current is None:
            why = "is missing"
        return Outcome(
            kata, "stale", f"{shown(kata.skeleton)} {why}; run `python -m workbook build {kata.name}`", ok=False
        )
    if modified and not force:
        return Outcome(
            kata,
            "refused",
            f"{shown(kata.skeleton)} has your changes, so it was not overwritten. To replace it "
            f"anyway run `python -m workbook build {kata.name} --force` (your file is first "
            f"copied to {shown(kata.skeleton.parent / 'backup')}/).",
            ok=False,
        )
    detail = ""
    if modified:
        detail = f"your previous file is saved as {shown(backup(kata))}"
    write_skeleton(kata, text)
    return Outcome(kata, "forced" if modified else "written", detail)
