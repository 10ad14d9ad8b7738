"""The login sessions in the state directory (``logins.json``), as the daemon and
the ``tuner sessions`` command share them.

Every change (a login, a logout, a revocation, the last uses every minute) is made
under an exclusive lock on ``logins.lock``: the file is read, merged with what the
daemon holds (:meth:`tuner.core.logins.LoginTable.merge`), and written whole with
:func:`tuner.credentials.replace_private` (aside, flushed, renamed, the directory
flushed). So a ``kill -9`` or a power cut at any moment leaves the old file or the
new one, a login or revocation that was acknowledged is on the disk, and the daemon
and the command line never undo each other's change. Reading needs no lock: the
rename is atomic.

The daemon notices a change another process made from the file's identity (inode,
modification time, size), which :func:`tuner.daemon._watch_secret` looks at a few
times a second; a login that is gone from the file is revoked at once and its open
streams are closed with :data:`LOGGED_OUT`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

from tuner.config import ConfigError
from tuner.core.logins import (
    SAVE_SEEN_EVERY,
    Login,
    LoginsFileError,
    LoginTable,
    decode,
    encode,
    find,
)
from tuner.core.tokens import new_id
from tuner.credentials import give_to_directory_owner, replace_private

__all__ = [
    "LOGGED_OUT",
    "LOGINS_FILE",
    "LoginStore",
    "LoginStoreError",
    "list_logins",
    "revoke_logins",
]

log = logging.getLogger(__name__)

LOGINS_FILE = "logins.json"
LOCK_FILE = "logins.lock"
#: The websocket close code for "your login ended" (policy violation).
LOGGED_OUT = 1008
T = TypeVar("T")
Stamp = tuple[int, int, int]


class LoginStoreError(Exception):
    """The logins file cannot be read or written.

    Attributes:
        reason: a sentence for a person (``the state directory's disk is full: ...``).
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Closable(Protocol):
    """An open stream (a fan-out subscriber) that can be closed with a code."""

    def close(self, code: int, reason: str) -> None:
        """End the stream; its handler closes the socket with ``code``."""


def _stamp(path: Path) -> Stamp | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _read(path: Path) -> dict[str, Login]:
    """The logins in the file (none when there is no file).

    Raises:
        LoginsFileError: the file is not a logins file.
        OSError: it cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    return decode(data)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock that every change of the logins file is made under."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        give_to_directory_owner(fd, state_dir)
        # Blocks only while another process writes the small file (milliseconds).
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _store_error(path: Path, exc: OSError) -> LoginStoreError:
    if exc.errno == errno.EROFS:
        reason = "the state directory is read-only: make it writable again"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "the state directory's disk is full: free some space"
    elif exc.errno == errno.EACCES:
        reason = (
            f"permission denied: run this as the user tuner runs as (the owner of {path.parent})"
        )
    else:
        reason = f"the state directory cannot be written ({exc.strerror})"
    return LoginStoreError(f"cannot save the logins in {path}: {reason}", reason)


def _move_aside(path: Path, why: LoginsFileError, then: str) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.unusable-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.unusable-{stamp}-{n}")
    try:
        path.replace(kept)
    except OSError as exc:
        log.error("the logins file %s cannot be used (%s) nor moved aside: %s", path, why, exc)
        return
    log.error(
        "the logins file %s could not be used (%s); it was kept as %s, %s", path, why, kept, then
    )


class LoginStore:
    """The daemon's logins: held in memory, kept in the state directory.

    Requests are checked against memory (:meth:`check`); each change is written
    through at once (:meth:`create`, :meth:`revoke`); what another process changed is
    taken in by :meth:`refresh`; the last uses are written by :meth:`save_if_due`.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        save_every: float = SAVE_SEEN_EVERY,
    ) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOGINS_FILE
        self.table = LoginTable(save_every=save_every)
        self._clock = clock
        self._stamp: Stamp | None = None
        #: A change that could not be written yet (a logout on a full disk).
        self._must_write = False
        #: The file was damaged and moved aside: what is held is the truth until written.
        self._file_lost = False
        #: Why the last write failed (said once, not at every retry).
        self._problem: str | None = None
        self._streams: dict[str, set[Closable]] = {}

    @classmethod
    def open(
        cls,
        state_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        save_every: float = SAVE_SEEN_EVERY,
    ) -> LoginStore:
        """The store with the logins saved in ``state_dir``.

        A file that cannot be used is renamed to ``logins.json.unusable-<time>``
        (every browser then logs in again).

        Raises:
            ConfigError: the file cannot be read (permissions).
        """
        store = cls(state_dir, clock=clock, save_every=save_every)
        try:
            saved = _read(store.path)
        except LoginsFileError as exc:
            _move_aside(store.path, exc, "and every browser must log in again")
            saved = {}
        except OSError as exc:
            raise ConfigError(f"state_dir: cannot read {store.path}: {exc.strerror}") from None
        now = store._clock()
        for login in saved.values():
            if now < login.expires:
                store.table.add(login)
        store._stamp = _stamp(store.path)
        return store

    # --- requests (memory only) -----------------------------------------------------

    def check(self, login_id: str) -> Login | None:
        """The login ``login_id`` while it holds (not ended, not expired)."""
        return self.table.get(login_id, self._clock())

    def seen(self, login_id: str, address: str) -> None:
        """The login made a request now (written out later)."""
        self.table.seen(login_id, self._clock(), address)

    # --- changes (written through) --------------------------------------------------

    def create(self, device: str, address: str, ttl: float) -> Login:
        """A new login, saved before it is returned.

        Raises:
            LoginStoreError: it cannot be saved (nothing was changed then).
        """
        now = self._clock()
        login = Login(new_id(), device, address, now, now, now + ttl)

        def add(table: LoginTable) -> list[Login]:
            return table.add(login)

        try:
            ended = self._change(add)
        except LoginStoreError:
            self.table.remove(login.id)
            raise
        for old in ended:
            log.info(
                "login %s (%s) ended: the %d most recent are kept",
                old.id,
                old.device,
                self.table.max_logins,
            )
        self.close_streams([old.id for old in ended])
        return login

    def revoke(self, login_id: str) -> Login | None:
        """End a login now (a logout): its cookie is refused and its streams closed.

        It ends in this daemon even when the file cannot be written; the write is
        then retried until it works.

        Raises:
            LoginStoreError: it cannot be saved yet.
        """
        ended = self.table.remove(login_id)
        self.close_streams([login_id])
        self._must_write = True
        self._change(lambda table: table.remove(login_id))
        return ended

    def revoke_all(self) -> None:
        """End every login now (the cookie secret changed: their cookies are void),
        so that ``tuner sessions`` lists none of them; a failed write is retried."""
        ended = self.table.records(self._clock())
        for login in ended:
            self.table.remove(login.id)
        self.close_streams([login.id for login in ended])
        self.save()

    def refresh(self) -> list[Login]:
        """Take in a change another process made to the file (``tuner sessions
        revoke``); returns the logins it ended, whose streams are then closed."""
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return []
        try:
            saved = _read(self.path)
        except LoginsFileError as exc:
            # Edited by hand, or damaged: what this daemon holds is written back.
            self._lost(exc)
            return []
        except OSError as exc:
            self._report(_store_error(self.path, exc))
            return []
        self._stamp = stamp
        return self._merge(saved)

    def _merge(self, saved: dict[str, Login]) -> list[Login]:
        """Merge the file's logins into ours; end at once those gone from it."""
        gone = self.table.merge(saved)
        for login in gone:
            log.warning(
                "login %s (%s, %s) was ended: its cookie is refused from now on",
                login.id,
                login.device,
                login.address,
            )
        self.close_streams([login.id for login in gone])
        return gone

    @property
    def pending(self) -> bool:
        """Whether something held is not in the file yet (last uses, a logout)."""
        return self._must_write or self.table.unsaved

    def save_if_due(self) -> None:
        """Write the last uses out when they are old enough (or a change is pending)."""
        if self._must_write or self.table.save_due(self._clock()):
            self.save()

    def save(self) -> None:
        """Write what is held now; a failure is logged (once) and retried later."""
        self._must_write = True
        with contextlib.suppress(LoginStoreError):
            self._change(lambda table: None)

    def _change(self, change: Callable[[LoginTable], T]) -> T:
        try:
            with _locked(self.state_dir):
                saved: dict[str, Login] | None = None
                try:
                    if not self._file_lost:
                        saved = _read(self.path)
                except LoginsFileError as exc:
                    self._lost(exc)
                if saved is not None:
                    self._merge(saved)
                result = change(self.table)
                replace_private(self.path, encode(self.table.records(self._clock())))
                self._stamp = _stamp(self.path)
        except OSError as exc:
            error = _store_error(self.path, exc)
            self._report(error)
            raise error from None
        self.table.mark_saved()
        self._must_write = self._file_lost = False
        if self._problem is not None:
            log.info("the logins file %s can be written again", self.path)
            self._problem = None
        return result

    def _lost(self, why: LoginsFileError) -> None:
        _move_aside(self.path, why, "and the logins this daemon holds are written back")
        self._file_lost = self._must_write = True
        self._stamp = None

    def _report(self, error: LoginStoreError) -> None:
        if error.reason != self._problem:
            log.error("%s", error)
        self._problem = error.reason

    # --- open streams -----------------------------------------------------------------

    def hold(self, login_id: str, stream: Closable) -> None:
        """Remember an open stream of ``login_id`` (until :meth:`release`), so that the
        login's end closes it; closes it at once if the login ended meanwhile."""
        self._streams.setdefault(login_id, set()).add(stream)
        if self.check(login_id) is None:
            stream.close(LOGGED_OUT, "logged out")

    def release(self, login_id: str, stream: Closable) -> None:
        """Forget a stream that ended (idempotent)."""
        held = self._streams.get(login_id)
        if held is not None:
            held.discard(stream)
            if not held:
                del self._streams[login_id]

    def close_streams(self, login_ids: list[str]) -> int:
        """Close the open streams of these logins (1008 ``logged out``); how many."""
        closed = 0
        for login_id in login_ids:
            for stream in list(self._streams.get(login_id, ())):
                stream.close(LOGGED_OUT, "logged out")
                closed += 1
        return closed


# --- the command line -------------------------------------------------------------------


def _existing(state_dir: Path) -> Path:
    if not state_dir.is_dir():
        raise LoginStoreError(
            f"the state directory {state_dir} does not exist: name tuner serve's with "
            "--state-dir (or run this as the user tuner runs as)",
            "no state directory",
        )
    return state_dir / LOGINS_FILE


def list_logins(state_dir: Path, now: float | None = None) -> list[Login]:
    """The logins saved in ``state_dir`` that have not expired, oldest first.

    The last uses are as the daemon last wrote them (every minute at most).

    Raises:
        LoginStoreError: no such directory, or the file cannot be read.
    """
    path = _existing(state_dir)
    table = LoginTable()
    try:
        saved = _read(path)
    except LoginsFileError as exc:
        raise LoginStoreError(f"{path} cannot be used: {exc}", str(exc)) from None
    except OSError as exc:
        raise _store_error(path, exc) from None
    for login in saved.values():
        table.add(login)
    return table.records(time.time() if now is None else now)


def revoke_logins(state_dir: Path, wanted: str | None) -> list[Login]:
    """End the login whose id is (or begins with) ``wanted``, or all with ``None``;
    returns those ended. A running daemon notices within a second.

    Raises:
        LoginStoreError: no such directory, or the file cannot be read or written.
        LookupError: no login has that id (or several begin with it).
    """
    path = _existing(state_dir)
    try:
        with _locked(state_dir):
            try:
                saved = _read(path)
            except LoginsFileError as exc:
                raise LoginStoreError(f"{path} cannot be used: {exc}", str(exc)) from None
            now = time.time()
            live = [login for login in saved.values() if now < login.expires]
            ended = live if wanted is None else [find(live, wanted)]
            ended_ids = {login.id for login in ended}
            if ended or len(live) != len(saved):
                replace_private(path, encode(x for x in live if x.id not in ended_ids))
    except OSError as exc:
        raise _store_error(path, exc) from None
    return ended
