"""The runner and its commands (issue 21): `next:` and the closing TODO list for methods of a
class, the table's counts, `status` of one kata and of untouched katas, the hint peek, a check's
own hint, loop containment across tasks, and the place of the `next:` line."""

import pytest

from toy_workbook import grades, make, pytest as run_pytest, workbook

pytestmark = pytest.mark.timeout(300)

# A kata whose tasks are methods of a class, and whose first task's tests call a later task
# (as microprefix's PrefixCache.lookup tests call allocate first).
BOX_SOLUTION = '''\
"""Toy kata with a class."""


class Box:
    def __init__(self):
        self.items = []

    def count(self):
        """How many items the box holds."""
        # BEGIN SOLUTION
        return len(self.items)
        # END SOLUTION

    def put(self, x):
        """Add x to the box."""
        # BEGIN SOLUTION
        self.items.append(x)
        # END SOLUTION


def total(box):
    """The sum of the box's items."""
    # BEGIN SOLUTION
    return sum(box.items)
    # END SOLUTION
'''

BOX_TESTS = '''\
import pytest

from workbook.checks import assert_equal


@pytest.mark.task("Box.count")
def test_count_of_an_empty_box(kata):
    assert_equal(kata.Box().count(), 0, "Box().count()")


@pytest.mark.task("Box.count")
def test_count_after_puts(kata):
    box = kata.Box()
    box.put(1)
    box.put(2)
    assert_equal(box.count(), 2, "count after two puts", hint="one per item put, not the sum")


@pytest.mark.task("Box.put")
def test_put(kata):
    box = kata.Box()
    box.put(5)
    assert_equal(box.items, [5], "items after put(5)")


@pytest.mark.task("total")
def test_total(kata):
    box = kata.Box()
    box.put(2)
    box.put(3)
    assert_equal(kata.total(box), 5, "total of a box with 2 and 3")
'''

BOX_README = """# microbox: toy

## Hints

### Box.count
1. Look at self.items.
2. Its length.

### Box.put
1. Append.
2. To self.items.

### total
1. Add them up.
2. sum().
"""

COUNT_STUB = "raise KataTodo('microbox.Box.count: How many items the box holds.')"
PUT_STUB = "raise KataTodo('microbox.Box.put: Add x to the box.')"
TOTAL_STUB = 'raise KataTodo("microbox.total: The sum of the box\'s items.")'


@pytest.fixture
def box(tmp_path):
    root = make(tmp_path)
    (root / "solutions" / "microbox").mkdir()
    (root / "solutions" / "microbox" / "microbox.py").write_text(BOX_SOLUTION)
    (root / "katas" / "microbox").mkdir()
    (root / "katas" / "microbox" / "README.md").write_text(BOX_README)
    (root / "tests" / "test_microbox.py").write_text(BOX_TESTS)
    done = workbook(root, "build", "microbox")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def edit(root, kata, old, new):
    path = root / "katas" / kata / f"{kata}.py"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def line_of(root, kata, text):
    path = root / "katas" / kata / f"{kata}.py"
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def closing(out):
    return out.split("workbook: grading")[-1]


def listed(tail, kind):
    """{task: location} of the closing section's TODO / FAIL / TIMEOUT lines."""
    found = [line.split()[1:3] for line in tail.splitlines() if line.startswith(kind + " ")]
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"a task is listed twice:\n{tail}"
    return dict(found)


def row(tail, kata):
    line = next(l for l in tail.splitlines() if l.startswith(kata + " "))
    return [int(x) for x in line.split()[1:5]]  # tasks, done, failing, todo


# === next: and the TODO list for methods of a class ===


def test_pristine_methods_are_each_listed_once_at_their_own_stub(box):
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    todos = listed(tail, "TODO")
    file = "katas/microbox/microbox.py"
    assert todos == {
        "microbox.Box.count": f"{file}:{line_of(box, 'microbox', COUNT_STUB)}",
        "microbox.Box.put": f"{file}:{line_of(box, 'microbox', PUT_STUB)}",
        "microbox.total": f"{file}:{line_of(box, 'microbox', TOTAL_STUB)}",
    }, tail
    assert f"next: write microbox.Box.count at {file}:{line_of(box, 'microbox', COUNT_STUB)}" in tail, tail


def test_a_written_method_moves_next_on_to_the_stub_its_tests_reach(box):
    edit(box, "microbox", COUNT_STUB, "return len(self.items)")
    file = "katas/microbox/microbox.py"
    put = f"{file}:{line_of(box, 'microbox', PUT_STUB)}"
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    todos = listed(tail, "TODO")
    assert todos == {"microbox.Box.count": put, "microbox.Box.put": put, "microbox.total": todos["microbox.total"]}, tail
    assert "written; its tests wait for microbox.Box.put" in tail, tail
    assert row(tail, "microbox") == [3, 0, 0, 3], tail
    assert f"next: write microbox.Box.put at {put} (Box.count's tests call it)" in tail, tail
    status = workbook(box, "status", "microbox").stdout
    assert f"next: write microbox.Box.put at {put}" in status, status
    assert workbook(box, "hint", "microbox", "--show").stdout.startswith("microbox.Box.put:")


def test_a_wrong_method_is_failing_once_and_named_at_its_own_line(box):
    edit(box, "microbox", COUNT_STUB, "return 1")  # wrong; its second test still waits for put
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    fails = listed(tail, "FAIL")
    assert list(fails) == ["microbox.Box.count"], tail
    assert row(tail, "microbox") == [3, 0, 1, 2], tail  # failing equals the FAIL lines
    where = f"katas/microbox/microbox.py:{line_of(box, 'microbox', 'def count')}"  # a wrong value: no line raised
    assert f"next: fix microbox.Box.count at {where}" in tail, tail
    status = workbook(box, "status", "microbox").stdout
    assert "next: fix microbox.Box.count" in status, status
    row_line = next(l for l in status.splitlines() if l.startswith("microbox"))
    assert row_line.split()[1:5] == ["3", "0", "1", "2"], status


def test_table_failing_equals_the_fail_and_timeout_lines(box):
    edit(box, "microbox", COUNT_STUB, "return 1")
    edit(box, "microbox", PUT_STUB, "self.items.append(x + 1)")
    edit(box, "microbox", TOTAL_STUB, "return 0")
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    lines = len(listed(tail, "FAIL")) + len(listed(tail, "TIMEOUT"))
    assert row(tail, "microbox")[2] == lines == 3, tail


# === hint: a peek that uses up nothing, and a check's own hint first ===


def test_hint_show_peeks_without_using_a_level(box):
    edit(box, "microbox", COUNT_STUB, "return len(self.items)")
    peek = workbook(box, "hint", "microbox", "--show")
    assert peek.returncode == 0, peek.stderr
    put = line_of(box, "microbox", PUT_STUB)
    assert peek.stdout.startswith(f"microbox.Box.put: your current task (write it at katas/microbox/microbox.py:{put})")
    assert "hint 0 of 2 seen so far" in peek.stdout, peek.stdout
    assert workbook(box, "hint", "microbox").stdout.startswith("microbox.Box.put: hint 1 of 2")
    peek = workbook(box, "hint", "microbox", "--show").stdout
    assert "hint 1 of 2 seen so far" in peek and "Append." in peek, peek  # level 1 again, not level 2
    assert workbook(box, "hint", "microbox").stdout.startswith("microbox.Box.put: hint 2 of 2")


def test_a_checks_own_hint_comes_before_the_task_levels(box):
    edit(box, "microbox", COUNT_STUB, "return sum(self.items)")  # the mistake the check's hint names
    edit(box, "microbox", PUT_STUB, "self.items.append(x)")
    out = run_pytest(box, "katas/microbox").stdout
    assert "(hint: one per item put, not the sum)" in closing(out), out
    first = workbook(box, "hint", "microbox").stdout
    assert first.startswith("microbox.Box.count: the check that fails now says"), first
    assert "one per item put, not the sum" in first
    second = workbook(box, "hint", "microbox").stdout
    assert second.startswith("microbox.Box.count: hint 1 of 2"), second  # then the task's levels


# === loop containment ===


def test_a_hung_task_is_not_reentered_from_other_tasks_tests(box):
    edit(box, "microbox", COUNT_STUB, "return len(self.items)")
    edit(box, "microbox", PUT_STUB, "while True:\n            pass")
    edit(box, "microbox", TOTAL_STUB, "return sum(box.items)")
    loop = line_of(box, "microbox", "while True:")
    report, done = grades(box, "katas/microbox", "-o", "timeout=2")
    tests = {t["name"].split("::")[1]: t for t in report["tests"]}
    assert tests["test_count_of_an_empty_box"]["status"] == "pass"
    first = tests["test_count_after_puts"]
    assert first["status"] == "timeout" and first["where"].endswith(f"microbox.py:{loop}"), first
    assert "it was running Box.put" in first["message"], first
    assert "block index" not in first["message"]  # microflash's words, not every kata's
    for name in ("test_put", "test_total"):  # two other tasks call put: blocked, not run again
        assert tests[name]["status"] == "timeout", tests[name]
        assert tests[name]["duration"] < 1, tests[name]
        assert "it calls microbox.Box.put, which timed out in test_count_after_puts" in tests[name]["message"]
    tail = closing(done.stdout)
    assert "next: fix microbox.Box.put at katas/microbox/microbox.py:" in tail, tail


# === status of one finished kata, and of untouched katas ===


def test_status_of_a_finished_kata_does_not_say_every_kata_is_done(box):
    edit(box, "microbox", COUNT_STUB, "return len(self.items)")
    edit(box, "microbox", PUT_STUB, "self.items.append(x)")
    edit(box, "microbox", TOTAL_STUB, "return sum(box.items)")
    one = workbook(box, "status", "microbox").stdout
    assert "Every kata" not in one, one
    assert "microbox: done. Well played." in one and "2 other katas" in one, one
    every = workbook(box, "status").stdout
    assert "Every kata" not in every, every
    names = [l.split()[0] for l in every.splitlines() if l.startswith("micro")]
    assert names == ["microbox"], every  # only the started kata is listed
    assert "(and 2 katas not started yet" in every, every
    assert "next: write microtoy.double" in every, every


def test_next_is_the_last_line_after_many_failures(box):
    edit(box, "microbox", COUNT_STUB, "return 1")
    edit(box, "microbox", PUT_STUB, "self.items.append(x + 1)")
    edit(box, "microbox", TOTAL_STUB, "return 0")
    out = run_pytest(box, "katas/microbox").stdout
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines[-1].startswith("next: fix microbox.Box.count at katas/microbox/microbox.py:"), out
    assert out.index("short test summary info") < out.index("next:"), out


def test_next_says_when_a_tasks_test_fails_inside_another_task(box):
    edit(box, "microbox", COUNT_STUB, "return self.items[0] // 0 if self.items else 0")  # crashes after a put
    edit(box, "microbox", PUT_STUB, "self.items.append(x)")
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    assert "next: fix microbox.Box.count at katas/microbox/microbox.py:" in tail, tail
    edit(box, "microbox", "return self.items[0] // 0 if self.items else 0", "return len(self.items)")
    edit(box, "microbox", "self.items.append(x)", "self.items.append(x // 0)")
    tail = closing(run_pytest(box, "katas/microbox").stdout)
    put = line_of(box, "microbox", "self.items.append(x // 0)")
    assert f"next: fix microbox.Box.count: its test fails inside Box.put at katas/microbox/microbox.py:{put}" in tail, tail
