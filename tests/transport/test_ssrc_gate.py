"""The SSRC gate: a burst of new SSRCs, then a small rate, a cap at once, and one report per interval."""

from __future__ import annotations

from typing import Any, cast

from mediaserver.rooms.publishing import PublisherSide
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.ssrc_gate import (
    MAX_RTCP_SSRCS,
    MAX_SSRCS,
    NEW_RTCP_SSRC_RATE,
    NEW_SSRC_BURST,
    NEW_SSRC_RATE,
    REPORT_INTERVAL_S,
    SsrcGate,
)


def test_new_ssrcs_pass_up_to_the_burst_then_at_the_rate_and_never_past_the_cap() -> None:
    gate = SsrcGate(0.0)
    admitted = [ssrc for ssrc in range(1, 100) if gate.admit(ssrc, 0.0)]
    assert len(admitted) == min(NEW_SSRC_BURST, MAX_SSRCS) and gate.dropped == 99 - len(admitted)
    for ssrc in admitted[:4]:
        assert gate.forget(ssrc)
    assert not gate.forget(12345)  # never admitted
    # Four slots free but no tokens: one per 1/RATE seconds.
    assert not gate.admit(1000, 0.1)
    assert gate.admit(1001, 1 / NEW_SSRC_RATE + 0.01)
    assert 1001 in gate.known


def test_drops_are_reported_once_per_interval_with_their_count() -> None:
    gate = SsrcGate(0.0)
    for ssrc in range(1, 1000):
        gate.admit(ssrc, 0.0)
    first = gate.report_due(0.0)
    assert first == gate.dropped and first > 0
    gate.admit(5000, 1.0)
    assert gate.report_due(1.0) == 0  # within the interval: nothing new is logged
    assert gate.report_due(REPORT_INTERVAL_S + 0.1) == 1


class RecordingTransport:
    state = "connected"
    on_rtp: Any = None
    on_rtcp: Any = None

    def __init__(self) -> None:
        self.forgotten: list[int] = []

    def send_rtcp(self, data: bytes) -> None:
        pass

    def forget_ssrc(self, ssrc: int) -> None:
        self.forgotten.append(ssrc)


def test_a_layer_bound_to_a_new_ssrc_frees_the_old_one_and_a_stopped_track_frees_all() -> None:
    transport = RecordingTransport()
    side = PublisherSide("alice", cast(PeerTransport, transport), rtcp_ssrc=1)
    pub = side.publish(NegotiatedMedia(mid="1", kind="video", payload_type=96, rtx_payload_type=None,
                                       clock_rate=90000, codec="VP8", rids=["q", "h"]))
    side._bind(pub, 11, "q")
    side._bind(pub, 12, "h")
    side._bind(pub, 13, "q")  # the browser's encoder restarted, or an attacker made one up: 11 is gone
    assert transport.forgotten == [11]
    side.unpublish("1")
    assert sorted(transport.forgotten) == [11, 12, 13]


def test_rtcp_senders_have_a_gate_of_their_own_sized_for_one_ssrc_per_received_m_line() -> None:
    # Firefox reports from one SSRC per m-line it receives on: 19 people x 4 m-lines must all get through.
    gate = SsrcGate(0.0, MAX_RTCP_SSRCS, MAX_RTCP_SSRCS, NEW_RTCP_SSRC_RATE)
    assert all(gate.admit(ssrc, 0.0) for ssrc in range(1, 19 * 4 + 1))
