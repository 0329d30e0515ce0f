"""The CLI's quick path: the public, read-only treaty and pack commands answered from files, without the node.

``treaty status``, ``treaty party``, ``treaty basis`` and ``packs list`` only read the depositary's records and the
shipped rule packs, yet through the full path each imported Typer, SQLAlchemy, pydantic and bootstrapped the
whole node (1.6-3 s, issue 10). Here they are answered with the standard library (``sqlite3``), the treaty domain
and the shipped packs read without validation (``rules.summary``), printing exactly what the full command prints
(``tests/unit/test_quick_read.py`` compares the two on several dates).

The quick path answers only when it can be sure to give the full path's answer; otherwise ``answer`` returns
False and the full CLI runs, with its checks and its error messages. It steps aside for:

- any other argument than those listed in ``_COMMANDS`` (``--help``, an unknown option, a bad date ...);
- any ``HANOINET_*`` setting other than the data directory and the node's State (another database, a fast
  exercise clock, a node id or roles to check ...), or a node State that is unknown;
- a node not yet set up (no data directory of mode 0700, no database, no keys) or whose schema is not the current
  one, or operator packs in ``DATA_DIR/packs`` (the loader must validate them);
- an unknown instrument or State, or any record the treaty domain refuses.

These commands are not recorded in the audit log on either path (``audit.cli.PUBLIC_READS``): they read public
treaty data and change nothing.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from hanoinet.rules.summary import ShippedPack
    from hanoinet.treaty.domain import StateCatalog, TreatyRegistry

SETTINGS_FIELDS = frozenset(
    {
        "data_dir",
        "database_url",
        "node_state",
        "node_name",
        "node_id",
        "node_roles",
        "node_languages",
        "node_hours",
        "node_endpoint",
        "federation_window_seconds",
        "federation_retry_max_seconds",
        "federation_batch_size",
        "federation_refusal_rate",
        "federation_refusal_burst",
        "federation_refusal_record_cap",
        "federation_refusal_record_total",
        "federation_refusal_window_seconds",
        "federation_refusal_sources",
        "allow_private_peers",
        "directory_urls",
        "federation_max_answer_bytes",
        "login_free_per_pair",
        "login_free_per_address",
        "login_free_per_account",
        "login_first_delay_seconds",
        "login_max_delay_seconds",
        "login_forget_seconds",
        "login_max_tracked",
        "password_checks_concurrent",
        "password_checks_waiting",
        "document_letterhead",
        "document_signatory",
        "document_location",
        "document_tsa_url",
        "clock_speed",
        "clock_epoch",
        "upload_expiry_seconds",
        "upload_quota_bytes",
        "limit_json_bytes",
        "limit_form_bytes",
        "limit_form_fields",
        "limit_form_field_bytes",
        "limit_transmission_bytes",
        "limit_document_bytes",
        "limit_stream_bytes",
        "limit_body_seconds",
        "limit_stream_idle_seconds",
        "serve_limit_concurrency",
        "serve_backlog",
        "serve_keep_alive_seconds",
        "serve_http",
        "serve_max_header_bytes",
        "log_format",
        "log_value_limit",
        "log_message_limit",
        "log_record_limit",
        "error_text_limit",
    }
)
"""The fields of ``platform.settings.Settings`` (a unit test keeps the two equal)."""

QUICK_SETTINGS = frozenset({"data_dir", "node_state"})
"""The only settings the quick path reads itself; any other one set sends the command to the full path."""

KEY_FILES = ("vault-master.key", "node-signing.pem", "node-id", "federation/signing.pem", "federation/encryption.pem")
"""The key files a set-up node has in ``DATA_DIR/keys`` (``platform.keys``; a unit test keeps them equal)."""

MASTER_KEY_BYTES = 32

_OPTIONS_WITH_VALUE = {"--instrument": "instrument", "-i": "instrument", "--on": "on"}
_COMMANDS: dict[tuple[str, str], tuple[int, frozenset[str]]] = {
    ("treaty", "status"): (0, frozenset({"instrument", "on", "json"})),
    ("treaty", "party"): (1, frozenset({"instrument", "on", "json"})),
    ("treaty", "basis"): (2, frozenset({"on", "json"})),
    ("packs", "list"): (0, frozenset({"json"})),
}
"""Command -> (number of arguments, options it takes)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """A quick command as parsed from the command line."""

    command: tuple[str, str]
    arguments: tuple[str, ...]
    data_dir: str | None = None
    instrument: str = "uncc-2024"
    on: date | None = None
    as_json: bool = False


class Decline(Exception):  # noqa: N818 - reads as what the quick path does: it declines
    """The quick path cannot be sure to answer as the full path would: the full CLI must run."""


def _take_value(option: str, equals: str, value: str, rest: list[str]) -> str:
    """The value of an option given as ``--opt=value`` or ``--opt value``."""
    if equals:
        return value
    if not rest:
        raise Decline(f"{option} without a value")
    return rest.pop(0)


def _global_data_dir(args: list[str]) -> str | None:
    """Take the global ``--data-dir`` options off the front of ``args``; the last one wins, as in Typer."""
    data_dir: str | None = None
    while args and args[0].startswith("--data-dir"):
        option, equals, value = args.pop(0).partition("=")
        if option != "--data-dir":
            raise Decline(option)
        data_dir = _take_value(option, equals, value, args)
    return data_dir


def parse(argv: Sequence[str]) -> Invocation:
    """Parse ``argv`` as Typer would for a quick command; raise Decline for anything else or anything doubtful."""
    args = list(argv)
    data_dir = _global_data_dir(args)
    if len(args) < 2 or (args[0], args[1]) not in _COMMANDS:
        raise Decline("not a quick command")
    command = (args[0], args[1])
    count, allowed = _COMMANDS[command]
    positional: list[str] = []
    values: dict[str, str] = {}
    rest = args[2:]
    while rest:
        token = rest.pop(0)
        option, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if option == "--json" and not equals:
            values["json"] = ""
        elif option in _OPTIONS_WITH_VALUE:
            values[_OPTIONS_WITH_VALUE[option]] = _take_value(option, equals, value, rest)
        elif token.startswith("-"):
            raise Decline(token)
        else:
            positional.append(token)
    if len(positional) != count or not set(values) <= allowed:
        raise Decline("arguments")
    on = None
    if "on" in values:
        try:
            on = datetime.strptime(values["on"], "%Y-%m-%d").date()  # noqa: DTZ007 - a calendar date, as --on
        except ValueError:
            raise Decline("--on") from None
    return Invocation(
        command=command,
        arguments=tuple(positional),
        data_dir=data_dir,
        instrument=values.get("instrument", "uncc-2024"),
        on=on,
        as_json="json" in values,
    )


@dataclass(frozen=True, slots=True)
class QuickNode:
    """What the quick commands read: the shipped packs, the States, the deposit events, today."""

    packs: Mapping[str, ShippedPack]
    catalog: StateCatalog
    registry: TreatyRegistry
    today: date


def _settings(environ: Mapping[str, str], data_dir: str | None) -> tuple[Path, str | None] | None:
    """The data directory and node State as ``Settings`` would read them; None if another setting is set."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        upper = name.upper()
        if not upper.startswith("HANOINET_") or upper[len("HANOINET_") :].lower() not in SETTINGS_FIELDS:
            continue
        field = upper[len("HANOINET_") :].lower()
        if field not in QUICK_SETTINGS or name != upper or field in found:
            return None
        found[field] = value
    if data_dir is not None:
        found["data_dir"] = data_dir
    if "data_dir" in found:
        if not found["data_dir"]:
            return None
        folder = Path(found["data_dir"])
    else:
        base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        folder = Path(base) / "hanoinet"
    state = found.get("node_state") or None
    return folder, state.upper() if state else None


def schema_head() -> str:
    """The newest migration's revision, read from the migration scripts (alembic's head)."""
    folder = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in folder.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision = re.search(r'^revision: str = "([^"]+)"', text, re.MULTILINE)
        parent = re.search(r'^down_revision: str \| None = "([^"]+)"', text, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    (head,) = revisions - parents
    return head


def _set_up(folder: Path) -> bool:
    """True if the full path would find this node set up and change nothing on disk before answering."""
    keys = folder / "keys"
    try:
        if not folder.is_dir() or folder.stat().st_mode & 0o777 != 0o700 or keys.stat().st_mode & 0o777 != 0o700:
            return False
        if not all((keys / name).is_file() for name in KEY_FILES):
            return False
        if (keys / KEY_FILES[0]).stat().st_size != MASTER_KEY_BYTES:
            return False
    except OSError:
        return False
    local_packs = folder / "packs"
    return not (local_packs.is_dir() and any(local_packs.glob("*.yaml")))


def _deposit_rows(database: Path) -> list[tuple[str, str, str, str]] | None:
    """Every deposit event, as the SQL repository orders them; None unless the schema is the current one."""
    if not database.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as conn:
            conn.execute("PRAGMA busy_timeout=10000")
            revisions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            if revisions != [(schema_head(),)]:
                return None
            rows: list[tuple[str, str, str, str]] = conn.execute(
                'SELECT instrument, party, action, "on" FROM deposit_events ORDER BY "on", id'
            ).fetchall()
    except sqlite3.Error:
        return None
    return rows


def open_node(environ: Mapping[str, str], data_dir: str | None) -> QuickNode | None:
    """Read what the quick commands need, or None if the full path must answer."""
    settings = _settings(environ, data_dir)
    if settings is None:
        return None
    folder, node_state = settings
    if not _set_up(folder):
        return None
    rows = _deposit_rows(folder / "hanoinet.db")
    if rows is None:
        return None
    from hanoinet.platform.errors import DomainError  # noqa: PLC0415 - imported after the cheap checks
    from hanoinet.rules.summary import shipped_packs  # noqa: PLC0415
    from hanoinet.treaty.countries import load_catalog  # noqa: PLC0415
    from hanoinet.treaty.domain import DepositAction, DepositEvent, TreatyRegistry  # noqa: PLC0415

    catalog = load_catalog()
    if node_state and not catalog.is_known(node_state):
        return None
    packs = shipped_packs()
    try:
        events = [DepositEvent(i, p, DepositAction(a), date.fromisoformat(on)) for i, p, a, on in rows]
        registry = TreatyRegistry({k: p.entry_into_force for k, p in packs.items()}, catalog, events)
    except (ValueError, DomainError):
        return None
    return QuickNode(packs=packs, catalog=catalog, registry=registry, today=datetime.now(UTC).date())


def _print(data: Any, as_json: bool, table: Callable[[], Table | str]) -> None:
    from hanoinet.platform.output import console, write_json  # noqa: PLC0415 - rich only for a table

    if as_json:
        write_json(data)
    else:
        console().print(table())


def _known(node: QuickNode, *codes: str) -> None:
    if not all(node.catalog.is_known(code) for code in codes):
        raise Decline("unknown State")  # the full path names it, with its exit code


def _instrument(node: QuickNode, invocation: Invocation) -> str:
    if invocation.instrument not in node.packs:
        raise Decline("unknown instrument")  # likewise
    return invocation.instrument


def run(invocation: Invocation, node: QuickNode) -> None:
    """Print the answer to a quick command; raise Decline, having printed nothing, if the full path must answer."""
    from hanoinet.rules.cli_render import packs_table  # noqa: PLC0415
    from hanoinet.treaty import cli_render  # noqa: PLC0415
    from hanoinet.treaty import present as treaty_present  # noqa: PLC0415

    day = invocation.on or node.today
    as_json = invocation.as_json
    if invocation.command == ("packs", "list"):
        packs = [p.summary() for p in node.packs.values()]
        _print(packs, as_json, lambda: packs_table(packs))
    elif invocation.command == ("treaty", "basis"):
        a, b = (code.upper() for code in invocation.arguments)
        _known(node, a, b)
        basis = node.registry.legal_basis(a, b, day)
        _print(cli_render.basis_data(a, b, day, basis), as_json, lambda: cli_render.basis_sentence(a, b, day, basis))
    elif invocation.command == ("treaty", "status"):
        instrument = _instrument(node, invocation)
        status = node.registry.status(instrument, day)
        data = treaty_present.instrument_status(status)
        _print(data, as_json, lambda: cli_render.status_table(instrument, status, data))
    else:
        instrument = _instrument(node, invocation)
        state = invocation.arguments[0].upper()
        _known(node, state)
        party = node.registry.party_status(instrument, state, day)
        found = treaty_present.party_status(party)
        _print(found, as_json, lambda: cli_render.party_table(instrument, party, found))


def answer(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> bool:
    """Answer ``argv`` on the quick path if it is a quick command this node can answer; True if it did."""
    try:
        invocation = parse(argv)
        node = open_node(os.environ if environ is None else environ, invocation.data_dir)
        if node is None:
            return False
        run(invocation, node)
    except Decline:
        return False
    return True


def main() -> None:
    """Console-script entry point: the quick path if it answers, else the full CLI (``app.cli.main``)."""
    if answer(sys.argv[1:]):
        return
    from hanoinet.app.cli import main as full  # noqa: PLC0415 - the full CLI only when the quick path cannot answer

    full()
