"""The load generator against the real product (gateway + media server subprocesses): a short 4-bot run."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvloop

from benchmarks.loadtest.config import RunConfig
from benchmarks.loadtest.report import REQUIRED_FIELDS
from benchmarks.loadtest.runner import run
from tests.gateway.gateway_process import GatewayProcess, start_gateway_process

pytestmark = pytest.mark.slow

HOST_PASSWORD = "loadtest-password"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "loadtest"
# 4 bots, 10 s measured: long enough for every subscription to show up in the counters, short for CI.
SHORT_RUN = RunConfig(participants=4, duration=10.0, warmup=1.0, join_timeout=20.0, progress=False)


@pytest.fixture
def product() -> Iterator[GatewayProcess]:
    gateway = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD}, wait_media=True, timeout=30)
    try:
        yield gateway
    finally:
        gateway.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "product.log").write_text(gateway.log())


def test_four_bots_for_ten_seconds_deliver_and_report_every_field(product: GatewayProcess) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    plot = ARTIFACTS / "short-run.png" if importlib.util.find_spec("matplotlib") else None
    config = replace(SHORT_RUN, url=product.base_url, host_password=HOST_PASSWORD,
                     json_path=ARTIFACTS / "short-run.json", plot_path=plot)
    report = uvloop.run(run(config))

    missing = [f for f in REQUIRED_FIELDS if report.get(f) is None]
    assert not missing, f"report fields missing or empty: {missing}"
    assert json.loads(config.json_path.read_text())["participants"] == 4  # type: ignore[union-attr]
    assert report["target"] == "mediaserver"
    assert report["tracks_expected"] == 4 * 3 * 2
    assert report["tracks_receiving"] == report["tracks_expected"], report["delivery_worst_tracks"]
    assert report["packets_forwarded_source"] == "server"
    assert report["packets_sent"] > 0 and report["packets_forwarded"] > 0 and report["packets_received"] > 0
    # Every bot answers the server's numbered packets with transport-cc feedback, ~10 a second as Chrome does.
    assert report["transport_feedback_sent"] >= 4 * 10 * 5, report["transport_feedback_sent"]
    assert report["delivery_ratio"] >= 0.99, report["delivery_worst_tracks"]
    assert {"p50", "p95", "p99"} <= set(report["latency_ms"])
    assert report["server_cpu_us_per_forwarded_packet"] > 0 and report["server_rss_mb"] > 0
    assert report["video_prefs"] == "sent"
    lag = report["server_loop_lag_ms"]  # the media server's own loop-lag histogram, over the window
    assert lag is not None, "no loop-lag figures from the server"
    bounds = [float(str(lag[q]).lstrip(">")) for q in ("p50", "p99", "max")]  # ">1000": above the last bucket
    assert bounds == sorted(bounds), lag
    assert report["machine_cpu_probe"]["units"] >= 100  # one unit per 10 ms over the 10-s window
    assert report["errors"] == {}, report["errors"]
    if plot is not None:
        assert plot.stat().st_size > 10_000


# Blips: bot 3 loses its network for 4 s at 10 s and at 20 s of a 25-s window; bots 0-2 are the control group.
BLIP_RUN = replace(SHORT_RUN, duration=25.0, blip=4.0, blip_every=10.0, blip_bots=1)


def test_blipping_bots_come_back_by_themselves_and_the_others_never_notice(product: GatewayProcess) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    config = replace(BLIP_RUN, url=product.base_url, host_password=HOST_PASSWORD,
                     json_path=ARTIFACTS / "blip-run.json")
    report = uvloop.run(run(config))

    blips = report["blips"]
    assert blips["bots"] == [3] and blips["starts_s"] == [10.0, 20.0], blips
    assert blips["count"] == 2 and blips["recovered"] == 2, blips["per_blip"]
    for blip in blips["per_blip"]:
        assert blip["comeback"] == "resume", blip
        assert blip["time_to_media_s"] is not None and blip["time_to_media_s"] < 10, blip
    assert blips["time_to_media_s"]["max"] < 10
    reconnects = report["reconnects"]
    assert reconnects["resume"] == 2 and reconnects["gave_up"] == 0, reconnects
    assert reconnects["media_reset"] == 0 and reconnects["rejoin"] == 0, reconnects
    assert blips["streams_outside_blips"] == 3 * 2 * 2  # bots 0-2, audio and video each way
    assert blips["delivery_ratio_outside_blips"] >= 0.99, report["delivery_worst_tracks"]
    # Every track flows again at the end, the host's own included, and no bot saw an error or a misroute.
    assert report["tracks_receiving"] == report["tracks_expected"], report["delivery_worst_tracks"]
    assert report["misrouted_tracks"] == 0 and report["errors"] == {}, report["errors"]
    for key in REQUIRED_FIELDS:
        assert report.get(key) is not None, key
