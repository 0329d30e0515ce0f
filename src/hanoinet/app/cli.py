"""The ``hanoinet`` command: thin over the services — parse, call one service, print the result.

The root command knows its sub-commands by name only (``SUBCOMMANDS``): ``hanoinet --help`` lists them from that
table, and a capability's CLI module, with the services, SQLAlchemy and whatever else it needs, is imported only
when one of its commands runs. Importing every capability for every command cost 1.6-3 s at start (issue 10).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from hanoinet.audit.cli_record import command_entry, record_command
from hanoinet.platform.cli import build_nodes_with
from hanoinet.platform.logsafe import install_from_environment

if TYPE_CHECKING:
    from hanoinet.app.node import Node
    from hanoinet.platform.settings import Settings

SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "db": ("hanoinet.app.cli_db", "db_app", "The database schema."),
    "treaty": ("hanoinet.treaty.cli", "treaty_app", "Treaty status: deposits, Parties, entry into force, legal basis."),
    "case": ("hanoinet.cases.cli", "case_app", "Cases: the investigations requests are made for."),
    "request": ("hanoinet.requests.cli", "request_app", "Requests of Chapter V."),
    "asset": ("hanoinet.assets.cli", "asset_app", "Property in cases: traced, frozen, confiscated, returned."),
    "packs": ("hanoinet.rules.cli", "packs_app", "Rule packs: the instruments as data."),
    "document": (
        "hanoinet.documents.cli",
        "document_app",
        "Formal request documents: signed bilingual PDFs for counterparts off the network.",
    ),
    "evidence": (
        "hanoinet.evidence.cli",
        "evidence_app",
        "The evidence vault: ingest, verify, export, download, dispose.",
    ),
    "token": ("hanoinet.accounts.cli_tokens", "token_app", "API tokens for machines."),
    "node": ("hanoinet.federation.cli", "node_app", "This node on the network: its entry, its keys."),
    "directory": (
        "hanoinet.federation.cli",
        "directory_app",
        "The other nodes: import, list, revoke, sync from a directory.",
    ),
    "message": ("hanoinet.federation.cli", "message_app", "Messages to and from other nodes."),
    "outbox": ("hanoinet.federation.cli", "outbox_app", "Deliveries: what waits, what failed, deliver now."),
    "transfer": ("hanoinet.federation.cli", "transfer_app", "Evidence sent to and received from other nodes."),
    "consent": (
        "hanoinet.federation.cli",
        "consent_app",
        "Consent to onward transfer of received evidence (Art 36).",
    ),
    "user": (
        "hanoinet.accounts.cli",
        "user_app",
        "Accounts: create the first administrator, manage roles, lockouts.",
    ),
    "audit": ("hanoinet.audit.cli", "audit_app", "The audit log: read it, export it, verify its chain."),
}
"""Every sub-command group: name -> (module, attribute holding its ``typer.Typer``, the one line ``--help`` shows).

The help line must be the group's own (``tests/unit/test_cli_registry.py`` checks it, and that every entry
resolves to a Typer app), so that the listing never says something the group does not."""


def load_subcommand(name: str) -> typer.Typer:
    """Import the module of sub-command ``name`` and return its Typer app (KeyError if there is no such entry)."""
    module, attribute, _ = SUBCOMMANDS[name]
    found = getattr(importlib.import_module(module), attribute)
    if not isinstance(found, typer.Typer):
        raise TypeError(f"{module}.{attribute} is not a typer.Typer")
    return found


class LazyGroup(TyperGroup):
    """The root group: each sub-command group stands as a placeholder carrying its name and help until it is
    invoked (or completed), when its module is imported and the placeholder replaced by the real group.

    Placeholders sit in ``commands`` itself, so listing, ordering and "did you mean" suggestions work as for
    eagerly added groups; only ``resolve_command`` — the step before a command runs — loads one.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._pending: set[str] = set()
        for name, (_, _, help_line) in SUBCOMMANDS.items():
            if name not in self.commands:
                self.commands[name] = TyperGroup(name=name, help=help_line, rich_markup_mode=self.rich_markup_mode)
                self._pending.add(name)

    def load(self, name: str) -> None:
        """Replace the placeholder of ``name`` by the real group, built as ``add_typer`` would build it."""
        if name not in self._pending:
            return
        holder = typer.Typer(rich_markup_mode=self.rich_markup_mode)
        holder.add_typer(load_subcommand(name), name=name)
        built = typer.main.get_command(holder)
        if not isinstance(built, TyperGroup):
            raise TypeError(f"sub-command {name!r} did not build a group")
        self.commands[name] = built.commands[name]
        self._pending.discard(name)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        """Load the group about to run, then resolve as usual."""
        if args and args[0] in self._pending:
            self.load(args[0])
        return super().resolve_command(ctx, args)


def _bootstrap(settings: Settings) -> Node:
    """Build the node for a command that needs one, importing the bootstrap (SQLAlchemy, the vault, federation)
    only then."""
    from hanoinet.app import bootstrap as boot  # noqa: PLC0415 - only commands that need the node build it

    return boot.bootstrap(settings)


build_nodes_with(_bootstrap)

app = typer.Typer(
    cls=LazyGroup,
    help="hanoinet: a node for cooperation under the Hanoi and Budapest Conventions.",
    no_args_is_help=True,
)


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: $HANOINET_DATA_DIR or ~/.local/share/hanoinet)."),
    ] = None,
) -> None:
    """Global options."""
    if data_dir is not None:
        os.environ["HANOINET_DATA_DIR"] = str(data_dir)


@app.command()
def init() -> None:
    """Create the data directory and the database schema (other commands also do this on first use)."""
    from hanoinet.app import bootstrap as boot  # noqa: PLC0415 - each command imports what it uses (issue 10)
    from hanoinet.platform import migrations  # noqa: PLC0415 - likewise
    from hanoinet.platform.cli import errors, out, settings  # noqa: PLC0415 - likewise

    s = settings()
    with errors():
        n = boot.bootstrap(s)
        engine = boot.open_database(s)
        revision = migrations.current(engine)
    public = n.signer.public_key_hex() if n.signer else "none"
    out.print(f"data directory {s.data_dir} ready; database schema at {revision}; node signing key {public}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; loopback by default.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run the node's HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn  # noqa: PLC0415 - the server is only needed by this command

    from hanoinet.app import bootstrap as boot  # noqa: PLC0415 - likewise
    from hanoinet.app.api import create_app  # noqa: PLC0415 - likewise
    from hanoinet.platform.cli import errors, out, settings  # noqa: PLC0415 - likewise
    from hanoinet.platform.limits import BodyLimits  # noqa: PLC0415 - likewise
    from hanoinet.platform.logsafe import install_from_settings  # noqa: PLC0415 - likewise

    # Every log line escaped and bounded (uvicorn's too: it applies the same configuration), text or JSON.
    s = settings()
    log_config = install_from_settings(s)
    # A node's threads (API calls, deliveries, transfers) hand the interpreter to each other often; the default
    # 5 ms switch interval would add up to that much to each hand-over on a busy node (see bench/federation.py).
    sys.setswitchinterval(0.0005)
    with errors():
        n = boot.bootstrap(s, endpoint=f"http://{host}:{port}")
    api = create_app(n, boot.upload_store(s), worker=f"http://{host}:{port}", limits=BodyLimits.from_settings(s))
    out.print(f"hanoinet node {n.identity.node_id if n.identity else ''}: API docs at http://{host}:{port}/docs")
    # Connection limits (issue 11): h11, because httptools bounds neither the request line nor the headers (100 MiB
    # of headers grew the node by 100 MiB); a bound on connections and requests at once; short keep-alive.
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        http=s.serve_http,
        h11_max_incomplete_event_size=s.serve_max_header_bytes,
        limit_concurrency=s.serve_limit_concurrency,
        backlog=s.serve_backlog,
        timeout_keep_alive=s.serve_keep_alive_seconds,
        log_config=log_config,
    )


@app.command()
def demo(
    exercise: Annotated[
        str | None, typer.Option(help="Run the network for a training exercise of this scenario; the steps are yours.")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario to play (shipped name or .yaml file).")] = "lotus",
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the nodes keep their data (default: a temporary directory).")
    ] = None,
    base_port: Annotated[int, typer.Option(help="Nodes listen on the ports after this one.")] = 8100,
    speed: Annotated[float | None, typer.Option(help="Exercise clock speed (default: the scenario's).")] = None,
    keep_running: Annotated[bool, typer.Option(help="Keep the nodes running until Ctrl-C.")] = True,
) -> None:
    """Start a network of nodes on loopback, play a scenario through them, keep them running until Ctrl-C."""
    from hanoinet.app import demo as demo_runner  # noqa: PLC0415 - only this command needs it
    from hanoinet.platform.cli import fail  # noqa: PLC0415 - likewise

    try:
        code = demo_runner.run(
            exercise or scenario,
            exercise=exercise is not None,
            base=directory,
            base_port=base_port,
            keep_running=keep_running,
            speed=speed,
        )
    except demo_runner.DemoError as exc:
        fail(str(exc))
    raise typer.Exit(code)


def main() -> None:
    """Run the command through Typer, then record it in the audit log with its outcome."""
    code = 0
    argv = sys.argv[1:]
    install_from_environment()  # no attacker-supplied value reaches a log line unescaped (platform.logsafe)
    with command_entry(argv) as entry:
        try:
            app(standalone_mode=True)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
            raise
        finally:
            record_command(argv, code, entry)
