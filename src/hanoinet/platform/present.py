"""Presentation helpers shared by every capability's JSON: ISO dates, validation issues."""

from __future__ import annotations

from typing import Any

from hanoinet.platform.errors import Issue


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def issue(i: Issue) -> dict[str, Any]:
    """One validation problem, with the article that requires what is wrong."""
    return {"field": i.field, "message": i.message, "article": i.citation, "text": str(i)}
