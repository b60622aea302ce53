"""The ``agentmem`` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from agentmem.cli_commands import run

    return run(sys.argv[1:] if argv is None else argv)
