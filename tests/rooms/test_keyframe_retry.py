"""A subscription waiting for a keyframe asks again each tick: a request lost to the PLI throttle is not final."""

from __future__ import annotations

import time
from typing import cast

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.subscribing import SubscriberSide
from mediaserver.transport.peer import PeerTransport

from .test_dynacast import StubTransport


def test_a_keyframe_request_dropped_by_the_throttle_is_repeated_on_the_next_tick() -> None:
    pub = Publication("alice", "1", "video", 96, 97, 90000, ["q", "h", "f"])
    for ssrc, rid in zip((11, 12, 13), "qhf", strict=True):
        assert pub.layer_for(ssrc, rid) is not None
    plis: list[int] = []
    pub.send_pli = plis.append
    now = time.monotonic()
    for layer in pub.layers:
        layer.last_packet_at = now
        layer.last_pli = now  # another subscriber has just asked: this one's request falls in the throttle
    side = SubscriberSide("bob", cast(PeerTransport, StubTransport()), "cname", on_dirty=lambda: None)
    sub = side.subscribe(pub)
    sub.negotiated = True
    sub.activate()
    assert plis == []  # dropped by the throttle; the keyframe the other subscriber got came before we joined

    for layer in pub.layers:
        layer.last_pli -= 5  # the throttle interval has passed
    side.allocate(time.monotonic())
    assert plis == [11]  # still waiting for q's first keyframe: asked again

    side.allocate(time.monotonic())
    assert plis == [11]  # and the throttle still holds the rate down
