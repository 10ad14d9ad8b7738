"""Login sessions: who is logged in, from what and where, since when.

Sans-IO: the records and their rules; :mod:`tuner.logins` keeps them in the state
directory and :mod:`tuner.web.auth` consults them. Every right PIN makes a
:class:`Login` with a random id that its session cookie carries
(:class:`tuner.core.tokens.TokenSigner`); a cookie is honoured only while its record
is there. A logout, ``tuner sessions revoke`` and an expiry remove the record.

The file holds every login as JSON. It is the truth about *which* logins exist:
the daemon merges it into what it holds (:meth:`LoginTable.merge`) before each write
and whenever another process (the command line) changed it, and a login that is gone
from it is revoked. What the daemon alone knows is how recently each login was used;
that is written at most every :attr:`LoginTable.save_every` seconds, not per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from tuner.core.tokens import is_valid_id

FILE_VERSION = 1
#: Logins kept at most; beyond, the one unused for longest is ended.
MAX_LOGINS = 500
#: How often a login's last use is written out, at most.
SAVE_SEEN_EVERY = 60.0
#: Longest device description kept.
_DEVICE_CHARS = 40
_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class LoginsFileError(ValueError):
    """The logins file cannot be read as logins; the message says what is wrong."""


@attrs.frozen
class Login:
    """One login session.

    Attributes:
        id: what the session cookie carries.
        device: a short description of the browser or program (from its User-Agent).
        address: the client's address when it was last seen.
        created: when it logged in (Unix seconds).
        last_seen: when it last made a request (Unix seconds; saved every so often).
        expires: when its cookie expires (Unix seconds).
    """

    id: str
    device: str
    address: str
    created: float
    last_seen: float
    expires: float

    def to_json(self) -> dict[str, Any]:
        """The record as the logins file keeps it."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Login:
        """A record as :meth:`to_json` wrote it.

        Raises:
            LoginsFileError: not such a record.
        """
        if not isinstance(data, dict):
            raise LoginsFileError("a login is not an object")
        try:
            login = cls(
                id=data["id"],
                device=data["device"],
                address=data["address"],
                created=data["created"],
                last_seen=data["last_seen"],
                expires=data["expires"],
            )
        except KeyError as exc:
            raise LoginsFileError(f"a login has no {exc.args[0]!r}") from None
        texts = (login.id, login.device, login.address)
        times = (login.created, login.last_seen, login.expires)
        if not all(isinstance(t, str) for t in texts) or not is_valid_id(login.id):
            raise LoginsFileError(f"a login has a bad id, device or address: {data!r:.200}")
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
            raise LoginsFileError(f"login {login.id} has a bad time")
        return login


def encode(logins: Iterable[Login]) -> bytes:
    """The logins file's content."""
    records = [login.to_json() for login in logins]
    return (json.dumps({"version": FILE_VERSION, "logins": records}, indent=1) + "\n").encode()


def decode(data: bytes) -> dict[str, Login]:
    """The logins in a logins file's content, by id.

    Raises:
        LoginsFileError: not a logins file this tuner can read.
    """
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise LoginsFileError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("logins"), list):
        raise LoginsFileError("not a logins file (no list of logins)")
    if document.get("version") != FILE_VERSION:
        raise LoginsFileError(
            f"made by another tuner (version {document.get('version')!r}, "
            f"this one reads {FILE_VERSION})"
        )
    logins = [Login.from_json(record) for record in document["logins"]]
    return {login.id: login for login in logins}


@attrs.define
class LoginTable:
    """The logins the daemon honours, and which of their last uses are not saved."""

    save_every: float = SAVE_SEEN_EVERY
    max_logins: int = MAX_LOGINS
    _logins: dict[str, Login] = attrs.field(factory=dict, init=False)
    #: When the first use not yet saved happened (None: all saved).
    _unsaved_since: float | None = attrs.field(default=None, init=False)

    def __len__(self) -> int:
        return len(self._logins)

    def get(self, login_id: str, now: float) -> Login | None:
        """The login ``login_id`` if it is there and has not expired."""
        login = self._logins.get(login_id)
        if login is None or now >= login.expires:
            return None
        return login

    def seen(self, login_id: str, now: float, address: str) -> None:
        """The login made a request now, from ``address`` (kept, saved later)."""
        login = self._logins.get(login_id)
        if login is None or now <= login.last_seen:
            return
        self._logins[login_id] = attrs.evolve(login, last_seen=now, address=address)
        if self._unsaved_since is None:
            self._unsaved_since = now

    def add(self, login: Login) -> list[Login]:
        """Add a new login; returns those ended to keep :attr:`max_logins`
        (the ones unused for longest)."""
        self._logins[login.id] = login
        ended: list[Login] = []
        if len(self._logins) > self.max_logins:
            by_use = sorted(self._logins.values(), key=lambda each: each.last_seen)
            for old in by_use[: len(self._logins) - self.max_logins]:
                ended.append(self._logins.pop(old.id))
        return ended

    def remove(self, login_id: str) -> Login | None:
        """End a login; returns it (None: there was none)."""
        return self._logins.pop(login_id, None)

    def merge(self, saved: Mapping[str, Login]) -> list[Login]:
        """Take the saved file's word on which logins exist; keep the latest use of
        each. Returns the logins that are gone from it (revoked by someone else).

        A login held here must be in the file to stay, and one in the file that is not
        held here stays out: a logout this daemon could not write yet is written by
        its next write, and never undone by this merge.
        """
        gone: list[Login] = []
        for login_id, ours in list(self._logins.items()):
            from_file = saved.get(login_id)
            if from_file is None:
                gone.append(self._logins.pop(login_id))
            elif from_file.last_seen > ours.last_seen:
                self._logins[login_id] = from_file
        return gone

    def records(self, now: float) -> list[Login]:
        """The logins that have not expired, in the order they logged in."""
        return sorted(
            (login for login in self._logins.values() if now < login.expires),
            key=lambda login: (login.created, login.id),
        )

    def save_due(self, now: float) -> bool:
        """Whether uses not yet saved are old enough to be written out."""
        return self._unsaved_since is not None and now - self._unsaved_since >= self.save_every

    @property
    def unsaved(self) -> bool:
        """Whether some use is not saved yet."""
        return self._unsaved_since is not None

    def mark_saved(self) -> None:
        """Everything held is now in the file."""
        self._unsaved_since = None


def find(logins: Iterable[Login], wanted: str) -> Login:
    """The login whose id is ``wanted``, or begins with it (4 characters at least).

    Raises:
        LookupError: no such login, or several begin so (the message says which).
    """
    logins = list(logins)
    for login in logins:
        if login.id == wanted:
            return login
    if len(wanted) >= 4:
        matches = [login for login in logins if login.id.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(login.id for login in matches)
            raise LookupError(f"{wanted!r} begins several login ids ({ids}): give more of it")
    raise LookupError(f"no login session has the id {wanted!r}")


# --- what a User-Agent says ---------------------------------------------------------

#: Browsers, most specific first (Edge and Opera also say Chrome; Chrome says Safari).
_BROWSERS = (
    ("Tesla/", "Tesla browser"),
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str | None) -> str:
    """A short description of a client from its ``User-Agent`` (``Chrome on
    Android``, ``Firefox on Linux``, ``curl``): enough to tell one's own devices apart.
    """
    agent = _PRINTABLE.sub(" ", user_agent or "").strip()
    if not agent:
        return "unknown"
    if agent.startswith("Mozilla/"):
        browser = next((name for token, name in _BROWSERS if token in agent), "a browser")
        if browser == "Tesla browser":
            return browser
        system = next((name for token, name in _SYSTEMS if token in agent), None)
        return f"{browser} on {system}" if system else browser
    # A program: its name, as it says it first (curl/8.5.0, python-httpx/0.27).
    return agent.split("/", 1)[0].split(" ", 1)[0][:_DEVICE_CHARS] or "unknown"
