"""Meta-test: a kata that does nothing earns no points.

Two trivial submissions are generated from every solution's markers
(``workbook.build.generate(..., stub=...)``): ``none``, where every task's
block is ``return None``, and ``identity``, where it returns the task's first
argument unchanged. Each is graded with the kata's graded tests; every test
must fail (0 points). A property that holds vacuously ("leaves its inputs
alone", "is deterministic", "round-trips") must also check the result, and a
case where the identity happens to be right belongs in the same test as one
where it is not.

Each stub is graded once per run, for every kata the run selects (``-k
microflash`` grades only that kata): one pytest process per stub (the two run side by side), not per kata.
"""

import concurrent.futures
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.build import STUBS, generate
from workbook.layout import discover

ROOT = Path(__file__).resolve().parents[2]
NAMES = [k.name for k in discover(ROOT)]
TRIVIAL = [stub for stub in STUBS if stub != "todo"]

pytestmark = [
    pytest.mark.skipif(not (ROOT / "solutions").is_dir(), reason="trivial submissions are built from solutions/"),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="session")
def graded(request, tmp_path_factory):
    """{stub: {kata: [passing test ids]}} for the katas this run selects."""
    selected = sorted({item.callspec.params["kata"] for item in request.session.items
                       if item.module.__name__.endswith("test_trivial") and hasattr(item, "callspec")})

    # Files are written here, not in the threads: pytest's first mktemp also creates (and prunes) the
    # base folder, and Python 3.11's ast.parse (inside generate) is not safe in two threads at once.
    commands = {}
    for stub in TRIVIAL:
        folder = tmp_path_factory.mktemp(stub)
        args = []
        for kata in discover(ROOT):
            if kata.name in selected:
                file = folder / f"{kata.name}.py"
                file.write_text(generate(kata.name, kata.solution.read_text(encoding="utf-8"),
                                         str(kata.solution), stub=stub), encoding="utf-8")
                args += ["--kata-file", f"{kata.name}={file}", str(ROOT / "tests" / f"test_{kata.name}.py")]
        commands[stub] = (folder / "grades.json", args)

    def grade(stub):
        report, args = commands[stub]
        subprocess.run([sys.executable, "-m", "pytest", "-q", "--tb=no", "-p", "no:cacheprovider", "--grade-json",
                        str(report), *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tests = json.loads(report.read_text(encoding="utf-8"))["tests"]
        return {kata: [t["name"] for t in tests if t["kata"] == kata and t["status"] == "pass"] for kata in selected}

    # the two stubs side by side (one pytest process each), as the mutant suites use both cores
    with concurrent.futures.ThreadPoolExecutor(len(TRIVIAL)) as pool:
        results = dict(zip(TRIVIAL, pool.map(grade, TRIVIAL)))
    return results


@pytest.mark.parametrize("stub", TRIVIAL)
@pytest.mark.parametrize("kata", NAMES)
def test_a_kata_that_does_nothing_earns_no_points(kata, stub, graded):
    passing = graded[stub][kata]
    what = "returns None" if stub == "none" else "returns its first argument unchanged"
    assert not passing, (
        f"{kata}: with every task's block replaced by a body that {what}, {len(passing)} graded test(s) "
        "still pass; make each also check the result (a vacuous property earns points for nothing):\n  "
        + "\n  ".join(passing)
    )
