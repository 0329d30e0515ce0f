"""What every CLI command shares: consoles, error mapping, bootstrapping, output, who is acting."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from hanoinet.platform.errors import DAMAGED, INVALID, REJECTED, ValidationFailed, declares_kind, kind_of
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

Result = TypeVar("Result")


def shared_options(
    options: Mapping[str, tuple[Any, Any]], *, into: str
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """A decorator declaring, once, options that several commands take alike: each ``name: (annotation, default)``
    becomes an option of the decorated command, ahead of its own parameters, and the command receives their values
    together as one dict, its parameter ``into``. The commands cannot drift apart, and an option added to
    ``options`` reaches all of them.

    Typer reads a command's parameters from its signature, so the decorated command's signature is rewritten: the
    shared options, then the command's own parameters without ``into`` (all keyword-only: Typer passes them by
    name)."""
    keyword = inspect.Parameter.KEYWORD_ONLY

    def decorate(command: Callable[..., Result]) -> Callable[..., Result]:
        own = inspect.signature(command, eval_str=True)
        shared = [inspect.Parameter(name, keyword, default=d, annotation=a) for name, (a, d) in options.items()]
        kept = [p.replace(kind=keyword) for p in own.parameters.values() if p.name != into]
        signature = own.replace(parameters=[*shared, *kept])

        @functools.wraps(command)
        def with_options(**given: Any) -> Result:
            values = {name: given.pop(name) for name in options}
            return command(**given, **{into: values})

        with_options.__signature__ = signature  # type: ignore[attr-defined]
        with_options.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {
            "return": own.return_annotation
        }
        return with_options

    return decorate


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


_BUILDER: list[Callable[[Settings], Node]] = []


def build_nodes_with(build: Callable[[Settings], Node]) -> None:
    """Say how a command builds its node (``app.bootstrap``): the composition root does, so that the kernel
    imports no capability and no adapter."""
    _BUILDER[:] = [build]


def node() -> Node:
    """Bootstrap the node: data directory and schema are created on first use (once per command)."""
    if _BUILT:
        return _BUILT[0]
    if not _BUILDER:
        raise RuntimeError("no node builder: the command line starts in hanoinet.app.cli, which sets it")
    with errors():
        _BUILT.append(_BUILDER[0](settings()))
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
