"""The optional embedder hook: vector similarity on top of keyword ranking.

agentmem ships no embedder (no model, no network). A plugin adds one through the
``register_embedders`` hook (in a module found through the ``agentmem.backends``
entry-point group, like any agentmem plugin)::

    from agentmem import hookimpl

    async def embed(texts):
        return [my_model.encode(t) for t in texts]

    @hookimpl
    def register_embedders(register):
        register("my-model", embed, description="sentence embeddings from my-model")

Which embedder an adapter uses (:func:`resolve_embedder`): ``embedder=`` given to the
adapter (a name or an async callable; ``False`` turns embedding off), else the name in
``AGENTMEM_EMBEDDER``, else the only registered one. With several registered and none
chosen, none is used (a warning names them).

With an embedder, records are written with their text's embedding and searches are
hybrid (:mod:`agentmem.hybrid`): keyword and vector results fused, so a memory that
shares no word with the query is found too. An embedder may embed queries differently
from stored texts (e5's "query: " and "passage: "): give the callable an async ``query``
attribute taking texts; without one, queries are embedded like stored texts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from agentmem.errors import ConfigurationError
from agentmem.hookspecs import Embedder
from agentmem.plugins import get_plugin_manager

__all__ = ["EmbedderInfo", "embed_queries", "embedders", "resolve_embedder"]

log = logging.getLogger("agentmem.memory")


@dataclass(frozen=True, slots=True)
class EmbedderInfo:
    """An embedder a plugin registered."""

    name: str
    embedder: Embedder
    plugin: str
    description: str


def embedders() -> dict[str, EmbedderInfo]:
    """Every embedder the loaded plugins register, by name."""
    found: dict[str, EmbedderInfo] = {}
    pm = get_plugin_manager()
    for impl in pm.hook.register_embedders.get_hookimpls():

        def register(
            name: str, embedder: Embedder, *, description: str = "", _plugin: str = impl.plugin_name
        ) -> None:
            if name in found:
                raise ConfigurationError(
                    f"embedder {name!r} is registered by both {found[name].plugin} and {_plugin}"
                )
            found[name] = EmbedderInfo(name, embedder, _plugin, description)

        impl.function(register=register)
    return found


def resolve_embedder(choice: str | Embedder | bool | None) -> Embedder | None:
    """The embedder an adapter should use (see the module docstring for the rule)."""
    if choice is False:
        return None
    if callable(choice):
        return choice
    available = embedders()
    name = choice if isinstance(choice, str) else os.environ.get("AGENTMEM_EMBEDDER")
    if name:
        if name not in available:
            raise ConfigurationError(
                f"no embedder named {name!r}; registered: {sorted(available) or 'none'}. "
                "Install the plugin that provides it."
            )
        return available[name].embedder
    if len(available) == 1:
        return next(iter(available.values())).embedder
    if available:
        log.warning(
            "several embedders are registered (%s); pick one with embedder= or "
            "AGENTMEM_EMBEDDER. Ranking without embeddings.",
            ", ".join(sorted(available)),
        )
    return None


async def embed_queries(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    """Embed search queries: with the embedder's ``query`` method when it has one."""
    query = getattr(embedder, "query", None)
    vectors = await (query(texts) if callable(query) else embedder(texts))
    check_vector_count(vectors, len(texts))
    return [[float(x) for x in vector] for vector in vectors]


def check_vector_count(vectors: Sequence[object], texts: int) -> None:
    """An embedder that breaks its contract is misconfigured, not a transient failure."""
    if len(vectors) != texts:
        raise ConfigurationError(
            f"embedder returned {len(vectors)} vectors for {texts} texts: it must return "
            "one vector per text; fix or replace the embedder plugin"
        )
