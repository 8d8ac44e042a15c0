"""The host's share features: meeting links under PUBLIC_URL, the QR code endpoint, the live meetings list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import segno

from signaling_gateway.meetings import new_meeting_id
from signaling_gateway.store.records import parse_iso

from .conftest import Gateway, free_port, start_gateway
from .qr_decode import decode_modules, svg_modules


async def test_the_qr_code_is_an_svg_of_the_join_link_on_the_current_origin(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    host = await offline.host()
    response = await host.get(f"/api/meetings/{meeting_id}/qr.svg")
    assert response.status == 200
    assert response.content_type == "image/svg+xml"
    svg = await response.read()
    link = f"http://{host.host}:{host.port}/join/{meeting_id}"
    modules = svg_modules(svg)
    # Exactly segno's symbol for the link (quiet zone included), and a decoder reads the link back from it.
    assert modules == [[bool(m) for m in row] for row in segno.make(link, error="m").matrix_iter(border=4)]
    assert decode_modules(modules) == [link]


async def test_the_qr_code_and_links_use_public_url_when_set() -> None:
    # http: the test client would not send back a Secure cookie.
    gateway = await start_gateway(free_port(), public_url="http://meet.example.com/")
    try:
        meeting_id = await gateway.stored_meeting()
        host = await gateway.host()
        svg = await (await host.get(f"/api/meetings/{meeting_id}/qr.svg")).read()
        assert decode_modules(svg_modules(svg)) == [f"http://meet.example.com/join/{meeting_id}"]
    finally:
        await gateway.close()


async def test_the_qr_code_is_for_the_host_only_and_known_meetings_only(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    stranger = await offline.client()
    response = await stranger.get(f"/api/meetings/{meeting_id}/qr.svg")
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"
    guest = await offline.guest(meeting_id, "Ann")
    assert (await guest.get(f"/api/meetings/{meeting_id}/qr.svg")).status == 401
    host = await offline.host()
    for unknown in (new_meeting_id(), "not-an-id", "..%2F..%2Fetc"):
        response = await host.get(f"/api/meetings/{unknown}/qr.svg")
        assert response.status == 404, unknown
        assert (await response.json())["error"] == "meeting_not_found"


async def test_the_meetings_list_is_for_the_host_only(offline: Gateway) -> None:
    stranger = await offline.client()
    response = await stranger.get("/api/meetings")
    assert response.status == 401
    host = await offline.host()
    response = await host.get("/api/meetings")
    assert response.status == 200
    assert await response.json() == {"meetings": []}


async def test_the_home_page_has_the_share_panel_and_the_meetings_list(offline: Gateway) -> None:
    host = await offline.host()
    body = await (await host.get("/")).text()
    for testid in (
        "create-meeting",
        "share-panel",
        "meeting-link",
        "copy-link",
        "share-email",
        "share-sms",
        "qr-code",
        "link-expiry",
        "enter-meeting",
        "meeting-list",
    ):
        assert f'data-testid="{testid}"' in body, testid


# --- with a real media server -----------------------------------------------------------------------------


async def test_a_new_meeting_comes_with_its_share_link_qr_and_expiry(online: Gateway) -> None:
    host = await online.host()
    before = datetime.now(UTC)
    response = await host.post("/api/meetings")
    body = await response.json()
    assert response.status == 201
    meeting_id = body["id"]
    assert body["share_url"] == f"http://{host.host}:{host.port}/join/{meeting_id}"
    assert body["qr_url"] == f"/api/meetings/{meeting_id}/qr.svg"
    assert body["participants"] == 0
    expires = parse_iso(body["expires_at"])
    assert timedelta(hours=7, minutes=59) < expires - before <= timedelta(hours=8, seconds=5)
    assert (await host.get(body["qr_url"])).status == 200


async def test_live_meetings_are_listed_newest_first_with_their_people(online: Gateway) -> None:
    host = await online.host()
    first = (await (await host.post("/api/meetings")).json())["id"]
    second = (await (await host.post("/api/meetings")).json())["id"]
    ws = await host.ws_connect(f"/ws?meeting={first}")
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        listed = (await (await host.get("/api/meetings")).json())["meetings"]
        by_id = {m["id"]: m for m in listed}
        assert {first, second} <= set(by_id)
        created = [m["created_at"] for m in listed]
        assert created == sorted(created, reverse=True)  # newest first (ISO strings sort by time)
        assert by_id[first]["participants"] == 1
        assert by_id[second]["participants"] == 0
        assert by_id[first]["url"] == f"/room/{first}"
        # An ended meeting drops out of the list.
        await online.store.delete_meeting(second)
        listed = (await (await host.get("/api/meetings")).json())["meetings"]
        assert second not in {m["id"] for m in listed}
    finally:
        await ws.close()
