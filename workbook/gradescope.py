"""Gradescope's side of an autograder made by ``workbook export --gradescope``.

Gradescope unzips the autograder into ``/autograder/source`` (a student
bundle: tests, harness, pristine skeletons, no solutions), runs ``setup.sh``
once, then ``run_autograder`` for each submission, which runs
``python -m workbook.gradescope`` from the source folder. This module:

1. finds the submitted kata files in ``/autograder/submission``: kata files
   (``microflash.py``), a workbook folder (``katas/microflash/microflash.py``)
   or a zip of either; anything else gets a clear message, not a traceback;
2. grades them with ``python -m workbook grade`` (isolated workers), in its
   own session and PID namespace (``unshare``, where allowed: nothing the
   submission starts outlives grading) and, when run as root, as an
   unprivileged user (where that user can run the interpreter), so that the
   submission cannot write the results file;
3. writes ``/autograder/results/results.json`` in Gradescope's documented
   format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
   ``score``, ``execution_time``, ``output`` and one ``tests`` entry per
   task (``name``, ``number``, ``score``, ``max_score``, ``status``,
   ``output`` = the learner's failure message, ``visibility``). It is written
   by this process, into a file it creates afresh, whatever the submission did.

The root is ``/autograder`` unless ``AUTOGRADER_ROOT`` names another (tests).
Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .classroom import kill_tree, pid_namespace
from .grading import load_assignment
from .layout import discover

MAX_KATA_BYTES = 1 << 20  # a kata file is tens of KiB; a bigger "kata" is not read
MAX_ZIP_MEMBERS = 10_000
MAX_OUTPUT = 2_000  # characters of failure message per task shown to the student
GRADE_TIMEOUT = float(os.environ.get("WORKBOOK_GRADE_TIMEOUT", "1500"))  # Gradescope's default limit is 40 min
UNPRIVILEGED = 65534  # nobody
SKIPPED_FOLDERS = {"pristine", "backup", "__pycache__", ".git", ".venv", "node_modules"}
HOW_TO_SUBMIT = ("Submit your kata files (for example {example}), your workbook folder, or a zip of it "
                 "(the folder holding katas/).")


# === finding the submitted kata files ===


def _candidates(submission: Path, names: set[str], notes: list[str]):
    """Yield (kata, rank, where, bytes) for every file that could be a kata; never follows a link."""
    for folder, dirs, files in os.walk(submission, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
        for name in sorted(files):
            path = Path(folder) / name
            where = str(path.relative_to(submission))
            if path.is_symlink():
                notes.append(f"{where}: a symbolic link, ignored")
                continue
            if name.endswith(".zip"):
                yield from _zip_candidates(path, where, names, notes)
                continue
            kata = name[:-3] if name.endswith(".py") else None
            if kata not in names:
                continue
            size = path.stat().st_size
            if size > MAX_KATA_BYTES:
                notes.append(f"{where}: {size} bytes, more than a kata file can be ({MAX_KATA_BYTES}); ignored")
                continue
            yield kata, _rank(Path(where).parts, kata), where, path.read_bytes()


def _zip_candidates(path: Path, where: str, names: set[str], notes: list[str]):
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                notes.append(f"{where}: more than {MAX_ZIP_MEMBERS} files; not opened")
                return
            for member in members:
                parts = Path(member.filename).parts
                if member.is_dir() or not parts or not parts[-1].endswith(".py"):
                    continue
                kata = parts[-1][:-3]
                if kata not in names or SKIPPED_FOLDERS & set(parts[:-1]):
                    continue
                if member.file_size > MAX_KATA_BYTES:
                    notes.append(f"{where}: {member.filename} is too large for a kata file; ignored")
                    continue
                with archive.open(member) as stream:
                    data = stream.read(MAX_KATA_BYTES + 1)
                yield kata, _rank(parts, kata), f"{where}:{member.filename}", data[:MAX_KATA_BYTES]
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError) as error:
        notes.append(f"{where}: not a zip file that can be read ({error})")


def _rank(parts: tuple[str, ...], kata: str) -> tuple[int, int]:
    """Prefer ``katas/<kata>/<kata>.py``, then ``<kata>/<kata>.py``, then the shallowest file."""
    layout = 0 if parts[-3:-1] == ("katas", kata) else 1 if parts[-2:-1] == (kata,) else 2
    return layout, len(parts)


def collect(submission: Path, katas: list[str], target: Path) -> tuple[list[str], list[str]]:
    """Write each submitted kata to ``target/katas/<kata>/<kata>.py``; return (found, notes)."""
    notes: list[str] = []
    best: dict[str, tuple] = {}
    if submission.is_dir():
        for kata, rank, where, data in _candidates(submission, set(katas), notes):
            if kata not in best or rank < best[kata][0]:
                best[kata] = (rank, where, data)
    found = []
    for kata in katas:
        if kata not in best:
            continue
        _, where, data = best[kata]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            notes.append(f"{where}: not UTF-8 text, so not a Python file; {kata} graded as not submitted")
            continue
        folder = target / "katas" / kata
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{kata}.py").write_text(text, encoding="utf-8")
        found.append(kata)
        notes.append(f"{kata}: graded {where}")
    return found, notes


# === grading ===


def _unprivileged_user(source: Path) -> tuple[int, int] | None:
    """(uid, gid) to grade as when running as root and that user can run the grader here, else None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    try:
        probe = subprocess.run([sys.executable, "-c", "import pytest, pytest_timeout, pytest_check, workbook"],
                               cwd=source, user=UNPRIVILEGED, group=UNPRIVILEGED, extra_groups=[],
                               capture_output=True, timeout=60, env=_environment(Path(tempfile.gettempdir())))
    except (OSError, subprocess.SubprocessError):
        return None
    return (UNPRIVILEGED, UNPRIVILEGED) if probe.returncode == 0 else None


def _environment(home: Path) -> dict[str, str]:
    """A small environment: none of the container's variables reach the student's code."""
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    return {**keep, "HOME": str(home), "TMPDIR": tempfile.gettempdir(), "PYTHONDONTWRITEBYTECODE": "1"}


def grade(source: Path, staged: Path, report: Path, user: tuple[int, int] | None,
          namespace: list[str]) -> str:
    """Run ``python -m workbook grade`` on the staged folder; return a note when it went wrong."""
    command = [sys.executable, "-m", "workbook", "grade", str(staged), "--grade-json", str(report)]
    options: dict = {}
    if user and namespace and not shutil.which("setpriv"):
        namespace = []  # as the unprivileged user alone, a daemon still cannot write the results
    if user and namespace:
        # root makes the namespace, then the grader drops to the unprivileged user inside it
        command = [*namespace, "setpriv", f"--reuid={user[0]}", f"--regid={user[1]}", "--clear-groups", "--",
                   *command]
    elif namespace:
        command = [*namespace, *command]
    elif user:
        options = {"user": user[0], "group": user[1], "extra_groups": []}
    process = subprocess.Popen(command, cwd=source, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, env=_environment(report.parent), **options)
    try:
        output, _ = process.communicate(timeout=GRADE_TIMEOUT)
        last = (output.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:300]
        note = "" if process.returncode == 0 else f"grading stopped with exit code {process.returncode}: {last}"
    except subprocess.TimeoutExpired:
        note = f"grading did not finish within {GRADE_TIMEOUT:g} s; points so far"
    finally:
        kill_tree(process.pid)  # whatever it left running, in its session or below it
        process.wait()
    return note


# === Gradescope's results.json ===


def _task_output(tests: list[dict]) -> str:
    """The learner's failure messages for one task (distinct, first ones first)."""
    shown: list[str] = []
    for test in tests:
        if test["status"] == "pass":
            continue
        label = test["status"].upper()
        message = test.get("message") or "(no message)"
        where = test.get("where") or ""
        # a path in the grader's scratch folder means nothing to the student: from katas/ on
        where = where[where.index("katas/"):] if "katas/" in where else Path(where).name
        where = f" ({where})" if where else ""
        line = f"{label}{where}: {message}"
        if line not in shown:
            shown.append(line)
    text = "\n\n".join(shown[:3])
    if len(shown) > 3:
        text += f"\n\n... and {len(shown) - 3} more failing case(s) of this task"
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n... (cut)"


def results(report: dict | None, katas: list[str], points: dict[str, float], notes: list[str],
            problem: str = "") -> dict:
    """Gradescope's results.json from a grade report (None: nothing could be graded)."""
    tests = []
    by_kata = {k["name"]: k for k in (report or {}).get("katas", [])}
    messages: dict[tuple[str, str], list[dict]] = {}
    for test in (report or {}).get("tests", []):
        messages.setdefault((test["kata"], test["task"]), []).append(test)
    for number, kata in enumerate(katas, start=1):
        entry = by_kata.get(kata)
        if entry is None:
            tests.append({"name": f"{kata}", "number": f"{number}", "score": 0.0, "max_score": points[kata],
                          "status": "failed", "output": problem or "not graded", "visibility": "visible"})
            continue
        for index, task in enumerate(entry["tasks"], start=1):
            failing = _task_output(messages.get((kata, task["name"]), []))
            if entry.get("message"):
                failing = f"{kata} did not load: {entry['message']}\n\n{failing}".strip()
            passed = task["status"] == "pass"
            if not passed and not failing:
                failing = f"{task['status'].upper()}: none of this task's tests finished (see the output above)"
            tests.append({
                "name": f"{kata}: {task['name']}",
                "number": f"{number}.{index}",
                "score": task["points"],
                "max_score": task["max_points"],
                "status": "passed" if passed else "failed",
                "output": failing if not passed else "",
                "visibility": "visible",
            })
    total = round(sum(t["score"] for t in tests), 2)
    most = round(sum(t["max_score"] for t in tests), 2)
    lines = [f"Points {total:g}/{most:g}"]
    if problem:
        lines.append(problem)
    if report and not report.get("complete", True):
        lines.append("The grading run did not finish (a hang?): the points are those earned so far.")
    lines += notes
    return {"score": total, "output": "\n".join(lines), "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def write_results(path: Path, data: dict) -> None:
    """Create ``path`` afresh (never write through a file or link someone else left there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
        stream.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def run(root: Path) -> dict:
    """Grade ``root/submission`` with the bundle in ``root/source``; return results.json's content."""
    source = root / "source"
    assignment = load_assignment(source)
    katas = assignment.katas or [k.name for k in discover(source)]
    points = {k: assignment.points(k) for k in katas}
    example = ", ".join(f"{k}.py" for k in katas[:2])
    with tempfile.TemporaryDirectory(prefix="workbook-gradescope-") as folder:
        scratch = Path(folder)
        os.chmod(scratch, 0o755)
        staged, private = scratch / "submission", scratch / "report"
        staged.mkdir()
        private.mkdir()
        found, notes = collect(root / "submission", katas, staged)
        if not found:
            problem = ("No kata file found in your submission. " + HOW_TO_SUBMIT.format(example=example))
            return results(None, katas, points, notes, problem)
        missing = [k for k in katas if k not in found]
        if missing:
            notes.append(f"not submitted (graded as the pristine skeleton, 0 points): {', '.join(missing)}")
        user = _unprivileged_user(source)
        for path in [staged, *staged.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if user:
            os.chown(private, *user)
        report_path = private / "grades.json"
        namespace = pid_namespace()
        print(f"grading as {'uid %d' % user[0] if user else 'this user'}, "
              f"{'in its own PID namespace' if namespace else 'without a PID namespace (not root, or unshare refused)'}")
        problem = grade(source, staged, report_path, user, namespace)
        report = None
        try:
            if report_path.is_file() and not report_path.is_symlink() and report_path.stat().st_size < 64 << 20:
                report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problem = problem or f"the grade report could not be read ({error})"
        if report is None:
            problem = problem or "grading wrote no report"
        return results(report, katas, points, notes, problem)


def main() -> int:
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    started = time.monotonic()
    try:
        data = run(root)
    except Exception as error:  # never leave Gradescope without a results file
        data = {"score": 0.0, "output": f"The autograder failed before grading: {type(error).__name__}: {error}",
                "tests": []}
    data["execution_time"] = round(time.monotonic() - started)
    write_results(root / "results" / "results.json", data)
    try:
        print(data["output"])  # Gradescope keeps it as the autograder's stdout (for the teacher)
    except BrokenPipeError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
