"""Put the "run your own code through the demo" line in every kata README (idempotent).

It goes right after the README's grade line in "## Run it", the same place in
each kata:

    pytest katas/<k>                # grade your file
    python katas/<k>/<k>.py         # run YOUR code through the demo (it stops at a TODO)

tests/harness/test_runner.py checks that every README has it. Run from the
repository root: ``python .ci/demo_line.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo_line(name: str, width: int) -> str:
    command = f"python katas/{name}/{name}.py"
    return f"{command:<{width}}# run YOUR code through the demo (it stops at a TODO)"


def grade_line(name: str) -> re.Pattern:
    return re.compile(rf"^(pytest katas/{name}\s+)# grade your file.*$", re.M)


def add(text: str, name: str) -> str:
    """The README text with the demo line after its grade line (unchanged if already there)."""
    match = grade_line(name).search(text)
    if match is None:
        raise ValueError(f"katas/{name}/README.md has no line 'pytest katas/{name}  # grade your file'")
    width = max(len(match.group(1)), len(f"python katas/{name}/{name}.py") + 2)
    line = demo_line(name, width)
    if line in text:
        return text
    end = match.end()
    return text[:end] + "\n" + line + text[end:]


def main() -> int:
    changed = 0
    for readme in sorted((ROOT / "katas").glob("*/README.md")):
        name = readme.parent.name
        text = readme.read_text(encoding="utf-8")
        new = add(text, name)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            changed += 1
    print(f"demo line added to {changed} kata READMEs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
