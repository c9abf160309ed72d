"""The RQ worker class: executes runs in-process and sweeps deadlines, wake-ups and expired leases."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from rq import SimpleWorker

from .runner import Engine, engine_for

log = logging.getLogger("hitl_web.worker")


class Sweeper(threading.Thread):
    """Fires what is due (timeouts, sleeps, retries, abandoned runs) and renews the current lease."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="hitl-sweeper", daemon=True)
        self.engine = engine
        self.stopped = threading.Event()

    def run(self) -> None:
        """Loop until stopped; a Redis hiccup is logged and retried, never fatal."""
        settings = self.engine.settings
        renew_every = max(settings.lease_seconds / 3, settings.sweep_interval)
        next_renewal = 0.0
        while not self.stopped.wait(settings.sweep_interval):
            try:
                self.sweep_once()
                current = self.engine.current
                now = time.monotonic()
                if current is not None and now >= next_renewal:
                    self.engine.store.renew(*current)
                    next_renewal = now + renew_every
            except Exception:
                log.exception("sweep failed; trying again")

    def sweep_once(self) -> int:
        """Act on everything due now; returns how many runs were handed to a job."""
        enqueued = 0
        for run_id, why, job_id in self.engine.store.sweep():
            if why == "queued" and self.engine.still_queued(job_id):
                continue  # a long queue, not a lost job: its lease was extended
            log.info("run=%s due=%s: enqueued", run_id, why)
            self.engine.enqueue(run_id)
            enqueued += 1
        return enqueued


class Worker(SimpleWorker):
    """An RQ worker that runs jobs without forking (a fork costs more than most steps) and sweeps."""

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """Start the sweeper beside the work loop."""
        super().bootstrap(*args, **kwargs)
        logger = logging.getLogger("hitl_web")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        self.sweeper = Sweeper(engine_for(self.connection))
        self.sweeper.start()

    def teardown(self) -> None:
        """Stop the sweeper, then let RQ clean up."""
        sweeper = getattr(self, "sweeper", None)
        if sweeper is not None:
            sweeper.stopped.set()
            sweeper.join(timeout=5)
        super().teardown()  # type: ignore[no-untyped-call]
