"""The worker: the process a kata runs in during isolated grading.

Started by the grader (``workbook/isolate.py``) as ``python -I -S -B
worker.py CPU_S MEMORY_MB FILE_MB GRADER_PID``: no site-packages, no
environment, no ``.pyc`` written. It loads ``wire.py`` from beside itself
(it imports nothing of the workbook package: the kata's ``from workbook
import KataTodo`` gets a stand-in defined here), applies its limits, reads
the kata's path and source from the grader, runs it, and serves the
grader's requests until the grader closes the pipe. The verdict and points
are computed in the grader only. Protocol: ``workbook/PROTOCOL.md``.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

if __package__:
    from . import wire
else:  # run as a script: the wire is the file beside this one
    import importlib.util

    _spec = importlib.util.spec_from_file_location("workbook_wire", Path(__file__).with_name("wire.py"))
    wire = importlib.util.module_from_spec(_spec)
    sys.modules["workbook_wire"] = wire
    _spec.loader.exec_module(wire)

Channel, ChannelClosed, KATA_MODULE = wire.Channel, wire.ChannelClosed, wire.KATA_MODULE


class KataTodo(NotImplementedError):
    """The worker's stand-in for ``workbook.KataTodo`` (the grader maps it back)."""


def _limit(resource, which: int, value: int) -> None:
    if value > 0:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass  # a limit the platform does not allow is left as it was


def apply_limits(cpu_seconds: int, memory_mb: int, file_mb: int) -> None:
    """CPU time, address space, file size and core-dump limits; no new processes unless root."""
    import resource

    _limit(resource, resource.RLIMIT_CPU, cpu_seconds)
    _limit(resource, resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    _limit(resource, resource.RLIMIT_FSIZE, file_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; see README "What isolation does not stop"
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
        except (ValueError, OSError):
            pass


def load(source: bytes, path: str):
    """Run the kata's source as module ``KATA_MODULE`` (``__file__`` is its real path)."""
    module = types.ModuleType(KATA_MODULE)
    module.__file__ = path
    sys.modules[KATA_MODULE] = module
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def hello(channel: Channel, module) -> dict:
    """The kata's callables (functions and classes) as handles, its exception classes by name."""
    names, exceptions = {}, {}
    for name, value in list(vars(module).items()):
        if name.startswith("__"):
            continue
        if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == KATA_MODULE:
            chain = [c.__name__ for c in value.__mro__[1:] if c.__module__ in (KATA_MODULE, "builtins")]
            exceptions[name] = chain
        elif callable(value) and not isinstance(value, type(sys)):
            names[name] = channel.encode(value)
    return {"names": names, "exceptions": exceptions}


class TracemallocService:
    """The worker's half of measuring memory with ``tracemalloc`` (see ``isolate.Isolation``).

    What a test measures in-process is the kata's memory. Here the channel's
    own work would count too, so only the kata's own execution is measured,
    for any test that uses ``tracemalloc``:

    * a start or reset takes effect once the call's arguments are decoded
      (in-process they existed before the reset): that is the baseline;
    * the peak is taken only over the stretches where kata code runs (from
      the decoded arguments to the return value, before the reply is
      encoded; a callback into the grader pauses it);
    * what the channel keeps between two kata stretches (handles, cached
      lists, the wire's copies) is the ``protocol`` offset, subtracted from
      what the kata stretches see; what a callback hands the kata (its decoded
      result, lists it changed in place) is not part of the offset, so it
      counts, as it does in-process.
    """

    def __init__(self) -> None:
        self.tracing = self.pending = self.running = False
        self.baseline = self.best = self.protocol = self.given = 0
        self.paused_at: int | None = None
        self.handing_at: int | None = None

    def __call__(self, action: str):
        import tracemalloc

        if action == "start" and not tracemalloc.is_tracing():
            tracemalloc.start()
            self.tracing, self.pending, self.baseline, self.best, self.protocol = True, True, 0, 0, 0
        elif action == "stop":
            tracemalloc.stop()
            self.tracing = False
        elif action == "reset_peak" and self.tracing:
            self.pending, self.best = True, 0
        elif action == "get":
            if not self.tracing:
                return [0, 0]
            current = tracemalloc.get_traced_memory()[0]
            return [max(0, current - self.baseline - self.protocol), max(0, self.best)]
        return None

    def kata_starts(self, arguments_decoded: bool = False) -> None:
        if not self.tracing:
            return
        import tracemalloc

        current = tracemalloc.get_traced_memory()[0]
        if arguments_decoded and self.pending:
            self.pending = False
            self.baseline, self.protocol = current, 0
        elif self.paused_at is not None:  # back from the channel: what it kept is not the kata's
            self.protocol += current - self.paused_at - self.given
        self.paused_at, self.handing_at, self.given = None, None, 0
        tracemalloc.reset_peak()
        self.running = True

    def kata_stops(self) -> None:
        if not (self.tracing and self.running):
            return
        import tracemalloc

        self.running = False
        current, peak = tracemalloc.get_traced_memory()
        if not self.pending:
            self.best = max(self.best, peak - self.baseline - self.protocol)
        self.paused_at, self.given = current, 0

    def handing(self) -> None:
        """A callback's answer is about to be decoded for the kata."""
        if self.tracing and self.paused_at is not None:
            import tracemalloc

            self.handing_at = tracemalloc.get_traced_memory()[0]

    def handed(self) -> None:
        """... and is decoded: that much is the kata's."""
        if self.tracing and self.handing_at is not None:
            import tracemalloc

            self.given += tracemalloc.get_traced_memory()[0] - self.handing_at
            self.handing_at = None


def die_with(parent: int) -> None:
    """Be killed when the grader dies (Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``), never re-parented."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass  # not Linux: the grader's stop() still kills the worker's session
    if parent and os.getppid() != parent:  # the grader died before the line above
        os._exit(1)


def main(argv: list[str]) -> int:
    """``worker.py CPU_S MEMORY_MB FILE_MB GRADER_PID``: read the kata over the channel, then serve."""
    die_with(int(argv[3]) if len(argv) > 3 else 0)
    proto_in, proto_out = os.dup(0), os.dup(1)
    # The kata's print() and input() must never touch the protocol: stdout
    # goes where stderr goes (the grader's log of this worker), stdin is empty.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    apply_limits(int(argv[0]), int(argv[1]), int(argv[2]))
    stand_in = types.ModuleType("workbook")
    stand_in.KataTodo = KataTodo
    stand_in.__path__ = []  # workbook.* submodules are not available to a kata
    sys.modules["workbook"] = stand_in
    channel = Channel(proto_in, proto_out)
    channel.worker_side = True
    channel.services["tracemalloc"] = channel.measure = TracemallocService()
    channel.services["list"] = list  # checks.kata_list
    first = channel.receive()
    channel.kata_file = path = str(first["path"])
    try:
        module = load(channel.decode(first["source"]), path)
    except BaseException as error:  # report, do not crash: the grader shows file:line
        info = channel.describe(error)
        if isinstance(error, SyntaxError) and error.filename == path:
            info["line"], info["text"] = error.lineno, error.msg
        channel.send({"e": info})
        return 1
    channel.objects[0] = module
    channel.send({"r": hello(channel, module)})
    channel.answers = BaseException
    while True:
        channel.forget()
        try:
            channel.serve(channel.receive())
        except ChannelClosed:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
