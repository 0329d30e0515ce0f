"""The rule packs' words go through their own catalogue: every text a person reads is extracted (with where it is),
a translated pack changes only those texts, and a text without a translation stays whole in English."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from hanoinet.rules import texts
from hanoinet.rules.domain import RulePack
from hanoinet.rules.loader import load_builtin_packs

POT = Path(texts.__file__).resolve().parents[1] / "locale" / "packs.pot"


def reader_texts(pack: RulePack) -> list[str]:
    """Every text of a pack the node shows a person (what ``translated`` must translate)."""
    found = [pack.title, pack.short_title, *(o.label for o in pack.offences)]
    for rtype in pack.request_types:
        found += [rtype.label, rtype.notes, rtype.dual_criminality_note]
        found += [t for i in rtype.required_items for t in (i.label, i.help)]
        found += [t for g in rtype.refusal_grounds for t in (g.label, g.note)]
        found += [c.description for c in rtype.clocks]
    return [t for t in found if t]


def test_extraction_finds_texts_with_their_place_and_no_data() -> None:
    yaml = b"""
key: demo
title: A Convention
request_types:
  - key: mla
    label: Mutual legal assistance
    article: 40
    required_items:
      - key: purpose
        label: the purpose of the request
        article: 40
        help: >-
          Why the evidence is sought,
          in one sentence.
"""
    found = list(texts.extract_pack(io.BytesIO(yaml), (), (), {}))
    by_text = {text: (line, where) for line, _, text, where in found}
    assert set(by_text) == {
        "A Convention",
        "Mutual legal assistance",
        "the purpose of the request",
        "Why the evidence is sought, in one sentence.",  # folded as the loader folds it
    }
    assert by_text["the purpose of the request"][1] == ["request_types.mla.required_items.purpose.label"]
    assert by_text["A Convention"][0] == 3
    assert "40" not in by_text
    assert "mla" not in by_text


@pytest.fixture(scope="module")
def pot_ids() -> set[str]:
    with POT.open("rb") as pot:
        return {m.id for m in read_po(pot) if m.id and isinstance(m.id, str)}


@pytest.mark.parametrize("key", ["uncc-2024", "budapest-ets185"])
def test_every_text_of_the_shipped_packs_is_in_the_catalogue(key: str, pot_ids: set[str]) -> None:
    pack = load_builtin_packs()[key]
    missing = sorted({t for t in reader_texts(pack) if t not in pot_ids})
    assert missing == [], "run `make messages`: " + "; ".join(missing[:5])


def pseudo(text: str) -> str:
    return f"⟦{text}⟧"


@pytest.fixture
def pseudo_catalogue(monkeypatch: pytest.MonkeyPatch, pot_ids: set[str]) -> None:
    """The packs' catalogue for "xx": every extracted text as ⟦text⟧; the translated-pack cache cleared."""
    catalog = Catalog(locale="fr", domain=texts.DOMAIN)
    for msgid in pot_ids:
        catalog.add(msgid, pseudo(msgid))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    translations = gettext.GNUTranslations(buffer)
    monkeypatch.setattr(texts, "translations", lambda language, domain: translations)
    texts._translated.cache_clear()


@pytest.mark.usefixtures("pseudo_catalogue")
@pytest.mark.parametrize("key", ["uncc-2024", "budapest-ets185"])
def test_a_translated_pack_has_every_text_translated_and_every_rule_unchanged(key: str) -> None:
    pack = load_builtin_packs()[key]
    shown = texts.translated(pack, "xx")
    assert all(t.startswith("⟦") for t in reader_texts(shown))
    assert len(reader_texts(shown)) == len(reader_texts(pack))
    for original, other in zip(pack.request_types, shown.request_types, strict=True):
        assert other.key == original.key
        assert other.citation == original.citation
        assert [i.key for i in other.required_items] == [i.key for i in original.required_items]
        assert [i.citation for i in other.required_items] == [i.citation for i in original.required_items]
        assert [i.required for i in other.required_items] == [i.required for i in original.required_items]
        assert [g.key for g in other.refusal_grounds] == [g.key for g in original.refusal_grounds]
        assert [(c.kind, c.period, c.source) for c in other.clocks] == [
            (c.kind, c.period, c.source) for c in original.clocks
        ]
    assert shown.entry_into_force == pack.entry_into_force
    texts._translated.cache_clear()


def test_english_is_the_pack_itself() -> None:
    pack = load_builtin_packs()["uncc-2024"]
    assert texts.translated(pack, "en") is pack


def test_a_text_without_translation_stays_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(texts, "translations", lambda language, domain: gettext.NullTranslations())
    texts._translated.cache_clear()
    pack = load_builtin_packs()["uncc-2024"]
    assert reader_texts(texts.translated(pack, "fr")) == reader_texts(pack)
    texts._translated.cache_clear()


def test_the_shipped_french_catalogue_translates_the_packs() -> None:
    """The real catalogue reaches the pack: Art 42's preservation request has French labels."""
    texts._translated.cache_clear()
    pack = load_builtin_packs()["uncc-2024"]
    french = texts.translated(pack, "fr")
    rtype, original = french.request_type("preservation"), pack.request_type("preservation")
    assert rtype is not None
    assert original is not None
    assert rtype.label != original.label
    assert all(a.label != b.label for a, b in zip(rtype.required_items, original.required_items, strict=True))
