"""Property (Arts 31, 49-52): amounts as exact decimals, units, what a measure may follow, where an asset stands, and
the Art 57 sums — on the domain and through the services over in-memory fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from hanoinet.app.node import Node
from hanoinet.assets import service as assets
from hanoinet.assets.domain import (
    AssetDraft,
    AssetKind,
    AssetStatus,
    MeasureDraft,
    MeasureKind,
    Recipient,
    check_asset,
    parse_amount,
)
from hanoinet.cases import service as cases
from hanoinet.platform.errors import NotFound, ValidationFailed
from hanoinet.requests import service as requests
from hanoinet.rules.loader import load_builtin_packs
from hanoinet.statistics.service import asset_key, figures, statistics
from hanoinet.treaty.countries import load_catalog
from tests.factories import complete_items
from tests.fakes import FakeUnitOfWork, FixedClock, Store

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
BTC_ADDRESS = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def node(store: Store) -> Node:
    return Node(
        uow=lambda: FakeUnitOfWork(store),
        packs=load_builtin_packs(),
        catalog=load_catalog(),
        clock=FixedClock(START),
        node_state="VNM",
    )


@pytest.fixture
def case_id(node: Node) -> str:
    return cases.open_case(
        node, reference="LOTUS-1", offence="system_interference", max_penalty_years=10, summary="Ransomware"
    ).id


def ransom(case: str, **changes: str) -> AssetDraft:
    """The Lotus ransom: bitcoin at an exchange in Thailand."""
    fields = {
        "case": case,
        "kind": "virtual_asset",
        "description": "Ransom paid by the hospital",
        "location_state": "THA",
        "currency": "BTC",
        "location": "Exchange in Bangkok",
        "estimated_value": "2.5",
        "address": BTC_ADDRESS,
        "network": "bitcoin",
        **changes,
    }
    return AssetDraft(**fields)


def measure(kind: str, amount: str = "", **changes: str) -> MeasureDraft:
    fields = {"kind": kind, "state": "THA", "amount": amount, **changes}
    if kind in ("frozen", "confiscated") and "order_reference" not in changes:
        fields["order_reference"] = f"{kind.upper()}-ORDER-1"
    return MeasureDraft(taken_on=date(2027, 2, 20), **fields)


def fields_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {i.field for i in exc.value.issues}


# --- amounts and units --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1250", Decimal(1250)), ("0.5", Decimal("0.5")), ("12.345678901234567890", Decimal("12.345678901234567890"))],
)
def test_amounts_are_exact_decimals(text: str, expected: Decimal) -> None:
    assert parse_amount(text, "amount") == (expected, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0", "more than zero"),
        ("-3", "more than zero"),
        ("1e400", "is not an amount"),
        ("1" * 31, "more than 30 digits"),
        ("0.0000000000000000001", "more than 18 after the point"),
        ("NaN", "is not an amount"),
        ("0.000", "more than zero"),
        ("1,5", "is not an amount"),
        ("twelve", "is not an amount"),
    ],
)
def test_a_bad_amount_names_the_field(text: str, says: str) -> None:
    amount, problem = parse_amount(text, "amount")
    assert amount is None
    assert problem is not None
    assert problem.field == "amount"
    assert says in problem.message


def test_a_virtual_asset_may_be_counted_in_its_ticker_other_property_in_iso_4217() -> None:
    codes = assets.currencies()
    assert {"EUR", "VND", "USD"} <= codes
    assert check_asset(ransom("c"), codes)[2] == []
    account = ransom("c", kind="account", currency="BTC", address="", network="")
    assert [(i.field, "ISO 4217" in i.message) for i in check_asset(account, codes)[2]] == [("currency", True)]
    assert check_asset(ransom("c", currency="bitcoin!"), codes)[2][0].field == "currency"


def test_a_virtual_asset_needs_its_address_and_network_and_only_it_has_them() -> None:
    codes = assets.currencies()
    missing = check_asset(ransom("c", address="", network=""), codes)[2]
    assert {i.field for i in missing} == {"address", "network"}
    house = ransom("c", kind="real_estate", currency="EUR")
    assert [i.field for i in check_asset(house, codes)[2]] == ["address"]


# --- recording and measures ---------------------------------------------------------------------------------------


def test_an_asset_is_recorded_in_its_case(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom("LOTUS-1"), actor="ca.nguyen")  # by the case's reference
    assert asset.case_id == case_id
    assert asset.kind is AssetKind.VIRTUAL_ASSET
    assert asset.estimated_value == Decimal("2.5")
    assert asset.status is AssetStatus.IDENTIFIED
    assert [a.id for a in assets.list_assets(node, case=case_id)] == [asset.id]
    assert assets.get_asset(node, asset.id).created_by == "ca.nguyen"


def test_a_bad_asset_names_every_field_and_writes_nothing(node: Node, case_id: str, store: Store) -> None:
    draft = ransom(case_id, kind="yacht", description=" ", location_state="XXX", currency="", estimated_value="-1")
    with pytest.raises(ValidationFailed) as exc:
        assets.record_asset(node, draft, actor="ca")
    assert {"kind", "description", "location_state", "currency", "estimated_value"} <= fields_of(exc)
    assert store.assets == {}
    with pytest.raises(NotFound):
        assets.record_asset(node, ransom("NO-SUCH-CASE"), actor="ca")


def test_frozen_confiscated_and_returned_in_the_lotus_case(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom(case_id), actor="ca")
    assets.record_measure(node, asset.id, measure("traced", note="followed from the mixer"), actor="ca")
    frozen = assets.record_measure(node, asset.id, measure("frozen", "2.5"), actor="ca")
    assert (frozen.status, frozen.still_frozen) == (AssetStatus.FROZEN, Decimal("2.5"))
    released = assets.record_measure(node, asset.id, measure("released", "0.3"), actor="ca")
    assert released.still_frozen == Decimal("2.2")
    confiscated = assets.record_measure(node, asset.id, measure("confiscated", "2.2"), actor="ca")
    assert (confiscated.status, confiscated.still_frozen, confiscated.still_confiscated) == (
        AssetStatus.CONFISCATED,
        Decimal(0),
        Decimal("2.2"),
    )
    returned = measure("returned", "2.2", recipient="victims", recipient_name="Bạch Mai Hospital")
    done = assets.record_measure(node, asset.id, returned, actor="ca")
    assert done.status is AssetStatus.RETURNED
    assert [m.kind for m in done.measures] == list(MeasureKind)[:5]
    assert done.measures[-1].recipient is Recipient.VICTIMS
    assert [m.seq for m in assets.get_asset(node, asset.id).measures] == [1, 2, 3, 4, 5]


def test_a_release_larger_than_what_is_still_frozen_is_refused_and_nothing_is_written(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom(case_id), actor="ca")
    assets.record_measure(node, asset.id, measure("frozen", "1.0"), actor="ca")
    with pytest.raises(ValidationFailed, match=r"more than is still frozen \(1.0 BTC\)"):
        assets.record_measure(node, asset.id, measure("released", "1.00000001"), actor="ca")
    assert len(assets.get_asset(node, asset.id).measures) == 1


def test_a_return_needs_something_confiscated_and_a_recipient(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom(case_id), actor="ca")
    with pytest.raises(ValidationFailed) as exc:
        assets.record_measure(node, asset.id, measure("returned", "0.1"), actor="ca")
    assert fields_of(exc) == {"amount", "recipient"}
    assert {i.citation for i in exc.value.issues} == {"Art 52"}
    assets.record_measure(node, asset.id, measure("confiscated", "1"), actor="ca")  # value-based, no freeze first
    assets.record_measure(node, asset.id, measure("disposed", "0.4"), actor="ca")
    with pytest.raises(ValidationFailed, match=r"not yet returned or disposed of \(0.6 BTC\)"):
        assets.record_measure(node, asset.id, measure("returned", "0.7", recipient="requesting_state"), actor="ca")


def test_a_measure_taken_by_order_needs_its_amount_and_order(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom(case_id), actor="ca")
    with pytest.raises(ValidationFailed) as exc:
        assets.record_measure(node, asset.id, measure("frozen", order_reference=""), actor="ca")
    assert fields_of(exc) == {"amount", "order_reference"}
    with pytest.raises(ValidationFailed) as exc:
        assets.record_measure(node, asset.id, measure("frozen", "1", recipient="victims"), actor="ca")
    assert fields_of(exc) == {"recipient"}
    tomorrow = MeasureDraft(kind="traced", taken_on=date(2027, 3, 2), state="THA")
    with pytest.raises(ValidationFailed, match="in the future"):
        assets.record_measure(node, asset.id, tomorrow, actor="ca")
    with pytest.raises(ValidationFailed) as exc:
        assets.record_measure(node, asset.id, measure("seized", state="ZZZ"), actor="ca")
    assert fields_of(exc) == {"kind", "state"}


def test_a_request_of_another_case_cannot_point_at_the_asset(node: Node, case_id: str) -> None:
    asset = assets.record_asset(node, ransom(case_id), actor="ca")
    other = cases.open_case(
        node, reference="OTHER-1", offence="system_interference", max_penalty_years=10, summary="x"
    ).id
    draft = requests.RequestDraft(
        case=other, instrument="uncc-2024", type="confiscation", requested_state="THA",
        items=complete_items("uncc-2024", "confiscation"),
    )  # fmt: skip
    foreign = requests.create_request(node, draft, actor="ca").request.id
    with pytest.raises(ValidationFailed, match="belongs to another case"):
        assets.link_request(node, asset.id, foreign, actor="ca")
    with pytest.raises(ValidationFailed, match="belongs to another case"):
        assets.record_measure(node, asset.id, measure("traced", request=foreign), actor="ca")
    own = requests.create_request(node, replace(draft, case=case_id), actor="ca")
    linked = assets.link_request(node, asset.id, own.request.id, actor="ca")
    assert linked.request_ids == [own.request.id]
    assert assets.link_request(node, asset.id, own.request.id, actor="ca").request_ids == [own.request.id]


# --- Art 57 figures -----------------------------------------------------------------------------------------------


def test_the_figures_sum_exactly_by_state_year_and_unit(node: Node, case_id: str) -> None:
    btc = assets.record_asset(node, ransom(case_id), actor="ca")
    account = assets.record_asset(
        node, ransom(case_id, kind="account", currency="EUR", address="", network="", location_state="KHM"), actor="ca"
    )
    for amount in ("0.1", "0.2"):  # 0.1 + 0.2 is 0.3 here, not 0.30000000000000004
        assets.record_measure(node, btc.id, measure("frozen", amount), actor="ca")
    assets.record_measure(node, account.id, measure("frozen", "1000.50", state="KHM"), actor="ca")
    old = MeasureDraft(kind="frozen", taken_on=date(2025, 12, 31), state="KHM", amount="5", order_reference="O")
    assets.record_measure(node, account.id, old, actor="ca")  # before the period: not counted

    stats = statistics(node)
    frozen = {(f.state, f.currency): (f.measures, f.amount) for f in stats.assets}
    assert frozen == {("THA", "BTC"): (2, Decimal("0.3")), ("KHM", "EUR"): (1, Decimal("1000.50"))}
    rows = {(r[0], r[1], r[4]): r[5] for r in figures(stats)}
    key = asset_key(next(f for f in stats.assets if f.currency == "BTC"))
    assert key == "frozen:THA:2027:BTC::"
    assert rows[("assets", key, "amount")] == "0.3"
    assert rows[("assets", key, "measures")] == "2"
    earlier = statistics(node, date(2025, 1, 1), date(2025, 12, 31))
    assert [(f.year, f.amount) for f in earlier.assets] == [(2025, Decimal(5))]
