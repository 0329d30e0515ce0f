"""Art 57 statistics: percentiles, periods, outcomes and refusal grounds — on hand-made rows and through the services
over in-memory fakes (the SQL aggregate is tested against the same expectations in the integration tests)."""

from __future__ import annotations

import csv
import io
import statistics as stdlib_statistics
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hanoinet.app.node import Node
from hanoinet.cases import service as cases
from hanoinet.platform.errors import ValidationFailed
from hanoinet.requests import service as requests
from hanoinet.requests.domain import Action, Direction, RequestState
from hanoinet.requests.ports import RequestActivity
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.statistics.api import CSV_COLUMNS, to_csv, to_json
from hanoinet.statistics.service import (
    Milestone,
    Outcome,
    ReportingPeriod,
    compute,
    figures,
    median,
    outcome,
    percentile,
    reporting_period,
    statistics,
)
from hanoinet.treaty import service as treaty
from hanoinet.treaty.countries import load_catalog
from hanoinet.treaty.csv_import import parse_deposit_rows
from tests.factories import complete_items, deposits_csv
from tests.fakes import FakeUnitOfWork, FixedClock, Store
from tests.unit.network import add_peer, on_network

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
UN = "uncc-2024"


# --- percentiles --------------------------------------------------------------------------------------------------


def test_percentiles_of_no_value_are_none() -> None:
    assert percentile([], 90) is None
    assert median([]) is None


def test_one_value_is_every_percentile() -> None:
    assert median([7.5]) == 7.5
    assert percentile([7.5], 0) == percentile([7.5], 90) == percentile([7.5], 100) == 7.5


def test_linear_interpolation_between_closest_ranks() -> None:
    assert median([4, 1, 3, 2]) == 2.5  # the mean of the two middle values
    assert median([1, 2, 3]) == 2
    assert percentile(range(1, 11), 90) == pytest.approx(9.1)  # rank (10 - 1) * 0.9 = 8.1: 9 + 0.1 * (10 - 9)
    assert percentile([10, 20], 90) == pytest.approx(19.0)
    assert percentile([3, 1, 2], 0) == 1
    assert percentile([3, 1, 2], 100) == 3


def test_a_percentile_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], -1)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=2, max_size=50))
def test_the_definition_is_that_of_percentile_cont(values: list[float]) -> None:
    """Python's inclusive quantiles use the same definition as PostgreSQL's percentile_cont."""
    deciles = stdlib_statistics.quantiles(values, n=10, method="inclusive")
    assert percentile(values, 90) == pytest.approx(deciles[8], rel=1e-9, abs=1e-6)
    assert median(values) == pytest.approx(stdlib_statistics.median(values), rel=1e-9, abs=1e-6)
    low, high = min(values), max(values)
    p90 = percentile(values, 90)
    assert p90 is not None
    assert low <= p90 <= high


# --- periods ------------------------------------------------------------------------------------------------------


def make_node(store: Store, clock: FixedClock) -> Node:
    return Node(
        uow=lambda: FakeUnitOfWork(store),
        packs=load_builtin_packs(),
        catalog=load_catalog(),
        clock=clock,
        node_state="VNM",
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def node(clock: FixedClock) -> Node:
    return make_node(Store(), clock)


def test_the_default_period_is_the_last_twelve_months(node: Node) -> None:
    period = reporting_period(node)
    assert (period.start, period.end) == (date(2026, 3, 2), date(2027, 3, 1))
    assert period.since == datetime(2026, 3, 2, tzinfo=UTC)
    assert period.until == datetime(2027, 3, 2, tzinfo=UTC)  # half-open: the whole last day is in


def test_a_period_ending_on_29_february(node: Node) -> None:
    period = reporting_period(node, end=date(2028, 2, 29))
    assert period.start == date(2027, 3, 1)
    assert reporting_period(node, start=date(2027, 1, 1)).start == date(2027, 1, 1)


def test_a_backwards_period_names_the_field(node: Node) -> None:
    with pytest.raises(ValidationFailed) as caught:
        reporting_period(node, date(2027, 2, 1), date(2027, 1, 1))
    assert [i.field for i in caught.value.issues] == ["from"]


def test_an_unknown_instrument_is_refused(node: Node) -> None:
    with pytest.raises(ValidationFailed) as caught:
        statistics(node, instrument="no-such-pack")
    assert [i.field for i in caught.value.issues] == ["instrument"]


# --- arithmetic on hand-made rows ---------------------------------------------------------------------------------


def row(
    direction: Direction = Direction.INCOMING,
    *,
    type_: str = "mla",
    state: RequestState = RequestState.RECEIVED,
    counterpart: str = "THA",
    ack: float | None = None,
    executed: float | None = None,
    refused: float | None = None,
    withdrawn: float | None = None,
    grounds: tuple[str, ...] = (),
    emergency: bool = False,
) -> RequestActivity:
    def at(hours: float | None) -> datetime | None:
        return None if hours is None else START + timedelta(hours=hours)

    return RequestActivity(
        id=str(uuid.uuid4()),
        instrument=UN,
        type=type_,
        direction=direction,
        counterpart_state=counterpart,
        state=state,
        emergency=emergency,
        started_at=START,
        acknowledged_at=at(ack),
        executed_at=at(executed),
        refused_at=at(refused),
        withdrawn_at=at(withdrawn),
        grounds=grounds,
    )


PERIOD = ReportingPeriod(date(2027, 1, 1), date(2027, 12, 31))


def test_outcome_precedence() -> None:
    assert outcome(row(executed=3, withdrawn=9, state=RequestState.WITHDRAWN)) is Outcome.EXECUTED
    assert outcome(row(refused=3, state=RequestState.CLOSED)) is Outcome.REFUSED
    assert outcome(row(withdrawn=3, state=RequestState.WITHDRAWN)) is Outcome.WITHDRAWN
    assert outcome(row(ack=1, state=RequestState.CLOSED)) is Outcome.CLOSED
    assert outcome(row(ack=1, state=RequestState.POSTPONED)) is Outcome.OPEN


def test_times_per_direction_and_milestone(node: Node) -> None:
    rows = [
        row(ack=1, executed=10, state=RequestState.EXECUTED),
        row(ack=3, executed=30, state=RequestState.EXECUTED),
        row(ack=2, state=RequestState.IN_EXECUTION),
        row(state=RequestState.RECEIVED),  # not acknowledged yet: no time, not a zero
        row(Direction.OUTGOING, state=RequestState.SENT),
    ]
    stats = compute(node, rows, PERIOD)
    timing = {t.key: t for t in stats.timings}
    assert timing["incoming:acknowledge"].requests == 3
    assert timing["incoming:acknowledge"].median_hours == 2
    assert timing["incoming:acknowledge"].p90_hours == pytest.approx(2.8)
    assert timing["incoming:execute"].requests == 2
    assert timing["incoming:execute"].median_hours == 20
    assert timing["incoming:execute"].p90_hours == pytest.approx(28)
    assert timing["outgoing:acknowledge"].requests == 0
    assert timing["outgoing:acknowledge"].median_hours is None
    assert timing["outgoing:execute"].p90_hours is None


def test_a_direction_filter_leaves_out_the_other_directions_times(node: Node) -> None:
    stats = compute(node, [row(ack=1)], PERIOD, Direction.INCOMING)
    assert {(t.direction, t.milestone) for t in stats.timings} == {
        (Direction.INCOMING, Milestone.ACKNOWLEDGE),
        (Direction.INCOMING, Milestone.EXECUTE),
    }


def test_refusal_grounds_with_the_article_of_their_type(node: Node) -> None:
    rows = [
        row(refused=1, grounds=("essential_interests",), state=RequestState.REFUSED),
        row(refused=1, grounds=("essential_interests", "not_in_conformity"), state=RequestState.REFUSED),
        row(type_="preservation", refused=1, grounds=("essential_interests",), state=RequestState.REFUSED),
        row(refused=1, grounds=("withdrawn_from_the_pack",), state=RequestState.REFUSED),
    ]
    stats = compute(node, rows, PERIOD)
    found = {(f.key, f.article): (f.label, f.count) for f in stats.by_refusal_ground}
    assert found[("uncc-2024:essential_interests@Art 40(21)(b)", "Art 40(21)(b)")][1] == 2
    assert found[("uncc-2024:essential_interests@Art 42(5)", "Art 42(5)")][1] == 1
    assert found[("uncc-2024:not_in_conformity@Art 40(21)(a)", "Art 40(21)(a)")][1] == 1
    # A ground the pack no longer has is still counted, under its key, without an article.
    assert found[("uncc-2024:withdrawn_from_the_pack", "")] == ("withdrawn_from_the_pack", 1)
    assert stats.by_refusal_ground[0].count == 2  # most frequent first
    assert [f.key for f in stats.by_outcome] == ["refused"]


def test_breakdowns_by_type_state_outcome_and_emergency(node: Node) -> None:
    rows = [
        row(counterpart="THA", executed=5, state=RequestState.CLOSED, emergency=True),
        row(counterpart="THA", type_="preservation", state=RequestState.ACKNOWLEDGED, ack=1),
        row(counterpart="KHM", withdrawn=2, state=RequestState.WITHDRAWN),
        row(Direction.OUTGOING, counterpart="XKX"),  # a code the catalogue may not name: shown as it is
    ]
    stats = compute(node, rows, PERIOD)
    assert stats.total == 4
    assert stats.emergency == 1
    assert {f.key: f.count for f in stats.by_direction} == {"incoming": 3, "outgoing": 1}
    assert {f.key: f.count for f in stats.by_type} == {"uncc-2024:mla": 3, "uncc-2024:preservation": 1}
    mla = next(f for f in stats.by_type if f.key == "uncc-2024:mla")
    assert (mla.label, mla.article) == ("Mutual legal assistance (Hanoi Convention)", "Art 40")
    assert [(f.key, f.label, f.count) for f in stats.by_state][:2] == [("THA", "Thailand", 2), ("KHM", "Cambodia", 1)]
    assert {f.key: f.count for f in stats.by_outcome} == {"executed": 1, "withdrawn": 1, "open": 2}
    assert [f.key for f in stats.by_outcome] == ["executed", "withdrawn", "open"]  # the order of Outcome
    assert {f.key: f.count for f in stats.open_by_state} == {"acknowledged": 1, "received": 1}


def test_no_request_gives_zeros_and_no_times(node: Node) -> None:
    stats = compute(node, [], PERIOD)
    assert stats.total == stats.emergency == 0
    assert all(not figures_ for _, figures_ in stats.breakdowns())
    assert all(t.requests == 0 and t.median_hours is None and t.p90_hours is None for t in stats.timings)
    body = to_json(stats)
    assert body["timing"][0]["median_hours"] is None
    assert body["by_type"] == []


def test_csv_has_one_row_per_figure(node: Node) -> None:
    rows = [
        row(ack=1.5, executed=10, state=RequestState.EXECUTED),
        row(refused=1, grounds=("essential_interests",), state=RequestState.REFUSED),
    ]
    stats = compute(node, rows, PERIOD)
    parsed = list(csv.reader(io.StringIO(to_csv(stats))))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert [tuple(r) for r in parsed[1:]] == figures(stats)
    lines = {(r[0], r[1], r[4]): r[5] for r in parsed[1:]}
    assert lines[("period", "from", "date")] == "2027-01-01"
    assert lines[("total", "requests", "count")] == "2"
    assert lines[("outcome", "executed", "count")] == "1"
    assert lines[("refusal_ground", "uncc-2024:essential_interests@Art 40(21)(b)", "count")] == "1"
    assert lines[("timing", "incoming:acknowledge", "median_hours")] == "1.50"
    assert lines[("timing", "outgoing:acknowledge", "median_hours")] == ""  # no figure, not zero


# --- through the services, over the fakes -------------------------------------------------------------------------


def test_figures_from_requests_handled_on_the_node(node: Node, clock: FixedClock, tmp_path: Path) -> None:
    node = on_network(node, tmp_path)
    add_peer(node, tmp_path, "THA")
    treaty.import_deposits(node, parse_deposit_rows(deposits_csv(), "t.csv"), UN)
    case_id = cases.open_case(
        node, reference="LOTUS-1", offence="system_interference", max_penalty_years=10, summary="Ransomware"
    ).id

    def incoming(type_: str, state: str = "THA", emergency: bool = False) -> str:
        draft = requests.RequestDraft(
            case=case_id,
            instrument=UN,
            type=type_,
            requested_state="VNM",
            requesting_state=state,
            direction=Direction.INCOMING,
            items=complete_items(UN, type_),
            emergency=emergency,
        )
        return requests.create_request(node, draft, actor="duty").request.id

    def outgoing(type_: str, send: bool = True) -> str:
        draft = requests.RequestDraft(
            case=case_id, instrument=UN, type=type_, requested_state="THA", items=complete_items(UN, type_)
        )
        request_id = requests.create_request(node, draft, actor="handler").request.id
        if send:
            requests.act_on_request(node, request_id, Action.SEND, actor="handler")
        return request_id

    def act(request_id: str, action: Action, after_hours: float, grounds: tuple[str, ...] = ()) -> None:
        clock.advance(hours=after_hours)
        requests.act_on_request(node, request_id, action, actor="someone", grounds=grounds)

    clock.current = START - timedelta(days=400)  # before the default period: left out
    incoming("mla")
    clock.current = START - timedelta(days=30)
    a = incoming("mla")
    act(a, Action.ACKNOWLEDGE, 2)
    act(a, Action.EXECUTE, 48)
    clock.current = START - timedelta(days=20)
    b = incoming("mla", state="KHM")
    act(b, Action.ACKNOWLEDGE, 4)
    act(b, Action.REFUSE, 1, grounds=("essential_interests",))
    clock.current = START - timedelta(days=10)
    c = incoming("preservation", emergency=True)
    act(c, Action.PRESERVE, 3)
    clock.current = START - timedelta(days=5)
    d = outgoing("preservation")
    act(d, Action.WITHDRAW, 1)  # the requesting State's own action: taken here, sent to THA's node
    outgoing("mla", send=False)  # a draft is no request of one State to another
    outgoing("mla")  # sent: still open
    clock.current = START

    stats = statistics(node)
    assert stats.total == 5
    assert stats.emergency == 1
    assert {f.key: f.count for f in stats.by_direction} == {"incoming": 3, "outgoing": 2}
    assert {f.key: f.count for f in stats.by_outcome} == {"executed": 2, "refused": 1, "withdrawn": 1, "open": 1}
    assert {f.key: f.count for f in stats.open_by_state} == {"sent": 1}
    assert [(f.key, f.count) for f in stats.by_state] == [("THA", 4), ("KHM", 1)]
    assert [(f.article, f.count) for f in stats.by_refusal_ground] == [("Art 40(21)(b)", 1)]
    timing = {t.key: t for t in stats.timings}
    assert (timing["incoming:acknowledge"].requests, timing["incoming:acknowledge"].median_hours) == (2, 3)
    assert timing["incoming:execute"].requests == 2  # executed after 50 h, preserved after 3 h
    assert timing["incoming:execute"].median_hours == pytest.approx(26.5)
    assert timing["incoming:execute"].p90_hours == pytest.approx(3 + 0.9 * 47)
    assert timing["outgoing:execute"].median_hours is None

    assert statistics(node, direction=Direction.OUTGOING).total == 2
    assert statistics(node, instrument="budapest-ets185").total == 0
    earlier = statistics(node, date(2025, 1, 1), (START - timedelta(days=365)).date())
    assert (earlier.total, [f.key for f in earlier.by_type]) == (1, ["uncc-2024:mla"])
