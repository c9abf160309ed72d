"""The scheduler child of `rq worker --with-scheduler`, made to leave with its worker and to wait out Redis outages.

RQ forks its scheduler from the worker and never looks back: a SIGKILLed worker left it running,
refreshing the scheduler lock of its queues, so no later worker's scheduler could take over.
"""

from __future__ import annotations

import os
import time
from multiprocessing.process import BaseProcess
from typing import Any

from rq.scheduler import RQScheduler

from ..outages import Backoff, outage


class Scheduler(RQScheduler):
    """RQ's scheduler process, which stops (releasing its locks) once the worker that forked it is gone."""

    parent_pid = 0

    def start(self) -> BaseProcess:
        """Fork the scheduler process, which remembers its worker's pid."""
        self.parent_pid = os.getpid()
        return super().start()  # type: ignore[no-untyped-call,no-any-return]

    def orphaned(self) -> bool:
        """True once the worker that forked this process has exited (the process was re-parented)."""
        return os.getppid() != self.parent_pid

    def work(self) -> None:
        """RQ's scheduler loop, until told to stop or orphaned; a Redis outage is waited out, not fatal."""
        self._install_signal_handlers()  # type: ignore[no-untyped-call]
        backoff = Backoff(f"scheduler {self.name}")
        born = False
        while not self._stop_requested:
            # Polled (each second) rather than PR_SET_PDEATHSIG: portable, and RQ's own loop owns the signals.
            if self.orphaned():
                self.log.warning("Scheduler: worker %d is gone, stopping", self.parent_pid)
                break
            delay = float(self.interval)
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()  # type: ignore[no-untyped-call]
                self.heartbeat()  # type: ignore[no-untyped-call]
                self.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
                backoff.recovered()
            except Exception as exc:
                if outage(exc) is None:
                    raise
                delay = max(delay, backoff.failed(exc))
            time.sleep(delay)
        try:
            self.stop()  # type: ignore[no-untyped-call]
        except Exception as exc:
            if outage(exc) is None:
                raise
            self.log.warning("Scheduler: Redis is out, its locks expire by themselves (%s)", exc)


def start_scheduler(worker: Any, burst: bool, logging_level: str | None, date_format: str, log_format: str) -> None:
    """RQ's ``Worker._start_scheduler`` with this module's ``Scheduler`` (RQ offers no scheduler class option)."""
    worker.scheduler = scheduler = Scheduler(
        worker.queues,
        connection=worker.connection,
        logging_level=logging_level if logging_level is not None else worker.log.level,
        date_format=date_format,
        log_format=log_format,
        serializer=worker.serializer,
    )
    scheduler.acquire_locks()  # type: ignore[no-untyped-call]
    if not scheduler.acquired_locks:
        return  # another worker's scheduler holds them; RQ's maintenance tries again
    if not burst:
        scheduler.start()
        return
    try:
        scheduler.register_birth()
        scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
    finally:
        scheduler.release_locks()  # type: ignore[no-untyped-call]
        scheduler.register_death()
