"""Treaty status over the API: in force on a date, Parties and since when, the legal basis between two States,
and deposits recorded from CSV (all rows or none)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body

from hanoinet.platform.api import IsoDate, problems
from hanoinet.platform.errors import NotFound
from hanoinet.platform.permissions import Permission
from hanoinet.platform.security import PrincipalDep, SecureRoute, secured
from hanoinet.treaty import present as treaty_present
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.csv_import import parse_deposit_rows
from hanoinet.treaty.declarations_file import parse_declarations
from hanoinet.treaty.schemas import (
    BasisOut,
    DeclarationOut,
    DeclarationsOut,
    DepositsOut,
    InstrumentStatusOut,
    PartyStatusOut,
)

if TYPE_CHECKING:
    from hanoinet.app.node import Node


def router(node: Node) -> APIRouter:
    """The treaty routes: reading needs TREATY_READ, recording deposits TREATY_WRITE (and is audited)."""
    api = APIRouter(prefix="/api/v1/treaty", route_class=SecureRoute, tags=["treaty"])

    def known(instrument: str) -> str:
        if instrument not in node.packs:
            raise NotFound(f"no rule pack {instrument!r}")
        return instrument

    @api.get(
        "/{instrument}/status",
        response_model=InstrumentStatusOut,
        responses=problems(404),
        **secured(Permission.TREATY_READ),
    )
    def treaty_status(instrument: str, on: IsoDate | None = None) -> dict[str, Any]:
        """Whether the instrument is in force on a date; its Parties and signatories."""
        return treaty_present.instrument_status(treaty_services.instrument_status(node, known(instrument), on))

    @api.get(
        "/{instrument}/parties/{state}",
        response_model=PartyStatusOut,
        responses=problems(404),
        **secured(Permission.TREATY_READ),
    )
    def treaty_party(instrument: str, state: str, on: IsoDate | None = None) -> dict[str, Any]:
        """Whether a State is a Party on a date, and since when."""
        return treaty_present.party_status(treaty_services.party_status(node, known(instrument), state.upper(), on))

    @api.get("/basis", response_model=BasisOut, **secured(Permission.TREATY_READ))
    def treaty_basis(a: str, b: str, on: IsoDate | None = None) -> dict[str, Any]:
        """The instruments that bind both States on a date."""
        basis = treaty_services.legal_basis(node, a.upper(), b.upper(), on)
        return {
            "a": a.upper(),
            "b": b.upper(),
            "on": (on or node.clock.now().date()).isoformat(),
            "instruments": list(basis),
        }

    @api.post(
        "/{instrument}/deposits",
        response_model=DepositsOut,
        responses=problems(404, 409),
        **secured(Permission.TREATY_WRITE, audit="treaty:import"),
    )
    def treaty_import(
        instrument: str, body: Annotated[str, Body(media_type="text/csv", description="state,action,date")]
    ) -> dict[str, Any]:
        """Record deposits from CSV text: all rows, or none if any row is bad (each reported with its line)."""
        rows = parse_deposit_rows(body, "upload")
        result = treaty_services.import_deposits(node, rows, instrument)
        return {"instrument": result.instrument, "recorded": result.recorded, "unchanged": result.unchanged}

    @api.get("/declarations", response_model=list[DeclarationOut], **secured(Permission.TREATY_READ))
    def treaty_declarations(state: str | None = None) -> list[dict[str, Any]]:
        """The declarations in force (each State's latest under each instrument): the languages it accepts."""
        return [
            treaty_present.declaration(d) for d in treaty_services.declarations(node, state.upper() if state else None)
        ]

    @api.post(
        "/declarations",
        response_model=DeclarationsOut,
        responses=problems(409),
        **secured(Permission.TREATY_WRITE, audit="treaty:declarations"),
    )
    def treaty_import_declarations(
        who: PrincipalDep,
        body: Annotated[
            str,
            Body(
                media_type="application/yaml",
                description="declarations: [{state, instrument, made_on, languages, reference}]",
            ),
        ],
    ) -> dict[str, Any]:
        """Record declarations from a YAML file: all of them, or none if any is bad (each reported at its entry)."""
        rows = parse_declarations(body, "upload")
        result = treaty_services.import_declarations(node, rows, actor=who.name)
        return {"recorded": result.recorded, "unchanged": result.unchanged}

    return api
