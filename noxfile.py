"""Developer and CI sessions. `nox` runs lint, typecheck and every test suite.

nox -s tests            # every backend
nox -s "tests(sqlite)"  # one backend
nox -s soak             # long fault-injection runs (CI runs the short form in tests)
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PACKAGES = ["-e", ".", "-e", "backends/sqlite", "-e", "backends/redis"]
TEST_DEPS = ["pytest>=8", "pytest-asyncio>=0.24", "hypothesis>=6.100"]

# Which tests each backend suite runs: its contract subclass plus its own tests.
SUITES = {
    "memory": ["tests/core"],
    "sqlite": ["tests/sqlite"],
    "redis": ["tests/redis", "-m", "not redis_cluster"],
    "redis-cluster": ["tests/redis", "-m", "redis_cluster"],
    "failover": ["tests/routing"],
    "agent-memory": ["tests/memory"],
}


def _install(session: nox.Session, *extra: str) -> None:
    session.install(*PACKAGES, *TEST_DEPS, *extra)


@nox.session
@nox.parametrize("backend", list(SUITES))
def tests(session: nox.Session, backend: str) -> None:
    """The contract suite and the backend's own tests, against real servers."""
    _install(session)
    session.run("pytest", "-p", "no:cacheprovider", "-q", *SUITES[backend], *session.posargs)


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
    """mypy --strict on the core and every backend."""
    _install(session, "mypy>=1.11")
    session.run(
        "mypy",
        "--strict",
        "src/agentmem",
        "backends/sqlite/src/agentmem_sqlite",
        "backends/redis/src/agentmem_redis",
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not tests): ratios against raw redis-py / sqlite3 in the same run."""
    _install(session)
    session.run("python", "backends/redis/bench/bench_redis.py", *session.posargs)
