"""commandstats: what one Redis does per step, per wait and per decision (commands, CPU, bytes, memory).

Real workers (2) run N runs of ``bench-hitl`` (a step, a wait, a decision, a step) in phases, each
measured from ``CONFIG RESETSTAT`` to one ``INFO all`` (commandstats, net bytes), with the CPU
Redis used and the bytes its AOF grew in between (``INFO cpu``, ``INFO persistence`` deltas):

  trigger        N triggers from one client; their wake-up calls are parked on a list no worker reads
  to_waiting     the parked calls go to the run queue at once (one RENAME): claim, the step, the wait
  decide         N decisions through ``approvals.decide`` (what POST /api/notify calls); calls parked
  resume         one RENAME: claim, replay, the step after the wait, the finish
  trigger_k, to_waiting_k   the same with k steps before the wait: a step is the difference / (k - 1)
  trickle        M whole runs one at a time (idle workers: each wake-up is a BLMOVE, not a hand-off)
  sweep          sweeps with nothing due: what each worker sends once per HITL_SWEEP_INTERVAL
  idle           2 s of nothing

The workers' sweepers run once per 600 s here (HITL_SWEEP_INTERVAL), so the phases hold the runs'
own work and the sweep phase prices sweeps apart. The benchmark's own commands in a phase (the
RENAME, its polls, CONFIG and INFO) are subtracted. First a small batch goes through the same
phases under MONITOR (its CPU and bytes are not used): it names the script each command ran in,
and splits the measured calls into top-level commands and commands run inside scripts.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench.stack import Stack, report, stack, wait_for
from hitl_web.approvals import Decider, decide

SETTLE = 0.3  # after a phase's last run arrives: the outbox's last events (5-10 ms) go out
POLL = 0.02
TRICKLE_GAP = 0.015  # between one trickled run's transitions: an idle worker needs 1-3 ms
# Commands the benchmark itself sends (besides the runs' triggers and decisions), never a run's cost.
ADMIN = {"config", "info", "memory", "echo", "monitor", "script", "object", "xlen"}
SCALARS = (
    "commands",
    "top_level",
    "script_calls",
    "inside_scripts",
    "commandstats_usec",
    "cpu_usec",
    "cpu_main_thread_usec",
    "net_in_bytes",
    "net_out_bytes",
    "aof_bytes",
)


def code_version(root: Path) -> str:
    """The commit measured (``-dirty`` when hitl_web/ has uncommitted changes)."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "hitl_web"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "") if rev.returncode == 0 else "unknown"


class Bench:
    """The stack, the runs, and the benchmark's own traffic in the current phase (to subtract)."""

    def __init__(self, st: Stack) -> None:
        self.st = st
        self.r: redis.Redis = st.redis
        self.client = st.client
        self.store = st.client.store
        self.prefix = st.settings.key_prefix
        queue, queues = self.store.queue_keys
        self.queue_keys: tuple[str, str] = (queue, queues)  # RQ's queue and its set of queues
        self.parked: tuple[str, str] = (f"{self.prefix}:bench:parked", f"{self.prefix}:bench:parked-queues")
        self.own_calls: Counter[str] = Counter()
        self.own_in = self.own_out = 0
        self.sha_names = {s.sha: name for name, s in getattr(self.store, "_scripts", {}).items()}

    # -- the benchmark's own commands, counted ---------------------------------------------------
    def own(self, *args: Any) -> Any:
        """Send one command of the benchmark's own, counting it and its bytes both ways."""
        conn = self.r.connection_pool.get_connection()
        try:
            packed: list[bytes] = conn.pack_command(*args)  # type: ignore[no-untyped-call]
            self.own_in += sum(map(len, packed))
        finally:
            self.r.connection_pool.release(conn)
        reply = self.r.execute_command(*args)
        self.own_calls[str(args[0]).lower()] += 1
        self.own_out += len(b"+OK\r\n") if reply is True else len(f":{reply}\r\n")
        return reply

    def count(self, status: str) -> int:
        """Runs with ``status`` now (its index set)."""
        return int(self.own("ZCARD", f"{self.prefix}:runs:{status}"))

    def until(self, status: str, n: int) -> Callable[[], None]:
        return lambda: wait_for(lambda: self.count(status) >= n, 120, f"{n} runs {status}", POLL)

    def release(self, status: str, n: int) -> None:
        """Hand every parked wake-up call to the workers at once (RENAME onto the empty run queue), then
        wait until ``n`` runs have ``status``."""
        self.own("RENAME", self.parked[0], self.queue_keys[0])
        self.until(status, n)()

    # -- runs -------------------------------------------------------------------------------------
    def trigger(self, n: int, steps: int, tag: str, park: bool = True) -> list[str]:
        """Trigger ``n`` runs with ``steps`` steps before their wait; their wake-up calls parked."""
        self.store.queue_keys = self.parked if park else self.queue_keys
        try:
            return [
                self.client.trigger("bench-hitl", {"userId": f"u{tag}{i}", "action": "ship", "steps": steps})
                for i in range(n)
            ]
        finally:
            self.store.queue_keys = self.queue_keys

    def decide(self, run_ids: list[str], park: bool = True) -> None:
        """Approve each run as an approver does through the API; the resumed runs' wake-up calls parked."""
        for rid in run_ids:
            self.decide_one(rid, park)

    def decide_one(self, run_id: str, park: bool) -> None:
        self.store.queue_keys = self.parked if park else self.queue_keys
        try:
            decider = Decider("alice", True, "api", "127.0.0.1")
            (decision,) = decide(self.client, decider, f"approval-{run_id}", {"approved": True}, run_id=run_id)
        finally:
            self.store.queue_keys = self.queue_keys
        if not decision.accepted:
            raise SystemExit(f"the decision on {run_id} was refused: {decision.message}")

    def trickle(self, m: int, completed: int) -> None:
        """``m`` whole runs one at a time, each transition given time to finish before the next."""
        for i in range(m):
            (rid,) = self.trigger(1, 1, f"t{i}", park=False)
            time.sleep(TRICKLE_GAP)
            self.decide_one(rid, park=False)
            time.sleep(TRICKLE_GAP)
        self.until("completed", completed)()

    def sweeps(self, n: int) -> None:
        for _ in range(n):
            self.store.sweep()

    # -- one measured phase -------------------------------------------------------------------------
    def phase(self, units: int, action: Callable[[], Any], until: Callable[[], None] | None = None) -> dict[str, Any]:
        """``action`` (then ``until``) between CONFIG RESETSTAT and INFO: the raw figures of ``units`` runs."""
        cpu0 = {**self.r.info("cpu"), **self.r.info("persistence")}
        self.r.config_resetstat()
        self.own_calls, self.own_in, self.own_out = Counter(), 0, 0
        started = time.monotonic()
        action()
        if until is not None:
            until()
        elapsed = time.monotonic() - started
        time.sleep(SETTLE)
        info = self.r.info("all")
        calls: Counter[str] = Counter()
        usec: Counter[str] = Counter()
        for key, value in info.items():
            name = key.removeprefix("cmdstat_").lower()
            if key.startswith("cmdstat_") and name not in ADMIN:
                calls[name] += int(value["calls"])
                usec[name] += int(value["usec"])
        calls.subtract(self.own_calls)
        # CONFIG RESETSTAT's reply and INFO's request are counted too: the benchmark's, not the runs'.
        net_in = int(info["total_net_input_bytes"]) - self.own_in - len(b"*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n")
        net_out = int(info["total_net_output_bytes"]) - self.own_out - len(b"+OK\r\n")

        def cpu(*fields: str) -> float:
            return sum(float(info[f]) - float(cpu0[f]) for f in fields if f in info) * 1e6

        return {
            "units": units,
            "seconds": round(elapsed, 2),
            "calls": +calls,
            "usec": usec,
            "cpu_usec": cpu("used_cpu_sys", "used_cpu_user"),
            "cpu_main_usec": cpu("used_cpu_sys_main_thread", "used_cpu_user_main_thread"),
            "net_in": net_in,
            "net_out": net_out,
            "aof": int(info.get("aof_current_size", 0)) - int(cpu0.get("aof_current_size", 0)),
        }

    # -- memory -------------------------------------------------------------------------------------
    def used_memory(self) -> int:
        self.r.execute_command("MEMORY", "PURGE")
        time.sleep(0.2)
        return int(self.r.info("memory")["used_memory"])

    def key_bytes(self, key: str) -> int:
        return int(self.r.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0") or 0)

    def run_keys(self, run_ids: list[str], sample: int = 100) -> dict[str, Any]:
        """Mean MEMORY USAGE of a run's own keys over ``sample`` runs, and their encodings."""
        picked = run_ids[:: max(1, len(run_ids) // sample)][:sample]
        out: dict[str, Any] = {}
        for kind in ("run", "steps", "rt"):
            keys = [f"{self.prefix}:{kind}:{rid}" for rid in picked]
            encoding = self.r.object("encoding", keys[0])
            out[kind] = round(sum(self.key_bytes(k) for k in keys) / len(keys))
            out[f"{kind}_encoding"] = encoding.decode() if isinstance(encoding, bytes) else encoding
        return out

    def shared_keys(self) -> dict[str, int]:
        """MEMORY USAGE of the keys every run shares (index sets, waiters hash, due set, all-runs stream)."""
        names = ["runs", "due", "waiters", "rt", *(f"runs:{s}" for s in ("running", "waiting", "completed"))]
        return {name: self.key_bytes(f"{self.prefix}:{name}") for name in names}


# -- MONITOR: which script (or client) sent each command ---------------------------------------------
class Monitor:
    """MONITOR on a connection of its own, split at ``ECHO bench:phase:<name>`` markers."""

    END = "bench:monitor:end"

    def __init__(self, url: str, after: bool) -> None:
        self.conn = redis.Redis.from_url(url)
        self.after = after  # Redis >= 7 shows a script's commands before its EVALSHA, 6.2 after it
        self.lines: list[tuple[str, str]] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise SystemExit("MONITOR did not start")

    def _read(self) -> None:
        with self.conn.monitor() as m:
            self.ready.set()
            for line in m.listen():
                self.lines.append((line["client_type"], line["command"]))
                if line["command"] == f"ECHO {self.END}":
                    return

    def stop(self, r: redis.Redis) -> None:
        r.echo(self.END)
        self.thread.join(30)
        self.conn.close()

    def phases(self, sha_names: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Per phase: top-level calls by command, script calls by script, and each script's commands."""
        out: dict[str, dict[str, Any]] = {}
        cur: dict[str, Any] | None = None
        script: str | None = None
        pending: Counter[str] = Counter()
        for kind, command in self.lines:
            words = command.split(" ", 2)
            name = words[0].lower()
            if kind == "lua":
                if cur is None:
                    continue
                if self.after:
                    pending[name] += 1
                elif script is not None:
                    cur["inner"][script][name] += 1
                    cur["inside"][name] += 1
                continue
            script = None
            if name == "echo" and len(words) > 1 and words[1].startswith("bench:phase:"):
                cur = out.setdefault(words[1].removeprefix("bench:phase:"), _blank())
                continue
            if cur is None or name in ADMIN or name in {"zcard", "rename"}:
                continue
            cur["top"][name] += 1
            if name in ("evalsha", "eval") and len(words) > 1:
                script = sha_names.get(words[1].lower(), words[1][:12])
                cur["scripts"][script] += 1
                if self.after:
                    cur["inner"][script].update(pending)
                    cur["inside"].update(pending)
                    pending = Counter()
        return out


def _blank() -> dict[str, Any]:
    return {"top": Counter(), "scripts": Counter(), "inner": defaultdict(Counter), "inside": Counter()}


def _per(counter: Counter[str], n: int) -> dict[str, float]:
    return {k: round(v / n, 2) for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if v}


def calibrate(b: Bench, n: int, k: int) -> dict[str, dict[str, Any]]:
    """A small batch through every phase under MONITOR; the raw per-phase attribution."""
    version = str(b.r.info("server")["redis_version"])
    mon = Monitor(b.st.settings.redis_url, after=int(version.split(".")[0]) >= 7)
    units = {}
    for name, count, action in phases(b, n, k, [], calibrating=True):
        units[name] = count
        b.r.echo(f"bench:phase:{name}")
        action()
        time.sleep(SETTLE)
    mon.stop(b.r)
    found = mon.phases(b.sha_names)
    for name, ph in found.items():
        ph["units"] = units[name]
    return found


def phases(
    b: Bench, n: int, k: int, first: list[str], calibrating: bool = False
) -> list[tuple[str, int, Callable[[], Any]]]:
    """The phases in order: name, runs (sweeps) in it, what it does up to its end. ``first`` gets the first batch."""
    more: list[str] = []
    done = b.count("completed")
    m, sweeps = (max(n // 10, 5), 20) if calibrating else (200, 500)
    return [
        ("trigger", n, lambda: first.extend(b.trigger(n, 1, "a"))),
        ("to_waiting", n, lambda: b.release("waiting", n)),
        ("decide", n, lambda: b.decide(first)),
        ("resume", n, lambda: b.release("completed", done + n)),
        (f"trigger_{k}", n, lambda: more.extend(b.trigger(n, k, "b"))),
        (f"to_waiting_{k}", n, lambda: b.release("waiting", n)),
        ("trickle", m, lambda: b.trickle(m, done + n + m)),
        ("sweep", sweeps, lambda: b.sweeps(sweeps)),
    ]


# -- from raw phases to figures -----------------------------------------------------------------------
def per_unit(ph: dict[str, Any], cal: dict[str, Any], everywhere: dict[str, Any]) -> dict[str, Any]:
    """A phase's figures per run (per sweep), its calls split into top-level ones and those run by scripts.

    A command counts as run inside scripts when MONITOR saw it there more often than sent by a client
    in the same phase of the small batch (else over all its phases): the clients' own commands
    besides EVALSHA and BLMOVE are RQ's bookkeeping, a few a second, so the split is off by that much.
    """
    n, calls, usec = ph["units"], ph["calls"], ph["usec"]

    def inside(name: str) -> bool:
        found = cal if cal["inside"][name] + cal["top"][name] else everywhere
        return bool(found["inside"][name] > found["top"][name])

    total = sum(calls.values())
    in_scripts = sum(v for name, v in calls.items() if inside(name))
    # EVALSHA's usec include the commands it ran: only top-level commands' usec add up.
    top_usec = sum(v for name, v in usec.items() if not inside(name))
    return {
        "commands": round(total / n, 2),
        "top_level": round((total - in_scripts) / n, 2),
        "script_calls": round(sum(calls[c] for c in ("evalsha", "eval", "fcall", "fcall_ro")) / n, 2),
        "inside_scripts": round(in_scripts / n, 2),
        "commandstats_usec": round(top_usec / n, 2),
        "cpu_usec": round(ph["cpu_usec"] / n, 2),
        "cpu_main_thread_usec": round(ph["cpu_main_usec"] / n, 2),
        "net_in_bytes": round(ph["net_in"] / n),
        "net_out_bytes": round(ph["net_out"] / n),
        "aof_bytes": round(ph["aof"] / n),
        "seconds": ph["seconds"],
        "by_command": _per(calls, n),
    }


def combine(terms: list[tuple[float, dict[str, Any]]]) -> dict[str, float]:
    """sum(weight * figures) over the scalar figures of per-run phases."""
    return {key: round(sum(w * t[key] for w, t in terms), 2) for key in SCALARS}


def attribution(cal: dict[str, dict[str, Any]], n: int) -> dict[str, Any]:
    """MONITOR's answer, shortened: script calls per run in each phase, and what each script runs inside."""
    scripts: dict[str, dict[str, Any]] = {}
    for ph in cal.values():
        for script, count in ph["scripts"].items():
            s = scripts.setdefault(script, {"calls": 0, "inner": Counter()})
            s["calls"] += count
            s["inner"].update(ph["inner"][script])
    return {
        "runs": n,
        "script_calls_per_run": {name: _per(ph["scripts"], ph["units"]) for name, ph in cal.items()},
        "other_top_level_per_run": {
            name: _per(Counter({c: v for c, v in ph["top"].items() if c != "evalsha"}), ph["units"])
            for name, ph in cal.items()
        },
        "scripts": {
            script: {
                "calls": s["calls"],
                "inside_per_call": round(sum(s["inner"].values()) / s["calls"], 2),
                "by_command_per_call": _per(s["inner"], s["calls"]),
            }
            for script, s in sorted(scripts.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=2000, help="runs per measured batch")
    parser.add_argument("-k", type=int, default=5, help="steps before the wait in the second batch (>= 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calibrate", type=int, default=100, help="runs watched under MONITOR first")
    args = parser.parse_args()
    n, k = args.n, args.k
    started = time.monotonic()
    with stack(workers=args.workers, sweep_interval=600.0) as st:
        b = Bench(st)
        version = st.redis.info("server")["redis_version"]
        # No run yet: this sweep finds nothing to backfill and marks it done (<p>:indexed), as a
        # worker's first sweep does in a new deployment; the workers' own sweeps wait 600 s here.
        b.store.sweep()
        cal = calibrate(b, args.calibrate, k)
        raw: dict[str, dict[str, Any]] = {}
        memory: dict[str, Any] = {}
        first: list[str] = []
        for name, units, action in phases(b, n, k, first):
            if name == "trigger":
                memory["base"] = (b.used_memory(), b.shared_keys())
            raw[name] = b.phase(units, action)
            if name == "to_waiting":
                memory["waiting"] = (b.used_memory(), b.shared_keys(), b.run_keys(first))
            if name == "resume":
                memory["finished"] = (b.used_memory(), b.shared_keys(), b.run_keys(first))
        raw["idle"] = b.phase(1, lambda: time.sleep(2.0))
        stream_entries = int(st.redis.xlen(f"{b.prefix}:rt"))

    # The idle phase's CPU (serverCron, AOF fsync) is every phase's background: taken off each.
    background = raw["idle"]["cpu_usec"] / (raw["idle"]["seconds"] + SETTLE)
    background_main = raw["idle"]["cpu_main_usec"] / (raw["idle"]["seconds"] + SETTLE)
    everywhere = _blank()
    for ph in cal.values():
        everywhere["top"].update(ph["top"])
        everywhere["inside"].update(ph["inside"])
    figures = {}
    for name, ph in raw.items():
        if name != "idle":
            ph["cpu_usec"] -= background * (ph["seconds"] + SETTLE)
            ph["cpu_main_usec"] -= background_main * (ph["seconds"] + SETTLE)
            figures[name] = per_unit(ph, cal.get(name.removesuffix(f"_{k}"), everywhere), everywhere)
    step = combine([(1 / (k - 1), figures[f"to_waiting_{k}"]), (-1 / (k - 1), figures["to_waiting"])])
    wait = combine([(1, figures["to_waiting"]), (-1, step)])
    decision = combine([(1, figures["decide"]), (1, figures["resume"]), (-1, step)])
    run = combine([(1, figures[p]) for p in ("trigger", "to_waiting", "decide", "resume")])
    report(
        "redis commandstats",
        n=n,
        k=k,
        redis=version,
        code=code_version(Path(__file__).resolve().parent.parent),
        seconds=round(time.monotonic() - started, 1),
        settings={
            "workers": args.workers,
            "workflow": f"bench-hitl: 1 step (or {k}), a wait, a decision (approvals.decide), 1 step",
            "worker_sweep_interval_s": 600,
            "redis": "embedded, appendonly everysec",
        },
        per_step=step,
        per_wait=wait,
        per_decision=decision,
        per_run=run,
        per_run_one_at_a_time={key: figures["trickle"][key] for key in SCALARS},
        runs_per_s_at_one_core={
            "from_cpu_main_thread": round(1e6 / run["cpu_main_thread_usec"]),
            "from_cpu": round(1e6 / run["cpu_usec"]),
            "from_commandstats_usec": round(1e6 / run["commandstats_usec"]),
            "one_at_a_time_from_cpu_main_thread": round(1e6 / figures["trickle"]["cpu_main_thread_usec"]),
        },
        per_sweep={key: figures["sweep"][key] for key in ("commands", "script_calls", "commandstats_usec", "cpu_usec")},
        idle_redis_cpu_usec_per_s=round(background),
        memory=memory_figures(memory, n, stream_entries),
        phases=figures,
        monitor=attribution(cal, args.calibrate),
    )


def memory_figures(memory: dict[str, Any], n: int, stream_entries: int) -> dict[str, Any]:
    """Bytes per waiting and per finished run (used_memory deltas without the all-runs stream's), and the keys'."""
    base, base_shared = memory["base"]
    out: dict[str, Any] = {}
    for state in ("waiting", "finished"):
        used, shared, keys = memory[state]
        stream_growth = shared["rt"] - base_shared["rt"]
        out[f"bytes_per_{state}_run"] = round((used - base - stream_growth) / n)
        out[f"{state}_run_keys"] = keys
        out[f"{state}_shared_keys_per_run"] = {
            key: round((shared[key] - base_shared[key]) / n) for key in shared if key != "rt"
        }
    out["all_runs_stream_bytes"] = memory["finished"][1]["rt"]
    out["all_runs_stream_entries"] = stream_entries
    return out


if __name__ == "__main__":
    main()
