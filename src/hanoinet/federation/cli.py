"""``hanoinet node|directory|message|outbox|transfer|consent …``: the network at the command line.

The command line works on the node's data directory like the server does: what it queues is delivered by the
running node (``hanoinet serve``), or at once with ``hanoinet outbox flush``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hanoinet.federation import consents as consent_services
from hanoinet.federation import directory as directory_services
from hanoinet.federation import messaging as messaging_services
from hanoinet.federation import present as federation_present
from hanoinet.federation import registers
from hanoinet.federation import transfers as transfer_services
from hanoinet.federation.api import fetch_register
from hanoinet.federation.domain import MessageKind
from hanoinet.federation.ports import MessageQuery
from hanoinet.federation.transport import HttpTransport
from hanoinet.platform.cli import JsonOption, actor, emit, errors, fail, node, out, principal

node_app = typer.Typer(help="This node on the network: its entry, its keys.", no_args_is_help=True)
directory_app = typer.Typer(help="The other nodes: import, list, revoke, sync from a directory.", no_args_is_help=True)
message_app = typer.Typer(help="Messages to and from other nodes.", no_args_is_help=True)
outbox_app = typer.Typer(help="Deliveries: what waits, what failed, deliver now.", no_args_is_help=True)
transfer_app = typer.Typer(help="Evidence sent to and received from other nodes.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent to onward transfer of received evidence (Art 36).", no_args_is_help=True)


def _read_json(file: str) -> dict[str, Any]:
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        fail(f"{file}: not JSON ({exc})", 2)
    if not isinstance(data, dict):
        fail(f"{file}: a signed entry is a JSON object", 2)
    return data


# --- node -----------------------------------------------------------------------------------------------------


@node_app.command("show")
def node_show(as_json: JsonOption = False) -> None:
    """This node's directory entry: id, State, roles, endpoint, key ids."""
    n = node()
    with errors():
        own = directory_services.publish_own_entry(n, actor=actor())
    doc = own.entry.document()
    if as_json:
        emit(doc, True)
        return
    table = Table(title=f"node {own.entry.node_id}", show_header=False)
    for key in ("state", "authority", "roles", "languages", "hours", "endpoint", "serial", "issued_at"):
        table.add_row(key, str(doc[key]))
    table.add_row("signing key", own.entry.signing_key.kid)
    table.add_row("encryption key", own.entry.encryption_key.kid)
    table.add_row("custody key", own.entry.custody_key)
    out.print(table)


@node_app.command("export")
def node_export(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")] = None,
) -> None:
    """Write this node's signed entry, to hand to other authorities (they import it after checking its key ids)."""
    n = node()
    with errors():
        own = directory_services.publish_own_entry(n, actor=actor())
    text = json.dumps(dict(own.signed), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        out.print(f"entry of {own.entry.node_id} written to {output}; signing key {own.entry.signing_key.kid}")


@node_app.command("rotate-keys")
def node_rotate(
    revoke_old: Annotated[bool, typer.Option(help="Declare the old keys revoked (they may be compromised).")] = False,
) -> None:
    """Replace this node's federation keys; the new entry, signed by the old key too, goes to every peer."""
    n = node()
    with errors():
        own = directory_services.rotate_keys(n, revoke_old=revoke_old, actor=actor())
    out.print(f"new signing key {own.entry.signing_key.kid}, encryption key {own.entry.encryption_key.kid}")


# --- directory ------------------------------------------------------------------------------------------------


@directory_app.command("import")
def directory_import(
    file: Annotated[str, typer.Argument(help="A node's signed entry (JSON), or - for stdin.")],
    replace: Annotated[bool, typer.Option(help="Accept a changed key you checked by other means.")] = False,
) -> None:
    """Trust another node: import its signed entry."""
    n = node()
    signed = _read_json(file)
    with errors():
        result = directory_services.import_entry(n, signed, replace_entry=replace)
    e = result.peer.entry
    out.print(f"{result.verdict.value}: {e.node_id} ({e.authority}, {e.state}) signing key {e.signing_key.kid}")


@directory_app.command("list")
def directory_list(as_json: JsonOption = False) -> None:
    """The nodes this node knows."""
    n = node()
    with errors():
        peers = directory_services.list_peers(n)
    data = [federation_present.peer(p) for p in peers]

    def table() -> Table:
        t = Table("node", "State", "authority", "roles", "endpoint", "status", "failures")
        for p in data:
            t.add_row(
                p["node_id"],
                p["state"],
                p["authority"],
                ", ".join(p["roles"]),
                p["endpoint"],
                p["status"],
                str(p["delivery"]["failures"]),
            )
        return t

    emit(data, as_json, table)


@directory_app.command("show")
def directory_show(node_id: str) -> None:
    """One node with all its keys, as JSON."""
    n = node()
    with errors():
        found, keys = directory_services.get_peer(n, node_id)
    emit(federation_present.peer(found, keys), True)


@directory_app.command("revoke")
def directory_revoke(
    target: Annotated[str, typer.Argument(help="A node id (all its keys) or a key id.")],
    reason: Annotated[str, typer.Option(help="Why: recorded and shown when it is refused.")],
) -> None:
    """Stop trusting a node or one of its keys, from now on."""
    n = node()
    with errors():
        what = directory_services.revoke(n, target, reason=reason, actor=actor())
    out.print(f"revoked {what}")


def _change_table(data: list[dict[str, Any]]) -> Table:
    t = Table("node", "field", "in force", "offered", "serial", "via", "received")
    for p in data:
        change = p["pending"]
        for name in change["changed"]:
            t.add_row(
                p["node_id"],
                name,
                _shown(change["old"][name]),
                _shown(change["new"][name]),
                str(change["serial"]),
                change["via"],
                change["received_at"],
            )
    return t


def _shown(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


@directory_app.command("pending")
def directory_pending(as_json: JsonOption = False) -> None:
    """Changes of State, authority, roles or endpoint that nodes offered, waiting for your decision."""
    n = node()
    with errors():
        peers = directory_services.pending_changes(n)
    data = [federation_present.peer(p) for p in peers]
    if not data and not as_json:
        out.print("no change waits for a decision")
        return
    emit(data, as_json, lambda: _change_table(data))


@directory_app.command("confirm")
def directory_confirm(
    node_id: Annotated[str, typer.Argument(help="The node whose held change to put in force.")],
) -> None:
    """Put a node's held change of identity in force (check it with the other authority first)."""
    n = node()
    with errors():
        before = {p.entry.node_id: p.pending for p in directory_services.pending_changes(n)}.get(node_id)
        peer = directory_services.confirm_change(n, node_id, actor=actor())
    changed = ", ".join(before.changed()) if before else "nothing"
    e = peer.entry
    out.print(f"confirmed: {e.node_id} now {e.state}, {e.authority}, {', '.join(r.value for r in e.roles)}, "
              f"{e.endpoint} ({changed} changed)")  # fmt: skip


@directory_app.command("reject")
def directory_reject(node_id: Annotated[str, typer.Argument(help="The node whose held change to refuse.")]) -> None:
    """Refuse a node's held change of identity: the values in force stay."""
    n = node()
    with errors():
        peer = directory_services.reject_change(n, node_id, actor=actor())
    e = peer.entry
    out.print(f"rejected: {e.node_id} stays {e.state}, {e.authority}, {e.endpoint}")


@directory_app.command("sync")
def directory_sync(url: Annotated[str, typer.Argument(help="Base URL of a directory node you trust.")]) -> None:
    """Import the register a trusted directory node publishes."""
    n = node()
    with errors():
        result = registers.import_register(n, fetch_register(n, url))  # issue 11: directory publishers only
    out.print(
        f"{len(result.imported)} entr(ies) taken from {result.publisher}, {len(result.refused)} refused, "
        f"{len(result.revoked)} key(s) revoked"
    )
    for line in result.refused:
        out.print(f"  [yellow]refused:[/] {line}", highlight=False)


# --- messages -------------------------------------------------------------------------------------------------


@message_app.command("send")
def message_send(
    to: Annotated[str, typer.Option(help="Node id of the recipient.")],
    text: Annotated[str, typer.Option(help="What to say.")],
    kind: Annotated[MessageKind, typer.Option(help="correspondence or spontaneous_information.")] = (
        MessageKind.CORRESPONDENCE
    ),
    request: Annotated[str | None, typer.Option(help="The request it is about.")] = None,
    subject: str = "",
) -> None:
    """Queue a message; the running node delivers it (or: hanoinet outbox flush)."""
    n = node()
    with errors():
        sent = messaging_services.send_messages(
            n, [messaging_services.NewMessage(to, kind, text, subject, request)], actor=actor()
        )
    out.print(f"message {sent[0].id} queued for {to}")


@message_app.command("list")
def message_list(
    direction: Annotated[str | None, typer.Option(help="incoming or outgoing.")] = None,
    request: Annotated[str | None, typer.Option(help="Only about this request.")] = None,
    peer: Annotated[str | None, typer.Option(help="Only with this node.")] = None,
    limit: int = 50,
    as_json: JsonOption = False,
) -> None:
    """Messages sent and received, newest first."""
    n = node()
    with errors():
        views = messaging_services.list_messages(
            n, MessageQuery(peer=peer, request_id=request, limit=limit), direction=direction
        )
    data = [federation_present.message(v) for v in views]

    def table() -> Table:
        t = Table("id", "direction", "peer", "kind", "request", "status", "delivered", "read")
        for m in data:
            t.add_row(
                m["id"][:8],
                m["direction"],
                m["peer"],
                m["kind"],
                (m["request_id"] or "")[:8],
                m["status"],
                m["delivered_at"] or "",
                m["read_at"] or "",
            )
        return t

    emit(data, as_json, table)


# --- outbox ---------------------------------------------------------------------------------------------------


@outbox_app.command("status")
def outbox_status(as_json: JsonOption = False) -> None:
    """Deliveries per peer and the latest refused transmissions."""
    n = node()
    with errors():
        status = messaging_services.federation_status(n)

    def table() -> Table:
        t = Table("peer", "State", "pending", "delivered", "rejected", "failures", "next attempt", "last error")
        for p in status["peers"]:
            t.add_row(
                p["node_id"],
                p["state"],
                str(p["pending"]),
                str(p["delivered"]),
                str(p["rejected"]),
                str(p["failures"]),
                p["next_attempt_at"] or "",
                (p["last_error"] or "")[:60],
            )
        return t

    emit(status, as_json, table)


@outbox_app.command("flush")
def outbox_flush(
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 30.0,
) -> None:
    """Deliver what waits now, from this process (useful when no node is serving); exit 1 if some could not go."""
    n = node()
    transport = HttpTransport.of(n.federation)
    deadline = time.monotonic() + timeout
    failed: dict[str, str] = {}
    with errors():
        while time.monotonic() < deadline:
            due = [p for p in messaging_services.due_peers(n) if p not in failed]
            if not due:
                break
            for peer in due:
                report = messaging_services.deliver(n, transport, peer, owner=f"cli-{actor()}")
                if report.error:
                    failed[peer] = report.error
                elif report.sent:
                    out.print(f"{peer}: {report.delivered} delivered, {report.rejected} rejected")
    transport.close()
    for peer, error in failed.items():
        out.print(f"[red]{peer}:[/] {error}", highlight=False)
    if failed:
        raise typer.Exit(1)


# --- transfers ------------------------------------------------------------------------------------------------


@transfer_app.command("send")
def transfer_send(
    to: Annotated[str, typer.Option(help="Node id of the receiver.")],
    item: Annotated[list[str], typer.Option(help="Evidence item id; repeatable.")],
    request: Annotated[str, typer.Option(help="The request the evidence answers.")],
    reason: Annotated[str, typer.Option(help="Why: recorded in custody on both sides.")],
) -> None:
    """Offer evidence to another node; the running node sends it, resumable, and records the receipt."""
    n = node()
    with errors():
        transfer = transfer_services.start_transfer(
            n, to=to, item_ids=item, principal=principal(), reason=reason, request_id=request
        )
    out.print(f"transfer {transfer.id}: {len(transfer.items)} item(s) offered to {to}")


@transfer_app.command("list")
def transfer_list(as_json: JsonOption = False) -> None:
    """Transfers either way, newest first."""
    n = node()
    with errors():
        data = [federation_present.transfer(t) for t in transfer_services.list_transfers(n)]

    def table() -> Table:
        t = Table("id", "direction", "peer", "state", "items", "chunks", "error")
        for x in data:
            chunks = f"{sum(i['chunks_done'] for i in x['items'])}/{sum(i['chunks_total'] for i in x['items'])}"
            t.add_row(
                x["id"][:8],
                x["direction"],
                x["peer"],
                x["state"],
                str(len(x["items"])),
                chunks,
                (x["error"] or "")[:60],
            )
        return t

    emit(data, as_json, table)


@transfer_app.command("show")
def transfer_show(transfer_id: str) -> None:
    """One transfer, as JSON."""
    n = node()
    with errors():
        emit(federation_present.transfer(transfer_services.get_transfer(n, transfer_id)), True)


# --- consents -------------------------------------------------------------------------------------------------


@consent_app.command("request")
def consent_request(
    item: Annotated[str, typer.Argument(help="A received evidence item.")],
    to: Annotated[str, typer.Option(help="The third node it would go to.")],
    purpose: Annotated[str, typer.Option(help="What the third State needs it for.")],
) -> None:
    """Ask the State that sent an item whether it may go on to a third one."""
    n = node()
    with errors():
        consent = consent_services.request_consent(n, item, destination=to, purpose=purpose, principal=principal())
    out.print(f"consent request {consent.id} sent to {consent.peer}")


@consent_app.command("list")
def consent_list(item: Annotated[str | None, typer.Option(help="Only about this item.")] = None) -> None:
    """Consent requests either way, as JSON."""
    n = node()
    with errors():
        emit([federation_present.consent(c) for c in consent_services.list_consents(n, item)], True)


def _decide(consent_id: str, grant: bool, note: str) -> None:
    n = node()
    with errors():
        decided = consent_services.decide(n, consent_id, grant=grant, note=note, principal=principal())
    out.print(f"consent {decided.id}: {decided.status}")


@consent_app.command("grant")
def consent_grant(consent_id: str, note: Annotated[str, typer.Option(help="Conditions or remarks.")] = "") -> None:
    """Allow an item of this node's to go on to the destination asked for."""
    _decide(consent_id, True, note)


@consent_app.command("refuse")
def consent_refuse(consent_id: str, note: Annotated[str, typer.Option(help="Why.")] = "") -> None:
    """Refuse onward transfer of an item of this node's."""
    _decide(consent_id, False, note)
