"""``python -m agentmem_mcp``: the same as the ``agentmem-mcp`` command."""

import sys

from agentmem_mcp.cli import main

sys.exit(main())
