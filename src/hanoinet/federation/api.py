"""Federation over HTTP: what other nodes call (``/federation/v1``), and what operators use (``/api/v1``).

Node-to-node routes carry no API token: a transmission authenticates itself (a JWS by a key in this node's
directory, inside a JWE to this node's key), an entry by its own signatures, and evidence chunks by the transfer's
bearer token, which only the receiver of the offer could read, and by the chunks' own authentication. Refusals get
a status and a stable reason code (``{"title": reason, "detail": …}``) and are recorded.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import APIRouter, Body, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, StrictBool
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from hanoinet.evidence.domain import RecordFramer, RecordTooLong
from hanoinet.evidence.ports import ChunkRefused
from hanoinet.federation import consents as consent_services
from hanoinet.federation import directory as directory_services
from hanoinet.federation import inbound, registers
from hanoinet.federation import messaging as messaging_services
from hanoinet.federation import present as federation_present
from hanoinet.federation import transfers as transfer_services
from hanoinet.federation.domain import EntryStatus, EnvelopeRejected, MessageKind, peer_answer
from hanoinet.federation.ports import MessageQuery
from hanoinet.federation.schemas import (
    ChunkProblem,
    ChunksOut,
    ConsentOut,
    CorrespondenceOut,
    EntryOut,
    EntryVerdictOut,
    FederationStatusOut,
    ImportOut,
    MessageOut,
    OwnNodeOut,
    PeerOut,
    QueuedOut,
    ReceiptOut,
    RevokedOut,
    Signed,
    SyncOut,
    TransferOut,
    TransferStatusOut,
)
from hanoinet.federation.transport import AnswerTooLarge, HttpTransport, OutboundRefused
from hanoinet.platform.api import NOT_BLANK, Strict, problems
from hanoinet.platform.errors import Issue, NotFound, ValidationFailed
from hanoinet.platform.limits import read_body
from hanoinet.platform.logsafe import safe
from hanoinet.platform.paging import OffsetQuery
from hanoinet.platform.permissions import NodeRole, Permission
from hanoinet.platform.security import PrincipalDep, SecureRoute, secured

if TYPE_CHECKING:
    from hanoinet.app.node import Node

JOSE = "application/jose"
MAX_TRANSMISSION = 64 * 1024 * 1024

REJECTION_STATUS = {
    "malformed": 400,
    "undecryptable": 400,
    "unknown_sender": 401,
    "bad_signature": 401,
    "retired_key": 401,
    "stale": 401,
    "revoked_key": 403,
    "revoked_sender": 403,
    "misdirected": 421,
    "replay": 409,
    "entry_refused": 409,
}


def rejection_response(exc: EnvelopeRejected) -> JSONResponse:
    """The answer to a refused transmission: its reason code and detail (escaped and truncated: it may quote what
    the sender chose), never more."""
    return JSONResponse(
        status_code=REJECTION_STATUS.get(exc.reason, 400),
        content={"title": exc.reason, "detail": safe(exc.detail, inbound.DETAIL_LIMIT)},
    )


def throttled_response(wait: float) -> JSONResponse:
    """The answer to a source address past its rate of refusals: 429, unread, with when to come back."""
    seconds = max(1, math.ceil(wait))
    return JSONResponse(
        status_code=429,
        headers={"Retry-After": str(seconds)},
        content={
            "title": "too_many_refusals",
            "detail": f"too many refused transmissions from this address: try again in {seconds} s",
        },
    )


TransferId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
"""A transfer's id in a peer's URL: the ids this node makes (UUIDs), nothing that could carry a 100 KB value or a
newline into an error."""


class OutgoingMessageIn(Strict):
    """A message to queue: correspondence on a request, or spontaneous information."""

    to: str = Field(description="Node id of the recipient")
    kind: MessageKind = MessageKind.CORRESPONDENCE
    text: str = Field(max_length=100_000)
    subject: str = Field(default="", max_length=500)
    request_id: str | None = None
    conditions: dict[str, Any] | None = Field(default=None, description="Conditions of use (Art 40, spontaneous)")


class MessagesIn(Strict):
    """Messages to queue, all or none."""

    messages: list[OutgoingMessageIn] = Field(max_length=5000)


class Correspondence(Strict):
    """A message about a request, to the node it is exchanged with."""

    text: str = Field(max_length=100_000)
    subject: str = Field(default="", max_length=500)


class Revocation(Strict):
    """Why a node or key is no longer trusted."""

    reason: str = Field(min_length=1, max_length=2000, pattern=NOT_BLANK)


class Rotation(Strict):
    """Rotate this node's keys; ``revoke_old`` if they may be compromised."""

    revoke_old: StrictBool = False


class SyncIn(Strict):
    """Where a directory node publishes its register."""

    url: str = Field(
        pattern=r"^https?://([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(:[0-9]{1,5})?(/[!-~]*)?$",
        max_length=2048,
        description="Base URL of the directory node, e.g. https://directory.example",
    )


class TransferIn(Strict):
    """Evidence to send to another node, in answer to a request exchanged with it."""

    to: str
    items: list[str] = Field(min_length=1, max_length=1000)
    request_id: str
    reason: str = Field(min_length=1, max_length=2000, pattern=NOT_BLANK)


class ConsentIn(Strict):
    """Ask the originator whether an item may go on to a third node (Art 36)."""

    destination: str
    purpose: str = Field(min_length=1, max_length=2000, pattern=NOT_BLANK)


class DecisionIn(Strict):
    """The originator's decision on a consent request."""

    grant: StrictBool
    note: str = Field(default="", max_length=2000)


def _normal(url: str) -> str:
    """A base URL as compared: scheme and host in lower case, no trailing slash."""
    parsed = httpx.URL(url.strip())
    return str(parsed.copy_with(scheme=parsed.scheme.lower(), host=parsed.host.lower())).rstrip("/")


def sync_targets(node: Node) -> list[str]:
    """Where ``directory sync`` may fetch a register: the configured directory URLs (``HANOINET_DIRECTORY_URLS``)
    and the confirmed endpoints of trusted nodes with the directory role."""
    configured = [_normal(u) for u in node.federation.directory_urls]
    peers = [
        _normal(p.entry.endpoint)
        for p in directory_services.list_peers(node)
        if p.status is EntryStatus.ACTIVE and NodeRole.DIRECTORY in p.entry.roles
    ]
    return list(dict.fromkeys([*configured, *peers]))


def fetch_register(node: Node, url: str) -> dict[str, Any]:
    """GET a directory node's signed register, from a place an operator approved only; its answer is size-capped
    and never shown (a URL could point at another service, whose reply must not come back through this node)."""
    shown = safe(url)
    try:
        base = _normal(url)
        target = str(httpx.URL(f"{base}/federation/v1/register"))
    except (httpx.InvalidURL, UnicodeError) as exc:  # a host name no resolver would take, say
        raise ValidationFailed([Issue("url", f"{shown!r} is not a URL this node can call: {exc}")]) from None
    allowed = sync_targets(node)
    if base not in allowed:
        where = ", ".join(allowed) if allowed else "none yet: set HANOINET_DIRECTORY_URLS or import a directory node"
        raise ValidationFailed(
            [Issue("url", f"{shown!r} is not a directory this node syncs from (configured or trusted: {where})")]
        )
    transport = HttpTransport.of(node.federation)
    try:
        code, body = transport.fetch(target)
    except (httpx.InvalidURL, UnicodeError) as exc:  # the resolver refuses the host name (a label too long)
        raise ValidationFailed([Issue("url", f"{shown!r} is not a URL this node can call: {exc}")]) from None
    except (OutboundRefused, AnswerTooLarge) as exc:
        raise ValidationFailed([Issue("url", str(exc))]) from None
    finally:
        transport.close()
    if code != 200:
        raise ValidationFailed([Issue("url", f"{shown} {peer_answer(code, body)}")])
    try:
        data = json.loads(body)
    except ValueError:
        raise ValidationFailed([Issue("url", f"{shown} did not answer with a JSON register")]) from None
    if not isinstance(data, dict):
        raise ValidationFailed([Issue("url", f"{shown} did not answer with a JSON register")])
    return data


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def node_router(node: Node) -> APIRouter:
    """The routes other nodes call.

    Anyone can call them, so what a refusal costs is bounded per source address (``inbound.RefusalGuard``): past
    its rate an address is answered 429 before its body is read, and the counts of the last windows are recorded
    when the server stops. Without authentication only this node's own signed entry is served, and the register
    only by a directory node (publishing it is what a directory is for).
    """
    guard = inbound.RefusalGuard(node.federation.refusals)

    @asynccontextmanager
    async def counted(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(inbound.keep_counts, node, guard.drain())

    router = APIRouter(
        prefix="/federation/v1", tags=["federation (node to node)"], route_class=SecureRoute, lifespan=counted
    )

    async def refused(request: Request, exc: EnvelopeRejected) -> JSONResponse:
        """Record (or count) a refusal decided here, before the services saw anything, and answer it."""
        await run_in_threadpool(inbound.refuse, node, exc, _remote(request), guard)
        return rejection_response(exc)

    @router.post(
        "/transmissions",
        response_class=Response,
        responses={
            200: {"content": {JOSE: {"schema": {"type": "string"}}}, "description": "The sealed, signed receipt"},
            **problems(400, 401, 403, 409, 421, 429),
        },
        **secured(Permission.PEER),
    )
    async def transmission(request: Request) -> Response:
        """Take a sealed transmission of signed messages; answer with a sealed, signed receipt."""
        wait = guard.admit(_remote(request), node.now_wall())
        if wait is not None:
            return throttled_response(wait)
        body = await read_body(request, MAX_TRANSMISSION)  # stops reading one byte past the limit
        if len(body) > MAX_TRANSMISSION:
            return await refused(request, EnvelopeRejected("malformed", "the transmission is too large"))
        try:
            envelope = body.decode("ascii")
        except UnicodeDecodeError:
            return await refused(request, EnvelopeRejected("malformed", "a transmission is a compact JWE (ASCII)"))
        try:
            receipt = await run_in_threadpool(
                inbound.receive_transmission, node, envelope.strip(), _remote(request), guard
            )
        except EnvelopeRejected as exc:
            return rejection_response(exc)
        return Response(receipt, media_type=JOSE)

    @router.post(
        "/entries",
        response_model=EntryVerdictOut,
        responses=problems(400, 401, 403, 409, 421, 429),
        **secured(Permission.PEER),
    )
    async def entry(request: Request) -> JSONResponse:
        """Take a known node's newer signed entry (a key rotation, a new endpoint)."""
        wait = guard.admit(_remote(request), node.now_wall())
        if wait is not None:
            return throttled_response(wait)
        try:
            signed = json.loads(await request.body())
        except ValueError:
            return await refused(request, EnvelopeRejected("malformed", "an entry is a JWS in JSON serialization"))
        if not isinstance(signed, dict):
            return await refused(request, EnvelopeRejected("malformed", "an entry is a JSON object"))
        try:
            result = await run_in_threadpool(inbound.receive_entry, node, signed, _remote(request), guard)
        except EnvelopeRejected as exc:
            return rejection_response(exc)
        except directory_services.EntryRefused as exc:
            return rejection_response(EnvelopeRejected("entry_refused", str(exc)))
        return JSONResponse(
            {"node_id": result.peer.entry.node_id, "verdict": result.verdict.value, "reason": result.reason}
        )

    @router.get("/entry", response_model=Signed, **secured(Permission.PEER))
    def own_entry() -> dict[str, Any]:
        """This node's signed directory entry."""
        return dict(directory_services.publish_own_entry(node).signed)

    @router.get("/register", response_model=Signed, responses=problems(404), **secured(Permission.PEER))
    def register() -> dict[str, Any]:
        """This node's signed register of the entries it trusts, if it is a directory node (for nodes that trust it
        as one); any other node's trust list is its own business, and it answers 404."""
        _, profile, _ = node.network()
        if NodeRole.DIRECTORY not in profile.roles:
            raise NotFound("this node is not a directory node: it publishes no register")
        return directory_services.register(node)

    @router.get(
        "/transfers/{transfer_id}",
        response_model=TransferStatusOut,
        responses=problems(401, 404),
        **secured(Permission.PEER),
    )
    def transfer_status(
        transfer_id: TransferId, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """How many verified chunks of each item this node holds: the sender resumes from there."""
        return transfer_services.transfer_status(node, transfer_id, _bearer(authorization))

    @router.put(
        "/transfers/{transfer_id}/items/{idx}",
        response_model=ChunksOut,
        responses={
            **problems(401, 404),
            409: {"model": ChunkProblem, "description": "Not the next chunk: resume at chunks_done"},
            413: {"model": ChunkProblem, "description": "A record states more bytes than the item's chunk size"},
        },
        **secured(Permission.PEER),
    )
    async def records(
        transfer_id: TransferId,
        idx: int,
        request: Request,
        start: Annotated[int, Query(ge=0)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Take an item's records from ``start`` on, streamed; each authenticated before it is written.

        Reading the network and checking/writing records overlap: a reader task frames records into a small queue,
        and the writer takes them in a worker thread. If the sender goes away mid-stream, every whole record that
        arrived is kept; the sender asks for the status and resumes there.
        """
        writer = await run_in_threadpool(
            transfer_services.chunk_writer, node, transfer_id, idx, start, _bearer(authorization)
        )
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=2)
        cut = False
        too_long: RecordTooLong | None = None
        framer = RecordFramer(writer.chunk_size)  # a record's stated length is checked before it is buffered

        async def reader() -> None:
            nonlocal cut, too_long
            try:
                async for piece in request.stream():
                    for record in framer.feed(piece):
                        await queue.put(record)
            except ClientDisconnect:
                cut = True
            except RecordTooLong as exc:
                too_long = exc
            finally:
                await queue.put(None)

        task = asyncio.create_task(reader())
        try:
            while (record := await queue.get()) is not None:
                await run_in_threadpool(writer.take, record)
        except ChunkRefused as exc:
            task.cancel()
            return JSONResponse(
                status_code=422,
                content={"title": "chunk rejected", "detail": str(exc), "chunks_done": writer.chunks_done},
            )
        except transfer_services.OffsetMismatch as exc:
            task.cancel()
            return JSONResponse(
                status_code=409, content={"title": "offset", "detail": str(exc), "chunks_done": exc.expected}
            )
        finally:
            await run_in_threadpool(writer.release)
        await task
        if too_long is not None:
            return JSONResponse(
                status_code=413,
                content={"title": "record too long", "detail": str(too_long), "chunks_done": writer.chunks_done},
            )
        return JSONResponse({"chunks_done": writer.chunks_done, "cut": cut})

    @router.post(
        "/transfers/{transfer_id}/complete",
        response_model=ReceiptOut,
        responses=problems(401, 404, 409),
        **secured(Permission.PEER),
    )
    def complete(transfer_id: TransferId, authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        """Check every item whole against the manifest, store it, and return the signed receipt."""
        return {"receipt": transfer_services.complete_transfer(node, transfer_id, _bearer(authorization))}

    return router


def operator_router(node: Node) -> APIRouter:
    """The routes operators and their systems use for the directory, messages, transfers and consents."""
    router = APIRouter(prefix="/api/v1", route_class=SecureRoute)

    @router.get("/node", tags=["directory"], response_model=OwnNodeOut, **secured(Permission.DIRECTORY_READ))
    def own_node() -> dict[str, Any]:
        """This node's entry as published (its keys' ids and its custody key)."""
        own = directory_services.publish_own_entry(node)
        return {"entry": own.entry.document(), "signed": dict(own.signed)}

    @router.post(
        "/node/rotate-keys",
        tags=["directory"],
        response_model=EntryOut,
        responses=problems(409),
        **secured(Permission.DIRECTORY_WRITE, audit="node:rotate-keys"),
    )
    def rotate(who: PrincipalDep, body: Rotation) -> dict[str, Any]:
        """Replace this node's federation keys; the new entry goes to every peer, signed by the old key too."""
        own = directory_services.rotate_keys(node, revoke_old=body.revoke_old, actor=who.name)
        return {"entry": own.entry.document()}

    @router.get("/directory", tags=["directory"], response_model=list[PeerOut], **secured(Permission.DIRECTORY_READ))
    def directory() -> list[dict[str, Any]]:
        """The nodes this node knows, with how deliveries to each are going."""
        return [federation_present.peer(p) for p in directory_services.list_peers(node)]

    @router.post(
        "/directory",
        status_code=201,
        tags=["directory"],
        response_model=ImportOut,
        responses=problems(409),
        **secured(Permission.DIRECTORY_WRITE, audit="directory:import"),
    )
    def import_entry(
        signed: Annotated[dict[str, Any], Body(description="A node's signed entry (JWS JSON serialization)")],
        replace: bool = False,
    ) -> dict[str, Any]:
        """Import another node's signed entry: an operator's decision to trust it."""
        result = directory_services.import_entry(node, signed, replace_entry=replace)
        return {"verdict": result.verdict.value, "reason": result.reason, "peer": federation_present.peer(result.peer)}

    @router.post(
        "/directory/sync",
        tags=["directory"],
        response_model=SyncOut,
        responses=problems(409, 502),
        **secured(Permission.DIRECTORY_WRITE, audit="directory:sync"),
    )
    def sync(body: SyncIn) -> dict[str, Any]:
        """Import the register a trusted directory node publishes (each entry checked on its own signature)."""
        result = registers.import_register(node, fetch_register(node, body.url))  # issue 11: directory publishers only
        return {
            "publisher": result.publisher,
            "imported": [{"node_id": r.peer.entry.node_id, "verdict": r.verdict.value} for r in result.imported],
            "refused": list(result.refused),
            "revoked": list(result.revoked),
        }

    @router.get(
        "/directory/pending",
        tags=["directory"],
        response_model=list[PeerOut],
        **secured(Permission.DIRECTORY_READ),
    )
    def pending() -> list[dict[str, Any]]:
        """The nodes whose newer entry changes their State, authority, roles or endpoint: held for an operator, the
        values in force meanwhile are the confirmed ones (each peer's ``pending`` shows both)."""
        return [federation_present.peer(p) for p in directory_services.pending_changes(node)]

    @router.post(
        "/directory/{node_id}/confirm",
        tags=["directory"],
        response_model=PeerOut,
        responses=problems(404, 409),
        **secured(Permission.DIRECTORY_WRITE, audit="directory:change-confirm"),
    )
    def confirm(who: PrincipalDep, node_id: str) -> dict[str, Any]:
        """Put a node's held change of identity in force (check it with the other authority first)."""
        return federation_present.peer(directory_services.confirm_change(node, node_id, actor=who.name))

    @router.post(
        "/directory/{node_id}/reject",
        tags=["directory"],
        response_model=PeerOut,
        responses=problems(404, 409),
        **secured(Permission.DIRECTORY_WRITE, audit="directory:change-reject"),
    )
    def reject(who: PrincipalDep, node_id: str) -> dict[str, Any]:
        """Refuse a node's held change of identity: the confirmed values stay in force."""
        return federation_present.peer(directory_services.reject_change(node, node_id, actor=who.name))

    @router.get(
        "/directory/{node_id}",
        tags=["directory"],
        response_model=PeerOut,
        responses=problems(404),
        **secured(Permission.DIRECTORY_READ),
    )
    def peer(node_id: str) -> dict[str, Any]:
        """One node with all its keys."""
        found, keys = directory_services.get_peer(node, node_id)
        return federation_present.peer(found, keys)

    @router.post(
        "/directory/{target}/revoke",
        tags=["directory"],
        response_model=RevokedOut,
        responses=problems(404, 409),
        **secured(Permission.DIRECTORY_WRITE, audit="directory:revoke"),
    )
    def revoke(who: PrincipalDep, target: str, body: Revocation) -> dict[str, Any]:
        """Revoke a node or one of its keys: refused from now on."""
        return {"revoked": directory_services.revoke(node, target, reason=body.reason, actor=who.name)}

    @router.get(
        "/federation/status",
        tags=["messages"],
        response_model=FederationStatusOut,
        **secured(Permission.DIRECTORY_READ),
    )
    def status() -> dict[str, Any]:
        """Deliveries per peer, the outbox by status, and the latest refused transmissions."""
        return messaging_services.federation_status(node)

    @router.get(
        "/messages",
        tags=["messages"],
        response_model=list[MessageOut],
        **secured(Permission.REQUESTS_READ, audit="message:list"),
    )
    def messages(
        direction: Annotated[str | None, Query(pattern="^(incoming|outgoing)$")] = None,
        peer: str | None = None,
        kind: MessageKind | None = None,
        request_id: str | None = None,
        unread: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: OffsetQuery = 0,
    ) -> list[dict[str, Any]]:
        """Messages sent and received, newest first."""
        query = MessageQuery(peer=peer, request_id=request_id, kind=kind, unread=unread, limit=limit, offset=offset)
        return [
            federation_present.message(m) for m in messaging_services.list_messages(node, query, direction=direction)
        ]

    @router.post(
        "/messages",
        status_code=201,
        tags=["messages"],
        response_model=list[QueuedOut],
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="message:send"),
    )
    def send(who: PrincipalDep, body: MessagesIn) -> list[dict[str, Any]]:
        """Queue correspondence or spontaneous information for delivery (all or none)."""
        new = [
            messaging_services.NewMessage(m.to, m.kind, m.text, m.subject, m.request_id, m.conditions)
            for m in body.messages
        ]
        sent = messaging_services.send_messages(node, new, actor=who.name)
        return [{"id": m.id, "to": m.peer, "kind": m.kind.value, "status": m.status.value} for m in sent]

    @router.get(
        "/messages/{message_id}",
        tags=["messages"],
        response_model=MessageOut,
        responses=problems(404),
        **secured(Permission.REQUESTS_READ, audit="message:view"),
    )
    def message(message_id: str) -> dict[str, Any]:
        """One message either way."""
        return federation_present.message(messaging_services.get_message(node, message_id))

    @router.post(
        "/requests/{request_id}/correspondence",
        status_code=201,
        tags=["messages"],
        response_model=CorrespondenceOut,
        responses=problems(404, 409),
        **secured(Permission.REQUESTS_WRITE, audit="message:send"),
    )
    def correspondence(who: PrincipalDep, request_id: str, body: Correspondence) -> dict[str, Any]:
        """Write to the node a request is exchanged with, about it."""
        view = messaging_services.correspond(node, request_id, body.text, subject=body.subject, actor=who.name)
        return {"id": view.id, "to": view.peer, "status": view.status.value}

    @router.post(
        "/transfers",
        status_code=201,
        tags=["transfers"],
        response_model=TransferOut,
        responses=problems(404, 409),
        **secured(Permission.EVIDENCE_TRANSFER, audit="transfer:start"),
    )
    def start(who: PrincipalDep, body: TransferIn) -> dict[str, Any]:
        """Send evidence items to another node (resumable, verified on arrival, custody on both sides)."""
        transfer = transfer_services.start_transfer(
            node, to=body.to, item_ids=body.items, principal=who, reason=body.reason, request_id=body.request_id
        )
        return federation_present.transfer(transfer)

    @router.get(
        "/transfers",
        tags=["transfers"],
        response_model=list[TransferOut],
        **secured(Permission.EVIDENCE_READ, audit="transfer:list"),
    )
    def transfers(who: PrincipalDep) -> list[dict[str, Any]]:
        """Transfers either way, newest first."""
        return [federation_present.transfer(t) for t in transfer_services.list_transfers(node)]

    @router.get(
        "/transfers/{transfer_id}",
        tags=["transfers"],
        response_model=TransferOut,
        responses=problems(404),
        **secured(Permission.EVIDENCE_READ, audit="transfer:view"),
    )
    def transfer(who: PrincipalDep, transfer_id: str) -> dict[str, Any]:
        """One transfer and how far each item got."""
        return federation_present.transfer(transfer_services.get_transfer(node, transfer_id))

    @router.post(
        "/evidence/{item_id}/consents",
        status_code=201,
        tags=["transfers"],
        response_model=ConsentOut,
        responses=problems(404, 409),
        **secured(Permission.EVIDENCE_TRANSFER, audit="consent:request"),
    )
    def ask_consent(who: PrincipalDep, item_id: str, body: ConsentIn) -> dict[str, Any]:
        """Ask the originator of a received item for consent to pass it on (Art 36)."""
        consent = consent_services.request_consent(
            node, item_id, destination=body.destination, purpose=body.purpose, principal=who
        )
        return federation_present.consent(consent)

    @router.get(
        "/consents",
        tags=["transfers"],
        response_model=list[ConsentOut],
        **secured(Permission.EVIDENCE_READ, audit="consent:list"),
    )
    def consents(who: PrincipalDep, item_id: str | None = None) -> list[dict[str, Any]]:
        """Consent requests either way, newest first."""
        return [federation_present.consent(c) for c in consent_services.list_consents(node, item_id)]

    @router.post(
        "/consents/{consent_id}/decision",
        tags=["transfers"],
        response_model=ConsentOut,
        responses=problems(404, 409),
        **secured(Permission.EVIDENCE_TRANSFER, audit="consent:decide"),
    )
    def decide(who: PrincipalDep, consent_id: str, body: DecisionIn) -> dict[str, Any]:
        """Grant or refuse onward transfer of an item of this node's."""
        return federation_present.consent(
            consent_services.decide(node, consent_id, grant=body.grant, note=body.note, principal=who)
        )

    return router
