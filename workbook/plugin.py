"""The pytest plugin that grades katas (loaded by the root ``conftest.py``).

What it adds to pytest:

* ``--solutions`` grades ``solutions/`` instead of the learner's ``katas/``;
  ``--kata-file NAME=PATH`` grades any file as kata NAME (teachers, mutants).
* ``pytest katas/<name>`` (or ``solutions/<name>``, or the ``.py`` inside)
  runs ``tests/test_<name>.py``: the graded tests live in one place, whatever
  path the learner types.
* The ``kata`` fixture hands each test the module under test. A kata that
  fails to import is reported for that kata alone, with file:line.
* Every graded test gets one status: pass, fail, todo (a ``KataTodo`` stub was
  reached), timeout or error. TODO is shown with the stub's file:line and its
  task, not a traceback; a per-kata table closes every run.
* ``tests/harness`` and ``tests/mutants`` (the workbook's own tests) are only
  collected when named on the command line.
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import os
import re
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import progress
from .build import enclosing, functions
from .contracts import guard_inputs
from .grading import NOT_RUN, TestResult, load_weights, report, summarise, write_json
from .layout import Kata, discover, shown
from .loading import KataLoadError, check_standard_library_only, read_source

META_FOLDERS = ("harness", "mutants", "data")


# === options and configuration ===


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("workbook", "no-magic kata workbook")
    group.addoption(
        "--solutions",
        action="store_true",
        help="grade the reference solutions/ instead of your katas/",
    )
    group.addoption(
        "--kata-file",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="grade PATH as kata NAME (for teachers and the mutant suite); repeatable",
    )
    group.addoption(
        "--grade-json",
        metavar="FILE",
        default=None,
        help="write machine-readable grades (per kata, task and test, with points) to FILE",
    )
    group.addoption(
        "--assignment",
        metavar="FILE",
        default=None,
        help="read the katas' points from FILE (default: grading.json at the workbook root)",
    )
    group.addoption(
        "--isolate",
        action="store_true",
        help="run each kata in a worker process, never in pytest's (always on in `workbook grade`)",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        help="with --isolate: run the workers under bubblewrap, without your files or network",
    )


def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Recover from pytest taking ``--grade-json /abs/report.json`` for a test path.

    pytest finds its rootdir and configuration before it knows the plugin's
    options, so an existing report outside the workbook, given as a separate
    value, moves the rootdir there: the configuration is lost. The plugin is
    loaded early (an entry point of the installed workbook), sees that, and
    runs the same command again with ``--grade-json=/abs/report.json``.
    """
    if early_config.inipath is not None or os.environ.get("WORKBOOK_REEXEC"):
        return
    joined, changed = [], False
    for arg in args:
        if joined and joined[-1] == "--grade-json":
            joined[-1] = f"--grade-json={arg}"
            changed = True
        else:
            joined.append(arg)
    if changed:
        os.environ["WORKBOOK_REEXEC"] = "1"
        capture = early_config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.stop_global_capturing()  # hand the real stdout/stderr to the new process
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *joined])


@pytest.hookimpl(tryfirst=True)  # before pytest-timeout reads the time limit (isolation raises it)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(name): the kata task (function) a graded test grades")
    config.addinivalue_line("markers", "slow: end-to-end checks left out of the default run")
    root = Path(config.rootpath)
    if config.getoption("solutions") and not (root / "solutions").is_dir():
        raise pytest.UsageError(
            "--solutions: solutions are not included in this workbook (a student bundle "
            "ships without solutions/). Run `pytest` to grade your katas."
        )
    overrides = _kata_file_overrides(config, root)
    try:
        assignment = config.getoption("assignment")
        weights = load_weights(root, Path(config.invocation_params.dir) / assignment if assignment else None)
    except ValueError as bad_file:
        raise pytest.UsageError(str(bad_file)) from None
    config.pluginmanager.register(CheapReports(), "workbook-cheap-reports")
    config.pluginmanager.register(MaxFail(), "workbook-maxfail")
    state = RunState(root=root, solutions=config.getoption("solutions"), overrides=overrides, weights=weights)
    # pytest's own -x / --maxfail would stop at the first TODO; the plugin
    # counts only real failures (FAIL, ERROR, TIMEOUT) against the limit.
    state.maxfail, config.option.maxfail = config.option.maxfail, 0
    config.stash[STATE] = state
    if config.getoption("grade_json"):
        target = Path(config.invocation_params.dir) / config.getoption("grade_json")
        config.pluginmanager.register(GradeReport(config, target), "workbook-grade-report")
    if config.getoption("isolate") or config.getoption("sandbox"):
        from .isolate import Isolation

        config.pluginmanager.register(Isolation(config, sandbox=config.getoption("sandbox")), "workbook-isolation")
    _rewrite_args(config, root)


def _kata_file_overrides(config: pytest.Config, root: Path) -> dict[str, Path]:
    """``--kata-file NAME=PATH`` options as {name: path}; a usage error for anything unusable."""
    overrides = {}
    known = None
    for spec in config.getoption("kata_file"):
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise pytest.UsageError(f"--kata-file expects NAME=PATH, got {spec!r}")
        if known is None:
            known = [k.name for k in discover(root)]
        if name not in known:
            raise pytest.UsageError(f"--kata-file {spec!r}: {name!r} is not a kata (katas: {', '.join(known)})")
        file = Path(config.invocation_params.dir) / path
        if file.is_dir():
            raise pytest.UsageError(f"--kata-file {spec!r}: {path!r} is a directory, not a Python file")
        if not file.is_file():
            raise pytest.UsageError(f"--kata-file {spec!r}: no such file {path!r}")
        if file.suffix != ".py":
            raise pytest.UsageError(f"--kata-file {spec!r}: {path!r} is not a Python file (.py)")
        overrides[name] = file.resolve()
    return overrides


def _rewrite_args(config: pytest.Config, root: Path) -> None:
    """Point ``katas/<name>`` and ``solutions/<name>`` arguments at the graded tests."""
    invocation = Path(config.invocation_params.dir)
    rewritten: list[str] = []
    for arg in config.args:
        path_part, sep, rest = arg.partition("::")
        target = _graded_target(root, (invocation / path_part).resolve())
        if target is None:
            new = [arg]
        else:
            new = [str(t) + (sep + rest if sep and len(target) == 1 else "") for t in target]
        rewritten.extend(a for a in new if a not in rewritten)
    config.args[:] = rewritten


def _graded_target(root: Path, path: Path) -> list[Path] | None:
    """The test files a path under katas/ or solutions/ stands for, else None."""
    for folder in ("katas", "solutions"):
        base = root / folder
        if path == base:
            return [k.tests for k in discover(root)] or None
        if base in path.parents:
            name = path.relative_to(base).parts[0]
            if name.endswith(".py"):
                name = name[: -len(".py")]
            tests = root / "tests" / f"test_{name}.py"
            return [tests] if tests.is_file() else None
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config):
    """Leave the workbook's own tests out unless they are asked for by path."""
    root = Path(config.rootpath)
    if collection_path.parent != root / "tests" or collection_path.name not in META_FOLDERS:
        return None
    invocation = Path(config.invocation_params.dir)
    for arg in config.args:
        asked = (invocation / arg.partition("::")[0]).resolve()
        if asked == collection_path or collection_path in asked.parents:
            return None
    return True


# === loading the module under test ===


@dataclass
class RunState:
    """Everything the plugin learns during one run."""

    root: Path
    solutions: bool
    overrides: dict[str, Path]
    modules: dict[str, object] = field(default_factory=dict)
    load_errors: dict[str, str] = field(default_factory=dict)
    results: dict[str, "TestResult"] = field(default_factory=dict)
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # nodeid -> (kata, task)
    weights: dict[str, float] = field(default_factory=dict)
    maxfail: int = 0  # the user's -x / --maxfail, applied to real failures only
    failures: int = 0
    timed_out: dict[tuple[str, str], "TestResult"] = field(default_factory=dict)  # (kata, task) -> first timeout
    pristine: dict[str, str | None] = field(default_factory=dict)  # kata -> skeleton source (None: none found)
    specs: dict[str, dict] = field(default_factory=dict)  # kata -> contracts(kata)
    tasks: dict[str, list[str]] = field(default_factory=dict)  # kata -> task_order(kata)
    stubs: dict[str, dict] = field(default_factory=dict)  # kata -> stubs left in the graded file
    hung_in: dict[str, str] = field(default_factory=dict)  # nodeid of a timeout -> task function that hung
    next_text: str = ""  # the closing `next:` line, printed after pytest's own summary

    def path_for(self, name: str) -> Path:
        if name in self.overrides:
            return self.overrides[name]
        return Kata(name, self.root).path(self.solutions)

    def pristine_source(self, name: str) -> str | None:
        """The kata's pristine skeleton, generated once per run (None if none can be found)."""
        if name not in self.pristine:
            try:
                self.pristine[name] = progress.pristine_source(Kata(name, self.root))
            except (FileNotFoundError, SyntaxError):
                self.pristine[name] = None
        return self.pristine[name]

    def contracts(self, name: str) -> dict:
        """{function: (docstring, parameter names)} of the kata's pristine skeleton (parsed once per run)."""
        if name not in self.specs:
            source = self.pristine_source(name)
            self.specs[name] = progress.function_specs(source) if source is not None else {}
        return self.specs[name]

    def learner_stubs(self, name: str) -> dict[str, tuple[str, int]]:
        """{task: (text, line)} of the ``raise KataTodo`` left in the graded file (read once per run)."""
        if name not in self.stubs:
            try:
                source = self.path_for(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                source = ""
            self.stubs[name] = progress.stub_lines(source)
        return self.stubs[name]

    def task_order(self, name: str) -> list[str]:
        """The kata's tasks in file order ([] if no pristine skeleton can be found; parsed once per run)."""
        if name not in self.tasks:
            source = self.pristine_source(name)
            self.tasks[name] = [function for function, _ in progress.pristine_tasks(source)] if source is not None else []
        return self.tasks[name]


STATE = pytest.StashKey[RunState]()


def kata_name_of(path: Path) -> str | None:
    """``tests/test_microflash.py`` -> ``microflash``; None for other files."""
    if path.name.startswith("test_") and path.suffix == ".py" and path.parent.name == "tests":
        return path.stem[len("test_"):]
    return None


def load_kata(state: RunState, name: str):
    """Import the module under test for kata ``name`` once per run."""
    if name in state.modules:
        return state.modules[name]
    if name in state.load_errors:
        raise KataLoadError(state.load_errors[name])
    path = state.path_for(name)
    try:
        module = _import_file(path, f"workbook_{'solution' if state.solutions else 'kata'}_{name}")
    except KataLoadError as error:
        state.load_errors[name] = str(error)
        raise
    state.modules[name] = module
    return module


def _import_file(path: Path, module_name: str):
    if not path.is_file():
        hint = f"run `python -m workbook build {path.stem}`" if "katas" in path.parts else "check the path"
        raise KataLoadError(f"{shown(path)} does not exist; {hint}")
    check_standard_library_only(read_source(path), path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        del sys.modules[module_name]
        where = f"{shown(Path(error.filename or path))}:{error.lineno}"
        raise KataLoadError(f"{where}: {type(error).__name__}: {error.msg}") from None
    except BaseException as error:  # anything raised while importing the learner's file
        del sys.modules[module_name]
        frame = _innermost_frame_in(error.__traceback__, path)
        where = f"{shown(path)}:{frame}" if frame else shown(path)
        raise KataLoadError(
            f"{where}: {type(error).__name__}: {error} (raised while importing the file; "
            "code at the top level of the kata runs on import)"
        ) from None
    return module


def _innermost_frame_in(tb, path: Path) -> int | None:
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@pytest.fixture
def kata(request: pytest.FixtureRequest):
    """The module under test: the learner's kata, or the reference with --solutions."""
    name = kata_name_of(Path(request.node.path))
    if name is None:
        raise pytest.UsageError(f"the kata fixture only works in tests/test_<kata>.py, not {request.node.path}")
    # Every call a test makes is held to the docstring's contracts (inputs not
    # changed, new lists new), read from the pristine skeleton, never from the
    # learner's file: see workbook/contracts.py. In isolated mode the same
    # checks wrap the proxy (changed arguments are copied back from the worker).
    state = request.config.stash[STATE]
    isolation = request.config.pluginmanager.get_plugin("workbook-isolation")
    if isolation is not None:  # --isolate: a proxy; the kata runs in a worker process
        return guard_inputs(isolation.kata(request, state, name), state.contracts(name))
    return guard_inputs(load_kata(state, name), state.contracts(name))


# === statuses ===


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items) -> None:
    state = config.stash[STATE]
    for item in items:
        name = kata_name_of(Path(item.path))
        if name is None:
            continue
        marker = item.get_closest_marker("task")
        task = marker.args[0] if marker and marker.args else "(no task)"
        state.items[item.nodeid] = (name, task)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made (test modules, items, parsed katas) lives to the end: out of the collector's sight.

    Each full collection of the oldest generation walks every object alive;
    with them frozen, the 24 of a whole-workbook run cost 0.3 s instead of 1.3.
    """
    gc.freeze()


class CheapReports:
    """Registered as its own plugin so it can sit beside the classifying wrapper."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        """A cheap report for TODO stubs and load errors: no traceback is ever formatted.

        pytest's traceback rendering parses the source of every frame; for a run
        over pristine katas (hundreds of TODOs) that costs more than the tests.
        """
        excinfo = call.excinfo
        if excinfo is None or item.nodeid not in item.config.stash[STATE].items:
            return None
        if _find_todo(excinfo) is None and not excinfo.errisinstance(KataLoadError):
            return None
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {name: 1 for name in item.keywords},
            "failed",
            str(excinfo.value),  # the classifying wrapper rewrites it
            call.when,
            [(f"Captured {key} {call.when}", content) for _, key, content in item._report_sections],
            call.duration,
            call.start,
            call.stop,
            item.user_properties,
        )


def _find_todo(excinfo) -> BaseException | None:
    """The KataTodo in an exception or its chain, if any."""
    seen = set()
    error = excinfo.value if excinfo else None
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if any(cls.__name__ == "KataTodo" for cls in type(error).__mro__):
            return error
        error = error.__cause__ or error.__context__
    return None


def _stub_location(error: BaseException) -> str:
    if hasattr(error, "workbook_where"):  # raised in an isolated worker: its file:line, display only
        return error.workbook_where
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    return f"{shown(Path(last.tb_frame.f_code.co_filename))}:{last.tb_lineno}"


def _learner_frame(excinfo, state: RunState, kata: str) -> str:
    """file:line of the innermost frame in the module under test, if any."""
    if excinfo is not None and hasattr(excinfo.value, "workbook_where"):  # isolated worker
        return excinfo.value.workbook_where
    path = state.path_for(kata).resolve()
    line = _innermost_frame_in(excinfo.tb, path) if excinfo else None
    return f"{shown(path)}:{line}" if line else ""


def _task_frame(excinfo, state: RunState, kata: str) -> tuple[str, str]:
    """(file:line, task) of the innermost frame in one of the kata's task functions.

    A hang inside a provided helper (``HBM.store``) is reported at the line of
    the learner's own loop that called it; other frames in the file are the
    fallback (with no task).
    """
    path = state.path_for(kata).resolve()
    tasks = set(state.task_order(kata))
    line, task = None, ""
    tb = excinfo.tb if excinfo else None
    while tb is not None:
        code = tb.tb_frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        if Path(code.co_filename).resolve() == path and (name in tasks or code.co_name in tasks):
            line, task = tb.tb_lineno, name if name in tasks else code.co_name
        tb = tb.tb_next
    if line:
        return f"{shown(path)}:{line}", task
    return _learner_frame(excinfo, state, kata), ""


class TaskTimedOut(Exception):
    """Raised instead of running code that already timed out in this run (``first`` is that timeout)."""

    def __init__(self, message: str, first: TestResult, task: str) -> None:
        super().__init__(message)
        self.first, self.task = first, task


def _block(state: RunState, kata: str, task: str, first: TestResult) -> bool:
    """Make ``task`` raise TaskTimedOut from now on, wherever it is called from (in-process runs).

    An endless loop in a task that four other tasks call would otherwise cost
    five timeouts. Isolated runs load the kata in a worker, which a timeout
    replaces; they keep the per-task containment of ``pytest_runtest_call``.
    """
    module = state.modules.get(kata)
    *outer, name = task.split(".")
    owner = module
    for part in outer:
        owner = getattr(owner, part, None)
    if owner is None or not callable(getattr(owner, name, None)):
        return False
    test = first.nodeid.split("::")[-1]

    def blocked(*args, **kwargs):
        raise TaskTimedOut(
            f"not run: it calls {kata}.{task}, which timed out in {test} ({first.where}); "
            "fix that loop first", first, task,
        )

    blocked.__name__ = blocked.__qualname__ = name
    setattr(owner, name, blocked)
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """An endless loop costs one timeout per task, not one per test."""
    state = item.config.stash[STATE]
    first = state.timed_out.get(state.items.get(item.nodeid, ("", "")))
    if first is not None:
        task = state.hung_in.get(first.nodeid, first.task)
        raise TaskTimedOut(
            f"not run: {first.nodeid.split('::')[-1]} of the same task timed out ({first.where})", first, task
        )


def _is_timeout(excinfo) -> bool:
    return excinfo is not None and excinfo.typename == "Failed" and "Timeout" in str(excinfo.value)


def _did_not_raise(item: pytest.Item, excinfo) -> str | None:
    """For a failed ``pytest.raises``: which call should have raised, as the test wrote it."""
    if excinfo is None or excinfo.typename != "Failed" or not str(excinfo.value).startswith("DID NOT RAISE"):
        return None
    expected = str(excinfo.value).removeprefix("DID NOT RAISE").strip(" <>").replace("class ", "").strip("'")
    expected = expected.rsplit(".", 1)[-1]
    test_file = Path(item.path).resolve()
    line = _innermost_frame_in(excinfo.tb, test_file)
    call = ""
    if line:
        lines = test_file.read_text(encoding="utf-8").splitlines()
        start = next((n for n in range(line - 1, max(line - 8, -1), -1) if "raises(" in lines[n]), None)
        if start is not None:
            indent = len(lines[start]) - len(lines[start].lstrip())
            body = []
            for text in lines[start + 1:]:
                if text.strip() and len(text) - len(text.lstrip()) <= indent:
                    break
                body.append(text.strip())
            call = " ".join(body).strip()
    where = f" for `{call}`" if call else ""
    case = f" (case {item.callspec.id})" if hasattr(item, "callspec") else ""
    return (
        f"expected {expected}{where}{case}, but the call returned normally: check that argument "
        f"and raise {expected} with a message that names it"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash[STATE]
    if item.nodeid not in state.items:
        return report
    kata, task = state.items[item.nodeid]
    result = state.results.get(item.nodeid) or TestResult(item.nodeid, kata, task, "pass")
    result.duration += report.duration
    if report.skipped and report.when != "teardown":
        result.status = "skip"
    if report.failed:
        excinfo = call.excinfo
        todo = _find_todo(excinfo)
        if todo is not None:
            result.status = "todo"
            result.where = _stub_location(todo)
            result.message = str(todo)
            report.longrepr = f"TODO {result.message}\n  stub at {result.where}"
        elif excinfo is not None and excinfo.errisinstance(KataLoadError):
            result.status = "error"
            result.message = str(excinfo.value)
            report.longrepr = f"could not load kata {kata}: {result.message}"
            report.workbook_load_error = True
        elif excinfo is not None and excinfo.errisinstance(TaskTimedOut):
            blocked = excinfo.value
            result.status, result.where, result.message = "timeout", blocked.first.where, str(blocked)
            state.hung_in[item.nodeid] = blocked.task
            report.longrepr = f"TIMEOUT {task}: {result.message}"
        elif _is_timeout(excinfo):
            result.status = "timeout"
            result.where, hung = _task_frame(excinfo, state, kata)
            limit = getattr(item.config.option, "timeout", None) or item.config.getini("timeout") or "the"
            running = f" (it was running {hung + ' at ' if hung else ''}{result.where})" if result.where else ""
            cpu = re.search(r"over ([\d.]+)s of CPU time", str(excinfo.value))  # isolated: the worker's CPU limit
            spent = f"used over {cpu.group(1)}s of CPU time" if cpu else f"timed out after {limit}s"
            if hung:
                state.hung_in[item.nodeid] = hung
            blocked = bool(hung) and _block(state, kata, hung, result)
            again = f"tests that call {hung} again are" if blocked else "the task's other tests are"
            result.message = (
                f"{spent}{running}: look for a loop that never ends (an index or "
                f"pointer that never advances, a condition that never changes); {again} not run"
            )
            report.longrepr = f"TIMEOUT {task}: {result.message}"
            state.timed_out.setdefault((kata, task), result)
        elif result.status != "todo":
            result.status = "fail" if report.when == "call" else "error"
            result.where = _learner_frame(excinfo, state, kata)
            result.message = _one_line(excinfo)
            raised = _did_not_raise(item, excinfo)
            if raised:
                result.message = raised
                report.longrepr = f"{item.nodeid}\n{raised}"
            elif _returned_none(excinfo):
                result.message = f"the function returned None: did you forget to `return` the result? ({result.message})"
                _add_section(report, "returned None", "did you forget to `return` the result?")
            elif excinfo is not None and str(excinfo.value).startswith("FAILURE: "):
                # pytest-check's soft failures: show each once, without its
                # line-0 headline that repeats the first one.
                report.longrepr = str(excinfo.value)
                result.message = str(excinfo.value).splitlines()[0].removeprefix("FAILURE: ")
            check_hint = getattr(excinfo.value, "hint", "") if excinfo is not None else ""
            if check_hint and not raised:
                result.message += f" (hint: {check_hint})"
            _add_next_step(report, kata, task, bool(check_hint))
    state.results[item.nodeid] = result
    report.workbook_status = result.status
    return report


def _one_line(excinfo) -> str:
    if excinfo is None:
        return ""
    text = str(excinfo.value).strip().splitlines()
    first = text[0] if text else ""
    return f"{excinfo.typename}: {first}" if not excinfo.errisinstance(AssertionError) else first


def _returned_none(excinfo) -> bool:
    """A plain ``assert`` that failed because a kata function returned None."""
    if excinfo is None or not excinfo.errisinstance(AssertionError):
        return False
    text = str(excinfo.value)
    return text.startswith(("assert None ", "assert not None")) or "where None = " in text


def _add_next_step(report, kata: str, task: str, check_hint: bool = False) -> None:
    more = ("first this check's hint again, then the task's hints, one level per call" if check_hint
            else "each call shows the next level")
    _add_section(report, "next step", f"stuck? `python -m workbook hint {kata} {task}` ({more})")


def _add_section(report, title: str, text: str) -> None:
    if isinstance(report.longrepr, str):
        report.longrepr += f"\n-- {title} --\n{text}"
        return
    addsection = getattr(report.longrepr, "addsection", None)
    if addsection:
        addsection(title, text)


def pytest_report_teststatus(report, config):
    status = getattr(report, "workbook_status", None)
    if getattr(report, "workbook_load_error", False):
        # Counted apart from "failed" so pytest does not print the same load
        # error once per test; the closing section prints it once per kata.
        return "kata not loaded", "E", "ERROR (kata not loaded)"
    if status == "todo" and report.failed:
        return "todo", "t", "TODO"
    if status == "timeout" and report.failed:
        return "timeout", "T", "TIMEOUT"
    return None


class MaxFail:
    """``-x`` / ``--maxfail=N`` counted over FAIL, ERROR and TIMEOUT only, never TODO."""

    def __init__(self) -> None:
        self.session = None

    def pytest_sessionstart(self, session) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report) -> None:
        state = self.session.config.stash[STATE] if self.session else None
        if state is None or not state.maxfail or not report.failed:
            return
        if getattr(report, "workbook_status", "fail") == "todo":
            return
        state.failures += 1
        if state.failures >= state.maxfail:
            self.session.shouldfail = f"stopping after {state.failures} failures (TODOs do not count)"


# === the grade report (--grade-json) ===

WRITE_INTERVAL = 1.0  # seconds: the report is at most this stale between tests
HANG_AFTER = 1.0  # seconds: a test running this long is written down as running


class GradeReport:
    """Keeps ``--grade-json FILE`` current while the run goes on, and final at its end.

    Between tests the report is rewritten at most every ``WRITE_INTERVAL``
    seconds (writing after every test made a run about 6x slower). A watcher
    thread writes it once more when a test has been running for
    ``HANG_AFTER`` seconds, with that test recorded as a timeout: so a run
    killed by a hang (or by a teacher's time limit) still leaves a truthful
    report. The watcher never writes during a short test, whose own memory
    accounting (``tracemalloc``) would otherwise see the report's allocations.
    """

    def __init__(self, config: pytest.Config, target: Path) -> None:
        self.config = config
        self.target = target
        self.running: tuple[str, float] | None = None  # (nodeid, start time)
        self.written_running: str | None = None
        self.last_write = 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="workbook-grade-report", daemon=True)

    def write(self, running: str | None = None, complete: bool = False) -> None:
        state = self.config.stash[STATE]
        results = [r for r in list(state.results.values()) if r.nodeid != running]
        if running and running in state.items:
            # Its setup may have reported already; the test itself has not finished.
            kata, task = state.items[running]
            message = "did not finish: the run was stopped while this test was running"
            results.append(TestResult(running, kata, task, "timeout", message))
        data = report(
            results,
            mode="solutions" if state.solutions else "katas",
            weights=state.weights,
            load_errors=state.load_errors,
            complete=complete,
            task_orders=_task_orders(state, results),
        )
        with self.lock:
            write_json(self.target, data)
            self.last_write = time.monotonic()

    def _watch(self) -> None:
        while not self.stop.wait(HANG_AFTER / 4):
            running = self.running
            if tracemalloc.is_tracing():
                continue  # the test is measuring its memory: writing now would add to it
            if running and running[0] != self.written_running and time.monotonic() - running[1] >= HANG_AFTER:
                self.written_running = running[0]
                try:
                    self.write(running=running[0])
                except Exception:  # never let the watcher break a run
                    pass

    def pytest_sessionstart(self, session) -> None:
        self.write()
        self.thread.start()

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.running = (nodeid, time.monotonic())

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.running = None
        if time.monotonic() - self.last_write >= WRITE_INTERVAL:
            self.write()

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        self.write(complete=True)


def _task_orders(state: RunState, results: list[TestResult]) -> dict[str, list[str]]:
    """Every task of each kata that ran, so tasks left out of a partial run show as "not run"."""
    return {kata: state.task_order(kata) for kata in {r.kata for r in results}}


# === the closing table ===


def _shown_states(state: RunState, summaries) -> dict[str, dict[str, str]]:
    """kata -> {task: what the learner is told} (``progress.task_state``), tasks in kata order."""
    statuses: dict[tuple[str, str], list[str]] = {}
    for result in state.results.values():
        statuses.setdefault((result.kata, result.task), []).append(result.status)
    shown_states = {}
    for summary in summaries:
        stubs = state.learner_stubs(summary.name)
        shown_states[summary.name] = {
            task: progress.task_state(statuses.get((summary.name, task), []), task in stubs)
            for task in summary.tasks
        }
    return shown_states


def _results_of(state: RunState, kata: str, task: str, *statuses: str) -> list[TestResult]:
    return [r for r in state.results.values() if r.kata == kata and r.task == task and r.status in statuses]


def task_line(path: Path, task: str) -> int | None:
    """The line of ``def <task>`` in a kata file (None if absent or unparsable)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    return next((first for first, _, name, _ in functions(tree) if name == task), None)


def _where(state: RunState, result: TestResult) -> str:
    """Where to look for a result: its own file:line, else the task's ``def`` line."""
    if result.where:
        return result.where
    path = state.path_for(result.kata)
    line = task_line(path, result.task)
    return f"{shown(path)}:{line}" if line else shown(path)


@dataclass
class Todo:
    """A TODO task as the closing section names it: where to write, and what."""

    task: str
    where: str
    text: str
    waits_for: str = ""  # written, but its tests reach this other task's stub first


def _todo(state: RunState, kata: str, task: str) -> Todo:
    """Where a TODO task is written: its own stub, or the stub its (written) tests wait for."""
    stubs = state.learner_stubs(kata)
    path = shown(state.path_for(kata))
    if task in stubs:
        text, line = stubs[task]
        return Todo(task, f"{path}:{line}", text)
    for result in _results_of(state, kata, task, "todo"):
        other = progress.stub_function(kata, result.message)
        if other != task:
            text, line = stubs.get(other, (result.message.partition(": ")[2], None))
            return Todo(task, f"{path}:{line}" if line else result.where, text, waits_for=other)
    results = _results_of(state, kata, task, "todo")
    return Todo(task, results[0].where if results else path, results[0].message.partition(": ")[2] if results else "")


def _failure(state: RunState, kata: str, task: str) -> TestResult:
    """The result to show for a failing task: its first timeout, else its first failure."""
    return (_results_of(state, kata, task, "timeout") or _results_of(state, kata, task, "fail", "error"))[0]


def next_line(state: RunState, summaries, shown_states=None) -> str:
    """The closing ``next:`` line, from ``progress.next_task`` like ``status`` and ``hint``."""
    shown_states = shown_states or _shown_states(state, summaries)
    found = progress.next_task([(name, list(tasks.items())) for name, tasks in shown_states.items()])
    if found is None:
        skipped = sum(s.count(NOT_RUN) for s in summaries)
        if skipped:
            return f"next: every task that ran passed ({skipped} not run in this partial run)"
        return "next: nothing left here, every task passed"
    kata, task, status = found
    if status == "error" and kata in state.load_errors:
        where = state.load_errors[kata].split(": ", 1)[0]
        return f"next: fix {kata} at {where} (the file does not load; see ERROR above)"
    if status == "todo":
        todo = _todo(state, kata, task)
        if todo.waits_for:
            return f"next: write {kata}.{todo.waits_for} at {todo.where} ({task}'s tests call it)"
        return f"next: write {kata}.{task} at {todo.where}"
    failure = _failure(state, kata, task)
    hung = state.hung_in.get(failure.nodeid)
    if hung and hung != task:
        return f"next: fix {kata}.{hung} at {failure.where} (it never returned in {task}'s test)"
    where = _where(state, failure)
    inside = _function_at(state, kata, where)
    if inside and inside != task:  # its test called another task, which crashed (on what this one gave it?)
        return f"next: fix {kata}.{task}: its test fails inside {inside} at {where}"
    return f"next: fix {kata}.{task} at {where}"


def _function_at(state: RunState, kata: str, where: str) -> str:
    """The function of the graded file that holds ``where`` (file:line), or ''."""
    path, _, line = where.rpartition(":")
    if not line.isdigit() or path != shown(state.path_for(kata)):
        return ""
    try:
        defs = functions(ast.parse(state.path_for(kata).read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return ""
    found = enclosing(defs, int(line))
    return found[2] if found else ""


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.results:
        return
    write = terminalreporter.write_line
    mode = "solutions/ (reference)" if state.solutions else "katas/ (your work)"
    terminalreporter.section(f"workbook: grading {mode}", sep="=")
    results = list(state.results.values())
    # Points by the assignment (grading.json): the same as --grade-json and `workbook grade`.
    summaries = summarise(results, weights=state.weights, load_errors=state.load_errors,
                          task_orders=_task_orders(state, results))
    shown_states = _shown_states(state, summaries)
    # Each task is listed once, under what the table counts it as.
    for kata, tasks in shown_states.items():
        for task in (t for t, status in tasks.items() if status == "todo"):
            todo = _todo(state, kata, task)
            write(f"TODO  {kata + '.' + task:<40} {todo.where}")
            if todo.waits_for:
                write(f"      written; its tests wait for {kata}.{todo.waits_for} (still TODO)")
            else:
                write(f"      {todo.text}")
    for kata, tasks in shown_states.items():
        if kata in state.load_errors:
            continue
        for task in (t for t, status in tasks.items() if status in ("fail", "error")):
            result = _failure(state, kata, task)
            if result.status == "timeout":
                write(f"TIMEOUT {kata + '.' + task:<38} {result.where}", red=True)
                write(f"      {result.message}")
            else:
                write(f"FAIL  {kata + '.' + task:<40} {_where(state, result)}", red=True)
                write(f"      {result.message[:200]}")
    for name, error in state.load_errors.items():
        write(f"ERROR {name}: {error}", red=True)
    write("")
    not_run = any(s.count(NOT_RUN) for s in summaries)
    header = f"{'kata':<18}{'tasks':>6}{'done':>6}{'failing':>9}{'todo':>6}"
    write(header + (f"{'not run':>9}" if not_run else "") + f"   {'tests passed':<12} points", bold=True)
    for s in summaries:
        statuses = list(shown_states[s.name].values())
        failing = statuses.count("fail") + statuses.count("error")
        passed, total = s.tests["pass"], sum(s.tests.values())
        line = f"{s.name:<18}{len(s.tasks):>6}{statuses.count('pass'):>6}{failing:>9}{statuses.count('todo'):>6}"
        if not_run:
            line += f"{statuses.count(NOT_RUN):>9}"
        line += f"   {f'{passed}/{total}':<12} {s.points:g}/{s.max_points:g}"
        if s.load_error:
            line += "   (kata did not load)"
        write(line, green=(passed == total and not s.count(NOT_RUN)), red=(failing > 0))
    state.next_text = next_line(state, summaries, shown_states)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """Print the ``next:`` line last, below pytest's short summary and its counts.

    With many failures the short summary is long; the one line that says what
    to do next must not scroll out of sight above it.
    """
    result = yield
    state = session.config.stash.get(STATE, None)
    reporter = session.config.pluginmanager.getplugin("terminalreporter")
    if state is not None and state.next_text and reporter is not None:
        reporter.write_line(state.next_text)
    return result
