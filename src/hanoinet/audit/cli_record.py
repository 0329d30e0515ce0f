"""Each command run recorded in the audit log — kept apart from the audit commands so that the root command can
enter a command's entry before it runs without importing the audit service, SQLAlchemy or rich tables (issue 10:
the CLI imports only what the command uses)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from hanoinet.platform import events
from hanoinet.platform.cli import actor, built_node, err, node, principal
from hanoinet.platform.events import Actor, Channel, Event, Outcome

GLOBAL_OPTIONS_WITH_VALUE = frozenset({"--data-dir"})

PUBLIC_READS = frozenset({("treaty", "status"), ("treaty", "party"), ("treaty", "basis"), ("packs", "list")})
"""Commands that read only public data — the depositary's treaty records and the shipped rule packs — and change
nothing: they are not recorded, whichever path answers them (the CLI's quick path, ``app.quick_read``, reads them
without the node, and so without the audit log's keys and database)."""


def command_words(argv: list[str]) -> list[str]:
    """The command's name, e.g. ``["user", "list"]`` for ``hanoinet --data-dir /x user list --json``."""
    start = 0
    while start < len(argv) and argv[start].startswith("-"):
        start += 2 if argv[start] in GLOBAL_OPTIONS_WITH_VALUE else 1
    return [a for a in argv[start:] if not a.startswith("-")][:2]


def _command_event(argv: list[str], words: list[str], code: int, object_id: str = "") -> Event:
    """The audit event of a command: who ran it, in which roles, with its arguments and exit code."""
    try:
        roles = principal().roles
    except (typer.Exit, SystemExit):  # bad $HANOINET_ROLES: the command already said so; record it without roles
        roles = frozenset()
    outcome = Outcome.OK if code == 0 else Outcome.REFUSED if code == 5 else Outcome.FAILED
    extra = {"changed": object_id} if object_id else {}
    return Actor(actor(), roles, Channel.CLI, "local").event(
        f"command:{'-'.join(words)}", "command", " ".join(words), outcome=outcome, argv=argv[:40], exit=code, **extra
    )


def _audited_words(argv: list[str]) -> list[str]:
    """The command's words if its run is recorded (empty if not: help, long-running commands, reading the log)."""
    if not argv or argv[0] in ("--help", "--install-completion", "--show-completion") or "--help" in argv:
        return []
    words = command_words(argv)
    if not words or words[0] in ("serve", "demo", "init") or (words[0] == "audit" and words[1:2] != ["verify"]):
        return []  # long-running commands audit what they do themselves; reading the log is not a change
    if tuple(words) in PUBLIC_READS:
        return []
    return words


@contextmanager
def command_entry(argv: list[str]) -> Iterator[events.RouteEntry | None]:
    """Make the command's audit entry the one a service writes with its change, in the change's transaction (as a
    route's is): a command that changes something is recorded exactly when the change commits."""
    words = _audited_words(argv)
    if not words:
        yield None
        return
    entry = events.RouteEntry(node, lambda object_id: _command_event(argv, words, 0, object_id))
    with events.route_entry(entry):
        yield entry


def record_command(argv: list[str], code: int, entry: events.RouteEntry | None = None) -> None:
    """Record a command-line invocation in the audit log (secrets never are on the command line), unless its
    change already wrote its entry and it then succeeded; a command that failed after a change is recorded again,
    with its failure."""
    words = _audited_words(argv)
    if not words or (entry is not None and entry.written and code == 0):
        return
    n = built_node()
    if n is None:
        return
    from hanoinet.audit import service as audit_services  # noqa: PLC0415 - only a command that built a node is recorded

    try:
        audit_services.log(n, _command_event(argv, words, code))
    except Exception as exc:
        err.print(f"[yellow]warning:[/] the command could not be recorded in the audit log: {exc}", highlight=False)
