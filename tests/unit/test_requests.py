"""The request aggregate: validation cites the rule, the state machine is closed, refusals follow the pack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanoinet.cases.domain import Case
from hanoinet.platform.errors import IllegalTransition, ValidationFailed
from hanoinet.requests.domain import (
    TRANSITIONS,
    Action,
    Direction,
    EventKind,
    Means,
    Request,
    RequestEvent,
    RequestState,
    check_contents,
    check_refusal_grounds,
    request_type,
)
from hanoinet.rules.domain import RulePack, Workflow
from hanoinet.rules.loader import load_builtin_packs
from tests.factories import complete_items

PACKS = load_builtin_packs()
UN = PACKS["uncc-2024"]
BUDAPEST = PACKS["budapest-ets185"]
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def a_case(offence: str = "system_interference", penalty: int | None = 10) -> Case:
    return Case("case-1", "LOTUS-1", offence, penalty, "Ransomware against a hospital", "", NOW)


def a_request(pack: RulePack, type_: str, state: RequestState = RequestState.DRAFT) -> Request:
    request = Request(
        id="r-1",
        case_id="case-1",
        instrument=pack.key,
        type=type_,
        direction=Direction.OUTGOING,
        requesting_state="VNM",
        requested_state="THA",
        items=complete_items(pack.key, type_),
        emergency=False,
        deadline=None,
        follows_up=None,
        state=state,
        created_at=NOW,
    )
    request.events.append(RequestEvent(1, EventKind.CREATED, NOW, "tester", None, state))
    return request


def contents(
    pack: RulePack,
    type_: str,
    items: dict[str, str],
    *,
    case: Case | None = None,
    emergency: bool = False,
    requested_state: str = "THA",
    deadline: datetime | None = None,
) -> list[str]:
    issues = check_contents(
        pack,
        request_type(pack, type_),
        items=items,
        case=case or a_case(),
        emergency=emergency,
        requesting_state="VNM",
        requested_state=requested_state,
        deadline=deadline,
        now=NOW,
    )
    return [str(i) for i in issues]


def test_a_missing_preservation_item_is_named_and_cited() -> None:
    items = complete_items("uncc-2024", "preservation")
    del items["necessity"]
    assert contents(UN, "preservation", items) == ["Art 42(2)(e): the necessity of the preservation is missing"]


def test_every_missing_required_item_is_reported_with_its_article() -> None:
    for rtype in UN.request_types:
        messages = contents(UN, rtype.key, {})
        required = [i for i in rtype.required_items if i.required]
        assert len(messages) == len(required), rtype.key
        for item, message in zip(required, messages, strict=True):
            assert message == f"{item.citation}: {item.label} is missing"


def test_blank_text_counts_as_missing() -> None:
    items = complete_items("uncc-2024", "preservation") | {"necessity": "   "}
    assert contents(UN, "preservation", items) == ["Art 42(2)(e): the necessity of the preservation is missing"]


def test_unknown_items_and_impossible_flags_are_refused() -> None:
    items = complete_items("uncc-2024", "spontaneous_information") | {"colour": "blue"}
    messages = contents(UN, "spontaneous_information", items, emergency=True)
    assert any(m.startswith("items.colour: is not an item") for m in messages)
    assert any("cannot be flagged as emergencies" in m for m in messages)


def test_same_state_and_past_or_naive_deadlines_are_refused() -> None:
    items = complete_items("uncc-2024", "mla")
    assert contents(UN, "mla", items, requested_state="VNM") == [
        "requested_state: must differ from the requesting State"
    ]
    assert contents(UN, "mla", items, deadline=NOW - timedelta(days=1)) == ["deadline: is in the past"]
    naive = datetime(2030, 1, 1)  # noqa: DTZ001 - the point of the test
    assert "time zone" in contents(UN, "mla", items, deadline=naive)[0]


def test_scope_other_serious_crime_needs_four_years_under_the_un_text() -> None:
    items = complete_items("uncc-2024", "mla")
    assert contents(UN, "mla", items, case=a_case("other_serious_crime", 4)) == []
    [message] = contents(UN, "mla", items, case=a_case("other_serious_crime", 3))
    assert "at least 4 years" in message
    assert message.startswith("Art 2")


def test_extradition_needs_a_penalty_of_at_least_one_year() -> None:
    items = complete_items("uncc-2024", "extradition")
    assert contents(UN, "extradition", items, case=a_case("illegal_access", 1)) == []
    [message] = contents(UN, "extradition", items, case=a_case("illegal_access", 0))
    assert "at least 1 year" in message


def test_budapest_has_no_serious_crime_catch_all_for_offences_it_does_not_establish() -> None:
    items = complete_items("budapest-ets185", "mla")
    [message] = contents(BUDAPEST, "mla", items, case=a_case("grooming", 10))
    assert "not an offence established by the" in message


def test_an_unknown_type_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        request_type(BUDAPEST, "joint_investigation")
    assert caught.value.issues[0].field == "type"


@pytest.mark.parametrize(
    ("pack", "type_", "ground", "allowed"),
    [
        (BUDAPEST, "mla", "political_offence", True),
        (UN, "mla", "political_offence", False),
        (BUDAPEST, "preservation", "political_offence", True),
        (UN, "preservation", "political_offence", False),
        (UN, "mla", "discrimination", True),
        (BUDAPEST, "mla", "discrimination", False),
        (UN, "mla", "essential_interests", True),
        (UN, "mla", "bank_secrecy", False),
        (BUDAPEST, "mla", "bank_secrecy", False),
        (UN, "extradition", "nationality", True),
    ],
)
def test_refusal_grounds_follow_the_pack(pack: RulePack, type_: str, ground: str, allowed: bool) -> None:
    rtype = request_type(pack, type_)
    if allowed:
        assert check_refusal_grounds(rtype, (ground,), pack) == (ground,)
    else:
        with pytest.raises(ValidationFailed) as caught:
            check_refusal_grounds(rtype, (ground,), pack)
        assert caught.value.issues[0].field == "grounds[0]"
        assert caught.value.issues[0].citation == str(rtype.citation)


def test_bank_secrecy_is_called_never_a_ground() -> None:
    with pytest.raises(ValidationFailed, match="never a ground"):
        check_refusal_grounds(request_type(UN, "mla"), ("bank_secrecy",), UN)


def test_a_refusal_without_grounds_is_invalid() -> None:
    request = a_request(UN, "mla", RequestState.RECEIVED)
    with pytest.raises(ValidationFailed, match="must state its grounds"):
        request.apply(Action.REFUSE, UN, at=NOW, actor="t")
    assert request.state is RequestState.RECEIVED
    assert len(request.events) == 1


def test_refusal_records_its_grounds_in_the_event() -> None:
    request = a_request(BUDAPEST, "mla", RequestState.RECEIVED)
    event = request.apply(Action.REFUSE, BUDAPEST, at=NOW, actor="t", grounds=("political_offence",), note="why")
    assert request.state is RequestState.REFUSED
    assert event.data == {"grounds": ["political_offence"], "note": "why"}


def test_the_typical_path_of_a_preservation_request() -> None:
    request = a_request(UN, "preservation")
    for action, state in [
        (Action.SEND, RequestState.SENT),
        (Action.ACKNOWLEDGE, RequestState.ACKNOWLEDGED),
        (Action.PRESERVE, RequestState.PRESERVED),
        (Action.EXTEND, RequestState.PRESERVED),
        (Action.RELEASE, RequestState.RELEASED),
        (Action.CLOSE, RequestState.CLOSED),
    ]:
        request.apply(action, UN, at=NOW, actor="t")
        assert request.state is state
    assert [e.kind for e in request.events][1:] == [
        EventKind.SENT,
        EventKind.ACKNOWLEDGED,
        EventKind.PRESERVED,
        EventKind.EXTENDED,
        EventKind.RELEASED,
        EventKind.CLOSED,
    ]


def test_an_illegal_transition_says_what_is_allowed_and_changes_nothing() -> None:
    request = a_request(UN, "mla")
    with pytest.raises(IllegalTransition, match="cannot execute a request that is draft; allowed now: send, withdraw"):
        request.apply(Action.EXECUTE, UN, at=NOW, actor="t")
    assert request.state is RequestState.DRAFT
    assert len(request.events) == 1


def test_actions_of_another_workflow_do_not_apply() -> None:
    request = a_request(UN, "mla", RequestState.ACKNOWLEDGED)
    with pytest.raises(IllegalTransition, match="does not apply"):
        request.apply(Action.PRESERVE, UN, at=NOW, actor="t")


def test_postponing_needs_a_reason() -> None:
    request = a_request(UN, "mla", RequestState.ACKNOWLEDGED)
    with pytest.raises(ValidationFailed, match="needs a note"):
        request.apply(Action.POSTPONE, UN, at=NOW, actor="t")
    request.apply(Action.POSTPONE, UN, at=NOW, actor="t", note="would interfere with our own investigation")
    assert request.state is RequestState.POSTPONED


def test_only_drafts_can_be_amended() -> None:
    request = a_request(UN, "mla")
    event = request.amend({"purpose": "new"}, at=NOW, actor="t")
    assert "purpose" in event.data["changed"]
    request.apply(Action.SEND, UN, at=NOW, actor="t")
    with pytest.raises(IllegalTransition):
        request.amend({}, at=NOW, actor="t")


TYPES = [(pack, t.key) for pack in (UN, BUDAPEST) for t in pack.request_types]


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(TYPES),
    actions=st.lists(st.sampled_from(list(Action)), max_size=25),
    start=st.sampled_from([RequestState.DRAFT, RequestState.RECEIVED]),
)
def test_the_state_machine_is_closed(case: tuple[RulePack, str], actions: list[Action], start: RequestState) -> None:
    """Any sequence of actions either follows an edge of the table or raises, and the history mirrors the state."""
    pack, type_ = case
    rtype = request_type(pack, type_)
    table = TRANSITIONS[rtype.workflow]
    request = a_request(pack, type_, start)
    for action in actions:
        before, events = request.state, len(request.events)
        edge = table.get(action)
        grounds = (rtype.refusal_grounds[0].key,) if action is Action.REFUSE and rtype.refusal_grounds else ()
        try:
            request.apply(action, pack, at=NOW, actor="t", grounds=grounds, note="because")
        except (IllegalTransition, ValidationFailed):
            assert request.state is before
            assert len(request.events) == events
            continue
        assert edge is not None
        assert before in edge.sources
        assert request.state is (edge.target or before)
        assert request.events[-1].state_from is before
        assert request.events[-1].state_to is request.state
        assert request.allowed_actions(rtype) == [
            a
            for a in Action
            if a in table
            and request.state in table[a].sources
            and (a is not Action.CONFIRM_IN_WRITING or request.means is Means.TELEPHONE)  # only an oral request
        ]


def test_closed_and_withdrawn_are_final_enough() -> None:
    for workflow, table in TRANSITIONS.items():
        from_closed = [a for a, t in table.items() if RequestState.CLOSED in t.sources]
        assert from_closed == [], workflow
    assert Action.PRESERVE not in TRANSITIONS[Workflow.STANDARD]
    assert Action.EXECUTE not in TRANSITIONS[Workflow.PRESERVATION]
