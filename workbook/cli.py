"""The command line: ``python -m workbook <command>``.

Learners:
  status [KATA ...]           the progress of the katas you started (or those named), and the next task
  watch [KATA]                re-grade a kata every time you save it
  hint KATA [TASK] [--level N]  the next hint level for a task (--show: peek, using up nothing)
  reset KATA                  back up your file, then restore the pristine skeleton
Teachers and maintainers:
  build [KATA ...] [--check] [--force]  write katas/ skeletons from solutions/
  export DIR [--katas A,B] [--points A=60,B=40] [--github-classroom] [--gradescope ZIP]
                              a student bundle without solutions (an assignment), and
                              the GitHub Classroom workflow / the Gradescope autograder
  grade DIR [--grade-json F]  grade a student's katas with this copy's pristine tests
  grade DIR... --out OUT      a class: gradebook.csv, report.html, one JSON per student
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from . import build as builder
from . import grading
from . import hints as hint_data
from . import progress
from .layout import Kata, discover, find_root, kata_named, shown
from .loading import refuse_link
from .progress import PRISTINE_DIR, TaskInfo, pristine_copy, pristine_source, tasks

STATE_DIR = ".workbook"


class CommandError(Exception):
    """A user mistake the command explains (exit code 4, a usage error)."""


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

# A hanging kata must not hang `status`: each task gets this many seconds (one
# timeout per task, see the plugin), and the whole grading run this many.
STATUS_TEST_TIMEOUT = 3
STATUS_RUN_TIMEOUT = 60
# A failing check's own hint, as the plugin appends it to the test's message.
CHECK_HINT = re.compile(r"\(hint: (?P<hint>.*)\)$")


def _run_graded(root: Path, katas: list[Kata], extra: list[str], target: Path,
                timeout: float | None = None, prefix: list[str] | None = None) -> dict:
    """Run the graded tests of ``katas`` once, quietly, writing the grade report to ``target``."""
    try:
        done = grading.run_graded(root, [k.tests for k in katas], ["--grade-json", str(target), *extra], timeout,
                                  prefix)
    except subprocess.TimeoutExpired:
        done = None
    if not target.is_file():
        output = f"{done.stdout[-2000:]}{done.stderr[-2000:]}" if done else "(it did not finish)"
        raise CommandError(f"pytest did not produce a report:\n{output}")
    return json.loads(target.read_text())


@dataclass
class Progress:
    """Where a learner stands in some katas: static scan plus one graded run."""

    rows: list  # [(kata name, [(task, status), ...]), ...] in learning-path order
    infos: dict  # kata name -> [TaskInfo]
    broken: dict  # kata name -> why the file does not load
    unfinished: bool = False  # the graded run was cut short (a hang?)
    waits_for: dict = None  # (kata, task) -> the other task whose TODO its (written) task's tests reach
    started: list = None  # names of the katas with some task written
    check_hints: dict = None  # (kata, task) -> the hint= of the first check that fails now


def progress_of(root: Path, katas: list[Kata]) -> Progress:
    """Task statuses of ``katas``: TODO from the file itself, the rest from the graded tests.

    Only katas with some task written are graded (a pristine kata is all TODO
    without running anything), with short timeouts so a hang cannot stall it.
    A task's status is ``progress.task_state`` of its tests, as in pytest's table.
    """
    started, infos, broken = [], {}, {}
    for kata in katas:
        try:
            infos[kata.name] = tasks(kata)
        except SyntaxError as error:
            broken[kata.name] = f"{shown(kata.skeleton, root)}:{error.lineno}: SyntaxError: {error.msg}"
            infos[kata.name] = [TaskInfo(f, text, None, None) for f, text in progress.pristine_tasks(pristine_source(kata))]
            continue
        if any(not t.todo for t in infos[kata.name]):
            started.append(kata)
    tests: dict[tuple[str, str], list[dict]] = {}
    unfinished = False
    if started:
        with tempfile.TemporaryDirectory() as folder:
            report = _run_graded(
                root, started, ["-o", f"timeout={STATUS_TEST_TIMEOUT}"], Path(folder) / "grades.json",
                timeout=STATUS_RUN_TIMEOUT,
            )
        unfinished = not report.get("complete", True)
        for test in report["tests"]:
            tests.setdefault((test["kata"], test["task"]), []).append(test)
        for k in report["katas"]:
            if k["message"]:
                broken[k["name"]] = k["message"]
    graded = {k.name for k in started}
    rows, waits_for, check_hints = [], {}, {}
    for kata in katas:
        if kata.name in broken:
            rows.append((kata.name, [(t.function, "error") for t in infos[kata.name]]))
            continue
        row = []
        for t in infos[kata.name]:
            ran = tests.get((kata.name, t.function), [])
            if kata.name not in graded:
                status = "todo"
            elif ran:
                status = progress.task_state([r["status"] for r in ran], t.todo)
            else:
                status = progress.NOT_RUN if unfinished else ("todo" if t.todo else "fail")
            failed = [r for r in ran if r["status"] == "fail" and CHECK_HINT.search(r["message"])]
            if status == "fail" and failed:
                check_hints[(kata.name, t.function)] = CHECK_HINT.search(failed[0]["message"]).group("hint")
            if status == "todo" and not t.todo:
                other = next((progress.stub_function(kata.name, r["message"]) for r in ran if r["status"] == "todo"), None)
                if other and other != t.function:
                    waits_for[(kata.name, t.function)] = other
            row.append((t.function, status))
        rows.append((kata.name, row))
    return Progress(rows, infos, broken, unfinished, waits_for, [k.name for k in started], check_hints)


def _to_write(state: Progress, kata: str, task: str) -> TaskInfo:
    """The task to write for a TODO task: itself, or the task whose stub its written code waits for."""
    function = state.waits_for.get((kata, task), task)
    infos = state.infos[kata]
    return next((t for t in infos if t.function == function), next(t for t in infos if t.function == task))


def _next_step(root: Path, state: Progress) -> tuple[Kata, TaskInfo, str] | None:
    """The next task by ``progress.next_task`` (the same answer as pytest's closing line)."""
    found = progress.next_task(state.rows)
    if found is None:
        return None
    name, function, status = found
    info = _to_write(state, name, function) if status == "todo" else next(
        t for t in state.infos[name] if t.function == function)
    return kata_named(root, name), info, status


def cmd_status(args) -> int:
    root = find_root()
    katas = _katas(root, args.katas)
    state = progress_of(root, katas)
    # With no kata named, list the katas you have started; one line counts the rest.
    listed = katas if args.katas else [k for k in katas if k.name in state.started or k.name in state.broken]
    untouched = [k for k in katas if k not in listed]
    print(f"{'kata':<18}{'tasks':>6}{'done':>6}{'failing':>9}{'todo':>6}   next")
    rows = dict(state.rows)
    for kata in listed:
        name = kata.name
        if name in state.broken:
            print(f"{name:<18}{len(rows[name]):>6}{'':>6}{'':>9}{'':>6}   fix: {state.broken[name]}")
            continue
        statuses = [status for _, status in rows[name]]
        done = statuses.count("pass")
        failing = sum(s in ("fail", "error") for s in statuses)
        first = progress.next_task([(name, rows[name])])
        where = ""
        if first is not None:
            info = _to_write(state, name, first[1]) if first[2] == "todo" else next(
                t for t in state.infos[name] if t.function == first[1])
            line = info.stub_line if info.todo else info.def_line
            where = f"{info.function}  {shown(kata.skeleton, root)}:{line}"
        print(f"{name:<18}{len(statuses):>6}{done:>6}{failing:>9}{statuses.count('todo'):>6}   {where or 'all done'}")
    if untouched:
        if listed:
            many = "katas" if len(untouched) > 1 else "kata"
            print(f"(and {len(untouched)} {many} not started yet: `python -m workbook status KATA` shows one)")
        else:
            print(f"(no kata started yet: {len(untouched)} katas, all TODO)")
    print()
    if state.unfinished:
        print("note: grading did not finish in time (an endless loop?); run pytest on the kata to see it")
    step = _next_step(root, state)
    if step is None:
        if not args.katas:
            print("Every kata is done. Well played.")
            return 0
        others = len(discover(root)) - len(katas)
        print(f"{', '.join(k.name for k in katas)}: done. Well played.")
        if others:
            print(f"{others} other katas: `python -m workbook status` shows where you stand in them.")
        return 0
    kata, task, status = step
    if kata.name in state.broken:
        print(f"next: fix {state.broken[kata.name]}")
        return 0
    verb = "write" if status == "todo" else "fix"
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

    def stamp():
        return {path: path.stat().st_mtime_ns for path in watched if path.exists()}

    last, runs, running = None, 0, None
    try:
        while True:
            now = stamp()
            if now != last:
                last = now
                if running is not None and running.poll() is None:
                    # Saved again while a run is still going (a hang?): start over.
                    running.kill()
                    running.wait()
                    print("\nsaved again: stopped the run that was still going, grading anew", flush=True)
                if sys.stdout.isatty():
                    print("\033[2J\033[H", end="", flush=True)  # clear the screen
                running = subprocess.Popen(command, cwd=root)
            if running is not None and running.poll() is not None:
                running = None
                runs += 1
                print(f"\nwatching {label}: save your file to grade it again; Ctrl-C to stop", flush=True)
                if args.max_runs and runs >= args.max_runs:
                    return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print()
        return 0
    finally:
        if running is not None and running.poll() is None:
            running.kill()


# === hint ===


def _hint_state(root: Path) -> tuple[Path, dict]:
    path = root / STATE_DIR / "hints.json"
    return path, (json.loads(path.read_text()) if path.is_file() else {})


LEVEL_NAMES = {1: "a nudge", 2: "the idea", 3: "equation to code"}


def cmd_hint(args) -> int:
    root = find_root()
    kata = kata_named(root, args.kata)
    levels_by_task = hint_data.read(kata.readme)
    if not levels_by_task:
        raise CommandError(f"{shown(kata.readme, root)} has no '## Hints' section")
    task = args.task
    state = progress_of(root, [kata]) if args.level is None else None
    step = _next_step(root, state) if state is not None and task is None else None
    if task is None:
        task = step[1].function if step else next(iter(levels_by_task))
    if task not in levels_by_task:
        close = difflib.get_close_matches(task, list(levels_by_task), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        raise CommandError(
            f"{kata.name} has no task {task!r}{suggestion} (tasks: {', '.join(levels_by_task)})"
        )
    levels = levels_by_task[task]
    path, seen = _hint_state(root)
    key = f"{kata.name}.{task}"
    reached = seen.get(key, 0)
    if args.show:
        # A peek: the current task and the hint already reached; nothing advances.
        where = ""
        if step is not None:
            info = step[1]
            line = info.stub_line if info.todo else info.def_line
            where = f" ({'write' if step[2] == 'todo' else 'fix'} it at {shown(kata.skeleton, root)}:{line})"
        which = "your current task" if args.task is None else "the task you asked about"
        print(f"{key}: {which}{where}; hint {reached} of {len(levels)} seen so far\n")
        if reached:
            print(textwrap.fill(levels[reached - 1], width=78, initial_indent="  ", subsequent_indent="  ") + "\n")
        following = "the next level" if reached < len(levels) else "no more levels: that was the last"
        print(f"`python -m workbook hint {kata.name}{' ' + task if args.task else ''}` shows {following}.")
        return 0
    # The check that fails now may carry a hint written for that very mistake:
    # show it once, before the task's general levels.
    check = state.check_hints.get((kata.name, task), "") if state is not None and args.level is None else ""
    if check and seen.get(f"{key}#check") != check:
        seen[f"{key}#check"] = check
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(seen, indent=2) + "\n")
        print(f"{key}: the check that fails now says\n")
        print(textwrap.fill(check, width=78, initial_indent="  ", subsequent_indent="  ") + "\n")
        print(f"Run the same command again for the task's hint {min(reached + 1, len(levels))} of {len(levels)}.")
        return 0
    if args.level is not None:
        level = args.level
        if not 1 <= level <= len(levels):
            raise CommandError(f"--level must be between 1 and {len(levels)} for {key}, got {level}")
    else:
        level = min(reached + 1, len(levels))
    seen[key] = max(reached, level)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(seen, indent=2) + "\n")
    print(f"{key}: hint {level} of {len(levels)} ({LEVEL_NAMES.get(level, 'more')})\n")
    print(textwrap.fill(levels[level - 1], width=78, initial_indent="  ", subsequent_indent="  ") + "\n")
    if level < len(levels):
        print(f"Run the same command again for hint {level + 1}.")
    else:
        print("That was the last hint.")
        if kata.solution.is_file():
            print(f"See the algorithm at work: `python {shown(kata.solution, root)}` (the demonstration).")
    return 0


# === reset ===


def cmd_reset(args) -> int:
    root = find_root()
    kata = kata_named(root, args.kata)
    pristine = pristine_source(kata)
    if kata.skeleton.is_file():
        if kata.skeleton.read_text(encoding="utf-8") == pristine:
            print(f"{shown(kata.skeleton, root)} is already the pristine skeleton.")
            _forget_hints(root, kata)
            return 0
        saved = builder.backup(kata)
        print(f"saved your file as {shown(saved, root)}")
    builder.write_skeleton(kata, pristine)
    print(f"{shown(kata.skeleton, root)} is the pristine skeleton again.")
    _forget_hints(root, kata)
    return 0


def _forget_hints(root: Path, kata: Kata) -> None:
    """Start the kata's hint levels over (``reset`` means starting the kata over)."""
    path, seen = _hint_state(root)
    kept = {key: level for key, level in seen.items() if not key.startswith(f"{kata.name}.")}
    if kept != seen:
        path.write_text(json.dumps(kept, indent=2) + "\n")
        print("hint levels for this kata start over at 1.")


# === export ===

BUNDLE_FILES = ["pyproject.toml", "conftest.py", ".gitignore"]
TEACHER_ONLY = re.compile(r"<!-- not for students -->.*?<!-- end not for students -->\n?", re.S)
MAINTAINER_WORDS = ("--solutions", "solutions/", "workbook build", ".ci/run")
EMPTY_CODE_BLOCK = re.compile(r"^```[\w-]*\n(?:[ \t]*\n)*```\n\n?", re.M)


def for_students(text: str) -> str:
    """A README as a student bundle shows it: no solutions, build or CI instructions.

    Blocks between ``<!-- not for students -->`` and ``<!-- end not for
    students -->`` are dropped, and so is every remaining line that mentions
    the solutions, ``build`` or ``.ci/run`` (a bundle has none of them).
    """
    text = TEACHER_ONLY.sub("", text)
    kept = [line for line in text.splitlines() if not any(word in line for word in MAINTAINER_WORDS)]
    text = "\n".join(kept).rstrip("\n") + "\n"
    return EMPTY_CODE_BLOCK.sub("", text)  # a block whose every line was dropped
BUNDLE_TREES = ["workbook", "data"]  # and tests/data/<kata> of each exported kata


def _ignore_caches(folder, names):
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def _selection(root: Path, katas_arg: str | None, points_arg: str | None) -> tuple[list[Kata], dict[str, float]]:
    """The katas and points of an export: ``--katas a,b`` and ``--points a=60,b=40`` over grading.json.

    Default: the katas and weights of this workbook's ``grading.json``, else
    every kata at ``grading.KATA_POINTS``.
    """
    base = grading.load_assignment(root)
    if katas_arg:
        names = [n.strip() for n in katas_arg.split(",") if n.strip()]
        if not names:
            raise CommandError("--katas: give kata names separated by commas, e.g. --katas microflash,microkv")
        katas = [kata_named(root, name) for name in dict.fromkeys(names)]
    else:
        katas = [kata_named(root, name) for name in base.katas] if base.katas else discover(root)
    points = {k.name: base.points(k.name) for k in katas}
    for item in (points_arg or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise CommandError(f"--points: expected KATA=POINTS, got {item!r}")
        if name not in points:
            raise CommandError(f"--points: {name!r} is not one of the exported katas ({', '.join(points)})")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not number >= 0 or number == float("inf"):
            raise CommandError(f"--points: the points of {name} must be a number >= 0, got {value!r}")
        points[name] = number
    return katas, points


def write_bundle(root: Path, target: Path, katas: list[Kata], points: dict[str, float]) -> None:
    """A student bundle of ``katas`` at ``target``: no solutions, hint levels out of the READMEs.

    Its ``grading.json`` names the katas and their points (the assignment);
    each kata's hint levels move to ``workbook/pristine/<kata>.hints.md``,
    where ``python -m workbook hint`` reads them one level at a time.
    """
    target.mkdir(parents=True, exist_ok=True)
    if (root / "README.md").is_file():
        readme = for_students((root / "README.md").read_text(encoding="utf-8"))
        (target / "README.md").write_text(readme, encoding="utf-8")
    for name in BUNDLE_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, target / name)
    for tree in BUNDLE_TREES:
        if (root / tree).is_dir():
            shutil.copytree(root / tree, target / tree, ignore=_ignore_caches, dirs_exist_ok=True)
    shutil.rmtree(target / PRISTINE_DIR, ignore_errors=True)  # this workbook's own, if any
    (target / PRISTINE_DIR).mkdir(parents=True, exist_ok=True)
    (target / "tests").mkdir(exist_ok=True)
    for kata in katas:
        skeleton = pristine_source(kata)
        bundle_kata = Kata(kata.name, target)
        builder.write_skeleton(bundle_kata, skeleton)
        if kata.readme.is_file():
            text, levels = hint_data.split(for_students(kata.readme.read_text(encoding="utf-8")), kata.name)
            bundle_kata.readme.write_text(text, encoding="utf-8")
            if levels:
                hint_data.moved_file(bundle_kata.readme).write_text(levels, encoding="utf-8")
        shutil.copy2(kata.tests, bundle_kata.tests)
        if (root / "tests" / "data" / kata.name).is_dir():
            shutil.copytree(root / "tests" / "data" / kata.name, target / "tests" / "data" / kata.name,
                            ignore=_ignore_caches)
        pristine_copy(bundle_kata).write_text(skeleton, encoding="utf-8")
    assignment = {"katas": [k.name for k in katas], "weights": {k.name: points[k.name] for k in katas}}
    (target / grading.ASSIGNMENT_FILE).write_text(json.dumps(assignment, indent=2) + "\n", encoding="utf-8")


def cmd_export(args) -> int:
    root = find_root()
    if not args.dir and not args.gradescope:
        raise CommandError("export needs a folder (DIR), --gradescope ZIP, or both")
    if args.github_classroom and not args.dir:
        raise CommandError("--github-classroom adds a workflow to the bundle in DIR: give DIR too")
    target = Path(args.dir).resolve() if args.dir else None
    if target is not None:
        if target == root or root in target.parents:
            raise CommandError(f"export into a folder outside this workbook, not {target}")
        if target.exists() and any(target.iterdir()):
            raise CommandError(f"{target} exists and is not empty; choose a new folder (nothing was written)")
    archive = Path(args.gradescope).resolve() if args.gradescope else None
    if archive is not None:
        if archive.suffix != ".zip":
            raise CommandError(f"--gradescope: the autograder is a .zip file, got {args.gradescope}")
        if archive.exists():
            raise CommandError(f"{archive} exists; choose a new file (nothing was written)")
    if not (root / "solutions").is_dir():
        raise CommandError("this workbook has no solutions/ (it is already a student bundle)")
    katas, points = _selection(root, args.katas, args.points)
    for kata in katas:
        if builder.is_modified(kata) or not kata.skeleton.is_file():
            print(f"note: {shown(kata.skeleton, root)} differs from its skeleton; the bundle gets the pristine one")
    summary = ", ".join(f"{k.name} {points[k.name]:g}" for k in katas)
    if target is not None:
        write_bundle(root, target, katas, points)
        if args.github_classroom:
            from . import platforms

            for path in platforms.write_github_classroom(target, katas, points):
                print(f"wrote {shown(path, target)}")
        print(f"exported {len(katas)} katas to {target} (no solutions/, no mutants); points: {summary}")
        print(f"students: cd {target} && python -m venv .venv && .venv/bin/pip install -e . && pytest")
    if archive is not None:
        from . import platforms

        with tempfile.TemporaryDirectory(prefix="workbook-export-") as folder:
            write_bundle(root, Path(folder) / "source", katas, points)
            platforms.write_gradescope_zip(Path(folder) / "source", archive)
        print(f"Gradescope autograder: {archive} ({archive.stat().st_size / 1024:.0f} KiB, {len(katas)} katas,"
              f" points: {summary}); upload it as the assignment's autograder (setup.sh, run_autograder)")
    return 0


# === grade ===


def _students_and_katas(root: Path, words: list[str]) -> tuple[list[Path], list[str]]:
    """``grade DIR [DIR ...] [KATA ...]``: the first word is a folder; later ones a kata name or a folder."""
    known = {k.name for k in discover(root)}
    folders, names = [], []
    for index, word in enumerate(words):
        if index and word in known and not Path(word).is_dir():
            names.append(word)
            continue
        if os.path.islink(word) and len(words) > 1:
            # a link that may not resolve (a loop): the class gives it a row and a note
            folders.append(Path(os.path.abspath(word)))
            continue
        folder = Path(word).resolve()
        if not folder.is_dir():
            raise CommandError(f"no such folder: {word} (give the student's workbook folder, or a kata name)")
        folders.append(folder)
    return folders, names


def _sandbox_choice(asked: bool | None) -> bool:
    """--sandbox: required; --no-sandbox: off; neither: on whenever bubblewrap works here, else a loud warning."""
    if asked is not None:
        return asked
    bwrap = shutil.which("bwrap")
    if bwrap is not None:
        try:
            probe = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                return True
        except (OSError, subprocess.SubprocessError):
            pass
    print("WARNING: grading WITHOUT a sandbox: bubblewrap (`bwrap`) is not installed or cannot run here, so the "
          "student's code runs as you and can read your files (solutions/, tests/) and environment. "
          "Install bubblewrap (apt install bubblewrap), or grade inside a throwaway container.", file=sys.stderr)
    return False


def cmd_grade(args) -> int:
    root = find_root()
    folders, names = _students_and_katas(root, args.paths)
    # The assignment (grading.json, or --assignment FILE from an export):
    # which katas count and their points, the same as in the students' bundle.
    assignment_file = Path(args.assignment).resolve() if args.assignment else None
    assignment = grading.load_assignment(root, assignment_file)
    if not names and assignment.katas:
        names = list(assignment.katas)
    assignment_args = ["--assignment", str(assignment_file)] if assignment_file else []
    if len(folders) > 1 or args.out or args.jobs:
        if args.grade_json:
            raise CommandError("--grade-json is for one student; a class's reports go to --out DIR")
        from .classroom import grade_class

        katas = [k.name for k in _katas(root, names)]
        out = Path(args.out or ".").resolve()
        outcomes = grade_class(root, folders, katas, out, jobs=args.jobs or 1, sandbox=_sandbox_choice(args.sandbox),
                               timeout=args.student_timeout, only=names, extra=assignment_args)
        failed = [o for o in outcomes if o.report is None]
        for o in failed:
            print(f"{o.student}: {o.note}")
        print(f"gradebook: {out / 'gradebook.csv'} ({len(outcomes)} students, {len(katas)} katas"
              f"{f', {len(failed)} not graded' if failed else ''}); each student's report: {out}/<student>.json;"
              f" the class at a glance: {out / 'report.html'}")
        return 0
    from .classroom import pid_namespace, write_fresh

    student = folders[0]
    katas = _katas(root, names)
    sandbox = _sandbox_choice(args.sandbox)
    files, missing = [], []
    for kata in katas:
        relative = f"katas/{kata.name}/{kata.name}.py"
        refused = refuse_link(student, relative)
        theirs = student / relative
        if refused:
            print(f"note: {refused}: graded against the pristine skeleton (all TODO)")
            missing.append(kata)
        elif theirs.is_file():
            files += ["--kata-file", f"{kata.name}={theirs}"]
        else:
            missing.append(kata)
    # One temporary folder for the skeletons of missing katas and, without
    # --grade-json, the report; removed whatever happens (never the student's).
    scratch = Path(tempfile.mkdtemp(prefix="workbook-grade-"))
    try:
        if missing:
            names = ", ".join(k.name for k in missing)
            print(f"note: {student} has no usable file for {names}; graded against the pristine skeleton (all TODO)")
            for kata in missing:
                path = scratch / f"{kata.name}.py"
                path.write_text(pristine_source(kata), encoding="utf-8")
                files += ["--kata-file", f"{kata.name}={path}"]
        # The tests, conftest and harness come from THIS copy (root); only the
        # student's kata files are read from their folder.
        # --isolate: the student's code runs in worker processes, never in the
        # grading pytest (see workbook/isolate.py). In its own PID namespace
        # where allowed: nothing the student's code starts outlives the run.
        report = _run_graded(root, katas, [*files, *assignment_args, "--isolate", *(["--sandbox"] if sandbox else [])],
                             scratch / "grades.json", prefix=pid_namespace())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    keep = bool(args.grade_json)
    if keep:
        # Written here, once grading is over, into a file created afresh: a
        # process the student left behind cannot write through it.
        target = write_fresh(Path(args.grade_json).resolve(), json.dumps(report, indent=2) + "\n")
    for kata in report["katas"]:
        print(f"{kata['name']:<18} {kata['points']:>8.2f} / {kata['max_points']:<8.2f} {kata['status']}")
    print(f"Points {report['points']:.2f}/{report['max_points']:.2f}")
    if keep:
        print(f"report: {target}")
    else:
        print("(add --grade-json FILE to keep the machine-readable report)")
    return 0


# === the parser ===


USAGE_ERROR = 4  # like pytest's own usage errors


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake exits with pytest's usage-error code."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="python -m workbook",
        description="The no-magic kata workbook: see progress, get hints, build, export and grade.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    s = commands.add_parser("status", help="your progress in the katas you started, and the next task to do")
    s.add_argument("katas", nargs="*", metavar="KATA", help="katas to show (default: the ones you started)")
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
    h.add_argument("--show", action="store_true",
                   help="only show your current task and the hint level reached (uses up no level)")
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
    e.add_argument("dir", metavar="DIR", nargs="?", help="a new or empty folder outside this workbook")
    e.add_argument("--katas", metavar="A,B", help="only these katas (default: grading.json's, else all)")
    e.add_argument("--points", metavar="A=60,B=40",
                   help=f"points per kata (default: grading.json's weights, else {grading.KATA_POINTS:g} each)")
    e.add_argument("--gradescope", metavar="ZIP", help="also write a Gradescope autograder (setup.sh, run_autograder)")
    e.add_argument("--github-classroom", action="store_true",
                   help="add GitHub Classroom's autograding workflow to the bundle in DIR")
    e.set_defaults(run=cmd_export)

    g = commands.add_parser("grade", help="grade a student's katas with this copy's pristine tests")
    g.add_argument("paths", nargs="+", metavar="DIR [DIR ...] [KATA ...]",
                   help="students' workbook folders, then katas to grade (default: all)")
    g.add_argument("--grade-json", metavar="FILE", help="where to write the report (default: none is kept)")
    g.add_argument("--sandbox", action=argparse.BooleanOptionalAction, default=None,
                   help="run the student's code under bubblewrap (bwrap); default: whenever bwrap works here")
    g.add_argument("--assignment", metavar="FILE",
                   help="the assignment's grading.json (from `export --katas`): its katas and points")
    g.add_argument("--jobs", type=int, default=0, metavar="N", help="grade N students at a time (a class)")
    g.add_argument("--out", metavar="DIR", help="a class: where gradebook.csv and each <student>.json go (default: .)")
    g.add_argument("--student-timeout", type=float, default=1800.0, metavar="S",
                   help="a class: give up on one student after S seconds (default: 1800)")
    g.set_defaults(run=cmd_grade)
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    try:
        return args.run(args)
    except (CommandError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        # `python -m workbook hint ... | head`: the reader left; that is fine.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
