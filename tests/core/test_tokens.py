"""Session tokens, device marks and PIN checks (sans-IO)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.tokens import (
    DeviceMarker,
    OldTokenError,
    TokenError,
    TokenSigner,
    is_valid_id,
    is_valid_pin,
    new_id,
    pin_matches,
)

SIGNER = TokenSigner(b"k" * 32)
MARKER = DeviceMarker(b"d" * 32)
NOW = 1_800_000_000.0
LOGIN = "AbCdEfGhIjKl"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(key: bytes, claims: object) -> str:
    """A token with any payload, well signed with ``key``."""
    body = _b64(json.dumps(claims).encode())
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def test_a_fresh_token_carries_its_login_id_until_it_expires() -> None:
    token = SIGNER.issue(LOGIN, NOW, 3600)
    assert SIGNER.verify(token, NOW) == LOGIN
    assert SIGNER.verify(token, NOW + 3599) == LOGIN
    with pytest.raises(TokenError, match="expired"):
        SIGNER.verify(token, NOW + 3600)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(TokenError, match="bad signature"):
        TokenSigner(b"j" * 32).verify(SIGNER.issue(LOGIN, NOW, 60), NOW)


def test_a_version_1_token_is_refused_as_made_by_an_older_tuner() -> None:
    # What tuner issued before logins had ids: well signed, and still refused.
    old = _signed(SIGNER.secret, {"v": 1, "iat": int(NOW), "exp": int(NOW) + 3600})
    with pytest.raises(OldTokenError, match="older tuner"):
        SIGNER.verify(old, NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"v": 2, "use": "login", "exp": int(NOW) + 60},  # no login id
        {"v": 2, "use": "login", "sid": "x", "exp": int(NOW) + 60},  # not an id
        {"v": 2, "use": "login", "sid": 7, "exp": int(NOW) + 60},
        {"v": 2, "use": "device", "sid": LOGIN, "exp": int(NOW) + 60},  # another use
        {"v": 3, "use": "login", "sid": LOGIN, "exp": int(NOW) + 60},
        {"v": 2, "use": "login", "sid": LOGIN, "exp": "later"},
        {"v": 2, "use": "login", "sid": LOGIN, "exp": True},
        ["v", 2],
        "a string",
        None,
    ],
)
def test_well_signed_tokens_of_the_wrong_shape_are_refused(claims: object) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(_signed(SIGNER.secret, claims), NOW)


def test_a_device_mark_carries_its_device_and_is_no_session_token() -> None:
    device = new_id()
    mark = MARKER.issue(device, NOW, 400 * 86400)
    assert MARKER.verify(mark, NOW + 399 * 86400) == device
    with pytest.raises(TokenError, match="expired"):
        MARKER.verify(mark, NOW + 400 * 86400)
    # Signed with its own key: it opens no session, and a session token marks no device,
    # even were the two keys the same.
    with pytest.raises(TokenError):
        SIGNER.verify(mark, NOW)
    with pytest.raises(TokenError):
        MARKER.verify(SIGNER.issue(LOGIN, NOW, 60), NOW)
    same_key = TokenSigner(MARKER.key)
    with pytest.raises(TokenError):
        same_key.verify(mark, NOW)


def test_ids_are_fresh_and_well_formed() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_valid_id(i) and len(i) == 12 for i in ids)
    assert not is_valid_id("short")
    assert not is_valid_id("has space in it")


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_refused(position: int, flip: int) -> None:
    token = SIGNER.issue(LOGIN, NOW, 60)
    raw = bytearray(token.encode())
    raw[position % len(raw)] ^= flip
    try:
        tampered = raw.decode()
    except UnicodeDecodeError:
        return
    with pytest.raises(TokenError):
        SIGNER.verify(tampered, NOW)


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???", "\xe9.abc", "abc.\xe9", "é" * 50],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(token, NOW)
    with pytest.raises(TokenError):
        MARKER.verify(token, NOW)


@given(st.text(max_size=300))
def test_any_string_is_refused_with_a_token_error_and_nothing_else(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(token, NOW)
    with pytest.raises(TokenError):
        MARKER.verify(token, NOW)


@pytest.mark.parametrize(
    ("pin", "valid"),
    [("1234", True), ("123456789012", True), ("123", False), ("1234567890123", False),
     ("12a4", False), (" 1234", False), ("١٢٣٤", False), ("", False)],
)  # fmt: skip
def test_pin_format(pin: str, valid: bool) -> None:
    assert is_valid_pin(pin) is valid


def test_pin_matches_only_the_same_pin() -> None:
    assert pin_matches("2468", "2468")
    assert not pin_matches("2468", "2469")
    assert not pin_matches("2468", "24680")
    assert not pin_matches("2468", "")


@pytest.mark.parametrize(
    "token",
    [
        "\xe9.abc",  # the bytes of a cookie are decoded as Latin-1
        "abc.\xe9",
        "abc\x00.def",
        "abc def.ghi",
        "abc.def\N{SNOWMAN}",
        "a" * 5000 + ".b",
    ],
)
def test_tokens_that_are_not_plain_ascii_base64url_are_malformed(token: str) -> None:
    with pytest.raises(TokenError, match="malformed token"):
        SIGNER.verify(token, NOW)


@given(st.text(max_size=200))
def test_any_text_is_verified_or_refused_with_a_token_error(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(token, NOW)


def test_a_lone_surrogate_is_a_wrong_pin_not_an_error() -> None:
    # JSON can carry "\ud800", which UTF-8 cannot encode.
    assert pin_matches("1234", "\ud800") is False
