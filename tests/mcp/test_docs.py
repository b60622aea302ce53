"""The documentation says what the server does: its JSON snippets parse, its tools table
matches the tools and their annotations."""

from __future__ import annotations

import json
import re

import pytest

from agentmem_mcp import MemoryServer, ServerConfig
from tests.mcp.support import REPO, connect
from tests.mcp.test_tools import EXPECTED_ANNOTATIONS


@pytest.mark.parametrize("document", ["README.md", "docs/mcp.md"])
def test_client_configuration_snippets(document: str) -> None:
    text = (REPO / document).read_text()
    snippets = re.findall(r"```json\n(.*?)```", text, re.S)
    assert snippets
    for snippet in snippets:
        server = json.loads(snippet)["mcpServers"]["agentmem"]
        assert server["command"] == "agentmem-mcp"
        assert all(isinstance(v, str) for v in server.get("env", {}).values())


@pytest.mark.asyncio
async def test_tools_table_matches_the_server() -> None:
    text = (REPO / "docs/mcp.md").read_text()
    rows = re.findall(
        r"^\| `(\w+)\((.*?)\)` \| .*? \| (yes|no) \| (yes|no) \| (yes|no) \|$", text, re.M
    )
    documented = {name: tuple(flag == "yes" for flag in flags) for name, _, *flags in rows}
    assert documented == EXPECTED_ANNOTATIONS
    async with MemoryServer(ServerConfig(backend="memory")) as server, connect(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name, arguments, *_ in rows:
        schema = tools[name].input_schema
        listed = [a.strip().rstrip("?") for a in arguments.split(",") if a.strip()]
        assert listed == list(schema["properties"]), name
        required = [
            a.strip() for a in arguments.split(",") if a.strip() and not a.strip().endswith("?")
        ]
        assert sorted(required) == sorted(schema.get("required", [])), name
