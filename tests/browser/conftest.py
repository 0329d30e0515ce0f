"""Browser fixtures: one real ``hanoinet serve`` node per module, set up at its command line, and one headless
Chromium (Debian's ``chromium`` package, driven by Playwright's sync API — no browser is ever downloaded).

Every page a test opens is watched: a console error, an uncaught script error, a Content-Security-Policy violation
or a failed sub-resource (script, style) fails the test, unless it is the expected error status of the page itself
(a 401 after a wrong password, a 403 refusal, a 422 form with problems).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    StorageState,
    expect,
    sync_playwright,
)

from tests.e2e.conftest import (
    HANOINET,
    Server,
    add_peer,
    check_response,
    clean_env,
    peer_entry,
    start_server,
    stop_server,
)
from tests.factories import UN_PARTIES, deposits_csv, reference

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "lotus-blossom-harbour-2026"  # noqa: S105 - exercise accounts on a throwaway node
ACTOR = "Officer Nguyễn Văn Bình"
REQUESTED_STATE = "FRA"
"""A Party to the Hanoi Convention in the deposits the node imports, as Viet Nam (the node's State) is, with a node in
the directory (``REQUESTED_NODE``)."""
REQUESTED_NODE = "fra-test"
"""France's node (central authority and 24/7 point of contact), known only by the signed entry its operator
exported: requests sent to France go to it and wait in the outbox, since nothing listens where it says it does."""
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline"));
});
"""
"""Installed in every page before its own scripts: a CSP violation is reported on the console, where it fails the
test (Chromium reports most violations there too; this catches the rest)."""

expect.set_options(timeout=10_000)


def chromium_executable() -> str:
    """The system Chromium: ``$HANOINET_CHROMIUM``, else ``chromium`` on the PATH. Never a downloaded browser."""
    given = os.environ.get("HANOINET_CHROMIUM")
    if given:
        if not Path(given).is_file():
            pytest.fail(f"HANOINET_CHROMIUM={given}: no such file")
        return given
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "the browser tests need Debian's Chromium: install it with `sudo apt-get install chromium` "
            "(or `make system-deps`), or point HANOINET_CHROMIUM at a Chromium executable"
        )
    return found


@dataclass(frozen=True)
class Account:
    username: str
    display_name: str
    role: str
    password: str = PASSWORD


OFFICER = Account("an", "Trần Văn An", "duty_officer")
AUDITOR = Account("kim", "Lê Thị Kim", "auditor")
ACCOUNTS = (OFFICER, AUDITOR)


@dataclass(frozen=True)
class WebNode:
    """A running node with what the scenarios need: accounts, a case, the treaty in force, one evidence item."""

    server: Server
    data_dir: Path
    case_reference: str
    case_summary: str
    evidence_id: str
    exhibit: str

    @property
    def base_url(self) -> str:
        return self.server.base_url


Command = tuple[tuple[str, ...], str | None]
"""A ``hanoinet`` command line and what it reads on its standard input."""


def cli(data_dir: Path, *commands: Command) -> list[str]:
    """Run ``hanoinet`` commands on the node's data directory side by side (each is a process that spends most of
    its time starting up); their standard outputs, in order. Each must succeed."""
    env = clean_env(data_dir, HANOINET_ACTOR=ACTOR, HANOINET_ROLES="investigator", COLUMNS="200")
    running = [
        (args, subprocess.Popen(
            [HANOINET, *args], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ), stdin)
        for args, stdin in commands
    ]  # fmt: skip
    outputs = []
    for args, process, stdin in running:
        stdout, stderr = process.communicate(stdin, timeout=120)
        assert process.returncode == 0, f"hanoinet {' '.join(args)}:\n{stdout}\n{stderr}"
        outputs.append(stdout)
    return outputs


@pytest.fixture(scope="module")
def web_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebNode]:
    """A node on SQLite whose treaty data make the Hanoi Convention bind Viet Nam and France today, with a duty
    officer and an auditor account, a case, and an evidence item only prosecutors may open — all made at its
    command line, as an operator would — and France's node in its directory (imported through the API)."""
    base = tmp_path_factory.mktemp("browser")
    data_dir = base / "data"
    case_reference = reference("LOTUS")
    case_summary = "Ransomware attack on a hospital in Hà Nội"
    new_case = ("case", "new", "--reference", case_reference, "--offence", "system_interference")
    cli(data_dir, ((*new_case, "--summary", case_summary, "--max-penalty", "10"), None))  # creates the node

    deposits = base / "deposits.csv"
    deposits.write_text(deposits_csv([*UN_PARTIES, REQUESTED_STATE]), encoding="utf-8")
    image = base / "disk.img"
    image.write_bytes(b"hospital server image\n" * 1000)
    acquired = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    exhibit = "EX-1"
    ingest = (
        *("evidence", "ingest", str(image), "--case", case_reference, "--exhibit", exhibit),
        *("--source", "server HN-DB-01 of Bạch Mai hospital", "--method", "physical image"),
        *("--acquired-by", ACTOR, "--acquired-at", acquired, "--allow-role", "prosecutor", "--json"),
    )
    users: list[Command] = [
        (("user", "add", a.username, "--role", a.role, "--name", a.display_name, "--password-stdin"), a.password + "\n")
        for a in ACCOUNTS
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the node starts serving while the rest is set up
        starting = pool.submit(start_server, data_dir, "sqlite")
        france = pool.submit(peer_entry, base, REQUESTED_STATE)
        try:
            *_, ingested = cli(data_dir, (("treaty", "import", str(deposits)), None), *users, (ingest, None))
            server = starting.result()
            with httpx.Client(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {server.token}"},
                event_hooks={"response": [check_response]},
            ) as api:
                assert add_peer(api, france.result()) == REQUESTED_NODE
        except BaseException:
            stop_server(starting.result())
            raise
    item_id = str(json.loads(ingested)["id"])
    yield WebNode(server, data_dir, case_reference, case_summary, item_id, exhibit)
    stop_server(server)
    assert "Traceback" not in server.log_text(), server.log_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """What went wrong in a page's console and network, for the test to fail on."""

    problems: list[str] = field(default_factory=list)
    document_errors: set[str] = field(default_factory=set)
    """URLs of pages answered with an error status on purpose (401, 403, 422): their console line is expected."""

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        if message.text.startswith("Failed to load resource") and url in self.document_errors:
            return
        self.problems.append(f"console error: {message.text} ({url})")

    def response(self, response: Response) -> None:
        if response.status < 400:
            return
        if response.request.resource_type == "document":
            self.document_errors.add(response.url)
        else:
            self.problems.append(f"{response.request.resource_type} {response.url}: HTTP {response.status}")

    def page_error(self, error: Any) -> None:
        self.problems.append(f"uncaught script error: {error}")


@pytest.fixture(scope="module")
def sessions() -> dict[str, StorageState]:
    """The browser state (session cookie) of each account once it has signed in through the form in this module:
    later tests start signed in, so that each password is checked once (Argon2 is slow on purpose)."""
    return {}


class Profiles:
    """Browser profiles on the node, each a fresh context (its own cookies), light colour scheme, English, with
    every page watched for console errors, script errors, CSP violations and failed resources."""

    def __init__(self, browser: Browser, base_url: str, watch: Watch, sessions: dict[str, StorageState]) -> None:
        self.browser = browser
        self.base_url = base_url
        self.watch = watch
        self.sessions = sessions
        self.contexts: list[BrowserContext] = []

    def new(self, account: Account | None = None, *, locale: str = "en-GB") -> Page:
        """A page in a new profile: signed out, or signed in as ``account``; its browser asks for ``locale``."""
        known = self.sessions.get(account.username) if account else None
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": 1280, "height": 900},
            locale=locale,
            color_scheme="light",
            storage_state=known,
        )
        self.contexts.append(context)
        context.add_init_script(CSP_WATCH)
        context.on("page", self._watch_page)
        page = context.new_page()
        if account is not None and known is None:
            sign_in(page, account)
            self.sessions[account.username] = context.storage_state()
        return page

    def _watch_page(self, page: Page) -> None:
        page.on("console", self.watch.console)
        page.on("response", self.watch.response)
        page.on("pageerror", self.watch.page_error)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def profiles(
    browser: Browser, web_node: WebNode, watch: Watch, sessions: dict[str, StorageState]
) -> Iterator[Profiles]:
    """New browser profiles for the test; after it, no page may have shown a console error or a CSP violation."""
    made = Profiles(browser, web_node.base_url, watch, sessions)
    yield made
    made.close()
    assert not watch.problems, "\n".join(watch.problems)


@pytest.fixture
def page(profiles: Profiles) -> Page:
    """A page in a new, signed-out profile."""
    return profiles.new()


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG under ``screenshots/`` at the repository's root (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, account: Account) -> None:
    """Sign in through the form, as a person does; the header then names them."""
    page.goto("/login")
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=account.display_name)).to_be_visible()
