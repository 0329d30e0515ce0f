"""The body-limit layer on its own: route classes, the stream path (counted and timed piece by piece, the route
told the client went away), and the bounded reads the routes use. The attacks on a running node are in
tests/security/test_body_limits.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from hanoinet.platform.limits import BodyLimit, BodyLimits, RouteClass, read_body, route_class
from hanoinet.platform.settings import Settings


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/api/v1/cases", RouteClass.API),
        ("POST", "/federation/v1/entries", RouteClass.API),
        ("POST", "/federation/v1/transmissions", RouteClass.TRANSMISSION),
        ("PATCH", "/api/v1/uploads/abc", RouteClass.STREAM),
        ("POST", "/api/v1/uploads/abc/complete", RouteClass.API),
        ("PUT", "/federation/v1/transfers/t1/items/0", RouteClass.STREAM),
        ("POST", "/federation/v1/transfers/t1/complete", RouteClass.API),
        ("POST", "/login", RouteClass.FORM),
        ("POST", "/requests/r1/actions", RouteClass.FORM),
        ("POST", "/api/v1/documents/verify", RouteClass.DOCUMENT),
        ("POST", "/api/v1/documents/register", RouteClass.DOCUMENT),
        ("POST", "/api/v1/requests/r1/answers", RouteClass.DOCUMENT),
        ("POST", "/api/v1/requests/r1/send-off-network", RouteClass.API),
        ("POST", "/requests/r1/answers", RouteClass.DOCUMENT),
        ("POST", "/intake", RouteClass.DOCUMENT),
        ("POST", "/requests/r1/send-off-network", RouteClass.FORM),
        ("GET", "/api/v1/requests/r1/document", RouteClass.API),
    ],
)
def test_each_route_has_its_class(method: str, path: str, kind: RouteClass) -> None:
    assert route_class(method, path) is kind


def test_the_limits_are_the_settings() -> None:
    settings = Settings(limit_json_bytes=10, limit_form_fields=3, limit_body_seconds=1.5)
    limits = BodyLimits.from_settings(settings)
    assert limits.cap(RouteClass.API) == 10
    assert limits.form_options() == {"max_fields": 3, "max_files": 0, "max_part_size": 512 * 1024}
    assert limits.body_seconds == 1.5
    assert BodyLimits.from_settings(Settings()) == BodyLimits()  # one set of defaults, not two


def test_a_limit_below_one_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="limit_json_bytes"):
        Settings(limit_json_bytes=0)
    with pytest.raises(ValueError, match="limit_body_seconds"):
        Settings(limit_body_seconds=0)


class StreamingRoute:
    """An ASGI app that reads its body as a stream, as the upload route does, and says what it saw."""

    def __init__(self) -> None:
        self.received = 0
        self.disconnected = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            async for piece in request.stream():
                self.received += len(piece)
        except ClientDisconnect:
            self.disconnected = True
        await JSONResponse({"received": self.received})(scope, receive, send)


async def _call(app: Any, method: str, path: str, content: Any, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as client:
        return await client.request(method, path, content=content, headers=headers)


def test_a_stream_over_its_cap_is_cut_and_the_route_is_told_the_client_left() -> None:
    route = StreamingRoute()
    app = BodyLimit(route, BodyLimits(stream_bytes=1000))

    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 300

    response = asyncio.run(_call(app, "PATCH", "/api/v1/uploads/u1", body()))
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.json() == {
        "title": "content too large",
        "detail": "one request of an evidence stream may have at most 1000 bytes; this one is longer",
    }
    assert route.disconnected  # the route took its piece back; its own answer was not sent
    assert route.received <= 1000


def test_a_stream_within_its_cap_reaches_the_route_whole() -> None:
    route = StreamingRoute()
    app = BodyLimit(route, BodyLimits(stream_bytes=1000))
    response = asyncio.run(_call(app, "PATCH", "/api/v1/uploads/u1", b"x" * 1000))
    assert response.status_code == 200
    assert response.json() == {"received": 1000}


def test_a_stream_that_pauses_too_long_gets_408() -> None:
    route = StreamingRoute()
    app = BodyLimit(route, BodyLimits(stream_idle_seconds=0.2))

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 100
        await asyncio.sleep(1.0)
        yield b"x" * 100

    response = asyncio.run(_call(app, "PUT", "/federation/v1/transfers/t/items/0", body()))
    assert response.status_code == 408
    assert "no part of the body arrived for 0.2 s" in response.json()["detail"]
    assert route.disconnected


def test_a_whole_body_is_handed_over_in_one_piece_and_a_page_is_refused_in_words() -> None:
    route = StreamingRoute()
    app = BodyLimit(route, BodyLimits(form_bytes=50))
    within = asyncio.run(
        _call(app, "POST", "/login", b"a=1&b=2", **{"content-type": "application/x-www-form-urlencoded"})
    )
    assert within.json() == {"received": 7}
    over = asyncio.run(_call(app, "POST", "/login", b"a=" + b"x" * 60))
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("text/plain")
    assert over.text == "content too large: a form may have at most 50 bytes; this one declares 62\n"
    assert route.received == 7  # the refused form never reached the route


def test_a_request_without_a_body_passes_untouched() -> None:
    route = StreamingRoute()
    app = BodyLimit(route, BodyLimits(api_bytes=1))
    response = asyncio.run(_call(app, "GET", "/api/v1/cases", None))
    assert response.status_code == 200


def test_read_body_stops_one_byte_past_the_limit() -> None:
    async def run() -> bytes:
        pieces = [b"a" * 40, b"b" * 40, b"c" * 40]

        async def receive() -> dict[str, Any]:
            piece = pieces.pop(0) if pieces else b""
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}

        request = Request({"type": "http", "method": "POST", "headers": []}, receive)
        return await read_body(request, 50)

    assert asyncio.run(run()) == b"a" * 40 + b"b" * 11
