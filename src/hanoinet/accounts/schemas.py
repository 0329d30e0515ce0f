"""The OpenAPI shapes of an account and of a grant waiting for a second administrator: what
``accounts.present.user_json`` and ``grant_json`` write (never a password hash)."""

from __future__ import annotations

from typing import Literal

from hanoinet.platform.api import DateTime, Shape


class GrantOut(Shape):
    """A change of an account that needs a second administrator's approval: its roles, giving it a role that reads
    casework or manages accounts (``change: roles``), or its password, reset by an administrator (``change:
    password``; ``roles`` and ``previous`` are then the account's unchanged roles)."""

    id: str
    username: str
    change: Literal["roles", "password"]
    roles: list[str]
    previous: list[str]
    needs_approval: list[str]
    requested_by: str
    requested_at: DateTime
    status: str
    decided_by: str | None
    decided_at: DateTime | None


class UserOut(Shape):
    """An account, with its roles, whether it is locked or disabled, and a grant of roles waiting for approval."""

    username: str
    display_name: str
    roles: list[str]
    created_at: DateTime
    last_login_at: DateTime | None
    failed_logins: int
    locked_until: DateTime | None
    disabled: bool
    disabled_at: DateTime | None
    pending_grant: GrantOut | None
