"""Request bodies: parsed and checked in one place, so every route refuses a bad one
the same way (400 with a sentence saying what was expected).

The app answers :class:`BadRequestError` with ``{"error": "bad request", "detail": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from quart import request

from tuner.config import Settings
from tuner.core.presets import Mode, Preset, UnknownChoiceError, get_mode, get_preset
from tuner.core.query import MAX_QUERY_LENGTH

T = TypeVar("T")


class BadRequestError(ValueError):
    """A request body that does not say what the route needs."""


async def json_object() -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        BadRequestError: not JSON, not UTF-8, or JSON that is not an object.
    """
    # Parsed here rather than by request.get_json: that one fails with a 500 on a
    # body that is not UTF-8.
    raw = await request.get_data(as_text=False)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        body = None
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    return body


async def optional_json_object() -> dict[str, Any]:
    """A JSON object body, or ``{}`` when there is no body at all."""
    if not await request.get_data(as_text=False):
        return {}
    return await json_object()


def optional_str(body: dict[str, Any], key: str) -> str | None:
    """``body[key]`` when it is a string, None when absent.

    Raises:
        BadRequestError: present but not a string.
    """
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequestError(f"'{key}' must be a string")
    return value


def refuse_unknown_keys(body: dict[str, Any], known: set[str], hint: str) -> None:
    """Refuse keys a route does not know (likely a typo the sender should hear of).

    Raises:
        BadRequestError: naming the unknown keys and ``hint``.
    """
    unknown = set(body) - known
    if unknown:
        raise BadRequestError(f"unknown keys {sorted(unknown)}: {hint}")


def choice(look_up: Callable[[str], T], body: dict[str, Any], key: str) -> T | None:
    """``body[key]`` looked up (a preset or mode name), or None when absent.

    Raises:
        BadRequestError: not a string, or not a name ``look_up`` knows.
    """
    name = optional_str(body, key)
    if name is None:
        return None
    try:
        return look_up(name)
    except UnknownChoiceError as exc:
        raise BadRequestError(str(exc)) from None


def required_query(body: dict[str, Any]) -> str:
    """The ``query`` of a play (or queue) request.

    Raises:
        BadRequestError: missing, not a string, empty, or too long.
    """
    query = optional_str(body, "query")
    if query is None or not query.strip():
        raise BadRequestError(
            "'query' is required: a URL, a YouTube video ID, words to search, or 'testcard'"
        )
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequestError(f"'query' is longer than {MAX_QUERY_LENGTH} characters")
    return query


def play_choices(settings: Settings, body: dict[str, Any]) -> tuple[Preset, Mode]:
    """The ``preset`` and ``mode`` of a play request (the defaults when not given);
    also what a queued item or a history entry is played with.

    Raises:
        BadRequestError: an unknown preset or mode.
    """
    preset = choice(get_preset, body, "preset") or get_preset(settings.default_preset)
    mode = choice(get_mode, body, "mode") or get_mode(settings.default_mode)
    return preset, mode
