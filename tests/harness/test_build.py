"""Skeleton generation: markers, import placement, never losing learner work."""

import ast

import pytest

from toy_workbook import make, workbook
from workbook.build import MarkerError, find_tasks, generate

SOLUTION = '''"""Doc."""

from __future__ import annotations

import math

# These tests run pytest or the CLI in subprocesses: allow more than a graded test's 10 s.
pytestmark = pytest.mark.timeout(300)


class Pager:
    def grow(self, n):
        """Grow by n pages."""
        if n < 0:
            raise ValueError("n")
        # BEGIN SOLUTION
        self.n = n
        # END SOLUTION
        return self


def root(x):
    """Square root."""
    # BEGIN SOLUTION use math.sqrt
    return math.sqrt(x)
    # END SOLUTION
'''


def test_generate_replaces_blocks_and_keeps_the_rest():
    text = generate("microx", SOLUTION)
    ast.parse(text)
    assert "self.n = n" not in text and "math.sqrt(x)" not in text
    assert "raise KataTodo('microx.Pager.grow: Grow by n pages.')" in text
    assert "raise KataTodo('microx.root: use math.sqrt')" in text
    assert 'raise ValueError("n")' in text and "return self" in text  # provided code stays
    lines = text.splitlines()
    # the import goes after the leading imports, never before `from __future__`
    assert lines.index("from workbook import KataTodo") > lines.index("import math")


def test_tasks_in_file_order():
    assert [t.function for t in find_tasks(SOLUTION)] == ["Pager.grow", "root"]


@pytest.mark.parametrize(
    "source,message",
    [
        ("def f():\n    # BEGIN SOLUTION\n    pass\n", "never closed"),
        ("def f():\n    pass\n    # END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function"),
        ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n", "inside the block"),
    ],
)
def test_marker_errors_name_the_line(source, message):
    with pytest.raises(MarkerError, match=message):
        generate("microx", source, "x.py")


def test_build_refuses_to_overwrite_learner_work_and_force_keeps_a_backup(tmp_path):
    root = make(tmp_path)
    kata = root / "katas/microtoy/microtoy.py"
    mine = kata.read_text().replace("raise KataTodo('microtoy.double: Return 2 * x.')", "return x + x")
    kata.write_text(mine)
    solution = root / "solutions/microtoy/microtoy.py"
    solution.write_text(solution.read_text().replace('"""Return 2 * x."""', '"""Return twice x."""'))

    refused = workbook(root, "build")
    assert refused.returncode == 1
    assert "has your changes" in refused.stdout and "--force" in refused.stdout
    assert kata.read_text() == mine

    forced = workbook(root, "build", "microtoy", "--force")
    assert forced.returncode == 0, forced.stdout
    backups = list((root / "katas/microtoy/backup").glob("microtoy-*.py"))
    assert len(backups) == 1 and backups[0].read_text() == mine
    assert "Return twice x." in kata.read_text()
    assert str(backups[0].relative_to(root)) in forced.stdout


def test_unmodified_stale_kata_is_rebuilt_silently(tmp_path):
    root = make(tmp_path)
    solution = root / "solutions/microtwo/microtwo.py"
    solution.write_text(solution.read_text().replace("triple the number", "multiply by three"))
    check = workbook(root, "build", "--check")
    assert check.returncode == 1
    assert "katas/microtwo/microtwo.py is stale" in check.stdout
    assert workbook(root, "build").returncode == 0
    assert "multiply by three" in (root / "katas/microtwo/microtwo.py").read_text()
    assert workbook(root, "build", "--check").returncode == 0


def test_check_reports_hand_edited_skeleton(tmp_path):
    root = make(tmp_path)
    kata = root / "katas/microtwo/microtwo.py"
    kata.write_text(kata.read_text() + "\n# my note\n")
    check = workbook(root, "build", "--check")
    assert check.returncode == 1 and "edited by hand" in check.stdout


def test_unknown_kata_suggests_the_closest(tmp_path):
    root = make(tmp_path)
    done = workbook(root, "build", "microtoyz")
    assert done.returncode == 4 and "did you mean 'microtoy'" in done.stderr


# === the trivial stubs (tests/mutants/test_trivial.py grades them) ===


@pytest.mark.timeout(120)  # 32 katas parsed and generated: more than a graded test's 10 s on a busy machine
@pytest.mark.parametrize("stub", ["none", "identity"])
def test_trivial_stubs_generate_valid_python_for_every_kata(stub):
    from workbook.build import STUBS
    from workbook.layout import discover, find_root

    assert stub in STUBS
    root = find_root()
    katas = discover(root)
    if not katas or not (root / "solutions").is_dir():
        pytest.skip("needs the full repository (solutions/)")
    for kata in katas:
        source = kata.solution.read_text(encoding="utf-8")
        text = generate(kata.name, source, str(kata.solution), stub=stub)
        tree = ast.parse(text, f"{kata.name} ({stub})")  # valid Python
        assert "KataTodo(" not in text.split("import KataTodo", 1)[-1], f"{kata.name}: a TODO stub left with stub={stub!r}"
        compile(tree, kata.name, "exec")
