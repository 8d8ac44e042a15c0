"""Which subscription a publication gets: every packet of an audio track, or one layer of a video track."""

from __future__ import annotations

from collections.abc import Callable

from .publication import Publication
from .subscription import AudioSubscription, Subscription
from .video_subscription import VideoSubscription


def new_subscription(publication: Publication, mid: str, payload_type: int, send: Callable[[bytes], None],
                     subscriber_id: str = "") -> Subscription:
    kind = VideoSubscription if publication.is_video else AudioSubscription
    return kind(publication, mid, payload_type, send, subscriber_id)
