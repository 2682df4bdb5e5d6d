"""The exports for the platforms teachers already use: Gradescope and GitHub Classroom.

* ``write_gradescope_zip``: an autograder zip (Gradescope's documented
  layout: ``setup.sh`` and ``run_autograder`` at its root, next to a student
  bundle, no solutions). ``run_autograder`` runs ``python -m
  workbook.gradescope`` (see ``gradescope.py``).
* ``write_github_classroom``: the autograding workflow GitHub Classroom runs
  on each push, one reported runner per kata with its partial points.
* ``python -m workbook.platforms classroom-result GRADES.JSON KATA``: one
  kata's result in the form GitHub Classroom's grading reporter reads (a
  base64 JSON ``result=`` line for ``$GITHUB_OUTPUT``).

Standard library only.
"""

from __future__ import annotations

import base64
import json
import stat
import sys
import zipfile
from pathlib import Path

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (Ubuntu). It installs Python and this workbook from the zip itself; the only
# network it needs is the package index (pytest, pytest-timeout, pytest-check).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
if ! python3 -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    apt-get update
    apt-get install -y python3 python3-venv python3-pip
fi
python3 -m venv "$ROOT/venv" || { apt-get install -y python3-venv && python3 -m venv "$ROOT/venv"; }
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet -e "$SOURCE"
chmod -R a+rX "$SOURCE" "$ROOT/venv"   # the submission is graded as an unprivileged user
(cd "$SOURCE" && "$ROOT/venv/bin/python" -m workbook --help > /dev/null)
echo "workbook autograder installed"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission. It grades /autograder/submission
# with the bundle in /autograder/source (isolated workers, as an unprivileged
# user) and writes /autograder/results/results.json. AUTOGRADER_ROOT names
# another root (the workbook's own tests use it).
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${WORKBOOK_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
cd "$ROOT/source" || exit 1
exec "$PYTHON" -m workbook.gradescope
"""


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_gradescope_zip(bundle: Path, target: Path) -> None:
    """Zip ``bundle`` (a student bundle) with ``setup.sh`` and ``run_autograder`` at the root."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        for path in sorted(bundle.rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                _add(archive, path.relative_to(bundle).as_posix(), path.read_bytes())


# === GitHub Classroom ===

WORKFLOW = Path(".github") / "workflows" / "classroom.yml"
PROTECTED = [".github/**", "tests/**", "workbook/**", "conftest.py", "pyproject.toml", "grading.json"]


def github_workflow(katas: list[str], points: dict[str, float]) -> str:
    """The autograding workflow: grade once from the template's tests, report one runner per kata."""
    protected = " ".join(p.rstrip("*").rstrip("/") for p in PROTECTED if not p.startswith(".github"))
    lines = [
        "# GitHub Classroom autograding for this workbook (written by `python -m workbook export",
        "# --github-classroom`). On each push it grades the student's katas/ with the",
        "# TEMPLATE's tests, harness and points: the files below are restored from the",
        "# repository's first commit (the template) before grading, so a student's edits",
        "# to them do not count. In the assignment's settings, also list these as",
        "# protected paths so that GitHub Classroom flags a submission that edits them",
        f"# (this workflow included): {', '.join(PROTECTED)}",
        "name: Autograding Tests",
        "'on':",
        "  - push",
        "  - workflow_dispatch",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    timeout-minutes: 30",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "        with:",
        "          fetch-depth: 0",
        "      - name: Restore the template's tests and harness",
        "        run: |",
        "          template=\"$(git rev-list --max-parents=0 HEAD | tail -n 1)\"",
        f"          changed=\"$(git diff --name-only \"$template\" HEAD -- {protected} .github)\"",
        "          if [ -n \"$changed\" ]; then",
        "            echo \"::warning::these files differ from the template and are graded as the template has them:\"",
        "            echo \"$changed\"",
        "          fi",
        f"          git checkout \"$template\" -- {protected}",
        "      - uses: actions/setup-python@v5",
        "        with:",
        "          python-version: '3.12'",
        "      - name: Install the workbook",
        "        run: python -m pip install --quiet -e .",
        "      - name: Grade (isolated workers)",
        "        run: python -m workbook grade . --grade-json \"$RUNNER_TEMP/grades.json\"",
    ]
    for kata in katas:
        lines += [
            f"      - name: {kata} ({points[kata]:g} points)",
            f"        id: {kata}",
            "        if: always()",
            f"        run: python -m workbook.platforms classroom-result \"$RUNNER_TEMP/grades.json\" {kata}"
            " >> \"$GITHUB_OUTPUT\"",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        if: always()",
        "        uses: classroom-resources/autograding-grading-reporter@v1",
        "        env:",
        *[f"          {kata.upper()}_RESULTS: \"${{{{ steps.{kata}.outputs.result }}}}\"" for kata in katas],
        "        with:",
        f"          runners: {','.join(katas)}",
        "      - name: Keep the full report (per task and test)",
        "        if: always()",
        "        uses: actions/upload-artifact@v4",
        "        with:",
        "          name: grades",
        "          path: ${{ runner.temp }}/grades.json",
    ]
    return "\n".join(lines) + "\n"


def write_github_classroom(bundle: Path, katas, points: dict[str, float]) -> list[Path]:
    """Add the autograding workflow to ``bundle`` (a student bundle); return the files written."""
    names = [getattr(k, "name", k) for k in katas]
    path = bundle / WORKFLOW
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(github_workflow(names, points), encoding="utf-8")
    return [path]


def classroom_result(report: dict | None, kata: str, max_score: float) -> dict:
    """One kata as GitHub Classroom's grading reporter reads a runner: tests with their scores."""
    entry = next((k for k in (report or {}).get("katas", []) if k["name"] == kata), None)
    if entry is None:
        return {"version": 1, "status": "error", "max_score": max_score,
                "tests": [{"name": kata, "status": "error", "score": 0,
                           "message": "not graded (the grading step failed; see its log)"}]}
    messages: dict[str, str] = {}
    for test in report.get("tests", []):
        if test["kata"] == kata and test["status"] != "pass" and test["task"] not in messages:
            messages[test["task"]] = f"{test['status'].upper()}: {test.get('message', '')}"[:500]
    tests = [{"name": f"{kata}.{task['name']}", "status": "pass" if task["status"] == "pass" else "fail",
              "score": task["points"], "message": messages.get(task["name"], ""), "line_no": 0}
             for task in entry["tasks"]]
    status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    return {"version": 1, "status": status, "max_score": entry["max_points"], "tests": tests}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] != "classroom-result":
        print("usage: python -m workbook.platforms classroom-result GRADES.JSON KATA", file=sys.stderr)
        return 4
    _, report_path, kata = argv
    try:
        report = json.loads(Path(report_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    from .grading import load_assignment
    from .layout import find_root

    max_score = load_assignment(find_root()).points(kata)
    encoded = base64.b64encode(json.dumps(classroom_result(report, kata, max_score)).encode()).decode()
    print(f"result={encoded}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
