"""The integration tests' fixtures serve here too: an in-process daemon on a
loopback port, and the check that no child process outlives a test."""

from __future__ import annotations

from tests.integration.conftest import daemon, no_leaked_processes

__all__ = ["daemon", "no_leaked_processes"]
