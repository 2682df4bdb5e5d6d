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


def _op_outcome(key, status):
    op = key.split(" | ")[1]
    return mutate.Outcome(mutate.Site(operator=op, occurrence=0, line=1, task="t", key=key), status, "mutant", 0.1)


def test_a_partial_sweep_merges_into_the_file_keeping_the_other_operators(tmp_path):
    path = mutate.survivor_file(tmp_path, "microtoy")
    path.parent.mkdir(parents=True)
    sweep = {"mutants": 10, "killed": 8, "timeout": 0, "survived": 1, "equivalent": 1, "score": 88.9}
    old_survivors = [
        {"id": "t | core/AddNot | x | #1", "mutant": "x", "open": "no test yet"},
        {"id": "t | workbook/DropStatement | y | #1", "mutant": "y", "equivalent": "dead store"},
    ]
    path.write_text(json.dumps({"kata": "microtoy", "baseline": dict(sweep), "sweep": sweep,
                                "survivors": old_survivors}))  # fmt: skip

    new = ["workbook/ArgumentIgnored", "workbook/KeywordDropped"]
    data = mutate.write_survivors(tmp_path, "microtoy", [
        _op_outcome("t | workbook/ArgumentIgnored | lr = 1.0 | #1", "survived"),
        _op_outcome("t | workbook/ArgumentIgnored | n = 1 | #1", "killed"),
        _op_outcome("t | workbook/KeywordDropped | f(k=1) | #1", "timeout"),
    ], swept=new)  # fmt: skip

    assert data["survivors"][:2] == old_survivors  # the other operators' survivors and reasons stand
    assert data["survivors"][2] == {"id": "t | workbook/ArgumentIgnored | lr = 1.0 | #1", "mutant": "mutant", "open": ""}
    assert data["sweep"] == {"mutants": 13, "killed": 9, "timeout": 1, "survived": 2, "equivalent": 1, "score": 83.3}
    assert data["baseline"] == sweep
    assert set(data["operators"]) == set(mutate.FIRST_OPERATORS) | set(new)
    assert data["by_operator"]["workbook/ArgumentIgnored"] == {
        "mutants": 2, "killed": 1, "timeout": 0, "survived": 1, "equivalent": 0}  # fmt: skip
    assert data["baseline_by_operator"] == data["by_operator"]

    # A second partial sweep of the same operator replaces its counts (not adds to them), keeps its first counts.
    data["survivors"][2]["equivalent"] = "lr only scales a zero gradient here"
    del data["survivors"][2]["open"]
    path.write_text(json.dumps(data))
    again = mutate.write_survivors(tmp_path, "microtoy", [
        _op_outcome("t | workbook/ArgumentIgnored | lr = 1.0 | #1", "survived"),
        _op_outcome("t | workbook/ArgumentIgnored | n = 1 | #1", "killed"),
    ], swept=["workbook/ArgumentIgnored"])  # fmt: skip
    assert again["survivors"][2]["equivalent"] == "lr only scales a zero gradient here"
    assert again["sweep"] == {"mutants": 13, "killed": 9, "timeout": 1, "survived": 1, "equivalent": 2, "score": 90.9}
    assert again["baseline_by_operator"]["workbook/ArgumentIgnored"]["survived"] == 1

    # Regrading the survivors keeps the per-operator counts in step.
    again["survivors"].append({"id": "t | workbook/KeywordDropped | g(k=2) | #1", "mutant": "g()", "open": "todo"})
    again["by_operator"]["workbook/KeywordDropped"]["survived"] += 1
    again["by_operator"]["workbook/KeywordDropped"]["mutants"] += 1
    path.write_text(json.dumps(again))
    final = mutate.update_survivors(tmp_path, "microtoy", [_op_outcome("t | workbook/KeywordDropped | g(k=2) | #1", "killed")])
    assert final["by_operator"]["workbook/KeywordDropped"] == {
        "mutants": 2, "killed": 1, "timeout": 1, "survived": 0, "equivalent": 0}  # fmt: skip
