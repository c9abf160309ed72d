"""The RQ worker that executes runs (the Procfile's ``worker:`` line names ``hitl_web.engine.worker.Worker``).

Every piece of RQ coupling lives in this package: the worker class and its lean dequeue
(``rq_worker``), its loop kept steady through Redis outages (``steady``), RQ's scheduler child
(``scheduler``) and the worker registry /healthz reads (``heartbeat``). The sweeper beside it
(``sweeper``) fires deadlines, wake-ups and expired leases.
"""

from __future__ import annotations

from .rq_worker import Worker

__all__ = ["Worker"]
