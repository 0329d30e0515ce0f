"""End-to-end fixtures: a real ``hanoinet serve`` process on a free loopback port, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import new_postgres_database

BIN = Path(sys.executable).parent
HANOINET = str(BIN / "hanoinet")
START_TIMEOUT = 20.0


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: ours without any HANOINET_* setting, plus the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
    env.update({"HANOINET_DATA_DIR": str(data_dir), "HANOINET_NODE_STATE": "VNM", "NO_COLOR": "1"})
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check_response(response: httpx.Response) -> None:
    """Every answer of the node, whatever the test: never a 500, never a stack trace."""
    response.read()
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text}"
    assert "Traceback" not in response.text, response.text


@dataclass
class Server:
    """A running node process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    backend: str
    token: str = ""
    """An API token of an administrator who also handles cases (every permission but the auditor's)."""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    data_dir: Path, backend: str, database_url: str | None = None, settings: dict[str, str] | None = None
) -> Server:
    """Start ``hanoinet serve`` on a free loopback port (``settings``: more HANOINET_* variables for it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = data_dir.parent / f"server-{port}.log"
    extra = {"HANOINET_DATABASE_URL": database_url} if database_url else {}
    extra.update(settings or {})
    made = subprocess.run(
        [HANOINET, "token", "add", f"tests-{port}", "--role", "administrator", "--role", "central_authority"],
        env=clean_env(data_dir, **extra), capture_output=True, text=True, check=True,
    )  # fmt: skip
    token = made.stdout.strip()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [HANOINET, "serve", "--port", str(port)],
            env=clean_env(data_dir, **extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, backend, token)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"hanoinet serve exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"hanoinet serve did not answer /health within {START_TIMEOUT} s:\n{server.log_text()}")
        time.sleep(0.1)


def stop_server(server: Server) -> None:
    """SIGTERM, wait for a graceful exit, then kill."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A node process with its own data directory: on its SQLite file, or on a new, empty PostgreSQL database."""
    base = tmp_path_factory.mktemp(f"node-{request.param}")
    database_url = None
    if request.param == "postgresql":
        postgres: str = request.getfixturevalue("postgres_server")
        database_url = new_postgres_database(postgres, "template0")  # empty: the node migrates it on first use
    running = start_server(base / "data", request.param, database_url)
    yield running
    stop_server(running)
    assert running.process.returncode is not None
    assert "Traceback" not in running.log_text(), running.log_text()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client on the node; every response is checked for a 500 or a stack trace."""
    with httpx.Client(
        base_url=server.base_url,
        timeout=30.0,
        headers={"Authorization": f"Bearer {server.token}"},
        event_hooks={"response": [check_response]},
    ) as http:
        yield http


PEER_ENDPOINT = "http://127.0.0.1:9"
"""Where the peers of ``peer_entry`` say they listen: nothing does (the discard port, refused at once), so what is
sent to them stays in the outbox, and the node under test retries now and then, logging a warning (never a stack
trace)."""
PEER_ROLES = "central_authority,point_of_contact_24_7"
"""A peer's roles: one authority for every channel, so that preservation and emergencies (24/7 point of contact,
Art 41) and MLA requests (central authority, Art 40(8)) all go to it."""


@dataclass(frozen=True)
class PeerEntry:
    """The signed directory entry of a node of another State, as its operator hands it over (a JSON file)."""

    state: str
    node_id: str
    file: Path

    @property
    def signed(self) -> dict[str, Any]:
        """The entry as JSON, for ``POST /api/v1/directory``."""
        entry: dict[str, Any] = json.loads(self.file.read_text(encoding="utf-8"))
        return entry


def peer_entry(base: Path, state: str) -> PeerEntry:
    """A node of ``state`` that exists only as its signed entry: ``hanoinet init`` on a data directory of its own,
    then ``hanoinet node export``, as that State's operator would do. Its node id is ``<state>-test``, its endpoint
    ``PEER_ENDPOINT``, its roles ``PEER_ROLES``. Import it into the node under test to give it a peer in ``state``
    (``add_peer``, or ``hanoinet directory import FILE``)."""
    node_id = f"{state.lower()}-test"
    data_dir = base / node_id
    env = clean_env(
        data_dir,
        HANOINET_NODE_STATE=state,
        HANOINET_NODE_ID=node_id,
        HANOINET_NODE_NAME=f"{state} central authority and 24/7 point of contact (test)",
        HANOINET_NODE_ROLES=PEER_ROLES,
        HANOINET_NODE_ENDPOINT=PEER_ENDPOINT,
    )
    file = base / f"{node_id}.json"
    for args in (["init"], ["node", "export", "--output", str(file)]):
        done = subprocess.run([HANOINET, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"hanoinet {' '.join(args)} for {state}:\n{done.stdout}\n{done.stderr}"
    return PeerEntry(state, node_id, file)


@pytest.fixture(scope="session")
def peer_entries(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], PeerEntry]:
    """``peer_entries("THA")``: the signed entry of a node of that State, made on first use and shared by every
    module of the test process (an entry can be imported by any number of nodes)."""
    base = tmp_path_factory.mktemp("peers")
    made: dict[str, PeerEntry] = {}

    def entry(state: str) -> PeerEntry:
        if state not in made:
            made[state] = peer_entry(base, state)
        return made[state]

    return entry


def add_peer(api: httpx.Client, peer: PeerEntry) -> str:
    """Import a peer's signed entry into the node through its API (an administrator's decision to trust it);
    the peer's node id. Requests to its State then go to it: they wait in the outbox (``outbox_for``)."""
    imported = api.post("/api/v1/directory", json=peer.signed)
    assert imported.status_code == 201, imported.text
    node_id: str = imported.json()["peer"]["node_id"]
    assert node_id == peer.node_id
    return node_id


def outbox_for(api: httpx.Client, node_id: str, request_id: str) -> list[dict[str, Any]]:
    """The outgoing messages about a request addressed to ``node_id`` that are not delivered (nothing listens
    where the test peers say they do)."""
    listed = api.get("/api/v1/messages", params={"direction": "outgoing", "peer": node_id, "request_id": request_id})
    assert listed.status_code == 200, listed.text
    messages: list[dict[str, Any]] = listed.json()
    return [m for m in messages if m["status"] == "pending"]


@dataclass(frozen=True)
class Run:
    """A finished ``hanoinet`` command: exit code, standard output and standard error."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """Standard output parsed as JSON."""
        return json.loads(self.out)


def run_cli(data_dir: Path, *args: str, stdin: str | None = None) -> Run:
    """Run the real console script on a node's data directory; whatever its exit code, never a traceback."""
    done = subprocess.run(
        [HANOINET, *args], env=clean_env(data_dir), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Run(done.returncode, done.stdout, done.stderr)


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    """Run the real console script on a node's data directory; it must succeed. Its standard output."""
    done = run_cli(data_dir, *args, stdin=stdin)
    assert done.code == 0, done.err
    return done.out


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response that must have this status."""
    assert response.status_code == status, response.text
    return response.json()


_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str, action: str) -> str:
    """The CSRF token inside the form that posts to ``action`` (not the sign-out form's: each form must carry it)."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.DOTALL)
    assert form is not None, f"no form posts to {action}"
    token = _CSRF_INPUT.search(form.group(1))
    assert token is not None, f"the form posting to {action} carries no CSRF token"
    return token.group(1)
