"""The realtime middleware: every workflow's progress as events on its run's channel, as in the guide."""

from __future__ import annotations

from typing import Any

import redis

from ..engine import WorkflowContext, WorkflowMiddleware
from ..engine.models import StepStatus, StepType
from .channel import Channel, Realtime, StreamSettings


class RealtimeMiddleware(WorkflowMiddleware):
    """Emits ``workflow.*`` events; the workflow code itself emits nothing."""

    def __init__(self) -> None:
        super().__init__(name="realtime-events")
        self._realtime: Realtime | None = None

    def channel(self, context: WorkflowContext) -> Channel:
        """The channel of the context's run (the realtime client is made once per process)."""
        if self._realtime is None:
            s = context.settings
            bounds = StreamSettings(max_len=s.stream_max_len, ttl_seconds=s.stream_ttl)
            # In a worker, events go out with the engine's next write (or the outbox's own, soon
            # after): steps do not wait for them. The outbox's thread takes its connections from the
            # pool (the run's own is the main thread's).
            conn = redis.Redis(connection_pool=context.connection.connection_pool)
            self._realtime = Realtime(conn, s.key_prefix, bounds, background=True)
        outbox = self._realtime.outbox
        assert outbox is not None
        context.ride_along(outbox.take_args)
        return self._realtime.channel(context.workflow_run_id)

    def flush(self) -> None:
        """Write every event still queued (before the process exits)."""
        if self._realtime is not None and self._realtime.outbox is not None:
            self._realtime.outbox.flush()

    def run_started(self, *, context: WorkflowContext) -> None:
        self.channel(context).emit("workflow.runStart", {"workflow": context.workflow_name})

    def before_execution(self, *, context: WorkflowContext, step_name: str) -> None:
        step, channel = context.current_step, self.channel(context)
        if step is not None and step.type is StepType.WAIT:
            # A wait starts by asking: waitingForInput is its stepStart (as in the guide, which has no
            # stepStart), one stored event fewer for every waiting run.
            channel.emit(
                "workflow.waitingForInput",
                {
                    "eventId": step.event_id or "",
                    "message": step.message or f"Waiting for {step_name}",
                    "stepName": step_name,
                    "index": context.current_index,
                    "deadline": round(step.deadline, 3) if step.deadline else None,
                },
            )
            return
        kind = step.type.value if step else StepType.RUN.value
        channel.emit("workflow.stepStart", {"stepName": step_name, "index": context.current_index, "type": kind})

    def after_execution(self, *, context: WorkflowContext, step_name: str, result: Any) -> None:
        step, channel = context.current_step, self.channel(context)
        if step is not None and step.type is StepType.WAIT:
            receipt = step.receipt or {}
            channel.emit(
                "workflow.inputResolved",
                {
                    "eventId": step.event_id or "",
                    "stepName": step_name,
                    "index": context.current_index,
                    "timeout": bool(result and result.get("timeout")),
                    "decision": result.get("event_data") if isinstance(result, dict) else None,
                    "decidedBy": receipt.get("by"),
                    "decidedAt": receipt.get("at"),
                    "receipt": step.receipt,
                },
            )
        channel.emit("workflow.stepFinish", {"stepName": step_name, "index": context.current_index, "result": result})

    def on_warning(self, *, context: WorkflowContext, warning: str) -> None:
        step = context.current_step
        if step is not None and step.status is StepStatus.RETRYING:
            self.channel(context).emit(
                "workflow.stepFail",
                {"stepName": step.name, "index": context.current_index, "error": step.error or warning, "final": False},
            )
            return
        where = {"stepName": step.name, "index": context.current_index} if step is not None else {}
        self.channel(context).emit("workflow.warning", {**where, "message": warning})

    def run_completed(self, *, context: WorkflowContext, result: Any) -> None:
        self.channel(context).emit("workflow.runFinish", {"status": "success"})

    def on_error(self, *, context: WorkflowContext, error: BaseException) -> None:
        step, channel = context.current_step, self.channel(context)
        if step is not None and step.status is StepStatus.FAILED:
            channel.emit(
                "workflow.stepFail",
                {"stepName": step.name, "index": context.current_index, "error": step.error or str(error)},
            )
        channel.emit("workflow.runFinish", {"status": "failed", "error": f"{type(error).__name__}: {error}"})


realtime_middleware = RealtimeMiddleware()
