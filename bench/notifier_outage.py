"""notify -> resume while every notification endpoint hangs, against the same figure with no notifiers.

Each ask's opening queues a webhook delivery to an endpoint that accepts connections and never
answers (each attempt runs into its 5 s timeout, in the notifier process); the decisions go through
``POST /api/notify`` as in ``bench.notify_resume``. Rounds alternate the two, so a noisy minute hits
both. Target (issue 16): within 10% of the figure without notifiers.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading

from bench.notify_resume import measure_ours
from bench.stack import percentiles, report


def hanging_endpoint() -> tuple[str, socket.socket]:
    """A TCP endpoint that accepts every connection and never answers: its URL, and the socket."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])  # kept open, never read, never answered
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, server = hanging_endpoint()
    hanging = {"HITL_NOTIFIERS": f"hook=webhook:{url}", "HITL_NOTIFIER_SECRETS": "hook:s3cr3t"}
    quiet: list[dict[str, float]] = []
    loud: list[dict[str, float]] = []
    try:
        for _ in range(args.rounds):
            quiet.append(percentiles(measure_ours(args.n)))
            loud.append(percentiles(measure_ours(args.n, worker_env=hanging, notifier=True)))
    finally:
        server.close()

    def median(rounds: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 2)

    report(
        "notify -> resume, every notifier endpoint hanging",
        n=args.n,
        unit="ms",
        rounds=args.rounds,
        without_notifiers={"p50": median(quiet, "p50"), "p99": median(quiet, "p99")},
        endpoints_hanging={"p50": median(loud, "p50"), "p99": median(loud, "p99")},
        ratio_p50=round(median(loud, "p50") / median(quiet, "p50"), 2),
        ratio_p99=round(median(loud, "p99") / median(quiet, "p99"), 2),
        target="within 10% (ratio <= 1.10)",
        settings={"workers": 1, "notifier": 1, "transport": "HTTP POST /api/notify"},
    )


if __name__ == "__main__":
    main()
