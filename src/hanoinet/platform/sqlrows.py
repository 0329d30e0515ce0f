"""Table rows to records and back, for the SQL repositories of every capability.

Most records a repository reads and writes are dataclasses whose fields are the columns of the same names, with
each enum stored as its value. Spelling every field out twice for every table (``kind=MessageKind(row.kind)`` in
the reader, ``"kind": m.kind.value`` in the writer) made the repositories the same twenty lines again and again,
and a column added to one side only went unnoticed. These two functions map by field name, once; a repository
names only what differs (a renamed column, a copy of a JSON value, a nested record).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Collection
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")

_Plan = tuple[tuple[str, Callable[[Any], Any] | None], ...]


@cache
def _plan(cls: type[DataclassInstance]) -> _Plan:
    """Each init field of ``cls`` with the enum its declared type names (``X`` or ``X | None``), if any."""
    hints = typing.get_type_hints(cls)
    plan = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint = hints[field.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            named = [a for a in typing.get_args(hint) if a is not type(None)]
            hint = named[0] if len(named) == 1 else None
        plan.append((field.name, hint if isinstance(hint, type) and issubclass(hint, enum.Enum) else None))
    return tuple(plan)


def from_row(cls: type[R], row: Any, /, **values: Any) -> R:
    """A ``cls`` built from the attributes of ``row`` (an ORM entity or a Core row) named like its fields.

    A field declared as an enum (or an enum or None) is made from the stored value; None stays None. ``values``
    give the fields that are not a plain column of the same name, and no column is read for them.
    """
    for name, kind in _plan(cls):
        if name not in values:
            value = getattr(row, name)
            values[name] = kind(value) if kind is not None and value is not None else value
    return cls(**values)


def to_row(record: DataclassInstance, /, *, omit: Collection[str] = (), **values: Any) -> dict[str, Any]:
    """The column values of ``record``: its fields by name, each enum as its value, but for those in ``omit``;
    ``values`` replace fields or add columns the record does not have."""
    for name, _ in _plan(type(record)):
        if name not in values and name not in omit:
            value = getattr(record, name)
            values[name] = value.value if isinstance(value, enum.Enum) else value
    return values
