"""The start form of a workflow, derived from its payload model, and a submitted form parsed back into a payload."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from ..engine import get_workflow, workflow_names
from ..engine.forms import invalid

Kind = Literal["text", "number", "checkbox", "select", "json"]
# Types pydantic parses from a string in lax mode: a one-line input, typed for the browser where it has a picker.
TEXT_INPUTS: dict[Any, str] = {str: "text", UUID: "text", date: "date", datetime: "datetime-local", time: "time"}

# A JSON field holds what the API would take as a payload (64 KB), and the parser never nests past it.
MAX_JSON_CHARS = 64 * 1024


@dataclass(frozen=True)
class FieldSpec:
    """One payload field as a form control: what it is, what it holds by default, what the browser can check."""

    key: str  # the payload key (the field's alias when it has one) and the input's name
    label: str
    kind: Kind
    input_type: str  # the <input type> of text and number fields
    required: bool
    default: str  # the control's value before anything is submitted ("" for none)
    checked: bool  # a checkbox's default
    choices: tuple[tuple[str, str, Any], ...] = ()  # a select's (submitted text, option label, payload value)
    help: str = ""
    attrs: tuple[tuple[str, str], ...] = ()  # maxlength, minlength, min, max, step


@dataclass(frozen=True)
class FormField:
    """A field as rendered: its spec, the value shown (default or submitted) and its error."""

    spec: FieldSpec
    value: str
    checked: bool
    error: str = ""


@dataclass
class Submission:
    """A submitted start form: the payload when valid, else the errors by field and for the form as a whole."""

    payload: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StartForm:
    """A workflow's start form: its fields (none without a payload model) and errors not tied to a field."""

    workflow: str
    fields: tuple[FormField, ...]
    errors: tuple[str, ...] = ()


def _unwrap_optional(annotation: Any) -> Any:
    """``X`` for ``X | None``; anything else unchanged."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _option(value: Any) -> tuple[str, str, Any]:
    """A select's option for a Literal value or an Enum member (named by its value, or its name if not text)."""
    if isinstance(value, Enum):
        return str(value.value), value.value if isinstance(value.value, str) else value.name, value.value
    return str(value), str(value), value


def _choices(annotation: Any) -> tuple[tuple[str, str, Any], ...] | None:
    """The options of a Literal or Enum type, or None for any other type."""
    if get_origin(annotation) is Literal:
        return tuple(_option(v) for v in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(_option(member) for member in annotation)
    return None


def _kind(annotation: Any) -> tuple[Kind, str]:
    """The control (and input type) of a field's type."""
    if annotation is bool:
        return "checkbox", "checkbox"
    if _choices(annotation) is not None:
        return "select", ""
    if annotation in (int, float, Decimal):
        return "number", "number"
    if annotation in TEXT_INPUTS:
        return "text", TEXT_INPUTS[annotation]
    return "json", ""  # lists, dicts, nested models, unions: typed as JSON


def _constraints(info: FieldInfo, kind: Kind, annotation: Any) -> tuple[tuple[str, str], ...]:
    """The field's bounds the browser can check itself; pydantic checks them all again on submit."""
    found: dict[str, Any] = {}
    for item in info.metadata:
        for name in ("min_length", "max_length", "ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                found[name] = getattr(item, name)
    attrs: dict[str, str] = {}
    if kind == "text" and annotation is str:
        for name in ("max_length", "min_length"):
            if name in found:
                attrs[name.replace("_", "")] = str(found[name])
    if kind == "number":
        whole = annotation is int
        attrs["step"] = "1" if whole else "any"
        for bound, exclusive, attr, nudge in (("ge", "gt", "min", 1), ("le", "lt", "max", -1)):
            if isinstance(found.get(bound), int | float):
                attrs[attr] = str(found[bound])
            elif isinstance(found.get(exclusive), int | float):
                # HTML bounds are inclusive: exact for whole numbers; for others the bound itself
                # passes the browser, and pydantic refuses it with its own message.
                attrs[attr] = str(found[exclusive] + nudge) if whole else str(found[exclusive])
    return tuple(attrs.items())


def _default(info: FieldInfo, kind: Kind) -> tuple[str, bool]:
    """The control's text and checked state before anything is submitted (empty without a default)."""
    try:
        value = None if info.is_required() else info.get_default(call_default_factory=True, validated_data={})
    except Exception:  # a factory reading other fields: the control starts empty, pydantic fills it in
        value = None
    return _shown(value, kind), value is True


@lru_cache(maxsize=256)
def field_specs(model: type[pydantic.BaseModel]) -> tuple[FieldSpec, ...]:
    """The form controls of a payload model, in the model's field order."""
    specs = []
    for name, info in model.model_fields.items():
        annotation = _unwrap_optional(info.annotation)
        kind, input_type = _kind(annotation)
        default, checked = _default(info, kind)
        specs.append(
            FieldSpec(
                key=info.alias if isinstance(info.alias, str) else name,
                label=info.title or name,
                kind=kind,
                input_type=input_type,
                # A checkbox always submits a value (unchecked is False), so it is never marked required.
                required=info.is_required() and kind != "checkbox",
                default=default,
                checked=checked,
                choices=_choices(annotation) or (),
                help=info.description or "",
                attrs=_constraints(info, kind, annotation),
            )
        )
    return tuple(specs)


def form_values(
    model: type[pydantic.BaseModel], form: Mapping[str, str], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, str]]:
    """A submitted form's values as the model's data (not validated yet), and the fields that do not parse.

    ``prefix`` is before each input's name (a decision form's fields, beside its own controls).
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in field_specs(model):
        raw = form.get(prefix + spec.key, "")
        if spec.kind == "checkbox":
            data[spec.key] = prefix + spec.key in form  # browsers send nothing for an unchecked box
        elif not raw.strip():
            continue  # left out: the default applies, or pydantic says the field is required
        elif spec.kind == "select":
            data[spec.key] = next((value for shown, _, value in spec.choices if shown == raw), raw)
        elif spec.kind == "json":
            if len(raw) > MAX_JSON_CHARS:
                errors[spec.key] = f"Too long: at most {MAX_JSON_CHARS // 1024} KB of JSON."
                continue
            try:
                data[spec.key] = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors[spec.key] = f"Invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            except RecursionError:  # "[[[[..." deeper than Python's parser goes
                errors[spec.key] = "Invalid JSON: nested too deeply."
        else:
            data[spec.key] = raw  # lax mode turns "12.5" into 12.5, and says why it cannot
    return data, errors


def parse_submission(model: type[pydantic.BaseModel], form: Mapping[str, str]) -> Submission:
    """Validate a submitted form with the model: the payload as JSON data, or pydantic's errors by field."""
    data, errors = form_values(model, form)
    try:
        payload = model.model_validate(data).model_dump(mode="json", by_alias=True)
    except pydantic.ValidationError as exc:
        refused = invalid(exc, {spec.key for spec in field_specs(model)})
        for key, message in refused.errors.items():
            errors.setdefault(key, message)  # a JSON parse error already explains a missing field
        return Submission(None, errors, refused.form_errors)
    return Submission(None, errors) if errors else Submission(payload)


def start_form(name: str, submitted: Mapping[str, str] | None = None, outcome: Submission | None = None) -> StartForm:
    """The start form of workflow ``name``: defaults, or the submitted values with their errors."""
    model = get_workflow(name).payload_model
    if model is None:
        return StartForm(name, ())
    fields = form_fields(model, submitted, outcome.errors if outcome else {})
    return StartForm(name, fields, tuple(outcome.form_errors) if outcome else ())


def form_fields(
    model: type[pydantic.BaseModel],
    submitted: Mapping[str, str] | None,
    errors: Mapping[str, str],
    prefix: str = "",
    initial: Mapping[str, Any] | None = None,
) -> tuple[FormField, ...]:
    """The model's controls: the submitted values (names behind ``prefix``), else ``initial``, else the defaults."""
    fields = []
    for spec in field_specs(model):
        if submitted is not None:
            value, checked = submitted.get(prefix + spec.key, ""), prefix + spec.key in submitted
        elif initial is not None and spec.key in initial:
            value, checked = _shown(initial[spec.key], spec.kind), initial[spec.key] is True
        else:
            value, checked = spec.default, spec.checked
        fields.append(FormField(spec, value, checked, errors.get(spec.key, "")))
    return tuple(fields)


def _shown(value: Any, kind: Kind) -> str:
    """A default or proposed value as its control's text (a checkbox's is its checked state instead)."""
    if value is None or kind == "checkbox":
        return ""
    if kind == "json":
        return json.dumps(to_jsonable_python(value), ensure_ascii=False)
    return str(value.value if isinstance(value, Enum) else value)


def start_forms(submitted: StartForm | None = None) -> list[StartForm]:
    """Every registered workflow's start form; ``submitted`` stands in for its workflow's."""
    return [submitted if submitted and submitted.workflow == name else start_form(name) for name in workflow_names()]
