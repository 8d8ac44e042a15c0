"""HTTP /metrics (Prometheus text) and /healthz for the media server, served by aiohttp on the same loop."""

from __future__ import annotations

import json
import resource

from aiohttp import web

from .loop_lag import BUCKETS_MS
from .sfu import Sfu


def render_metrics(sfu: Sfu) -> str:
    lines = []
    for name, value in sfu.mux.counters.as_dict().items():
        lines.append(f"# TYPE mediaserver_udp_{name}_total counter")
        lines.append(f"mediaserver_udp_{name}_total {value}")
    participants = sum(len(r.participants) for r in sfu.rooms.values())
    subscriptions = sum(len(p.subscribing.subscriptions) for r in sfu.rooms.values() for p in r.participants.values())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for name, value in (
        ("rooms", len(sfu.rooms)),
        ("participants", participants),
        ("subscriptions", subscriptions),
        ("transports", sfu.mux.peer_count),
    ):
        lines.append(f"# TYPE mediaserver_{name} gauge")
        lines.append(f"mediaserver_{name} {value}")
    lag = sfu.loop_lag
    lines.append("# TYPE mediaserver_event_loop_lag_seconds histogram")
    cumulative = 0
    for bound, count in zip((*BUCKETS_MS, float("inf")), lag.counts, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else f"{bound / 1000:g}"
        lines.append(f'mediaserver_event_loop_lag_seconds_bucket{{le="{le}"}} {cumulative}')
    lines.append(f"mediaserver_event_loop_lag_seconds_sum {lag.total_ms / 1000:.6f}")
    lines.append(f"mediaserver_event_loop_lag_seconds_count {lag.samples}")
    lines.append("# TYPE mediaserver_cpu_seconds_total counter")
    lines.append(f"mediaserver_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.3f}")
    return "\n".join(lines) + "\n"


async def start_metrics(sfu: Sfu, host: str, port: int) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=render_metrics(sfu), content_type="text/plain")

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
