"""``python -m agentmem.cli``: the ``agentmem`` command without its console script."""

from __future__ import annotations

import sys

from agentmem.cli.app import main

sys.exit(main())
