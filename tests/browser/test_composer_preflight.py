"""The composer asks the same preflight as Send: what Check finds ready goes, what Send refuses Check refuses first.

Regressions of defects seen by a new user: Check said the legal basis held and Send then refused (Budapest
Art 36(4)); the legal-basis box was green for a Budapest request while listing both States as "not a Party", and
its sentence named no instrument; a request to a State with no node said "The request is sent."; an Emergency-type
request was an emergency only if a separate box was ticked.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import OFFICER, Profiles, WebNode

BOUND_WITHOUT_NODE = "KEN"
"""A Party to the Hanoi Convention in the module's treaty data whose authorities run no node known here."""


def open_composer(page: Page, web_node: WebNode, kind: str, state: str) -> None:
    page.goto("/compose")
    page.get_by_label("Type of request").select_option(value=kind)
    page.get_by_label("Requested State").select_option(value=state)
    page.get_by_label("Case", exact=True).select_option(label=f"{web_node.case_reference} — {web_node.case_summary}")
    page.get_by_role("button", name="Continue").click()


def fill_required(page: Page) -> None:
    """Fill every required item of the type on the page, whatever its label."""
    for field in page.locator("textarea[name^='items.']").all():
        field.fill("Filled in for the exercise: the facts as the case file records them")


def test_a_budapest_request_between_non_parties_is_refused_by_check_and_send_alike(
    profiles: Profiles, web_node: WebNode
) -> None:
    page = profiles.new(OFFICER)
    open_composer(page, web_node, "budapest-ets185:mla", "FRA")
    basis = page.get_by_role("region", name="Legal basis")
    expect(basis).to_have_class(re.compile(r"\bbad\b"))
    expect(basis).to_contain_text("the Budapest Convention does not bind both Viet Nam (VNM) and France (FRA)")
    expect(basis).to_contain_text("Art 36(4)")
    expect(basis).to_contain_text("Hanoi Convention")  # what binds both instead
    expect(basis.get_by_role("listitem")).to_have_text(
        ["Viet Nam (VNM): not a Party (Budapest Convention)", "France (FRA): not a Party (Budapest Convention)"]
    )
    fill_required(page)

    page.get_by_role("button", name="Check").click()
    checked = page.get_by_role("alert")
    expect(checked).to_contain_text("the Budapest Convention is not a legal basis between VNM and FRA")
    expect(page.locator("#check-result")).to_have_count(0)  # never "Ready" when Send would refuse

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(re.compile(r"/compose$"))  # nothing saved, nothing sent
    expect(page.get_by_role("alert")).to_contain_text("the Budapest Convention is not a legal basis between VNM")


def test_a_request_no_node_can_carry_is_never_reported_as_sent(profiles: Profiles, web_node: WebNode) -> None:
    page = profiles.new(OFFICER)
    open_composer(page, web_node, "uncc-2024:mla", BOUND_WITHOUT_NODE)
    basis = page.get_by_role("region", name="Legal basis")
    expect(basis).to_have_class(re.compile(r"\bok\b"))
    expect(basis).to_contain_text("the Hanoi Convention binds both Viet Nam (VNM) and Kenya (KEN)")
    fill_required(page)

    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("alert")).to_contain_text("no active node of KEN (Kenya) is in this node's directory")
    expect(page.locator("#check-result")).to_have_count(0)

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("no active node of KEN (Kenya)")
    expect(page.get_by_text("The request is sent.", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Save as draft").click()  # kept as a draft, which says what stops it
    expect(page).to_have_url(re.compile(r"/requests/[0-9a-f-]+\?done=draft"))
    expect(page.get_by_text("no active node of KEN (Kenya)")).to_be_visible()
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text(re.compile(r"not sent: no active node of KEN"))).to_be_visible()
    expect(page.get_by_text("The request is sent.", exact=True)).to_have_count(0)


def test_an_emergency_type_carries_the_emergency_mark_without_a_box(profiles: Profiles, web_node: WebNode) -> None:
    page = profiles.new(OFFICER)
    open_composer(page, web_node, "uncc-2024:emergency", BOUND_WITHOUT_NODE)
    expect(page.locator("#emergency-always")).to_contain_text("every Emergency request is an emergency")
    expect(page.locator("input[name=emergency]")).to_have_count(0)  # no box to forget
    fill_required(page)
    page.get_by_role("button", name="Save as draft").click()
    expect(page).to_have_url(re.compile(r"/requests/[0-9a-f-]+\?done=draft"))
    page.goto("/inbox")
    row = page.get_by_role("row").filter(has_text="Emergency").first
    expect(row).to_contain_text(re.compile(r"emergency", re.IGNORECASE))
    expect(row.locator(".emergency")).to_have_count(1)
