"""The media server's /metrics text: valid exposition, the node label, call quality, per-room series that go."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mediaserver.config import Config
from mediaserver.metrics import render_metrics, room_label
from mediaserver.sfu import Sfu


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sfu() -> Sfu:
    return Sfu(Config.from_args(["--bind", "127.0.0.1", "--udp-port", "0"]), lambda *_: None)


async def test_the_text_parses_and_counts_rooms_and_participants_under_the_node_id() -> None:
    server = sfu()
    try:
        server.create_room({"room_id": "meeting-a"})
        server.join({"room_id": "meeting-a", "participant_id": "p1", "name": "One"})
        parsed = samples(render_metrics(server, "node-7"))
        assert parsed[("mediaserver_rooms", (("node", "node-7"),))] == 1
        assert parsed[("mediaserver_participants", (("node", "node-7"),))] == 1
        assert parsed[("mediaserver_resident_memory_bytes", ())] > 10_000_000
        assert ("mediaserver_cpu_seconds_total", ()) in parsed
        for direction in ("uplink", "downlink"):
            key = ("mediaserver_participant_loss_ratio_bucket", (("direction", direction), ("le", "+Inf")))
            assert parsed[key] == 0
        assert parsed[("mediaserver_participant_rtt_seconds_count", ())] == 0
    finally:
        await server.close()


async def test_histogram_buckets_are_cumulative() -> None:
    server = sfu()
    try:
        for value in (0.001, 0.03, 0.03, 2.0):
            server.call_quality.rtt.observe(value)
        parsed = samples(render_metrics(server))
        bucket = {le: parsed[("mediaserver_participant_rtt_seconds_bucket", (("le", le),))]
                  for le in ("0.005", "0.025", "0.05", "1.6", "+Inf")}
        assert bucket == {"0.005": 1, "0.025": 1, "0.05": 3, "1.6": 3, "+Inf": 4}
        assert parsed[("mediaserver_participant_rtt_seconds_count", ())] == 4
    finally:
        await server.close()


async def test_a_rooms_bitrate_series_goes_when_the_room_closes_and_never_names_the_meeting() -> None:
    server = sfu()
    try:
        server.create_room({"room_id": "meeting-a"})
        server.create_room({"room_id": "meeting-b"})
        text = render_metrics(server)
        assert "meeting-a" not in text, "a meeting id admits guests: only its digest is exported"
        rooms = {dict(labels)["room"] for name, labels in samples(text) if name == "mediaserver_room_bitrate_bps"}
        assert rooms == {room_label("meeting-a"), room_label("meeting-b")}

        await server.close_room({"room_id": "meeting-a"})
        rooms = {dict(labels)["room"] for name, labels in samples(render_metrics(server))
                 if name == "mediaserver_room_bitrate_bps"}
        assert rooms == {room_label("meeting-b")}
    finally:
        await server.close()


async def test_connection_quality_is_a_mos_histogram_and_a_counter_per_level_with_no_participant_label() -> None:
    server = sfu()
    try:
        for mos in (4.4, 3.6, 2.2):
            server.call_quality.mos.observe(mos)
        server.call_quality.level_seconds["poor"] += 3
        parsed = samples(render_metrics(server))
        assert parsed[("mediaserver_participant_mos_bucket", (("le", "3.5"),))] == 1
        assert parsed[("mediaserver_participant_mos_bucket", (("le", "4"),))] == 2
        assert parsed[("mediaserver_participant_mos_count", ())] == 3
        levels = {dict(labels)["level"]: value for (name, labels), value in parsed.items()
                  if name == "mediaserver_participant_quality_seconds_total"}
        assert levels == {"lost": 0, "poor": 3, "good": 0, "excellent": 0}
    finally:
        await server.close()
