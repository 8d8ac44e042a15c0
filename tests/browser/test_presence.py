"""Presence in real Chromium: waiting for the host, join and leave notices, the Host badge, the people count,
and a guest's request to unmute reaching the host with the host panel closed."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Page

from .conftest import NewContext, host_in_new_meeting, join_guest, participant_id, tile_selector, wait_for_tile
from .ui import UI_TIMEOUT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


async def line(page: Page) -> str:
    return await page.get_by_test_id("presence-line").inner_text()


async def wait_line(page: Page, pattern: str) -> None:
    await page.wait_for_function(
        "(p) => new RegExp(p).test(document.querySelector('[data-testid=\"presence-line\"]').textContent)",
        arg=pattern, timeout=UI_TIMEOUT)


async def wait_count(page: Page, count: int) -> None:
    await page.wait_for_function(
        "(n) => document.querySelector('[data-testid=\"people-count\"]').textContent === String(n)",
        arg=count, timeout=UI_TIMEOUT)


async def assert_line_clear_of_video(page: Page) -> None:
    """The notices are a row of the control bar: inside its box, over no tile."""
    info = await page.get_by_test_id("call-info").bounding_box()
    bar = await page.locator("footer.controls").bounding_box()
    assert info and bar
    assert bar["y"] - 0.5 <= info["y"] and info["y"] + info["height"] <= bar["y"] + bar["height"] + 0.5
    for tile in await page.locator(".tile").all():
        box = await tile.bounding_box()
        if box:
            assert box["y"] + box["height"] <= info["y"] + 0.5, (box, info)


async def test_presence_waiting_notices_badge_count_and_unmute_request(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    await participant_id(host)
    await host.goto("/")  # the host steps out: the guest comes into a meeting with no host

    guest = await join_guest(await new_context(), meeting_id, "Ann")
    guest_id = await participant_id(guest)
    await wait_line(guest, "Waiting for the host")
    await wait_count(guest, 1)

    await host.goto(f"/room/{meeting_id}")
    host_id = await participant_id(host)
    await wait_for_tile(guest, host_id)
    await wait_count(guest, 2)
    await wait_count(host, 2)
    assert "Waiting for the host" not in await line(guest)  # the join notice, then nothing
    badge = guest.locator(f'{tile_selector(host_id)} [data-testid="host-badge"]')
    await badge.wait_for(state="visible", timeout=UI_TIMEOUT)
    assert await badge.inner_text() == "Host"
    assert await guest.locator(f'{tile_selector(guest_id)} [data-testid="host-badge"]').count() == 0
    await assert_line_clear_of_video(guest)

    # The host mutes Ann with the panel, closes it; Ann asks to unmute: the host sees it and allows it.
    await host.get_by_test_id("toggle-host-panel").click()
    row = host.locator(f'[data-testid="participant-row"][data-participant-id="{guest_id}"]')
    await row.get_by_test_id("mute-participant").click()
    await host.get_by_test_id("toggle-host-panel").click()
    await host.get_by_test_id("host-panel").wait_for(state="hidden", timeout=UI_TIMEOUT)
    await guest.get_by_test_id("request-unmute").click()
    await wait_line(host, "Ann asks to unmute")
    await assert_line_clear_of_video(host)
    await host.get_by_test_id("presence-allow").click()
    await guest.get_by_test_id("request-unmute").wait_for(state="hidden", timeout=UI_TIMEOUT)
    assert not await guest.get_by_test_id("toggle-mic").is_disabled()

    left = asyncio.ensure_future(wait_line(host, re.escape("Ann left")))
    await guest.get_by_test_id("leave").click()
    await left
    await wait_count(host, 1)


async def test_presence_in_ukrainian(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context, locale="uk-UA")
    await participant_id(host)
    # The notice lasts 4 s: watch for it from before the guest joins, so a slow join cannot miss it.
    notice = asyncio.ensure_future(wait_line(host, "Оля приєднується"))
    guest = await join_guest(await new_context(locale="uk-UA"), meeting_id, "Оля")
    await participant_id(guest)
    await notice
    await wait_count(host, 2)
    count = host.get_by_test_id("people-count")
    assert await count.get_attribute("aria-label") == "2 учасники у дзвінку"
