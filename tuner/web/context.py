"""What the web handlers need from the rest of the daemon, in one place."""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from tuner.config import Settings
from tuner.core.throttle import LoginThrottle
from tuner.core.thumbnails import ThumbnailTokens
from tuner.core.tokens import DeviceMarker, TokenSigner
from tuner.credentials import Pin
from tuner.events import EventHub
from tuner.extract import Poller
from tuner.jobs import Queue
from tuner.logins import LoginStore
from tuner.play.supervisor import Supervisor
from tuner.thumbnail_fetcher import Thumbnails


@attrs.define
class WebContext:
    """Shared by every handler; the daemon builds one and hands it to ``create_app``."""

    settings: Settings
    supervisor: Supervisor
    events: EventHub
    signer: TokenSigner
    pin: Pin
    #: The login sessions (``tuner sessions``), in the state directory.
    logins: LoginStore
    #: Signs the marks of browsers that logged in before (see tuner.web.auth).
    devices: DeviceMarker
    #: ``None`` when ffmpeg is usable, else why not (for ``/readyz`` and the log).
    ffmpeg_problem: str | None
    serving: bool = False
    shutting_down: bool = False
    started_at: float = attrs.field(factory=time.monotonic)
    clock: Callable[[], float] = time.time
    #: The extractor poller; ``None`` when ``[extract] enabled = false``.
    poller: Poller | None = None
    #: The up-next queue.
    queue: Queue | None = None
    #: Thumbnails served same-origin (``/api/thumbnail/<token>``).
    thumbnails: Thumbnails = attrs.field(factory=lambda: Thumbnails(ThumbnailTokens()))
    #: Lockouts after wrong PINs (in memory: a restart forgets them).
    login_throttle: LoginThrottle = attrs.field(factory=LoginThrottle)
