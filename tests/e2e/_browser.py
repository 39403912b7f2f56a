"""Chromium (Debian's, through playwright), signed in to a platform server as a person."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


@contextmanager
def signed_in(server: Mapping[str, Any]) -> Iterator[tuple[Any, list[str]]]:
    """A page signed in to ``server`` (its ``url``, ``username`` and ``password``), on the
    dashboard; and the errors its scripts raise (uncaught, or logged to the console), for the
    test to assert none. Confirm dialogs (promote, rollback) are accepted."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda dialog: dialog.accept())
        url = server["url"]
        page.goto(url + "/")
        page.fill("input[name=username]", server["username"])
        page.fill("input[name=password]", server["password"])
        page.click("button[type=submit]")
        page.wait_for_url(url + "/")
        try:
            yield page, errors
        finally:
            browser.close()
