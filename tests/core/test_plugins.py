"""Backend discovery: open_store(), entry points, broken and clashing plugins, third parties.

Plugins are installed the way an installer lays a wheel down: the package plus a
``NAME-VERSION.dist-info`` directory (METADATA, entry_points.txt, RECORD, ...) in a site
directory, which ``importlib.metadata`` then finds on ``sys.path`` (in-process tests) or
on ``PYTHONPATH`` (subprocess tests, for a third party's view from outside this repo).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentmem
from agentmem import ConfigurationError, Record, Ref, open_store
from agentmem.plugins import backends, plugin_failures, register_plugin, reset_plugins
from agentmem.testing import StoreContractTests

aio = pytest.mark.asyncio


def install_distribution(
    site: Path,
    name: str,
    version: str,
    modules: dict[str, str],
    entry_points: dict[str, str],
) -> None:
    """Lay down ``modules`` and a ``.dist-info`` exactly as pip or uv would install a wheel.

    ``modules`` maps a relative file path to its source; ``entry_points`` maps an entry
    point name in the ``agentmem.backends`` group to its module.
    """
    site.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    eps = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    files = {
        **{path: textwrap.dedent(source) for path, source in modules.items()},
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.3\nName: {name}\nVersion: {version}\n"
            "Summary: an agentmem backend installed by the tests\nRequires-Dist: agentmem\n"
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: agentmem-tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[agentmem.backends]\n{eps}",
        f"{dist_info}/INSTALLER": "agentmem-tests\n",
    }
    record_lines = []
    for path, text in files.items():
        data = text.encode()
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}\n")
    record_lines.append(f"{dist_info}/RECORD,,\n")
    (site / dist_info / "RECORD").write_text("".join(record_lines))


def plugin_module(scheme: str, *, override: bool = False, description: str = "") -> str:
    """Source of a plugin module registering the memory store under ``scheme``."""
    return f"""
        from typing import Any

        import agentmem
        from agentmem.inmemory import InMemoryStore


        async def open_it(url: str, **options: Any) -> InMemoryStore:
            return InMemoryStore(**options)


        @agentmem.hookimpl
        def register_backends(register):
            register({scheme!r}, open_it, description={description!r}, override={override!r})
        """


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site directory on sys.path; plugins are rediscovered before and after the test."""
    path = tmp_path / "site-packages"
    path.mkdir()
    monkeypatch.syspath_prepend(path)
    before = set(sys.modules)
    reset_plugins()
    yield path
    reset_plugins()
    for module in set(sys.modules) - before:
        if module.startswith("plugtest_"):
            del sys.modules[module]


def only_plugins(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Load only these entry points (hides whatever backends this environment has)."""
    monkeypatch.setenv("AGENTMEM_PLUGINS", ",".join(names))
    reset_plugins()


# -- opening built-in and missing schemes -------------------------------------------------


@aio
async def test_open_memory_store() -> None:
    async with await open_store("memory://") as store:
        ref = Ref("skill", "ns", "a")
        await store.put(Record(ref=ref, text="hello"))
        got = await store.get(ref)
        assert got is not None and got.version == 1
        assert store.url == "memory://"


@aio
@pytest.mark.parametrize(
    ("url", "distribution"),
    [
        ("redis://localhost:6379/0", "agentmem-redis"),
        ("rediss://localhost:6380", "agentmem-redis"),
        ("redis+cluster://localhost:7000", "agentmem-redis"),
        ("unix:///run/redis.sock", "agentmem-redis"),
        ("sqlite:///tmp/agentmem.db", "agentmem-sqlite"),
    ],
)
async def test_missing_backend_names_the_distribution_to_install(
    site: Path, monkeypatch: pytest.MonkeyPatch, url: str, distribution: str
) -> None:
    only_plugins(monkeypatch)  # as if agentmem-redis and agentmem-sqlite were not installed
    with pytest.raises(ConfigurationError, match=f"pip install {distribution}") as info:
        await open_store(url)
    assert "memory" in str(info.value)  # lists what is available


@aio
async def test_unknown_scheme_lists_available_backends(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_plugins(monkeypatch)
    with pytest.raises(ConfigurationError, match="'nosuch'") as info:
        await open_store("nosuch://host")
    message = str(info.value)
    assert "failover, memory, tiered" in message
    assert "Install the distribution that provides it" in message


@aio
@pytest.mark.parametrize(
    "url", ["localhost:6379", "/tmp/agentmem.db", "agentmem.db", "", "memory:", 42]
)
async def test_url_without_scheme_is_a_configuration_error(url: object) -> None:
    with pytest.raises(ConfigurationError, match=r"scheme|must be a str"):
        await open_store(url)  # type: ignore[arg-type]


# -- broken and clashing plugins ---------------------------------------------------------

BROKEN = """
    raise ImportError("libfrobnicate.so.3: cannot open shared object file")
    """


@aio
async def test_plugin_that_fails_to_import_is_named_with_its_error(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site, "broken-store", "2.0", {"plugtest_broken.py": BROKEN}, {"broken": "plugtest_broken"}
    )
    only_plugins(monkeypatch, "broken")
    with pytest.raises(ConfigurationError) as info:
        await open_store("broken://somewhere")
    message = str(info.value)
    assert "broken-store" in message
    assert "libfrobnicate.so.3" in message
    assert [(f.entry_point, f.distribution) for f in plugin_failures()] == [
        ("broken", "broken-store")
    ]
    # The other backends still open.
    async with await open_store("memory://"):
        pass


@aio
async def test_broken_known_backend_says_to_fix_it_not_to_install_it(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site,
        "agentmem-sqlite",
        "0.0.1",
        {"plugtest_fake_sqlite.py": BROKEN},
        {"plugtest_sqlite": "plugtest_fake_sqlite"},
    )
    only_plugins(monkeypatch, "plugtest_sqlite")
    with pytest.raises(ConfigurationError) as info:
        await open_store("sqlite:///tmp/agentmem.db")
    message = str(info.value)
    assert "agentmem-sqlite failed to import" in message
    assert "libfrobnicate.so.3" in message
    assert "Reinstall or fix" in message
    assert "pip install" not in message


def test_two_plugins_claiming_one_scheme_is_a_configuration_error(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site,
        "dup-one",
        "1.0",
        {"plugtest_dup_one.py": plugin_module("dup")},
        {"one": "plugtest_dup_one"},
    )
    install_distribution(
        site,
        "dup-two",
        "1.0",
        {"plugtest_dup_two.py": plugin_module("dup")},
        {"two": "plugtest_dup_two"},
    )
    only_plugins(monkeypatch, "one", "two")
    with pytest.raises(ConfigurationError, match="'dup'") as info:
        backends()
    assert "dup-one" in str(info.value) and "dup-two" in str(info.value)
    assert "override=True" in str(info.value)


def test_claiming_a_builtin_scheme_needs_override(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site,
        "memory-shadow",
        "1.0",
        {"plugtest_shadow.py": plugin_module("memory")},
        {"shadow": "plugtest_shadow"},
    )
    only_plugins(monkeypatch, "shadow")
    with pytest.raises(ConfigurationError, match=r"'memory'.*agentmem.*memory-shadow"):
        backends()


@aio
async def test_override_replaces_a_scheme_on_purpose(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site,
        "memory-plus",
        "2.5",
        {"plugtest_plus.py": plugin_module("memory", override=True, description="better")},
        {"plus": "plugtest_plus"},
    )
    only_plugins(monkeypatch, "plus")
    info = backends()["memory"]
    assert (info.distribution, info.version, info.description) == ("memory-plus", "2.5", "better")
    async with await open_store("memory://") as store:
        assert type(store).__name__ == "InMemoryStore"


def test_in_process_plugin_clash_and_override(site: Path) -> None:
    calls: list[str] = []

    async def opener(url: str, **options: object) -> agentmem.MemoryStore:
        raise AssertionError("never opened")

    class Clashing:
        @agentmem.hookimpl
        def register_backends(self, register: object) -> None:
            calls.append("clash")
            register("memory", opener)  # type: ignore[operator]

    class Overriding:
        @agentmem.hookimpl
        def register_backends(self, register: object) -> None:
            calls.append("override")
            register("memory", opener, description="mine", override=True)  # type: ignore[operator]

    with pytest.raises(ConfigurationError, match="'memory'"):
        register_plugin(Clashing(), name="clashing")
    reset_plugins()
    register_plugin(Overriding(), name="overriding")
    info = backends()["memory"]
    assert (info.distribution, info.description, info.plugin) == (
        "in-process",
        "mine",
        "overriding",
    )
    assert calls == ["clash", "override"]


def test_backends_lists_schemes_with_distribution_and_version(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_distribution(
        site,
        "listed-store",
        "3.1.4",
        {"plugtest_listed/__init__.py": plugin_module("listed", description="a listed store")},
        {"listed": "plugtest_listed"},
    )
    only_plugins(monkeypatch, "listed")
    found = backends()
    assert {"memory", "tiered", "failover", "listed"} <= set(found)
    agentmem_version = importlib.metadata.version("agentmem")
    for scheme in ("memory", "tiered", "failover"):
        assert (found[scheme].distribution, found[scheme].version) == ("agentmem", agentmem_version)
        assert found[scheme].description
    listed = found["listed"]
    assert (listed.scheme, listed.distribution, listed.version) == (
        "listed",
        "listed-store",
        "3.1.4",
    )
    assert (listed.plugin, listed.description) == ("listed", "a listed store")
    assert found["memory"].plugin == "agentmem.inmemory"


def test_scheme_lookup_is_case_insensitive(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_distribution(
        site,
        "upper-store",
        "1.0",
        {"plugtest_upper.py": plugin_module("UpperCase")},
        {"up": "plugtest_upper"},
    )
    only_plugins(monkeypatch, "up")
    assert "uppercase" in backends()


# -- a third party, seen from outside this repository --------------------------------------

THIRDPARTY_PACKAGE = '''
    """A third-party agentmem backend: the reference store under its own URL scheme."""

    from __future__ import annotations

    from typing import Any

    import agentmem
    from agentmem.hookspecs import BackendRegistrar
    from agentmem.inmemory import InMemoryStore


    class ThirdPartyStore(InMemoryStore):
        @property
        def url(self) -> str:
            return "thirdparty://"


    async def open_thirdparty(url: str, **options: Any) -> ThirdPartyStore:
        return ThirdPartyStore(**options)


    @agentmem.hookimpl
    def register_backends(register: BackendRegistrar) -> None:
        register("thirdparty", open_thirdparty, description="a third party's store")
    '''

THIRDPARTY_SCRIPT = """
    import asyncio

    import agentmem
    import agentmem.plugins


    async def main() -> None:
        async with await agentmem.open_store("thirdparty://") as store:
            assert type(store).__module__ == "thirdparty_store", type(store)
            ref = agentmem.Ref("skill", "shared", "deploy")
            await store.put(agentmem.Record(ref=ref, text="deploy the app"))
            hits = await store.search("skill", "shared", "deploy")
            assert [hit.ref for hit in hits] == [ref], hits


    asyncio.run(main())
    info = agentmem.plugins.backends()["thirdparty"]
    print("backend", info.scheme, info.distribution, info.version, info.plugin)
    """

THIRDPARTY_CONTRACT = """
    from agentmem import open_store
    from agentmem.testing import StateMachineSettings, StoreContractTests


    class TestThirdPartyStore(StoreContractTests):
        state_machine_settings = StateMachineSettings(
            max_examples=20, step_count=12, watch_timeout=2.0
        )

        async def make_store(self, clock):
            store = await open_store("thirdparty://", clock=clock)
            assert type(store).__name__ == "ThirdPartyStore"
            return store
    """


@pytest.fixture(scope="module")
def thirdparty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site dir holding only the installed ``thirdparty-store`` 1.0 distribution."""
    site = tmp_path_factory.mktemp("thirdparty") / "site-packages"
    install_distribution(
        site,
        "thirdparty-store",
        "1.0",
        {"thirdparty_store/__init__.py": THIRDPARTY_PACKAGE, "thirdparty_store/py.typed": ""},
        {"thirdparty": "thirdparty_store"},
    )
    return site


def run_python(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``site`` on PYTHONPATH, as a user's environment would."""
    env = {k: v for k, v in os.environ.items() if k not in ("AGENTMEM_PLUGINS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_thirdparty_distribution_opens_through_open_store(
    thirdparty_site: Path, tmp_path: Path
) -> None:
    script = tmp_path / "use_thirdparty.py"
    script.write_text(textwrap.dedent(THIRDPARTY_SCRIPT))
    result = run_python([str(script)], thirdparty_site, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split("\n")[-2] == (
        "backend thirdparty thirdparty-store 1.0 thirdparty"
    ), result.stdout


def test_thirdparty_store_passes_the_contract_suite(thirdparty_site: Path, tmp_path: Path) -> None:
    test_file = tmp_path / "test_thirdparty_contract.py"
    test_file.write_text(textwrap.dedent(THIRDPARTY_CONTRACT))
    result = run_python(
        [
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(test_file),
        ],
        thirdparty_site,
        tmp_path,
    )
    output = result.stdout + result.stderr
    outcomes = pytest.RunResult.parse_summary_nouns(result.stdout.splitlines())
    assert result.returncode == 0, output[-5000:]
    assert set(outcomes) <= {"passed", "warnings"}, output[-5000:]
    contract_tests = [name for name in dir(StoreContractTests) if name.startswith("test_")]
    assert outcomes["passed"] >= len(contract_tests), output[-5000:]
