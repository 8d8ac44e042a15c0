"""The guest pre-join page: its controls, its error pages (404 unknown or ended, 403 locked) and escaping."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from signaling_gateway.app import create_app
from signaling_gateway.media_client import MediaClient
from signaling_gateway.store import Meeting, MemoryStore

from .conftest import Gateway, free_port, make_settings


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


async def test_an_ended_meeting_is_a_404_page(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    meeting = await offline.store.get_meeting(meeting_id)
    assert meeting is not None
    await offline.store.put_meeting(replace(meeting, active=False))
    client = await offline.client()
    for response in (
        await client.get(f"/join/{meeting_id}"),
        await client.post(f"/join/{meeting_id}", data={"name": "Ann"}, allow_redirects=False),
    ):
        assert response.status == 404
        assert "does not exist or has ended" in await response.text()


@dataclass(frozen=True)
class _LockedMeeting(Meeting):
    locked: bool = True


class _LockingStore(MemoryStore):
    """Reports every meeting as locked, as the store will once the host's lock control exists."""

    async def get_meeting(self, meeting_id: str) -> Meeting | None:
        meeting = await super().get_meeting(meeting_id)
        if meeting is None:
            return None
        return _LockedMeeting(meeting.id, meeting.host, meeting.created_at, meeting.expires_at)


async def test_a_locked_meeting_is_a_403_page_and_admits_nobody() -> None:
    store = _LockingStore()
    app = create_app(make_settings(), media=MediaClient("127.0.0.1", free_port()), store=store)
    server = TestServer(app)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        gateway = Gateway(server)
        meeting_id = await gateway.stored_meeting()
        page = await client.get(f"/join/{meeting_id}")
        assert page.status == 403
        assert "locked" in (await page.text()).lower()
        post = await client.post(f"/join/{meeting_id}", data={"name": "Ann"}, allow_redirects=False)
        assert post.status == 403
        assert not any(c.startswith("guest_") for c in post.headers.getall("Set-Cookie", []))
    finally:
        await client.close()


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
