"""API tokens for machines, at the command line: issue one (its secret shown once) or revoke it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hanoinet.accounts import tokens as token_services
from hanoinet.platform.cli import err, errors, node, out
from hanoinet.platform.permissions import Role

token_app = typer.Typer(help="API tokens for machines.", no_args_is_help=True)


@token_app.command("add")
def token_add(
    name: Annotated[str, typer.Argument(help="Who or what holds the token.")],
    role: Annotated[list[Role], typer.Option(help="Role of the token; repeatable.")],
) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    n = node()
    with errors():
        token = token_services.create_token(n, name, role)
    err.print("store this token now; it will not be shown again:")
    sys.stdout.write(token + "\n")


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke an API token."""
    n = node()
    with errors():
        token_services.revoke_token(n, name)
    out.print(f"token {name} revoked")
