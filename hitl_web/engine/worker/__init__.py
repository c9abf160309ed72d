"""The RQ worker that executes runs (the Procfile's ``worker:`` line names ``hitl_web.engine.worker.Worker``).

Every piece of RQ coupling lives in this package: the worker class and its lean dequeue
(``rq_worker``), the queue the engine queues wake-up calls on (``queues``), its loop kept steady
through Redis outages (``steady``), RQ's scheduler child (``scheduler``) and the worker registry
/healthz reads (``heartbeat``). The sweeper beside it (``sweeper``) fires deadlines, wake-ups and
expired leases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rq_worker import Worker

__all__ = ["Worker"]


def __getattr__(name: str) -> Any:
    # The engine imports this package for its queue (queues.py) while it is being imported itself:
    # the worker class, which imports the engine, is loaded when it is first asked for.
    if name == "Worker":
        from .rq_worker import Worker

        return Worker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
