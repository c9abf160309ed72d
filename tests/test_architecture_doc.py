"""docs/architecture.md's key and script tables are the ones generated from keys.py and scripts.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hitl_web.devtools.architecture import PAGE, render_keys, render_scripts, with_tables
from hitl_web.engine.storage import scripts
from hitl_web.engine.storage.keys import RUN_KEYS, Keys


def test_the_page_shows_the_tables_the_code_generates() -> None:
    page = PAGE.read_text()
    assert with_tables(page) == page, "run: python -m hitl_web.devtools.architecture --write"


def test_every_key_and_every_script_is_in_the_tables() -> None:
    keys, table = Keys("<p>"), render_keys()
    for name in RUN_KEYS:
        assert f"| `{keys.of('<run id>').named()[name]}` |" in table
    for shared in (keys.announcements, keys.waiters, keys.due, keys.index, keys.indexed, keys.layout):
        assert f"| `{shared}` |" in table
    assert "| `<p>:runs:<status>` |" in table and "| `<p>:waiters:<event id>` |" in table
    rows = [line for line in render_scripts().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [f"{name}.lua" for name in scripts.SPECS]
    claim = next(row for row in rows if row.startswith("| `claim.lua`"))
    assert "| " + ", ".join(scripts.CLAIM.keys) + " | " + ", ".join(scripts.CLAIM.args) + " |" in claim


def test_write_fills_the_markers_and_refuses_a_page_without_them(tmp_path: Path) -> None:
    page = tmp_path / "architecture.md"
    page.write_text("# A\n<!-- generated:keys:start -->\nSTALE TABLE\n<!-- generated:keys:end -->\n"
                    "<!-- generated:scripts:start -->\n<!-- generated:scripts:end -->\ntail\n")  # fmt: skip
    command = [sys.executable, "-m", "hitl_web.devtools.architecture", "--write", "--page", str(page)]
    assert subprocess.run(command, check=False).returncode == 0
    written = page.read_text()
    assert "STALE TABLE" not in written and render_keys() in written and render_scripts() in written
    assert written.startswith("# A\n") and written.endswith("tail\n")
    page.write_text("no markers\n")
    refused = subprocess.run(command, check=False, capture_output=True, text=True)
    assert refused.returncode == 1 and "markers" in refused.stderr and page.read_text() == "no markers\n"
