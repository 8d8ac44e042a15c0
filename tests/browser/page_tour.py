"""Opens every page of the product in one language and hands each to a check: login, the host home with a live
meeting and its share panel, the guest's join page, the call page with the host panel open (a guest in the
call), and a message page (a meeting that does not exist). The translation and accessibility tests share it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, ViewportSize

from .conftest import DEFAULT_VIEWPORT, NewContext, login_host, participant_id, wait_for_tile
from .ui import open_prejoin, submit_join

GUEST_NAME = "Olena"
HOST_NAME = "host"
MISSING_MEETING = "no-such-meeting"

# A page's name, the page, and the user data on it (names, ids, device labels): text that is not the interface's.
Check = Callable[[str, Page, set[str]], Awaitable[None]]

# Waits for the page's one-off animations (a panel sliding in) to end: mid-fade colours are not the page's.
SETTLE_JS = """
() => Promise.all(document.getAnimations()
  .filter((a) => a.effect && a.effect.getTiming().iterations !== Infinity)
  .map((a) => a.finished.catch(() => null)))
"""
# The browser's names of the fake devices: the join page lists them, and they are the browser's words.
DEVICE_LABELS_JS = "async () => (await navigator.mediaDevices.enumerateDevices()).map((d) => d.label).filter(Boolean)"


async def settle(page: Page) -> None:
    await page.wait_for_load_state("load")
    await page.evaluate(SETTLE_JS)


async def visit_every_page(new_context: NewContext, locale: str, check: Check,
                           viewport: ViewportSize = DEFAULT_VIEWPORT) -> None:
    host_context = await new_context(viewport=viewport, locale=locale)
    host = await host_context.new_page()
    await host.goto("/login")
    await settle(host)
    await check("login", host, set())

    await login_host(host)
    await host.wait_for_function("() => window.homePage !== undefined")
    await host.get_by_test_id("create-meeting").click()
    panel = host.get_by_test_id("share-panel")
    await panel.wait_for(state="visible")
    await host.get_by_test_id("meeting-item").first.wait_for(state="visible")
    meeting_id = await host.get_by_test_id("share-meeting-id").inner_text()
    link = await host.get_by_test_id("meeting-link").input_value()
    # The list holds the host's other live meetings too (earlier tests'): their ids are user data as well.
    rows = '[data-testid="meeting-item"]'
    listed = await host.eval_on_selector_all(rows, "rows => rows.map((row) => row.dataset.meetingId)")
    await settle(host)
    await check("home", host, {HOST_NAME, meeting_id, link, *listed})

    guest_context = await new_context(viewport=viewport, locale=locale)
    guest = await open_prejoin(guest_context, meeting_id)
    devices = set(await guest.evaluate(DEVICE_LABELS_JS))
    await settle(guest)
    await check("join", guest, {meeting_id, *devices})
    await submit_join(guest, meeting_id, GUEST_NAME)
    guest_id = await participant_id(guest)

    await panel.get_by_test_id("enter-meeting").click()
    await host.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await participant_id(host)
    await wait_for_tile(host, guest_id)
    await host.get_by_test_id("toggle-host-panel").click()
    await host.get_by_test_id("host-panel").wait_for(state="visible")
    await host.locator(f'[data-testid="host-panel"] [data-participant-id="{guest_id}"]').first.wait_for()
    await settle(host)
    await check("call", host, {HOST_NAME, HOST_NAME[0].upper(), GUEST_NAME, GUEST_NAME[0], meeting_id, *devices})

    message = await host_context.new_page()
    await message.goto(f"/join/{MISSING_MEETING}")
    await settle(message)
    await check("message", message, {MISSING_MEETING})
