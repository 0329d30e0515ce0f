"""Nodes in one process for service-level federation tests: real databases, real keys, real JOSE, real vaults,
and a loopback transport (an in-memory implementation of our ``Transport`` port) that hands each call to the
addressed node's services exactly as its HTTP routes do — with switches to take a node off the network, cut a
stream of chunks short, or keep a copy of what went over the wire."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from hanoinet.app import bootstrap as boot
from hanoinet.app.node import Node
from hanoinet.evidence.ports import ChunkRefused, ContentMismatch
from hanoinet.federation import directory, inbound, messaging, transfers
from hanoinet.federation.api import REJECTION_STATUS
from hanoinet.federation.domain import EnvelopeRejected
from hanoinet.federation.ports import TransportError
from hanoinet.platform.errors import Conflict, NotFound
from hanoinet.platform.permissions import Principal, Role
from hanoinet.platform.settings import Settings
from hanoinet.treaty import service as treaty
from hanoinet.treaty.csv_import import parse_deposit_rows
from tests.factories import deposits_csv
from tests.fakes import FixedClock

OFFICER = Principal("officer", frozenset({Role.CENTRAL_AUTHORITY}))
"""Who acts on evidence in these tests: a central-authority handler, allowed by default handling conditions."""


def endpoint_of(node_id: str) -> str:
    """The (never dialled) endpoint a test node publishes."""
    return f"http://{node_id}.test"


def make_node(
    base: Path,
    state: str,
    node_id: str,
    *,
    roles: str = "central_authority",
    database_url: str | None = None,
    clock: FixedClock | None = None,
    engines: list[Engine] | None = None,
    languages: str = "en",
) -> Node:
    """A node with its own data directory (keys, vault) and database, on the real adapters; its engine is added to
    ``engines`` for the caller to dispose of."""
    settings = Settings(
        data_dir=base / node_id,
        node_state=state,
        node_id=node_id,
        node_name=f"{state} {roles} (test)",
        node_roles=roles,
        node_endpoint=endpoint_of(node_id),
        database_url=database_url,
        federation_retry_max_seconds=1.0,
        node_languages=languages,
    )
    engine = boot.open_database(settings)
    if engines is not None:
        engines.append(engine)
    node = boot.bootstrap(settings, engine=engine)
    if clock is not None:
        node = replace(node, clock=clock, wall_clock=clock)
    rows = parse_deposit_rows(deposits_csv([*_PARTIES, state] if state not in _PARTIES else _PARTIES), "test")
    treaty.import_deposits(node, rows, "uncc-2024")
    return node


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
"""Forty Parties (exercise data): the UN Convention is in force between any two of them in these tests."""


def connect(*nodes: Node) -> None:
    """Each node imports every other's signed entry: what operators do after checking the keys by other means."""
    entries = {n.identity.node_id: directory.publish_own_entry(n).signed for n in nodes if n.identity}
    for node in nodes:
        assert node.identity is not None
        for node_id, signed in entries.items():
            if node_id != node.identity.node_id:
                directory.import_entry(node, signed)


@dataclass
class Wire:
    """What went over the loopback transport, for replay and tampering tests."""

    transmissions: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, envelope)


class LoopbackTransport:
    """Delivers to nodes in this process through their services, as the HTTP routes would."""

    def __init__(self, *nodes: Node) -> None:
        self.nodes = {endpoint_of(n.identity.node_id): n for n in nodes if n.identity}
        self.down: set[str] = set()
        self.cut_after: int | None = None  # records to deliver before the stream of chunks breaks
        self.wire = Wire()

    def _node(self, endpoint: str) -> Node:
        if endpoint in self.down or endpoint.removeprefix("http://").removesuffix(".test") in self.down:
            raise TransportError(f"{endpoint}: connection refused")
        return self.nodes[endpoint]

    def transmit(self, endpoint: str, envelope: str) -> tuple[int, bytes]:
        node = self._node(endpoint)
        self.wire.transmissions.append((endpoint, envelope))
        try:
            return 200, inbound.receive_transmission(node, envelope, "loopback").encode()
        except EnvelopeRejected as exc:
            return REJECTION_STATUS.get(exc.reason, 400), json.dumps(
                {"title": exc.reason, "detail": exc.detail}
            ).encode()

    def push_entry(self, endpoint: str, signed: str) -> tuple[int, bytes]:
        node = self._node(endpoint)
        try:
            result = inbound.receive_entry(node, json.loads(signed), "loopback")
        except (EnvelopeRejected, directory.EntryRefused) as exc:
            return 409, json.dumps({"title": "entry_refused", "detail": str(exc)}).encode()
        return 200, json.dumps({"verdict": result.verdict.value}).encode()

    def transfer_status(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        node = self._node(endpoint)
        try:
            return 200, json.dumps(transfers.transfer_status(node, transfer_id, token)).encode()
        except transfers.TransferUnauthorized as exc:
            return 401, str(exc).encode()
        except NotFound as exc:
            return 404, str(exc).encode()

    def send_records(
        self, endpoint: str, transfer_id: str, idx: int, *, start: int, token: str, records: Iterable[bytes]
    ) -> tuple[int, bytes]:
        node = self._node(endpoint)
        try:
            writer = transfers.chunk_writer(node, transfer_id, idx, start, token)
        except transfers.OffsetMismatch as exc:
            return 409, json.dumps({"chunks_done": exc.expected}).encode()
        except transfers.TransferUnauthorized as exc:
            return 401, str(exc).encode()
        try:
            for taken, record in enumerate(records):
                if self.cut_after is not None and taken >= self.cut_after:
                    self.cut_after = None
                    raise TransportError(f"{endpoint}: connection reset after {taken} record(s)")
                writer.take(record)
        except ChunkRefused as exc:
            return 422, json.dumps({"detail": str(exc)}).encode()
        finally:
            writer.release()
        return 200, json.dumps({"chunks_done": writer.chunks_done}).encode()

    def complete_transfer(self, endpoint: str, transfer_id: str, token: str) -> tuple[int, bytes]:
        node = self._node(endpoint)
        try:
            return 200, json.dumps({"receipt": transfers.complete_transfer(node, transfer_id, token)}).encode()
        except ContentMismatch as exc:
            return 422, str(exc).encode()
        except Conflict as exc:
            return 409, str(exc).encode()


def deliver_all(transport: LoopbackTransport, *nodes: Node, rounds: int = 20) -> int:
    """Deliver every node's outbox (and what the deliveries cause) until nothing is left; return messages sent."""
    sent = 0
    for _ in range(rounds):
        progress = 0
        for node in nodes:
            for peer in messaging.due_peers(node):
                report = messaging.deliver(node, transport, peer, owner="test")
                progress += report.sent if not report.error else 0
        sent += progress
        if not progress:
            return sent
    return sent


def pump(transport: LoopbackTransport, *nodes: Node, rounds: int = 20) -> None:
    """Deliver messages and push outgoing transfers until everything has settled."""
    for _ in range(rounds):
        deliver_all(transport, *nodes)
        moved = False
        for node in nodes:
            for transfer_id in transfers.pending_transfers(node):
                before = transfers.get_transfer(node, transfer_id)
                try:
                    after = transfers.send_transfer(node, transport, transfer_id)
                except TransportError:
                    continue
                moved = moved or after.state != before.state
        if not moved and not any(messaging.due_peers(n) for n in nodes):
            return


def content(size: int, seed: int = 7) -> Iterator[bytes]:
    """Deterministic content of ``size`` bytes."""
    import random  # noqa: PLC0415 - test data only

    rng = random.Random(seed)
    left = size
    while left > 0:
        piece = rng.randbytes(min(left, 1 << 20))
        left -= len(piece)
        yield piece


def later(clock: FixedClock, **delta: float) -> datetime:
    """Move a fixed clock on and return the new time."""
    clock.current += timedelta(**delta)
    return clock.current


def now_utc() -> datetime:
    """The real time."""
    return datetime.now(UTC)
