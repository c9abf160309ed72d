"""Tables generated from the code into a page between two markers, and the command that rewrites them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def between_markers(text: str, start: str, end: str, body: str) -> str:
    """``text`` with ``body`` between its ``start`` and ``end`` markers (``ValueError`` without them)."""
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found_start or not found_end:
        raise ValueError(f"no {start} ... {end} markers")
    return f"{head}{start}\n{body}{end}{tail}"


def main(
    argv: list[str] | None,
    *,
    prog: str,
    doc: str | None,
    what: str,
    default: Path,
    render: Callable[[], str],
    rewrite: Callable[[str], str],
) -> int:
    """Print what ``render`` makes, or with ``--write`` rewrite the file (``--<what>``) with ``rewrite``.

    Exit 1, the file unchanged, when its markers are missing.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc)
    parser.add_argument("--write", action="store_true", help=f"rewrite the generated part of the {what}")
    parser.add_argument(f"--{what}", type=Path, default=default, help=f"the {what} to rewrite (default: %(default)s)")
    args = parser.parse_args(argv)
    path: Path = getattr(args, what)
    if not args.write:
        sys.stdout.write(render())
        return 0
    try:
        text = rewrite(path.read_text())
    except ValueError as exc:
        print(f"{prog.rsplit('.', 1)[-1]}: {path}: {exc}", file=sys.stderr)
        return 1
    path.write_text(text)
    return 0
