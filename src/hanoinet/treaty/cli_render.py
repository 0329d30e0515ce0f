"""How the treaty commands print a status as a table or a sentence, shared by ``treaty.cli`` and the CLI's quick
path (``app.quick_read``) so that the two cannot print differently. Only rich, and only when a table is made."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from hanoinet.treaty.domain import InstrumentStatus, PartyStatus

if TYPE_CHECKING:
    from rich.table import Table


def status_table(instrument: str, status: InstrumentStatus, data: dict[str, Any]) -> Table:
    """``treaty status`` as a table: in force, the counts, the Parties and signatories."""
    from rich.table import Table  # noqa: PLC0415 - rich only when a table is printed

    t = Table(title=f"{instrument} on {status.on}", show_header=False)
    for key in ("in_force", "entry_into_force", "instruments_counted", "instruments_missing"):
        t.add_row(key, str(data[key]))
    t.add_row("parties", f"{len(status.parties)}: {' '.join(status.parties)}")
    t.add_row("signatories", f"{len(status.signatories)}: {' '.join(status.signatories)}")
    return t


def party_table(instrument: str, status: PartyStatus, data: dict[str, Any]) -> Table:
    """``treaty party`` as a table: every field of the party status."""
    from rich.table import Table  # noqa: PLC0415 - rich only when a table is printed

    t = Table(title=f"{status.state} ({status.name}) and {instrument} on {status.on}", show_header=False)
    for key, value in data.items():
        t.add_row(key, str(value))
    return t


def basis_data(a: str, b: str, day: date, basis: tuple[str, ...]) -> dict[str, Any]:
    """``treaty basis --json``: both States, the date and the instruments binding them."""
    return {"a": a, "b": b, "on": day.isoformat(), "instruments": list(basis)}


def basis_sentence(a: str, b: str, day: date, basis: tuple[str, ...]) -> str:
    """``treaty basis`` as one line: the instruments, or that none binds both."""
    return ", ".join(basis) if basis else f"no instrument known here binds {a} and {b} on {day.isoformat()}"


def declarations_table(data: list[dict[str, Any]]) -> Table:
    """``treaty declarations list`` as a table: State, instrument, day, languages, reference."""
    from rich.table import Table  # noqa: PLC0415 - rich only when a table is printed

    t = Table(title="Declarations in force")
    for column in ("state", "instrument", "made_on", "languages", "reference"):
        t.add_column(column)
    for d in data:
        t.add_row(d["state"], d["instrument"], d["made_on"], " ".join(d["languages"]), d["reference"])
    return t
