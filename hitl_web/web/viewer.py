"""Who looks at a page, and whether an open ask offers them its form.

The decision policy is enforced by the script that resolves a wait (``_waits.lua``'s ``refusal``),
whatever a page shows; this is its reflection on the page, so that an approver sees the form of an
ask they may decide, and everyone else sees who decides it instead. A push is rendered once per
audience (``Viewer.audience``), not once per socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..approvals.decisions import SIGN_IN, shown_approver
from ..engine import Client, Run, Step

GROUP = "group:"


@dataclass(frozen=True)
class Viewer:
    """A page's visitor: their name, whether they are a signed-in approver, and their groups."""

    name: str = ""
    approver: bool = False
    open_mode: bool = True  # local mode: anyone may decide
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def audience(self) -> str:
        """Viewers who see the same page share it: everyone in local mode, each approver, all visitors."""
        return self.name if self.approver and not self.open_mode else ""


EVERYONE = Viewer()  # local mode's view: every open ask offers its form


def with_groups(viewer: Viewer, client: Client) -> Viewer:
    """``viewer`` with their groups as they are now (read at each render: a change shows on the next push)."""
    if viewer.open_mode or not viewer.approver:
        return viewer
    return replace(viewer, groups=frozenset(client.groups.of(viewer.name)))


def not_offered(viewer: Viewer, run: Run, index: int, step: Step) -> str:
    """Why the open ask at ``index`` offers ``viewer`` no form ("" when it does)."""
    if step.child:
        return f"Waiting for its child run {step.child} to finish."
    if viewer.open_mode:
        return ""
    if not viewer.approver:
        return SIGN_IN
    allowed = step.approvers
    if allowed and viewer.name not in allowed and not any(f"{GROUP}{g}" in allowed for g in viewer.groups):
        return f"Waiting for {', '.join(shown_approver(a) for a in allowed)} to decide."
    if step.separation_of_duties and run.triggered_by == viewer.name:
        return "You started this run: someone else decides it (separation of duties)."
    if step.quorum and any(v.get("by") == viewer.name for v in run.votes.get(index, [])):
        return "You have voted; waiting for the other approvers."
    return ""
