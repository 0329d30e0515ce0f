"""How deeply a JSON body may nest: refused before any parser recurses into it.

No body this node accepts nests more than a few levels (a message's conditions, a signed directory entry), while a
body of ten thousand brackets makes a recursive parser or serializer exhaust its stack somewhere past the route,
where it can only end as a server error. The check is linear in the body and reads only the brackets outside
strings.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 32
"""Deeper than any body of the API needs (a signed entry nests four levels), far below any parser's limit."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_OPENING = frozenset(b"[{")


def nesting_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if the JSON text ``body`` opens more than ``limit`` arrays or objects inside one another.

    Malformed text is not judged here (the parser reports it); brackets inside strings do not count.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group()[0] in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth = max(depth - 1, 0)
    return False
