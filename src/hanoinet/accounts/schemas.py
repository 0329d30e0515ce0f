"""The OpenAPI shape of an account: what ``accounts.api.user_json`` writes (never a password hash)."""

from __future__ import annotations

from hanoinet.platform.api import DateTime, Shape


class UserOut(Shape):
    """An account, with its roles and whether it is locked or disabled."""

    username: str
    display_name: str
    roles: list[str]
    created_at: DateTime
    last_login_at: DateTime | None
    failed_logins: int
    locked_until: DateTime | None
    disabled: bool
    disabled_at: DateTime | None
