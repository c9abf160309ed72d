"""A receipt: who decided an ask, when, how and what; stored with its resolution, and one per vote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """Who decided (the principal the policy holds to the ask), when, through what, and the decision."""

    by: str
    at: float | None = None
    via: str | None = None  # form | api | cli | ...
    decision: Any = None
    comment: str | None = None
    ip: str | None = None
    proposed: dict[str, Any] | None = None  # a typed ask: the values its run proposed
    prompt_sha256: str | None = None  # the ask it answered (``Step.prompt_sha256``)
    extra: dict[str, Any] = field(default_factory=dict)  # fields library code added, kept as given

    @classmethod
    def of(cls, value: Receipt | Mapping[str, Any] | None) -> Receipt | None:
        """``value`` as a receipt: one already, or the dict a caller (or the store) gave."""
        if value is None or isinstance(value, Receipt):
            return value
        known = {f.name for f in fields(cls)} - {"extra"}
        given = dict(value)
        return cls(
            by=str(given.pop("by", "") or ""),
            **{k: given.pop(k) for k in list(given) if k in known},
            extra=given,
        )

    def stamped(self, at: float) -> Receipt:
        """The receipt with its time (a time its caller set stays)."""
        return self if self.at is not None else replace(self, at=at)

    def proposing(self, values: dict[str, Any] | None) -> Receipt:
        """The receipt of a typed ask, with the values its run proposed beside the decided ones."""
        return replace(self, proposed=values) if values is not None else self

    def answering(self, prompt_sha256: str) -> Receipt:
        """The receipt with the fingerprint of the ask it answered (unless it has one)."""
        return self if self.prompt_sha256 else replace(self, prompt_sha256=prompt_sha256)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: who, when, how, what, comment and address always; the rest when set."""
        data: dict[str, Any] = {"by": self.by, "at": self.at, "via": self.via, "decision": self.decision,
                                "comment": self.comment, "ip": self.ip}  # fmt: skip
        if self.proposed is not None:
            data["proposed"] = self.proposed
        if self.prompt_sha256 is not None:
            data["prompt_sha256"] = self.prompt_sha256
        return {**self.extra, **data}

    def vote(self, approve: bool) -> dict[str, Any]:
        """The receipt as a quorum ask counts it: with whether the vote approves."""
        return {**self.to_dict(), "approve": approve}
