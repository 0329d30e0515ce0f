"""Cases at the command line: open one, list them, show one by id or reference."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hanoinet.cases import present as cases_present
from hanoinet.cases import service as case_services
from hanoinet.platform.cli import (
    JsonOption,
    emit,
    errors,
    node,
    out,
)

case_app = typer.Typer(help="Cases: the investigations requests are made for.", no_args_is_help=True)


# --- cases --------------------------------------------------------------------------------------------------


@case_app.command("new")
def case_new(
    reference: Annotated[str, typer.Option(help="Your authority's case reference.")],
    offence: Annotated[str, typer.Option(help="Offence category, e.g. illegal_access or other_serious_crime.")],
    summary: Annotated[str, typer.Option(help="Summary of the facts.")],
    max_penalty: Annotated[int | None, typer.Option(help="Maximum penalty in years (100 = life).")] = None,
    qualification: Annotated[str, typer.Option(help="The offence under your own law.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Open a case."""
    n = node()
    with errors():
        case = case_services.open_case(
            n,
            reference=reference,
            offence=offence,
            max_penalty_years=max_penalty,
            summary=summary,
            legal_qualification=qualification,
        )
    emit(cases_present.case(case), as_json) if as_json else out.print(f"case {case.reference} opened: {case.id}")


@case_app.command("list")
def case_list(as_json: JsonOption = False, limit: int = 50) -> None:
    """List cases, newest first."""
    found = case_services.list_cases(node(), limit=limit)

    def table() -> Table:
        t = Table("reference", "offence", "max penalty", "id")
        for c in found:
            t.add_row(c.reference, c.offence, str(c.max_penalty_years or ""), c.id)
        return t

    emit([cases_present.case(c) for c in found], as_json, table)


@case_app.command("show")
def case_show(case: Annotated[str, typer.Argument(help="Case id or reference.")]) -> None:
    """Show a case as JSON."""
    n = node()
    with errors():
        emit(cases_present.case(case_services.get_case(n, case)), True)
