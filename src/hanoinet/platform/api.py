"""What every capability's JSON routes share: request bodies that refuse unknown fields, the error body, and the
shapes of dates in answers.

Each capability builds its own ``APIRouter`` (its ``api.router(node)``) and the composition root includes them;
the pieces here are the ones whose meaning must be the same on every route. Other States' clients read the
OpenAPI, so every answer a route can give is declared in it: its ``response_model``, and with ``problems(...)``
each error status, in the body the node really sends (``Problem``). The statuses every route shares — 401 and
403 from the permission guard, 400 for a body that cannot be read, 422 for invalid input — are declared by the
guard itself (``security.SecureRoute``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Shape(BaseModel):
    """A response body: exactly the fields listed (a field the code sends but the model lacks fails loudly in
    the tests, rather than disappearing from the answer)."""

    model_config = ConfigDict(extra="forbid")


DateTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
"""An instant as the node writes it: ISO 8601 with its offset (the answers carry the text the services made)."""
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
"""A calendar day, YYYY-MM-DD."""


NOT_BLANK = r"\S"
"""The pattern of a text that must say something (a reason, a purpose): not only spaces."""
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: object) -> object:
    """Only a date written as one: pydantic would also read a number as a time stamp, which no client means."""
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError("expected a date, YYYY-MM-DD")


def _iso_instant(value: object) -> object:
    """Only a date and time written as text (ISO 8601), not a number read as a time stamp."""
    if isinstance(value, datetime | str):
        return value
    raise ValueError("expected a date and time with its offset, e.g. 2026-12-24T18:00Z")


def _json_int(value: object) -> object:
    """An integer as JSON Schema has it: a number with no fraction (``3`` or ``3.0``), never ``true`` or ``"3"``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a whole number")  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected a whole number")
    return int(value)


WHOLE = BeforeValidator(_json_int)
"""A whole number in a JSON body: what the schema's ``integer`` admits, and nothing pydantic would coerce. Goes
after the field's bounds, e.g. ``Annotated[int, Field(ge=0), WHOLE]``, so that the schema shows them."""
IsoDate = Annotated[date, BeforeValidator(_iso_day)]
"""A date parameter or field: YYYY-MM-DD, as the schema says, and nothing else."""
IsoInstant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
"""A date and time with its offset, given as ISO 8601 text."""


class FieldIssue(Shape):
    """One problem with the input: the field it concerns, what is wrong, and the article that says so."""

    field: str = Field(description="The field (a dotted path; query.NAME for a query parameter, body for all)")
    message: str
    article: str | None = Field(description="The article that requires what is wrong, for a legal rule")
    text: str = Field(description="The problem as one sentence, for showing as it is")


class Problem(Shape):
    """The error body of every route: a short title and what happened — for invalid input (422, 400), each
    problem with its field and, for legal rules, its article."""

    model_config = ConfigDict(extra="allow")  # a route may add context (a transfer's chunks_done)

    title: str = Field(description="The kind of error, e.g. not found, invalid input, illegal transition")
    detail: str | list[FieldIssue]


_DESCRIPTIONS = {
    400: "The request cannot be read (a body that is not JSON, or nests too deeply)",
    401: "No valid API token (Authorization: Bearer) or session",
    403: "The caller's roles or the item's handling conditions do not allow this (recorded in the audit log)",
    404: "No object with that identifier",
    408: "The body did not arrive in time (the connection is closed)",
    409: "The object's state does not allow this, or it changed or exists already",
    413: "The body is larger than this route takes (refused before it is read; the connection is closed)",
    421: "The transmission is for another node",
    422: "Invalid input: each problem with its field and, for legal rules, its article",
    502: "A peer node could not be reached",
    503: "This node is not on the network",
    507: "The evidence vault cannot store or read content",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route's error statuses, each with the node's error body."""
    return {s: {"model": Problem, "description": _DESCRIPTIONS.get(s, "Refused")} for s in statuses}
