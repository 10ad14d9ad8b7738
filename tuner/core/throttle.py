"""How often a wrong PIN may be tried: per client, and for unknown clients at once.

Sans-IO: the caller passes the time. The web layer asks :meth:`LoginThrottle.wait`
before it looks at a PIN (a locked-out attempt is answered 429 and tests nothing),
then reports the outcome with :meth:`failed` or :meth:`succeeded`.

- **Per client**: the first :attr:`free_failures` wrong PINs cost nothing; each one
  after that locks the client out for twice as long as the last, from
  :attr:`base_delay` up to :attr:`max_delay`. A right PIN, or a day without a wrong
  one, clears it. A client is its address (IPv6 per /64, as one host usually owns
  it), or, for a browser with a valid device mark, that device wherever it is.
- **Unknown clients together**: wrong PINs from clients that are neither a known
  device nor the machine itself draw on a bucket of :attr:`global_burst` that
  refills one every :attr:`global_refill`. An empty bucket pauses logins for every
  unknown client until it refills, so many addresses guess no faster than one.

A *known device* carries a device mark (a signed cookie given at a login with the
right PIN); the *machine itself* is a loopback peer that no proxy relayed (the
command line). Neither draws on nor waits for the bucket, so a crowd of guessers
cannot lock the owner out; each is still held by its own lockout. A device mark is
counted per device, not per address: a stolen one gains no speed from many
addresses, and no one sharing the owner's address can lock the owner's device out.

With the defaults, 10,000 guesses take more than a year however many addresses
guess (``tests/core/test_throttle.py`` plays the fastest attacker to show it), while
a person who mistypes a few times waits seconds at most. A browser that is logged in
stays logged in through any lockout: only new logins wait.
"""

from __future__ import annotations

import ipaddress
import math
import time

import attrs

from tuner.core.health import Health, Level

#: The key of the bucket that every unknown client draws on.
EVERYONE = "*"
#: What a device's own count is kept under (an address never starts so).
_DEVICE_PREFIX = "device:"


@attrs.define
class _Address:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


@attrs.define
class LoginThrottle:
    """Lockouts after wrong PINs; see the module's docstring."""

    free_failures: int = 5
    base_delay: float = 1.0
    max_delay: float = 3600.0
    #: A client with no wrong PIN for this long starts afresh.
    forget_after: float = 86400.0
    global_burst: int = 20
    #: 72 minutes a token: 20 wrong PINs a day, all unknown clients together.
    global_refill: float = 4320.0
    #: Clients remembered at most (the oldest are forgotten first).
    max_addresses: int = 10_000
    _addresses: dict[str, _Address] = attrs.field(factory=dict, init=False)
    #: The bucket's tokens and when they were counted (None: full, not yet used).
    _tokens: float | None = attrs.field(default=None, init=False)
    _tokens_at: float = attrs.field(default=0.0, init=False)

    def wait(
        self, address: str, now: float, *, device: str | None = None, local: bool = False
    ) -> float:
        """Seconds the client must wait before its next PIN is looked at (0: none).

        Args:
            address: the client's address.
            device: the id of the client's valid device mark, if it has one.
            local: the client is the machine itself (loopback, relayed by no proxy).
        """
        own = self._addresses.get(_key(address, device))
        own_wait = own.locked_until - now if own is not None else 0.0
        if device is not None or local:
            return max(0.0, own_wait)
        return max(0.0, own_wait, self.global_wait(now))

    def failed(
        self, address: str, now: float, *, device: str | None = None, local: bool = False
    ) -> float:
        """Count a wrong PIN from the client; returns how long it is now locked out
        (the arguments are :meth:`wait`'s)."""
        if device is None and not local:
            self._tokens = self._refill(now) - 1
        key = _key(address, device)
        entry = self._addresses.pop(key, None)
        if entry is None or now - entry.last_failure > self.forget_after:
            entry = _Address()
        # Re-inserted last: the dict's order is then oldest failure first.
        self._addresses[key] = entry
        entry.failures += 1
        entry.last_failure = now
        over = entry.failures - self.free_failures
        if over > 0:
            delay = min(self.base_delay * 2.0 ** min(over - 1, 64), self.max_delay)
            entry.locked_until = now + delay
        while len(self._addresses) > self.max_addresses:
            del self._addresses[next(iter(self._addresses))]
        return self.wait(address, now, device=device, local=local)

    def succeeded(self, address: str, *, device: str | None = None) -> None:
        """A right PIN from the client: its count starts afresh."""
        self._addresses.pop(_key(address, device), None)

    def failures(self, address: str, *, device: str | None = None) -> int:
        """Wrong PINs counted against the client (for the log)."""
        entry = self._addresses.get(_key(address, device))
        return entry.failures if entry is not None else 0

    def global_wait(self, now: float) -> float:
        """Seconds until an unknown client may try a PIN again (0: now)."""
        tokens = self._refill(now)
        return 0.0 if tokens >= 1 else (1 - tokens) * self.global_refill

    def health(self, now: float, wall_now: float) -> Health:
        """The ``logins`` component of ``/healthz``: ``paused`` (degraded) while wrong
        PINs from many addresses pause logins from unknown clients; known devices and
        the machine itself can still log in.

        Args:
            now: the time :meth:`failed` is given.
            wall_now: the Unix time then, to say until when.
        """
        wait = self.global_wait(now)
        if wait <= 0:
            return Health({"logins": "ok"})
        problem = (
            f"logins from new devices are paused until {wall_time(wall_now + wait)} after "
            "too many wrong PINs: log in from a device that logged in before, or from the "
            "machine itself (tuner's command line), or wait"
        )
        return Health({"logins": "paused"}, Level.DEGRADED, (problem,))

    def _refill(self, now: float) -> float:
        full = float(self.global_burst)
        if self._tokens is None:
            tokens = full
        else:
            elapsed = max(0.0, now - self._tokens_at)
            tokens = min(full, self._tokens + elapsed / self.global_refill)
        self._tokens, self._tokens_at = tokens, now
        return tokens


def _key(address: str, device: str | None) -> str:
    return key_of(address) if device is None else _DEVICE_PREFIX + device


def key_of(address: str) -> str:
    """What an address is counted as: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def wall_time(when: float) -> str:
    """A Unix time in ISO 8601, UTC (``2025-01-31T14:05:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
