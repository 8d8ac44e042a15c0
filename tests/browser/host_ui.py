"""A three-person call (host, Ann, Bo) kept open for a whole test module, and helpers for the host controls.

Building a call costs three Chromium pages and ~20 s of ICE, DTLS and first frames; the modules that use it
run their checks in one call, in an order where the destructive ones (remove, end) come last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, WebSocket

from tests.gateway.gateway_process import GatewayProcess

from .conftest import (
    _context_factory,
    create_meeting,
    login_host,
    participant_id,
    receive_stats,
    tile_selector,
    wait_for_audio,
    wait_for_frames,
    wait_for_tile,
)


@dataclass
class Person:
    page: Page
    context: BrowserContext
    id: str = ""
    # Every JSON message the gateway sent this page (captured at the WebSocket, not by the page's code).
    received: list[dict[str, Any]] = field(default_factory=list)

    def messages(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.received if message.get("type") == kind]


@dataclass
class Call:
    meeting_id: str
    host: Person
    ann: Person
    bo: Person
    product: GatewayProcess

    @property
    def people(self) -> list[Person]:
        return [self.host, self.ann, self.bo]


def _capture(person: Person) -> None:
    def on_socket(socket: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            with contextlib.suppress(ValueError):
                person.received.append(json.loads(payload))

        socket.on("framereceived", on_frame)

    person.page.on("websocket", on_socket)


async def _guest(context: BrowserContext, meeting_id: str, name: str) -> Person:
    person = Person(await context.new_page(), context)
    _capture(person)
    await person.page.goto(f"/join/{meeting_id}")
    await person.page.get_by_test_id("guest-name").fill(name)
    await person.page.get_by_test_id("join-submit").click()
    await person.page.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    return person


@contextlib.asynccontextmanager
async def open_call(browser: Browser, product: GatewayProcess, name: str) -> AsyncIterator[Call]:
    """Host, Ann and Bo in one meeting, each seeing and hearing the two others."""
    async with _context_factory(browser, product, name) as new_context:
        host_context = await new_context()
        host = Person(await host_context.new_page(), host_context)
        _capture(host)
        await login_host(host.page)
        meeting_id = await create_meeting(host.page)
        ann = await _guest(await new_context(), meeting_id, "Ann")
        bo = await _guest(await new_context(), meeting_id, "Bo")
        # The host panel starts closed (the call keeps the whole stage): the host opens it.
        await host.page.get_by_test_id("toggle-host-panel").click()
        await host.page.get_by_test_id("host-panel").wait_for(state="visible")
        call = Call(meeting_id, host, ann, bo, product)
        for person in call.people:
            person.id = await participant_id(person.page)
        for person in call.people:
            for other in call.people:
                if other is not person:
                    await wait_for_tile(person.page, other.id)
                    await wait_for_frames(person.page, other.id, more=10)
                    await wait_for_audio(person.page, other.id, more_bytes=1000)
        yield call


async def until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Polls `check` until it returns something truthy, and returns that; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def received_bytes(page: Page, pid: str, kind: str) -> int:
    """What this page has received so far of `pid`'s audio or video (inbound-rtp bytesReceived)."""
    stats = await receive_stats(page, pid)
    assert stats is not None, f"no tile for {pid}"
    return int(stats["audioBytes" if kind == "audio" else "videoBytes"])


async def sent_bytes(page: Page, kind: str) -> int:
    """What this page's publisher connection has sent of one kind (outbound-rtp bytesSent, all layers)."""
    value = await page.evaluate(
        """async (kind) => {
            let total = 0;
            (await window.meetingClient.publisher.getStats()).forEach((r) => {
              if (r.type === "outbound-rtp" && r.kind === kind) total += r.bytesSent || 0;
            });
            return total;
        }""",
        kind,
    )
    return int(value)


async def keeps_growing(read: Callable[[], Awaitable[int]], what: str, timeout: float = 20.0) -> None:
    start = await read()
    await until(f"{what} keeps growing", lambda: _grew(read, start), timeout)


async def _grew(read: Callable[[], Awaitable[int]], start: int) -> bool:
    return await read() > start


async def stays_flat(read: Callable[[], Awaitable[int]], what: str, window: float = 3.0) -> None:
    """A negative check: sampled over `window` seconds, the figure must not move at all.

    Why a window: "nothing arrives" cannot be waited for; 3 s is 150 audio packets or ~90 video frames of a
    live sender, so a forwarder that lets anything through shows up as growth.
    """
    start = await read()
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await read()
        assert now == start, f"{what}: still arriving ({start} -> {now} bytes)"


def row(page: Page, pid: str, testid: str) -> Any:
    """A control or figure in the host panel's row for `pid`."""
    return page.locator(f'[data-testid="host-panel"] [data-testid="participant-row"][data-participant-id="{pid}"] '
                        f'[data-testid="{testid}"]')


def tile(page: Page, pid: str) -> Any:
    return page.locator(tile_selector(pid))


async def host_action_from(person: Person, action: str, target: str | None = None) -> None:
    """Sends a host_action over this page's own WebSocket, as a tampered client would."""
    fields = {"action": action, **({"participant_id": target} if target else {})}
    sent = await person.page.evaluate("(fields) => window.meetingClient.signaling.send('host_action', fields)", fields)
    assert sent, "the page's WebSocket is not open"
