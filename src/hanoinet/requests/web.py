"""The casework pages: the inbox with its clocks, the guided composer, a request's page with its actions, cases.

The composer is built from the rule pack, not written per type: each required item appears with its article and
help, the legal basis between the two States is looked up in the treaty's status for today, and nothing leaves
until the pack's completeness check passes — the problems are listed with the article that requires each item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from hanoinet.cases import service as case_services
from hanoinet.cases.domain import MAX_QUALIFICATION, MAX_SUMMARY, known_offences
from hanoinet.federation import messaging as messaging_services
from hanoinet.platform.errors import N_, DomainError, Issue, ValidationFailed, kind_of
from hanoinet.platform.limits import read_form, read_upload_form
from hanoinet.platform.permissions import Permission
from hanoinet.platform.ports import MAX_PAGE
from hanoinet.platform.security import SecureRoute, secured
from hanoinet.platform.web import (
    LANGUAGES,
    actor,
    by_field,
    default_instrument,
    flash,
    language_name,
    language_names,
    local_moment,
    page_language,
    redirect,
    render,
    time_zone_of,
)
from hanoinet.requests import kept
from hanoinet.requests import service as request_services
from hanoinet.requests.domain import (
    ACTION_SIDES,
    OFF_NETWORK,
    OPEN_STATES,
    Action,
    Direction,
    Means,
    RequestSide,
    RequestState,
    parse_due_within,
)
from hanoinet.requests.ports import InboxQuery
from hanoinet.requests.service import RequestDraft, RequestView
from hanoinet.rules.domain import Channel, RequestType, RulePack
from hanoinet.rules.texts import translated
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.domain import BasisFinding

if TYPE_CHECKING:
    from hanoinet.app.node import Node

PAGE = 50
ITEM_PREFIX = "items."
TRANSLATION_PREFIX = "translations."
DUE_FILTERS = {"overdue": N_("overdue"), "24h": N_("due within 24 hours"), "7d": N_("due within 7 days")}
ACTION_ORDER = tuple(Action)


def _basis(node: Node, instrument: str, requested: str) -> BasisFinding | None:
    """The legal basis under ``instrument`` between this node's State and ``requested`` today, for the composer's
    box before a draft exists (None until both States are known)."""
    ours = node.node_state or ""
    if not ours or not requested or instrument not in node.packs:
        return None
    if node.check_state(requested, "requested_state") is not None:
        return None
    return treaty_services.basis_of(node, instrument, ours, requested)


def _translations(form: FormData | Mapping[str, Any]) -> dict[str, str]:
    """The items' translations from a form: fields named ``translations.<key>``, blank ones left out."""
    return {
        key.removeprefix(TRANSLATION_PREFIX): str(value).strip()
        for key, value in form.items()
        if key.startswith(TRANSLATION_PREFIX) and str(value).strip()
    }


def _language_offer(accepted: Sequence[str], written: str, language: str) -> dict[str, Any]:
    """What a page says of languages (Art 40: a language acceptable to the requested State): the languages one
    may choose, those the requested State accepts (its directory entries), whether the request's language is
    among them, and the language its items' translations are for (the first accepted one, if it differs)."""
    codes = [a.split("-")[0].lower() for a in accepted]
    ours = written.split("-", maxsplit=1)[0].lower()
    theirs = next((c for c in codes if c in LANGUAGES), "")
    return {
        "languages": language_names(language),
        "counterpart": theirs,
        "accepted": [language_name(a, language) for a in accepted],
        "not_accepted": bool(codes) and ours not in codes,
        "translate_to": theirs if theirs and theirs != ours else "",
        "translate_to_name": language_name(theirs, language) if theirs else "",
    }


def _types(node: Node, language: str = "en") -> list[tuple[RulePack, str, list[RequestType]]]:
    """Request types by instrument and channel: the 24/7 network's first (they are the urgent ones)."""
    grouped = []
    for pack in (translated(p, language) for p in node.packs.values()):
        for channel in (Channel.POINT_OF_CONTACT, Channel.CENTRAL_AUTHORITY):
            types = [t for t in pack.request_types if t.channel is channel]
            if types:
                grouped.append((pack, channel.value, types))
    return grouped


def _items(form: FormData | Mapping[str, Any]) -> dict[str, str]:
    """The request's items from a form: fields named ``items.<key>``, blank ones left out (so they show as
    missing, with their article, rather than as present and empty)."""
    return {
        key.removeprefix(ITEM_PREFIX): str(value).strip()
        for key, value in form.items()
        if key.startswith(ITEM_PREFIX) and str(value).strip()
    }


def _draft(form: FormData, instrument: str, rtype: str, zone: str) -> RequestDraft:
    """The draft a composer's form describes; its deadline typed in the account's time zone ``zone``."""
    deadline = local_moment(str(form.get("deadline", "")), zone, "deadline")
    follows_up = str(form.get("follows_up", "")).strip() or None
    incoming = form.get("direction") == Direction.INCOMING.value
    means = str(form.get("means", "")).strip()
    return RequestDraft(
        case=str(form.get("case", "")).strip(),
        instrument=instrument,
        type=rtype,
        requested_state=str(form.get("requested_state", "")).strip().upper(),
        requesting_state=str(form.get("requesting_state", "")).strip().upper() or None if incoming else None,
        direction=Direction.INCOMING if incoming else Direction.OUTGOING,
        means=Means(means) if incoming and means in {m.value for m in OFF_NETWORK} else None,
        items=_items(form),
        emergency=form.get("emergency") == "on",
        deadline=deadline,
        follows_up=follows_up,
        language=str(form.get("language", "")).strip()[:35],
        translations=_translations(form),
    )


def router(node: Node) -> APIRouter:
    """The inbox, composer, request and case pages."""
    web = APIRouter(route_class=SecureRoute, include_in_schema=False)

    # --- inbox
    @web.get("/inbox", **secured(Permission.REQUESTS_READ, audit="request:list"))
    def inbox(
        request: Request,
        direction: Annotated[str, Query(max_length=10)] = "",
        state: Annotated[str, Query(max_length=40)] = "",
        counterpart: Annotated[str, Query(max_length=8)] = "",
        type: Annotated[str, Query(max_length=64)] = "",
        due: Annotated[str, Query(max_length=8)] = "",
        q: Annotated[str, Query(max_length=64)] = "",
        open: bool = False,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> HTMLResponse:
        """Incoming and outgoing requests, each with its running clock; filters, search, soonest due first when
        a due filter is set."""
        now = node.clock.now()
        states = {s.value: s for s in RequestState}
        directions = {d.value: d for d in Direction}
        query = InboxQuery(
            now=now,
            direction=directions.get(direction),
            state=states.get(state),
            counterpart_state=counterpart.strip().upper() or None,
            type=type or None,
            due_within_seconds=_due_seconds(due),
            overdue=due == "overdue",
            open_only=open,
            search=q.strip() or None,
            limit=PAGE + 1,
            offset=offset,
        )
        rows = list(request_services.inbox(node, query))
        filters = {
            "direction": direction if direction in directions else "",
            "state": state if state in states else "",
            "counterpart": counterpart.strip().upper(),
            "type": type,
            "due": due if due == "overdue" or _due_seconds(due) else "",
            "q": q.strip(),
            "open": open,
        }
        context = {
            "rows": rows[:PAGE],
            "more": len(rows) > PAGE,
            "offset": offset,
            "page": PAGE,
            "filters": filters,
            "query_string": _query_string(filters),
            "states": [s.value for s in RequestState],
            "open_states": {s.value for s in OPEN_STATES},
            "types": sorted({(t.key, t.label) for p in node.packs.values() for t in p.request_types}),
            "due_filters": DUE_FILTERS,
            "type_labels": {t.key: t.label for p in node.packs.values() for t in p.request_types},
            **flash(request),
        }
        return render(request, "inbox.html", context)

    # --- composer
    @web.get("/compose", **secured(Permission.REQUESTS_WRITE))
    def compose(
        request: Request,
        instrument: Annotated[str, Query(max_length=64)] = "",
        type: Annotated[str, Query(max_length=64)] = "",
        kind: Annotated[str, Query(max_length=130)] = "",
        requested_state: Annotated[str, Query(max_length=8)] = "",
        case: Annotated[str, Query(max_length=64)] = "",
        follows_up: Annotated[str, Query(max_length=64)] = "",
        incoming: Annotated[bool, Query()] = False,
        requesting_state: Annotated[str, Query(max_length=8)] = "",
    ) -> HTMLResponse:
        """Choose the type (``kind`` = instrument:type, from the first step's list), the requested State and the
        case; then the type's form with every item and its article. With ``incoming``, the same form registers a
        request received off the network, typed in from the document received: the requesting State is chosen,
        and the items are checked against the instrument as for one made here."""
        if kind:
            instrument, _, type = kind.partition(":")
        values: dict[str, Any] = {
            "instrument": instrument or default_instrument(node),
            "type": type,
            "requested_state": node.node_state or "" if incoming else requested_state.strip().upper(),
            "requesting_state": requesting_state.strip().upper() if incoming else "",
            "incoming": incoming,
            "case": case,
            "follows_up": "" if incoming else follows_up,
        }
        return _composer(request, values, {}, [])

    @web.post("/compose", **secured(Permission.REQUESTS_WRITE, audit="request:create"))
    async def submit(request: Request) -> Response:
        """Save as a draft, or check and send: if anything is missing nothing is saved, and each problem is
        shown with the article that requires it."""
        form = await read_form(request)
        return await _run_in_thread(_submit, request, form)

    @web.post("/intake/by-hand", **secured(Permission.REQUESTS_WRITE, audit="request:create"))
    async def submit_by_hand(request: Request) -> Response:
        """A request received off the network, typed in, with the document received (optional): the composer's
        incoming form, which carries a file, so it is read within the document cap."""
        form = await read_upload_form(request)
        upload = form.get("document")
        received = (await upload.read(), upload.filename or "") if isinstance(upload, UploadFile) else None
        return await _run_in_thread(_submit, request, form, received)

    def _submit(request: Request, form: FormData, received: tuple[bytes, str] | None = None) -> Response:
        instrument = str(form.get("instrument", ""))
        rtype_key = str(form.get("type", ""))
        intent = str(form.get("intent", "check"))
        values: dict[str, Any] = {
            "instrument": instrument,
            "type": rtype_key,
            "requested_state": str(form.get("requested_state", "")).strip().upper(),
            "case": str(form.get("case", "")).strip(),
            "follows_up": str(form.get("follows_up", "")).strip(),
            "deadline": str(form.get("deadline", "")).strip(),
            "emergency": form.get("emergency") == "on",
            "items": _items(form),
            "language": str(form.get("language", "")).strip(),
            "translations": _translations(form),
            "incoming": form.get("direction") == Direction.INCOMING.value,
            "requesting_state": str(form.get("requesting_state", "")).strip().upper(),
            "means": str(form.get("means", "")),
            "from": str(form.get("from", "")).strip()[:256],
        }
        try:
            draft = _draft(form, instrument, rtype_key, time_zone_of(request))
            if draft.direction is Direction.INCOMING:
                return _register_typed_in(request, values, draft, intent, received)
            checked = request_services.preflight(node, draft)
            # Check and Send ask the same preflight as the API and the CLI; a draft is saved with missing items
            issues = list(checked.problems if intent != "draft" else checked.issues)
            if intent == "check" or (issues and intent != "draft"):
                status = 422 if issues else 200
                return _composer(
                    request, values, by_field(issues), issues, status=status, checked=True, basis=checked.basis
                )
            view = request_services.create_request(node, draft, actor=actor(request).name)
        except ValidationFailed as exc:
            return _composer(request, values, by_field(exc.issues), list(exc.issues), status=422, checked=True)
        if intent == "draft":
            return redirect(f"/requests/{view.request.id}", "draft")
        try:
            request_services.act_on_request(node, view.request.id, Action.SEND, actor=actor(request).name)
        except DomainError as exc:  # saved as a draft: the page says why it did not go
            return _request_page(request, view.request.id, error=str(exc), status=_status(exc))
        return redirect(f"/requests/{view.request.id}", "sent")

    def _register_typed_in(
        request: Request,
        values: dict[str, Any],
        draft: RequestDraft,
        intent: str,
        received: tuple[bytes, str] | None,
    ) -> Response:
        """A request received off the network, typed in: Check lists what the instrument finds missing (the
        requesting State's to complete); Register records it as received as it came, its clocks running, and
        keeps the document received (if one was given) in the vault with its custody."""
        data, file_name = received if received and received[0] else (b"", "")
        if received and received[1] and not data:
            raise ValidationFailed([Issue("document", "the document received is empty")])
        if intent != "register":
            issues = list(request_services.preflight(node, draft).issues)
            return _composer(request, values, by_field(issues), issues, status=422 if issues else 200, checked=True)
        if data and node.vault is None:
            raise ValidationFailed([Issue("document", "this node has no vault to keep the document in")])
        who = actor(request)
        view = request_services.create_request(node, draft, actor=who.name)
        if data:
            sender = str(values.get("from", "")).strip() or draft.requesting_state or "the requesting State"
            means = draft.means.value if draft.means else "post"
            kept.keep(
                node,
                view.request.id,
                data,
                actor=who,
                what="received",
                source=f"received by {means} from {sender}"[:256],
                method=f"received by {means}",
                file_name=file_name or "received",
            )
        return redirect(f"/requests/{view.request.id}", "registered-by-hand")

    def _composer(
        request: Request,
        values: dict[str, Any],
        errors: dict[str, list[Issue]],
        issues: Sequence[Issue],
        *,
        status: int = 200,
        checked: bool = False,
        basis: BasisFinding | None = None,
    ) -> HTMLResponse:
        language = page_language(request)
        values.setdefault("language", language)
        found = node.packs.get(values["instrument"])
        pack = translated(found, language) if found else None
        rtype = pack.request_type(values["type"]) if pack and values["type"] else None
        other = values.get("requesting_state") if values.get("incoming") else values["requested_state"]
        basis = basis or _basis(node, values["instrument"], other or "")  # binding both is symmetric
        accepted = (
            request_services.accepted_languages(node, values["requested_state"], values["instrument"] or None)
            if values["requested_state"]
            else ()
        )
        offer = _language_offer(accepted, str(values["language"] or language), language)
        context = {
            "values": values,
            "errors": errors,
            "issues": issues,
            "groups": _types(node, language),
            **{k: offer[k] for k in ("languages", "accepted", "not_accepted", "translate_to", "translate_to_name")},
            "pack": pack,
            "rtype": rtype,
            "basis": basis,
            "cases": case_services.list_cases(node, limit=MAX_PAGE),
            "states": sorted(node.catalog.states.items(), key=lambda kv: kv[1]),
            "own_state": node.node_state or "",
            "time_zone": time_zone_of(request),
            "checked": checked,
            **flash(request),
        }
        return render(request, "compose.html", context, status=status)

    # --- a request
    @web.get("/requests/{request_id}", **secured(Permission.REQUESTS_READ, audit="request:view"))
    def show(request: Request, request_id: str) -> HTMLResponse:
        """The request: what it asks, its clocks, its timeline of events and messages, what may be done now.
        Opening it changes nothing (an auditor may read it): telling the sender it was read is the button below."""
        return _request_page(request, request_id, context=flash(request))

    @web.post("/requests/{request_id}/read", **secured(Permission.REQUESTS_WRITE, audit="request:read"))
    def mark_read(request: Request, request_id: str) -> Response:
        """Record that the signed-in user read the request's incoming messages, and tell the sending node."""
        try:
            messaging_services.mark_read(node, request_id, actor=actor(request).name)
        except DomainError as exc:
            return _request_page(request, request_id, error=str(exc), status=_status(exc))
        return redirect(f"/requests/{request_id}", "read")

    @web.post("/requests/{request_id}/actions", **secured(Permission.REQUESTS_WRITE, audit="request:act"))
    async def act(request: Request, request_id: str) -> Response:
        """Carry out one action; a refusal names its grounds (each from the rule pack, with its article)."""
        form = await read_form(request)
        return await _run_in_thread(_act, request, request_id, form)

    def _act(request: Request, request_id: str, form: FormData) -> Response:
        try:
            action = Action(str(form.get("action", "")))
        except ValueError:
            return _request_page(request, request_id, error=f"unknown action {form.get('action')!r}", status=422)
        grounds = tuple(str(g) for g in form.getlist("grounds"))
        note = str(form.get("note", "")).strip()
        try:
            request_services.act_on_request(
                node, request_id, action, actor=actor(request).name, grounds=grounds, note=note
            )
        except DomainError as exc:
            return _request_page(request, request_id, error=str(exc), status=_status(exc))
        return redirect(f"/requests/{request_id}", "sent" if action is Action.SEND else "acted")

    @web.post("/requests/{request_id}/items", **secured(Permission.REQUESTS_WRITE, audit="request:amend"))
    async def amend(request: Request, request_id: str) -> Response:
        """Complete or correct a draft's items."""
        form = await read_form(request)
        return await _run_in_thread(_amend, request, request_id, form)

    def _amend(request: Request, request_id: str, form: FormData) -> Response:
        try:
            changes = {k.removeprefix(ITEM_PREFIX): str(v) for k, v in form.items() if k.startswith(ITEM_PREFIX)}
            translations = {
                k.removeprefix(TRANSLATION_PREFIX): str(v) for k, v in form.items() if k.startswith(TRANSLATION_PREFIX)
            }
            request_services.amend_request(
                node, request_id, changes, actor=actor(request).name, translations=translations
            )
        except DomainError as exc:
            return _request_page(request, request_id, error=str(exc), status=_status(exc))
        return redirect(f"/requests/{request_id}", "draft")

    @web.post("/requests/{request_id}/messages", **secured(Permission.REQUESTS_WRITE, audit="message:send"))
    def correspond(
        request: Request,
        request_id: str,
        text: Annotated[str, Form(max_length=messaging_services.MAX_TEXT)] = "",
        subject: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        """Write to the other authority about this request (signed, encrypted, delivered by the worker)."""
        try:
            messaging_services.correspond(node, request_id, text, subject=subject, actor=actor(request).name)
        except DomainError as exc:
            return _request_page(request, request_id, error=str(exc), status=_status(exc))
        return redirect(f"/requests/{request_id}#messages", "message")

    def _request_page(
        request: Request,
        request_id: str,
        *,
        error: str = "",
        status: int = 200,
        context: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        language = page_language(request)
        view = request_services.get_request(node, request_id)
        shown = translated(node.pack(view.request.instrument), language).request_type(view.rtype.key)
        view = replace(view, rtype=shown or view.rtype)
        case = case_services.get_case(node, view.request.case_id)
        follow_up_types = [
            t
            for p in [node.packs[view.request.instrument]]
            for t in p.request_types
            if view.rtype.key in t.follow_up_of
        ]
        page = {
            "view": view,
            "r": view.request,
            "case": case,
            "timeline": _timeline(view),
            "unread": any(m.direction == "incoming" and m.read_at is None for m in view.messages),
            "actions": sorted(view.allowed_actions, key=ACTION_ORDER.index),
            "follow_up_types": follow_up_types,
            "error": error,
            "errors": by_field(view.issues),
            "documents": _documents(view, language),
            "answers_received": _answers_received(view),
            "kept": kept.kept(node, view.request.case_id, view.request.id) if node.vault is not None else [],
            **(context or {}),
        }
        return render(request, "request.html", page, status=status)

    def _answers_received(view: RequestView) -> list[str]:
        """The actions of this request that are the other State's, recorded here from a document it sent off the
        network (each needs the document received, kept in the vault)."""
        r = view.request
        if r.peer is not None or r.state is RequestState.DRAFT or node.vault is None:
            return []
        theirs = RequestSide.REQUESTED if r.direction is Direction.OUTGOING else RequestSide.REQUESTING
        return [a.value for a in view.allowed_actions if ACTION_SIDES[a] is theirs]

    def _documents(view: RequestView, language: str) -> dict[str, Any] | None:
        """What the request page offers of its formal document: the languages to choose from, the ones the
        requested State accepts (Art 40), and the language the items' translations are for."""
        r = view.request
        if r.direction is not Direction.OUTGOING or node.identity is None:
            return None
        accepted = request_services.accepted_languages(node, r.requested_state, r.instrument)
        offer = _language_offer(accepted, r.language or language, language)
        ours = (r.language or language).split("-")[0]
        return {**offer, "language": ours if ours in LANGUAGES else language}

    # --- cases
    @web.get("/cases", **secured(Permission.REQUESTS_READ, audit="case:list"))
    def cases(request: Request, offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
        """Cases, newest first."""
        found = case_services.list_cases(node, limit=PAGE + 1, offset=offset)
        context = {"cases": found[:PAGE], "more": len(found) > PAGE, "offset": offset, "page": PAGE}
        return render(request, "cases.html", {**context, **flash(request)})

    @web.get("/cases/new", **secured(Permission.REQUESTS_WRITE))
    def new_case(request: Request) -> HTMLResponse:
        """The form to open a case."""
        return _case_form(request, {}, {})

    @web.post("/cases/new", **secured(Permission.REQUESTS_WRITE, audit="case:create"))
    def create_case(
        request: Request,
        reference: Annotated[str, Form(max_length=64)] = "",
        offence: Annotated[str, Form(max_length=64)] = "",
        max_penalty_years: Annotated[str, Form(max_length=4)] = "",
        summary: Annotated[str, Form(max_length=MAX_SUMMARY)] = "",
        legal_qualification: Annotated[str, Form(max_length=MAX_QUALIFICATION)] = "",
    ) -> Response:
        """Open a case, then go on to draft its first request."""
        values = {
            "reference": reference.strip(),
            "offence": offence,
            "max_penalty_years": max_penalty_years.strip(),
            "summary": summary.strip(),
            "legal_qualification": legal_qualification.strip(),
        }
        try:
            penalty = _penalty(values["max_penalty_years"])
            case = case_services.open_case(
                node,
                reference=values["reference"],
                offence=offence,
                max_penalty_years=penalty,
                summary=values["summary"],
                legal_qualification=values["legal_qualification"],
            )
        except ValidationFailed as exc:
            return _case_form(request, values, by_field(exc.issues), status=422)
        except DomainError as exc:
            return _case_form(request, values, {"reference": [Issue("reference", str(exc))]}, status=409)
        return redirect(f"/compose?case={case.id}", "case")

    def _case_form(
        request: Request, values: Mapping[str, Any], errors: dict[str, list[Issue]], *, status: int = 200
    ) -> HTMLResponse:
        context = {"values": values, "errors": errors, "offences": known_offences(node.packs)}
        return render(request, "case_new.html", context, status=status)

    @web.get("/cases/{case_id}", **secured(Permission.REQUESTS_READ, audit="case:view"))
    def show_case(request: Request, case_id: str) -> HTMLResponse:
        """A case and its requests."""
        case = case_services.get_case(node, case_id)
        rows = request_services.inbox(node, InboxQuery(now=node.clock.now(), case_id=case.id, limit=MAX_PAGE))
        offences = known_offences(node.packs)
        context = {
            "case": case,
            "rows": rows,
            "offence": offences.get(case.offence, case.offence),
            "type_labels": {t.key: t.label for p in node.packs.values() for t in p.request_types},
        }
        return render(request, "case.html", context)

    return web


def _due_seconds(due: str) -> int | None:
    """The inbox's due filter in the grammar of ``parse_due_within`` (the menu offers 24h and 7d; any other value
    of that grammar works in the address); "overdue" and anything else filter nothing here."""
    try:
        return int(parse_due_within(due).total_seconds()) if due and due != "overdue" else None
    except ValueError:
        return None


def _penalty(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) > 100:
        raise ValidationFailed([Issue("max_penalty_years", "must be a whole number of years from 0 to 100")])
    return int(text)


def _status(exc: DomainError) -> int:
    """The HTTP status of a page that shows a refused action: the error's, by the one table (``kind_of``)."""
    return kind_of(exc).status


def _query_string(filters: Mapping[str, Any]) -> str:
    return urlencode({k: ("1" if v is True else v) for k, v in filters.items() if v})


def _timeline(view: RequestView) -> list[dict[str, Any]]:
    """Events and messages in one list, oldest first: what an operator reads to know where a request stands."""
    entries: list[dict[str, Any]] = [
        {
            "at": e.at,
            "kind": "event",
            "what": e.kind.value,
            "actor": e.actor,
            "from": e.state_from.value if e.state_from else "",
            "to": e.state_to.value,
            "note": str(e.data.get("note", "")),
            "grounds": list(e.data.get("grounds", [])),
            "data": e.data,
        }
        for e in view.request.events
    ]
    for m in view.messages:
        entries.append(
            {
                "at": m.created_at if isinstance(m.created_at, datetime) else datetime.fromisoformat(str(m.created_at)),
                "kind": "message",
                "what": m.kind.value,
                "direction": m.direction,
                # Who wrote it: the other node's author (as its signed body says) for what came in, ours for what
                # went out; for what came in, ``created_by`` is who read it here.
                "actor": _author(m.body, m.peer) if m.direction == "incoming" else (m.created_by or m.peer),
                "read_by": m.created_by if m.direction == "incoming" else "",
                "text": str(m.body.get("text", "")) if isinstance(m.body, Mapping) else "",
                "subject": str(m.body.get("subject", "")) if isinstance(m.body, Mapping) else "",
                "status": m.status.value,
                "delivered_at": m.delivered_at,
                "read_at": m.read_at,
                "error": m.error,
            }
        )
    entries.sort(key=lambda e: e["at"])
    return entries


def _author(body: Mapping[str, Any], peer: str) -> str:
    """The author of a message received from ``peer``: its signed body names them (correspondence, actions)."""
    named = body.get("from_actor") or body.get("actor")
    return f"{named} ({peer})" if isinstance(named, str) and named else peer


async def _run_in_thread(fn: Any, *args: Any) -> Response:
    """Run a page's synchronous work off the event loop (the services block on the database)."""
    result: Response = await run_in_threadpool(fn, *args)
    return result
