"""What every CLI command shares: consoles, error mapping, bootstrapping, output, who is acting."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from hanoinet.app import bootstrap as boot
from hanoinet.app.node import Node
from hanoinet.platform.errors import DAMAGED, INVALID, REJECTED, ValidationFailed, declares_kind, kind_of
from hanoinet.platform.permissions import Principal, Role
from hanoinet.platform.settings import Settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
OnOption = Annotated[
    datetime | None,
    typer.Option("--on", formats=["%Y-%m-%d"], help="The date to answer for (default: today)."),
]
InstrumentOption = Annotated[str, typer.Option("--instrument", "-i", help="Rule pack key.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error without a traceback and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def settings() -> Settings:
    """Read the settings, turning a bad environment variable into a clear message."""
    try:
        return Settings()
    except ValidationError as exc:
        fail("; ".join(f"HANOINET_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()))


@contextmanager
def errors() -> Iterator[None]:
    """Map errors to messages and exit codes by the one error table (``platform.errors``): 2 invalid, 3 conflict,
    4 not found, 5 refused, 6 damaged evidence, 1 other. Every error raised on purpose declares its kind, so this
    needs to import none of the capabilities whose errors it reports; an error that declares none is a fault and
    keeps its traceback."""
    try:
        yield
    except ValidationFailed as exc:
        for issue in exc.issues:
            err.print(f"[red]invalid:[/] {issue}", highlight=False)
        raise typer.Exit(INVALID.exit_code) from None
    except Exception as exc:
        if not declares_kind(exc):
            raise
        kind = kind_of(exc)
        if kind is DAMAGED:
            fail(f"the evidence content is damaged: {exc}; run 'hanoinet evidence verify --all'", kind.exit_code)
        if kind is REJECTED:
            fail(f"refused: {exc}", kind.exit_code)  # "refused: <reason code>: <detail>"
        fail(str(exc), kind.exit_code)


_BUILT: list[Node] = []


def node() -> Node:
    """Bootstrap the node: data directory and schema are created on first use (once per command)."""
    if _BUILT:
        return _BUILT[0]
    with errors():
        _BUILT.append(boot.bootstrap(settings()))
        return _BUILT[0]
    raise AssertionError("unreachable")  # pragma: no cover - errors() always exits on failure


def built_node() -> Node | None:
    """The node this command built, if it built one (commands that never touched it leave nothing to audit)."""
    return _BUILT[0] if _BUILT else None


def emit(data: Any, as_json: bool, table: Callable[[], Table] | None = None) -> None:
    """Print JSON, or a rich table when one is given and JSON was not asked for."""
    if as_json or table is None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        out.print(table())


def actor() -> str:
    """Who is acting at the command line: $HANOINET_ACTOR, else the operating-system user (accounts are for the web
    UI and the API; the command line runs on the node itself, by whoever can read its data directory)."""
    return os.environ.get("HANOINET_ACTOR") or os.environ.get("USER") or "operator"


def principal() -> Principal:
    """Who acts at the command line, and in which roles: $HANOINET_ACTOR (else the OS user) and $HANOINET_ROLES.

    The command line runs on the node itself, by someone who can read its data directory; roles say in which
    capacity they act, so that handling conditions, custody and the audit log record it.
    """
    text = os.environ.get("HANOINET_ROLES", Role.INVESTIGATOR.value)
    try:
        roles = frozenset(Role(r.strip()) for r in text.split(",") if r.strip())
    except ValueError:
        fail(f"HANOINET_ROLES: {text!r}: roles are {', '.join(r.value for r in Role)}")
    return Principal(actor(), roles)
