"""Shared pieces of the terminal client's tests.

Rules every test here follows, beyond those of ``tests/conftest.py``:

- The daemon is a real ``tuner serve`` subprocess on loopback, port 0
  (:class:`tests.daemon_process.DaemonProcess`); the clients are the real commands.
- ``tuner watch`` runs under a real pseudo-terminal (pexpect), and what it draws is
  read back through a VT100 screen emulator (pyte): colours, text and size.
- Waits poll a condition against a generous deadline.
- Nothing leaks: no child process of the test outlives it, nor a file descriptor.
"""

from __future__ import annotations

from tests.integration.conftest import no_leaked_processes

__all__ = ["no_leaked_processes"]
