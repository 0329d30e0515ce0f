"""``hanoinet user …`` and ``hanoinet audit …``: accounts and the audit log at the command line.

The command line runs on the node itself, by someone who can read its data directory: that is how the first
administrator is created (there is no default account). Passwords are typed at a prompt (never on the command
line, where they would stay in the shell's history) or piped with ``--password-stdin``.

Separation of duties: the command line on the node itself grants any role at once (recorded as granted on the
host); grants asked for through the web UI or the API wait for a second administrator — ``hanoinet user grants``
lists them, ``hanoinet user approve ID`` and ``hanoinet user reject ID`` decide them. Nobody, here either,
changes their own roles (``$HANOINET_ACTOR`` names who acts).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hanoinet.accounts import service as account_services
from hanoinet.accounts.present import grant_json
from hanoinet.platform.cli import JsonOption, emit, errors, node, out, principal
from hanoinet.platform.events import Actor, Channel
from hanoinet.platform.logsafe import safe
from hanoinet.platform.permissions import Role

if TYPE_CHECKING:
    from hanoinet.app.node import Node

user_app = typer.Typer(help="Accounts: create the first administrator, manage roles, lockouts.", no_args_is_help=True)


def cli_actor() -> Actor:
    """Who acts at the command line (``$HANOINET_ACTOR`` in ``$HANOINET_ROLES``), as the audit log records it."""
    who = principal()
    return Actor(who.name, who.roles, Channel.CLI, "local")


def _password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Sign-in name (lower case).")],
    role: Annotated[list[Role], typer.Option(help="Role of the account; repeatable.")],
    name: Annotated[str, typer.Option(help="Full name, as shown on screens and in the audit log.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create an account (the first administrator, or any other); its password is asked for, never shown."""
    n = node()
    password = _password(password_stdin, "password (12 characters or more)")
    with errors():
        user = account_services.add_user(
            n, username=username, password=password, roles=frozenset(role), display_name=name, actor=cli_actor()
        )
    out.print(f"account {user.username} created with roles {', '.join(sorted(r.value for r in user.roles))}")


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """Every account, its roles, and whether it is locked or disabled."""
    n = node()
    with errors():
        users = account_services.list_users(n)
    now = n.now_wall()
    data: list[dict[str, Any]] = [
        {
            "username": u.username,
            "name": u.display_name,
            "roles": sorted(r.value for r in u.roles),
            "disabled": u.disabled_at is not None,
            "locked_until": u.locked_until.isoformat() if u.locked(now) and u.locked_until else None,
            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
        }
        for u in users
    ]

    def table() -> Table:
        t = Table("user", "name", "roles", "state", "last sign-in")
        for u in data:
            state = (
                "disabled" if u["disabled"] else f"locked until {u['locked_until']}" if u["locked_until"] else "active"
            )
            t.add_row(u["username"], u["name"], ", ".join(u["roles"]), state, u["last_login_at"] or "")
        return t

    emit(data, as_json, table)


@user_app.command("roles")
def user_roles(
    username: str, role: Annotated[list[Role], typer.Option(help="The account's new roles; repeatable.")]
) -> None:
    """Replace an account's roles (its sessions end)."""
    n = node()
    with errors():
        changed = account_services.set_roles(n, username, frozenset(role), actor=cli_actor())
    out.print(f"{changed.user.username}: {', '.join(sorted(r.value for r in changed.user.roles))}")


@user_app.command("grants")
def user_grants(as_json: JsonOption = False) -> None:
    """The grants of roles and password resets asked for through the web UI or the API, waiting for a second
    administrator."""
    n = node()
    with errors():
        waiting = account_services.pending_grants(n)
    data: list[dict[str, Any]] = [grant_json(g) for g in waiting]

    def table() -> Table:
        t = Table("id", "user", "change asked for", "now", "asked by", "at")
        for g in data:
            t.add_row(
                g["id"],
                escape(g["username"]),
                "a new password" if g["change"] == "password" else ", ".join(g["roles"]),
                ", ".join(g["previous"]) or "none",
                escape(safe(g["requested_by"], 64)),
                g["requested_at"][:19],
            )
        return t

    emit(data, as_json, table)


@user_app.command("approve")
def user_approve(grant_id: Annotated[str, typer.Argument(help="The grant's id (see 'hanoinet user grants').")]) -> None:
    """Approve a pending grant: its roles take effect now (the account's sessions end)."""
    n = node()
    with errors():
        grant = account_services.approve_grant(n, grant_id, actor=cli_actor())
    asked = escape(safe(grant.requested_by, 64))
    if grant.resets_password:
        out.print(f"grant {grant.id} approved: {grant.username} has its new password (asked for by {asked})")
        return
    roles = ", ".join(sorted(r.value for r in grant.roles))
    out.print(f"grant {grant.id} approved: {grant.username} now has {roles} (asked for by {asked})")


@user_app.command("reject")
def user_reject(grant_id: Annotated[str, typer.Argument(help="The grant's id (see 'hanoinet user grants').")]) -> None:
    """Reject a pending grant: the account's roles stay as they are."""
    n = node()
    with errors():
        grant = account_services.reject_grant(n, grant_id, actor=cli_actor())
    out.print(f"grant {grant.id} rejected: {grant.username} is unchanged")


@user_app.command("password")
def user_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Set an account's password (its sessions end, a lockout is lifted)."""
    n = node()
    password = _password(password_stdin, "new password (12 characters or more)")
    with errors():
        account_services.set_password(n, username, password, actor=cli_actor())
    out.print(f"password of {username} changed")


def _change(username: str, done: str, change: Callable[[Node, Actor], object]) -> None:
    """Make one change to an account as the command line's actor, then say ``<username> <done>``: what disabling,
    enabling and unlocking an account do alike (the service records the change in the audit log)."""
    n = node()
    with errors():
        change(n, cli_actor())
    out.print(f"{username} {done}")


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Disable an account: it cannot sign in, its sessions end now."""
    _change(username, "disabled", lambda n, who: account_services.set_disabled(n, username, True, actor=who))


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Enable a disabled account again."""
    _change(username, "enabled", lambda n, who: account_services.set_disabled(n, username, False, actor=who))


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Lift a lockout after repeated failed sign-ins."""
    _change(username, "unlocked", lambda n, who: account_services.unlock(n, username, actor=who))
