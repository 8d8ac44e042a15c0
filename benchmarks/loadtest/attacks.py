"""Attackers for tests/abuse: a participant of the product that misbehaves on its own media connection.

Each joins a running meeting as a guest through the gateway (a GatewayBot: real signalling, real ICE, DTLS and
SRTP), publishes like any bot, and then does one hostile thing on the connection the server gave it.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time

from aiohttp import ClientWebSocketResponse

from mediaserver.rtp.rtcpfb import Nack

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
    really sends at the rate asked. Returns how many datagrams left its socket.
    """
    transport = attacker.media.publisher
    send = transport.flood_sender()
    sent = 0
    ext = extension_block(VIDEO_MID, rid)
    descriptor = vp8_descriptor(True, 1, 0, 0, False)
    # Tagged as the attacker's, so the victims' receivers count what gets through as its track, not theirs.
    body = bytearray(bytes(200))
    write_tag(body, VP8_KEEP, time.time_ns(), attacker.index, 1, 0, 0)
    payload = descriptor + bytes(body)
    rng = random.Random(1)
    ticks = max(1, round(seconds / TICK_S))
    per_tick = max(1, count // ticks)
    start = time.monotonic()
    for tick in range(ticks):
        for _ in range(per_tick):
            ssrc = rng.getrandbits(32) or 1
            packet = _HEADER.pack(0x90, VP8_PT, rng.getrandbits(16), rng.getrandbits(32), ssrc) + ext + payload
            sent += send(packet)  # on and on, even once the server has cut it off
        await asyncio.sleep(max(0.0, start + (tick + 1) * TICK_S - time.monotonic()))
    return sent


async def nack_storm(attacker: GatewayBot, seconds: float, per_second: float = 200.0,
                     span: int = 512) -> dict[str, int]:
    """A subscriber NACKing the last `span` numbers of every video track it gets, `per_second` times a second.

    Returns what the attacker's subscriber connection received meanwhile: video packets new to it (`forwarded`)
    and copies of packets it had already (`retransmitted`: the answers to its NACKs; its own libsrtp refuses
    most of them as replays, so those are counted from its SRTP errors).
    """
    tracks = [t for t in attacker.media.receiver.tracks.values() if t.video]
    counters = attacker.media.subscriber.counters

    def resent() -> int:
        return sum(t.duplicates for t in tracks) + counters.srtp_errors

    forwarded0 = sum(t.received for t in tracks)
    resent0 = resent()
    start = time.monotonic()
    interval = 1 / per_second
    nacks = 0
    while time.monotonic() - start < seconds:
        for track in tracks:
            if track.max_seq >= 0:
                lost = [(track.max_seq - i) & 0xFFFF for i in range(span)]
                attacker.media.subscriber.send_rtcp(Nack(sender_ssrc=1, media_ssrc=track.ssrc, lost=lost).serialize())
                nacks += 1
        await asyncio.sleep(interval)
    return {"nacks": nacks, "forwarded": sum(t.received for t in tracks) - forwarded0,
            "retransmitted": resent() - resent0}


def with_extra_sections(offer: str, count: int) -> str:
    """`offer` with `count` more minimal sendonly video m-lines in its BUNDLE (a few lines each)."""
    mids = [f"x{n}" for n in range(count)]
    extra = "".join(f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:{mid}\r\na=sendonly\r\n"
                    "a=rtpmap:96 VP8/90000\r\n" for mid in mids)
    return offer.replace("a=group:BUNDLE ", "a=group:BUNDLE " + " ".join(mids) + " ", 1) + extra


async def big_offers(attacker: GatewayBot, sizes: tuple[int, ...] = (120, 500),
                     timeout: float = 10.0) -> dict[str, int]:
    """Publisher offers with `sizes` m-lines in all, one after the other; returns the error codes it got back."""
    offer = attacker.media.publisher_offer("attack")
    sections = offer.count("\r\nm=")
    ws = attacker.ws
    assert ws is not None
    for size in sizes:
        await ws.send_json({"type": "publish_offer", "sdp": with_extra_sections(offer, size - sections)})
    deadline = time.monotonic() + timeout
    while sum(attacker.shared.errors.values()) < len(sizes) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return dict(attacker.shared.errors)


async def message_flood(attacker: GatewayBot, seconds: float, per_second: float = 1000.0) -> dict[str, object]:
    """`per_second` signalling messages a second on the attacker's own socket, of the kinds that make the
    gateway and the media server work (ICE restarts, subscriber answers, tile sizes), on whichever socket the
    attacker has (a gateway that closes a flooding socket sees it come back with its reconnect token); returns
    the error codes the gateway sent back, `sent` and `sockets` (how many it flooded on)."""
    kinds = [{"type": "restart_ice"},
             {"type": "subscribe_answer", "sdp": "v=0\r\n", "offer_id": 1},
             {"type": "video_prefs", "prefs": [{"track_id": "x", "width": 320, "height": 180, "visible": True}]}]
    sent = 0
    sockets: set[int] = set()
    closes: list[int | None] = []
    last: ClientWebSocketResponse | None = None
    start = time.monotonic()
    batch = max(1, round(per_second * TICK_S))
    while time.monotonic() - start < seconds:
        ws = attacker.ws
        if last is not None and (last is not ws or last.closed):
            closes.append(last.close_code)  # the socket it flooded on is gone: how the gateway closed it
            last = None
        if ws is None or ws.closed:
            await asyncio.sleep(TICK_S)  # closed for flooding: the bot is reconnecting, or gave up
            continue
        last = ws
        sockets.add(id(ws))
        for _ in range(batch):
            try:
                await ws.send_json(kinds[sent % len(kinds)])
            except (ConnectionError, RuntimeError):
                break
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / per_second - time.monotonic()))
    return {**attacker.shared.errors, "sent": sent, "sockets": len(sockets), "closed_with": closes}
