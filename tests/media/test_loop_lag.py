"""The media server's event-loop lag monitor: a callback that holds the loop shows up in stats and /metrics."""

from __future__ import annotations

import asyncio
import time

from mediaserver.config import Config
from mediaserver.loop_lag import BUCKETS_MS, LoopLagMonitor, window_quantile_ms
from mediaserver.metrics import render_metrics
from mediaserver.sfu import Sfu


def test_buckets_and_window_quantiles() -> None:
    monitor = LoopLagMonitor()
    for lag in (0.2, 0.5, 0.9, 1.5):
        monitor.record(lag)
    start = list(monitor.counts)
    for lag in [0.3] * 98 + [12.0, 400.0]:
        monitor.record(lag)
    end = monitor.counts
    assert window_quantile_ms(start, end, 0.5) == 1
    assert window_quantile_ms(start, end, 0.99) == 15  # 12 ms falls in the (10, 15] bucket
    assert window_quantile_ms(start, end, 1.0) == 500
    assert window_quantile_ms(end, end, 0.99) is None  # an empty window has no quantile
    monitor.record(5000.0)
    assert monitor.counts[-1] == 1 and monitor.max_ms == 5000.0
    assert monitor.samples == 105 and len(monitor.counts) == len(BUCKETS_MS) + 1


async def test_a_blocking_callback_is_measured_in_stats_and_metrics() -> None:
    sfu = Sfu(Config.from_args(["--bind", "127.0.0.1", "--udp-port", "0"]), lambda *_: None)
    await sfu.start()
    try:
        async def samples_reach(count: int) -> None:
            while sfu.loop_lag.samples < count:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(samples_reach(3), 5)
        asyncio.get_running_loop().call_soon(time.sleep, 0.12)  # holds the loop as a slow callback would
        await asyncio.wait_for(samples_reach(sfu.loop_lag.samples + 2), 5)

        lag = sfu.stats({})["loop_lag"]
        assert lag["max_ms"] >= 60  # the timer due during the sleep fired at least 60 ms late
        text = render_metrics(sfu)
        assert 'mediaserver_event_loop_lag_seconds_bucket{le="+Inf"} ' + str(lag["samples"]) in text
        assert "mediaserver_event_loop_lag_seconds_sum " in text
    finally:
        await sfu.close()
