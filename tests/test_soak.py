"""The chaos soak (bench/soak.py) for two minutes: its invariants hold while workers, webs and the primary die."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hitl_web.stack import ROOT


@pytest.mark.timeout(600)
def test_the_two_minute_chaos_soak_holds_its_invariants() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "2"], cwd=ROOT, capture_output=True, text=True, timeout=540
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout[-3000:] + done.stderr[-5000:]
    figures = json.loads(lines[-1])
    assert figures["broken"] == [], figures
    assert figures["runs"] >= 2000 and figures["completed"] == figures["runs"], figures
    assert figures["finished_exactly_once"] == figures["one_outcome_per_ask"] == figures["runs"]
    assert figures["acknowledged_missing"] == 0 and figures["steps_rerun_unexplained"] == 0
    assert figures["triggers_acknowledged"] + figures["answers"].get("trigger 409", 0) == figures["runs"]
    assert figures["failovers"] == 2 and figures["webs_restarted"] >= 1 and figures["workers_killed"] >= 15, figures
    assert all(s < 30 for s in figures["failover_seconds"]), figures
    assert figures["processes_checked"] >= 4 and figures["rss_grown"] == [], figures
    assert done.returncode == 0, done.stderr[-3000:]
