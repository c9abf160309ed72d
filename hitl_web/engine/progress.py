"""What the engine announces in each run's journal as it executes: the guide's ``workflow.*`` events.

The engine's own listener, called before any user middleware at each transition (``Execution``):
the workflow code itself announces nothing. In a worker the entries go to the journal's outbox and
ride along with the execution's next write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .journal import Journal, entry
from .middleware import WorkflowMiddleware
from .models import StepStatus, StepType

if TYPE_CHECKING:
    from .context import WorkflowContext


class Progress(WorkflowMiddleware):
    """Turns an execution's transitions into journal entries (the hooks of ``WorkflowMiddleware``)."""

    def __init__(self, journal: Journal) -> None:
        super().__init__(name="journal")
        self.journal = journal

    def _put(self, context: WorkflowContext, name: str, data: dict[str, Any]) -> None:
        self.journal.outbox.put(entry(context.workflow_run_id, name, data))

    def run_started(self, *, context: WorkflowContext) -> None:
        self._put(context, "workflow.runStart", {"workflow": context.workflow_name})

    def before_execution(self, *, context: WorkflowContext, step_name: str) -> None:
        step = context.current_step
        if step is not None and step.type is StepType.WAIT:
            # A wait starts by asking: waitingForInput is its stepStart (as in the guide, which has no
            # stepStart), one stored event fewer for every waiting run.
            self._put(
                context,
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
        self._put(context, "workflow.stepStart", {"stepName": step_name, "index": context.current_index, "type": kind})

    def after_execution(self, *, context: WorkflowContext, step_name: str, result: Any) -> None:
        step = context.current_step
        if step is not None and step.type is StepType.WAIT:
            receipt = step.receipt or {}
            self._put(
                context,
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
        self._put(
            context, "workflow.stepFinish", {"stepName": step_name, "index": context.current_index, "result": result}
        )

    def on_warning(self, *, context: WorkflowContext, warning: str) -> None:
        step = context.current_step
        if step is not None and step.status is StepStatus.RETRYING:
            self._put(
                context,
                "workflow.stepFail",
                {"stepName": step.name, "index": context.current_index, "error": step.error or warning, "final": False},
            )
            return
        where = {"stepName": step.name, "index": context.current_index} if step is not None else {}
        self._put(context, "workflow.warning", {**where, "message": warning})

    def run_completed(self, *, context: WorkflowContext, result: Any) -> None:
        self._put(context, "workflow.runFinish", {"status": "success"})

    def run_cancelled(self, *, context: WorkflowContext) -> None:
        self._put(context, "workflow.runFinish", {"status": "cancelled"})

    def on_error(self, *, context: WorkflowContext, error: BaseException) -> None:
        step = context.current_step
        if step is not None and step.status is StepStatus.FAILED:
            self._put(
                context,
                "workflow.stepFail",
                {"stepName": step.name, "index": context.current_index, "error": step.error or str(error)},
            )
        self._put(context, "workflow.runFinish", {"status": "failed", "error": f"{type(error).__name__}: {error}"})
