"""The command line: ``python -m workbook <command>``.

Learners:
  status                      every kata's progress and the next task to do
  watch [KATA]                re-grade a kata every time you save it
  hint KATA [TASK] [--level N]  the next hint level for a task
  reset KATA                  back up your file, then restore the pristine skeleton
Teachers and maintainers:
  build [KATA ...] [--check] [--force]  write katas/ skeletons from solutions/
  export DIR                  a student bundle without solutions
  grade DIR [--grade-json F]  grade a student's katas with this copy's pristine tests
"""

from __future__ import annotations

import argparse
import difflib
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from . import build as builder
from . import grading
from . import hints as hint_data
from .layout import Kata, discover, find_root, kata_named, shown
from .progress import PRISTINE_DIR, pristine_copy, pristine_source, tasks

STATE_DIR = ".workbook"


class CommandError(Exception):
    """A user mistake the command explains (exit code 2)."""


def _katas(root: Path, names: list[str]) -> list[Kata]:
    if not names:
        return discover(root)
    return [kata_named(root, name) for name in names]


# === build ===


def cmd_build(args) -> int:
    root = find_root()
    if not (root / "solutions").is_dir():
        raise CommandError("this workbook has no solutions/ (a student bundle): there is nothing to build from")
    failed = False
    for kata in _katas(root, args.katas):
        outcome = builder.build_one(kata, check=args.check, force=args.force)
        failed |= not outcome.ok
        print(f"{outcome.status:<11} {kata.name}" + (f": {outcome.detail}" if outcome.detail else ""))
    if args.check and failed:
        print("katas/ is out of date with solutions/; run `python -m workbook build`.")
    return 1 if failed else 0


# === status ===


def _run_graded(root: Path, katas: list[Kata], extra: list[str], target: Path) -> dict:
    """Run the graded tests of ``katas`` once, quietly, writing the grade report to ``target``."""
    done = grading.run_graded(root, [k.tests for k in katas], ["--grade-json", str(target), *extra])
    if not target.is_file():
        raise CommandError(f"pytest did not produce a report:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(target.read_text())


def cmd_status(args) -> int:
    root = find_root()
    katas = discover(root)
    started, states, broken = [], {}, {}
    for kata in katas:
        try:
            states[kata.name] = tasks(kata)
        except SyntaxError as error:
            broken[kata.name] = f"{shown(kata.skeleton, root)}:{error.lineno}: SyntaxError: {error.msg}"
            started.append(kata)
            continue
        if any(not t.todo for t in states[kata.name]):
            started.append(kata)
    results: dict[str, dict[str, str]] = {}
    if started:
        with tempfile.TemporaryDirectory() as folder:
            report = _run_graded(root, started, [], Path(folder) / "grades.json")
        results = {k["name"]: {t["name"]: t["status"] for t in k["tasks"]} for k in report["katas"]}
        for k in report["katas"]:
            if k["message"]:
                broken[k["name"]] = k["message"]

    print(f"{'kata':<18}{'tasks':>6}{'done':>6}{'failing':>9}{'todo':>6}   next")
    next_task = None
    in_progress = None  # the first kata you have started but not finished comes first
    for kata in katas:
        if kata.name in broken and kata.name not in states:
            print(f"{kata.name:<18}{'':>6}{'':>6}{'':>9}{'':>6}   fix: {broken[kata.name]}")
            in_progress = in_progress or (kata, None, broken[kata.name])
            continue
        infos = states[kata.name]
        graded = results.get(kata.name, {})
        status = {t.function: "todo" if t.todo else graded.get(t.function, "fail") for t in infos}
        done = sum(s == "pass" for s in status.values())
        failing = sum(s in ("fail", "error") for s in status.values())
        todo = sum(s == "todo" for s in status.values())
        first = next((t for t in infos if status[t.function] != "pass"), None)
        where = ""
        if first is not None:
            line = first.stub_line if first.todo else first.def_line
            where = f"{first.function}  {shown(kata.skeleton, root)}:{line}"
            if next_task is None:
                next_task = (kata, first, where)
            if in_progress is None and done + failing > 0:
                in_progress = (kata, first, where)
        print(f"{kata.name:<18}{len(infos):>6}{done:>6}{failing:>9}{todo:>6}   {where or 'all done'}")
    print()
    if next_task is None:
        print("Every kata is done. Well played.")
        return 0
    kata, task, where = in_progress or next_task
    if task is None:
        print(f"next: fix {where}")
    else:
        verb = "write" if task.todo else "fix"
        line = task.stub_line if task.todo else task.def_line
        print(f"next: {verb} {kata.name}.{task.function} at {shown(kata.skeleton, root)}:{line}")
        print(f"      {task.text}")
        print(f"      then run `pytest katas/{kata.name}`; stuck? `python -m workbook hint {kata.name}`")
    return 0


# === watch ===


def cmd_watch(args) -> int:
    root = find_root()
    katas = _katas(root, [args.kata] if args.kata else [])
    watched = [k.skeleton for k in katas]
    command = [sys.executable, "-m", "pytest", *[str(k.tests) for k in katas], "-q", "--no-header"]
    label = args.kata or "all katas"
    last, runs = None, 0
    try:
        while True:
            stamp = {path: path.stat().st_mtime_ns for path in watched if path.exists()}
            if stamp != last:
                last = stamp
                if sys.stdout.isatty():
                    print("\033[2J\033[H", end="", flush=True)  # clear the screen
                subprocess.run(command, cwd=root)
                runs += 1
                print(f"\nwatching {label}: save your file to grade it again; Ctrl-C to stop", flush=True)
                if args.max_runs and runs >= args.max_runs:
                    return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print()
        return 0


# === hint ===


def _hint_state(root: Path) -> tuple[Path, dict]:
    path = root / STATE_DIR / "hints.json"
    return path, (json.loads(path.read_text()) if path.is_file() else {})


def cmd_hint(args) -> int:
    root = find_root()
    kata = kata_named(root, args.kata)
    levels_by_task = hint_data.read(kata.readme)
    if not levels_by_task:
        raise CommandError(f"{shown(kata.readme, root)} has no '## Hints' section")
    task = args.task
    if task is None:
        try:
            infos = tasks(kata)
            current = next((t for t in infos if t.todo), infos[0] if infos else None)
            task = current.function if current else next(iter(levels_by_task))
        except (SyntaxError, FileNotFoundError):
            task = next(iter(levels_by_task))
    if task not in levels_by_task:
        close = difflib.get_close_matches(task, list(levels_by_task), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        raise CommandError(
            f"{kata.name} has no task {task!r}{suggestion} (tasks: {', '.join(levels_by_task)})"
        )
    levels = levels_by_task[task]
    path, seen = _hint_state(root)
    key = f"{kata.name}.{task}"
    if args.level is not None:
        level = args.level
        if not 1 <= level <= len(levels):
            raise CommandError(f"--level must be between 1 and {len(levels)} for {key}, got {level}")
    else:
        level = min(seen.get(key, 0) + 1, len(levels))
    seen[key] = max(seen.get(key, 0), level)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(seen, indent=2) + "\n")
    names = {1: "a nudge", 2: "the idea", 3: "equation to code"}
    print(f"{key}: hint {level} of {len(levels)} ({names.get(level, 'more')})\n")
    print(textwrap.fill(levels[level - 1], width=78, initial_indent="  ", subsequent_indent="  ") + "\n")
    if level < len(levels):
        print(f"Run the same command again for hint {level + 1}.")
    else:
        print("That was the last hint. Compare with the demo: "
              f"`python solutions/{kata.name}/{kata.name}.py` (if your copy has solutions).")
    return 0


# === reset ===


def cmd_reset(args) -> int:
    root = find_root()
    kata = kata_named(root, args.kata)
    pristine = pristine_source(kata)
    if kata.skeleton.is_file():
        if kata.skeleton.read_text(encoding="utf-8") == pristine:
            print(f"{shown(kata.skeleton, root)} is already the pristine skeleton; nothing to do.")
            return 0
        saved = builder.backup(kata)
        print(f"saved your file as {shown(saved, root)}")
    builder.write_skeleton(kata, pristine)
    print(f"{shown(kata.skeleton, root)} is the pristine skeleton again.")
    return 0


# === export ===

BUNDLE_FILES = ["README.md", "pyproject.toml", "conftest.py", ".gitignore", "grading.json"]
BUNDLE_TREES = ["workbook", "data", "tests/data"]


def _ignore_caches(folder, names):
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def cmd_export(args) -> int:
    root = find_root()
    target = Path(args.dir).resolve()
    if target == root or root in target.parents:
        raise CommandError(f"export into a folder outside this workbook, not {target}")
    if target.exists() and any(target.iterdir()):
        raise CommandError(f"{target} exists and is not empty; choose a new folder (nothing was written)")
    if not (root / "solutions").is_dir():
        raise CommandError("this workbook has no solutions/ (it is already a student bundle)")
    katas = discover(root)
    for kata in katas:
        if builder.is_modified(kata) or not kata.skeleton.is_file():
            print(f"note: {shown(kata.skeleton, root)} differs from its skeleton; the bundle gets the pristine one")
    target.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, target / name)
    for tree in BUNDLE_TREES:
        if (root / tree).is_dir():
            shutil.copytree(root / tree, target / tree, ignore=_ignore_caches)
    (target / PRISTINE_DIR).mkdir(parents=True, exist_ok=True)
    for kata in katas:
        skeleton = pristine_source(kata)
        bundle_kata = Kata(kata.name, target)
        builder.write_skeleton(bundle_kata, skeleton)
        if kata.readme.is_file():
            shutil.copy2(kata.readme, bundle_kata.readme)
        bundle_kata.tests.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(kata.tests, bundle_kata.tests)
        pristine_copy(bundle_kata).write_text(skeleton, encoding="utf-8")
    print(f"exported {len(katas)} katas to {target} (no solutions/, no mutants)")
    print(f"students: cd {target} && python -m venv .venv && .venv/bin/pip install -e . && pytest")
    return 0


# === grade ===


def cmd_grade(args) -> int:
    root = find_root()
    student = Path(args.dir).resolve()
    if not student.is_dir():
        raise CommandError(f"no such folder: {args.dir} (give the student's workbook folder)")
    katas = _katas(root, args.katas)
    files, missing = [], []
    for kata in katas:
        theirs = student / "katas" / kata.name / f"{kata.name}.py"
        if theirs.is_file():
            files += ["--kata-file", f"{kata.name}={theirs}"]
        else:
            missing.append(kata)
    if missing:
        names = ", ".join(k.name for k in missing)
        print(f"note: {student} has no file for {names}; graded against the pristine skeleton (all TODO)")
        folder = Path(tempfile.mkdtemp(prefix="workbook-grade-"))
        for kata in missing:
            path = folder / f"{kata.name}.py"
            path.write_text(pristine_source(kata), encoding="utf-8")
            files += ["--kata-file", f"{kata.name}={path}"]
    target = Path(args.grade_json).resolve() if args.grade_json else student / "grades.json"
    # The tests, conftest and harness come from THIS copy (root); only the
    # student's kata files are read from their folder.
    # --isolate: the student's code runs in worker processes, never in the
    # grading pytest (see workbook/isolate.py).
    report = _run_graded(root, katas, [*files, "--isolate", *(["--sandbox"] if args.sandbox else [])], target)
    for kata in report["katas"]:
        print(f"{kata['name']:<18} {kata['points']:>8.2f} / {kata['max_points']:<8.2f} {kata['status']}")
    print(f"Points {report['points']:.2f}/{report['max_points']:.2f}")
    print(f"report: {target}")
    return 0


# === the parser ===


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m workbook",
        description="The no-magic kata workbook: see progress, get hints, build, export and grade.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    s = commands.add_parser("status", help="every kata's progress and the next task to do")
    s.set_defaults(run=cmd_status)

    w = commands.add_parser("watch", help="re-grade a kata every time you save it (like rustlings watch)")
    w.add_argument("kata", nargs="?", help="the kata to watch (default: all)")
    w.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    w.add_argument("--max-runs", type=int, default=0, help=argparse.SUPPRESS)
    w.set_defaults(run=cmd_watch)

    h = commands.add_parser("hint", help="the next hint level for a task (nudge, idea, equation to code)")
    h.add_argument("kata")
    h.add_argument("task", nargs="?", help="the task's function name (default: your current task)")
    h.add_argument("--level", type=int, help="show this level instead of the next one")
    h.set_defaults(run=cmd_hint)

    r = commands.add_parser("reset", help="back up your kata file, then restore the pristine skeleton")
    r.add_argument("kata")
    r.set_defaults(run=cmd_reset)

    b = commands.add_parser("build", help="generate katas/<name>/<name>.py from solutions/ markers")
    b.add_argument("katas", nargs="*", metavar="KATA", help="katas to build (default: all)")
    b.add_argument("--check", action="store_true", help="only report stale skeletons; exit 1 if any")
    b.add_argument("--force", action="store_true", help="overwrite katas you changed (backed up first)")
    b.set_defaults(run=cmd_build)

    e = commands.add_parser("export", help="write a student bundle (no solutions, no mutants) to DIR")
    e.add_argument("dir", metavar="DIR", help="a new or empty folder outside this workbook")
    e.set_defaults(run=cmd_export)

    g = commands.add_parser("grade", help="grade a student's katas with this copy's pristine tests")
    g.add_argument("dir", metavar="DIR", help="the student's workbook folder")
    g.add_argument("katas", nargs="*", metavar="KATA", help="katas to grade (default: all)")
    g.add_argument("--grade-json", metavar="FILE", help="where to write the report (default: DIR/grades.json)")
    g.add_argument("--sandbox", action="store_true", help="run the student's code under bubblewrap (bwrap)")
    g.set_defaults(run=cmd_grade)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (CommandError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
