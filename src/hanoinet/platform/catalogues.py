"""How complete each language's catalogues are, and whether a sworn translator has reviewed them.

A translation drafted for the node is not yet a translation a court or a counterpart may rely on. As a rule pack
marks each rule ``verified`` once a legal reviewer checked it against the text, each catalogue says in its header
who is answerable for it: ``Last-Translator: hanoinet draft (not reviewed by a sworn translator)`` until a reviewer
who has checked it writes their name there (``Jane Roe, sworn translator <jane@example.org>``). Administrators see
the status of every language and domain (the web UI's strings, the rule packs' texts) on the Languages page.

Read from the ``.po`` files the package ships with the compiled ``.mo`` ones (the same files ``make translations``
compiles), once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

DRAFT_MARK = "hanoinet draft"
"""How a catalogue nobody has reviewed names its translator."""

DOMAINS = ("hanoinet", "packs")
"""The web UI's strings and the fixed words of the documents; the rule packs' texts."""


@dataclass(frozen=True, slots=True)
class CatalogueStatus:
    """One language's catalogue of one domain."""

    language: str
    domain: str
    messages: int
    """Messages in the template (``.pot``): what there is to translate."""
    translated: int
    """Messages with a translation that is not marked fuzzy (what the node shows)."""
    reviewed_by: str | None
    """The reviewer who answers for the catalogue, or None while it is a draft."""
    revised: str
    """When the catalogue was last changed (its ``PO-Revision-Date``), as the header says."""

    @property
    def coverage(self) -> float:
        """The share of messages translated, 0.0 to 1.0 (1.0 for an empty template)."""
        return self.translated / self.messages if self.messages else 1.0

    @property
    def complete(self) -> bool:
        """Every message translated: nothing on a page falls back to English."""
        return self.translated == self.messages


def _read(path: str) -> Catalog:
    with (resources.files("hanoinet") / "locale" / path).open("rb") as file:
        return read_po(file)


def _ids(catalog: Catalog) -> set[str]:
    return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id}


def status_of(template: Catalog, catalog: Catalog, language: str, domain: str) -> CatalogueStatus:
    """How much of ``template`` a language's ``catalog`` translates (fuzzy and empty entries do not count: they
    are not compiled), and who reviewed it, as its header says."""
    wanted = _ids(template)
    done = {
        str(m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple | list) else m.string)
    }
    translator = (catalog.last_translator or "").strip()
    reviewed = None if not translator or translator.startswith(DRAFT_MARK) else translator
    when = catalog.revision_date
    revised = when.strftime("%Y-%m-%d") if hasattr(when, "strftime") else ""
    return CatalogueStatus(language, domain, len(wanted), len(wanted & done), reviewed, revised)


@lru_cache(maxsize=1)
def catalogue_status(languages: tuple[str, ...]) -> tuple[CatalogueStatus, ...]:
    """The status of each language's catalogue of each domain, in the order of ``languages`` (English, the source
    language, has no catalogue and is left out)."""
    found = [
        status_of(_read(f"{domain}.pot"), _read(f"{language}/LC_MESSAGES/{domain}.po"), language, domain)
        for domain in DOMAINS
        for language in languages
        if language != "en"
    ]
    return tuple(sorted(found, key=lambda s: (languages.index(s.language), DOMAINS.index(s.domain))))
