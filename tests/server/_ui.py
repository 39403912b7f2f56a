"""Logging a test client in through the real login form."""

from __future__ import annotations

import re

import httpx


def log_in(client: httpx.Client, username: str, password: str, *, next_page: str = "/"):
    form = client.get("/login").text
    token = re.search(r'name="login_token" value="([^"]+)"', form).group(1)
    return client.post("/login", data={"username": username, "password": password,
                                       "login_token": token, "next": next_page},
                       follow_redirects=False)
