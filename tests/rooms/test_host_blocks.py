"""A host's block on a kind outlives the publications it found: later ones (a new m-line) start blocked too,
and a blocked microphone never makes its owner the active speaker."""

from __future__ import annotations

from mediaserver.rooms.publishing import PublisherSide
from mediaserver.rtp.extensions import URI_AUDIO_LEVEL, URI_MID
from mediaserver.sdp.negotiation import NegotiatedMedia

from .test_speaker_quality import audio_packet, audio_side


def _audio_m_line(mid: str, ssrc: int) -> NegotiatedMedia:
    return NegotiatedMedia(mid=mid, kind="audio", payload_type=111, rtx_payload_type=None, clock_rate=48000,
                           ext_ids={URI_AUDIO_LEVEL: 1, URI_MID: 4}, ssrcs=[ssrc])


def test_a_publication_created_while_its_kind_is_disabled_starts_muted() -> None:
    side: PublisherSide = audio_side("guest")
    assert side.set_enabled("audio", False) == 1
    # The client drops its audio m-line and offers a new one (a new mid): it must not escape the mute.
    side.unpublish("0")
    fresh = side.publish(_audio_m_line("3", 0x1234))
    assert fresh.muted
    assert side.set_enabled("audio", True) == 1
    assert not fresh.muted
    assert not side.publish(_audio_m_line("4", 0x5678)).muted, "enabled again: new publications flow"


def test_a_muted_microphone_is_never_the_loudest() -> None:
    side = audio_side("guest")
    side.set_enabled("audio", False)
    for seq in range(50):
        side.on_rtp(audio_packet(seq, 20))
    assert side.loudness() == 0.0
    side.set_enabled("audio", True)
    for seq in range(50, 100):
        side.on_rtp(audio_packet(seq, 20))
    assert side.loudness() == 127 - 20, "only this interval's levels count once unmuted"
