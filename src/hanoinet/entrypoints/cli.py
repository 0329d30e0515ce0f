"""The ``hanoinet`` command: thin over the services — parse, call one service, print the result."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hanoinet import bootstrap as boot
from hanoinet.adapters import migrations
from hanoinet.adapters.rulepacks import PackError, load_pack
from hanoinet.adapters.treaty_csv import read_deposit_rows
from hanoinet.domain.requests import Action, Direction, RequestState
from hanoinet.entrypoints import present
from hanoinet.entrypoints.cli_accounts import audit_app, record_command, user_app
from hanoinet.entrypoints.cli_evidence import evidence_app, token_app
from hanoinet.entrypoints.cli_federation import (
    consent_app,
    directory_app,
    message_app,
    node_app,
    outbox_app,
    transfer_app,
)
from hanoinet.entrypoints.cli_support import (
    InstrumentOption,
    JsonOption,
    OnOption,
    actor,
    emit,
    err,
    errors,
    fail,
    node,
    out,
    settings,
)
from hanoinet.services import cases as case_services
from hanoinet.services import messaging as messaging_services
from hanoinet.services import requests as request_services
from hanoinet.services import treaty as treaty_services
from hanoinet.services.ports import InboxQuery

app = typer.Typer(
    help="hanoinet: a node for cooperation under the Hanoi and Budapest Conventions.", no_args_is_help=True
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
treaty_app = typer.Typer(help="Treaty status: deposits, Parties, entry into force, legal basis.", no_args_is_help=True)
case_app = typer.Typer(help="Cases: the investigations requests are made for.", no_args_is_help=True)
request_app = typer.Typer(help="Requests of Chapter V.", no_args_is_help=True)
packs_app = typer.Typer(help="Rule packs: the instruments as data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(treaty_app, name="treaty")
app.add_typer(case_app, name="case")
app.add_typer(request_app, name="request")
app.add_typer(packs_app, name="packs")
app.add_typer(evidence_app, name="evidence")
app.add_typer(token_app, name="token")
app.add_typer(node_app, name="node")
app.add_typer(directory_app, name="directory")
app.add_typer(message_app, name="message")
app.add_typer(outbox_app, name="outbox")
app.add_typer(transfer_app, name="transfer")
app.add_typer(consent_app, name="consent")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $HANOINET_DATA_DIR or ~/.local/share/hanoinet)."),
    ] = None,
) -> None:
    """Global options."""
    if data_dir is not None:
        os.environ["HANOINET_DATA_DIR"] = str(data_dir)


@app.command()
def init() -> None:
    """Create the data directory and the database schema (other commands also do this on first use)."""
    s = settings()
    with errors():
        n = boot.bootstrap(s)
        engine = boot.open_database(s)
        revision = migrations.current(engine)
    public = n.signer.public_key_hex() if n.signer else "none"
    out.print(f"data directory {s.data_dir} ready; database schema at {revision}; node signing key {public}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the node's HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn  # noqa: PLC0415 - the server is only needed by this command

    from hanoinet.entrypoints.api import create_app  # noqa: PLC0415 - likewise

    # A node's threads (API calls, deliveries, transfers) hand the interpreter to each other often; the default
    # 5 ms switch interval would add up to that much to each hand-over on a busy node (see bench/federation.py).
    sys.setswitchinterval(0.0005)
    with errors():
        n = boot.bootstrap(settings(), endpoint=f"http://{host}:{port}")
    api = create_app(n, boot.upload_store(settings()), worker=f"http://{host}:{port}")
    out.print(f"hanoinet node {n.identity.node_id if n.identity else ''}: API docs at http://{host}:{port}/docs")
    uvicorn.run(api, host=host, port=port, log_level="info", access_log=False)


@app.command()
def demo(
    exercise: Annotated[
        str | None, typer.Option(help="Run the network for a training exercise of this scenario; the steps are yours.")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario to play (shipped name or .yaml file).")] = "lotus",
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the nodes keep their data (default: a temporary directory).")
    ] = None,
    base_port: Annotated[int, typer.Option(help="Nodes listen on the ports after this one.")] = 8100,
    speed: Annotated[float | None, typer.Option(help="Exercise clock speed (default: the scenario's).")] = None,
    keep_running: Annotated[bool, typer.Option(help="Keep the nodes running until Ctrl-C.")] = True,
) -> None:
    """Start a network of nodes on loopback, play a scenario through them, keep them running until Ctrl-C."""
    from hanoinet.entrypoints import demo as demo_runner  # noqa: PLC0415 - only this command needs it

    try:
        code = demo_runner.run(
            exercise or scenario,
            exercise=exercise is not None,
            base=directory,
            base_port=base_port,
            keep_running=keep_running,
            speed=speed,
        )
    except demo_runner.DemoError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations."""
    s = settings()
    if s.database_url is None:
        boot.prepare_data_dir(s)
    from hanoinet.adapters.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    engine = make_engine(s.effective_database_url)
    migrations.upgrade(engine, revision)
    out.print(f"database schema at {migrations.current(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database schema revision."""
    from hanoinet.adapters.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    out.print(str(migrations.current(make_engine(settings().effective_database_url))))


# --- treaty -------------------------------------------------------------------------------------------------


@treaty_app.command("import")
def treaty_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns state,action,date.", exists=True, dir_okay=False)],
    instrument: InstrumentOption = "uncc-2024",
) -> None:
    """Record deposits from a CSV file: every row, or none if any row is bad."""
    n = node()
    with errors():
        result = treaty_services.import_deposits(n, read_deposit_rows(file), instrument)
    out.print(f"{instrument}: {result.recorded} event(s) recorded, {result.unchanged} already recorded")


@treaty_app.command("status")
def treaty_status(instrument: InstrumentOption = "uncc-2024", on: OnOption = None, as_json: JsonOption = False) -> None:
    """Whether an instrument is in force on a date, and who its Parties and signatories are."""
    n = node()
    with errors():
        status = treaty_services.instrument_status(n, instrument, on.date() if on else None)
    data = present.instrument_status(status)

    def table() -> Table:
        t = Table(title=f"{instrument} on {status.on}", show_header=False)
        for key in ("in_force", "entry_into_force", "instruments_counted", "instruments_missing"):
            t.add_row(key, str(data[key]))
        t.add_row("parties", f"{len(status.parties)}: {' '.join(status.parties)}")
        t.add_row("signatories", f"{len(status.signatories)}: {' '.join(status.signatories)}")
        return t

    emit(data, as_json, table)


@treaty_app.command("party")
def treaty_party(
    state: Annotated[str, typer.Argument(help="ISO 3166 alpha-3 code, or EU.")],
    instrument: InstrumentOption = "uncc-2024",
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Whether a State is a Party on a date, and since when."""
    n = node()
    with errors():
        status = treaty_services.party_status(n, instrument, state.upper(), on.date() if on else None)
    data = present.party_status(status)

    def table() -> Table:
        t = Table(title=f"{status.state} ({status.name}) and {instrument} on {status.on}", show_header=False)
        for key, value in data.items():
            t.add_row(key, str(value))
        return t

    emit(data, as_json, table)


@treaty_app.command("basis")
def treaty_basis(
    a: Annotated[str, typer.Argument(help="First State.")],
    b: Annotated[str, typer.Argument(help="Second State.")],
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which instruments bind both States on a date."""
    n = node()
    with errors():
        basis = treaty_services.legal_basis(n, a.upper(), b.upper(), on.date() if on else None)
    day = (on.date() if on else n.clock.now().date()).isoformat()
    data = {"a": a.upper(), "b": b.upper(), "on": day, "instruments": list(basis)}
    if as_json:
        emit(data, True)
    else:
        out.print(", ".join(basis) if basis else f"no instrument known here binds {a.upper()} and {b.upper()} on {day}")


# --- cases --------------------------------------------------------------------------------------------------


@case_app.command("new")
def case_new(
    reference: Annotated[str, typer.Option(help="Your authority's case reference.")],
    offence: Annotated[str, typer.Option(help="Offence category, e.g. illegal_access or other_serious_crime.")],
    summary: Annotated[str, typer.Option(help="Summary of the facts.")],
    max_penalty: Annotated[int | None, typer.Option(help="Maximum penalty in years (100 = life).")] = None,
    qualification: Annotated[str, typer.Option(help="The offence under your own law.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Open a case."""
    n = node()
    with errors():
        case = case_services.open_case(
            n,
            reference=reference,
            offence=offence,
            max_penalty_years=max_penalty,
            summary=summary,
            legal_qualification=qualification,
        )
    emit(present.case(case), as_json) if as_json else out.print(f"case {case.reference} opened: {case.id}")


@case_app.command("list")
def case_list(as_json: JsonOption = False, limit: int = 50) -> None:
    """List cases, newest first."""
    found = case_services.list_cases(node(), limit=limit)

    def table() -> Table:
        t = Table("reference", "offence", "max penalty", "id")
        for c in found:
            t.add_row(c.reference, c.offence, str(c.max_penalty_years or ""), c.id)
        return t

    emit([present.case(c) for c in found], as_json, table)


@case_app.command("show")
def case_show(case: Annotated[str, typer.Argument(help="Case id or reference.")]) -> None:
    """Show a case as JSON."""
    n = node()
    with errors():
        emit(present.case(case_services.get_case(n, case)), True)


# --- requests -----------------------------------------------------------------------------------------------


def parse_deadline(text: str | None) -> datetime | None:
    """Parse an ISO 8601 instant; the offset is required (checked by the domain, which names the field)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"--deadline {text!r}: expected ISO 8601, e.g. 2026-12-01T12:00:00+07:00")


def parse_items(pairs: list[str], items_file: Path | None) -> dict[str, str]:
    """Read request items from KEY=VALUE options and/or a JSON object file."""
    items: dict[str, str] = {}
    if items_file is not None:
        try:
            loaded = json.loads(items_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"--items-file: {exc}")
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            fail("--items-file: must be a JSON object of item keys to text")
        items.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--item {pair!r}: expected KEY=VALUE")
        items[key.strip()] = value
    return items


ItemOption = Annotated[list[str], typer.Option("--item", help="KEY=VALUE, repeatable.")]
ItemsFileOption = Annotated[Path | None, typer.Option("--items-file", help="JSON object of items.")]


def draft_from(
    *,
    case: str,
    instrument: str,
    type_: str,
    to: str,
    from_: str | None,
    incoming: bool,
    item: list[str],
    items_file: Path | None,
    emergency: bool,
    deadline: str | None,
    follows_up: str | None,
    peer: str | None = None,
) -> request_services.RequestDraft:
    """Build a draft from command-line options."""
    return request_services.RequestDraft(
        case=case,
        instrument=instrument,
        type=type_,
        requested_state=to.upper(),
        requesting_state=from_.upper() if from_ else None,
        direction=Direction.INCOMING if incoming else Direction.OUTGOING,
        items=parse_items(item, items_file),
        emergency=emergency,
        deadline=parse_deadline(deadline),
        follows_up=follows_up,
        peer=peer,
    )


@request_app.command("new")
def request_new(
    case: Annotated[str, typer.Option(help="Case id or reference.")],
    type_: Annotated[str, typer.Option("--type", help="Request type, e.g. preservation, mla, emergency.")],
    to: Annotated[str, typer.Option("--to", help="Requested State (ISO alpha-3).")],
    instrument: InstrumentOption = "uncc-2024",
    from_: Annotated[str | None, typer.Option("--from", help="Requesting State (default: the node's).")] = None,
    incoming: Annotated[bool, typer.Option(help="Register a request received by other means.")] = False,
    item: ItemOption | None = None,
    items_file: ItemsFileOption = None,
    emergency: Annotated[bool, typer.Option(help="Flag as an emergency (Art 41).")] = False,
    deadline: Annotated[str | None, typer.Option(help="Requester's deadline, ISO 8601 with offset.")] = None,
    follows_up: Annotated[str | None, typer.Option(help="Id of the request this one follows up.")] = None,
    peer: Annotated[
        str | None, typer.Option(help="Node to send it to (default: chosen from the directory when sent).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Draft an outgoing request, or register an incoming one."""
    n = node()
    draft = draft_from(
        case=case,
        instrument=instrument,
        type_=type_,
        to=to,
        from_=from_,
        incoming=incoming,
        item=item or [],
        items_file=items_file,
        emergency=emergency,
        deadline=deadline,
        follows_up=follows_up,
        peer=peer,
    )
    with errors():
        view = request_services.create_request(n, draft, actor=actor())
    if as_json:
        emit(present.request_view(view, n.clock.now()), True)
        return
    out.print(f"request {view.request.id} ({view.request.state.value})")
    for issue in view.issues:
        out.print(f"  [yellow]to complete before sending:[/] {issue}", highlight=False)


@request_app.command("validate")
def request_validate(
    request_id: Annotated[str | None, typer.Argument(help="A saved request's id (or give the options).")] = None,
    case: Annotated[str | None, typer.Option(help="Case id or reference.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Request type.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Requested State.")] = None,
    instrument: InstrumentOption = "uncc-2024",
    from_: Annotated[str | None, typer.Option("--from", help="Requesting State.")] = None,
    item: ItemOption | None = None,
    items_file: ItemsFileOption = None,
    emergency: bool = False,
    deadline: Annotated[str | None, typer.Option(help="Requester's deadline, ISO 8601 with offset.")] = None,
) -> None:
    """Check a request's contents against its rule pack without saving anything; exit 2 if incomplete."""
    n = node()
    with errors():
        if request_id is not None:
            issues = list(request_services.get_request(n, request_id).issues)
        elif case and type_ and to:
            draft = draft_from(
                case=case,
                instrument=instrument,
                type_=type_,
                to=to,
                from_=from_,
                incoming=False,
                item=item or [],
                items_file=items_file,
                emergency=emergency,
                deadline=deadline,
                follows_up=None,
            )
            issues = request_services.validate_request(n, draft)
        else:
            fail("give a request id, or --case, --type and --to")
    if issues:
        for issue in issues:
            err.print(f"[red]invalid:[/] {issue}", highlight=False)
        raise typer.Exit(2)
    out.print("complete: every required item is present")


@request_app.command("amend")
def request_amend(
    request_id: str,
    item: ItemOption | None = None,
    items_file: ItemsFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the items of a draft (the ones given are merged into the existing ones)."""
    n = node()
    with errors():
        current = request_services.get_request(n, request_id).request.items
        view = request_services.amend_request(
            n, request_id, {**current, **parse_items(item or [], items_file)}, actor=actor()
        )
    emit(present.request_view(view, n.clock.now()), True) if as_json else out.print(f"request {request_id} amended")


@request_app.command("show")
def request_show(request_id: str) -> None:
    """Show a request with its history, clocks, allowed actions and messages, as JSON; the sending node learns
    that its messages were read."""
    n = node()
    with errors():
        messaging_services.mark_read(n, request_id, actor=actor())
        emit(present.request_view(request_services.get_request(n, request_id), n.clock.now()), True)


@request_app.command("transition")
def request_transition(
    request_id: str,
    action: Annotated[Action, typer.Argument(help="What to do.")],
    ground: Annotated[list[str] | None, typer.Option("--ground", help="Refusal ground key, repeatable.")] = None,
    note: Annotated[str, typer.Option(help="Reason, information asked or given.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Act on a request: send, acknowledge, preserve, refuse (with grounds), execute, withdraw, close ..."""
    n = node()
    with errors():
        view = request_services.act_on_request(
            n, request_id, action, actor=actor(), grounds=tuple(ground or ()), note=note
        )
    if as_json:
        emit(present.request_view(view, n.clock.now()), True)
    else:
        out.print(f"request {request_id}: {view.request.state.value}")


def parse_duration(text: str) -> int:
    """Parse 24h, 3d, 90m into seconds."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        fail(f"--due-within {text!r}: expected a number and a unit, e.g. 24h, 3d, 90m")
    return int(text[:-1]) * units[text[-1]]


@request_app.command("list")
def request_list(
    due_within: Annotated[str | None, typer.Option(help="Due within, e.g. 24h or 3d.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only requests with a clock past due.")] = False,
    state: Annotated[RequestState | None, typer.Option(help="Only in this state.")] = None,
    counterpart: Annotated[str | None, typer.Option("--state-code", help="Only with this other State.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only of this type.")] = None,
    direction: Annotated[Direction | None, typer.Option(help="incoming or outgoing.")] = None,
    case: Annotated[str | None, typer.Option(help="Only for this case (id).")] = None,
    limit: int = 50,
    as_json: JsonOption = False,
) -> None:
    """The inbox: requests with their next clock, soonest due first when a due filter is given."""
    n = node()
    now = n.clock.now()
    query = InboxQuery(
        now=now,
        direction=direction,
        state=state,
        counterpart_state=counterpart.upper() if counterpart else None,
        type=type_,
        case_id=case,
        due_within_seconds=parse_duration(due_within) if due_within else None,
        overdue=overdue,
        limit=limit,
    )
    with errors():
        rows = request_services.inbox(n, query)

    def table() -> Table:
        t = Table("id", "type", "dir", "State", "state", "next clock", "due")
        for r in rows:
            t.add_row(
                r.id[:8],
                r.type + (" [red]EMERGENCY[/]" if r.emergency else ""),
                r.direction.value[:3],
                r.counterpart_state,
                r.state.value,
                r.next_clock or "",
                present.time_left(r.next_due_at, now),
            )
        return t

    emit([present.summary(r, now) for r in rows], as_json, table)


# --- packs --------------------------------------------------------------------------------------------------


@packs_app.command("list")
def packs_list(as_json: JsonOption = False) -> None:
    """List the rule packs this node has loaded."""
    n = node()
    data = [present.pack_summary(p) for p in n.packs.values()]

    def table() -> Table:
        t = Table("key", "title", "version", "request types")
        for p in data:
            t.add_row(p["key"], p["short_title"], p["version"], ", ".join(p["request_types"]))
        return t

    emit(data, as_json, table)


@packs_app.command("check")
def packs_check(
    files: Annotated[list[Path], typer.Argument(help="Pack files to validate.", exists=True)],
) -> None:
    """Validate rule-pack files against the schema; report the file, line and reason of each problem."""
    failed = False
    for file in files:
        try:
            pack = load_pack(file)
        except PackError as exc:
            err.print(f"[red]invalid:[/] {exc}", highlight=False)
            failed = True
        else:
            out.print(f"{file}: {pack.key} {pack.version}, {len(pack.request_types)} request types: valid")
    if failed:
        raise typer.Exit(2)


def main() -> None:
    """Console-script entry point: run the command, then record it in the audit log with its outcome."""
    code = 0
    try:
        app(standalone_mode=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
        raise
    finally:
        record_command(sys.argv[1:], code)
