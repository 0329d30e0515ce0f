"""The ``hanoinet`` command: thin over the services — parse, call one service, print the result."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from hanoinet.accounts.cli import user_app
from hanoinet.accounts.cli_tokens import token_app
from hanoinet.app import bootstrap as boot
from hanoinet.audit.cli import audit_app, command_entry, record_command
from hanoinet.cases.cli import case_app
from hanoinet.evidence.cli import evidence_app
from hanoinet.federation.cli import consent_app, directory_app, message_app, node_app, outbox_app, transfer_app
from hanoinet.platform import migrations
from hanoinet.platform.cli import (
    build_nodes_with,
    errors,
    fail,
    out,
    settings,
)
from hanoinet.requests.cli import request_app
from hanoinet.rules.cli import packs_app
from hanoinet.treaty.cli import treaty_app

build_nodes_with(boot.bootstrap)

app = typer.Typer(
    help="hanoinet: a node for cooperation under the Hanoi and Budapest Conventions.", no_args_is_help=True
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(treaty_app, name="treaty")
app.add_typer(case_app, name="case")
app.add_typer(request_app, name="request")
app.add_typer(packs_app, name="packs")
app.add_typer(evidence_app, name="evidence")
app.add_typer(token_app, name="token")
app.add_typer(node_app, name="node")
app.add_typer(directory_app, name="directory")
app.add_typer(message_app, name="message")
app.add_typer(outbox_app, name="outbox")
app.add_typer(transfer_app, name="transfer")
app.add_typer(consent_app, name="consent")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")


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

    from hanoinet.app.api import create_app  # noqa: PLC0415 - likewise

    # A node's threads (API calls, deliveries, transfers) hand the interpreter to each other often; the default
    # 5 ms switch interval would add up to that much to each hand-over on a busy node (see bench/federation.py).
    sys.setswitchinterval(0.0005)
    with errors():
        n = boot.bootstrap(settings(), endpoint=f"http://{host}:{port}")
    api = create_app(n, boot.upload_store(settings()), worker=f"http://{host}:{port}")
    out.print(f"hanoinet node {n.identity.node_id if n.identity else ''}: API docs at http://{host}:{port}/docs")
    uvicorn.run(api, host=host, port=port, log_level="info", access_log=False)


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


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations."""
    s = settings()
    if s.database_url is None:
        boot.prepare_data_dir(s)
    from hanoinet.platform.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    engine = make_engine(s.effective_database_url)
    migrations.upgrade(engine, revision)
    out.print(f"database schema at {migrations.current(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database schema revision."""
    from hanoinet.platform.db import make_engine  # noqa: PLC0415 - no engine needed elsewhere in the CLI

    out.print(str(migrations.current(make_engine(settings().effective_database_url))))


def main() -> None:
    """Console-script entry point: run the command, then record it in the audit log with its outcome."""
    code = 0
    argv = sys.argv[1:]
    with command_entry(argv) as entry:
        try:
            app(standalone_mode=True)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
            raise
        finally:
            record_command(argv, code, entry)
