"""The rule packs' words in every language: extraction into a catalogue, and a pack shown in a reader's language.

A pack's texts (its titles, each request type's label and notes, each item's label and help, each ground's label
and note, each clock's description, each offence's label) are law as a legal reviewer wrote it, in English, in the
YAML. They are translated like the web UI's strings, through gettext, in their own domain (``packs``), so that a
sworn translator reviews them apart from the interface: ``make messages`` extracts them with ``extract_pack``
(``babel-packs.cfg``), and ``translated`` gives a copy of a pack whose texts are in the reader's language. The keys, the
citations, the periods and the ``verified`` flags never change with the language: only what a person reads.

A text without a translation stays in English, word for word: a reader is never shown half a sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import lru_cache
from typing import IO, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hanoinet.platform.web import translations
from hanoinet.rules.domain import RulePack

DOMAIN = "packs"
"""The gettext domain of the packs' texts: ``locale/<lang>/LC_MESSAGES/packs.po``."""

TEXT_FIELDS = frozenset({"title", "short_title", "label", "help", "note", "notes", "description"})
"""The YAML keys whose values a person reads; every other value is data (keys, articles, periods, flags)."""


def normalised(text: str) -> str:
    """A text as the loader keeps it and as the catalogue holds it: without the surrounding white space."""
    return text.strip()


def _texts(node: Node, path: str) -> Iterator[tuple[int, str, str]]:
    """Each reader-facing scalar under ``node``: its line (1-based), its place in the pack, and its text."""
    if isinstance(node, MappingNode):
        key_of = {k.value: v for k, v in node.value if isinstance(k, ScalarNode)}
        name = key_of.get("key")
        here = f"{path}.{name.value}" if isinstance(name, ScalarNode) and path else path
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                continue
            if key.value in TEXT_FIELDS and isinstance(value, ScalarNode) and normalised(str(value.value)):
                yield value.start_mark.line + 1, f"{here}.{key.value}".lstrip("."), normalised(str(value.value))
            else:
                yield from _texts(value, f"{here}.{key.value}".lstrip("."))
    elif isinstance(node, SequenceNode):
        for child in node.value:
            yield from _texts(child, path)


def extract_pack(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: dict[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method for a rule pack (``[hanoinet.rules.texts.extract_pack: …yaml]`` in babel-packs.cfg):
    every reader-facing text, with a comment saying where in the pack it is, so the translator sees its role
    (a label is a noun phrase read inside sentences such as "… is missing"; a help text is a sentence)."""
    root = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    if root is None:
        return
    for line, where, text in _texts(root, ""):
        yield line, "", text, [where]


def _translator(language: str) -> Callable[[str], str]:
    lookup = translations(language, DOMAIN).gettext

    def translate(text: str) -> str:
        return lookup(normalised(text)) if normalised(text) else text

    return translate


@lru_cache(maxsize=64)
def _translated(pack: RulePack, language: str) -> RulePack:
    t = _translator(language)
    return replace(
        pack,
        title=t(pack.title),
        short_title=t(pack.short_title),
        offences=tuple(replace(o, label=t(o.label)) for o in pack.offences),
        request_types=tuple(
            replace(
                rtype,
                label=t(rtype.label),
                notes=t(rtype.notes),
                dual_criminality_note=t(rtype.dual_criminality_note),
                required_items=tuple(replace(i, label=t(i.label), help=t(i.help)) for i in rtype.required_items),
                refusal_grounds=tuple(replace(g, label=t(g.label), note=t(g.note)) for g in rtype.refusal_grounds),
                clocks=tuple(replace(c, description=t(c.description)) for c in rtype.clocks),
            )
            for rtype in pack.request_types
        ),
        reservations=tuple(replace(r, label=t(r.label), note=t(r.note)) for r in pack.reservations),
    )


def translated(pack: RulePack, language: str) -> RulePack:
    """The pack with every text a person reads in ``language`` (English where the catalogue has no entry).

    The rules are the same object's rules: keys, citations, periods and flags are those of ``pack``, so a
    translated pack may be shown and checked against, never loaded from."""
    return pack if language == "en" else _translated(pack, language)
