"""The web UI speaks through gettext: no literal English in the templates, an up-to-date .pot, catalogues that
really reach the page, and the page's language taken from the browser among the languages with a catalogue."""

from __future__ import annotations

import gettext
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes
from starlette.requests import Request

from hanoinet.assets.domain import ASSET_KIND_LABELS, MEASURE_LABELS, RECIPIENT_LABELS
from hanoinet.platform import web as pages
from hanoinet.platform.catalogues import catalogue_status, status_of
from hanoinet.platform.errors import ValidationFailed
from hanoinet.platform.events import Channel
from hanoinet.platform.security import Caller
from hanoinet.platform.web import LANGUAGES
from hanoinet.requests import web as request_pages
from hanoinet.requests.domain import Direction

ROOT = Path(__file__).resolve().parents[2]
BABEL_CFG = ROOT / "babel.cfg"
LOCALE = ROOT / "src" / "hanoinet" / "locale"
POT = LOCALE / "hanoinet.pot"
RUN = "run `make messages`"

NOT_WORDS = frozenset({
    "hanoinet",  # the product's name, the same in every language
    "VNM",  # placeholder of the inbox's State filter: an ISO 3166 alpha-3 code, the format the field takes
    "2026-12-24T18:00Z",  # placeholder of the composer's deadline: the ISO 8601 format the field takes
    "SHA-256",  # the name of the hash function, the same in every language
})  # fmt: skip
"""Literal tokens with letters that are not English: what the templates may show without gettext."""

ANNOUNCED = frozenset({
    "alt", "title", "placeholder", "label", "aria-label", "aria-description", "aria-roledescription",
    "aria-placeholder", "aria-valuetext",
    "data-confirm",  # hanoinet.js shows it in the confirmation dialog
})  # fmt: skip
"""Attributes whose values people read or screen readers announce (plus a button input's ``value``)."""

HOLE = "\ue000"
"""Stands for an expression's output in the literal text rebuilt from a template (a private-use character)."""

PUNCTUATION = "()[]{}.,;:!?|/\"'«»·\u2014\u2013-"

GETTEXT = frozenset({"_", "gettext", "ngettext", "pgettext", "npgettext"})

DYNAMIC_MSGIDS = {
    ("case.html", "r.direction.value"): "the values of Direction",
    ("inbox.html", "r.direction.value"): "the values of Direction",
    ("request.html", "r.direction.value"): "the values of Direction",
    ("inbox.html", "label"): "the labels of requests.DUE_FILTERS",
    ("asset.html", "kinds[asset.kind]"): "assets.ASSET_KIND_LABELS",
    ("assets.html", "kinds[a.kind]"): "assets.ASSET_KIND_LABELS",
    ("asset.html", "label"): "assets.MEASURE_LABELS and RECIPIENT_LABELS (the measure and recipient menus)",
    ("assets.html", "label"): "assets.ASSET_KIND_LABELS (the kind menu)",
    ("asset.html", "measures[m.kind]"): "assets.MEASURE_LABELS",
    ("asset.html", "recipients[m.recipient]"): "assets.RECIPIENT_LABELS",
    ("statistics.html", "measure_labels[f.measure]"): "assets.MEASURE_LABELS",
    ("statistics.html", "recipient_labels[f.recipient]"): "assets.RECIPIENT_LABELS",
}
"""Template calls of gettext with a variable (extraction cannot see those msgids) and where their values live:
each must be marked for extraction where it is defined (``N_("…")``) — see test_runtime_msgids_are_in_the_pot."""


# --- 1. Every visible string of every template goes through gettext ------------------------------------------------


def _literals(expr: nodes.Node) -> list[str]:
    """The string constants an expression may output as they are (``{{ 'x' if a else b }}``), not via a call."""
    if isinstance(expr, nodes.Const):
        return [expr.value] if isinstance(expr.value, str) else []
    if isinstance(expr, nodes.CondExpr):
        return _literals(expr.expr1) + (_literals(expr.expr2) if expr.expr2 is not None else [])
    if isinstance(expr, nodes.Or | nodes.And):
        return _literals(expr.left) + _literals(expr.right)
    if isinstance(expr, nodes.Concat):
        return [text for part in expr.nodes for text in _literals(part)]
    return []


def _pieces(node: nodes.Node) -> Iterator[tuple[int, str]]:
    """The template's output in source order: its literal text, and a HOLE (with any literal) per expression."""
    if isinstance(node, nodes.Output):
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                yield child.lineno, child.data
            else:
                yield child.lineno, HOLE + " ".join(_literals(child)) + HOLE
        return
    for inner in node.iter_child_nodes():
        yield from _pieces(inner)


def _english(text: str) -> bool:
    """Whether text shown as it is contains a word: a token with a letter that is not in NOT_WORDS."""
    for token in text.replace(HOLE, " ").split():
        word = token.strip(PUNCTUATION)
        if word not in NOT_WORDS and any(c.isalpha() for c in word):
            return True
    return False


class _Literal(HTMLParser):
    """Reads the HTML rebuilt from a template's pieces; notes text and announced attributes written in English."""

    def __init__(self, name: str, pieces: list[tuple[int, str]]) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.html = "".join(text for _, text in pieces)
        self.starts: list[int] = []
        self.lines: list[int] = []
        offset = 0
        for lineno, text in pieces:
            self.starts.append(offset)
            self.lines.append(lineno)
            offset += len(text)
        self.line_offsets = [0] + [m.end() for m in re.finditer("\n", self.html)]
        self.raw = ""  # inside <script> or <style>
        self.found: list[str] = []

    def _line(self, offset: int) -> int:
        """The template line of a character of the rebuilt HTML."""
        piece = bisect_right(self.starts, offset) - 1
        return self.lines[piece] + self.html.count("\n", self.starts[piece], offset)

    def _here(self) -> int:
        line, column = self.getpos()
        return self.line_offsets[line - 1] + column

    def _report(self, offset: int, what: str) -> None:
        self.found.append(f"{self.name}:{self._line(offset)}: {what}")

    def handle_data(self, data: str) -> None:
        if self.raw or not _english(data):
            return
        start = self._here()
        lead = len(data) - len(data.lstrip())
        self._report(start + lead, '"' + " ".join(data.replace(HOLE, " ").split()) + '"')

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self.raw = tag
        start, text = self._here(), self.get_starttag_text() or ""
        button = dict(attrs).get("type") in {"submit", "button", "reset"}
        for attr, value in attrs:
            if value is None or not (attr in ANNOUNCED or (attr == "value" and tag == "input" and button)):
                continue
            if _english(value):
                at = text.find(f"{attr}=")
                self._report(start + max(at, 0), f'{attr}="{value.replace(HOLE, "")}" in <{tag}>')

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw:
            self.raw = ""


def literal_english(env: Environment, source: str, name: str) -> list[str]:
    """Each text a template shows, and each announced attribute it sets, in English instead of via gettext."""
    parser = _Literal(name, list(_pieces(env.parse(source, name))))
    parser.feed(parser.html)
    parser.close()
    return parser.found


def _templates() -> list[str]:
    names = [name for name in pages.environment("en").list_templates() if name.endswith(".html")]
    assert len(names) >= 10
    return names


def _source(env: Environment, name: str) -> str:
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


def test_every_visible_template_string_goes_through_gettext() -> None:
    env = pages.environment("en")
    found = [spot for name in _templates() for spot in literal_english(env, _source(env, name), name)]
    assert found == [], "literal English in the templates: wrap each in {{ _('…') }}\n" + "\n".join(found)


def test_the_check_catches_literal_text_and_attributes() -> None:
    source = (
        '<p class="lead">Hello {{ name }}</p>\n'
        "<title>{{ _('Inbox') }} — hanoinet</title>\n"
        '<input placeholder="Your name" value="x">\n'
        "<nav aria-label=\"{{ _('Main') }}\"><a title='Go home' href=\"/\">{{ 'Start' if a else _('End') }}</a></nav>\n"
        '<input type="submit" value="Send"><img alt="">\n'
        "<script>var words = 'not shown';</script><!-- a comment -->\n"
        '<span class="{{ level or \'ok\' }}">{% if a %}Yes{% endif %}</span> <input placeholder="VNM">\n'
    )
    assert literal_english(pages.environment("en"), source, "t.html") == [
        't.html:1: "Hello"',
        't.html:3: placeholder="Your name" in <input>',
        't.html:4: title="Go home" in <a>',
        't.html:4: "Start"',
        't.html:5: value="Send" in <input>',
        't.html:7: "Yes"',
    ]


def _dotted(expr: nodes.Node) -> str:
    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Getattr):
        return f"{_dotted(expr.node)}.{expr.attr}"
    if isinstance(expr, nodes.Getitem):
        return f"{_dotted(expr.node)}[{_dotted(expr.arg)}]"
    return type(expr).__name__


def test_gettext_with_a_variable_is_known() -> None:
    env = pages.environment("en")
    dynamic = set()
    for name in _templates():
        for call in env.parse(_source(env, name), name).find_all(nodes.Call):
            called = call.node.name if isinstance(call.node, nodes.Name) else ""
            if called in GETTEXT and call.args and not isinstance(call.args[0], nodes.Const):
                dynamic.add((name, _dotted(call.args[0])))
    unknown = sorted(f"{name}: _({expr})" for name, expr in dynamic - DYNAMIC_MSGIDS.keys())
    assert unknown == [], (
        "gettext of a variable, whose msgids extraction cannot see: mark its values with N_() where they are "
        "defined, check them in test_runtime_msgids_are_in_the_pot and list the call in DYNAMIC_MSGIDS\n"
        + "\n".join(unknown)
    )


# --- 2. The .pot holds what the code and the templates ask for -----------------------------------------------------

MessageKey = tuple[str | None, str]  # (context, msgid)


@cache
def extracted() -> dict[MessageKey, str]:
    """Extract as `make messages` does, in-process: each msgid (with its context) and the first file using it."""
    with BABEL_CFG.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(BABEL_CFG))  # type: ignore[no-untyped-call]
    found: dict[MessageKey, str] = {}

    def under_src(path: str) -> bool:  # every pattern is under src/: no need to walk the rest of the tree
        relative = Path(path).relative_to(ROOT)
        return relative.parts[0] == "src" and not relative.name.startswith((".", "_"))

    for filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS, directory_filter=under_src
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, msgid), filename)
    return found


def in_pot() -> set[MessageKey]:
    with POT.open("rb") as pot:
        catalog = read_po(pot)
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def test_the_pot_is_up_to_date() -> None:
    found, pot = extracted(), in_pot()
    assert len(found) >= 100
    assert any(f.endswith(".html") for f in found.values())
    missing = sorted(f"{found[key]}: {key[1]!r}" for key in found.keys() - pot)
    assert missing == [], f"strings missing from {POT.name}: {RUN}\n" + "\n".join(missing)
    stale = sorted(repr(key[1]) for key in pot - found.keys())
    assert stale == [], f"strings in {POT.name} that nothing uses any more: {RUN}\n" + "\n".join(stale)


def test_runtime_msgids_are_in_the_pot() -> None:
    """Strings the code hands to gettext from a table are extracted only where they are marked ``N_("…")``."""
    runtime = {
        **dict.fromkeys(pages.FLASH.values(), "pages.FLASH"),
        **dict.fromkeys(request_pages.DUE_FILTERS.values(), "requests.DUE_FILTERS"),
        **{direction.value: "Direction (_(r.direction.value) in templates)" for direction in Direction},
        **dict.fromkeys(ASSET_KIND_LABELS.values(), "assets.ASSET_KIND_LABELS"),
        **dict.fromkeys(MEASURE_LABELS.values(), "assets.MEASURE_LABELS"),
        **dict.fromkeys(RECIPIENT_LABELS.values(), "assets.RECIPIENT_LABELS"),
    }
    pot = {msgid for _context, msgid in in_pot()}
    missing = sorted(f"{where}: {text!r}" for text, where in runtime.items() if text not in pot)
    assert missing == [], f"mark these with N_() where they are defined, then {RUN}\n" + "\n".join(missing)


def test_template_msgids_format_with_newstyle_gettext() -> None:
    """Newstyle gettext always applies ``%``: a template string may hold only ``%(name)s`` and ``%%``."""
    bad = [
        f"{where}: {key[1]!r}"
        for key, where in extracted().items()
        if where.endswith(".html") and "%" in re.sub(r"%\(\w+\)s|%%", "", key[1])
    ]
    assert bad == []


@pytest.mark.parametrize("domain", ["hanoinet", "packs"])
def test_translated_catalogues_are_valid_and_compiled(domain: str) -> None:
    """Each translation: a language of the node, placeholders kept (Babel's checkers), and its .mo compiled from
    its .po."""
    for po_path in sorted(LOCALE.glob(f"*/LC_MESSAGES/{domain}.po")):
        language = po_path.parts[-3]
        assert language in pages.LANGUAGES, f"{language}: not one of the UN's six languages or Vietnamese"
        with po_path.open("rb") as po:
            catalog = read_po(po, locale=language)
        problems = [f"{m.id!r}: {e}" for m, errors in catalog.check() for e in errors]
        assert problems == [], f"{po_path}:\n" + "\n".join(problems)
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} missing: run `make translations`"
        with mo_path.open("rb") as mo:
            compiled = {m.id: m.string for m in read_mo(mo) if m.id}
        wanted = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
        assert compiled == wanted, f"{mo_path} is older than its .po: run `make translations`"


@pytest.mark.parametrize("domain", ["hanoinet", "packs"])
@pytest.mark.parametrize("language", [code for code in pages.LANGUAGES if code != "en"])
def test_every_message_is_translated_in_every_language(domain: str, language: str) -> None:
    """Complete catalogues: every string of the template (the UI's, or the packs' texts) has a reviewed-or-drafted
    translation in each language the node offers — none empty, none left fuzzy, none missing."""
    with (LOCALE / f"{domain}.pot").open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    po_path = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    assert po_path.exists(), f"{po_path} missing: see {LOCALE / 'README.md'}"
    with po_path.open("rb") as po:
        catalog = read_po(po, locale=language)
    done = {
        m.id
        for m in catalog
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple | list) else m.string)
    }
    untranslated = sorted(str(i) for i in template - done)
    assert untranslated == [], f"{len(untranslated)} untranslated in {po_path}: " + "; ".join(untranslated[:5])


# --- 3. A catalogue really reaches the page ------------------------------------------------------------------------


def pseudo(msgid: str) -> str:
    return f"⟦{msgid}⟧"


@pytest.fixture(scope="module")
def pseudo_localedir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A locale directory where French and Arabic are the .pot pseudo-translated: ``⟦msgid⟧``, placeholders kept."""
    localedir = tmp_path_factory.mktemp("locale")
    with POT.open("rb") as pot:
        template = read_po(pot)
    for language in ("fr", "ar"):
        catalog = Catalog(locale=language, domain="hanoinet")
        for message in template:
            if not message.id:
                continue
            ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
            string = tuple(pseudo(i) for i in ids) if len(ids) > 1 else pseudo(ids[0])
            catalog.add(message.id, string, context=message.context)
        target = localedir / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        with (target / "hanoinet.mo").open("wb") as mo:
            write_mo(mo, catalog)
    return localedir


def _catalogues(localedir: Path) -> Callable[[str], gettext.NullTranslations]:
    """pages.translations over another locale directory (not cached)."""

    def translations(language: str) -> gettext.NullTranslations:
        return gettext.translation("hanoinet", localedir=str(localedir), languages=[language], fallback=True)

    return translations


@pytest.fixture
def pseudo_pages(monkeypatch: pytest.MonkeyPatch, pseudo_localedir: Path) -> None:
    """For one test, pages load their catalogues from the pseudo locale directory, in environments built afresh:
    the module's cached environments and catalogues are left as they were."""
    monkeypatch.setattr(pages, "translations", _catalogues(pseudo_localedir))
    monkeypatch.setattr(pages, "environment", pages.environment.__wrapped__)


def _stub_request(headers: dict[str, str] | None = None, path: str = "/login", query: str = "") -> Request:
    """A request as render() reads it: headers, a node with a clock, and no one signed in."""
    node = SimpleNamespace(
        clock=SimpleNamespace(now=lambda: datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        name="Hanoi test node",
        node_state="VNM",
        identity=None,
    )
    request = Request({
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "app": SimpleNamespace(state=SimpleNamespace(node=node)),
        "state": {},
    })  # fmt: skip
    request.state.caller = Caller(None, Channel.WEB, "127.0.0.1")
    return request


@pytest.mark.usefixtures("pseudo_pages")
def test_a_catalogue_translates_the_page() -> None:
    env = pages.environment("fr")
    context = {"request": _stub_request(), "language": "fr", "now": datetime(2026, 3, 1, tzinfo=UTC), "next": "/"}
    html = env.get_template("login.html").render(context)
    for msgid in ("Sign in", "User name", "Password", "Skip to content"):
        assert f">{pseudo(msgid)}<" in html
        assert f">{msgid}<" not in html
    assert "<title>⟦Sign in⟧ — hanoinet" in html
    assert "⟦Accounts are created by this node" in html


@pytest.mark.usefixtures("pseudo_pages")
def test_placeholders_are_filled_and_escaped_in_translations() -> None:
    env = pages.environment("fr")
    page = env.from_string('{{ _("Draft the follow-up: %(label)s", label=label) }}|{{ _("%(n)s years", n=4) }}')
    assert page.render(label="Preservation <b>") == "⟦Draft the follow-up: Preservation &lt;b&gt;⟧|⟦4 years⟧"


@pytest.mark.parametrize(
    ("accept", "language"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("de-DE,ar;q=0.5", "ar"),  # German is not a UN language: the next one the browser takes
        ("ru, en;q=0.5", "en"),  # Russian has no catalogue yet
        ("zh-Hans", "en"),
        ("", "en"),
    ],
)
def test_the_language_is_the_browsers_first_with_a_catalogue(
    monkeypatch: pytest.MonkeyPatch, pseudo_localedir: Path, accept: str, language: str
) -> None:
    monkeypatch.setattr(pages, "translations", _catalogues(pseudo_localedir))
    request = _stub_request({"Accept-Language": accept})
    assert pages.language_of(request, Caller(None, Channel.WEB, "")) == language


@pytest.mark.usefixtures("pseudo_pages")
@pytest.mark.parametrize(("accept", "lang", "direction"), [("ar", "ar", "rtl"), ("fr", "fr", "ltr"), ("", "en", "ltr")])
def test_pages_render_in_the_chosen_language_and_direction(accept: str, lang: str, direction: str) -> None:
    response = pages.render(_stub_request({"Accept-Language": accept}), "login.html", {"next": "/", "username": ""})
    html = bytes(response.body).decode()
    assert f'<html lang="{lang}" dir="{direction}"' in html
    assert (">⟦Sign in⟧<" in html) is (lang != "en")


@pytest.mark.usefixtures("pseudo_pages")
def test_flash_messages_are_translated() -> None:
    request = _stub_request({"Accept-Language": "fr"}, query="done=sent")
    assert pages.flash(request) == {"flash": pseudo(pages.FLASH["sent"])}


# --- 4. An account's own language and time zone ----------------------------------------------------------------


def _signed_in_caller(language: str) -> Caller:
    session = SimpleNamespace(user=SimpleNamespace(language=language, time_zone="UTC"))
    return Caller(None, Channel.WEB, "127.0.0.1", session=session)  # type: ignore[arg-type]


@pytest.mark.parametrize(("chosen", "accept", "shown"), [("fr", "ar", "fr"), ("", "ar", "ar"), ("de", "ru", "ru")])
def test_an_accounts_chosen_language_comes_before_the_browsers(
    monkeypatch: pytest.MonkeyPatch, pseudo_localedir: Path, chosen: str, accept: str, shown: str
) -> None:
    monkeypatch.setattr(pages, "translations", _catalogues(pseudo_localedir))
    request = _stub_request({"Accept-Language": accept})
    expected = shown if shown in ("fr", "ar") else "en"  # the pseudo catalogues are French and Arabic only
    assert pages.language_of(request, _signed_in_caller(chosen)) == expected


def test_times_are_shown_in_the_accounts_time_zone_with_utc_beside_them() -> None:
    env = pages.environment("en")
    moment = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)
    template = env.from_string("{{ t|when }}")
    assert template.render(t=moment, user=None) == "2026-12-07 20:30 UTC"
    hanoi = template.render(t=moment, user=SimpleNamespace(time_zone="Asia/Ho_Chi_Minh"))
    assert hanoi == "2026-12-08 03:30 +07 (2026-12-07 20:30 UTC)"
    santiago = template.render(t=moment, user=SimpleNamespace(time_zone="America/Santiago"))
    assert santiago.startswith("2026-12-07 17:30 -03")
    assert template.render(t=moment, user=SimpleNamespace(time_zone="Mars/Olympus")) == "2026-12-07 20:30 UTC"


def test_every_catalogue_is_complete_and_a_draft_until_a_reviewer_signs_it() -> None:
    statuses = catalogue_status(LANGUAGES)
    assert {(s.language, s.domain) for s in statuses} == {
        (lang, domain) for lang in LANGUAGES if lang != "en" for domain in ("hanoinet", "packs")
    }
    for s in statuses:
        assert s.complete, (s.language, s.domain, s.translated, s.messages)
        assert s.messages > 100
        assert s.reviewed_by is None, "no sworn translator has reviewed these drafts yet"


def test_a_reviewers_name_and_a_gap_are_what_the_status_reports() -> None:
    template = Catalog()
    for text in ("Inbox", "Send", "Refuse"):
        template.add(text)
    catalog = Catalog(locale="fr", last_translator="Jeanne Roux, traductrice jurée <jr@example.org>")
    catalog.add("Inbox", "Boîte de réception")
    catalog.add("Send", "Envoyer", flags=("fuzzy",))  # not compiled: not translated
    catalog.add("Refuse", "")
    status = status_of(template, catalog, "fr", "hanoinet")
    assert (status.translated, status.messages, status.complete) == (1, 3, False)
    assert status.reviewed_by == "Jeanne Roux, traductrice jurée <jr@example.org>"
    assert round(status.coverage, 3) == 0.333
    draft = Catalog(locale="fr", last_translator="hanoinet draft (not reviewed by a sworn translator)")
    assert status_of(template, draft, "fr", "hanoinet").reviewed_by is None


def test_a_deadline_typed_in_the_accounts_zone_is_kept_in_utc() -> None:
    hanoi = pages.local_moment("2026-12-24T18:00", "Asia/Ho_Chi_Minh", "deadline")
    assert hanoi is not None
    assert hanoi.astimezone(UTC) == datetime(2026, 12, 24, 11, 0, tzinfo=UTC)
    assert pages.local_input(hanoi, "Asia/Ho_Chi_Minh") == "2026-12-24T18:00"
    assert pages.local_input(hanoi, "Europe/Paris") == "2026-12-24T12:00"
    given = pages.local_moment("2026-12-24T18:00Z", "Asia/Ho_Chi_Minh", "deadline")
    assert given == datetime(2026, 12, 24, 18, 0, tzinfo=UTC)  # an explicit offset wins over the account's zone
    assert pages.local_moment("  ", "UTC", "deadline") is None
    with pytest.raises(ValidationFailed) as skipped:  # 02:30 never happens in New York on that night
        pages.local_moment("2027-03-14T02:30", "America/New_York", "deadline")
    assert skipped.value.issues[0].field == "deadline"
    assert "does not exist in America/New_York" in skipped.value.issues[0].message
    with pytest.raises(ValidationFailed, match="is not a date and time"):
        pages.local_moment("24/12/2026 18h", "UTC", "deadline")


def test_a_validation_message_is_shown_in_the_readers_language_with_the_packs_words() -> None:
    from hanoinet.cases.domain import Case  # noqa: PLC0415
    from hanoinet.requests.domain import check_contents  # noqa: PLC0415
    from hanoinet.rules.loader import load_builtin_packs  # noqa: PLC0415
    from hanoinet.rules.texts import translated  # noqa: PLC0415

    pack = load_builtin_packs()["uncc-2024"]
    rtype = pack.request_type("preservation")
    assert rtype is not None
    now = datetime(2027, 3, 1, tzinfo=UTC)
    case = Case("c1", "HN-1", "illegal_access", 7, "Intrusion", "", now)
    found = check_contents(
        pack, rtype, items={}, case=case, emergency=False, requesting_state="VNM", requested_state="EGY",
        deadline=None, now=now,
    )  # fmt: skip
    missing = next(i for i in found if i.field == "items.necessity")
    assert missing.message == "the necessity of the preservation is missing"  # the API's and the CLI's English
    label_fr = translated(pack, "fr").request_type("preservation").item("necessity").label  # type: ignore[union-attr]
    assert pages.issue_text(missing, "fr") == pages.translations("fr").gettext("%(label)s is missing") % {
        "label": label_fr
    }
    assert label_fr in pages.issue_text(missing, "fr")
    assert label_fr != "the necessity of the preservation"
    for language in LANGUAGES:
        shown = pages.issue_text(missing, language)
        assert shown
        assert "%(" not in shown
