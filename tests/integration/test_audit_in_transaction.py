"""The audit entry of a change is written in the change's own transaction (ADR 0005, closed by issue 10).

An entry point (API or web route, CLI command) makes the call's pending entry; the service that makes the change
writes it just before its commit. So the two stand or fall together: a change whose entry cannot be written is not
made, and an entry saying "ok" never stands for a change that was rolled back. Real SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.evidence import exports
from hanoinet.evidence import service as evidence
from hanoinet.evidence.domain import CustodyAction
from hanoinet.platform import events
from hanoinet.platform.events import Channel, Event
from hanoinet.treaty import service as treaty
from hanoinet.treaty.csv_import import parse_deposit_rows
from tests.factories import deposits_csv
from tests.fakes import FixedClock
from tests.integration.test_evidence import INVESTIGATOR, data, ingest, make_node, open_case


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: Engine, clock: FixedClock) -> Node:
    return make_node(tmp_path, database_url, engine, clock)


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    return FixedClock(now)


class EntryUnwritable(Exception):  # noqa: N818 - names what happened
    """Raised by the entry's event: as if the audit log could not take it (a full disk, a lost connection)."""


def _event(action: str) -> Callable[[str], Event]:
    return lambda object_id: Event("clerk", ("investigator",), Channel.API, action, action.partition(":")[0], object_id)


def _unwritable(object_id: str) -> Event:
    raise EntryUnwritable(object_id)


def _audited(node: Node, action: str) -> list[str]:
    with node.uow() as uow:
        return [e.object_id for e in uow.audit.all() if e.action == action]


def _custody(node: Node, item_id: str) -> list[CustodyAction]:
    _, history = evidence.get_item(node, item_id)
    return [e.action for e in history]


def test_a_download_and_its_entry_are_one_commit(node: Node) -> None:
    item = ingest(node, open_case(node), "EX-1", data(1, 4096))
    entry = events.RouteEntry(lambda: node, _event("evidence:download"))
    with events.route_entry(entry):
        _, stream = evidence.read_content(node, item.id, INVESTIGATOR, "examination")
    assert b"".join(stream) == data(1, 4096)
    assert entry.written, "the download committed without writing the call's entry"
    assert _audited(node, "evidence:download") == [item.id]
    assert _custody(node, item.id)[-1] is CustodyAction.DOWNLOAD
    assert audit.verify(node).ok


def test_a_download_whose_entry_cannot_be_written_is_not_recorded_as_made(node: Node) -> None:
    item = ingest(node, open_case(node), "EX-1", data(2, 4096))
    before = _custody(node, item.id)
    entry = events.RouteEntry(lambda: node, _unwritable)
    with events.route_entry(entry), pytest.raises(EntryUnwritable):
        evidence.read_content(node, item.id, INVESTIGATOR, "examination")
    assert not entry.written
    assert _custody(node, item.id) == before, "custody records a download whose audit entry was never written"


def test_an_export_writes_one_entry_with_every_items_custody_event(node: Node) -> None:
    case_id = open_case(node)
    items = [ingest(node, case_id, f"EX-{n}", data(n, 1024)) for n in range(3)]
    entry = events.RouteEntry(lambda: node, _event("evidence:export"))
    with events.route_entry(entry):
        exports.export_case_graph(node, case_id, principal=INVESTIGATOR, reason="for the prosecutor")
    assert entry.written
    assert _audited(node, "evidence:export") == [case_id]
    assert all(_custody(node, i.id)[-1] is CustodyAction.EXPORT for i in items)

    refused = events.RouteEntry(lambda: node, _unwritable)
    with events.route_entry(refused), pytest.raises(EntryUnwritable):
        exports.export_case_graph(node, case_id, principal=INVESTIGATOR, reason="again")
    assert all(_custody(node, i.id).count(CustodyAction.EXPORT) == 1 for i in items)


def test_a_treaty_import_whose_entry_cannot_be_written_records_no_deposit(node: Node) -> None:
    rows = parse_deposit_rows(deposits_csv(["VNM", "SGP"]), "deposits.csv")
    with events.route_entry(events.RouteEntry(lambda: node, _unwritable)), pytest.raises(EntryUnwritable):
        treaty.import_deposits(node, rows, "uncc-2024")
    assert list(treaty.deposits(node, "uncc-2024")) == []

    entry = events.RouteEntry(lambda: node, _event("treaty:import"))
    with events.route_entry(entry):
        result = treaty.import_deposits(node, rows, "uncc-2024")
    assert entry.written
    assert result.recorded == 4
    assert _audited(node, "treaty:import") == ["uncc-2024"]
