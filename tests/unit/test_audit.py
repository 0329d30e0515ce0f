"""The audit log over in-memory fakes: entries are chained and signed, and ``verify`` names the entry that was
altered (any field), removed (in the middle or at the end), reordered or signed by someone else; CSV export."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hanoinet.app.node import Node
from hanoinet.audit import service as audit
from hanoinet.audit.domain import AUDIT_GENESIS, AuditEntry, chain, check_log
from hanoinet.audit.ports import AuditQuery
from hanoinet.platform.canonical import canonical
from hanoinet.platform.errors import Conflict, ValidationFailed
from hanoinet.platform.events import Channel, Event, Outcome
from hanoinet.platform.keys import NodeKeys, ensure_keys
from hanoinet.treaty.countries import load_catalog
from hanoinet.treaty.domain import StateCatalog
from tests.fakes import FakePasswordHasher, FakeUnitOfWork, FixedClock, Store

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ENTRIES = 5


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> NodeKeys:
    return ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def forger(tmp_path_factory: pytest.TempPathFactory) -> NodeKeys:
    return ensure_keys(tmp_path_factory.mktemp("forger"))


@pytest.fixture(scope="module")
def catalog() -> StateCatalog:
    return load_catalog()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def node(store: Store, clock: FixedClock, keys: NodeKeys, catalog: StateCatalog) -> Node:
    return Node(
        uow=lambda: FakeUnitOfWork(store),
        packs={},
        catalog=catalog,
        clock=clock,
        wall_clock=clock,
        node_state="VNM",
        signer=keys,
        passwords=FakePasswordHasher(),
    )


EVENTS = [
    Event("tran", ("prosecutor",), Channel.WEB, "session:login", "session", "s-1", remote="192.0.2.7"),
    Event("tran", ("prosecutor",), Channel.WEB, "request:view", "request", "req-9", details={"page": 2}),
    Event(
        "minh",
        ("duty_officer",),
        Channel.WEB,
        "evidence:download",
        "evidence",
        "item-4",
        Outcome.REFUSED,
        {"reason": "reserved for prosecutors", "conditions": ["no-onward-transfer"]},
        "192.0.2.8",
    ),
    Event("sgp-247", (), Channel.NODE, "transmission:receive", "transmission", "b-1", details={"messages": {"a": 1}}),
    Event("root", ("administrator",), Channel.CLI, "user:add", "user", "lan", details={"roles": ["auditor"]}),
]


def fill(node: Node, clock: FixedClock, events: list[Event] = EVENTS) -> list[AuditEntry]:
    """Record each event a minute after the one before."""
    recorded = []
    for ev in events:
        recorded.append(audit.log(node, ev))
        clock.advance(minutes=1)
    return recorded


def problems(node: Node) -> list[str]:
    report = audit.verify(node)
    assert report.ok is (not report.problems)
    return report.problems


def names(entry: int, found: list[str]) -> bool:
    return any(re.search(rf"\baudit entry {entry}\b", p) for p in found)


# -- recording -------------------------------------------------------------------------------------------------


def test_entries_chain_and_are_signed_by_the_node(node: Node, store: Store, clock: FixedClock, keys: NodeKeys) -> None:
    recorded = fill(node, clock)
    stored = store.audit.entries
    assert stored == recorded
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in stored] == [AUDIT_GENESIS] + [e.hash for e in stored[:-1]]
    assert [e.at for e in stored] == [START + timedelta(minutes=n) for n in range(ENTRIES)]
    for entry, ev in zip(stored, EVENTS, strict=True):
        assert entry.hash == entry.computed_hash()
        assert re.fullmatch(r"[0-9a-f]{64}", entry.hash)
        assert keys.verify(entry.signature, entry.message())
        assert json.loads(entry.message()) == {"log": "hanoinet-audit", "seq": entry.seq, "hash": entry.hash}
        assert (entry.actor, entry.roles, entry.channel, entry.action, entry.subject) == (
            ev.actor,
            ev.roles,
            ev.channel,
            ev.action,
            ev.subject,
        )
        assert (entry.object_id, entry.outcome, entry.details, entry.remote) == (
            ev.object_id,
            ev.outcome,
            ev.details,
            ev.remote,
        )
    assert store.audit.head == (5, stored[-1].hash)
    report = audit.verify(node)
    assert report.ok
    assert (report.entries, report.problems) == (5, [])


def test_an_empty_log_verifies(node: Node) -> None:
    report = audit.verify(node)
    assert (report.ok, report.entries, report.problems) == (True, 0, [])


def test_an_entry_is_committed_with_the_callers_change_or_not_at_all(node: Node, store: Store) -> None:
    with node.uow() as uow:
        audit.record(uow, node, EVENTS[0])
    assert store.audit.entries == []
    assert store.audit.head == (0, AUDIT_GENESIS)
    with node.uow() as uow:
        first = audit.record(uow, node, EVENTS[0], at=START - timedelta(days=1))
        second = audit.record(uow, node, EVENTS[1])
        uow.commit()
    assert store.audit.entries == [first, second]
    assert first.at == START - timedelta(days=1)
    assert second.prev_hash == first.hash
    assert audit.verify(node).ok


def test_a_record_on_a_head_that_moved_is_refused_not_forked(node: Node, store: Store) -> None:
    with node.uow() as slow:
        slow.audit.lock_head()
        audit.log(node, EVENTS[0])  # another writer got in first
        with pytest.raises(Conflict):
            audit.record(slow, node, EVENTS[1])
    assert [e.action for e in store.audit.entries] == ["session:login"]
    assert audit.verify(node).ok


def test_a_node_without_a_signing_key_keeps_no_log(node: Node, store: Store) -> None:
    unsigned = replace(node, signer=None)
    with pytest.raises(RuntimeError, match="signing key"):
        audit.log(unsigned, EVENTS[0])
    with pytest.raises(RuntimeError, match="signing key"):
        audit.verify(unsigned)
    assert store.audit.entries == []


def test_an_event_by_another_node(node: Node, store: Store) -> None:
    ev = audit.by_node("", "transmission:reject", "transmission", "b-9", Outcome.REFUSED, reason="replay")
    assert (ev.actor, ev.roles, ev.channel, ev.outcome, ev.details) == (
        "unknown node",
        (),
        Channel.NODE,
        Outcome.REFUSED,
        {"reason": "replay"},
    )
    entry = audit.log(node, audit.by_node("sgp-247", "transmission:receive", "transmission", "b-1"))
    assert (entry.actor, entry.channel, entry.outcome) == ("sgp-247", Channel.NODE, Outcome.OK)


def test_entries_are_read_newest_first_and_filtered(node: Node, clock: FixedClock) -> None:
    fill(node, clock)

    def seqs(**query: Any) -> list[int]:
        return [e.seq for e in audit.entries(node, AuditQuery(**query))]

    assert seqs() == [5, 4, 3, 2, 1]
    assert seqs(actor="tran") == [2, 1]
    assert seqs(outcome=Outcome.REFUSED) == [3]
    assert seqs(channel=Channel.NODE) == [4]
    assert seqs(since=START + timedelta(minutes=2), until=START + timedelta(minutes=4)) == [4, 3]
    assert seqs(limit=2, offset=1) == [4, 3]


# -- verification ----------------------------------------------------------------------------------------------


def _different(value: Any, name: str) -> Any:  # noqa: PLR0911 - one case per kind of value
    """A value of the same kind as ``value`` that differs from it."""
    if isinstance(value, Enum):
        return next(m for m in type(value) if m is not value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 100
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, bytes):
        return bytes([value[0] ^ 1]) + value[1:]
    if isinstance(value, tuple):
        return (*value, "administrator")
    if isinstance(value, dict):
        return {**value, "added": True}
    if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value):
        return ("1" if value[0] == "0" else "0") + value[1:]  # still a well-formed hash
    if isinstance(value, str):
        return value + "x"
    raise AssertionError(f"no way to alter {name}: {value!r}")


FIELDS = [f.name for f in dataclasses.fields(AuditEntry)]


def test_every_field_is_covered_by_the_hash_or_checked_on_its_own() -> None:
    body = set(AuditEntry(1, START, "a", (), Channel.WEB, "x:y", "x", "", Outcome.OK).body())
    assert body | {"hash", "signature"} == set(FIELDS)


@pytest.mark.parametrize("position", [1, 3, ENTRIES])
@pytest.mark.parametrize("field", FIELDS)
def test_an_altered_field_of_any_entry_is_found_and_named(
    node: Node, store: Store, clock: FixedClock, field: str, position: int
) -> None:
    fill(node, clock)
    original = store.audit.entries[position - 1]
    altered = replace(original, **{field: _different(getattr(original, field), field)})
    assert altered != original
    store.audit.entries[position - 1] = altered

    found = problems(node)

    assert found, f"altering {field} of entry {position} went unnoticed"
    assert names(position, found), found
    assert not any(names(earlier, found) for earlier in range(1, position)), found  # what came before is intact
    # A changed sequence number moves the entry to the end as the log reads it: the next one is found in its place.
    successor = position + 1 if position < ENTRIES else position + 100
    expected = {
        "seq": f"audit entry {position} is missing (found {successor} in its place)",
        "prev_hash": f"audit entry {position} does not follow the entry before it (chain broken)",
        "signature": f"audit entry {position}: the node's signature does not match",
    }.get(field, f"audit entry {position} was altered: its contents do not match its hash")
    assert expected in found


def test_a_deleted_entry_in_the_middle_is_named(node: Node, store: Store, clock: FixedClock) -> None:
    fill(node, clock)
    del store.audit.entries[2]
    found = problems(node)
    assert "audit entry 3 is missing (found 4 in its place)" in found
    assert not any(names(n, found) for n in (1, 2))
    assert audit.verify(node).entries == ENTRIES - 1


def test_a_deleted_first_entry_is_named(node: Node, store: Store, clock: FixedClock) -> None:
    fill(node, clock)
    del store.audit.entries[0]
    assert "audit entry 1 is missing (found 2 in its place)" in problems(node)


def test_a_deleted_last_entry_shows_as_a_head_mismatch(node: Node, store: Store, clock: FixedClock) -> None:
    fill(node, clock)
    del store.audit.entries[-1]
    assert problems(node) == ["the log's head records entry 5, but the last entry is 4 (entries removed?)"]


def test_a_log_emptied_behind_the_nodes_back_does_not_verify(node: Node, store: Store, clock: FixedClock) -> None:
    fill(node, clock)
    store.audit.entries.clear()
    assert problems(node) == ["the log's head records entry 5, but the last entry is 0 (entries removed?)"]


def test_reordered_entries_are_found(node: Node, store: Store, clock: FixedClock) -> None:
    fill(node, clock)
    e2, e3 = store.audit.entries[1], store.audit.entries[2]
    store.audit.entries[1], store.audit.entries[2] = replace(e3, seq=2), replace(e2, seq=3)
    found = problems(node)
    assert "audit entry 2 does not follow the entry before it (chain broken)" in found
    assert "audit entry 2 was altered: its contents do not match its hash" in found
    assert not names(1, found)


def test_reordering_as_read_is_named_where_it_starts(node: Node, clock: FixedClock, keys: NodeKeys) -> None:
    e1, e2, e3, e4, e5 = fill(node, clock)
    found = check_log([e1, e3, e2, e4, e5], (5, e5.hash), keys.verify)
    assert "audit entry 2 is missing (found 3 in its place)" in found
    assert "audit entry 3 does not follow the entry before it (chain broken)" in found


def test_an_entry_signed_by_another_key_is_named(node: Node, store: Store, clock: FixedClock, forger: NodeKeys) -> None:
    fill(node, clock)
    entry = store.audit.entries[2]
    store.audit.entries[2] = replace(entry, signature=forger.sign(entry.message()))
    assert problems(node) == ["audit entry 3: the node's signature does not match"]


def test_rewriting_the_rest_of_the_chain_needs_the_nodes_key(
    node: Node, store: Store, clock: FixedClock, forger: NodeKeys
) -> None:
    """Someone who removes entry 3 and recomputes every hash after it, and the head, is still found out."""
    fill(node, clock)
    kept = store.audit.entries[:2]
    head = (kept[-1].seq, kept[-1].hash)
    for old in store.audit.entries[3:]:
        rewritten = chain(
            head, Event(old.actor, old.roles, old.channel, old.action, old.subject, old.object_id), old.at
        )
        rewritten = replace(rewritten, signature=forger.sign(rewritten.message()))
        kept.append(rewritten)
        head = (rewritten.seq, rewritten.hash)
    store.audit.entries[:] = kept
    store.audit.head = head
    assert problems(node) == [
        "audit entry 3: the node's signature does not match",
        "audit entry 4: the node's signature does not match",
    ]


def test_a_node_with_another_key_verifies_nothing(
    node: Node, store: Store, clock: FixedClock, forger: NodeKeys
) -> None:
    fill(node, clock)
    found = problems(replace(node, signer=forger))
    assert found == [f"audit entry {n}: the node's signature does not match" for n in range(1, ENTRIES + 1)]


# -- the same, as a property of ``check_log`` -----------------------------------------------------------------

_KEY = Ed25519PrivateKey.generate()


def _verify(signature: bytes, message: bytes) -> bool:
    try:
        _KEY.public_key().verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _chain_of(n: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    head = (0, AUDIT_GENESIS)
    for k in range(n):
        ev = EVENTS[k % len(EVENTS)]
        entry = chain(head, ev, START + timedelta(seconds=k))
        entry = replace(entry, signature=_KEY.sign(entry.message()))
        entries.append(entry)
        head = (entry.seq, entry.hash)
    return entries


CHAIN = _chain_of(6)
HEAD = (CHAIN[-1].seq, CHAIN[-1].hash)
_json_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
NEW_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(-5, 50),
    "at": st.datetimes(timezones=st.just(UTC)),
    "actor": st.text(max_size=20),
    "roles": st.lists(st.text(max_size=12), max_size=3).map(tuple),
    "channel": st.sampled_from(Channel),
    "action": st.text(max_size=20),
    "subject": st.text(max_size=20),
    "object_id": st.text(max_size=20),
    "outcome": st.sampled_from(Outcome),
    "details": st.dictionaries(st.text(max_size=6), _json_values, max_size=3),
    "remote": st.text(max_size=20),
    "prev_hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    "hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    "signature": st.binary(min_size=64, max_size=64),
}


def test_every_field_has_a_strategy() -> None:
    assert set(NEW_VALUES) == set(FIELDS)


def test_an_intact_chain_has_no_problem() -> None:
    assert check_log(CHAIN, HEAD, _verify) == []


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(CHAIN) - 1), field=st.sampled_from(sorted(NEW_VALUES)))
def test_any_change_to_any_field_is_named(data: st.DataObject, index: int, field: str) -> None:
    original = CHAIN[index]
    value = data.draw(NEW_VALUES[field], label=field)
    altered = replace(original, **{field: value})
    if field in ("hash", "signature"):
        assume(getattr(altered, field) != getattr(original, field))
    else:
        assume(canonical(altered.body()) != canonical(original.body()))
    entries = [*CHAIN[:index], altered, *CHAIN[index + 1 :]]

    found = check_log(entries, HEAD, _verify)

    assert names(original.seq, found), found
    if field != "seq":
        assert not any(names(earlier.seq, found) for earlier in CHAIN[:index]), found


@settings(max_examples=100, deadline=None, derandomize=True)
@given(order=st.permutations(range(len(CHAIN))))
def test_any_reordering_is_found(order: list[int]) -> None:
    assume(order != sorted(order))
    first_moved = next(i for i, j in enumerate(order) if i != j)
    found = check_log([CHAIN[i] for i in order], HEAD, _verify)
    assert names(first_moved + 1, found), found


@settings(max_examples=100, deadline=None, derandomize=True)
@given(removed=st.sets(st.integers(0, len(CHAIN) - 1), min_size=1))
def test_any_removal_is_found(removed: set[int]) -> None:
    kept = [e for i, e in enumerate(CHAIN) if i not in removed]
    found = check_log(kept, HEAD, _verify)
    assert found
    if min(removed) < len(kept):
        assert names(min(removed) + 1, found), found
    else:
        assert found[-1].startswith(f"the log's head records entry {len(CHAIN)}")


# -- export ----------------------------------------------------------------------------------------------------


def read_csv(node: Node, query: AuditQuery | None = None) -> list[list[str]]:
    text = "".join(audit.export_csv(node, query or AuditQuery(limit=audit.MAX_EXPORT)))
    return list(csv.reader(io.StringIO(text)))


def test_export_has_a_header_and_one_line_per_entry_oldest_first_with_its_hash(
    node: Node, store: Store, clock: FixedClock
) -> None:
    fill(node, clock)
    header, *rows = read_csv(node)
    assert header == list(audit.CSV_FIELDS)
    assert header[0] == "seq"
    assert header[-1] == "hash"
    assert len(rows) == ENTRIES
    by_name = [dict(zip(header, row, strict=True)) for row in rows]
    assert [r["seq"] for r in by_name] == ["1", "2", "3", "4", "5"]
    for row, entry in zip(by_name, store.audit.entries, strict=True):
        assert row["hash"] == entry.hash
        assert row["prev_hash"] == entry.prev_hash
        assert datetime.fromisoformat(row["at"]) == entry.at
        assert row["roles"] == " ".join(entry.roles)
        assert (row["actor"], row["channel"], row["action"]) == (entry.actor, entry.channel.value, entry.action)
        assert (row["subject"], row["object_id"], row["outcome"]) == (
            entry.subject,
            entry.object_id,
            entry.outcome.value,
        )
        assert row["remote"] == entry.remote
        assert json.loads(row["details"]) == entry.details
    assert by_name[2]["details"] == '{"conditions": ["no-onward-transfer"], "reason": "reserved for prosecutors"}'


def test_export_takes_the_same_filters_and_a_cursor(node: Node, clock: FixedClock) -> None:
    fill(node, clock)
    _, *rows = read_csv(node, AuditQuery(actor="tran", limit=1000))
    assert [r[0] for r in rows] == ["1", "2"]
    _, *rows = read_csv(node, AuditQuery(limit=2))
    assert [r[0] for r in rows] == ["4", "5"]  # the latest two, oldest first
    _, *rows = read_csv(node, AuditQuery(after_seq=3, limit=1000))
    assert [r[0] for r in rows] == ["4", "5"]
    header, *rows = read_csv(node, AuditQuery(actor="nobody"))
    assert header == list(audit.CSV_FIELDS)
    assert rows == []


def test_export_goes_past_a_page_and_is_not_shifted_by_new_entries(node: Node, store: Store) -> None:
    many = 2 * 1000 + 5  # more than two pages of the log
    with node.uow() as uow:
        for n in range(many):
            audit.record(uow, node, replace(EVENTS[1], object_id=f"req-{n}"))
        uow.commit()
    lines = audit.export_csv(node, AuditQuery(limit=audit.MAX_EXPORT))
    head = [next(lines) for _ in range(11)]  # the header and ten entries
    audit.log(node, EVENTS[0])  # appended while the export runs
    rows = list(csv.reader(io.StringIO("".join([*head, *lines]))))[1:]
    seqs = [int(r[0]) for r in rows]
    assert seqs[:many] == list(range(1, many + 1))  # every entry once, in order: nothing skipped or repeated
    assert seqs[many:] in ([], [many + 1])
    assert len(store.audit.entries) == many + 1


def test_an_export_is_bounded(node: Node) -> None:
    with pytest.raises(ValidationFailed) as caught:
        list(audit.export_csv(node, AuditQuery(limit=audit.MAX_EXPORT + 1)))
    assert [i.field for i in caught.value.issues] == ["limit"]
