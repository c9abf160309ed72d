"""Each worker's sweeper thread: fires what is due, renews the current run's lease, beats the worker's heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ..execution import Engine
from ..middleware import fire
from ..outages import Backoff, outage
from ..outcomes import DueReason
from ..rungs import fire_due
from .heartbeat import beat, beat_every

if TYPE_CHECKING:
    from .rq_worker import Worker

log = logging.getLogger("hitl_web.worker")


class Sweeper(threading.Thread):
    """Fires what is due (timeouts, sleeps, retries, abandoned runs), renews the current lease and beats."""

    def __init__(self, engine: Engine, executing: Engine, worker: Worker) -> None:
        super().__init__(name="hitl-sweeper", daemon=True)
        self.engine = engine  # this thread's own connection
        self.executing = executing  # whose current run's lease this thread renews
        self.worker = worker  # whose heartbeat this thread beats, and whose idle state it shows
        self.stopped = threading.Event()
        # Until the walks over data of earlier versions are done (storage/upgrades.py), each sweep
        # takes a batch more of them; then this process calls them no more.
        self.upgraded = False

    def run(self) -> None:
        """Loop until stopped; a Redis outage is waited out with backoff, any other error logged and retried."""
        settings = self.engine.settings
        renew_every = max(settings.lease_seconds / 3, settings.sweep_interval)
        beat_interval = max(beat_every(settings), settings.sweep_interval)
        next_renewal = next_beat = 0.0
        backoff = Backoff(f"worker {self.worker.name} sweeper")
        delay = settings.sweep_interval
        while not self.stopped.wait(delay):
            delay = settings.sweep_interval
            try:
                now = time.monotonic()
                current = self.executing.current
                if current is not None and now >= next_renewal:
                    self.engine.store.renew(*current)
                    next_renewal = now + renew_every
                if now >= next_beat:
                    beat(self.engine.redis, self.worker)
                    next_beat = now + beat_interval
                self.worker.show_idle(now)
                self.sweep_once()
                backoff.recovered()
            except Exception as exc:
                if outage(exc) is None:
                    log.exception("sweep failed; trying again")
                else:
                    # While Redis is out the current run's lease may expire: then, as after a crash,
                    # a sweep hands the run to a new job and this execution finds the lease lost.
                    delay = max(delay, backoff.failed(exc))

    def sweep_once(self) -> int:
        """Act on everything due now; returns how many runs were handed to a job."""
        if not self.upgraded:
            self.upgraded = self.engine.store.upgrades.step()
        enqueued = 0
        for run_id, why, nonce in self.engine.store.sweep():
            if why is DueReason.QUEUED and self.engine.still_queued(run_id, nonce):
                continue  # a long queue, not a lost job: its lease was extended
            log.info("run=%s due=%s: enqueued", run_id, why)
            self.engine.enqueue(run_id)
            enqueued += 1
        for rung in fire_due(self.engine.store, self.engine.journal):
            log.info("run=%s ask=%s rung=%s fired", rung.run_id, rung.index, rung.rung)
            fire(self.executing.listeners, "ask_rung", run_id=rung.run_id, workflow=rung.workflow, index=rung.index,
                 step=rung.step, rung=rung.rung)  # fmt: skip
        return enqueued
