"""Red team: a student's kata file must not be able to forge its grade.

Each attack is the pristine toy skeleton plus a few lines, graded with
``python -m workbook grade`` (always isolated). The attacked kata must score
0 and the other kata must keep its points; an honest submission still gets
full marks.
"""

import csv
import json
import math

import pytest

from toy_workbook import make, pytest as run_pytest, workbook

pytestmark = pytest.mark.timeout(300)

HONEST = "return 3 * x"  # microtwo.triple, solved: 100 points

ATTACKS = {
    "patch_the_harness_at_import": """
import sys
for name in list(sys.modules):
    if name.startswith("workbook"):
        module = sys.modules[name]
        for attr in ("summarise", "report", "task_status", "write_json"):
            if hasattr(module, attr):
                setattr(module, attr, lambda *a, **k: {"points": 1000})
try:
    import workbook.grading as grading
    grading.task_status = lambda statuses: "pass"
except Exception:
    pass
""",
    "atexit_rewrites_the_report": """
import atexit, json, os, glob
def forge():
    for pid in ("self", str(os.getppid())):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        except OSError:
            continue
        for i, arg in enumerate(args):
            if arg == b"--grade-json":
                path = args[i + 1].decode()
                json.dump({"points": 1000, "katas": [{"name": "microtoy", "points": 100}]}, open(path, "w"))
atexit.register(forge)
forge()
""",
    "skip_from_inside_a_call": """
def double(x):
    import pytest
    pytest.skip("nothing to see")
def norm(v):
    import pytest
    pytest.skip("nothing to see")
""",
    "exit_mid_test": """
def double(x):
    import os
    os._exit(0)
norm = double
""",
    "walk_frames_to_the_grader": """
import sys
def double(x):
    frame = sys._getframe()
    while frame is not None:  # look for the test's expected value or pytest's machinery
        for name, value in list(frame.f_locals.items()):
            if name in ("x", "expected"):
                pass
        if "item" in frame.f_locals or "pyfuncitem" in frame.f_locals:
            raise SystemExit("found the grader")
        frame = frame.f_back
    raise NotImplementedError("no grader here")
norm = double
""",
    "write_to_inherited_descriptors": """
import os
for fd in range(3, 64):
    try:
        os.write(fd, b'{"points": 1000}\\n')
    except OSError:
        pass
print("PASSED " * 100)
def double(x):
    for fd in range(0, 64):
        try:
            os.write(fd, b'\\x00\\x00\\x00\\x0b{"r": 8000}')
        except OSError:
            pass
    return None
norm = double
""",
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make(tmp_path_factory.mktemp("redteam"))


def student(toy, tmp_path, extra: str):
    """A student folder: exported bundle, microtwo solved, microtoy = skeleton + ``extra``."""
    bundle = tmp_path / "student"
    assert workbook(toy, "export", str(bundle)).returncode == 0
    two = bundle / "katas/microtwo/microtwo.py"
    two.write_text(two.read_text().replace("raise KataTodo('microtwo.triple: triple the number')", HONEST))
    kata = bundle / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text() + "\n" + extra)
    return bundle


def regrade(toy, bundle, tmp_path):
    target = tmp_path / "out" / "grades.json"
    done = workbook(toy, "grade", str(bundle), "--grade-json", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(target.read_text())
    return {k["name"]: k["points"] for k in report["katas"]}, report, done


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_scores_nothing(toy, tmp_path, attack):
    bundle = student(toy, tmp_path, ATTACKS[attack])
    points, report, done = regrade(toy, bundle, tmp_path)
    assert points == {"microtoy": 0, "microtwo": 100}, (points, done.stdout)
    assert report["max_points"] == 200 and report["points"] == 100
    assert report["complete"] is True
    assert "Points 100.00/200.00" in done.stdout


def test_an_honest_student_gets_full_marks(toy, tmp_path):
    bundle = student(toy, tmp_path, "def double(x):\n    return 2 * x\n\ndef norm(v):\n    return sum(a * a for a in v) ** 0.5\n")
    points, report, _ = regrade(toy, bundle, tmp_path)
    assert points == {"microtoy": 100, "microtwo": 100}
    assert report["status"] == "pass"


def test_a_hang_is_a_timeout_and_the_next_test_gets_a_new_worker(toy, tmp_path):
    bundle = student(toy, tmp_path, "def double(x):\n    if x == 2:\n        while True:\n            pass\n    return 2 * x\n"
                                    "\ndef norm(v):\n    return sum(a * a for a in v) ** 0.5\n")
    target = tmp_path / "grades.json"
    done = run_pytest(toy, "--isolate", "--kata-file", f"microtoy={bundle / 'katas/microtoy/microtoy.py'}",
                      "-o", "timeout=2", "--grade-json", str(target))
    report = json.loads(target.read_text())
    statuses = {t["name"].split("::")[1]: t["status"] for t in report["tests"]}
    assert statuses["test_double[1]"] == "pass", done.stdout
    assert statuses["test_double[2]"] == "timeout", done.stdout
    # the task's other tests are not run (one timeout per task); the next task runs in a fresh worker
    assert statuses["test_double[3]"] == "timeout", done.stdout
    assert statuses["test_norm"] == "pass", done.stdout


def test_isolated_learner_mode_reports_todo_with_stub_location(toy):
    done = run_pytest(toy, "--isolate")
    assert done.returncode == 1
    assert "5 todo" in done.stdout, done.stdout
    assert "TODO  microtoy.double" in done.stdout and "katas/microtoy/microtoy.py:" in done.stdout
    solved = run_pytest(toy, "--isolate", "--solutions")
    assert solved.returncode == 0 and "5 passed" in solved.stdout, solved.stdout


def test_a_class_is_graded_and_one_hang_does_not_stop_it(toy, tmp_path):
    honest = student(toy, tmp_path / "ada", "def double(x):\n    return 2 * x\n\ndef norm(v):\n"
                                            "    return sum(a * a for a in v) ** 0.5\n")
    forger = student(toy, tmp_path / "bob", ATTACKS["atexit_rewrites_the_report"])
    hanger = student(toy, tmp_path / "cy", "def double(x):\n    while True:\n        pass\n")
    (hanger / "katas/microtwo/microtwo.py").write_text("import time\ntime.sleep(600)\n")  # >= 2 x 10 s
    for folder, name in ((honest, "ada"), (forger, "bob"), (hanger, "cy")):
        folder.rename(folder.parent / name)
    folders = [str(tmp_path / d / d) for d in ("ada", "bob", "cy")]
    out = tmp_path / "class"
    done = workbook(toy, "grade", *folders, "--jobs", "2", "--out", str(out), "--student-timeout", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3/3 students" in done.stderr, done.stderr
    rows = {row["student"]: row for row in csv.DictReader((out / "gradebook.csv").open())}
    assert list(rows) == ["ada", "bob", "cy"]
    assert list(rows["ada"]) == ["student", "microtoy", "microtwo", "total", "max", "note"]
    assert (rows["ada"]["microtoy"], rows["ada"]["microtwo"], rows["ada"]["total"]) == ("100.00", "100.00", "200.00")
    assert (rows["bob"]["microtoy"], rows["bob"]["total"]) == ("0.00", "100.00")
    assert rows["cy"]["total"] == "0.00" and rows["cy"]["note"], rows["cy"]
    assert json.loads((out / "ada.json").read_text())["points"] == 200
    assert json.loads((out / "bob.json").read_text())["points"] == 100


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_grading_the_reference_solutions_gives_full_marks(tmp_path):
    """End to end on the real workbook: a student whose katas are the solutions gets every point."""
    import subprocess
    import sys

    from toy_workbook import ROOT

    if not (ROOT / "solutions").is_dir():
        pytest.skip("a bundle has no solutions/")
    student = tmp_path / "student"
    names = sorted(p.name for p in (ROOT / "katas").iterdir() if (p / f"{p.name}.py").is_file())
    for name in names:
        (student / "katas" / name).mkdir(parents=True)
        (student / "katas" / name / f"{name}.py").write_bytes((ROOT / "solutions" / name / f"{name}.py").read_bytes())
    target = tmp_path / "grades.json"
    done = subprocess.run([sys.executable, "-m", "workbook", "grade", str(student), "--grade-json", str(target)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(target.read_text())
    short = {k["name"]: (k["points"], k["max_points"]) for k in report["katas"] if k["points"] != k["max_points"]}
    assert sorted(k["name"] for k in report["katas"]) == names
    assert not short, (short, [t["name"] for t in report["tests"] if t["status"] != "pass"][:20])
    assert report["points"] == report["max_points"] and report["status"] == "pass", done.stdout[-3000:]


CHANNEL_KATA = '''
class Value:
    def __init__(self, x):
        self.x = x

    def double(self):
        return Value(2 * self.x)


def tiles(M, load):
    return [sum(map(sum, load(M, i, i + 8))) for i in range(0, len(M), 8)]


def square(n):
    return [[0.0] * n for _ in range(n)]


def draw(items, rng):
    return items[int(rng.random() * len(items))]


def apply(model, prefix):
    return model(prefix)


def total(M):
    return sum(map(sum, M))


def scale(M, c):
    for row in M:
        row[:] = [c * v for v in row]


class Liar:
    def __eq__(self, other):
        return True


def relay(count):
    """Pass one list to a callback twice, changing it in between (a Liar equals anything)."""
    xs = [Liar() for _ in range(20)]
    first = count(xs)
    xs[:] = [1.0] * 20
    return first, count(xs)


class Node:
    __slots__ = ("data", "_children")

    def __init__(self, data, children=()):
        self.data, self._children = data, children


class Pool:
    def __init__(self, n):
        self.free = list(range(n))
        self.used = {}
        self.inner = Value(n)

    @property
    def size(self):
        return len(self.free) + len(self.used)

    def take(self, who):
        self.used[who] = self.free.pop()


def same(xs):
    return xs


def regroup(rows, extra=None):
    return [rows[1], rows[0], extra, list(rows[0])]


class Grid:
    def __init__(self, n):
        self.rows = [[float(i)] * 8 for i in range(n)]
        self.steps = {"n": 0}

    def bump(self, i):
        self.rows[i][0] += 1.0

    def put(self, i, j, value):
        self.rows[i][j] = value


class Keeper:
    def __init__(self):
        self.kept = []

    def keep(self, xs):
        self.kept.append(xs)  # the caller's list itself, not a copy
'''


@pytest.fixture
def channel_worker(tmp_path):
    from workbook.isolate import KataWorker, Limits

    path = tmp_path / "microx.py"
    path.write_text(CHANNEL_KATA)
    worker = KataWorker("microx", path, "workbook_kata_microx", tmp_path, Limits(), False)
    yield worker
    worker.stop()


def test_isinstance_with_a_kata_class_is_asked_in_the_worker(channel_worker):
    kata = channel_worker.kata(30)
    value = kata.Value(2).double()
    assert isinstance(value, kata.Value) and value.x == 4
    assert not isinstance(3, kata.Value) and not isinstance([value], kata.Value)
    assert issubclass(kata.Value, kata.Value)


def test_repeat_and_call_each_are_one_call_at_a_time_in_one_round_trip(channel_worker):
    import random

    from workbook.checks import Table, call_each, repeat

    kata = channel_worker.kata(30)
    a, b = random.Random(3), random.Random(3)
    one_by_one = [kata.draw([1, 2, 3], a) for _ in range(50)]
    assert repeat(kata.draw, 50, [1, 2, 3], b) == one_by_one and a.getstate() == b.getstate()
    assert call_each(kata.draw, [([i], b) for i in range(5)]) == [0, 1, 2, 3, 4]
    assert repeat(kata.draw, 0, [1], b) == [] and call_each(kata.draw, []) == []
    bigram = Table({(1,): [0.5], (): [0.1]}, context=1)  # a model by value: called in the worker
    assert kata.apply(bigram, [3, 1]) == [0.5] and kata.apply(bigram, []) == [0.1]
    assert kata.apply(Table({(2, 3): [1.0]}), [2, 3]) == [1.0]
    with pytest.raises(KeyError):
        kata.apply(bigram, [2])


def test_a_chain_of_calls_each_on_the_last_result_is_one_round_trip(channel_worker):
    from workbook.checks import chain

    kata = channel_worker.kata(30)
    first = kata.Node(0.0)
    sent = _sent(channel_worker.channel)
    last = chain(kata.Node, 3000, first, lambda node: (1.0, [node, 2.0]))
    assert len(sent) == 1
    node, depth = last, 0
    while node is not first:
        assert node.data == 1.0 and node._children[1] == 2.0
        node, depth = node._children[0], depth + 1
    assert depth == 3000
    assert chain(kata.Node, 0, first, lambda node: (node,)) is first


def _sent(channel):
    """Record what ``channel`` sends (JSON text per message)."""
    import json

    sent, send = [], channel.send

    def recording(message):
        sent.append(json.dumps(message))
        send(message)

    channel.send = recording
    return sent


def test_a_big_list_passed_again_unchanged_is_sent_once(channel_worker):
    kata = channel_worker.kata(30)
    sent = _sent(channel_worker.channel)
    M = [[float(i), 1.0, 2.0, 3.0] for i in range(40)]
    assert kata.total(M) == kata.total(M) == 780 + 240
    assert '"$L"' in sent[0] and '"$k"' in sent[1] and len(sent[1]) < 80
    kata.scale(M, 2.0)  # changed in place by the kata: the grader's M follows, and is sent again
    assert M[1] == [2.0, 2.0, 4.0, 6.0] and kata.total(M) == 2 * (780 + 240) and '"$L"' in sent[-1]
    M[0][0] = 100.0  # changed by the test
    assert kata.total(M) == 2 * (780 + 240) + 100 and '"$L"' in sent[-1]
    kata = channel_worker.kata(30)  # a new test: both sides start again
    assert kata.total(M) == 2 * (780 + 240) + 100 and '"$L"' in sent[-1] and '"x"' in sent[-1]


def test_a_batch_sends_a_list_all_its_calls_share_once_and_batches_methods_too(channel_worker):
    from workbook.checks import call_each, repeat

    kata = channel_worker.kata(30)
    M = [[1.0] * 8 for _ in range(4)]
    sent = _sent(channel_worker.channel)
    assert call_each(kata.total, [(M,)] * 4) == [32.0] * 4
    assert len(sent) == 2 and sent[1].count('"$k"') == 3 and '"$L"' not in sent[1]  # the first call sent it
    pool = kata.Pool(6)
    take = pool.take
    del sent[:]
    assert call_each(take, [("a",), ("b",), ("c",)]) == [None] * 3 and repeat(take, 2, "d") == [None] * 2
    assert len(sent) == 4  # each helper: the first call alone, then one batch
    assert pool.used == {"a": 5, "b": 4, "c": 3, "d": 1} and pool.free == [0]


def test_read_each_reads_one_attribute_of_many_objects_in_one_round_trip(channel_worker):
    from workbook.checks import read_each

    kata = channel_worker.kata(30)
    values = [kata.Value(x) for x in range(5)]
    sent = _sent(channel_worker.channel)
    assert read_each(values, "x") == [0, 1, 2, 3, 4] and len(sent) == 1
    assert read_each([], "x") == [] and read_each([complex(1, 2)], "imag") == [2.0]  # local objects: getattr
    with pytest.raises(AttributeError):
        read_each(values, "nope")


def test_the_worker_never_asks_a_kata_object_whether_a_list_is_unchanged(channel_worker):
    kata = channel_worker.kata(30)
    floats = lambda xs: sum(1 for x in xs if type(x) is float)  # noqa: E731
    assert kata.relay(floats) == (0, 20)  # with ==, the Liars would make it (0, 0)


def test_reading_a_kata_objects_attributes_after_a_call_is_one_round_trip(channel_worker):
    kata = channel_worker.kata(30)
    pool = kata.Pool(5)
    sent = _sent(channel_worker.channel)
    assert (pool.free, pool.used, pool.inner.x) == ([0, 1, 2, 3, 4], {}, 5)
    assert len(sent) == 1
    pool.take("a")
    assert pool.used == {"a": 4} and pool.free == [0, 1, 2, 3] and pool.size == 5
    # the method (read once), the call, one read of used (free comes with it), the property (never prefetched)
    assert len(sent) == 5, sent
    pool.free.append(9)  # a live list: the change reaches the worker, and later reads see it
    assert pool.free == [0, 1, 2, 3, 9] and pool.size == 6
    node = kata.Node(2.0, (kata.Node(1.0),))  # __slots__ attributes come together too
    del sent[:]
    assert node._children[0].data == 1.0 and node.data == 2.0 and len(sent) == 2


def test_a_kata_list_read_again_is_the_same_list_and_only_what_changed_crosses(channel_worker):
    kata = channel_worker.kata(30)
    grid = kata.Grid(50)
    rows, row_7 = grid.rows, grid.rows[7]
    received, receive = [], channel_worker.channel.receive
    channel_worker.channel.receive = lambda: received.append(receive()) or received[-1]
    grid.bump(7)
    assert grid.rows is rows and rows[7] is row_7  # one object per kata list, as in-process
    assert row_7 == [8.0] + [7.0] * 7 and rows[6] == [6.0] * 8  # and up to date
    changed = [entry[0] for message in received for entry in message.get("V", [])]
    assert changed == [row_7._wb_id], received  # the one row that changed, not the 50 x 8 grid
    grid.steps["n"] = 1  # a change the grader makes reaches the worker, and is read back
    grid.bump(0)
    assert grid.steps == {"n": 1} and grid.rows[0][0] == 1.0 and rows[0][0] == 1.0  # a read updates every reference


def test_a_change_that_equals_the_old_value_still_crosses(channel_worker):
    """An unchanged tree is not walked again (its marshal bytes are compared): 3 for 3.0, -0.0 for 0.0 and
    True for 1.0 are changes all the same."""
    kata = channel_worker.kata(30)
    grid = kata.Grid(4)
    rows = grid.rows
    for i, j, value in [(3, 1, 3), (0, 5, -0.0), (1, 7, True), (3, 1, 3.0)]:
        grid.put(i, j, value)
        got = grid.rows[i][j]
        assert type(got) is type(value) and math.copysign(1.0, got) == math.copysign(1.0, value), (i, j, value, got)
        assert grid.rows[i] is rows[i]  # the same live row, brought up to date
    assert [type(x) for x in rows[1]] == [float] * 7 + [bool] and str(rows[0][5]) == "-0.0"


def test_a_kata_list_is_the_katas_own_so_a_kata_that_keeps_it_sees_the_test_change_it(channel_worker):
    """A kata that keeps the caller's list (not a copy) is seen doing it, isolated too, when the test passes a
    kata_list; a plain list crosses as a copy (a later change by the test stays in the grader)."""
    from workbook.checks import kata_list

    kata = channel_worker.kata(30)
    keeper = kata.Keeper()
    plain, shared = [1.0, 2.0], kata_list(kata, [1.0, 2.0])
    keeper.keep(plain)
    keeper.keep(shared)
    plain[0] = shared[0] = 9.0
    assert keeper.kept == [[1.0, 2.0], [9.0, 2.0]]
    assert kata_list(object(), (1, 2)) == [1, 2]  # in-process: any list


def test_a_result_that_is_an_argument_is_the_callers_own_list_as_in_process(channel_worker):
    """A kata that hands back the caller's list (instead of a copy) is seen doing it, as in-process."""
    kata = channel_worker.kata(30)
    xs = [1.0, 2.0, 3.0, 4.0]
    assert kata.same(xs) is xs and kata.same(xs=xs) is xs
    rows, extra = [[1], [2]], {"k": [3]}
    back = kata.regroup(rows, extra=extra)
    assert back[0] is rows[1] and back[1] is rows[0] and back[2] is extra
    assert back[3] == [1] and back[3] is not rows[0]  # a copy stays a copy


def test_a_new_test_forgets_the_generators_and_they_still_cross_as_in_process(channel_worker):
    import json
    import random

    kata = channel_worker.kata(30)
    channel = channel_worker.channel
    old, old_twin = random.Random(1), random.Random(1)
    assert kata.draw(list(range(100)), old) == draw_here(list(range(100)), old_twin)
    channel_worker.kata(30)  # the next test: the worker drops its mirrors ("x": 2)
    assert channel.rngs == {} and channel.drop_lists == 2
    sent = _sent(channel)
    new, new_twin = random.Random(2), random.Random(2)
    for rng, twin in ((new, new_twin), (old, old_twin), (old, old_twin)):  # the old one crosses whole again
        assert kata.draw(list(range(100)), rng) == draw_here(list(range(100)), twin)
        assert rng.getstate() == twin.getstate()
    assert json.loads(sent[0])["x"] == 2 and sorted(channel.rng_keys) == [1, 2]


def draw_here(items, rng):
    return items[int(rng.random() * len(items))]


def test_a_batch_that_raises_is_redone_one_call_at_a_time_as_the_loop_reaches_it(channel_worker):
    import random

    from workbook.checks import call_each_in_order, repeat_in_order

    kata = channel_worker.kata(30)
    rng, same = random.Random(5), random.Random(5)
    results = call_each_in_order(kata.draw, [([7, 8], rng), ([], rng), ([9], rng)])
    assert next(results) == kata.draw([7, 8], same) and rng.getstate() == same.getstate()  # put back, redrawn
    with pytest.raises(IndexError):
        next(results)  # the raising call, reached by the loop
    assert list(repeat_in_order(kata.draw, 3, [4], rng)) == [4, 4, 4]


def test_tracemalloc_in_the_worker_measures_only_the_kata(channel_worker):
    """The channel's own allocations (argument snapshots, lists kept for callbacks) are not the kata's."""
    kata = channel_worker.kata(30)
    matrix = [[float(i), float(-i)] for i in range(240)]

    def load(M, start, stop):
        return [list(row) for row in M[start:stop]]

    def peak(call):
        channel_worker.service("tracemalloc", "start")
        channel_worker.service("tracemalloc", "reset_peak")
        call()
        measured = channel_worker.service("tracemalloc", "get")[1]
        channel_worker.service("tracemalloc", "stop")
        return measured

    # in-process this peaks at about 1 KB (a tile and the short result list);
    # the 240-row matrix crosses the channel 30 times (it is ~20 KB as lists)
    assert peak(lambda: kata.tiles(matrix, load)) < 8_000
    assert peak(lambda: kata.square(240)) > 400_000


def test_tracemalloc_asks_only_the_running_tests_kata(tmp_path):
    """A test measuring memory must not touch other katas' idle workers (their deadlines ran out long ago)."""
    root = make(tmp_path)
    tests = root / "tests/test_microtwo.py"
    tests.write_text(tests.read_text().replace("import pytest", "import time\nimport tracemalloc\n\nimport pytest", 1) + '''

@pytest.mark.task("triple")
@pytest.mark.parametrize("i", [1, 2])
def test_later(kata, i):
    time.sleep(3)  # the other kata's last deadline (4 x 1 s) passes meanwhile
    assert kata.triple(i) == 3 * i


@pytest.mark.task("triple")
def test_triple_memory(kata):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert kata.triple(2) == 6
        assert tracemalloc.get_traced_memory()[1] < 100_000
    finally:
        tracemalloc.stop()
''')
    done = run_pytest(root, "--isolate", "--solutions", "-o", "timeout=1", "-p", "no:randomly")
    assert done.returncode == 0 and "8 passed" in done.stdout, done.stdout


@pytest.mark.skipif(__import__("shutil").which("bwrap") is None, reason="bubblewrap (bwrap) is not installed")
def test_sandbox_hides_the_teachers_files(tmp_path):
    """Without --sandbox a worker can read the teacher's tests (a documented limit); with it, it cannot."""
    root = make(tmp_path)
    secret = root / "tests" / "test_microtoy.py"
    kata = root / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text().replace(
        "raise KataTodo('microtoy.double: Return 2 * x.')",
        f"try:\n        open({str(secret)!r}).read()\n        return -1\n    except OSError:\n        return 2 * x",
    ))
    plain = run_pytest(root, "--isolate", "-k", "double")
    sandboxed = run_pytest(root, "--isolate", "--sandbox", "-k", "double")
    assert "3 failed" in plain.stdout, plain.stdout
    assert "3 passed" in sandboxed.stdout, sandboxed.stdout + sandboxed.stderr


# === the wire is asymmetric: the kata reaches only what a test hands it ===

WALK = '''
import gc


def _channel():
    for thing in gc.get_objects():
        if type(thing).__name__ == "Channel":
            return thing


def _raw(channel, q, h, *a):
    return channel.request({"q": q, "h": h, "a": list(a)})


def _walk(channel, start):
    """The red team's route: x.__class__.__base__.__subclasses__() -> a function's __globals__ -> exec."""
    found = []
    for h in start:
        try:
            cls = _raw(channel, "get", h, "__class__")
            base = _raw(channel, "get", cls._wb_id, "__base__")
            subclasses = _raw(channel, "callm", base._wb_id, "__subclasses__")
        except Exception as error:
            found.append(f"{h}: {type(error).__name__}")
            continue
        for sub in subclasses:
            try:
                init = _raw(channel, "get", sub._wb_id, "__init__")
                space = _raw(channel, "get", init._wb_id, "__globals__")
                run = space["__builtins__"]["exec"]
                run(PAYLOAD)
                return "broke through"
            except Exception:
                continue
    return found


def attack(callback, thing):
    """What a kata function can do with the channel while a test's call runs."""
    channel = _channel()
    outcomes = {"walk": _walk(channel, [0, *range(1, 8)])}
    tries = {
        "globals of the callback": lambda: callback.__globals__,
        "raw get of the callback's __globals__": lambda: _raw(channel, "get", callback._wb_id, "__globals__"),
        "raw get of a data attribute": lambda: _raw(channel, "get", thing._wb_id, "secret"),
        "raw get of a private method": lambda: _raw(channel, "get", thing._wb_id, "_reset"),
        "raw callm of a dunder": lambda: _raw(channel, "callm", thing._wb_id, "__reduce_ex__", 2),
        "raw set": lambda: _raw(channel, "set", thing._wb_id, "count", 0),
        "raw copy": lambda: _raw(channel, "copy", thing._wb_id, True),
        "raw op __eq__": lambda: _raw(channel, "op", thing._wb_id, "__eq__", 1),
        "callm on the callback": lambda: _raw(channel, "callm", callback._wb_id, "__call__", 1),
        "the class of the method's result": lambda: thing.bump().__class__,
        "forged method reference": lambda: channel.request(
            {"q": "call", "h": 0, "a": [{"$m": [{"$r": thing._wb_id}, "__class__"]}]}),
    }
    for name, run in tries.items():
        try:
            outcomes[name] = repr(run())[:60]
        except Exception as error:
            outcomes[name] = type(error).__name__
    outcomes["callback"] = callback(20)
    outcomes["method"] = thing.bump()
    return outcomes


class Equal:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    def __iter__(self):
        yield Equal()

    def __len__(self):
        return 1


def always_equal():
    return Equal()
'''


class Handed:
    """What a test may pass to a kata: public methods callable, nothing else reachable."""

    secret = "the answer key"

    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count

    def _reset(self):
        self.count = 0


@pytest.fixture
def attacked(tmp_path):
    from workbook.isolate import KataWorker, Limits

    marker = tmp_path / "pwned"
    path = tmp_path / "microx.py"
    path.write_text(f"PAYLOAD = {f'open({str(marker)!r}, {chr(39)}w{chr(39)}).write({chr(39)}x{chr(39)})'!r}\n" + WALK)
    worker = KataWorker("microx", path, "workbook_kata_microx", tmp_path, Limits(), False)
    yield worker, marker
    worker.stop()


def test_a_kata_cannot_walk_from_the_channel_into_the_grader(attacked):
    """Issue 19's critical hole: ``__class__ -> __subclasses__() -> __globals__ -> exec`` over the channel."""
    worker, marker = attacked
    thing = Handed()
    outcomes = worker.kata(30).attack(lambda x: x + 1, thing)
    assert not marker.exists(), outcomes
    assert outcomes["walk"] != "broke through" and all("PermissionError" in f or "KeyError" in f
                                                        for f in outcomes["walk"]), outcomes["walk"]
    for name, outcome in outcomes.items():
        if name not in ("walk", "callback", "method"):
            assert outcome in ("PermissionError", "AttributeError", "ChannelClosed", "KeyError") or \
                name == "the class of the method's result", (name, outcome)
    assert outcomes["callback"] == 21 and outcomes["method"] == 2  # handed over: still served
    assert thing.count == 2  # the refused set/copy/private method changed nothing


def test_an_object_that_equals_everything_equals_nothing_in_the_grader(attacked):
    """``__eq__`` always true (and ``__ne__`` false, ``__iter__`` more of them) is never asked."""
    from workbook.checks import Mismatch, assert_close, assert_equal

    worker, _ = attacked
    kata = worker.kata(30)
    value = kata.always_equal()
    assert not (value == [1, 2]) and value != [1, 2] and value == value
    with pytest.raises(TypeError):
        value < 3
    for check in (lambda: assert_equal(value, [1, 2], "f()"), lambda: assert_close(value, [1.0], 1e-9, "f()"),
                  lambda: assert_equal([value], [[1]], "f()"), lambda: assert_equal(list(value), [7], "f()")):
        with pytest.raises(Mismatch):
            check()


def test_checks_compare_plain_data_in_process_too():
    from workbook.checks import Mismatch, assert_close, assert_equal

    namespace = {}
    exec(WALK, namespace)  # defines the kata's functions and its Equal class, runs nothing
    equal = namespace["always_equal"]()

    class Sly(float):
        def __sub__(self, other):
            return 0.0

    for check in (lambda: assert_equal(equal, [1, 2], "f()"), lambda: assert_equal([equal], [1], "f()"),
                  lambda: assert_close(equal, [1.0], 1e-9, "f()"), lambda: assert_close([Sly(2.0)], [1.0], 1e-9, "f()")):
        with pytest.raises(Mismatch):
            check()
    assert_equal((1, [2.0, (3,)]), [1, [2.0, [3]]], "tuples equal lists")
    assert_close([Sly(1.0)], [1.0], 0.0, "a float subclass is read as its value")


# === the kata file, the worker's process and what it reports ===


def test_a_symlinked_or_oversized_kata_is_not_graded(toy, tmp_path):
    """Only a regular file inside the student's folder is read: not a link to solutions/ or a classmate."""
    bundle = student(toy, tmp_path, "")
    kata = bundle / "katas/microtoy/microtoy.py"
    kata.unlink()
    kata.symlink_to(toy / "solutions/microtoy/microtoy.py")
    points, _, done = regrade(toy, bundle, tmp_path)
    assert points == {"microtoy": 0, "microtwo": 100}, done.stdout
    assert "symbolic link" in done.stdout, done.stdout
    two = bundle / "katas/microtwo"
    (bundle / "katas").rename(bundle / "real")
    (bundle / "katas").symlink_to(bundle / "real")
    points, _, done = regrade(toy, bundle, tmp_path)
    assert points == {"microtoy": 0, "microtwo": 0}, done.stdout
    (bundle / "katas").unlink()
    (bundle / "real").rename(bundle / "katas")
    kata.unlink()
    kata.write_text("def double(x):\n    return 2 * x\n\ndef norm(v):\n    return sum(a * a for a in v) ** 0.5\n"
                    + "#" * (2 << 20))
    points, _, done = regrade(toy, bundle, tmp_path)
    assert points == {"microtoy": 0, "microtwo": 100} and "over 1 MiB" in done.stdout, done.stdout
    assert two.is_dir()


def test_the_worker_has_no_site_packages_and_writes_no_pyc(toy, tmp_path):
    """The stdlib-only rule holds in the worker too: an import hidden from the AST check finds nothing."""
    bundle = student(toy, tmp_path, "def double(x):\n    __import__('pytest')\n    return 2 * x\n\n"
                                    "def norm(v):\n    return sum(a * a for a in v) ** 0.5\n")
    (bundle / "katas/microtoy/helper.py").write_text("X = 1\n")
    kata = bundle / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text() + "\nimport sys, os\nsys.path.insert(0, os.path.dirname(__file__))\nimport helper\n")
    points, report, done = regrade(toy, bundle, tmp_path)
    assert points["microtoy"] < 100, done.stdout
    assert not list(bundle.rglob("*.pyc")) and not list(bundle.rglob("__pycache__")), list(bundle.rglob("*"))
    top = student(toy, tmp_path / "top", "import pytest\n")
    points, report, done = regrade(toy, top, tmp_path / "top")
    messages = [k["message"] for k in report["katas"] if k["name"] == "microtoy"]
    assert points["microtoy"] == 0 and "standard library" in str(messages), report


def test_a_hang_at_import_is_one_load_error(toy, tmp_path):
    """One timeout, once: the worker is stopped, the load error recorded, the kata's other tests not run."""
    bundle = student(toy, tmp_path, "import time\ntime.sleep(600)\n")
    target = tmp_path / "grades.json"
    done = run_pytest(toy, "--isolate", "--kata-file", f"microtoy={bundle / 'katas/microtoy/microtoy.py'}",
                      "-o", "timeout=4", "--grade-json", str(target), "-p", "no:randomly")
    report = json.loads(target.read_text())
    statuses = {t["name"].split("::")[1]: t["status"] for t in report["tests"] if "microtoy" in t["name"]}
    assert set(statuses.values()) == {"error"}, (statuses, done.stdout)
    kata = next(k for k in report["katas"] if k["name"] == "microtoy")
    assert "did not finish" in kata["message"], kata


def test_a_huge_error_message_is_cut_in_the_grader(toy, tmp_path):
    bundle = student(toy, tmp_path, "def double(x):\n    raise ValueError('x' * 5_000_000)\n")
    points, report, done = regrade(toy, bundle, tmp_path)
    assert points["microtoy"] == 0
    assert max(len(t["message"]) for t in report["tests"]) < 5000, done.stdout[-2000:]


WATCHER = '''
import os, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from workbook.isolate import KataWorker, Limits
path = Path(sys.argv[2])
worker = KataWorker("microx", path, "workbook_kata_microx", path.parent, Limits(), False)
kata = worker.kata(30)
print(worker.process.pid, flush=True)
time.sleep(600)
'''


def test_a_worker_dies_with_its_grader(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from toy_workbook import ROOT

    path = tmp_path / "microx.py"
    path.write_text("def f():\n    return 1\n")
    grader = subprocess.Popen([sys.executable, "-c", WATCHER, str(ROOT), str(path)], stdout=subprocess.PIPE, text=True)
    pid = int(grader.stdout.readline())
    os.kill(pid, 0)  # alive while its grader is
    grader.send_signal(signal.SIGKILL)
    grader.wait()
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the worker outlived its grader")


def test_a_katas_worker_ends_with_its_tests(tmp_path):
    """microtoy's worker is gone before microtwo's tests run (one worker alive at a time, in file order)."""
    root = make(tmp_path)
    pidfile = tmp_path / "toy.pid"
    toy_kata = root / "solutions/microtoy/microtoy.py"
    toy_kata.write_text(toy_kata.read_text() + f"\nimport os\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n")
    two = root / "solutions/microtwo/microtwo.py"
    two.write_text(two.read_text().replace("    return 3 * x", f'''    import os
    try:
        os.kill(int(open({str(pidfile)!r}).read()), 0)
        return -1  # microtoy's worker is still alive
    except ProcessLookupError:
        return 3 * x'''))
    done = run_pytest(root, "--isolate", "--solutions", "-p", "no:randomly")
    assert done.returncode == 0 and "5 passed" in done.stdout, done.stdout


def test_the_time_limit_is_the_workers_cpu_time(toy, tmp_path):
    """Fair under load: waiting (here: sleeping, as on a busy machine) is not the kata's time; burning CPU is."""
    bundle = student(toy, tmp_path, "def double(x):\n    import time\n    time.sleep(6)\n    return 2 * x\n"
                                    "\ndef norm(v):\n    while True:\n        pass\n")
    target = tmp_path / "grades.json"
    done = run_pytest(toy, "--isolate", "--kata-file", f"microtoy={bundle / 'katas/microtoy/microtoy.py'}",
                      "-o", "timeout=1", "--grade-json", str(target), "-p", "no:randomly", "-k", "double[1] or norm",
                      timeout=300)
    statuses = {t["name"].split("::")[1]: t["status"] for t in json.loads(target.read_text())["tests"]}
    assert statuses.get("test_double[1]") == "pass", (statuses, done.stdout)  # 6 s on the clock, ~0 s of CPU
    assert statuses.get("test_norm") == "timeout", (statuses, done.stdout)  # CPU (4 x 1 s), or the clock (12 x 1 s)


def test_a_kata_over_its_cpu_time_is_stopped(tmp_path):
    from workbook.isolate import KataWorker, Limits

    path = tmp_path / "microx.py"
    path.write_text("def spin():\n    while True:\n        pass\n")
    worker = KataWorker("microx", path, "workbook_kata_microx", tmp_path, Limits(), False)
    try:
        kata = worker.kata(600, 0.5)  # a generous clock, half a second of CPU
        with pytest.raises(pytest.fail.Exception, match="over 0.5s of CPU time"):
            kata.spin()
        assert worker.process is None  # stopped
    finally:
        worker.stop()


def test_a_worker_spawned_ahead_loads_while_the_grader_goes_on(tmp_path):
    """Isolation spawns the next kata's worker early: spawn() returns before the kata has loaded."""
    import time

    from workbook.isolate import KataWorker, Limits

    path = tmp_path / "microslow.py"
    path.write_text("import time\ntime.sleep(1.0)\n\ndef f(x):\n    return x + 1\n" + "# padding\n" * 9000)
    worker = KataWorker("microslow", path, "workbook_kata_microslow", tmp_path, Limits(), False)
    try:
        started = time.monotonic()
        worker.spawn()  # 90 KB of source: more than a default pipe holds, still no wait
        assert time.monotonic() - started < 0.5
        time.sleep(1.2)  # the grader runs other tests meanwhile
        ready = time.monotonic()
        assert worker.kata(30).f(1) == 2 and time.monotonic() - ready < 0.5
    finally:
        worker.stop()


def test_a_kata_that_fills_its_folder_is_stopped(tmp_path):
    """RLIMIT_FSIZE caps one file; the grader caps the worker's folder (cwd, HOME, TMPDIR) as a whole."""
    from workbook.isolate import KataCrashed, KataWorker, Limits

    path = tmp_path / "microdisk.py"
    path.write_text(
        "import os, time\n"
        "def write(files, kb, wait=0.0):\n"
        "    for i in range(files):\n"
        "        with open(f'f{i}', 'wb') as out:\n"
        "            out.write(os.urandom(kb * 1024))\n"
        "    time.sleep(wait)\n"
        "    return files\n"
    )
    worker = KataWorker("microdisk", path, "workbook_kata_microdisk", tmp_path, Limits(disk_mb=1, disk_entries=40), False)
    try:
        kata = worker.kata(30)
        assert kata.write(3, 100) == 3 and worker.disk_over() == ""  # 300 KB in 3 files: fine
        assert kata.write(3, 400) == 3 and worker.disk_over() == "wrote over 1 MB of files"  # seen after the test
        kata = worker.kata(30)
        with pytest.raises(KataCrashed, match="over 40 files and folders"):
            kata.write(60, 1, wait=3.0)  # seen while the grader waits
        assert worker.process is None  # stopped
    finally:
        worker.stop()


def test_an_exception_from_the_kata_names_its_own_frames_only(tmp_path):
    from workbook.isolate import KataWorker, Limits

    path = tmp_path / "microx.py"
    path.write_text("def inner(x):\n    return 1 / x\n\n\ndef outer(x):\n    return inner(x - x)\n")
    worker = KataWorker("microx", path, "workbook_kata_microx", tmp_path, Limits(), False)
    try:
        with pytest.raises(ZeroDivisionError) as caught:
            worker.kata(30).outer(3)
    finally:
        worker.stop()
    note = caught.value.__notes__[0]
    assert caught.value.workbook_where.endswith("microx.py:2")
    assert "line 6, in outer" in note and "line 2, in inner" in note and "return 1 / x" in note
    assert "wire.py" not in note and "worker.py" not in note
