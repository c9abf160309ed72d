"""Signed one-click links: a random token per (ask, approver, action), kept only as its hash, single use.

A token is 256 random bits in the URL; Redis keeps its SHA-256 (``<prefix>:link:<hex>``) with what it
is bound to, expiring at the ask's deadline (or ``HITL_LINK_TTL``): a stolen database dump holds no
usable link, and a tampered token finds nothing, exactly like an unknown or expired one.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import redis

from ..engine.storage.replies import text


@dataclass(frozen=True)
class Link:
    """What a token decides: the ask (run, step, the prompt it was sent for), as whom, which action, through what."""

    run_id: str
    index: int
    event_id: str
    approver: str
    action: str  # an option key: approve, reject, or a typed ask's own
    via: str  # email-link | slack-link | webhook-link
    prompt_sha256: str  # the ask as it was sent: a reassignment changes it (Step.prompt_sha256)
    expires: float
    used: bool = False
    hashed: str = ""  # the token's SHA-256 (as Redis keeps it)

    @property
    def id(self) -> str:
        """The token's public name in receipts and logs (never enough to use it)."""
        return self.hashed[:16]


def digest(token: str) -> str:
    """The token's SHA-256, as Redis keeps it."""
    return hashlib.sha256(token.encode()).hexdigest()


class Links:
    """Mints, reads and uses links (``<prefix>:link:<sha256 of the token>``)."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.redis = connection
        self.prefix = prefix

    def _key(self, hashed: str) -> str:
        return f"{self.prefix}:link:{hashed}"

    def mint(self, link: Link) -> str:
        """A new token bound to ``link``; it expires with ``link.expires``."""
        token = secrets.token_urlsafe(32)
        key = self._key(digest(token))
        fields = {"run": link.run_id, "index": link.index, "event": link.event_id, "by": link.approver,
                  "action": link.action, "via": link.via, "prompt": link.prompt_sha256,
                  "expires": repr(link.expires)}  # fmt: skip
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expireat(key, max(int(link.expires) + 1, int(time.time()) + 1))
            pipe.execute()
        return token

    def find(self, token: str) -> Link | None:
        """The link ``token`` names, or None: unknown, tampered with, or expired (alike, on purpose)."""
        if not token or len(token) > 128:
            return None
        hashed = digest(token)
        found = {text(k): text(v) for k, v in self.redis.hgetall(self._key(hashed)).items()}
        if not found or float(found.get("expires") or 0) <= time.time():
            return None
        return Link(found["run"], int(found["index"]), found["event"], found["by"], found["action"], found["via"],
                    found["prompt"], float(found["expires"]), bool(found.get("used")), hashed)  # fmt: skip

    def use(self, link: Link) -> bool:
        """Spend the link, once: False when it was used already (HSETNX: two clicks at once spend it once)."""
        return bool(self.redis.hsetnx(self._key(link.hashed), "used", repr(time.time())))
