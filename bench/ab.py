"""Interleaved A/B of benchmarks between commits: each commit in a worktree of its own, runs alternated.

    python -m bench.ab 2d4be29 HEAD --bench throughput notify_resume --runs 3
    python -m bench.ab 2d4be29 HEAD --bench throughput --runs 5 --args "-n 10000"

Each round runs every benchmark once per commit, commits alternating, so a noisy minute hits both
sides; it prints each run's figures and the medians, one JSON object per benchmark and commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 3.0


def figures(result: dict[str, Any]) -> dict[str, float]:
    """The numbers of one benchmark's JSON worth comparing (top-level numbers, and p50/p99 one level down)."""
    out: dict[str, float] = {}
    for key, value in result.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and key not in {"n", "k"}:
            out[key] = float(value)
        elif isinstance(value, dict):
            out.update(
                {f"{key}.{k}": float(v) for k, v in value.items() if k in {"p50", "p99"} and isinstance(v, int | float)}
            )
    return out


def run_once(tree: Path, bench: str, extra: list[str] | None = None) -> dict[str, float] | None:
    """One run of ``bench`` (with arguments ``extra``) with the code of ``tree``; None when it printed no figure."""
    time.sleep(SETTLE_SECONDS)  # the previous run's processes may still hold a core
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "-m", f"bench.{bench}", *(extra or [])]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        print(f"bench.{bench} at {tree.name} printed no figure:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return figures(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    """Run the A/B and print its JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("commits", nargs="+", help="commits to compare (the first is the baseline)")
    parser.add_argument("--bench", nargs="+", default=["throughput", "notify_resume"], help="bench/ modules")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--args", default="", help="arguments for every benchmark, e.g. '-n 10000'")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hitl-ab-") as scratch:
        trees = {}
        for commit in args.commits:
            tree = Path(scratch) / commit.replace("/", "_")
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), commit], cwd=ROOT, check=True)
            trees[commit] = tree
        try:
            for bench in args.bench:
                runs: dict[str, list[dict[str, float]]] = {c: [] for c in trees}
                for _ in range(args.runs):
                    for commit, tree in trees.items():
                        result = run_once(tree, bench, args.args.split())
                        if result is not None:
                            runs[commit].append(result)
                for commit, results in runs.items():
                    keys = sorted(set().union(*results)) if results else []
                    medians = {k: statistics.median(r[k] for r in results if k in r) for k in keys}
                    print(json.dumps({"bench": bench, "commit": commit, "runs": results, "median": medians}))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
