"""An 8-hour call on an accelerated clock: everything with a lifetime is renewed while the call lives.

Thirteen hours pass in 50-second steps of a fake clock (store TTLs and token expiry both read it); after each
step the test waits for the gateway's refresh loop to run. The meeting, both participants, their reconnect
tokens, the host's meeting list, the host session and the guest token all outlive their own lifetimes; a
cookie that was never renewed has expired by then (so the renewals are what kept the call alive).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp import WSMsgType

from signaling_gateway.auth import guest_cookie_name
from signaling_gateway.store import MemoryStore
from tests.gateway.conftest import eventually
from tests.processes import MediaServerProcess
from tests.store.conftest import start_gateway_with_store

pytestmark = pytest.mark.slow

STEP_S = 50.0  # below the 60-s reconnect-token TTL: each step is followed by a refresh
HOURS = 13  # past the 12-h host session and the 8-h meeting, participant and guest-token lifetimes
RENEW_EVERY_S = 30 * 60  # what the call page does (web_client/js/room.js)


class FakeTime:
    def __init__(self) -> None:
        self.offset = 0.0

    def wall(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


class CountingStore(MemoryStore):
    refreshes = 0

    async def refresh_reconnect(self, grant: Any) -> bool:
        self.refreshes += 1
        return await super().refresh_reconnect(grant)


async def test_every_lifetime_is_renewed_through_an_eight_hour_call(media_server: MediaServerProcess) -> None:
    fake = FakeTime()
    store = CountingStore(clock=fake.monotonic)
    gateway = await start_gateway_with_store(media_server.control_port, store, store_refresh_interval=0.01,
                                             clock=fake.wall)
    try:
        host = await gateway.host()
        meeting_id = (await (await host.post("/api/meetings")).json())["id"]
        guest = await gateway.guest(meeting_id, "Bo")
        stale_guest_cookie = guest.session.cookie_jar.filter_cookies(guest.make_url("/"))[
            guest_cookie_name(meeting_id)].value
        stale_host_cookie = host.session.cookie_jar.filter_cookies(host.make_url("/"))["host_session"].value
        sockets = {}
        for name, client in (("host", host), ("guest", guest)):
            ws = await client.ws_connect(f"/ws?meeting={meeting_id}")
            while (message := await ws.receive_json(timeout=5))["type"] != "welcome":
                pass
            sockets[name] = (ws, message["participant_id"], message["reconnect_token"])
        readers = [asyncio.create_task(_drain(ws)) for ws, _, _ in sockets.values()]

        renewed_at = 0.0
        while fake.offset < HOURS * 3600:
            fake.offset += STEP_S
            before = store.refreshes

            async def refreshed(mark: int = before) -> bool:
                return store.refreshes >= mark + 2  # both participants' loops ran since the clock moved

            await eventually(refreshed)
            if fake.offset - renewed_at >= RENEW_EVERY_S:
                renewed_at = fake.offset
                for client in (host, guest):
                    response = await client.post(f"/api/session/renew?meeting={meeting_id}")
                    assert response.status == 200, await response.text()
            for _, participant_id, token in sockets.values():
                assert await store.get_participant(participant_id) is not None, f"participant lapsed at {fake.offset}"
                assert await store.get_reconnect(token) is not None, f"reconnect token lapsed at {fake.offset}"
            assert await store.get_meeting(meeting_id) is not None, f"meeting lapsed at {fake.offset}"

        # Thirteen hours on: the host's session and list, the guest's token and the meeting all still work.
        listed = await (await host.get("/api/meetings")).json()
        assert [m["id"] for m in listed["meetings"]] == [meeting_id]
        assert (await guest.get(f"/join/{meeting_id}")).status == 200
        ws, guest_id, token = sockets["guest"]
        await ws.close(code=4000)  # a drop: back with the token, as the same participant
        again = await guest.ws_connect(f"/ws?meeting={meeting_id}&reconnect={token}")
        while (message := await again.receive_json(timeout=5))["type"] != "welcome":
            pass
        assert (message["resumed"], message["participant_id"]) == (True, guest_id)
        await again.close()

        # Without the renewals: the host session and the guest token issued at the start have expired.
        stale_host = await gateway.client()
        stale_host.session.cookie_jar.update_cookies({"host_session": stale_host_cookie})
        assert (await stale_host.get("/api/meetings")).status == 401
        outsider = await gateway.client()
        outsider.session.cookie_jar.update_cookies({guest_cookie_name(meeting_id): stale_guest_cookie})
        refused = await outsider.ws_connect(f"/ws?meeting={meeting_id}")
        assert (await refused.receive_json(timeout=5))["code"] == "unauthorized"
        for task in readers:
            task.cancel()
    finally:
        await gateway.close()


async def _drain(ws: Any) -> None:
    async for message in ws:
        if message.type != WSMsgType.TEXT:
            break
