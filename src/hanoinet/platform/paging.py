"""The paging parameters of every listing route, declared once so that each has the same bounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from hanoinet.platform.ports import MAX_OFFSET

OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many entries to skip.")]
"""Where a page starts: bounded, so that a huge offset is a 422 naming the field, never a server error."""
