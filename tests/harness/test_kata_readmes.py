"""Every kata README tells the learner that running their kata file runs *their* code through the
demo (issue 21), on the line after its grade line; `python .ci/demo_line.py` adds it."""

from toy_workbook import ROOT
from workbook.layout import discover


def test_every_kata_readme_says_how_to_run_your_code_through_the_demo():
    for kata in discover(ROOT):
        lines = kata.readme.read_text(encoding="utf-8").splitlines()
        grade = next((i for i, l in enumerate(lines) if l.startswith(f"pytest katas/{kata.name} ")
                      and "# grade your file" in l), None)
        assert grade is not None, f"{kata.readme}: no grade line in '## Run it'"
        demo = lines[grade + 1]
        assert demo.startswith(f"python katas/{kata.name}/{kata.name}.py ") and \
            demo.endswith("# run YOUR code through the demo (it stops at a TODO)"), (
            f"{kata.readme}: the line after the grade line should run your code through the demo "
            f"(add it with `python .ci/demo_line.py`), got {demo!r}")
