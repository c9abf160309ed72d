"""Reassigning an open ask: other approvers, recorded in the ask's step with who, when and why.

The check (the run still waits there, and the policy lets the principal decide it) and the change
are one script (``reassign.lua``), so a vote or a deadline never falls between them; the previous
approvers' votes already counted stay counted, and from then on the new approvers decide.
"""

from __future__ import annotations

import time
from dataclasses import replace

from .errors import RunNotFound
from .journal import Journal, entry
from .models import Step, StepStatus, StepType, dumps
from .outcomes import Refusal
from .storage import scripts
from .storage.store import RunStore

CHANGED = "changed"  # reassign.lua: the ask's record changed since it was read (another reassignment)
NAME_MAX, REASON_MAX, TARGETS_MAX = 64, 500, 50


class InvalidReassignment(ValueError):
    """Reassigning to nobody, to names no approver could have, or without a reason."""


def targets(to: list[str]) -> list[str]:
    """The approvers to reassign to: users and ``group:<name>``, each once, in the order given."""
    names = list(dict.fromkeys(name.strip() for name in to if name.strip()))
    if not names:
        raise InvalidReassignment("name at least one approver or group:<name> to reassign to")
    if len(names) > TARGETS_MAX:
        raise InvalidReassignment(f"at most {TARGETS_MAX} approvers")
    for name in names:
        if len(name) > NAME_MAX or "," in name or name in {"group:"}:
            raise InvalidReassignment(f"{name[:NAME_MAX]!r} is not an approver's name or group:<name>")
    return names


def reassign(
    store: RunStore,
    journal: Journal,
    run_id: str,
    index: int,
    to: list[str],
    reason: str,
    by: str,
    operator: bool,
    *,
    escalation: bool = False,
) -> Refusal | None:
    """Give the open ask at step ``index`` to ``to``; None when done, else why not (the policy's reason).

    ``by`` is who reassigns, held to the ask's decision policy unless an ``operator`` (the command line).
    ``escalation``: the ask's own ladder did it (rungs.py); the record says so, and the inbox shows it.
    """
    names, why = targets(to), reason.strip()
    if not why or len(why) > REASON_MAX:
        raise InvalidReassignment(f"say why, in at most {REASON_MAX} characters")
    for _ in range(5):  # each retry follows another reassignment that came in between
        was = store.redis.lindex(store.keys.steps(run_id), index) if index >= 0 else None
        if was is None:
            if not store.redis.exists(store.keys.run(run_id)):
                raise RunNotFound(f"no run {run_id!r}")
            raise InvalidReassignment(f"run {run_id} has no ask at step {index}")
        step = Step.from_json(was)
        if step.type is not StepType.WAIT:
            raise InvalidReassignment(f"step {index} of run {run_id} is not an ask")
        if step.status is not StepStatus.WAITING:
            return Refusal.DECIDED if step.status is StepStatus.COMPLETED else Refusal.CLOSED
        now = time.time()
        record: dict[str, object] = {"by": by or "operator", "at": round(now, 3), "from": step.approvers, "to": names,
                                     "reason": why}  # fmt: skip
        if escalation:
            record["escalated"] = True
        changed = replace(step, approvers=names, reassignments=[*(step.reassignments or []), record])
        event = {"stepName": step.name, "index": index, "by": record["by"], "to": names,
                 "previous": step.approvers, "reason": why}  # fmt: skip
        args = dict(prefix=store.prefix, run_id=run_id, index=index, was=was, record=changed.to_json(),
                    principal="" if operator else by, now=repr(now), change=dumps(record),
                    audit_max=store.settings.audit_max_len, announce="0" if escalation else "1")  # fmt: skip
        riders = journal.riders_of([entry(run_id, "workflow.reassigned", event)])
        done = scripts.REASSIGN.call(store.redis, store.keys.for_reassign(run_id), args, riders)
        if done != CHANGED:
            return Refusal(done) if done else None
    raise InvalidReassignment("the ask changed five times while it was reassigned: try again")
