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

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .grading import TestResult, load_weights, report, summarise, write_json
from .layout import Kata, discover, path_order, shown

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
        "--isolate",
        action="store_true",
        help="run each kata in a worker process, never in pytest's (always on in `workbook grade`)",
    )
    group.addoption(
        "--sandbox",
        action="store_true",
        help="with --isolate: run the workers under bubblewrap, without your files or network",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(name): the kata task (function) a graded test grades")
    config.addinivalue_line("markers", "slow: end-to-end checks left out of the default run")
    root = Path(config.rootpath)
    if config.getoption("solutions") and not (root / "solutions").is_dir():
        raise pytest.UsageError(
            "--solutions: solutions are not included in this workbook (a student bundle "
            "ships without solutions/). Run `pytest` to grade your katas."
        )
    overrides = {}
    for spec in config.getoption("kata_file"):
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise pytest.UsageError(f"--kata-file expects NAME=PATH, got {spec!r}")
        if not Path(path).is_file():
            raise pytest.UsageError(f"--kata-file {spec!r}: no such file {path!r}")
        overrides[name] = Path(path).resolve()
    config.pluginmanager.register(CheapReports(), "workbook-cheap-reports")
    if config.getoption("grade_json"):
        target = Path(config.invocation_params.dir) / config.getoption("grade_json")
        config.pluginmanager.register(GradeReport(config, target), "workbook-grade-report")
    config.stash[STATE] = RunState(root=root, solutions=config.getoption("solutions"), overrides=overrides)
    if config.getoption("isolate") or config.getoption("sandbox"):
        from .isolate import Isolation

        config.pluginmanager.register(Isolation(config, sandbox=config.getoption("sandbox")), "workbook-isolation")
    _rewrite_args(config, root)


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


class KataLoadError(Exception):
    """The kata file could not be imported (syntax error, exception at import)."""


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

    def path_for(self, name: str) -> Path:
        if name in self.overrides:
            return self.overrides[name]
        return Kata(name, self.root).path(self.solutions)


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
    isolation = request.config.pluginmanager.get_plugin("workbook-isolation")
    if isolation is not None:  # --isolate: a proxy; the kata runs in a worker process
        return isolation.kata(request, request.config.stash[STATE], name)
    return load_kata(request.config.stash[STATE], name)


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
        elif excinfo is not None and "Timeout" in str(excinfo.value) and excinfo.typename == "Failed":
            result.status = "timeout"
            result.where = _learner_frame(excinfo, state, kata)
            limit = item.config.getini("timeout") or "the"
            running = f" (it was running {result.where})" if result.where else ""
            result.message = (
                f"timed out after {limit}s{running}: look for a loop that never ends, "
                "e.g. a block index that never advances"
            )
            report.longrepr = f"TIMEOUT {task}: {result.message}"
        elif result.status != "todo":
            result.status = "fail" if report.when == "call" else "error"
            result.where = _learner_frame(excinfo, state, kata)
            result.message = _one_line(excinfo)
            _add_next_step(report, kata, task)
    state.results[item.nodeid] = result
    report.workbook_status = result.status
    return report


def _one_line(excinfo) -> str:
    if excinfo is None:
        return ""
    text = str(excinfo.value).strip().splitlines()
    first = text[0] if text else ""
    return f"{excinfo.typename}: {first}" if not excinfo.errisinstance(AssertionError) else first


def _add_next_step(report, kata: str, task: str) -> None:
    advice = f"stuck? `python -m workbook hint {kata} {task}` (each call shows the next level)"
    addsection = getattr(report.longrepr, "addsection", None)
    if addsection:
        addsection("next step", advice)


def pytest_report_teststatus(report, config):
    status = getattr(report, "workbook_status", None)
    if status == "todo" and report.failed:
        return "todo", "t", "TODO"
    if status == "timeout" and report.failed:
        return "timeout", "T", "TIMEOUT"
    return None


# === the grade report (--grade-json) ===


class GradeReport:
    """Keeps ``--grade-json FILE`` current: rewritten as each test starts and ends.

    While a test runs it is recorded as a timeout, so a run killed by a hang
    (or by a teacher's time limit) still leaves a truthful report.
    """

    def __init__(self, config: pytest.Config, target: Path) -> None:
        self.config = config
        self.target = target
        self.weights = load_weights(Path(config.rootpath))

    def write(self, running: str | None = None, complete: bool = False) -> None:
        state = self.config.stash[STATE]
        results = list(state.results.values())
        if running and running in state.items and running not in state.results:
            kata, task = state.items[running]
            message = "did not finish: the run was stopped while this test was running"
            results.append(TestResult(running, kata, task, "timeout", message))
        data = report(
            results,
            mode="solutions" if state.solutions else "katas",
            weights=self.weights,
            load_errors=state.load_errors,
            complete=complete,
        )
        write_json(self.target, data)

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.write(running=nodeid)

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        self.write()

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.write(complete=True)


# === the closing table ===


def _first_todos(state: RunState) -> list[TestResult]:
    """One entry per stub reached, in learning-path and file order."""
    todos: dict[str, TestResult] = {}
    for result in state.results.values():
        if result.status == "todo" and result.message not in todos:
            todos[result.message] = result

    def key(result: TestResult):
        file, _, line = result.where.rpartition(":")
        return (path_order(result.kata), file, int(line) if line.isdigit() else 0)

    return sorted(todos.values(), key=key)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.results:
        return
    write = terminalreporter.write_line
    mode = "solutions/ (reference)" if state.solutions else "katas/ (your work)"
    terminalreporter.section(f"workbook: grading {mode}", sep="=")
    todos = _first_todos(state)
    for result in todos:
        function, _, task = result.message.partition(": ")
        write(f"TODO  {function:<40} {result.where}")
        write(f"      {task}")
    timeouts = [r for r in state.results.values() if r.status == "timeout"]
    for result in timeouts:
        write(f"TIMEOUT {result.nodeid}", red=True)
        write(f"      {result.message}")
    for name, error in state.load_errors.items():
        write(f"ERROR {name}: {error}", red=True)
    if todos or timeouts or state.load_errors:
        write("")
    write(f"{'kata':<18}{'tasks':>6}{'done':>6}{'failing':>9}{'todo':>6}   tests passed", bold=True)
    for s in summarise(list(state.results.values()), load_errors=state.load_errors):
        failing = s.count("fail") + s.count("error")
        passed, total = s.tests["pass"], sum(s.tests.values())
        line = (
            f"{s.name:<18}{len(s.tasks):>6}{s.count('pass'):>6}{failing:>9}"
            f"{s.count('todo'):>6}   {passed}/{total}"
        )
        if s.load_error:
            line += "   (kata did not load)"
        write(line, green=(passed == total), red=(failing > 0))
    if todos and not state.solutions:
        first = todos[0]
        write("")
        write(f"next: {first.message.split(': ', 1)[0]} at {first.where}")
