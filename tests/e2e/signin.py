"""Signing in through the web form as a browser does: fetch the form (its pre-session token, in a cookie and a
hidden field), then post it. ``POST /login`` without the token is refused (login CSRF, issue 11)."""

from __future__ import annotations

import re

import httpx

LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def login_token(client: httpx.Client) -> str:
    """Open the sign-in form; the token of its hidden field (its cookie is now in the client's jar)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    found = LOGIN_TOKEN.search(page.text)
    assert found is not None, "the sign-in form carries no pre-session token"
    return found.group(1)


def post_login(client: httpx.Client, username: str, password: str, next: str | None = None) -> httpx.Response:
    """Fill in and send the sign-in form (``next``: where to go after it, if given)."""
    data = {"username": username, "password": password, "login_token": login_token(client)}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data)


async def post_login_async(
    client: httpx.AsyncClient, username: str, password: str, next: str | None = None
) -> httpx.Response:
    """``post_login`` for an asynchronous client."""
    page = await client.get("/login")
    found = LOGIN_TOKEN.search(page.text)
    assert found is not None, "the sign-in form carries no pre-session token"
    data = {"username": username, "password": password, "login_token": found.group(1)}
    if next is not None:
        data["next"] = next
    return await client.post("/login", data=data)
