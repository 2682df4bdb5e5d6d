"""Automatic mutation testing of the graded tests (maintainers; needs cosmic-ray).

The hand-written mutants in ``tests/mutants/<kata>.py`` hold the mistakes
their authors thought of. This module asks the question systematically: it
mutates every learner task of a solution (only the code between
``# BEGIN SOLUTION`` and ``# END SOLUTION``, which is what a learner writes)
with cosmic-ray's mutation operators, grades each mutant with the kata's
graded tests, and reports killed, survived and timed-out mutants per kata.

cosmic-ray (https://github.com/sixty-north/cosmic-ray) supplies the
operators (its parso-based ``Operator`` classes), the engine that applies
one occurrence of an operator (``mutate_code``) and the test runner with a
process-group timeout (``run_tests``). This module adds what is specific to
the workbook: which of cosmic-ray's operators model learner mistakes, a few
operators cosmic-ray lacks (dropped statement, swapped arguments, range
off-by-one, ``-inf`` to 0), the restriction to marked blocks (leaving out
f-strings: the text of error messages is not graded), a stable
identity per mutant, and the per-kata survivor files. A mutant is written to
a temporary file and graded with ``--kata-file``: the solution in the tree is
never touched.

Survivor files: ``tests/mutants/auto/<kata>.json`` lists every mutant the
full sweep saw survive, each with either ``"equivalent": "<one-line
reason>"`` (it behaves exactly like the reference on every input the
docstring allows) or ``"open": "<why it is not killed yet>"`` (a real gap,
counted against the score). ``tests/mutants/test_automatic.py`` checks in CI
that the files are current and grades a bounded, deterministic sample of the
other mutants of every kata.

Commands::

    python -m workbook.mutate microflash            # full sweep of one kata, report only
    python -m workbook.mutate --all --write         # full sweep, update the survivor files and RESULTS.md
    python -m workbook.mutate microflash --sample 20  # the CI sample
    python -m workbook.mutate microflash --list     # every mutation site and its identity
    python -m workbook.mutate microflash --survivors --write  # regrade the listed survivors after a new test
    python -m workbook.mutate microflash --operators new --write  # sweep only some operators, merged into the file
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import difflib
import json
import os
import queue
import random
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from .build import find_tasks
from .layout import discover, find_root

AUTO = Path("tests") / "mutants" / "auto"
SAMPLE_SEED = "workbook-mutation-sample-v1"

# cosmic-ray operators that model learner mistakes. The full core set has every
# binary operator replaced by every other (Add -> BitXor ...): many times more
# mutants, few of them mistakes anyone makes. These are the realistic ones.
CORE_OPERATORS = [
    # sign and operator changes
    "core/ReplaceBinaryOperator_Add_Sub",
    "core/ReplaceBinaryOperator_Sub_Add",
    "core/ReplaceBinaryOperator_Mul_Div",
    "core/ReplaceBinaryOperator_Div_Mul",
    "core/ReplaceBinaryOperator_Div_FloorDiv",
    "core/ReplaceBinaryOperator_FloorDiv_Div",
    "core/ReplaceBinaryOperator_Mod_FloorDiv",
    "core/ReplaceBinaryOperator_Pow_Mul",
    "core/ReplaceUnaryOperator_USub_UAdd",
    "core/ReplaceUnaryOperator_Delete_Not",
    # comparison and boundary flips
    "core/ReplaceComparisonOperator_Lt_LtE",
    "core/ReplaceComparisonOperator_LtE_Lt",
    "core/ReplaceComparisonOperator_Gt_GtE",
    "core/ReplaceComparisonOperator_GtE_Gt",
    "core/ReplaceComparisonOperator_Lt_Gt",
    "core/ReplaceComparisonOperator_Gt_Lt",
    "core/ReplaceComparisonOperator_LtE_GtE",
    "core/ReplaceComparisonOperator_GtE_LtE",
    "core/ReplaceComparisonOperator_Eq_NotEq",
    "core/ReplaceComparisonOperator_NotEq_Eq",
    "core/ReplaceComparisonOperator_Is_IsNot",
    "core/ReplaceComparisonOperator_IsNot_Is",
    "core/AddNot",
    # logic and control flow
    "core/ReplaceAndWithOr",
    "core/ReplaceOrWithAnd",
    "core/ReplaceTrueWithFalse",
    "core/ReplaceFalseWithTrue",
    "core/ReplaceBreakWithContinue",
    "core/ReplaceContinueWithBreak",
    "core/ZeroIterationForLoop",
    # off-by-one on constants
    "core/NumberReplacer",
]


def _require_cosmic_ray():
    try:
        import cosmic_ray  # noqa: F401
    except ImportError:
        raise SystemExit(
            "mutation testing needs cosmic-ray, a maintainer extra: pip install -e '.[maintainer]'"
        ) from None


def _workbook_operators():
    """Operators cosmic-ray lacks, written against its ``Operator`` interface."""
    import parso
    from cosmic_ray.operators.operator import Example, Operator

    def _replacement(node, text):
        """A parso node for expression ``text``, keeping ``node``'s leading whitespace."""
        new = parso.parse(text).children[0]
        if new.type == "simple_stmt":
            new = new.children[0]
        new.get_first_leaf().prefix = node.get_first_leaf().prefix
        return new

    def _is_call(trailer, names):
        """``trailer`` is the ``(...)`` of a call to one of ``names``."""
        if trailer.type != "trailer" or trailer.children[0].type != "operator" or trailer.children[0].value != "(":
            return False
        previous = trailer.get_previous_sibling()
        return previous is not None and previous.type == "name" and previous.value in names

    def _positional(trailer):
        """The positional argument nodes of a call trailer (None if any is starred or keyword)."""
        if len(trailer.children) != 3:
            return []
        inner = trailer.children[1]
        args = [c for c in inner.children if c.type != "operator"] if inner.type == "arglist" else [inner]
        for arg in args:
            if arg.type == "argument" or (arg.type == "star_expr") or arg.get_code().lstrip().startswith("*"):
                return None
        return args

    class DropStatement(Operator):
        """Drop an assignment, a bare call or a ``raise`` (a forgotten line)."""

        KINDS = {"expr_stmt", "atom_expr", "power", "raise_stmt"}

        def mutation_positions(self, node):
            if node.type in self.KINDS and node.parent is not None and node.parent.type == "simple_stmt":
                yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            return parso.python.tree.Keyword("pass", node.start_pos, prefix=node.get_first_leaf().prefix)

        @classmethod
        def examples(cls):
            return (Example("x = 1\n", "pass\n"),)

    class SwapArguments(Operator):
        """Swap the first two positional arguments of a call (not of max/min)."""

        COMMUTATIVE = {"max", "min"}

        def mutation_positions(self, node):
            if node.type == "trailer" and node.children[0].value == "(":
                previous = node.get_previous_sibling()
                if previous is not None and previous.type == "name" and previous.value in self.COMMUTATIVE:
                    return
                args = _positional(node)
                if args and len(args) >= 2 and args[0].get_code().strip() != args[1].get_code().strip():
                    yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            first, second = _positional(node)[:2]
            first_text, second_text = first.get_code().strip(), second.get_code().strip()
            inner = node.children[1]
            a, b = inner.children.index(first), inner.children.index(second)
            inner.children[a] = _replacement(first, second_text)
            inner.children[b] = _replacement(second, first_text)
            for child in inner.children:
                child.parent = inner
            return node

        @classmethod
        def examples(cls):
            return (Example("f(a, b)", "f(b, a)"),)

    class RangeOffByOne(Operator):
        """``range(..., stop)`` -> stop + 1 / stop - 1, and ``range(start, ...)`` -> start + 1."""

        def _bounds(self, node):
            if not _is_call(node, {"range"}):
                return []
            args = _positional(node)
            if not args or len(args) > 2:
                return []
            changes = [(len(args) - 1, "+ 1"), (len(args) - 1, "- 1")]
            if len(args) == 2:
                changes.append((0, "+ 1"))
            return changes

        def mutation_positions(self, node):
            for _ in self._bounds(node):
                yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            which, change = self._bounds(node)[index]
            arg = _positional(node)[which]
            text = arg.get_code().strip()
            simple = arg.type in ("name", "number", "atom_expr", "power", "atom")
            new = _replacement(arg, f"{text if simple else '(' + text + ')'} {change}")
            inner = node.children[1]
            if inner is arg:
                node.children[1] = new
                new.parent = node
            else:
                inner.children[inner.children.index(arg)] = new
                new.parent = inner
            return node

        @classmethod
        def examples(cls):
            return (Example("range(n)", "range(n + 1)"),)

    class NegInfToZero(Operator):
        """``-math.inf`` / ``float("-inf")`` -> ``0.0`` (a running max started at 0)."""

        def _matches(self, node):
            code = node.get_code().strip().replace("'", '"').replace(" ", "")
            if node.type == "factor":
                return code in ("-math.inf", "-inf", '-float("inf")')
            return node.type in ("atom_expr", "power") and code == 'float("-inf")'

        def mutation_positions(self, node):
            if self._matches(node):
                yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            return _replacement(node, "0.0")

        @classmethod
        def examples(cls):
            return (Example("m = -math.inf", "m = 0.0"),)

    # --- the three "learner ignores what they were given" operators (issue 18) ---

    def _random_text(node) -> str:
        """``random`` if the module imports it at the top level, else an expression that imports it."""
        for child in node.get_root_node().children:
            statement = child.children[0] if child.type == "simple_stmt" else child
            if statement.type == "import_name" and statement.get_code().split() == ["import", "random"]:
                return "random"
        return '__import__("random")'

    def _block_start(node) -> bool:
        """``node`` is the first statement of a marked block (its prefix holds the BEGIN marker)."""
        return (
            node.parent is not None
            and node.parent.type in ("suite", "file_input")
            and node.type != "newline"
            and "# BEGIN SOLUTION" in node.get_first_leaf().prefix
        )

    def _enclosing_function(node):
        while node is not None and node.type != "funcdef":
            node = node.parent
        return node

    class ArgumentIgnored(Operator):
        """Inside a marked block, a parameter of the enclosing function is ignored.

        The mutant inserts ``<param> = <value>`` as the first line of the
        block: the learner used a fixed value instead of the argument. The
        value is the parameter's default when it has one. Without a default it
        is a plausible fixed value, chosen from the annotation, else the name:
        an rng (``rng``, ``*_rng``, annotated ``random.Random``) becomes
        ``random.Random(0)``; ``bool`` becomes ``False``; ``int`` or a count's
        name (``n``, ``k``, ``n_*``, ``num_*``, ``*_size``, ``steps``, ``bits``,
        ``rank``, ...) becomes ``1``; ``float`` or a hyperparameter's name
        (``lr``, ``eps``, ``alpha``, ``beta*``, ``temperature``, ``scale``, ...)
        becomes ``1.0``; a seed (``seed``, ``*_seed``) becomes ``0``; a parameter
        optional by its annotation (``... | None``, ``Optional``) or its name
        (``mask``, ``counter``, ``log``, ``callback``, ``cache``, ``window``,
        ``*_fn``, ...) becomes ``None``. Anything else without a default (the
        lists, matrices and models the task works on) gets no mutant: no fixed
        value stands in for the data, and such a mutant would only crash. One
        mutant per parameter, ``self``/``cls`` and ``*args``/``**kwargs`` left
        out, and only for parameters the block's code reads (a parameter used
        only before the marked block cannot be ignored inside it).
        """

        COUNT = re.compile(
            r"n|k|t|p|d|m|n_\w+|num_\w+|\w+_size|\w+_len|\w*steps|bits|rank|iters|gamma|top_k|limit|max_\w+|\w+_count"
        )
        REAL = re.compile(
            r"lr|eps|epsilon|alpha|beta\d?|temperature|tau|scale|sigma|damping|decay|momentum|base|k1|b|top_p"
            r"|clip\w*|\w*_coef|margin|threshold|ratio|lam|weight_decay|\w*_rate"
        )

        def _params(self, node):
            if not _block_start(node):
                return []
            function = _enclosing_function(node)
            if function is None:
                return []
            used = {
                leaf.value
                for leaf in _leaves(function)
                if leaf.type == "name" and leaf.start_pos >= node.start_pos
            }
            return [
                param for param in function.get_params()
                if param.star_count == 0 and param.name.value not in ("self", "cls") and param.name.value in used
                and self._value(param, node) is not None
            ]  # fmt: skip

        OPTIONAL = re.compile(r"mask|\w*counter|log|callback|\w*cache|window|\w*_fn|hook|stats|on_\w+")

        def _value(self, param, node) -> str | None:
            if param.default is not None:
                return param.default.get_code().strip()
            name = param.name.value
            annotation = param.annotation.get_code().strip() if param.annotation is not None else ""
            if name == "rng" or name.endswith("_rng") or annotation in ("random.Random", "Random"):
                return f"{_random_text(node)}.Random(0)"
            if annotation == "bool":
                return "False"
            if annotation == "int" or self.COUNT.fullmatch(name):
                return "1"
            if annotation == "float" or self.REAL.fullmatch(name):
                return "1.0"
            if name == "seed" or name.endswith("_seed"):
                return "0"
            if "None" in annotation or "Optional" in annotation or self.OPTIONAL.fullmatch(name):
                return "None"
            return None  # the data the task works on: no fixed value stands in for it

        def describe(self, node, index) -> str:
            """The inserted line: the mutant's identity (stable when parameters are added or reordered)."""
            param = self._params(node)[index]
            return f"{param.name.value} = {self._value(param, node)}"

        def mutation_positions(self, node):
            for _ in self._params(node):
                yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            prefix = node.get_first_leaf().prefix
            indent = prefix.rsplit("\n", 1)[-1]
            text = f"{self.describe(node, index)}\n{indent}{node.get_code(include_prefix=False)}"
            return parso.python.tree.Name(text, node.start_pos, prefix=prefix)

        @classmethod
        def examples(cls):
            return (Example("def f(x, s=2):\n    # BEGIN SOLUTION\n    return x * s\n", "..."),)

    def _leaves(node):
        leaf = node.get_first_leaf()
        last = node.get_last_leaf()
        while leaf is not None:
            yield leaf
            if leaf is last:
                return
            leaf = leaf.get_next_leaf()

    class KeywordDropped(Operator):
        """A call drops one keyword argument it passes (``f(x, scale=s)`` -> ``f(x)``): not passed on.

        One mutant per keyword argument per call (``**kwargs`` left out); the
        site's line is the keyword's own line.
        """

        def _keywords(self, node):
            if node.type != "trailer" or node.children[0].type != "operator" or node.children[0].value != "(":
                return []
            if len(node.children) != 3:
                return []
            inner = node.children[1]
            args = [c for c in inner.children if c.type == "argument"] if inner.type == "arglist" else [inner]
            return [
                arg for arg in args
                if arg.type == "argument" and len(arg.children) == 3 and arg.children[1].type == "operator"
                and arg.children[1].value == "=" and arg.children[0].type == "name"
            ]  # fmt: skip

        def mutation_positions(self, node):
            for arg in self._keywords(node):
                yield (arg.start_pos, arg.end_pos)

        def mutate(self, node, index):
            arg = self._keywords(node)[index]
            inner = node.children[1]
            if inner is arg:
                node.children = [node.children[0], node.children[2]]
                return node
            children = inner.children
            at = children.index(arg)
            if at + 1 < len(children):  # drop the argument and the comma after it
                del children[at : at + 2]
                if at < len(children):  # the next argument takes the dropped one's place (and prefix)
                    children[at].get_first_leaf().prefix = arg.get_first_leaf().prefix
            else:  # the last argument: drop the comma before it
                del children[at - 1 : at + 1]
            return node

        @classmethod
        def examples(cls):
            return (Example("f(x, scale=s)", "f(x)"),)

    class RngReplaced(Operator):
        """``rng.<method>(...)`` -> ``random.<method>(...)``: the global generator instead of the one given.

        Matches a call of a method the ``random`` module also offers on a name
        ``rng`` (or ``*_rng``/``rng_*``); the mutant imports ``random`` when the
        module does not (``__import__("random")``), so it runs rather than
        failing with a NameError no learner would see.
        """

        def _matches(self, node):
            if node.type not in ("atom_expr", "power") or len(node.children) < 3:
                return False
            name, attribute, call = node.children[:3]
            return (
                name.type == "name"
                and (name.value == "rng" or name.value.endswith("_rng") or name.value.startswith("rng_"))
                and attribute.type == "trailer" and attribute.children[0].value == "."
                and not attribute.children[1].value.startswith("_")
                and callable(getattr(random, attribute.children[1].value, None))
                and call.type == "trailer" and call.children[0].value == "("
            )  # fmt: skip

        def mutation_positions(self, node):
            if self._matches(node):
                yield (node.start_pos, node.end_pos)

        def mutate(self, node, index):
            name = node.children[0]
            node.children[0] = parso.python.tree.Name(_random_text(node), name.start_pos, prefix=name.prefix)
            node.children[0].parent = node
            return node

        @classmethod
        def examples(cls):
            return (Example("u = rng.random()", "u = random.random()"),)

    return {
        "workbook/DropStatement": DropStatement(),
        "workbook/SwapArguments": SwapArguments(),
        "workbook/RangeOffByOne": RangeOffByOne(),
        "workbook/NegInfToZero": NegInfToZero(),
        "workbook/ArgumentIgnored": ArgumentIgnored(),
        "workbook/KeywordDropped": KeywordDropped(),
        "workbook/RngReplaced": RngReplaced(),
    }


def operators() -> dict[str, object]:
    """Operator name -> instance: cosmic-ray's realistic subset plus the workbook's own."""
    _require_cosmic_ray()
    import cosmic_ray.plugins

    found = {name: cosmic_ray.plugins.get_operator(name)() for name in CORE_OPERATORS}
    found.update(_workbook_operators())
    return found


# The operators of the sweeps recorded before survivor files said which they
# used (issue 9 to issue 18): a file without an "operators" list was swept with these.
FIRST_OPERATORS = [*CORE_OPERATORS, "workbook/DropStatement", "workbook/SwapArguments",
                   "workbook/RangeOffByOne", "workbook/NegInfToZero"]  # fmt: skip
# The operators issue 18 added ("the learner ignores what they were given"); `--operators new`.
NEW_OPERATORS = ["workbook/ArgumentIgnored", "workbook/KeywordDropped", "workbook/RngReplaced"]


def _kebab(name: str) -> str:
    """``workbook/ArgumentIgnored`` -> ``argument-ignored`` (core's ``_Add_Sub`` parts kept: ``..._add_sub``)."""
    short = name.split("/", 1)[1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", short).replace("_", "-").lower().replace("--", "-")


def select_operators(spec: str, ops: dict[str, object]) -> dict[str, object]:
    """The operators named in ``spec``: comma-separated full names (``workbook/KeywordDropped``),
    short names (``KeywordDropped``), kebab-case (``keyword-dropped``), or the groups
    ``new`` (issue 18's three), ``workbook`` (the workbook's own) and ``core`` (cosmic-ray's)."""
    chosen: dict[str, object] = {}
    aliases = {}
    for name in ops:
        for alias in (name, name.split("/", 1)[1], _kebab(name)):
            aliases[alias.lower()] = name
    groups = {
        "new": NEW_OPERATORS,
        "workbook": [n for n in ops if n.startswith("workbook/")],
        "core": [n for n in ops if n.startswith("core/")],
    }
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        names = groups.get(part.lower()) or ([aliases[part.lower()]] if part.lower() in aliases else None)
        if names is None:
            raise ValueError(
                f"unknown operator {part!r}; choose from: new, workbook, core, "
                + ", ".join(sorted(_kebab(n) for n in ops))
            )
        for name in names:
            chosen[name] = ops[name]
    if not chosen:
        raise ValueError("--operators names no operator")
    return {name: ops[name] for name in ops if name in chosen}  # in the registry's (stable) order


def swept_operators(data: dict) -> list[str]:
    """The operators a kata's survivor file has recorded sweeps of."""
    if "operators" in data:
        return list(data["operators"])
    return list(FIRST_OPERATORS) if "sweep" in data else []


def operator_of(key: str) -> str:
    """The operator named in a mutant's identity ``task | operator | text | #n``."""
    parts = key.split(" | ")
    return parts[1] if len(parts) > 1 else ""


# === mutation sites ===


@dataclasses.dataclass(frozen=True)
class Site:
    """One mutant: an operator applied at one occurrence in the solution."""

    operator: str
    occurrence: int  # cosmic-ray's occurrence index of this operator in the whole file
    line: int  # 1-based, for display only: identities never use it
    task: str
    key: str  # stable identity: task | operator | stripped line text | #n

    def short(self) -> str:
        return self.key


def marked_ranges(source: str) -> list[tuple[int, int, str]]:
    """(BEGIN line, END line, task) of every marked block."""
    ranges = []
    lines = source.splitlines()
    for task in find_tasks(source):
        end = next(n for n in range(task.line + 1, len(lines) + 1) if lines[n - 1].strip() == "# END SOLUTION")
        ranges.append((task.line, end, task.function))
    return ranges


def sites(source: str, ops: dict[str, object] | None = None) -> list[Site]:
    """Every mutation site inside a marked block, in a stable order.

    Occurrences are counted exactly as cosmic-ray's ``init`` counts them
    (``ast_nodes`` order), so ``mutate_code(source, operator, occurrence)``
    applies the site's mutation.
    """
    from cosmic_ray.ast import ast_nodes, get_ast

    ops = ops or operators()
    ranges = marked_ranges(source)
    lines = source.splitlines()
    module = get_ast(source)
    nodes = list(ast_nodes(module))
    found: list[Site] = []
    seen: dict[tuple, int] = {}
    for name, op in ops.items():
        occurrence = 0
        describe = getattr(op, "describe", None)
        for node in nodes:
            for index, (start, _end) in enumerate(op.mutation_positions(node)):
                line = start[0]
                task = next((t for b, e, t in ranges if b < line < e), None)
                if task is not None and not _in_fstring(node):
                    # the line's text, or what an operator says its mutant is (the inserted line)
                    text = " ".join((describe(node, index) if describe else lines[line - 1]).split())
                    ident = (task, name, text)
                    seen[ident] = seen.get(ident, 0) + 1
                    key = f"{task} | {name} | {text} | #{seen[ident]}"
                    found.append(Site(name, occurrence, line, task, key))
                occurrence += 1
    return found


def _in_fstring(node) -> bool:
    """Inside an f-string: an error message's text, which no test should pin down."""
    while node is not None:
        if node.type == "fstring":
            return True
        node = node.parent
    return False


def mutated_source(source: str, site: Site, ops: dict[str, object]) -> str:
    from cosmic_ray.mutating import mutate_code

    code = mutate_code(source, ops[site.operator], site.occurrence)
    if code is None:
        raise RuntimeError(f"cosmic-ray applied no mutation for {site.key}")
    return code


def changed_lines(before: str, after: str) -> str:
    """The mutated line(s), for the report."""
    new = [
        line[1:].strip()
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(new) if new else "(line removed)"


# === grading mutants ===


@dataclasses.dataclass
class Outcome:
    site: Site
    status: str  # killed | timeout | survived | incompetent
    mutant: str  # the mutated line
    seconds: float
    output: str = ""


def grade(root: Path, kata: str, source: str, site: Site, ops, workdir: Path, timeout: float = 120) -> Outcome:
    """Write one mutant to ``workdir`` and grade it with the kata's tests (stop at the first failure)."""
    from cosmic_ray.testing import run_tests
    from cosmic_ray.work_item import TestOutcome

    code = mutated_source(source, site, ops)
    path = workdir / f"{kata}.py"
    path.write_text(code, encoding="utf-8")
    command = shlex.join(
        [
            sys.executable, "-m", "pytest", str(root / "tests" / f"test_{kata}.py"),
            "--kata-file", f"{kata}={path}", "-x", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(root), "-o", "timeout=5", "--no-header", "--tb=line",
        ]
    )  # fmt: skip
    started = time.monotonic()
    outcome, output = run_tests(command, timeout)  # runs in the current directory: main() moves to root
    seconds = time.monotonic() - started
    if outcome == TestOutcome.SURVIVED:
        status = "survived"
    elif outcome == TestOutcome.INCOMPETENT:
        status = "incompetent"
    elif output == "timeout" or "Timeout >" in output or re.search(r"\b\d+ timeout\b", output):
        status = "timeout"
    else:
        status = "killed"
    return Outcome(site, status, changed_lines(source, code), seconds, output[-1500:])


# === survivor files ===


def survivor_file(root: Path, kata: str) -> Path:
    return root / AUTO / f"{kata}.json"


def load_survivors(root: Path, kata: str) -> dict:
    path = survivor_file(root, kata)
    if not path.is_file():
        return {"kata": kata, "survivors": []}
    return json.loads(path.read_text(encoding="utf-8"))


def listed(data: dict) -> dict[str, dict]:
    return {entry["id"]: entry for entry in data.get("survivors", [])}


def sample(all_sites: list[Site], data: dict, kata: str, size: int) -> list[Site]:
    """A deterministic sample of ``size`` sites not listed as survivors, drawn from every operator.

    Only operators the kata's file records a sweep of are drawn from (a new
    operator enters a kata's CI sample once that kata has been swept with
    it: ``--operators ... --write``). The operators are taken in a seeded
    order, one site each in turn, so every operator is drawn as often as the
    others (the new ones included) however many sites it has.
    """
    known = listed(data)
    swept = set(swept_operators(data))
    pool: dict[str, list[Site]] = {}
    for site in sorted(all_sites, key=lambda s: s.key):
        if site.key not in known and site.operator in swept:
            pool.setdefault(site.operator, []).append(site)
    rng = random.Random(f"{SAMPLE_SEED}:{kata}")
    order = sorted(pool)
    rng.shuffle(order)
    chosen: list[Site] = []
    while len(chosen) < size and any(pool.values()):
        for name in order:
            if pool[name] and len(chosen) < size:
                chosen.append(pool[name].pop(rng.randrange(len(pool[name]))))
    return sorted(chosen, key=lambda s: (s.line, s.key))


def score(counts: dict) -> float | None:
    """Killed share of the non-equivalent mutants (timeouts count as killed: the learner sees a failure)."""
    relevant = counts["mutants"] - counts["equivalent"]
    return None if relevant <= 0 else (counts["killed"] + counts["timeout"]) / relevant


def write_survivors(root: Path, kata: str, outcomes: list[Outcome], swept: list[str] | None = None,
                    operators: Iterable[str] = ()) -> dict:
    """Rewrite ``tests/mutants/auto/<kata>.json`` from a sweep.

    Keeps the reasons already written for survivors that still survive, adds
    new survivors with an empty ``open`` reason (to be reviewed: CI fails
    until each has an ``equivalent`` or ``open`` reason) and drops the rest.

    ``swept`` names the operators of a partial sweep (``--operators``): then
    only those operators' survivors and counts are replaced, and the
    survivors, reasons and counts of every other operator are kept. Without
    it the sweep is a full one and replaces everything. The file records
    which operators were swept (``operators``), the counts per operator
    (``by_operator``) and each operator's first counts (``baseline_by_operator``).
    ``operators`` names every operator a full sweep ran, including those with
    no site in this kata (swept all the same: nothing to find).
    """
    old = load_survivors(root, kata)
    known = listed(old)
    swept_set = set(swept) if swept is not None else None
    survivors = []
    if swept_set is not None:  # keep the other operators' survivors as they are
        survivors = [entry for entry in old.get("survivors", []) if operator_of(entry["id"]) not in swept_set]
    for outcome in outcomes:
        if outcome.status not in ("survived", "incompetent"):
            continue
        entry = {"id": outcome.site.key, "mutant": outcome.mutant}
        previous = known.get(outcome.site.key, {})
        if "equivalent" in previous:
            entry["equivalent"] = previous["equivalent"]
        else:
            entry["open"] = previous.get("open", "")
        survivors.append(entry)
    by_operator = tally_by_operator(outcomes, {s["id"]: s for s in survivors})
    if swept_set is None:
        counts = tally(outcomes, {s["id"]: s for s in survivors})
        operators_now = sorted({o.site.operator for o in outcomes} | set(by_operator) | set(operators))
        old_by_operator = {}
    else:
        old_by_operator = dict(old.get("by_operator") or {})
        previous_ops = set(swept_operators(old))
        for name in swept_set & previous_ops - set(old_by_operator):  # swept before, but not counted per operator
            old_by_operator[name] = _counts_from_file(root, kata, name, old)
        counts = {key: old.get("sweep", {}).get(key, 0) for key in COUNT_KEYS}
        for name in swept_set:
            for key in COUNT_KEYS:
                counts[key] += by_operator.get(name, _zero())[key] - old_by_operator.get(name, _zero())[key]
        counts = {key: max(0, value) for key, value in counts.items()}
        value = score(counts)
        counts["score"] = None if value is None else round(100 * value, 1)
        operators_now = sorted(previous_ops | swept_set)
        by_operator = {**{k: v for k, v in old_by_operator.items() if k not in swept_set}, **by_operator}
    first = dict(old.get("baseline_by_operator") or {})
    for name, value in by_operator.items():
        first.setdefault(name, value)
    data = {
        "kata": kata,
        "command": f"python -m workbook.mutate {kata} --write",
        "baseline": old.get("baseline") or counts,
        "sweep": counts,
        "operators": operators_now,
        "by_operator": dict(sorted(by_operator.items())),
        "baseline_by_operator": dict(sorted(first.items())),
        "survivors": survivors,
    }
    path = survivor_file(root, kata)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data


COUNT_KEYS = ("mutants", "killed", "timeout", "survived", "equivalent")


def _zero() -> dict:
    return dict.fromkeys(COUNT_KEYS, 0)


def _counts_from_file(root: Path, kata: str, name: str, data: dict) -> dict:
    """One operator's counts in an old file that only has totals: its sites now, its survivors as listed.

    (Its killed mutants include any that timed out: the file does not say which.)
    """
    source = (root / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
    n_sites = len(sites(source, {name: operators()[name]}))
    mine = [e for e in data.get("survivors", []) if operator_of(e["id"]) == name]
    equivalent = sum(1 for e in mine if e.get("equivalent"))
    counts = _zero()
    counts.update(mutants=n_sites, equivalent=equivalent, survived=len(mine) - equivalent)
    counts["killed"] = max(0, n_sites - len(mine))
    return counts


def tally_by_operator(outcomes: list[Outcome], known: dict[str, dict]) -> dict[str, dict]:
    """{operator: counts} of a sweep (no scores: they are per kata)."""
    result: dict[str, dict] = {}
    for outcome in outcomes:
        counts = result.setdefault(outcome.site.operator, _zero())
        counts["mutants"] += 1
        if outcome.status in ("killed", "timeout"):
            counts[outcome.status] += 1
        elif "equivalent" in known.get(outcome.site.key, {}):
            counts["equivalent"] += 1
        else:
            counts["survived"] += 1
    return result


def update_survivors(root: Path, kata: str, outcomes: list[Outcome]) -> dict:
    """Regrade of the listed survivors only: drop those the tests now kill, move them to the sweep's kills.

    The rest of the last full sweep stands (the tests only grew, so a mutant
    killed then is killed now); a survivor that still survives keeps its reason,
    and the survivors are counted as equivalent or not by their reasons as they stand.
    """
    data = load_survivors(root, kata)
    killed = {o.site.key: o.status for o in outcomes if o.status in ("killed", "timeout")}
    counts = dict(data["sweep"])
    for status in killed.values():
        counts[status] += 1
    for key, status in killed.items():  # the per-operator counts, where the file has them
        bucket = (data.get("by_operator") or {}).get(operator_of(key))
        if bucket is not None:
            bucket[status] += 1
    data["survivors"] = [entry for entry in data["survivors"] if entry["id"] not in killed]
    for name, bucket in (data.get("by_operator") or {}).items():
        mine = [e for e in data["survivors"] if operator_of(e["id"]) == name]
        bucket["equivalent"] = sum(1 for e in mine if e.get("equivalent"))
        bucket["survived"] = len(mine) - bucket["equivalent"]
    # the rest are survivors; count them by the reasons they carry now (written after the sweep)
    counts["equivalent"] = sum(1 for entry in data["survivors"] if entry.get("equivalent"))
    counts["survived"] = len(data["survivors"]) - counts["equivalent"]
    value = score(counts)
    counts["score"] = None if value is None else round(100 * value, 1)
    data["sweep"] = counts
    survivor_file(root, kata).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data


def tally(outcomes: list[Outcome], known: dict[str, dict]) -> dict:
    counts = _zero()
    for bucket in tally_by_operator(outcomes, known).values():
        for key in COUNT_KEYS:
            counts[key] += bucket[key]
    value = score(counts)
    counts["score"] = None if value is None else round(100 * value, 1)
    return counts


def write_results(root: Path) -> Path:
    """``tests/mutants/auto/RESULTS.md``: the per-kata table of the last full sweeps."""
    rows, new_rows, unswept = [], [], []
    for kata in discover(root):
        data = load_survivors(root, kata.name)
        if "sweep" not in data:
            continue
        new_row = _new_operator_row(kata.name, data)
        if new_row is None:
            unswept.append(kata.name)
        else:
            new_rows.append(new_row)
        b, s = data["baseline"], dict(data["sweep"])
        # The reasons may have been written after the sweep: count them as they stand now.
        survivors = data.get("survivors", [])
        if survivors or s.get("survived") or s.get("equivalent"):
            s["equivalent"] = sum(1 for e in survivors if e.get("equivalent"))
            s["survived"] = len(survivors) - s["equivalent"]
            value = score(s)
            s["score"] = None if value is None else round(100 * value, 1)
        rows.append(
            f"| {kata.name} | {s['mutants']} | {s['killed']} | {s['timeout']} | {s['survived']} "
            f"| {s['equivalent']} | {_pct(b['score'])} | {_pct(s['score'])} |"
        )
    text = (
        "# Automatic mutation testing: results of the full sweep\n\n"
        "Written by `python -m workbook.mutate --all --write` (see CONTRIBUTING.md).\n"
        "Score = (killed + timed out) / (mutants - equivalent), over the mutants of the code\n"
        "inside `BEGIN/END SOLUTION` markers (f-strings left out: error-message text is not graded).\n"
        "*Before* is the first sweep, on the graded tests as they were when automatic mutation\n"
        "testing was introduced (issue 9); its survivors later recorded as equivalent are left\n"
        "out of its score as well. *Now* is the last full sweep (`sweep` in each kata's file).\n\n"
        "| kata | mutants | killed | timed out | survived (open) | equivalent | score before | score now |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n"
        "\n## The operators of issue 18: argument ignored, keyword not passed on, rng replaced\n\n"
        "Swept with `python -m workbook.mutate <kata> --operators new --write`. *First sweep*: the\n"
        "survivors of these operators when the kata was first swept with them (`baseline_by_operator`);\n"
        "*now*: as the file stands (open survivors count against the score, equivalent ones do not).\n\n"
        "| kata | mutants | survivors at first sweep | killed now | survived (open) now | equivalent now |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(new_rows) + "\n"
        + (f"\nNot yet swept with them: {', '.join(unswept)}.\n" if unswept else "")
    )
    path = root / AUTO / "RESULTS.md"
    path.write_text(text, encoding="utf-8")
    return path


def _new_operator_row(kata: str, data: dict) -> str | None:
    """The RESULTS.md row of issue 18's operators for one kata (None: not swept with all of them yet)."""
    if not set(NEW_OPERATORS) <= set(swept_operators(data)):
        return None
    now = [(data.get("by_operator") or {}).get(name, _zero()) for name in NEW_OPERATORS]
    first = [(data.get("baseline_by_operator") or {}).get(name, _zero()) for name in NEW_OPERATORS]
    survivors = [e for e in data.get("survivors", []) if operator_of(e["id"]) in NEW_OPERATORS]
    equivalent = sum(1 for e in survivors if e.get("equivalent"))
    return (
        f"| {kata} | {sum(c['mutants'] for c in now)} | {sum(c['survived'] + c['equivalent'] for c in first)} "
        f"| {sum(c['killed'] + c['timeout'] for c in now)} | {len(survivors) - equivalent} | {equivalent} |"
    )


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


# === command line ===


def sweep(root: Path, kata: str, chosen: list[Site] | None = None, ops=None, progress=print, jobs: int = 1):
    """Grade ``chosen`` sites (default: all) of one kata, ``jobs`` mutants at a time."""
    ops = ops or operators()
    source = (root / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
    chosen = sites(source, ops) if chosen is None else chosen
    with tempfile.TemporaryDirectory(prefix=f"mutate-{kata}-") as tmp:
        folders = queue.Queue()
        for number in range(max(1, jobs)):
            (Path(tmp) / str(number)).mkdir()
            folders.put(Path(tmp) / str(number))

        def one(site):
            folder = folders.get()
            try:
                outcome = grade(root, kata, source, site, ops, folder)
            finally:
                folders.put(folder)
            if outcome.status != "killed":
                progress(f"  {outcome.status.upper():<9} {site.key}\n      -> {outcome.mutant}")
            return outcome

        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            return list(pool.map(one, chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbook.mutate", description=__doc__.split("\n\n")[0])
    parser.add_argument("katas", nargs="*", help="kata names (default with --all: every kata)")
    parser.add_argument("--all", action="store_true", help="every kata")
    parser.add_argument("--sample", type=int, default=None, metavar="N", help="grade N unlisted mutants per kata")
    parser.add_argument("--write", action="store_true", help="update tests/mutants/auto/<kata>.json and RESULTS.md")
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="grade J mutants at a time (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutation sites, grade nothing")
    parser.add_argument(
        "--survivors", action="store_true",
        help="grade only the survivors listed in the kata's file (with --write: drop those now killed)",
    )  # fmt: skip
    parser.add_argument(
        "--operators", metavar="NAMES", default=None,
        help="only these operators, comma-separated (e.g. argument-ignored,keyword-dropped,rng-replaced, "
        "or the groups new, workbook, core); with --write, their results are merged into the kata's file",
    )  # fmt: skip
    args = parser.parse_args(argv)
    root = find_root()
    names = [k.name for k in discover(root)] if args.all else args.katas
    if not names:
        parser.error("name a kata or use --all")
    if args.write and args.sample is not None:
        parser.error("--write needs a full sweep or --survivors (not --sample)")
    if args.survivors and args.sample is not None:
        parser.error("--survivors and --sample choose different mutants: give one")
    ops = operators()
    try:
        used = select_operators(args.operators, ops) if args.operators else ops
    except ValueError as unknown:
        parser.error(str(unknown))
    os.chdir(root)  # cosmic-ray runs the test command in the current directory
    failed = False
    for kata in names:
        source = (root / "solutions" / kata / f"{kata}.py").read_text(encoding="utf-8")
        all_sites = sites(source, used)
        if args.list:
            for site in all_sites:
                print(f"{site.line:>5}  {site.key}")
            continue
        data = load_survivors(root, kata)
        if args.survivors:
            if "sweep" not in data:
                parser.error(f"{kata}: no full sweep recorded yet; run one first")
            chosen = [site for site in all_sites if site.key in listed(data)]
        elif args.sample is not None:
            chosen = sample(all_sites, data, kata, args.sample)
        else:
            chosen = all_sites
        print(f"== {kata}: grading {len(chosen)} of {len(all_sites)} mutants", flush=True)
        started = time.monotonic()
        outcomes = sweep(root, kata, chosen, ops, progress=lambda line: print(line, flush=True), jobs=args.jobs)
        if args.write and args.survivors:
            data = update_survivors(root, kata, outcomes)
        elif args.write:
            data = write_survivors(root, kata, outcomes, swept=list(used) if args.operators else None, operators=used)
        if args.survivors:
            now_killed = sum(1 for o in outcomes if o.status in ("killed", "timeout"))
            print(f"   {kata}: {now_killed} of {len(chosen)} listed survivors now killed", flush=True)
            if args.write:
                print(f"   {kata}: score now {_pct(data['sweep']['score'])}", flush=True)
            continue
        counts = tally(outcomes, listed(data))
        print(
            f"   {kata}: {counts['killed']} killed, {counts['timeout']} timed out, {counts['survived']} survived, "
            f"{counts['equivalent']} equivalent; score {_pct(counts['score'])} "
            f"({time.monotonic() - started:.0f} s)",
            flush=True,
        )
        failed |= counts["survived"] > 0 and args.sample is not None
    if args.write:
        print(f"wrote {write_results(root).relative_to(root)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
