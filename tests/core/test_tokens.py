"""Session tokens and PIN checks (sans-IO)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuner.core.tokens import TokenError, TokenSigner, is_valid_pin, pin_matches

SIGNER = TokenSigner(b"k" * 32)
NOW = 1_800_000_000.0


def test_a_fresh_token_verifies_until_it_expires() -> None:
    token = SIGNER.issue(NOW, 3600)
    SIGNER.verify(token, NOW)
    SIGNER.verify(token, NOW + 3599)
    with pytest.raises(TokenError, match="expired"):
        SIGNER.verify(token, NOW + 3600)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(TokenError, match="bad signature"):
        TokenSigner(b"j" * 32).verify(SIGNER.issue(NOW, 60), NOW)


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_refused(position: int, flip: int) -> None:
    token = SIGNER.issue(NOW, 60)
    raw = bytearray(token.encode())
    raw[position % len(raw)] ^= flip
    try:
        tampered = raw.decode()
    except UnicodeDecodeError:
        return
    with pytest.raises(TokenError):
        SIGNER.verify(tampered, NOW)


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.", ".abc", "a.b.c", "!!!.???"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.verify(token, NOW)


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
