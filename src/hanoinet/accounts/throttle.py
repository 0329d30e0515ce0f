"""Sign-in throttling: failures slow down whoever fails, from where they fail, and lock nobody out.

A lockout per account (the node's rule until issue 11: five failures, fifteen minutes) lets anyone who knows a user
name keep its holder out for as long as they like, the administrator's included. Instead, every password check is
admitted (or not) by three counters of recent attempts, each with exponential backoff — after ``free`` attempts,
the next one waits ``first_delay`` seconds, then twice that, and so on up to ``max_delay`` — and an attempt that
must wait is answered at once (429 with ``Retry-After``) without hashing anything or writing anything:

- **per account and address** (``free_per_pair``, 5): someone guessing one account's password from one place;
- **per address** (``free_per_address``, 20, all accounts together, unknown user names included): someone trying
  many accounts (password spraying), or making the node hash for unknown names. IPv6 addresses count by their
  /64, which one subscriber usually holds whole;
- **per account** (``free_per_account``, 50, all addresses together) — the softer limit: it holds back only the
  addresses that have already failed on this account. An attacker spread over many addresses gets one guess per
  new address and then waits with all the others; the account's holder, signing in from any other place (or from
  where they have signed in before, in this process), is checked at once and, with the right password, gets in.

Every admitted attempt counts at once, before the (slow) check, so that parallel guesses all count, and a failure's
wait runs from when the check found it; a success
clears its own account-and-address counter, marks the pair as known (the per-address and per-account limits no
longer hold it back) and gives back its reservation on the two others; an attempt that was never checked (every
hashing slot busy) gives its reservations back. Counters are forgotten ``forget_after`` seconds after their last
attempt; at most ``max_tracked`` are kept (the least recently used go first), so a flood of made-up names cannot
grow memory without bound — and it could not create many anyway, since only admitted attempts create counters.

The state is kept in memory, per process. That is deliberate for now: it is read before anything else on every
sign-in, and an attacker's flood must not become a flood of database writes (every refusal would otherwise be
one); a restart forgets the delays, but a restart is the operator's act, not an attacker's. ``hanoinet serve``
runs one process. With several processes (a later issue, on PostgreSQL) each would keep its own counters, so an
attacker would get that many times the allowance: then the counters move to a shared table.

A legitimate user behind the same address as an attacker (one NAT) shares the per-address delay: the price of
slowing spraying down; their administrator's ``user unlock`` clears the account's own counters on this process.
"""

from __future__ import annotations

import ipaddress
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from hanoinet.accounts.domain import TooManyAttempts

TRUSTED_FOR_SECONDS = 30 * 24 * 3600.0
"""How long a place where an account signed in stays known (exempt from the per-address and per-account delays)."""


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The limits of sign-in throttling (settings ``HANOINET_LOGIN_*``, see ``platform.settings``)."""

    free_per_pair: int = 5
    free_per_address: int = 20
    free_per_account: int = 50
    first_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: float = 3600.0
    max_tracked: int = 100_000

    def delay(self, attempts: int, free: int) -> float:
        """Seconds to wait after the last of ``attempts`` before one more is checked: none within ``free``, then
        ``first_delay`` doubling with each attempt beyond, capped at ``max_delay``."""
        if attempts < free:
            return 0.0
        return min(self.first_delay * 2.0 ** min(attempts - free, 64), self.max_delay)


@dataclass(slots=True)
class _Counter:
    attempts: int = 0
    last: float = 0.0
    trusted_until: float = 0.0


def place(address: str) -> str:
    """Where an attempt comes from, as the throttle counts it: the IPv4 address, or the IPv6 /64 (an IPv4 address
    mapped into IPv6 counts as itself); anything else (a test client's name) as given, cut to 64 characters."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class SignInThrottle:
    """The counters of recent sign-in attempts of one process, and the rule that admits the next one."""

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._counters: OrderedDict[tuple[str, ...], _Counter] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counters)

    def admit(self, account: str, address: str, now: datetime) -> None:
        """Count one attempt to sign in to ``account`` from ``address``, or raise TooManyAttempts (counting
        nothing) if it must wait first."""
        at = now.timestamp()
        where = place(address)
        keys = (("pair", account, where), ("address", where), ("account", account))
        p = self.policy
        with self._lock:
            pair, by_address, by_account = (self._get(k, at) for k in keys)
            waits = [self._wait(pair, p.free_per_pair, at)]
            if pair.trusted_until <= at:
                waits.append(self._wait(by_address, p.free_per_address, at))
                if pair.attempts > 0:  # the softer limit: only places that have failed on this account
                    waits.append(self._wait(by_account, p.free_per_account, at))
            wait = max(waits)
            if wait > 0:
                raise TooManyAttempts(math.ceil(wait))
            for key, counter in zip(keys, (pair, by_address, by_account), strict=True):
                counter.attempts += 1
                counter.last = at
                self._store(key, counter)

    def failed(self, account: str, address: str, now: datetime) -> None:
        """The attempt admitted last was a failure, found at ``now``: the wait it imposes runs from then, not from
        its admission (a slow check must not eat the wait up)."""
        where = place(address)
        at = now.timestamp()
        with self._lock:
            for key in (("pair", account, where), ("address", where), ("account", account)):
                counter = self._counters.get(key)
                if counter is not None:
                    counter.last = max(counter.last, at)

    def succeeded(self, account: str, address: str, now: datetime) -> None:
        """The attempt admitted last was the right password: clear the pair's count and mark the place as known;
        give back the reservation on the per-address and per-account counters."""
        where = place(address)
        at = now.timestamp()
        with self._lock:
            pair = self._get(("pair", account, where), at)
            pair.attempts = 0
            pair.trusted_until = at + TRUSTED_FOR_SECONDS
            pair.last = at
            self._store(("pair", account, where), pair)
            self._give_back((("address", where), ("account", account)))

    def unchecked(self, account: str, address: str) -> None:
        """The attempt admitted last was never checked (no hashing slot): give back all three reservations."""
        where = place(address)
        with self._lock:
            self._give_back((("pair", account, where), ("address", where), ("account", account)))

    def delay_after(self, account: str, address: str, now: datetime) -> int:
        """Seconds before the next attempt to sign in to ``account`` from ``address`` is checked (0: at once)."""
        where = place(address)
        at = now.timestamp()
        p = self.policy
        with self._lock:
            pair = self._counters.get(("pair", account, where)) or _Counter()
            waits = [self._wait(pair, p.free_per_pair, at)]
            if pair.trusted_until <= at:
                waits.append(self._wait(self._counters.get(("address", where)) or _Counter(), p.free_per_address, at))
                if pair.attempts > 0:
                    by_account = self._counters.get(("account", account)) or _Counter()
                    waits.append(self._wait(by_account, p.free_per_account, at))
        return math.ceil(max(waits))

    def forget_account(self, account: str) -> None:
        """Clear every counter of an account (an administrator lifted its delays); per-address ones stay."""
        with self._lock:
            for key in [k for k in self._counters if k[0] in ("pair", "account") and k[1] == account]:
                del self._counters[key]

    # -- internals (called with the lock held)

    def _get(self, key: tuple[str, ...], at: float) -> _Counter:
        found = self._counters.get(key)
        if found is None:
            return _Counter()
        if at - found.last > self.policy.forget_after and found.trusted_until <= at:
            del self._counters[key]
            return _Counter()
        if at - found.last > self.policy.forget_after:
            found.attempts = 0  # a known place keeps being known, its old failures are forgotten
        return found

    def _wait(self, counter: _Counter, free: int, at: float) -> float:
        return max(0.0, counter.last + self.policy.delay(counter.attempts, free) - at)

    def _store(self, key: tuple[str, ...], counter: _Counter) -> None:
        self._counters[key] = counter
        self._counters.move_to_end(key)
        while len(self._counters) > self.policy.max_tracked:
            self._counters.popitem(last=False)

    def _give_back(self, keys: tuple[tuple[str, ...], ...]) -> None:
        for key in keys:
            counter = self._counters.get(key)
            if counter is not None and counter.attempts > 0:
                counter.attempts -= 1
