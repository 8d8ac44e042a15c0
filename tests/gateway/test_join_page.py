"""The guest pre-join page: its controls, its error pages (404 unknown, 410 ended, 403 locked) and escaping."""

from __future__ import annotations

from dataclasses import replace

from .conftest import Gateway


async def test_the_join_page_has_the_preview_and_device_controls(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.get(f"/join/{meeting_id}")
    body = await response.text()
    assert response.status == 200
    for testid in (
        "guest-name",
        "toggle-camera",
        "toggle-mic",
        "preview-video",
        "camera-select",
        "mic-select",
        "join-submit",
        "join-error",
    ):
        assert f'data-testid="{testid}"' in body, testid
    assert f'action="/join/{meeting_id}"' in body


async def test_an_ended_meeting_is_a_410_page_that_says_so(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    meeting = await offline.store.get_meeting(meeting_id)
    assert meeting is not None
    await offline.store.put_meeting(replace(meeting, active=False))
    client = await offline.client()
    for response in (
        await client.get(f"/join/{meeting_id}"),
        await client.post(f"/join/{meeting_id}", data={"name": "Ann"}, allow_redirects=False),
        await client.get(f"/room/{meeting_id}", allow_redirects=False),
    ):
        assert response.status == 410
        body = await response.text()
        assert "ended this meeting" in body and 'data-testid="meeting-ended"' in body


async def test_a_locked_meeting_is_a_403_page_and_admits_nobody(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    assert await offline.store.set_meeting_locked(meeting_id, True) is not None
    client = await offline.client()
    page = await client.get(f"/join/{meeting_id}")
    assert page.status == 403
    assert 'data-testid="meeting-locked"' in await page.text()
    post = await client.post(f"/join/{meeting_id}", data={"name": "Ann"}, allow_redirects=False)
    assert post.status == 403
    assert not any(c.startswith("guest_") for c in post.headers.getall("Set-Cookie", []))
    await offline.store.set_meeting_locked(meeting_id, False)
    assert (await client.get(f"/join/{meeting_id}")).status == 200


async def test_a_bad_name_comes_back_escaped_in_the_pre_join_form(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    hostile = "<img src=x onerror=alert(1)>" + "w" * 40
    response = await client.post(f"/join/{meeting_id}", data={"name": hostile}, allow_redirects=False)
    body = await response.text()
    assert response.status == 400
    assert "at most 40 characters" in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
