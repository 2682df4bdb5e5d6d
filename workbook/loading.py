"""Reading a kata file safely: the checks shared by in-process and isolated grading.

Both ``plugin`` (imports the kata) and ``isolate`` (hands its source to a
worker) read the learner's file through ``read_source``, so the same rules
hold in both modes: a regular file, not too big, standard library only.
"""

from __future__ import annotations

import ast
import os
import stat
import sys
from pathlib import Path

from .layout import shown

MAX_KATA_BYTES = 1 << 20  # 1 MiB: the biggest reference solution is ~47 KB


class KataLoadError(Exception):
    """The kata file could not be imported (syntax error, exception at import, refused file)."""


def read_source(path: Path) -> bytes:
    """The kata file's bytes: a regular file (a symlink is read as its target here), at most 1 MiB."""
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise KataLoadError(f"{shown(path)} is not a regular file")
            data = file.read(MAX_KATA_BYTES + 1)
    except OSError as error:
        raise KataLoadError(f"{shown(path)}: cannot read the file: {error.strerror or error}") from None
    if len(data) > MAX_KATA_BYTES:
        raise KataLoadError(f"{shown(path)} is over {MAX_KATA_BYTES >> 20} MiB: not a kata file")
    return data


def refuse_link(folder: Path, relative: str) -> str | None:
    """Why ``folder/relative`` must not be graded as a student's file, or None.

    Every part below ``folder`` must be a real directory or, last, a regular
    file (``lstat``: a symlink to the teacher's ``solutions/`` or to a
    classmate's file is refused), and the file at most ``MAX_KATA_BYTES``.
    """
    path = folder
    parts = Path(relative).parts
    for index, part in enumerate(parts):
        path = path / part
        try:
            info = os.lstat(path)
        except OSError:
            return None if index == len(parts) - 1 else f"{relative}: cannot read {part}"
        last = index == len(parts) - 1
        if stat.S_ISLNK(info.st_mode):
            return f"{relative}: {part} is a symbolic link (only the student's own files are graded)"
        if not last and not stat.S_ISDIR(info.st_mode):
            return f"{relative}: {part} is not a folder"
        if last and not stat.S_ISREG(info.st_mode):
            return f"{relative} is not a regular file"
        if last and info.st_size > MAX_KATA_BYTES:
            return f"{relative} is over {MAX_KATA_BYTES >> 20} MiB"
    return None


ALLOWED_IMPORT = "from workbook import KataTodo"


def check_standard_library_only(source: bytes | str, path: Path) -> None:
    """Refuse a kata that imports anything outside the standard library (the no-magic rule).

    The one exception is the skeleton's own ``from workbook import KataTodo``.
    A file that does not parse is left to the import, which reports the
    SyntaxError with its line. (An isolated worker runs without
    site-packages too: ``python -I -S``.)
    """
    try:
        tree = ast.parse(source, str(path))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module == "workbook" and [a.name for a in node.names] == ["KataTodo"]:
                continue
            names = [("." * node.level) + (node.module or "")]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if not top or top not in sys.stdlib_module_names:
                raise KataLoadError(
                    f"{shown(path)}:{node.lineno}: imports {name!r}: katas use the standard library "
                    f"only (the no-magic rule: every line is readable, nothing is hidden in a package); "
                    f"remove the import and write it with math, random, ..."
                )
