"""A replicated Redis on this machine: a primary, its replicas and three Sentinels (tests, the chaos soak).

Every node is a real ``redis-server`` (the embedded binary; ``--sentinel`` for a Sentinel) on a
free loopback port, with passwords on the data nodes and on the Sentinels, as a deployment has
them. The Sentinels fail over three seconds after the primary stops answering.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from .embedded_redis import free_port, redis_server_binary

MASTER = "hitl"
# A primary silent this long is down. One second was too short on two busy cores: a new primary
# starved of CPU missed it, and the Sentinels failed over a second time.
DOWN_AFTER_MS = 3000


class Node:
    """One data node: a ``redis-server`` that may be killed and started again (as a replica)."""

    def __init__(self, workdir: Path, password: str) -> None:
        self.port = free_port()
        self.dir = workdir / f"node-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, replica_of: int | None = None) -> Node:
        """Start (no persistence: a replica takes the primary's data), as a replica of port ``replica_of``."""
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--requirepass", self.password,
                "--masterauth", self.password, "--repl-diskless-sync", "yes",
                "--repl-diskless-sync-delay", "0"]  # fmt: skip
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        with open(self.dir / "redis.log", "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_answering(self.client())
        return self

    def client(self) -> redis.Redis:
        """A plain client of this node (never through the Sentinels)."""
        return redis.Redis(port=self.port, password=self.password, socket_timeout=2)

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class SentinelCluster:
    """A primary, ``replicas`` replicas and three Sentinels watching them under the name ``MASTER``."""

    def __init__(self, workdir: Path, replicas: int = 1) -> None:
        self.workdir = workdir
        self.password = secrets.token_urlsafe(16)
        self.sentinel_password = secrets.token_urlsafe(16)
        self.nodes = [Node(workdir, self.password) for _ in range(1 + replicas)]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    def start(self) -> SentinelCluster:
        """Start the nodes (the first one primary) and the Sentinels; return once all see the replicas."""
        primary, *replicas = self.nodes
        primary.start()
        for node in replicas:
            node.start(replica_of=primary.port)
        for port in self.sentinel_ports:
            conf = self.workdir / f"sentinel-{port}.conf"  # a Sentinel rewrites its own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\nrequirepass {self.sentinel_password}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {primary.port} 2\n"
                f"sentinel auth-pass {MASTER} {self.password}\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} 10000\nsentinel parallel-syncs {MASTER} 1\n"
            )
            with open(self.workdir / f"sentinel-{port}.log", "ab") as log:
                command = [redis_server_binary(), str(conf), "--sentinel"]
                self.sentinels.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        for port in self.sentinel_ports:
            wait_answering(self.sentinel(port))
        self.wait_replicas(len(replicas))
        return self

    # -- what a process is configured with ---------------------------------------------------------
    @property
    def sentinels_setting(self) -> str:
        """``REDIS_SENTINELS``."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    @property
    def url(self) -> str:
        """``REDIS_URL`` beside the Sentinels: the data nodes' password (the host is the Sentinels' to say)."""
        return f"redis://:{self.password}@/0"

    def env(self) -> dict[str, str]:
        """The environment that points a process at the cluster."""
        return {"REDIS_URL": self.url, "REDIS_SENTINELS": self.sentinels_setting,
                "REDIS_SENTINEL_MASTER": MASTER, "REDIS_SENTINEL_PASSWORD": self.sentinel_password}  # fmt: skip

    # -- what the test does to it ------------------------------------------------------------------
    def sentinel(self, port: int) -> redis.Redis:
        """A client of one Sentinel."""
        return redis.Redis(port=port, password=self.sentinel_password, socket_timeout=2, decode_responses=True)

    def primary(self) -> Node:
        """The node the Sentinels name primary now."""
        for port in self.sentinel_ports:
            try:
                address: Any = self.sentinel(port).sentinel_get_master_addr_by_name(MASTER)
                _host, primary_port = address
            except redis.RedisError:
                continue
            return next(n for n in self.nodes if n.port == int(primary_port))
        raise RuntimeError("no Sentinel answers")

    def replicas(self) -> list[Node]:
        """Every node but the primary."""
        primary = self.primary()
        return [n for n in self.nodes if n is not primary]

    def kill_primary(self, timeout: float = 30) -> tuple[Node, Node]:
        """SIGKILL the primary and wait until the Sentinels promoted a replica: (the killed one, the new one)."""
        old = self.primary()
        old.kill()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.primary()
            if new is not old and _role(new) == "master":
                return old, new
            time.sleep(0.1)
        raise RuntimeError(f"no replica was promoted within {timeout} s (see {self.workdir}/sentinel-*.log)")

    def rejoin(self, node: Node) -> None:
        """Start a killed node again as a replica of the primary, and wait until it is in sync."""
        node.start(replica_of=self.primary().port)
        self.wait_replicas(len(self.nodes) - 1)

    def wait_replicas(self, n: int, timeout: float = 30) -> None:
        """Block until the primary has ``n`` replicas online."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                info = self.primary().client().info("replication")
                if sum(1 for k, v in info.items() if k.startswith("slave") and v.get("state") == "online") >= n:
                    return
            except (redis.RedisError, StopIteration):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the primary has fewer than {n} replicas online after {timeout} s")

    def stop(self) -> None:
        """Stop everything."""
        for proc in self.sentinels:
            proc.kill()
            proc.wait()
        for node in self.nodes:
            node.kill()


def _role(node: Node) -> str:
    try:
        return str(node.client().execute_command("ROLE")[0].decode())  # type: ignore[no-untyped-call]
    except redis.RedisError:
        return ""


def wait_answering(client: redis.Redis, timeout: float = 10) -> None:
    """Block until ``client``'s server answers PING."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
