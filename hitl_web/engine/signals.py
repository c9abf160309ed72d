"""The control signals an execution raises to end itself early: never errors, never seen by workflow code."""

from __future__ import annotations

from .storage.store import Handed


class ControlSignal(BaseException):
    """Base of control-flow signals; a ``BaseException`` so ``except Exception`` cannot swallow it."""


class Suspend(ControlSignal):
    """The run is parked (waiting for an event, sleeping); this execution ends, holding no worker.

    ``handed`` is the next run the parking write claimed for this worker.
    """

    def __init__(self, step_name: str, handed: Handed | None = None) -> None:
        super().__init__(step_name)
        self.handed = handed


class RetryStep(ControlSignal):
    """A step failed with attempts left; the run is parked until its backoff has passed."""

    def __init__(self, step_name: str, attempt: int, error: BaseException) -> None:
        super().__init__(step_name, attempt)
        self.step_name = step_name
        self.attempt = attempt
        self.error = error


class LeaseLost(ControlSignal):
    """Another execution owns the run now, or the run was cancelled: stop without writing."""


class CancelRun(ControlSignal):
    """The workflow cancelled its own run (``context.cancel()``): it ends cancelled, its steps so far kept."""
