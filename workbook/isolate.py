"""Isolated grading: the learner's kata runs in a worker process, never in the grader.

``pytest --isolate`` (and ``python -m workbook grade``, which always
isolates) registers an ``Isolation`` plugin. The ``kata`` fixture then hands
each test a ``KataModule``: it looks like the kata module, but every call to a
kata function, class or method runs in a per-kata worker (``workbook/worker.py``
under ``python -I -S -B``) and only JSON-encoded values come back over the
wire (``workbook/wire.py``; the protocol is ``workbook/PROTOCOL.md``). The
grader never imports the learner's file, so nothing in it can patch the
harness, reach the report, or run after the tests: verdicts and points are
computed here, from returned values. What the kata may ask of the grader is
``allowed`` (below).

Per worker: CPU time, memory and file-size limits (``resource.setrlimit``), a
fresh temporary working directory whose total size the grader watches, an
environment without the grader's variables, its own session (so it and its
children are killed together), and a CPU-time limit per test with a generous
wall-clock ceiling. A worker that hangs, crashes or exits is killed; that test
is TIMEOUT or ERROR and the next test gets a fresh worker. With ``--sandbox``
the worker runs under bubblewrap (``bwrap``) without the teacher's
filesystem, network or process table.

README ("Teaching with the workbook") says what this does not stop.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import KataTodo
from .layout import shown
from .loading import KataLoadError, check_standard_library_only, read_source
from .wire import OPAQUE, Channel, ChannelClosed, ChannelTimeout, PeerError, rebuild

WORKER_FILE = Path(__file__).with_name("worker.py")
WIRE_FILE = Path(__file__).with_name("wire.py")  # the worker loads it from beside itself
MIRRORED = ("start", "stop", "reset_peak", "is_tracing", "get_traced_memory")
CPU_FACTOR = 4  # isolated runs: a test's kata calls may use 4 x the ini's timeout in CPU seconds
WALL_FACTOR = 12  # ... and the test may take 12 x the ini's timeout on the clock (a loaded machine)
IMPORT_TIMEOUT = 60  # seconds for a kata's import when the test has no time limit
SERVICE_TIMEOUT = 30  # seconds for a worker's own service (tracemalloc) to answer
OUTPUT_LIMIT = 20_000  # characters of a worker's print() output shown per test


@dataclass(frozen=True)
class Limits:
    """What one worker may use (``0`` = no limit)."""

    cpu_seconds: int = 300
    memory_mb: int = 2048
    file_mb: int = 64  # one file (RLIMIT_FSIZE)
    disk_mb: int = 256  # everything in the worker's folder (its cwd, HOME and TMPDIR) together
    disk_entries: int = 10_000  # ... in at most this many files and folders


class OverLimit(ChannelClosed):
    """The worker went over a limit the grader watches itself (its folder's size)."""

    def crashed(self) -> "KataCrashed":
        """How the test reports it."""
        return KataCrashed(f"the kata {self} (limit); it was stopped, and the next test gets a new one")


class KataCrashed(KataLoadError):
    """The kata's worker died or broke the protocol during a test (status ERROR)."""


class RemoteError(Exception):
    """An exception from the kata that is not rebuilt as itself (not a built-in ``Exception``)."""


def sandbox_command(root: Path, workdir: Path) -> list[str]:
    """The bubblewrap prefix: the interpreter read-only, the kata's data read-only, nothing else.

    No network, a private process table (``--unshare-pid``: every process the
    kata starts dies with the worker), no access to the teacher's files other
    than ``data/`` and ``tests/data/`` (read-only), which kata functions may be
    asked to read.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise pytest.UsageError("--sandbox needs bubblewrap (`bwrap`); install it (apt install bubblewrap)")
    command = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp"]
    for system in ("/usr", "/lib", "/lib64", "/bin", "/etc/alternatives"):
        if os.path.exists(system):
            command += ["--ro-bind", system, system]
    prefixes = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)}
    for prefix in sorted(prefixes):
        command += ["--ro-bind", prefix, prefix]
    for part in (WORKER_FILE, WIRE_FILE):
        command += ["--ro-bind", str(part), str(part)]
    for data in (root / "data", root / "tests" / "data"):
        if data.is_dir():
            command += ["--ro-bind", str(data), str(data)]
    command += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    return command + ["--"]


class KataModule:
    """The kata module as a test sees it in isolated mode.

    Functions and classes are proxies (cached from the worker's greeting),
    exception classes the kata defines are local classes of the same name, so
    ``pytest.raises(kata.OutOfPages)`` works; other attributes are read from
    the worker each time. Setting an attribute sets it in the worker (tests
    that monkeypatch a kata function to count its calls work unchanged).
    """

    def __init__(self, worker: "KataWorker", names: dict, exceptions: dict) -> None:
        state = {"_wb_worker": worker, "__name__": worker.module_name, "__file__": str(worker.path)}
        # The kata's functions, classes and exception classes live in this
        # object's __dict__, as a module's do: pytest's monkeypatch reads the
        # old value from __dict__ and restores it there on undo.
        for key, value in {**names, **exceptions, **state}.items():
            object.__setattr__(self, key, value)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._wb_worker.channel.request({"q": "get", "h": 0, "a": [name]})

    def __setattr__(self, name, value):
        self._wb_worker.channel.request({"q": "set", "h": 0, "a": [name, value]})
        if name in self.__dict__ or callable(value):
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._wb_worker.channel.request({"q": "del", "h": 0, "a": [name]})
        self.__dict__.pop(name, None)

    def __dir__(self):
        return sorted(k for k in self.__dict__ if not k.startswith("_wb_"))

    def __repr__(self):
        return f"<isolated kata {self.__name__} from {shown(self._wb_worker.path)}>"


def _exception_classes(chains: dict, module_name: str) -> dict[str, type]:
    """Local stand-ins for the exception classes a kata defines (same names, same built-in bases)."""
    import builtins

    made: dict[str, type] = {}

    def make(name: str) -> type:
        if name not in made:
            base: type = Exception
            for ancestor in chains.get(name, []):
                if ancestor in chains and ancestor != name:
                    base = make(ancestor)
                    break
                candidate = getattr(builtins, ancestor, None)
                if isinstance(candidate, type) and issubclass(candidate, Exception):
                    base = candidate
                    break
            made[name] = type(name, (base,), {"__module__": module_name, "__qualname__": name})
        return made[name]

    for name in chains:
        if isinstance(name, str) and isinstance(chains[name], list):
            make(name)
    return made


class KataWorker:
    """One kata's worker process, started on first use and replaced after a failure."""

    def __init__(self, name: str, path: Path, module_name: str, root: Path, limits: Limits, sandbox: bool):
        self.name, self.path, self.module_name = name, path, module_name
        self.root, self.limits, self.sandbox = root, limits, sandbox
        self.place = shown(path)  # as messages name the kata file (resolved once: a raised exception names it)
        self.process: subprocess.Popen | None = None
        self.channel: Channel | None = None
        self.module: KataModule | None = None
        self.workdir: str | None = None
        self.log = None
        self.shown_output = 0
        self.timeout: float | None = None
        self.cpu_limit: float | None = None
        self.cpu_start = 0.0

    # --- life cycle ---

    def kata(self, timeout: float | None, cpu_limit: float | None = None) -> KataModule:
        """The kata module for one test: its kata calls must end within ``timeout`` seconds on the
        clock and use at most ``cpu_limit`` seconds of the worker's CPU time."""
        self.timeout, self.cpu_limit = timeout, cpu_limit
        ahead = self.module is None and self.process is not None and self.process.poll() is None
        if not ahead and (self.module is None or self.channel.broken is not None or self.process.poll() is not None):
            self.stop()
            self.spawn()
        if self.module is None:
            self._greet()
        self.channel.reset_lists(new_test=True)  # lists and generators a test passes: for its own calls only
        # a little before pytest-timeout's: the worker is stopped and the test is TIMEOUT, no race
        self.channel.deadline = time.monotonic() + 0.9 * timeout if timeout else None
        self.cpu_start = self.cpu_seconds()
        return self.module

    def cpu_seconds(self) -> float:
        """The worker's CPU time so far (Linux ``/proc``; 0 where it cannot be read)."""
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return 0.0

    def _watch(self) -> None:
        """While the grader waits: a worker over its CPU time for this test is a timeout.

        The limit is on CPU time, not the clock, so a loaded machine (other
        students, other jobs) does not cost a correct kata its points; the
        clock's ceiling is generous (see Isolation).
        """
        if self.cpu_limit and self.cpu_seconds() - self.cpu_start > self.cpu_limit:
            raise ChannelTimeout(f"over {self.cpu_limit:g}s of CPU time")
        over = self.disk_over()
        if over:
            raise OverLimit(over)

    def disk_over(self) -> str:
        """What the worker's folder holds beyond ``Limits.disk_mb`` / ``disk_entries``, or "".

        ``RLIMIT_FSIZE`` caps one file; this caps them all. Looked at while
        the grader waits and after every test; the walk stops at the entry
        limit, so a folder of a million files costs no more than the limit.
        """
        if not self.workdir or not (self.limits.disk_mb or self.limits.disk_entries):
            return ""
        total, entries, folders = 0, 0, [self.workdir]
        while folders:
            try:
                with os.scandir(folders.pop()) as listing:
                    for entry in listing:
                        entries += 1
                        if self.limits.disk_entries and entries > self.limits.disk_entries:
                            return f"made over {self.limits.disk_entries} files and folders"
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
        if self.limits.disk_mb and total > self.limits.disk_mb * 1024 * 1024:
            return f"wrote over {self.limits.disk_mb} MB of files"
        return ""

    def spawn(self) -> None:
        """Start the worker and hand it the kata's source, without waiting for it to load.

        ``Isolation`` spawns the next kata's worker while this kata's tests run,
        so its start (the interpreter, the wire, the kata's import) overlaps them.
        """
        source = read_source(self.path)  # a regular file of at most 1 MiB, standard library only
        check_standard_library_only(source, self.path)
        self.workdir = tempfile.mkdtemp(prefix=f"workbook-{self.name}-")
        self.log = tempfile.TemporaryFile()  # unlinked: only the worker's stdout/stderr reach it
        self.shown_output = 0
        limits = self.limits
        # -I: no environment, no user site, no script folder on sys.path; -S: no
        # site-packages at all (katas are standard library only); -B: no .pyc
        # written anywhere (the teacher's checkout stays as it was)
        command = [sys.executable, "-I", "-S", "-B", str(WORKER_FILE),
                   str(limits.cpu_seconds), str(limits.memory_mb), str(limits.file_mb),
                   str(0 if self.sandbox else os.getpid())]  # bwrap --die-with-parent covers the sandbox
        if self.sandbox:
            command = sandbox_command(self.root, Path(self.workdir)) + command
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": self.workdir, "TMPDIR": self.workdir,
               "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            cwd=self.workdir, env=env, start_new_session=True, close_fds=True,
        )
        channel = self.channel = Channel(self.process.stdout.fileno(), self.process.stdin.fileno())
        channel.policy = allowed  # what the kata may ask of the grader
        channel.on_error = self._rebuild
        channel.on_broken = self._broken
        channel.on_wait = self._watch
        for size in (2, 1):  # MiB: room for the source in the pipe, so sending it never waits for the worker
            try:  # (1 MiB is what Linux allows anyone by default, /proc/sys/fs/pipe-max-size)
                fcntl.fcntl(self.process.stdin.fileno(), fcntl.F_SETPIPE_SZ, size * 1024 * 1024)
                break
            except (OSError, AttributeError):
                continue  # a smaller pipe: the send below waits until the worker reads
        try:
            channel.send({"path": str(self.path), "source": channel.encode(source)})
        except OSError:
            pass  # the worker died at once: _greet reports it

    def _greet(self) -> None:
        """Wait for the worker's greeting (the kata imported) and build the kata module."""
        channel = self.channel
        # The import gets the CPU limit's seconds on the clock (else half the test's limit):
        # always before pytest-timeout's, so a hang at import is one load error
        # (recorded: the kata's other tests are not run) and the worker is stopped.
        limit = self.cpu_limit or (self.timeout / 2 if self.timeout else IMPORT_TIMEOUT)
        self.cpu_start = 0.0
        channel.deadline = time.monotonic() + limit
        try:
            reply = channel.receive()
        except BaseException as error:
            code = self.process.poll()
            self.stop()
            if isinstance(error, ChannelTimeout):
                raise KataLoadError(
                    f"{self.place}: importing the file did not finish within {limit:g}s "
                    "(code at the top level of the kata runs on import)"
                ) from None
            if not isinstance(error, (ChannelClosed, OSError)):
                raise
            raise KataLoadError(
                f"{self.place}: the kata's process ended while importing the file (exit code {code})"
            ) from None
        if "e" in reply:
            self.stop()
            info = reply["e"] if isinstance(reply["e"], dict) else {}
            line = info.get("line")
            where = f"{self.place}:{line}" if isinstance(line, int) else self.place
            kind, text = str(info.get("type", "Exception")), str(info.get("text", ""))
            if kind == "SyntaxError" or info.get("base") == "SyntaxError":
                raise KataLoadError(f"{where}: {kind}: {text}")
            raise KataLoadError(
                f"{where}: {kind}: {text} (raised while importing the file; "
                "code at the top level of the kata runs on import)"
            )
        hello = reply.get("r") if isinstance(reply.get("r"), dict) else {}
        names = {str(k): channel.decode(v) for k, v in (hello.get("names") or {}).items()}
        self.exceptions = _exception_classes(hello.get("exceptions") or {}, self.module_name)
        self.module = KataModule(self, names, self.exceptions)
        if tracemalloc.is_tracing():  # the grader's test is measuring memory (see Isolation)
            self.service("tracemalloc", "start")

    def service(self, name: str, *args):
        """Call one of the worker's own services (not the kata's code), if the worker is alive.

        It answers at once (no kata code runs), so it gets its own deadline: the
        channel's may be a test's that ended long ago.
        """
        channel = self.channel
        if channel is None or channel.broken is not None or channel.depth:
            return None
        deadline = channel.deadline
        channel.deadline = time.monotonic() + SERVICE_TIMEOUT
        try:
            return channel.request({"q": "svc", "h": 0, "a": [name, *args]})
        finally:
            if self.channel is channel:
                channel.deadline = deadline

    def stop(self) -> None:
        """Kill the worker and everything it started (its whole session); forget it."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.log is not None:
            self.log.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.process = self.channel = self.module = self.log = self.workdir = None

    def output(self) -> str:
        """What the kata printed since the last call (for pytest's captured output)."""
        if self.log is None:
            return ""
        self.log.seek(self.shown_output)
        data = self.log.read(OUTPUT_LIMIT)
        self.shown_output += len(data)
        self.log.seek(0, os.SEEK_END)
        return data.decode("utf-8", errors="replace")

    # --- errors ---

    def _broken(self, error: BaseException) -> BaseException:
        """The channel broke mid-call: stop the worker; say why in the test's terms."""
        code = self.process.poll() if self.process else None
        self.stop()
        if isinstance(error, ChannelTimeout):
            if "CPU" in str(error):
                return pytest.fail.Exception(f"Timeout: the kata used {error}", pytrace=False)
            limit = f"{self.timeout:g}s" if self.timeout else "its time limit"
            return pytest.fail.Exception(f"Timeout: the kata did not answer within {limit}", pytrace=False)
        if isinstance(error, OverLimit):
            return error.crashed()
        if isinstance(error, (ChannelClosed, OSError)):
            if code is None:
                return KataCrashed(f"the kata's worker broke the protocol ({error}); it was stopped")
            how = f"was killed by signal {-code}" if code < 0 else f"exited (code {code})"
            hint = " (over its CPU time limit?)" if code == -signal.SIGXCPU else ""
            hint = " (over its memory limit?)" if code == -signal.SIGKILL and not hint else hint
            return KataCrashed(f"the kata's process {how}{hint} during this test; the next test gets a new one")
        return None  # the grader's own exception (pytest-timeout, Ctrl-C): raise it as it is

    def _rebuild(self, info: dict) -> BaseException:
        """An error payload from the worker as the exception the test sees (sizes capped here)."""
        text = str(info.get("text", ""))[:OUTPUT_LIMIT]
        args = info.get("args")
        if not (isinstance(args, list) and len(args) <= 8
                and all(type(a) in (int, float, bool) or (type(a) is str and len(a) <= OUTPUT_LIMIT) for a in args)):
            args = [text]  # only short plain arguments are kept as they came
        info = {"type": str(info.get("type", "Exception"))[:100], "base": info.get("base"), "text": text,
                "args": args, "line": info.get("line"), "todo": info.get("todo"), "kata": info.get("kata"),
                "tb": str(info.get("tb") or "")[-4000:]}
        if info.get("todo") is True:
            error: BaseException = KataTodo(text)
        elif info.get("kata") in getattr(self, "exceptions", {}):
            cls = self.exceptions[info["kata"]]
            try:
                error = cls(*args)
            except Exception:
                error = cls(text)
        else:
            error = rebuild(info)
            if isinstance(error, PeerError):
                error = RemoteError(f"{info.get('type', 'Exception')}: {text}")
        line = info.get("line")
        error.workbook_where = f"{self.place}:{line}" if isinstance(line, int) else ""
        trace = info.get("tb")
        if isinstance(trace, str) and trace and hasattr(error, "add_note"):
            error.add_note(f"raised in the kata ({self.place}, isolated worker):\n{trace.rstrip()}")
        return error


# === what the grader serves the kata ===

GRADER_OPERATORS = tuple(f"__{name}__" for name in (
    "repr str len bool getitem contains float int index neg pos abs "
    "add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow rpow"
).split())


def allowed(target, op: str, args: list, handle):
    """What the grader serves the kata: ``(target, op, args, offset, raw reply)``, or PermissionError.

    ``target`` is an object a test passed to the kata. The kata may call it,
    call a public method its class defines (a plain function in the class,
    never an attribute of the instance, never a name with ``_``), read such a
    method (to call it later), and use a few operators whose answers are
    plain data. Nothing else: no attribute by name, no setting, no copying.
    """
    name = args[0] if args and type(args[0]) is str else None
    opaque = isinstance(target, OPAQUE)
    if op == "call" and callable(target):
        return target, op, args, 0, None
    if op in ("callm", "get", "set") and name and not opaque:
        import inspect

        function = inspect.getattr_static(type(target), name, None)
        if type(function) is types.FunctionType and op != "set" and not name.startswith("_"):
            if op == "get":  # a reference the kata can call: {"$m": [its object, name]}
                return target, op, args, 0, {"$m": [{"$h": handle}, name]}
            return types.MethodType(function, target), "call", args[1:], 1, None
        # data attributes the object's class lists in ``__wire__`` ({name: "r"
        # or "rw"}): a test's stand-in for a kata object, read (and written,
        # "rw") by the kata; what is read must be plain data
        listed = inspect.getattr_static(type(target), "__wire__", None)
        if type(listed) is dict and listed.get(name) in (("r", "rw") if op == "get" else ("rw",) if op == "set" else ()):
            return target, op, args, 0, None
    if op == "op" and name in GRADER_OPERATORS and (not opaque or name in ("__bool__", "__repr__", "__str__")):
        return target, op, args, 0, None
    shown_name = f" {name!r}" if name else ""
    raise PermissionError(f"the grader does not serve {op!r}{shown_name} on a {type(target).__name__}: "
                          "a kata may only call what a test passes it (and its public methods)")


def _test_timeout(item: pytest.Item) -> float | None:
    """The test's time limit as pytest-timeout sees it (marker, then ini), or None."""
    marker = item.get_closest_marker("timeout")
    value = marker.args[0] if marker and marker.args else marker.kwargs.get("timeout") if marker else None
    if value is None:
        value = getattr(item.config.option, "timeout", None)
    if value is None:
        try:
            value = item.config.getini("timeout")
        except ValueError:
            value = None
    try:
        value = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        value = None
    return value or None


class Isolation:
    """The isolated-mode plugin object: one worker per kata for the whole run.

    Workers are killed at the start of ``pytest_sessionfinish`` (before the
    grade report's last write), so nothing the kata started is alive when the
    report is written for the last time.
    """

    def __init__(self, config: pytest.Config, sandbox: bool = False, limits: Limits = Limits()) -> None:
        self.config = config
        self.sandbox = sandbox
        self.limits = limits
        self.workers: dict[str, KataWorker] = {}
        self.in_use: dict[str, KataWorker] = {}  # the workers of the running test's katas
        self.tracing = False
        self.tracemalloc = {name: getattr(tracemalloc, name) for name in MIRRORED}
        for name in MIRRORED:
            setattr(tracemalloc, name, getattr(self, f"_tracemalloc_{name}"))
        if sandbox:
            sandbox_command(Path(config.rootpath), Path(tempfile.gettempdir()))  # fail early if bwrap is missing
        # Fair under load: a test's kata calls may use CPU_FACTOR x the ini's
        # timeout in CPU seconds (the kata's own work, whatever else runs on
        # the machine), and the whole test gets WALL_FACTOR x on the clock
        # (round trips, callbacks, a busy machine). A limit given on the
        # command line (--timeout S) is both.
        self.cpu_per_test: float | None = None
        if getattr(config.option, "timeout", None) is None:
            try:
                base = float(config.getini("timeout") or 0)
            except (TypeError, ValueError):
                base = 0
            if base > 0:
                config.option.timeout = base * WALL_FACTOR
                self.cpu_per_test = base * CPU_FACTOR

    def kata(self, request: pytest.FixtureRequest, state, name: str) -> KataModule:
        """The ``kata`` fixture's value for one test."""
        if name in state.load_errors:
            raise KataLoadError(state.load_errors[name])
        worker = self._worker(state, name)
        if not worker.path.is_file():
            hint = f"run `python -m workbook build {name}`" if "katas" in worker.path.parts else "check the path"
            state.load_errors[name] = f"{shown(worker.path)} does not exist; {hint}"
            raise KataLoadError(state.load_errors[name])
        self.in_use[name] = worker
        try:
            wall = _test_timeout(request.node)
            marked = request.node.get_closest_marker("timeout") is not None
            module = worker.kata(wall, wall if marked or self.cpu_per_test is None else self.cpu_per_test)
        except KataLoadError as error:
            state.load_errors[name] = str(error)
            raise
        self._spawn_next(state, name)
        return module

    def _worker(self, state, name: str) -> "KataWorker":
        worker = self.workers.get(name)
        if worker is None:
            kind = "solution" if state.solutions else "kata"
            worker = self.workers[name] = KataWorker(
                name, state.path_for(name), f"workbook_{kind}_{name}", state.root, self.limits, self.sandbox
            )
        return worker

    def _spawn_next(self, state, name: str) -> None:
        """Start the next kata's worker now, so it loads while this kata's tests run (errors: at its turn)."""
        upcoming = getattr(self, "next_kata", {}).get(name)
        if upcoming is None or upcoming in self.workers or upcoming in state.load_errors:
            return
        worker = self._worker(state, upcoming)
        try:
            if worker.path.is_file():
                worker.spawn()
        except (KataLoadError, OSError):
            worker.stop()  # the same error comes again, in its own test

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.in_use = {}

    def pytest_collection_finish(self, session) -> None:
        """Note each kata's last test: its worker is stopped when that test ends."""
        self.last_tests: dict[str, list[str]] = {}
        last = {}
        for item in session.items:
            path = Path(item.path)
            if path.parent.name == "tests" and path.name.startswith("test_") and path.suffix == ".py":
                last[path.stem[len("test_"):]] = item.nodeid
        for name, nodeid in last.items():
            self.last_tests.setdefault(nodeid, []).append(name)
        order = list(last)  # katas in the order their tests first run (dicts keep insertion order)
        self.next_kata = dict(zip(order, order[1:]))

    def pytest_runtest_logfinish(self, nodeid, location) -> None:
        for name in getattr(self, "last_tests", {}).get(nodeid, ()):
            if name in self.workers:
                self.workers[name].stop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        try:
            result = yield
        finally:
            for worker in self.workers.values():
                printed = worker.output()
                if printed:
                    sys.stdout.write(printed)
        for worker in self.in_use.values():  # a kata that filled its folder quickly, between two looks
            over = worker.disk_over()
            if over:
                worker.stop()
                raise OverLimit(over).crashed()
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.close()

    def pytest_unconfigure(self, config) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        for name, function in self.tracemalloc.items():
            setattr(tracemalloc, name, function)

    # A test that measures a kata's memory with tracemalloc (microflash's
    # "never holds the N x N matrix") would measure the grader, where the kata
    # no longer runs. While isolating, tracemalloc's start, stop, reset_peak,
    # is_tracing and get_traced_memory act on the workers of the test's katas
    # instead (summed), so such a test measures the kata's memory as it does
    # in-process.

    def _each(self, action: str) -> list:
        return [worker.service("tracemalloc", action) for worker in self.in_use.values()]

    def _tracemalloc_start(self, *args):
        self.tracing = True
        self._each("start")

    def _tracemalloc_stop(self):
        self.tracing = False
        self._each("stop")

    def _tracemalloc_reset_peak(self):
        self._each("reset_peak")

    def _tracemalloc_is_tracing(self):
        return self.tracing

    def _tracemalloc_get_traced_memory(self):
        current = peak = 0
        for numbers in self._each("get"):
            if isinstance(numbers, list) and len(numbers) == 2 and all(type(n) is int for n in numbers):
                current, peak = current + numbers[0], peak + numbers[1]
        return current, peak
