"""Grading a whole class: ``python -m workbook grade DIR [DIR ...] --jobs N``.

Each student is graded by its own ``python -m workbook grade DIR --grade-json
FILE`` process (which isolates the student's code in worker processes, see
``isolate.py``), ``--jobs`` of them at a time. A student whose grading
crashes, hangs past ``--student-timeout`` or writes no report gets a row
with 0 points and a note; the class goes on. The result, in ``--out`` (the
current directory by default, never a student's folder):

* ``gradebook.csv``: one row per student, one column per kata (points), then
  ``total``, ``max`` and ``note``;
* ``<student>.json``: each student's full grade report, next to it;
* ``report.html``: one self-contained page (no network, no script) with the
  class's points, a students x tasks heatmap, the tasks failed most with
  their most common failure message, and the submissions that timed out or
  crashed (see ``report.py``).

What a student's code cannot do to the class: each student's ``grade`` runs
in its own session (and, as root, its own PID namespace where ``unshare`` allows it),
and the whole session is killed when it ends or runs past
``--student-timeout``; it writes its report into a private temporary folder,
and only this process writes ``--out``, into files it creates afresh once
grading is over. A planted file or folder in the way gets the next free
name and a note, never an aborted class.

Standard library only; the progress bar is one line rewritten with ``\\r``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MAX_REPORT_BYTES = 64 << 20  # a grade report is KiB; anything bigger is not read


@dataclass
class Outcome:
    student: str  # the row's name (the folder's name, made unique)
    folder: Path
    report: dict | None  # the grade report, or None when grading failed
    note: str = ""
    seconds: float = 0.0
    timed_out: bool = False


def row_names(folders: list[Path]) -> list[str]:
    """Each folder's name, with ``-2``, ``-3`` ... where it would repeat a name already given.

    ``A/bob``, ``B/bob`` and ``C/bob-2`` become ``bob``, ``bob-2`` and
    ``bob-2-2``: every row, and every report file, keeps its own name.
    """
    names, taken = [], set()
    for folder in folders:
        base = folder.name or "student"
        name, count = base, 1
        while name.lower() in taken:  # case-insensitive: the reports share one folder
            count += 1
            name = f"{base}-{count}"
        taken.add(name.lower())
        names.append(name)
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


def pid_namespace() -> list[str]:
    """A prefix that runs a command in its own PID namespace, when this machine allows it.

    When the command's first process ends, the kernel kills every process in
    the namespace: a daemon the submission forked (even in a new session)
    cannot outlive grading and rewrite the results. Only as root: without
    root, the workers may not start any process at all (``RLIMIT_NPROC``, see
    ``worker.apply_limits``), which a user namespace would turn off (its
    "root" is uid 0 to the worker). ``--mount-proc``: ``/proc`` inside shows
    the namespace's own processes, which the grader reads (its workers' CPU
    time); with the host's ``/proc`` there, a worker started under bubblewrap
    never answered (tests/harness/test_classroom.py, run with ``bwrap``).
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    prefix = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
    try:
        if subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0:
            return prefix
    except (OSError, subprocess.SubprocessError):
        pass
    return []


def _children() -> dict[int, list[int]]:
    """{parent pid: [child pids]} from /proc (empty where there is no /proc)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s process group and every process below ``pid`` (a worker in its own session too)."""
    tree = _children()
    below, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            below.append(child)
            todo.append(child)
    for target in below:
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _readable_folder(folder: Path) -> str:
    """Why ``folder`` cannot be graded ("" when it can): a symlink loop, a missing folder..."""
    try:
        resolved = folder.resolve(strict=True)
    except (OSError, RuntimeError) as error:
        reason = "a symbolic link loop" if isinstance(error, RuntimeError) or getattr(error, "errno", 0) == 40 \
            else f"{error.strerror or error}"
        return f"not graded: {folder} cannot be read ({reason})"
    if not resolved.is_dir():
        return f"not graded: {folder} is not a folder"
    return ""


def grade_one(root: Path, folder: Path, name: str, katas: list[str], sandbox: bool,
              timeout: float, extra: list[str] | None = None, namespace: list[str] | None = None) -> Outcome:
    """Grade one student in its own session; never raises, never writes ``--out``."""
    started = time.monotonic()
    problem = _readable_folder(folder)
    if problem:
        return Outcome(name, folder, None, problem)
    scratch = Path(tempfile.mkdtemp(prefix="workbook-class-"))
    target = scratch / "grades.json"
    command = [*(namespace or []), sys.executable, "-m", "workbook", "grade", str(folder), *katas,
               "--grade-json", str(target), *(extra or [])]
    command.append("--sandbox" if sandbox else "--no-sandbox")  # decided once, for the whole class
    note, timed_out, report = "", False, None
    try:
        try:
            process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, errors="replace", start_new_session=True)
        except OSError as error:
            return Outcome(name, folder, None, f"grading could not start: {error}", time.monotonic() - started)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            if process.returncode != 0:
                last = (stderr.strip() or stdout.strip()).splitlines()[-1:] or [""]
                note = f"grading failed (exit {process.returncode}): {last[0][:200]}"
        except subprocess.TimeoutExpired:
            note, timed_out = f"grading did not finish within {timeout:g}s", True
        finally:
            # The whole session and everything below it: its pytest, its workers
            # (each in a session of its own), anything they started.
            kill_tree(process.pid)
            process.communicate()
        if not note:
            try:
                if target.is_symlink() or not target.is_file() or target.stat().st_size > MAX_REPORT_BYTES:
                    raise ValueError("missing, not a file, or too large")
                report = json.loads(target.read_text(encoding="utf-8"))
                if not isinstance(report, dict) or "katas" not in report:
                    raise ValueError("not a grade report")
            except (OSError, ValueError) as error:
                report, note = None, f"no readable report: {error}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Outcome(name, folder, report, note, time.monotonic() - started, timed_out)


def write_fresh(path: Path, text: str, reserved: frozenset = frozenset()) -> Path:
    """Write ``text`` into a file created afresh at ``path`` (atomically); return where it went.

    A file at ``path`` is replaced (a process holding it open writes into the
    old one); a folder or anything else planted there is left alone and the
    text goes to the next free ``<stem>-2<suffix>``, ``-3``... that is not
    one of the ``reserved`` names (another student's report).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".workbook-", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
    os.chmod(temporary, 0o644)
    candidates = [path, *(path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(2, 100))]
    for candidate in candidates:
        if candidate != path and candidate.name in reserved:
            continue
        if candidate.is_symlink() or (candidate.exists() and not candidate.is_file()):
            continue
        try:
            os.replace(temporary, candidate)
            return candidate
        except OSError:
            continue
    os.unlink(temporary)
    raise OSError(f"could not write {path} or any free name beside it")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``=``, ``+``, ``-``, ``@`` (a formula) gets a ``'``."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_csv(outcomes: list[Outcome], katas: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *katas, "total", "max", "note"])
    for outcome in outcomes:
        points = {k["name"]: k["points"] for k in (outcome.report or {}).get("katas", [])}
        total = outcome.report["points"] if outcome.report else 0
        most = outcome.report["max_points"] if outcome.report else ""
        writer.writerow([cell(outcome.student), *(f"{points.get(k, 0):.2f}" for k in katas),
                         f"{total:.2f}", f"{most:.2f}" if most != "" else "", cell(row_note(outcome))])
    return buffer.getvalue()


def row_note(outcome: Outcome) -> str:
    if outcome.report and not outcome.report.get("complete", True):
        return outcome.note or "the run did not finish (a hang?); points so far"
    return outcome.note


def write_gradebook(path: Path, outcomes: list[Outcome], katas: list[str]) -> Path:
    return write_fresh(path, gradebook_csv(outcomes, katas))


def grade_class(root: Path, folders: list[Path], katas: list[str], out: Path, jobs: int = 1,
                sandbox: bool = False, timeout: float = 1800.0, bar: bool = True,
                only: list[str] | None = None, extra: list[str] | None = None) -> list[Outcome]:
    """Grade every folder, ``jobs`` at a time; write ``out/gradebook.csv``, ``report.html`` and one JSON each.

    ``katas`` are the gradebook's columns; ``only`` the kata names given on
    the command line (none: all). Every file in ``out`` is written here, after
    grading, never by a student's process.
    """
    out.mkdir(parents=True, exist_ok=True)
    names = row_names(folders)
    progress = Bar(len(folders)) if bar else None
    namespace = pid_namespace()

    def one(pair):
        folder, name = pair
        outcome = grade_one(root, folder, name, only or [], sandbox, timeout, extra, namespace)
        if progress:
            progress.step(outcome.report is not None)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(one, zip(folders, names)))
    if progress:
        progress.close()
    reserved = frozenset(f"{name}.json" for name in names)
    for outcome in outcomes:
        if outcome.report is None:
            continue
        written = write_fresh(out / f"{outcome.student}.json", json.dumps(outcome.report, indent=2) + "\n",
                              reserved)
        if written.name != f"{outcome.student}.json":
            outcome.note = (outcome.note + "; " if outcome.note else "") + f"report written to {written.name}"
    written = write_gradebook(out / "gradebook.csv", outcomes, katas)
    if written.name != "gradebook.csv":
        print(f"note: {out / 'gradebook.csv'} is not a file; the gradebook is {written}", file=sys.stderr)
    from .report import class_report

    page = write_fresh(out / "report.html", class_report(outcomes, katas))
    if page.name != "report.html":
        print(f"note: {out / 'report.html'} is not a file; the class report is {page}", file=sys.stderr)
    return outcomes


def default_jobs() -> int:
    return max(1, (os.cpu_count() or 2) // 2)
