"""Meta-test: every ValueError a learner writes is graded on its message too.

For each ``raise ValueError(...)`` inside a solution's markers,
``workbook.messages`` makes a mutant whose message says only "invalid
input"; the kata's graded tests must reject it (a test that checks the
message names the bad argument). Run with ``pytest tests/mutants``.
"""

import concurrent.futures
import os
from pathlib import Path

import pytest

from workbook.layout import discover
from workbook.messages import message_mutants
from workbook.mutants import grade_file

ROOT = Path(__file__).resolve().parents[2]
KATAS = [k for k in discover(ROOT) if k.solution.is_file()]
CASES = [(k.name, m) for k in KATAS for m in message_mutants(k.solution.read_text(encoding="utf-8"))]
_VERDICTS = {}


def verdicts_for(kata, workdir):
    """Grade all of one kata's message mutants once, two at a time."""
    if kata not in _VERDICTS:
        mutants = [m for name, m in CASES if name == kata]

        def grade(mutant):
            path = workdir / kata / mutant.name.replace(":", "-") / f"{kata}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(mutant.source, encoding="utf-8")
            done = grade_file(ROOT, kata, path, ["-x"])
            return done.returncode == 1, done.stdout[-2000:]

        with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
            _VERDICTS[kata] = dict(zip([m.name for m in mutants], pool.map(grade, mutants)))
    return _VERDICTS[kata]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("messages")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("kata,mutant", CASES, ids=[f"{k}-{m.name}" for k, m in CASES])
def test_value_error_message_is_graded(workdir, kata, mutant):
    caught, output = verdicts_for(kata, workdir)[mutant.name]
    assert caught, (
        f"{kata}: the ValueError raised at solutions/{kata}/{kata}.py:{mutant.line} can say just "
        f"'invalid input' and every graded test still passes; add a test that expects the message "
        f"to name the bad argument (pytest.raises(ValueError, match=r'\\bname\\b')).\n{output}"
    )
