"""Teaching on the platforms: assignments, Gradescope, GitHub Classroom, the class report, class runs."""

import base64
import csv
import html as html_module
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from toy_workbook import TOY_SOLUTION, TWO_SOLUTION, grades, make, solve_double, workbook

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def toy(tmp_path):
    return make(tmp_path)


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


# === Gradescope ===

SCHEMA = Path(__file__).parent / "schemas" / "gradescope-results.schema.json"


@pytest.fixture
def autograder(toy, tmp_path):
    """The exported autograder unzipped into a tree laid out like Gradescope's /autograder.

    Made under /tmp with mode 755 (not in pytest's private tmp_path), so that
    run_autograder, when run as root, can grade as the unprivileged user the
    way it does on Gradescope.
    """
    archive = tmp_path / "autograder.zip"
    done = workbook(toy, "export", "--gradescope", str(archive))
    assert done.returncode == 0, done.stderr
    root = Path(tempfile.mkdtemp(prefix="workbook-autograder-test-"))
    os.chmod(root, 0o755)
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert "setup.sh" in names and "run_autograder" in names
        assert not any(n.startswith("solutions/") for n in names), "the autograder must hold no solutions"
        assert not any("return 2 * x" in zipped.read(n).decode("utf-8", "replace") for n in names)
        zipped.extractall(root / "source")
    for path in (root / "source").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run_autograder(root: Path) -> dict:
    """Run run_autograder without setup.sh (this interpreter stands in for the venv it makes)."""
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), WORKBOOK_PYTHON=sys.executable)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, capture_output=True,
                          text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return read_results(root)


def read_results(root: Path) -> dict:
    import jsonschema

    data = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))
    return data


def test_gradescope_reference_submission_gets_full_marks_from_a_zip_of_the_bundle(autograder, tmp_path):
    with zipfile.ZipFile(autograder / "submission" / "my-workbook.zip", "w") as zipped:
        zipped.writestr("my-workbook/katas/microtoy/microtoy.py", TOY_SOLUTION)
        zipped.writestr("my-workbook/katas/microtwo/microtwo.py", TWO_SOLUTION)
        zipped.writestr("my-workbook/workbook/pristine/microtoy.py", "raise SystemExit  # not the kata")
    data = run_autograder(autograder)
    assert data["score"] == 200, data["output"]
    assert [t["name"] for t in data["tests"]] == ["microtoy: double", "microtoy: norm", "microtwo: triple"]
    assert [t["number"] for t in data["tests"]] == ["1.1", "1.2", "2.1"]
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in data["tests"])
    assert data["execution_time"] >= 0


def test_gradescope_pristine_folder_gets_zero_with_each_tasks_message(autograder, toy):
    shutil.copytree(toy / "katas", autograder / "submission" / "katas")
    data = run_autograder(autograder)
    assert data["score"] == 0
    double = data["tests"][0]
    assert double["status"] == "failed" and double["max_score"] == 50
    assert "TODO (katas/microtoy/microtoy.py:" in double["output"] and "Return 2 * x" in double["output"]


def test_gradescope_kata_files_with_a_mistake_get_partial_credit_and_the_failure_message(autograder):
    wrong = TOY_SOLUTION.replace("return math.sqrt(sum(a * a for a in v))", "return sum(v)")
    (autograder / "submission" / "microtoy.py").write_text(wrong)
    data = run_autograder(autograder)
    assert data["score"] == 50, data["output"]
    norm = next(t for t in data["tests"] if t["name"] == "microtoy: norm")
    assert norm["status"] == "failed" and "assert 7 == 5" in norm["output"], norm
    assert "not submitted" in data["output"] and "microtwo" in data["output"]


HOSTILE = '''\
import json, os, time

RESULTS = {results!r}
FORGED = {{"score": 1000, "output": "forged", "tests": []}}


def forge():
    try:
        with open(RESULTS, "w") as handle:
            json.dump(FORGED, handle)
    except OSError:
        pass


def forged():
    try:
        with open(RESULTS) as handle:
            return json.load(handle) == FORGED
    except (OSError, ValueError):
        return False


forge()
if os.fork() == 0:  # a daemon that outlives grading and forges the real results once they are written
    os.setsid()
    if os.fork() == 0:
        for _ in range(600):
            time.sleep(0.1)
            if os.path.exists(RESULTS) and not forged():
                forge()
                break
    os._exit(0)
print("x" * 100000)


def double(x):
    return [x] * 10 ** 6


def norm(v):
    raise SystemExit(0)
'''


def test_gradescope_hostile_submission_gets_zero_and_valid_results(autograder):
    results = autograder / "results" / "results.json"
    (autograder / "submission" / "microtoy.py").write_text(HOSTILE.format(results=str(results)))
    data = run_autograder(autograder)
    assert data["score"] == 0, data["output"]
    from workbook import classroom

    if os.geteuid() == 0 and not classroom.pid_namespace():
        pytest.skip("root without a PID namespace (unshare) here: a forked daemon could outlive grading "
                    "(without root, workers cannot fork at all)")
    time.sleep(2)  # the daemon's try comes once the real results exist
    assert read_results(autograder) == data, "a process left by the submission rewrote results.json"


def test_gradescope_malformed_upload_gets_a_clear_message(autograder):
    (autograder / "submission" / "notes.txt").write_text("I did my best")
    (autograder / "submission" / "work.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (autograder / "submission" / "microtwo.py").symlink_to("/etc/passwd")
    data = run_autograder(autograder)
    assert data["score"] == 0
    assert "No kata file found in your submission" in data["output"]
    assert "work.zip: not a zip file that can be read" in data["output"]
    assert "microtwo.py: a symbolic link, ignored" in data["output"]
    assert "Traceback" not in data["output"]
    assert all(t["status"] == "failed" for t in data["tests"])


# === GitHub Classroom ===


def _git(folder, *args):
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_github_classroom_workflow_passes_the_workflow_schema(toy, tmp_path):
    bundle = tmp_path / "bundle"
    done = workbook(toy, "export", str(bundle), "--github-classroom", "--points", "microtoy=60,microtwo=40")
    assert done.returncode == 0, done.stderr
    workflow = bundle / ".github/workflows/classroom.yml"
    linter = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(linter).exists():
        pytest.fail("check-jsonschema is missing: install the maintainer extra (pip install -e '.[maintainer]')")
    lint = subprocess.run([linter, "--builtin-schema", "vendor.github-workflows", str(workflow)],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    text = workflow.read_text()
    assert "runners: microtoy,microtwo" in text and "microtoy (60 points)" in text


def test_github_classroom_steps_grade_with_the_templates_tests_and_report_points_per_kata(toy, tmp_path):
    """Run the workflow's own shell steps in a student repository made from the template."""
    from ruamel.yaml import YAML

    repo = tmp_path / "student"
    assert workbook(toy, "export", str(repo), "--github-classroom", "--points", "microtoy=60").returncode == 0
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "Initial commit")  # what GitHub Classroom copies from the template
    solve_double(repo)
    tests = repo / "tests/test_microtoy.py"
    tests.write_text(tests.read_text().replace("assert kata.norm([3, 4]) == 5", "assert True"))
    _git(repo, "commit", "-qam", "done (and an easier test)")
    steps = YAML(typ="safe").load((repo / ".github/workflows/classroom.yml").read_text())
    steps = steps["jobs"]["run-autograding-tests"]["steps"]
    runner_temp, output = tmp_path / "runner", tmp_path / "github_output"
    runner_temp.mkdir()
    env = dict(os.environ, RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(output))
    env.pop("PYTEST_ADDOPTS", None)
    for step in steps:
        if "run" in step and "pip install" not in step["run"]:
            done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True,
                                  text=True, timeout=240)
            assert done.returncode == 0, f"{step.get('name')}: {done.stdout}{done.stderr}"
            if "Restore" in step.get("name", ""):
                assert "tests/test_microtoy.py" in done.stdout  # named in the warning
    assert "assert kata.norm([3, 4]) == 5" in tests.read_text()  # the template's test is back
    results = {}
    for line in output.read_text().splitlines():
        key, _, value = line.partition("=")
        assert key == "result"
        data = json.loads(base64.b64decode(value))
        results[data["tests"][0]["name"].split(".")[0]] = data
    toy_result, two_result = results["microtoy"], results["microtwo"]
    assert toy_result["max_score"] == 60 and two_result["max_score"] == 100
    assert sum(t["score"] for t in toy_result["tests"]) == 30  # double only: the edited test did not count
    norm = next(t for t in toy_result["tests"] if t["name"] == "microtoy.norm")
    assert norm["status"] == "fail" and "TODO" in norm["message"]


# === class runs ===


def pupil(folder: Path, toy_source: str | None = None, two_source: str | None = None) -> Path:
    """A student folder holding only kata files (a missing kata is graded as all TODO)."""
    folder.mkdir(parents=True)
    for name, source in (("microtoy", toy_source), ("microtwo", two_source)):
        if source is not None:
            (folder / "katas" / name).mkdir(parents=True)
            (folder / "katas" / name / f"{name}.py").write_text(source)
    return folder


def gradebook(out: Path, name: str = "gradebook.csv") -> dict:
    return {row["student"]: row for row in csv.DictReader((out / name).open())}


CLASS_DAEMON = '''\
import os, time

TARGETS = {targets!r}


def double(x):
    return 2 * x


if os.fork() == 0:  # a daemon in its own session that waits for the class's files, then rewrites them
    os.setsid()
    if os.fork() == 0:
        for _ in range(900):
            time.sleep(0.1)
            if all(os.path.isfile(t) for t in TARGETS):
                time.sleep(0.3)
                for t in TARGETS:
                    with open(t, "w") as handle:
                        handle.write("rewritten by a student")
                break
    os._exit(0)
'''


def test_a_class_run_survives_planted_files_links_formulas_and_same_names(toy, tmp_path):
    from workbook import classroom

    students = tmp_path / "students"
    out = tmp_path / "out"
    (out / "bob.json").mkdir(parents=True)  # planted where reports go
    (out / "gradebook.csv").mkdir()
    folders = [
        pupil(students / "A" / "bob", TOY_SOLUTION, TWO_SOLUTION),
        pupil(students / "B" / "bob", TOY_SOLUTION),
        pupil(students / "C" / "bob-2"),
        pupil(students / "D" / "=HYPERLINK(evil)", TOY_SOLUTION),
        pupil(students / "E" / "daemon", CLASS_DAEMON.format(
            targets=[str(out / "daemon.json"), str(out / "gradebook-2.csv")])),
    ]
    loop = students / "F" / "loop"
    loop.parent.mkdir()
    loop.symlink_to(loop)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env_tmp = {"TMPDIR": str(scratch)}
    done = subprocess.run(
        [sys.executable, "-m", "workbook", "grade", *map(str, folders), str(loop), "--jobs", "2",
         "--out", str(out)], cwd=toy, capture_output=True, text=True, timeout=280,
        env={**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, **env_tmp,
             "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # the planted folders are left alone; the gradebook and bob's report go beside them
    assert (out / "bob.json").is_dir() and (out / "gradebook.csv").is_dir()
    assert "the gradebook is" in done.stderr and "gradebook-2.csv" in done.stderr
    rows = gradebook(out, "gradebook-2.csv")
    assert list(rows) == ["bob", "bob-2", "bob-2-2", "'=HYPERLINK(evil)", "daemon", "loop"]
    assert rows["bob"]["total"] == "200.00"
    # A/bob, B/bob and C/bob-2: three rows, three reports (bob.json was taken by the planted folder)
    reports = {name: json.loads((out / f"{name}.json").read_text())["points"] for name in ("bob-2-2",)}
    assert reports == {"bob-2-2": 0}
    assert "report written to" in rows["bob"]["note"]
    written = rows["bob"]["note"].split("report written to ")[1]
    assert written not in ("bob-2.json", "bob-2-2.json")  # those are B/bob's and C/bob-2's
    assert json.loads((out / written).read_text())["points"] == 200
    assert json.loads((out / "bob-2.json").read_text())["points"] == 100
    assert rows["bob-2"]["total"] == "100.00"
    assert "symbolic link loop" in rows["loop"]["note"] and rows["loop"]["total"] == "0.00"
    # nothing left in the temporary folder
    assert list(scratch.iterdir()) == [], list(scratch.iterdir())
    # a daemon the student forked cannot rewrite the class's files once grading is over
    if os.geteuid() == 0 and not classroom.pid_namespace():
        pytest.skip("root without a PID namespace (unshare) here: a forked daemon could outlive grading "
                    "(without root, workers cannot fork at all)")
    time.sleep(2)
    assert json.loads((out / "daemon.json").read_text())["points"] == 50
    assert "rewritten" not in (out / "gradebook-2.csv").read_text()
    assert (out / "report.html").is_file()


def test_student_timeout_kills_everything_the_student_started(toy, tmp_path):
    marker = tmp_path / "alive"
    hang = textwrap.dedent(f'''\
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c",
                          "import time, pathlib\\nwhile True:\\n    pathlib.Path({str(marker)!r}).touch()\\n"
                          "    time.sleep(0.1)"], start_new_session=False)
        time.sleep(600)
    ''')
    folder = pupil(tmp_path / "s" / "hang", hang)
    out = tmp_path / "out"
    started = time.monotonic()
    # --no-sandbox: the kata must reach the host's marker; under bubblewrap its children die
    # with the sandbox anyway (--unshare-pid, --die-with-parent)
    done = workbook(toy, "grade", str(folder), "--out", str(out), "--student-timeout", "8", "--no-sandbox")
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started < 60
    assert "did not finish within 8s" in gradebook(out)["hang"]["note"]
    problems = (out / "report.html").read_text().split('id="problems"')[1]
    assert "hang" in problems and "did not finish within 8s" in problems
    assert marker.exists(), "the hanging kata never started its child"
    time.sleep(1)
    before = marker.stat().st_mtime
    time.sleep(1.5)
    assert marker.stat().st_mtime == before, "a process the student started still runs after the timeout"


# === report.html in a real browser ===

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and Path(p).exists()), None)


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}", *args,
               page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium): "
                                             "report.html was not rendered in a browser")
def test_report_html_renders_in_chromium_and_shows_the_gradebook(toy, tmp_path):
    wrong_norm = TOY_SOLUTION.replace("return math.sqrt(sum(a * a for a in v))", "return sum(v)")
    folders = [
        pupil(tmp_path / "s" / "ada", TOY_SOLUTION, TWO_SOLUTION),
        pupil(tmp_path / "s" / "<img src=x onerror=alert(1)>bo", wrong_norm),
        pupil(tmp_path / "s" / "cy", "import os\nos._exit(3)\n", TWO_SOLUTION),
        pupil(tmp_path / "s" / "dee", wrong_norm, "def triple(x):\n    return x * 3\n"),
    ]
    out = tmp_path / "out"
    done = workbook(toy, "grade", *map(str, folders), "--jobs", "2", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    page = out / "report.html"
    source = page.read_text()
    assert "<script" not in source.lower() and "http://" not in source and "https://" not in source
    assert "<img src=x" not in source, "a folder name must be text on the page, never markup"
    rows = gradebook(out)
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    shown = dict(re.findall(r'data-student="([^"]*)" data-total="([^"]*)"', dom.stdout))
    assert {html_module.unescape(k): v for k, v in shown.items()} == {s: r["total"] for s, r in rows.items()}
    # the tasks failed most, with the most common failure message
    most_failed = dom.stdout.split('id="most-failed"')[1].split("</table>")[0]
    assert "microtoy.norm" in most_failed and "assert 7 == 5" in most_failed
    # what crashed: cy's microtoy did not load
    problems = dom.stdout.split('id="problems"')[1].split("</table>")[0]
    assert "cy" in problems and "microtoy did not load" in problems
    screenshot = tmp_path / "report.png"
    shot = chromium(page, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1200,1000")
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    print(f"screenshot: {screenshot}")


def test_a_daemon_cannot_rewrite_one_students_report_after_grade_returns(toy, tmp_path):
    from workbook import classroom

    if os.geteuid() == 0 and not classroom.pid_namespace():
        pytest.skip("root without a PID namespace (unshare) here: a forked daemon could outlive grading "
                    "(without root, workers cannot fork at all)")
    report = tmp_path / "out" / "grades.json"
    folder = pupil(tmp_path / "s" / "daemon", CLASS_DAEMON.format(targets=[str(report)]))
    done = workbook(toy, "grade", str(folder), "--grade-json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    time.sleep(2)
    assert json.loads(report.read_text())["points"] == 50
