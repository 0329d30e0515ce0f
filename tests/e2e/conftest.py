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
from collections.abc import Iterator
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


def start_server(data_dir: Path, backend: str, database_url: str | None = None) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = data_dir.parent / f"server-{port}.log"
    extra = {"HANOINET_DATABASE_URL": database_url} if database_url else {}
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
