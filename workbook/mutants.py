"""Mutation testing for the graded tests: are realistic mistakes caught?

A mutant is one realistic learner mistake, written as a text substitution on
the reference solution (``find`` must occur exactly once, so a mutant cannot
silently go stale when the solution changes). ``tests/mutants/<kata>.py``
lists a kata's mutants in ``MUTANTS``; ``tests/mutants/test_mutants.py``
grades every mutant with the kata's graded tests and requires at least one
test to fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .grading import run_graded


@dataclass(frozen=True)
class Mutant:
    """One realistic mistake: replace ``find`` by ``replace`` in the solution."""

    name: str
    mistake: str  # what a learner did wrong, in their words
    find: str
    replace: str


def apply(source: str, mutant: Mutant) -> str:
    """The solution text with the mutant's substitution made (exactly once)."""
    count = source.count(mutant.find)
    if count != 1:
        raise ValueError(
            f"mutant {mutant.name!r}: its find text occurs {count} times in the solution, "
            "expected exactly once; update the mutant"
        )
    return source.replace(mutant.find, mutant.replace)


@dataclass
class Verdict:
    """How the graded tests did against one mutant."""

    mutant: Mutant
    caught: bool
    output: str


def grade_file(root: Path, kata: str, path: Path, extra: list[str] | None = None, timeout: float = 300):
    """Run kata's graded tests against the file at ``path``; return the CompletedProcess."""
    tests = root / "tests" / f"test_{kata}.py"
    return run_graded(root, [tests], ["--kata-file", f"{kata}={path}", *(extra or [])], timeout)


def run_mutant(root: Path, kata: str, mutant: Mutant, workdir: Path) -> Verdict:
    """Grade one mutant; it is caught when the graded tests fail (exit code 1)."""
    source = (root / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
    folder = workdir / mutant.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kata}.py"
    path.write_text(apply(source, mutant), encoding="utf-8")
    done = grade_file(root, kata, path, ["-x"])
    return Verdict(mutant, done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:])
