"""Attackers for tests/abuse: a participant of the product that misbehaves on its own media connection.

Each joins a running meeting as a guest through the gateway (a GatewayBot: real signalling, real ICE, DTLS and
SRTP), publishes like any bot, and then does one hostile thing on the connection the server gave it.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time

from .bot import GatewayBot
from .packets import VP8_KEEP, extension_block, vp8_descriptor, write_tag
from .sdp import VIDEO_MID, VP8_PT

_HEADER = struct.Struct("!BBHII")
TICK_S = 0.01


async def meeting_of(base_url: str, host_password: str, shared: object, timeout: float = 30.0) -> str:
    """The meeting the load generator's host created (the only one the host has), once it exists."""
    spy = GatewayBot(98, base_url, shared)  # type: ignore[arg-type]
    try:
        await spy.login_host("host", host_password)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with spy.http.get(f"{spy.base_url}/api/meetings") as response:
                meetings = (await response.json()).get("meetings", [])
            if meetings:
                meeting_id = meetings[0]["id"]
                assert isinstance(meeting_id, str)
                return meeting_id
            await asyncio.sleep(0.2)
        raise TimeoutError("the load generator's meeting never appeared")
    finally:
        await spy.close()


async def ssrc_flood(attacker: GatewayBot, count: int, seconds: float, rid: str = "q") -> int:
    """RTP on `count` made-up SSRCs, each with the video m-line's mid and a real rid, spread over `seconds`.

    Each made-up SSRC's outbound libsrtp stream is freed at once, so the attacker's own cost stays flat and it
    really sends at the rate asked. Returns how many packets went out.
    """
    transport = attacker.media.publisher
    ext = extension_block(VIDEO_MID, rid)
    descriptor = vp8_descriptor(True, 1, 0, 0, False)
    # Tagged as the attacker's, so the victims' receivers count what gets through as its track, not theirs.
    body = bytearray(bytes(200))
    write_tag(body, VP8_KEEP, time.time_ns(), attacker.index, 1, 0, 0)
    payload = descriptor + bytes(body)
    rng = random.Random(1)
    sent = 0
    ticks = max(1, round(seconds / TICK_S))
    per_tick = max(1, count // ticks)
    start = time.monotonic()
    for tick in range(ticks):
        for _ in range(per_tick):
            ssrc = rng.getrandbits(32) or 1
            packet = _HEADER.pack(0x90, VP8_PT, rng.getrandbits(16), rng.getrandbits(32), ssrc) + ext + payload
            if transport.send_rtp(packet):
                sent += 1
            if transport.srtp is not None:
                transport.srtp.forget_outbound(ssrc)
        await asyncio.sleep(max(0.0, start + (tick + 1) * TICK_S - time.monotonic()))
    return sent
