"""The one error table: every kind has a status and an exit code, and the API and the CLI answer a real error of
each kind with the same entry of it (they look it up; neither maps classes of its own)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import typer
from fastapi import FastAPI

from hanoinet.app.api import _install_error_handlers
from hanoinet.app.bootstrap import SchemaBehindError
from hanoinet.evidence.domain import AccessDenied
from hanoinet.evidence.ports import ContentMismatch
from hanoinet.evidence.vault import BlobCorrupt, VaultWriteError
from hanoinet.federation.domain import EnvelopeRejected
from hanoinet.federation.ports import TransportError
from hanoinet.federation.settings import NotOnNetwork
from hanoinet.federation.transfers import OffsetMismatch, TransferUnauthorized
from hanoinet.platform.cli import errors
from hanoinet.platform.errors import (
    INTERNAL,
    KINDS,
    Conflict,
    ErrorKind,
    IllegalTransition,
    Issue,
    NoLegalBasis,
    NotFound,
    ValidationFailed,
    kind_of,
)
from hanoinet.platform.keys import KeyFileError
from hanoinet.platform.permissions import Forbidden
from hanoinet.platform.security import BodyTooDeep, CsrfRejected
from hanoinet.rules.loader import PackError
from hanoinet.treaty.csv_import import CsvFormatError

EXPECTED: list[tuple[Exception, int, int, str]] = [
    (ValidationFailed([Issue("summary", "is required")]), 422, 2, "invalid input"),
    (NotFound("no request 'x'"), 404, 4, "not found"),
    (IllegalTransition("cannot execute a draft"), 409, 3, "illegal transition"),
    (NoLegalBasis("no instrument binds both"), 409, 3, "no legal basis"),
    (Conflict("changed under us"), 409, 3, "conflict"),
    (OffsetMismatch(3), 409, 3, "conflict"),
    (Forbidden("needs evidence:content"), 403, 5, "forbidden"),
    (AccessDenied("may not download"), 403, 5, "forbidden"),
    (CsrfRejected("out of date form"), 403, 5, "forbidden"),
    (BlobCorrupt("ab" * 32, "chunk 2 does not authenticate"), 409, 6, "evidence damaged"),
    (ContentMismatch("size differs"), 422, 6, "content does not match its manifest"),
    (VaultWriteError("disk full"), 507, 1, "vault unavailable"),
    (EnvelopeRejected("replay", "seen before"), 422, 2, "replay"),
    (TransportError("connection refused"), 502, 1, "peer unreachable"),
    (NotOnNetwork("no federation identity"), 503, 1, "not on the network"),
    (CsvFormatError("upload", 1, "the header must be state,action,date"), 422, 2, "invalid file"),
    (BodyTooDeep("nests deeper than 64 levels"), 400, 2, "bad request"),
    (TransferUnauthorized("not the transfer's token"), 401, 5, "unauthorized"),
]
"""A real error of each kind, with the status, exit code and title callers have always been given for it."""

CONFIGURATION_ERRORS: list[Exception] = [
    PackError("packs/x.yaml", 3, "invalid YAML"),
    KeyFileError("vault-master.key is readable by others"),
    SchemaBehindError("run hanoinet migrate"),
]


def test_every_kind_has_a_status_an_exit_code_and_a_title() -> None:
    assert len({k.name for k in KINDS}) == len(KINDS)
    for kind in KINDS:
        assert 400 <= kind.status <= 599, kind
        assert 1 <= kind.exit_code <= 6, kind
        assert kind.title, kind


def test_an_error_that_declares_no_kind_is_internal() -> None:
    assert kind_of(RuntimeError("a bug")) is INTERNAL
    assert kind_of(ValueError("a bug")).status == 500


def _api_answer(exc: Exception) -> tuple[int, dict[str, object], str]:
    app = FastAPI()
    _install_error_handlers(app)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise exc

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://node.test") as client:
            return await client.get("/api/v1/boom")

    response = asyncio.run(call())
    return response.status_code, response.json(), response.headers.get("www-authenticate", "")


def _cli_exit(exc: Exception) -> int:
    with pytest.raises(typer.Exit) as exited, errors():
        raise exc
    return exited.value.exit_code


@pytest.mark.parametrize(("exc", "status", "exit_code", "title"), EXPECTED, ids=lambda v: type(v).__name__)
def test_api_and_cli_answer_an_error_by_its_kind(exc: Exception, status: int, exit_code: int, title: str) -> None:
    kind: ErrorKind = kind_of(exc)
    assert (kind.status, kind.exit_code) == (status, exit_code)

    answered, body, challenge = _api_answer(exc)

    assert answered == status
    assert body["title"] == title
    assert body["detail"]
    assert _cli_exit(exc) == exit_code
    if status == 401:
        assert challenge == "Bearer"


def test_invalid_input_lists_each_issue_with_its_field_in_the_api() -> None:
    _, body, _ = _api_answer(ValidationFailed([Issue("summary", "is required", "Art 40(15)")]))
    assert body["detail"] == [
        {"field": "summary", "message": "is required", "article": "Art 40(15)", "text": "Art 40(15): is required"}
    ]


@pytest.mark.parametrize("exc", CONFIGURATION_ERRORS, ids=lambda v: type(v).__name__)
def test_a_broken_configuration_exits_1_and_is_an_internal_error_over_http(exc: Exception) -> None:
    assert _cli_exit(exc) == 1
    status, body, _ = _api_answer(exc)
    assert status == 500
    assert "incident" in str(body["detail"])  # logged, not shown: a path or key name is the node's own business


def test_the_cli_leaves_a_fault_to_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError), errors():
        _ = 1 / 0
