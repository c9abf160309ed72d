"""Deliveries: each notification a durable RQ job, retried with backoff and jitter, every attempt recorded.

A delivery's hash (``<prefix>:delivery:<id>``) holds what to send and where, its status and its
attempts; its run lists its deliveries (``<prefix>:deliveries:{<run id>}``) for the run page. The
job sends nothing once the delivery succeeded (a job run again after a lost acknowledgement), and
each request carries the delivery id (``X-Hitl-Delivery``) so a receiver can drop a repeat.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import random
import smtplib
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from rq import Queue, Retry, get_current_job

from ..engine.storage.replies import text
from ..metrics import instruments
from ..settings import Settings
from .notifiers import Notifier, configured

TIMEOUT_SECONDS = 5.0  # per attempt: a hanging endpoint holds a notifier at most this long
NOTIFY_QUEUE_SUFFIX = "-notify"  # the deliveries' RQ queue: the Procfile's notifier works it, never a run worker


def delivery_queue(settings: Settings, connection: redis.Redis) -> Queue:
    """The RQ queue of deliveries, ``<HITL_QUEUE_NAME>-notify``."""
    # Apart from the runs' queue: an endpoint that hangs holds a notifier, never a worker a run waits for.
    return Queue(settings.queue_name + NOTIFY_QUEUE_SUFFIX, connection=connection)


@dataclass(frozen=True)
class Delivery:
    """One notification to one endpoint or address, as the run page lists it."""

    id: str
    notifier: str
    kind: str
    to: str
    status: str  # queued | delivered | retrying | failed
    attempts: list[dict[str, Any]]


class Deliveries:
    """The deliveries' records (the jobs are RQ's)."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.redis = connection
        self.prefix = prefix

    def _key(self, delivery_id: str) -> str:
        return f"{self.prefix}:delivery:{delivery_id}"

    def _of_run(self, run_id: str) -> str:
        return f"{self.prefix}:deliveries:{{{run_id}}}"

    def record(self, run_id: str, notifier: Notifier, to: str, body: str, ttl: int) -> str:
        """Store a new delivery of ``body`` (JSON, or an e-mail's text) by ``notifier`` to ``to``: its id."""
        delivery_id = uuid.uuid4().hex
        key, listed = self._key(delivery_id), self._of_run(run_id)
        fields = {"run": run_id, "notifier": notifier.name, "kind": notifier.kind, "to": to, "body": body,
                  "status": "queued", "attempts": "[]"}  # fmt: skip
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.rpush(listed, delivery_id)
            pipe.expire(key, ttl)
            pipe.expire(listed, ttl)
            pipe.execute()
        return delivery_id

    def get(self, delivery_id: str) -> dict[str, str] | None:
        """A delivery's fields, or None once it expired."""
        found = self.redis.hgetall(self._key(delivery_id))
        return {text(k): text(v) for k, v in found.items()} or None

    def attempted(self, delivery_id: str, ok: bool, detail: str, *, final: bool) -> None:
        """Record one attempt: delivered, or failed (``final``: given up, else retrying)."""
        key = self._key(delivery_id)
        attempts = json.loads(text(self.redis.hget(key, "attempts")) or "[]")
        attempts.append({"at": round(time.time(), 3), "ok": ok, "detail": detail[:300]})
        status = "delivered" if ok else "failed" if final else "retrying"
        self.redis.hset(key, mapping={"attempts": json.dumps(attempts), "status": status})

    def of_run(self, run_id: str) -> list[Delivery]:
        """The run's deliveries, oldest first."""
        out = []
        for raw in self.redis.lrange(self._of_run(run_id), 0, -1):
            found = self.get(text(raw))
            if found:
                out.append(Delivery(text(raw), found["notifier"], found["kind"], found["to"], found["status"],
                                    json.loads(found.get("attempts") or "[]")))  # fmt: skip
        return out


def enqueue(queue: Queue, delivery_id: str, settings: Settings) -> None:
    """Queue the delivery's job: ``delivery_attempts`` tries, backing off exponentially, with jitter."""
    retries = settings.delivery_attempts - 1
    # Jitter (x0.5 to x1.5) keeps the retries of many deliveries to one endpoint from arriving together.
    intervals = [max(1, round(settings.delivery_backoff * 2**i * random.uniform(0.5, 1.5))) for i in range(retries)]
    retry = Retry(max=retries, interval=intervals) if retries else None
    queue.enqueue(deliver, delivery_id, retry=retry, job_id=f"hitldelivery_{delivery_id}", result_ttl=0,
                  failure_ttl=24 * 3600)  # fmt: skip


def deliver(delivery_id: str) -> str:
    """The RQ job: send the delivery once; a failure raises, so RQ retries it (the attempt is recorded)."""
    job = get_current_job()
    assert job is not None, "deliver runs as an RQ job"
    settings = Settings.from_env()
    store = Deliveries(job.connection, settings.key_prefix)
    found = store.get(delivery_id)
    if found is None:
        return "expired"
    if found["status"] == "delivered":  # this job ran again after its success: never send twice
        return "delivered already"
    notifier = configured(settings).get(found["notifier"])
    final = not job.retries_left  # RQ counts the retries left; none: this is the last attempt
    try:
        if notifier is None:
            raise LookupError(f"notifier {found['notifier']!r} is no longer configured")
        detail = send(notifier, found["body"], delivery_id, settings)
    except Exception as exc:
        store.attempted(delivery_id, False, f"{type(exc).__name__}: {exc}", final=final)
        instruments().deliveries.labels(found["notifier"], "given_up" if final else "failed").inc()
        raise
    store.attempted(delivery_id, True, detail, final=True)
    instruments().deliveries.labels(found["notifier"], "delivered").inc()
    return detail


def send(notifier: Notifier, body: str, delivery_id: str, settings: Settings) -> str:
    """One attempt: POST the JSON (signed, for a webhook) or send the e-mail. Raises when it failed."""
    if notifier.kind == "email":
        message = email.message_from_string(body, policy=email.policy.default)
        with smtp(settings.smtp_url) as server:
            server.send_message(message)
        return "sent"
    payload = body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "hitl-web", "X-Hitl-Delivery": delivery_id}
    if notifier.kind == "webhook":
        headers.update(signature_headers(notifier.secret, payload))
    request = urllib.request.Request(notifier.url, data=payload, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"HTTP {exc.code}") from None


def signature_headers(secret: str, body: bytes, at: int | None = None) -> dict[str, str]:
    """``X-Hitl-Timestamp`` and ``X-Hitl-Signature: v1=<HMAC-SHA256 of "<timestamp>.<body>">``, as a receiver checks."""
    stamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Hitl-Timestamp": stamp, "X-Hitl-Signature": f"v1={mac}"}


def smtp(url: str) -> smtplib.SMTP:
    """A connection to ``HITL_SMTP_URL``: ``smtp://[user:pass@]host[:port][?starttls=true]`` or ``smtps://``."""
    parts = urlsplit(url)
    host, secure = parts.hostname or "localhost", parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    server = (smtplib.SMTP_SSL if secure else smtplib.SMTP)(host, port, timeout=TIMEOUT_SECONDS)
    if parse_qs(parts.query).get("starttls") == ["true"]:
        server.starttls()
    if parts.username:
        server.login(unquote(parts.username), unquote(parts.password or ""))
    return server
