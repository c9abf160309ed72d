"""Bulk decisions: several open asks approved or rejected at once, each through the one decision path.

Each ask gets its own decision, receipt and answer (decided, refused and why, decided by someone
else first); one refused ask changes nothing for the others. A typed ask is decided with the values
its run proposed (the approver who wants to change them decides it on its page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine import Client, Step
from .decisions import Decider, Decision, decide_step

MAX_ASKS = 200  # one confirm page's worth


@dataclass(frozen=True)
class Picked:
    """One ask picked from the inbox: its run and step."""

    run_id: str
    index: int

    @property
    def key(self) -> str:
        """How a form names it: "<run id>:<index>"."""
        return f"{self.run_id}:{self.index}"


def parse_picked(values: list[str]) -> list[Picked]:
    """The asks a form picked ("<run id>:<index>" each), once each, in order; malformed ones left out."""
    picked: dict[str, Picked] = {}
    for value in values[: MAX_ASKS * 2]:
        run_id, _, index = value.rpartition(":")
        if run_id and index.isdigit() and len(value) <= 200:
            picked.setdefault(value, Picked(run_id, int(index)))
    return list(picked.values())[:MAX_ASKS]


def bulk_data(choice: str) -> Callable[[Step], Any]:
    """The decision on each ask: the guide's ``{approved}``, or a typed ask's option with its proposed values."""

    def data(step: Step) -> Any:
        if not step.form:
            return {"approved": choice == "approve"}
        return {"option": choice, "values": step.initial or {}}

    return data


def decide_picked(
    client: Client, decider: Decider, picked: list[Picked], choice: str, comment: str, *, open_mode: bool
) -> list[tuple[Picked, Decision]]:
    """Decide every picked ask with ``choice`` (approve or reject), each on its own; what happened to each."""
    data = bulk_data(choice)
    return [
        (ask, decide_step(client, decider, ask.run_id, ask.index, data, comment=comment, open_mode=open_mode))
        for ask in picked
    ]
