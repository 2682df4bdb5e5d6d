"""Every kata in the repository meets the workbook's contract.

For each kata with graded tests: the skeleton is the one `build` generates;
every graded test names a task, every task has tests and at least two hint
levels, no hint quotes the reference; and on the pristine skeleton every
graded test is TODO (none passes).
"""

import json
import re
from pathlib import Path

import pytest

from workbook import hints
from workbook.build import BEGIN, END, find_tasks, generate
from workbook.layout import discover
from workbook.mutants import grade_file

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
KATAS = discover(ROOT)
NAMES = [k.name for k in KATAS]
needs_solutions = pytest.mark.skipif(not (ROOT / "solutions").is_dir(), reason="no solutions/ in a bundle")


def by_name(name):
    return next(k for k in KATAS if k.name == name)


def tasks_of(kata):
    return [t.function for t in find_tasks(kata.solution.read_text(), str(kata.solution))]


_PRISTINE_REPORTS = {}


def pristine_report(name, folder):
    """The grade report of the kata's graded tests run on its pristine skeleton (once per kata)."""
    if name not in _PRISTINE_REPORTS:
        kata = by_name(name)
        skeleton = folder / f"{name}.py"
        skeleton.write_text(generate(name, kata.solution.read_text(), str(kata.solution)))
        done = grade_file(ROOT, name, skeleton, ["--grade-json", str(folder / "grades.json")])
        report = json.loads((folder / "grades.json").read_text())
        _PRISTINE_REPORTS[name] = (report, done)
    return _PRISTINE_REPORTS[name]


@pytest.fixture
def report_folder(tmp_path_factory, name):
    return tmp_path_factory.mktemp(f"pristine-{name}")


def test_there_are_katas():
    assert "microflash" in NAMES


@needs_solutions
@pytest.mark.parametrize("name", NAMES)
def test_skeleton_is_generated_from_the_solution(name):
    kata = by_name(name)
    expected = generate(name, kata.solution.read_text(), str(kata.solution))
    assert kata.skeleton.is_file(), f"{kata.skeleton} missing: run python -m workbook build {name}"
    assert kata.skeleton.read_text() == expected, f"katas/{name} is stale: run python -m workbook build {name}"


@needs_solutions
@pytest.mark.parametrize("name", NAMES)
def test_tests_and_tasks_match(name, report_folder):
    """Every graded test names a task (as pytest sees its markers), and every task has tests."""
    report, done = pristine_report(name, report_folder)
    tasks, used = set(tasks_of(by_name(name))), {t["task"] for t in report["tests"]}
    assert used - tasks == set(), f"tests mark tasks that are not marked functions: {sorted(used - tasks)}"
    assert tasks - used == set(), f"tasks without graded tests: {sorted(tasks - used)}"


@needs_solutions
@pytest.mark.parametrize("name", NAMES)
def test_every_task_has_two_hint_levels(name):
    kata = by_name(name)
    found = hints.read(kata.readme)
    for task in tasks_of(kata):
        assert len(found.get(task, [])) >= 2, f"{kata.readme}: '### {task}' needs at least two numbered hints"


def _squeeze(line):
    return re.sub(r"\s+", "", line)


def _split_by_markers(source):
    """(lines inside BEGIN/END SOLUTION blocks, lines outside them), markers left out."""
    inside_lines, outside_lines, inside = [], [], False
    for line in source.splitlines():
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        else:
            (inside_lines if inside else outside_lines).append(line)
    return inside_lines, outside_lines


def _solution_lines(source):
    """Squeezed reference code lines long enough to be recognisable if they leak."""
    inside_lines, _ = _split_by_markers(source)
    squeezed = [_squeeze(line) for line in inside_lines if not line.strip().startswith("#")]
    return [line for line in squeezed if len(line) >= 20]


def _provided_lines(source):
    """Squeezed lines outside the markers: they ship in the skeleton by design."""
    return {_squeeze(line) for line in _split_by_markers(source)[1]}


@needs_solutions
@pytest.mark.parametrize("name", NAMES)
def test_hints_never_quote_the_reference(name):
    kata = by_name(name)
    text = re.sub(r"\s+", "", " ".join(level for levels in hints.read(kata.readme).values() for level in levels))
    text = text.replace("`", "")
    leaked = [line for line in _solution_lines(kata.solution.read_text()) if line in text]
    assert not leaked, f"hints in {kata.readme} quote the reference: {leaked[:3]}"


@needs_solutions
@pytest.mark.parametrize("name", NAMES)
def test_pristine_skeleton_passes_no_graded_test(name, report_folder):
    report, done = pristine_report(name, report_folder)
    statuses = {t["status"] for t in report["tests"]}
    assert report["tests"], f"no graded tests ran for {name}\n{done.stdout[-2000:]}"
    assert statuses == {"todo"}, (
        f"on the pristine skeleton every graded test must be TODO; got "
        f"{[(t['name'], t['status']) for t in report['tests'] if t['status'] != 'todo'][:5]}"
    )
