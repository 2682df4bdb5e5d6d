"""From per-test results to per-task statuses, per-kata summaries and points.

Statuses of one graded test: ``pass``, ``fail``, ``timeout``, ``error`` (the
kata did not load, or a fixture broke), ``todo`` (a ``KataTodo`` stub was
reached) and ``skip``.

Points: each kata is worth ``KATA_POINTS`` (or its weight in the assignment
file, ``grading.json`` at the workbook root); a kata's points are shared equally by
its tasks, and a task's points equally by its tests, so a learner who passes
7 of 9 cases of a task earns 7/9 of it (partial credit per test, not
all-or-nothing per kata).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .layout import path_order

KATA_POINTS = 100.0
SCHEMA_VERSION = 1
NOT_RUN = "not run"  # a task none of whose tests ran (``-k``, ``--lf``, a single test id)


@dataclass
class TestResult:
    """The graded outcome of one test."""

    nodeid: str
    kata: str
    task: str
    status: str
    message: str = ""
    where: str = ""  # file:line of the stub (todo) or of the failure in the kata
    duration: float = 0.0


def task_status(statuses: list[str]) -> str:
    """A task's status from its tests': error, then todo, then fail, else pass."""
    for status in ("error", "todo", "timeout", "fail"):
        if status in statuses:
            return "fail" if status == "timeout" else status
    return "pass"


@dataclass
class KataSummary:
    """One kata's row: task statuses, test counts and points."""

    name: str
    tasks: dict[str, str]  # task -> status, in first-seen order
    tests: Counter
    points: float = 0.0
    max_points: float = 0.0
    task_points: dict[str, tuple[float, float]] = field(default_factory=dict)
    test_points: dict[str, tuple[float, float]] = field(default_factory=dict)  # nodeid -> (earned, max)
    load_error: str = ""

    def count(self, status: str) -> int:
        return sum(1 for s in self.tasks.values() if s == status)


ASSIGNMENT_FILE = "grading.json"


@dataclass
class Assignment:
    """What an assignment grades: its katas (None: every kata) and each kata's points."""

    katas: list[str] | None
    weights: dict[str, float]

    def points(self, name: str) -> float:
        return self.weights.get(name, KATA_POINTS)


def load_assignment(root: Path, path: Path | None = None) -> Assignment:
    """The assignment in ``grading.json`` (or ``path``): ``{"katas": [...], "weights": {...}}``.

    Both keys are optional: without ``katas`` every kata is graded, without a
    weight a kata is worth ``KATA_POINTS``. ``workbook export --katas
    --points`` writes one; pytest's closing table and ``--grade-json``,
    ``workbook grade`` and every export read it, so the points agree
    everywhere. Raises ValueError, naming the file and the entry, for
    anything that is not a JSON object of known katas with non-negative
    numeric weights.
    """
    path = Path(path) if path is not None else root / ASSIGNMENT_FILE
    if not path.is_file():
        if path != root / ASSIGNMENT_FILE:
            raise ValueError(f"no such assignment file: {path}")
        return Assignment(None, {})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    weights = data.get("weights", {}) if isinstance(data, dict) else None
    if not isinstance(weights, dict):
        raise ValueError(f'{path}: expected {{"katas": ["<kata>", ...], "weights": {{"<kata>": <points>, ...}}}}')
    from .layout import discover

    known = {k.name for k in discover(root)}

    def check_name(name):
        if name not in known:
            raise ValueError(f"{path}: {name!r} is not a kata (katas: {', '.join(sorted(known))})")

    katas = data.get("katas")
    if katas is not None:
        if not isinstance(katas, list) or not katas or not all(isinstance(k, str) for k in katas):
            raise ValueError(f'{path}: "katas" must be a non-empty list of kata names, got {katas!r}')
        for name in katas:
            check_name(name)
    checked = {}
    for name, value in weights.items():
        check_name(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{path}: the weight of {name} must be a number >= 0, got {value!r}")
        checked[name] = float(value)
    return Assignment(list(dict.fromkeys(katas)) if katas is not None else None, checked)


def load_weights(root: Path, path: Path | None = None) -> dict[str, float]:
    """Per-kata weights of the assignment (see ``load_assignment``)."""
    return load_assignment(root, path).weights


def summarise(results: list[TestResult], weights: dict[str, float] | None = None,
              load_errors: dict[str, str] | None = None,
              task_orders: dict[str, list[str]] | None = None) -> list[KataSummary]:
    """Per-kata summaries, in learning-path order.

    ``task_orders`` gives each kata's tasks in kata order; a task with no
    result (left out of a partial run) is listed as ``not run`` and earns
    nothing. Without it, tasks appear in the order their results came.
    """
    weights = weights or {}
    task_orders = task_orders or {}
    by_kata: dict[str, dict[str, list[TestResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        if result.status != "skip":
            by_kata[result.kata][result.task].append(result)
    summaries = []
    for name in sorted(by_kata, key=path_order):
        ran = by_kata[name]
        tasks = {task: ran.get(task, []) for task in task_orders.get(name, [])}
        tasks.update({task: rs for task, rs in ran.items() if task not in tasks})
        kata_points = weights.get(name, KATA_POINTS)
        per_task = kata_points / len(tasks)
        summary = KataSummary(
            name,
            {task: task_status([r.status for r in rs]) if rs else NOT_RUN for task, rs in tasks.items()},
            Counter(r.status for rs in tasks.values() for r in rs),
            max_points=kata_points,
            load_error=(load_errors or {}).get(name, ""),
        )
        for task, rs in tasks.items():
            earned = per_task * sum(r.status == "pass" for r in rs) / len(rs) if rs else 0.0
            summary.task_points[task] = (earned, per_task)
            summary.points += earned
            for r in rs:
                summary.test_points[r.nodeid] = (per_task / len(rs) if r.status == "pass" else 0.0, per_task / len(rs))
        summaries.append(summary)
    return summaries


def report(results: list[TestResult], *, mode: str, weights: dict[str, float] | None = None,
           load_errors: dict[str, str] | None = None, complete: bool = True,
           task_orders: dict[str, list[str]] | None = None) -> dict:
    """The machine-readable grade report (see README, "Teaching with the workbook")."""
    summaries = summarise(results, weights, load_errors, task_orders)
    test_points = {nodeid: pts for s in summaries for nodeid, pts in s.test_points.items()}
    points = sum(s.points for s in summaries)
    max_points = sum(s.max_points for s in summaries)
    all_pass = bool(results) and all(r.status in ("pass", "skip") for r in results)
    errored = any(s.load_error for s in summaries)
    return {
        "version": SCHEMA_VERSION,
        "mode": mode,
        "complete": complete,
        # Exercism's results.json v3 uses pass / fail / error for the whole run.
        "status": "pass" if all_pass else ("error" if errored else "fail"),
        "points": round(points, 4),
        "max_points": round(max_points, 4),
        "katas": [
            {
                "name": s.name,
                "status": task_status(list(s.tasks.values())),
                "points": round(s.points, 4),
                "max_points": round(s.max_points, 4),
                "message": _cut(s.load_error),
                "tasks": [
                    {
                        "name": task,
                        "status": status,
                        "points": round(s.task_points[task][0], 4),
                        "max_points": round(s.task_points[task][1], 4),
                    }
                    for task, status in s.tasks.items()
                ],
            }
            for s in summaries
        ],
        "tests": [
            {
                "name": r.nodeid,
                "kata": r.kata,
                "task": r.task,
                "status": r.status,
                "points": round(test_points.get(r.nodeid, (0.0, 0.0))[0], 4),
                "max_points": round(test_points.get(r.nodeid, (0.0, 0.0))[1], 4),
                "message": _cut(r.message),
                "where": r.where,
                "duration": round(r.duration, 4),
            }
            for r in results
        ],
    }


def write_json(path: Path, data: dict) -> None:
    """Write atomically, so a reader never sees half a report (even if a test hangs later)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".grades-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)


def run_graded(root: Path, tests: list[Path], extra: list[str], timeout: float | None = None,
               prefix: list[str] | None = None):
    """Run graded test files in a fresh pytest process at ``root``; return the CompletedProcess.

    A subprocess, so the module under test is imported anew and a learner's
    file cannot leak into the caller. ``prefix`` wraps the command (``unshare
    --pid ...``: see ``classroom.pid_namespace``).
    """
    command = [*(prefix or []), sys.executable, "-m", "pytest", *map(str, tests), "-q", "-p", "no:cacheprovider",
               *extra]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout, env=env)


MESSAGE_LIMIT = 4000  # characters of one message in the report (a kata chooses its errors' text)


def _cut(message):
    if isinstance(message, str) and len(message) > MESSAGE_LIMIT:
        return message[:MESSAGE_LIMIT] + f" ... ({len(message) - MESSAGE_LIMIT} more characters cut)"
    return message
