"""The audit log at the command line: verify its chain, list and export entries (each command run is recorded by
``audit.cli_record``)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hanoinet.audit import present as audit_present
from hanoinet.audit import service as audit_services
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform.cli import JsonOption, emit, err, errors, fail, node, out, shared_options
from hanoinet.platform.events import Outcome
from hanoinet.platform.logsafe import safe

audit_app = typer.Typer(help="The audit log: read it, export it, verify its chain.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit log's chain, hashes and signatures; exit 1 naming every entry that is wrong."""
    n = node()
    with errors():
        report = audit_services.verify(n)
    if report.ok:
        out.print(f"audit log intact: {report.entries} entries, chain, hashes and signatures verified")
        return
    for problem in report.problems:
        err.print(f"[red]problem:[/] {problem}", highlight=False)
    fail(f"the audit log does not verify: {len(report.problems)} problem(s) in {report.entries} entries")


ActorOption = Annotated[str | None, typer.Option("--actor", help="Only this actor.")]
ActionOption = Annotated[str | None, typer.Option(help="Only this action, e.g. evidence:download.")]
SubjectOption = Annotated[str | None, typer.Option(help="Only this subject: request, evidence, user, session …")]
ObjectOption = Annotated[str | None, typer.Option("--object", help="Only about this object id.")]
OutcomeOption = Annotated[Outcome | None, typer.Option(help="ok, refused or failed.")]
SinceOption = Annotated[datetime | None, typer.Option(help="From this time (ISO 8601).")]
UntilOption = Annotated[datetime | None, typer.Option(help="Before this time (ISO 8601).")]

filter_options = shared_options(
    {
        "actor": (ActorOption, None),
        "action": (ActionOption, None),
        "subject": (SubjectOption, None),
        "object_id": (ObjectOption, None),
        "outcome": (OutcomeOption, None),
        "since": (SinceOption, None),
        "until": (UntilOption, None),
    },
    into="filters",
)
"""The filters of ``audit list`` and ``audit export``, the same as the web UI's and the API's (``filter_query``)."""


def _query(filters: dict[str, Any], limit: int) -> AuditQuery:
    """The service query for the filter options; times typed without an offset are this machine's local time."""
    local: dict[str, Any] = {name: v.astimezone() if isinstance(v, datetime) else v for name, v in filters.items()}
    return audit_services.filter_query(**local, limit=limit)


@audit_app.command("list")
@filter_options
def audit_list(filters: dict[str, Any], limit: int = 50, as_json: JsonOption = False) -> None:
    """The latest entries, newest first, filtered."""
    n = node()
    with errors():
        found = audit_services.entries(n, _query(filters, limit))
    data = [audit_present.listed(e) for e in found]

    def table() -> Table:
        # Actors and object ids were typed by anyone (a sign-in name, a peer's id): shown escaped, never as markup.
        t = Table("seq", "at", "actor", "channel", "action", "object", "outcome")
        for e in data:
            cells = (e["at"][:19], e["actor"], e["channel"], e["action"], e["object_id"][:36], e["outcome"])
            t.add_row(str(e["seq"]), *(escape(safe(cell, 256)) for cell in cells))
        return t

    emit(data, as_json, table)


@audit_app.command("export")
@filter_options
def audit_export(filters: dict[str, Any], limit: int = 1_000_000) -> None:
    """The matching entries as CSV on standard output, oldest first, each with its hash."""
    n = node()
    with errors():
        for line in audit_services.export_csv(n, _query(filters, limit)):
            sys.stdout.write(line)
