"""A stack of real processes (RQ workers, a gunicorn web process) for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import BinaryIO

from .devtools.embedded_redis import free_port
from .settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# A secret key strong enough for production mode (tests and benchmarks only: never deploy it).
TEST_SECRET = "hitl-test-secret-5Jx9q2Lw7Vb3Nz8Kp4Rt6Ym1Hc0Fd"


def process_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that points a worker or web process at ``settings``."""
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": settings.redis_url,
            "HITL_KEY_PREFIX": settings.key_prefix,
            "HITL_QUEUE_NAME": settings.queue_name,
            "HITL_LEASE_SECONDS": str(settings.lease_seconds),
            "HITL_SWEEP_INTERVAL": str(settings.sweep_interval),
            "HITL_WORKFLOW_MODULES": ",".join(settings.workflow_modules),
            "PYTHONPATH": str(ROOT),
        }
    )
    if settings.redis_sentinels:
        env.update(REDIS_SENTINELS=",".join(settings.redis_sentinels),
                   REDIS_SENTINEL_MASTER=settings.redis_sentinel_master,
                   REDIS_SENTINEL_PASSWORD=settings.redis_sentinel_password)  # fmt: skip
    if settings.min_replicas:
        env.update(HITL_MIN_REPLICAS=str(settings.min_replicas), HITL_REPLICA_TIMEOUT=str(settings.replica_timeout))
    env.update(extra or {})
    return env


def _log_file(path: Path) -> BinaryIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "wb")


class Workers:
    """Starts and stops real ``rq worker`` processes (the Procfile's worker class)."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, n: int = 1, extra_env: dict[str, str] | None = None, with_scheduler: bool = False
    ) -> list[subprocess.Popen[bytes]]:
        """Start ``n`` workers on the settings' queue (each with RQ's scheduler child, as the Procfile's, if asked)."""
        started = []
        for _ in range(n):
            log = _log_file(self.log_dir / f"worker-{len(self.procs)}.log")
            name = f"{self.settings.queue_name}-{uuid.uuid4().hex[:6]}"
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rq.cli",
                    "worker",
                    *(["--with-scheduler"] if with_scheduler else []),
                    "--connection-class",
                    "hitl_web.connections.Primary",
                    "--worker-class",
                    "hitl_web.engine.worker.Worker",
                    "--url",
                    self.settings.redis_url,
                    "--name",
                    name,
                    self.settings.queue_name,
                ],
                env=process_env(self.settings, extra_env),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.procs.append(proc)
            started.append(proc)
        return started

    def start_notifier(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start the Procfile's notifier: a stock RQ worker (its scheduler retries) on the deliveries' queue."""
        log = _log_file(self.log_dir / f"notifier-{len(self.procs)}.log")
        queue = self.settings.queue_name + "-notify"  # notifications/deliveries.py's delivery_queue
        command = [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--url", self.settings.redis_url,
                   "--connection-class", "hitl_web.connections.Primary",
                   "--name", f"{queue}-{uuid.uuid4().hex[:6]}", queue]  # fmt: skip
        proc = subprocess.Popen(
            command, env=process_env(self.settings, extra_env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def name_of(proc: subprocess.Popen[bytes]) -> str:
        """The RQ worker name ``proc`` was started with."""
        args = list(proc.args)  # type: ignore[arg-type]
        return str(args[args.index("--name") + 1])

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL one worker, as a crash would."""
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        """Warm shutdown (SIGTERM) of every worker; SIGKILL after 10 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        """Everything the workers printed."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))


class WebServer:
    """A real gunicorn ``web`` process (the Procfile's settings) on a free port."""

    def __init__(self, settings: Settings, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.port = free_port()
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """Base URL of the process."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> WebServer:
        """Start gunicorn and wait until /healthz answers."""
        # Loopback only, as `hitl-web dev`: a test's open-mode web process is nobody else's business.
        defaults = {"PORT": str(self.port), "HITL_WEB_HOST": "127.0.0.1"}
        defaults.update({"SECRET_KEY": TEST_SECRET, "HITL_ENV": "development"})
        env = process_env(self.settings, {**defaults, **self.extra_env})
        log = _log_file(self.log_dir / f"web-{self.port}-{self.starts}.log")
        self.starts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:hitl_web.gunicorn_conf", "hitl_web:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.logs()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer /healthz in {timeout} s")

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 20 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def logs(self) -> str:
        """Everything the web process printed."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("web-*.log")))
