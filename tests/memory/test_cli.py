"""The agentmem command: demo on the SQLite default, and backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentmem.cli import main
from tests.memory.test_scenario import EXPECTED


def test_demo_runs_on_the_sqlite_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("MEMORY_BACKEND", "AGENTMEM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTMEM_SQLITE_PATH", str(tmp_path / "demo.db"))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"agentmem demo on sqlite://{tmp_path}/demo.db")
    assert out[1] == "redis in use: False"
    assert out[2:-1] == EXPECTED
    assert out[-1] == "demo records removed (use --keep to keep them)"
    assert (tmp_path / "demo.db").exists()


def test_demo_reports_configuration_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--backend", "mongo"]) == 2
    assert "unknown memory backend 'mongo'" in capsys.readouterr().err


def test_backends_lists_schemes_with_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:3] for line in lines}
    assert rows["memory"] == ["agentmem", "0.1.0"]
    assert rows["sqlite"] == ["agentmem-sqlite", "0.1.0"]
