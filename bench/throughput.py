"""throughput: complete human-in-loop runs per second (trigger -> wait -> notify -> done), 2 workers.

A notifier follows the all-runs event stream and approves each run as soon as it reports that it
waits, as an eager approver would; triggers and notifies use the Python client (no HTTP).
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.stack import report, stack
from bench.waiting_capacity import count
from hitl_web.engine import RunStatus
from hitl_web.live import Realtime


def approver(st: object, realtime: Realtime, expected: int, finished: threading.Event) -> None:
    """Approve every run that starts waiting; set ``finished`` once ``expected`` runs finished.

    Following the event stream (rather than polling every run) keeps the benchmark's own CPU use
    low: on two cores it competes with the workers it measures.
    """
    client = st.client  # type: ignore[attr-defined]
    position, completed = "0-0", 0
    while completed < expected:
        for _, entries in realtime.read({realtime.all_key: position}, 500).items():
            for entry_id, fields in entries:
                position = entry_id
                if fields.get("e") == "workflow.waitingForInput":
                    run_id = fields["r"]
                    client.notify(f"approval-{run_id}", {"approved": True}, run_id)
                elif fields.get("e") == "workflow.runFinish":
                    completed += 1
    finished.set()


def measure(n: int, workers: int, replicated: int | None = None) -> float:
    """Complete runs per second of ``n`` runs on ``workers`` workers (``replicated``: as bench.stack's)."""
    with stack(workers=workers, journal_max_len=100_000, replicated=replicated) as st:
        realtime = Realtime(st.redis, st.settings.key_prefix)
        finished = threading.Event()
        notifier = threading.Thread(target=approver, args=(st, realtime, n, finished), daemon=True)
        notifier.start()
        started = time.monotonic()
        for i in range(n):
            st.client.trigger("human-in-loop", {"userId": f"u{i}", "action": "ship"})
        if not finished.wait(600):
            raise SystemExit("runs did not finish in 600 s")
        elapsed = time.monotonic() - started
        completed = count(st, RunStatus.COMPLETED)
        if completed != n:
            raise SystemExit(f"only {completed} of {n} runs completed")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rate = measure(args.n, args.workers)
    report(
        "throughput",
        n=args.n,
        runs_per_s=round(rate, 1),
        seconds=round(args.n / rate, 2),
        target=">= 300 runs/s",
        settings={"workers": args.workers, "workflow": "human-in-loop (4 steps, 1 wait)"},
    )


if __name__ == "__main__":
    main()
