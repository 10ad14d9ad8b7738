"""Talking to a running daemon over HTTP, as the command line does.

``tuner queue``, ``tuner play``/``stop``/``status`` and ``tuner watch`` all reach the
daemon the same way: its address from the settings (loopback when it listens
everywhere; https when it has a certificate, whose own certificate is then trusted),
a login with the PIN (``TUNER_PIN``, else ``pin_file``, else the state directory's,
as :func:`tuner.credentials.find_pin` finds it), and the API's JSON errors turned
into one sentence. This module is that shared part, with a blocking
(:func:`call`) and a trio (:func:`acall`) form of each request.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tuner.config import ConfigError, Settings, load_settings
from tuner.credentials import find_pin

__all__ = [
    "CommandError",
    "LoginError",
    "acall",
    "alogin",
    "call",
    "local_url",
    "login",
    "open_client",
    "own_certificate",
    "pin_for",
]

#: Seconds a single request may take before the command gives up on the daemon.
TIMEOUT = 15.0


class CommandError(Exception):
    """Something the command cannot do; the message says what and what to try.

    Attributes:
        status: the HTTP status the daemon answered with, if it answered.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LoginError(CommandError):
    """The daemon refused the PIN (wrong, or locked out for a while)."""


def local_url(settings: Settings) -> str:
    """The daemon's address as seen from this machine: ``http(s)://host:port``."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: loopback is one of them
    scheme = "https" if settings.tls_cert is not None else "http"
    return (
        f"{scheme}://[{host}]:{settings.port}"
        if ":" in host
        else f"{scheme}://{host}:{settings.port}"
    )


def own_certificate(settings: Settings) -> ssl.SSLContext | bool:
    """Trust the daemon's own certificate (when configured) for a loopback address
    that the certificate does not name: the certificate itself is what is checked."""
    if settings.tls_cert is None:
        return True
    try:
        context = ssl.create_default_context(cafile=str(settings.tls_cert))
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"tls_cert: cannot read {settings.tls_cert}: {exc}") from None
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.check_hostname = False
    return context


#: The daemon closes a connection idle for its ``request_timeout`` (1 s at the least):
#: a request sent on such a connection just as it closes is cut ("server disconnected
#: without sending a response"). Idle connections are dropped well before that.
LIMITS = httpx.Limits(keepalive_expiry=0.5)


def open_client(settings: Settings, url: str | None) -> httpx.Client:
    """A blocking client for the daemon at ``url`` (default: from the settings)."""
    base_url = url or local_url(settings)
    verify = own_certificate(settings) if base_url.startswith("https:") else True
    return httpx.Client(base_url=base_url, timeout=TIMEOUT, verify=verify, limits=LIMITS)


def run_logged_in(
    config: Path | None, url: str | None, action: Callable[[httpx.Client], int]
) -> int:
    """Run a command's ``action`` with a client logged in to the daemon; returns its
    exit status, or 1 (after one line on stderr) when the command cannot be done."""
    try:
        settings = load_settings(config)
        with open_client(settings, url) as client:
            login(client, settings)
            try:
                return action(client)
            finally:
                # A login per command, ended with it: `tuner sessions` lists people.
                with contextlib.suppress(httpx.HTTPError):
                    client.post("/api/logout")
    except (CommandError, ConfigError) as exc:
        print(f"tuner: {exc}", file=sys.stderr)
        return 1


def pin_for(settings: Settings, prompt: Callable[[], str] | None = None) -> str:
    """The PIN to log in with: configured, else what ``prompt`` asks the user for.

    Raises:
        CommandError: no PIN is configured and there is no prompt.
        ConfigError: a configured PIN that is not 4 to 12 digits.
    """
    pin = find_pin(settings)
    if pin is not None:
        return pin.value
    if prompt is not None:
        return prompt().strip()
    raise CommandError(
        "no PIN found: set TUNER_PIN, or pin_file in the config, or run this as the "
        f"user whose state directory ({settings.state_dir}) holds it"
    )


def login(client: httpx.Client, settings: Settings, pin: str | None = None) -> None:
    """Log ``client`` in (its cookie jar keeps the session cookie).

    Raises:
        LoginError: a wrong PIN, or too many of them (the sentence says how long to wait).
        CommandError: no PIN, or no daemon answers.
    """
    pin = pin if pin is not None else pin_for(settings)
    call(client, "POST", "/api/login", json={"pin": pin})


async def alogin(client: httpx.AsyncClient, pin: str) -> None:
    """:func:`login` for an async client, with a PIN already found."""
    await acall(client, "POST", "/api/login", json={"pin": pin})


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """One request; the JSON answer (None when empty).

    Raises:
        CommandError: no daemon answers, or it answered with an error (the sentence
            names the request, the status and the server's reason).
    """
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise _unreachable(client.base_url, exc) from None
    return _answer(method, path, response)


async def acall(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """:func:`call` for an async client."""
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise _unreachable(client.base_url, exc) from None
    return _answer(method, path, response)


def _unreachable(base_url: httpx.URL, exc: Exception) -> CommandError:
    return CommandError(
        f"no daemon answers at {base_url} ({exc}): is tuner serve running? "
        "(--url names another address)"
    )


def _answer(method: str, path: str, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            body = response.json()
            reason = f"{body['error']}: {body['detail']}" if body.get("detail") else body["error"]
        except (ValueError, KeyError, TypeError, AttributeError):
            reason = response.text.strip() or response.reason_phrase
        if path == "/api/login" and response.status_code == 401:
            raise LoginError(
                "the daemon refused the PIN (HTTP 401: wrong PIN): check TUNER_PIN, "
                "pin_file or the state directory's pin",
                401,
            )
        if path == "/api/login" and response.status_code == 429:
            wait = response.headers.get("Retry-After", "a while")
            raise LoginError(
                f"too many wrong PINs: the daemon refuses logins for {wait} s (HTTP 429); "
                "try again then",
                429,
            )
        raise CommandError(
            f"{method} {path} failed (HTTP {response.status_code}): {reason}",
            response.status_code,
        )
    return response.json() if response.content else None
