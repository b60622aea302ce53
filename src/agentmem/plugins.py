"""Backend discovery: pluggy hooks, the ``agentmem.backends`` entry points, open_store().

Built-in plugins (:data:`DEFAULT_PLUGINS`) register through the very same hook as third
parties. Set ``AGENTMEM_PLUGINS`` to a comma-separated list of entry-point names to load
only those third-party plugins (an empty value loads none).
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import pluggy

from agentmem import hookspecs
from agentmem.errors import ConfigurationError

if TYPE_CHECKING:
    from agentmem.hookspecs import BackendOpener
    from agentmem.store import MemoryStore

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "BackendInfo",
    "PluginFailure",
    "backends",
    "get_plugin_manager",
    "open_store",
    "plugin_failures",
    "reset_plugins",
]

log = logging.getLogger("agentmem.plugins")

ENTRY_POINT_GROUP: Final = "agentmem.backends"
DEFAULT_PLUGINS: Final = ("agentmem.inmemory", "agentmem.routing.plugin")
# Where to send users whose URL names a scheme that none of the loaded plugins handles.
KNOWN_DISTRIBUTIONS: Final = {
    "sqlite": "agentmem-sqlite",
    "redis": "agentmem-redis",
    "rediss": "agentmem-redis",
    "unix": "agentmem-redis",
    "redis+cluster": "agentmem-redis",
    "rediss+cluster": "agentmem-redis",
}


@dataclass(frozen=True, slots=True)
class BackendInfo:
    """One URL scheme and who handles it."""

    scheme: str
    opener: BackendOpener
    plugin: str
    distribution: str
    version: str
    description: str


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that was found but could not be loaded."""

    entry_point: str
    distribution: str
    error: BaseException


class _Registry:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("agentmem")
        self.pm.add_hookspecs(hookspecs)
        self.backends: dict[str, BackendInfo] = {}
        self.failures: list[PluginFailure] = []
        self._sources: dict[str, tuple[str, str]] = {}
        for name in DEFAULT_PLUGINS:
            module = importlib.import_module(name)
            self.pm.register(module, name=name)
            self._sources[name] = ("agentmem", _version("agentmem"))
        self._load_entry_points()
        for impl in self.pm.hook.register_backends.get_hookimpls():
            distribution, version = self._sources.get(impl.plugin_name, ("unknown", "unknown"))
            impl.function(register=self._registrar(impl.plugin_name, distribution, version))

    def _load_entry_points(self) -> None:
        wanted = os.environ.get("AGENTMEM_PLUGINS")
        allowed = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            distribution, version = _ep_dist(ep)
            try:
                plugin = ep.load()
            except Exception as exc:
                log.warning(
                    "agentmem plugin %r from %s failed to import: %s", ep.name, distribution, exc
                )
                self.failures.append(PluginFailure(ep.name, distribution, exc))
                continue
            if self.pm.is_registered(plugin) or ep.name in self._sources:
                continue
            self.pm.register(plugin, name=ep.name)
            self._sources[ep.name] = (distribution, version)

    def _registrar(
        self, plugin: str, distribution: str, version: str
    ) -> hookspecs.BackendRegistrar:
        def register(
            scheme: str,
            opener: BackendOpener,
            *,
            description: str = "",
            override: bool = False,
        ) -> None:
            key = scheme.lower()
            existing = self.backends.get(key)
            if existing is not None and not override:
                raise ConfigurationError(
                    f"URL scheme {key!r} is claimed by both {existing.distribution} "
                    f"({existing.plugin}) and {distribution} ({plugin}); uninstall one, or "
                    "register with override=True to replace it on purpose"
                )
            if existing is not None:
                log.info("%s overrides URL scheme %r of %s", plugin, key, existing.distribution)
            self.backends[key] = BackendInfo(
                key, opener, plugin, distribution, version, description
            )

        return register


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def _ep_dist(ep: EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"], dist.version


_lock = threading.Lock()
_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    with _lock:
        if _registry is None:
            _registry = _Registry()
        return _registry


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (plugins loaded on first use)."""
    return _get().pm


def backends() -> dict[str, BackendInfo]:
    """Every URL scheme that can be opened, keyed by scheme."""
    return dict(_get().backends)


def plugin_failures() -> list[PluginFailure]:
    """Plugins that were found through entry points but failed to import."""
    return list(_get().failures)


def reset_plugins() -> None:
    """Forget loaded plugins so the next call discovers them again (for tests)."""
    global _registry
    with _lock:
        _registry = None


def register_plugin(plugin: ModuleType | object, name: str | None = None) -> None:
    """Register a plugin object in-process, as if it had been found through an entry point."""
    registry = _get()
    plugin_name = registry.pm.register(plugin, name=name)
    if plugin_name is None:
        return
    registry._sources[plugin_name] = ("in-process", "unknown")
    for impl in registry.pm.hook.register_backends.get_hookimpls():
        if impl.plugin_name == plugin_name:
            impl.function(register=registry._registrar(plugin_name, "in-process", "unknown"))


def scheme_of(url: str) -> str:
    """The URL scheme, lower-cased; ConfigurationError if the URL has none."""
    if not isinstance(url, str):
        raise ConfigurationError(f"store URL must be a str, got {type(url).__name__}")
    scheme = urlsplit(url).scheme.lower()
    if not scheme or "://" not in url:
        raise ConfigurationError(
            f"store URL {url!r} has no scheme: write it like 'sqlite:///path/to/file.db', "
            "'redis://host:6379/0' or 'memory://'"
        )
    return scheme


async def open_store(url: str, **options: Any) -> MemoryStore:
    """Open the store a URL names, through whichever plugin registered its scheme.

    >>> import asyncio
    >>> async def demo():
    ...     async with await open_store("memory://") as store:
    ...         return store.capabilities.search
    >>> asyncio.run(demo())
    True

    Raises :class:`ConfigurationError` for a URL without a scheme, a scheme no plugin
    handles (naming the distribution to install) or a plugin that failed to import.
    """
    scheme = scheme_of(url)
    registry = _get()
    info = registry.backends.get(scheme)
    if info is None:
        raise ConfigurationError(_missing_scheme_message(scheme, registry))
    return await info.opener(url, **options)


def _missing_scheme_message(scheme: str, registry: _Registry) -> str:
    known = ", ".join(sorted(registry.backends)) or "none"
    message = f"no agentmem backend handles URL scheme {scheme!r} (available: {known})."
    distribution = KNOWN_DISTRIBUTIONS.get(scheme)
    broken = [f for f in registry.failures if distribution in (None, f.distribution)]
    if broken:
        details = "; ".join(
            f"plugin {f.entry_point!r} from {f.distribution} failed to import: {f.error!r}"
            for f in broken
        )
        message += f" {details}. Reinstall or fix that distribution."
    elif distribution:
        extra = distribution.removeprefix("agentmem-")
        message += f" Install it: pip install {distribution} (or 'agentmem[{extra}]')."
    else:
        message += " Install the distribution that provides it."
    return message
