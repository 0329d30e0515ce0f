"""What every audited call is made of — who acts (``Actor``), through which channel, what they did and how it
ended (``Event``) — and the call's pending entry, which the service making the call's change writes in that
change's transaction.

These are kernel concepts: the HTTP guard, the CLI and every capability's services name callers and events, while
the ``audit`` capability keeps the log they go into (``audit.domain`` chains entries, ``audit.service`` writes them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hanoinet.platform.permissions import Principal, Role

if TYPE_CHECKING:
    from hanoinet.app.node import Node


class Outcome(StrEnum):
    """How an audited action ended."""

    OK = "ok"
    REFUSED = "refused"  # not allowed: permissions, handling conditions, lockout
    FAILED = "failed"  # allowed but unsuccessful: a wrong password, invalid input


class Channel(StrEnum):
    """Where an action came from."""

    WEB = "web"
    API = "api"
    CLI = "cli"
    NODE = "node"


@dataclass(frozen=True, slots=True)
class Event:
    """An action to audit, before it has a place in the chain."""

    actor: str
    roles: tuple[str, ...]
    channel: Channel
    action: str
    subject: str
    object_id: str = ""
    outcome: Outcome = Outcome.OK
    details: dict[str, Any] = field(default_factory=dict)
    remote: str = ""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something, with which roles, through which channel, from where: what the audit log records."""

    name: str
    roles: frozenset[Role]
    channel: Channel
    remote: str = ""

    @property
    def principal(self) -> Principal:
        """The same person, as handling conditions see them."""
        return Principal(self.name, self.roles)

    def event(self, action: str, subject: str, object_id: str = "", **details: object) -> Event:
        """An audit event by this actor."""
        outcome = details.pop("outcome", Outcome.OK)
        return Event(
            actor=self.name,
            roles=tuple(sorted(r.value for r in self.roles)),
            channel=self.channel,
            action=action,
            subject=subject,
            object_id=object_id,
            outcome=Outcome(str(outcome)),
            details=dict(details),
            remote=self.remote,
        )


@dataclass
class RouteEntry:
    """The audit entry of the call in progress — an API or web route (``platform.security``) or a CLI command
    (``audit.cli``): the service that makes the call's change writes it in the change's own transaction
    (``attach``) — atomic with the change, and one commit instead of two — else the entry point writes it after
    the call, with the call's outcome."""

    node_of: Callable[[], Node]
    """The node whose log it goes to (a CLI command builds its node after the entry is made)."""
    event: Callable[[str], Event]
    """The entry, given the object id if the service names one (a request just created)."""
    written: bool = False


_CURRENT: ContextVar[RouteEntry | None] = ContextVar("hanoinet_route_audit_entry", default=None)


@contextmanager
def route_entry(entry: RouteEntry) -> Iterator[RouteEntry]:
    """Make ``entry`` the call's pending audit entry while the route runs."""
    token = _CURRENT.set(entry)
    try:
        yield entry
    finally:
        _CURRENT.reset(token)


def pending_entry() -> RouteEntry | None:
    """The call's audit entry if it is still to be written — for a service whose change another thread commits
    (``GroupCommit``): it writes the entry with ``write_entry`` in that transaction and marks it written after."""
    entry = _CURRENT.get()
    return None if entry is None or entry.written else entry
