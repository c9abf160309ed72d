"""`hitl-web dev`'s embedded Redis: a password and private files (issue 13, item 17), restarted when it dies (item 18).

Each test runs the test virtualenv's `hitl-web dev` with a data folder of its own under tmp_path,
so its Redis, secret key and password are the test's alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from hitl_web.devtools.embedded_redis import free_port
from tests.conftest import wait_until
from tests.test_front_door import clean_env, healthy, like_a_terminal_job, marked, stop_group


@dataclass
class DevStack:
    """A running `hitl-web dev`: its process, log, web address and data folder."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    base: str
    data_dir: Path
    marker: str

    def log(self) -> str:
        """What it printed so far (stdout and stderr)."""
        return self.log_path.read_text()

    def redis_port(self) -> int:
        """The embedded Redis's port, from the `Redis at` line."""
        match = re.search(r"Redis at redis://(?::\*\*\*@)?127\.0\.0\.1:(\d+)/0", self.log())
        assert match, self.log()[-3000:]
        return int(match.group(1))

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one API call (an error status is an answer)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data, {"Content-Type": "application/json"}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def run_status(self, run_id: str) -> str | None:
        """The run's status, or None while the web process answers anything but 200."""
        status, body = self.api("GET", f"/api/runs/{run_id}")
        return str(body["status"]) if status == 200 else None


@contextmanager
def dev_stack(tmp_path: Path, **extra_env: str) -> Iterator[DevStack]:
    """`hitl-web dev` on a free port with ``tmp_path/var`` as its data folder, stopped by Ctrl-C at the end."""
    marker, port = uuid.uuid4().hex, free_port()
    data_dir = tmp_path / "var"
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [Path(sys.executable).parent / "hitl-web", "dev", "--data-dir", str(data_dir)],
            cwd=tmp_path,
            env=clean_env(marker, PORT=str(port), **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=like_a_terminal_job,
        )
    stack = DevStack(proc, log_path, f"http://127.0.0.1:{port}", data_dir, marker)
    try:
        wait_until(lambda: healthy(stack.base) or proc.poll() is not None, timeout=60, interval=0.2)
        assert proc.poll() is None, stack.log()[-3000:]
        yield stack
    finally:
        if proc.poll() is None:
            stop_group(proc, signal.SIGINT)
        wait_until(lambda: not marked(marker), timeout=15)


def stopped_cleanly(stack: DevStack) -> None:
    """Ctrl-C (SIGINT to its process group, as a terminal sends it) stops everything: exit 0, no traceback."""
    code = stop_group(stack.proc, signal.SIGINT)
    log = stack.log()
    assert code == 0 and log.rstrip().endswith("hitl-web: stopped"), log[-3000:]
    # RQ's scheduler child (the notifier line's --with-scheduler) dies with a traceback of its own when
    # Redis goes away, and its worker starts a new one: RQ's, not ours; every other line stays clean.
    ours = "\n".join(line for line in log.splitlines() if " notifier | " not in line)
    assert "Traceback" not in ours, log[-6000:]


def redis_server_pid(data_dir: Path) -> int | None:
    """The live redis-server working in ``data_dir`` (it chdirs to its --dir; it retitles its cmdline)."""
    wanted = str((data_dir / "redis").resolve())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "exe")).name == "redis-server" and os.readlink(entry / "cwd") == wanted:
                    return int(entry.name)
            except OSError:  # gone, a zombie, or not ours to read
                continue
    return None


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_ping(port: int) -> bytes:
    """Redis's answer to a PING sent with no AUTH (no client library in between)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"*1\r\n$4\r\nPING\r\n")
        return conn.recv(200)


def approve_and_complete(stack: DevStack, run_id: str) -> None:
    """Notify the run's approval through the web process and wait until the run completes."""
    status, body = stack.api("POST", "/api/notify", {"eventId": f"approval-{run_id}", "eventData": {"approved": True}})
    assert status == 200 and [n["workflowRunId"] for n in body["notified"]] == [run_id], body
    wait_until(lambda: stack.run_status(run_id) == "completed", timeout=30)


def waiting_run(stack: DevStack) -> str:
    """Start a human-in-loop run through the API (no token in development mode) and wait until it waits."""
    status, body = stack.api("POST", "/api/trigger", {"workflowType": "human-in-loop"})
    assert status == 200, body
    run_id = str(body["workflowRunId"])
    wait_until(lambda: stack.run_status(run_id) == "waiting", timeout=30)
    return run_id


# Item 17: a password, and nothing of Redis's readable by other users (also what an older version left).
def test_dev_redis_needs_its_password_and_keeps_its_files_private(tmp_path: Path) -> None:
    old = tmp_path / "var" / "redis"  # as an earlier hitl-web left it: 0755 and 0644, no password
    old.mkdir(parents=True)
    old.chmod(0o755)
    for name in ("redis.log", "appendonly.aof"):
        (old / name).write_text("")
        (old / name).chmod(0o644)
    with dev_stack(tmp_path) as stack:
        redis_dir = stack.data_dir / "redis"
        password = (redis_dir / "password").read_text().strip()
        port = stack.redis_port()
        assert len(password) >= 32 and password not in stack.log(), stack.log()[-3000:]
        assert f"Redis at redis://:***@127.0.0.1:{port}/0 (password in {redis_dir / 'password'})" in stack.log()

        # A client without the password is refused; with it, served.
        assert raw_ping(port).startswith(b"-NOAUTH"), raw_ping(port)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port, password="not-" + password).ping()
        assert redis.Redis.from_url(f"redis://:{password}@127.0.0.1:{port}/0").ping()
        # Nor is it on the server's command line, which every user of the machine can read.
        pid = redis_server_pid(stack.data_dir)
        assert pid is not None and password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()

        # The app works through it: web, worker (RQ's --url with the password) and the scheduler.
        run_id = waiting_run(stack)
        approve_and_complete(stack, run_id)

        aof = [redis_dir / "appendonly.aof", *sorted((redis_dir / "appendonlydir").glob("*"))]
        files = [redis_dir / "password", redis_dir / "redis.log", stack.data_dir / "secret_key", *aof]
        files = [f for f in files if f.exists()]
        assert any(f.is_file() and f.stat().st_size > 0 for f in aof)  # the AOF holds the run
        modes = {str(f.relative_to(stack.data_dir)): oct(mode(f)) for f in files}
        modes["redis/"] = oct(mode(redis_dir))
        print(modes)
        assert set(modes.values()) <= {"0o600", "0o700"} and modes["redis/"] == "0o700", modes
        # Whatever else Redis wrote there (a rewrite, a temp file) is private too.
        others = [p for p in redis_dir.rglob("*") if mode(p) & 0o077]
        assert others == [], [(str(p), oct(mode(p))) for p in others]
        stopped_cleanly(stack)
    # The same password next time: a stack restarted keeps its URL's credentials and its data.
    with dev_stack(tmp_path) as stack:
        assert (stack.data_dir / "redis" / "password").read_text().strip() == password
        assert stack.run_status(run_id) == "completed"
        stopped_cleanly(stack)


# Item 18: a killed Redis comes back on its port, with its data and password; the waiting run waits on.
def test_dev_restarts_a_killed_redis_and_a_waiting_run_completes(tmp_path: Path) -> None:
    # A worker's pooled connections from before the restart are dead, and a run job that meets one
    # stops and comes back through its lease (30 s by default): a short lease keeps the test short.
    with dev_stack(tmp_path, HITL_LEASE_SECONDS="3") as stack:
        port = stack.redis_port()
        run_id = waiting_run(stack)
        first = redis_server_pid(stack.data_dir)
        assert first is not None
        os.kill(first, signal.SIGKILL)

        line = f"hitl-web: Redis exited (signal 9); restarted on port {port}"
        wait_until(lambda: line in stack.log(), timeout=20)
        second = redis_server_pid(stack.data_dir)
        assert second is not None and second != first
        password = (stack.data_dir / "redis" / "password").read_text().strip()
        assert redis.Redis(port=port, password=password).ping()

        # Web and worker reconnect by themselves; the run is still waiting for its decision.
        wait_until(lambda: healthy(stack.base), timeout=30)
        assert wait_until(lambda: stack.run_status(run_id), timeout=30) == "waiting"
        approve_and_complete(stack, run_id)
        stopped_cleanly(stack)
    log = stack.log()
    assert log.count("restarted on port") == 1
    print("the resumed run needed its lease:", "the run's lease will bring it back" in log)


# Item 18's bound: a Redis that keeps dying stops the stack (exit 1, a clear message) instead of looping.
def test_dev_gives_up_on_a_redis_that_keeps_dying(tmp_path: Path) -> None:
    with dev_stack(tmp_path) as stack:
        for restarts in range(1, 6):
            pid = redis_server_pid(stack.data_dir)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: stack.log().count("restarted on port") == restarts, timeout=20)  # noqa: B023
        pid = redis_server_pid(stack.data_dir)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        code = stack.proc.wait(30)
        log = stack.log()
        assert code == 1, log[-3000:]
        assert "Redis is down (signal 9) after 5 restarts within 60 s; giving up: stopping web and worker" in log
        assert "Redis kept exiting, 5 restarts within 60 s: gave up" in log, log[-3000:]
        assert redis_server_pid(stack.data_dir) is None
