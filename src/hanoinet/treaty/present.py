"""The JSON shapes of an instrument's status, a State's party status and its declarations."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hanoinet.platform.present import _iso
from hanoinet.treaty.declarations import Declaration
from hanoinet.treaty.domain import InstrumentStatus, PartyStatus


def instrument_status(status: InstrumentStatus) -> dict[str, Any]:
    """Where an instrument stands on a date."""
    return {k: _iso(v) if not isinstance(v, tuple) else list(v) for k, v in asdict(status).items()}


def party_status(status: PartyStatus) -> dict[str, Any]:
    """One State's relation to an instrument on a date."""
    return {k: _iso(v) for k, v in asdict(status).items()}


def declaration(d: Declaration) -> dict[str, Any]:
    """A State's declaration in force under an instrument."""
    return {
        "instrument": d.instrument,
        "state": d.state,
        "made_on": d.made_on.isoformat(),
        "languages": list(d.languages),
        "reference": d.reference,
        "reservations": list(d.reservations),
    }
