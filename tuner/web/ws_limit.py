"""Hold Hypercorn's websocket message limit from the first byte over it.

``Config.websocket_max_message_size`` makes Hypercorn close a socket whose message
grows past it (code 1009, message too big). But its buffer appends each piece
*before* it checks the length, and goes on appending every later piece of the same
message while it waits for the client's answer to the close: a client that sends a
15 MiB message after the close still has all of it assembled, and one that sends an
endless frame grows the buffer without end. :func:`bound_websocket_messages` swaps
in a buffer that checks first and, once over, keeps nothing (measured with Hypercorn
0.18; ``tests/reliability/test_limits.py`` sends 100 messages of 15 MiB and watches
the daemon's memory).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def bound_websocket_messages() -> bool:
    """Make Hypercorn's websocket buffer refuse a message before storing it.

    Idempotent. Returns whether the buffer is the bounded one (``False``, with a
    warning, if this Hypercorn has no buffer of the known shape: then the limit
    still closes the socket, only later).
    """
    try:
        from hypercorn.protocol import ws_stream as module

        ws_stream: Any = module
        buffer: Any = ws_stream.WebsocketBuffer
        too_large: Any = ws_stream.FrameTooLargeError
    except (ImportError, AttributeError):  # pragma: no cover - another Hypercorn
        log.warning("this Hypercorn's websocket buffer is unknown: oversized messages are buffered")
        return False
    if getattr(buffer, "bounded_by_tuner", False):
        return True

    class BoundedBuffer(buffer):  # type: ignore[misc]
        bounded_by_tuner = True
        length: int
        max_length: int

        def extend(self, event: Any) -> None:
            # Over the limit: store nothing, now or later in this message (the
            # length stays over it until the message ends or the socket closes).
            if self.length + len(event.data) > self.max_length:
                self.length = self.max_length + 1
                raise too_large()
            super().extend(event)

    ws_stream.WebsocketBuffer = BoundedBuffer
    return True
