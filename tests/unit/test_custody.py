"""The custody ledger's hash chain and an item's metadata digest: any single change is detected."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.evidence.domain import (
    GENESIS,
    CustodyAction,
    CustodyEvent,
    EvidenceItem,
    HandlingConditions,
    ItemDescription,
    check_chain,
    check_description,
    check_item,
    metadata_digest,
    next_event,
)
from hanoinet.platform.errors import ValidationFailed
from hanoinet.platform.permissions import Principal, Role

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def chain(n: int) -> list[CustodyEvent]:
    events: list[CustodyEvent] = []
    for i in range(n):
        events.append(
            next_event(
                events[-1] if events else None,
                item_id=f"item-{i % 3}",
                action=list(CustodyAction)[i % len(CustodyAction)],
                actor=f"officer-{i}",
                at=NOW + timedelta(minutes=i),
                reason=f"step {i}",
                details={"n": i, "text": "Bằng chứng"},
            )
        )
    return events


def an_item() -> EvidenceItem:
    return EvidenceItem(
        id="item-0",
        sha256="ab" * 32,
        size=3 * 1024**3,
        hashes={"sha256": "ab" * 32, "md5": "cd" * 16},
        described=ItemDescription(
            case_id="case-1",
            exhibit="B-1",
            source="server image at provider X",
            acquisition_method="physical image",
            acquisition_tool="dd 9.4",
            acquired_by="Officer Tran",
            acquired_at=datetime(2027, 2, 10, 2, 40, tzinfo=timezone(timedelta(hours=7))),
        ),
        conditions=HandlingConditions(purpose="investigation LOTUS only", retention_until=date(2032, 1, 1)),
        created_at=NOW,
    )


def test_a_chain_built_in_order_is_intact() -> None:
    events = chain(12)
    assert events[0].prev_hash == GENESIS
    assert [e.seq for e in events] == list(range(1, 13))
    assert check_chain(events) == []


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=2, max_value=15), data=st.data())
def test_changing_any_field_of_any_event_is_detected(n: int, data: st.DataObject) -> None:
    events = chain(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    field = data.draw(st.sampled_from(["actor", "reason", "at", "details", "action", "item_id"]))
    changed: Any = {
        "actor": "someone else",
        "reason": "another reason",
        "at": events[index].at + timedelta(seconds=1),
        "details": {**events[index].details, "n": -1},
        "action": CustodyAction.DISPOSE if events[index].action is not CustodyAction.DISPOSE else CustodyAction.VIEW,
        "item_id": "item-x",
    }[field]
    events[index] = replace(events[index], **{field: changed})
    problems = check_chain(events)
    assert f"custody event {index + 1} was altered: its contents do not match its hash" in problems


def test_a_removed_event_is_detected() -> None:
    events = chain(6)
    del events[2]
    problems = check_chain(events)
    assert any("custody event 3 is missing" in p for p in problems)
    assert any("does not follow the event before it" in p for p in problems)


def test_a_rehashed_forgery_still_breaks_the_chain_after_it() -> None:
    events = chain(5)
    forged = replace(events[1], reason="forged")
    events[1] = replace(forged, hash=forged.computed_hash())
    assert check_chain(events) == ["custody event 3 does not follow the event before it (chain broken)"]


def test_reordered_events_are_detected() -> None:
    events = chain(4)
    events[1], events[2] = events[2], events[1]
    assert check_chain(events)


def test_hashes_do_not_depend_on_the_offset_a_time_is_given_in() -> None:
    [event] = chain(1)
    shifted = replace(event, at=event.at.astimezone(timezone(timedelta(hours=7))))
    assert shifted.computed_hash() == event.hash
    item = an_item()
    later = replace(item, described=replace(item.described, acquired_at=item.described.acquired_at.astimezone(UTC)))
    assert metadata_digest(later) == metadata_digest(item)


@pytest.mark.parametrize(
    "change",
    [
        lambda i: replace(i, size=i.size + 1),
        lambda i: replace(i, sha256="ef" * 32),
        lambda i: replace(i, hashes={**i.hashes, "md5": "00" * 16}),
        lambda i: replace(i, described=replace(i.described, exhibit="B-2")),
        lambda i: replace(i, described=replace(i.described, acquired_by="Someone")),
        lambda i: replace(i, conditions=replace(i.conditions, onward_transfer_allowed=True)),
        lambda i: replace(i, conditions=replace(i.conditions, allowed_roles=(Role.DUTY_OFFICER,))),
        lambda i: replace(i, conditions=replace(i.conditions, retention_until=date(2040, 1, 1))),
    ],
)
def test_changed_metadata_no_longer_matches_its_acquisition(change: Callable[[EvidenceItem], EvidenceItem]) -> None:
    item = an_item()
    acquired = next_event(
        None,
        item_id=item.id,
        action=CustodyAction.ACQUIRE,
        actor="t",
        at=NOW,
        reason="r",
        details={"metadata_digest": metadata_digest(item)},
    )
    assert check_item(item, [acquired]) == []
    altered = change(item)
    assert check_item(altered, [acquired]) == [
        f"item {item.id}: its metadata differ from what was recorded at acquisition"
    ]


def test_a_disposal_must_be_in_the_ledger() -> None:
    item = an_item()
    acquired = next_event(
        None, item_id=item.id, action=CustodyAction.ACQUIRE, actor="t", at=NOW, reason="r",
        details={"metadata_digest": metadata_digest(item)},
    )  # fmt: skip
    item.disposed_at = NOW
    assert check_item(item, [acquired]) == [f"item {item.id}: its disposal state does not match the custody ledger"]


def test_handling_conditions_permit_by_role_or_by_name() -> None:
    conditions = HandlingConditions(allowed_roles=(Role.PROSECUTOR,), allowed_users=("judge.nguyen",))
    assert conditions.permits(Principal("p", frozenset({Role.PROSECUTOR})))
    assert conditions.permits(Principal("judge.nguyen", frozenset()))
    assert not conditions.permits(Principal("duty", frozenset({Role.DUTY_OFFICER, Role.AUDITOR})))
    assert HandlingConditions.from_dict(conditions.as_dict()) == conditions


def test_a_new_item_must_be_described() -> None:
    described = replace(an_item().described, exhibit=" ", acquired_at=NOW + timedelta(days=1))
    with pytest.raises(ValidationFailed) as caught:
        check_description(described, HandlingConditions(allowed_roles=()), NOW)
    assert {i.field for i in caught.value.issues} == {"exhibit", "acquired_at", "allowed_roles"}


def test_random_chains_verify_and_any_flip_of_a_stored_hash_is_caught() -> None:
    rng = random.Random(7)
    events = chain(30)
    index = rng.randrange(30)
    events[index] = replace(
        events[index], hash=events[index].hash[:-1] + ("0" if events[index].hash[-1] != "0" else "1")
    )
    assert any(f"custody event {index + 1} was altered" in p for p in check_chain(events))
