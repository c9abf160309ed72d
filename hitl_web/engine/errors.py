"""Every error the workflow engine raises, in one place (its control signals: ``signals``)."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base of the engine's errors that callers are expected to handle."""


class UnknownWorkflow(WorkflowError):
    """No workflow is registered under that name."""


class InvalidPayload(WorkflowError):
    """The trigger payload does not match the workflow's payload model."""


class NonRetryableError(Exception):
    """Raise inside a step or workflow to fail the run at once, without retries."""


class InvalidDuration(WorkflowError, NonRetryableError, ValueError):
    """A duration is not a number of seconds or a string like ``"30s"``, ``"5m"``, ``"2h"``, ``"7d"``.

    Retrying cannot fix it: a wait or sleep given one fails its run at once.
    """


class DurationTooLong(InvalidDuration):
    """A duration is longer than the limit (``durations.MAX_SECONDS``, 10 years): no deadline past it is kept."""


class NotAllowed(WorkflowError):
    """The principal may not start this workflow (``@workflow(..., starters=[...])``)."""


class InvalidEventData(WorkflowError, ValueError):
    """Event data given to notify is not JSON-serialisable."""


class InvalidRunId(WorkflowError, ValueError):
    """A caller-chosen run id is malformed."""


class RunExists(WorkflowError):
    """A run with that id already exists."""


class RunNotFound(WorkflowError):
    """No run has that id."""


class ResultNotSerializable(WorkflowError, TypeError):
    """A step or workflow returned a value that cannot be stored as JSON."""


class NonDeterminism(WorkflowError):
    """On replay, the workflow reached a different step than the one recorded at that position."""


class StepError(Exception):
    """A step failed on its last attempt; catch it in the workflow to compensate."""

    def __init__(self, step_name: str, message: str) -> None:
        super().__init__(f"step {step_name!r} failed: {message}")
        self.step_name = step_name
        self.message = message
