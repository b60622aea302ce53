"""``agentmem doctor``: check a store; exit 1 when something is wrong, 0 otherwise."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from agentmem.cli.common import EXIT_PROBLEMS, add_json_option, store_options, store_url
from agentmem.cli.diagnose import diagnose
from agentmem.cli.output import print_json
from agentmem.cli.urls import display_url

NAME = "doctor"
HELP = "check the store's server, files and routing; exit 1 when something is wrong"
PARENTS = (store_options,)

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def configure(parser: argparse.ArgumentParser) -> None:
    add_json_option(parser)
    parser.add_argument(
        "--delete-corrupt",
        action="store_true",
        help="delete the records that fail to decode (each is checked again first)",
    )


async def run(args: argparse.Namespace) -> int:
    url = store_url(args)
    findings = await diagnose(url, delete_corrupt=args.delete_corrupt)
    healthy = not any(f.status == "fail" for f in findings)
    if args.json:
        print_json(
            {"url": display_url(url), "ok": healthy, "checks": [asdict(f) for f in findings]}
        )
    else:
        shown = display_url(url)
        print(shown)
        # Name the store a finding is about only when it is an inner one (a primary...).
        top = {shown} | {f.where for f in findings if f.check in ("reachable", "open")}
        for f in findings:
            where = f"  [{f.where}]" if f.where and f.where not in top else ""
            print(f"{_MARK[f.status]}  {f.check}: {f.detail}{where}")
        problems = sum(f.status == "fail" for f in findings)
        print("no problems found" if healthy else f"{problems} problem(s) found")
    return 0 if healthy else EXIT_PROBLEMS
