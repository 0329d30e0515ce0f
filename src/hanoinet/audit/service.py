"""Recording and reading the audit log (``domain.audit``): every entry through one function, ``record``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from hanoinet.audit.domain import AuditEntry, chain, check_log
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform import events
from hanoinet.platform.errors import Issue, ValidationFailed
from hanoinet.platform.events import Channel, Event, Outcome
from hanoinet.platform.logsafe import csv_cell
from hanoinet.platform.ports import MAX_PAGE, Signer

if TYPE_CHECKING:
    from hanoinet.app.node import Node, UnitOfWork

MAX_EXPORT = 1_000_000


def _signer(node: Node) -> Signer:
    if node.signer is None:
        raise RuntimeError("this node was built without a signing key: it cannot keep an audit log")
    return node.signer


def record(uow: UnitOfWork, node: Node, event: Event, at: datetime | None = None) -> AuditEntry:
    """Append ``event`` to the log inside ``uow`` (committed with the caller's change), chained and signed."""
    head = uow.audit.lock_head()
    entry = chain(head, event, at or node.now_wall())
    signed = replace(entry, signature=_signer(node).sign(entry.message()))
    uow.audit.append(signed)
    return signed


def by_node(
    peer: str, action: str, subject: str, object_id: str = "", outcome: Outcome = Outcome.OK, **details: object
) -> Event:
    """An event caused by another node (a transmission taken or refused, evidence received)."""
    return Event(peer or "unknown node", (), Channel.NODE, action, subject, object_id, outcome, dict(details))


def attach(uow: UnitOfWork, object_id: str = "") -> None:
    """Write the call's pending audit entry (if any, and not yet written) in ``uow``, the transaction of the call's
    change, about to commit. Services call it only for the change itself — never for a refusal they record — so
    that an entry saying "ok" stands exactly when the change does."""
    entry = events.pending_entry()
    if entry is not None:
        write_entry(uow, entry, object_id)
        entry.written = True


def write_entry(uow: UnitOfWork, entry: events.RouteEntry, object_id: str = "") -> None:
    """Write a call's audit entry in ``uow`` (the caller marks it written once that commits)."""
    record(uow, entry.node_of(), entry.event(object_id))


def log(node: Node, event: Event) -> AuditEntry:
    """Append ``event`` in a transaction of its own (reads, sign-ins, refusals: nothing else to commit)."""
    with node.uow() as uow:
        entry = record(uow, node, event)
        uow.commit()
    return entry


def entries(node: Node, query: AuditQuery) -> Sequence[AuditEntry]:
    """Entries matching the query, newest first."""
    with node.uow() as uow:
        return uow.audit.entries(query)


@dataclass
class AuditReport:
    """What ``verify`` found."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the chain, every hash and every signature hold."""
        return not self.problems


def verify(node: Node) -> AuditReport:
    """Recompute the whole chain: every entry's hash, its link to the one before, the node's signature, the head."""
    signer = _signer(node)
    with node.uow() as uow:
        all_entries = list(uow.audit.all())
        head = uow.audit.head_row()
    return AuditReport(len(all_entries), check_log(all_entries, head, signer.verify))


CSV_FIELDS = (
    "seq",
    "at",
    "actor",
    "roles",
    "channel",
    "action",
    "subject",
    "object_id",
    "outcome",
    "remote",
    "details",
    "prev_hash",
    "hash",
)


def _pages(node: Node, query: AuditQuery) -> Iterator[AuditEntry]:
    """The latest entries matching ``query`` (up to its limit), oldest first, one database page at a time."""
    left, after = query.limit, query.after_seq
    with node.uow() as uow:  # where the latest ``limit`` matches begin (all of them, if there are fewer)
        first = uow.audit.entries(replace(query, oldest_first=False, limit=1, offset=query.offset + query.limit - 1))
    if first:
        after = first[0].seq - 1
    while left > 0:
        page_query = replace(query, oldest_first=True, after_seq=after, limit=min(left, MAX_PAGE), offset=0)
        with node.uow() as uow:
            page = list(uow.audit.entries(page_query))
        yield from page
        if len(page) < page_query.limit:
            return
        left -= len(page)
        after = page[-1].seq


def export_csv(node: Node, query: AuditQuery) -> Iterator[str]:
    """The matching entries, oldest first, as CSV lines (with each entry's hash, so that an export can be checked
    against the node's log later), read page by page in sequence order: every match up to ``query.limit``, and
    entries appended while the export runs cannot shift it. A cell a spreadsheet would read as a formula (an actor
    named ``=HYPERLINK(…)``, an object id from a peer) is prefixed with a quote (``platform.logsafe.csv_cell``): the
    export is opened by auditors, and the values in it were typed by anyone. The hashes are those of the entries as
    stored: to check a cell against its hash, take off a quote that precedes ``= + - @``, a tab or a CR."""
    if query.limit > MAX_EXPORT:
        raise ValidationFailed([Issue("limit", f"at most {MAX_EXPORT} entries per export")])
    pages = _pages(node, query)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    yield buffer.getvalue()
    for e in pages:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                e.seq,
                *map(
                    csv_cell,
                    (
                        e.at.isoformat(),
                        e.actor,
                        " ".join(e.roles),
                        e.channel.value,
                        e.action,
                        e.subject,
                        e.object_id,
                        e.outcome.value,
                        e.remote,
                        json.dumps(e.details, sort_keys=True, ensure_ascii=False),
                        e.prev_hash,
                        e.hash,
                    ),
                ),
            ]
        )
        yield buffer.getvalue()


Kind = TypeVar("Kind", bound=StrEnum)

FILTER_LENGTHS = {"actor": 256, "action": 64, "subject": 32, "object_id": 128}
"""The longest value each text filter can match (the audit table's column widths)."""


def _text(name: str, value: str | None, issues: list[Issue]) -> str | None:
    """A text filter, trimmed (empty: no filter); one longer than any value it could match is an issue."""
    cleaned = (value or "").strip()
    if len(cleaned) > FILTER_LENGTHS[name]:
        issues.append(Issue(name, f"must be at most {FILTER_LENGTHS[name]} characters"))
    return cleaned or None


def _member(name: str, value: str | Kind | None, kinds: type[Kind], issues: list[Issue]) -> Kind | None:
    """The member of ``kinds`` a filter names (empty: no filter); a value that names none is an issue."""
    if not value:
        return None
    try:
        return kinds(value)
    except ValueError:
        issues.append(Issue(name, f"must be one of {', '.join(k.value for k in kinds)}"))
        return None


def _moment(name: str, value: str | date | datetime | None, issues: list[Issue], *, end: bool) -> datetime | None:
    """A filter's time: a date means its whole day in UTC (``until`` then ends at the next midnight), a time
    without a zone is UTC — the log's own clock; one that is neither is an issue."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            issues.append(Issue(name, "must be a date (YYYY-MM-DD) or a time (ISO 8601)"))
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def filter_query(
    *,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
    object_id: str | None = None,
    outcome: str | Outcome | None = None,
    channel: str | Channel | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> AuditQuery:
    """The query for filters as an auditor gives them (a form, API parameters, command-line options): empty values
    are no filter, and every bad value is named in one ValidationFailed, so that the web UI, the API and the CLI
    filter the log alike. Each field is read by its own kind of reader, which notes what is wrong with it in
    ``issues``; the query is returned only when there is none."""
    issues: list[Issue] = []
    query = AuditQuery(
        actor=_text("actor", actor, issues),
        action=_text("action", action, issues),
        subject=_text("subject", subject, issues),
        object_id=_text("object_id", object_id, issues),
        outcome=_member("outcome", outcome, Outcome, issues),
        channel=_member("channel", channel, Channel, issues),
        since=_moment("since", since, issues, end=False),
        until=_moment("until", until, issues, end=True),
        limit=limit,
        offset=offset,
    )
    if query.since and query.until and query.until <= query.since:
        issues.append(Issue("until", "must be after since"))
    if not 1 <= limit <= MAX_EXPORT:
        issues.append(Issue("limit", f"must be from 1 to {MAX_EXPORT}"))
    if offset < 0:
        issues.append(Issue("offset", "must be 0 or more"))
    if issues:
        raise ValidationFailed(issues)
    return query
