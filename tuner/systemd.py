"""Tell systemd what the daemon is doing (``sd_notify``), without ever failing.

A send to a dead or missing ``$NOTIFY_SOCKET`` is logged once and otherwise
ignored: the daemon's job is to serve, not to talk to an init system.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends ``sd_notify`` datagrams when ``$NOTIFY_SOCKET`` is set; otherwise a no-op."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is Linux's abstract namespace, spelled with a leading NUL.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._warned = False
        self.watchdog_interval = _watchdog_interval(environ)

    @property
    def enabled(self) -> bool:
        """Whether there is a socket to tell."""
        return bool(self._address)

    def notify(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines (``ready="1"`` becomes ``READY=1``); False if it failed."""
        if not self._address:
            return False
        message = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                sock.sendto(message.encode(), self._address)
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd at %r: %s", self._address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        """The daemon serves: ``READY=1`` with a status line."""
        return self.notify(ready="1", status=status)

    def status(self, status: str) -> bool:
        """A line for ``systemctl status``."""
        return self.notify(status=status)

    def watchdog(self) -> bool:
        """Still alive: ``WATCHDOG=1``."""
        return self.notify(watchdog="1")

    def stopping(self) -> bool:
        """Shutting down: ``STOPPING=1``."""
        return self.notify(stopping="1", status="shutting down")


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half the deadline), or None if off."""
    usec = environ.get("WATCHDOG_USEC")
    pid = environ.get("WATCHDOG_PID")
    if not usec:
        return None
    if pid and pid != str(os.getpid()):
        return None
    try:
        deadline = int(usec) / 1_000_000
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number", usec)
        return None
    return deadline / 2 if deadline > 0 else None
