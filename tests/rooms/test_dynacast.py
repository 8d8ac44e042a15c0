"""Dynacast: a layer the publisher paused because nobody watched it is asked back when a tile grows."""

from __future__ import annotations

import time
from typing import Any, cast

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.subscribing import SubscriberSide, TilePrefs
from mediaserver.transport.peer import PeerTransport


class StubTransport:
    """Just what SubscriberSide touches: a connected transport that drops what it is given."""

    def __init__(self) -> None:
        self.state = "connected"
        self.on_rtcp: Any = None
        self.on_connected: Any = None

    def send_rtp(self, packet: bytes) -> None:
        pass


def test_a_grown_tile_asks_for_a_paused_layer_while_it_stays_on_the_live_one() -> None:
    pub = Publication("alice", "1", "video", 96, 97, 90000, ["q", "h", "f"])
    for index, (ssrc, rid) in enumerate(zip((11, 12, 13), "qhf", strict=True)):
        layer = pub.layer_for(ssrc, rid)
        assert layer is not None
        layer.width = 320 << index
    # Only q is flowing: dynacast paused h and f while every tile was small.
    pub.layers[0].last_packet_at = time.monotonic()
    pub.layers[1].paused = pub.layers[2].paused = True
    side = SubscriberSide("bob", cast(PeerTransport, StubTransport()), "cname", on_dirty=lambda: None)
    sub = side.subscribe(pub)
    sub.negotiated = True
    sub.activate()
    assert pub.needed_layers(time.monotonic()) == {0}

    side.set_prefs(pub.id, TilePrefs(1264, 350))  # pinned: wants f
    assert sub.target_layer == 0  # cannot switch to a layer that is not arriving...
    assert pub.needed_layers(time.monotonic()) == {0, 2}  # ...but dynacast must ask the publisher for it

    side.set_prefs(pub.id, TilePrefs(1264, 350, visible=False))  # a hidden tile needs nothing
    assert pub.needed_layers(time.monotonic()) == set()


def test_when_the_publisher_drops_the_wanted_layer_the_one_below_stays_on() -> None:
    """The encoder stopped f on its own (CPU or uplink loss): a pinned viewer should fall back to h, not q."""
    pub = Publication("alice", "1", "video", 96, 97, 90000, ["q", "h", "f"])
    for ssrc, rid in zip((11, 12, 13), "qhf", strict=True):
        assert pub.layer_for(ssrc, rid) is not None
    now = time.monotonic()
    pub.layers[0].last_packet_at = now
    pub.layers[2].last_packet_at = now - 10  # f went quiet without dynacast asking
    side = SubscriberSide("bob", cast(PeerTransport, StubTransport()), "cname", on_dirty=lambda: None)
    sub = side.subscribe(pub)
    sub.negotiated = True
    sub.activate()
    side.set_prefs(pub.id, TilePrefs(1264, 350))
    assert pub.needed_layers(now) == {0, 1, 2}
    pub.layers[2].paused = True  # had dynacast paused f, asking for f alone is enough
    assert pub.needed_layers(now) == {0, 2}


def test_a_layer_paused_by_dynacast_is_not_live_even_with_packets_in_flight() -> None:
    pub = Publication("alice", "1", "video", 96, 97, 90000, ["q", "h", "f"])
    layer = pub.layer_for(13, "f")
    assert layer is not None
    now = time.monotonic()
    layer.last_packet_at = now
    assert layer.live(now)
    layer.paused = True
    assert not layer.live(now), "a pin must not route through a layer that is about to stop"
    assert pub.highest_live(now) == -1
