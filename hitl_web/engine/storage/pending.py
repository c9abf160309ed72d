"""Step records an execution has not written yet: they ride along with its next write."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Step


@dataclass
class Pending:
    """Step records not written yet: they go with the execution's next write, in one round trip.

    A step's completion rides along with the next step's start, so it is stored before anything
    the next step does, at the cost of one write per step instead of two.
    """

    records: list[tuple[int, Step]] = field(default_factory=list)
    clear: bool = False

    def add(self, index: int, step: Step, *, resolved: bool = False) -> None:
        """Queue ``step`` for position ``index``; ``resolved`` when it holds a wait's resolution."""
        self.records.append((index, step))
        self.clear = self.clear or resolved

    def take(self) -> dict[str, str]:
        """The queued records as the scripts read them (ARGV ``records``: "index<TAB>json" lines, and ``clear``)."""
        blob = "\n".join(f"{i}\t{step.to_json()}" for i, step in self.records)
        clear = "1" if self.clear else "0"
        self.records, self.clear = [], False
        return {"records": blob, "clear": clear}
