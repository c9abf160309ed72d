"""Real servers a notification reaches in the tests: an SMTP server (aiosmtpd) and an HTTP receiver."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from hitl_web.devtools.embedded_redis import free_port


class Mailbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The first ``count`` messages, once they came."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages[:count])
            time.sleep(0.05)
        raise AssertionError(f"{count} e-mails expected, {len(self.messages)} came")


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, str]]:
    """A real SMTP server on a free loopback port: the mailbox, and its ``HITL_SMTP_URL``."""
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


class Receiver:
    """An HTTP endpoint that checks each webhook's signature; it answers 500 to its first ``fail`` requests."""

    def __init__(self, secret: str = "", fail: int = 0) -> None:
        self.secret, self.fail = secret, fail
        self.requests: list[dict[str, Any]] = []  # each: status answered, signature valid, body, headers
        self.lock = threading.Lock()

    def verified(self, headers: Any, body: bytes) -> bool:
        """The signature a payment provider's receiver would check: HMAC-SHA256 over "<timestamp>.<body>"."""
        stamp, given = headers.get("X-Hitl-Timestamp", ""), headers.get("X-Hitl-Signature", "")
        expected = "v1=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return bool(stamp) and hmac.compare_digest(given, expected) and abs(time.time() - int(stamp)) < 300

    def ok(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["status"] == 200]


@contextmanager
def http_receiver(receiver: Receiver) -> Iterator[str]:
    """``receiver`` served on a free loopback port: its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            valid = receiver.verified(self.headers, body) if receiver.secret else True
            with receiver.lock:
                status = 500 if len(receiver.requests) < receiver.fail or not valid else 200
                receiver.requests.append({"status": status, "valid": valid, "body": json.loads(body or b"null"),
                                          "headers": dict(self.headers)})  # fmt: skip
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()
