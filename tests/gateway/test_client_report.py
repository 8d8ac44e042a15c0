"""client_report: strict parsing, the user-experience metrics it feeds, and their life from attempt to leave."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from signaling_gateway import messages as m
from signaling_gateway.experience import Experience
from signaling_gateway.store.records import utcnow

from .conftest import Gateway, eventually, receive, receive_type

# --- parsing ----------------------------------------------------------------------------------------------


def parse(fields: dict[str, Any]) -> m.ClientMessage:
    return m.parse_client_message(json.dumps({"type": "client_report", **fields}))


def test_a_report_with_and_without_a_first_frame() -> None:
    assert parse({"browser": "chrome", "os": "linux"}).report == m.ClientReport("chrome", "linux")
    report = parse({"browser": "safari", "os": "ios", "first_frame_ms": 812.5}).report
    assert report == m.ClientReport("safari", "ios", 812.5)
    assert parse({"browser": "edge", "os": "windows", "first_frame_ms": None}).report == m.ClientReport(
        "edge", "windows")


@pytest.mark.parametrize(("fields", "names"), [
    ({"os": "linux"}, "'browser'"),
    ({"browser": "Chrome", "os": "linux"}, "'browser'"),  # families are lower case, exactly
    ({"browser": "Mozilla/5.0 (X11; Linux x86_64)", "os": "linux"}, "'browser'"),
    ({"browser": "chrome"}, "'os'"),
    ({"browser": "chrome", "os": ["linux"]}, "'os'"),
    ({"browser": "chrome", "os": "linux", "first_frame_ms": -1}, "'first_frame_ms'"),
    ({"browser": "chrome", "os": "linux", "first_frame_ms": 600_001}, "'first_frame_ms'"),
    ({"browser": "chrome", "os": "linux", "first_frame_ms": True}, "'first_frame_ms'"),
    ({"browser": "chrome", "os": "linux", "first_frame_ms": "800"}, "'first_frame_ms'"),
])
def test_bad_reports_are_refused_with_a_message_naming_the_field(fields: dict[str, Any], names: str) -> None:
    with pytest.raises(m.BadMessage) as refused:
        parse(fields)
    assert refused.value.code == m.ERR_BAD_MESSAGE
    assert names in refused.value.message


def test_nan_and_infinity_are_refused() -> None:
    for raw in ("NaN", "Infinity", "-Infinity"):
        text = '{"type": "client_report", "browser": "chrome", "os": "linux", "first_frame_ms": ' + raw + "}"
        with pytest.raises(m.BadMessage):
            m.parse_client_message(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELD_VALUES = JSON_VALUES | st.sampled_from([*m.BROWSER_FAMILIES, *m.OS_FAMILIES])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["browser", "os", "first_frame_ms", "extra"]), FIELD_VALUES))
def test_any_input_is_a_report_with_known_labels_or_a_bad_message(fields: dict[str, Any]) -> None:
    try:
        report = parse(fields).report
    except m.BadMessage as exc:
        assert exc.code == m.ERR_BAD_MESSAGE
        return
    assert report is not None
    assert report.browser in m.BROWSER_FAMILIES and report.os in m.OS_FAMILIES
    assert report.first_frame_ms is None or 0 <= report.first_frame_ms <= m.MAX_FIRST_FRAME_MS


# --- the metrics, on a clock of our own --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def values(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in registry.collect() for s in family.samples}


def test_a_join_counts_once_and_its_call_duration_at_the_departure() -> None:
    registry, clock = CollectorRegistry(), Clock()
    experience = Experience(registry, clock)
    experience.attempt("p1", resumed=False)
    experience.attempt("p2", resumed=False)  # never reaches media
    experience.joined("p1")
    experience.report("p1", m.ClientReport("firefox", "macos"))
    experience.report("p1", m.ClientReport("firefox", "macos", 1500.0))
    experience.report("p1", m.ClientReport("firefox", "macos", 9000.0))  # a second first frame is not one
    experience.attempt("p1", resumed=True)  # a resume is no new attempt
    clock.now += 125
    experience.departed("p1")
    experience.departed("p2")  # its join failed: no duration

    got = values(registry)
    assert got[("gateway_join_attempts_total", ())] == 2
    assert got[("gateway_joins_reached_media_total", ())] == 1
    assert got[("gateway_client_browsers_total", (("browser", "firefox"),))] == 1
    assert got[("gateway_client_browsers_total", (("browser", "chrome"),))] == 0  # exported before any report
    assert got[("gateway_client_os_total", (("os", "macos"),))] == 1
    assert got[("gateway_time_to_first_frame_seconds_count", ())] == 1
    assert got[("gateway_time_to_first_frame_seconds_sum", ())] == 1.5
    assert got[("gateway_call_duration_seconds_count", ())] == 1
    assert got[("gateway_call_duration_seconds_sum", ())] == 125
    assert experience.tracked == 0, "nothing kept for people who left"


def test_after_a_gateway_restart_the_duration_counts_from_the_stored_join_and_reports_are_not_attempts() -> None:
    registry, clock = CollectorRegistry(), Clock()
    experience = Experience(registry, clock)
    experience.attempt("p1", resumed=True)
    experience.joined("p1", utcnow() - timedelta(minutes=10))
    experience.report("p1", m.ClientReport("chrome", "android", 300.0))
    experience.departed("p1")
    got = values(registry)
    assert got[("gateway_join_attempts_total", ())] == 0
    assert got[("gateway_joins_reached_media_total", ())] == 0
    assert got[("gateway_time_to_first_frame_seconds_count", ())] == 0
    assert 599 < got[("gateway_call_duration_seconds_sum", ())] < 605


# --- over the socket, with a real media server -------------------------------------------------------------


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_a_report_over_the_socket_shows_in_metrics_and_a_bad_one_gets_an_error(online: Gateway) -> None:
    host = await online.host()
    meeting_id = (await (await host.post("/api/meetings")).json())["id"]
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    assert (await receive(ws))["type"] == "welcome"

    await ws.send_json({"type": "client_report", "browser": "netscape", "os": "linux"})
    error = await receive_type(ws, "error")
    assert error["code"] == "bad_message" and "'browser'" in error["message"]

    await ws.send_json({"type": "client_report", "browser": "chrome", "os": "linux", "first_frame_ms": 640})
    await ws.send_json({"type": "ping"})
    await receive_type(ws, "pong")  # messages are handled in order: the report is in
    got = scrape(await (await host.get("/metrics")).text())
    assert got[("gateway_join_attempts_total", ())] == 1
    assert got[("gateway_joins_reached_media_total", ())] == 1
    assert got[("gateway_client_browsers_total", (("browser", "chrome"),))] == 1
    assert got[("gateway_client_os_total", (("os", "linux"),))] == 1
    assert got[("gateway_time_to_first_frame_seconds_bucket", (("le", "0.75"),))] == 1
    assert got[("gateway_store_connected", (("store", "memory"),))] == 1
    assert got[("process_resident_memory_bytes", ())] > 0

    await ws.close()  # a goodbye: gone for good

    async def observed() -> bool:
        text = await (await host.get("/metrics")).text()
        return scrape(text)[("gateway_call_duration_seconds_count", ())] == 1

    await eventually(observed)
