"""A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d; STUN answers tell them their IPv4 address."""

from __future__ import annotations

import pytest

from mediaserver.transport.ice_lite import plain_address


@pytest.mark.parametrize(("seen", "told"), [
    ("::ffff:192.0.2.10", "192.0.2.10"), ("2001:db8::5", "2001:db8::5"), ("192.0.2.10", "192.0.2.10"),
    ("::1", "::1")])
def test_the_address_a_peer_is_told_is_the_one_it_sent_from(seen: str, told: str) -> None:
    assert plain_address(seen) == told
