"""The pytest plugin, end to end on a toy workbook: modes, statuses, isolation."""

import pytest

from toy_workbook import grades, make, pytest as run_pytest

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def toy(tmp_path):
    return make(tmp_path)


def test_pristine_katas_are_all_todo_with_stub_location(toy):
    done = run_pytest(toy)
    assert done.returncode == 1
    out = done.stdout
    assert "TODO  microtoy.double" in out
    assert "katas/microtoy/microtoy.py:" in out
    assert "Return 2 * x." in out  # the one-line task
    assert "triple the number" in out  # task text given after the marker
    assert "Traceback" not in out and "KataTodo(" not in out.split("workbook: grading")[0]
    assert "5 todo" in out
    assert "next: write microtoy.double at katas/microtoy/microtoy.py:" in out


def test_solutions_mode_passes(toy):
    done = run_pytest(toy, "--solutions")
    assert done.returncode == 0, done.stdout
    assert "5 passed" in done.stdout
    assert "grading solutions/ (reference)" in done.stdout


@pytest.mark.parametrize(
    "arg", ["katas/microtoy", "katas/microtoy/", "katas/microtoy/microtoy.py", "solutions/microtoy"]
)
def test_kata_path_runs_exactly_that_katas_tests(toy, arg):
    done = run_pytest(toy, arg, "--solutions")
    assert "4 passed" in done.stdout, done.stdout
    assert "test_microtwo" not in done.stdout


def test_nothing_is_collected_twice(toy):
    done = run_pytest(toy, "--solutions", "katas", "solutions", "tests", "katas/microtoy", "--collect-only", "-q")
    lines = [l for l in done.stdout.splitlines() if "::" in l]
    assert len(lines) == len(set(lines)) == 5, done.stdout


def test_syntax_error_is_reported_for_that_kata_alone(toy):
    (toy / "katas/microtoy/microtoy.py").write_text("def double(x):\n    return 2 *\n")
    report, done = grades(toy)
    assert "katas/microtoy/microtoy.py:2: SyntaxError" in done.stdout, done.stdout
    statuses = {t["name"].split("::")[1]: t["status"] for t in report["tests"]}
    assert statuses["test_triple"] == "todo"  # the other kata still ran
    assert {s for n, s in statuses.items() if n != "test_triple"} == {"error"}
    assert "Traceback" not in done.stdout


def test_exception_at_import_is_reported_with_line(toy):
    (toy / "katas/microtwo/microtwo.py").write_text("x = 1\nraise RuntimeError('boom')\n")
    report, done = grades(toy)
    assert "katas/microtwo/microtwo.py:2: RuntimeError: boom" in done.stdout, done.stdout
    assert [t["status"] for t in report["tests"] if "microtwo" in t["name"]] == ["error"]


def test_infinite_loop_times_out_and_the_run_goes_on(toy):
    source = (toy / "katas/microtoy/microtoy.py").read_text()
    source = source.replace("raise KataTodo('microtoy.double: Return 2 * x.')", "while True:\n        pass")
    (toy / "katas/microtoy/microtoy.py").write_text(source)
    report, done = grades(toy, "-o", "timeout=1", "-k", "test_double and 1 or norm or triple")
    statuses = [t["status"] for t in report["tests"]]
    assert statuses == ["timeout", "todo", "todo"], done.stdout
    assert "TIMEOUT" in done.stdout and "timed out after 1" in done.stdout
    assert report["tests"][0]["where"].startswith("katas/microtoy/microtoy.py:")


def test_grades_give_partial_credit_per_test(toy):
    source = (toy / "katas/microtoy/microtoy.py").read_text()
    # double right for 1 and 3 only (2 of 3 tests), norm still TODO
    source = source.replace("raise KataTodo('microtoy.double: Return 2 * x.')", "return 5 if x == 2 else 2 * x")
    (toy / "katas/microtoy/microtoy.py").write_text(source)
    report, _ = grades(toy)
    toy_kata = next(k for k in report["katas"] if k["name"] == "microtoy")
    assert toy_kata["max_points"] == 100
    assert toy_kata["points"] == pytest.approx(50 * 2 / 3, abs=1e-3)
    assert [t["status"] for t in toy_kata["tasks"]] == ["fail", "todo"]
    assert report["complete"] is True and report["status"] == "fail"
    assert report["max_points"] == 200


def test_weights_from_grading_json(toy):
    (toy / "grading.json").write_text('{"weights": {"microtoy": 30, "microtwo": 70}}')
    report, _ = grades(toy, "--solutions")
    assert report["points"] == report["max_points"] == 100
    assert report["status"] == "pass"


def test_solutions_flag_without_solutions_folder(toy):
    import shutil

    shutil.rmtree(toy / "solutions")
    done = run_pytest(toy, "--solutions")
    assert done.returncode != 0
    assert "solutions are not included" in done.stderr
    assert run_pytest(toy).returncode == 1  # learner mode still grades


def test_bad_kata_file_flag(toy):
    done = run_pytest(toy, "--kata-file", "microtoy")
    assert done.returncode != 0 and "NAME=PATH" in done.stderr


def test_grade_report_survives_a_killed_run(toy):
    """A run killed while a test hangs still leaves a report; the hanging test counts as a timeout."""
    import json
    import subprocess
    import sys
    import time

    source = (toy / "katas/microtoy/microtoy.py").read_text()
    source = source.replace("raise KataTodo('microtoy.norm: Euclidean norm of the vector v.')", "while True:\n        pass")
    (toy / "katas/microtoy/microtoy.py").write_text(source)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--grade-json", "grades.json", "-o", "timeout=0", "-q"],
        cwd=toy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        report = {}
        for _ in range(200):
            time.sleep(0.1)
            path = toy / "grades.json"
            if path.is_file():
                report = json.loads(path.read_text())
                if any(t["task"] == "norm" for t in report["tests"]):
                    break
    finally:
        process.kill()
        process.wait()
    statuses = {t["name"].split("::")[1]: t["status"] for t in report["tests"]}
    assert statuses["test_norm"] == "timeout", statuses
    assert report["complete"] is False
    assert [s for n, s in statuses.items() if n.startswith("test_double")] == ["todo"] * 3
