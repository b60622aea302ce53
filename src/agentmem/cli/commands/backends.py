"""``agentmem backends``: the URL schemes that can be opened, and plugins that failed."""

from __future__ import annotations

import argparse
import sys

from agentmem.cli.common import add_json_option
from agentmem.cli.output import print_json

NAME = "backends"
HELP = "list the installed backends"
PARENTS = ()


def configure(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)


async def run(args: argparse.Namespace) -> int:
    from agentmem.plugins import backends, plugin_failures

    found = sorted(backends().items())
    failures = plugin_failures()
    if args.json:
        print_json(
            {
                "backends": [
                    {
                        "scheme": scheme,
                        "distribution": info.distribution,
                        "version": info.version,
                        "description": info.description,
                    }
                    for scheme, info in found
                ],
                "failures": [
                    {
                        "entry_point": str(f.entry_point),
                        "distribution": f.distribution,
                        "error": repr(f.error),
                    }
                    for f in failures
                ],
            }
        )
        return 0
    width = max((len(scheme) for scheme, _ in found), default=6)
    for scheme, info in found:
        print(f"{scheme:<{width}}  {info.distribution} {info.version}  {info.description}")
    for failure in failures:
        print(
            f"failed: {failure.entry_point} from {failure.distribution}: {failure.error!r}",
            file=sys.stderr,
        )
    return 0
