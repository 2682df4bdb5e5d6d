"""The wire's parts, each alone (workbook/wire.py; the protocol is workbook/PROTOCOL.md).

``Frames`` over a pipe, ``Codec`` between two codecs with no pipe at all, and
the default ``Channel`` policy. The whole conversation (grader and worker
processes) is tested in test_isolation.py.
"""

import json
import math
import os
import struct
import time
from fractions import Fraction
from pathlib import Path

import pytest

from workbook.wire import Channel, ChannelClosed, ChannelTimeout, Codec, Frames


@pytest.fixture
def pipe():
    read_fd, write_fd = os.pipe()
    yield Frames(read_fd, write_fd)
    os.close(read_fd)
    os.close(write_fd)


def test_frames_carry_one_json_object_each_even_when_bytes_arrive_in_pieces(pipe):
    pipe.send({"q": "call", "a": [1, 2.5, "x"]})
    pipe.send({"r": None})
    assert pipe.receive() == {"q": "call", "a": [1, 2.5, "x"]} and pipe.receive() == {"r": None}
    data = json.dumps({"r": list(range(100))}).encode()
    frame = struct.pack(">I", len(data)) + data
    for start in range(0, len(frame), 7):  # a slow writer: the reader waits for the whole frame
        os.write(pipe.write_fd, frame[start:start + 7])
    assert pipe.receive() == {"r": list(range(100))}


@pytest.mark.parametrize("frame, why", [
    (struct.pack(">I", 64 * 1024 * 1024 + 1), "over the limit"),
    (struct.pack(">I", 2) + b"[]", "must be a JSON object"),
    (struct.pack(">I", 3) + b"{x}", "unreadable"),
])
def test_a_bad_frame_breaks_the_channel(pipe, frame, why):
    os.write(pipe.write_fd, frame)
    with pytest.raises(ChannelClosed, match=why):
        pipe.receive()


def test_waiting_past_the_deadline_is_a_timeout_and_the_watch_is_called(pipe):
    looks = []
    pipe.on_wait = lambda: looks.append(1)
    pipe.deadline = time.monotonic() + 0.8
    with pytest.raises(ChannelTimeout):
        pipe.receive()
    assert looks  # WATCH is 0.5 s: looked at least once before the deadline


def test_an_answer_after_the_polling_spin_is_still_received(pipe):
    import threading

    later = threading.Timer(0.05, pipe.send, [{"r": "late"}])  # long after SPIN: the reader sleeps in select
    later.start()
    assert pipe.receive() == {"r": "late"}  # no deadline, no watch: waits as long as it takes
    later.join()


def test_a_side_polls_only_while_a_cpu_is_free(pipe, monkeypatch):
    import threading

    from workbook import wire

    for free, spin in ((False, 0.0), (True, wire.SPIN)):
        monkeypatch.setattr(wire, "_cpu_free", lambda: free)
        pipe.spin_checked = -1.0  # look again now
        later = threading.Timer(0.01, pipe.send, [{"r": free}])
        later.start()
        assert pipe.receive() == {"r": free} and pipe.spin == spin
        later.join()
        if not free:  # found busy: it looks again RECHECK seconds later, not WATCH
            assert time.monotonic() - pipe.spin_checked >= wire.WATCH - wire.RECHECK


def test_a_cpu_is_free_when_no_more_tasks_run_than_cpus(monkeypatch):
    import io

    from workbook import wire

    for cpus, running, free in ((2, 2, True), (2, 3, False), (8, 8, True), (8, 9, False), (1, 1, True), (1, 2, False)):
        monkeypatch.setattr(wire, "open", lambda *_: io.StringIO(f"0.50 0.40 0.30 {running}/300 4242\n"), raising=False)
        monkeypatch.setattr(wire.os, "sched_getaffinity", lambda _: set(range(cpus)))
        assert wire._cpu_free() is free, (cpus, running)


def test_a_closed_pipe_is_channel_closed():
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with pytest.raises(ChannelClosed):
        Frames(read_fd, -1).receive()
    os.close(read_fd)


def _through(value, sender=None, receiver=None):
    """``value`` encoded by one codec, as JSON text, decoded by another."""
    sender, receiver = sender or Codec(), receiver or Codec()
    return receiver.decode(json.loads(json.dumps(sender.encode(value))))


def test_values_cross_as_themselves():
    nan = struct.unpack(">d", bytes.fromhex("7ff8000000000123"))[0]  # a NaN with a payload
    value = [1, 2.5, "s", None, True, (1, (2,)), {"k": [1], 2: 3}, {1, 2}, frozenset({3}), b"\x00\xff",
             1 + 2j, math.inf, -math.inf, Fraction(1, 3), Path("/a/b"), slice(1, None, 2)]
    back = _through(value)
    assert back[:-4] == value[:-4] and [type(v) for v in back] == [type(v) for v in value]
    assert struct.pack(">d", _through(nan)) == struct.pack(">d", nan)
    assert back[-4:] == [-math.inf, Fraction(1, 3), Path("/a/b"), slice(1, None, 2)]


def test_a_list_of_floats_crosses_as_its_bytes_and_plain_lists_as_json():
    nan = struct.unpack(">d", bytes.fromhex("fff8000000000abc"))[0]  # a negative NaN with a payload
    floats = [0.1, -0.0, 1e-310, math.inf, nan, 2.5]
    encoded = Codec().encode(floats)
    assert list(encoded) == ["$a"]  # no decimal repr, no parsing: 8 bytes each
    back = _through(floats)
    assert [struct.pack(">d", v) for v in back] == [struct.pack(">d", v) for v in floats]
    assert all(type(v) is float for v in back)
    for plain in ([1, 2, 3, 4, 5], ["a", "b", None, True, 7]):
        assert Codec().encode(plain) == plain and _through(plain) == plain
    mixed = [1, 2.0, 3, 4.0, (5,)]  # ints and floats together keep their types; the tuple its tag
    back = _through(mixed)
    assert back == mixed and [type(v) for v in back] == [type(v) for v in mixed]
    with pytest.raises(ValueError):  # a packed list whose bytes are not whole doubles
        Codec().decode({"$a": "AAAA"})


def test_a_tuple_of_ints_and_a_dict_of_named_counts_cross_as_json():
    result = ([1, 4, 2, 0], {"rounds": 2, "$t": 1, "ok": True, "name": None})  # (tokens, stats), 6,000 times
    assert Codec().encode(result) == {"$t": [[1, 4, 2, 0], {"$o": {"rounds": 2, "$t": 1, "ok": True, "name": None}}]}
    back = _through(result)
    assert back == result and type(back) is tuple and list(back[1]) == list(result[1])
    for kept in [(1, 2.0), (1, (2,)), {"a": 0.5}, {"a": [1]}, {1: 2}, {"a": (1,)}, ("$o", {})]:
        back = _through(kept)  # a float, a container or a key that is not a string: tagged as before
        assert back == kept and repr(back) == repr(kept)
    with pytest.raises(ChannelClosed):
        Codec().decode({"$o": [1, 2]})


def test_the_graders_codec_hands_over_only_what_a_test_passes():
    grader = Codec()
    with pytest.raises(TypeError, match="cannot cross to the kata"):
        grader.encode(object())  # a result or an error argument: plain data only
    grader.handing = True  # encoding a request's arguments
    assert grader.encode(len) == {"$h": 1}
    worker = Codec()
    worker.worker_side = True
    assert worker.encode(object()) == {"$h": 1}  # the worker's objects are the kata's own


def test_a_big_list_is_sent_once_then_by_key_while_unchanged():
    grader, worker = Codec(), Codec()
    worker.worker_side = True
    M = [[float(i)] * 4 for i in range(5)]  # 20 values: cached
    first = grader.encode_argument(M)
    assert "$L" in first
    kept = worker.decode(json.loads(json.dumps(first)))
    again = grader.encode_argument(M)
    assert again == {"$k": first["$L"][0]} and worker.decode(again) is kept
    M[2][1] = -1.0
    changed = grader.encode_argument(M)
    assert "$L" in changed and changed["$L"][1] == first["$L"][0]  # replaces the old key
    assert worker.decode(json.loads(json.dumps(changed)))[2][1] == -1.0
    assert "$L" not in json.dumps(grader.encode_argument([1.0] * 15))  # small lists go as they are
    rows = [[float(i)] * 16 for i in range(3)]
    worker.decode(json.loads(json.dumps(grader.encode_argument(rows))))
    others = rows[:1] + rows[2:]  # a new list of rows already sent: the rows go by key
    sent = grader.encode_argument(others)
    key, _, body = sent["$L"]
    assert body == [{"$k": grader.sent_lists[id(rows[0])][2]}, {"$k": grader.sent_lists[id(rows[2])][2]}]
    assert key == grader.sent_lists[id(others)][2] and key not in (body[0]["$k"], body[1]["$k"])
    assert worker.decode(json.loads(json.dumps(sent))) == others


def test_a_channel_serves_nothing_unless_given_a_policy():
    read_fd, write_fd = os.pipe()
    channel = Channel(read_fd, write_fd)
    with pytest.raises(PermissionError):
        channel.policy(print, "call", [], 1)
    os.close(read_fd)
    os.close(write_fd)
