"""The evidence vault over a real database (SQLite and PostgreSQL), a real vault directory and the node's real keys.

What a court or an auditor asks of it: the hashes are the forensic hashes of what was acquired; the content read back
is the content acquired; every action is in the chain of custody; every single-byte change to a stored blob, a
metadata row or a ledger entry is found and named by ``verify``; handling conditions are enforced and refusals are
recorded; items past their retention end are destroyed while their record stays; exports verify with outside tools.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from hanoinet.app.bootstrap import bootstrap
from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.evidence import exports
from hanoinet.evidence import service as evidence
from hanoinet.evidence.court_package import verify_package
from hanoinet.evidence.domain import (
    AccessDenied,
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    next_event,
)
from hanoinet.evidence.orm import CustodyEventRow, EvidenceItemRow, LedgerCheckpointRow, LedgerHeadRow
from hanoinet.evidence.vault import HEADER_SIZE, RECORD_OVERHEAD, BlobCorrupt, BlobStore
from hanoinet.platform import migrations
from hanoinet.platform.db import make_engine
from hanoinet.platform.errors import Conflict, NotFound, ValidationFailed
from hanoinet.platform.permissions import Forbidden, Principal, Role
from hanoinet.platform.settings import Settings
from tests.factories import reference
from tests.fakes import FixedClock

MiB = 1024 * 1024
CHUNK = 4 * MiB  # the vault's default chunk size, which bootstrap uses
CASE_VALIDATE = Path(sys.executable).parent / "case_validate"

INVESTIGATOR = Principal("Investigator Lê Minh", frozenset({Role.INVESTIGATOR}))
DUTY_OFFICER = Principal("Duty officer Phạm Thu", frozenset({Role.DUTY_OFFICER}))
ADMIN = Principal("Vault administrator", frozenset({Role.ADMINISTRATOR}))


# --- fixtures and helpers ---------------------------------------------------------------------------------------


def make_node(data_dir: Path, database_url: str, engine: Engine, clock: FixedClock) -> Node:
    """A node wired exactly as in production (keys, vault, exporter), with the test's clock."""
    wired = bootstrap(Settings(data_dir=data_dir, database_url=database_url, node_state="VNM"), engine=engine)
    return dataclasses.replace(wired, clock=clock)


@pytest.fixture
def clock(now: datetime) -> FixedClock:
    return FixedClock(now)


@pytest.fixture
def node(tmp_path: Path, database_url: str, engine: Engine, clock: FixedClock) -> Node:
    return make_node(tmp_path, database_url, engine, clock)


@pytest.fixture
def case_id(node: Node) -> str:
    return open_case(node)


def open_case(node: Node) -> str:
    return cases.open_case(
        node,
        reference=reference("LOTUS"),
        offence="system_interference",
        max_penalty_years=10,
        summary="Ransomware attack on the hospital information system in Hà Nội",
    ).id


def described(case_id: str, exhibit: str, at: datetime, **changes: Any) -> ItemDescription:
    fields: dict[str, Any] = {
        "case_id": case_id,
        "exhibit": exhibit,
        "source": "server HN-DB-01 of Bạch Mai hospital",
        "acquisition_method": "physical image",
        "acquisition_tool": "dc3dd 7.3.1",
        "acquired_by": "Officer Trần Văn An",
        "acquired_at": at - timedelta(hours=2),
        "description": "disk image of the database server",
        "file_name": f"{exhibit.replace('/', '_')}.img",
        **changes,
    }
    return ItemDescription(**fields)


def ingest(
    node: Node,
    case_id: str,
    exhibit: str,
    content: bytes,
    conditions: HandlingConditions | None = None,
    *,
    extra: tuple[str, ...] = (),
) -> EvidenceItem:
    return evidence.ingest(
        node,
        io.BytesIO(content),
        described(case_id, exhibit, node.clock.now()),
        conditions or HandlingConditions(),
        actor=INVESTIGATOR,
        extra_hashes=extra,
    )


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def read_all(node: Node, item_id: str, who: Principal = INVESTIGATOR) -> bytes:
    _, stream = evidence.read_content(node, item_id, who, "examination for the trial")
    return b"".join(stream)


def history(node: Node, item_id: str) -> list[CustodyEvent]:
    """The item's custody, read in a new unit of work (so only what was committed)."""
    with node.uow() as uow:
        return list(uow.ledger.history(item_id))


def all_events(node: Node) -> list[CustodyEvent]:
    with node.uow() as uow:
        return list(uow.ledger.events())


def node_dir(node: Node) -> Path:
    """The node's data directory (the vault is ``DATA_DIR/vault``)."""
    assert isinstance(node.vault, BlobStore)
    return node.vault.root.parent


def blob_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in (data_dir / "vault" / "blobs").rglob("*") if p.is_file())


def blob_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "vault" / "blobs" / sha256[:2] / sha256


def execute(engine: Engine, statement: Any) -> None:
    """Change the database behind the node's back, as an intruder with database access would."""
    with engine.begin() as conn:
        conn.execute(statement)


def verify_all(node: Node) -> evidence.VerifyReport:
    return evidence.verify(node, None, INVESTIGATOR)


def problems_naming(report: evidence.VerifyReport, text: str) -> list[str]:
    return [p for p in report.problems if text in p]


# --- ingest, hashes, read back ----------------------------------------------------------------------------------


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 12_345]


def test_ingest_hashes_record_and_read_back_every_size(node: Node, case_id: str, now: datetime) -> None:
    contents = {size: data(size, size) for size in SIZES}
    items: dict[int, EvidenceItem] = {}
    for size, content in contents.items():
        extra = ("sha1", "md5") if size % 2 else ()
        item = ingest(node, case_id, f"LOTUS/B-{size}", content, extra=extra)
        items[size] = item

        expected = {"sha256": hashlib.sha256(content).hexdigest()}
        if extra:
            expected["sha1"] = hashlib.sha1(content).hexdigest()  # noqa: S324 - legacy court systems ask for it
            expected["md5"] = hashlib.md5(content).hexdigest()  # noqa: S324
        assert item.sha256 == expected["sha256"]
        assert item.hashes == expected
        assert item.size == size
        assert item.created_at == now

        (acquired,) = history(node, item.id)
        assert acquired.action is CustodyAction.ACQUIRE
        assert acquired.actor == INVESTIGATOR.name
        assert acquired.at == now
        assert acquired.details["hashes"] == expected
        assert acquired.details["size"] == size
        assert "Officer Trần Văn An" in acquired.reason

    # the blobs on disk are encrypted: the plaintext is not in them
    for size in (CHUNK, 2 * CHUNK + 12_345):
        stored = blob_path(node_dir(node), items[size].sha256).read_bytes()
        assert contents[size][:4096] not in stored
        assert len(stored) == HEADER_SIZE + -(-size // CHUNK) * RECORD_OVERHEAD + size

    for size, item in items.items():
        report = evidence.verify(node, item.id, INVESTIGATOR)
        assert report.ok, report.problems
        assert report.items == 1
        last = history(node, item.id)[-1]
        assert last.action is CustodyAction.VERIFY
        assert last.details["ok"] is True
        assert last.details["sha256"] == item.sha256
        assert read_all(node, item.id) == contents[size]
        assert history(node, item.id)[-1].action is CustodyAction.DOWNLOAD

    before = len(all_events(node))
    report = verify_all(node)
    assert report.ok, report.problems
    assert report.items == len(SIZES)
    assert report.events == before
    assert report.checkpoints == before
    after = all_events(node)
    assert [e.seq for e in after] == list(range(1, before + len(SIZES) + 1))
    assert {e.item_id for e in after[before:]} == {i.id for i in items.values()}
    assert all(e.action is CustodyAction.VERIFY and e.details["ok"] for e in after[before:])


def test_a_view_is_recorded_as_a_view_with_its_reason(node: Node, case_id: str) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"chat export")
    _, stream = evidence.read_content(node, item.id, INVESTIGATOR, "prepare the hearing", view=True)
    assert b"".join(stream) == b"chat export"
    last = history(node, item.id)[-1]
    assert (last.action, last.actor, last.reason) == (CustodyAction.VIEW, INVESTIGATOR.name, "prepare the hearing")

    with pytest.raises(ValidationFailed, match="reason"):
        evidence.read_content(node, item.id, INVESTIGATOR, "  ")
    assert history(node, item.id)[-1] == last


def test_invalid_descriptions_are_refused_before_anything_is_stored(node: Node, case_id: str, now: datetime) -> None:
    bad = [
        (described(case_id, "", now), "exhibit"),
        (described(case_id, "B-1", now, acquired_by=" "), "acquired_by"),
        (described(case_id, "B-1", now, acquired_at=now + timedelta(days=1)), "acquired_at"),
        (described(case_id, "B-1", now, acquired_at=datetime(2027, 3, 1, 8, 0)), "acquired_at"),  # noqa: DTZ001
        (described("no-such-case", "B-1", now), "case"),
    ]
    for description, field in bad:
        with pytest.raises(ValidationFailed) as refused:
            evidence.ingest(node, io.BytesIO(b"x"), description, HandlingConditions(), actor=INVESTIGATOR)
        assert field in [i.field for i in refused.value.issues]
    with pytest.raises(ValidationFailed, match="retention_until"):
        ingest(node, case_id, "B-1", b"x", HandlingConditions(retention_until=now.date() - timedelta(days=1)))
    with pytest.raises(ValidationFailed, match="sha512"):
        ingest(node, case_id, "B-1", b"x", extra=("sha512",))
    assert all_events(node) == []
    assert blob_files(node_dir(node)) == []


# --- content addressing, idempotence, write-once ----------------------------------------------------------------


def test_identical_content_is_stored_once_and_a_rerun_is_the_same_item(node: Node, case_id: str) -> None:
    content = data(7, 3 * MiB)
    first = ingest(node, case_id, "LOTUS/B-1", content)
    second = ingest(node, case_id, "LOTUS/B-2", content)

    assert first.id != second.id
    assert first.sha256 == second.sha256
    assert blob_files(node_dir(node)) == [blob_path(node_dir(node), first.sha256)]
    assert history(node, first.id)[0].details["stored_once"] is False
    assert history(node, second.id)[0].details["stored_once"] is True
    assert len(evidence.list_items(node, case_id=case_id)) == 2

    events = all_events(node)
    again = ingest(node, case_id, "LOTUS/B-1", content)
    assert again.id == first.id
    assert all_events(node) == events  # no second acquisition
    assert len(evidence.list_items(node, case_id=case_id)) == 2

    with pytest.raises(Conflict, match=rf"LOTUS/B-1.*{first.id}"):
        ingest(node, case_id, "LOTUS/B-1", content + b"!")
    assert all_events(node) == events
    assert len(evidence.list_items(node, case_id=case_id)) == 2
    assert read_all(node, first.id) == content
    assert read_all(node, second.id) == content
    assert verify_all(node).ok


# --- tampering --------------------------------------------------------------------------------------------------


def flip(path: Path, offset: int, rng: random.Random) -> int:
    """XOR one byte of a file with a random non-zero value; return the original byte."""
    with path.open("r+b") as f:
        f.seek(offset)
        (old,) = f.read(1)
        f.seek(offset)
        f.write(bytes([old ^ rng.randrange(1, 256)]))
    return old


def put_back(path: Path, offset: int, byte: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(bytes([byte]))


def test_every_flipped_byte_of_a_blob_is_found_and_located(node: Node, case_id: str) -> None:
    rng = random.Random(20270301)
    size = 2 * CHUNK + 777  # three chunks, the last one short
    target = ingest(node, case_id, "LOTUS/B-1", data(1, size))
    bystander = ingest(node, case_id, "LOTUS/B-2", data(2, MiB))
    path = blob_path(node_dir(node), target.sha256)
    length = path.stat().st_size
    stride = CHUNK + RECORD_OVERHEAD

    regions: list[tuple[str, int, int, str]] = [
        ("header", 0, HEADER_SIZE, "bad header"),
        ("first chunk", HEADER_SIZE, HEADER_SIZE + stride, "chunk 0"),
        ("middle chunk", HEADER_SIZE + stride, HEADER_SIZE + 2 * stride, "chunk 1"),
        ("last chunk", HEADER_SIZE + 2 * stride, length, "chunk 2"),
        ("last bytes", length - 16, length, "chunk 2"),  # the last chunk's tag
    ]
    tried = 0
    for region, start, end, where in regions:
        for offset in [start, end - 1, *(rng.randrange(start, end) for _ in range(3))]:
            old = flip(path, offset, rng)
            report = evidence.verify(node, target.id, INVESTIGATOR)
            assert not report.ok, f"{region}: flipping byte {offset} went unnoticed"
            named = problems_naming(report, f"item {target.id} (LOTUS/B-1)")
            assert named, report.problems
            assert any(where in p for p in named), (region, offset, report.problems)
            assert history(node, target.id)[-1].details["ok"] is False
            put_back(path, offset, old)
            tried += 1
    assert tried == 25

    # the same flip, found by verify --all, names only the damaged item; a download stops with an error
    offset = rng.randrange(HEADER_SIZE + 2 * stride, length)
    old = flip(path, offset, rng)
    report = verify_all(node)
    assert report.problems
    assert all(target.id in p for p in report.problems), report.problems
    assert not problems_naming(report, bystander.id)
    with pytest.raises(BlobCorrupt, match="chunk 2"):
        read_all(node, target.id)
    put_back(path, offset, old)
    assert verify_all(node).ok  # the detections above came from the flips, nothing else


def test_a_missing_or_swapped_blob_is_found(node: Node, case_id: str) -> None:
    first = ingest(node, case_id, "LOTUS/B-1", data(1, 100_000))
    second = ingest(node, case_id, "LOTUS/B-2", data(2, 100_000))
    path_1, path_2 = blob_path(node_dir(node), first.sha256), blob_path(node_dir(node), second.sha256)

    path_2.write_bytes(path_1.read_bytes())  # a valid blob of the same vault, under the other item's name
    report = verify_all(node)
    assert any(second.id in p and "hash mismatch" in p for p in report.problems), report.problems
    assert not problems_naming(report, first.id)

    path_2.unlink()
    report = verify_all(node)
    assert any(second.id in p and "missing" in p for p in report.problems), report.problems


METADATA_CHANGES: dict[str, Callable[[EvidenceItem, EvidenceItem], dict[str, Any]]] = {
    "exhibit": lambda item, other: {"exhibit": "LOTUS/B-1bis"},
    "size": lambda item, other: {"size": item.size + 1},
    "sha256": lambda item, other: {"sha256": other.sha256},
    "hashes": lambda item, other: {"hashes": {**item.hashes, "md5": "0" * 32}},
    "source": lambda item, other: {"source": "a different server"},
    "acquired_by": lambda item, other: {"acquired_by": "Officer Nguyễn"},
    "acquired_at": lambda item, other: {"acquired_at": item.described.acquired_at + timedelta(seconds=1)},
    "description": lambda item, other: {"description": "disk image of the mail server"},
    "file_name": lambda item, other: {"file_name": "other.img"},
    "case_id": lambda item, other: {"case_id": other.described.case_id},
    "created_at": lambda item, other: {"created_at": item.created_at - timedelta(days=1)},
    "conditions": lambda item, other: {
        "conditions": {**item.conditions.as_dict(), "allowed_roles": ["duty_officer", "investigator"]}
    },
    "conditions.retention_until": lambda item, other: {
        "conditions": {**item.conditions.as_dict(), "retention_until": "2099-12-31"}
    },
    # the column the retention sweep queries: it must not be changeable without verify noticing
    "retention_until": lambda item, other: {"retention_until": date(2099, 12, 31)},
}


def test_every_changed_metadata_field_is_found(node: Node, engine: Engine, case_id: str, now: datetime) -> None:
    conditions = HandlingConditions(retention_until=now.date() + timedelta(days=365), purpose="trial of case LOTUS")
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs", conditions, extra=("md5",))
    other = ingest(node, open_case(node), "LOTUS/B-9", b"other content")
    assert verify_all(node).ok
    row = EvidenceItemRow.id == item.id

    undetected = {}
    for field, make_change in METADATA_CHANGES.items():
        change = make_change(item, other)
        with engine.connect() as conn:
            before = conn.execute(select(*(getattr(EvidenceItemRow, k) for k in change)).where(row)).one()
        execute(engine, update(EvidenceItemRow).where(row).values(**change))

        report = evidence.verify(node, item.id, INVESTIGATOR)
        expected = f"item {item.id}: its metadata differ from what was recorded at acquisition"
        if expected not in report.problems or history(node, item.id)[-1].details["ok"] is not False:
            undetected[field] = report.problems
        execute(engine, update(EvidenceItemRow).where(row).values(**dict(zip(change, before, strict=True))))

    assert undetected == {}, "changed in the database, and verify did not say the metadata differ"
    assert verify_all(node).ok  # each detection came from its change


def test_a_changed_retention_column_cannot_keep_evidence_past_its_retention_end(
    node: Node, engine: Engine, clock: FixedClock, case_id: str, now: datetime
) -> None:
    until = now.date() + timedelta(days=30)
    item = ingest(node, case_id, "LOTUS/B-1", b"intercepted data", HandlingConditions(retention_until=until))
    execute(engine, update(EvidenceItemRow).where(EvidenceItemRow.id == item.id).values(retention_until=None))

    clock.advance(days=31)
    disposed = evidence.dispose_expired(node, ADMIN)
    report = verify_all(node)
    assert [i.id for i in disposed] == [item.id] or not report.ok, (
        "the item's retention ended, it was not disposed of, and verify sees nothing wrong"
    )


CUSTODY_CHANGES: dict[str, Callable[[CustodyEvent, tuple[str, str]], dict[str, Any]]] = {
    "reason": lambda e, ids: {"reason": e.reason + "."},
    "actor": lambda e, ids: {"actor": "Someone else"},
    "details": lambda e, ids: {"details": {**e.details, "size": e.details.get("size", 0) + 1}},
    "action": lambda e, ids: {"action": CustodyAction.VIEW.value},
    "at": lambda e, ids: {"at": e.at + timedelta(minutes=1)},
    "item_id": lambda e, ids: {"item_id": ids[1] if e.item_id == ids[0] else ids[0]},  # moved to the other item
}


def test_every_changed_field_of_every_custody_event_is_found(node: Node, engine: Engine, case_id: str) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    other = ingest(node, case_id, "LOTUS/B-2", b"other content")
    read_all(node, item.id)
    assert verify_all(node).ok

    events = all_events(node)  # acquisitions, a download, verifications
    tried = 0
    for target in events:  # every event, every field, one change at a time
        row = CustodyEventRow.seq == target.seq
        for field, make_change in CUSTODY_CHANGES.items():
            change = make_change(target, (item.id, other.id))
            original = {k: getattr(target, k) for k in change}
            original = {k: v.value if isinstance(v, CustodyAction) else v for k, v in original.items()}
            execute(engine, update(CustodyEventRow).where(row).values(**change))

            problems = evidence.verify(node, item.id, ADMIN, full=True, on_host=True).problems
            expected = f"custody event {target.seq} was altered: its contents do not match its hash"
            assert expected in problems, (field, target.seq, problems)
            execute(engine, update(CustodyEventRow).where(row).values(**original))
            tried += 1
    assert tried == len(events) * len(CUSTODY_CHANGES)
    assert verify_all(node).ok  # each detection came from its change


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_deleted_custody_event_is_found(node: Node, engine: Engine, case_id: str, which: str) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    read_all(node, item.id)
    read_all(node, item.id)
    events = all_events(node)
    assert [e.seq for e in events] == [1, 2, 3]
    seq = {"first": 1, "middle": 2, "last": 3}[which]

    execute(engine, delete(CustodyEventRow).where(CustodyEventRow.seq == seq))

    try:
        report = verify_all(node)
    except Conflict as exc:
        pytest.fail(f"verify --all failed instead of reporting the deleted event {seq}: {exc}")
    assert not report.ok
    if which == "last":
        assert "the ledger head records event 3, but the last event is 2" in report.problems
    else:
        assert f"custody event {seq} is missing (found {seq + 1} in its place)" in report.problems
    assert f"checkpoint {seq}: the signed event is missing from the ledger" in report.problems


def test_a_corrupted_checkpoint_signature_is_found(node: Node, engine: Engine, case_id: str) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    read_all(node, item.id)
    read_all(node, item.id)
    rng = random.Random(3)
    with node.uow() as uow:
        checkpoint = uow.ledger.checkpoints()[1]
    signature = bytearray(checkpoint.signature)
    signature[rng.randrange(len(signature))] ^= rng.randrange(1, 256)
    execute(
        engine,
        update(LedgerCheckpointRow).where(LedgerCheckpointRow.seq == 2).values(signature=bytes(signature)),
    )
    report = verify_all(node)
    assert report.problems == ["checkpoint 2: the node's signature does not match"]


def rewrite_from(engine: Engine, events: list[CustodyEvent], seq: int, **change: Any) -> None:
    """Change event ``seq`` and recompute every hash from there on, as an intruder who knows the format would."""
    head = events[seq - 2] if seq > 1 else None
    for old in events[seq - 1 :]:
        fields = change if old.seq == seq else {}
        new = next_event(
            head,
            item_id=old.item_id,
            action=old.action,
            actor=fields.get("actor", old.actor),
            at=old.at,
            reason=fields.get("reason", old.reason),
            details=old.details,
        )
        execute(
            engine,
            update(CustodyEventRow)
            .where(CustodyEventRow.seq == old.seq)
            .values(actor=new.actor, reason=new.reason, prev_hash=new.prev_hash, hash=new.hash),
        )
        head = new
    assert head is not None
    execute(engine, update(LedgerHeadRow).where(LedgerHeadRow.id == 1).values(hash=head.hash))


def test_an_altered_event_with_its_chain_recomputed_is_caught_by_the_signed_checkpoints(
    node: Node, engine: Engine, case_id: str
) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    for _ in range(3):
        read_all(node, item.id)
    rewrite_from(engine, all_events(node), 2, actor="Officer who was never there")

    report = verify_all(node)
    assert "checkpoint 2: event 2 differs from what the node signed" in report.problems
    assert not any("was altered" in p or "chain broken" in p for p in report.problems)  # the chain itself is sound


def test_an_altered_event_cannot_be_hidden_by_deleting_the_checkpoints_after_it(
    node: Node, engine: Engine, case_id: str
) -> None:
    """Rewriting history from event 2 on and deleting the node's signatures of it must not leave a clean ledger.

    (ADR 0003 accepts only that deleting the *newest* events together with their checkpoints is undetectable here.)
    """
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    for _ in range(3):
        read_all(node, item.id)
    rewrite_from(engine, all_events(node), 2, actor="Officer who was never there")
    execute(engine, delete(LedgerCheckpointRow).where(LedgerCheckpointRow.seq >= 2))

    report = verify_all(node)
    assert not report.ok, "event 2 was rewritten and verify --all reports a clean ledger"
    assert any("2" in p for p in report.problems)


def test_a_deleted_checkpoint_is_found(node: Node, engine: Engine, case_id: str) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    read_all(node, item.id)
    read_all(node, item.id)
    execute(engine, delete(LedgerCheckpointRow).where(LedgerCheckpointRow.seq == 2))
    report = verify_all(node)
    assert not report.ok, "every append is followed by a signed checkpoint; one is gone and nothing is reported"


def delete_without_foreign_keys(engine: Engine, statement: Any) -> None:
    """Delete rows others refer to, as an intruder with full database access can (foreign keys off)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.execute(statement)
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
            conn.execute(statement)
            conn.exec_driver_sql("SET session_replication_role = DEFAULT")
            conn.commit()


def test_a_deleted_item_row_is_found(node: Node, engine: Engine, case_id: str) -> None:
    """An exhibit whose record is deleted still has its acquisition in the ledger: verify must say so."""
    hidden = ingest(node, case_id, "LOTUS/B-1", b"exculpatory evidence")
    ingest(node, case_id, "LOTUS/B-2", b"other evidence")
    delete_without_foreign_keys(engine, delete(EvidenceItemRow).where(EvidenceItemRow.id == hidden.id))
    assert all_events(node)[0].item_id == hidden.id

    report = verify_all(node)
    assert problems_naming(report, hidden.id), f"item {hidden.id} vanished and verify says: {report.problems}"


def test_a_disposal_without_a_dispose_event_is_found(node: Node, engine: Engine, case_id: str, now: datetime) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"message logs")
    execute(engine, update(EvidenceItemRow).where(EvidenceItemRow.id == item.id).values(disposed_at=now))
    report = verify_all(node)
    assert f"item {item.id}: its disposal state does not match the custody ledger" in report.problems
    with pytest.raises(NotFound):
        read_all(node, item.id)


# --- handling conditions ----------------------------------------------------------------------------------------


def test_handling_conditions_refuse_record_and_grant(node: Node, case_id: str) -> None:
    hoa = Principal("Prosecutor Đỗ Hoa", frozenset({Role.DUTY_OFFICER}))
    conditions = HandlingConditions(allowed_roles=(Role.INVESTIGATOR,), allowed_users=(hoa.name,), purpose="trial")
    item = ingest(node, case_id, "LOTUS/B-1", b"subscriber records", conditions)

    with pytest.raises(AccessDenied, match=rf"{DUTY_OFFICER.name} may not download item {item.id}"):
        evidence.read_content(node, item.id, DUTY_OFFICER, "curiosity")
    with pytest.raises(AccessDenied, match="may not view"):
        evidence.read_content(node, item.id, DUTY_OFFICER, "curiosity", view=True)

    refused = history(node, item.id)[1:]  # committed: read in a new unit of work
    assert [(e.action, e.actor, e.reason, e.details["attempted"]) for e in refused] == [
        (CustodyAction.ACCESS_REFUSED, DUTY_OFFICER.name, "curiosity", "download"),
        (CustodyAction.ACCESS_REFUSED, DUTY_OFFICER.name, "curiosity", "view"),
    ]
    assert refused[0].details["roles"] == ["duty_officer"]

    assert read_all(node, item.id, hoa) == b"subscriber records"  # allowed by name, whatever the role
    assert read_all(node, item.id, INVESTIGATOR) == b"subscriber records"
    granted = history(node, item.id)[-2:]
    assert [(e.action, e.actor) for e in granted] == [
        (CustodyAction.DOWNLOAD, hoa.name),
        (CustodyAction.DOWNLOAD, INVESTIGATOR.name),
    ]
    assert verify_all(node).ok


# --- retention and disposal -------------------------------------------------------------------------------------


def test_retention_end_disposal_destroys_content_and_keeps_the_record(
    node: Node, clock: FixedClock, case_id: str, now: datetime
) -> None:
    until = now.date() + timedelta(days=30)
    alone = ingest(node, case_id, "LOTUS/B-1", b"only copy", HandlingConditions(retention_until=until))
    shared_content = data(5, MiB + 3)
    short = ingest(node, case_id, "LOTUS/B-2", shared_content, HandlingConditions(retention_until=until))
    longer = ingest(
        node,
        case_id,
        "LOTUS/B-3",
        shared_content,
        HandlingConditions(retention_until=until + timedelta(days=30)),
    )
    kept = ingest(node, case_id, "LOTUS/B-4", b"no retention end")
    d = node_dir(node)

    with pytest.raises(ValidationFailed) as refused:
        evidence.dispose(node, alone.id, ADMIN, "tidy up")
    assert [i.field for i in refused.value.issues] == ["retention_until"]
    assert until.isoformat() in str(refused.value)
    with pytest.raises(ValidationFailed, match="retention_until"):
        evidence.dispose(node, kept.id, ADMIN, "tidy up")

    clock.current = datetime.combine(until, datetime.min.time(), UTC) + timedelta(hours=23)
    assert evidence.dispose_expired(node, ADMIN) == []  # the last day of retention is still a day of retention

    clock.advance(days=1)
    disposed_at = clock.now()
    done = evidence.dispose_expired(node, ADMIN)
    assert sorted(i.id for i in done) == sorted([alone.id, short.id])

    assert not blob_path(d, alone.sha256).exists()
    assert blob_path(d, short.sha256).exists()  # B-3 still holds the same content
    for item in (alone, short):
        record, custody = evidence.get_item(node, item.id)
        assert record.disposed_at == disposed_at
        assert record.sha256 == item.sha256  # the record and its hashes stay
        assert custody[-1].action is CustodyAction.DISPOSE
        assert custody[-1].actor == ADMIN.name
        assert custody[-1].details["retention_until"] == until.isoformat()
        with pytest.raises(NotFound, match="disposed of"):
            read_all(node, item.id)
    with pytest.raises(Conflict):
        evidence.dispose(node, alone.id, ADMIN, "again")
    assert read_all(node, longer.id) == shared_content
    report = verify_all(node)
    assert report.ok, report.problems
    assert report.items == 4

    clock.advance(days=30)
    assert [i.id for i in evidence.dispose_expired(node, ADMIN)] == [longer.id]
    assert not blob_path(d, longer.sha256).exists()  # the last live holder is gone
    assert blob_files(d) == [blob_path(d, kept.sha256)]
    assert verify_all(node).ok
    assert read_all(node, kept.id) == b"no retention end"


def test_only_the_permitted_or_an_administrator_may_dispose(
    node: Node, clock: FixedClock, case_id: str, now: datetime
) -> None:
    item = ingest(node, case_id, "LOTUS/B-1", b"x", HandlingConditions(retention_until=now.date()))
    clock.advance(days=1)
    with pytest.raises(AccessDenied):
        evidence.dispose(node, item.id, DUTY_OFFICER, "retention period ended")
    assert evidence.get_item(node, item.id)[0].disposed_at is None
    assert evidence.dispose(node, item.id, INVESTIGATOR, "retention period ended").disposed_at == clock.now()


# --- exports ----------------------------------------------------------------------------------------------------


def case_reference(node: Node, case_id: str) -> str:
    return cases.get_case(node, case_id).reference


def test_court_package_verifies_with_outside_tools(node: Node, case_id: str, tmp_path: Path) -> None:
    one = ingest(node, case_id, "LOTUS/B-1", data(1, MiB + 5), extra=("sha1", "md5"))
    two = ingest(node, case_id, "LOTUS/B-2", b"")
    read_all(node, one.id)
    dest = tmp_path / "exports" / "LOTUS-package"

    path = exports.export_package(node, case_reference(node, case_id), dest, principal=INVESTIGATOR, reason="trial")

    assert path == dest
    assert node.signer is not None
    assert verify_package(path, expected_public_key_hex=node.signer.public_key_hex()) == []
    check = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=path, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    manifest = json.loads((path / "manifest.json").read_bytes())
    for item in (one, two):
        (record,) = [r for r in manifest["items"] if r["id"] == item.id]
        assert record["sha256"] == item.sha256
        assert record["hashes"] == item.hashes
        assert (path / record["content_path"]).read_bytes() == read_all(node, item.id)
        exported = [e for e in manifest["custody"]["events"] if e["item_id"] == item.id and e["action"] == "export"]
        assert len(exported) == 1
        assert exported[0]["actor"] == INVESTIGATOR.name
        assert exported[0]["details"]["destination"] == dest.name
        assert [e.seq for e in history(node, item.id) if e.action is CustodyAction.EXPORT] == [exported[0]["seq"]]
    assert verify_all(node).ok

    # the node's secret keys are private to it and appear nowhere in what leaves it
    keys = tmp_path / "keys"
    assert keys.stat().st_mode & 0o777 == 0o700
    secrets = [keys / "vault-master.key", keys / "node-signing.pem"]
    assert all(k.stat().st_mode & 0o777 == 0o600 for k in secrets)
    master = secrets[0].read_bytes()
    for file in path.rglob("*"):
        if file.is_file():
            content = file.read_bytes()
            assert master not in content
            assert master.hex().encode() not in content
            assert b"PRIVATE KEY" not in content


def test_an_export_without_rights_writes_nothing_and_is_recorded(node: Node, case_id: str, tmp_path: Path) -> None:
    hoa = Principal("Prosecutor Đỗ Hoa", frozenset({Role.INVESTIGATOR}))
    open_to_hoa = ingest(node, case_id, "LOTUS/B-1", b"a", HandlingConditions(allowed_users=(hoa.name,)))
    closed = ingest(node, case_id, "LOTUS/B-2", b"b", HandlingConditions(allowed_roles=(Role.PROSECUTOR,)))
    dest = tmp_path / "package"

    with pytest.raises(AccessDenied, match=closed.id):
        exports.export_package(node, case_reference(node, case_id), dest, principal=hoa, reason="send abroad")

    assert not dest.exists()
    assert list(tmp_path.glob("*package*")) == []
    refused = history(node, closed.id)[-1]
    assert (refused.action, refused.actor, refused.details["attempted"]) == (
        CustodyAction.ACCESS_REFUSED,
        hoa.name,
        "export",
    )
    assert [e.action for e in history(node, open_to_hoa.id)] == [CustodyAction.ACQUIRE]  # nothing marked exported

    # A role that may not export at all is refused by the permission model, and appends nothing to the ledger (the
    # entry point records the refusal in the audit log): reading or refusing never lengthens the ledger (issue 11).
    duty = Principal("Duty officer Phạm Thu", frozenset({Role.DUTY_OFFICER}))
    before = all_events(node)
    with pytest.raises(Forbidden, match="evidence:export"):
        exports.export_package(node, case_reference(node, case_id), dest, principal=duty, reason="send abroad")
    with pytest.raises(Forbidden, match="evidence:export"):
        exports.export_case_graph(node, case_id, principal=duty, reason="send abroad")
    assert all_events(node) == before


def test_an_export_that_writes_nothing_records_no_export(node: Node, case_id: str, tmp_path: Path) -> None:
    """The custody must not say an item was exported when no package was written."""
    item = ingest(node, case_id, "LOTUS/B-1", b"a")
    dest = tmp_path / "package"
    dest.mkdir()
    (dest / "something.txt").write_text("already here")

    with pytest.raises(FileExistsError):
        exports.export_package(node, case_reference(node, case_id), dest, principal=INVESTIGATOR, reason="trial")

    assert sorted(p.name for p in dest.iterdir()) == ["something.txt"]
    assert [e.action for e in history(node, item.id)] == [CustodyAction.ACQUIRE], (
        "no package was written, yet the item's custody records an export"
    )


def test_a_package_with_a_disposed_item_still_verifies(
    node: Node, clock: FixedClock, case_id: str, now: datetime, tmp_path: Path
) -> None:
    gone = ingest(node, case_id, "LOTUS/B-1", b"destroyed", HandlingConditions(retention_until=now.date()))
    held = ingest(node, case_id, "LOTUS/B-2", b"held")
    clock.advance(days=2)
    evidence.dispose_expired(node, ADMIN)

    path = exports.export_package(
        node, case_reference(node, case_id), tmp_path / "p", principal=INVESTIGATOR, reason="trial"
    )
    assert node.signer is not None
    assert verify_package(path, expected_public_key_hex=node.signer.public_key_hex()) == []
    manifest = json.loads((path / "manifest.json").read_bytes())
    records = {r["id"]: r for r in manifest["items"]}
    assert records[gone.id]["content_path"] is None
    assert records[gone.id]["disposed_at"] is not None
    assert (path / records[held.id]["content_path"]).read_bytes() == b"held"
    assert list((path / "content").iterdir()) == [path / records[held.id]["content_path"]]


def test_case_graph_export_passes_case_validate(tmp_path: Path, now: datetime) -> None:
    """One run of the real validator (it is slow), on SQLite."""
    url = f"sqlite:///{tmp_path / 'hanoinet.db'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    try:
        node = make_node(tmp_path, url, engine, FixedClock(now))
        case_id = open_case(node)
        one = ingest(node, case_id, "LOTUS/B-1", data(1, 1000), extra=("sha1", "md5"))
        two = ingest(node, case_id, "LOTUS/B-2", b"")
        read_all(node, one.id)

        graph = exports.export_case_graph(node, case_id, principal=INVESTIGATOR, reason="for the defence expert")
    finally:
        engine.dispose()
    text = json.dumps(graph, ensure_ascii=False)
    for value in (*one.hashes.values(), two.sha256, "LOTUS/B-1", "LOTUS/B-2"):
        assert value in text
    exported = [e for e in history(node, one.id) if e.action is CustodyAction.EXPORT]
    assert [e.details["format"] for e in exported] == ["case-uco-jsonld"]

    bundle = tmp_path / "case.jsonld"
    bundle.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [str(CASE_VALIDATE), "--built-version", "case-1.5.0", str(bundle)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Conforms: True" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


# --- concurrency ------------------------------------------------------------------------------------------------


def test_concurrent_writers_never_fork_the_chain(node: Node, case_id: str) -> None:
    per_thread = 6
    barrier = threading.Barrier(2)

    def work(worker: int) -> list[str]:
        barrier.wait()
        ids = []
        for n in range(per_thread):
            item = ingest(node, case_id, f"LOTUS/T{worker}-{n}", data(100 * worker + n, 20_000 + n))
            ids.append(item.id)
            read_all(node, item.id)
            evidence.verify(node, item.id, INVESTIGATOR)
        return ids

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(work, w) for w in (1, 2)]]

    events = all_events(node)
    expected = 2 * per_thread * 3
    assert [e.seq for e in events] == list(range(1, expected + 1))
    assert len({e.hash for e in events}) == expected
    for a, b in itertools.pairwise(events):
        assert b.prev_hash == a.hash
    with node.uow() as uow:
        assert [c.seq for c in uow.ledger.checkpoints()] == list(range(1, expected + 1))
    report = verify_all(node)
    assert report.ok, report.problems
    assert report.items == 2 * per_thread
    for ids in results:
        for item_id in ids:
            assert [e.action for e in history(node, item_id)][:3] == [
                CustodyAction.ACQUIRE,
                CustodyAction.DOWNLOAD,
                CustodyAction.VERIFY,
            ]
