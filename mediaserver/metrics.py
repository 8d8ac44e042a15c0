"""HTTP /metrics (Prometheus text) and /healthz for the media server, served by aiohttp on the same loop."""

from __future__ import annotations

import hashlib
import json
import resource

from aiohttp import web

from .loop_lag import BUCKETS_MS
from .prom_text import HistogramData, family, histogram
from .rooms.call_quality import DIRECTIONS
from .rooms.room import Room
from .sfu import Sfu


def room_label(room_id: str) -> str:
    # A meeting id is a capability (its link admits guests): whoever scrapes /metrics gets a digest, not the id.
    return hashlib.sha256(room_id.encode()).hexdigest()[:12]


def resident_memory_bytes() -> int:
    """This process's RSS now (Linux /proc); the peak from getrusage where there is no /proc."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _udp(sfu: Sfu) -> list[str]:
    lines: list[str] = []
    for name, value in sfu.mux.counters.as_dict().items():
        lines += family(f"mediaserver_udp_{name}_total", "counter", f"UDP mux: {name.replace('_', ' ')}",
                        [(None, value)])
    return lines


def _load(sfu: Sfu, node: str) -> list[str]:
    labels = {"node": node} if node else None
    rooms = sfu.rooms.values()
    subscriptions = sum(len(p.subscribing.subscriptions) for r in rooms for p in r.participants.values())
    return [
        *family("mediaserver_rooms", "gauge", "Rooms on this node", [(labels, len(sfu.rooms))]),
        *family("mediaserver_participants", "gauge", "Participants on this node", [(labels, sfu.participant_count)]),
        *family("mediaserver_subscriptions", "gauge", "Subscriptions (one track to one subscriber)",
                [(None, subscriptions)]),
        *family("mediaserver_transports", "gauge", "Peer transports on the UDP port", [(None, sfu.mux.peer_count)]),
    ]


def _process() -> list[str]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return [
        *family("mediaserver_cpu_seconds_total", "counter", "User and system CPU time of this process",
                [(None, round(usage.ru_utime + usage.ru_stime, 3))]),
        *family("mediaserver_resident_memory_bytes", "gauge", "Resident memory of this process",
                [(None, resident_memory_bytes())]),
    ]


def _loop_lag(sfu: Sfu) -> list[str]:
    lag = sfu.loop_lag
    data = HistogramData([b / 1000 for b in BUCKETS_MS], lag.counts, lag.samples, lag.total_ms / 1000)
    return histogram("mediaserver_event_loop_lag_seconds", "How late a 50 ms timer fires", [(None, data)])


def _call_quality(sfu: Sfu) -> list[str]:
    quality = sfu.call_quality
    return [
        *histogram("mediaserver_participant_loss_ratio",
                   "Packet loss fraction per participant, one sample per participant-second",
                   [({"direction": d}, quality.loss[d]) for d in DIRECTIONS]),
        *histogram("mediaserver_participant_jitter_seconds",
                   "Interarrival jitter per participant, one sample per participant-second",
                   [({"direction": d}, quality.jitter[d]) for d in DIRECTIONS]),
        *histogram("mediaserver_participant_rtt_seconds",
                   "Round-trip time to each subscriber (median of its subscriptions), per participant-second",
                   [(None, quality.rtt)]),
        *histogram("mediaserver_participant_mos",
                   "Connection quality score (E-model MOS, the worse direction; 1 when lost) per participant-second",
                   [(None, quality.mos)]),
        *family("mediaserver_participant_quality_seconds_total", "counter",
                "Participant-seconds at each connection quality level the tiles showed",
                [({"level": level}, seconds) for level, seconds in quality.level_seconds.items()]),
    ]


def room_bitrates(room: Room) -> dict[str, int]:
    """Bits per second into the room (publishers' layers) and out of it (to subscribers), last second."""
    participants = room.participants.values()
    uplink = sum(pub.uplink_bitrate() for p in participants for pub in p.publications.values())
    return {"uplink": uplink, "downlink": sum(p.subscribing.bitrate_bps for p in participants)}


def _room_bitrate(sfu: Sfu) -> list[str]:
    # Only the rooms open now: a closed room's series disappears with it, so the label set stays bounded.
    samples = [({"room": room_label(room.id), "direction": direction}, bps)
               for room in sfu.rooms.values() for direction, bps in room_bitrates(room).items()]
    return family("mediaserver_room_bitrate_bps", "gauge", "Media bitrate per room and direction", samples)


def render_metrics(sfu: Sfu, node: str = "") -> str:
    sections = (_udp(sfu), _load(sfu, node), _process(), _loop_lag(sfu), _call_quality(sfu), _room_bitrate(sfu))
    return "\n".join(line for section in sections for line in section) + "\n"


async def start_metrics(sfu: Sfu, host: str, port: int, node: str = "") -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=render_metrics(sfu, node), content_type="text/plain")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"ok": True, "rooms": len(sfu.rooms), "udp_port": sfu.udp_port}),
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
