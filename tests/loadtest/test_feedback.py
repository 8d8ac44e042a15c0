"""The bots' transport-wide feedback: they read the number our server writes and report what arrived."""

from __future__ import annotations

from benchmarks.loadtest.receiver import Receiver, transport_seq
from mediaserver.rooms.outbound import OutboundHeaders
from mediaserver.rtp.rtcp import parse_rtcp
from mediaserver.rtp.rtcpfb import TransportCC


class Numbers:
    def __init__(self) -> None:
        self.next = 65530

    def sent(self, size: int, now: float) -> int:
        self.next += 1
        return self.next & 0xFFFF


def test_the_number_our_headers_carry_is_read_back_and_reported() -> None:
    headers = OutboundHeaders(3, Numbers())
    headers.numbering = True
    packets = [headers.pack(0x80, 96, i, 0, 0x1234, 10, 0.0) + bytes(10) for i in range(10)]
    assert [transport_seq(p, 3) for p in packets] == [(65531 + i) & 0xFFFF for i in range(10)]
    assert transport_seq(packets[0], 5) is None
    assert transport_seq(packets[0][:12] + bytes(10), 3) is None  # no extension block at all

    sent: list[bytes] = []
    receiver = Receiver(0x42, [], sent.append, lambda _: -1)
    receiver.transport_cc_id = 3
    for i, packet in enumerate(packets):
        if i != 4:  # one lost on the way
            receiver.on_rtp(packet, 1_000_000_000 + i * 1_000_000)
    receiver.send_feedback()
    assert receiver.feedback_sent == len(sent) == 1
    (feedback,) = parse_rtcp(sent[0])
    assert isinstance(feedback, TransportCC)
    arrivals = feedback.decode().arrivals
    assert [seq for seq, _ in arrivals] == [(65531 + i) & 0xFFFF for i in range(10)]
    assert [at is None for _, at in arrivals] == [i == 4 for i in range(10)]
