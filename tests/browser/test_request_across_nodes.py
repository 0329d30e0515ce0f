"""A request handled from composing to closing in the browser, across two real nodes: Viet Nam's central authority
composes a preservation request and sends it; Singapore's 24/7 point of contact finds it in its inbox,
acknowledges it, confirms the data preserved and later releases them; Viet Nam sees each answer arrive and closes
the file. Every step is a person's click in Chromium; the nodes talk to each other over HTTP on their own."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from hanoinet.federation.domain import TYP_ENTRY
from hanoinet.federation.jose import JoseIdentity
from tests.browser.conftest import PASSWORD, Account, Profiles, Watch, screenshot
from tests.browser.test_web_ui import NECESSITY, NECESSITY_TEXT, PRESERVATION, PRESERVATION_ITEMS
from tests.e2e.conftest import HANOINET
from tests.e2e.nodes import NodeProcess, network

HANDLER = Account("tran", "Trần Văn An", "central_authority")
DUTY = Account("lim", "Lim Wei Ling", "duty_officer")
ADMIN = Account("thuy", "Phạm Thu Thủy", "administrator")
CASE = "LOTUS-HOSPITAL"
SUMMARY = "Ransomware attack on a hospital in Hà Nội"
ARRIVAL_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Pair:
    vnm: NodeProcess
    sgp: NodeProcess


def _add_user(node: NodeProcess, account: Account) -> None:
    args = ["user", "add", account.username, "--role", account.role, "--name", account.display_name]
    done = subprocess.run(
        [HANOINET, *args, "--password-stdin"],
        input=PASSWORD + "\n",
        env=node.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Two introduced nodes, a handler account on Viet Nam's, a duty officer's on Singapore's, and a case."""
    specs = [("vnm-ca", "VNM", "central_authority"), ("sgp-247", "SGP", "point_of_contact_24_7")]
    nodes = network(tmp_path_factory.mktemp("across"), specs)
    vnm, sgp = next(nodes)
    try:
        _add_user(vnm, HANDLER)
        _add_user(vnm, ADMIN)
        _add_user(sgp, DUTY)
        vnm.call(
            "POST",
            "/api/v1/cases",
            json={
                "reference": CASE,
                "offence": "system_interference",
                "max_penalty_years": 10,
                "summary": SUMMARY,
            },
        )
        yield Pair(vnm, sgp)
    finally:
        next(nodes, None)  # stops both nodes, and checks their logs for stack traces


@pytest.fixture
def desks(browser: Browser, pair: Pair) -> Iterator[tuple[Page, Page]]:
    """A browser profile on each node, signed in; confirmation dialogs (closing, releasing) are accepted."""
    watch = Watch()
    here, there = Profiles(browser, pair.vnm.url, watch, {}), Profiles(browser, pair.sgp.url, watch, {})
    try:
        pages = here.new(HANDLER), there.new(DUTY)
        for page in pages:
            page.on("dialog", Dialog.accept)
        yield pages
    finally:
        here.close()
        there.close()
    assert not watch.problems, "\n".join(watch.problems)


def _act(page: Page, button: str, state: str, note: str = "") -> None:
    """Take one of the request page's actions, optionally with a note, and see the new state."""
    form = page.locator("form.action").filter(has=page.get_by_role("button", name=button, exact=True))
    if note:
        form.get_by_role("textbox").fill(note)
    form.get_by_role("button", name=button, exact=True).click()
    expect(page.locator("#request-state")).to_have_text(state)


def _until_state(page: Page, state: str) -> None:
    """Reload the request page until the other node's answer has arrived (it comes by itself, in the background)."""
    expect(page.locator("#request-state")).to_be_visible()
    for _ in range(ARRIVAL_TIMEOUT_MS // 250):
        if page.locator("#request-state").inner_text() == state:
            return
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator("#request-state")).to_have_text(state)


def test_a_request_from_composing_to_closing_across_two_nodes(desks: tuple[Page, Page], pair: Pair) -> None:
    vnm, sgp = desks

    # Viet Nam composes and sends.
    vnm.goto("/compose")
    vnm.get_by_label("Type of request").select_option(label=PRESERVATION)
    vnm.get_by_label("Requested State").select_option(value="SGP")
    vnm.get_by_label("Case", exact=True).select_option(label=f"{CASE} — {SUMMARY}")
    vnm.get_by_role("button", name="Continue").click()
    for label, text in {**PRESERVATION_ITEMS, NECESSITY: NECESSITY_TEXT}.items():
        vnm.get_by_label(label).fill(text)
    vnm.get_by_role("button", name="Send", exact=True).click()
    expect(vnm).to_have_url(re.compile(r"/requests/[0-9a-f-]+\?done=sent$"))
    expect(vnm.locator("#request-state")).to_have_text("sent")
    request_path = vnm.url.removeprefix(pair.vnm.url).split("?")[0]

    # Singapore's duty officer finds it in the inbox, with its clock, and answers it.
    sgp.goto("/inbox")
    row = sgp.locator("table.inbox tbody tr").filter(has_text="Preservation")
    for _ in range(ARRIVAL_TIMEOUT_MS // 250):
        if row.count():
            break
        sgp.wait_for_timeout(250)
        sgp.reload()
    expect(row).to_have_count(1)
    expect(row).to_contain_text("VNM")
    expect(row.locator(".clock time")).to_have_text(re.compile(r"\d"))
    row.get_by_role("link").first.click()
    expect(sgp).to_have_url(re.compile(re.escape(request_path) + "$"))
    expect(sgp.locator("#request-state")).to_have_text("received")
    expect(sgp.get_by_text(NECESSITY_TEXT)).to_be_visible()
    expect(sgp.get_by_role("button", name="Withdraw")).to_have_count(0)  # the requesting State's, not Singapore's
    # Opening it told Viet Nam nothing; reading it is the duty officer's own act.
    sgp.get_by_role("button", name="Mark as read").click()
    expect(sgp).to_have_url(re.compile(re.escape(request_path) + r"\?done=read$"))
    expect(sgp.get_by_role("button", name="Mark as read")).to_have_count(0)
    _act(sgp, "Acknowledge receipt", "acknowledged")
    _act(sgp, "Confirm the data are preserved", "preserved", note="Snapshot of the hosting account taken 02:10 UTC")

    # Viet Nam sees the answers arrive; it cannot type in Singapore's actions.
    vnm.goto(request_path)
    _until_state(vnm, "preserved")
    timeline = vnm.locator("#timeline")
    expect(timeline).to_contain_text("Snapshot of the hosting account taken 02:10 UTC")
    received = timeline.locator("li").filter(has_text="Message received").filter(has_text=f"{DUTY.username} (sgp-247)")
    expect(received.first).to_be_visible()  # the other node's author, as its signed message names them
    sent = timeline.locator("li").filter(has_text="Message sent").filter(has_text="read")
    expect(sent.first).to_be_visible()  # Singapore's read notice came back
    expect(vnm.get_by_role("button", name="Release the preserved data")).to_have_count(0)
    expect(vnm.get_by_role("button", name="Close", exact=True)).to_have_count(0)  # not before the data are released

    # The MLA request has been executed by other means; Singapore releases the data, and Viet Nam closes the file.
    _act(sgp, "Release the preserved data", "released", note="Data handed over under the MLA request")
    _until_state(vnm, "released")
    _act(vnm, "Close", "closed", note="Evidence received under the MLA request")
    expect(vnm.locator("#actions")).to_have_count(0)  # nothing is left to do
    screenshot(vnm, "request-closed")

    vnm.goto(f"/inbox?q={CASE}&state=closed")
    closed = vnm.locator("table.inbox tbody tr")
    expect(closed).to_have_count(1)
    expect(closed).to_contain_text("Preservation")
    expect(closed.get_by_role("link", name=CASE)).to_have_attribute("href", request_path)


def test_a_change_of_identity_a_peer_offers_waits_on_the_directory_page_until_rejected(
    browser: Browser, pair: Pair
) -> None:
    """Singapore's node pushes a newer entry of its own, signed by its same key, moving itself to another address
    and calling itself a directory: Viet Nam's administrator sees it held, with the old and new values, and
    rejects it; what is in force never changed."""
    signed = pair.sgp.call("GET", "/federation/v1/entry")
    text = signed["payload"]
    entry = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    elsewhere = "http://127.0.0.1:9"  # nothing listens there: a request routed to it would never arrive
    offered = {**entry, "endpoint": elsewhere, "roles": [*entry["roles"], "directory"], "serial": entry["serial"] + 1}
    hostile = JoseIdentity(pair.sgp.data_dir / "keys", "sgp-247", "SGP").sign_document(offered, TYP_ENTRY)
    with pair.vnm.client() as http:
        pushed = http.post("/federation/v1/entries", json=hostile)
    assert pushed.json()["verdict"] == "held", pushed.text

    watch = Watch()
    profiles = Profiles(browser, pair.vnm.url, watch, {})
    try:
        page = profiles.new(ADMIN)
        page.goto("/directory")
        row = page.locator("tr").filter(has=page.get_by_role("rowheader", name="sgp-247"))
        expect(row.get_by_role("status")).to_contain_text("waits for a decision")
        expect(row).to_contain_text(f"{pair.sgp.url.rstrip('/')} → {elsewhere}")
        expect(row.locator("td").nth(3)).not_to_contain_text(elsewhere)  # the endpoint in force is the old one
        screenshot(page, "directory-pending-change")
        row.get_by_role("button", name="Reject the change of sgp-247").click()
        expect(page.locator("p.flash")).to_contain_text("confirmed identity stays in force")
        row = page.locator("tr").filter(has=page.get_by_role("rowheader", name="sgp-247"))
        expect(row).not_to_contain_text("waits for a decision")
        expect(row).not_to_contain_text(elsewhere)
    finally:
        profiles.close()
    assert not watch.problems, "\n".join(watch.problems)
    peer = pair.vnm.call("GET", "/api/v1/directory/sgp-247")
    assert (peer["endpoint"], peer["pending"]) == (pair.sgp.url.rstrip("/"), None)
    assert "directory" not in peer["roles"]
