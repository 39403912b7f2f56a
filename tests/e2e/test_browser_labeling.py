"""Labeling in real headless Chromium with the keyboard: a project made in the browser from
examples/sms_spam.csv, then 1, 2, u and s, and the progress follows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from tests._paths import EXAMPLES
from tests.e2e._live_server import live_server
from tests.server._jobs import upload

from trainforge.store import access
from trainforge.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.slow,  # a browser against a live server
              pytest.mark.skipif(shutil.which("chromium") is None,
                                 reason="needs Debian's chromium (.ci/run installs it)")]


@pytest.fixture
def page(tmp_path) -> Iterator[tuple[object, str, list[str]]]:
    from playwright.sync_api import sync_playwright

    workspace = Workspace(tmp_path / "home")
    username, password = access.ensure_first_admin(workspace)
    upload(workspace, EXAMPLES / "sms_spam.csv")
    with live_server(workspace) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        tab = browser.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        tab.goto(url + "/login")
        tab.fill("input[name=username]", username)
        tab.fill("input[name=password]", password)
        tab.click("button[type=submit]")
        tab.wait_for_url(url + "/")
        yield tab, url, errors
        browser.close()


def test_an_annotator_labels_with_the_keyboard_and_sees_the_progress_change(page):
    tab, url, errors = page
    tab.goto(url + "/labeling")
    tab.fill("input[name=name]", "sms")
    tab.fill("input[name=classes]", "ham,spam")
    tab.fill("input[name=text_column]", "text")
    tab.click("button:has-text('Create')")
    tab.wait_for_url(url + "/labeling/sms", timeout=20_000)
    tab.click("text=Label items")
    shown = tab.locator("#labeler")
    assert (shown.get_attribute("data-item"), tab.inner_text("#progress strong")) == ("0", "0")
    tab.keyboard.press("1")  # ham for item 0
    tab.wait_for_selector("#progress strong:text-is('1')", timeout=10_000)
    tab.keyboard.press("2")  # spam for item 1
    tab.wait_for_selector("#progress strong:text-is('2')", timeout=10_000)
    tab.keyboard.press("u")  # item 1 again, its label taken back
    tab.wait_for_selector("#progress strong:text-is('1')", timeout=10_000)
    assert shown.get_attribute("data-item") == "1"
    tab.keyboard.press("s")  # skipped: another item, the progress unchanged
    tab.wait_for_selector("#labeler:not([data-item='1'])", timeout=10_000)
    assert tab.inner_text("#progress strong") == "1"
    # a key pressed the instant the next item lands, before htmx has wired its forms, is
    # still sent by htmx (the browser posting the form itself would leave the page)
    tab.evaluate("""() => {
        const watch = new MutationObserver(() => {
            watch.disconnect();
            document.dispatchEvent(new KeyboardEvent("keydown", {key: "1", bubbles: true}));
        });
        watch.observe(document.querySelector("#labeler").parentNode, {childList: true});
    }""")
    tab.keyboard.press("2")
    tab.wait_for_selector("#progress strong:text-is('3')", timeout=10_000)
    assert tab.url == url + "/labeling/sms/label"
    tab.goto(url + "/labeling/sms")
    assert "admin" in tab.inner_text("table.grid") and errors == []
