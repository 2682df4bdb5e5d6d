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

from workbook.mutants import apply, run_mutant

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


@pytest.fixture(scope="session")
def verdicts(tmp_path_factory):
    """Grade every mutant once, several at a time."""
    if not (ROOT / "solutions").is_dir():
        pytest.skip("mutants need solutions/ (not shipped in a student bundle)")
    workdir = tmp_path_factory.mktemp("mutants")
    workers = max(2, os.cpu_count() or 2)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            (kata, m.name): pool.submit(run_mutant, ROOT, kata, m, workdir / kata) for kata, m in CASES
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("kata", sorted(MUTANTS))
def test_every_kata_has_four_mutants(kata):
    assert len(MUTANTS[kata]) >= 4, f"{kata}: list at least four realistic mistakes"
    source = (ROOT / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
    for mutant in MUTANTS[kata]:
        compile(apply(source, mutant), mutant.name, "exec")


@pytest.mark.parametrize("kata,mutant", CASES, ids=[f"{k}-{m.name}" for k, m in CASES])
def test_mutant_is_caught(verdicts, kata, mutant):
    verdict = verdicts[(kata, mutant.name)]
    assert verdict.caught, (
        f"{kata}: the graded tests accept a solution that {mutant.mistake} "
        f"(mutant {mutant.name!r}); add a test that rejects it.\n{verdict.output}"
    )
