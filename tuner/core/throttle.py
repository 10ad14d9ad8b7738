"""How often a wrong PIN may be tried: per client address, and for everyone at once.

Sans-IO: the caller passes the time. The web layer asks :meth:`LoginThrottle.wait`
before it looks at a PIN (a locked-out attempt is answered 429 and tests nothing),
then reports the outcome with :meth:`failed` or :meth:`succeeded`.

- **Per address**: the first :attr:`free_failures` wrong PINs cost nothing; each one
  after that locks the address out for twice as long as the last, from
  :attr:`base_delay` up to :attr:`max_delay`. A right PIN, or a day without a wrong
  one, clears the address. IPv6 clients count per /64, as one host usually owns it.
- **Globally**: wrong PINs from all addresses together draw on a bucket of
  :attr:`global_burst` that refills one every :attr:`global_refill`. An empty bucket
  locks everyone out until it refills, so many addresses guess no faster than one.

With the defaults, 10,000 guesses take more than a year however many addresses
guess (``tests/core/test_throttle.py`` plays the fastest attacker to show it), while
a person who mistypes a few times waits seconds at most. A browser that is logged in
stays logged in through any lockout: only new logins wait.
"""

from __future__ import annotations

import ipaddress
import math

import attrs

#: The key of the bucket that every address draws on.
EVERYONE = "*"


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
    #: An address with no wrong PIN for this long starts afresh.
    forget_after: float = 86400.0
    global_burst: int = 20
    #: 72 minutes a token: 20 wrong PINs a day, everyone together.
    global_refill: float = 4320.0
    #: Addresses remembered at most (the oldest are forgotten first).
    max_addresses: int = 10_000
    _addresses: dict[str, _Address] = attrs.field(factory=dict, init=False)
    #: The bucket's tokens and when they were counted (None: full, not yet used).
    _tokens: float | None = attrs.field(default=None, init=False)
    _tokens_at: float = attrs.field(default=0.0, init=False)

    def wait(self, address: str, now: float) -> float:
        """Seconds ``address`` must wait before its next PIN is looked at (0: none)."""
        own = self._addresses.get(key_of(address))
        own_wait = own.locked_until - now if own is not None else 0.0
        return max(0.0, own_wait, self.global_wait(now))

    def failed(self, address: str, now: float) -> float:
        """Count a wrong PIN from ``address``; returns how long it is now locked out."""
        self._tokens = self._refill(now) - 1
        key = key_of(address)
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
        return self.wait(address, now)

    def succeeded(self, address: str) -> None:
        """A right PIN from ``address``: its count starts afresh."""
        self._addresses.pop(key_of(address), None)

    def failures(self, address: str) -> int:
        """Wrong PINs counted against ``address`` (for the log)."""
        entry = self._addresses.get(key_of(address))
        return entry.failures if entry is not None else 0

    def global_wait(self, now: float) -> float:
        """Seconds until anyone may try a PIN again (0: now)."""
        tokens = self._refill(now)
        return 0.0 if tokens >= 1 else (1 - tokens) * self.global_refill

    def _refill(self, now: float) -> float:
        full = float(self.global_burst)
        if self._tokens is None:
            tokens = full
        else:
            elapsed = max(0.0, now - self._tokens_at)
            tokens = min(full, self._tokens + elapsed / self.global_refill)
        self._tokens, self._tokens_at = tokens, now
        return tokens


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


def retry_after_header(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
