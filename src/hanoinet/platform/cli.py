"""What every CLI command shares: consoles, error mapping, bootstrapping, output, who is acting."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from hanoinet.platform.output import console, write_json
from hanoinet.platform.permissions import Principal, Role

if TYPE_CHECKING:
    from rich.table import Table

    from hanoinet.app.node import Node
    from hanoinet.platform.settings import Settings

out = console()
err = console(stderr=True)

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
    from pydantic import ValidationError  # noqa: PLC0415 - a command imports only what it uses (issue 10)

    from hanoinet.platform.settings import Settings  # noqa: PLC0415 - likewise

    try:
        return Settings()
    except ValidationError as exc:
        fail("; ".join(f"HANOINET_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()))


@contextmanager
def errors() -> Iterator[None]:
    """Map errors to messages and exit codes: 2 invalid, 3 conflict, 4 not found, 5 refused, 6 damaged evidence."""
    # Imported here, not at the top, so that importing this module costs no bootstrap, vault or federation code.
    from hanoinet.app import bootstrap as boot  # noqa: PLC0415
    from hanoinet.evidence.domain import AccessDenied  # noqa: PLC0415
    from hanoinet.evidence.vault import BlobCorrupt, VaultError  # noqa: PLC0415
    from hanoinet.federation.domain import EnvelopeRejected  # noqa: PLC0415
    from hanoinet.federation.ports import TransportError  # noqa: PLC0415
    from hanoinet.federation.settings import NotOnNetwork  # noqa: PLC0415
    from hanoinet.platform.errors import DomainError, NotFound, ValidationFailed  # noqa: PLC0415
    from hanoinet.platform.keys import KeyFileError  # noqa: PLC0415
    from hanoinet.rules.loader import PackError  # noqa: PLC0415
    from hanoinet.treaty.csv_import import CsvFormatError  # noqa: PLC0415

    try:
        yield
    except ValidationFailed as exc:
        for issue in exc.issues:
            err.print(f"[red]invalid:[/] {issue}", highlight=False)
        raise typer.Exit(2) from None
    except AccessDenied as exc:
        fail(str(exc), 5)
    except BlobCorrupt as exc:
        fail(f"the evidence content is damaged: {exc}; run 'hanoinet evidence verify --all'", 6)
    except VaultError as exc:
        fail(str(exc))
    except DomainError as exc:
        fail(str(exc), 4 if isinstance(exc, NotFound) else 3)
    except EnvelopeRejected as exc:
        fail(f"refused ({exc.reason}): {exc.detail}", 2)
    except (TransportError, NotOnNetwork) as exc:
        fail(str(exc))
    except (PackError, CsvFormatError, KeyFileError, boot.SchemaBehindError, boot.InvalidSettingError) as exc:
        fail(str(exc))


_BUILT: list[Node] = []


def node() -> Node:
    """Bootstrap the node: data directory and schema are created on first use (once per command)."""
    if _BUILT:
        return _BUILT[0]
    from hanoinet.app import bootstrap as boot  # noqa: PLC0415 - only commands that need the node build it

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
        write_json(data)
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
