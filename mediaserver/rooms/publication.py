"""Publication: one track a participant sends (audio, or video with its simulcast layers), and who receives it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from .receive_stats import ReceiveStats

if TYPE_CHECKING:
    from .subscription import Subscription


def _no_keyframe_source() -> None:
    pass


class Publication:
    """Maps inbound SSRCs to this track and holds the subscriptions its packets fan out to."""

    def __init__(
        self,
        participant_id: str,
        mid: str,
        kind: str,
        payload_type: int,
        rtx_payload_type: int | None,
        clock_rate: int,
        rids: list[str],
    ) -> None:
        self.id = f"{kind}-{secrets.token_hex(6)}"
        self.participant_id = participant_id
        self.mid = mid
        self.kind = kind
        self.payload_type = payload_type
        self.rtx_payload_type = rtx_payload_type
        self.clock_rate = clock_rate
        self.rids = rids
        # Inbound media SSRC -> its reception statistics; one entry per live layer.
        self.layers: dict[int, ReceiveStats] = {}
        self.rid_by_ssrc: dict[int, str] = {}
        self.subscriptions: list[Subscription] = []
        self.packets_in = 0
        self.last_pli = -1e9
        # The layer forwarded to subscribers: the first one seen, until per-subscriber selection exists.
        self.forward_ssrc: int | None = None
        # Set by the owning participant: asks the publisher for a keyframe (throttled there).
        self.request_keyframe: Callable[[], None] = _no_keyframe_source

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    def add_layer(self, ssrc: int, rid: str | None) -> ReceiveStats:
        stats = self.layers.get(ssrc)
        if stats is None:
            stats = self.layers[ssrc] = ReceiveStats(ssrc, self.clock_rate)
        if rid:
            self.rid_by_ssrc[ssrc] = rid
        return stats
