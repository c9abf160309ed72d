"""emit -> browser: an event emitted -> the fragment received by a WebSocket client (100 clients, 100 runs).

The events are emitted by a process of their own, as a worker's are: sharing the clients' process
(and its GIL) would add the clients' own scheduling to the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from multiprocessing.connection import Connection

import websockets

from bench.stack import percentiles, report, stack, waiting_runs
from hitl_web.connections import connect
from hitl_web.engine.journal import Journal
from hitl_web.live import Realtime


async def viewer(port: int, run_id: str, after: str, arrivals: list[float], ready: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/runs/{run_id}?after={after}", max_size=None) as ws:
        ready.set()
        async for _ in ws:
            arrivals.append(time.time())


def emitter(url: str, prefix: str, run_ids: list[str], rounds: int, pipe: Connection) -> None:
    """In its own process: each round, one event per run, ~1 ms apart; sends back when each was emitted."""
    journal = Journal(connect(url), prefix)
    emitted: dict[str, list[float]] = {r: [] for r in run_ids}
    pipe.recv()  # the viewers are connected
    for n in range(rounds):
        for r in run_ids:
            emitted[r].append(time.time())
            journal.append(r, "workflow.stepStart", {"stepName": f"bench-{n}", "index": 99})
            time.sleep(0.001)  # events spread over ~100 ms, as steps of many runs would be
        pipe.send(n)
        pipe.recv()  # every fragment of the round arrived
    pipe.send(emitted)


async def measure(port: int, st: object, run_ids: list[str], rounds: int) -> list[float]:
    settings = st.settings  # type: ignore[attr-defined]
    realtime = Realtime(st.redis, settings.key_prefix)  # type: ignore[attr-defined]
    arrivals: dict[str, list[float]] = {r: [] for r in run_ids}
    readies = [asyncio.Event() for _ in run_ids]
    afters = {r: realtime.channel(r).last_id() for r in run_ids}
    tasks = [
        asyncio.create_task(viewer(port, r, afters[r], arrivals[r], e)) for r, e in zip(run_ids, readies, strict=True)
    ]
    await asyncio.gather(*(e.wait() for e in readies))
    await asyncio.sleep(0.5)
    # A push before the first emit (a page catching up on the run's own events) is not a sample:
    # counted, it would pair each emit with the arrival of the one before.
    for got in arrivals.values():
        got.clear()
    ours, theirs = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(
        target=emitter, args=(settings.redis_url, settings.key_prefix, run_ids, rounds, theirs)
    )
    proc.start()
    ours.send("go")
    for n in range(rounds):
        while not ours.poll():
            await asyncio.sleep(0.005)
        ours.recv()
        deadline = time.monotonic() + 10
        while any(len(arrivals[r]) < n + 1 for r in run_ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        ours.send("next")
    emitted: dict[str, list[float]] = ours.recv()
    proc.join()
    for t in tasks:
        t.cancel()
    samples = []
    for r in run_ids:
        for sent, got in zip(emitted[r], arrivals[r], strict=False):
            samples.append((got - sent) * 1000)
    missing = sum(len(emitted[r]) - min(len(emitted[r]), len(arrivals[r])) for r in run_ids)
    if missing:
        raise SystemExit(f"{missing} fragments never arrived")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with stack(workers=1) as st:
        web = st.web()
        run_ids = waiting_runs(st, args.clients)
        samples = asyncio.run(measure(web.port, st, run_ids, args.rounds))
    report(
        "emit -> browser",
        n=len(samples),
        unit="ms",
        **percentiles(samples),
        target="p50 <= 5 ms, p99 <= 20 ms",
        settings={
            "clients": args.clients,
            "runs": args.clients,
            "rounds": args.rounds,
            "web": "1 gunicorn gevent",
            "emitter": "a process of its own, one event per run per round, 1 ms apart",
        },
    )


if __name__ == "__main__":
    main()
