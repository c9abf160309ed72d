"""An ask: what a wait shows its approvers and takes from them, as its step records it, and what it returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from .durations import Duration, parse_duration
from .errors import ResultNotSerializable
from .forms import OPTIONS_ONLY, Options, decided_values, form_path, normalize_options
from .models import Step, StepStatus, StepType, WaitResult, dumps
from .quorum import QuorumOutcome, Tally, quorum_of


def to_json_value(value: Any, what: str) -> Any:
    """``value`` as it will read back from storage, or ``ResultNotSerializable`` naming ``what``."""
    try:
        return json.loads(dumps(value))
    except (TypeError, ValueError) as exc:
        raise ResultNotSerializable(f"{what} returned a value that is not JSON-serialisable: {exc}") from None


@dataclass(frozen=True)
class Ask:
    """One wait for a decision: ``wait_for_event``'s arguments, and one branch of ``context.parallel``.

    ``message`` is what an approver is shown (default: "Waiting for <step name>"); ``approvers``
    limits who may decide it (users, ``group:<name>``; default: any approver). A typed ask: the
    decision is ``form`` (a pydantic model, prefilled from ``initial``) and one of ``options``.
    ``quorum`` (a number, or "all"): that many distinct approvers must approve.
    """

    step_name: str
    event_id: str
    timeout: Duration = "7d"
    message: str | None = None
    approvers: list[str] | None = None
    form: type[BaseModel] | None = None
    initial: dict[str, Any] | BaseModel | None = None
    options: Options | None = None
    quorum: int | str | None = None

    def step(self, now: float, separation_of_duties: bool) -> Step:
        """The ask's waiting step, opened at ``now``; ``ValueError`` for a bad argument."""
        seconds = parse_duration(self.timeout)
        if not isinstance(self.event_id, str) or not self.event_id:
            raise ValueError("event_id must be a non-empty string")
        return Step(
            self.step_name,
            StepType.WAIT,
            StepStatus.WAITING,
            now,
            event_id=self.event_id,
            deadline=now + seconds,
            message=self.message if self.message is not None else f"Waiting for {self.step_name}",
            approvers=list(self.approvers) if self.approvers else None,
            separation_of_duties=True if separation_of_duties else None,
            quorum=quorum_of(self.quorum, self.approvers),
            **typed_ask(self.form, self.initial, self.options),
        )


def wait_result(step: Step) -> WaitResult:
    """What a resolved ask's step returns to the workflow."""
    result = step.result or {}
    data, timeout = result.get("event_data"), bool(result.get("timeout"))
    tally = Tally.from_dict(result.get("quorum"))
    votes = result.get("votes") if step.quorum else None
    outcome = tally.outcome if tally is not None else None
    withdrawn = bool(result.get("withdrawn"))
    if not step.form or timeout or withdrawn or not isinstance(data, dict) or outcome is QuorumOutcome.UNREACHABLE:
        return WaitResult(event_data=data, timeout=timeout, votes=votes, outcome=outcome, withdrawn=withdrawn)
    values = decided_values(step, data)
    return WaitResult(data, timeout, option=data.get("option"), values=values, votes=votes, outcome=outcome)


def typed_ask(
    form: type[BaseModel] | None, initial: dict[str, Any] | BaseModel | None, options: Options | None
) -> dict[str, Any]:
    """A typed ask's step fields (``Step.form``, ``initial``, ``options``); none for the guide's plain ask."""
    if form is None and options is None:
        if initial is not None:
            raise ValueError("initial values need a form")
        return {}
    stored = normalize_options(options)
    if form is None:
        return {"form": OPTIONS_ONLY, "options": stored}
    proposed: dict[str, Any] | None = None
    if isinstance(initial, BaseModel):
        proposed = initial.model_dump(mode="json", by_alias=True)
    elif initial is not None:
        try:  # as the form will show and store them (a Decimal as text), when they are a whole decision
            full = form.model_validate(initial).model_dump(mode="json", by_alias=True)
            proposed = {k: full[k] for k in initial if k in full} or full
        except ValidationError:  # a partial proposal: the approver completes it
            proposed = to_json_value(dict(initial), "initial")
    return {"form": form_path(form), "initial": proposed, "options": stored}
