"""``python -m agentmem``: the ``agentmem`` command line (see docs/cli.md)."""

from agentmem.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
