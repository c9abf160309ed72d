"""notify -> resume: POST /api/notify sent -> the first line of the step after the wait runs (1 worker).

Baseline, same run: a plain RQ job blocked on a Redis list (BLPOP) until the decision is pushed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time

from bench.flows import baseline_job, resumed_key
from bench.stack import Stack, percentiles, plain_rq_workers, report, stack, wait_for
from hitl_web.engine import RunStatus


def measure_ours(
    n: int, worker_env: dict[str, str] | None = None, notifier: bool = False, replicated: int | None = None
) -> list[float]:
    """notify -> resume of ``n`` runs (``worker_env``: the worker's, e.g. notifiers; ``notifier``: start one).

    ``replicated``: behind Sentinels with a replica, that many acknowledgements awaited (bench.stack).
    """
    samples = []
    with stack(workers=1, worker_env=worker_env, replicated=replicated) as st:
        if notifier:
            st.workers.start_notifier(worker_env)
        web = st.web()
        run_ids = [st.client.trigger("bench-wait") for _ in range(n)]
        wait_for(lambda: all(st.client.get_run(r).status is RunStatus.WAITING for r in run_ids[-5:]), 60, "waits")
        wait_for(lambda: all(st.client.get_run(r).status is RunStatus.WAITING for r in run_ids), 120, "waits", 0.1)
        conn = http.client.HTTPConnection("127.0.0.1", web.port)
        key = resumed_key_for(st.settings.key_prefix)
        for run_id in run_ids:
            body = json.dumps({"eventId": f"bench-{run_id}", "eventData": {"approved": True}})
            sent = time.time()
            conn.request("POST", "/api/notify", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
            samples.append((resumed_at(st, key, run_id) - sent) * 1000)
    return samples


def resumed_at(st: Stack, key: str, run_id: str) -> float:
    """When ``run_id``'s step after the wait began: blocks on the list the step pushes to."""
    popped = None
    for _ in range(5):  # 2 s at a time: under redis-py's 5 s socket timeout
        popped = st.redis.blpop([key], timeout=2)
        if popped is not None:
            break
    if popped is None:
        raise SystemExit(f"run {run_id} did not resume within 10 s")
    who, _, at = popped[1].decode().partition(" ")
    if who != run_id:
        raise SystemExit(f"expected run {run_id} to resume, got {who}")
    return float(at)


def resumed_key_for(prefix: str) -> str:
    import os

    os.environ["HITL_KEY_PREFIX"] = prefix
    return resumed_key()


def measure_baseline(n: int) -> list[float]:
    """A plain RQ worker per waiting job: each decision wakes a job blocked on BLPOP."""
    from rq import Queue

    samples = []
    with stack(workers=0) as st, plain_rq_workers(st, 1) as queue_name:
        queue = Queue(queue_name, connection=st.redis)
        prefix = st.settings.key_prefix
        for i in range(n):
            run_id = f"b{i}"
            queue.enqueue(baseline_job, prefix, run_id, result_ttl=0)
            # The one worker is now blocked in this job: that is the baseline's waiting capacity.
            ready = st.redis.blpop([f"{prefix}:baseline:ready"], timeout=4)
            if ready is None or ready[1].decode() != run_id:
                raise SystemExit(f"baseline job {run_id} did not start")
            time.sleep(0.005)  # let it enter BLPOP
            sent = time.time()
            st.redis.rpush(f"{prefix}:baseline:decision:{run_id}", "approved")
            samples.append((resumed_at(st, f"{prefix}:baseline:resumed", run_id) - sent) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    ours = percentiles(measure_ours(args.n))
    base = percentiles(measure_baseline(min(args.n, 200)))
    report(
        "notify -> resume",
        n=args.n,
        unit="ms",
        **ours,
        baseline=base,
        ratio_p50=round(ours["p50"] / base["p50"], 1) if base.get("p50") else None,
        target="p50 <= 3 ms, p99 <= 10 ms",
        settings={"workers": 1, "transport": "HTTP POST /api/notify"},
    )


if __name__ == "__main__":
    main()
