"""Dead ends as the gateway serves them: each says what happened and offers the asker's next step; the styled 404."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

import pytest

from signaling_gateway.meetings import new_meeting_id
from signaling_gateway.pages import meeting_code

from .conftest import Gateway

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Shown(HTMLParser):
    """Each data-testid of a page, and whether it shows (neither it nor an ancestor is `hidden`)."""

    def __init__(self) -> None:
        super().__init__()
        self._hidden: list[bool] = []
        self.testids: dict[str, bool] = {}
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.stylesheets: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        hidden = "hidden" in found or any(self._hidden)
        if found.get("data-testid"):
            self.testids[str(found["data-testid"])] = not hidden
            self.attrs[str(found["data-testid"])] = found
        if tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(str(found.get("href")))
        self._in_title = tag == "title"
        if tag not in _VOID:
            self._hidden.append("hidden" in found)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self._hidden:
            self._hidden.pop()
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def shown(body: str) -> _Shown:
    parser = _Shown()
    parser.feed(body)
    return parser


def guest_next_step(page: _Shown) -> bool:
    return page.testids.get("meeting-code-form") is True and page.testids.get("message-action") is False


def host_next_step(page: _Shown) -> bool:
    return page.testids.get("message-action") is True and page.testids.get("meeting-code-form") is False


async def _ended_meeting(gateway: Gateway) -> str:
    meeting_id = await gateway.stored_meeting()
    meeting = await gateway.store.get_meeting(meeting_id)
    assert meeting is not None
    await gateway.store.put_meeting(replace(meeting, active=False))
    return meeting_id


async def test_an_ended_meeting_tells_the_guest_the_host_ended_it_and_offers_a_code_box(offline: Gateway) -> None:
    meeting_id = await _ended_meeting(offline)
    response = await (await offline.client()).get(f"/join/{meeting_id}")
    page = shown(await response.text())
    assert response.status == 410 and page.testids["meeting-ended"]
    assert "The host ended this meeting for everyone." in await response.text()
    assert guest_next_step(page)
    assert page.attrs["meeting-code-form"]["action"] == "/join" and page.attrs["meeting-code-form"]["method"] == "get"


async def test_an_ended_meeting_tells_the_host_they_ended_it_and_offers_their_meetings(offline: Gateway) -> None:
    meeting_id = await _ended_meeting(offline)
    host = await offline.host()
    for path in (f"/join/{meeting_id}", f"/room/{meeting_id}"):
        response = await host.get(path, allow_redirects=False)
        body = await response.text()
        page = shown(body)
        assert response.status == 410, path
        assert "You ended the meeting for everyone." in body and "The host ended" not in body
        assert host_next_step(page) and page.attrs["message-action"]["href"] == "/"


async def test_not_found_removed_and_locked_pages_give_a_guest_the_code_box(offline: Gateway) -> None:
    client = await offline.client()
    missing = await client.get(f"/join/{new_meeting_id()}")
    assert missing.status == 404 and guest_next_step(shown(await missing.text()))
    locked_id = await offline.stored_meeting()
    assert await offline.store.set_meeting_locked(locked_id, True) is not None
    locked = await client.get(f"/join/{locked_id}")
    page = shown(await locked.text())
    assert locked.status == 403 and page.testids["meeting-locked"] and guest_next_step(page)


async def test_the_host_gets_their_meetings_from_a_missing_meeting(offline: Gateway) -> None:
    host = await offline.host()
    response = await host.get(f"/room/{new_meeting_id()}")
    assert response.status == 404 and host_next_step(shown(await response.text()))


@pytest.mark.parametrize(
    "typed",
    [
        "{code}",
        "  {upper}  ",
        "{compact}",
        "https://meet.example.org/join/{code}",
        "https://meet.example.org/room/{code}?x=1",
        "meet.example.org/join/{code}",
    ],
)
async def test_the_code_box_goes_to_the_meetings_join_page(offline: Gateway, typed: str) -> None:
    code = new_meeting_id()
    text = typed.format(code=code, upper=code.upper(), compact=code.replace("-", ""))
    response = await (await offline.client()).get("/join", params={"code": text}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == f"/join/{code}"


def test_a_host_name_that_looks_like_a_code_is_not_taken_for_one() -> None:
    assert meeting_code("https://abcd-efgh-jkmn.example/join/wxyz-2345-6789") == "wxyz-2345-6789"
    assert meeting_code("https://abcd-efgh-jkmn.example/") is None


@pytest.mark.parametrize("typed", ["", "hello", "https://meet.example.org/", "abcd-efgh", "abcd-efgh-jkmn-pqrs"])
async def test_no_code_in_the_box_is_a_400_page_that_keeps_the_box(offline: Gateway, typed: str) -> None:
    response = await (await offline.client()).get("/join", params={"code": typed}, allow_redirects=False)
    body = await response.text()
    page = shown(body)
    assert response.status == 400 and page.testids["code-invalid"] and page.testids["meeting-code-form"]
    assert page.attrs["meeting-code"]["value"] == typed.strip()


async def test_an_unknown_path_is_a_styled_404_in_the_browsers_language(offline: Gateway) -> None:
    client = await offline.client()
    for path in ("/nope", "/join/a/b", "/room", "/login/extra", "/%D0%B0"):
        response = await client.get(path, headers={"Accept-Language": "uk-UA,uk;q=0.9"})
        page = shown(await response.text())
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert page.testids["not-found"] and "/static/css/app.css" in page.stylesheets
        assert page.title == "Сторінку не знайдено · Зустрічі", path
        assert guest_next_step(page)
        assert response.headers["Content-Security-Policy"]  # the security headers still apply
    host = await offline.host()
    response = await host.get("/nope")
    assert response.status == 404 and host_next_step(shown(await response.text()))
    head = await client.head("/nope")
    assert head.status == 404


async def test_machine_paths_keep_their_plain_404s(offline: Gateway) -> None:
    client = await offline.client()
    for path in ("/static/nope.js", "/static/pages/room.html", "/api/nope", "/ws/nope", "/metrics/nope"):
        response = await client.get(path)
        assert response.status == 404, path
        assert "not-found" not in await response.text(), path
    # The API's own 404 stays JSON.
    host = await offline.host()
    qr = await host.get(f"/api/meetings/{new_meeting_id()}/qr.svg")
    assert qr.status == 404 and qr.content_type == "application/json"
    # Another method than GET on an unknown path stays a plain 404 (nothing to show a page to).
    assert (await client.post("/nope")).status in (404, 405)
