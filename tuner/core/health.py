"""What a component says of its health, and the daemon's health as their sum.

Each service answers for itself (``Supervisor.health()``, ``Poller.health()``,
``Queue.health()``, ``LoginThrottle.health()``); ``/healthz`` and ``/api/status``
only combine the answers (:func:`combine`), so neither reaches into a service.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import attrs


class Level(enum.IntEnum):
    """How bad it is; the worst component's level is the daemon's."""

    #: Nothing wrong.
    OK = 0
    #: Something broke that heals by itself or by the next play (``/healthz`` 200).
    DEGRADED = 1
    #: It cannot do its job until someone acts or it heals (``/healthz`` 503).
    UNHEALTHY = 2


@attrs.frozen
class Health:
    """One component's health, or several combined.

    Attributes:
        components: a word per component (``ok``, ``dead``, ``stalled``...), in the
            order ``/healthz`` lists them; nothing private (no query, title or path).
        level: the worst of them.
        problems: a sentence per fault, for a logged-in person.
    """

    components: Mapping[str, str]
    level: Level = Level.OK
    problems: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``ok``, ``degraded`` or ``unhealthy``."""
        return self.level.name.lower()


def combine(parts: Iterable[Health]) -> Health:
    """The components and problems of ``parts`` in their order, at the worst level."""
    components: dict[str, str] = {}
    level = Level.OK
    problems: list[str] = []
    for part in parts:
        components.update(part.components)
        level = max(level, part.level)
        problems.extend(part.problems)
    return Health(components, level, tuple(problems))
