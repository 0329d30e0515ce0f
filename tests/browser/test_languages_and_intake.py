"""The web UI in every language it offers, and requests that come and go off the network, in a real browser.

- Each main page in Arabic, Chinese, English, French, Russian, Spanish and Vietnamese: the page says its language
  (``dir="rtl"`` for Arabic) and shows no string of the interface left in English (screenshots kept).
- A request received as a hanoinet PDF (France's node signed it) is registered from the intake page: its signature
  checked, every item read from it.
- A request received on paper is typed in by hand, checked against the instrument, and registered.
- A draft is sent by e-mail: the page says it went by e-mail and is not confirmed as delivered.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import expect

from hanoinet.platform import web as pages
from tests.browser.conftest import OFFICER, REQUESTED_NODE, REQUESTED_STATE, Profiles, WebNode, screenshot
from tests.e2e.conftest import HANOINET, clean_env
from tests.factories import complete_items

LOCALE = Path(pages.__file__).resolve().parents[1] / "locale"
MAIN_PAGES = ("/inbox", "/compose", "/intake", "/cases", "/treaty", "/directory", "/account")
"""The pages of a duty officer's menu (statistics are not theirs), and the composer and intake forms."""
BROWSER_LOCALES = {"ar": "ar", "zh": "zh-CN", "en": "en-GB", "fr": "fr-FR", "ru": "ru-RU", "es": "es-ES", "vi": "vi-VN"}

VISIBLE_TEXTS = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest('script, style, code, textarea, option')) continue;
    const text = node.textContent.trim();
    if (text) found.push(text);
  }
  for (const el of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
    for (const name of ['aria-label', 'placeholder', 'title']) {
      const value = el.getAttribute(name);
      if (value) found.push(value.trim());
    }
  }
  return found;
}"""


def english_ui_strings(language: str) -> set[str]:
    """The interface's English strings that the language's catalogue translates differently: any of them seen
    whole on a page in that language is an untranslated message."""
    with (LOCALE / language / "LC_MESSAGES" / "hanoinet.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    return {
        m.id
        for m in catalog
        if isinstance(m.id, str) and m.id and "%" not in m.id and m.string and m.string != m.id and len(m.id) > 2
    }


@pytest.mark.parametrize("language", pages.LANGUAGES)
def test_every_main_page_is_in_the_language_asked_for(profiles: Profiles, language: str) -> None:
    profiles.new(OFFICER)  # signed in once, in English (the sign-in form's labels); the session serves every language
    page = profiles.new(OFFICER, locale=BROWSER_LOCALES[language])
    english = english_ui_strings(language) if language != "en" else set()
    for path in MAIN_PAGES:
        response = page.goto(path)
        assert response is not None
        assert response.status == 200, path
        html = page.locator("html")
        expect(html).to_have_attribute("lang", language)
        expect(html).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
        seen = set(page.evaluate(VISIBLE_TEXTS))
        left = sorted(seen & english)
        assert left == [], f"{language} {path}: untranslated {left[:10]}"
    page.goto("/compose")
    screenshot(page, f"compose-{language}")


def france(web_node: WebNode, *args: str, stdin: str | None = None) -> str:
    """A command at France's node (its data directory beside the node under test's)."""
    data_dir = web_node.data_dir.parent / REQUESTED_NODE
    env = clean_env(data_dir, HANOINET_NODE_STATE=REQUESTED_STATE, HANOINET_ACTOR="Officier Dupont")
    done = subprocess.run([HANOINET, *args], env=env, input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_request_received_as_a_hanoinet_pdf_is_registered_with_every_item(
    profiles: Profiles, web_node: WebNode, tmp_path: Path
) -> None:
    items = complete_items("uncc-2024", "preservation")
    items["necessity"] = "Les journaux sont effacés après sept jours : sans conservation, ils seront perdus."
    items_file = tmp_path / "items.json"
    items_file.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    france(web_node, "case", "new", "--reference", "PARIS-2027-7", "--offence", "illegal_access", "--summary", "x")
    created = json.loads(
        france(
            web_node,
            *("request", "new", "--case", "PARIS-2027-7", "--type", "preservation", "--to", "VNM"),
            *("--from", REQUESTED_STATE, "--items-file", str(items_file), "--language", "fr", "--json"),
        )
    )
    pdf = tmp_path / "demande.pdf"
    france(web_node, "document", "pdf", created["id"], "-o", str(pdf), "--to-language", "vi")

    page = profiles.new(OFFICER)
    page.goto("/intake")
    page.get_by_label("The document received (PDF)").set_input_files(str(pdf))
    page.get_by_label("From whom (optional)").fill("Ministère de la Justice, Paris")
    page.get_by_role("button", name="Check and register").click()
    expect(page).to_have_url(re.compile(rf"/requests/{created['id']}"))
    expect(page.get_by_role("status")).to_contain_text("registered from its signed document")
    expect(page.locator("#request-means")).to_contain_text("e-mail")
    expect(page.locator("#request-means")).to_contain_text("no receipt confirms delivery")
    for text in items.values():
        expect(page.get_by_text(text, exact=True)).to_be_visible()
    screenshot(page, "intake-registered")


def test_a_document_that_does_not_verify_is_refused_and_the_form_says_why(profiles: Profiles, tmp_path: Path) -> None:
    fake = tmp_path / "not-a-request.pdf"
    fake.write_bytes(b"%PDF-1.4\n% a scanned letter\n")
    page = profiles.new(OFFICER)
    page.goto("/intake")
    page.get_by_label("The document received (PDF)").set_input_files(str(fake))
    page.get_by_role("button", name="Check and register").click()
    problems = page.locator("#intake-problems")
    expect(problems).to_contain_text("Not registered")
    expect(problems.get_by_role("link", name="Enter a received request by hand")).to_be_visible()


def test_a_request_received_on_paper_is_typed_in_and_registered(
    profiles: Profiles, web_node: WebNode, tmp_path: Path
) -> None:
    """Typed in from a scanned letter, which is kept in the vault with the request: the page links to it, with its
    SHA-256, and the custody says who received it and how."""
    scan = tmp_path / "letter-from-the-embassy.pdf"
    scan.write_bytes(b"%PDF-1.4 a scanned letter, not a hanoinet document\n%%EOF\n")
    page = profiles.new(OFFICER)
    page.goto("/compose?incoming=1")
    expect(page.locator("#incoming-mode")).to_be_visible()
    page.get_by_label("Type of request").select_option(label="Preservation (Art 42)")
    page.get_by_label("Requesting State").select_option(REQUESTED_STATE)
    case_label = f"{web_node.case_reference} — {web_node.case_summary[:60]}"
    page.get_by_label("Case", exact=True).select_option(label=case_label)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("How it came").select_option("diplomatic")
    page.get_by_label("From whom (optional)").fill("Embassy of Thailand, Hà Nội")
    page.get_by_label("The document received (optional)").set_input_files(str(scan))
    for item, text in complete_items("uncc-2024", "preservation").items():
        page.locator(f"#item-{item}").fill(text)
    page.get_by_role("button", name="Register as received").click()
    expect(page.get_by_role("status")).to_contain_text("registered")
    expect(page.locator("#request-means")).to_contain_text("diplomatic channel")
    expect(page.locator("#request-state")).to_have_text("received")
    kept = page.locator("#kept-documents")
    expect(kept).to_contain_text("letter-from-the-embassy.pdf")
    expect(kept).to_contain_text("Embassy of Thailand, Hà Nội")
    expect(kept).to_contain_text(hashlib.sha256(scan.read_bytes()).hexdigest()[:16])
    screenshot(page, "intake-by-hand")


def test_a_draft_sent_by_e_mail_says_so_and_is_never_shown_as_delivered(profiles: Profiles, web_node: WebNode) -> None:
    page = profiles.new(OFFICER)
    page.goto(f"/compose?kind=uncc-2024:preservation&requested_state={REQUESTED_STATE}&case={web_node.case_reference}")
    for item, text in complete_items("uncc-2024", "preservation").items():
        page.locator(f"#item-{item}").fill(text)
    page.get_by_role("button", name="Save as draft").click()
    expect(page.get_by_role("status")).to_contain_text("draft is saved")
    form = page.locator("#send-off-network")
    form.get_by_label("How").select_option("email")
    form.get_by_label("To whom").fill("entraide@justice.gouv.fr")
    form.get_by_role("button", name="Record as sent").click()
    expect(page.get_by_role("status")).to_contain_text("Nothing will confirm that it arrived")
    expect(page.locator("#request-state")).to_have_text("sent")
    expect(page.locator(".off-network").first).to_contain_text("entraide@justice.gouv.fr")
    expect(page.locator(".off-network").first).to_contain_text("not confirmed as delivered")
    expect(page.get_by_text("delivered", exact=False).filter(has_not_text="not confirmed")).to_have_count(0)
    screenshot(page, "sent-by-email")
