"""What the web process takes in: bodies within the size limit however they are sent, text UTF-8 can hold.

Both are checked where a request's body is read (the ``Request`` class, ``check_text``), so no form or
API call can store what a page could not show: a lone surrogate in a stored comment made its run's
page answer 500, for everyone, for as long as it was kept.
"""

from __future__ import annotations

import io
import json
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import flask
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property

if TYPE_CHECKING:
    from werkzeug.formparser import t_parse_result

FORM = "application/x-www-form-urlencoded"


class BadText(ValueError):
    """Text that UTF-8 cannot hold: a lone surrogate (JSON's ``"\\ud800"``), or form bytes that are not UTF-8."""


def _holds_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: Any, what: str) -> None:
    """Raise ``BadText`` naming where ``value`` (a string, or JSON data, keys too) holds text UTF-8 cannot."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return  # the usual case: one pass, no walk
    except (UnicodeEncodeError, TypeError, ValueError):
        pass
    stack: list[tuple[Any, str]] = [(value, what)]  # iteratively: hostile input cannot blow the stack
    while stack:
        item, where = stack.pop()
        if isinstance(item, str) and not _holds_text(item):
            raise BadText(f"{where} is not UTF-8 text: it holds a lone surrogate or bytes that are not UTF-8")
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not _holds_text(key):
                    raise BadText(f"a key of {where} is not UTF-8 text: it holds a lone surrogate")
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


class FormParser(FormDataParser):
    """Werkzeug's form parser, refusing (400) a urlencoded form whose fields are not UTF-8.

    Werkzeug keeps bytes that are not UTF-8 as their %-escapes: ``comment=%ED%A0%80`` (a lone
    surrogate, as bytes) was stored as the text ``%ED%A0%80``, silently changed.
    """

    def parse(
        self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict[str, str] | None = None
    ) -> t_parse_result:
        """Check a urlencoded body's fields (names and values), then parse it as werkzeug does."""
        if mimetype == FORM:
            data = stream.read()
            # surrogateescape turns each byte that is not UTF-8 into a lone surrogate: check_text finds it.
            text = data.decode("utf-8", "surrogateescape")
            fields = parse_qsl(text, keep_blank_values=True, errors="surrogateescape")
            try:
                for name, value in fields:
                    check_text(name, "a form field's name")
                    check_text(value, f"the form field {name!r}")
            except BadText as exc:
                raise BadRequest(description=f"{exc}. Send the form as UTF-8.") from None
            stream = io.BytesIO(data)
        return super().parse(stream, mimetype, content_length, options)


def _read_at_most(stream: IO[bytes], size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = stream.read(min(64 * 1024, size - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


class Request(flask.Request):
    """Flask's request, holding every body to ``MAX_CONTENT_LENGTH`` however it is sent, and forms to UTF-8."""

    form_data_parser_class = FormParser

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body as werkzeug's ``stream``; one without a Content-Length (chunked) is a 413 past the limit.

        Werkzeug reads such a body up to the limit and stops there without an error: a chunked body
        of 2 MB was cut to its first megabyte and processed (a run started from it).
        """
        environ, limit = self.environ, self.max_content_length
        if limit is not None and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            body = _read_at_most(environ["wsgi.input"], limit + 1)
            if len(body) > limit:
                raise RequestEntityTooLarge()  # the same answer as a Content-Length over the limit
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        stream: IO[bytes] = super().stream
        return stream
