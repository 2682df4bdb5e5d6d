"""The learner and teacher commands: status, hint, reset, export, grade."""

import json

import pytest

from toy_workbook import grades, make, pytest as run_pytest, solve_double, workbook

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def toy(tmp_path):
    return make(tmp_path)


def test_status_lists_the_started_katas_and_the_next_task(toy):
    done = workbook(toy, "status")
    assert done.returncode == 0, done.stderr
    assert "(no kata started yet: 2 katas, all TODO)" in done.stdout, done.stdout
    assert "next: write microtoy.double at katas/microtoy/microtoy.py:" in done.stdout
    solve_double(toy)
    done = workbook(toy, "status")
    row = next(l for l in done.stdout.splitlines() if l.startswith("microtoy"))
    assert row.split()[:5] == ["microtoy", "2", "1", "0", "1"], done.stdout
    assert not any(l.startswith("microtwo") for l in done.stdout.splitlines()), done.stdout  # not started
    assert "(and 1 kata not started yet" in done.stdout, done.stdout
    assert "next: write microtoy.norm" in done.stdout


def test_status_shows_a_failing_task_to_fix(toy):
    kata = toy / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text().replace("raise KataTodo('microtoy.double: Return 2 * x.')", "return x"))
    done = workbook(toy, "status")
    assert "next: fix microtoy.double" in done.stdout, done.stdout


def test_status_points_at_the_kata_in_progress(toy):
    kata = toy / "katas/microtwo/microtwo.py"
    kata.write_text(kata.read_text().replace("raise KataTodo('microtwo.triple: triple the number')", "return x"))
    done = workbook(toy, "status")
    assert "next: fix microtwo.triple" in done.stdout, done.stdout


def test_status_reports_a_broken_file(toy):
    (toy / "katas/microtwo/microtwo.py").write_text("def triple(x:\n")
    done = workbook(toy, "status")
    assert done.returncode == 0
    assert "katas/microtwo/microtwo.py:1: SyntaxError" in done.stdout


def test_watch_grades_again_after_a_save(toy):
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "workbook", "watch", "microtoy", "--interval", "0.1", "--max-runs", "2"],
        cwd=toy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen = []
    for line in process.stdout:  # wait for the first grading to finish
        seen.append(line)
        if line.startswith("watching"):
            break
    time.sleep(0.05)  # a new modification time, even on coarse clocks
    solve_double(toy)
    rest, _ = process.communicate(timeout=120)
    out = "".join(seen) + rest
    assert out.count("watching microtoy") == 2, out
    assert "4 todo" in out and "3 passed, 1 todo" in out


def test_hint_goes_up_one_level_per_call_and_never_past_the_last(toy):
    first = workbook(toy, "hint", "microtoy")
    assert "microtoy.double: hint 1 of 2" in first.stdout and "Multiply." in first.stdout
    second = workbook(toy, "hint", "microtoy", "double")
    assert "hint 2 of 2" in second.stdout and "By two." in second.stdout
    third = workbook(toy, "hint", "microtoy")
    assert "hint 2 of 2" in third.stdout and "last hint" in third.stdout
    again = workbook(toy, "hint", "microtoy", "--level", "1")
    assert "hint 1 of 2" in again.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["hint", "microtoi"], "did you mean"),
        (["hint", "microtoy", "dubble"], "did you mean 'double'"),
        (["hint", "microtoy", "--level", "7"], "--level must be between 1 and 2"),
        (["reset", "nope"], "unknown kata 'nope'"),
        (["grade", "no/such/folder"], "no such folder"),
        (["export"], "export needs a folder (DIR)"),
        (["status", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_clear_errors(toy, args, message):
    done = workbook(toy, *args)
    assert done.returncode == 4
    assert message in done.stderr, done.stderr


def test_reset_backs_up_then_restores(toy):
    kata = toy / "katas/microtoy/microtoy.py"
    pristine = kata.read_text()
    solve_double(toy)
    mine = kata.read_text()
    done = workbook(toy, "reset", "microtoy")
    assert done.returncode == 0
    assert kata.read_text() == pristine
    backups = list((toy / "katas/microtoy/backup").glob("*.py"))
    assert [b.read_text() for b in backups] == [mine]
    assert str(backups[0].relative_to(toy)) in done.stdout
    # a second reset has nothing to save and loses nothing
    assert "already the pristine" in workbook(toy, "reset", "microtoy").stdout
    assert len(list((toy / "katas/microtoy/backup").glob("*.py"))) == 1


def test_export_makes_a_bundle_without_solutions_that_grades_the_same(toy, tmp_path):
    bundle = tmp_path / "bundle"
    done = workbook(toy, "export", str(bundle))
    assert done.returncode == 0, done.stderr
    assert not (bundle / "solutions").exists() and not (bundle / "tests/mutants").exists()
    assert not any("return 2 * x" in p.read_text() for p in bundle.rglob("*.py"))
    learner = run_pytest(bundle)
    assert learner.returncode == 1 and "5 todo" in learner.stdout
    refused = run_pytest(bundle, "--solutions")
    assert refused.returncode != 0 and "solutions are not included" in refused.stderr
    # reset works in the bundle from its saved pristine copies
    solve_double(bundle)
    assert workbook(bundle, "reset", "microtoy").returncode == 0
    assert "raise KataTodo" in (bundle / "katas/microtoy/microtoy.py").read_text()
    assert workbook(bundle, "status").returncode == 0


def test_export_refuses_a_non_empty_folder(toy, tmp_path):
    target = tmp_path / "full"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    done = workbook(toy, "export", str(target))
    assert done.returncode == 4 and "not empty" in done.stderr
    assert (target / "keep.txt").read_text() == "mine"


def test_regrading_ignores_edited_tests(toy, tmp_path):
    bundle = tmp_path / "student"
    workbook(toy, "export", str(bundle))
    solve_double(bundle)
    # the student "fixes" the test for norm so that it passes without the work
    tests = bundle / "tests/test_microtoy.py"
    tests.write_text(tests.read_text().replace("assert kata.norm([3, 4]) == 5", "assert True"))
    own, _ = grades(bundle)
    assert own["katas"][0]["points"] == 100  # their copy believes everything passes
    done = workbook(toy, "grade", str(bundle), "--grade-json", str(tmp_path / "regrade.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    regrade = json.loads((tmp_path / "regrade.json").read_text())
    toy_kata = next(k for k in regrade["katas"] if k["name"] == "microtoy")
    assert toy_kata["points"] == 50  # double done, norm still TODO
    assert "Points 50.00/200.00" in done.stdout


def test_the_real_bundle_reveals_no_solution(tmp_path):
    """Export this repository: no reference line appears anywhere in the bundle."""
    import subprocess
    import sys

    from toy_workbook import ROOT
    from test_catalogue import _provided_lines, _solution_lines, _squeeze

    if not (ROOT / "solutions").is_dir():
        pytest.skip("already a bundle")
    bundle = tmp_path / "bundle"
    done = subprocess.run(
        [sys.executable, "-m", "workbook", "export", str(bundle)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    reference = {}
    for path in (ROOT / "solutions").glob("*/*.py"):
        source = path.read_text()
        reference[path.stem] = set(_solution_lines(source)) - _provided_lines(source)
    everything = set().union(*reference.values())
    for path in bundle.rglob("*"):
        if not path.is_file() or path.suffix not in (".py", ".md", ".json", ".txt", ".toml"):
            continue
        parts = path.relative_to(bundle).parts
        if parts[0] == "tests":
            continue  # the graded tests ship as they are
        if parts[0] == "katas":
            lines = reference.get(parts[1], set())
        elif parts[:2] == ("workbook", "pristine"):
            lines = reference.get(path.name.split(".")[0], set())  # that kata's skeleton or hints
        else:
            lines = everything
        shipped = {_squeeze(line) for line in path.read_text(errors="replace").splitlines()}
        leaked = [line for line in lines if line in shipped]
        assert not leaked, f"{path.relative_to(bundle)} contains reference code: {leaked[:2]}"
    learner = run_pytest(bundle, "katas/microflash", "-q")
    *_, closing, next_step = learner.stdout.strip().splitlines()  # `next:` is printed last
    assert next_step.startswith("next: write microflash."), next_step
    assert learner.returncode == 1 and " todo in " in closing, closing
    assert "passed" not in closing and "failed" not in closing, closing
