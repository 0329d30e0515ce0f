"""BCP 47 language tags, as requests, directory entries and declarations record them: ``fr``, ``zh-Hans``, ``pt-BR``.

One pattern for the whole node, so that a tag a declaration accepts is one a request and a directory entry accept
too. It checks the shape only (a primary subtag of two or three letters, then up to three subtags), not the IANA
registry: a reviewer reads the tags a State declared, the node only refuses what cannot be a tag.
"""

from __future__ import annotations

import re

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
"""Match with ``fullmatch``."""


def is_language_tag(text: str) -> bool:
    """True when ``text`` has the shape of a BCP 47 language tag."""
    return LANGUAGE_TAG.fullmatch(text) is not None
