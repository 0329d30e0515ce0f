"""What every capability's JSON routes share: request bodies that refuse unknown fields.

Each capability builds its own ``APIRouter`` (its ``api.router(node)``) and the composition root includes them;
the pieces here are the ones whose meaning must be the same on every route.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")
