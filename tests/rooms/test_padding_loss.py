"""Probe padding's loss is the probe's finding: the estimator keeps it apart from the media's loss."""

from __future__ import annotations

from mediaserver.rooms.bandwidth_estimator import BandwidthEstimator
from mediaserver.rooms.downlink_bandwidth import DownlinkBandwidth
from mediaserver.rtp import extensions
from mediaserver.rtp.header import parse_rtp

from .test_downlink_allocation import pinned_subscription

PATH_S = 0.02  # the one-way delay of the path


def test_lost_padding_is_the_probe_s_loss_and_not_the_media_s() -> None:
    estimator = BandwidthEstimator(initial_bps=600_000)
    arrivals = []
    for i in range(200):
        now = i * 0.002
        seq = estimator.sent(1200, now)
        padding = i % 2 == 1
        if padding:
            estimator.mark_padding()
        lost = padding and i % 4 == 1  # half the padding, no media
        arrivals.append((seq, None if lost else round((now + PATH_S) * 1e6)))
    estimator.on_feedback(arrivals, 0.45)
    assert estimator.loss == 0.0
    assert abs(estimator.loss_all - 0.25) < 1e-9
    assert estimator.estimate_bps >= 600_000  # no media lost: nothing for the loss-based control to cut


def test_a_late_padding_packet_undoes_its_own_loss_count_only() -> None:
    estimator = BandwidthEstimator(initial_bps=600_000)
    seqs = []
    for i in range(40):
        seqs.append(estimator.sent(1200, i * 0.005))
        if i == 10:
            estimator.mark_padding()
    first = [(s, None if i == 10 else round((i * 0.005 + PATH_S) * 1e6)) for i, s in enumerate(seqs)]
    estimator.on_feedback(first, 0.3)
    assert estimator.loss == 0.0 and estimator.loss_all > 0.0
    estimator.on_feedback([(seqs[10], round((10 * 0.005 + PATH_S + 0.2) * 1e6))], 0.35)
    assert estimator.loss == 0.0 and estimator.loss_all == 0.0


def test_the_prober_marks_its_padding() -> None:
    bw = DownlinkBandwidth("guest", 3)
    bw.headers.numbering = True
    sub = pinned_subscription()
    sub.pack = bw.headers.pack
    media = [bw.estimator.sent(1200, 0.001 * i) for i in range(20)]
    bw.probe.start(0.1, 2_000_000, 500_000)
    padding = bw.padding(sub, 97, 0.4)
    assert len(padding) >= 10
    numbers = [extensions.decode_transport_cc(value) for packet in padding
               if (value := extensions.find_extension(packet, parse_rtp(packet), 3)) is not None]
    assert numbers == [(media[-1] + 1 + i) & 0xFFFF for i in range(len(padding))]
    arrived = [(seq, round((0.001 * i + PATH_S) * 1e6)) for i, seq in enumerate(media)]
    bw.estimator.on_feedback(arrived + [(seq, None) for seq in numbers], 0.5)
    assert bw.estimator.loss == 0.0
    assert bw.estimator.loss_all == len(numbers) / (len(numbers) + len(media))
