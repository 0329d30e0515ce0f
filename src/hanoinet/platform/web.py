"""What every page shares: the template environment (autoescaped, gettext), the common context, rendering."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal, format_percent
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape

from hanoinet import __version__
from hanoinet.platform.errors import N_, Issue, ValidationFailed
from hanoinet.platform.events import Actor
from hanoinet.platform.permissions import Permission, Principal, permissions_of
from hanoinet.platform.security import CSRF_FIELD, Caller, Unauthenticated, identify

if TYPE_CHECKING:
    from hanoinet.app.node import Node

LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar", "vi")
"""The six UN languages; English is the source, the others follow as their catalogues are translated."""
RTL = frozenset({"ar"})


def issue_text(issue: Issue, language: str) -> str:
    """An issue's message in ``language``: its template from the UI's catalogue, filled with its values, each a
    pack's text (an item's label, an instrument's title) in the packs' catalogue where it is one; the English
    message when the issue has no template or its translation does not fit its values."""
    if not issue.template or language == "en":
        return issue.message
    packs = translations(language, "packs")
    values = {key: packs.gettext(value) if value else value for key, value in issue.params}
    try:
        return translations(language).gettext(issue.template) % values
    except (KeyError, ValueError, TypeError):
        return issue.message


DIRECTIONS = (N_("incoming"), N_("outgoing"))
"""Direction's values, shown translated (``_(r.direction.value)``): marked here so that extraction sees them."""


@lru_cache(maxsize=4 * len(LANGUAGES))
def translations(language: str, domain: str = "hanoinet") -> gettext.NullTranslations:
    """A catalogue for a language (``locale/<lang>/LC_MESSAGES/<domain>.mo``: ``hanoinet`` the UI's strings,
    ``packs`` the rule packs' texts), or the English source strings."""
    localedir = str(resources.files("hanoinet") / "locale")
    return gettext.translation(domain, localedir=localedir, languages=[language], fallback=True)


@lru_cache(maxsize=len(LANGUAGES))
def _country_names(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


def state_name_in(node: Node, code: str, language: str) -> str:
    """A State's name in ``language``: ISO 3166 names as pycountry's catalogues translate them (the node's own
    catalogue's name in English, and for codes ISO 3166 does not have, such as organizations)."""
    try:
        name = node.catalog.name(code)
    except KeyError:
        return code
    country = pycountry.countries.get(alpha_3=code)
    if country is None or language == "en":
        return name
    return _country_names(language).gettext(str(country.name))


def language_of(request: Request, caller: Caller) -> str:
    """The page's language: the one the signed-in account chose, else the browser's first language of the node
    that has a catalogue, else English."""
    chosen = getattr(caller.session.user, "language", "") if caller.session is not None else ""
    if chosen in LANGUAGES and (chosen == "en" or isinstance(translations(chosen), gettext.GNUTranslations)):
        return str(chosen)
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES and (code == "en" or isinstance(translations(code), gettext.GNUTranslations)):
            return code
    return "en"


def page_language(request: Request) -> str:
    """The language the page for this request is shown in (``language_of`` for its caller)."""
    return language_of(request, identify(request))


def language_names(language: str) -> list[tuple[str, str]]:
    """Every UI language as (code, its name in ``language``), for a choice of language."""
    return [(code, Locale.parse(code).get_display_name(language) or code) for code in LANGUAGES]


def language_name(tag: str, language: str) -> str:
    """A language tag's name in ``language`` (``ja`` in French: « japonais »), or the tag itself when Babel does not
    know it: a State may declare a language no catalogue here names."""
    try:
        return Locale.parse(tag.replace("-", "_")).get_display_name(language) or tag
    except (ValueError, TypeError, UnknownLocaleError):
        return tag


_FILTERS: dict[str, Callable[..., Any]] = {}


def add_filters(filters: Mapping[str, Callable[..., Any]]) -> None:
    """Give every page the filters a capability's templates use (a request's time left, say): the composition
    root adds them, so that the kernel's renderer knows no capability."""
    _FILTERS.update(filters)
    environment.cache_clear()


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> Environment:
    """A Jinja environment with autoescaping and the language's gettext installed (``{{ _("…") }}``)."""
    env = Environment(
        loader=PackageLoader("hanoinet.platform", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_FILTERS)
    env.filters["when"] = _when
    env.filters["number"] = lambda value: format_decimal(value, locale=language)
    env.filters["percent"] = lambda value: format_percent(value, format="#,##0.#%", locale=language)
    env.filters["label"] = lambda value: str(value).replace("_", " ")
    return env


@pass_context
def _when(context: Mapping[str, Any], value: datetime | str | None) -> str:
    """A time as operators read it, to the minute: in UTC, or in the account's time zone with UTC beside it
    (clocks and deadlines are kept in UTC; a duty officer reads the local hour, a counterpart the UTC one)."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    zone = getattr(context.get("user"), "time_zone", "UTC") or "UTC"
    if zone == "UTC" or moment.tzinfo is None:
        return utc.strftime("%Y-%m-%d %H:%M UTC")
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"{local:%Y-%m-%d %H:%M} {local:%Z} ({utc:%Y-%m-%d %H:%M} UTC)"


DEFAULT_INSTRUMENT = "uncc-2024"


def default_instrument(node: Node) -> str:
    """The Hanoi Convention if this node has its pack (the instrument the node is for), else the first pack."""
    return DEFAULT_INSTRUMENT if DEFAULT_INSTRUMENT in node.packs else next(iter(node.packs), "")


def _state_name(node: Node, code: str, language: str) -> str:
    name = state_name_in(node, code, language)
    return name if name == code else f"{name} ({code})"


def _instrument_title(node: Node, key: str, language: str) -> str:
    """An instrument's short title in ``language`` (the packs' catalogue), or its key if the node has no pack."""
    pack = node.packs.get(key)
    return translations(language, "packs").gettext(pack.short_title) if pack is not None else key


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs: who is signed in, what they may do, the CSRF token, the time."""
    caller = identify(request)
    node: Node = request.app.state.node
    language = language_of(request, caller)
    granted = permissions_of(caller.principal.roles) if caller.principal else frozenset({Permission.PUBLIC})
    session = caller.session
    base = {
        "request": request,
        "caller": caller,
        "user": session.user if session else None,
        "can": {p.name.lower(): p in granted for p in Permission},
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.session.csrf_token if session else "",
        "now": node.clock.now(),
        "node_name": node.name,
        "node_state": node.node_state or "",
        "node_id": node.identity.node_id if node.identity else "",
        "language": language,
        "direction": "rtl" if language in RTL else "ltr",
        "version": __version__,
        "exercise": getattr(node.clock, "speed", 1.0) != 1.0,
        "state_name": lambda code: _state_name(node, code, language),
        "instrument_title": lambda key: _instrument_title(node, key, language),
        "language_name": lambda tag: language_name(tag, language),
        "issue_text": lambda issue: issue_text(issue, language),
    }
    html = environment(language).get_template(template).render({**base, **(context or {})})
    return HTMLResponse(html, status_code=status)


FLASH: dict[str, str] = {
    "signed_out": N_("You are signed out."),
    "password": N_("Your password is changed. Sign in again with the new one."),
    "draft": N_("The draft is saved; it has not been sent."),
    "sent": N_("The request is sent."),
    "acted": N_("Done."),
    "read": N_("Marked as read; the other State is told."),
    "message": N_("The message is queued for the other node."),
    "case": N_("The case is open."),
    "asset": N_("The property is recorded in the case."),
    "measure": N_("The measure is recorded."),
    "user": N_("The account is saved."),
    "grant": N_("Saved. The new roles wait for another administrator's approval before they take effect."),
    "granted": N_("Approved: the change is in effect."),
    "identity-confirmed": N_("The node's new identity is in force: requests for its State now go to it."),
    "identity-rejected": N_("The change is refused: the node's confirmed identity stays in force."),
    "reset": N_("Saved. The new password waits for another administrator's approval before it takes effect."),
    "rejected": N_("Rejected: the account is unchanged."),
    "verified": N_("Verification finished."),
    "transfer": N_("The transfer is queued."),
    "sent-off": N_(
        "Recorded as sent off the network; the document sent is kept in the vault. Nothing will confirm that it "
        "arrived."
    ),
    "answer": N_("The other State's answer is recorded; the document received is kept in the vault."),
    "registered": N_("The request is registered from its signed document; its clocks run from now."),
    "registered-by-hand": N_("The request is registered as received; its clocks run from now."),
    "preferences": N_("Saved: your pages use this language and time zone from now on."),
}
"""Messages shown after a form's redirect, by key: the URL carries a key, never text (nothing to inject)."""


def flash(request: Request) -> dict[str, str]:
    """The context for the message a redirect asked for with ``?done=KEY`` (translated), if any."""
    key = request.query_params.get("done", "")
    if key not in FLASH:
        return {}
    language = language_of(request, identify(request))
    return {"flash": translations(language).gettext(FLASH[key])}


def redirect(url: str, done: str | None = None) -> RedirectResponse:
    """Post/redirect/get: after a form, show the result page (with a flash message by key)."""
    if done is not None:
        if done not in FLASH:
            raise ValueError(f"no flash message {done!r}")
        url += ("&" if "?" in url else "?") + urlencode({"done": done})
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to return to after signing in — never another site (``//evil``, ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def actor(request: Request) -> Actor:
    """The signed-in caller as the audit log records them."""
    return identify(request).actor


def principal(request: Request) -> Principal:
    """The signed-in caller as handling conditions see them (routes reached here have one)."""
    found = identify(request).principal
    if found is None:
        raise Unauthenticated("sign in")
    return found


def time_zone_of(request: Request) -> str:
    """The signed-in account's time zone (IANA name), or UTC: what a date and time typed on a page is read in."""
    session = identify(request).session
    zone = str(getattr(session.user, "time_zone", "") or "UTC") if session is not None else "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return zone


def local_moment(text: str, zone: str, field: str) -> datetime | None:
    """A date and time from a form: as a date-time picker sends it (``2026-12-24T18:00``, read in the account's
    time zone ``zone``) or with its own offset (``2026-12-24T18:00Z``); None when blank. A clock is kept in UTC,
    so the moment returned always carries its zone; a time that does not exist there (skipped when clocks go
    forward) is refused rather than moved."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed([Issue(field, "is not a date and time (YYYY-MM-DDTHH:MM)")]) from None
    if moment.tzinfo is not None:
        return moment
    local = moment.replace(tzinfo=ZoneInfo(zone))
    there = local.astimezone(UTC).astimezone(local.tzinfo)
    if there.replace(tzinfo=None) != moment:
        raise ValidationFailed([Issue(field, f"{text} does not exist in {zone} (the clocks skip that hour)")])
    return local


def local_input(moment: datetime | None, zone: str) -> str:
    """A moment as a date-time picker shows it: in the account's time zone, to the minute."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def by_field(issues: Sequence[Issue]) -> dict[str, list[Issue]]:
    """Issues grouped by the form field they concern, for messages next to each field."""
    grouped: dict[str, list[Issue]] = {}
    for issue in issues:
        grouped.setdefault(issue.field, []).append(issue)
    return grouped


def error_page(request: Request, status: int, title: str, detail: Any) -> HTMLResponse:
    """An error as a page: what went wrong in words, the issues one per line, and a way back."""
    if isinstance(detail, list):
        lines = [str(d.get("text", d)) if isinstance(d, dict) else str(d) for d in detail]
    else:
        lines = [str(detail)]
    heading = title[:1].upper() + title[1:]
    return render(request, "error.html", {"title": heading, "lines": lines, "status": status}, status=status)
