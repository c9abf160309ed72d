"""timeout precision: when a wait's timeout fires minus its deadline, over 200 waits (2 workers)."""

from __future__ import annotations

import argparse

from bench.stack import percentiles, report, stack, wait_for
from bench.waiting_capacity import count
from hitl_web.engine import RunStatus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    with stack(workers=2) as st:
        run_ids = [st.client.trigger("bench-wait", args.timeout) for _ in range(args.n)]
        wait_for(lambda: count(st, RunStatus.COMPLETED) == args.n, 120, "all timed out", 0.1)
        lateness = []
        for run_id in run_ids:
            wait = st.client.get_run(run_id).steps[0]
            assert wait.result == {"event_data": None, "timeout": True}, wait
            assert wait.finished_at is not None and wait.deadline is not None
            lateness.append((wait.finished_at - wait.deadline) * 1000)
    report(
        "timeout precision",
        n=args.n,
        unit="ms late",
        **percentiles(lateness),
        early=sum(1 for x in lateness if x < 0),
        target="p99 <= 1 s",
        settings={"workers": 2, "sweep_interval_s": 0.1, "timeout_s": args.timeout},
    )


if __name__ == "__main__":
    main()
