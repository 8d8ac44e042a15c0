"""What a publication needs of the subscriptions it fans out to (a leaf module, so neither imports the other)."""

from __future__ import annotations

from typing import Protocol

from mediaserver.rtp.header import RtpHeader

from .codec import FrameDescriptor


class Forwarder(Protocol):
    """One subscriber's copy of a publication: the layer it is on, heading to, and would take if sent."""

    active: bool
    paused: bool
    current_layer: int
    target_layer: int
    wanted_layer: int

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: FrameDescriptor | None, layer: int,
                now: float) -> None: ...

    def skip(self, hdr: RtpHeader, layer: int) -> None: ...

    def restart(self) -> None: ...
