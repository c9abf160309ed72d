"""The JSON API's OpenAPI 3.1 document, generated from the models its handlers validate and answer with.

Each handler declares its contract with ``@documented(request model, {status: response model},
query=model)``; the document walks the app's routes of the ``api`` blueprint and reads those
declarations and the models' JSON schemas, so a route without a contract, or a model changed
without the document, cannot happen (tests/test_openapi.py checks every route has one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..engine import workflow_names
from .api_models import Query

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Contract:
    """One operation's request body, query and answers by status (``lines``: JSON lines of the 200 model)."""

    request: type[BaseModel] | None
    responses: dict[int, type[BaseModel]]
    query: type[BaseModel] | None = None
    lines: bool = False


def documented(
    request: type[BaseModel] | None,
    responses: dict[int, type[BaseModel]],
    *,
    query: type[BaseModel] | None = None,
    lines: bool = False,
) -> Callable[[F], F]:
    """Declare a handler's contract (what the OpenAPI document says of it)."""

    def mark(fn: F) -> F:
        fn.__contract__ = Contract(request, responses, query, lines)  # type: ignore[attr-defined]
        return fn

    return mark


def contract_of(fn: Callable[..., Any]) -> Contract | None:
    """The contract a handler declared, if any."""
    return getattr(fn, "__contract__", None)


# Flask's converters as OpenAPI parameter schemas.
_CONVERTERS = {"int": {"type": "integer", "minimum": 0}, "default": {"type": "string", "minLength": 1}}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
# Where one operation's answer names another's input: a started run can be read back (stateful tests).
LINKS = {
    ("post", "/api/trigger"): {
        "GetRun": {"operationId": "get_run", "parameters": {"run_id": "$response.body#/workflowRunId"}}
    },
}


def openapi_document(app: Flask, *, production: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the ``api`` blueprint's routes."""
    models: set[type[BaseModel]] = set()
    operations: list[tuple[str, str, str, Contract, Callable[..., Any], list[dict[str, Any]]]] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        fn = app.view_functions[rule.endpoint]
        found = contract_of(fn)
        if found is None:
            continue
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        params = [{"name": name, "in": "path", "required": True, "schema": _CONVERTERS.get(conv or "default",
                   _CONVERTERS["default"])} for conv, name in _PARAM.findall(rule.rule)]  # fmt: skip
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations.append((method.lower(), path, rule.endpoint.split(".", 1)[1], found, fn, params))
            models.update(found.responses.values())
            if found.request is not None:
                models.add(found.request)
    _, schemas = models_json_schema([(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                                    ref_template=REF)  # fmt: skip
    paths: dict[str, dict[str, Any]] = {}
    for method, path, name, found, fn, params in operations:
        paths.setdefault(path, {})[method] = _operation(method, path, name, found, fn, params)
    # The workflows this process knows, for client generators and fuzzers: the model takes any name
    # (an unknown one answers 400 naming it), the document says which exist here.
    trigger = schemas.get("$defs", {}).get("TriggerRequest")
    if trigger is not None and workflow_names():
        trigger["properties"]["workflowType"]["enum"] = workflow_names()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "hitl-web JSON API", "version": "1", "description": "Trigger, notify and read runs."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }
    if production:  # local mode takes no token
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


def _operation(
    method: str, path: str, name: str, found: Contract, fn: Callable[..., Any], params: list[dict[str, Any]]
) -> dict[str, Any]:
    doc = (fn.__doc__ or name).strip().splitlines()[0]
    parameters = list(params)
    if found.query is not None:
        schema = found.query.model_json_schema(ref_template=REF)
        for key, prop in schema.get("properties", {}).items():
            parameter = {"name": key, "in": "query", "required": key in schema.get("required", []), "schema": prop}
            if not parameter["required"] and issubclass(found.query, Query):
                parameter["allowEmptyValue"] = True  # ``?since=`` reads as no since (Query.blanks_say_nothing)
            parameters.append(parameter)
    op: dict[str, Any] = {"operationId": name, "summary": doc, "responses": {}}
    if parameters:
        op["parameters"] = parameters
    if found.request is not None:
        ref = {"$ref": REF.format(model=found.request.__name__)}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    for status, model in sorted(found.responses.items()):
        media = "application/x-ndjson" if found.lines and status == 200 else "application/json"
        said = (model.__doc__ or model.__name__).strip().splitlines()[0]
        schema = {"$ref": REF.format(model=model.__name__)}
        answer: dict[str, Any] = {"description": said, "content": {media: {"schema": schema}}}
        if status == 200 and (method, path) in LINKS:
            answer["links"] = LINKS[(method, path)]
        op["responses"][str(status)] = answer
    return op
