"""throughput: complete human-in-loop runs per second (trigger -> wait -> notify -> done), 2 workers.

A notifier follows the all-runs event stream and approves each run as soon as it reports that it
waits, as an eager approver would; triggers and notifies use the Python client (no HTTP).
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.stack import report, stack, wait_for
from bench.waiting_capacity import count
from hitl_web.realtime import Realtime
from hitl_web.workflow import RunStatus


def approver(st: object, realtime: Realtime, expected: int, stop: threading.Event) -> None:
    """Notify every run that starts waiting, until ``expected`` runs were notified."""
    client = st.client  # type: ignore[attr-defined]
    position, done = "0-0", 0
    while done < expected and not stop.is_set():
        for _, entries in realtime.read({realtime.all_key: position}, 500).items():
            for entry_id, fields in entries:
                position = entry_id
                if fields.get("e") == "workflow.waitingForInput":
                    run_id = fields["r"]
                    client.notify(f"approval-{run_id}", {"approved": True}, run_id)
                    done += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with stack(workers=args.workers, stream_max_len=100_000) as st:
        realtime = Realtime(st.redis, st.settings.key_prefix)
        stop = threading.Event()
        notifier = threading.Thread(target=approver, args=(st, realtime, args.n, stop), daemon=True)
        notifier.start()
        started = time.monotonic()
        for i in range(args.n):
            st.client.trigger("human-in-loop", {"userId": f"u{i}", "action": "ship"})
        wait_for(lambda: count(st, RunStatus.COMPLETED) == args.n, 600, "all complete", 0.05)
        elapsed = time.monotonic() - started
        stop.set()
    report(
        "throughput",
        n=args.n,
        runs_per_s=round(args.n / elapsed, 1),
        seconds=round(elapsed, 2),
        target=">= 300 runs/s",
        settings={"workers": args.workers, "workflow": "human-in-loop (4 steps, 1 wait)"},
    )


if __name__ == "__main__":
    main()
