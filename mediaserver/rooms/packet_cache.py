"""A fixed ring of recent packets by sequence number: a layer's history, from which NACKs are answered."""

from __future__ import annotations

CACHE_SIZE = 512  # power of two; 500 packets of video is what LiveKit and JVB keep
_MASK = CACHE_SIZE - 1


class PacketCache:
    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: list[bytes | None] = [None] * CACHE_SIZE

    def put(self, seq: int, packet: bytes) -> None:
        self._slots[seq & _MASK] = packet

    def get(self, seq: int) -> bytes | None:
        packet = self._slots[seq & _MASK]
        # The slot may hold a newer packet that reused it: check the sequence number in the header.
        if packet is None or ((packet[2] << 8) | packet[3]) != seq:
            return None
        return packet
