"""The command line: ``python -m workbook <command>``.

Commands:
  build [KATA ...] [--check] [--force]   write katas/ skeletons from solutions/
"""

from __future__ import annotations

import argparse
import sys

from . import build as builder
from .layout import discover, find_root, kata_named


def _katas(root, names):
    if not names:
        return discover(root)
    return [kata_named(root, name) for name in names]


def cmd_build(args) -> int:
    root = find_root()
    if not (root / "solutions").is_dir():
        print("this workbook has no solutions/ (a student bundle); there is nothing to build from.")
        return 1
    failed = False
    for kata in _katas(root, args.katas):
        outcome = builder.build_one(kata, check=args.check, force=args.force)
        failed |= not outcome.ok
        line = f"{outcome.status:<11} {kata.name}"
        print(line + (f": {outcome.detail}" if outcome.detail else ""))
    if args.check and failed:
        print("katas/ is out of date with solutions/; run `python -m workbook build`.")
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m workbook",
        description="The no-magic kata workbook: build skeletons, see progress, get hints.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    b = commands.add_parser("build", help="generate katas/<name>/<name>.py from solutions/ markers")
    b.add_argument("katas", nargs="*", metavar="KATA", help="katas to build (default: all)")
    b.add_argument("--check", action="store_true", help="only report stale skeletons; exit 1 if any")
    b.add_argument(
        "--force",
        action="store_true",
        help="overwrite katas you changed (your file is backed up first)",
    )
    b.set_defaults(run=cmd_build)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
