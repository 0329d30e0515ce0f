"""Requests of Chapter V at the command line: draft, validate, amend, show, act on, list."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from hanoinet.federation import messaging as messaging_services
from hanoinet.platform.cli import (
    InstrumentOption,
    JsonOption,
    actor,
    emit,
    err,
    errors,
    fail,
    node,
    out,
)
from hanoinet.requests import present as requests_present
from hanoinet.requests import service as request_services
from hanoinet.requests.domain import Action, Direction, RequestState, parse_due_within
from hanoinet.requests.ports import InboxQuery

request_app = typer.Typer(help="Requests of Chapter V.", no_args_is_help=True)

RequestId = Annotated[str, typer.Argument(help="The request's id, or its start as `request list` shows it.")]


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
    items.update(parse_pairs(pairs, "--item"))
    return items


def parse_pairs(pairs: list[str], option: str) -> dict[str, str]:
    """KEY=VALUE options as a mapping; a pair without ``=`` or without a key fails naming the option."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"{option} {pair!r}: expected KEY=VALUE")
        found[key.strip()] = value
    return found


ItemOption = Annotated[list[str], typer.Option("--item", help="KEY=VALUE, repeatable.")]
ItemsFileOption = Annotated[Path | None, typer.Option("--items-file", help="JSON object of items.")]
TranslationOption = Annotated[
    list[str],
    typer.Option(
        "--translation", help="KEY=TEXT: the item's translation for the requested State's language; repeatable."
    ),
]
LanguageOption = Annotated[str, typer.Option(help="The language the items are written in (BCP 47: en, fr, ar...).")]


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
    language: str = "",
    translation: list[str] | None = None,
    confidential: bool = False,
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
        language=language.strip(),
        translations=parse_pairs(translation or [], "--translation"),
        confidential=confidential,
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
    language: LanguageOption = "",
    translation: TranslationOption | None = None,
    confidential: Annotated[
        bool, typer.Option(help="Ask that the fact and substance of the request be kept confidential (Art 40).")
    ] = False,
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
        language=language,
        translation=translation,
        confidential=confidential,
    )
    with errors():
        view = request_services.create_request(n, draft, actor=actor())
    if as_json:
        emit(requests_present.request_view(view, n.clock.now()), True)
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
    """Check a request as Send would (contents, legal basis, a node to carry it), saving nothing; exit 2 if it
    could not be sent now."""
    n = node()
    with errors():
        if request_id is not None:
            request_id = request_services.resolve_request_id(n, request_id)
            issues = list(request_services.preflight_saved(n, request_id).problems)
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
    out.print("ready: every required item is present, the legal basis holds and a node will carry it")


@request_app.command("amend")
def request_amend(
    request_id: RequestId,
    item: ItemOption | None = None,
    items_file: ItemsFileOption = None,
    translation: TranslationOption | None = None,
    as_json: JsonOption = False,
) -> None:
    """Change a draft's items: KEY=VALUE sets an item, KEY= removes it, the others stay (one transaction); the
    same for --translation KEY=TEXT."""
    n = node()
    changes = parse_items(item or [], items_file)
    translations = parse_pairs(translation or [], "--translation")
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        view = request_services.amend_request(n, request_id, changes, actor=actor(), translations=translations)
    if as_json:
        emit(requests_present.request_view(view, n.clock.now()), True)
    else:
        out.print(f"request {request_id} amended")
        for issue in view.issues:
            out.print(f"  [yellow]to complete before sending:[/] {issue}", highlight=False)


@request_app.command("show")
def request_show(request_id: RequestId) -> None:
    """Show a request with its history, clocks, allowed actions and messages, as JSON (changes nothing)."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        emit(requests_present.request_view(request_services.get_request(n, request_id), n.clock.now()), True)


@request_app.command("read")
def request_read(request_id: RequestId) -> None:
    """Mark a request's incoming messages as read by you, and tell the sending node (a signed read notice)."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        marked = messaging_services.mark_read(n, request_id, actor=actor())
    out.print(f"{marked} message(s) marked as read" if marked else "nothing unread")


@request_app.command("transition")
def request_transition(
    request_id: RequestId,
    action: Annotated[Action, typer.Argument(help="What to do.")],
    ground: Annotated[list[str] | None, typer.Option("--ground", help="Refusal ground key, repeatable.")] = None,
    note: Annotated[str, typer.Option(help="Reason, information asked or given.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Act on a request: send, acknowledge, preserve, refuse (with grounds), execute, withdraw, close ..."""
    n = node()
    with errors():
        request_id = request_services.resolve_request_id(n, request_id)
        view = request_services.act_on_request(
            n, request_id, action, actor=actor(), grounds=tuple(ground or ()), note=note
        )
    if as_json:
        emit(requests_present.request_view(view, n.clock.now()), True)
    else:
        out.print(f"request {request_id}: {view.request.state.value}")


def parse_duration(text: str) -> int:
    """``--due-within`` in seconds, in the one grammar of ``requests.domain.parse_due_within``."""
    try:
        return int(parse_due_within(text).total_seconds())
    except ValueError as exc:
        fail(f"--due-within {text!r}: {exc}")


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
        short = request_services.short_ids(n, [r.id for r in rows])
        labels = {(p.key, t.key): t.label for p in n.packs.values() for t in p.request_types}
        # The id is what an operator types next (`request show`, `transition`): never wrapped or cut.
        widest = max((len(v) for v in short.values()), default=2)
        headers = ("case", "type", "direction", "State", "state", "next clock", "due")
        t = Table(Column("id", no_wrap=True, min_width=widest), *headers)
        for r in rows:
            t.add_row(
                short[r.id],
                r.case_reference or r.case_id,
                labels.get((r.instrument, r.type), r.type) + (" [red]EMERGENCY[/]" if r.emergency else ""),
                r.direction.value,
                r.counterpart_state,
                r.state.value,
                r.next_clock or "",
                requests_present.time_left(r.next_due_at, now),
            )
        return t

    emit([requests_present.summary(r, now) for r in rows], as_json, table)
