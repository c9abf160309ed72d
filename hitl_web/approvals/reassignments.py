"""Reassigning an open ask from the page, the API or the command line: one call, one answer in words."""

from __future__ import annotations

import re

from ..engine import Client, InvalidReassignment, RunNotFound
from .decisions import (
    CONFLICT,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    OK,
    SIGN_IN,
    Decider,
    Decision,
    refusal_message,
    shown_approver,
)

STATUS_OF = {"not_approver": FORBIDDEN, "own_run": FORBIDDEN}


def parse_targets(text: str) -> list[str]:
    """Approvers as a person types them: names and ``group:<name>``, separated by commas or spaces."""
    return [name for name in re.split(r"[,\s]+", text) if name]


def reassign_step(
    client: Client,
    decider: Decider,
    run_id: str,
    index: int,
    to: list[str],
    reason: str,
    *,
    open_mode: bool,
    operator: bool = False,
) -> Decision:
    """Reassign the open ask at step ``index`` of ``run_id`` as ``decider``, held to the ask's policy.

    An ``operator`` (the command line, without ``--as``) reassigns with no policy, recorded by name.
    """
    if not open_mode and not decider.approver:
        return Decision(False, FORBIDDEN, SIGN_IN, run_id, index)
    try:
        refused = client.reassign(run_id, index, to, reason, by=decider.name, operator=operator)
    except RunNotFound:
        return Decision(False, NOT_FOUND, f"There is no run {run_id}.", run_id, index)
    except InvalidReassignment as exc:
        return Decision(False, INVALID, f"Not reassigned: {exc}.", run_id, index)
    if refused is None:
        names = ", ".join(shown_approver(name) for name in client.get_run(run_id).steps[index].approvers or [])
        return Decision(True, OK, f"Reassigned to {names}.", run_id, index)
    message = refusal_message(refused, client.get_run(run_id), index)
    return Decision(False, STATUS_OF.get(refused.value, CONFLICT), message, run_id, index, refused)
