"""``hanoinet evidence …`` and ``hanoinet token …``: the vault at the command line, with progress for long work."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hanoinet.cases import service as case_services
from hanoinet.evidence import exports as export_services
from hanoinet.evidence import present as evidence_present
from hanoinet.evidence import service as evidence_services
from hanoinet.evidence.domain import HandlingConditions, ItemDescription
from hanoinet.evidence.vault import BlobCorrupt
from hanoinet.platform.cli import JsonOption, emit, err, errors, fail, node, out, principal, settings
from hanoinet.platform.permissions import Role

evidence_app = typer.Typer(help="The evidence vault: ingest, verify, export, download, dispose.", no_args_is_help=True)

ReasonOption = Annotated[str, typer.Option(help="Why: recorded in the item's custody.")]


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (bytes, rate, time left); yields a callback taking the bytes just done."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False, disable=not err.is_terminal and total is None) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def parse_instant(text: str | None, option: str) -> datetime:
    """Parse an ISO 8601 instant with its offset; now (UTC) when not given."""
    if text is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r}: expected ISO 8601 with an offset, e.g. 2026-11-23T02:10:00+07:00")


@evidence_app.command("ingest")
def ingest(
    file: Annotated[str, typer.Argument(help="The file to ingest, or - for standard input.")],
    case: Annotated[str, typer.Option(help="Case id or reference.")],
    exhibit: Annotated[str, typer.Option(help="Exhibit number, unique within the case.")],
    source: Annotated[str, typer.Option(help="Where the data came from (device, account, provider).")],
    method: Annotated[str, typer.Option(help="Acquisition method, e.g. 'physical image', 'provider disclosure'.")],
    acquired_by: Annotated[str, typer.Option(help="Who acquired it.")],
    tool: Annotated[str, typer.Option(help="Acquisition tool and version.")] = "",
    acquired_at: Annotated[str | None, typer.Option(help="When, ISO 8601 with offset (default: now).")] = None,
    description: Annotated[str, typer.Option(help="What it is.")] = "",
    sha1: Annotated[bool, typer.Option(help="Also compute SHA-1 (legacy court systems).")] = False,
    md5: Annotated[bool, typer.Option(help="Also compute MD5 (legacy court systems).")] = False,
    allow_role: Annotated[list[Role] | None, typer.Option(help="Role that may see the content; repeatable.")] = None,
    allow_user: Annotated[list[str] | None, typer.Option(help="User who may see the content; repeatable.")] = None,
    purpose: Annotated[str, typer.Option(help="The purpose it may be used for (speciality).")] = "",
    retain_until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day it may be kept.")
    ] = None,
    onward_transfer: Annotated[bool, typer.Option(help="Allow transfer to third parties (Art 36).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest a file of any size in constant memory: hashed, encrypted, stored once, its acquisition in custody."""
    n = node()
    who = principal()
    with errors():
        found = case_services.get_case(n, case)
    described = ItemDescription(
        case_id=found.id,
        exhibit=exhibit,
        source=source,
        acquisition_method=method,
        acquisition_tool=tool,
        acquired_by=acquired_by,
        acquired_at=parse_instant(acquired_at, "--acquired-at"),
        description=description,
        file_name="" if file == "-" else Path(file).name,
    )
    defaults = HandlingConditions()
    conditions = HandlingConditions(
        allowed_roles=tuple(allow_role) if allow_role else defaults.allowed_roles,
        allowed_users=tuple(allow_user or ()),
        purpose=purpose,
        retention_until=retain_until.date() if retain_until else None,
        onward_transfer_allowed=onward_transfer,
    )
    extra = [name for name, wanted in (("sha1", sha1), ("md5", md5)) if wanted]
    source_file: BinaryIO
    if file == "-":
        source_file, total = sys.stdin.buffer, None
    else:
        path = Path(file)
        if not path.is_file():
            fail(f"{file}: no such file")
        source_file, total = path.open("rb"), path.stat().st_size
    with errors(), source_file, progress_bar(f"ingest {exhibit}", total) as advance:
        item = evidence_services.ingest(
            n, source_file, described, conditions, actor=who, extra_hashes=extra, progress=advance
        )
    if as_json:
        emit(evidence_present.evidence_item(item), True)
    else:
        out.print(f"item {item.id}: {item.size} bytes, sha256 {item.sha256}")


@evidence_app.command("list")
def list_items(
    case: Annotated[str | None, typer.Option(help="Only this case (id or reference).")] = None,
    limit: int = 100,
    as_json: JsonOption = False,
) -> None:
    """List items, newest first."""
    n = node()
    with errors():
        case_id = case_services.get_case(n, case).id if case else None
        items = evidence_services.list_items(n, case_id=case_id, limit=limit)

    def table() -> Table:
        t = Table("id", "exhibit", "size", "sha256", "acquired", "state")
        for i in items:
            t.add_row(
                i.id[:8],
                i.described.exhibit,
                str(i.size),
                i.sha256[:16] + "…",
                i.described.acquired_at.date().isoformat(),
                "disposed" if i.disposed_at else "held",
            )
        return t

    emit([evidence_present.evidence_item(i) for i in items], as_json, table)


@evidence_app.command("show")
def show(item_id: str) -> None:
    """Show an item with its custody history, as JSON."""
    n = node()
    with errors():
        item, history = evidence_services.get_item(n, item_id)
    emit(
        {**evidence_present.evidence_item(item), "custody": [evidence_present.custody_event(e) for e in history]}, True
    )


@evidence_app.command("verify")
def verify(
    item_id: Annotated[str | None, typer.Argument(help="One item (or --all).")] = None,
    all_items: Annotated[bool, typer.Option("--all", help="Every item and the whole ledger.")] = False,
    full: Annotated[
        bool, typer.Option("--full", help="Check the whole ledger, not only what was appended since the last verify.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Recompute content hashes, the custody chain and signatures; exit 1 and say exactly what is wrong.

    The chain is checked from where the last verify found it whole, unless --full (or --all) is given: the node's
    command line may always ask for the whole ledger.
    """
    if (item_id is None) == (not all_items):
        fail("give an item id or --all")
    n = node()
    with errors(), progress_bar("verify", None) as advance:
        report = evidence_services.verify(n, item_id, principal(), progress=advance, full=full, on_host=True)
    data = evidence_present.verify_report(report)
    if as_json:
        emit(data, True)
    else:
        for problem in report.problems:
            err.print(f"[red]tampered:[/] {problem}", highlight=False)
        scope = "the whole ledger" if report.full else f"the ledger from event {report.since}"
        out.print(
            f"{report.items} item(s), {report.events} custody event(s) of {scope},"
            f" {report.checkpoints} checkpoint(s): "
            + ("all intact" if report.ok else f"{len(report.problems)} problem(s)")
        )
    if not report.ok:
        raise typer.Exit(1)


@evidence_app.command("download")
def download(
    item_id: str,
    reason: ReasonOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the content.")],
) -> None:
    """Write an item's decrypted content to a file, verified on the fly; the download is a custody event."""
    n = node()
    if output.exists():
        fail(f"{output} exists: choose a new file (evidence is never written over)")
    with errors():
        item, stream = evidence_services.read_content(n, item_id, principal(), reason)
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("wb") as sink, progress_bar("download", item.size) as advance:
            for chunk in stream:
                sink.write(chunk)
                advance(len(chunk))
        partial.rename(output)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        fail(f"download stopped, nothing kept: {exc}", 6 if isinstance(exc, BlobCorrupt) else 1)
    out.print(f"{output}: {item.size} bytes, sha256 {item.sha256} (verified)")


class ExportFormat(StrEnum):
    """What ``evidence export`` writes."""

    PACKAGE = "package"
    CASE = "case"


@evidence_app.command("export")
def export(
    case: Annotated[str, typer.Option(help="Case id or reference.")],
    reason: ReasonOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Package directory, or .jsonld file for --format case.")
    ],
    item: Annotated[list[str] | None, typer.Option("--item", help="Only these items; repeatable.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="package: signed court package; case: CASE/UCO.")] = (
        ExportFormat.PACKAGE
    ),
) -> None:
    """Export a case's evidence: a court package checkable with sha256sum and openssl, or CASE/UCO JSON-LD."""
    n = node()
    who = principal()
    if fmt is ExportFormat.CASE:
        if output.exists():
            fail(f"{output} exists: choose a new file")
        with errors():
            graph = export_services.export_case_graph(n, case, principal=who, reason=reason, item_ids=item or ())
        output.write_text(json.dumps(graph, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        out.print(f"{output}: CASE/UCO JSON-LD")
        return
    with errors():
        try:
            path = export_services.export_package(n, case, output, principal=who, reason=reason, item_ids=item or ())
        except (FileExistsError, ValueError) as exc:
            fail(str(exc))
    out.print(f"court package written to {path}; check it with: cd {path} && sha256sum -c SHA256SUMS (see VERIFY.txt)")


@evidence_app.command("dispose")
def dispose(
    item_id: Annotated[str | None, typer.Argument(help="One item (or --expired).")] = None,
    expired: Annotated[bool, typer.Option("--expired", help="Every item past its retention end.")] = False,
    reason: ReasonOption = "retention period ended",
) -> None:
    """Destroy the content of items past their retention end; records and dispose events are kept."""
    if (item_id is None) == (not expired):
        fail("give an item id or --expired")
    n = node()
    with errors():
        if item_id:
            done = [evidence_services.dispose(n, item_id, principal(), reason)]
        else:
            done = evidence_services.dispose_expired(n, principal())
    for item in done:
        out.print(f"disposed of {item.id} ({item.described.exhibit})")
    if not done:
        out.print("nothing past its retention end")


@evidence_app.command("uploads-sweep")
def uploads_sweep(as_json: JsonOption = False) -> None:
    """Delete uploads nobody touched for longer than HANOINET_UPLOAD_EXPIRY_SECONDS (none being written).

    The node sweeps them itself whenever an upload is started or listed; this is for a node nobody uploads to, from
    cron or a systemd timer. The run is recorded in the audit log like every command.
    """
    from hanoinet.evidence.uploads import UploadStore  # noqa: PLC0415 - only this command needs it

    node()  # built so that the run is audited
    with errors():
        swept = UploadStore.for_node(settings()).sweep()
    if as_json:
        emit({"swept": swept}, True)
    else:
        out.print(f"{len(swept)} abandoned upload(s) deleted" + "".join(f"\n  {upload_id}" for upload_id in swept))
