"""Meta-tests: the contract suite reports deliberately broken stores as failures."""

from __future__ import annotations

import textwrap

import pytest

BROKEN_STORES = {
    "loses_a_write": (
        """
        async def put_many(self, records):
            stored = await super().put_many(records)
            if len(records) > 1:  # silently drop the last record of every batch
                last = records[-1].ref
                self._state.collections[(last.kind, last.namespace)].remove(last.id)
            return stored
        """,
        ["test_put_many_returns_stored_records_in_order", "test_state_machine"],
    ),
    "returns_expired": (
        """
        def _live(self, ref, now):
            coll = self._state.collections.get((ref.kind, ref.namespace))
            return None if coll is None else coll.meta.get(ref.id)
        """,
        ["test_expired_record_is_absent_everywhere", "test_state_machine"],
    ),
    "ignores_expected_version": (
        """
        async def put(self, record, *, expected_version=None):
            return await super().put(record)
        """,
        ["test_put_expected_version_must_match", "test_state_machine"],
    ),
}


@pytest.mark.parametrize("bug", sorted(BROKEN_STORES))
def test_contract_suite_fails_a_broken_store(
    pytester: pytest.Pytester, bug: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding a planted bug needs the examples asked for: secondary matrix cells scale
    # examples down (AGENTMEM_HYPOTHESIS_SCALE), which must not make this test miss one.
    monkeypatch.setenv("AGENTMEM_HYPOTHESIS_SCALE", "1")
    method, must_fail = BROKEN_STORES[bug]
    pytester.makepyfile(
        test_broken=textwrap.dedent(
            """
            from agentmem.inmemory import InMemoryStore
            from agentmem.testing import StateMachineSettings, StoreContractTests

            class BrokenStore(InMemoryStore):
            {method}

            class TestBroken(StoreContractTests):
                state_machine_settings = StateMachineSettings(
                    max_examples=300, shrink=False, watch_timeout=0.5
                )

                async def make_store(self, clock):
                    return BrokenStore(clock=clock)
            """
        ).format(method=textwrap.indent(textwrap.dedent(method), "    "))
    )
    result = pytester.runpytest_subprocess(
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-k",
        " or ".join(must_fail),
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == len(must_fail), result.stdout.str()[-3000:]
