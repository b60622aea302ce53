"""The ``agentmem`` command: one small module per subcommand in :mod:`agentmem.cli.commands`.

- ``agentmem demo``: run the README scenario and print what happened.
- ``agentmem backends``: the URL schemes that can be opened, and by which distribution.
- ``agentmem stats`` / ``search`` / ``export`` / ``import``: read and copy a store.
- ``agentmem migrate SRC DST``: copy every kind from one store to another, versions kept,
  resumable after an interruption.
- ``agentmem watch``: tail the change feed, resumable from the cursor printed per event.
- ``agentmem doctor``: check a store's server and files; exit 1 when something is wrong.
- ``agentmem mcp [FLAGS]``: the MCP server of the separate ``agentmem-mcp`` distribution.

docs/cli.md is the user's guide. Errors agentmem raises on purpose print one line on stderr
and exit with status 2, like argparse's usage errors.
"""

from __future__ import annotations

from agentmem.cli.app import main

__all__ = ["main"]
