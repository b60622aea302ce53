"""A tiny blocking RESP2 client for fixtures: no redis-cli, no redis-py response callbacks.

Fixtures use it to set up clusters and to ask a server what it is, so they work with any
redis-server/valkey-server binary whatever ``redis-cli`` (if any) is on PATH, and see the
server's replies exactly as sent.
"""

from __future__ import annotations

import socket
from typing import Any


class RespError(Exception):
    """An error reply (``-ERR ...``) from the server."""


Reply = bytes | int | list[Any] | RespError | None


class RespConnection:
    """One socket to 127.0.0.1:``port``; :meth:`call` sends a command and reads its reply."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("rb")

    def call(self, *args: str | bytes | int) -> Reply:
        """Send one command; raise :class:`RespError` for an error reply."""
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        out = [b"*%d\r\n" % len(parts)]
        for part in parts:
            out.append(b"$%d\r\n%s\r\n" % (len(part), part))
        self._sock.sendall(b"".join(out))
        reply = self._read()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def _read(self) -> Reply:
        line = self._file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed in the middle of a reply")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body
        if kind == b"-":
            return RespError(body.decode(errors="replace"))
        if kind == b":":
            return int(body)
        if kind == b"$":
            size = int(body)
            if size < 0:
                return None
            data = self._file.read(size + 2)
            return data[:-2]
        if kind == b"*":
            count = int(body)
            if count < 0:
                return None
            # Nested errors stay values: MULTI/EXEC and COMMAND INFO may mix them in.
            return [self._read() for _ in range(count)]
        raise ConnectionError(f"not a RESP2 reply: {line!r}")

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> RespConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call(port: int, *args: str | bytes | int, timeout: float = 5.0) -> Reply:
    """One command on a fresh connection."""
    with RespConnection(port, timeout=timeout) as conn:
        return conn.call(*args)


def text(reply: object) -> str:
    """A bulk/simple string reply as text."""
    if not isinstance(reply, bytes):
        raise TypeError(f"expected a string reply, got {reply!r}")
    return reply.decode()


__all__ = ["RespConnection", "RespError", "call", "text"]
