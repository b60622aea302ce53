"""Real redis-server processes for tests: started on free loopback ports, stopped after.

Never touches the machine's shared Redis on 6379. Fault helpers (kill -9, SIGSTOP,
restart) act only on processes started here.

Which server: the binary named by AGENTMEM_REDIS_SERVER (a path, or a command on PATH;
default ``redis-server``). It may be Redis or Valkey: the nox matrix points it at Redis 7,
Redis 8 and Valkey 9 in turn. Nothing here needs ``redis-cli``: clusters are formed over
RESP (:mod:`tests.support.resp`), so a server never needs a matching client binary.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.resp import RespConnection, RespError, call, text

SERVER_SETTING = "AGENTMEM_REDIS_SERVER"
"""The environment variable naming the server binary every fixture starts."""

EXPECT_SETTING = "AGENTMEM_EXPECT_SERVER"
"""Set by a nox cell (e.g. ``valkey9``): the flavour and major version it must be running."""


@functools.cache
def server_binary() -> str:
    """The absolute path of the server binary; RuntimeError (never a skip) when missing."""
    name = os.environ.get(SERVER_SETTING) or "redis-server"
    found = shutil.which(name)
    if found is None:
        source = f"{SERVER_SETTING}={name!r}" if os.environ.get(SERVER_SETTING) else "PATH"
        raise RuntimeError(
            f"no Redis server binary: {name!r} from {source} is not an executable; install "
            f"the Debian package redis-server or point {SERVER_SETTING} at a redis-server or "
            "valkey-server (nox does this for every cell)"
        )
    # Absolute but not resolved: Debian's redis-server is a symlink to a multi-call binary
    # (redis-check-rdb) that picks its role from the name it was started by.
    return os.path.abspath(found)


@dataclass(frozen=True)
class ServerBuild:
    """What a server binary says it is (``--version``), before it is started."""

    path: str
    flavour: str
    """``redis`` or ``valkey``."""
    version: tuple[int, ...]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def cell_name(self) -> str:
        """How the nox matrix names this server: flavour and major version (``valkey9``)."""
        return f"{self.flavour}{self.version[0]}"

    def __str__(self) -> str:
        return f"{self.flavour} {self.version_text} ({self.path})"


_VERSION_LINE = re.compile(r"^(Redis|Valkey) server v=(\d+(?:\.\d+)*)", re.IGNORECASE)


@functools.cache
def server_build(path: str | None = None) -> ServerBuild:
    """Ask the binary (default: :func:`server_binary`) for its flavour and version."""
    path = path or server_binary()
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    match = _VERSION_LINE.match(out.strip())
    if match is None:
        raise RuntimeError(f"{path} --version printed {out!r}: not a Redis or Valkey server")
    version = tuple(int(part) for part in match.group(2).split("."))
    return ServerBuild(path, match.group(1).lower(), version)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (never 6379)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        # Cluster bus ports are port + 10000; keep both in range.
        if port != 6379 and port + 10000 < 65536:
            return port


def _resp_ping(port: int, timeout: float = 0.5) -> bytes | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64)
    except OSError:
        return None


class RedisServer:
    """One redis-server child process with its own directory.

    ``persistence``: "none" (default, like a cache), "aof", "rdb", or "server-default" (no
    persistence arguments at all: whatever the binary's built-in defaults are).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        directory: Path | None = None,
        password: str | None = None,
        persistence: str = "none",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = server_binary()
        self.port = port or free_port()
        self.directory = directory or Path(tempfile.mkdtemp(prefix=f"agentmem-redis-{self.port}-"))
        self.password = password
        self.persistence = persistence
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _args(self) -> list[str]:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        if self.persistence != "server-default":
            args += [
                "--save",
                "60 1" if self.persistence == "rdb" else "",
                "--appendonly",
                "yes" if self.persistence == "aof" else "no",
                "--appendfsync",
                "always",
            ]
        if self.password:
            args += ["--requirepass", self.password]
        return args + self.extra_args

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(
            self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._stopped = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = _resp_ping(self.port)
            if reply and (reply.startswith(b"+PONG") or b"NOAUTH" in reply):
                return self
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.binary} on {self.port} exited: {log}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.binary} on port {self.port} did not answer in {timeout}s")

    def kill(self) -> None:
        """kill -9: no shutdown, no save."""
        if self.process and self.process.poll() is None:
            if self._stopped:
                self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)
        self._stopped = False

    def pause(self) -> None:
        """SIGSTOP: the server hangs with its sockets open."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self._stopped = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self._stopped = False

    def restart(self, *, empty: bool = False) -> None:
        """Kill -9 and start again on the same port; ``empty`` also deletes its files."""
        self.kill()
        if empty:
            for path in self.directory.iterdir():
                if path.name != "redis.log":
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
        deadline = time.monotonic() + 10
        while _resp_ping(self.port, 0.1) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisClusterProcesses:
    """A real Redis Cluster of ``masters`` cluster-enabled server processes."""

    SLOTS = 16384

    def __init__(self, masters: int = 3) -> None:
        self.nodes: list[RedisServer] = []
        for _ in range(masters):
            port = free_port()
            self.nodes.append(
                RedisServer(
                    port,
                    extra_args=[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--cluster-node-timeout",
                        "2000",
                    ],
                )
            )

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"redis+cluster://{hosts}/0"

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.port) for n in self.nodes]

    def start(self, timeout: float = 30.0) -> RedisClusterProcesses:
        for node in self.nodes:
            node.start()
        self._form()
        deadline = time.monotonic() + timeout
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [_cluster_info(n.port) for n in self.nodes]
            if all(self._converged(state) for state in states):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"the cluster did not converge in {timeout}s: {states}")

    def _form(self) -> None:
        """What ``redis-cli --cluster create --cluster-replicas 0`` does, over RESP: even
        slot ranges, distinct config epochs (set before the nodes meet, as required), then
        every node meets the first."""
        count = len(self.nodes)
        for index, node in enumerate(self.nodes):
            first = index * self.SLOTS // count
            last = (index + 1) * self.SLOTS // count - 1
            with RespConnection(node.port) as conn:
                conn.call("CLUSTER", "ADDSLOTSRANGE", first, last)
                conn.call("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        for node in self.nodes[1:]:
            call(node.port, "CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)

    def _converged(self, info: str) -> bool:
        # Every node must see every master and every slot, or a client that starts from
        # it would get a partial slot map.
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        return (
            fields.get("cluster_state") == "ok"
            and fields.get("cluster_known_nodes") == str(len(self.nodes))
            and fields.get("cluster_slots_ok") == str(self.SLOTS)
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisClusterProcesses:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cluster_info(port: int) -> str:
    try:
        reply = call(port, "CLUSTER", "INFO")
    except (OSError, RespError) as exc:
        return f"error: {exc}"
    return text(reply)


def require_redis() -> None:
    """Fail loudly (not skip) when the server binary is missing: .ci/run installs it."""
    server_build()


# -- what a running server is -------------------------------------------------------------


@dataclass(frozen=True)
class ServerIdentity:
    """What a running server says it is (HELLO), and the modules it has loaded."""

    flavour: str
    """``redis`` or ``valkey`` (HELLO's ``server`` field)."""
    version: tuple[int, ...]
    modules: tuple[str, ...]
    info_redis_version: str
    """INFO's ``redis_version``: Valkey reports a frozen Redis-compatible 7.2.4 there, so
    anything that gates on versions must read HELLO (or ``valkey_version``) instead."""

    @property
    def cell_name(self) -> str:
        return f"{self.flavour}{self.version[0]}"


def _pairs(reply: object) -> dict[str, object]:
    if not isinstance(reply, list) or len(reply) % 2:
        raise RuntimeError(f"expected a flat list of pairs, got {reply!r}")
    return {
        key.decode() if isinstance(key, bytes) else str(key): value
        for key, value in zip(reply[::2], reply[1::2], strict=True)
    }


def server_identity(port: int, *, password: str | None = None) -> ServerIdentity:
    """HELLO 2 (RESP2 replies, as :mod:`tests.support.resp` reads them) and INFO server."""
    with RespConnection(port) as conn:
        auth: list[str] = ["AUTH", "default", password] if password else []
        hello = _pairs(conn.call("HELLO", "2", *auth))
        info = conn.call("INFO", "server")
    modules = hello.get("modules") or []
    assert isinstance(modules, list)
    fields = dict(line.split(":", 1) for line in text(info).splitlines() if ":" in line)
    return ServerIdentity(
        flavour=text(hello["server"]),
        version=tuple(int(part) for part in text(hello["version"]).split(".")),
        modules=tuple(sorted(text(_pairs(module)["name"]) for module in modules)),
        info_redis_version=fields.get("redis_version", ""),
    )


def has_vector_sets(port: int) -> bool:
    """Whether the server knows VADD (vector sets: built into Redis 8, absent from Redis 7
    and Valkey 9). COMMAND INFO answers nil for an unknown command."""
    reply = call(port, "COMMAND", "INFO", "VADD")
    return isinstance(reply, list) and bool(reply) and reply[0] is not None


__all__ = [
    "EXPECT_SETTING",
    "SERVER_SETTING",
    "RedisClusterProcesses",
    "RedisServer",
    "ServerBuild",
    "ServerIdentity",
    "free_port",
    "has_vector_sets",
    "require_redis",
    "server_binary",
    "server_build",
    "server_identity",
]
