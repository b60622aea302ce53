"""Plugin hooks. A plugin is a module (or object) with functions marked ``@hookimpl``.

A backend distribution exposes its plugin module in the ``agentmem.backends``
entry-point group::

    [project.entry-points."agentmem.backends"]
    mystore = "mystore_agentmem.plugin"

and the module registers one opener per URL scheme::

    from agentmem import hookimpl

    @hookimpl
    def register_backends(register):
        register("mystore", open_my_store, description="My store")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from agentmem.store import MemoryStore

__all__ = [
    "BackendOpener",
    "BackendRegistrar",
    "Embedder",
    "EmbedderRegistrar",
    "hookimpl",
    "hookspec",
    "register_backends",
    "register_embedders",
]

hookspec = pluggy.HookspecMarker("agentmem")
hookimpl = pluggy.HookimplMarker("agentmem")

BackendOpener = Callable[..., Awaitable["MemoryStore"]]
"""``async def opener(url: str, **options) -> MemoryStore``: returns an opened store."""


Embedder = Callable[[Sequence[str]], Awaitable[Sequence[Sequence[float]]]]
"""``async def embed(texts) -> vectors``: one vector per text, all of the same length."""


class BackendRegistrar(Protocol):
    def __call__(
        self,
        scheme: str,
        opener: BackendOpener,
        *,
        description: str = "",
        override: bool = False,
    ) -> None: ...


@hookspec
def register_backends(register: BackendRegistrar) -> None:
    """Register an opener for each URL scheme this plugin handles.

    Claiming a scheme another plugin already registered is a
    :class:`~agentmem.errors.ConfigurationError` unless ``override=True``.
    """


class EmbedderRegistrar(Protocol):
    def __call__(
        self,
        name: str,
        embedder: Embedder,
        *,
        description: str = "",
    ) -> None: ...


@hookspec
def register_embedders(register: EmbedderRegistrar) -> None:
    """Register text embedders that :mod:`agentmem.memory` may use to rank by similarity.

    Optional: agentmem ships none (no model, no network); without one, ranking is
    keyword + importance + recency.
    """
