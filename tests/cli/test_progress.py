"""Progress bars go to stderr only when stderr is a terminal (a real pty here)."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from agentmem.memory.factory import sqlite_url
from tests.cli.support import AGENTMEM, cli_env, put, records, run_cli


def _run_with_terminal_stderr(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run with stderr on a pty (stdout to a file); return status, stdout, terminal text."""
    master, slave = pty.openpty()
    out_path = tmp_path / "stdout.txt"
    with open(out_path, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [AGENTMEM, *args], stdout=out, stderr=slave, env=cli_env(tmp_path), cwd=tmp_path
        )
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer of the pty has closed it
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    status = process.wait(timeout=60)
    return status, out_path.read_text(encoding="utf-8"), screen.decode("utf-8", "replace")


def test_export_and_import_draw_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "m.db")
    put(url, records("episodic", "shared", 1200))

    status, out, screen = _run_with_terminal_stderr(
        tmp_path, "export", "--kind", "episodic", "--url", url
    )
    assert status == 0
    assert len(out.splitlines()) == 1200  # the data is untouched by the bar
    assert "export" in screen and "1200/1200" in screen
    assert "rec/s" in screen and "eta" in screen

    (tmp_path / "ep.jsonl").write_text(out, encoding="utf-8")
    target = sqlite_url(tmp_path / "t.db")
    status, out, screen = _run_with_terminal_stderr(tmp_path, "import", "ep.jsonl", "--url", target)
    assert status == 0 and out == "imported 1200 of 1200 records (0 already as new or newer)\n"
    assert "import" in screen and "1200/1200" in screen and "rec/s" in screen

    # The same commands with stderr on a pipe: not a trace of a bar.
    piped = run_cli(tmp_path, "export", "--kind", "episodic", "--url", url)
    assert piped.stderr == "exported 1200 records to stdout\n"
    piped = run_cli(tmp_path, "import", "ep.jsonl", "--url", target)
    assert piped.stderr == ""
