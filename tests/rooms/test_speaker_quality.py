"""Active speaker from audio levels (the connection quality score is in test_quality_score.py)."""

from __future__ import annotations

import struct

from mediaserver.rooms.publishing import PublisherSide
from mediaserver.rooms.speaker import SpeakerDetector
from mediaserver.rtp.extensions import URI_AUDIO_LEVEL, URI_MID
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.udp_mux import UdpMux


def audio_packet(seq: int, level: int) -> bytes:
    ext = struct.pack("!HH", 0xBEDE, 1) + bytes([0x10, 0x80 | level, 0, 0])  # id 1, one byte
    return struct.pack("!BBHII", 0x90, 111, seq, seq * 960, 0xABCD) + ext + b"opus"


def audio_side(name: str) -> PublisherSide:
    transport = PeerTransport(UdpMux(), Certificate.generate().ssl_context(), f"{name}/pub")
    side = PublisherSide(name, transport, rtcp_ssrc=1)
    side.publish(NegotiatedMedia(mid="0", kind="audio", payload_type=111, rtx_payload_type=None,
                                 clock_rate=48000, ext_ids={URI_AUDIO_LEVEL: 1, URI_MID: 4}, ssrcs=[0xABCD]))
    return side


def test_loudness_comes_from_the_audio_level_extension() -> None:
    loud, quiet = audio_side("loud"), audio_side("quiet")
    for seq in range(50):
        loud.on_rtp(audio_packet(seq, 30))
        quiet.on_rtp(audio_packet(seq, 110))
    assert loud.loudness() == 127 - 30
    assert quiet.loudness() == 0.0, "background noise is not speech"
    assert loud.loudness() == 0.0, "each interval starts from silence"


def test_speech_with_pauses_counts_and_a_short_blip_does_not() -> None:
    speech, blip = audio_side("speech"), audio_side("blip")
    # A 250-ms window of 12 packets: syllables at level 25 with gaps (half of it active) ...
    for seq in range(12):
        speech.on_rtp(audio_packet(seq, 25 if seq % 2 else 127))
        # ... and a 40-ms beep in silence.
        blip.on_rtp(audio_packet(seq, 20 if seq < 2 else 127))
    assert speech.loudness() == (127 - 25) * 6 / 12
    assert blip.loudness() == 0.0


def test_speaker_detector_picks_the_loudest_and_holds() -> None:
    detector = SpeakerDetector()
    assert detector.update({"a": 90.0, "b": 70.0}, 0.0) == "a"
    assert detector.update({"a": 70.0, "b": 95.0}, 0.5) is None, "held for a second"
    assert detector.update({"a": 70.0, "b": 95.0}, 1.2) == "b"
    assert detector.update({"a": 0.0, "b": 0.0}, 5.0) is None, "silence keeps the last speaker"
    assert detector.current == "b"

