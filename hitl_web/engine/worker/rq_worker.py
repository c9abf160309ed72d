"""The RQ worker class: executes runs in-process and sweeps deadlines, wake-ups and expired leases."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, cast

import redis
from rq import Queue
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.job import Job
from rq.utils import import_attribute
from rq.worker import WorkerStatus

from ...log_lines import configure
from ...settings import Settings
from ..execution import Engine, Execution
from ..outages import Backoff, describe, outage
from ..storage.store import Claim, Handed, new_token
from .scheduler import start_scheduler
from .steady import SteadyWorker
from .sweeper import Sweeper
from .wake_up_job import RunJob, RunQueue

log = logging.getLogger("hitl_web.worker")


class Worker(SteadyWorker):
    """An RQ worker that runs jobs without forking (a fork costs more than most steps) and sweeps.

    Run jobs take a lean path: a run's durability is its lease in Redis, not RQ's job bookkeeping,
    so the job is only a wake-up call. RQ's per-job registries, executions and heartbeats cost about
    twenty round trips a job; the lean path costs one (the dequeue, with the claim of the run
    pipelined behind it). While more wake-up calls are queued, the write that ends an execution
    claims the next run (``RunStore.handed``), or a hand-off script does (``RunStore.handoff``). Any
    other job runs as RQ runs it.
    """

    # When RQ's heartbeat and suspension check last went to Redis (both are throttled).
    _last_beat = 0.0
    _last_suspension_check = 0.0
    # Seconds a worker goes from run to run by hand-off before RQ's own loop runs again (its
    # heartbeat, maintenance, suspension and stop checks).
    handoff_budget = 1.0

    def __init__(self, *args: Any, engine: Engine | None = None, **kwargs: Any) -> None:
        # `rq worker` passes its default job and queue classes explicitly (as dotted names); in
        # their place, ours read wake-up calls. A class of the user's own is used as given.
        if _resolved(kwargs.get("job_class")) in (None, Job):
            kwargs["job_class"] = RunJob
        claiming = _resolved(kwargs.get("queue_class")) in (None, Queue)
        super().__init__(*args, **kwargs)
        # The state last written to the worker's hash (what `rq info` shows); see ``set_state``.
        self.written_state: str | None = None
        # Idle is written by the sweeper once a dequeue has waited IDLE_AFTER (under load a dequeue
        # returns at once, and a state written per run cost throughput); the lock keeps that write
        # and the dequeue's own view of the written state in one order.
        self.state_lock = threading.Lock()
        self.waiting_since: float | None = None
        if claiming:
            self.queue_class = cast(type[Queue], type("RunQueue", (RunQueue,), {"worker": self}))
        # Jobs a dequeue found besides the one it returned (see ``dequeue``), returned by the next.
        # Left here by a stop, they are not lost: a claimed run's lease brings it back, and RQ's
        # intermediate queue cleanup requeues an RQ job.
        self.found: list[tuple[Job, Queue]] = []
        self.backoff = Backoff(f"worker {self.name}")
        self._engine = engine  # made on first use from the environment's settings, when not given

    @property
    def engine(self) -> Engine:
        """The engine runs execute with (unless given), made on first use over a connection of its own.

        Runs execute on the main thread over that one connection (no pool bookkeeping per command);
        the sweeper thread has its own engine over the pool.
        """
        if self._engine is None:
            own = redis.Redis(connection_pool=self.connection.connection_pool, single_connection_client=True)
            self._engine = Engine(own, Settings.from_env())
            if self._engine.settings.notifiers:  # the asks' notifiers hear them open (notifications/)
                from ...notifications.announce import Notifications
                from ...notifications.notifiers import InvalidNotifier

                try:  # over the pool, not the main thread's own connection: the sweeper tells reminders
                    self._engine.listeners.append(Notifications(self.connection, self._engine.settings))
                except InvalidNotifier as exc:  # runs go on unannounced; the web process refuses to start
                    log.error("notifications off: %s", exc)
        return self._engine

    def _start_scheduler(
        self, burst: bool = False, logging_level: str | None = "INFO", date_format: str = "", log_format: str = ""
    ) -> None:
        """RQ's scheduler child, made to exit when this worker dies (see ``scheduler.Scheduler``)."""
        start_scheduler(self, burst, logging_level, date_format, log_format)

    def dequeue(self, queue: Queue, timeout: int, **kwargs: Any) -> tuple[Job, Queue]:
        """Block until a job arrives; a wake-up call's run is claimed in the same round trip.

        The claim (``take_moved.lua``) is pipelined right behind the BLMOVE, so Redis runs it as soon
        as the BLMOVE is served: the worker wakes up owning its run, where a claim of its own would
        cost another round trip. A job that is not a wake-up call is fetched as RQ fetches it.
        """
        if self.found:
            return self.found.pop(0)
        store = self.engine.store
        intermediate = queue.intermediate_queue_key
        while True:
            token = new_token()
            try:
                with self.state_lock:
                    # The claim writes busy unless busy is what Redis shows already (a run after a run).
                    busy = "" if self.written_state == WorkerStatus.BUSY else WorkerStatus.BUSY
                    self.waiting_since = time.monotonic()
                try:
                    with self.connection.pipeline(transaction=False) as pipe:
                        pipe.blmove(queue.key, intermediate, timeout)
                        store.take_moved(pipe, intermediate, token, self.key, busy)
                        moved, reply = pipe.execute(raise_on_error=False)
                finally:
                    with self.state_lock:
                        self.waiting_since = None
                if isinstance(moved, Exception):
                    raise moved
            except Exception as exc:
                if outage(exc) is None:
                    raise
                # RQ's loop beats, checks for a stop and dequeues again: waiting here keeps it in charge.
                self.backoff.wait(exc)
                raise DequeueTimeout(timeout, queue.key) from exc
            self.backoff.recovered()
            if isinstance(reply, Exception):  # NOSCRIPT after a Redis restart, or OOM: RQ fetches what moved
                if isinstance(reply, redis.exceptions.NoScriptError):
                    store.load_scripts()
                reply = []
            moved_id = moved.decode() if isinstance(moved, bytes) else moved
            results: list[tuple[Job, Queue]] = []
            taken = store.taken(reply)
            if taken is not None:
                run_id, job_id, claim = taken
                if isinstance(claim, Claim):
                    self.claimed_busy(bool(busy))
                    handed = Handed(run_id, token, claim)
                    results.append((RunJob.wake_up(job_id, run_id, self.connection, handed), queue))
                if job_id == moved_id:
                    moved_id = None  # the call this BLMOVE moved: taken (a refused claim drops it, as RQ's would)
            if moved_id is not None:  # another kind of job, or another worker's call was taken instead
                with contextlib.suppress(NoSuchJobError):  # gone since it was queued: skipped, as RQ does
                    results.append((self.job_class.fetch(moved_id, self.connection, self.serializer), queue))
            if results:
                self.found.extend(results[1:])
                return results[0]
            if moved is None:
                raise DequeueTimeout(timeout, queue.key)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Execute a run job in place; hand any other job to RQ."""
        run_id = job.run_id if isinstance(job, RunJob) else None
        if run_id is None:
            try:
                super().execute_job(job, queue)
            except Exception as exc:
                if outage(exc) is None:
                    raise
                log.warning("job %s: Redis %s during RQ's bookkeeping of it", job.id, describe(exc))
            return
        # Busy, so a stop signal waits for the run to park or finish (warm shutdown) instead of
        # interrupting it (written unless the claim with the dequeue wrote it).
        self.set_state(WorkerStatus.BUSY)
        assert isinstance(job, RunJob)
        try:
            # Claimed with the dequeue, which took the call off RQ's queues; otherwise the claim
            # takes the call off RQ's intermediate queue (it never had a job hash).
            wake_up = ("", "") if job.claimed is not None else (queue.intermediate_queue_key, job.id)
            execution = Execution(self.engine, run_id, wake_up, claimed=job.claimed, take_next=self._may_take_next())
            self.hand_off(execution.execute())
        except Exception as exc:
            # The run keeps its lease: when it expires, a sweep hands the run to a new job.
            if outage(exc) is None:
                log.exception("run job %s failed; the run's lease will bring it back", job.id)
            else:
                log.warning("run job %s stopped (Redis %s): the run's lease will bring it back", job.id, describe(exc))
            # Redis out: the call stays on RQ's intermediate queue, for its cleanup (the run needs it no more).
            with contextlib.suppress(redis.RedisError):
                self.connection.lrem(queue.intermediate_queue_key, 1, job.id)

    def _may_take_next(self, until: float | None = None) -> bool:
        """Whether the write that ends an execution may claim the next run: not told to stop, budget left."""
        return not self._stop_requested and (until is None or time.monotonic() < until)

    def hand_off(self, taken: Handed | None) -> None:
        """Execute the runs queued behind the one just executed, each taken as the previous ends.

        The write that ends an execution (a wait, a park, a finish) claims the next run in the same
        round trip (``taken``, what ``Execution.execute`` returned); when it took none, one hand-off
        script writes the last journal entries and tries again. Out of budget or told to stop, the
        worker takes no more.
        """
        until = time.monotonic() + self.handoff_budget
        handed = 0
        while True:
            if taken is None:
                if not self._may_take_next(until):
                    break  # the last execution's journal entries go out with the outbox
                taken = self.engine.store.handoff(new_token())
                if taken is None:
                    break
            # A claimed run is always executed; the next one is only claimed while there is budget.
            execution = Execution(self.engine, taken.run_id, claimed=taken, take_next=self._may_take_next(until))
            taken = execution.execute()
            handed += 1
        if handed:
            log.debug("handed off %d runs", handed)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's worker heartbeat, at most once a second (it beats twice per job otherwise)."""
        now = time.monotonic()
        if pipeline is None and now - self._last_beat < 1.0:
            return
        self._last_beat = now
        super().heartbeat(timeout, pipeline)

    def claimed_busy(self, written: bool) -> None:
        """After a dequeue's claim: busy is shown (``written`` by the claim, or earlier), idle as it waited undone."""
        with self.state_lock:
            if written:
                self.written_state = WorkerStatus.BUSY  # take_moved.lua wrote it
            elif self.written_state != WorkerStatus.BUSY:  # the sweeper wrote idle while the BLMOVE waited
                self.write_state(WorkerStatus.BUSY)

    def show_idle(self, now: float) -> None:
        """From the sweeper: a dequeue that has waited ``IDLE_AFTER`` seconds shows the worker idle."""
        with self.state_lock:
            since = self.waiting_since
            if since is not None and now - since >= IDLE_AFTER and self.written_state != WorkerStatus.IDLE:
                self.write_state(WorkerStatus.IDLE)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ's state write, except idle and a run's busy, which cost no command of their own per run.

        A run's busy goes out with its claim (the same round trip) and idle from the sweeper once a
        dequeue has waited ``IDLE_AFTER``, so `rq info` shows each worker's state truthfully within
        a second, and a worker going from run to run writes no state at all; the
        state is also kept in process, where RQ's stop handling reads it. An RQ job's busy is
        written as RQ writes it; a state already written is not written again.
        """
        if pipeline is None and (state == WorkerStatus.IDLE or state == self.written_state):
            self._state = state
            return
        self.write_state(state, pipeline)

    def write_state(self, state: str, pipeline: Any = None) -> None:
        """Write ``state`` to the worker's hash now (or on ``pipeline``)."""
        super().set_state(state, pipeline)
        self.written_state = state

    def check_for_suspension(self, burst: bool) -> None:
        """``rq suspend`` is honoured within a second (RQ asks Redis before every job otherwise)."""
        now = time.monotonic()
        if now - self._last_suspension_check < 1.0:
            return
        self._last_suspension_check = now
        super().check_for_suspension(burst)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        """Start the sweeper beside the work loop."""
        super().bootstrap(*args, **kwargs)
        # RQ logs a line per job; runs log their own transitions (hitl_web.runs), so keep RQ's
        # warnings and errors only once it has said that it started.
        self.log.setLevel(max(self.log.getEffectiveLevel(), logging.WARNING))
        configure(self.engine.settings.log_format, self.engine.settings.log_level)
        self.sweeper = Sweeper(Engine(self.connection, self.engine.settings), self.engine, self)
        self.sweeper.start()

    def teardown(self) -> None:
        """Stop the sweeper, then let RQ clean up."""
        sweeper = getattr(self, "sweeper", None)
        if sweeper is not None:
            sweeper.stopped.set()
            sweeper.join(timeout=5)
        try:
            self.engine.journal.flush()
        except redis.RedisError as exc:
            log.warning("worker %s: last journal entries not written, Redis %s", self.name, describe(exc))
        super().teardown()


IDLE_AFTER = 0.3  # seconds a dequeue waits before the sweeper shows the worker idle


def _resolved(cls: Any) -> Any:
    """A class given to RQ by its dotted name (as `rq worker` gives its defaults), as the class itself."""
    return import_attribute(cls) if isinstance(cls, str) else cls
