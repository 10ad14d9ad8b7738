"""JSON control messages: the text messages of ``/ws/video`` and ``/ws/events``.

Binary ``/ws/video`` messages are frames (see :mod:`tuner.core.codec`); every text
message, in either direction, is one JSON object with a string ``type``.
"""

from __future__ import annotations

import json
from typing import Any

#: The protocol's version, told in every ``hello`` (docs/protocol.rst). Version 3 adds
#: text messages and query parameters; the frames are version 2's.
PROTOCOL_VERSION = 3


class ProtocolError(ValueError):
    """A message that is not valid in this protocol version."""


def encode_control(message_type: str, **fields: Any) -> str:
    """Encode a JSON control message (a text websocket message)."""
    return json.dumps({"type": message_type, **fields}, separators=(",", ":"))


def decode_control(text: str) -> dict[str, Any]:
    """Decode a JSON control message.

    Raises:
        ProtocolError: not a JSON object with a string ``type``.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"control message is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("control message must be a JSON object with a string 'type'")
    return message
