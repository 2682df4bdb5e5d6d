"""Hints by level, read from each kata's README.

Format (under a ``## Hints`` heading, one ``###`` heading per task)::

    ## Hints

    ### online_softmax_update
    1. A nudge: where to look.
    2. The idea, in words.
    3. The equation-to-code mapping.

Items may wrap onto following lines. A class bundle (``workbook export``)
moves the section out of the README, so that a student sees one level at a
time, into ``workbook/pristine/<kata>.hints.md``, where ``read`` finds it. The harness tests check that every task
has at least two levels and that no hint quotes a line of the reference.
"""

from __future__ import annotations

import re
from pathlib import Path

ITEM = re.compile(r"^\s*(\d+)\.\s+(.*)$")


def parse(text: str) -> dict[str, list[str]]:
    """{task: [level 1 text, level 2 text, ...]} from a kata README."""
    hints: dict[str, list[str]] = {}
    in_hints = False
    task = None
    for line in text.splitlines():
        if line.startswith("## "):
            in_hints = line[3:].strip().lower() == "hints"
            task = None
            continue
        if not in_hints:
            continue
        if line.startswith("### "):
            task = line[4:].strip().strip("`")
            hints[task] = []
            continue
        if task is None:
            continue
        item = ITEM.match(line)
        if item:
            hints[task].append(item.group(2).strip())
        elif line.strip() and hints[task]:
            hints[task][-1] += " " + line.strip()
    return hints


SECTION = re.compile(r"^## Hints[ \t]*\n.*?(?=^## |\Z)", re.S | re.M | re.I)
MOVED_NOTE = "## Hints\n\n`python -m workbook hint {name}` shows them one level at a time.\n\n"


def moved_file(readme: Path) -> Path:
    """Where a class bundle keeps the hint levels of the kata whose README is ``readme``."""
    name = readme.parent.name
    return readme.parent.parent.parent / "workbook" / "pristine" / f"{name}.hints.md"


def split(text: str, name: str) -> tuple[str, str]:
    """(README without its hint levels, the ``## Hints`` section) for a class bundle."""
    found = SECTION.search(text)
    if not found:
        return text, ""
    return text[: found.start()] + MOVED_NOTE.format(name=name) + text[found.end():], found.group(0)


def read(readme: Path) -> dict[str, list[str]]:
    """The hints of the kata whose README is at ``readme`` ({} when it has none).

    From the README itself, else from the file a class bundle moved them to.
    """
    found = parse(readme.read_text(encoding="utf-8")) if readme.is_file() else {}
    if not found and moved_file(readme).is_file():
        found = parse(moved_file(readme).read_text(encoding="utf-8"))
    return found
