"""Limits before parsing, against a real ``hanoinet serve``: an anonymous caller cannot make the node hold a large
body, or keep a request open with a trickle of bytes (issue 11, item 2).

The attacks talk raw HTTP over a socket, with a reader thread: the node answers 413 or 408 while the client is
still sending, and then closes the connection, which an ordinary client (that sends its whole body before it
reads) would only see as a broken pipe. Memory is the server process's peak resident set during each attack
(``VmHWM``, reset to ``VmRSS`` before it through ``/proc/<pid>/clear_refs``) over its resident set before it: a
body held for a moment and then freed counts.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.signin import post_login

MiB = 1024 * 1024
ATTACK = 150 * MiB
"""What the attacker offers to send (the size of the reproduction in the issue)."""
RSS_BOUND = 30 * MiB
"""How much the node's resident memory may grow while it refuses one attack."""
BODY_SECONDS = 2.0
"""The body deadline the test node runs with (``HANOINET_LIMIT_BODY_SECONDS``): short, so the trickle is quick."""
TRANSMISSION_CAP = 8 * MiB
"""The test node's cap on a transmission (``HANOINET_LIMIT_TRANSMISSION_BYTES``), below the 64 MiB default so
that a body streamed up to the cap stays under ``RSS_BOUND``."""
CONCURRENCY = 6
"""The test node's bound on connections at once (``HANOINET_SERVE_LIMIT_CONCURRENCY``)."""


def start_node(data_dir: Path, **settings: str) -> Server:
    """``hanoinet serve`` on a fresh data directory with these settings, and an administrator's API token."""
    return start_server(data_dir, "sqlite", settings=settings)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_node(
        tmp_path_factory.mktemp("limits") / "data",
        HANOINET_LIMIT_BODY_SECONDS=str(BODY_SECONDS),
        HANOINET_LIMIT_TRANSMISSION_BYTES=str(TRANSMISSION_CAP),
        HANOINET_SERVE_LIMIT_CONCURRENCY=str(CONCURRENCY),
    )
    yield running
    stop_server(running)
    assert "Traceback" not in running.log_text(), running.log_text()


def _status(server: Server, key: str) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc status")


def rss(server: Server) -> int:
    """The node process's resident memory in bytes, now; and from now on its peak starts from here."""
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    return _status(server, "VmRSS")


def peak(server: Server) -> int:
    """The node process's highest resident memory since the last ``rss``: what an attack made it hold at worst."""
    return _status(server, "VmHWM")


@dataclass
class Answer:
    """What the node said to a raw request, how much of the body went out before, and how long it took."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent: int = 0
    seconds: float = 0.0
    closed: bool = False

    def problem(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads(self.body)
        return parsed


def _parse(raw: bytes, answer: Answer) -> bool:
    """Fill ``answer`` from the bytes read so far; True once the whole response (by its Content-Length) is in."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    lines = head.decode("latin-1").split("\r\n")
    answer.status = int(lines[0].split()[1])
    answer.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(answer.headers.get("content-length", "0"))
    answer.body = rest[:length]
    return len(rest) >= length


def raw_request(
    server: Server,
    head: str,
    body: Iterable[bytes] = (),
    *,
    pause: float = 0.0,
    wait: float = 20.0,
    end_head: bool = True,
) -> Answer:
    """Send ``head`` (request line and headers, without the blank line), then ``body`` piece by piece, ``pause``
    seconds apart, until the node answers or closes; wait at most ``wait`` seconds for the answer after the last
    piece. With ``end_head=False`` the head goes without its blank line and the pieces are more of the head.
    Bounded: the body iterator is finite and every wait has a deadline."""
    port = int(server.base_url.rsplit(":", 1)[1])
    answer = Answer()
    answered = threading.Event()
    started = time.monotonic()
    conn = socket.create_connection(("127.0.0.1", port), timeout=wait)

    def read() -> None:
        raw = b""
        try:
            while not answered.is_set():
                piece = conn.recv(65536)
                if not piece:
                    answer.closed = True
                    break
                raw += piece
                if _parse(raw, answer):
                    answer.seconds = time.monotonic() - started
                    answered.set()
                    # the node closes the connection after such an answer: see that it does (the rest of an
                    # answer without Content-Length, read to its end, comes first)
                    conn.settimeout(5.0)
                    try:
                        while conn.recv(65536):
                            pass
                        answer.closed = True
                    except TimeoutError:
                        answer.closed = False  # still open 5 s after answering
                    break
        except OSError:
            answer.closed = True
        finally:
            answered.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        conn.sendall((head + ("\r\n\r\n" if end_head else "\r\n")).encode("latin-1"))
        for piece in body:
            if answered.is_set():
                break
            conn.sendall(piece)
            answer.sent += len(piece)
            if pause:
                time.sleep(pause)
    except OSError:
        pass  # the node closed the connection on us: what the attack should come to
    answered.wait(wait)
    reader.join(timeout=6.0)
    conn.close()
    return answer


def pieces(total: int, size: int = MiB, fill: bytes = b"x") -> Iterator[bytes]:
    """``total`` bytes in pieces of ``size`` (the same piece object each time: the test's own memory stays flat)."""
    piece = fill * size
    sent = 0
    while sent + size <= total:
        yield piece
        sent += size
    if total > sent:
        yield piece[: total - sent]


def chunked(total: int, size: int = MiB) -> Iterator[bytes]:
    """``total`` bytes in the chunked transfer coding (no Content-Length)."""
    frame = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    for _ in range(total // size):
        yield frame
    yield b"0\r\n\r\n"


def host(server: Server) -> str:
    return server.base_url.removeprefix("http://")


def posted(server: Server, path: str, length: int, content_type: str = "application/json") -> str:
    return f"POST {path} HTTP/1.1\r\nHost: {host(server)}\r\nContent-Type: {content_type}\r\nContent-Length: {length}"


def assert_too_large(answer: Answer, sent_at_most: int) -> None:
    assert answer.status == 413, answer
    assert answer.closed, "the node keeps the connection of a refused body open"
    assert answer.sent <= sent_at_most, f"{answer.sent} bytes went out before the node refused"


def test_an_oversized_json_body_without_credentials_is_refused_before_it_is_read(node: Server) -> None:
    before = rss(node)
    answer = raw_request(node, posted(node, "/api/v1/cases", ATTACK), pieces(ATTACK))
    grown = peak(node) - before
    assert_too_large(answer, 32 * MiB)  # whatever the sockets' buffers held when the answer came
    assert answer.seconds < 5.0, answer.seconds
    assert answer.headers["content-type"] == "application/json"
    problem = answer.problem()
    assert problem["title"] == "content too large"
    assert "1048576 bytes" in str(problem["detail"]), problem  # names the cap
    assert grown < RSS_BOUND, f"the node grew by {grown / MiB:.1f} MiB refusing {ATTACK / MiB:.0f} MiB"


def test_a_declared_length_over_the_cap_is_refused_before_any_byte_of_the_body(node: Server) -> None:
    for path, content_type in [
        ("/api/v1/cases", "application/json"),
        ("/login", "application/x-www-form-urlencoded"),
        ("/federation/v1/transmissions", "application/jose"),
    ]:
        answer = raw_request(node, posted(node, path, ATTACK, content_type), wait=5.0)  # no body at all
        assert answer.status == 413, (path, answer)
        assert answer.sent == 0
        assert answer.seconds < 2.0, (path, answer.seconds)


def test_a_chunked_body_without_a_length_is_refused_at_the_cap(node: Server) -> None:
    before = rss(node)
    head = f"POST /api/v1/cases HTTP/1.1\r\nHost: {host(node)}\r\nContent-Type: application/json\r\n"
    answer = raw_request(node, head + "Transfer-Encoding: chunked", chunked(ATTACK))
    grown = peak(node) - before
    assert_too_large(answer, 32 * MiB)
    assert answer.problem()["title"] == "content too large"
    assert grown < RSS_BOUND, f"the node grew by {grown / MiB:.1f} MiB"


def test_an_oversized_transmission_is_refused_while_it_streams(node: Server) -> None:
    before = rss(node)
    declared = raw_request(
        node, posted(node, "/federation/v1/transmissions", ATTACK, "application/jose"), pieces(ATTACK)
    )
    head = f"POST /federation/v1/transmissions HTTP/1.1\r\nHost: {host(node)}\r\nContent-Type: application/jose\r\n"
    streamed = raw_request(node, head + "Transfer-Encoding: chunked", chunked(ATTACK))
    grown = peak(node) - before
    assert_too_large(declared, 32 * MiB)
    assert_too_large(streamed, TRANSMISSION_CAP + 32 * MiB)
    assert f"{TRANSMISSION_CAP} bytes" in str(streamed.problem()["detail"])
    assert grown < RSS_BOUND, f"the node grew by {grown / MiB:.1f} MiB"


def test_a_sign_in_form_of_200_fields_of_a_mib_is_refused(node: Server) -> None:
    field_value = b"a" * MiB

    def fields() -> Iterator[bytes]:
        for i in range(200):
            yield f"{'&' if i else ''}f{i}=".encode() + field_value

    total = sum(len(f"{'&' if i else ''}f{i}=") for i in range(200)) + 200 * MiB
    before = rss(node)
    answer = raw_request(node, posted(node, "/login", total, "application/x-www-form-urlencoded"), fields())
    grown = peak(node) - before
    assert_too_large(answer, 32 * MiB)
    assert answer.headers["content-type"].startswith("text/plain")  # a page route: words, not JSON
    assert grown < RSS_BOUND, f"the node grew by {grown / MiB:.1f} MiB"


def test_a_form_with_too_many_fields_is_refused_before_it_reaches_the_route(node: Server) -> None:
    """Under the byte cap, but more fields than any form of the node has: refused by the parser, not a 500."""
    body = "&".join(f"f{i}=x" for i in range(2000)) + "&username=admin&password=x"
    response = httpx.post(
        f"{node.base_url}/login",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 400, response.text
    assert "fields" in response.text


def test_a_trickle_gets_408_within_the_body_deadline(node: Server) -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(100):  # 100 bytes, one every 0.1 s: 10 s if the node waited for them all
            yield b" "

    answer = raw_request(node, posted(node, "/api/v1/cases", 100), trickle(), pause=0.1, wait=10.0)
    assert answer.status == 408, answer
    assert answer.closed
    assert BODY_SECONDS <= answer.seconds < BODY_SECONDS + 2.0, answer.seconds
    assert answer.problem()["title"] == "request timeout"


def test_ordinary_requests_still_work(node: Server) -> None:
    api = httpx.Client(base_url=node.base_url, headers={"Authorization": f"Bearer {node.token}"}, timeout=10.0)
    with api:
        assert api.get("/health").status_code == 200
        case = {
            "reference": "LIMITS-1",
            "offence": "system_interference",
            "max_penalty_years": 10,
            "summary": "x" * 19_000,
        }
        made = api.post("/api/v1/cases", json=case)
        assert made.status_code == 201, made.text
        assert api.get(f"/api/v1/cases/{made.json()['id']}").status_code == 200
        # anonymous, small: the node reads it and says who may call (the limits are not in the way)
        assert httpx.post(f"{node.base_url}/api/v1/cases", json=case).status_code == 401
        with httpx.Client(base_url=node.base_url, timeout=10.0) as browser:
            signed = post_login(browser, "nobody", "x")
        assert signed.status_code == 401, signed.text  # the form was read: the password is wrong


def test_headers_without_end_are_cut_at_the_header_bound(node: Server) -> None:
    """The request line and headers are bounded too (h11, ``serve_max_header_bytes``): 100 MiB of headers used to
    grow a node on httptools by 100 MiB."""

    def padding() -> Iterator[bytes]:
        line = b"X-Pad: " + b"a" * 8000 + b"\r\n"
        for _ in range(100 * MiB // len(line)):
            yield line

    before = rss(node)
    answer = raw_request(
        node, f"GET /health HTTP/1.1\r\nHost: {host(node)}\r\nX-Start: 1", padding(), wait=5.0, end_head=False
    )
    grown = peak(node) - before
    assert answer.status == 400, answer
    assert answer.closed
    assert answer.sent < 32 * MiB, answer.sent
    assert grown < RSS_BOUND, f"the node grew by {grown / MiB:.1f} MiB"


def test_connections_beyond_the_bound_are_refused_with_503(node: Server) -> None:
    port = int(node.base_url.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port), timeout=5.0) for _ in range(CONCURRENCY)]
    try:
        time.sleep(0.3)  # the server has accepted them all
        assert httpx.get(f"{node.base_url}/health", timeout=5.0).status_code == 503
    finally:
        for conn in held:
            conn.close()
    deadline = time.monotonic() + 5.0
    while httpx.get(f"{node.base_url}/health", timeout=5.0).status_code != 200:
        assert time.monotonic() < deadline, "the node still refuses once the connections are gone"
        time.sleep(0.1)
