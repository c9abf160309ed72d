"""The start form on `/`: rendered from each workflow's payload model and validated by it (real app and Redis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl_web.engine import Client, RunStatus
from tests.conftest import Workers, wait_for_status
from tests.test_web import csrf_of

VOID = {"input", "br", "meta", "link", "img", "hr", "source", "wbr", "col", "area", "base", "embed", "track"}
VALID = {"workflow": "refund", "order": "A-1001", "amount": "12.5", "reason": "damaged", "priority": "2"}


@pytest.fixture
def http(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Node:
    """An element of a parsed page: enough DOM to say what is next to what."""

    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all(self) -> list[Node]:
        """This element and every element inside it, in document order."""
        return [self, *(d for c in self.children for d in c.all())]

    def find(self, **attrs: str) -> list[Node]:
        """Elements inside whose attributes match (``class_`` for class, ``tag`` for the tag name)."""
        want = {k.rstrip("_"): v for k, v in attrs.items()}
        return [n for n in self.all() if all((n.tag if k == "tag" else n.attrs.get(k)) == v for k, v in want.items())]

    def one(self, **attrs: str) -> Node:
        """The one element inside matching ``attrs``."""
        found = self.find(**attrs)
        assert len(found) == 1, (attrs, len(found))
        return found[0]

    def all_text(self) -> str:
        """The text of this element and everything inside it."""
        return self.text + "".join(c.all_text() for c in self.children)


class Page(HTMLParser):
    """The page as a tree of ``Node`` (the parser unescapes text and attribute values, as a browser does)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = self.node = Node("#document", {})
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.node.parent is not None:
            self.node = self.node.parent

    def handle_data(self, data: str) -> None:
        self.node.text += data


def start_form(html: str, workflow: str) -> Node:
    """The start form of ``workflow`` on a page."""
    return Page(html).root.one(tag="form", **{"data-workflow": workflow})


def control(form: Node, name: str) -> Node:
    """The form's control of payload field ``name``, checked to carry the id the markup contract gives it."""
    found = [n for n in form.all() if n.tag in {"input", "select", "textarea"} and n.attrs.get("name") == name]
    assert len(found) == 1, name
    assert found[0].attrs["id"] == f"start-{form.attrs['data-workflow']}-{name}"
    return found[0]


def label_of(form: Node, name: str) -> Node:
    """The label of a field's control."""
    return form.one(tag="label", **{"for": f"start-{form.attrs['data-workflow']}-{name}"})


def error_next_to(form: Node, name: str) -> str:
    """The inline error of field ``name``: in the field's own wrapper, pointed at by its control."""
    ctl = control(form, name)
    error = form.one(tag="p", class_="field-error", id=f"{ctl.attrs['id']}-error")
    assert error.attrs["role"] == "alert"
    wrapper = ctl.parent
    assert wrapper is not None and error in wrapper.children, "the error sits beside its field"
    assert ctl.attrs["aria-invalid"] == "true"
    assert error.attrs["id"] in ctl.attrs["aria-describedby"].split()
    return error.all_text()


def post(http: FlaskClient, **form: str) -> tuple[int, str, str]:
    """POST the start form with this session's CSRF token: status, body, Location."""
    resp = http.post("/runs", data={"csrf_token": csrf_of(http), **form})
    return resp.status_code, resp.get_data(as_text=True), resp.headers.get("Location", "")


# -- rendering -------------------------------------------------------------------------------------
def test_fields_rendered_from_the_payload_model(http: FlaskClient) -> None:
    """Each field gets its kind of control, label, default, choices, help text, bounds and required mark."""
    html = http.get("/").get_data(as_text=True)
    form = start_form(html, "refund")
    assert form.attrs["method"] == "post" and form.attrs["action"] == "/runs" and "start-form" in form.attrs["class"]
    assert form.one(tag="input", name="workflow").attrs == {"type": "hidden", "name": "workflow", "value": "refund"}
    assert form.find(tag="input", name="csrf_token")
    button = form.one(tag="button", **{"data-testid": "start-refund"})
    assert button.attrs["type"] == "submit" and button.all_text() == "Start refund"

    order = control(form, "order")
    assert order.attrs["type"] == "text" and order.attrs["value"] == "" and order.attrs["maxlength"] == "40"
    assert "required" in order.attrs
    assert label_of(form, "order").all_text().strip() == "Order number *"  # the title; the mark is visible
    assert label_of(form, "order").one(tag="abbr").attrs["title"] == "required"
    help_text = form.one(tag="p", class_="field-help", id="start-refund-order-help")
    assert help_text.all_text() == 'On the invoice, e.g. <b>"A-1"</b> & co'  # shown as text, not markup
    assert order.attrs["aria-describedby"] == "start-refund-order-help"

    amount = control(form, "amount")
    assert {k: amount.attrs[k] for k in ("type", "step", "min", "max")} == {
        "type": "number",
        "step": "any",
        "min": "0",
        "max": "10000",
    }
    assert label_of(form, "amount").find(tag="abbr")
    items = control(form, "items")  # an int with ge=1, lt=100: exact inclusive bounds, whole steps
    assert (items.attrs["value"], items.attrs["step"], items.attrs["min"], items.attrs["max"]) == ("1", "1", "1", "99")
    assert not label_of(form, "items").find(tag="abbr") and "required" not in items.attrs

    reason = control(form, "reason")
    assert reason.tag == "select" and "required" not in reason.attrs
    options = [(o.attrs["value"], o.all_text(), "selected" in o.attrs) for o in reason.find(tag="option")]
    assert options == [("damaged", "damaged", False), ("late", "late", False), ("other", "other", True)]
    priority = [(o.attrs["value"], o.all_text(), "selected" in o.attrs) for o in control(form, "priority").children]
    assert priority == [("1", "LOW", True), ("2", "HIGH", False)]  # an Enum of numbers: named by its members

    express, notify = control(form, "express"), control(form, "notify_customer")
    assert express.attrs["type"] == notify.attrs["type"] == "checkbox"
    assert "checked" not in express.attrs and "checked" in notify.attrs
    note = control(form, "note")  # optional, no default: empty, not required
    assert note.attrs["value"] == "" and "required" not in note.attrs and note.attrs["maxlength"] == "500"
    tags = control(form, "tags")
    assert tags.tag == "textarea" and tags.all_text().strip() == "[]"  # anything else is JSON
    assert not form.find(class_="field-error") and not form.find(tag="p", class_="form-error")

    hitl = start_form(html, "human-in-loop")  # the example workflow: its model's defaults, no special case
    assert control(hitl, "userId").attrs["value"] == "anonymous" and control(hitl, "action").attrs["value"] == "publish"
    bare = start_form(html, "counted")  # no payload model: just the button
    assert [n.attrs.get("name") for n in bare.find(tag="input")] == ["csrf_token", "workflow"]
    assert bare.one(tag="button").attrs["data-testid"] == "start-counted"


# -- invalid input: 400, errors inline, nothing started --------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": "-5"}, "amount", "Input should be greater than 0"),
        ({"amount": "abc"}, "amount", "Input should be a valid number, unable to parse string as a number"),
        ({"amount": "10000.01"}, "amount", "Input should be less than or equal to 10000"),
        ({"order": ""}, "order", "Field required"),
        ({"reason": "lost"}, "reason", "Input should be 'damaged', 'late' or 'other'"),
        ({"items": "2.5"}, "items", "Input should be a valid integer, unable to parse string as an integer"),
        ({"tags": "[oops"}, "tags", "Invalid JSON: Expecting value (line 1, column 2)"),
        ({"tags": '["a", 7]'}, "tags", "1: Input should be a valid string"),
    ],
)
def test_invalid_field_is_400_with_pydantic_message_beside_it(
    http: FlaskClient, client: Client, change: dict[str, str], field: str, message: str
) -> None:
    status, html, _ = post(http, **{**VALID, "express": "true", **change})
    assert status == 400
    form = start_form(html, "refund")
    assert error_next_to(form, field) == message
    assert len(form.find(class_="field-error")) == 1  # only the field at fault
    # What was typed comes back as typed, checkbox included; the other forms show their defaults.
    submitted = {**VALID, **change}
    assert control(form, "order").attrs["value"] == submitted["order"]
    assert control(form, "amount").attrs["value"] == submitted["amount"]
    assert "selected" in control(form, "priority").children[1].attrs
    assert "checked" in control(form, "express").attrs and "checked" not in control(form, "notify_customer").attrs
    assert control(start_form(html, "human-in-loop"), "action").attrs["value"] == "publish"
    assert client.list_runs() == []  # an invalid form starts nothing


def test_several_errors_and_a_form_wide_one(http: FlaskClient, client: Client) -> None:
    """Every field at fault is marked at once; an error of the model as a whole goes above the fields."""
    status, html, _ = post(http, workflow="refund", amount="0", items="100")
    form = start_form(html, "refund")
    assert status == 400
    assert error_next_to(form, "order") == "Field required"
    assert error_next_to(form, "amount") == "Input should be greater than 0"
    assert error_next_to(form, "items") == "Input should be less than 100"
    status, html, _ = post(http, **{**VALID, "reason": "late", "express": "on"})
    form = start_form(html, "refund")
    assert status == 400 and not form.find(class_="field-error")
    error = form.one(tag="p", class_="form-error", id="start-refund-error")
    assert (
        error.all_text() == "Value error, a late delivery is never refunded express" and error.attrs["role"] == "alert"
    )
    assert client.list_runs() == []


def test_hostile_submitted_values_are_escaped(http: FlaskClient, client: Client) -> None:
    """Markup typed into the form comes back as the value it was, never as markup."""
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    status, html, _ = post(http, **{**VALID, "order": evil, "amount": "-1", "note": evil, "tags": evil})
    assert status == 400 and "<script>alert" not in html and "<img src=x" not in html
    form = start_form(html, "refund")
    assert control(form, "order").attrs["value"] == evil and control(form, "note").attrs["value"] == evil
    assert control(form, "tags").all_text().strip() == evil
    assert not Page(html).root.find(tag="script", src=None) and not Page(html).root.find(tag="img")
    assert client.list_runs() == []


# -- valid input: the run starts with the model's data ---------------------------------------------
def test_valid_form_starts_a_run_with_typed_payload(http: FlaskClient, client: Client, workers: Workers) -> None:
    """Strings become the model's types; unchecked boxes are False; empty optional fields take their defaults."""
    status, _, location = post(http, **VALID, items="3", note="", tags='["fragile"]')  # both boxes unchecked
    assert status == 303 and location.startswith("/runs/wfr_")
    run_id = location.rsplit("/", 1)[1]
    run = client.get_run(run_id)
    assert run.payload == {
        "order": "A-1001",
        "amount": 12.5,
        "reason": "damaged",
        "priority": 2,
        "express": False,
        "notify_customer": False,
        "items": 3,
        "note": None,
        "tags": ["fragile"],
    }
    with http.session_transaction() as session:
        assert run.triggered_by == session["user"]
    workers.start(1)  # the worker loads the stored payload back into the model
    assert wait_for_status(client, run_id, RunStatus.COMPLETED).result == {"amount": 12.5, "priority": "HIGH"}


def test_example_workflow_takes_its_fields_from_the_form(http: FlaskClient, client: Client) -> None:
    """human-in-loop: action typed, userId left at its model default."""
    status, _, location = post(http, workflow="human-in-loop", action="deploy", userId="")
    assert status == 303
    assert client.get_run(location.rsplit("/", 1)[1]).payload == {"userId": "anonymous", "action": "deploy"}
    status, html, _ = post(http, workflow="human-in-loop", action="x" * 2001)
    assert status == 400 and error_next_to(start_form(html, "human-in-loop"), "action") == (
        "String should have at most 2000 characters"
    )
