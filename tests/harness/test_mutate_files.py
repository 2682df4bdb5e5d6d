"""The survivor-file bookkeeping of ``workbook.mutate`` (no mutants are graded here)."""

import json

from workbook import mutate


def _site(key):
    return mutate.Site(operator="op", occurrence=0, line=1, task="norm", key=key)


def _outcome(key, status):
    return mutate.Outcome(_site(key), status, "mutant line", 0.1)


def test_regrading_the_survivors_drops_the_killed_ones_and_moves_them_to_the_kills(tmp_path):
    path = mutate.survivor_file(tmp_path, "microtoy")
    path.parent.mkdir(parents=True)
    sweep = {"mutants": 10, "killed": 6, "timeout": 0, "survived": 3, "equivalent": 1, "score": 66.7}
    path.write_text(json.dumps({
        "kata": "microtoy",
        "baseline": dict(sweep),
        "sweep": sweep,
        "survivors": [
            {"id": "a", "mutant": "x", "open": "no test yet"},
            {"id": "b", "mutant": "y", "open": "no test yet"},
            {"id": "c", "mutant": "z", "open": "hard"},
            {"id": "d", "mutant": "w", "equivalent": "same result"},
        ],
    }))  # fmt: skip

    data = mutate.update_survivors(tmp_path, "microtoy", [
        _outcome("a", "killed"), _outcome("b", "timeout"), _outcome("c", "survived"), _outcome("d", "survived"),
    ])  # fmt: skip

    assert [e["id"] for e in data["survivors"]] == ["c", "d"]
    assert data["survivors"][0]["open"] == "hard"  # reasons of the remaining survivors are kept
    assert data["sweep"] == {"mutants": 10, "killed": 7, "timeout": 1, "survived": 1, "equivalent": 1, "score": 88.9}
    assert data["baseline"]["score"] == 66.7  # the first sweep's score is history
    assert json.loads(path.read_text()) == data
