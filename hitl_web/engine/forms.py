"""Typed decisions: a wait's decision form (a pydantic model), its named options, and what a decision holds.

A typed ask's step record names its form (``Step.form``: the model's ``module:QualName``, or
``OPTIONS_ONLY``) and its options. ``decision_data`` is the rule for what a decision on it must
contain; the script that resolves the wait refuses (``Refusal.FORM``) any decision not checked
against that same form, so no entry point can store one that skipped the rule.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic

from .models import Step

# Options as (key, label); a decision's ``approved`` is True for the option keyed APPROVE only.
APPROVE, REJECT = "approve", "reject"
DEFAULT_OPTIONS: tuple[tuple[str, str], ...] = ((APPROVE, "Approve"), (REJECT, "Reject"))
OPTIONS_ONLY = "options"  # Step.form of an ask with named options and no model (never a module:name path)
Options = Sequence[str] | Mapping[str, str]


@dataclass
class InvalidDecision(Exception):
    """A decision its ask's form refuses: pydantic's message by field, and messages for the whole form."""

    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join([*(f"{k}: {v}" for k, v in self.errors.items()), *self.form_errors]) or "invalid decision"


def option_key(label: str) -> str:
    """The key of an option given by its label ("Request changes" -> "request-changes")."""
    return re.sub(r"[^a-z0-9]+", "-", label.strip().lower()).strip("-")


def normalize_options(options: Options | None) -> list[list[str]] | None:
    """Options as stored: ``[[key, label], ...]`` (None: the default Approve and Reject)."""
    if options is None:
        return None
    pairs = list(options.items()) if isinstance(options, Mapping) else [(option_key(o), o) for o in options]
    if not pairs or any(not isinstance(k, str) or not k or not isinstance(v, str) or not v for k, v in pairs):
        raise ValueError("options must be non-empty labels (or a mapping of keys to labels)")
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("options must have distinct keys")
    return [[k, v] for k, v in pairs]


def form_path(model: type[pydantic.BaseModel]) -> str:
    """How a step record names its form model."""
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise TypeError("form must be a pydantic model class")
    return f"{model.__module__}:{model.__qualname__}"


def form_model(path: str | None) -> type[pydantic.BaseModel] | None:
    """The model a step record names, from a module this process has loaded (never importing one named by data)."""
    module_name, _, qualname = (path or "").partition(":")
    found: Any = sys.modules.get(module_name) if qualname else None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) and issubclass(found, pydantic.BaseModel) else None


def options_of(step: Step) -> list[list[str]]:
    """A typed ask's options as ``[key, label]`` pairs."""
    return step.options or [list(pair) for pair in DEFAULT_OPTIONS]


def is_typed(step: Step) -> bool:
    """True when decisions on ``step`` must go through its form."""
    return bool(step.form)


def decision_data(step: Step, raw: Any) -> Any:
    """The data a decision on ``step`` stores: for a typed ask ``{option, approved, values}``, validated.

    ``raw`` is what an entry point received: ``{"option": key, "values": {...}}`` (or the guide's
    ``{"approved": bool}`` for an ask whose options include approve and reject). An untyped ask
    stores ``raw`` as it is (Upstash's semantics). Raises ``InvalidDecision``.
    """
    if not is_typed(step):
        return raw
    if not isinstance(raw, dict):
        raise InvalidDecision(form_errors=["A decision on this ask is an object: {option, values}."])
    keys = [key for key, _ in options_of(step)]
    option = raw.get("option")
    if option is None and isinstance(raw.get("approved"), bool):
        option = APPROVE if raw["approved"] else REJECT
    if option not in keys:
        raise InvalidDecision({"option": f"Choose one of: {', '.join(keys)}."})
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise InvalidDecision({"values": "The values are an object of the form's fields."})
    data: dict[str, Any] = {"option": option, "approved": option == APPROVE}
    if step.form == OPTIONS_ONLY:
        return data
    model = form_model(step.form)
    if model is None:  # a web or CLI process that did not load the workflow's module
        raise InvalidDecision(form_errors=[f"This process does not know the form {step.form}: load its workflow."])
    try:
        data["values"] = model.model_validate(values).model_dump(mode="json", by_alias=True)
    except pydantic.ValidationError as exc:
        raise invalid(exc) from None
    return data


def invalid(exc: pydantic.ValidationError, fields: Collection[str] | None = None) -> InvalidDecision:
    """Pydantic's errors by top-level field, the first of each (the rest for the form as a whole).

    With ``fields``, an error on anything else is the form's too.
    """
    refused = InvalidDecision()
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if loc and (fields is None or loc[0] in fields):
            inner = ".".join(str(part) for part in loc[1:])
            refused.errors.setdefault(str(loc[0]), f"{inner}: {err['msg']}" if inner else err["msg"])
        else:
            refused.form_errors.append(err["msg"])
    return refused


def decided_values(step: Step, event_data: Any) -> pydantic.BaseModel | None:
    """The decision's values as the form's model (what the workflow receives), or None."""
    model = form_model(step.form)
    if model is None or not isinstance(event_data, dict) or not isinstance(event_data.get("values"), dict):
        return None
    return model.model_validate(event_data["values"])


def changes(proposed: dict[str, Any] | None, decided: Any) -> list[tuple[str, Any, Any]]:
    """What the approver changed: ``(field, proposed, decided)`` for each proposed value they edited."""
    if not isinstance(proposed, dict) or not isinstance(decided, dict):
        return []
    return [(k, v, decided.get(k)) for k, v in proposed.items() if k in decided and decided.get(k) != v]
