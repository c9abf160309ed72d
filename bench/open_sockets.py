"""open sockets: WebSocket viewers one web process holds while pushing every fragment and answering /healthz."""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request

import websockets

from bench.stack import percentiles, report, stack, waiting_runs
from hitl_web.engine.journal import Journal
from hitl_web.live import Realtime


async def viewer(port: int, run_id: str, after: str, got: list[int], ready: asyncio.Event, i: int) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/runs/{run_id}?after={after}", max_size=None, open_timeout=60, ping_interval=None
    ) as ws:
        ready.set()
        async for _ in ws:
            got[i] += 1


def healthz_ms(port: int) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        assert resp.status == 200
    return (time.perf_counter() - started) * 1000


async def hold(port: int, realtime: Realtime, run_ids: list[str], viewers: int) -> dict[str, object]:
    afters = {r: realtime.channel(r).last_id() for r in run_ids}
    got = [0] * viewers
    readies = [asyncio.Event() for _ in range(viewers)]
    tasks = []
    started = time.monotonic()
    for i in range(viewers):
        r = run_ids[i % len(run_ids)]
        tasks.append(asyncio.create_task(viewer(port, r, afters[r], got, readies[i], i)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # connect in waves, as page loads would
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in readies)), 120)
    connect_s = time.monotonic() - started
    loop = asyncio.get_running_loop()
    health_open = [await loop.run_in_executor(None, healthz_ms, port) for _ in range(20)]
    pushed_at = time.time()
    for r in run_ids:
        Journal(realtime.redis, realtime.prefix).append(r, "workflow.stepStart", {"stepName": "bench", "index": 99})
    deadline = time.monotonic() + 60
    while sum(1 for g in got if g >= 1) < viewers and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    delivered = sum(1 for g in got if g >= 1)
    all_in_s = time.time() - pushed_at
    health_busy = [await loop.run_in_executor(None, healthz_ms, port) for _ in range(20)]
    errors = [repr(t.exception())[:200] for t in tasks if t.done() and t.exception() is not None]
    failed = len(errors)
    if errors:
        print("first socket errors:", sorted(set(errors))[:5], flush=True)
    for t in tasks:
        t.cancel()
    return {
        "viewers": viewers,
        "connected_in_s": round(connect_s, 2),
        "fragments_delivered": delivered,
        "all_delivered_in_s": round(all_in_s, 3),
        "sockets_failed": failed,
        "healthz_ms_while_open": percentiles(health_open),
        "healthz_ms_after_push": percentiles(health_busy),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with stack(workers=1) as st:
        web = st.web()
        run_ids = waiting_runs(st, args.runs)
        out = asyncio.run(hold(web.port, Realtime(st.redis, st.settings.key_prefix), run_ids, args.viewers))
    ok = out["fragments_delivered"] == args.viewers and out["sockets_failed"] == 0
    report(
        "open sockets",
        n=args.viewers,
        held=args.viewers if ok else out["fragments_delivered"],
        **out,
        target=">= 2,000 viewers, every fragment pushed, /healthz answering",
        settings={"web": "1 gunicorn process, gevent", "runs": args.runs},
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
