"""Regenerates tests/fuzz/corpus/: real packets and messages from a short load-generator call against the product.

    python -m tests.fuzz.capture [--only mux sdp]   # about 15 s: gateway + media server, 2 bots for 4 s

What it records, in the bots' own process (benchmarks/loadtest/transport.py and aiohttp, wrapped):
  stun, mux     every datagram a bot sends or receives on the shared port (STUN, DTLS, SRTP), raw
  rtp, rtcp     the plaintext RTP and RTCP a bot protects and the plaintext it unprotects (the server's forwarding)
  vp8           the payloads of the VP8 packets (PT 96) among them; h264: libx264 frames (tests/rtp/h264_samples)
                packetized as the browsers do (mediaserver.rtp.h264.packetize)
  depacketizer  runs of consecutive captured packets of one SSRC, and of the H.264 packets
  client        the JSON text frames the bots send on the gateway's WebSocket
  sdp           the stored browser offers (tests/sdp/data), the bots' offers and answers, the server's answers/offers
  control       request streams framed by mediaserver.control_protocol with the captured SDPs, and replies
  node_record   heartbeat records as mediaserver/registry.py writes them
  twcc          transport-cc FCIs: the draft's examples, and what ArrivalRecorder reports for a paced stream with
                losses, reordering, pauses and wrap-around (no peer sends us transport-cc feedback yet)
Crash inputs found by the fuzzer (crash-*) are kept: they are regression inputs, not captures.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from benchmarks.loadtest import transport as lt_transport
from benchmarks.loadtest.config import RunConfig
from benchmarks.loadtest.runner import run
from mediaserver import control_protocol as proto
from mediaserver.rtp.extensions import PROFILE_ONE_BYTE, encode_transport_cc
from mediaserver.rtp.h264 import packetize
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.twcc_recorder import ArrivalRecorder
from tests.gateway.gateway_process import start_gateway_process

from .engine import CORPUS_ROOT, quiet_logs

PER_KIND = 40
HOST_PASSWORD = "fuzz-capture"
captured: dict[str, list[bytes]] = defaultdict(list)


def _keep(kind: str, data: bytes) -> None:
    captured[kind].append(bytes(data))


def _patch_transport() -> None:
    cls = lt_transport.ClientTransport
    send, on_stun, on_dtls, on_srtp = cls._send, cls._on_stun, cls._on_dtls, cls._on_srtp
    send_rtp, send_rtcp = cls.send_rtp, cls.send_rtcp

    def _send(self: Any, data: bytes) -> None:
        _keep("out", data)
        send(self, data)

    def _on_stun(self: Any, data: bytes) -> None:
        _keep("in", data)
        on_stun(self, data)

    def _on_dtls(self: Any, data: bytes) -> None:
        _keep("in", data)
        on_dtls(self, data)

    def _on_srtp(self: Any, data: bytes, ancillary: Any) -> None:
        _keep("in", data)
        rtp, rtcp = self.on_rtp, self.on_rtcp

        def on_rtp(plain: bytes, arrival: int) -> None:
            _keep("rtp_in", plain)
            rtp(plain, arrival)

        def on_rtcp(plain: bytes) -> None:
            _keep("rtcp", plain)
            rtcp(plain)

        self.on_rtp, self.on_rtcp = on_rtp, on_rtcp
        try:
            on_srtp(self, data, ancillary)
        finally:
            self.on_rtp, self.on_rtcp = rtp, rtcp

    def _send_rtp(self: Any, plain: bytes) -> bool:
        _keep("rtp_out", plain)
        return bool(send_rtp(self, plain))

    def _send_rtcp(self: Any, plain: bytes) -> None:
        _keep("rtcp", plain)
        send_rtcp(self, plain)

    cls._send, cls._on_stun, cls._on_dtls, cls._on_srtp = _send, _on_stun, _on_dtls, _on_srtp  # type: ignore[method-assign]
    cls.send_rtp, cls.send_rtcp = _send_rtp, _send_rtcp  # type: ignore[method-assign]

    ws = aiohttp.ClientWebSocketResponse
    send_json, receive = ws.send_json, ws.receive

    async def _send_json(self: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        _keep("client", json.dumps(data).encode())
        await send_json(self, data, *args, **kwargs)

    async def _receive(self: Any, *args: Any, **kwargs: Any) -> Any:
        message = await receive(self, *args, **kwargs)
        if message.type == aiohttp.WSMsgType.TEXT:
            _keep("server_json", message.data.encode())
        return message

    ws.send_json, ws.receive = _send_json, _receive  # type: ignore[method-assign]


def _load_run() -> None:
    product = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD}, wait_media=True, timeout=30)
    try:
        config = RunConfig(participants=2, duration=4.0, warmup=1.0, join_timeout=20.0, progress=False)
        uvloop.run(run(replace(config, url=product.base_url, host_password=HOST_PASSWORD)))
    finally:
        product.stop()


def _sample(items: list[bytes], count: int, rng: random.Random) -> list[bytes]:
    """The first few (handshakes, first packets) and a spread of the rest, without duplicates."""
    unique = list(dict.fromkeys(items))
    if len(unique) <= count:
        return unique
    head = unique[: count // 3]
    return head + rng.sample(unique[count // 3 :], count - len(head))


def _sdps() -> list[bytes]:
    root = Path(__file__).resolve().parents[1]
    out = [p.read_bytes() for p in sorted((root / "sdp" / "data").glob("*.sdp"))]
    for raw in captured["client"] + captured["server_json"]:
        message = json.loads(raw)
        if isinstance(message.get("sdp"), str):
            out.append(message["sdp"].encode())
    return out


def _control_streams(sdps: list[bytes]) -> list[bytes]:
    offer = next((s.decode() for s in sdps if b"a=sendonly" in s or b"a=sendrecv" in s), "")
    answer = next((s.decode() for s in sdps if b"a=recvonly" in s), "")
    room = {"room_id": "fuzz-room"}
    who = {**room, "participant_id": "p1"}
    session = [
        proto.request(1, proto.CREATE_ROOM, {**room, "video_codecs": ["VP8", "H264"]}),
        proto.request(2, proto.JOIN, {**who, "name": "Ada"}),
        proto.request(3, proto.PUBLISHER_OFFER, {**who, "sdp": offer}),
        proto.request(4, proto.SUBSCRIBER_OFFER, {**who, "ice_restart": False}),
        proto.request(5, proto.SUBSCRIBER_ANSWER, {**who, "sdp": answer, "offer_id": 1}),
        proto.request(6, proto.SET_VIDEO_PREFS, {**who, "prefs": [
            {"track_id": "video-1", "width": 320, "height": 180, "visible": True}]}),
        proto.request(7, proto.SET_TRACK_ENABLED, {**who, "kind": "audio", "enabled": False}),
        proto.request(8, proto.STATS, {**room, "summary": True}),
        proto.request(9, proto.RESUME, who),
        proto.request(10, proto.SIMULATE_LOSS, {**who, "downlink_loss": 0.1}),
        proto.request(11, proto.START_RECORDING, room),
        proto.request(12, proto.STOP_RECORDING, room),
        proto.request(13, proto.LEAVE, who),
        proto.request(14, proto.CLOSE_ROOM, room),
    ]
    streams = [b"".join(session), b"".join(session[:3]), b"".join(session[:2] + session[3:5])]
    streams += [session[0] + frame for frame in session[1:]]
    streams += [proto.response(3, {"sdp": answer}), proto.error(4, proto.ERR_BUSY, "an offer is outstanding"),
                proto.event(proto.RENEGOTIATION_NEEDED, who), proto.request(1, proto.STATS, {})]
    return streams


def _control_replies(streams: list[bytes]) -> list[bytes]:
    """What the real control server answers to those streams, with the events it emits: the gateway's input."""
    from .targets import _ControlRig

    rig = _ControlRig()
    emitted: list[bytes] = []
    rig.sfu.emit = lambda name, params: emitted.append(proto.event(name, params))
    with quiet_logs():
        replies = [rig.serve(stream) for stream in streams[:6]]
    return [r for r in replies if r] + [b"".join(emitted[:8])] + emitted[:6]


def _bus_events() -> list[bytes]:
    """Events in the shapes signaling_gateway/relay.py publishes (a delivery, two commands), as RedisBus writes them."""
    return [json.dumps(e, separators=(",", ":")).encode() for e in (
        {"op": "deliver", "meeting": "m1", "from": "gw-a", "to": "all", "except": None,
         "message": {"type": "participant_joined", "participant_id": "p2", "name": "Bo", "audio": True,
                     "video": True}},
        {"op": "resumed", "meeting": "m1", "from": "gw-b", "participant_id": "p2"},
        {"op": "host_action", "meeting": "m1", "from": "gw-a", "action": "mute", "participant_id": "p2"},
    )]


def _depacketizer_runs(packets: list[bytes], h264: list[bytes]) -> list[bytes]:
    by_ssrc: dict[int, list[bytes]] = defaultdict(list)
    for packet in packets:
        by_ssrc[parse_rtp(packet).ssrc].append(packet)
    runs = []
    for stream in by_ssrc.values():
        for start in range(0, min(len(stream), 60), 6):
            runs.append(stream[start : start + 6])
    runs += [h264[i : i + 6] for i in range(0, len(h264), 6)]
    return [b"".join(struct.pack("!H", len(p)) + p for p in run) for run in runs]


def _forwarding_runs(runs: list[bytes], rtcp: list[bytes], rng: random.Random) -> list[bytes]:
    """Packet runs with a subscriber's or publisher's RTCP (NACK, PLI, RR, SR, REMB) slipped in between packets."""
    out = []
    for stream in runs:
        packets = [struct.pack("!H", len(p)) + p for p in _split_run(stream)]
        for _ in range(2):
            report = rng.choice(rtcp)
            packets.insert(rng.randrange(len(packets) + 1), struct.pack("!H", len(report)) + report)
        out.append(b"".join(packets))
    return out


def _numbered_runs(runs: list[bytes], first: int = 65_530) -> list[bytes]:
    """The same runs as Chrome would number them: a transport-wide sequence number (extension 3) on every RTP packet,
    across the 16-bit wrap, one now and then missing (lost on the way)."""
    out = []
    number = first
    for stream in runs:
        packets = []
        for packet in _split_run(stream):
            if len(packet) > 1 and 191 < packet[1] < 224:  # RTCP stays as it is
                packets.append(packet)
                continue
            rtp = RtpPacket.parse(packet)
            rtp.extensions = [(i, v) for i, v in rtp.extensions if i != 3] + [(3, encode_transport_cc(number))]
            rtp.extension_profile = rtp.extension_profile or PROFILE_ONE_BYTE
            packets.append(rtp.serialize())
            number += 2 if number % 7 == 0 else 1
        out.append(b"".join(struct.pack("!H", len(p)) + p for p in packets))
    return out


def _split_run(stream: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 2 <= len(stream):
        (length,) = struct.unpack_from("!H", stream, pos)
        out.append(stream[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return out


def _h264_payloads() -> list[bytes]:
    from tests.rtp.h264_samples import encode_h264

    payloads = []
    for frame in encode_h264(320, 180, frames=30, gop=10):
        payloads += packetize(frame, mtu=300)
    return payloads


def _h264_packets(payloads: list[bytes]) -> list[bytes]:
    out = []
    for seq, payload in enumerate(payloads):
        # A new timestamp per access unit is not known here; the depacketizer still sees real payload runs.
        out.append(RtpPacket(payload_type=102, sequence=seq, timestamp=3000 * (seq // 4), ssrc=0x0BADCAFE,
                             marker=seq % 4 == 3, payload=payload).serialize())
    return out


def _client_shapes() -> list[bytes]:
    """The messages the web client sends that bots do not (web_client/js: media_state, host controls, reports)."""
    shapes: list[dict[str, Any]] = [
        {"type": "media_state", "audio": True, "video": False},
        {"type": "host_action", "action": "mute", "participant_id": "guest-1"},
        {"type": "host_action", "action": "lock"},
        {"type": "request_unmute", "kind": "audio"},
        {"type": "restart_ice"},
        {"type": "connection_stats", "relayed": False},
        {"type": "client_report", "browser": "firefox", "os": "linux", "first_frame_ms": 840.5},
        {"type": "pong"},
    ]
    return [json.dumps(shape).encode() for shape in shapes]


def _node_records() -> list[bytes]:
    base = proto.NodeRecord("media-1", "10.0.0.5", 7881, "203.0.113.9:7882", 2, 7, 12.5, 850.0, False)
    return [base.to_json().encode(), replace(base, draining=True, rooms=0).to_json().encode(),
            replace(base, media="203.0.113.9,2001:db8::1:7882").to_json().encode()]


def _twcc_feedback() -> list[bytes]:
    """FCIs (what follows the two SSRCs of an RTPFB fmt 15 packet): the draft's chunk examples, then the recorder's."""
    head = bytes.fromhex("0064 00dd 000005 09")  # base 100, 221 statuses, reference 5, count 9
    out = [head + bytes.fromhex("00dd 0000"),  # run length: 221 not received
           bytes.fromhex("fff0 000e fffffe ff 9f1c") + bytes([4, 0, 255, 1, 2, 3, 4, 5]) + bytes(2),  # 1-bit vector
           bytes.fromhex("0007 0007 000001 00 c950 ffd8 080808") + bytes(3)]  # 2-bit vector with a large delta
    rng = random.Random(15)
    recorder = ArrivalRecorder()
    seq, now = 65_200, 1000.0
    for _ in range(3000):
        now += rng.choice((0.0002, 0.001, 0.004, 0.02, 0.08)) if rng.random() < 0.9 else rng.uniform(0.1, 0.5)
        seq += 1 if rng.random() > 0.05 else rng.randint(2, 30)  # a loss now and then
        step = -2 if rng.random() < 0.03 else 0  # reordered: overtaken by the two after it
        recorder.record((seq + step) & 0xFFFF, now)
        if rng.random() < 0.04:
            out += [wire[12:] for wire in recorder.feedback(0x5E4DE4, 0xC0FFEE, now)]
    return out[: PER_KIND + 3]


def build_corpus() -> dict[str, list[bytes]]:
    rng = random.Random(7)
    _patch_transport()
    _load_run()
    datagrams = captured["out"] + captured["in"]
    stun = [d for d in datagrams if d and d[0] < 4]
    rtp = captured["rtp_out"] + captured["rtp_in"]
    vp8 = []
    for packet in rtp:
        header = parse_rtp(packet)
        if header.payload_type == 96:
            vp8.append(packet[header.payload_start : header.payload_end])
    h264_payloads = _h264_payloads()
    sdps = _sdps()
    others = _sample([d for d in datagrams if d and d[0] >= 4], PER_KIND, rng)
    runs = _sample(_depacketizer_runs(_sample(rtp, 400, rng), _h264_packets(h264_payloads)), PER_KIND, rng)
    return {
        "stun": _sample(stun, PER_KIND, rng),
        # The mux harness reads its first byte as the way to deliver: 0 from the peer, 1 from a stranger,
        # 2 re-signed STUN, 3 plaintext through SRTP.
        "mux": [bytes([i % 2]) + d for i, d in enumerate(others)] + [b"\x02" + d for d in _sample(stun, 12, rng)]
        + [b"\x03" + p for p in _sample(rtp, 10, rng)] + [b"\x03" + p for p in _sample(captured["rtcp"], 6, rng)],
        "rtp": _sample(rtp, PER_KIND, rng),
        "rtcp": _sample(captured["rtcp"], PER_KIND, rng),
        "vp8": _sample(vp8, PER_KIND, rng),
        "h264": _sample(h264_payloads, PER_KIND, rng),
        "depacketizer": runs,
        "forwarding": (forwarding := _forwarding_runs(runs, captured["rtcp"], rng)) + _numbered_runs(forwarding[:10]),
        "client": _sample(captured["client"], PER_KIND, rng) + _client_shapes(),
        "sdp": _sample(sdps, PER_KIND, rng),
        "control": (control := _control_streams(sdps)),
        "control_client": _control_replies(control),
        "bus_event": _bus_events(),
        "node_record": _node_records(),
        "twcc": _twcc_feedback(),
    }


def write_corpus(corpus: dict[str, list[bytes]]) -> None:
    for name, items in corpus.items():
        folder = CORPUS_ROOT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("captured-*"):
            old.unlink()
        suffix = {"sdp": ".sdp", "client": ".json", "node_record": ".json"}.get(name, ".bin")
        for index, data in enumerate(items):
            (folder / f"captured-{index:03d}{suffix}").write_bytes(data)
        print(f"{name}: {len(items)} inputs")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate tests/fuzz/corpus from a short load run.")
    parser.add_argument("--only", nargs="*", default=None, help="rewrite only these folders")
    args = parser.parse_args(argv)
    corpus = build_corpus()
    write_corpus({name: items for name, items in corpus.items() if args.only is None or name in args.only})


if __name__ == "__main__":
    main()
