"""Meta-test: the graded tests catch every realistic mistake listed here.

Each ``tests/mutants/<kata>.py`` lists mutants of ``solutions/<kata>/<kata>.py``;
each mutant is graded in a subprocess with the kata's graded tests and must
make at least one of them fail. Run with ``pytest tests/mutants``.
"""

import concurrent.futures
import importlib.util
import os
from pathlib import Path

import pytest

from workbook.mutants import Verdict, apply, run_mutant

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _mutant_lists():
    lists = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith(("test_", "_")):
            continue
        spec = importlib.util.spec_from_file_location(f"mutants_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        lists[path.stem] = module.MUTANTS
    return lists


MUTANTS = _mutant_lists()
CASES = [(kata, mutant) for kata, mutants in MUTANTS.items() for mutant in mutants]


_VERDICTS = {}


def verdicts_for(kata, workdir):
    """Grade all of one kata's mutants once, several at a time (only katas asked for run)."""
    if kata not in _VERDICTS:
        if not (ROOT / "solutions").is_dir():
            pytest.skip("mutants need solutions/ (not shipped in a student bundle)")

        def grade(mutant):
            try:
                return run_mutant(ROOT, kata, mutant, workdir / kata)
            except Exception as error:  # a stale or broken mutant is reported for itself alone
                return Verdict(mutant, False, f"could not grade the mutant: {error}")

        workers = max(2, os.cpu_count() or 2)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            _VERDICTS[kata] = dict(zip([m.name for m in MUTANTS[kata]], pool.map(grade, MUTANTS[kata])))
    return _VERDICTS[kata]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("mutants")


@pytest.mark.parametrize("kata", sorted(MUTANTS))
def test_every_kata_has_four_mutants(kata):
    assert len(MUTANTS[kata]) >= 4, f"{kata}: list at least four realistic mistakes"
    source = (ROOT / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
    for mutant in MUTANTS[kata]:
        compile(apply(source, mutant), mutant.name, "exec")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kata,mutant", CASES, ids=[f"{k}-{m.name}" for k, m in CASES])
def test_mutant_is_caught(workdir, kata, mutant):
    verdict = verdicts_for(kata, workdir)[mutant.name]
    assert verdict.caught, (
        f"{kata}: the graded tests accept a solution that {mutant.mistake} "
        f"(mutant {mutant.name!r}); add a test that rejects it.\n{verdict.output}"
    )
