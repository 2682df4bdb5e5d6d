"""A tiny throwaway workbook (two katas) for testing the harness end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TOY_SOLUTION = '''\
"""Toy kata: two small tasks."""

import math


def double(x):
    """Return 2 * x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION


def norm(v):
    """Euclidean norm of the vector v."""
    # BEGIN SOLUTION
    return math.sqrt(sum(a * a for a in v))
    # END SOLUTION
'''

TOY_TESTS = '''\
import pytest


@pytest.mark.task("double")
@pytest.mark.parametrize("x", [1, 2, 3])
def test_double(kata, x):
    assert kata.double(x) == 2 * x


@pytest.mark.task("norm")
def test_norm(kata):
    assert kata.norm([3, 4]) == 5
'''

TWO_SOLUTION = '''\
"""Second toy kata."""


def triple(x):
    """Return 3 * x."""
    # BEGIN SOLUTION triple the number
    return 3 * x
    # END SOLUTION
'''

TWO_TESTS = '''\
import pytest


@pytest.mark.task("triple")
def test_triple(kata):
    assert kata.triple(2) == 6
'''

README = """# {name}: toy

## Tasks, in order

1. `double`

## Hints

### double
1. Multiply.
2. By two.
"""


def make(tmp: Path) -> Path:
    """Create a workbook with katas microtoy and microtwo under ``tmp`` and build it."""
    root = tmp / "wb"
    for name, solution, tests in (("microtoy", TOY_SOLUTION, TOY_TESTS), ("microtwo", TWO_SOLUTION, TWO_TESTS)):
        (root / "solutions" / name).mkdir(parents=True)
        (root / "solutions" / name / f"{name}.py").write_text(solution)
        (root / "katas" / name).mkdir(parents=True)
        (root / "katas" / name / "README.md").write_text(README.format(name=name))
        (root / "tests").mkdir(exist_ok=True)
        (root / "tests" / f"test_{name}.py").write_text(tests)
    (root / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.pytest.ini_options]
            testpaths = ["tests"]
            addopts = "--tb=short -m 'not slow' -p no:cacheprovider"
            timeout = 10
            """
        )
    )
    (root / "workbook").symlink_to(ROOT / "workbook")
    done = workbook(root, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def _env() -> dict:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def pytest(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run pytest inside the toy workbook."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=root, capture_output=True, text=True,
        timeout=timeout, env=_env(),
    )


def workbook(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m workbook`` inside the toy workbook."""
    return subprocess.run(
        [sys.executable, "-m", "workbook", *args], cwd=cwd or root, capture_output=True, text=True,
        timeout=120, env=_env(),
    )


def grades(root: Path, *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    """Run pytest with --grade-json and return the parsed report."""
    done = pytest(root, "--grade-json", "grades.json", *args)
    return json.loads((root / "grades.json").read_text()), done


def solve_double(root: Path) -> None:
    """Write the toy kata's first task (``double``) correctly in the workbook at ``root``."""
    kata = root / "katas/microtoy/microtoy.py"
    kata.write_text(kata.read_text().replace("raise KataTodo('microtoy.double: Return 2 * x.')", "return x + x"))
