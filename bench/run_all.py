"""Run every benchmark, save their JSON to bench/results.json and rewrite the README's results table.

    python -m bench.run_all                  # every benchmark (make bench)
    python -m bench.run_all scale_curve      # just these: their rows replace their last figures
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SETTLE_SECONDS = 3.0
SCRIPTS = [
    "notify_resume",
    "decision_paths",
    "emit_browser",
    "open_sockets",
    "waiting_capacity",
    "throughput",
    "timeout_precision",
    "index_scale",
    "inbox_scale",
    "notifier_outage",
    "scale_curve",
    "replication_cost",
]


def run(script: str) -> dict[str, Any]:
    """Run one benchmark; its last line is its JSON figure."""
    # The previous benchmark's processes (Redis writing its log, gunicorn and workers stopping) may
    # still hold a core for a moment: on two cores that shows in the next figure.
    time.sleep(SETTLE_SECONDS)
    print(f"== bench.{script}", flush=True)
    done = subprocess.run([sys.executable, "-m", f"bench.{script}"], cwd=ROOT, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise SystemExit(f"bench.{script} printed no figure (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["command"] = f"python -m bench.{script}"
    result["exit"] = done.returncode
    print(lines[-1], flush=True)
    return result


def measured(r: dict[str, Any]) -> str:
    """The figure as the table shows it."""
    figure = r["figure"]
    if figure == "open sockets":
        health = r["healthz_ms_after_push"]["p50"]
        return f"{r['held']:,} held, {r['fragments_delivered']:,} fragments pushed, /healthz p50 {health} ms"
    if figure == "waiting capacity":
        return f"{r['waiting']:,} waiting, {r['bytes_per_waiting_run']:,} B each, {r['lost']} lost"
    if figure == "throughput":
        return f"{r['runs_per_s']} runs/s"
    if figure == "index scale":
        low, high = r["sizes"][str(r["smallest"])], r["sizes"][str(r["largest"])]
        page, push = "get_index_ms", "index_push_ms"
        return (
            f"GET / p50 {low[page]['p50']} ms at {r['smallest']:,} runs, {high[page]['p50']} ms at {r['largest']:,}; "
            f"index push p50 {low[push]['p50']} -> {high[push]['p50']} ms"
        )
    if figure == "decision paths":
        form, vote = r["form"], r["quorum_vote"]
        return (
            f"form p50 {form['p50']} ms, p99 {form['p99']} ms; "
            f"quorum's deciding vote p50 {vote['p50']} ms, p99 {vote['p99']} ms"
        )
    if figure == "inbox scale":
        sizes = r["sizes"]
        shown = "; ".join(f"{int(n):,} asks: p50 {v['get_inbox_ms']['p50']} ms" for n, v in sizes.items())
        return f"GET /inbox {shown}"
    if figure == "notify -> resume, every notifier endpoint hanging":
        hung = r["endpoints_hanging"]
        return f"p50 {hung['p50']} ms, p99 {hung['p99']} ms"
    if figure == "scale curve":
        low, high = r["sizes"]["0"], r["sizes"][str(r["largest"])]
        parts = [f"notify -> resume p50 {low['notify_resume_ms']['p50']} -> {high['notify_resume_ms']['p50']} ms"]
        pages = (("GET /", "get_index_ms_p50"), ("run page", "get_run_ms_p50"), ("/inbox", "get_inbox_ms_p50"))
        for name, key in pages:
            parts.append(f"{name} {low[key]} -> {high[key]} ms")
        idle = high["idle_worker_cpu_percent"]
        return f"0 -> {r['largest']:,} waiting: " + "; ".join(parts) + f"; idle worker {idle}% of a core"
    if figure == "replication cost":
        one, acked = r["setups"]["one Redis"], r["setups"]["HITL_MIN_REPLICAS=1"]
        return (
            f"HITL_MIN_REPLICAS=1: notify -> resume p50 {acked['p50']} ms, p99 {acked['p99']} ms, "
            f"{acked['runs_per_s']} runs/s (one Redis: {one['p50']} / {one['p99']} ms, {one['runs_per_s']} runs/s)"
        )
    return f"p50 {r['p50']} ms, p99 {r['p99']} ms"


def baseline(r: dict[str, Any]) -> tuple[str, str]:
    """The naive baseline and our ratio to it, where the benchmark measures one."""
    if r["figure"] == "notify -> resume":
        b = r["baseline"]
        return f"p50 {b['p50']} ms, p99 {b['p99']} ms (blocked RQ job)", f"{r['p50'] / b['p50']:.1f}x slower"
    if r["figure"] == "waiting capacity":
        b = r["baseline"]
        waiting = f"{b['waiting_at_once']} waiting of {b['jobs']:,} blocked RQ jobs (one per worker)"
        return waiting, f"{r['ratio']:,}x more"
    if r["figure"] == "index scale":
        return "", f"{r['get_index_p50_ratio']}x / {r['index_push_p50_ratio']}x of the smallest"
    if r["figure"] == "notify -> resume, every notifier endpoint hanging":
        quiet = r["without_notifiers"]
        shown = f"p50 {quiet['p50']} ms, p99 {quiet['p99']} ms (no notifiers, same rounds)"
        return shown, f"{r['ratio_p50']}x / {r['ratio_p99']}x"
    return "", ""


def table(results: list[dict[str, Any]]) -> str:
    """The README's table."""
    rows = [
        "| figure | target | measured | baseline | ratio | command | date | machine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base, ratio = baseline(r)
        cells = [r["figure"], r["target"], measured(r), base, ratio, f"`{r['command']}`", r["date"], r["machine"]]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    saved = ROOT / "bench" / "results.json"
    fresh = {f"python -m bench.{s}": run(s) for s in (sys.argv[1:] or SCRIPTS)}
    # Benchmarks run by name replace their own rows; the others keep their last figures.
    kept = {r["command"]: r for r in json.loads(saved.read_text())} if saved.exists() and sys.argv[1:] else {}
    by_command = {**kept, **fresh}
    order = [f"python -m bench.{s}" for s in SCRIPTS]
    results = sorted(by_command.values(), key=lambda r: order.index(r["command"]) if r["command"] in order else 99)
    saved.write_text(json.dumps(results, indent=2) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{START}\n{table(results)}\n{END}{tail}")
    print(table(results))


if __name__ == "__main__":
    main()
