"""``report.html``: a class's grades on one page a teacher would rather look at than read.

Written by ``workbook grade DIR... --out OUT`` next to ``gradebook.csv``. One
self-contained file: inline CSS, no script, no network, no font or image to
fetch, so it opens from a laptop, a shared drive or an e-mail. It shows:

* the class's points: students graded, mean, median, and each kata's mean;
* a heatmap of students x tasks (green earned, red failed, grey TODO);
* the tasks the class fails most, each with its most common failure message
  (what to explain again on Monday);
* the submissions that timed out, crashed or did not load.

Every name and message is escaped: a student's folder or failure message is
text on this page, never markup. Standard library only.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter

MESSAGE_CHARS = 300
MOST_FAILED = 10

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.muted { color: #667; } .cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #dde; border-radius: 8px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
table { border-collapse: collapse; } th, td { padding: 2px 6px; text-align: left; }
.katas td { border-bottom: 1px solid #eef; } .bar { background: #4a8; height: 10px; display: inline-block; }
.heat { overflow-x: auto; max-width: 100%; } .heat table { font-size: 12px; }
.heat th.kata { border-left: 2px solid #fff; background: #eef; text-align: center; }
.heat th.task { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal;
  white-space: nowrap; vertical-align: bottom; padding: 4px 0; }
.heat th.corner { vertical-align: bottom; }
.heat td.cell { width: 14px; min-width: 14px; height: 18px; padding: 0; border: 1px solid #fff; }
.heat td.first { border-left: 2px solid #fff; }
.heat td.name { white-space: nowrap; padding-right: 10px; } .heat td.total { font-weight: bold; padding-left: 10px; }
.pass { background: #2e9e5b; } .fail { background: #d64545; } .todo { background: #d5d8de; }
.missing { background: repeating-linear-gradient(45deg, #ccc, #ccc 3px, #eee 3px, #eee 6px); }
.legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin: 0 4px 0 12px; }
.failed td { vertical-align: top; border-bottom: 1px solid #eef; padding: 6px; }
pre { white-space: pre-wrap; margin: 0; font-size: 12px; background: #f6f7f9; padding: 4px 6px; }
.problem td { border-bottom: 1px solid #eef; padding: 4px 6px; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _columns(outcomes, katas: list[str]) -> list[tuple[str, list[str]]]:
    """(kata, its tasks in kata order) for each gradebook kata, from the first report that has it."""
    columns = []
    for kata in katas:
        tasks: list[str] = []
        for outcome in outcomes:
            entry = next((k for k in (outcome.report or {}).get("katas", []) if k["name"] == kata), None)
            if entry:
                tasks = [t["name"] for t in entry["tasks"]]
                break
        columns.append((kata, tasks))
    return columns


def _cell(task: dict | None, student: str, kata: str, name: str) -> tuple[str, str]:
    """(css class and inline style, tooltip) of one heatmap cell."""
    if task is None:
        return 'class="cell missing"', f"{student} · {kata}.{name}: not graded"
    earned, most = task["points"], task["max_points"]
    tip = f"{student} · {kata}.{name}: {earned:.2f}/{most:.2f} ({task['status']})"
    if task["status"] == "todo":
        return 'class="cell todo"', tip
    share = earned / most if most else (1.0 if task["status"] == "pass" else 0.0)
    if share >= 1 - 1e-9:
        return 'class="cell pass"', tip
    if share <= 1e-9:
        return 'class="cell fail"', tip
    hue = round(120 * share)  # red (0) to green (120): partial credit
    return f'class="cell" style="background: hsl({hue}, 60%, 48%)"', tip


def _problems(outcome) -> list[str]:
    """What went wrong with a submission beyond failing tests: timeouts, crashes, loading."""
    found = []
    if outcome.report is None:
        found.append(outcome.note or "not graded")
        return found
    if outcome.note:
        found.append(outcome.note)
    if not outcome.report.get("complete", True):
        found.append("the run did not finish (a hang?); points so far")
    for kata in outcome.report.get("katas", []):
        if kata.get("message"):
            found.append(f"{kata['name']} did not load: {kata['message'][:MESSAGE_CHARS]}")
    timeouts = Counter(t["kata"] for t in outcome.report.get("tests", []) if t["status"] == "timeout")
    for kata, count in timeouts.items():
        found.append(f"{kata}: {count} test(s) timed out")
    return found


def class_report(outcomes, katas: list[str], title: str = "Class report") -> str:
    """The page, as one HTML string."""
    columns = _columns(outcomes, katas)
    graded = [o for o in outcomes if o.report is not None]
    totals = [o.report["points"] for o in graded]
    most = max((o.report["max_points"] for o in graded), default=0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">{len(outcomes)} students, {len(katas)} katas, {most:g} points possible. '
        "The same numbers as gradebook.csv beside this page.</p>",
        '<div class="cards">',
        f'<div class="card">graded<b id="graded">{len(graded)}/{len(outcomes)}</b></div>',
        f'<div class="card">mean<b id="mean">{statistics.fmean(totals) if totals else 0:.2f}</b></div>',
        f'<div class="card">median<b id="median">{statistics.median(totals) if totals else 0:.2f}</b></div>',
        f'<div class="card">full marks<b>{sum(1 for t in totals if most and t >= most - 1e-6)}</b></div>',
        "</div>",
    ]
    # === per kata ===
    parts.append('<h2>Points per kata</h2><table class="katas"><tr><th>kata</th><th>mean</th><th></th>'
                 "<th>full marks</th></tr>")
    for kata, _ in columns:
        earned, possible = [], 0.0
        for o in graded:
            entry = next((k for k in o.report["katas"] if k["name"] == kata), None)
            if entry:
                earned.append(entry["points"])
                possible = max(possible, entry["max_points"])
        mean = statistics.fmean(earned) if earned else 0.0
        width = round(200 * mean / possible) if possible else 0
        full = sum(1 for e in earned if possible and e >= possible - 1e-6)
        parts.append(f"<tr><td>{_e(kata)}</td><td>{mean:.1f}/{possible:g}</td>"
                     f'<td><span class="bar" style="width: {width}px"></span></td><td>{full}</td></tr>')
    parts.append("</table>")
    # === heatmap ===
    parts.append('<h2>Students &times; tasks</h2><p class="legend muted">'
                 '<span class="pass"></span>passed<span style="background: hsl(60, 60%, 48%)"></span>'
                 'part of its cases<span class="fail"></span>failed<span class="todo"></span>TODO'
                 '<span class="missing"></span>not graded</p>')
    parts.append('<div class="heat"><table id="heatmap"><tr><th></th>')
    for kata, tasks in columns:
        parts.append(f'<th class="kata" colspan="{max(len(tasks), 1)}">{_e(kata)}</th>')
    parts.append('<th></th></tr><tr><th class="corner">student</th>')
    for kata, tasks in columns:
        for task in tasks or [""]:
            parts.append(f'<th class="task" title="{_e(kata)}.{_e(task)}">{_e(task)}</th>')
    parts.append('<th class="corner">total</th></tr>')
    for o in outcomes:
        total = f"{o.report['points']:.2f}" if o.report else "0.00"
        parts.append(f'<tr class="student" data-student="{_e(o.student)}" data-total="{total}">'
                     f'<td class="name">{_e(o.student)}</td>')
        by_kata = {k["name"]: {t["name"]: t for t in k["tasks"]} for k in (o.report or {}).get("katas", [])}
        for kata, tasks in columns:
            for index, task in enumerate(tasks or [""]):
                attrs, tip = _cell(by_kata.get(kata, {}).get(task), o.student, kata, task)
                first = ' first' if index == 0 else ''
                attrs = attrs.replace('class="cell', f'class="cell{first}', 1)
                parts.append(f'<td {attrs} title="{_e(tip)}"></td>')
        parts.append(f'<td class="total">{total}</td></tr>')
    parts.append("</table></div>")
    # === the tasks failed most ===
    failing: Counter = Counter()
    messages: dict[tuple[str, str], Counter] = {}
    for o in graded:
        statuses = {(k["name"], t["name"]): t["status"] for k in o.report["katas"] for t in k["tasks"]}
        first: dict[tuple[str, str], str] = {}
        for test in o.report.get("tests", []):
            key = (test["kata"], test["task"])
            if test["status"] != "pass" and key not in first:
                first[key] = f"{test['status'].upper()}: {(test.get('message') or '')[:MESSAGE_CHARS]}"
        for key, status in statuses.items():
            if status != "pass":
                failing[key] += 1
                messages.setdefault(key, Counter())[first.get(key, status.upper())] += 1
    parts.append("<h2>The tasks the class fails most</h2>")
    if failing:
        parts.append('<table class="failed" id="most-failed"><tr><th>task</th><th>students</th>'
                     "<th>most common failure</th></tr>")
        for (kata, task), count in failing.most_common(MOST_FAILED):
            message, same = messages[(kata, task)].most_common(1)[0]
            parts.append(f"<tr><td>{_e(kata)}.{_e(task)}</td><td>{count}/{len(graded)}</td>"
                         f"<td><pre>{_e(message)}</pre><span class=\"muted\">{same} of them</span></td></tr>")
        parts.append("</table>")
    else:
        parts.append('<p class="muted">Every graded student passed every task.</p>')
    # === timed out, crashed ===
    parts.append("<h2>Timed out or crashed</h2>")
    troubled = [(o, _problems(o)) for o in outcomes]
    troubled = [(o, found) for o, found in troubled if found]
    if troubled:
        parts.append('<table class="problem" id="problems"><tr><th>student</th><th>what happened</th></tr>')
        for o, found in troubled:
            parts.append(f"<tr><td>{_e(o.student)}</td><td>{'<br>'.join(_e(f) for f in found)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append('<p class="muted">None: every submission was graded to the end.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
