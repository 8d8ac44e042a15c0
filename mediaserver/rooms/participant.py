"""Participant: its two transports (publisher, subscriber) and the sides that run over them."""

from __future__ import annotations

import secrets
import time

from mediaserver.sdp.negotiation import ServerIdentity, answer_publisher_offer
from mediaserver.transport.peer import PeerTransport

from .connection_quality import ParticipantQuality
from .ports import RoomPort
from .publication import Publication
from .publishing import PublisherSide
from .subscribing import NegotiationBusy, StaleAnswer, SubscriberSide, TilePrefs

__all__ = ["NegotiationBusy", "Participant", "StaleAnswer", "TilePrefs"]


class Participant:
    def __init__(self, room: RoomPort, participant_id: str, name: str) -> None:
        self.room = room
        self.id = participant_id
        self.name = name
        self.closed = False
        self.tick_slice = 0  # which 50-ms slice of the second runs its periodic work (the room assigns it)
        self._session_id = secrets.randbits(62)
        rtcp_ssrc = secrets.randbits(32) or 1
        self.publisher_transport = PeerTransport(room.mux, room.ssl_context, f"{participant_id}/pub")
        self.subscriber_transport = PeerTransport(room.mux, room.ssl_context, f"{participant_id}/sub")
        self.publisher_transport.on_closed = self._on_transport_closed
        self.subscriber_transport.on_closed = self._on_transport_closed
        # The browser's ICE ufrag of its last publisher offer: a new one is an ICE restart.
        self._publisher_remote_ufrag: str | None = None
        # Which gateway connection speaks for this participant, and since when none does (it went away).
        self.owner = 0
        self.detached_at: float | None = None
        self.publishing = PublisherSide(participant_id, self.publisher_transport, rtcp_ssrc, room.upstream_nack)
        self.publishing.repair.rtt = self._rtt_s
        self.subscribing = SubscriberSide(participant_id, self.subscriber_transport, secrets.token_hex(8),
                                          on_dirty=lambda: room.renegotiation_needed(self),
                                          on_undecodable=lambda pub, active: room.track_undecodable(self, pub, active))
        self.quality = ParticipantQuality(self.publishing, self.subscribing)  # the room updates it once a second
        # After an outage both directions restart on keyframes: what was sent meanwhile never arrived.
        self.subscriber_transport.on_resumed = lambda _: self.subscribing.restart_video()
        self.publisher_transport.on_resumed = lambda _: self.publishing.request_keyframes()

    def _rtt_s(self) -> float | None:
        """The round trip to this browser, for pacing NACKs to it. Its publisher connection measures none (we send
        no media there, so its reports answer no SR of ours): its subscriber connection's is the same path."""
        rtt_ms = self.subscribing.last_rtt_ms
        return None if rtt_ms is None else rtt_ms / 1000

    @property
    def publications(self) -> dict[str, Publication]:
        return self.publishing.publications

    def identity(self, transport: PeerTransport) -> ServerIdentity:
        first, *others = self.room.public_ips
        return ServerIdentity(ice_ufrag=transport.local_ufrag, ice_pwd=transport.local_pwd,
                              fingerprint=self.room.fingerprint, host=first, port=self.room.public_port,
                              extra_hosts=tuple(others))

    def answer_publisher(self, offer_sdp: str) -> tuple[str, list[Publication], list[Publication]]:
        """Answer the browser's publisher offer; returns the answer, the publications created and removed."""
        transport = self.publisher_transport
        codecs = self.room.codec_order(self)
        answer, peer, media = answer_publisher_offer(offer_sdp, self.identity(transport), video_codecs=codecs)
        if self._publisher_remote_ufrag not in (None, peer.ice_ufrag):
            # The browser restarted ICE (createOffer({iceRestart: true})): RFC 8839 wants new credentials on
            # our side too. DTLS and SRTP stay; the checks with the new credentials move the address.
            transport.restart_ice()
            answer, peer, media = answer_publisher_offer(offer_sdp, self.identity(transport), video_codecs=codecs)
        self._publisher_remote_ufrag = peer.ice_ufrag
        transport.set_remote_fingerprint(peer.fingerprint[1])
        accepted = {m.mid for m in media}
        # A track now sent in another codec is a new publication (subscribers' decoders and offers follow it),
        # on the same SSRCs: those must be learned again, not ignored as a stopped track's.
        current = {mid: pub.codec_name for mid, pub in self.publications.items()}
        recoded = {m.mid for m in media if current.get(m.mid, m.codec) != m.codec}
        removed = [pub for mid in list(self.publications) if mid not in accepted or mid in recoded
                   if (pub := self.publishing.unpublish(mid, same_ssrcs=mid in recoded)) is not None]
        created = [self.publishing.publish(m) for m in media if m.mid not in self.publications]
        return answer, created, removed

    def create_subscriber_offer(self, ice_restart: bool = False) -> tuple[str, int]:
        """The next subscriber offer and its id; `ice_restart` gives it new ICE credentials (a resumed client)."""
        if ice_restart:
            # Also for a transport that never connected: new credentials are what makes the browser gather
            # again (e.g. with the TURN servers it was just given).
            self.subscriber_transport.restart_ice()
        identity = self.identity(self.subscriber_transport)
        return self.subscribing.create_offer(identity, self._session_id, restart=ice_restart)

    def apply_subscriber_answer(self, answer_sdp: str, offer_id: int | None = None) -> None:
        self.subscribing.apply_answer(answer_sdp, offer_id)

    def tick(self, now: float) -> None:
        """Once a second: RTCP both ways, layer measurements, downlink control, layer choice, dynacast."""
        self.publishing.send_reports(self.room.remb_bps)
        self.publishing.measure(now)
        self.subscribing.send_reports(now)
        self.subscribing.measure(now)
        self.subscribing.evaluate_downlink(now)
        self.subscribing.allocate(now)
        self.subscribing.check_answer_timeout(now)

    def _on_transport_closed(self, transport: PeerTransport) -> None:
        if not self.closed:
            self.room.transport_lost(self, transport.close_reason)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for transport in (self.publisher_transport, self.subscriber_transport):
            transport.on_closed = None
            transport.close("participant left")

    def summary(self) -> dict[str, object]:
        """Connection figures both ways and the quality level and MOS its tiles show, for the host's statistics."""
        pubs = list(self.publications.values())
        uplink_loss = max((p.uplink_fraction_lost() for p in pubs), default=0.0)
        return {
            "uplink": {"bitrate_bps": sum(p.uplink_bitrate() for p in pubs), "loss": round(uplink_loss, 3)},
            "downlink": self.subscribing.summary(),
            **self.quality.summary(),
            "muted": {kind: any(p.muted for p in pubs if p.kind == kind) for kind in ("audio", "video")},
        }

    def stats(self) -> dict[str, object]:
        now = time.monotonic()
        return {
            "name": self.name,
            **self.summary(),
            "publisher": self.publisher_transport.state,
            "subscriber": self.subscriber_transport.state,
            "publications": [
                {"id": p.id, "kind": p.kind, "mid": p.mid, "packets_in": p.packets_in, "muted": p.muted,
                 "layers": [layer.describe(now) for layer in p.layers]}
                for p in self.publications.values()
            ],
            **self.subscribing.stats(),
            # One "downlink" with the summary's figures (bitrate, loss, RTT, jitter) and the downlink controller's
            # decisions: their keys differ, and the subscribing stats alone would hide the summary's.
            "downlink": {**self.subscribing.summary(), **self.subscribing.downlink.stats()},
            "rtp_errors": self.publishing.rtp_errors + self.subscribing.rtp_errors,
            "transport_feedback_sent": self.publishing.twcc_feedback_sent,  # transport-cc packets to its publisher
            "detached": self.detached_at is not None,
        }
