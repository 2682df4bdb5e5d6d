"""Meta-test: automatic mutation testing of the graded tests (needs cosmic-ray).

``python -m workbook.mutate --all --write`` (the full sweep, see
CONTRIBUTING.md) mutates every marked block of every solution and records
each surviving mutant in ``tests/mutants/auto/<kata>.json`` with a one-line
reason: ``equivalent`` (no input the docstring allows tells it from the
reference) or ``open`` (a known gap). These checks keep that honest in CI:

* every kata has a survivor file, and every survivor in it has a reason;
* every survivor listed still is a mutation site of the solution (an edit
  that removed or changed the line makes the entry stale: rerun the sweep);
* a bounded, deterministic sample of the other mutants of every kata is
  graded, and each must be killed; it draws from every operator the kata's
  file records a sweep of, one site per operator in turn (so the newest
  operators are drawn as often as the oldest);
* a kata not yet swept with every operator is reported as a visible skip.
"""

import concurrent.futures
import os
from pathlib import Path

import pytest

from workbook import mutate
from workbook.layout import discover

ROOT = Path(__file__).resolve().parents[2]
NAMES = [k.name for k in discover(ROOT)]
SAMPLE = int(os.environ.get("WORKBOOK_MUTATION_SAMPLE", "20"))

pytestmark = [
    pytest.mark.skipif(not (ROOT / "solutions").is_dir(), reason="mutation testing needs solutions/"),
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module")
def ops():
    pytest.importorskip("cosmic_ray", reason="install the maintainer extra: pip install -e '.[maintainer]'")
    return mutate.operators()


def _sites(kata, ops):
    return mutate.sites((ROOT / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8"), ops)


# Katas whose first full sweep is still to be run or finished (one name per
# line, ``#`` comments): their checks are skipped, visibly, until the sweep is
# committed and the kata taken off the list.
PENDING_FILE = ROOT / mutate.AUTO / "pending.txt"
PENDING = {
    line.split("#")[0].strip()
    for line in (PENDING_FILE.read_text(encoding="utf-8").splitlines() if PENDING_FILE.is_file() else [])
} - {""}


def skip_if_pending(kata):
    if kata in PENDING:
        pytest.skip(f"{kata}: full mutation sweep pending (tests/mutants/auto/pending.txt)")


def test_pending_list_names_katas():
    unknown = sorted(PENDING - set(NAMES))
    assert not unknown, f"tests/mutants/auto/pending.txt names katas that do not exist: {unknown}"


@pytest.mark.parametrize("kata", NAMES)
def test_survivor_file_exists_and_every_survivor_has_a_reason(kata):
    skip_if_pending(kata)
    path = mutate.survivor_file(ROOT, kata)
    assert path.is_file(), (
        f"{kata}: no {path.relative_to(ROOT)}; run `python -m workbook.mutate {kata} --write` "
        "and give every survivor a reason (or kill it with a test)"
    )
    data = mutate.load_survivors(ROOT, kata)
    missing = [e["id"] for e in data["survivors"] if not (e.get("equivalent") or e.get("open"))]
    assert not missing, (
        f"{kata}: {len(missing)} surviving mutant(s) without a reason in {path.relative_to(ROOT)}; "
        "kill each with a graded test, or write a one-line \"equivalent\" (or \"open\") reason:\n  "
        + "\n  ".join(missing)
    )


@pytest.mark.parametrize("kata", NAMES)
def test_listed_survivors_are_current(kata, ops):
    skip_if_pending(kata)
    current = {site.key for site in _sites(kata, ops)}
    stale = [key for key in mutate.listed(mutate.load_survivors(ROOT, kata)) if key not in current]
    assert not stale, (
        f"{kata}: the solution changed; these listed survivors are no longer mutation sites. "
        f"Rerun `python -m workbook.mutate {kata} --write`:\n  " + "\n  ".join(stale)
    )


@pytest.mark.parametrize("kata", NAMES)
def test_every_operator_has_been_swept(kata, ops):
    """A kata's file records a sweep of every operator (a new operator needs a sweep of every kata)."""
    skip_if_pending(kata)
    data = mutate.load_survivors(ROOT, kata)
    missing = [name for name in ops if name not in set(mutate.swept_operators(data))]
    names = ",".join(mutate._kebab(name) for name in missing)
    assert not missing, (
        f"{kata}: not yet swept with {names} (its CI sample leaves them out until then); run "
        f"`nice python -m workbook.mutate {kata} --operators {names} --write` and kill or explain each survivor"
    )


_OUTCOMES = {}


def _graded_sample(ops, session):
    """Grade the sample of every kata this session selected, once, several katas at a time."""
    if not _OUTCOMES:
        selected = {
            item.callspec.params["kata"]
            for item in session.items
            if getattr(item, "originalname", None) == "test_sampled_mutants_are_killed"
        }

        def run(kata):
            data = mutate.load_survivors(ROOT, kata)
            chosen = mutate.sample(_sites(kata, ops), data, kata, SAMPLE)
            return kata, mutate.sweep(ROOT, kata, chosen, ops, progress=lambda line: None)

        swept = [kata for kata in NAMES if kata not in PENDING and kata in selected]
        cwd = os.getcwd()
        os.chdir(ROOT)  # cosmic-ray runs the test command in the current directory
        try:
            with concurrent.futures.ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as pool:
                _OUTCOMES.update(pool.map(run, swept))
        finally:
            os.chdir(cwd)
    return _OUTCOMES


@pytest.mark.parametrize("kata", NAMES)
def test_sampled_mutants_are_killed(kata, ops, request):
    skip_if_pending(kata)
    outcomes = _graded_sample(ops, request.session)[kata]
    survivors = [o for o in outcomes if o.status not in ("killed", "timeout")]
    assert not survivors, f"{kata}: {len(survivors)} of {len(outcomes)} sampled mutants survive the graded tests:\n" + "\n".join(
        f"  {o.site.key}\n    mutant: {o.mutant}\n    (kill it with a test, or list it in "
        f"tests/mutants/auto/{kata}.json with an \"equivalent\" reason)"
        for o in survivors
    )
