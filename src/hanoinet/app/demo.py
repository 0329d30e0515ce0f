"""``hanoinet demo``: a network of nodes on loopback, each a real ``hanoinet serve`` process with its own data
directory, and a scenario played through their APIs — or, with ``--exercise``, left to the participants.

The demo acts as the operators of every node: it prepares each node (keys, exercise treaty data, an API token, a
web account per role), hands each node's signed directory entry to the others, starts the servers, then performs
the scenario's steps as HTTP calls, waiting each time for what the other node must have received first.
Everything between nodes goes as it would between States: signed, encrypted messages, delivered by the nodes
themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from hanoinet.accounts import service as account_services
from hanoinet.accounts import tokens as token_services
from hanoinet.app import bootstrap as boot
from hanoinet.app.node import Node
from hanoinet.federation import directory as directory_services
from hanoinet.platform.events import Actor, Channel
from hanoinet.platform.permissions import Role
from hanoinet.platform.settings import Settings
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.csv_import import parse_deposit_rows
from hanoinet.treaty.declarations_file import parse_declarations

console = Console(highlight=False, soft_wrap=True)
START_TIMEOUT = 30.0
STEP_TIMEOUT = 60.0
TRANSFER_TIMEOUT = 600.0
EXERCISE_BANNER = "EXERCISE DATA — the treaty deposits, cases and people here are fictional, not the real status"


class DemoError(RuntimeError):
    """A step of the scenario did not happen as the scenario says; the message says which and why."""


def scenario_names() -> list[str]:
    """The scenarios shipped with hanoinet."""
    folder = resources.files("hanoinet.app") / "scenarios"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name: str) -> dict[str, Any]:
    """A shipped scenario by name, or a scenario file by path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        candidate = resources.files("hanoinet.app") / "scenarios" / f"{name}.yaml"
        if not candidate.is_file():
            raise DemoError(f"no scenario {name!r}; shipped: {', '.join(scenario_names())} (or give a .yaml file)")
        text = candidate.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("steps"), list):
        raise DemoError(f"scenario {name}: a scenario has nodes and steps")
    return data


def free_port(preferred: int) -> int:
    """``preferred`` if it is free on loopback, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise DemoError("no free port on loopback")


@dataclass
class DemoNode:
    """One node of the demo network."""

    spec: Mapping[str, Any]
    data_dir: Path
    port: int
    token: str = ""
    accounts: dict[str, str] = field(default_factory=dict)
    """Web sign-ins made for the demo: user name -> password (random, printed once with the addresses)."""
    process: subprocess.Popen[bytes] | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=60.0, headers={"Authorization": f"Bearer {self.token}"})

    @property
    def id(self) -> str:
        """The node id."""
        return str(self.spec["id"])

    @property
    def state(self) -> str:
        """The State it serves."""
        return str(self.spec["state"])

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, clock: Mapping[str, str]) -> dict[str, str]:
        """Its settings, as the environment of its server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HANOINET_")}
        env.update(
            HANOINET_DATA_DIR=str(self.data_dir),
            HANOINET_NODE_STATE=self.state,
            HANOINET_NODE_ID=self.id,
            HANOINET_NODE_NAME=str(self.spec.get("authority", self.id)),
            HANOINET_NODE_ROLES=",".join(self.spec.get("roles", ["central_authority"])),
            HANOINET_NODE_LANGUAGES=",".join(self.spec.get("languages", ["en"])),
            HANOINET_NODE_ENDPOINT=self.url,
            HANOINET_FEDERATION_RETRY_MAX_SECONDS="5",
            HANOINET_ALLOW_PRIVATE_PEERS="true",  # the demo's nodes all listen on this machine's loopback
            NO_COLOR="1",
        )
        env.update(clock)
        return env

    def settings(self, clock: Mapping[str, str]) -> Settings:
        """The same settings, for preparing the node in this process."""
        env = self.env(clock)
        return Settings(
            data_dir=self.data_dir,
            node_state=self.state,
            node_id=self.id,
            node_name=env["HANOINET_NODE_NAME"],
            node_roles=env["HANOINET_NODE_ROLES"],
            node_languages=env["HANOINET_NODE_LANGUAGES"],
            node_endpoint=self.url,
            allow_private_peers=True,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An API call that must succeed; its JSON answer."""
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise DemoError(f"{self.id}: {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None


DEMO_ACCOUNTS = (
    ("handler", (Role.CENTRAL_AUTHORITY,)),
    ("duty", (Role.DUTY_OFFICER,)),
    ("prosecutor", (Role.PROSECUTOR,)),
    ("auditor", (Role.AUDITOR,)),
    ("admin", (Role.ADMINISTRATOR,)),
)
"""One web account per role on every demo node, so that a trainee sees what each role may and may not do."""


def _web_accounts(n: Node) -> dict[str, str]:
    """Create the demo's web accounts with fresh random passwords (there are no default passwords, even here)."""
    made = {}
    for username, roles in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        account_services.add_user(
            n,
            username=username,
            password=password,
            roles=frozenset(roles),
            display_name=f"{username.title()} (demo)",
            actor=Actor("demo", frozenset(), Channel.CLI, "local"),
        )
        made[username] = password
    return made


def _deposits_csv(treaty: Mapping[str, Any]) -> str:
    signed, ratified = str(treaty.get("signed", "2025-10-25")), str(treaty.get("ratified", "2026-01-12"))
    lines = ["state,action,date"]
    for party in treaty.get("parties", []):
        lines += [f"{party},signature,{signed}", f"{party},ratification,{ratified}"]
    return "\n".join(lines) + "\n"


class Network:
    """The demo's nodes: prepared, started, stopped together."""

    def __init__(self, scenario: Mapping[str, Any], base: Path, base_port: int, clock: Mapping[str, str]) -> None:
        self.scenario = scenario
        self.base = base
        self.clock = dict(clock)
        self.nodes: dict[str, DemoNode] = {}
        port = base_port
        for spec in scenario["nodes"]:
            port = free_port(port + 1)
            node = DemoNode(spec, base / str(spec["id"]), port)
            self.nodes[node.id] = node

    def prepare(self) -> None:
        """Keys, database, exercise treaty data and an API token for each node; then each trusts the others."""
        entries = {}
        treaty = self.scenario.get("treaty", {})
        for node in self.nodes.values():
            n = boot.bootstrap(node.settings(self.clock))
            rows = parse_deposit_rows(_deposits_csv(treaty), "exercise deposits")
            treaty_services.import_deposits(n, rows, str(treaty.get("instrument", "uncc-2024")))
            if treaty.get("declarations"):
                declared = parse_declarations(yaml.safe_dump({"declarations": treaty["declarations"]}), "scenario")
                treaty_services.import_declarations(n, declared, actor="demo")
            node.token = token_services.create_token(
                n, f"demo-{node.id}-{os.getpid()}", [Role.CENTRAL_AUTHORITY, Role.DUTY_OFFICER]
            )
            node.http.headers["Authorization"] = f"Bearer {node.token}"
            node.accounts = _web_accounts(n)
            entries[node.id] = directory_services.publish_own_entry(n).signed
        for node in self.nodes.values():
            n = boot.bootstrap(node.settings(self.clock))
            for other, signed in entries.items():
                if other != node.id:
                    directory_services.import_entry(n, signed)

    def start(self) -> None:
        """Start every node's server and wait until each answers."""
        for node in self.nodes.values():
            log = (self.base / f"{node.id}.log").open("ab")
            node.process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
                [sys.executable, "-m", "hanoinet", "serve", "--port", str(node.port)],
                env=node.env(self.clock),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops the nodes in order
                preexec_fn=_stop_with_parent,  # noqa: PLW1509 - a prctl call, before exec; nothing else runs
            )
        deadline = time.monotonic() + START_TIMEOUT
        for node in self.nodes.values():
            while True:
                assert node.process is not None
                if node.process.poll() is not None:
                    raise DemoError(
                        f"node {node.id} exited with {node.process.returncode}; see {self.base}/{node.id}.log"
                    )
                try:
                    if node.http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise DemoError(f"node {node.id} did not start within {START_TIMEOUT:.0f} s")
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 10 s)."""
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes.values():
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
            node.http.close()

    def check_alive(self) -> None:
        """Raise DemoError if a node's server has stopped by itself."""
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is not None:
                raise DemoError(f"node {node.id} stopped unexpectedly (exit {node.process.returncode})")

    def addresses(self) -> str:
        """Each node's web and API address (one line each, whole, so that they can be copied)."""
        lines = ["the nodes:"]
        for node in self.nodes.values():
            lines.append(
                f"  {node.id} — {node.spec.get('authority', node.state)}\n"
                f"      web {node.url}/   API {node.url}/docs   API token {node.token}   data {node.data_dir}"
            )
            if node.accounts:
                signins = "   ".join(f"{user} / {password}" for user, password in node.accounts.items())
                lines.append(f"      web sign-in (user / password): {signins}")
        return "\n".join(lines)


def _stop_with_parent() -> None:
    """In a node's process before it starts: if the demo dies (even killed), the node is told to stop."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _content(mib: int, seed: str) -> Iterator[bytes]:
    """Deterministic pseudo-random content standing in for a disk image (exercise data)."""
    rng = random.Random(seed)  # noqa: S311 - exercise content, not a secret
    for _ in range(mib):
        yield rng.randbytes(1 << 20)


class Runner:
    """Plays a scenario's steps against the network, waiting for what each step needs."""

    def __init__(self, network: Network, say: Callable[[str], None]) -> None:
        self.net = network
        self.say = say
        self.requests: dict[str, str] = {}
        self.items: dict[str, tuple[str, str]] = {}  # ref -> (node id, item id)
        self.transfers: dict[str, tuple[str, str]] = {}  # ref -> (sending node id, transfer id)

    def node(self, node_id: str) -> DemoNode:
        """A node by id."""
        if node_id not in self.net.nodes:
            raise DemoError(f"the scenario names node {node_id!r}, which it does not define")
        return self.net.nodes[node_id]

    def run(self) -> None:
        """Every step, in order."""
        for index, step in enumerate(self.net.scenario["steps"]):
            if not isinstance(step, dict) or len(step) != 1:
                kinds = "say, case, request, act, answer, message, evidence, transfer, verify, consent"
                raise DemoError(f"step {index + 1}: a step is one of {kinds}")
            ((kind, args),) = step.items()
            handler = getattr(self, f"step_{kind}", None)
            if handler is None:
                raise DemoError(f"step {index + 1}: unknown step {kind!r}")
            handler(args)

    def wait(self, what: str, check: Callable[[], Any], timeout: float = STEP_TIMEOUT) -> Any:
        """Poll ``check`` until it returns something true."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.1)

    # -- steps

    def step_say(self, text: str) -> None:
        self.say(f"[bold]{text}[/]")

    def step_case(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        node.call(
            "POST",
            "/api/v1/cases",
            json={k: a[k] for k in ("reference", "offence", "max_penalty_years", "summary") if k in a},
        )
        self.say(f"  {node.id}: case {a['reference']} opened")

    def step_request(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        body = {
            "case": a["case"],
            "type": a["type"],
            "requested_state": a["to"],
            "instrument": a.get("instrument", "uncc-2024"),
            "items": {k: str(v) for k, v in a.get("items", {}).items()},
            "emergency": bool(a.get("emergency", False)),
        }
        if "follows_up" in a:
            body["follows_up"] = self.requests[a["follows_up"]]
        if "language" in a:
            body["language"] = str(a["language"])
        created = node.call("POST", "/api/v1/requests", json=body)
        self.requests[a["ref"]] = created["id"]
        if "by" in a:  # to a State with no node: a signed PDF, recorded as sent by that means
            self._send_off_network(node, a, created)
            return
        sent = node.call("POST", f"/api/v1/requests/{created['id']}/actions", json={"action": "send"})
        flag = " (EMERGENCY)" if body["emergency"] else ""
        self.say(
            f"  {node.id} → {sent['peer']}: {created['type_label']} request{flag} sent ({created['article']}), clocks: "
            + ", ".join(f"{c['name']} {c['time_left']}" for c in sent["clocks"] if c["time_left"])
        )

    def _send_off_network(self, node: DemoNode, a: Mapping[str, Any], created: Mapping[str, Any]) -> None:
        body = {"means": a["by"], "to": str(a["address"]), "to_language": str(a.get("to_language", "en"))}
        sent = node.call("POST", f"/api/v1/requests/{created['id']}/send-off-network", json=body)
        event = sent["events"][-1]["data"]
        pdf = node.http.get(f"/api/v1/requests/{created['id']}/document", params={"to_language": body["to_language"]})
        saved = self.net.base / str(event.get("file_name") or f"{a['ref']}.pdf")
        saved.write_bytes(pdf.content)
        self.say(
            f"  {node.id} → {a['to']} by {a['by']} to {a['address']}: {created['type_label']} request sent, not "
            f"delivered (no receipt comes back); the signed PDF is kept in the vault (SHA-256 {event['sha256'][:16]}…)"
            f" and a copy is at {saved}"
        )

    def step_answer(self, a: Mapping[str, Any]) -> None:
        """The other State's answer, received off the network, recorded with the document received."""
        node = self.node(a["node"])
        letter = f"{a.get('from', '')}\n\n{a.get('note', '')}\n".encode()
        params = {"action": a["action"], "by": a["by"], "from": str(a.get("from", "")), "note": str(a.get("note", ""))}
        after = node.call(
            "POST",
            f"/api/v1/requests/{self.requests[a['request']]}/answers",
            params={**params, "file_name": f"{a['request']}-{a['action']}.txt"},
            content=letter,
            headers={"content-type": "application/octet-stream"},
        )
        self.say(f"  {node.id}: {a['from']} answered by {a['by']}: {a['action'].replace('_', ' ')} → {after['state']}")

    def _request_at(self, node: DemoNode, ref: str) -> dict[str, Any] | None:
        response = node.http.get(f"/api/v1/requests/{self.requests[ref]}")
        return response.json() if response.status_code == 200 else None

    def step_act(self, a: Mapping[str, Any]) -> None:
        node, action = self.node(a["node"]), a["action"]
        view = self.wait(
            f"{action} to be possible on request {a['request']} at {node.id}",
            lambda: (v := self._request_at(node, a["request"])) and action in v["allowed_actions"] and v,
        )
        body = {"action": action, "note": str(a.get("note", "")), "grounds": list(a.get("grounds", []))}
        after = node.call("POST", f"/api/v1/requests/{view['id']}/actions", json=body)
        self.say(
            f"  {node.id}: {action.replace('_', ' ')} → {after['state']}" + (f" — {a['note']}" if a.get("note") else "")
        )
        peer = self.net.nodes.get(after.get("peer") or "")
        if peer is not None:  # the other side sees it: wait until it has
            self.wait(
                f"{peer.id} to see {action}",
                lambda: (v := self._request_at(peer, a["request"])) and v["state"] == after["state"],
            )

    def step_message(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        request_id = self.requests[a["request"]]
        sent = node.call("POST", f"/api/v1/requests/{request_id}/correspondence", json={"text": a["text"]})
        peer = self.node(sent["to"])
        self.wait(
            f"{peer.id} to receive the message",
            lambda: any(
                m["id"] == sent["id"] for m in peer.call("GET", "/api/v1/messages", params={"request_id": request_id})
            ),
        )
        self.say(f"  {node.id} → {peer.id}: message delivered — {a['text'][:90]}")

    def step_evidence(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        view = self._request_at(node, a["request"])
        if view is None:
            raise DemoError(f"request {a['request']} is not at {node.id}")
        mib = int(a.get("mib", 8))
        upload = node.call("POST", "/api/v1/uploads", json={"size": mib << 20})
        digest = hashlib.sha256()

        def body() -> Iterator[bytes]:
            for piece in _content(mib, f"{a['ref']}-{a['exhibit']}"):
                digest.update(piece)
                yield piece

        node.call("PATCH", f"/api/v1/uploads/{upload['id']}", content=body(), headers={"Upload-Offset": "0"})
        item = node.call("POST", f"/api/v1/uploads/{upload['id']}/complete", json={
            "case": view["case_id"], "exhibit": a["exhibit"], "source": a["source"],
            "acquisition_method": a["method"], "acquisition_tool": a.get("tool", ""),
            "acquired_by": a["acquired_by"], "acquired_at": datetime.now(UTC).isoformat(),
            "description": a.get("description", ""), "purpose": a.get("purpose", ""),
            "file_name": f"{a['exhibit']}.img",
        })  # fmt: skip
        if item["sha256"] != digest.hexdigest():
            raise DemoError(f"{node.id}: the vault recorded another SHA-256 than was uploaded")
        self.items[a["ref"]] = (node.id, item["id"])
        self.say(f"  {node.id}: exhibit {a['exhibit']} acquired, {mib} MiB, sha256 {item['sha256'][:16]}…")

    def _item(self, ref: str) -> tuple[str, str]:
        """An item by ref; ``ref@node`` is the copy of it that ``node`` received."""
        name, _, at = ref.partition("@")
        origin_node, origin_id = self.items[name]
        if not at:
            return origin_node, origin_id
        holder = self.node(at)
        for t in holder.call("GET", "/api/v1/transfers"):
            for item in t["items"]:
                if t["direction"] == "incoming" and item["item_id"] == origin_id and item["local_item_id"]:
                    return holder.id, item["local_item_id"]
        raise DemoError(f"{at} holds no copy of {name}")

    def step_transfer(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        items = []
        for ref in a["items"]:
            holder, item_id = self._item(ref)
            if holder != node.id:
                raise DemoError(f"{ref} is held by {holder}, not {node.id}")
            items.append(item_id)
        body = {"to": a["to"], "items": items, "request_id": self.requests[a["request"]], "reason": a["reason"]}
        response = node.http.post("/api/v1/transfers", json=body)
        if a.get("expect") == "refused":
            if response.status_code != 403:
                raise DemoError(f"{node.id}: the transfer should have been refused, got {response.status_code}")
            self.say(f"  {node.id} → {a['to']}: [red]refused[/] — {response.json()['detail']}")
            return
        if response.status_code != 201:
            raise DemoError(f"{node.id}: transfer refused: {response.status_code} {response.text[:300]}")
        transfer = response.json()
        self.transfers[a["ref"]] = (node.id, transfer["id"])
        started = time.monotonic()
        done = self.wait(
            f"transfer {transfer['id']} to complete",
            lambda: (
                (t := node.call("GET", f"/api/v1/transfers/{transfer['id']}"))["state"]
                in ("completed", "failed", "refused")
                and t
            ),
            TRANSFER_TIMEOUT,
        )
        if done["state"] != "completed":
            raise DemoError(f"transfer {transfer['id']} {done['state']}: {done['error']}")
        size = sum(i["size"] for i in done["items"])
        seconds = max(time.monotonic() - started, 1e-3)
        self.say(
            f"  {node.id} → {a['to']}: {len(items)} item(s), {size / 2**20:.0f} MiB sent in chunks, "
            f"receipt signed by {a['to']} ({size / 1e6 / seconds:.0f} MB/s)"
        )

    def step_verify(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        _, transfer_id = self.transfers[a["transfer"]]
        received = self.wait(
            f"{node.id} to hold transfer {transfer_id}",
            lambda: (
                (r := node.http.get(f"/api/v1/transfers/{transfer_id}")).status_code == 200
                and r.json()["state"] == "completed"
                and r.json()
            ),
        )
        for item in received["items"]:
            report = node.call("POST", f"/api/v1/evidence/{item['local_item_id']}/verify")
            custody = node.call("GET", f"/api/v1/evidence/{item['local_item_id']}/custody")
            if not report["ok"]:
                raise DemoError(
                    f"{node.id}: received item {item['local_item_id']} does not verify: {report['problems']}"
                )
            self.say(
                f"  {node.id}: item {item['sha256'][:16]}… verified on arrival; custody: "
                + " → ".join(e["action"] for e in custody)
            )

    def step_consent(self, a: Mapping[str, Any]) -> None:
        node = self.node(a["node"])
        _, item_id = self._item(a["item"])
        asked = node.call(
            "POST", f"/api/v1/evidence/{item_id}/consents", json={"destination": a["to"], "purpose": a["purpose"]}
        )
        self.say(f"  {node.id} → {asked['peer']}: consent asked to pass the item on to {a['to']} (Art 36)")
        decide = a["decide"]
        decider = self.node(decide["node"])
        self.wait(
            f"{decider.id} to receive the consent request",
            lambda: any(c["id"] == asked["id"] for c in decider.call("GET", "/api/v1/consents")),
        )
        decision = decider.call(
            "POST",
            f"/api/v1/consents/{asked['id']}/decision",
            json={"grant": bool(decide["grant"]), "note": decide.get("note", "")},
        )
        self.wait(
            f"{node.id} to receive the decision",
            lambda: any(
                c["id"] == asked["id"] and c["status"] == decision["status"]
                for c in node.call("GET", "/api/v1/consents")
            ),
        )
        self.say(f"  {decider.id}: consent {decision['status']} — {decide.get('note', '')}")


def run(
    scenario_name: str,
    *,
    exercise: bool,
    base: Path | None,
    base_port: int,
    keep_running: bool,
    speed: float | None = None,
) -> int:
    """Bring up the network, play (or brief) the scenario, print the addresses, run until Ctrl-C."""
    scenario = load_scenario(scenario_name)
    owned = base is None
    base = base or Path(tempfile.mkdtemp(prefix="hanoinet-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    clock: dict[str, str] = {}
    if exercise:
        factor = speed if speed is not None else float(scenario.get("clock_speed", 1))
        clock = {"HANOINET_CLOCK_SPEED": str(factor), "HANOINET_CLOCK_EPOCH": datetime.now(UTC).isoformat()}
    console.print(f"[bold]{scenario.get('title', scenario_name)}[/] — {'training exercise' if exercise else 'demo'}")
    console.print(f"[yellow]{EXERCISE_BANNER}[/]")
    network = Network(scenario, base, base_port, clock)
    stopping = False

    def stop_on_signal(signum: int, _: Any) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop_on_signal)
    code = 0
    try:
        console.print(f"preparing {len(network.nodes)} nodes in {base} (keys, exercise treaty data, directory entries)")
        network.prepare()
        network.start()
        console.print(network.addresses())
        if exercise:
            console.print(scenario.get("briefing", ""))
            console.print(
                f"clocks run {clock['HANOINET_CLOCK_SPEED']}x faster than real time; the steps are yours to play:"
            )
            for step in scenario["steps"]:
                ((kind, args),) = step.items()
                console.print(
                    f"  - {kind}: {args if isinstance(args, str) else {k: v for k, v in args.items() if k != 'items'}}"
                )
        else:
            Runner(network, console.print).run()
            console.print("[green]scenario complete[/]: every node's API and web address is above")
        if keep_running:
            console.print("running — press Ctrl-C to stop every node")
            while not stopping:
                network.check_alive()
                time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping the nodes …")
    except DemoError as exc:
        console.print(f"[red]demo failed:[/] {exc} (logs in {base})")
        code = 1
    finally:
        network.stop()
        signal.signal(signal.SIGTERM, previous)
        if owned and code == 0:
            shutil.rmtree(base, ignore_errors=True)
    console.print("all nodes stopped")
    return code
