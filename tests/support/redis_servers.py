"""Real redis-server processes for tests: started on free loopback ports, stopped after.

Never touches the machine's shared Redis on 6379. Fault helpers (kill -9, SIGSTOP,
restart) act only on processes started here.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


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

    ``persistence``: "none" (default, like a cache), "aof" or "rdb".
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
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not on PATH: apt-get install redis-server")
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
        assert REDIS_SERVER is not None
        args = [
            REDIS_SERVER,
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
                raise RuntimeError(f"redis-server on {self.port} exited: {log}")
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s")

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
    """A real Redis Cluster of ``masters`` cluster-enabled redis-server processes."""

    def __init__(self, masters: int = 3) -> None:
        if REDIS_CLI is None:
            raise RuntimeError("redis-cli is not on PATH: apt-get install redis-server")
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

    def start(self) -> RedisClusterProcesses:
        assert REDIS_CLI is not None
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [
                subprocess.run(
                    [REDIS_CLI, "-p", str(n.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=False,
                ).stdout
                for n in self.nodes
            ]
            if all("cluster_state:ok" in s for s in states):
                return self
            time.sleep(0.1)
        raise RuntimeError("Redis Cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisClusterProcesses:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def require_redis() -> None:
    """Fail loudly (not skip) when redis-server is missing: .ci/run installs it."""
    if REDIS_SERVER is None or REDIS_CLI is None:
        raise RuntimeError(
            "redis-server/redis-cli not found on PATH; install the Debian package redis-server"
        )


__all__ = ["RedisClusterProcesses", "RedisServer", "free_port", "require_redis"]
