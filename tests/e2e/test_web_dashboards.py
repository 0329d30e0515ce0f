"""The treaty dashboard and the Art 57 statistics end to end: a real ``hanoinet serve`` process, deposits imported
with the console script, requests made and decided through the API, a central authority signed in through the form
— and the figures checked on the pages, in the CSV file, in the JSON and in the audit log."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    PeerEntry,
    Server,
    add_peer,
    check_response,
    cli,
    ok,
    outbox_for,
    start_server,
    stop_server,
)
from tests.e2e.signin import post_login
from tests.factories import complete_items, deposits_csv, reference

PASSWORD = "a long passphrase for the statistics desk"  # noqa: S105 - a test account's
UN = "uncc-2024"
THA_NODE = "tha-test"
"""Thailand's node in the directory (``peer_entries``): the outgoing request sent here goes to it."""
Json = dict[str, Any]


@dataclass
class Desk:
    """A running node with treaty deposits, a few requests, and a central authority signed in on the web."""

    server: Server
    data_dir: Path
    api: httpx.Client
    web: httpx.Client


def _requests(api: httpx.Client) -> None:
    """Three incoming requests (one refused, one preserved after acknowledgement, one emergency still open) and
    two outgoing ones (one sent to Thailand's node, one only drafted)."""
    body = {"reference": reference("STATS"), "offence": "system_interference", "summary": "Ransomware, Hà Nội"}
    case: Json = ok(api.post("/api/v1/cases", json=body), 201)

    def make(type_: str, **extra: Any) -> str:
        payload = {"case": case["id"], "type": type_, "items": complete_items(UN, type_), **extra}
        made: Json = ok(api.post("/api/v1/requests", json=payload), 201)
        return str(made["id"])

    def act(request_id: str, action: str, **extra: Any) -> None:
        ok(api.post(f"/api/v1/requests/{request_id}/actions", json={"action": action, **extra}))

    incoming = {"direction": "incoming", "requesting_state": "THA", "requested_state": "VNM"}
    refused = make("mla", **incoming)
    act(refused, "refuse", grounds=["essential_interests"])
    preserved = make("preservation", **incoming)
    act(preserved, "acknowledge")
    act(preserved, "preserve")
    make("preservation", **{**incoming, "requesting_state": "KHM"}, emergency=True)
    sent = make("preservation", requested_state="THA")
    act(sent, "send")
    assert len(outbox_for(api, THA_NODE, sent)) == 1  # for Thailand's node, which the module never runs
    make("mla", requested_state="THA")  # a draft: not counted


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, peer_entries: Callable[[str], PeerEntry]) -> Iterator[Desk]:
    base = tmp_path_factory.mktemp("web-dashboards")
    data_dir = base / "data"
    server = start_server(data_dir, "sqlite")
    deposits = base / "deposits.csv"
    deposits.write_text(deposits_csv(), encoding="utf-8")
    with ThreadPoolExecutor(2) as pool:  # the console script starts slowly: run both at once
        made = [
            pool.submit(cli, data_dir, "treaty", "import", str(deposits), "--instrument", UN),
            pool.submit(
                cli, data_dir, "user", "add", "stats.pham", "--role", "central_authority", "--password-stdin",
                stdin=PASSWORD + "\n",
            ),
        ]  # fmt: skip
        for job in made:
            job.result()
    api = httpx.Client(
        base_url=server.base_url,
        timeout=30.0,
        headers={"Authorization": f"Bearer {server.token}"},
        event_hooks={"response": [check_response]},
    )
    web = httpx.Client(base_url=server.base_url, timeout=30.0, event_hooks={"response": [check_response]})
    try:
        assert add_peer(api, peer_entries("THA")) == THA_NODE
        _requests(api)
        signed = post_login(web, "stats.pham", PASSWORD, "/treaty")
        assert signed.status_code == 303, signed.text
        assert "hanoinet_session" in web.cookies
        yield Desk(server, data_dir, api, web)
    finally:
        api.close()
        web.close()
        stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id (no nested element of the same kind expected)."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no element {element_id!r}"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def no_inline_style(html: str) -> None:
    """The Content-Security-Policy allows no inline style: nothing on the page may depend on one."""
    assert " style=" not in html
    assert "<style" not in html


# --- the treaty dashboard -----------------------------------------------------------------------------------------


def test_treaty_today_in_force_with_forty_parties(desk: Desk) -> None:
    page = desk.web.get("/treaty")
    assert page.status_code == 200
    assert "style-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    no_inline_style(html)
    assert "In force since 2026-04-12" in html
    assert text_of(html, "party-count") == "40"
    assert "Viet Nam" in html or "Vietnam" in html
    assert "<code>VNM</code>" in html
    # The chart: an image with a name, the threshold of Art 65(1), the figures also as a table.
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart steps" role="img" aria-label="' in html
    assert "40 instruments" in html
    assert '<td class="num">40</td><td class="num">40</td>' in html  # 40 signatures, 40 instruments counted
    assert '<input id="on" name="on" type="date"' in html
    assert '<label for="on">' in html


def test_treaty_before_the_fortieth_instrument(desk: Desk) -> None:
    html = desk.web.get("/treaty", params={"on": "2026-01-11"}).text
    assert "Not in force" in html
    assert text_of(html, "missing") == "40 of the 40 instruments needed are still missing (0 counted)."
    assert "it would enter into force on 2026-04-11" in text_of(html, "earliest")
    assert text_of(html, "party-count") == "0"
    assert "2026-01-12" not in html  # nothing deposited after the date shows


def test_treaty_between_the_fortieth_instrument_and_entry_into_force(desk: Desk) -> None:
    html = desk.web.get("/treaty", params={"on": "2026-02-01", "instrument": UN}).text
    assert "Not yet in force: it enters into force on 2026-04-12" in html
    assert text_of(html, "party-count") == "0"


def test_treaty_with_an_impossible_date_names_the_field(desk: Desk) -> None:
    page = desk.web.get("/treaty", params={"on": "2026-02-30"})
    assert page.status_code == 422
    assert "on: &#39;2026-02-30&#39; is not a date" in page.text or "on: '2026-02-30' is not a date" in page.text


def test_declared_languages_show_on_the_treaty_page_and_warn_the_composer(desk: Desk) -> None:
    """Korea runs no node here: what it declared (imported over the API) is what the composer knows of its
    languages (Art 40), and a request in Vietnamese to it is flagged, with a translation field per item."""
    declarations = (
        "declarations:\n"
        "  - {state: KOR, instrument: uncc-2024, made_on: 2026-06-01, languages: [ko, en], reference: C.N.1.2026}\n"
    )
    headers = {"content-type": "application/yaml"}
    made = ok(desk.api.post("/api/v1/treaty/declarations", content=declarations, headers=headers), 200)
    assert made == {"recorded": 1, "unchanged": 0}
    again = ok(desk.api.post("/api/v1/treaty/declarations", content=declarations, headers=headers), 200)
    assert again == {"recorded": 0, "unchanged": 1}
    changed = desk.api.post(
        "/api/v1/treaty/declarations", content=declarations.replace("ko, en", "ko"), headers=headers
    )
    assert changed.status_code == 422  # the same day, other languages: a later declaration carries its own date
    assert "a later declaration replaces it" in changed.text
    listed = ok(desk.api.get("/api/v1/treaty/declarations", params={"state": "kor"}), 200)
    assert listed == [
        {
            "instrument": UN,
            "state": "KOR",
            "made_on": "2026-06-01",
            "languages": ["ko", "en"],
            "reference": "C.N.1.2026",
            "reservations": [],
        }
    ]
    page = desk.web.get("/treaty").text
    assert "<code>KOR</code>" in page
    assert "Korean <code>ko</code>, English <code>en</code>" in page
    reserved = (
        "declarations:\n  - {state: MNG, instrument: uncc-2024, made_on: 2026-06-02, languages: [mn],"
        " reservations: [preservation_dual_criminality]}\n"
    )
    ok(desk.api.post("/api/v1/treaty/declarations", content=reserved, headers=headers), 200)
    page = desk.web.get("/treaty").text
    assert "dual criminality could not be met at disclosure, for an offence not established by the Convention" in page
    assert '<span class="article">Art 42</span>' in page
    french = desk.web.get("/treaty", headers={"Accept-Language": "fr"}).text
    assert "Réserves" in french or "R&#233;serves" in french
    composer = desk.web.get("/compose", params={"kind": f"{UN}:mla", "requested_state": "KOR"}).text
    assert "The requested State accepts requests in: Korean, English." in composer
    # written in English (the page's language by default): accepted, no warning
    assert 'id="language-warning"' not in composer
    bad = desk.api.post(
        "/api/v1/treaty/declarations",
        content="declarations:\n  - {state: KOR, instrument: uncc-2024, made_on: 2026-07-01, languages: [Korean]}\n",
        headers=headers,
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "declarations[0].languages[0]"


# --- the statistics -----------------------------------------------------------------------------------------------


def test_statistics_page_shows_the_figures_with_charts_and_tables(desk: Desk) -> None:
    page = desk.web.get("/statistics")
    assert page.status_code == 200
    html = page.text
    no_inline_style(html)
    assert text_of(html, "total-requests") == "4"
    assert text_of(html, "total-emergency") == "1"
    assert text_of(html, "total-incoming") == "3"
    assert text_of(html, "total-outgoing") == "1"
    assert html.count('role="img"') == 5  # type, State, outcome, open requests, refusal ground
    assert "Art 40(21)(b)" in html
    assert "Thailand" in html
    assert "Cambodia" in html
    # Timing: one incoming request was acknowledged (the refused one was refused without acknowledgement).
    row = re.search(r'id="timing-incoming-acknowledge">(.*?)</tr>', html, re.S)
    assert row
    assert re.findall(r'<td class="num">([^<]*)</td>', row.group(1))[0] == "1"
    outgoing = re.search(r'id="timing-outgoing-execute">(.*?)</tr>', html, re.S)
    assert outgoing
    assert "—" in outgoing.group(1)  # no outgoing request was executed: no figure, not zero
    link = re.search(r'href="(/statistics/export\.csv\?[^"]+)"', html)
    assert link
    assert "from=" in link.group(1)
    assert "to=" in link.group(1)


def test_statistics_filtered_by_direction(desk: Desk) -> None:
    html = desk.web.get("/statistics", params={"direction": "outgoing"}).text
    assert text_of(html, "total-requests") == "1"
    assert "timing-incoming-acknowledge" not in html


def test_statistics_with_a_backwards_period_names_the_field(desk: Desk) -> None:
    page = desk.web.get("/statistics", params={"from": "2026-06-01", "to": "2026-01-01"})
    assert page.status_code == 422
    assert "from: the period starts (2026-06-01) after it ends (2026-01-01)" in page.text


def test_statistics_csv_has_one_row_per_figure(desk: Desk) -> None:
    response = desk.web.get("/statistics/export.csv", params={"direction": "incoming"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith('-incoming.csv"')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["dimension", "key", "label", "article", "metric", "value"]
    figures = {(r[0], r[1], r[4]): r for r in rows[1:]}
    assert figures[("filter", "direction", "text")][5] == "incoming"
    assert figures[("total", "requests", "count")][5] == "3"
    assert figures[("state", "THA", "count")][5] == "2"
    assert figures[("outcome", "executed", "count")][5] == "1"
    assert figures[("outcome", "refused", "count")][5] == "1"
    ground = figures[("refusal_ground", "uncc-2024:essential_interests@Art 40(21)(b)", "count")]
    assert (ground[3], ground[5]) == ("Art 40(21)(b)", "1")
    assert figures[("timing", "incoming:execute", "requests")][5] == "1"
    assert float(figures[("timing", "incoming:execute", "median_hours")][5]) < 1  # decided within the test
    assert ("timing", "outgoing:execute", "requests") not in figures


def test_statistics_over_the_api(desk: Desk) -> None:
    body: Json = ok(desk.api.get("/api/v1/statistics"))
    assert body["totals"] == {"requests": 4, "emergency": 1}
    assert {f["key"]: f["count"] for f in body["by_outcome"]} == {"executed": 1, "refused": 1, "open": 2}
    assert {f["key"]: f["count"] for f in body["by_type"]} == {"uncc-2024:preservation": 3, "uncc-2024:mla": 1}
    today = datetime.now(UTC).date()
    assert body["period"]["to"] in {today.isoformat(), (today - timedelta(days=1)).isoformat()}
    assert "percentile" in body["definitions"]
    nothing: Json = ok(desk.api.get("/api/v1/statistics", params={"from": "2020-01-01", "to": "2020-12-31"}))
    assert nothing["totals"]["requests"] == 0
    assert all(t["median_hours"] is None for t in nothing["timing"])
    exported = desk.api.get("/api/v1/statistics.csv")
    assert exported.status_code == 200
    assert exported.text.startswith("dimension,key,label,article,metric,value\r\n")
    bad = desk.api.get("/api/v1/statistics", params={"from": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "query.from"


def test_viewing_and_exporting_are_audited(desk: Desk) -> None:
    desk.web.get("/statistics")
    desk.web.get("/statistics/export.csv")
    views = json.loads(cli(desk.data_dir, "audit", "list", "--action", "statistics:view", "--json"))
    exports = json.loads(cli(desk.data_dir, "audit", "list", "--action", "statistics:export", "--json"))
    assert ("stats.pham", "ok") in [(e["actor"], e["outcome"]) for e in views]
    assert ("stats.pham", "ok") in [(e["actor"], e["outcome"]) for e in exports]


def test_a_duty_officer_may_not_see_the_statistics(desk: Desk) -> None:
    cli(desk.data_dir, "user", "add", "duty.vo", "--role", "duty_officer", "--password-stdin", stdin=PASSWORD + "\n")
    with httpx.Client(base_url=desk.server.base_url, timeout=30.0, event_hooks={"response": [check_response]}) as web:
        assert post_login(web, "duty.vo", PASSWORD).status_code == 303
        assert web.get("/treaty").status_code == 200
        assert web.get("/statistics").status_code == 403
        assert web.get("/statistics/export.csv").status_code == 403


# --- property in the web UI (Arts 31, 49-52) -------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def post_form(desk: Desk, page_path: str, action: str, fields: dict[str, str]) -> httpx.Response:
    """Open the page that carries the form, then post it with the session's CSRF token, as a browser does."""
    page = desk.web.get(page_path)
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text)
    assert token is not None
    return desk.web.post(action, data={"csrf_token": token.group(1), **fields})


def test_property_is_recorded_frozen_and_counted_through_the_web(desk: Desk) -> None:
    body = {"reference": reference("ASSETS"), "offence": "system_interference", "summary": "Ransom, Hà Nội"}
    case: Json = ok(desk.api.post("/api/v1/cases", json=body), 201)
    assert f'href="/cases/{case["id"]}/assets"' in desk.web.get(f"/cases/{case['id']}").text
    listing = f"/cases/{case['id']}/assets"
    account = {"kind": "account", "description": "Mule account", "location_state": "KHM", "currency": "USD"}

    refused = post_form(desk, listing, listing, {**account, "currency": "DOLLARS", "estimated_value": "1.2.3"})
    assert refused.status_code == 422
    assert "&#39;DOLLARS&#39; is not an ISO 4217 currency code" in refused.text
    assert "is not an amount" in refused.text
    assert ">Mule account</textarea>" in refused.text  # what was typed stays
    assert "No property recorded in this case yet." in refused.text

    made = post_form(desk, listing, listing, {**account, "holder": "A. Mule", "estimated_value": "48000.00"})
    assert made.status_code == 303, made.text
    asset_page = made.headers["location"].split("?")[0]
    assert asset_page.startswith("/assets/")
    today = datetime.now(UTC).date().isoformat()
    freeze = {"kind": "frozen", "taken_on": today, "state": "KHM", "amount": "48000.00", "order_reference": "PP-1"}
    frozen = post_form(desk, asset_page, f"{asset_page}/measures", freeze)
    assert frozen.status_code == 303, frozen.text
    html = desk.web.get(asset_page).text
    assert text_of(html, "still-frozen") == "48000.00 USD"
    no_inline_style(html)

    release = {"kind": "released", "taken_on": today, "state": "KHM", "amount": "50000"}
    too_much = post_form(desk, asset_page, f"{asset_page}/measures", release)
    assert too_much.status_code == 422
    assert "is more than is still frozen (48000.00 USD)" in too_much.text
    assert text_of(desk.web.get(asset_page).text, "still-frozen") == "48000.00 USD"  # nothing was written

    stats = desk.web.get("/statistics").text
    row = re.search(r'<section class="card" aria-labelledby="assets-title" id="assets">(.*?)</section>', stats, re.S)
    assert row is not None
    assert "Frozen or seized" in row.group(1)
    assert "48000.00" in row.group(1)
    assert "Cambodia" in row.group(1)
