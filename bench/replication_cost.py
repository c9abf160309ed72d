"""What acknowledged-means-replicated costs: notify -> resume and throughput, with and without HITL_MIN_REPLICAS.

One Redis; a primary and a replica behind Sentinels; the same with ``HITL_MIN_REPLICAS=1``.

    python -m bench.replication_cost --rounds 3

The three set-ups run in turn, ``--rounds`` times (interleaved, so the machine's drift hits each
alike); the figures are the medians over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from bench.notify_resume import measure_ours
from bench.stack import percentiles, report
from bench.throughput import measure

SETUPS: dict[str, int | None] = {"one Redis": None, "Sentinels, a replica": 0, "HITL_MIN_REPLICAS=1": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="notifies per set-up and round")
    parser.add_argument("--runs", type=int, default=1500, help="runs of the throughput measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    taken: dict[str, dict[str, list[float]]] = {name: {"p50": [], "p99": [], "runs_per_s": []} for name in SETUPS}
    for _ in range(args.rounds):
        for name, replicated in SETUPS.items():
            latency = percentiles(measure_ours(args.n, replicated=replicated))
            taken[name]["p50"].append(latency["p50"])
            taken[name]["p99"].append(latency["p99"])
            taken[name]["runs_per_s"].append(measure(args.runs, 2, replicated=replicated))
    setups: dict[str, Any] = {
        name: {k: round(statistics.median(v), 2) for k, v in figures.items()} for name, figures in taken.items()
    }
    base, acked = setups["one Redis"], setups["HITL_MIN_REPLICAS=1"]
    report(
        "replication cost",
        n=args.n,
        rounds=args.rounds,
        unit="ms (notify -> resume), runs/s (throughput, 2 workers)",
        setups=setups,
        target="acknowledged writes cost under 1 ms at p50",
        p50_cost_ms=round(acked["p50"] - base["p50"], 2),
        throughput_ratio=round(acked["runs_per_s"] / base["runs_per_s"], 2),
    )


if __name__ == "__main__":
    main()
