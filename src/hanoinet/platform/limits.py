"""Limits before parsing: how large a request body may be and how long it may take to arrive, per route class.

The framework reads a body whole before the route's checks run — before authentication, too: FastAPI parses a
JSON body into the route's model first, then runs the permission check, so 150 MiB sent anonymously to
``POST /api/v1/cases`` used to grow the node by 300 MiB before it said 401 (issue 11). This layer sits outside
the application (``BodyLimit``, the outermost middleware) and decides from the method and path alone, before any
byte of the body is read:

- a declared ``Content-Length`` over the class's cap is refused at once with 413 — no byte of the body is read;
- a body is counted as it arrives; the request is refused with 413 as soon as the count crosses the cap (a body
  sent chunked, without a length, included), so no more than the cap is ever held;
- a body must arrive within a deadline (``body_seconds``; for evidence streams, each piece within
  ``stream_idle_seconds`` of the last): a client that trickles a byte now and then gets 408.

Each refusal closes the connection (``Connection: close``): the rest of the body is never read. API routes get
the node's problem body (``{"title", "detail"}``, as every other error of the API); pages a line of plain text
(rendering the node's error page needs the caller's session, which this layer does not look up).

Four classes (``route_class``): transmissions between nodes (one sealed message batch, decrypted whole: capped at
64 MiB as the protocol says), evidence streams (an upload's piece, a transfer's records: written to disk as they
arrive, never held, so capped only by a large bound and timed by their pace), every other API body (JSON, the
deposits CSV), and the web UI's forms. A request without a body (a GET) passes untouched.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from hanoinet.platform.errors import REQUEST_TIMEOUT, TOO_LARGE, ErrorKind

if TYPE_CHECKING:
    from starlette.datastructures import FormData
    from starlette.requests import Request

    from hanoinet.platform.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

FORM_FILES = 0
"""No form of the web UI takes a file (a multipart form carrying one is refused by the parser) — but the two that
receive a document (``read_upload_form``)."""


class RouteClass(Enum):
    """What a route does with its body, which decides how large it may be and how long it may take."""

    API = "api"
    """JSON (and the deposits CSV) under /api/ and /federation/: parsed whole."""
    FORM = "form"
    """The web UI's forms (every other path, /login included): parsed whole."""
    TRANSMISSION = "transmission"
    """A sealed transmission from another node: decrypted whole."""
    STREAM = "stream"
    """Evidence written to disk as it arrives (an upload's piece, a transfer's records): never held whole."""
    DOCUMENT = "document"
    """A formal document (PDF) to check or import: parsed whole, larger than JSON."""


_UPLOAD_PIECE = re.compile(r"^/api/v1/uploads/[^/]+$")
_TRANSFER_RECORDS = re.compile(r"^/federation/v1/transfers/[^/]+/items/[^/]+$")
_DOCUMENTS = ("/api/v1/documents/verify", "/api/v1/documents/register")
_ANSWER = re.compile(r"^(/api/v1)?/requests/[^/]+/answers$")
_INTAKE = ("/intake", "/intake/by-hand")
"""The web UI's forms that take a file (a document received): parsed whole, within the document cap."""


def route_class(method: str, path: str) -> RouteClass:
    """The class of the route a request is for, from its method and path alone (nothing is parsed yet)."""
    if path == "/federation/v1/transmissions":
        return RouteClass.TRANSMISSION
    if (method == "PATCH" and _UPLOAD_PIECE.match(path)) or (method == "PUT" and _TRANSFER_RECORDS.match(path)):
        return RouteClass.STREAM
    if method == "POST" and (path in _DOCUMENTS or path in _INTAKE or _ANSWER.match(path)):
        return RouteClass.DOCUMENT
    if path.startswith(("/api/", "/federation/")):
        return RouteClass.API
    return RouteClass.FORM


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The caps and deadlines this layer applies; the defaults are the settings' (``Settings.limit_*``)."""

    api_bytes: int = 1 * MiB
    form_bytes: int = 1 * MiB
    form_fields: int = 256
    form_field_bytes: int = 512 * KiB
    transmission_bytes: int = 64 * MiB
    stream_bytes: int = 64 * GiB
    document_bytes: int = 32 * MiB
    body_seconds: float = 60.0
    stream_idle_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        """The limits a node's settings say."""
        return cls(
            api_bytes=settings.limit_json_bytes,
            form_bytes=settings.limit_form_bytes,
            form_fields=settings.limit_form_fields,
            form_field_bytes=settings.limit_form_field_bytes,
            transmission_bytes=settings.limit_transmission_bytes,
            stream_bytes=settings.limit_stream_bytes,
            document_bytes=settings.limit_document_bytes,
            body_seconds=settings.limit_body_seconds,
            stream_idle_seconds=settings.limit_stream_idle_seconds,
        )

    def cap(self, kind: RouteClass) -> int:
        """How many bytes a body of this class may have."""
        return {
            RouteClass.API: self.api_bytes,
            RouteClass.FORM: self.form_bytes,
            RouteClass.TRANSMISSION: self.transmission_bytes,
            RouteClass.STREAM: self.stream_bytes,
            RouteClass.DOCUMENT: self.document_bytes,
        }[kind]

    def form_options(self) -> dict[str, int]:
        """The bounds of a form's parser (``request.form(**options)``, FastAPI's ``form_limits``)."""
        return {"max_fields": self.form_fields, "max_files": FORM_FILES, "max_part_size": self.form_field_bytes}


async def read_form(request: Request) -> FormData:
    """Parse the request's form within the node's bounds on fields and field size (``BodyLimits``): every place
    that reads a form itself calls this, never ``request.form()`` with the framework's defaults (1,000 fields of
    1 MiB). The bytes of the whole form are bounded before, by ``BodyLimit``."""
    limits = getattr(request.app.state, "body_limits", None)
    options = (limits if isinstance(limits, BodyLimits) else BodyLimits()).form_options()
    return await request.form(**options)


async def read_upload_form(request: Request) -> FormData:
    """Parse a form that carries one file (a document received: ``/intake``, ``/requests/{id}/answers``) within
    the same bounds on fields; the file itself is bounded by the document cap, before, by ``BodyLimit``."""
    limits = getattr(request.app.state, "body_limits", None)
    options = (limits if isinstance(limits, BodyLimits) else BodyLimits()).form_options()
    return await request.form(**{**options, "max_files": 1})


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, read as it streams, but never more than ``limit`` bytes: a longer body comes back cut at
    ``limit + 1`` bytes (so the caller can tell it is too long) and the rest is left unread."""
    held = bytearray()
    async for piece in request.stream():
        held += piece[: limit + 1 - len(held)]
        if len(held) > limit:
            break
    return bytes(held)


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/federation/"))


class _Refused(Exception):  # noqa: N818 - the outcome, carried out of the body's reader
    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _declared_length(scope: Scope) -> tuple[int | None, bool]:
    """(Content-Length or None, whether the request has a body at all)."""
    length: int | None = None
    chunked = False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None  # the server refuses a malformed length itself
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked or bool(length)


class BodyLimit:
    """The ASGI layer that applies ``BodyLimits`` before the application sees a body.

    Bodies that are parsed whole (API, forms, transmissions) are read here first, counted and timed, and handed to
    the application in one piece: it never waits on the network for them, and nothing of a refused body reaches
    it. Evidence streams pass through as they arrive, counted and timed piece by piece; a refusal then reaches the
    route as the client going away (what a route that streams already handles: it takes its piece back), and the
    route's own answer is dropped for the 413 or 408 already sent.
    """

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length, has_body = _declared_length(scope)
        if not has_body:
            await self.app(scope, receive, send)
            return
        kind = route_class(scope["method"], scope["path"])
        cap = self.limits.cap(kind)
        if length is not None and length > cap:
            await self._refuse(scope, send, TOO_LARGE, _too_large(kind, cap, f"declares {length}"))
            return
        if kind is RouteClass.STREAM:
            await self._stream(scope, receive, send, cap)
            return
        try:
            body = await self._read_whole(receive, kind, cap)
        except _Refused as refused:
            await self._refuse(scope, send, refused.kind, refused.detail)
            return
        if body is not None:  # None: the client went away, there is no one to answer
            await self.app(scope, _replay(body, receive), send)

    async def _read_whole(self, receive: Receive, kind: RouteClass, cap: int) -> bytes | None:
        """The whole body, within the cap and the deadline (``_Refused`` otherwise); None if the client left."""
        pieces: list[bytes] = []
        held = 0
        deadline = time.monotonic() + self.limits.body_seconds
        while True:
            message = await _receive_by(receive, deadline, self.limits.body_seconds)
            if message["type"] == "http.disconnect":
                return None
            piece = message.get("body", b"")
            held += len(piece)
            if held > cap:
                raise _Refused(TOO_LARGE, _too_large(kind, cap, "is longer"))
            if piece:
                pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Pass an evidence stream through, counted and timed piece by piece."""
        refused = False
        started = False
        held = 0
        idle = self.limits.stream_idle_seconds

        async def cut(kind: ErrorKind, detail: str) -> Message:
            nonlocal refused
            refused = True
            if not started:
                await self._refuse(scope, send, kind, detail)
            return {"type": "http.disconnect"}

        async def counted() -> Message:
            nonlocal held
            if refused:
                return {"type": "http.disconnect"}
            try:
                message = await _receive_by(receive, time.monotonic() + idle, idle, between_pieces=True)
            except _Refused as exc:
                return await cut(exc.kind, exc.detail)
            held += len(message.get("body", b""))
            if held > cap:
                return await cut(TOO_LARGE, _too_large(RouteClass.STREAM, cap, "is longer"))
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # our 413/408 went out instead
            started = True
            await send(message)

        await self.app(scope, counted, answered)

    async def _refuse(self, scope: Scope, send: Send, kind: ErrorKind, detail: str) -> None:
        """Answer with the refusal and close the connection (the rest of the body is never read)."""
        if _is_api(scope["path"]):
            body = json.dumps({"title": kind.title, "detail": detail}).encode()
            media = b"application/json"
        else:
            body = f"{kind.title}: {detail}\n".encode()
            media = b"text/plain; charset=utf-8"
        headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": kind.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _too_large(kind: RouteClass, cap: int, how: str) -> str:
    what = {
        RouteClass.API: "the body of an API request",
        RouteClass.FORM: "a form",
        RouteClass.TRANSMISSION: "a transmission",
        RouteClass.STREAM: "one request of an evidence stream",
        RouteClass.DOCUMENT: "a formal document",
    }[kind]
    return f"{what} may have at most {cap} bytes; this one {how}"


async def _receive_by(receive: Receive, deadline: float, seconds: float, *, between_pieces: bool = False) -> Message:
    """The next message of the body, unless ``deadline`` passes first (then ``_Refused`` with 408)."""
    try:
        async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
            return await receive()
    except TimeoutError:
        why = (
            f"no part of the body arrived for {seconds:g} s"
            if between_pieces
            else f"the body did not arrive within {seconds:g} s"
        )
        raise _Refused(REQUEST_TIMEOUT, why) from None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the body read already, then what the client does next (it goes away)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
