"""Fixtures for the SDP tests: the recorded Chrome offer, a live aiortc offer and a server identity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from mediaserver.sdp.negotiation import ServerIdentity

DATA = Path(__file__).parent / "data"
SERVER_FINGERPRINT = ":".join(f"{b:02X}" for b in range(0xA0, 0xC0))


@pytest.fixture
def server() -> ServerIdentity:
    return ServerIdentity(
        ice_ufrag="srvUfrag",
        ice_pwd="ServerPassword0123456789",
        fingerprint=SERVER_FINGERPRINT,
        host="198.51.100.7",
        port=3478,
    )


@pytest.fixture(scope="session")
def chrome_offer() -> str:
    # newline="" keeps the recorded CRLF line ends.
    with open(DATA / "chrome156_offer_audio_simulcast_video.sdp", newline="") as f:
        return f.read()


async def _aiortc_offer() -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


@pytest.fixture(scope="session")
def aiortc_offer() -> str:
    """A real offer from aiortc: a=ssrc + FID groups, no rid/simulcast, three fingerprints."""
    return asyncio.run(_aiortc_offer())
