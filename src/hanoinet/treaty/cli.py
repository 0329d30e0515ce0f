"""Treaty status at the command line: import deposits, who is a Party on a date, the legal basis between two States."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hanoinet.platform.cli import (
    InstrumentOption,
    JsonOption,
    OnOption,
    actor,
    emit,
    errors,
    node,
    out,
)
from hanoinet.treaty import cli_render
from hanoinet.treaty import present as treaty_present
from hanoinet.treaty import service as treaty_services
from hanoinet.treaty.csv_import import read_deposit_rows
from hanoinet.treaty.declarations_file import parse_declarations

treaty_app = typer.Typer(help="Treaty status: deposits, Parties, entry into force, legal basis.", no_args_is_help=True)
declarations_app = typer.Typer(
    help="States' declarations under the instruments: the languages each accepts requests in (Art 40).",
    no_args_is_help=True,
)
treaty_app.add_typer(declarations_app, name="declarations")


# --- treaty -------------------------------------------------------------------------------------------------


@treaty_app.command("import")
def treaty_import(
    file: Annotated[Path, typer.Argument(help="CSV with columns state,action,date.", exists=True, dir_okay=False)],
    instrument: InstrumentOption = "uncc-2024",
) -> None:
    """Record deposits from a CSV file: every row, or none if any row is bad."""
    n = node()
    with errors():
        result = treaty_services.import_deposits(n, read_deposit_rows(file), instrument)
    out.print(f"{instrument}: {result.recorded} event(s) recorded, {result.unchanged} already recorded")


@treaty_app.command("status")
def treaty_status(instrument: InstrumentOption = "uncc-2024", on: OnOption = None, as_json: JsonOption = False) -> None:
    """Whether an instrument is in force on a date, and who its Parties and signatories are."""
    n = node()
    with errors():
        status = treaty_services.instrument_status(n, instrument, on.date() if on else None)
    data = treaty_present.instrument_status(status)
    emit(data, as_json, lambda: cli_render.status_table(instrument, status, data))


@treaty_app.command("party")
def treaty_party(
    state: Annotated[str, typer.Argument(help="ISO 3166 alpha-3 code, or EU.")],
    instrument: InstrumentOption = "uncc-2024",
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Whether a State is a Party on a date, and since when."""
    n = node()
    with errors():
        status = treaty_services.party_status(n, instrument, state.upper(), on.date() if on else None)
    data = treaty_present.party_status(status)
    emit(data, as_json, lambda: cli_render.party_table(instrument, status, data))


@treaty_app.command("basis")
def treaty_basis(
    a: Annotated[str, typer.Argument(help="First State.")],
    b: Annotated[str, typer.Argument(help="Second State.")],
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which instruments bind both States on a date."""
    n = node()
    with errors():
        basis = treaty_services.legal_basis(n, a.upper(), b.upper(), on.date() if on else None)
    day = on.date() if on else n.clock.now().date()
    if as_json:
        emit(cli_render.basis_data(a.upper(), b.upper(), day, basis), True)
    else:
        out.print(cli_render.basis_sentence(a.upper(), b.upper(), day, basis))


# --- treaty declarations --------------------------------------------------------------------------------------


@declarations_app.command("import")
def declarations_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="YAML: declarations: [{state, instrument, made_on, languages, reference}]", exists=True, dir_okay=False
        ),
    ],
) -> None:
    """Record States' declarations from a file copied from the depositary: all of them, or none if any is bad."""
    n = node()
    with errors():
        rows = parse_declarations(file.read_bytes(), str(file))
        result = treaty_services.import_declarations(n, rows, actor=actor())
    out.print(f"{result.recorded} declaration(s) recorded, {result.unchanged} already recorded")


@declarations_app.command("list")
def declarations_list(
    state: Annotated[str | None, typer.Option(help="Only this State (ISO 3166 alpha-3).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The declarations in force: each State's latest under each instrument."""
    n = node()
    with errors():
        found = treaty_services.declarations(n, state.upper() if state else None)
    data = [treaty_present.declaration(d) for d in found]
    emit(data, as_json, lambda: cli_render.declarations_table(data))
