"""Real node processes for federation tests: ``hanoinet serve`` on fixed loopback ports (a restarted node comes back
where its peers expect it), each with its own data directory and database, joined through their HTTP APIs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hanoinet.accounts import tokens as token_services
from hanoinet.app import bootstrap as boot
from hanoinet.platform.permissions import Role
from hanoinet.platform.settings import Settings
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.csv_import import parse_deposit_rows
from tests.e2e.conftest import HANOINET, check_response, free_port
from tests.factories import deposits_csv

START_TIMEOUT = 30.0


@dataclass
class NodeProcess:
    """A node: its settings, its process (when running) and an HTTP client with its API token."""

    node_id: str
    state: str
    data_dir: Path
    port: int
    roles: str = "central_authority"
    database_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    token: str = ""
    starts: int = 0

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Its server log (all its runs)."""
        return self.data_dir.parent / f"{self.node_id}.log"

    def env(self) -> dict[str, str]:
        """Its environment: ours without HANOINET_*, plus its settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
        env.update(
            HANOINET_DATA_DIR=str(self.data_dir),
            HANOINET_NODE_STATE=self.state,
            HANOINET_NODE_ID=self.node_id,
            HANOINET_NODE_NAME=f"{self.state} {self.roles} (test)",
            HANOINET_NODE_ROLES=self.roles,
            HANOINET_NODE_ENDPOINT=self.url,
            HANOINET_FEDERATION_RETRY_MAX_SECONDS="1",
            HANOINET_ALLOW_PRIVATE_PEERS="true",  # every node of a test listens on 127.0.0.1
            HANOINET_ROLES="central_authority",
            NO_COLOR="1",
        )
        if self.database_url:
            env["HANOINET_DATABASE_URL"] = self.database_url
        env.update(self.extra)
        return env

    def settings(self) -> Settings:
        """The same settings as its processes read from ``env()``, for preparing it in this process."""
        values = {k.removeprefix("HANOINET_").lower(): v for k, v in self.env().items() if k.startswith("HANOINET_")}
        return Settings(**values)  # type: ignore[arg-type]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a ``hanoinet`` command on this node's data directory."""
        result = subprocess.run(
            [HANOINET, *args], env=self.env(), capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"hanoinet {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                [HANOINET, "serve", "--port", str(self.port)], env=self.env(), stdout=sink, stderr=subprocess.STDOUT
            )
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{self.node_id} exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.node_id} did not start within {START_TIMEOUT} s:\n{self.log_text()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        """What the node logged."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self) -> httpx.Client:
        """An HTTP client on the node with its token; every answer is checked for a 500 or a stack trace."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(
            base_url=self.url, timeout=60.0, headers=headers, event_hooks={"response": [check_response]}
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An API call that must succeed; its JSON."""
        with self.client() as http:
            response = http.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


def prepare(node: NodeProcess) -> None:
    """Keys, schema, exercise treaty data and an API token, before the server starts: what ``hanoinet init``,
    ``treaty import`` and ``token add`` do, done here through the same services (as the demo prepares its nodes),
    so that a network costs its servers' start-up and not three interpreters per node. The commands themselves
    are tested on their own (``tests/e2e/test_cli.py``)."""
    node.data_dir.mkdir(parents=True, exist_ok=True)
    settings = node.settings()
    engine = boot.open_database(settings)
    try:
        n = boot.bootstrap(settings, engine=engine)
        rows = parse_deposit_rows(deposits_csv([*_PARTIES]), "exercise deposits")
        treaty_services.import_deposits(n, rows, "uncc-2024")
        node.token = token_services.create_token(
            n, f"tests-{node.node_id}", [Role.CENTRAL_AUTHORITY, Role.ADMINISTRATOR]
        )
    finally:
        engine.dispose()


_PARTIES = [
    "VNM",
    "SGP",
    "CHL",
    "THA",
    "MYS",
    "IDN",
    "PHL",
    "CHN",
    "JPN",
    "KOR",
    "MNG",
    "IND",
    "PAK",
    "BGD",
    "LKA",
    "NPL",
    "AUS",
    "NZL",
    "FJI",
    "BRA",
    "ARG",
    "COL",
    "PER",
    "URY",
    "MEX",
    "CAN",
    "NGA",
    "GHA",
    "KEN",
    "ZAF",
    "EGY",
    "MAR",
    "TUN",
    "SEN",
    "CIV",
    "ETH",
    "RWA",
    "UGA",
    "KHM",
    "LAO",
]


def introduce(*nodes: NodeProcess) -> None:
    """Each node imports every other's signed entry (fetched from the node itself, as an operator would)."""
    entries = {n.node_id: n.call("GET", "/federation/v1/entry") for n in nodes}
    for node in nodes:
        for other, entry in entries.items():
            if other != node.node_id:
                node.call("POST", "/api/v1/directory", json=entry)


def network(
    base: Path, specs: list[tuple[str, str, str]], database_urls: list[str | None] | None = None, **extra: str
) -> Iterator[list[NodeProcess]]:
    """Prepared, started and introduced nodes; stopped afterwards (with no stack trace in any log)."""
    urls = database_urls or [None] * len(specs)
    nodes = [
        NodeProcess(node_id, state, base / node_id, free_port(), roles, url, dict(extra))
        for (node_id, state, roles), url in zip(specs, urls, strict=True)
    ]
    for node in nodes:
        prepare(node)
        node.start()
    introduce(*nodes)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        for node in nodes:
            assert "Traceback" not in node.log_text(), node.log_text()


def wait_for(what: str, check: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
