"""One module per subcommand. Each defines ``NAME``, ``HELP``, ``configure(parser)``
(its arguments) and ``async run(args) -> int`` (its exit status)."""

from __future__ import annotations

from types import ModuleType

from agentmem.cli.commands import (
    backends,
    demo,
    doctor,
    export,
    import_,
    migrate,
    reindex,
    search,
    stats,
    watch,
)

__all__ = ["COMMANDS"]

COMMANDS: tuple[ModuleType, ...] = (
    demo,
    backends,
    stats,
    search,
    export,
    import_,
    migrate,
    reindex,
    watch,
    doctor,
)
"""In the order ``agentmem --help`` lists them (``mcp`` is dispatched before parsing)."""
