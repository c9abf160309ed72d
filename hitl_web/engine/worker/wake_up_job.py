"""A run's wake-up call as RQ sees it: a job whose queued id names the run, and a queue that claims it.

A run is durable through its lease, not its job, so a wake-up needs no job hash: enqueueing is
one RPUSH and dequeueing reads nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rq import Queue
from rq.job import Job

from ..execution import run_of_wake_up
from ..storage.store import Handed

if TYPE_CHECKING:
    from .rq_worker import Worker


class RunJob(Job):
    """RQ's job class, and a run's wake-up call: the queued id names the run; nothing else is stored.

    A run is durable through its lease, not its job, so a wake-up needs no job hash: enqueueing is
    one RPUSH and dequeueing reads nothing more. Any other job is fetched as RQ fetches it.
    """

    # The run this wake-up call wakes (None: any other RQ job), and the claim taken together with
    # the dequeue (``RunQueue``), if any.
    run_id: str | None = None
    claimed: Handed | None = None

    @classmethod
    def fetch(cls, id: str, connection: Any = None, serializer: Any = None) -> Job:
        """The wake-up call for ``id``'s run, or the stored RQ job ``id``."""
        run_id = run_of_wake_up(id)
        if run_id is None:
            return super().fetch(id, connection=connection, serializer=serializer)
        return cls.wake_up(id, run_id, connection)

    @classmethod
    def wake_up(cls, id: str, run_id: str, connection: Any, claimed: Handed | None = None) -> RunJob:
        """The job of the wake-up call ``id`` (of ``run_id``), with the claim taken with it if any."""
        job = cls(id, connection=connection)
        job.run_id = run_id
        job.claimed = claimed
        return job


class RunQueue(Queue):
    """RQ's queue, whose blocking dequeue also claims the run a wake-up call wakes (see ``Worker.dequeue``).

    Each worker makes a subclass of its own that names it (``worker``).
    """

    worker: Worker | None = None

    @classmethod
    def dequeue_any(  # type: ignore[override]
        cls, queues: list[Queue], timeout: int | None, connection: Any, **kwargs: Any
    ) -> tuple[Job, Queue] | None:
        """The next job of ``queues``, as RQ dequeues it, or with its run claimed in the same round trip."""
        if cls.worker is None or timeout is None or len(queues) != 1:
            return super().dequeue_any(queues, timeout, connection=connection, **kwargs)
        return cls.worker.dequeue(queues[0], timeout, **kwargs)
