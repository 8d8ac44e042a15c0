"""The interface's language in Chromium: the browser's language picks it, the switch overrides it and is remembered."""

from __future__ import annotations

import pytest

from .boxes import catalog
from .conftest import NewContext, host_in_new_meeting

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]



async def test_browser_language_picks_and_the_switch_is_remembered(new_context: NewContext) -> None:
    uk, en = catalog("uk"), catalog("en")
    page = await (await new_context(locale="uk-UA")).new_page()
    await page.goto("/login")
    assert await page.get_attribute("html", "lang") == "uk"
    assert await page.get_by_test_id("login-submit").inner_text() == uk["login.submit"]

    await page.get_by_test_id("language-en").click()
    await page.wait_for_function('document.documentElement.lang === "en"')
    assert await page.get_by_test_id("login-submit").inner_text() == en["login.submit"]
    assert await page.get_by_test_id("language-en").get_attribute("aria-pressed") == "true"

    # Remembered: a page opened later in the same browser keeps the choice over the browser's Ukrainian.
    await page.goto("/join/no-such-meeting")
    assert await page.get_attribute("html", "lang") == "en"
    assert await page.get_by_test_id("message-title").inner_text() == en["page.meeting_not_found.title"]


async def test_the_join_page_in_ukrainian(new_context: NewContext) -> None:
    uk = catalog("uk")
    _host, meeting_id = await host_in_new_meeting(new_context)
    guest = await (await new_context(locale="uk-UA")).new_page()
    await guest.goto(f"/join/{meeting_id}")
    assert await guest.get_attribute("html", "lang") == "uk"
    assert await guest.locator("h1").inner_text() == uk["join.heading"]
    assert await guest.get_by_test_id("join-submit").inner_text() == uk["join.submit"]
    assert await guest.title() == f"{uk['join.title']} · {uk['app.name']}"
    assert await guest.get_by_test_id("language-uk").get_attribute("aria-pressed") == "true"


async def test_call_page_controls_speak_the_browsers_ukrainian(new_context: NewContext) -> None:
    uk = catalog("uk")
    page, _ = await host_in_new_meeting(new_context, locale="uk-UA")
    assert await page.get_attribute("html", "lang") == "uk"
    assert await page.locator("#toggle-mic .control-label").inner_text() == uk["room.control.mic"]
    assert await page.locator("#toggle-camera .control-label").inner_text() == uk["room.control.camera"]
    assert await page.locator("#leave .control-label").inner_text() == uk["room.control.leave"]
    assert await page.get_by_test_id("leave").get_attribute("aria-label") == uk["room.control.leave_label"]
    assert await page.title() == f'{uk["room.title"]} · {uk["app.name"]}'
