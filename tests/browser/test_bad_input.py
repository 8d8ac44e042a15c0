"""Bad input in Chromium during a live call: each gets a clear answer and the call goes on for the others."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Dialog, Page

from .conftest import (
    NewContext,
    create_meeting,
    grid_count,
    join_guest,
    login_host,
    participant_id,
    tile_name,
    tile_selector,
    wait_for_audio,
    wait_for_frames,
    wait_for_tile,
)
from .ui import open_prejoin

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

# Opens a WebSocket from the page's origin; resolves with the first message and the close code.
WS_PROBE_JS = """
(path) => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}${path}`);
  let first = null;
  ws.onmessage = (event) => { if (first === null) first = JSON.parse(event.data); };
  ws.onclose = (event) => resolve({first, code: event.code});
  setTimeout(() => resolve({first, code: null}), 10000);
})
"""

CREATE_MEETING_JS = """
async () => {
  const response = await fetch("/api/meetings", {method: "POST"});
  return (await response.json()).id;
}
"""


async def ws_probe(page: Page, path: str) -> dict[str, Any]:
    result = await page.evaluate(WS_PROBE_JS, path)
    assert isinstance(result, dict)
    return result


async def join_error(page: Page) -> str:
    error = page.get_by_test_id("join-error")
    await error.wait_for(state="visible")
    return await error.text_content() or ""


async def test_bad_input_gets_clear_errors_and_the_call_goes_on(new_context: NewContext) -> None:
    host = await (await new_context()).new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)

    host.on("dialog", on_dialog)
    await login_host(host)
    meeting_id = await create_meeting(host)
    host_id = await participant_id(host)
    ann_context = await new_context()
    ann = await join_guest(ann_context, meeting_id, "Ann")
    ann_id = await participant_id(ann)
    await wait_for_frames(host, ann_id, more=10)

    # Empty and whitespace-only names: the page says so and stays.
    prejoin = await open_prejoin(await new_context(), meeting_id)
    prejoin.on("dialog", on_dialog)
    for name in ("", "   "):
        await prejoin.get_by_test_id("guest-name").fill(name)
        await prejoin.get_by_test_id("join-submit").click()
        assert "Please enter your name" in await join_error(prejoin)
        assert prejoin.url.endswith(f"/join/{meeting_id}")

    # 500 characters: refused on the page, and by the gateway when the page's check is bypassed.
    await prejoin.get_by_test_id("guest-name").fill("x" * 500)
    assert await prejoin.get_by_test_id("name-count").text_content() == "500/40"
    await prejoin.get_by_test_id("join-submit").click()
    assert "at most 40 characters" in await join_error(prejoin)
    async with prejoin.expect_navigation() as navigation:
        await prejoin.evaluate("() => document.getElementById('join-form').submit()")  # skips the submit handler
    response = await navigation.value
    assert response is not None and response.status == 400
    assert "at most 40 characters" in await join_error(prejoin)
    assert await prejoin.get_by_test_id("guest-name").input_value() == "x" * 40

    # Markup in names is shown as text everywhere and never runs.
    hostile = "<img src=x onerror=alert(1)>"
    bo = await join_guest(await new_context(), meeting_id, hostile)
    bo.on("dialog", on_dialog)
    bo_id = await participant_id(bo)
    await wait_for_tile(host, bo_id)
    assert await tile_name(host, bo_id) == hostile
    assert await host.locator(f"{tile_selector(bo_id)} img").count() == 0
    assert await bo.locator("#local-name").text_content() == f"{hostile} (you)"  # room.name_you
    script_name = "<script>alert(2)</script>"
    cy = await join_guest(await new_context(), meeting_id, script_name)
    cy_id = await participant_id(cy)
    await wait_for_tile(host, cy_id)
    assert await tile_name(host, cy_id) == script_name
    assert await host.locator(f"{tile_selector(cy_id)} script").count() == 0

    # Unknown and malformed meeting ids: a page that says so, with a 404.
    stranger = await (await new_context()).new_page()
    for path in ("/join/zzzz-zzzz-zzzz", "/join/not-a-meeting", "/room/zzzz-zzzz-zzzz"):
        answer = await stranger.goto(path)
        assert answer is not None and answer.status == 404, path
        assert await stranger.get_by_test_id("message-title").text_content() == "Meeting not found"

    # A WebSocket without credentials: an error that says why, then close code 4401.
    probe = await ws_probe(stranger, f"/ws?meeting={meeting_id}")
    assert probe["code"] == 4401 and probe["first"]["code"] == "unauthorized", probe
    assert "join" in probe["first"]["message"]

    # Ann's guest token does not open another meeting: not its room page, not its WebSocket.
    other_id = await host.evaluate(CREATE_MEETING_JS)
    assert isinstance(other_id, str) and other_id != meeting_id
    elsewhere = await ann_context.new_page()
    await elsewhere.goto(f"/room/{other_id}")
    assert elsewhere.url.endswith(f"/join/{other_id}")
    probe = await ws_probe(elsewhere, f"/ws?meeting={other_id}")
    assert probe["code"] == 4401 and probe["first"]["code"] == "unauthorized", probe
    await elsewhere.close()

    # Nothing of that broke the call: everyone is still there, media still flows, no script ever ran.
    assert await grid_count(host) == "4"
    await wait_for_frames(host, ann_id, more=20)
    await wait_for_frames(ann, host_id, more=20)
    await wait_for_audio(ann, host_id)
    assert dialogs == []
