"""index scale: GET / and the index push (a new /ws/index connect -> its first fragment) from 100 to 100,000 runs.

The runs are seeded straight through the engine's own scripts (trigger, claim, then wait or finish
or cancel), pipelined, with no worker: the stored runs are what real ones leave, in a few seconds.
About 3% of them wait (at least 50, a full waiting list), the rest finished. One web process serves
the page; each size is measured with sequential requests and connects (p50/p99), plus a burst of
30 sockets connecting at once and of 4 visitors loading the page at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import websockets

from bench.stack import Stack, percentiles, report, stack
from hitl_web.engine.asks import filed_under, ladder
from hitl_web.engine.journal import Journal
from hitl_web.engine.models import Step, StepStatus, StepType
from hitl_web.engine.storage import scripts

SIZES = (100, 1_000, 10_000, 100_000)
BATCH = 1_000


def waiting_at(size: int) -> int:
    """How many of ``size`` runs wait."""
    return max(50, size * 3 // 100)


def seed(st: Stack, start: int, stop: int, waiting: int, approvers: Callable[[int], list[str]] | None = None) -> None:
    """Runs ``start`` to ``stop``: ``waiting`` of them wait (spread evenly), the others finished.

    ``approvers``: who may decide run ``n``'s ask (None: anyone).
    """
    store, k = st.client.store, st.client.store.keys
    scripts.load_all(store.redis)
    p = store.prefix
    queue, queues = f"{p}:bench-q", f"{p}:bench-qs"  # wake-up calls nobody takes: no worker runs
    no_hand_off = {"next_token": "", "next_lease": ""}
    every = max((stop - start) // max(waiting, 1), 1)
    waits_left = waiting
    with store.redis.pipeline(transaction=False) as pipe:
        for n in range(start, stop):
            rid, now = f"seed-{n:07d}", time.time()
            stamp, lease = f"{now:.3f}", repr(now + 3600)
            payload = json.dumps({"userId": f"u{n}", "action": "ship"})
            trigger = dict(prefix=p, run_id=rid, workflow="human-in-loop", payload=payload, now=stamp, lease=lease,
                           by="", nonce="ab", parent="", depth="", min_replicas=0)  # fmt: skip
            scripts.TRIGGER.queue(pipe, k.for_trigger(rid, queue, queues), trigger)
            claim = dict(prefix=p, run_id=rid, token="tok", now=repr(now), lease=lease, job_id="")
            scripts.CLAIM.queue(pipe, k.for_claim(rid, ""), claim)
            first = Step("initial-processing", StepType.RUN, StepStatus.COMPLETED, now, now, result={"userId": n})
            if waits_left and (n - start) % every == 0:
                waits_left -= 1
                wait = Step(
                    "wait-for-approval",
                    StepType.WAIT,
                    StepStatus.WAITING,
                    now,
                    event_id=f"approval-{rid}",
                    deadline=now + 86400,
                    message=f"Approve ship for u{n}?",
                    approvers=approvers(n) if approvers else None,
                )
                blob = f"0\t{first.to_json()}\n1\t{wait.to_json()}"
                wait_args = dict(prefix=p, run_id=rid, token="tok", records=blob, clear="0", index=1,
                                 event_id=f"approval-{rid}", deadline=repr(now + 86400), now=stamp,
                                 **no_hand_off, approvers=filed_under(wait), filed=repr(now + 86400),
                                 ladder=ladder(wait))  # fmt: skip
                scripts.WAIT.queue(pipe, k.for_wait(rid, f"approval-{rid}", queue), wait_args)
            elif n % 10 == 9:
                scripts.CANCEL.queue(
                    pipe, k.for_cancel(rid), dict(prefix=p, run_id=rid, now=stamp, ttl=0, principal="", audit_max=1000)
                )
            else:
                status, field, value = ("failed", "error", "boom") if n % 10 == 8 else ("completed", "result", "1")
                finish = dict(prefix=p, run_id=rid, token="tok", records=f"0\t{first.to_json()}", clear="0",
                              status=status, field=field, value=value, now=stamp, ttl=0, **no_hand_off)  # fmt: skip
                scripts.FINISH.queue(pipe, k.for_finish(rid, status, queue), finish)
            if n % BATCH == BATCH - 1:
                pipe.execute()
        pipe.execute()


def get_ms(port: int) -> float:
    """One GET / in milliseconds."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=120) as resp:
        resp.read()
        assert resp.status == 200
    return (time.perf_counter() - started) * 1000


async def first_push_ms(port: int) -> float:
    """Connect to /ws/index as a page rendered before every event would: ms until its first fragment."""
    started = time.perf_counter()
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/index?after=0-0", max_size=None, open_timeout=120) as ws:
        await asyncio.wait_for(ws.recv(), 120)
    return (time.perf_counter() - started) * 1000


async def burst(port: int, sockets: int) -> float:
    """``sockets`` connect at once: ms until the last one has its first fragment."""
    started = time.perf_counter()
    await asyncio.gather(*(first_push_ms(port) for _ in range(sockets)))
    return (time.perf_counter() - started) * 1000


def measure(port: int, samples: int) -> dict[str, Any]:
    """The figures at the current size."""
    for _ in range(3):  # warm: templates compiled, connections open
        get_ms(port)
    page = [get_ms(port) for _ in range(samples)]
    push = [asyncio.run(first_push_ms(port)) for _ in range(samples)]
    with ThreadPoolExecutor(4) as pool:
        visitors = max(pool.map(lambda _: get_ms(port), range(4)))
    return {
        "get_index_ms": percentiles(page),
        "index_push_ms": percentiles(push),
        "four_visitors_slowest_ms": round(visitors, 2),
        "thirty_sockets_all_pushed_ms": round(asyncio.run(burst(port, 30)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    by_size: dict[str, Any] = {}
    with stack(workers=0) as st:
        web = st.web()
        stored = 0
        for size in sizes:
            started = time.monotonic()
            seed(st, stored, size, waiting_at(size) - waiting_at(stored) if stored else waiting_at(size))
            seeded_s = time.monotonic() - started
            stored = size
            # An event on the all-runs stream: a socket connecting "after 0-0" then catches up at once.
            Journal(st.redis, st.settings.key_prefix).append(
                "seed-0000000", "workflow.runStart", {"workflow": "human-in-loop"}
            )
            by_size[str(size)] = {
                "runs": int(st.redis.zcard(st.client.store.keys.index)),
                "waiting": len(st.client.list_runs(status="waiting", limit=size)),
                "seeded_in_s": round(seeded_s, 1),
                **measure(web.port, args.samples),
            }
            print(size, by_size[str(size)], flush=True)
    low, high = by_size[str(sizes[0])], by_size[str(sizes[-1])]
    page_ratio = high["get_index_ms"]["p50"] / low["get_index_ms"]["p50"]
    push_ratio = high["index_push_ms"]["p50"] / low["index_push_ms"]["p50"]
    report(
        "index scale",
        sizes=by_size,
        smallest=sizes[0],
        largest=sizes[-1],
        get_index_p50_ratio=round(page_ratio, 2),
        index_push_p50_ratio=round(push_ratio, 2),
        flat=page_ratio <= 2 and push_ratio <= 2,
        target=f"flat: p50 at {sizes[-1]:,} within 2x of {sizes[0]:,}",
        settings={"web": "1 gunicorn process, gevent", "workers": 0, "samples": args.samples},
    )


if __name__ == "__main__":
    main()
