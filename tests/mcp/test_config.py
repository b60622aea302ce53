"""Configuration: flags over the library's variables, per-process fallback files, and
``agentmem mcp`` without the distribution installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentmem_mcp.config import ServerConfig, claim_fallback_slot, config_from_args
from tests.mcp.support import server_env


def test_flags_win_over_the_environment() -> None:
    env = {
        "AGENTMEM_AGENT_ID": "env-agent",
        "AGENTMEM_NAMESPACE": "env-ns",
        "AGENTMEM_MCP_TRANSPORT": "streamable-http",
        "AGENTMEM_MCP_LOG_LEVEL": "INFO",
    }
    from_env = config_from_args([], environ=env)
    assert (from_env.agent_id, from_env.namespace) == ("env-agent", "env-ns")
    assert from_env.transport == "streamable-http" and from_env.log_level == "INFO"
    flags = config_from_args(
        [
            "--agent-id",
            "flag-agent",
            "--namespace",
            "flag-ns",
            "--transport",
            "stdio",
            "--backend",
            "redis",
            "--redis-host",
            "cache.internal",
            "--redis-port",
            "6380",
            "--redis-db",
            "2",
            "--sqlite-path",
            "/tmp/x.db",
            "--max-content-chars",
            "500",
            "--tool-timeout",
            "2.5",
            "--resource-kinds",
            "memory, skill",
        ],
        environ=env,
    )
    assert flags == ServerConfig(
        backend="redis",
        sqlite_path="/tmp/x.db",
        redis_host="cache.internal",
        redis_port=6380,
        redis_db=2,
        agent_id="flag-agent",
        namespace="flag-ns",
        transport="stdio",
        max_content_chars=500,
        tool_timeout=2.5,
        resource_kinds=("memory", "skill"),
        log_level="INFO",
    )
    defaults = config_from_args([], environ={})
    assert (defaults.agent_id, defaults.namespace, defaults.transport) == ("mcp", "shared", "stdio")


@pytest.mark.parametrize(
    "argv",
    [["--transport", "carrier-pigeon"], ["--max-content-chars", "0"], ["--tool-timeout", "-1"]],
)
def test_bad_flags_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        config_from_args(argv, environ={})
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        (ServerConfig(backend="redis"), {}, True),
        (ServerConfig(), {"MEMORY_BACKEND": "redis"}, True),
        (ServerConfig(backend="redis", sqlite_path="/x.db"), {}, False),
        (ServerConfig(), {"MEMORY_BACKEND": "redis", "AGENTMEM_SQLITE_PATH": "/x.db"}, False),
        (ServerConfig(), {"MEMORY_BACKEND": "redis", "AGENTMEM_URL": "redis://h"}, False),
        (ServerConfig(backend="redis", url="failover://?x"), {}, False),
        (ServerConfig(), {}, False),
        (ServerConfig(backend="sqlite"), {"MEMORY_BACKEND": "redis"}, False),
    ],
)
def test_when_a_process_gets_its_own_fallback_file(
    config: ServerConfig, env: dict[str, str], expected: bool
) -> None:
    assert config.uses_redis_with_fallback(env) is expected


def test_fallback_slots_are_per_process_and_reused(tmp_path: Path) -> None:
    first = claim_fallback_slot(tmp_path)
    second = claim_fallback_slot(tmp_path)
    assert (first.index, second.index) == (0, 1)
    assert first.path == tmp_path / "fallback-0.db"
    first.release()
    again = claim_fallback_slot(tmp_path)
    assert again.index == 0
    again.release()
    second.release()

    # Another process holding slot 0; once it is killed (-9), slot 0 is free again.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from agentmem_mcp.config import claim_fallback_slot; "
            f"slot = claim_fallback_slot(Path({str(tmp_path)!r})); print(slot.index, flush=True); "
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
        mine = claim_fallback_slot(tmp_path)
        assert mine.index == 1
        mine.release()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while (slot := claim_fallback_slot(tmp_path)).index != 0:
            slot.release()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        slot.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_default_fallback_folder_follows_xdg_data_home(tmp_path: Path) -> None:
    slot = claim_fallback_slot(environ={"XDG_DATA_HOME": str(tmp_path)})
    try:
        assert slot.path == tmp_path / "agentmem" / "mcp" / "fallback-0.db"
    finally:
        slot.release()


def test_agentmem_mcp_without_the_distribution() -> None:
    """The core command names the package to install (exit 2), and imports nothing of
    it unless asked for ``mcp``."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'agentmem_mcp' or name.startswith('agentmem_mcp.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from agentmem.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "assert 'agentmem_mcp' not in sys.modules and 'mcp' not in sys.modules\n"
        "sys.exit(code)\n"
    )
    env = server_env()
    result = subprocess.run(
        [sys.executable, "-c", blocker, "mcp", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install agentmem-mcp" in result.stderr
    assert result.stdout == ""
    backends = subprocess.run(
        [sys.executable, "-c", blocker, "backends"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert backends.returncode == 0, backends.stderr


def test_agentmem_mcp_help_lists_the_servers_flags() -> None:
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "agentmem"), "mcp", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: agentmem mcp")
    for flag in ("--backend", "--url", "--agent-id", "--namespace", "--transport", "--redis-host"):
        assert flag in result.stdout
