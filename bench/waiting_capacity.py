"""waiting capacity: runs waiting at once with 2 workers, Redis memory per waiting run, all complete after notify.

Baseline, same run: plain RQ jobs that block their worker until the decision, on 2 stock RQ
workers. A blocked job holds its worker, so the baseline's capacity is its worker count: the
script enqueues as many jobs and counts how many wait at once (the rest queue behind them).
"""

from __future__ import annotations

import argparse
import time

from bench.flows import baseline_job
from bench.stack import Stack, plain_rq_workers, report, stack, wait_for
from hitl_web.engine import RunStatus


def count(st: object, status: RunStatus) -> int:
    client = st.client  # type: ignore[attr-defined]
    return sum(1 for _ in _runs_with(client, status))


def _runs_with(client: object, status: RunStatus) -> list[str]:
    store = client.store  # type: ignore[attr-defined]
    ids = [i.decode() for i in store.redis.zrange(store.keys.index, 0, -1)]
    out = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        with store.redis.pipeline(transaction=False) as pipe:
            for rid in chunk:
                pipe.hget(store.keys.run(rid), "status")
            statuses = pipe.execute()
        out += [rid for rid, s in zip(chunk, statuses, strict=True) if s and s.decode() == status.value]
    return out


def measure_baseline(st: Stack, jobs: int, workers: int = 2) -> dict[str, int]:
    """Enqueue ``jobs`` blocking RQ jobs on ``workers`` stock workers: how many wait at once, and do all finish."""
    from rq import Queue

    prefix, r = st.settings.key_prefix, st.redis
    with plain_rq_workers(st, workers) as queue_name:
        queue = Queue(queue_name, connection=r)
        with r.pipeline(transaction=False) as pipe:
            for i in range(jobs):
                queue.enqueue(baseline_job, prefix, f"b{i}", result_ttl=0, pipeline=pipe)
            pipe.execute()
        ready = f"{prefix}:baseline:ready"
        wait_for(lambda: r.llen(ready) >= workers, 60, "baseline jobs to start", 0.05)
        time.sleep(2.0)  # time enough for a third job to start, if one could
        waiting = int(r.llen(ready))
        for i in range(jobs):  # decide every job: each one that starts then finds its decision
            r.rpush(f"{prefix}:baseline:decision:b{i}", "approved")
        wait_for(lambda: r.llen(f"{prefix}:baseline:resumed") == jobs, 600, "baseline jobs to finish", 0.2)
    return {"jobs": jobs, "workers": workers, "waiting_at_once": waiting, "queued_behind": jobs - waiting}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--baseline-jobs", type=int, default=1000)
    args = parser.parse_args()
    with stack(workers=2) as st:
        r = st.redis
        r.execute_command("MEMORY", "PURGE")
        before = int(r.info("memory")["used_memory"])
        started = time.monotonic()
        run_ids = [st.client.trigger("human-in-loop", {"userId": f"u{i}", "action": "ship"}) for i in range(args.n)]
        wait_for(lambda: count(st, RunStatus.WAITING) == args.n, 600, "all waiting", 0.5)
        all_waiting_s = time.monotonic() - started
        time.sleep(1)  # let the background event writes land
        r.execute_command("MEMORY", "PURGE")
        after = int(r.info("memory")["used_memory"])
        per_run = (after - before) / args.n
        started = time.monotonic()
        for run_id in run_ids:
            st.client.notify(f"approval-{run_id}", {"approved": True})
        wait_for(lambda: count(st, RunStatus.COMPLETED) == args.n, 600, "all complete", 0.5)
        all_done_s = time.monotonic() - started
        lost = args.n - count(st, RunStatus.COMPLETED)
        base = measure_baseline(st, args.baseline_jobs)
    report(
        "waiting capacity",
        n=args.n,
        waiting=args.n,
        bytes_per_waiting_run=round(per_run),
        lost=lost,
        all_waiting_in_s=round(all_waiting_s, 1),
        all_completed_in_s=round(all_done_s, 1),
        baseline={**base, "why": "a blocked RQ job holds its worker: capacity = number of workers"},
        ratio=round(args.n / max(base["waiting_at_once"], 1)),
        target="10,000 waiting, <= 2 KB each, all complete after notify, 0 lost",
        settings={"workers": 2, "workflow": "human-in-loop", "includes": "run, steps, waiter, due entry, event stream"},
    )


if __name__ == "__main__":
    main()
