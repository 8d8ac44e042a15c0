"""Pages, auth and REST behaviour of the gateway, none of which needs a media server."""

from __future__ import annotations

import json

from signaling_gateway.auth import guest_cookie_name
from signaling_gateway.meetings import is_meeting_id, new_meeting_id

from .conftest import HOST_PASSWORD, HOST_USER, Gateway, cookie_header, start_gateway


async def test_login_page_has_the_form_fields(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.get("/login")
    body = await response.text()
    assert response.status == 200
    for testid in ("login-username", "login-password", "login-submit"):
        assert f'data-testid="{testid}"' in body
    assert 'name="username"' in body and 'name="password"' in body


async def test_login_with_the_right_password_sets_a_locked_down_session_cookie(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.post(
        "/login", data={"username": HOST_USER, "password": HOST_PASSWORD}, allow_redirects=False
    )
    assert response.status == 302
    assert response.headers["Location"] == "/"
    cookie = cookie_header(response, "host_session").lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    home = await client.get("/", allow_redirects=False)
    assert home.status == 200
    assert 'data-testid="create-meeting"' in await home.text()


async def test_wrong_password_is_refused_with_a_clear_message_and_no_cookie(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.post("/login", data={"username": HOST_USER, "password": "nope"}, allow_redirects=False)
    assert response.status == 401
    assert "Wrong username or password" in await response.text()
    assert not any(v.startswith("host_session=") for v in response.headers.getall("Set-Cookie", []))
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_wrong_username_is_refused(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.post("/login", data={"username": "admin", "password": HOST_PASSWORD})
    assert response.status == 401


async def test_a_forged_session_cookie_is_not_a_host(offline: Gateway) -> None:
    client = await offline.client()
    client.session.cookie_jar.update_cookies({"host_session": "eyJzdWIiOiJob3N0In0.forged"})
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_home_redirects_strangers_to_login(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login"


async def test_logout_ends_the_host_session(offline: Gateway) -> None:
    host = await offline.host()
    response = await host.post("/logout", allow_redirects=False)
    assert response.status == 302
    assert (await host.get("/", allow_redirects=False)).status == 302


async def test_create_meeting_needs_the_host(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.post("/api/meetings")
    assert response.status == 401
    assert (await response.json())["error"] == "unauthorized"


async def test_create_meeting_reports_an_unreachable_media_server(offline: Gateway) -> None:
    host = await offline.host()
    response = await host.post("/api/meetings")
    assert response.status == 503
    assert (await response.json())["error"] == "media_unavailable"


async def test_create_meeting_refuses_cross_origin_requests(offline: Gateway) -> None:
    host = await offline.host()
    response = await host.post("/api/meetings", headers={"Origin": "https://evil.example"})
    assert response.status == 403


async def test_room_sends_strangers_to_the_join_page(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.get(f"/room/{meeting_id}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/join/{meeting_id}"


async def test_room_page_for_the_host(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    host = await offline.host()
    response = await host.get(f"/room/{meeting_id}", allow_redirects=False)
    body = await response.text()
    assert response.status == 200
    assert f'data-meeting-id="{meeting_id}"' in body
    for testid in ("local-video", "participants-grid", "leave"):
        assert f'data-testid="{testid}"' in body


async def test_unknown_meetings_are_404_pages(offline: Gateway) -> None:
    client = await offline.client()
    for path in (f"/join/{new_meeting_id()}", f"/room/{new_meeting_id()}", "/join/not-a-meeting-id", "/join/x%3Cy"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 404, path
        assert "Meeting not found" in await response.text()
    response = await client.post(f"/join/{new_meeting_id()}", data={"name": "Ann"})
    assert response.status == 404


async def test_join_page_has_the_name_form(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.get(f"/join/{meeting_id}")
    body = await response.text()
    assert response.status == 200
    assert 'data-testid="guest-name"' in body and 'data-testid="join-submit"' in body


async def test_join_issues_a_guest_token_and_opens_the_room(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.post(f"/join/{meeting_id}", data={"name": "  Ann  "}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/room/{meeting_id}"
    cookie = cookie_header(response, guest_cookie_name(meeting_id)).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    room = await client.get(f"/room/{meeting_id}", allow_redirects=False)
    assert room.status == 200


async def test_join_refuses_empty_and_blank_names(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    for name in ("", "   ", "\t\n"):
        response = await client.post(f"/join/{meeting_id}", data={"name": name}, allow_redirects=False)
        assert response.status == 400
        assert "Please enter your name" in await response.text()
    response = await client.post(f"/join/{meeting_id}", data={}, allow_redirects=False)
    assert response.status == 400


async def test_join_refuses_names_over_40_characters(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    ok = await client.post(f"/join/{meeting_id}", data={"name": "x" * 40}, allow_redirects=False)
    assert ok.status == 302
    for name in ("x" * 41, "y" * 500):
        response = await client.post(f"/join/{meeting_id}", data={"name": name}, allow_redirects=False)
        assert response.status == 400
        assert "at most 40 characters" in await response.text()


async def test_names_are_escaped_when_echoed_back(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    hostile = '"><script>alert(1)</script>' + "z" * 30  # too long, so the form comes back with it filled in
    response = await client.post(f"/join/{meeting_id}", data={"name": hostile}, allow_redirects=False)
    body = await response.text()
    assert response.status == 400
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;alert(1)" in body
    assert "&quot;&gt;" in body


async def test_a_script_tag_is_a_valid_name_but_never_markup(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.post(f"/join/{meeting_id}", data={"name": "<script>x</script>"}, allow_redirects=False)
    assert response.status == 302
    room = await client.get(f"/room/{meeting_id}")
    assert "<script>x</script>" not in await room.text()


async def test_the_host_name_is_escaped_on_the_home_page() -> None:
    gateway = await start_gateway(1, host_username="<b>boss</b>", host_password="pw")
    try:
        client = await gateway.client()
        await client.post("/login", data={"username": "<b>boss</b>", "password": "pw"})
        body = await (await client.get("/")).text()
        assert "<b>boss</b>" not in body and "&lt;b&gt;boss&lt;/b&gt;" in body
    finally:
        await gateway.close()


async def test_a_guest_token_opens_only_its_own_meeting(offline: Gateway) -> None:
    first, second = await offline.stored_meeting(), await offline.stored_meeting()
    guest = await offline.guest(first, "Ann")
    assert (await guest.get(f"/room/{second}", allow_redirects=False)).status == 302
    # Even renamed to the other meeting's cookie, the token names its own meeting inside the signature.
    token = guest.session.cookie_jar.filter_cookies(guest.make_url("/"))[guest_cookie_name(first)].value
    guest.session.cookie_jar.update_cookies({guest_cookie_name(second): token})
    response = await guest.get(f"/room/{second}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/join/{second}"


async def test_a_host_opening_the_join_link_goes_straight_to_the_room(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    host = await offline.host()
    response = await host.get(f"/join/{meeting_id}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == f"/room/{meeting_id}"


async def test_healthz_reports_the_media_connection(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["media_connected"] is False
    assert body["status"] == "degraded"


async def test_metrics_are_prometheus_text(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    for name in (
        "gateway_websockets_connected",
        "gateway_meetings_active",
        "gateway_participants",
        "gateway_media_connected",
    ):
        assert name in text


async def test_static_files_are_served_but_nothing_else(offline: Gateway) -> None:
    client = await offline.client()
    script = await client.get("/static/js/room.js")
    assert script.status == 200
    assert "javascript" in script.headers["Content-Type"]
    assert (await client.get("/static/css/app.css")).status == 200
    for path in ("/static/pages/room.html", "/static/../signaling_gateway/app.py", "/static/%2e%2e/pyproject.toml"):
        assert (await client.get(path)).status == 404, path


async def test_pages_carry_security_headers(offline: Gateway) -> None:
    client = await offline.client()
    response = await client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_meeting_ids_look_right() -> None:
    ids = {new_meeting_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(is_meeting_id(i) for i in ids)
    assert not is_meeting_id("../../etc") and not is_meeting_id("ABCD-EFGH-JKMN")


async def test_public_url_makes_links_absolute() -> None:
    # The media server is down, so the meeting cannot be created: check the link building directly.
    from signaling_gateway.config import Settings

    settings = Settings(public_url="https://meet.example.com/")
    assert settings.absolute("/room/abcd-efgh-jkmn") == "https://meet.example.com/room/abcd-efgh-jkmn"
    assert settings.secure_cookies is True
    assert json.dumps(Settings().absolute("/join/x")) == '"/join/x"'


async def test_session_renewal_needs_a_session_and_our_origin(offline: Gateway) -> None:
    stranger = await offline.client()
    response = await stranger.post("/api/session/renew")
    assert response.status == 401 and (await response.json())["error"] == "unauthorized"
    host = await offline.host()
    assert (await host.post("/api/session/renew", headers={"Origin": "https://evil.example"})).status == 403
    response = await host.post("/api/session/renew")
    assert response.status == 200
    assert "host_session=" in response.headers.get("Set-Cookie", "")
