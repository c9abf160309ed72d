"""The Python/Lua contract: every script declares the KEYS and ARGV its spec names, in the spec's order.

Each script's file declares its keys and arguments as named locals at its top
(``local run, steps = KEYS[1], KEYS[2]``) and reads KEYS and ARGV nowhere else; the helpers never
read them (but ``append_journal``, which reads the riding entries where the script says they begin).
A key a script finds from data is named in its spec's ``found``; a key name Lua builds is the one
``keys.py`` builds.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from enum import StrEnum
from importlib import resources
from typing import Any

import pytest
import redis

from hitl_web.engine.outcomes import ANSWERED, DueReason, NotClaimed, Refusal, WaitOutcome
from hitl_web.engine.quorum import COUNTED, QuorumOutcome
from hitl_web.engine.storage import keys, scripts
from hitl_web.engine.storage.lua import lua_helpers
from hitl_web.engine.storage.scripts import GROUPS, INBOXES, LEGACY, QUEUE_HEAD, SPECS, WAITS_OF_STEPS, Spec

FOLDER = resources.files("hitl_web.engine.storage")
DECLARED = re.compile(r"^local ([\w, ]+) = (.+)$")
SLOT = re.compile(r"^(?:tonumber\()?(KEYS|ARGV)\[(\d+)\]\)?$")
RIDING = re.compile(r"^local riding = \{keys = (\d+), args = (\d+)\}")
FUNCTION = re.compile(r"^local function (\w+)\(", re.M)


def lua(name: str) -> str:
    return FOLDER.joinpath(f"{name}.lua").read_text()


def code(text: str) -> str:
    """Lua without its comments (none of the scripts' strings holds ``--``)."""
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def functions() -> dict[str, tuple[str, str]]:
    """Every helper function: name -> (the file defining it, its text)."""
    out = {}
    for source, text in [("keys", lua_helpers()), *((h, lua(h)) for h in scripts.HELPERS)]:
        text = code(text)
        starts = [m.start() for m in FUNCTION.finditer(text)] + [len(text)]
        for start, end in itertools.pairwise(starts):
            chunk = text[start:end]
            top = re.search(r"^local (?!function)", chunk, re.M)  # a constant after the function ends it
            out[FUNCTION.match(chunk).group(1)] = (source, chunk[: top.start()] if top else chunk)  # type: ignore[union-attr]
    return out


def called(text: str, helpers: dict[str, tuple[str, str]]) -> set[str]:
    """The helper functions ``text`` calls, and those they call, and so on."""
    seen: set[str] = set()
    todo = [text]
    while todo:
        for name in re.findall(r"\b(\w+)\(", todo.pop()):
            if name in helpers and name not in seen:
                seen.add(name)
                todo.append(helpers[name][1].split("\n", 1)[1])
    return seen


def contract_errors(spec: Spec[Any], text: str) -> list[str]:
    """How ``text`` (a script's file) breaks ``spec``: its declarations, its use of KEYS and ARGV."""
    errors: list[str] = []
    declared: dict[str, list[tuple[str, int]]] = {"KEYS": [], "ARGV": []}
    body, riding = [], None
    for line in code(text).splitlines():
        found = DECLARED.match(line)
        slots = [SLOT.match(v.strip()) for v in found.group(2).split(",")] if found else []
        if found and slots and all(slots):
            names = [n.strip() for n in found.group(1).split(",")]
            for name, slot in zip(names, slots, strict=True):
                declared[slot.group(1)].append((name, int(slot.group(2))))  # type: ignore[union-attr]
        elif m := RIDING.match(line):
            riding = (int(m.group(1)), int(m.group(2)))
        else:
            body.append(line)
    for what, names in (("KEYS", spec.keys), ("ARGV", spec.args)):
        got = declared[what]
        if [n for n, _ in got] != list(names):
            errors.append(f"{spec.name}.lua declares {what} {[n for n, _ in got]}, its spec {list(names)}")
        if [i for _, i in got] != list(range(1, len(got) + 1)):
            errors.append(f"{spec.name}.lua declares {what} at {[i for _, i in got]}, not 1..{len(got)} in order")
    rest = "\n".join(body)
    if re.search(r"\b(KEYS|ARGV)\b", rest):
        errors.append(f"{spec.name}.lua reads KEYS or ARGV outside its declarations")
    for name, _ in declared["KEYS"] + declared["ARGV"]:
        if not re.search(rf"\b{name}\b", rest):
            errors.append(f"{spec.name}.lua declares {name} and never uses it")
    want = (len(spec.keys) + 1, len(spec.args) + 1) if spec.riders else None
    if riding != want:
        errors.append(f"{spec.name}.lua takes riding entries from {riding}, its spec from {want}")
    return errors


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_script_declares_what_its_spec_names(name: str) -> None:
    assert contract_errors(SPECS[name], lua(name)) == []


def test_a_reordered_argument_or_key_in_a_spec_breaks_the_contract() -> None:
    wait = SPECS["wait"]
    args = list(wait.args)
    args[3], args[4] = args[4], args[3]  # records and clear swapped
    errors = contract_errors(dataclasses.replace(wait, args=tuple(args)), lua("wait"))
    assert errors == [f"wait.lua declares ARGV {list(wait.args)}, its spec {args}"]
    keys_swapped = (wait.keys[1], wait.keys[0], *wait.keys[2:])
    assert contract_errors(dataclasses.replace(wait, keys=keys_swapped), lua("wait"))
    one_more = dataclasses.replace(SPECS["write_step"], args=(*SPECS["write_step"].args, "extra"))
    assert contract_errors(one_more, lua("write_step"))  # the riding entries would begin one later
    with pytest.raises(ValueError, match=r"write_step\.lua's ARGV are token, records, clear, now"):
        SPECS["write_step"].call(None, {"run": "r", "steps": "s"}, {"token": "t", "clear": "0", "records": "", "x": 1})  # type: ignore[arg-type]


def test_every_lua_file_is_a_script_or_a_helper() -> None:
    files = {p.name.removesuffix(".lua") for p in FOLDER.iterdir() if p.name.endswith(".lua")}
    assert files == set(SPECS) | set(scripts.HELPERS)


def test_helpers_read_no_keys_or_args_but_the_riding_entries() -> None:
    for name, (source, text) in functions().items():
        if re.search(r"\b(KEYS|ARGV)\b", text):
            assert (source, name) == ("journal", "append_journal")
            assert not re.search(r"\b(KEYS|ARGV)\[\d", text)  # never a fixed position
    for helper in scripts.HELPERS:
        top_level = FUNCTION.sub("", code(lua(helper)))
        assert not re.search(r"^(?!\s).*\b(KEYS|ARGV)\b", top_level, re.M), helper


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_script_gets_the_helpers_it_calls_and_names_the_keys_it_finds(name: str) -> None:
    spec, helpers = SPECS[name], functions()
    uses = called(code(lua(name)), helpers)
    missing = {f for f in uses if helpers[f][0] not in ("keys", *spec.helpers)}
    assert not missing, f"{name}.lua calls {missing} from helpers its spec does not prepend"
    found = set(spec.found)
    assert (LEGACY in found) == ("legacy_keys" in uses)
    assert (WAITS_OF_STEPS in found) == ("many_waiters_key" in uses)
    assert (QUEUE_HEAD in found) == ("take_next" in uses)
    assert (GROUPS in found) == ("group_key" in uses)
    assert (INBOXES in found) == ("inbox_key" in uses)
    finds_runs = found - {LEGACY, WAITS_OF_STEPS, GROUPS, INBOXES}
    assert bool(finds_runs) == ("run_keys" in uses), f"{name}.lua: keys of runs found from data, unnamed"


def test_lua_and_python_name_keys_and_wake_up_calls_alike(redis_server: Any) -> None:
    conn = redis.Redis.from_url(redis_server.url, decode_responses=True)
    probe = lua_helpers() + (
        "local k, old = run_keys(ARGV[1], ARGV[2]), legacy_keys(ARGV[1], ARGV[2])\n"
        "local out = {many_waiters_key(ARGV[1], ARGV[3]), wake_up_call(ARGV[4], ARGV[2]), nth_nonce(ARGV[5], 3),\n"
        "  group_key(ARGV[1], 'fin'), inbox_key(ARGV[1], 'group:fin')}\n"
        "for _, name in ipairs(RUN_KEYS) do table.insert(out, k[name]) table.insert(out, old[name]) end\n"
        "for i = 6, #ARGV do table.insert(out, run_of_call(ARGV[i]) or '-') end\n"
        "return out"
    )
    prefix, run_id, event_id = "pre:fix", "wfr_a-b_c", "approval-9"
    nonce, stem = keys.new_nonce(), keys.new_nonce(keys.NONCE_STEM_HEX)
    job_ids = [
        keys.wake_up_id(run_id),
        keys.wake_up_id("x_y", "ABCDEF012345"),
        "hitlrun_short_x",
        "hitlrun_0123456789ab",
        "hitlrun_0123456789ab_",
        "hitlrun_0123456789abc_x",
        "hitlrun_zzzzzzzzzzzz_x",
        "0b6f3c2e9a1d4e5f",
        "xhitlrun_0123456789ab_x",
    ]
    out = conn.eval(probe, 0, prefix, run_id, event_id, nonce, stem, *job_ids)
    k = keys.Keys(prefix)
    assert out[0] == k.many_waiters(event_id) and out.pop(3) == k.group("fin") and out.pop(3) == k.inbox("group:fin")
    assert out[1] == keys.wake_up_id(run_id, nonce) and keys.run_of_wake_up(out[1]) == run_id
    assert re.fullmatch(rf"{stem}[0-9a-f]{{4}}", out[2]) and len(out[2]) == keys.NONCE_HEX
    new, old = k.of(run_id).named(), k.legacy(run_id).named()
    assert out[3:13] == [key for name in keys.RUN_KEYS for key in (new[name], old[name])]
    assert all(f"{{{run_id}}}" in key for key in new.values())  # one hash tag: the run's id
    assert out[13:] == [keys.run_of_wake_up(j) or "-" for j in job_ids]
    assert out[13:16] == [run_id, "x_y", "-"]


def test_every_script_loads(redis_server: Any) -> None:
    conn = redis.Redis.from_url(redis_server.url)
    for spec in SPECS.values():
        assert conn.script_load(spec.text) == spec.sha


@pytest.mark.parametrize(
    "enum, where",
    [
        (NotClaimed, ("_runs", "_indexes")),  # claim_run returns {status}: the statuses _indexes keeps
        (WaitOutcome, ("wait", "asks", "_runs")),
        (DueReason, ("sweep", "park")),  # a parked run's due reason is the one park.lua writes
        (Refusal, ("_waits", "_asks")),  # refuse_kept refuses a vote kept before a quorum ask opened
        (QuorumOutcome, ("_waits",)),
    ],
)
def test_every_outcome_python_reads_is_one_lua_writes(enum: type[StrEnum], where: tuple[str, ...]) -> None:
    # The StrEnums the replies decode into are the literals the scripts return: a renamed outcome on
    # either side fails here, not as a ValueError in a worker.
    text = code("".join(lua(name) for name in where))
    literals = set(re.findall(r"'([a-z_]+)'", text))
    assert {member.value for member in enum} <= literals


def test_a_counted_vote_and_an_answered_ask_are_outcomes_resolve_lua_returns() -> None:
    assert f"'{COUNTED}'" in code(lua("_waits")) and "if outcome == '' then" in code(lua("resolve"))
    assert f"outcome = '{ANSWERED}'" in code(lua("resolve"))
