"""The chaos soak: a steady load of human-in-loop runs while workers, web processes and the Redis primary die.

    python -m bench.soak --minutes 10

Two gunicorn web processes and three workers on a primary with a replica behind three Sentinels
(``HITL_MIN_REPLICAS=1``). While the load runs, a random worker is SIGKILLed every few seconds
(and replaced), a web process is SIGTERMed now and then (and started again), and the primary is
SIGKILLed twice (the Sentinels promote the replica; the old primary rejoins as a replica). Then
every run is checked (bench/chaos.py): finished once, one outcome per ask, every acknowledged
trigger and decision in the final state, no completed step run again beyond an interrupted one;
and the RSS of every web and worker process stays within 20% of its value after warm-up. One JSON
object is printed; the exit status is 1 when an invariant broke.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.chaos import Disruptions, Ledger, Load, check
from bench.stack import report
from hitl_web.connections import connect
from hitl_web.devtools.sentinels import MASTER, SentinelCluster
from hitl_web.engine import Client
from hitl_web.settings import Settings
from hitl_web.stack import WebServer, Workers

WARM_UP = 20.0  # seconds after a process starts before its RSS counts as its own
RSS_GROWTH = 0.20


class Memory:
    """RSS samples of every process (a gunicorn master with its workers counts as one), by pid."""

    def __init__(self) -> None:
        self.started: dict[int, tuple[str, float]] = {}
        self.samples: dict[int, list[tuple[float, int]]] = {}

    def watch(self, pid: int, what: str) -> None:
        """Sample ``pid`` (and its children) from now on."""
        self.started[pid] = (what, time.monotonic())

    def sample(self) -> None:
        """One RSS sample of every watched process still alive."""
        now = time.monotonic()
        for pid in list(self.started):
            try:
                proc = psutil.Process(pid)
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.Error:
                continue
            self.samples.setdefault(pid, []).append((now, rss))

    def verdict(self) -> dict[str, Any]:
        """Each process that lived past its warm-up: RSS then, its largest since, and whether it grew past 20%."""
        checked, grown = [], []
        for pid, samples in self.samples.items():
            what, started = self.started[pid]
            after = [rss for at, rss in samples if at >= started + WARM_UP]
            if len(after) < 3:
                continue  # killed before it warmed up
            baseline, peak = after[0], max(after)
            mb = {"warm_mb": round(baseline / 2**20, 1), "peak_mb": round(peak / 2**20, 1)}
            entry = {"process": what, "pid": pid, **mb}
            checked.append(entry)
            if peak > baseline * (1 + RSS_GROWTH):
                grown.append(entry)
        return {"processes_checked": len(checked), "rss_grown": grown, "rss": checked}


class Chaos(threading.Thread):
    """Kills workers, restarts web processes and fails the primary over, on a schedule, until told to stop."""

    def __init__(self, cluster: SentinelCluster, workers: Workers, webs: list[WebServer], memory: Memory,
                 seconds: float, kill_every: float, worker_env: dict[str, str]) -> None:  # fmt: skip
        super().__init__(name="chaos", daemon=True)
        self.cluster, self.workers, self.webs, self.memory = cluster, workers, webs, memory
        self.seconds, self.kill_every, self.worker_env = seconds, kill_every, worker_env
        self.stop = threading.Event()
        self.disruptions = Disruptions()
        self.counts = {"workers_killed": 0, "webs_restarted": 0, "failovers": 0}
        self.failover_seconds: list[float] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        """The schedule: failovers at a third and two thirds, a web restart every 45 s, worker kills between."""
        begun = time.monotonic()
        failovers = [begun + self.seconds / 3, begun + 2 * self.seconds / 3]
        next_web = begun + min(45.0, self.seconds / 2)
        try:
            while not self.stop.wait(self.kill_every * random.uniform(0.6, 1.4)):
                now = time.monotonic()
                if failovers and now >= failovers[0]:
                    failovers.pop(0)
                    self._fail_over()
                elif now >= next_web:
                    next_web = now + 45.0
                    self._restart_web()
                else:
                    self._kill_worker()
                self.memory.sample()
        except BaseException as exc:  # reported with the figures: the load stops
            self.error = exc

    def _kill_worker(self) -> None:
        alive = [p for p in self.workers.procs if p.poll() is None]
        victim = random.choice(alive)
        self.disruptions.killed_pids.add(victim.pid)
        self.workers.kill(victim)
        self.counts["workers_killed"] += 1
        (started,) = self.workers.start(1, extra_env=self.worker_env)
        self.memory.watch(started.pid, "worker")

    def _restart_web(self) -> None:
        web = random.choice(self.webs)
        web.stop()  # SIGTERM: gunicorn's graceful stop; its sockets close with 1012
        web.start()
        assert web.proc is not None
        self.memory.watch(web.proc.pid, "web")
        self.counts["webs_restarted"] += 1

    def _fail_over(self) -> None:
        killed_at = time.time()
        old, _new = self.cluster.kill_primary()
        self.failover_seconds.append(round(time.time() - killed_at, 2))
        self.cluster.rejoin(old)
        self.disruptions.windows.append((killed_at, time.time() + 5.0))  # and a lease (3 s) to hand its runs on
        self.counts["failovers"] += 1


def soak(minutes: float, rate: float, kill_every: float) -> dict[str, Any]:
    """Run the soak; its figures."""
    workdir = Path(tempfile.mkdtemp(prefix="hitl-soak-"))
    cluster = SentinelCluster(workdir / "redis").start()
    settings = Settings(redis_url=cluster.url, redis_sentinels=tuple(cluster.sentinels_setting.split(",")),
                        redis_sentinel_master=MASTER, redis_sentinel_password=cluster.sentinel_password,
                        min_replicas=1, replica_timeout=2.0, lease_seconds=3.0, key_prefix="soak", queue_name="soak",
                        workflow_modules=("bench.flows",))  # fmt: skip
    step_log = workdir / "steps.log"
    worker_env = {"HITL_SOAK_LOG": str(step_log)}
    workers = Workers(settings, workdir / "workers")
    memory = Memory()
    webs = [WebServer(settings, workdir / f"web{i}").start() for i in range(2)]
    try:
        for proc in workers.start(3, extra_env=worker_env):
            memory.watch(proc.pid, "worker")
        for web in webs:
            assert web.proc is not None
            memory.watch(web.proc.pid, "web")
        ledger = Ledger()
        load = Load([w.url for w in webs], ledger)
        chaos = Chaos(cluster, workers, webs, memory, minutes * 60, kill_every, worker_env)
        began = time.monotonic()
        chaos.start()
        steady(load, rate, minutes * 60, chaos)
        chaos.stop.set()
        chaos.join()
        if chaos.error is not None:
            raise chaos.error
        memory.sample()
        client = Client(connect(settings), settings)
        figures = check(client, ledger, step_log, chaos.disruptions)
        used = client.store.redis.info("memory")["used_memory"]
        return {
            "minutes": minutes,
            "seconds": round(time.monotonic() - began, 1),
            "rate": rate,
            **figures,
            **chaos.counts,
            "failover_seconds": chaos.failover_seconds,
            "redis_bytes_per_run": round(used / max(1, len(ledger.runs))),
            **memory.verdict(),
        }
    finally:
        for web in webs:
            web.stop()
        workers.stop_all()
        cluster.stop()


def steady(load: Load, rate: float, seconds: float, chaos: Chaos) -> None:
    """``rate`` runs a second for ``seconds``, each on a thread of its own (a run waits out 503s and restarts)."""
    threads: list[threading.Thread] = []
    began = time.monotonic()
    started = 0
    while time.monotonic() - began < seconds and chaos.error is None:
        due = int((time.monotonic() - began) * rate) + 1
        for _ in range(due - started):
            thread = threading.Thread(target=load.one_run, daemon=True)
            thread.start()
            threads.append(thread)
        started = due
        threads = [t for t in threads if t.is_alive()]
        time.sleep(0.05)
    for thread in threads:  # the runs started last are still being decided
        thread.join(load.give_up_after + 30)


def main() -> None:
    """Parse the options, soak, print the JSON; exit 1 when an invariant broke."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default 10)")
    parser.add_argument("--rate", type=float, default=20.0, help="runs started per second (default 20)")
    parser.add_argument("--kill-every", type=float, default=4.0, help="seconds between worker kills (about)")
    args = parser.parse_args()
    figures = soak(args.minutes, args.rate, args.kill_every)
    report("chaos soak", **figures)
    held = (not figures["broken"] and figures["completed"] == figures["runs"] and not figures["rss_grown"]
            and figures["failovers"] == 2)  # fmt: skip
    raise SystemExit(0 if held else 1)


if __name__ == "__main__":
    main()
