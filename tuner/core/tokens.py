"""Session cookies and the PIN: signing, verifying, comparing.

A cookie value is ``<payload>.<signature>``, both base64url without padding; the
payload is JSON ``{"v": 1, "iat": <issued>, "exp": <expires>}`` (Unix seconds) and
the signature is HMAC-SHA256 over the encoded payload with the server's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import attrs

TOKEN_VERSION = 1
SECRET_BYTES = 32
_PIN_RE = re.compile(r"[0-9]{4,12}")
#: What a token can hold at all: base64url and dots, ASCII, not absurdly long.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.\-]{1,4096}")


class TokenError(ValueError):
    """A cookie that must not be honoured; the message says why (for the log)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen
class TokenSigner:
    """Issues and verifies session tokens with one secret."""

    secret: bytes = attrs.field(repr=False)

    def issue(self, now: float, ttl: float) -> str:
        """A token valid from ``now`` for ``ttl`` seconds."""
        payload = json.dumps(
            {"v": TOKEN_VERSION, "iat": int(now), "exp": int(now + ttl)}, separators=(",", ":")
        ).encode()
        body = _b64(payload)
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, now: float) -> None:
        """Check a token's signature and expiry.

        Raises:
            TokenError: malformed, wrongly signed, of another version, or expired.
        """
        # First: a cookie is any bytes a client sent (decoded as Latin-1), and what
        # follows encodes it as ASCII and compares it as str.
        if not isinstance(token, str) or not _TOKEN_CHARS.fullmatch(token):
            raise TokenError("malformed token")
        body, sep, signature = token.partition(".")
        if not sep or not body or not signature:
            raise TokenError("malformed token")
        if not hmac.compare_digest(self._sign(body), signature):
            raise TokenError("bad signature")
        try:
            claims = json.loads(_unb64(body))
            version, expires = claims["v"], claims["exp"]
        except (ValueError, KeyError, TypeError):
            raise TokenError("malformed payload") from None
        if version != TOKEN_VERSION or not isinstance(expires, int):
            raise TokenError("unsupported token version")
        if now >= expires:
            raise TokenError("expired")

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode("ascii"), hashlib.sha256).digest())


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
