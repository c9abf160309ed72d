"""The Lua side of the key schema: functions generated from ``keys.py``'s templates, prepended to every script.

A script names the keys it gets in KEYS; these name the keys it finds from data (a waiter, a due
run, the queue's head), so both sides name a key the same way (``tests/test_script_contract.py``).
"""

from __future__ import annotations

from .keys import GROUP, INBOX, LEGACY_RUN_KEYS, MANY, NONCE_COUNT_HEX, NONCE_HEX, RUN_KEYS, WAKE_UP


def lua_helpers() -> str:
    """The key schema in Lua, for the keys a script finds from data: prepended to every script.

    The prefix is an argument (``p``), not part of the text, so one script serves every prefix.
    """
    count, wrap = _lua(f"%0{NONCE_COUNT_HEX}x"), 16**NONCE_COUNT_HEX
    return "\n".join(
        [
            "-- Generated from storage/keys.py (lua.py): the key schema, for the keys a script finds",
            "-- from data (a waiter, a due run, the queue's head). p is the key prefix.",
            f"local MANY = {_lua(MANY)}  -- never a run id",
            f"local RUN_KEYS = {{{', '.join(_lua(name) for name in RUN_KEYS)}}}",
            _lua_run_keys("run_keys", RUN_KEYS),
            _lua_run_keys("legacy_keys", LEGACY_RUN_KEYS),
            "-- A run's keys as a script was given them (KEYS), in the shape run_keys returns.",
            f"local function given(p, id, {', '.join(RUN_KEYS)})",
            f"  return {{id = id, prefix = p, {', '.join(f'{n} = {n}' for n in RUN_KEYS)}}}",
            "end",
            f"local function many_waiters_key(p, event_id) return p .. {_lua(':waiters:')} .. event_id end",
            f"local function group_key(p, name) return p .. {_lua(GROUP)} .. name end",
            f"local function inbox_key(p, entry) return p .. {_lua(INBOX)} .. entry end",
            f"local function wake_up_call(nonce, id) return {_lua(WAKE_UP)} .. nonce .. '_' .. id end",
            "-- The nonce of the n-th run a notify wakes: the notify's stem, then n in hex.",
            f"local function nth_nonce(stem, n) return stem .. string.format({count}, n % {wrap}) end",
            "-- The run a queued job id wakes (the reverse of wake_up_call), or nil for any other RQ job.",
            "local function run_of_call(job_id)",
            f"  return job_id and string.match(job_id, {_lua(_lua_pattern())})",
            "end",
            "",
        ]
    )


def _lua_run_keys(name: str, layout: dict[str, tuple[str, str]]) -> str:
    fields = []
    for key, (before, after) in layout.items():
        fields.append(f"{key} = p .. {_lua(before)} .. id" + (f" .. {_lua(after)}" if after else ""))
    body = ",\n    ".join(fields)
    return f"local function {name}(p, id)\n  return {{id = id, prefix = p,\n    {body}}}\nend"


def _lua_pattern() -> str:
    """``_WAKE_UP_ID`` as a Lua pattern: the same ids match both."""
    magic = "^$()%.[]*+-?"
    stem = "".join(f"%{c}" if c in magic else c for c in WAKE_UP)
    return f"^{stem}{'%x' * NONCE_HEX}_(.+)$"


def _lua(text: str) -> str:
    """``text`` as a Lua string literal (any byte but a plain ASCII one escaped as ``\\ddd``)."""
    plain = b" :_{}*%^$()+-?.[]"
    escaped = [chr(b) if b < 128 and (chr(b).isalnum() or b in plain) else f"\\{b:03d}" for b in text.encode()]
    return "'" + "".join(escaped) + "'"
