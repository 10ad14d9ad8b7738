"""The sd_notify client, against a real datagram socket (systemd itself is not here)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tuner.systemd import Notifier


def test_messages_reach_the_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "n.sock"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        assert notifier.ready("serving on x")
        assert server.recv(100) == b"READY=1\nSTATUS=serving on x"
        assert notifier.watchdog()
        assert server.recv(100) == b"WATCHDOG=1"
        assert notifier.stopping()
        assert server.recv(100) == b"STOPPING=1\nSTATUS=shutting down"


def test_abstract_namespace_socket() -> None:
    name = f"tuner-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).status("hi")
        assert server.recv(100) == b"STATUS=hi"


def test_no_socket_or_a_dead_one_never_raises(tmp_path: Path) -> None:
    assert not Notifier({}).enabled
    assert Notifier({}).ready("x") is False
    dead = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert dead.ready("x") is False
    assert dead.watchdog() is False


def test_watchdog_interval_is_half_the_deadline_for_this_process_only() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    mine = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).watchdog_interval == 1.0
    assert Notifier({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
    assert Notifier({"WATCHDOG_USEC": "soon"}).watchdog_interval is None
    assert Notifier({}).watchdog_interval is None
