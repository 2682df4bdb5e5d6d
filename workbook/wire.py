"""The wire between the grader and a kata worker: frames, values, requests.

The protocol is described in ``workbook/PROTOCOL.md``. This module is shared
by both sides: the grader imports it (``workbook.isolate``), the worker loads
it from this file (``workbook/worker.py`` imports nothing of the workbook
package). It has three parts, each usable and testable alone:

* ``Frames``: length-prefixed JSON messages over a pair of pipes, with a
  deadline and a watch on the other side while waiting;
* ``Codec``: Python values to JSON values and back (tags, handles for objects
  that stay on their side, big lists sent once, generators by state);
* ``Channel(Frames, Codec)``: a request and its answer, serving the peer's
  requests meanwhile, errors as data. Which requests a side serves is its
  ``policy``: the worker serves the grader anything, the grader serves only
  what ``isolate.allowed`` grants.

And the stand-ins the grader gets for the worker's objects: ``Proxy``,
``MethodProxy``, ``LiveList``, ``LiveDict``; ``Table`` is a test's model
given by value.
"""

from __future__ import annotations

import base64
import copy
from array import array
import inspect
import json
import linecache
import marshal
import math
import operator
import os
import random
import select
import struct
import time
import types
from fractions import Fraction
from pathlib import Path, PurePath

HEADER = struct.Struct(">I")
SPIN = 0.0002  # seconds a side polls for an answer before it sleeps, while a CPU is free (Frames._fill)
WATCH = 0.5  # seconds between two looks at the other side's CPU time while waiting (on_wait)
RECHECK = 0.05  # seconds until a side that found every CPU busy looks again (a process starting is soon done)
CACHED_LENGTH = 16  # list arguments with at least this many items (rows x columns) are sent once while unchanged
CACHED_LISTS = 512  # ... and at most this many are remembered (then both sides start again)
PREFETCH = 256  # reading one attribute of a kata object brings its other small attributes, this many values in all
PREFETCH_BYTES = 16 * PREFETCH  # ... and those it brought before, unchanged, if their marshal bytes are at most this
MAX_MESSAGE = 64 * 1024 * 1024  # a bigger frame is a broken (or hostile) peer
PACKED_LENGTH = 4  # a list of at least this many floats goes as their bytes ($a): no repr, no parsing
JSON_SCALARS = {int, float, str, bool, type(None)}
JSON_EXACT = frozenset({int, str, bool, type(None)})  # what JSON carries as it is (a float may be NaN or inf)
STRING = frozenset({str})
CONTAINERS = frozenset({list, tuple, dict})
BY_VALUE = {tuple, set, frozenset, bytearray}  # sent by value: may hold something that changed (encode_live)
BARE = {list, dict, int, float, str, bool, type(None)}  # a tree of only these: its marshal bytes are its value


ALONE = object()  # a prefetched name whose value was too big to come along (read it without a prefetch)
PREVIOUS = type("Previous", (), {"__repr__": lambda self: "PREVIOUS"})()  # checks.chain: where the last result goes
KATA_MODULE = "workbook_isolated_kata"  # the kata's module name in the worker


class ChannelClosed(Exception):
    """The other side went away (exit, crash, kill) or sent something unreadable."""


class ChannelTimeout(Exception):
    """No answer before the deadline."""


class PeerError(Exception):
    """An exception raised on the other side of the channel, as data.

    ``info`` is the error payload: ``type``, ``base`` (nearest built-in
    exception class), ``text``, ``args`` (encoded), ``line`` (innermost line in
    the kata file, if any), ``todo``, ``kata`` (the name of an exception class
    the kata defines), ``tb`` (display text) and ``token`` (see ``Channel``).
    """

    def __init__(self, info: dict) -> None:
        super().__init__(f"{info.get('type', 'Exception')}: {info.get('text', '')}")
        self.info = info


# === stand-ins for the other side's objects ===


class Proxy:
    """A stand-in for an object that lives on the other side of a channel.

    Attribute reads, calls, item access, iteration and the arithmetic and
    comparison operators are forwarded; the owner runs them and answers.
    """

    __slots__ = ("_wb_channel", "_wb_id", "__weakref__")

    def __init__(self, channel: "Channel", ident: int) -> None:
        object.__setattr__(self, "_wb_channel", channel)
        object.__setattr__(self, "_wb_id", ident)

    def _wb(self, op: str, *args):
        return self._wb_channel.request({"q": op, "h": self._wb_id, "a": list(args)})

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        channel = self._wb_channel
        known = channel.methods.get((self._wb_id, name))
        if known is not None:  # a method read before: methods are not expected to be rebound
            return known
        # Reads between two requests that may run code on the other side
        # (calls, writes) see the same state: each attribute is fetched once.
        cached = channel.reads.get((self._wb_id, name))
        if cached is not None and cached[0] == channel.generation:
            return cached[1]
        fetched = channel.prefetched.pop((self._wb_id, name), None)
        if fetched is not None and fetched[0] == channel.generation:
            if fetched[1] is ALONE:  # too big to come along with the rest: this one only, no prefetch
                value = channel.request({"q": "get", "h": self._wb_id, "a": [name], "n": 1})
            else:
                value = channel.decode(fetched[1])
        else:
            value = self._wb("get", name)
        channel.reads[(self._wb_id, name)] = (channel.generation, value)
        return value

    def __setattr__(self, name, value):
        self._wb("set", name, value)

    def __delattr__(self, name):
        self._wb("del", name)

    def __call__(self, *args, **kwargs):
        return self._wb_channel.request({"q": "call", "h": self._wb_id, "a": list(args), "k": kwargs})

    def _wb_many(self, arguments: list, kwargs: dict) -> list:
        """``[self(*args, **kwargs) for args in arguments]`` in one round trip (``checks.call_each``)."""
        return self._wb_channel.request({"q": "many", "h": self._wb_id, "a": [[list(a) for a in arguments]],
                                         "k": kwargs})

    def _wb_chain(self, times: int, first, arguments: tuple):
        """``checks.chain`` in one round trip: the calls are made in the worker, each on the last one's result."""
        return self._wb_channel.request({"q": "chain", "h": self._wb_id, "a": [times, first, list(arguments)]})

    def _wb_repeat(self, times: int, arguments: tuple, kwargs: dict) -> list:
        """``[self(*arguments, **kwargs) for _ in range(times)]`` in one round trip (``checks.repeat``)."""
        return self._wb_channel.request({"q": "rep", "h": self._wb_id, "a": [times, list(arguments)], "k": kwargs})

    def __repr__(self):
        try:
            return self._wb("op", "__repr__")
        except Exception:  # a repr must not raise while pytest formats a failure
            return f"<remote object #{self._wb_id}>"

    def __str__(self):
        return self._wb("op", "__str__")

    # Equality, ordering and hashing are never asked of the other side: an
    # object the kata made could answer "equal" to anything. Two proxies are
    # equal when they name the same object (one proxy per handle).
    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __copy__(self):
        return self._wb("copy", False)

    def __deepcopy__(self, memo):
        return self._wb("copy", True)

    def __fspath__(self):
        return self._wb("op", "__fspath__")

    # isinstance(value, kata.Value) / issubclass(..., kata.Value) with a class
    # that lives in the worker: asked there (a local value crosses as usual).
    def __instancecheck__(self, instance):
        return bool(self._wb("op", "__instancecheck__", instance))

    def __subclasscheck__(self, subclass):
        return bool(self._wb("op", "__subclasscheck__", subclass))


class Table:
    """A model given by value: ``table(prefix)`` is a copy of ``rows[key]``.

    ``key`` is the prefix as a tuple, or its last ``context`` tokens (``()``
    for ``context=0``: one row for every prefix); the empty prefix may have
    its own row under ``()``. It crosses the wire as data (``$T``), so a kata
    calling it thousands of times costs no round trip; a test that counts
    calls passes its own object instead.
    """

    __slots__ = ("rows", "context")

    def __init__(self, rows: dict, context: int | None = None) -> None:
        self.rows = {tuple(key): list(value) for key, value in rows.items()}
        self.context = context

    def __call__(self, prefix):
        key = tuple(prefix)
        if self.context is not None:
            key = key[max(0, len(key) - self.context):] if self.context else ()
        return list(self.rows[key])


class MethodProxy:
    """A bound method of an object on the other side: one round trip per call (or per batch)."""

    __slots__ = ("owner", "name")

    def __init__(self, owner: Proxy, name: str) -> None:
        self.owner, self.name = owner, name

    def __call__(self, *args, **kwargs):
        channel = self.owner._wb_channel
        return channel.request({"q": "callm", "h": self.owner._wb_id, "a": [self.name, *args], "k": kwargs})

    def _wb_many(self, arguments: list, kwargs: dict) -> list:
        """``[self(*args, **kwargs) for args in arguments]`` in one round trip (``checks.call_each``)."""
        return self.owner._wb_channel.request({"q": "many", "h": self.owner._wb_id,
                                               "a": [[list(a) for a in arguments], self.name], "k": kwargs})

    def _wb_repeat(self, times: int, arguments: tuple, kwargs: dict) -> list:
        """``[self(*arguments, **kwargs) for _ in range(times)]`` in one round trip (``checks.repeat``)."""
        return self.owner._wb_channel.request({"q": "rep", "h": self.owner._wb_id,
                                               "a": [times, list(arguments), self.name], "k": kwargs})

    def __repr__(self):
        return f"<remote method {self.name}>"


class LiveList(list):
    """A list that lives in the other process, read from a copy here.

    What an attribute read or an item read of a kata object returns when it
    is a list (``cache.allocator.free_list``): reads are local (a copy of
    the contents), changes (``x[i] = v``, ``append``, ``shuffle``) go to the
    real list over there as well as to the copy, and passing it back to the
    kata passes the real list. Lists inside are live too. There is one
    ``LiveList`` per kata list: a later read that brings it (the attribute
    again, or any read after a call that changed it) updates it in place, so
    a reference kept from before sees the change then, not before.
    """

    __slots__ = ("_wb_channel", "_wb_id")

    def _wb_send(self, name, *args):
        return self._wb_channel.request({"q": "callm", "h": self._wb_id, "a": [name, *args], "k": {}})


def _refill(live, items) -> None:
    """Replace a ``LiveList``'s or ``LiveDict``'s contents here only (nothing goes to the worker)."""
    if type(live) is LiveList:
        list.__setitem__(live, slice(None), items)
    else:
        dict.clear(live)
        dict.update(live, items)


class LiveDict(dict):
    """A dict that lives in the other process (see ``LiveList``)."""

    __slots__ = ("_wb_channel", "_wb_id")

    _wb_send = LiveList._wb_send


def _mutator(base: type, name: str):
    local = getattr(base, name)

    def method(self, *args):
        if name in ("extend", "__iadd__", "update", "__ior__") and args:  # an iterator crosses as its items
            args = ((dict if base is dict else list)(args[0]),)
        self._wb_send(name, *args)
        return local(self, *args)

    method.__name__ = name
    return method


for _name in ("__setitem__", "__delitem__", "append", "extend", "insert", "pop", "remove", "clear", "reverse", "__iadd__", "__imul__"):
    setattr(LiveList, _name, _mutator(list, _name))
for _name in ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault", "__ior__"):
    setattr(LiveDict, _name, _mutator(dict, _name))


def _live_sort(self, *, key=None, reverse=False):
    if key is not None:
        raise TypeError("sorting a kata's list with key= is not supported in isolated mode; sort a copy")
    self._wb_channel.request({"q": "callm", "h": self._wb_id, "a": ["sort"], "k": {"reverse": bool(reverse)}})
    list.sort(self, reverse=reverse)


LiveList.sort = _live_sort
LiveList.__copy__ = lambda self: list(self)
LiveList.__deepcopy__ = lambda self, memo: [copy.deepcopy(v, memo) for v in self]
LiveDict.__copy__ = lambda self: dict(self)
LiveDict.__deepcopy__ = lambda self, memo: {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}


def _forward(name: str):
    def method(self, *args):
        return self._wb("op", name, *args)

    method.__name__ = name
    return method


FORWARDED = (
    "add sub mul truediv floordiv mod pow matmul radd rsub rmul rtruediv rfloordiv rmod rpow rmatmul "
    "neg pos abs invert bool len iter next getitem setitem delitem contains "
    "float int index round enter exit"
).split()
for _name in FORWARDED:
    setattr(Proxy, f"__{_name}__", _forward(f"__{_name}__"))


# === frames ===


_to_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # made once: json.dumps makes one a call


class Frames:
    """Length-prefixed JSON messages over a pair of file descriptors.

    ``deadline`` (a ``time.monotonic()`` value, or None) bounds every wait for
    the other side; ``on_wait`` (if set) is called every ``WATCH`` seconds
    while waiting and may raise ``ChannelTimeout`` (the grader watches the
    worker's CPU time).
    """

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        os.set_blocking(read_fd, False)  # see _fill
        self.spin, self.spin_checked = 0.0, -1.0
        self.buffer = bytearray()  # bytes read but not yet taken by receive()
        self.deadline: float | None = None
        self.on_wait = None

    def send(self, message: dict) -> None:
        data = _to_json(message).encode()
        data = HEADER.pack(len(data)) + data
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def _read(self, size: int) -> bytes | None:
        """What has arrived (b"" once the other side closed), or None if nothing has yet."""
        try:
            return os.read(self.read_fd, max(size - len(self.buffer), 1 << 16))
        except BlockingIOError:
            return None

    def _fill(self, size: int) -> None:
        """Read until the buffer holds ``size`` bytes (one read takes whatever has arrived).

        First poll for ``SPIN`` seconds, yielding the CPU between polls: most
        answers come within that, and an answer that wakes a sleeping process
        costs 50-150 us on a virtual machine, against ~5 us polled. Only while
        a CPU is free: on a busy machine a process that polls loses the
        scheduler's preference for one that slept, and grading takes twice as
        long. (Looked at every ``WATCH`` seconds, or ``RECHECK`` seconds after
        every CPU was busy: the next kata's worker starting takes 0.1-0.2 s.)
        Then sleep in ``select`` until the answer, the deadline or the next
        watch.
        """
        while len(self.buffer) < size:
            chunk = self._read(size)
            if chunk is None and time.monotonic() - self.spin_checked > WATCH:
                free = _cpu_free()
                self.spin = SPIN if free else 0.0
                self.spin_checked = time.monotonic() - (0.0 if free else WATCH - RECHECK)
            end = time.perf_counter() + self.spin
            while chunk is None and time.perf_counter() < end:
                os.sched_yield()
                chunk = self._read(size)
            while chunk is None:
                timeout = None
                if self.deadline is not None or self.on_wait is not None:
                    wait = self.deadline - time.monotonic() if self.deadline is not None else WATCH
                    if wait <= 0:
                        raise ChannelTimeout("no answer before the deadline")
                    timeout = min(wait, WATCH)
                if select.select([self.read_fd], [], [], timeout)[0]:
                    chunk = self._read(size)
                elif self.on_wait is not None:
                    self.on_wait()  # the grader: may raise ChannelTimeout (the worker's CPU time)
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self.buffer += chunk

    def receive(self) -> dict:
        self._fill(HEADER.size)
        (size,) = HEADER.unpack_from(self.buffer)
        if size > MAX_MESSAGE:
            raise ChannelClosed(f"a message of {size} bytes is over the limit")
        self._fill(HEADER.size + size)
        data = bytes(self.buffer[HEADER.size:HEADER.size + size])
        del self.buffer[:HEADER.size + size]
        try:
            message = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise ChannelClosed(f"unreadable message: {error}") from None
        if not isinstance(message, dict):
            raise ChannelClosed("a message must be a JSON object")
        return message


def _cpu_free() -> bool:
    """No more tasks running or waiting for a CPU than this process may use (Linux; elsewhere: yes)."""
    try:
        with open("/proc/loadavg") as status:
            running = int(status.read().split()[3].split("/")[0])
        usable = len(os.sched_getaffinity(0))
    except (OSError, ValueError, IndexError, AttributeError):
        return True
    return running <= usable


# === values ===


def pack_state(state: tuple, before) -> list:
    """A ``random.Random`` state as JSON, the Mersenne words left out when ``before`` has the same."""
    version, internal, gauss = state
    words = list(internal[:-1]) if before is None or before[1][:-1] != internal[:-1] else None
    if not (gauss is None or (type(gauss) is float and math.isfinite(gauss))):
        raise ValueError("unexpected generator state")
    return [version, internal[-1], words, gauss]


def unpack_state(packed, before) -> tuple:
    version, position, words, gauss = packed
    if words is None:  # unchanged since ``before`` (checked when it came)
        if before is None:
            raise ChannelClosed("generator words missing")
        words = before[1][:-1]
    elif not (type(words) is list and len(words) == 624 and all(type(w) is int for w in words)):
        raise ChannelClosed("malformed generator state")
    if type(position) is not int:
        raise ChannelClosed("malformed generator state")
    return (version, (*words, position), gauss if type(gauss) is float else None)


def _plain_copy(value):
    """A copy of nested lists, tuples and dicts (leaves shared), cheap to compare with ``==`` later."""
    if type(value) is list:
        if set(map(type, value)) <= JSON_SCALARS:
            return value[:]
        return [_plain_copy(v) if type(v) in (list, dict, tuple) else v for v in value]
    if type(value) is dict:
        return {k: _plain_copy(v) if type(v) in (list, dict, tuple) else v for k, v in value.items()}
    if type(value) is tuple:
        return tuple(_plain_copy(v) if type(v) in (list, dict, tuple) else v for v in value)
    return value


PLAIN = (int, float, str, bool, type(None))


def _places(args: list, offset: int, kwargs: dict) -> dict:
    """id -> path of every list and dict in a call's arguments (``[position or keyword, index, ...]``)."""
    found: dict[int, list] = {}

    def visit(value, path):
        kind = type(value)
        if kind is list or kind is dict:
            if id(value) in found:
                return
            found[id(value)] = path
        if (kind is list or kind is tuple) and not CONTAINERS.isdisjoint(map(type, value)):  # (a row: C speed)
            for index, item in enumerate(value):
                if type(item) in CONTAINERS:
                    visit(item, path + [index])
        elif kind is dict:
            for key, item in value.items():
                if type(key) in (int, str) and type(item) in (list, dict, tuple):
                    visit(item, path + [key])

    for index, value in enumerate(args):
        visit(value, [index + offset])
    for key, value in kwargs.items():
        visit(value, [key])
    return found


def _marshalled(value) -> bytes | None:
    """``value``'s marshal bytes (exact for plain data), or None if it holds any other object or a cycle."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:
        return None


def _put(template, value):
    """``template`` (lists and tuples) with ``value`` where ``PREVIOUS`` is: one call's arguments in a chain."""
    if template is PREVIOUS:
        return value
    kind = type(template)
    if kind is list or kind is tuple:
        return kind(_put(item, value) for item in template)
    return template


def _same(value, copy) -> bool:
    """``value == copy`` for nested lists and tuples of plain scalars, never asking an object's ``__eq__``.

    The worker's test for "unchanged since sent": a kata's objects (a
    ``Value`` whose ``==`` builds a node) are never equal here.
    """
    if value is copy:
        return True
    kind = type(value)
    if kind is not type(copy):
        return False
    if kind is list or kind is tuple:
        return len(value) == len(copy) and all(a is b or _same(a, b) for a, b in zip(value, copy))
    return kind in PLAIN and value == copy


def _small(value, budget: int) -> int:
    """``budget`` less the values in ``value`` (nested lists, tuples, dicts), or -1 once it runs out."""
    kind = type(value)
    if kind is list or kind is tuple or kind is dict:
        items = value.values() if kind is dict else value
        budget -= len(value) * (2 if kind is dict else 1)
        if budget >= 0 and not CONTAINERS.isdisjoint(map(type, items)):
            for item in items:
                if budget < 0:
                    break
                if type(item) in CONTAINERS:
                    budget = _small(item, budget)
    else:
        budget -= 1
    return budget if budget >= 0 else -1


def _instance_attributes(owner) -> list:
    """``(name, value)`` of an object's own attributes: its ``__dict__`` and its ``__slots__``.

    Names a class attribute (a property, a method) shadows are left out, and
    so are dunder names: what ``getattr`` would not answer from the instance.
    """
    kind, found = type(owner), []
    state = getattr(owner, "__dict__", None)
    if type(state) is dict:
        found = [(key, value) for key, value in list(state.items())
                 if type(key) is str and not key.startswith("__") and not hasattr(kind, key)]
    for cls in kind.__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for key in (slots,) if type(slots) is str else slots:
            if type(key) is not str or key.startswith("__"):
                continue
            if type(inspect.getattr_static(kind, key, None)) is types.MemberDescriptorType:
                try:
                    found.append((key, getattr(owner, key)))
                except AttributeError:
                    pass  # a slot never set
    return found


def _sync(old, new):
    """Make ``old`` equal ``new`` in place, keeping nested lists and dicts where they were."""
    if type(old) is list:
        for index in range(min(len(old), len(new))):
            if type(old[index]) is type(new[index]) and type(new[index]) in (list, dict):
                _sync(old[index], new[index])
            elif old[index] is not new[index]:
                old[index] = new[index]
        if len(old) > len(new):
            del old[len(new):]
        else:
            old.extend(new[len(old):])
    else:
        old.clear()
        old.update(new)


class Codec:
    """Python values as JSON values, and back (the tags are in PROTOCOL.md).

    Handles name this side's objects the peer may use. The worker hands out
    anything (its objects are the kata's own; handle 0 is the kata module).
    The grader hands out only what a test passes to the kata as an argument
    (``handing``): never a class, module or function it did not pass.
    """

    def __init__(self) -> None:
        self.worker_side = False
        self.objects: dict[int, object] = {}
        self.ids: dict = {}
        self.next_handle = 1
        self.handing = False
        self.handed_types: set[type] = set()  # grader: classes of objects a test passed (see handle)
        self.proxies: dict[int, Proxy] = {}
        self.methods: dict[tuple[int, str], MethodProxy] = {}
        # Big list arguments the peer already holds: sent once, then by key
        # while unchanged. id -> (the list, a snapshot, key); key -> list.
        self.sent_lists: dict[int, tuple[list, list, int]] = {}
        self.kept_lists: dict[int, list] = {}
        self.next_key = 0
        self.drop_lists = 0  # tell the peer to drop every list it keeps for us, and forget its own sent (2: generators too)
        # random.Random objects cross by value: the grader's generator (key,
        # last state sent) is mirrored by one generator per key in the worker,
        # and the worker's reply carries the states the call advanced, which
        # the grader loads back, so the grader's rng ends where it would have
        # in-process. One round trip per kata call instead of one per draw.
        self.rngs: dict[int, tuple[random.Random, int, tuple]] = {}  # grader: id -> (rng, key, state)
        self.rng_keys: dict[int, random.Random] = {}  # grader: key -> rng
        self.mirrors: dict[int, list] = {}  # worker: key -> [rng, state when last synced]
        # Live containers (encode_live): the worker's handle -> (items, keys) as
        # last sent, and this answer's new contents; the grader's handle -> object.
        self.shown: dict[int, tuple] = {}
        # A container whose tree held only BARE types: its marshal bytes when
        # last sent (committed with ``shown``; this answer's in ``bytes_new``).
        self.bytes_shown: dict[int, bytes] = {}
        self.bytes_new: dict[int, bytes] = {}
        self.bare = True
        self.updates: dict[int, tuple] = {}
        self.walked: set[int] = set()
        self.live: dict[int, object] = {}
        # A call's result that is (or holds) one of its arguments' lists or
        # dicts names it by its place in the arguments (``$A``): the caller gets
        # its own object back, as in-process. Worker: id -> path, while the
        # result is encoded; grader: the call's (args, kwargs), while decoded.
        self.origin: dict[int, list] | None = None
        self.arguments: tuple | None = None

    def encode(self, value):
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            return value
        if self.origin and (kind is list or kind is dict) and id(value) in self.origin:
            return {"$A": self.origin[id(value)]}  # one of the caller's own lists, handed back
        if kind is float:
            # non-finite floats by their bits: a NaN keeps its sign and payload
            return value if math.isfinite(value) else {"$f": struct.pack(">d", value).hex()}
        if kind is list:
            if len(value) >= PACKED_LENGTH:
                kinds = set(map(type, value))
                if kinds == {float}:  # a vector: its doubles, not their decimal repr (NaNs keep their bits too)
                    return {"$a": base64.b64encode(array("d", value)).decode("ascii")}
                if float not in kinds and kinds <= JSON_SCALARS:
                    return value  # ints, strings, bools: JSON as they are
            return [self.encode(v) for v in value]
        if kind is tuple:
            if JSON_EXACT.issuperset(map(type, value)):  # (ints, strings: JSON as they are)
                return {"$t": list(value)}
            return {"$t": [self.encode(v) for v in value]}
        if kind is dict:
            if STRING.issuperset(map(type, value)) and JSON_EXACT.issuperset(map(type, value.values())):
                return {"$o": dict(value)}  # {"rounds": 3, ...}: a JSON object as it is
            return {"$d": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if kind is set or kind is frozenset:
            return {"$s" if kind is set else "$fs": [self.encode(v) for v in value]}
        if kind is bytes:
            return {"$b": base64.b64encode(value).decode()}
        if kind is complex:
            return {"$c": [self.encode(value.real), self.encode(value.imag)]}
        if isinstance(value, PurePath):
            return {"$p": str(value)}
        if kind is Table:
            return {"$T": [[[self.encode(list(k)), self.encode(v)] for k, v in value.rows.items()], value.context]}
        if kind is Fraction:
            return {"$q": [value.numerator, value.denominator]}
        if kind is slice:
            return {"$sl": [self.encode(value.start), self.encode(value.stop), self.encode(value.step)]}
        if (kind is Proxy or kind is LiveList or kind is LiveDict) and value._wb_channel is self:
            return {"$r": value._wb_id}
        if value is NotImplemented:
            return {"$ni": 1}
        if value is PREVIOUS:
            return {"$P": 1}
        if kind is random.Random:
            tagged = self.encode_rng(value)
            if tagged is not None:
                return tagged
        if kind is types.MethodType and type(value.__self__) is not type and self.worker_side:
            # a bound method: by its object and name, so reading ``hbm.load``
            # a thousand times does not make a thousand handles
            return {"$m": [self.encode(value.__self__), value.__func__.__name__]}
        return {"$h": self.handle(value)}

    def handle(self, value) -> int:
        """The handle that names ``value`` (kept alive while the channel lives).

        In the grader, a new handle is made only while a request's arguments
        are encoded: anything else (a callback's result, an exception's
        arguments) must be plain data. A bound method the grader passes is
        one callable handle: its object is not handed over with it.
        """
        key = (id(value.__self__), id(value.__func__)) if type(value) is types.MethodType else id(value)
        ident = self.ids.get(key)
        if ident is None:
            if not (self.worker_side or self.handing or type(value) in self.handed_types):
                raise TypeError(f"a {type(value).__name__} cannot cross to the kata: only plain data "
                                "(numbers, strings, lists, tuples, dicts, ...) and the kata's own objects")
            if not self.worker_side and not isinstance(value, OPAQUE) and type(value).__module__ != "builtins":
                # an instance of a test's class (a counting number): other instances of
                # it may cross too (its arithmetic returns new ones)
                self.handed_types.add(type(value))
            ident, self.next_handle = self.next_handle, self.next_handle + 1
            self.objects[ident] = value
            self.ids[key] = ident
        return ident

    def encode_live(self, value):
        """The worker: ``encode``, except that lists and dicts (at any depth) go as live containers.

        A container goes by handle (``$v``); its contents go in the answer's
        ``"V"`` only if the grader has not seen them yet (this test) or they
        changed since: a cache read after each step sends the rows that step
        wrote, not the whole pool. "Unchanged" is the same items, by
        identity, as last sent (never a kata object's ``__eq__``); a list
        holding a tuple or a set is always sent again (they are sent by value).

        Before that walk, a shortcut: a container whose tree held only
        ``BARE`` types when last sent, and whose ``marshal`` bytes are the same
        now, has the same values throughout (marshal is exact: ``1`` is not
        ``1.0``, ``-0.0`` not ``0.0``, and it refuses any other object), so
        it is not walked. A container in it replaced by an equal one keeps
        its old handle until something under it changes.
        """
        kind = type(value)
        if kind is not list and kind is not dict:
            return self.encode(value)
        ident = self.handle(value)
        if ident in self.walked:  # once per answer (and no cycle is walked twice)
            self.bare = False  # (its tree is not looked at here: no bytes kept above it)
            return {"$v": ident}
        self.walked.add(ident)
        blob = _marshalled(value)
        if blob is not None and ident in self.shown and self.bytes_shown.get(ident) == blob:
            return {"$v": ident}
        outer_bare, self.bare = self.bare, True
        items = value if kind is list else list(value.values())
        keys = None if kind is list else list(value)
        shown = self.shown.get(ident)
        kinds = set(map(type, items))
        if not (kinds <= BARE and (keys is None or BARE.issuperset(map(type, keys)))):
            self.bare = False
        if (shown is not None and len(shown[0]) == len(items) and all(map(operator.is_, shown[0], items))
                and (keys is None or all(map(operator.is_, shown[1], keys))) and not kinds & BY_VALUE):
            if list in kinds or dict in kinds:  # this container is as sent: one inside may not be
                for item in items:
                    if type(item) is list or type(item) is dict:
                        self.encode_live(item)
        elif kind is dict:
            self.updates[ident] = (["d", [[self.encode(k), self.encode_live(v)] for k, v in value.items()]],
                                   (items, keys))
        else:
            body = [self.encode_live(v) for v in items] if list in kinds or dict in kinds else self.encode(value)
            self.updates[ident] = (["l", body], (list(items), None))
        if blob is not None and self.bare:
            self.bytes_new[ident] = blob
        self.bare = outer_bare and self.bare
        return {"$v": ident}

    def _unchanged(self, value) -> bool:
        """The worker: ``value`` is a small list or dict the grader has, with the same values (``encode_live``)."""
        kind = type(value)
        ident = self.ids.get(id(value)) if kind is list or kind is dict else None
        known = self.bytes_shown.get(ident) if ident is not None else None
        if (known is None or len(known) > PREFETCH_BYTES or ident not in self.shown or ident in self.walked
                or _marshalled(value) != known):
            return False
        self.walked.add(ident)
        return True

    def argument_at(self, path):
        """The grader: the list or dict at ``path`` in the arguments of the call being answered."""
        try:
            args, kwargs = self.arguments
            found = args[path[0]] if type(path[0]) is int else kwargs[path[0]]
            for step in path[1:]:
                if type(found) not in (list, tuple, dict):  # never a test object's own __getitem__
                    raise TypeError(type(found).__name__)
                found = found[step]
        except (TypeError, IndexError, KeyError) as error:
            raise ChannelClosed(f"no argument at {path!r}") from error
        if type(found) not in (list, dict):
            raise ChannelClosed(f"no list or dict argument at {path!r}")
        return found

    def take_live(self, changed) -> None:
        """The grader: the worker's containers an answer brings (``"V"``), made or updated in place.

        One object per worker container, so a list read twice is one list, as
        in-process, and a reference kept from an earlier read sees the change.
        """
        if type(changed) is not list:
            raise ChannelClosed("malformed live containers")
        filled = []
        for entry in changed:
            if not (type(entry) is list and len(entry) == 3 and type(entry[0]) is int and entry[1] in ("l", "d")):
                raise ChannelClosed("malformed live container")
            kind = LiveList if entry[1] == "l" else LiveDict
            live = self.live.get(entry[0])
            if type(live) is not kind:
                live = self.live[entry[0]] = kind()
                live._wb_channel, live._wb_id = self, entry[0]
            filled.append((live, entry[2]))
        for live, body in filled:  # contents once every container exists: they refer to each other
            if type(live) is LiveList:
                items = self.decode(body)
                if type(items) is not list:
                    raise ChannelClosed("malformed live list")
            else:
                items = {self.decode(k): self.decode(v) for k, v in body}
            _refill(live, items)

    def encode_argument(self, value):
        """``encode``, except that a big list the peer already holds unchanged goes by key.

        A list (or matrix) of at least ``CACHED_LENGTH`` values is sent once
        with a key (``$L``) and then, while it is the same object with the
        same contents, by key alone (``$k``): the weights a test passes on
        every call, the matrix a kata passes to every callback. "Unchanged" is
        judged against a copy taken when it was sent: in the grader with
        ``==`` (a test's own data), in the worker with ``_same`` (never a kata
        object's ``__eq__``). The peer keeps what it got until told to drop it
        (``"x"`` in a request: a new test, or too many lists remembered).
        """
        if type(value) is not list or not value:
            return self.encode(value)
        size = len(value) * (len(value[0]) if type(value[0]) is list else 1)
        if size < CACHED_LENGTH:
            return self.encode(value)
        known = self.sent_lists.get(id(value))
        if known is not None and known[0] is value and (_same(value, known[1]) if self.worker_side
                                                          else value == known[1]):
            return {"$k": known[2]}
        self.next_key += 1
        key = self.next_key
        self.sent_lists[id(value)] = (value, _plain_copy(value), key)
        if list in set(map(type, value)):  # its rows by key too: a new list of rows already sent (``table[:q] + table[q + 1:]``)
            body = [self.encode_argument(v) if type(v) is list else self.encode(v) for v in value]
        else:
            body = self.encode(value)
        return {"$L": [key, known[2] if known else 0, body]}

    def reset_lists(self, new_test: bool = False) -> None:
        """Forget the lists sent and kept, on both sides: the next request tells the peer (``"x"``).

        The live containers too: the worker sends each one whole again. At a
        new test, the generators as well (``"x": 2``): every answer carries
        the states of all the worker's mirrors, so they must not pile up.
        """
        self.sent_lists.clear()
        self.kept_lists.clear()
        self.live.clear()
        if new_test:
            self.rngs.clear()
            self.rng_keys.clear()
        self.drop_lists = 2 if new_test or self.drop_lists == 2 else 1

    def decode(self, data):
        if type(data) is list:
            if set(map(type, data)) <= JSON_SCALARS:
                return data  # a fresh list of scalars from json.loads
            return [self.decode(v) for v in data]
        if type(data) is not dict:
            return data
        (tag, body), = data.items()
        if tag == "$t":
            if type(body) is list and JSON_SCALARS.issuperset(map(type, body)):
                return tuple(body)
            return tuple(self.decode(v) for v in body)
        if tag == "$o":
            if type(body) is not dict:
                raise ChannelClosed("malformed object")
            if JSON_SCALARS.issuperset(map(type, body.values())):
                return body  # a fresh dict from json.loads
            return {key: self.decode(value) for key, value in body.items()}
        if tag == "$d":
            return {self.decode(k): self.decode(v) for k, v in body}
        if tag == "$s":
            return {self.decode(v) for v in body}
        if tag == "$fs":
            return frozenset(self.decode(v) for v in body)
        if tag == "$f":
            if type(body) is str and len(body) == 16:
                return struct.unpack(">d", bytes.fromhex(body))[0]
            return float(body)
        if tag == "$a":
            return array("d", base64.b64decode(body, validate=True)).tolist()
        if tag == "$b":
            return base64.b64decode(body)
        if tag == "$c":
            return complex(self.decode(body[0]), self.decode(body[1]))
        if tag == "$p":
            return Path(body)
        if tag == "$k":
            if body not in self.kept_lists:
                raise ChannelClosed(f"unknown list {body!r}")
            return self.kept_lists[body]
        if tag == "$L":
            key, replaces, encoded = body
            self.kept_lists.pop(replaces, None)
            value = self.kept_lists[key] = self.decode(encoded)
            return value
        if tag == "$T":
            context = body[1] if type(body[1]) is int and body[1] >= 0 else None
            return Table({tuple(self.decode(k)): self.decode(v) for k, v in body[0]}, context)
        if tag == "$q":
            return Fraction(int(body[0]), int(body[1]))
        if tag == "$sl":
            return slice(*(self.decode(v) for v in body))
        if tag == "$A":
            return self.argument_at(body)
        if tag == "$v":
            if body not in self.live:
                raise ChannelClosed(f"unknown live container {body!r}")
            return self.live[body]
        if tag == "$ni":
            return NotImplemented
        if tag == "$P" and self.worker_side:
            return PREVIOUS
        if tag == "$R":
            return self.decode_rng(body)
        if tag == "$r":
            if body not in self.objects:
                raise ChannelClosed(f"unknown handle {body!r}")
            return self.objects[body]
        if tag == "$m":
            owner, name = self.decode(body[0]), str(body[1])
            if type(owner) is not Proxy:
                if not self.worker_side:  # the grader reads no attribute the kata names
                    raise ChannelClosed("a method reference to a grader object")
                return getattr(owner, name)
            key = (owner._wb_id, name)
            proxy = self.methods.get(key)
            if proxy is None:
                proxy = self.methods[key] = MethodProxy(owner, name)
            return proxy
        if tag == "$h":
            proxy = self.proxies.get(body)
            if proxy is None:
                proxy = self.proxies[body] = Proxy(self, int(body))
            return proxy
        raise ChannelClosed(f"unknown tag {tag!r}")

    def encode_rng(self, rng: random.Random):
        if self.worker_side:  # one of the grader's generators goes back by key (and state); others are handles
            for key, mirror in self.mirrors.items():
                if mirror[0] is rng:
                    state, before = rng.getstate(), mirror[1]
                    mirror[1] = state
                    return {"$R": [key, pack_state(state, before) if state != before else None]}
            return None
        state = rng.getstate()
        known = self.rngs.get(id(rng))
        before = None
        if known is not None and known[0] is rng:
            if known[2] == state:
                return {"$R": [known[1], None]}
            key, before = known[1], known[2]
        else:
            key = len(self.rng_keys) + 1
            self.rng_keys[key] = rng
        self.rngs[id(rng)] = (rng, key, state)
        return {"$R": [key, pack_state(state, before)]}

    def decode_rng(self, body):
        key, state = int(body[0]), body[1]
        if not self.worker_side:  # the grader: the worker named one of ours
            if key not in self.rng_keys:
                raise ChannelClosed(f"unknown generator {key!r}")
            if state is not None:
                self.load_rngs({key: state})
            return self.rng_keys[key]
        mirror = self.mirrors.get(key)
        if mirror is None:
            if state is None:
                raise ChannelClosed(f"unknown generator {key!r}")
            mirror = self.mirrors[key] = [random.Random(), None]
        if state is not None:
            state = unpack_state(state, mirror[1])
            mirror[0].setstate(state)
            mirror[1] = state
        return mirror[0]

    def advanced_rngs(self) -> dict:
        """The worker's mirrored generators whose state changed since last synced (key -> state)."""
        changed = {}
        for key, mirror in self.mirrors.items():
            state = mirror[0].getstate()
            if state != mirror[1]:
                changed[str(key)] = pack_state(state, mirror[1])
                mirror[1] = state
        return changed

    def load_rngs(self, states: dict) -> None:
        """The grader: take the states the worker's call left our generators in."""
        for key, encoded in states.items():
            rng = self.rng_keys.get(int(key))
            if rng is None:
                raise ChannelClosed(f"unknown generator {key!r}")
            known = self.rngs.get(id(rng))
            state = unpack_state(encoded, known[2] if known is not None and known[0] is rng else None)
            rng.setstate(state)
            self.rngs[id(rng)] = (rng, int(key), state)


# === requests ===


def refuse(target, op: str, args: list, handle):
    """The policy of a side that serves nothing (the grader's is ``isolate.allowed``)."""
    raise PermissionError(f"{op!r} is not served here")


class Channel(Frames, Codec):
    """One end of the grader-worker conversation (see PROTOCOL.md).

    ``on_error`` turns an error payload into the exception to raise (the
    grader maps built-in types and the kata's exception classes);
    ``on_broken`` says what a broken channel raises from then on (the grader
    stops the worker). ``policy(target, op, args, handle)`` vets each request
    the grader serves: ``(target, op, args, argument offset, raw reply)`` or
    PermissionError.
    """

    def __init__(self, read_fd: int, write_fd: int, kata_file: str = "") -> None:
        Frames.__init__(self, read_fd, write_fd)
        Codec.__init__(self)
        self.kata_file = kata_file
        self.policy = refuse
        self.on_error = None
        self.on_broken = None
        self.broken: BaseException | None = None
        self.errors: dict[int, BaseException] = {}  # our exceptions, sent to the peer as tokens
        self.depth = 0
        self.generation = 0  # counts requests that may change the other side's state (see Proxy.__getattr__)
        self.reads: dict[tuple[int, str], tuple[int, object]] = {}
        self.prefetched: dict[tuple[int, str], tuple[int, object]] = {}  # (handle, name) -> (generation, encoded)
        self.services: dict = {}  # named functions of this side the peer may call (op "svc")
        self.measure = None  # told when a call's arguments are decoded (TracemallocService)
        # What a served request may raise and still be answered: in the worker
        # anything (SystemExit included); in the grader only Exception, so
        # pytest's outcomes and Ctrl-C stop the test (and the worker is replaced).
        self.answers: type = Exception

    def request(self, message: dict):
        """Send a request, serve the peer's requests meanwhile, return the answer (or raise).

        Anything that leaves the conversation half-way (a deadline, the peer
        gone, an exception from our own side) breaks the channel: ``on_broken``
        (if set) stops the peer and names the exception every later request
        raises.
        """
        if self.broken is not None:
            raise self.broken
        if message.get("q") != "get":
            self.generation += 1
            if len(self.reads) > 4096:
                self.reads.clear()
            self.prefetched.clear()
        if self.measure is not None:
            self.measure.kata_stops()
        args, kwargs = message.get("a", []), message.get("k", {})
        if len(self.sent_lists) >= CACHED_LISTS:
            self.reset_lists()
        self.depth += 1
        failure = reply = None
        try:
            self.handing = True  # what a test passes to the kata may cross as a handle
            try:
                if message.get("q") == "many":  # each call's big lists once (the same W in every call)
                    encoded = [[[self.encode_argument(v) for v in call] for call in args[0]]]
                    message = dict(message, a=encoded + [self.encode(v) for v in args[1:]])
                else:
                    message = dict(message, a=[self.encode_argument(v) for v in args])
                if kwargs:
                    message["k"] = {str(k): self.encode_argument(v) for k, v in kwargs.items()}
            finally:
                self.handing = False
            if self.drop_lists:
                message["x"] = self.drop_lists
                self.drop_lists = 0
            self.send(message)
            message = None
            while True:
                reply = self.receive()
                if "q" not in reply:
                    break
                self.serve(reply)
            if reply.get("R"):
                self.load_rngs(reply["R"])
            if "V" in reply and not self.worker_side:
                self.take_live(reply["V"])
            if type(reply.get("A")) is list and not self.worker_side:
                for item in reply["A"][:PREFETCH]:
                    if type(item) is list and len(item) in (2, 3) and type(item[0]) is int and type(item[1]) is str:
                        self.prefetched[(item[0], item[1])] = (self.generation, item[2] if len(item) == 3 else ALONE)
            if "e" in reply:
                failure = reply["e"]
            else:
                if self.measure is not None:
                    self.measure.handing()
                for where, value in (reply.get("m") or {}).items():
                    target = args[int(where)] if where.isdigit() and int(where) < len(args) else kwargs.get(where)
                    if type(target) in (list, dict):
                        _sync(target, self.decode(value))
                    elif type(target) in (LiveList, LiveDict) and target._wb_channel is self:
                        now = self.decode(value)  # a worker container: "V" brought its new contents
                        if now is not target:  # read before the last reset: bring it up to date too
                            _refill(target, now)
                self.arguments = (args, kwargs)
                try:
                    result = self.decode(reply.get("r"))
                finally:
                    self.arguments = None
                if self.measure is not None:
                    self.measure.handed()
        except BaseException as error:
            raise self._broke(error)
        finally:
            self.depth -= 1
            if not self.depth and not self.worker_side:
                self.forget()  # the grader: the kata call is over (the worker forgets in main())
            if self.measure is not None:
                message = reply = None  # the wire's copies: not the kata's memory
                self.measure.kata_starts()
        if failure is not None:
            raise self._error(failure)
        return result

    def reset_lists(self, new_test: bool = False) -> None:
        Codec.reset_lists(self, new_test)
        self.prefetched.clear()  # they may name live containers just forgotten

    def forget(self) -> None:
        """End of a top-level call: drop the exceptions kept to recognise them coming back."""
        self.errors.clear()

    def _broke(self, error: BaseException) -> BaseException:
        if self.broken is None:
            self.broken = (self.on_broken(error) if self.on_broken else None) or error
        return self.broken

    def _error(self, info: dict) -> BaseException:
        if not isinstance(info, dict):
            return ChannelClosed("malformed error payload")
        token = info.get("token")
        if isinstance(token, int) and token in self.errors:
            return self.errors[token]  # our own exception, back from the peer
        decoded = dict(info)
        try:
            decoded["args"] = self.decode(info.get("args"))
        except Exception:
            decoded.pop("args", None)
        error = self.on_error(decoded) if self.on_error is not None else rebuild(decoded)
        try:
            error._wb_info = info  # as it came, so it can go back unchanged
        except AttributeError:
            pass
        return error

    def serve(self, message: dict) -> None:
        """Run one request from the peer on our objects and send the answer."""
        outer = self.updates, self.walked, self.bytes_new  # a request served while this answer is encoded: its own
        try:
            if message.get("x"):  # the peer forgot what it sent us, and what we sent it
                self.sent_lists.clear()
                self.kept_lists.clear()
                self.shown.clear()
                self.bytes_shown.clear()
                if message["x"] == 2:  # a new test: its generators are new too
                    self.mirrors.clear()
            target = self.objects[message["h"]]
            op = message["q"]
            args = self.decode(message.get("a") or [])
            kwargs = {k: self.decode(v) for k, v in (message.get("k") or {}).items()}
            offset, live, raw = 0, False, None
            if not self.worker_side:
                target, op, args, offset, raw = self.policy(target, op, args, message["h"])
            elif op == "callm":
                target, args, offset, op = getattr(target, args[0]), args[1:], 1, "call"
            if raw is not None:
                pass
            elif op == "call":
                snapshots = [(str(i + offset), v, _plain_copy(v)) for i, v in enumerate(args) if type(v) in (list, dict)]
                snapshots += [(k, v, _plain_copy(v)) for k, v in kwargs.items() if type(v) in (list, dict)]
                message = None
                if self.measure is not None:  # after the arguments (and our snapshots of them) exist
                    self.measure.kata_starts(arguments_decoded=self.depth == 0)
                try:
                    result = target(*args, **kwargs)
                finally:
                    if self.measure is not None:
                        self.measure.kata_stops()
            elif op == "many" and self.worker_side:  # [calls, method name (optional)]
                function = getattr(target, args[1]) if len(args) > 1 else target
                result = [function(*arguments, **kwargs) for arguments in args[0]]
            elif op == "chain" and self.worker_side:  # [times, first, arguments with PREVIOUS in them]
                result = args[1]
                for _ in range(args[0]):
                    result = target(*_put(args[2], result))
            elif op == "rep" and self.worker_side:  # [times, arguments, method name (optional)]
                function = getattr(target, args[2]) if len(args) > 2 else target
                result = [function(*args[1], **kwargs) for _ in range(args[0])]
            elif op == "get":
                result = getattr(target, args[0])
                live = True
            elif op == "gets" and self.worker_side:  # [objects, name]: checks.read_each
                result = [getattr(item, args[1]) for item in args[0]]
                live = True
            elif op == "set":
                setattr(target, args[0], args[1])
                result = None
            elif op == "del":
                delattr(target, args[0])
                result = None
            elif op == "op":
                result = _operator(target, args[0], args[1:])
                live = args[0] in ("__getitem__", "__next__")
            elif op == "svc":
                result = self.services[args[0]](*args[1:])
                live = True  # ("list": a list made here, that the grader and the kata share)
            elif op == "copy":
                result = copy.deepcopy(target) if args[0] else copy.copy(target)
            else:
                raise ValueError(f"unknown request {op!r}")
            self.updates, self.walked, self.bytes_new = {}, set(), {}
            if raw is not None:
                reply = {"r": raw}
            elif op == "call" and self.worker_side and type(result) in (list, dict, tuple):
                self.origin = _places(args, offset, kwargs)
                try:
                    reply = {"r": self.encode(result)}
                finally:
                    self.origin = None
            else:
                reply = {"r": self.encode_live(result) if live and self.worker_side else self.encode(result)}
            if (op == "get" and self.worker_side and message["h"] != 0 and not message.get("n")
                    and type(result) is not types.MethodType):  # a method read is followed by its call
                around = self.prefetch(target, args[0])
                if around:
                    reply["A"] = around
            if op == "call":
                changed = {key: self.encode_live(value) if self.worker_side and id(value) in self.ids
                           else self.encode(value)
                           for key, value, before in snapshots if value != before}
                if changed:
                    reply["m"] = changed
            if self.updates:  # sent: from now on the grader has them
                reply["V"] = [[ident, *body] for ident, (body, _) in self.updates.items()]
                self.shown.update((ident, seen) for ident, (_, seen) in self.updates.items())
            self.bytes_shown.update(self.bytes_new)
        except (ChannelClosed, ChannelTimeout):
            raise
        except BaseException as error:
            if not isinstance(error, self.answers) or self.broken is not None:
                raise
            reply = {"e": self.describe(error)}
        self.updates, self.walked, self.bytes_new = outer
        if self.mirrors:
            advanced = self.advanced_rngs()
            if advanced:
                reply["R"] = advanced
        self.send(reply)

    def prefetch(self, target, name: str) -> list:
        """The worker: the object's other small attributes, and those of the objects it holds.

        One attribute read of a kata object (``cache.block_tables``) is
        usually followed by more (``cache.lengths``, ``cache.allocator.
        refcount``) before the next call can change them: they come with the
        first, ``[handle, name, value]`` each, up to ``PREFETCH`` values in
        all (a graph walk reading ``node._children`` then ``node._local_grads``
        too). Only plain instance attributes are sent (never through a
        property, a class attribute or a custom ``__getattribute__``).
        """
        found, budget, seen = [], PREFETCH, {id(target)}
        owners = [(target, name)]
        while owners and budget > 0:
            owner, skip = owners.pop(0)
            if isinstance(owner, OPAQUE) or type(owner).__getattribute__ is not object.__getattribute__:
                continue
            for key, value in _instance_attributes(owner):
                if key == skip:
                    continue
                if self._unchanged(value):  # as the grader has it: by handle, neither sized nor walked
                    budget -= 1
                    found.append([self.handle(owner), key, {"$v": self.ids[id(value)]}])
                elif type(value) in PLAIN or type(value) in (list, tuple, dict):
                    left = _small(value, budget)
                    if left < 0:
                        found.append([self.handle(owner), key])  # too big to come along: read it alone
                        continue
                    budget = left
                    found.append([self.handle(owner), key, self.encode_live(value)])
                elif owner is target and id(value) not in seen and not isinstance(value, OPAQUE):
                    seen.add(id(value))  # a kata object it holds (cache.allocator): its attributes too
                    budget -= 1
                    found.append([self.handle(owner), key, self.encode(value)])
                    owners.append((value, None))
        return found

    def describe(self, error: BaseException) -> dict:
        """An exception as an error payload (display text plus what rebuilds it)."""
        token = len(self.errors) + 1
        self.errors[token] = error
        info = {"type": type(error).__name__, "token": token, "todo": False}
        try:
            info["text"] = str(error)[:20000]
        except Exception:
            info["text"] = "(the exception's message could not be formatted)"
        info["base"] = next((c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"), "Exception")
        info["todo"] = any(c.__name__ == "KataTodo" for c in type(error).__mro__)
        if getattr(type(error), "__module__", None) == KATA_MODULE:
            info["kata"] = type(error).__name__
        try:
            info["args"] = self.encode(list(error.args))
        except Exception:
            pass
        if isinstance(getattr(error, "_wb_info", None), dict):
            info = dict(error._wb_info)  # the peer's own exception, passing back through us
        if self.kata_file:  # the kata's own frames only (the wire's are not formatted: a raise costs less)
            here, kept = error.__traceback__, []
            while here is not None:
                if here.tb_frame.f_code.co_filename == self.kata_file:
                    kept.append(here)
                here = here.tb_next
            if kept:
                info["line"] = kept[-1].tb_lineno
                info["tb"] = _format_frames(kept)[-4000:]
        return info


def _format_frames(entries: list) -> str:
    """The frames as ``traceback.format_list`` writes them, without its carets (which parse each line: ~80 us)."""
    text = []
    for entry in entries:
        code = entry.tb_frame.f_code
        text.append(f'  File "{code.co_filename}", line {entry.tb_lineno}, in {code.co_name}\n')
        line = linecache.getline(code.co_filename, entry.tb_lineno, entry.tb_frame.f_globals).strip()
        if line:
            text.append(f"    {line}\n")
    return "".join(text)


def rebuild(info: dict) -> BaseException:
    """A built-in exception like the one described (same type and args), else ``PeerError``.

    Only subclasses of ``Exception`` are rebuilt: an exit or interrupt on the
    other side is an error here, never an exit.
    """
    import builtins

    base = getattr(builtins, str(info.get("base")), None)
    if isinstance(base, type) and issubclass(base, Exception):
        args = info.get("args")
        for attempt in (args, [info.get("text", "")]):
            if isinstance(attempt, list):
                try:
                    return base(*attempt)
                except Exception:
                    continue
    return PeerError(info)


OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
          types.BuiltinMethodType, types.CodeType, types.FrameType)


def _operator(target, name: str, args: list):
    """``target.name(*args)`` looked up on the type, as Python's operators do."""
    method = getattr(type(target), name, None)
    if name == "__hash__":
        return hash(target)
    if name == "__repr__":
        return repr(target)
    if name == "__str__":
        return str(target)
    if name == "__iter__":
        return iter(target)
    if name == "__len__":
        return len(target)
    if name == "__bool__":
        return bool(target)
    if method is None:
        if name == "__ne__":
            return not _operator(target, "__eq__", args)
        return NotImplemented
    return method(target, *args)
