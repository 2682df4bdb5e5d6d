"""Where things live: the repository root, the katas and their files.

One kata is one name, e.g. ``microflash``, with
``solutions/<name>/<name>.py`` (the reference, absent from student bundles),
``katas/<name>/<name>.py`` (the learner's skeleton), ``katas/<name>/README.md``
and ``tests/test_<name>.py`` (the graded tests).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

# The learning path, track by track, in the seeds' order (foundations and
# alignment from seed 003, the systems track in seed 002's order), then the
# serving and the compression-and-training tracks. Within a track each kata
# builds on the ones before it. Katas not listed here sort after these,
# alphabetically.
TRACKS = [
    ("foundations", ["microgpt", "micrornn", "microtokenizer", "microembedding", "microrag",
                     "microdiffusion", "microvae"]),
    ("alignment", ["microlora", "microdpo", "microppo", "microgrpo", "micromoe"]),
    ("systems", ["microrope", "microattention", "microkv", "micropaged", "microflash",
                 "microcheckpoint", "microparallel", "microquant", "microssm", "microbeam"]),
    ("serving", ["microdecoding", "microprefix", "microbatching", "microspeculative"]),
    ("compression and training", ["microprecision", "microoutlier", "microgptq", "microbitnet",
                                  "microzero", "microgalore"]),
]
LEARNING_PATH = [name for _, names in TRACKS for name in names]


def find_root(start: Path | None = None) -> Path:
    """The workbook root: the nearest folder holding ``workbook/`` and ``katas/``.

    Looks upward from ``start`` (default: the current directory), then falls
    back to the folder this package was imported from.
    """
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "workbook" / "__init__.py").is_file() and (folder / "katas").is_dir():
            return folder
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "katas").is_dir():
        return package_parent
    raise FileNotFoundError(
        f"no workbook found from {here}: run this inside the workbook folder "
        "(the one with katas/ and workbook/)"
    )


@dataclass(frozen=True)
class Kata:
    """The files of one kata, relative to a workbook root."""

    name: str
    root: Path

    @property
    def solution(self) -> Path:
        return self.root / "solutions" / self.name / f"{self.name}.py"

    @property
    def skeleton(self) -> Path:
        return self.root / "katas" / self.name / f"{self.name}.py"

    @property
    def readme(self) -> Path:
        return self.root / "katas" / self.name / "README.md"

    @property
    def tests(self) -> Path:
        return self.root / "tests" / f"test_{self.name}.py"

    def path(self, solutions: bool) -> Path:
        """The module under test: the reference or the learner's file."""
        return self.solution if solutions else self.skeleton


def shown(path: Path, root: Path | None = None) -> str:
    """``path`` as a learner would type it: relative to the current folder, else to ``root``."""
    resolved = Path(path).resolve()
    for base in (Path.cwd().resolve(), root.resolve() if root else None):
        if base is not None:
            try:
                return str(resolved.relative_to(base))
            except ValueError:
                pass
    return str(path)


def path_order(name: str) -> tuple[int, str]:
    """Sort key putting learning-path katas first, in path order."""
    if name in LEARNING_PATH:
        return (LEARNING_PATH.index(name), name)
    return (len(LEARNING_PATH), name)


def discover(root: Path) -> list[Kata]:
    """Every kata that has graded tests, in learning-path order."""
    names = {
        p.stem[len("test_"):]
        for p in (root / "tests").glob("test_*.py")
        if (root / "katas" / p.stem[len("test_"):]).is_dir()
        or (root / "solutions" / p.stem[len("test_"):]).is_dir()
    }
    return [Kata(n, root) for n in sorted(names, key=path_order)]


def kata_named(root: Path, name: str) -> Kata:
    """The kata called ``name``, or a ValueError suggesting the closest name."""
    katas = {k.name: k for k in discover(root)}
    if name in katas:
        return katas[name]
    close = difflib.get_close_matches(name, list(katas), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    known = ", ".join(katas) or "none"
    raise ValueError(f"unknown kata {name!r}{hint} (katas: {known})")
