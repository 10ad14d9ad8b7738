"""Session cookies, device marks and the PIN: signing, verifying, comparing.

Both signed values are ``<payload>.<signature>``, base64url without padding; the
payload is a JSON object and the signature HMAC-SHA256 over the encoded payload.

- A **session token** (the ``tuner_session`` cookie) is signed with the cookie secret:
  ``{"v": 2, "use": "login", "sid": <login id>, "iat": <issued>, "exp": <expires>}``
  (Unix seconds). The login id names a record in the state directory
  (:mod:`tuner.core.logins`): the token proves who issued it, the record that it
  still holds (a logout or ``tuner sessions revoke`` removes it). Version 1 tokens
  carried no id; they are refused with :class:`OldTokenError`.
- A **device mark** (the ``tuner_device`` cookie) says that a browser logged in
  before. It is signed with a key of its own that ``tuner rotate-secret`` leaves alone:
  ``{"v": 1, "use": "device", "dev": <device id>, "iat": ..., "exp": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

import attrs

TOKEN_VERSION = 2
DEVICE_MARK_VERSION = 1
SECRET_BYTES = 32
#: Random bytes in a login or device id (not a secret: the signature protects it).
ID_BYTES = 9
_PIN_RE = re.compile(r"[0-9]{4,12}")
_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
#: What a token can hold at all: base64url and dots, ASCII, not absurdly long.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.\-]{1,4096}")


class TokenError(ValueError):
    """A cookie that must not be honoured; the message says why (for the log)."""


class OldTokenError(TokenError):
    """A well-signed cookie of an older format (before login sessions had ids)."""


def new_id() -> str:
    """A fresh random id for a login or a device (12 base64url characters)."""
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_id(text: str) -> bool:
    """Whether ``text`` has the shape of a login or device id."""
    return _ID_RE.fullmatch(text) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def _seal(key: bytes, claims: dict[str, Any]) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_sign(key, body)}"


def _open(key: bytes, token: str, now: float, use: str, version: int) -> dict[str, Any]:
    """The claims of a token signed with ``key``, checked for ``use``, ``version``
    and expiry. Anything malformed raises :class:`TokenError`, never another error."""
    # A cookie may carry any byte (a browser or a client sends what it likes, decoded
    # as Latin-1): only base64url and dots can be a token, and only ASCII may reach
    # the encoding and the comparison below.
    if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
        raise TokenError("malformed token")
    body, sep, signature = token.partition(".")
    if not sep or not body or not signature:
        raise TokenError("malformed token")
    if not hmac.compare_digest(_sign(key, body), signature):
        raise TokenError("bad signature")
    try:
        claims = json.loads(_unb64(body))
        if not isinstance(claims, dict):
            raise TypeError
        claimed_version, expires = claims["v"], claims["exp"]
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed payload") from None
    if claims.get("use") != use:
        if use == "login" and claimed_version == 1 and "use" not in claims:
            raise OldTokenError("made by an older tuner, before logins had ids")
        raise TokenError(f"not a {use} token")
    if claimed_version != version:
        raise TokenError("unsupported token version")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise TokenError("malformed payload")
    if now >= expires:
        raise TokenError("expired")
    return claims


def _claimed_id(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not is_valid_id(value):
        raise TokenError("malformed payload")
    return value


@attrs.frozen
class TokenSigner:
    """Issues and verifies session tokens with the cookie secret."""

    secret: bytes = attrs.field(repr=False)

    def issue(self, login_id: str, now: float, ttl: float) -> str:
        """A token for the login ``login_id``, valid from ``now`` for ``ttl`` seconds."""
        return _seal(
            self.secret,
            {
                "v": TOKEN_VERSION,
                "use": "login",
                "sid": login_id,
                "iat": int(now),
                "exp": int(now + ttl),
            },
        )

    def verify(self, token: str, now: float) -> str:
        """Check a token's signature and expiry; returns the login id it carries.

        Raises:
            OldTokenError: a version 1 token (no login id).
            TokenError: malformed, wrongly signed, of another version, or expired.
        """
        return _claimed_id(_open(self.secret, token, now, "login", TOKEN_VERSION), "sid")


@attrs.frozen
class DeviceMarker:
    """Issues and verifies device marks with the device key."""

    key: bytes = attrs.field(repr=False)

    def issue(self, device_id: str, now: float, ttl: float) -> str:
        """A mark for the device ``device_id``, valid from ``now`` for ``ttl`` seconds."""
        return _seal(
            self.key,
            {
                "v": DEVICE_MARK_VERSION,
                "use": "device",
                "dev": device_id,
                "iat": int(now),
                "exp": int(now + ttl),
            },
        )

    def verify(self, mark: str, now: float) -> str:
        """Check a mark's signature and expiry; returns the device id it carries.

        Raises:
            TokenError: malformed, wrongly signed, of another version, or expired.
        """
        return _claimed_id(_open(self.key, mark, now, "device", DEVICE_MARK_VERSION), "dev")


def is_valid_pin(pin: str) -> bool:
    """A PIN is 4 to 12 ASCII digits."""
    return _PIN_RE.fullmatch(pin) is not None


def pin_matches(expected: str, given: str) -> bool:
    """Compare PINs in time independent of where, and whether, they differ.

    Both are hashed first so that not even the length of the right PIN shows in the
    comparison's timing.
    """
    # surrogatepass: JSON can carry a lone surrogate ("\ud800"), which UTF-8 cannot.
    return hmac.compare_digest(
        hashlib.sha256(expected.encode()).digest(),
        hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
    )
