"""The README's configuration table, generated from ``hitl_web.settings.Settings``.

``python -m hitl_web.devtools.settings_table`` prints it; ``--write`` rewrites the table of
README.md between its two markers (tests/test_settings.py keeps the two equal).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..settings import Settings, variable
from . import generated
from .generated import between_markers

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"  # the repository's (a wheel ships none)


def shown_default(value: object) -> str:
    """A default as the table shows it: numbers plain, text and lists in backticks, nothing as words."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"{value:g}"  # 30.0 -> 30, 0.1 -> 0.1
    if isinstance(value, int):
        return str(value)
    text = ",".join(value) if isinstance(value, tuple | list) else str(value)
    return f"`{text}`" if text else "empty"


def render_table() -> str:
    """The markdown table of every setting: its variable, default and meaning, in the model's order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")  # a bare | would split the cell
        rows.append(f"| `{variable(name)}` | {shown_default(field.default)} | {meaning} |")
    return "\n".join(rows) + "\n"


def with_table(readme: str) -> str:
    """``readme`` with the generated table between its two markers."""
    try:
        return between_markers(readme, START, END, render_table())
    except ValueError as exc:
        raise ValueError(f"{exc} in the README") from None


def main(argv: list[str] | None = None) -> int:
    """Print the table, or with ``--write`` rewrite the README's (exit 1 when its markers are missing)."""
    return generated.main(
        argv, prog=__spec__.name, doc=__doc__, what="readme", default=README, render=render_table, rewrite=with_table
    )


if __name__ == "__main__":
    sys.exit(main())
