"""Real calls in headless Chromium through the whole product: UI, signaling, media server, decoding."""

from __future__ import annotations

import contextlib

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import eventually
from tests.gateway.gateway_process import GatewayProcess

from .conftest import (
    ARTIFACTS,
    NewContext,
    grid_count,
    host_in_new_meeting,
    join_guest,
    participant_id,
    tile_name,
    wait_for_audio,
    wait_for_frames,
    wait_for_local_video,
    wait_for_tile,
    wait_for_tile_gone,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

# The gateway's user-experience series a Chromium join moves (the product is shared: compared as deltas).
JOIN_SERIES = {
    "attempts": ("gateway_join_attempts_total", ()),
    "reached": ("gateway_joins_reached_media_total", ()),
    "timed": ("gateway_time_to_first_frame_seconds_count", ()),
    "chrome": ("gateway_client_browsers_total", (("browser", "chrome"),)),
    "linux": ("gateway_client_os_total", (("os", "linux"),)),
}


async def join_metrics(product: GatewayProcess) -> dict[str, float]:
    async with aiohttp.ClientSession() as session, session.get(product.base_url + "/metrics") as response:
        text = await response.text()
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples}
    return {key: values[series] for key, series in JOIN_SERIES.items()}


async def test_host_and_guest_see_and_hear_each_other(new_context: NewContext, product: GatewayProcess) -> None:
    before = await join_metrics(product)
    host, meeting_id = await host_in_new_meeting(new_context)
    host_id = await participant_id(host)

    guest_name = "Guest <b>One</b>"
    guest = await join_guest(await new_context(), meeting_id, guest_name)
    guest_id = await participant_id(guest)

    await wait_for_local_video(host)
    await wait_for_local_video(guest)

    await wait_for_tile(host, guest_id)
    await wait_for_tile(guest, host_id)
    assert await tile_name(host, guest_id) == guest_name  # shown as text, not markup
    assert await tile_name(guest, host_id) == "host"
    assert await grid_count(host) == "2" and await grid_count(guest) == "2"

    await wait_for_frames(host, guest_id)
    await wait_for_frames(guest, host_id)
    await wait_for_audio(host, guest_id)
    await wait_for_audio(guest, host_id)

    # Both joins reached media; the guest, who found the host's camera on, timed its first frame.
    now: dict[str, float] = {}

    async def check() -> bool:
        now.update(await join_metrics(product))
        return now["reached"] - before["reached"] >= 2 and now["timed"] - before["timed"] >= 1

    with contextlib.suppress(AssertionError):  # the assertion below says what is missing
        await eventually(check, timeout=10)
    delta = {key: now[key] - before[key] for key in now}
    assert delta == {"attempts": 2, "reached": 2, "timed": 1, "chrome": 2, "linux": 2}, delta

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await host.screenshot(path=str(ARTIFACTS / "two-party-host.png"))


async def test_three_party_call_survives_one_leaving(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    ann = await join_guest(await new_context(), meeting_id, "Ann")
    bo = await join_guest(await new_context(), meeting_id, "Bo")
    pages = {await participant_id(p): p for p in (host, ann, bo)}
    ids = list(pages)

    for pid, page in pages.items():
        for other in ids:
            if other != pid:
                await wait_for_tile(page, other)
        assert await grid_count(page) == "3"
    for pid, page in pages.items():
        for other in ids:
            if other != pid:
                await wait_for_frames(page, other, more=30)
                await wait_for_audio(page, other)

    bo_id = await participant_id(bo)
    await bo.get_by_test_id("leave").click()
    await bo.get_by_test_id("left-view").wait_for(state="visible")

    host_id, ann_id = await participant_id(host), await participant_id(ann)
    await wait_for_tile_gone(host, bo_id)
    await wait_for_tile_gone(ann, bo_id)
    assert await grid_count(host) == "2" and await grid_count(ann) == "2"
    # The two who stayed keep receiving each other.
    await wait_for_frames(host, ann_id)
    await wait_for_frames(ann, host_id)
    await wait_for_audio(host, ann_id)
    await wait_for_audio(ann, host_id)
