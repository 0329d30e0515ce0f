"""The operator web UI as a person uses it, in a real browser: sign in, compose a request the rule pack checks,
send it, find it with its clock, be refused evidence one has no right to — and see the refusal in the audit log.

Each step asserts what the user sees (labels, roles, messages) and leaves a full-page screenshot in
``screenshots/``. Every page is also watched for console errors, script errors and CSP violations (conftest).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    AUDITOR,
    OFFICER,
    REQUESTED_NODE,
    REQUESTED_STATE,
    Profiles,
    Watch,
    WebNode,
    screenshot,
)

PRESERVATION = "Preservation (Art 42)"
"""The Hanoi Convention's type in the composer's list (the Budapest Convention's is "Preservation (Art 29)")."""
PRESERVATION_ITEMS = {
    "the authority seeking preservation": "Cybercrime unit, Ministry of Public Security of Viet Nam",
    "the offence under investigation": "Ransomware attack on Bạch Mai hospital (system interference)",
    "the stored electronic data to be preserved": "Account data and access logs of the attacker's hosting account",
    "the available information identifying the custodian": "OVH SAS, Roubaix; server 51.77.0.10",
    "the intention to submit a request for mutual legal assistance": "An MLA request will follow within 30 days",
}
NECESSITY = "the necessity of the preservation"
NECESSITY_TEXT = "The host keeps its logs for seven days only: without preservation they will be lost"


def test_sign_in_refuses_a_wrong_password_then_opens_the_inbox(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    page.get_by_label("User name").fill(OFFICER.username)
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("wrong user name or password")
    expect(page.get_by_label("User name")).to_have_value(OFFICER.username)  # kept, the password is not
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot(page, "login")

    page.get_by_label("Password").fill(OFFICER.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=OFFICER.display_name)).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_sign_in_with_the_keyboard_only(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_label("User name")).to_be_focused()  # autofocus: the first thing to do is type
    page.keyboard.type(OFFICER.username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(OFFICER.password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=OFFICER.display_name)).to_be_visible()


def test_a_request_with_a_missing_item_is_not_sent_then_goes_with_its_clock(
    profiles: Profiles, web_node: WebNode
) -> None:
    page = profiles.new(OFFICER)
    page.goto("/inbox")
    page.get_by_role("link", name="New request").first.click()
    expect(page).to_have_url(re.compile(r"/compose"))
    page.get_by_label("Type of request").select_option(label=PRESERVATION)
    page.get_by_label("Requested State").select_option(value=REQUESTED_STATE)
    page.get_by_label("Case", exact=True).select_option(label=f"{web_node.case_reference} — {web_node.case_summary}")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Preservation", level=1)).to_be_visible()
    expect(page.get_by_text("Hanoi Convention Art 42", exact=True)).to_be_visible()
    basis = page.get_by_role("region", name="Legal basis")
    expect(basis).to_contain_text("binds both Viet Nam (VNM) and France (FRA)")
    expect(basis).not_to_contain_text("not a Party")
    for label, text in PRESERVATION_ITEMS.items():
        page.get_by_label(label).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()

    # Nothing missing goes: the summary names the item and its article, and the field is marked invalid.
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Art 42(2)(e)")
    expect(summary).to_contain_text("necessity")
    expect(summary.get_by_role("link")).to_have_count(1)
    necessity = page.get_by_label(NECESSITY)
    expect(necessity).to_have_attribute("aria-invalid", "true")
    expect(necessity).to_have_accessible_description(re.compile(r"Art 42\(2\)\(e\)"))
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    for label, text in PRESERVATION_ITEMS.items():  # what was typed is kept
        expect(page.get_by_label(label)).to_have_value(text)
    screenshot(page, "compose-error")
    summary.get_by_role("link").click()  # the summary's link leads to the field
    expect(page).to_have_url(re.compile(r"#item-necessity$"))

    inbox = page.context.new_page()  # nothing was saved, not even a draft
    inbox.goto(f"/inbox?q={web_node.case_reference}")
    expect(inbox.get_by_text("No request matches.")).to_be_visible()
    inbox.close()

    necessity.fill(NECESSITY_TEXT)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests/[0-9a-f-]+\?done=sent$"))
    expect(page.get_by_role("status")).to_have_text("The request is sent.")
    expect(page.locator("#request-state")).to_have_text("sent")
    expect(page.locator("dl.facts")).to_contain_text(REQUESTED_NODE)  # it went to France's node, not nowhere
    clocks = page.get_by_role("region", name="Clocks")
    running = clocks.get_by_role("row").filter(has_text="running")
    expect(running.first).to_be_visible()
    expect(running.first.locator(".clock time")).to_have_text(re.compile(r"\d"))
    expect(page.get_by_text(NECESSITY_TEXT)).to_be_visible()
    screenshot(page, "request-sent")
    request_path = page.url.removeprefix(web_node.base_url).split("?")[0]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.get_by_label("Search").fill(web_node.case_reference)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]q=" + web_node.case_reference))
    rows = page.locator("table.inbox tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.get_by_role("link", name=web_node.case_reference)).to_have_attribute("href", request_path)
    expect(row).to_contain_text("Preservation")
    expect(row).to_contain_text(REQUESTED_STATE)
    expect(row).to_contain_text("sent")
    expect(row.locator(".clock time")).to_have_text(re.compile(r"\d"))
    screenshot(page, "inbox")


def test_evidence_is_refused_to_a_duty_officer_and_the_refusal_is_in_the_audit_log(
    profiles: Profiles, web_node: WebNode
) -> None:
    page = profiles.new(OFFICER)
    response = page.goto(f"/evidence/{web_node.evidence_id}")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", name=f"Exhibit {web_node.exhibit}", level=1)).to_be_visible()
    page.get_by_label("Reason for opening the content").fill("Checking the image before the MLA request")
    with page.expect_response(f"**/evidence/{web_node.evidence_id}/download") as answered:
        page.get_by_role("button", name="Download").click()
    assert answered.value.status == 403
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile(r"prosecutor|not allowed|may not|refused|denied", re.IGNORECASE))
    screenshot(page, "evidence-refused")

    log = profiles.new(AUDITOR)
    log.goto("/audit")
    expect(log.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    log.get_by_label("Outcome").select_option(value="refused")
    log.get_by_role("button", name="Filter", exact=True).click()
    expect(log).to_have_url(re.compile(r"[?&]outcome=refused"))
    refused = log.locator("table.audit tbody tr").filter(has_text="evidence:download")
    expect(refused).to_have_count(1)
    cells = refused.get_by_role("cell")
    expect(cells.nth(2)).to_have_text(re.compile(rf"^\s*{OFFICER.username}\b"))  # the actor, by user name
    expect(cells.nth(3)).to_have_text(OFFICER.role)
    expect(cells.nth(7)).to_have_text(web_node.evidence_id)
    expect(cells.nth(8)).to_have_text("refused")
    screenshot(log, "audit-log")


def test_the_theme_toggle_switches_between_light_and_dark(profiles: Profiles) -> None:
    page = profiles.new(OFFICER)
    page.goto("/inbox")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "auto")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    toggle = page.get_by_role("button", name="Switch between light and dark")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light
    page.reload()  # remembered
    expect(html).to_have_attribute("data-theme", "dark")
    screenshot(page, "inbox-dark")
    toggle.focus()
    page.keyboard.press("Enter")  # a real button: the keyboard works too
    expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light


def test_the_content_security_policy_blocks_inline_script_and_the_violation_is_seen(page: Page, watch: Watch) -> None:
    page.goto("/login")
    with page.expect_console_message(lambda message: "CSP violation: script-src" in message.text):
        ran = page.evaluate(
            """() => { const s = document.createElement("script"); s.textContent = "window.injected = 1";
            document.head.appendChild(s); return window.injected === 1; }"""
        )
    assert ran is False
    assert any("CSP violation: script-src" in problem for problem in watch.problems), watch.problems
    watch.problems.clear()  # provoked here on purpose: the same lines fail any other test


def test_treaty_and_statistics_dashboards(profiles: Profiles) -> None:
    page = profiles.new(AUDITOR)
    response = page.goto("/treaty")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hanoi Convention")
    expect(page.locator("#treaty-status")).to_contain_text("In force since 2026-04-12")
    screenshot(page, "treaty")

    response = page.goto("/statistics")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Statistics")
    screenshot(page, "statistics")


def test_every_page_of_the_menu_opens_cleanly_for_each_role(profiles: Profiles) -> None:
    for account in (OFFICER, AUDITOR):
        page = profiles.new(account)
        page.goto("/account")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        menu = page.get_by_role("navigation", name="Main").get_by_role("link")
        expect(menu.first).to_be_visible()
        links = [(link.inner_text(), str(link.get_attribute("href"))) for link in menu.all()]
        assert len(links) >= 4, links
        for name, href in links:
            response = page.goto(href)
            assert response is not None
            assert response.status == 200, f"{account.username}: {name} ({href}): HTTP {response.status}"
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            current = page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)
            expect(current).to_have_attribute("aria-current", "page")
