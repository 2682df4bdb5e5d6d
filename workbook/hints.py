"""Hints by level, read from each kata's README.

Format (under a ``## Hints`` heading, one ``###`` heading per task)::

    ## Hints

    ### online_softmax_update
    1. A nudge: where to look.
    2. The idea, in words.
    3. The equation-to-code mapping.

Items may wrap onto following lines. The harness tests check that every task
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


def read(readme: Path) -> dict[str, list[str]]:
    """The hints of the kata whose README is at ``readme`` ({} when it has none)."""
    if not readme.is_file():
        return {}
    return parse(readme.read_text(encoding="utf-8"))
