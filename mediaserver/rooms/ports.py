"""What a participant needs from its room (a leaf module: participant.py and room.py both import it, not each other)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from OpenSSL import SSL

from mediaserver.transport.ports import MuxPort


class RoomPort(Protocol):
    """The room as its participants see it: the shared port, our DTLS identity, codec choice, notifications."""

    mux: MuxPort
    ssl_context: SSL.Context
    fingerprint: str
    public_ips: tuple[str, ...]  # the addresses announced in candidates, the first preferred
    public_port: int
    remb_bps: int
    upstream_nack: bool  # NACK publishers for what their uplink lost and take their RTX (UPSTREAM_NACK)

    # `participant` is the Participant calling (typed loosely: naming it here would import it back).
    def renegotiation_needed(self, participant: Any) -> None: ...

    def transport_lost(self, participant: Any, reason: str) -> None: ...

    def codec_order(self, participant: Any) -> Sequence[str]:
        """The video codecs to answer this participant's offer with, best first."""
        ...

    # `publication` is the Publication the participant's browser cannot decode; `active` False once it is gone.
    def track_undecodable(self, participant: Any, publication: Any, active: bool) -> None: ...
