"""Fixtures for the extractors' tests.

Rules: loopback and port 0 only; tests with real sockets run on real time and bound
their waits with ``trio.fail_after``; tests on an autojump MockClock touch no IO.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.loopback import LoopbackServer, serve_loopback


@pytest.fixture
async def loopback() -> AsyncIterator[LoopbackServer]:
    """A loopback HTTP server for the length of the test (see ``tests/loopback.py``)."""
    async with serve_loopback() as server:
        yield server
