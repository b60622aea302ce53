"""An agent killed with a non-empty outbox finds it again, whatever the URL spelling and
whether Redis is up or down when it restarts; no password shows anywhere (issue 9, items
2, 7 and 8). Real redis-server processes, real subprocess agents killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from agentmem import open_store
from agentmem.errors import ConfigurationError
from agentmem.memory.status import BackendStatus
from agentmem.routing import FailoverStore, RoutingState, failover_url
from agentmem.routing.journal import journal_name, store_identity
from agentmem.routing.redact import redact_text, redact_url
from agentmem.store import Record, Ref
from tests.support.redis_servers import RedisServer

pytestmark = pytest.mark.asyncio

PASSWORD = "Zq7-s3cret-pw"
REPO = Path(__file__).resolve().parents[2]
WRITES = 40

SPELLINGS = {
    "userinfo-no-db": "redis://:{pw}@127.0.0.1:{port}",
    "userinfo-db-prefix": "redis://:{pw}@127.0.0.1:{port}/0?prefix=app",
    "query-db": "redis://127.0.0.1:{port}/0?password={pw}",
    "query-no-db-prefix": "redis://127.0.0.1:{port}?password={pw}&prefix=app",
}


async def test_redaction_covers_every_url_form() -> None:
    for form in (
        f"redis://:{PASSWORD}@h:1/0",
        f"redis://{PASSWORD}@h:1/0",
        f"redis://user:{PASSWORD}@h:1/0",
        f"redis://h:1/0?password={PASSWORD}&prefix=x",
        failover_url(f"redis://h:1?password={PASSWORD}", "sqlite:///x.db"),
        f"redis+cluster://h:1,h:2?password={PASSWORD}",
    ):
        assert PASSWORD not in redact_url(form), form
        assert PASSWORD not in journal_name(form), form
        assert PASSWORD not in redact_text(f"cannot reach {form} now"), form
    # Client-side tuning does not change the identity; data-selecting options do.
    a = store_identity("redis://h:1/0?prefix=p&socket_timeout=1")
    assert a == store_identity(f"redis://:{PASSWORD}@H:1/0/?prefix=p&max_connections=5")
    assert a != store_identity("redis://h:1/0?prefix=q")
    # Default port and database spelled out or left implicit: one store, one journal.
    same = {store_identity(u) for u in ("redis://h", "redis://h:6379", "redis://H:6379/0/")}
    assert same == {"redis://h:6379/0"}
    assert store_identity("redis://h/1") != store_identity("redis://h/0")


def _spawn(url: str, namespace: str, *, wait_for_go: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.routing.outbox_worker",
            url,
            namespace,
            str(WRITES),
            "1" if wait_for_go else "0",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _agent_killed_with_outbox(url: str, namespace: str, server: RedisServer, up: bool) -> bytes:
    """Run a subprocess agent (Redis ``up`` at its open, then stopped) until kill -9."""
    proc = _spawn(url, namespace, wait_for_go=up)
    assert proc.stdout is not None and proc.stdin is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == b"OPEN"
    if up:
        server.kill()
        proc.stdin.write(b"GO\n")
        proc.stdin.flush()
    acked = proc.stdout.readline().strip()
    proc.wait(30)
    stderr = proc.stderr.read()
    assert acked == f"ACKED {WRITES}".encode(), stderr.decode(errors="replace")[-2000:]
    assert proc.returncode == -9
    return stderr


def _assert_no_secret(where: str, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    assert PASSWORD.encode() not in raw, f"password found in {where}"


@pytest.mark.parametrize("up_first", [True, False], ids=["up-then-down", "down-then-up"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
async def test_agent_killed_with_outbox_restarts_in_the_other_state_and_loses_nothing(
    redis_server_factory: type[RedisServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    spelling: str,
    up_first: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="agentmem")
    server = redis_server_factory(password=PASSWORD)
    primary = SPELLINGS[spelling].format(pw=PASSWORD, port=server.port)
    fallback = tmp_path / "agent.db"
    url = failover_url(
        primary, f"sqlite://{fallback}", probe_initial=0.02, probe_max=0.3, call_timeout=0.5
    )
    if up_first:
        server.start()
    stderr = _agent_killed_with_outbox(url, spelling, server, up=up_first)
    if up_first:  # killed while Redis was down: restart the agent with Redis still down
        store = await open_store(url, origin="again")
        assert isinstance(store, FailoverStore)
        await store.ping()
        assert store.stats.pending == WRITES
        server.start()
    else:  # killed while Redis was down at its open: restart the agent with Redis up
        server.start()
        store = await open_store(url, origin="again")
        assert isinstance(store, FailoverStore)
    async with store:
        assert await store.wait_until_healthy(within=30)
        assert store.stats.pending == 0
        replayed = store.stats.replayed
        shown = [store.url, BackendStatus(store).description, BackendStatus(store).url]
    async with await open_store(primary) as direct:
        refs = [Ref("episodic", spelling, f"r{i}") for i in range(WRITES)]
        found = sum(r is not None for r in await direct.get_many(refs))
    print(
        f"\n{spelling} {'up->down' if up_first else 'down->up'}: acknowledged {WRITES}, "
        f"replayed after restart {replayed}, found in Redis {found}"
    )
    assert replayed == WRITES
    assert found == WRITES
    for name, text in [
        ("worker log", stderr),
        ("test log", caplog.text),
        *zip("uds", shown, strict=False),
    ]:
        _assert_no_secret(name, text)
    for path in tmp_path.iterdir():
        _assert_no_secret(str(path), path.read_bytes())


async def test_old_journal_names_are_migrated(
    redis_server_factory: type[RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory(password=PASSWORD)
    primary = f"redis://127.0.0.1:{server.port}/0?password={PASSWORD}&prefix=mig"
    fallback_url = f"sqlite://{tmp_path / 'old.db'}"
    # The names earlier releases used: Redis down at open, the URL as given (password in
    # clear); Redis up at open, the URL the opened store reported (query dropped).
    old_names = [f"failover {primary}", f"failover redis://:***@127.0.0.1:{server.port}/0"]
    for n, name in enumerate(old_names):
        async with await open_store(failover_url(primary, fallback_url, journal=name)) as old:
            for i in range(5):
                await old.put(Record(ref=Ref("episodic", "mig", f"m{n}-{i}"), body={"i": i}))
            assert old.stats.pending == 5
    server.start()
    async with await open_store(failover_url(primary, fallback_url, probe_max=0.3)) as store:
        assert isinstance(store, FailoverStore)
        assert await store.wait_until_healthy(within=30)
        assert store.stats.replayed == 10
    async with await open_store(primary) as direct:
        refs = [Ref("episodic", "mig", f"m{n}-{i}") for n in range(2) for i in range(5)]
        assert all(r is not None for r in await direct.get_many(refs))
    # A new run journals under the secret-free name only.
    async with await open_store(failover_url(primary, fallback_url)) as store:
        assert isinstance(store, FailoverStore)
        assert PASSWORD not in store.url
        assert store._journal == journal_name(primary) and PASSWORD not in store._journal


async def test_wrong_password_found_after_a_degraded_open_is_misconfigured_once(
    redis_server_factory: type[RedisServer],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentmem")
    server = redis_server_factory(password=PASSWORD)
    wrong = f"redis://127.0.0.1:{server.port}/0?password=not-{PASSWORD}"
    url = failover_url(wrong, f"sqlite://{tmp_path / 'm.db'}", probe_initial=0.02, probe_max=0.1)
    async with await open_store(url) as store:
        assert isinstance(store, FailoverStore)
        await store.put(Record(ref=Ref("episodic", "m", "before"), text="while down"))
        server.start()
        for _ in range(200):
            if store.state is RoutingState.MISCONFIGURED:
                break
            await asyncio.sleep(0.02)
        assert store.state is RoutingState.MISCONFIGURED
        assert BackendStatus(store).state == "misconfigured"
        await asyncio.sleep(0.5)  # several more probes
        await store.put(Record(ref=Ref("episodic", "m", "after"), text="kept locally"))
        assert await store.get(Ref("episodic", "m", "after")) is not None
        assert store.stats.pending == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is None
    assert "refuses this configuration" in errors[0].getMessage()
    _assert_no_secret("log", caplog.text)
    _assert_no_secret("sqlite", (tmp_path / "m.db").read_bytes())


async def test_no_secret_in_cli_stats_or_exceptions(
    redis_server_factory: type[RedisServer], tmp_path: Path
) -> None:
    server = redis_server_factory(password=PASSWORD)  # not started: down
    for form in (
        f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0",
        f"redis://127.0.0.1:{server.port}/0?password={PASSWORD}",
    ):
        url = failover_url(form, f"sqlite://{tmp_path / 'cli.db'}")
        out = subprocess.run(
            [sys.executable, "-m", "agentmem.cli", "stats", "--url", url],
            cwd=REPO,
            capture_output=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert b"failover://" in out.stdout
        _assert_no_secret("stats output", out.stdout + out.stderr)
        bad = form.replace("/0", "/zero")
        with pytest.raises(ConfigurationError) as caught:
            await open_store(failover_url(bad, f"sqlite://{tmp_path / 'cli.db'}"))
        _assert_no_secret("exception", str(caught.value))
    _assert_no_secret("sqlite", (tmp_path / "cli.db").read_bytes())
