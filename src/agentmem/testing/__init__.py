"""The contract suite every agentmem backend passes, for ours and third parties'.

Use it from a backend's tests::

    from agentmem.testing import StoreContractTests

    class TestMyStore(StoreContractTests):
        async def make_store(self, clock):
            return await open_store("mystore://...", clock=clock)

It needs pytest, pytest-asyncio and hypothesis (``pip install 'agentmem[testing]'``).
Loading it as a pytest plugin (``pytest_plugins = ["agentmem.testing"]``) adds the
``manual_clock`` fixture; subclassing alone needs nothing else.
"""

from __future__ import annotations

import pytest

from agentmem.testing.clock import ManualClock
from agentmem.testing.contract import StoreContractTests
from agentmem.testing.stateful import (
    StateMachineSettings,
    StoreModel,
    make_store_state_machine,
    run_store_state_machine,
    scaled_examples,
)

__all__ = [
    "ManualClock",
    "StateMachineSettings",
    "StoreContractTests",
    "StoreModel",
    "make_store_state_machine",
    "run_store_state_machine",
    "scaled_examples",
]


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock that starts now and moves only when told (``manual_clock.advance(s)``)."""
    return ManualClock()
