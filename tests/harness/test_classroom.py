"""Teaching on the platforms: assignments, Gradescope, GitHub Classroom, the class report, class runs."""

import json

import pytest

from toy_workbook import grades, make, pytest as run_pytest, workbook

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def toy(tmp_path):
    return make(tmp_path)


def solve_double(root):
    kata = root / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text().replace("raise KataTodo('microtoy.double: Return 2 * x.')", "return x + x"))


# === assignments ===


def test_an_assignment_bundle_has_its_katas_and_the_same_points_everywhere(toy, tmp_path):
    bundle = tmp_path / "bundle"
    done = workbook(toy, "export", str(bundle), "--katas", "microtoy", "--points", "microtoy=60")
    assert done.returncode == 0, done.stderr
    assert not (bundle / "katas/microtwo").exists() and not (bundle / "tests/test_microtwo.py").exists()
    assignment = json.loads((bundle / "grading.json").read_text())
    assert assignment == {"katas": ["microtoy"], "weights": {"microtoy": 60.0}}
    solve_double(bundle)
    # the student's own run: the closing table and --grade-json
    report, done = grades(bundle)
    assert (report["points"], report["max_points"]) == (30, 60)
    row = next(line for line in done.stdout.splitlines() if line.startswith("microtoy"))
    assert row.split()[-1] == "30/60", done.stdout
    # the teacher regrades from the full copy with the bundle's assignment file
    done = workbook(toy, "grade", str(bundle), "--assignment", str(bundle / "grading.json"),
                    "--grade-json", str(tmp_path / "regrade.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    regrade = json.loads((tmp_path / "regrade.json").read_text())
    assert [k["name"] for k in regrade["katas"]] == ["microtoy"]
    assert (regrade["points"], regrade["max_points"]) == (30, 60)
    # ... or from inside a pristine export, which reads its own grading.json
    done = workbook(bundle, "grade", str(bundle), "--grade-json", str(tmp_path / "inside.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "inside.json").read_text())["max_points"] == 60


def test_by_default_every_kata_is_worth_100(toy, tmp_path):
    done = workbook(toy, "export", str(tmp_path / "all"))
    assert done.returncode == 0, done.stderr
    assignment = json.loads((tmp_path / "all/grading.json").read_text())
    assert assignment == {"katas": ["microtoy", "microtwo"], "weights": {"microtoy": 100.0, "microtwo": 100.0}}


def test_the_teachers_grading_json_weights_carry_into_the_export(toy, tmp_path):
    (toy / "grading.json").write_text('{"weights": {"microtwo": 25}}')
    done = workbook(toy, "export", str(tmp_path / "b"), "--points", "microtoy=10")
    assert done.returncode == 0, done.stderr
    weights = json.loads((tmp_path / "b/grading.json").read_text())["weights"]
    assert weights == {"microtoy": 10.0, "microtwo": 25.0}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--katas", "nosuch"], "unknown kata 'nosuch'"),
        (["--katas", "microtoy", "--points", "microtwo=5"], "'microtwo' is not one of the exported katas"),
        (["--points", "microtoy=-1"], "must be a number >= 0"),
        (["--points", "microtoy"], "expected KATA=POINTS"),
    ],
)
def test_a_bad_selection_is_a_usage_error_and_writes_nothing(toy, tmp_path, args, message):
    done = workbook(toy, "export", str(tmp_path / "b"), *args)
    assert done.returncode == 4 and message in done.stderr, done.stderr
    assert not (tmp_path / "b").exists()


def test_a_class_bundle_keeps_hint_levels_out_of_the_readme_but_hint_still_works(toy, tmp_path):
    bundle = tmp_path / "bundle"
    assert workbook(toy, "export", str(bundle)).returncode == 0
    readme = (bundle / "katas/microtoy/README.md").read_text()
    assert "Multiply." not in readme and "python -m workbook hint microtoy" in readme
    first = workbook(bundle, "hint", "microtoy", "double")
    assert first.returncode == 0 and "Multiply." in first.stdout and "By two." not in first.stdout
    second = workbook(bundle, "hint", "microtoy", "double")
    assert "By two." in second.stdout
