"""Grading a whole class: ``python -m workbook grade DIR [DIR ...] --jobs N``.

Each student is graded by its own ``python -m workbook grade DIR --grade-json
FILE`` process (which isolates the student's code in worker processes, see
``isolate.py``), ``--jobs`` of them at a time. A student whose grading
crashes, hangs past ``--student-timeout`` or writes no report gets a row
with 0 points and a note; the class goes on. The result, in ``--out`` (the
current directory by default, never a student's folder):

* ``gradebook.csv``: one row per student, one column per kata (points), then
  ``total``, ``max`` and ``note``;
* ``<student>.json``: each student's full grade report, next to it.

Standard library only; the progress bar is one line rewritten with ``\\r``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Outcome:
    student: str  # the row's name (the folder's name, made unique)
    folder: Path
    report: dict | None  # the grade report, or None when grading failed
    note: str = ""
    seconds: float = 0.0


def row_names(folders: list[Path]) -> list[str]:
    """Each folder's name, with ``-2``, ``-3`` ... where two folders share one."""
    names, seen = [], {}
    for folder in folders:
        base = folder.name or "student"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


class Bar:
    """``[#####.....] 3/20 students, 1 failed, 42s`` on one line of stderr."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.draw()

    def draw(self) -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        failed = f", {self.failed} failed" if self.failed else ""
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} students"
                          f"{failed}, {elapsed:.0f}s ")
        self.stream.flush()

    def step(self, ok: bool) -> None:
        with self.lock:
            self.done += 1
            self.failed += 0 if ok else 1
            self.draw()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def grade_one(root: Path, folder: Path, name: str, katas: list[str], out: Path, sandbox: bool,
              timeout: float, extra: list[str] | None = None) -> Outcome:
    """Grade one student in its own process; never raises."""
    target = out / f"{name}.json"
    target.unlink(missing_ok=True)
    command = [sys.executable, "-m", "workbook", "grade", str(folder), *katas, "--grade-json", str(target), *(extra or [])]
    if sandbox:
        command.append("--sandbox")
    started = time.monotonic()
    note = ""
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
            note = f"grading failed (exit {done.returncode}): {last[0][:200]}"
    except subprocess.TimeoutExpired:
        note = f"grading did not finish within {timeout:g}s"
    except OSError as error:
        note = f"grading could not start: {error}"
    report = None
    if not note:
        try:
            report = json.loads(target.read_text())
        except (OSError, ValueError) as error:
            note = f"no readable report: {error}"
    return Outcome(name, folder, report, note, time.monotonic() - started)


def write_gradebook(path: Path, outcomes: list[Outcome], katas: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *katas, "total", "max", "note"])
        for outcome in outcomes:
            points = {k["name"]: k["points"] for k in (outcome.report or {}).get("katas", [])}
            total = outcome.report["points"] if outcome.report else 0
            most = outcome.report["max_points"] if outcome.report else ""
            note = outcome.note
            if outcome.report and not outcome.report.get("complete", True):
                note = note or "the run did not finish (a hang?); points so far"
            writer.writerow([outcome.student, *(f"{points.get(k, 0):.2f}" for k in katas),
                             f"{total:.2f}", f"{most:.2f}" if most != "" else "", note])


def grade_class(root: Path, folders: list[Path], katas: list[str], out: Path, jobs: int = 1,
                sandbox: bool = False, timeout: float = 1800.0, bar: bool = True,
                only: list[str] | None = None, extra: list[str] | None = None) -> list[Outcome]:
    """Grade every folder, ``jobs`` at a time; write ``out/gradebook.csv`` and one JSON per student.

    ``katas`` are the gradebook's columns; ``only`` the kata names given on
    the command line (none: all).
    """
    out.mkdir(parents=True, exist_ok=True)
    names = row_names(folders)
    progress = Bar(len(folders)) if bar else None

    def one(pair):
        folder, name = pair
        outcome = grade_one(root, folder, name, only or [], out, sandbox, timeout, extra)
        if progress:
            progress.step(outcome.report is not None)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(one, zip(folders, names)))
    if progress:
        progress.close()
    write_gradebook(out / "gradebook.csv", outcomes, katas)
    return outcomes


def default_jobs() -> int:
    return max(1, (os.cpu_count() or 2) // 2)
