"""A state machine for a searching process's copy of the vectors (``vector_cache``).

Three handles on one store: a searcher that keeps a copy, a writer, and a plain handle
that reads every stored code on each search (``vector_cache=false``), the reference.
Writes come from the writer and the searcher in any order (new vectors, other lengths,
vectors dropped, deletes, records expiring); after every step the searcher's answer must
be the plain handle's, ids, versions and scores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from agentmem import MemoryStore, Record, Ref
from agentmem.testing import ManualClock, scaled_examples
from agentmem.vectors import Embedding

Opener = Callable[[ManualClock, bool], Awaitable[MemoryStore]]
"""(clock, vector_cache) -> an open handle on the one store under test."""

IDS = tuple(f"r{i}" for i in range(12))
vectors = st.lists(st.integers(-3, 3), min_size=3, max_size=3) | st.lists(
    st.integers(-3, 3), min_size=2, max_size=2
)


def vector_copy_machine(open_handle: Opener, namespace: Callable[[], str]) -> type[Any]:
    """The machine class, bound to how the backend opens handles."""

    class VectorCopyMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.runner = asyncio.Runner()
            self.clock = ManualClock()
            self.ns = namespace()
            self.searcher = self.run(open_handle(self.clock, True))
            self.writer = self.run(open_handle(self.clock, True))
            self.plain = self.run(open_handle(self.clock, False))
            self.searched = False

        def run(self, work: Awaitable[Any]) -> Any:
            async def wrapped() -> Any:
                return await work

            return self.runner.run(wrapped())

        def _handle(self, by_searcher: bool) -> MemoryStore:
            return self.searcher if by_searcher else self.writer

        @rule(
            rid=st.sampled_from(IDS),
            values=st.none() | vectors,
            by_searcher=st.booleans(),
            ttl=st.none() | st.sampled_from((5, 50)),
        )
        def put(
            self, rid: str, values: list[int] | None, by_searcher: bool, ttl: int | None
        ) -> None:
            embedding = None
            if values is not None:
                embedding = Embedding.quantize([float(v) for v in values])
            expires = None if ttl is None else self.clock() + timedelta(seconds=ttl)
            record = Record(
                ref=Ref("episodic", self.ns, rid), embedding=embedding, expires_at=expires
            )
            self.run(self._handle(by_searcher).put(record))

        @rule(rid=st.sampled_from(IDS), by_searcher=st.booleans())
        def delete(self, rid: str, by_searcher: bool) -> None:
            self.run(self._handle(by_searcher).delete(Ref("episodic", self.ns, rid)))

        @rule(seconds=st.sampled_from((1, 10, 100)))
        def advance(self, seconds: int) -> None:
            self.clock.advance(seconds)

        @rule(query=vectors, limit=st.sampled_from((1, 3, 20)))
        def search(self, query: list[int], limit: int) -> None:
            if not any(query):
                query = [1, *query[1:]]
            floats = [float(v) + 0.01 * i for i, v in enumerate(query)]
            got = self.run(
                self.searcher.nearest(floats, kind="episodic", namespace=self.ns, limit=limit)
            )
            want = self.run(
                self.plain.nearest(floats, kind="episodic", namespace=self.ns, limit=limit)
            )
            assert [(h.ref.id, h.record.version) for h in got] == [
                (h.ref.id, h.record.version) for h in want
            ]
            assert all(abs(a.score - b.score) < 1e-5 for a, b in zip(got, want, strict=True))
            self.searched = True

        @precondition(lambda self: self.searched)
        @rule()
        def search_again(self) -> None:
            self.search([1, 0, 0], 20)

        def teardown(self) -> None:
            for handle in (self.searcher, self.writer, self.plain):
                self.run(handle.close())
            self.runner.close()

    VectorCopyMachine.TestCase.settings = settings(
        max_examples=scaled_examples(40),
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    return VectorCopyMachine
