"""The workbook's own mutation operators: a tiny source in, the expected mutants out (needs cosmic-ray)."""

import pytest

pytest.importorskip("cosmic_ray", reason="install the maintainer extra: pip install -e '.[maintainer]'")

from workbook import mutate  # noqa: E402

SOURCE = '''import random


def f(x, rng, scale=2.0, n=3, data=None, self_check=True):
    """A task."""
    y = list(x)
    # BEGIN SOLUTION
    total = g(y, k=scale, j=n,)
    u = rng.random() + rng.gauss(0, 1)
    return h(total, key=u, data=data)
    # END SOLUTION


def g(y, k=1.0, j=1):
    return sum(y) * k * j


def outside(a, b=1):
    return g(a, k=b)
'''

NO_IMPORT = SOURCE.replace("import random\n", "import math\n")


@pytest.fixture(scope="module")
def ops():
    return mutate.operators()


def _mutants(source, ops, name):
    chosen = mutate.select_operators(name, ops)
    return {site.key: mutate.mutated_source(source, site, chosen) for site in mutate.sites(source, chosen)}


def _block(code):
    return code.split("# BEGIN SOLUTION\n", 1)[1].split("    # END SOLUTION", 1)[0]


def test_argument_ignored_rebinds_each_parameter_at_the_start_of_the_block(ops):
    mutants = _mutants(SOURCE, ops, "argument-ignored")
    assert list(mutants) == [
        "f | workbook/ArgumentIgnored | rng = random.Random(0) | #1",
        "f | workbook/ArgumentIgnored | scale = 2.0 | #1",
        "f | workbook/ArgumentIgnored | n = 3 | #1",
        "f | workbook/ArgumentIgnored | data = None | #1",
    ]  # x: only used before the block; self_check: never read; y is not a parameter
    assert _block(mutants["f | workbook/ArgumentIgnored | scale = 2.0 | #1"]) == (
        "    scale = 2.0\n    total = g(y, k=scale, j=n,)\n"
        "    u = rng.random() + rng.gauss(0, 1)\n    return h(total, key=u, data=data)\n"
    )
    for code in mutants.values():
        compile(code, "mutant", "exec")


def test_argument_ignored_without_a_default_takes_a_plausible_value(ops):
    source = '''def t(values, bits, lr, temperature: float, greedy: bool, steps, mask, seed, model):
    """A task."""
    # BEGIN SOLUTION
    return values, bits, lr, temperature, greedy, steps, mask, seed, model
    # END SOLUTION
'''
    texts = [key.split(" | ")[2] for key in _mutants(source, ops, "ArgumentIgnored")]
    assert texts == ["bits = 1", "lr = 1.0", "temperature = 1.0", "greedy = False", "steps = 1", "mask = None", "seed = 0"]
    # values and model: the data the task works on has no stand-in (no mutant)


def test_keyword_dropped_drops_one_keyword_per_mutant(ops):
    mutants = _mutants(SOURCE, ops, "keyword-dropped")
    lines = {key: _block(code).splitlines() for key, code in mutants.items()}
    assert lines == {
        "f | workbook/KeywordDropped | total = g(y, k=scale, j=n,) | #1": [
            "    total = g(y, j=n,)", "    u = rng.random() + rng.gauss(0, 1)", "    return h(total, key=u, data=data)",
        ],
        "f | workbook/KeywordDropped | total = g(y, k=scale, j=n,) | #2": [
            "    total = g(y, k=scale,)", "    u = rng.random() + rng.gauss(0, 1)", "    return h(total, key=u, data=data)",
        ],
        "f | workbook/KeywordDropped | return h(total, key=u, data=data) | #1": [
            "    total = g(y, k=scale, j=n,)", "    u = rng.random() + rng.gauss(0, 1)", "    return h(total, data=data)",
        ],
        "f | workbook/KeywordDropped | return h(total, key=u, data=data) | #2": [
            "    total = g(y, k=scale, j=n,)", "    u = rng.random() + rng.gauss(0, 1)", "    return h(total, key=u)",
        ],
    }  # fmt: skip  (outside() is not a task: no mutant there)


def test_keyword_dropped_keeps_valid_python_for_a_lone_or_first_keyword(ops):
    source = '''def t(a):
    """A task."""
    # BEGIN SOLUTION
    b = f(key=a)
    return sorted(a, key=len, reverse=True)
    # END SOLUTION
'''
    codes = {key: _block(code).splitlines()[0 if "b = f" in key else 1] for key, code in _mutants(source, ops, "KeywordDropped").items()}
    assert sorted(codes.values()) == ["    b = f()", "    return sorted(a, key=len)", "    return sorted(a, reverse=True)"]


def test_rng_replaced_uses_the_global_module(ops):
    mutants = _mutants(SOURCE, ops, "rng-replaced")
    assert [_block(code).splitlines()[1] for code in mutants.values()] == [
        "    u = random.random() + rng.gauss(0, 1)",
        "    u = rng.random() + random.gauss(0, 1)",
    ]
    assert list(mutants) == [
        "f | workbook/RngReplaced | u = rng.random() + rng.gauss(0, 1) | #1",
        "f | workbook/RngReplaced | u = rng.random() + rng.gauss(0, 1) | #2",
    ]


def test_rng_replaced_imports_random_where_the_module_does_not(ops):
    mutants = _mutants(NO_IMPORT, ops, "rng-replaced")
    first = next(iter(mutants.values()))
    assert '__import__("random").random()' in first
    namespace = {}
    exec(compile(first, "mutant", "exec"), namespace)  # runs: random is importable in the mutant


def test_identities_survive_edits_elsewhere(ops):
    edited = SOURCE.replace('    y = list(x)\n', '    y = list(x)\n    y = y[:]\n').replace("def g(", "def g0():\n    pass\n\n\ndef g(")
    chosen = mutate.select_operators("new", ops)
    assert [s.key for s in mutate.sites(SOURCE, chosen)] == [s.key for s in mutate.sites(edited, chosen)]


def test_operator_names_and_groups(ops):
    assert list(mutate.select_operators("new", ops)) == mutate.NEW_OPERATORS
    assert list(mutate.select_operators("keyword-dropped,workbook/RngReplaced,ArgumentIgnored", ops)) == mutate.NEW_OPERATORS
    assert set(mutate.select_operators("core", ops)) == set(mutate.CORE_OPERATORS)
    with pytest.raises(ValueError, match="unknown operator 'nope'"):
        mutate.select_operators("nope", ops)


def test_the_ci_sample_draws_from_every_swept_operator(ops):
    source = (mutate.find_root() / "solutions" / "microbeam" / "microbeam.py").read_text(encoding="utf-8")
    all_sites = mutate.sites(source, ops)
    everything = {"sweep": {}, "operators": sorted(ops), "survivors": []}
    chosen = mutate.sample(all_sites, everything, "microbeam", 40)
    drawn = {site.operator for site in chosen}
    present = {site.operator for site in all_sites}
    assert len(drawn) == min(40, len(present))  # one site per operator before any operator gets a second
    assert mutate.sample(all_sites, everything, "microbeam", 40) == chosen  # seeded
    small = mutate.sample(all_sites, everything, "microbeam", 200)
    assert set(mutate.NEW_OPERATORS) <= {site.operator for site in small}
    old_file = {"sweep": {}, "survivors": []}  # swept before the new operators existed
    assert not {s.operator for s in mutate.sample(all_sites, old_file, "microbeam", 200)} & set(mutate.NEW_OPERATORS)
