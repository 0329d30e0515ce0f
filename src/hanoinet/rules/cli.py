"""Rule packs at the command line: list them, check a pack file before it is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hanoinet.platform.cli import (
    JsonOption,
    emit,
    err,
    node,
    out,
)
from hanoinet.rules import present as rules_present
from hanoinet.rules.cli_render import packs_table
from hanoinet.rules.loader import PackError, load_pack

packs_app = typer.Typer(help="Rule packs: the instruments as data.", no_args_is_help=True)


# --- packs --------------------------------------------------------------------------------------------------


@packs_app.command("list")
def packs_list(as_json: JsonOption = False) -> None:
    """List the rule packs this node has loaded."""
    n = node()
    data = [rules_present.pack_summary(p) for p in n.packs.values()]
    emit(data, as_json, lambda: packs_table(data))


@packs_app.command("check")
def packs_check(
    files: Annotated[list[Path], typer.Argument(help="Pack files to validate.", exists=True)],
) -> None:
    """Validate rule-pack files against the schema; report the file, line and reason of each problem."""
    failed = False
    for file in files:
        try:
            pack = load_pack(file)
        except PackError as exc:
            err.print(f"[red]invalid:[/] {exc}", highlight=False)
            failed = True
        else:
            out.print(f"{file}: {pack.key} {pack.version}, {len(pack.request_types)} request types: valid")
    if failed:
        raise typer.Exit(2)
