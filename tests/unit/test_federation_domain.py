"""Federation rules: directory entries and their validation, the trust rules for a new or changed entry, which side
of a request may take which action (a rule of requests, tested here with the messages it governs), freshness,
backoff, message claims and onward transfer (Art 36)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.evidence.domain import EvidenceItem, HandlingConditions, ItemDescription, Origin, metadata_digest
from hanoinet.federation.domain import (
    Backoff,
    Consent,
    DirectoryEntry,
    EntryVerdict,
    Message,
    MessageKind,
    PublicKey,
    check_freshness,
    check_onward_transfer,
    decide_entry,
    entry_from_document,
    message_from_claims,
)
from hanoinet.platform.errors import ValidationFailed
from hanoinet.platform.permissions import NodeRole, Role
from hanoinet.requests.domain import (
    ACTION_SIDES,
    Action,
    Direction,
    check_local_action,
    check_remote_action,
    is_shared,
)

PROPERTIES = settings(max_examples=60, deadline=None)
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
HANOI = timezone(timedelta(hours=7))

# Written out here rather than read from ACTION_SIDES, so that a change to the table is caught.
REQUESTING_SIDE = frozenset({Action.SEND, Action.PROVIDE_INFORMATION, Action.WITHDRAW})
REQUESTED_SIDE = frozenset(
    {
        Action.ACKNOWLEDGE,
        Action.REQUEST_INFORMATION,
        Action.POSTPONE,
        Action.RESUME,
        Action.BEGIN_EXECUTION,
        Action.PRESERVE,
        Action.EXTEND,
        Action.RELEASE,
        Action.EXECUTE,
        Action.REFUSE,
    }
)
OWN_BOOKKEEPING = frozenset({Action.CLOSE, Action.CONFIRM_IN_WRITING})


def sig_key(kid: str) -> PublicKey:
    return PublicKey(kid, {"kty": "OKP", "crv": "Ed25519", "x": f"x-{kid}"})


def enc_key(kid: str) -> PublicKey:
    return PublicKey(kid, {"kty": "OKP", "crv": "X25519", "x": f"x-{kid}"})


def an_entry(**changes: Any) -> DirectoryEntry:
    entry = DirectoryEntry(
        node_id="vnm-moj",
        state="VNM",
        authority="Ministry of Public Security, Department of Cybersecurity",
        roles=(NodeRole.CENTRAL_AUTHORITY, NodeRole.POINT_OF_CONTACT),
        languages=("vi", "en"),
        hours="24/7",
        endpoint="https://hanoinet.example.vn",
        signing_key=sig_key("sig-1"),
        encryption_key=enc_key("enc-1"),
        custody_key="ab" * 32,
        serial=1,
        issued_at=NOW,
        revoked_kids=(),
    )
    return replace(entry, **changes)


def a_document(**changes: Any) -> dict[str, Any]:
    """A valid entry document with some fields replaced (``MISSING`` removes a field)."""
    doc = an_entry().document()
    for name, value in changes.items():
        if value is MISSING:
            doc.pop(name)
        else:
            doc[name] = value
    return doc


MISSING: Any = object()


def issue_fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {i.field for i in exc.value.issues}


# --------------------------------------------------------------------------------------------------------------
# Directory entries


def test_a_valid_entry_round_trips_through_its_document() -> None:
    entry = an_entry(revoked_kids=("sig-0", "enc-0"))
    assert entry_from_document(entry.document()) == entry
    assert entry_from_document(entry.document()).document() == entry.document()


def test_the_document_is_plain_data_with_the_keys_as_jwks() -> None:
    doc = an_entry().document()
    assert doc["hanoinet_entry"] == 1
    assert doc["roles"] == ["central_authority", "point_of_contact_24_7"]
    assert doc["signing_key"] == {"kty": "OKP", "crv": "Ed25519", "x": "x-sig-1", "kid": "sig-1"}
    assert doc["issued_at"] == "2027-03-01T09:00:00+00:00"


def test_the_issue_time_is_published_in_utc_whatever_offset_it_was_given_in() -> None:
    entry = an_entry(issued_at=datetime(2027, 3, 1, 16, 0, tzinfo=HANOI))
    assert entry.document()["issued_at"] == "2027-03-01T09:00:00+00:00"
    assert entry_from_document(entry.document()).issued_at == NOW


def test_reading_normalizes_the_state_the_endpoint_and_duplicate_roles() -> None:
    doc = a_document(state="vnm", endpoint="https://hanoinet.example.vn/", roles=["directory", "directory"])
    entry = entry_from_document(doc)
    assert entry.state == "VNM"
    assert entry.endpoint == "https://hanoinet.example.vn"
    assert entry.roles == (NodeRole.DIRECTORY,)


def test_only_the_public_members_of_a_published_key_are_kept() -> None:
    doc = a_document(signing_key={**sig_key("sig-1").as_dict(), "use": "sig", "alg": "Ed25519"})
    assert dict(entry_from_document(doc).signing_key.jwk) == {"kty": "OKP", "crv": "Ed25519", "x": "x-sig-1"}


def test_same_profile_ignores_serial_and_issue_time_only() -> None:
    entry = an_entry()
    assert entry.same_profile(replace(entry, serial=9, issued_at=NOW + timedelta(days=3)))
    assert not entry.same_profile(replace(entry, hours="Mon-Fri 08:00-17:00 ICT"))
    assert not entry.same_profile(replace(entry, encryption_key=enc_key("enc-2")))


def test_works_24_7_only_with_the_point_of_contact_role() -> None:
    assert an_entry().works_24_7
    assert not an_entry(roles=(NodeRole.CENTRAL_AUTHORITY,)).works_24_7


ED25519 = {"kty": "OKP", "crv": "Ed25519", "x": "x-sig-1", "kid": "sig-1"}
X25519 = {"kty": "OKP", "crv": "X25519", "x": "x-enc-1", "kid": "enc-1"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hanoinet_entry": MISSING}, "entry.hanoinet_entry"),
        ({"hanoinet_entry": 2}, "entry.hanoinet_entry"),
        ({"node_id": MISSING}, "entry.node_id"),
        ({"node_id": ""}, "entry.node_id"),
        ({"node_id": 42}, "entry.node_id"),
        ({"node_id": "VNM-MOJ"}, "entry.node_id"),
        ({"node_id": "vn"}, "entry.node_id"),
        ({"node_id": "-vnm"}, "entry.node_id"),
        ({"node_id": "vnm moj"}, "entry.node_id"),
        ({"node_id": "vnm-moj\n"}, "entry.node_id"),
        ({"node_id": "v" * 65}, "entry.node_id"),
        ({"state": MISSING}, "entry.state"),
        ({"authority": "   "}, "entry.authority"),
        ({"authority": "x" * 501}, "entry.authority"),
        ({"hours": MISSING}, "entry.hours"),
        ({"roles": MISSING}, "entry.roles"),
        ({"roles": []}, "entry.roles"),
        ({"roles": "central_authority"}, "entry.roles"),
        ({"roles": ["central_authority", "judge"]}, "entry.roles[1]"),
        ({"languages": ["EN"]}, "entry.languages"),
        ({"languages": ["en", "english"]}, "entry.languages"),
        ({"languages": "en"}, "entry.languages"),
        ({"endpoint": "ftp://hanoinet.example.vn"}, "entry.endpoint"),
        ({"endpoint": "javascript:alert(1)"}, "entry.endpoint"),
        ({"endpoint": MISSING}, "entry.endpoint"),
        ({"signing_key": MISSING}, "entry.signing_key"),
        ({"signing_key": {**ED25519, "d": "c2VjcmV0"}}, "entry.signing_key"),
        ({"encryption_key": {**X25519, "d": "c2VjcmV0"}}, "entry.encryption_key"),
        ({"signing_key": {**X25519, "kid": "sig-1"}}, "entry.signing_key"),
        ({"encryption_key": {**ED25519, "kid": "enc-1"}}, "entry.encryption_key"),
        ({"signing_key": {k: v for k, v in ED25519.items() if k != "kid"}}, "entry.signing_key"),
        ({"signing_key": {**ED25519, "kty": "EC"}}, "entry.signing_key"),
        ({"signing_key": {**ED25519, "x": 7}}, "entry.signing_key"),
        ({"signing_key": "sig-1"}, "entry.signing_key"),
        ({"custody_key": MISSING}, "entry.custody_key"),
        ({"custody_key": "AB" * 32}, "entry.custody_key"),
        ({"custody_key": "ab" * 31}, "entry.custody_key"),
        ({"custody_key": "ab" * 33}, "entry.custody_key"),
        ({"custody_key": "zz" * 32}, "entry.custody_key"),
        ({"serial": MISSING}, "entry.serial"),
        ({"serial": 0}, "entry.serial"),
        ({"serial": -1}, "entry.serial"),
        ({"serial": True}, "entry.serial"),
        ({"serial": "3"}, "entry.serial"),
        ({"serial": 1.5}, "entry.serial"),
        ({"issued_at": MISSING}, "entry.issued_at"),
        ({"issued_at": "2027-03-01T09:00:00"}, "entry.issued_at"),
        ({"issued_at": "the first of March"}, "entry.issued_at"),
        ({"revoked_kids": "sig-0"}, "entry.revoked_kids"),
        ({"revoked_kids": ["sig-0", 7]}, "entry.revoked_kids"),
        ({"revoked_kids": ["sig-0", "sig-1"]}, "entry.signing_key"),
    ],
)
def test_each_invalid_field_is_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        entry_from_document(a_document(**changes))
    assert issue_fields(exc) == {field}


def test_every_invalid_field_is_reported_at_once() -> None:
    doc = a_document(node_id=MISSING, endpoint="gopher://x", serial=0, languages=["EN"])
    with pytest.raises(ValidationFailed) as exc:
        entry_from_document(doc)
    assert issue_fields(exc) == {"entry.node_id", "entry.endpoint", "entry.serial", "entry.languages"}


def test_a_private_key_in_an_entry_is_refused_with_a_warning_not_to_publish_it() -> None:
    with pytest.raises(ValidationFailed) as exc:
        entry_from_document(a_document(signing_key={**ED25519, "d": "c2VjcmV0"}))
    assert "private key" in exc.value.issues[0].message
    assert "c2VjcmV0" not in str(exc.value)


def test_an_unknown_state_is_refused_through_the_callback_with_the_upper_cased_code() -> None:
    asked: list[str] = []

    def is_known(code: str) -> bool:
        asked.append(code)
        return code in {"VNM", "SGP"}

    with pytest.raises(ValidationFailed) as exc:
        entry_from_document(a_document(state="xyz"), is_known)
    assert issue_fields(exc) == {"entry.state"}
    assert "XYZ" in exc.value.issues[0].message
    assert entry_from_document(a_document(state="sgp"), is_known).state == "SGP"
    assert asked == ["XYZ", "SGP"]


def test_without_a_callback_any_state_code_is_taken() -> None:
    assert entry_from_document(a_document(state="XYZ")).state == "XYZ"


_NODE_IDS = st.from_regex(r"[a-z0-9][a-z0-9._-]{2,63}", fullmatch=True)
_LANGUAGES = st.from_regex(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}", fullmatch=True)
_TEXT = st.text(min_size=1, max_size=80).filter(lambda s: bool(s.strip()))
_KIDS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=43)
_ZONES = st.sampled_from([UTC, HANOI, timezone(timedelta(hours=-5, minutes=-30)), timezone(timedelta(hours=14))])
_MOMENTS = st.datetimes(  # hypothesis takes naive bounds and adds the zone
    min_value=datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    max_value=datetime(2100, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    timezones=_ZONES,
)


@st.composite
def entries(draw: st.DrawFn) -> DirectoryEntry:
    signing, encryption = draw(st.lists(_KIDS, min_size=2, max_size=2, unique=True))
    return DirectoryEntry(
        node_id=draw(_NODE_IDS),
        state=draw(st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("Z")), min_size=3, max_size=3)),
        authority=draw(_TEXT),
        roles=tuple(draw(st.lists(st.sampled_from(NodeRole), min_size=1, unique=True))),
        languages=tuple(draw(st.lists(_LANGUAGES, max_size=4))),
        hours=draw(_TEXT),
        endpoint=draw(st.sampled_from(["https://", "http://"])) + draw(_NODE_IDS).rstrip("/") + ".test",
        signing_key=sig_key(signing),
        encryption_key=enc_key(encryption),
        custody_key=draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
        serial=draw(st.integers(min_value=1, max_value=2**63)),
        issued_at=draw(_MOMENTS),
        revoked_kids=tuple(draw(st.lists(_KIDS.filter(lambda k: k not in (signing, encryption)), max_size=3))),
    )


@PROPERTIES
@given(entry=entries())
def test_any_valid_entry_round_trips(entry: DirectoryEntry) -> None:
    read = entry_from_document(entry.document())
    assert read == entry
    assert read.document() == entry.document()
    assert read.issued_at.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------------------------------------------
# Trust rules for an offered entry


def test_a_new_node_signed_by_its_own_key_is_accepted_and_its_revocations_passed_on() -> None:
    offered = an_entry(revoked_kids=("sig-0", "enc-0"))
    decision = decide_entry(None, offered, ["sig-1"], [])
    assert decision.verdict is EntryVerdict.NEW
    assert decision.revoke == ("sig-0", "enc-0")
    assert decision.retire == ()


@pytest.mark.parametrize("replace_entry", [False, True])
def test_an_entry_not_signed_by_the_key_it_publishes_is_refused(replace_entry: bool) -> None:
    for current in (None, an_entry()):
        decision = decide_entry(current, an_entry(serial=2), ["someone-else"], [], replace=replace_entry)
        assert decision.verdict is EntryVerdict.REFUSED
        assert "not signed by the signing key it publishes" in decision.reason


@pytest.mark.parametrize("revoked", ["sig-2", "enc-2"])
@pytest.mark.parametrize("replace_entry", [False, True])
def test_a_revoked_key_is_refused_even_when_an_operator_replaces_the_entry(revoked: str, replace_entry: bool) -> None:
    offered = an_entry(serial=2, signing_key=sig_key("sig-2"), encryption_key=enc_key("enc-2"))
    for current in (None, an_entry()):
        decision = decide_entry(current, offered, ["sig-1", "sig-2"], [revoked], replace=replace_entry)
        assert decision.verdict is EntryVerdict.REFUSED
        assert revoked in decision.reason


@pytest.mark.parametrize("serial", [1, 2])
def test_an_older_or_equal_serial_leaves_the_entry_unchanged(serial: int) -> None:
    current = an_entry(serial=2)
    offered = an_entry(serial=serial, endpoint="https://elsewhere.example")
    decision = decide_entry(current, offered, ["sig-1"], [])
    assert decision.verdict is EntryVerdict.UNCHANGED
    assert decision.retire == decision.revoke == ()


def test_a_newer_serial_by_the_same_key_is_an_update() -> None:
    current = an_entry(serial=3)
    decision = decide_entry(current, an_entry(serial=4, hours="Mon-Fri"), ["sig-1"], [])
    assert decision.verdict is EntryVerdict.UPDATED
    assert decision.retire == ()


def test_a_new_encryption_key_under_the_same_signing_key_retires_the_old_one() -> None:
    current = an_entry()
    offered = an_entry(serial=2, encryption_key=enc_key("enc-2"), revoked_kids=("enc-1",))
    decision = decide_entry(current, offered, ["sig-1"], [])
    assert decision.verdict is EntryVerdict.UPDATED
    assert decision.retire == ("enc-1",)
    assert decision.revoke == ("enc-1",)


def test_a_rotation_signed_by_the_previous_key_is_an_update_retiring_both_old_keys() -> None:
    current = an_entry()
    offered = an_entry(serial=2, signing_key=sig_key("sig-2"), encryption_key=enc_key("enc-2"))
    decision = decide_entry(current, offered, ["sig-2", "sig-1"], [])
    assert decision.verdict is EntryVerdict.UPDATED
    assert set(decision.retire) == {"sig-1", "enc-1"}


def test_a_rotation_without_the_previous_keys_signature_needs_an_operator() -> None:
    current = an_entry()
    offered = an_entry(serial=2, signing_key=sig_key("sig-2"), encryption_key=enc_key("enc-2"))
    refused = decide_entry(current, offered, ["sig-2"], [])
    assert refused.verdict is EntryVerdict.REFUSED
    assert "sig-1" in refused.reason
    assert "sig-2" in refused.reason
    assert "--replace" in refused.reason
    replaced = decide_entry(current, offered, ["sig-2"], [], replace=True)
    assert replaced.verdict is EntryVerdict.UPDATED
    assert set(replaced.retire) == {"sig-1", "enc-1"}


def test_an_older_serial_with_other_keys_is_refused_unless_an_operator_replaces_it() -> None:
    current = an_entry(serial=5)
    offered = an_entry(serial=1, signing_key=sig_key("sig-2"))
    refused = decide_entry(current, offered, ["sig-2"], [])
    assert refused.verdict is EntryVerdict.REFUSED  # a reinstalled node starts again at serial 1, with new keys
    assert "--replace" in refused.reason
    assert decide_entry(current, offered, ["sig-2"], [], replace=True).verdict is EntryVerdict.UPDATED
    same_keys = an_entry(serial=1)
    assert decide_entry(current, same_keys, ["sig-1"], []).verdict is EntryVerdict.UNCHANGED


def test_entries_of_two_different_nodes_are_not_compared() -> None:
    with pytest.raises(ValueError, match="one node"):
        decide_entry(an_entry(), an_entry(node_id="sgp-agc", serial=2), ["sig-1"], [])


_POOL = st.sampled_from(["k1", "k2", "k3", "k4"])


@PROPERTIES
@given(
    current_keys=st.tuples(_POOL, _POOL),
    offered_keys=st.tuples(_POOL, _POOL),
    serials=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    signed=st.sets(_POOL),
    revoked=st.sets(_POOL),
    known=st.booleans(),
    replace_entry=st.booleans(),
)
def test_the_trust_rules_hold_for_any_combination(
    *,
    current_keys: tuple[str, str],
    offered_keys: tuple[str, str],
    serials: tuple[int, int],
    signed: set[str],
    revoked: set[str],
    known: bool,
    replace_entry: bool,
) -> None:
    current = (
        an_entry(serial=serials[0], signing_key=sig_key(current_keys[0]), encryption_key=enc_key(current_keys[1]))
        if known
        else None
    )
    offered = an_entry(serial=serials[1], signing_key=sig_key(offered_keys[0]), encryption_key=enc_key(offered_keys[1]))
    decision = decide_entry(current, offered, signed, revoked, replace=replace_entry)
    if decision.verdict is not EntryVerdict.REFUSED:
        assert offered_keys[0] in signed
        assert not set(offered_keys) & revoked
    if current is None:
        assert decision.verdict in (EntryVerdict.NEW, EntryVerdict.REFUSED)
        return
    assert decision.verdict is not EntryVerdict.NEW
    if not replace_entry and serials[1] <= serials[0]:
        assert decision.verdict in (EntryVerdict.UNCHANGED, EntryVerdict.REFUSED)
    if decision.verdict is EntryVerdict.UPDATED:
        if current_keys[0] != offered_keys[0] and not replace_entry:
            assert current_keys[0] in signed
        assert set(decision.retire) <= set(current_keys)
        assert not set(decision.retire) & set(offered_keys)
        assert set(decision.retire) == set(current_keys) - set(offered_keys)
    else:
        assert decision.retire == ()


# --------------------------------------------------------------------------------------------------------------
# Which side acts


def test_every_action_has_a_side_and_the_sides_are_as_the_convention_puts_them() -> None:
    assert set(ACTION_SIDES) == set(Action)
    assert set(Action) == REQUESTING_SIDE | REQUESTED_SIDE | OWN_BOOKKEEPING
    for action in Action:
        assert is_shared(action) is (action not in OWN_BOOKKEEPING)


@pytest.mark.parametrize("action", list(Action))
def test_on_an_outgoing_federated_request_only_the_requesting_sides_actions_are_taken_here(action: Action) -> None:
    reason = check_local_action(Direction.OUTGOING, action, "sgp-agc")
    if action in REQUESTED_SIDE:
        assert reason is not None
        assert "requested State" in reason
        assert "sgp-agc" in reason
        assert action.value in reason
    else:
        assert reason is None


@pytest.mark.parametrize("action", list(Action))
def test_on_an_incoming_federated_request_only_the_requested_sides_actions_are_taken_here(action: Action) -> None:
    reason = check_local_action(Direction.INCOMING, action, "sgp-agc")
    if action in REQUESTING_SIDE:
        assert reason is not None
        assert "requesting State" in reason
        assert "sgp-agc" in reason
    else:
        assert reason is None


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("action", list(Action))
def test_outside_the_network_every_action_may_be_recorded(direction: Direction, action: Action) -> None:
    assert check_local_action(direction, action, None) is None


@pytest.mark.parametrize("action", list(Action))
def test_a_peer_may_send_on_our_outgoing_request_only_the_requested_sides_actions(action: Action) -> None:
    reason = check_remote_action(Direction.OUTGOING, action)
    if action in REQUESTED_SIDE:
        assert reason is None
    elif action in OWN_BOOKKEEPING:
        assert reason == f"{action.value} is not sent between nodes"
    else:
        assert reason == f"{action.value} is this State's to take, not the other node's"


@pytest.mark.parametrize("action", list(Action))
def test_a_peer_may_send_on_our_incoming_request_only_the_requesting_sides_actions(action: Action) -> None:
    reason = check_remote_action(Direction.INCOMING, action)
    if action in REQUESTING_SIDE:
        assert reason is None
    elif action in OWN_BOOKKEEPING:
        assert reason == f"{action.value} is not sent between nodes"
    else:
        assert reason == f"{action.value} is this State's to take, not the other node's"


@pytest.mark.parametrize("direction", list(Direction))
@pytest.mark.parametrize("action", list(Action))
def test_what_one_side_may_take_here_the_other_may_not_send(direction: Direction, action: Action) -> None:
    if not is_shared(action):
        return
    local_ok = check_local_action(direction, action, "peer") is None
    remote_ok = check_remote_action(direction, action) is None
    assert local_ok != remote_ok


# --------------------------------------------------------------------------------------------------------------
# Freshness and backoff

WINDOW = timedelta(minutes=5)


def test_a_transmission_exactly_at_either_edge_of_the_window_is_fresh() -> None:
    assert check_freshness(NOW - WINDOW, NOW, WINDOW) is None
    assert check_freshness(NOW + WINDOW, NOW, WINDOW) is None
    assert check_freshness(NOW, NOW, WINDOW) is None


def test_one_second_beyond_the_window_is_stale_or_from_the_future() -> None:
    old = check_freshness(NOW - WINDOW - timedelta(seconds=1), NOW, WINDOW)
    assert old == "the transmission is 301 s old (allowed: 300 s)"
    future = check_freshness(NOW + WINDOW + timedelta(seconds=1), NOW, WINDOW)
    assert future == "the transmission is dated 301 s in the future (allowed: 300 s)"


def test_the_same_instant_in_another_time_zone_is_fresh() -> None:
    assert check_freshness(NOW.astimezone(HANOI), NOW, WINDOW) is None
    assert check_freshness((NOW + timedelta(hours=1)).astimezone(HANOI), NOW, WINDOW) is not None


def test_a_time_without_a_zone_is_refused() -> None:
    assert check_freshness(NOW.replace(tzinfo=None), NOW, WINDOW) == "the transmission time carries no time zone"


@PROPERTIES
@given(offset=st.integers(min_value=-1200_000_000, max_value=1200_000_000))
def test_fresh_exactly_when_within_the_window(offset: int) -> None:
    sent = NOW + timedelta(microseconds=offset)
    fresh = abs(timedelta(microseconds=offset)) <= timedelta(minutes=10)
    assert (check_freshness(sent, NOW, timedelta(minutes=10)) is None) is fresh


def test_backoff_doubles_after_each_failure_until_the_cap() -> None:
    backoff = Backoff(base=timedelta(milliseconds=500), cap=timedelta(seconds=60))
    nominal = [backoff.delay(n, 0.0) * 2 for n in range(1, 10)]
    assert [d.total_seconds() for d in nominal] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]


def test_backoff_before_any_failure_is_the_base_and_huge_counts_do_not_overflow() -> None:
    backoff = Backoff(base=timedelta(seconds=1), cap=timedelta(minutes=5))
    assert backoff.delay(0, 0.0) == backoff.delay(1, 0.0) == timedelta(seconds=0.5)
    assert backoff.delay(10**9, 0.0) == timedelta(seconds=150)


@PROPERTIES
@given(
    failures=st.integers(min_value=1, max_value=200),
    jitter=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    base_ms=st.integers(min_value=1, max_value=10_000),
    cap_s=st.integers(min_value=1, max_value=3600),
)
def test_jitter_keeps_the_delay_between_half_and_all_of_the_nominal(
    failures: int, jitter: float, base_ms: int, cap_s: int
) -> None:
    backoff = Backoff(base=timedelta(milliseconds=base_ms), cap=timedelta(seconds=cap_s))
    nominal = min(cap_s, base_ms / 1000 * 2.0 ** min(failures - 1, 30))
    delay = backoff.delay(failures, jitter).total_seconds()
    assert nominal / 2 - 1e-6 <= delay <= nominal + 1e-6
    assert delay <= cap_s + 1e-6
    assert backoff.delay(failures + 1, jitter) >= backoff.delay(failures, jitter)


# --------------------------------------------------------------------------------------------------------------
# Messages


def a_message(**changes: Any) -> Message:
    message = Message(
        id="msg-1",
        kind=MessageKind.ACTION,
        sender="vnm-moj",
        recipient="sgp-agc",
        created_at=NOW,
        body={"action": "acknowledge", "note": "Đã nhận"},
        request_id="req-1",
    )
    return replace(message, **changes)


def test_a_message_round_trips_through_its_claims() -> None:
    for message in (a_message(), a_message(request_id=None, kind=MessageKind.SPONTANEOUS_INFORMATION)):
        assert message_from_claims(message.claims()) == message


def test_claims_use_from_and_to_and_utc() -> None:
    claims = a_message(created_at=datetime(2027, 3, 1, 16, 0, tzinfo=HANOI)).claims()
    assert claims["from"] == "vnm-moj"
    assert claims["to"] == "sgp-agc"
    assert claims["created_at"] == "2027-03-01T09:00:00+00:00"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("hanoinet_message", MISSING, "message.hanoinet_message"),
        ("hanoinet_message", 2, "message.hanoinet_message"),
        ("kind", "gossip", "message.kind"),
        ("kind", MISSING, "message.kind"),
        ("id", MISSING, "message.id"),
        ("id", "", "message.id"),
        ("id", 7, "message.id"),
        ("from", None, "message.from"),
        ("to", MISSING, "message.to"),
        ("created_at", "2027-03-01T09:00:00", "message.created_at"),
        ("created_at", "soon", "message.created_at"),
        ("created_at", MISSING, "message.created_at"),
        ("body", ["not", "an", "object"], "message.body"),
        ("body", MISSING, "message.body"),
        ("request_id", 12, "message.request_id"),
    ],
)
def test_each_bad_claim_is_named(name: str, value: Any, field: str) -> None:
    claims = a_message().claims()
    if value is MISSING:
        claims.pop(name)
    else:
        claims[name] = value
    with pytest.raises(ValidationFailed) as exc:
        message_from_claims(claims)
    assert issue_fields(exc) == {field}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@PROPERTIES
@given(
    kind=st.sampled_from(MessageKind),
    ids=st.tuples(_TEXT, _NODE_IDS, _NODE_IDS),
    created_at=_MOMENTS,
    body=st.dictionaries(st.text(max_size=10), _JSON, max_size=4),
    request_id=st.none() | _TEXT,
)
def test_any_message_round_trips(
    kind: MessageKind,
    ids: tuple[str, str, str],
    created_at: datetime,
    body: dict[str, Any],
    request_id: str | None,
) -> None:
    message = Message(ids[0], kind, ids[1], ids[2], created_at, body, request_id)
    assert message_from_claims(message.claims()) == message


# --------------------------------------------------------------------------------------------------------------
# Onward transfer (Art 36)

ORIGIN = Origin(node_id="sgp-agc", state="SGP", item_id="sgp-item-9")


def consent(destination: str) -> Consent:
    return Consent(item_id="item-1", destination=destination, granted_by="sgp-agc", granted_at=NOW)


@pytest.mark.parametrize("destination", ["sgp-agc", "tha-oag", "chl-fiscalia"])
def test_an_item_acquired_here_may_go_anywhere(destination: str) -> None:
    assert check_onward_transfer(None, False, destination, []) is None


def test_a_received_item_may_go_back_to_its_origin() -> None:
    assert check_onward_transfer(ORIGIN, False, "sgp-agc", []) is None


def test_a_received_item_may_not_go_to_a_third_node_without_consent() -> None:
    reason = check_onward_transfer(ORIGIN, False, "tha-oag", [])
    assert reason is not None
    assert "Art 36" in reason
    assert "sgp-agc" in reason
    assert "SGP" in reason
    assert "tha-oag" in reason


def test_a_consent_for_another_destination_does_not_count() -> None:
    assert check_onward_transfer(ORIGIN, False, "tha-oag", [consent("chl-fiscalia")]) is not None


def test_a_consent_for_that_destination_allows_it() -> None:
    assert check_onward_transfer(ORIGIN, False, "tha-oag", [consent("chl-fiscalia"), consent("tha-oag")]) is None


def test_conditions_allowing_onward_transfer_allow_it_without_consent() -> None:
    assert check_onward_transfer(ORIGIN, True, "tha-oag", []) is None


def test_consents_may_be_any_iterable_read_once() -> None:
    assert check_onward_transfer(ORIGIN, False, "tha-oag", iter([consent("tha-oag")])) is None


# --------------------------------------------------------------------------------------------------------------
# Handling conditions with an origin


def an_item(conditions: HandlingConditions) -> EvidenceItem:
    return EvidenceItem(
        id="item-1",
        sha256="ab" * 32,
        size=1024,
        hashes={"sha256": "ab" * 32},
        described=ItemDescription(
            case_id="case-1",
            exhibit="B-1",
            source="server image",
            acquisition_method="logical copy",
            acquisition_tool="hanoinet",
            acquired_by="Officer Tran",
            acquired_at=NOW,
        ),
        conditions=conditions,
        created_at=NOW,
    )


def test_conditions_without_an_origin_keep_their_old_form() -> None:
    conditions = HandlingConditions(purpose="investigation LOTUS", retention_until=date(2032, 1, 1))
    data = conditions.as_dict()
    assert "origin" not in data
    assert set(data) == {"allowed_roles", "allowed_users", "purpose", "retention_until", "onward_transfer_allowed"}
    assert HandlingConditions.from_dict(data).origin is None


def test_conditions_with_an_origin_round_trip_and_commit_to_it_in_the_digest() -> None:
    plain = HandlingConditions(purpose="investigation LOTUS")
    received = replace(plain, origin=ORIGIN)
    data = received.as_dict()
    assert data["origin"] == {"node_id": "sgp-agc", "state": "SGP", "item_id": "sgp-item-9"}
    assert HandlingConditions.from_dict(data).origin == ORIGIN
    assert Origin.from_dict(ORIGIN.as_dict()) == ORIGIN
    digests = {
        metadata_digest(an_item(plain)),
        metadata_digest(an_item(received)),
        metadata_digest(an_item(replace(plain, origin=replace(ORIGIN, node_id="tha-oag")))),
    }
    assert len(digests) == 3


def test_an_origin_of_null_reads_as_none() -> None:
    data = {**HandlingConditions().as_dict(), "origin": None}
    assert HandlingConditions.from_dict(data).origin is None


_SORTED_ROLES = st.lists(st.sampled_from(Role), unique=True).map(lambda rs: tuple(sorted(rs, key=lambda r: r.value)))


@PROPERTIES
@given(
    roles=_SORTED_ROLES,
    users=st.lists(st.text(max_size=10), unique=True).map(lambda us: tuple(sorted(us))),
    purpose=st.text(max_size=30),
    until=st.none() | st.dates(),
    onward=st.booleans(),
    origin=st.none() | st.builds(Origin, _NODE_IDS, st.text(max_size=3), st.text(max_size=10)),
)
def test_any_conditions_round_trip(
    *,
    roles: tuple[Role, ...],
    users: tuple[str, ...],
    purpose: str,
    until: date | None,
    onward: bool,
    origin: Origin | None,
) -> None:
    conditions = HandlingConditions(roles, users, purpose, until, onward, origin)
    assert HandlingConditions.from_dict(conditions.as_dict()) == conditions
    assert ("origin" in conditions.as_dict()) is (origin is not None)
