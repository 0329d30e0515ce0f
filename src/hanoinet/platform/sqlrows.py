"""Table rows to records and back, for the SQL repositories of every capability; and the columns that several
capabilities' tables share.

Most records a repository reads and writes are dataclasses whose fields are the columns of the same names, with
each enum stored as its value. Spelling every field out twice for every table (``kind=MessageKind(row.kind)`` in
the reader, ``"kind": m.kind.value`` in the writer) made the repositories the same twenty lines again and again,
and a column added to one side only went unnoticed. These two functions map by field name, once; a repository
names only what differs (a renamed column, a copy of a JSON value, a nested record).

The audit log and the custody ledger are both a hash chain with a head row (``platform.chain``); their tables
declare that row, and their sequence numbers, once: ``ChainHeadColumns`` and ``sequence_number``.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Collection
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

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


def sequence_number() -> TypeEngine[int]:
    """The type of a sequence number (a chain's entries, the outbox's order): 64 bits on PostgreSQL; on SQLite
    INTEGER, the one type its rowid (and so an autoincremented key) may have, 64 bits there too."""
    return BigInteger().with_variant(Integer, "sqlite")


class ChainHeadColumns:
    """The columns of a hash chain's head table: its one row (``id`` 1) holds the sequence number and hash of the
    chain's last entry, and every append locks and moves it, so that the chain has one writer at a time on every
    backend. A mixin: each chain's table (``audit_head``, ``ledger_head``) gets columns of its own."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sequence_number())
    hash: Mapped[str] = mapped_column(String(64))
