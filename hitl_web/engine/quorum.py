"""Quorum asks: several approvers vote, each once, and the ask resolves when enough approve.

The votes are counted where the wait is resolved (``count_vote``, ``_waits.lua``), in the same
script as the decision policy, so two votes at once never both count as the last one needed. This
module holds the Python side of the rule: what a quorum may be, which votes reject, and the tally.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ALL = "all"  # quorum="all": every approver who may vote must approve
COUNTED = "counted"  # resolve.lua's outcome for a vote counted on an ask that stays open


class QuorumOutcome(StrEnum):
    """What the votes on a quorum ask came to (``count_vote``, ``_waits.lua``)."""

    APPROVED = "approved"  # the quorum approved
    REJECTED = "rejected"  # a vote rejected: the ask is rejected at the first rejection
    UNREACHABLE = "unreachable"  # too few approvers left who may still vote to reach the quorum


@dataclass(frozen=True)
class Tally:
    """Where a quorum ask's votes stand: approvals counted, approvals needed, and the outcome once decided."""

    approvals: int
    needed: int | str  # a number, or "all" of the approvers who may vote
    outcome: QuorumOutcome | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Tally | None:
        """A tally as the scripts store it (``{"approvals", "needed", "outcome"}``), or None."""
        if not isinstance(data, dict) or not isinstance(data.get("approvals"), int):
            return None
        outcome = data.get("outcome")
        return cls(data["approvals"], data.get("needed", 0), QuorumOutcome(outcome) if outcome else None)

    def describe(self) -> str:
        """The tally in words: "1 of 2 approvals", "2 of all approvers"."""
        if self.needed == ALL:
            return f"{self.approvals} approval{'s' if self.approvals != 1 else ''} of all approvers"
        return f"{self.approvals} of {self.needed} approvals"


def quorum_of(quorum: int | str | None, approvers: list[str] | None) -> int | str | None:
    """The quorum a wait stores ("q"): None for the guide's first-answer-wins, else a count >= 2 or "all".

    Raises ValueError for a quorum no set of approvers could meet.
    """
    if quorum is None:
        return None
    if quorum == ALL:
        if not approvers:
            raise ValueError('quorum="all" needs approvers')
        return ALL
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
        raise ValueError('quorum is a number of approvers (1 or more) or "all"')
    if quorum == 1:
        return None
    users = [a for a in approvers or [] if not a.startswith("group:")]
    if approvers and len(users) == len(approvers) and quorum > len(set(users)):
        raise ValueError(f"quorum {quorum} is more than the {len(set(users))} approvers named")
    return quorum


def approves(event_data: Any) -> bool:
    """Whether a vote approves: it rejects when its data says ``approved: false`` or its option is ``reject``."""
    if isinstance(event_data, dict):
        return event_data.get("approved") is not False and event_data.get("option") != "reject"
    return True
