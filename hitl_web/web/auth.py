"""Approvers (names with werkzeug password hashes, kept in Redis), their sign-ins, and API tokens."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from werkzeug.security import check_password_hash, generate_password_hash

NAME = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
T = TypeVar("T")


def off_the_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on a real thread when the process runs gevent, so the event loop goes on meanwhile.

    A password hash takes ~80 ms of CPU (scrypt): on the loop it would stall every request and push.
    """
    try:
        from gevent import get_hub
        from gevent.monkey import is_module_patched
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn(*args)
    if not is_module_patched("socket"):
        return fn(*args)  # threads (gthread, the test client): already off any event loop
    return get_hub().threadpool.apply(fn, args)  # type: ignore[no-any-return]


class SignIns:
    """Server-side records of approvers' sessions: a session counts only while its record lives.

    Sign-out ends one record; removing an approver or changing their password ends all of theirs,
    at once, in every web process. A record expires after ``idle`` seconds unused, and a session is
    refused ``absolute`` seconds after its sign-in whatever its use.
    """

    def __init__(self, connection: redis.Redis, prefix: str, idle: float = 8 * 3600, absolute: float = 7 * 86400):
        self.redis = connection
        self.prefix = prefix
        self.idle = idle
        self.absolute = absolute

    def _key(self, sid: str) -> str:
        return f"{self.prefix}:signin:{sid}"

    def _of(self, name: str) -> str:
        return f"{self.prefix}:signins:{name}"

    def start(self, name: str) -> str:
        """Record a new sign-in of ``name``; its id goes into the session cookie."""
        sid = secrets.token_urlsafe(32)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(sid), name, ex=max(1, int(self.idle)))
            pipe.sadd(self._of(name), sid)
            pipe.expire(self._of(name), max(1, int(self.absolute)))
            pipe.execute()
        return sid

    def valid(self, sid: str, name: str, signed_at: float, approvers_key: str) -> bool:
        """True while the sign-in's record lives, its approver exists and it is within its lifetimes."""
        age = time.time() - signed_at
        if not sid or age > self.absolute or age < -60:
            return False
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key(sid))
            pipe.hexists(approvers_key, name)
            # Still in use: the idle lifetime starts again (a no-op when the record is gone).
            pipe.expire(self._key(sid), max(1, int(min(self.idle, self.absolute - age))))
            stored, exists, _ = pipe.execute()
        return stored is not None and stored.decode() == name and bool(exists)

    def end(self, sid: str, name: str) -> None:
        """Sign-out: this session stops counting everywhere."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(sid))
            pipe.srem(self._of(name), sid)
            pipe.execute()

    def end_all(self, name: str) -> int:
        """End every session of ``name`` (removed, or a new password); how many there were."""
        sids = [s.decode() for s in self.redis.smembers(self._of(name))]  # type: ignore[union-attr]
        with self.redis.pipeline(transaction=True) as pipe:
            for sid in sids:
                pipe.delete(self._key(sid))
            pipe.delete(self._of(name))
            pipe.execute()
        return len(sids)


class Approvers:
    """The people who may sign in and decide approvals."""

    def __init__(self, connection: redis.Redis, prefix: str, sign_ins: SignIns | None = None) -> None:
        self.redis = connection
        self.key = f"{prefix}:approvers"
        self.sign_ins = sign_ins or SignIns(connection, prefix)

    def add(self, name: str, password: str) -> None:
        """Create or update an approver; the password is stored only as a hash, and old sessions end."""
        if not NAME.fullmatch(name):
            raise ValueError("an approver's name is 1-64 letters, digits, '.', '_', '-' or '@'")
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        self.redis.hset(self.key, name, generate_password_hash(password))
        self.sign_ins.end_all(name)  # a changed password signs out every session made with the old one

    def remove(self, name: str) -> bool:
        """Remove an approver (ending their sessions); False when there was none by that name."""
        removed = bool(self.redis.hdel(self.key, name))
        self.sign_ins.end_all(name)
        return removed

    def exists(self, name: str) -> bool:
        """True while ``name`` is an approver."""
        return bool(NAME.fullmatch(name or "")) and bool(self.redis.hexists(self.key, name))

    def names(self) -> list[str]:
        """Every approver's name, sorted."""
        return sorted(n.decode() for n in self.redis.hkeys(self.key))  # type: ignore[union-attr]

    def check(self, name: str, password: str) -> bool:
        """True when ``password`` is ``name``'s (in constant time whether or not the name exists)."""
        stored = self.redis.hget(self.key, name) if NAME.fullmatch(name or "") else None
        if not stored:
            off_the_loop(check_password_hash, _DUMMY, password)  # same cost either way: names cannot be probed
            return False
        return off_the_loop(check_password_hash, stored.decode(), password)  # type: ignore[union-attr]


_DUMMY = generate_password_hash("not a password of anyone")


def parse_api_tokens(raw: str) -> dict[str, str]:
    """``"name:token,name2:token2"`` as token -> principal name."""
    tokens: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, token = item.partition(":")
        if not sep or not name or len(token) < 16:
            raise ValueError("HITL_API_TOKENS is 'name:token,...' with tokens of at least 16 characters")
        tokens[token] = name
    return tokens


def principal_for(tokens: dict[str, str], authorization: str | None) -> str | None:
    """The principal a ``Bearer`` header names, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    for known, name in tokens.items():
        if hmac.compare_digest(known.encode(), token.strip().encode()):
            return name
    return None
