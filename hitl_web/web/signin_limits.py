"""Sign-in throttling: wrong passwords per account and per client address, with backoff, in Redis.

Kept in Redis so that every web process counts the same attempts. A throttled attempt is refused
before its password is hashed, so a burst costs the server (almost) nothing.
"""

from __future__ import annotations

import math

import redis


class SignInLimits:
    """How many wrong passwords an account and an address get before each further try waits longer."""

    def __init__(
        self,
        connection: redis.Redis,
        prefix: str,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window: int = 900,
        longest_wait: int = 900,
    ) -> None:
        self.redis = connection
        self.prefix = prefix
        self.free = {"account": per_account, "address": per_address}
        self.window = window  # failures are forgotten this long after the last one
        self.longest_wait = longest_wait

    def _keys(self, kind: str, who: str) -> tuple[str, str]:
        base = f"{self.prefix}:signin-limit:{kind}:{who}"
        return f"{base}:failures", f"{base}:wait"

    def retry_after(self, name: str, address: str) -> int:
        """Seconds until this account and address may try again; 0 when they may now."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.pttl(self._keys("account", name)[1])
            pipe.pttl(self._keys("address", address)[1])
            waits = pipe.execute()
        return max((math.ceil(ms / 1000) for ms in waits if ms > 0), default=0)

    def failed(self, name: str, address: str) -> None:
        """Count a wrong password; past the free tries, each failure waits twice as long as the last."""
        for kind, who in (("account", name), ("address", address)):
            failures_key, wait_key = self._keys(kind, who)
            with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(failures_key)
                pipe.expire(failures_key, self.window)
                failures = int(pipe.execute()[0])
            over = failures - self.free[kind]
            if over > 0:
                self.redis.set(wait_key, 1, ex=min(self.longest_wait, 2 ** (over - 1)))

    def succeeded(self, name: str) -> None:
        """A right password clears the account's failures (the address keeps its own count)."""
        self.redis.delete(*self._keys("account", name))
