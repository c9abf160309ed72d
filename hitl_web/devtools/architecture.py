"""docs/architecture.md's tables of keys and scripts, generated from ``keys.py`` and ``scripts.py``.

``python -m hitl_web.devtools.architecture`` prints them; ``--write`` rewrites the page between its
``generated`` markers (tests/test_architecture_doc.py keeps the two equal).
"""

from __future__ import annotations

import inspect
import sys
from functools import cached_property
from importlib import resources
from pathlib import Path

from ..engine.storage import scripts
from ..engine.storage.keys import RUN_KEY_MEANINGS, RUN_KEYS, STATUSES, Keys
from . import generated
from .generated import between_markers

PAGE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"  # the repository's: a wheel ships none
PREFIX, RUN_ID = "<p>", "<run id>"
# Keys.<name>(argument): what each key's placeholder is.
PLACEHOLDERS = {"event_id": "<event id>", "status": "<status>", "name": "<group>", "entry": "<approver>"}


def _cell(text: str) -> str:
    """``text`` on one line, safe in a markdown table cell (a bare | splits it, a <p> is a tag)."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace("``", "`")


def _first_paragraph(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0]


def render_keys() -> str:
    """The key schema: every key's name under prefix ``<p>`` and what it holds."""
    keys = Keys(PREFIX)
    rows = ["| key | holds |", "|---|---|"]
    run = keys.of(RUN_ID).named()
    for name in RUN_KEYS:
        rows.append(f"| `{run[name]}` | {_cell(RUN_KEY_MEANINGS[name])} |")
    for name, member in vars(Keys).items():
        if name.startswith("_") or name.startswith("for_") or name in {"of", "legacy", *RUN_KEYS}:
            continue
        if isinstance(member, cached_property) and isinstance(shown := getattr(keys, name), str):
            doc = member.__doc__
        elif callable(member) and len(params := list(inspect.signature(member).parameters)[1:]) == 1:
            shown, doc = member(keys, PLACEHOLDERS[params[0]]), member.__doc__
        else:
            continue
        rows.append(f"| `{shown}` | {_cell(_first_paragraph(doc))} |")
    statuses = ", ".join(f"`{s}`" for s in STATUSES)
    rows.append("")
    rows.append(f"`<status>` is one of {statuses}.")
    rows.append("The braces are the run's hash tag: a run's keys share a cluster slot, so a shard layout")
    rows.append("is a change of `keys.py` only.")
    return "\n".join(rows) + "\n"


def header(name: str) -> str:
    """A script's opening comment: what it does and what it returns."""
    lines = []
    for line in resources.files(scripts.__package__).joinpath(f"{name}.lua").read_text().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return " ".join(lines)


def render_scripts() -> str:
    """Every script: its KEYS, its ARGV, the keys it finds from data (and why), and what it does."""
    rows = ["| script | KEYS | ARGV | keys found from data | what it does |", "|---|---|---|---|---|"]
    for spec in scripts.SPECS.values():
        keys = ", ".join(spec.keys) + (" + riders" if spec.riders else "")
        args = ", ".join(spec.args) + (" + riders" if spec.riders else "")
        found = "; ".join(what if (what, why) == scripts.LEGACY else f"{what} ({why})" for what, why in spec.found)
        cells = [f"`{spec.name}.lua`", keys or "none", args or "none", _cell(found or "none"), _cell(header(spec.name))]
        rows.append(f"| {' | '.join(cells)} |")
    rows += ["", f"A run's keys in the old layout: {_cell(scripts.LEGACY[1])}."]
    return "\n".join(rows) + "\n"


TABLES = {"keys": render_keys, "scripts": render_scripts}


def with_tables(page: str) -> str:
    """``page`` with each generated table between its two markers."""
    for name, render in TABLES.items():
        page = between_markers(page, f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->", render())
    return page


def main(argv: list[str] | None = None) -> int:
    """Print the tables, or with ``--write`` rewrite the page's (exit 1 when its markers are missing)."""

    def tables() -> str:
        return "\n".join(render() for render in TABLES.values())

    return generated.main(
        argv, prog=__spec__.name, doc=__doc__, what="page", default=PAGE, render=tables, rewrite=with_tables
    )


if __name__ == "__main__":
    sys.exit(main())
