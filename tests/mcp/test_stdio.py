"""Real server processes: the console scripts, the raw stdio protocol, shutdown, HTTP."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.mcp.support import (
    REPO,
    call,
    new_namespace,
    server_command,
    server_env,
    stdio_client,
)

aio = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("console_script", "prefix"),
    [("agentmem-mcp", ()), ("agentmem", ("mcp",)), (None, ())],
    ids=["agentmem-mcp", "agentmem mcp", "python -m agentmem_mcp"],
)
@aio
async def test_every_entry_point_serves(
    tmp_path: Path, console_script: str | None, prefix: tuple[str, ...]
) -> None:
    env = server_env(AGENTMEM_SQLITE_PATH=str(tmp_path / "m.db"), AGENTMEM_AGENT_ID="from-env")
    async with stdio_client(
        *prefix, "--namespace", new_namespace(), env=env, console_script=console_script
    ) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"add_memory", "search_memory", "save_episode", "get_stats"} <= names
        added = await call(client, "add_memory", {"content": "stdio works", "tags": ["t"]})
        hits = await call(client, "search_memory", {"query": "stdio"})
        assert [h["id"] for h in hits["hits"]] == [added["id"]]
        stats = await call(client, "get_stats")
        assert stats["agent_id"] == "from-env"
        assert stats["backend_url"] == f"sqlite://{tmp_path / 'm.db'}"


class RawServer:
    """The server as a child process spoken to in raw JSON-RPC lines."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        command, argv = server_command(*args, "--log-level", "INFO")
        env = server_env(AGENTMEM_SQLITE_PATH=str(tmp_path / "raw.db"))
        self.process = subprocess.Popen(
            [command, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )
        self.lines: list[bytes] = []
        self.responses: dict[Any, dict[str, Any]] = {}
        self.queue: queue.Queue[bytes] = queue.Queue()
        self.stderr_chunks: list[bytes] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        # Drained all along: a server logging more than a pipe holds would block on it.
        self.stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.stderr_reader.start()

    def send_line(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_line(json.dumps(message).encode())

    def response(self, request_id: int, timeout: float = 30.0) -> dict[str, Any]:
        """Read stdout lines until the response to ``request_id`` (every line must be
        JSON-RPC: nothing else may reach stdout). Responses may arrive in any order, so
        the ones read while waiting for another id are kept for later calls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if request_id in self.responses:
                return self.responses.pop(request_id)
            try:
                line = self.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            assert line, f"server exited: {self.stderr()}"
            self.lines.append(line)
            message = json.loads(line)
            assert message["jsonrpc"] == "2.0"
            if "id" in message:
                self.responses[message["id"]] = dict(message)
        raise AssertionError(f"no response to {request_id} in {timeout}s: {self.stderr()}")

    def _read_stdout(self) -> None:
        # A thread, not select() on the pipe: the buffered reader may already hold the
        # next lines, which select() on the file descriptor would never report.
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self.queue.put(line)
        self.queue.put(b"")

    def initialize(self) -> None:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"},
                },
            }
        )
        assert "result" in self.response(1)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def call_tool(self, request_id: int, name: str, arguments: Any) -> dict[str, Any]:
        self.send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
        )
        return self.response(request_id)

    def wait(self, timeout: float) -> tuple[int, float]:
        started = time.monotonic()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"server did not exit within {timeout}s: {self.stderr()}"
            ) from None
        return code, time.monotonic() - started

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self.stderr_chunks.append(chunk)

    def stderr(self) -> str:
        if self.process.poll() is not None:
            self.stderr_reader.join(timeout=5)
        text = b"".join(self.stderr_chunks).decode(errors="replace")[-4000:]
        return text if self.process.poll() is not None else f"(still running) {text}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def raw(tmp_path: Path) -> Any:
    servers: list[RawServer] = []

    def start(*args: str) -> RawServer:
        servers.append(RawServer(tmp_path, *args))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_garbage_on_stdin_does_not_stop_the_server(raw: Any) -> None:
    server = raw()
    server.initialize()
    for line in [
        b"this is not json",
        b"{}",
        b"[1, 2, 3]",
        b'{"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}',
        # Not a JSON-RPC message (params must be structured): dropped by the SDK.
        b'{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": "wrong"}',
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": 5}}',
        b"\xff\xfe\x00 binary junk",
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "add_memory", '
        b'"arguments": {"content": "' + b"x" * 2_000_000 + b'"}}}',
        # Nested deeper than the SDK's JSON parser accepts: dropped, like any unparsable line.
        b'{"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "save_skill", '
        b'"arguments": {"skill_name": "s", "description": "d", "action_sequence": ['
        + b'{"a":' * 100_000
        + b"1"
        + b"}" * 100_000
        + b"]}}}",
    ]:
        server.send_line(line)
    assert "error" in server.response(5)
    assert "error" in server.response(9)
    too_big = server.response(7)["result"]
    assert too_big["isError"] is True
    assert "at most 100000 characters" in too_big["content"][0]["text"]
    ok = server.call_tool(8, "add_memory", {"content": "after the garbage"})["result"]
    assert ok["isError"] is False and ok["structuredContent"]["content"] == "after the garbage"
    assert server.process.poll() is None


@pytest.mark.parametrize("how", ["stdin EOF", "SIGTERM", "SIGINT"])
def test_clean_shutdown(raw: Any, how: str) -> None:
    """The server leaves promptly and closes the store, also while the client keeps the
    pipe open (SIGTERM/SIGINT)."""
    server = raw()
    server.initialize()
    assert (
        server.call_tool(2, "add_memory", {"content": "before exit"})["result"]["isError"] is False
    )
    if how == "stdin EOF":
        assert server.process.stdin is not None
        server.process.stdin.close()
    else:
        server.process.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
    code, took = server.wait(15)
    log = server.stderr()
    assert code == 0, log
    assert "agentmem MCP server stopped" in log
    assert "Traceback" not in log
    print(f"\nshutdown on {how}: {took * 1000:.0f} ms")


def test_bad_configuration_exits_2_with_a_message(tmp_path: Path) -> None:
    command, argv = server_command("--backend", "no-such-backend")
    result = subprocess.run(
        [command, *argv],
        input=b"",
        capture_output=True,
        env=server_env(AGENTMEM_SQLITE_PATH=str(tmp_path / "x.db")),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"unknown memory backend 'no-such-backend'" in result.stderr
    assert b"Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@aio
async def test_streamable_http(tmp_path: Path) -> None:
    port = _free_port()
    command, argv = server_command(
        "--transport",
        "streamable-http",
        "--port",
        str(port),
        "--namespace",
        new_namespace(),
        "--log-level",
        "INFO",
    )
    process = subprocess.Popen(
        [command, *argv],
        env=server_env(AGENTMEM_SQLITE_PATH=str(tmp_path / "http.db")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "HTTP server did not start"
                time.sleep(0.1)
        async with Client(f"http://127.0.0.1:{port}/mcp", cache=None) as client:
            added = await call(client, "add_memory", {"content": "over http"})
            found = await call(client, "search_memory", {"query": "http"})
            assert [h["id"] for h in found["hits"]] == [added["id"]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        log = process.stderr.read().decode()  # type: ignore[union-attr]
        assert "agentmem MCP server stopped" in log and "Traceback" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
