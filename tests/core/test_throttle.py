"""The login throttle: per-address backoff, the global bucket, and what they add up to."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from tuner.core.health import Health, Level
from tuner.core.throttle import LoginThrottle, key_of, retry_after_header

DAY = 86400.0
YEAR = 365 * DAY


def test_a_few_mistakes_cost_nothing_then_the_wait_doubles_up_to_the_cap() -> None:
    throttle = LoginThrottle(global_burst=10_000)
    waits = [throttle.failed("203.0.113.5", 0.0) for _ in range(20)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:10] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert waits[-1] == 3600.0
    assert throttle.wait("203.0.113.5", 3599.0) == 1.0
    assert throttle.wait("203.0.113.5", 3600.0) == 0.0
    # Another address is not held back by this one.
    assert throttle.wait("198.51.100.7", 0.0) == 0.0


def test_a_right_pin_or_a_quiet_day_starts_the_address_afresh() -> None:
    throttle = LoginThrottle(global_burst=10_000)
    for _ in range(7):
        throttle.failed("203.0.113.5", 0.0)
    throttle.succeeded("203.0.113.5")
    assert throttle.failures("203.0.113.5") == 0
    assert throttle.wait("203.0.113.5", 0.0) == 0.0
    for _ in range(7):
        throttle.failed("203.0.113.6", 0.0)
    assert throttle.failed("203.0.113.6", DAY + 1) == 0.0
    assert throttle.failures("203.0.113.6") == 1


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert key_of("2001:db8:1:2:aaaa::1") == key_of("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert key_of("2001:db8:1:3::1") != key_of("2001:db8:1:2::1")
    assert key_of("::ffff:192.0.2.1") == "192.0.2.1"
    throttle = LoginThrottle(global_burst=10_000)
    for host in range(6):
        throttle.failed(f"2001:db8:1:2::{host + 1}", 0.0)
    assert throttle.wait("2001:db8:1:2::99", 0.0) == 1.0


def test_many_addresses_drain_one_bucket_that_refills_slowly() -> None:
    throttle = LoginThrottle(global_burst=20, global_refill=4320.0)
    for n in range(20):
        throttle.failed(f"192.0.2.{n}", 0.0)
    # A fresh address now waits for a token, as everyone does.
    assert throttle.wait("198.51.100.1", 0.0) == 4320.0
    assert throttle.wait("198.51.100.1", 4320.0) == 0.0
    throttle.failed("198.51.100.1", 4320.0)
    assert throttle.global_wait(4320.0) == 4320.0


def test_memory_is_bounded_by_forgetting_the_oldest_addresses() -> None:
    throttle = LoginThrottle(global_burst=10**9, max_addresses=100)
    for n in range(1000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}", float(n))
    assert throttle.failures("10.0.3.231") == 1  # the newest is kept
    assert throttle.failures("10.0.0.0") == 0  # the oldest went


def _time_for_guesses(addresses: int, guesses: int) -> float:
    """The fastest a guesser using ``addresses`` addresses in turn gets its guesses
    looked at, waiting exactly as long as the throttle says each time."""
    throttle = LoginThrottle()
    now = 0.0
    pool = itertools.cycle(
        [f"10.{n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(addresses)]
    )
    for address in itertools.islice(pool, guesses):
        now += throttle.wait(address, now)
        throttle.failed(address, now)
    return now


def test_ten_thousand_guesses_take_more_than_a_year_from_one_or_many_addresses() -> None:
    for addresses in (1, 5, 50, 10_000):
        assert _time_for_guesses(addresses, 10_000) > YEAR, addresses


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(4319.5) == "4320"


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "2001:db8::1", "2001:db8::2"]), st.floats(0, 5000)),
        max_size=60,
    )
)
def test_waits_are_never_negative_and_only_shrink_as_time_passes(
    events: list[tuple[str, float]],
) -> None:
    throttle = LoginThrottle()
    now = 0.0
    for address, step in events:
        now += step
        throttle.failed(address, now)
        first = throttle.wait(address, now)
        later = throttle.wait(address, now + 1.0)
        assert first >= 0.0
        assert later <= first


# --- known devices and the machine itself ----------------------------------------------


def _empty_the_bucket(throttle: LoginThrottle, now: float = 0.0) -> None:
    """The lockout attack: 20 wrong PINs from 4 addresses, 5 each."""
    for n in range(20):
        throttle.failed(f"192.0.2.{n % 4}", now)
    assert throttle.global_wait(now) == 4320.0


def test_an_empty_bucket_pauses_unknown_clients_but_not_known_devices() -> None:
    throttle = LoginThrottle()
    _empty_the_bucket(throttle)
    assert throttle.wait("198.51.100.1", 0.0) == 4320.0
    # A browser with a device mark, from a new address or one of the guessers'.
    assert throttle.wait("198.51.100.1", 0.0, device="owner-phone") == 0.0
    assert throttle.wait("192.0.2.0", 0.0, device="owner-phone") == 0.0
    # The machine itself (loopback, relayed by no proxy).
    assert throttle.wait("127.0.0.1", 0.0, local=True) == 0.0
    assert throttle.wait("::1", 0.0, local=True) == 0.0


def test_a_known_device_has_a_lockout_of_its_own_wherever_it_is() -> None:
    throttle = LoginThrottle(global_burst=10_000)
    # Wrong PINs under one mark from many addresses add up: a stolen mark gains no
    # speed from a botnet.
    waits = [throttle.failed(f"10.0.0.{n}", 0.0, device="stolen") for n in range(8)]
    assert waits == [0.0] * 5 + [1.0, 2.0, 4.0]
    assert throttle.wait("10.9.9.9", 0.0, device="stolen") == 4.0
    assert throttle.failures("10.9.9.9", device="stolen") == 8
    # ... and lock neither those addresses nor another device.
    assert throttle.wait("10.0.0.7", 0.0) == 0.0
    assert throttle.wait("10.0.0.7", 0.0, device="owner-phone") == 0.0
    # Nor can anyone sharing the owner's address lock the owner's device out.
    for _ in range(10):
        throttle.failed("203.0.113.9", 0.0)
    assert throttle.wait("203.0.113.9", 0.0) > 0
    assert throttle.wait("203.0.113.9", 0.0, device="owner-phone") == 0.0
    throttle.succeeded("10.9.9.9", device="stolen")
    assert throttle.failures("10.9.9.9", device="stolen") == 0


def test_the_machine_itself_is_still_locked_out_per_address() -> None:
    throttle = LoginThrottle()
    _empty_the_bucket(throttle)
    waits = [throttle.failed("127.0.0.1", 0.0, local=True) for _ in range(7)]
    assert waits == [0.0] * 5 + [1.0, 2.0]
    assert throttle.wait("127.0.0.1", 0.5, local=True) == 1.5


def test_known_devices_and_the_machine_itself_do_not_draw_on_the_bucket() -> None:
    throttle = LoginThrottle(global_burst=20)
    for n in range(100):
        throttle.failed("127.0.0.1", float(n) * 4000, local=True)
        throttle.failed(f"10.0.0.{n}", float(n) * 4000, device="owner-phone")
    assert throttle.global_wait(400_000.0) == 0.0
    assert throttle.wait("198.51.100.1", 400_000.0) == 0.0


def test_ten_thousand_guesses_with_a_stolen_device_mark_take_more_than_a_year() -> None:
    throttle = LoginThrottle()
    now = 0.0
    for n in range(10_000):
        address = f"10.{n // 65536}.{n // 256 % 256}.{n % 256}"
        now += throttle.wait(address, now, device="stolen")
        throttle.failed(address, now, device="stolen")
    assert now > YEAR


def test_health_says_until_when_an_empty_bucket_pauses_logins() -> None:
    throttle = LoginThrottle(global_burst=2, global_refill=60.0)
    assert throttle.health(0.0, 1_700_000_000.0) == Health({"logins": "ok"})
    for address in ("203.0.113.5", "198.51.100.7"):
        throttle.failed(address, 0.0)
    health = throttle.health(0.0, 1_700_000_000.0)
    assert health.components == {"logins": "paused"}
    assert health.level is Level.DEGRADED
    # 1,700,000,000 s is 2023-11-14 22:13:20 UTC; the next token comes 60 s later.
    assert health.problems == (
        "logins from new devices are paused until 2023-11-14T22:14:20Z after too many "
        "wrong PINs: log in from a device that logged in before, or from the machine "
        "itself (tuner's command line), or wait",
    )
    assert throttle.health(60.0, 1_700_000_060.0) == Health({"logins": "ok"})
