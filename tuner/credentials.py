"""The PIN, the cookie-signing secret and the device key: where they come from and
how they are kept.

The PIN comes from ``TUNER_PIN``, else a PIN file (``pin_file`` in the config), else
the state directory, where a random one is made on first start (mode 0600) and
printed once. The secret (``secret``, signs session cookies) and the device key
(``device_key``, signs device marks) are random, kept in the state directory, and
never leave it. ``tuner rotate-secret`` replaces the secret only: browsers that
logged in before stay known devices (see :mod:`tuner.core.throttle`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import attrs

from tuner.config import ConfigError, Settings
from tuner.core.tokens import SECRET_BYTES, is_valid_pin

PIN_ENV = "TUNER_PIN"
GENERATED_PIN_DIGITS = 6


@attrs.frozen
class Pin:
    """The PIN in force and where it came from (for the log; never the PIN itself)."""

    value: str = attrs.field(repr=False)
    source: str
    created: bool = False


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state directory (mode 0700) or explain why it cannot be used."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"state_dir {state_dir}: cannot create it: {exc.strerror}") from None
    if not os.access(state_dir, os.W_OK):
        raise ConfigError(f"state_dir {state_dir}: not writable by this user")


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: never clobber a file another process wrote meanwhile; 0600 from birth.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        give_to_directory_owner(f.fileno(), path.parent)
        f.write(data)
        f.flush()
        # On the disk before anyone relies on it (a key that a power cut loses would
        # silently invalidate every cookie signed with it).
        os.fsync(f.fileno())


def give_to_directory_owner(fd: int, directory: Path) -> None:
    """Give a file root makes (``sudo tuner sessions revoke``) to the state directory's
    owner, so that the daemon, running as that user, can still read it."""
    if os.geteuid() != 0:
        return
    owner = os.stat(directory)
    if owner.st_uid != 0:
        os.fchown(fd, owner.st_uid, owner.st_gid)


def replace_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so that a reader, a crash or a
    ``kill -9`` at any moment finds the old content or the new, never a mix.

    The new content is written aside, flushed to the disk, renamed over the old file,
    and the directory flushed, so that the rename itself survives a power cut.

    Raises:
        OSError: it cannot be written (nothing was changed then).
    """
    aside = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        aside.unlink(missing_ok=True)
        _write_private(aside, data)
        os.replace(aside, path)
    except OSError:
        with contextlib.suppress(OSError):
            aside.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read_pin(path: Path, source: str) -> str:
    try:
        pin = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read PIN file {path}: {exc.strerror}") from None
    if not is_valid_pin(pin):
        raise ConfigError(f"{source}: the PIN in {path} must be 4 to 12 digits")
    return pin


def find_pin(settings: Settings, environ: Mapping[str, str] | None = None) -> Pin | None:
    """The PIN in force, or ``None`` when there is none yet (nothing is made: the
    ``tuner queue`` commands use this to log in to a running daemon).

    Raises:
        ConfigError: a configured PIN that is not 4 to 12 digits, or an unreadable file.
    """
    environ = os.environ if environ is None else environ
    from_env = environ.get(PIN_ENV)
    if from_env is not None and from_env != "":
        if not is_valid_pin(from_env.strip()):
            raise ConfigError(f"environment variable {PIN_ENV}: must be 4 to 12 digits")
        return Pin(from_env.strip(), f"environment variable {PIN_ENV}")
    if settings.pin_file is not None:
        return Pin(_read_pin(settings.pin_file, "pin_file"), str(settings.pin_file))
    stored = settings.state_dir / "pin"
    if stored.exists():
        return Pin(_read_pin(stored, "state_dir"), str(stored))
    return None


def load_pin(settings: Settings, environ: Mapping[str, str] | None = None) -> Pin:
    """Find the PIN, making and storing one if none is configured.

    Raises:
        ConfigError: a configured PIN that is not 4 to 12 digits, or an unreadable file.
    """
    found = find_pin(settings, environ)
    if found is not None:
        return found
    stored = settings.state_dir / "pin"
    pin = "".join(secrets.choice("0123456789") for _ in range(GENERATED_PIN_DIGITS))
    try:
        _write_private(stored, pin.encode() + b"\n")
    except FileExistsError:
        return Pin(_read_pin(stored, "state_dir"), str(stored))
    except OSError as exc:
        raise ConfigError(
            f"state_dir: cannot store a new PIN in {stored}: {exc.strerror}"
        ) from None
    return Pin(pin, str(stored), created=True)


def load_secret(state_dir: Path) -> bytes:
    """The cookie-signing secret, made on first use.

    Replacing it (``tuner rotate-secret``) or deleting it logs every browser out.

    Raises:
        ConfigError: it cannot be read or made, or is too short.
    """
    return _load_key(state_dir / "secret")


def load_device_key(state_dir: Path) -> bytes:
    """The key that signs device marks, made on first use.

    ``tuner rotate-secret`` leaves it alone; deleting it (and restarting) makes every
    browser an unknown client again until its next login.

    Raises:
        ConfigError: it cannot be read or made, or is too short.
    """
    return _load_key(state_dir / "device_key")


def _load_key(path: Path) -> bytes:
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = secrets.token_bytes(SECRET_BYTES)
        try:
            _write_private(path, secret)
        except FileExistsError:
            secret = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"state_dir: cannot write {path}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"state_dir: cannot read {path}: {exc.strerror}") from None
    if len(secret) < SECRET_BYTES:
        raise ConfigError(f"state_dir: {path} is shorter than {SECRET_BYTES} bytes; delete it")
    return secret


def rotate_secret(state_dir: Path) -> None:
    """Replace the cookie secret, so that every cookie signed so far is refused.

    The new file is written aside and renamed over the old one: a daemon reading it
    meanwhile sees the old secret or the new one, never half of either.

    Raises:
        ConfigError: the state directory cannot be written.
    """
    path = state_dir / "secret"
    try:
        replace_private(path, secrets.token_bytes(SECRET_BYTES))
    except OSError as exc:
        raise ConfigError(f"state_dir: cannot write a new {path}: {exc.strerror}") from None


def secret_stamp(state_dir: Path) -> tuple[int, int, int] | None:
    """What tells that the secret file changed: its inode, mtime and size (None: gone)."""
    try:
        info = (state_dir / "secret").stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size
