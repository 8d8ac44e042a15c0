"""The fuzz targets: one per parser, its declared error types, and the invariants an accepted input must keep."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from typing import Any

from aioice import stun

from mediaserver import control_protocol as proto
from mediaserver.recording.depacketizer import H264FrameDepacketizer, OpusDepacketizer, Vp8Depacketizer
from mediaserver.rtp import ParseError
from mediaserver.rtp.extensions import (
    decode_abs_send_time,
    decode_audio_level,
    decode_sdes_item,
    decode_transport_cc,
    find_extension,
    iter_extensions,
)
from mediaserver.rtp.h264 import STAP_A, H264Depacketizer, find_sps, parse_h264
from mediaserver.rtp.h264_sps import sps_size
from mediaserver.rtp.header import is_rtcp, parse_rtp, rewrite_rtp
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.rtcp import TransportCC, build_compound, parse_rtcp, rtcp_packet_types
from mediaserver.rtp.twcc import decode_feedback, encode_feedback
from mediaserver.rtp.vp8 import keyframe_size, parse_vp8, rewrite_vp8
from mediaserver.sdp.model import SdpError, parse_sdp
from mediaserver.sdp.negotiation import ServerIdentity, answer_publisher_offer, read_subscriber_answer
from mediaserver.transport import ice_lite
from signaling_gateway.messages import BadMessage, parse_client_message
from tests.rooms.publisher_stubs import Clock, RecordingTransport

from .engine import Target

# --- RTP -----------------------------------------------------------------------------------------------------

_DECODERS: tuple[Callable[[bytes], object], ...] = (decode_sdes_item, decode_audio_level, decode_abs_send_time,
                                                     decode_transport_cc)


def _elements_until_error(data: bytes, header: Any) -> tuple[list[tuple[int, int, int]], bool]:
    found: list[tuple[int, int, int]] = []
    try:
        for element in iter_extensions(data, header):
            found.append(element)
    except ParseError:
        return found, True
    return found, False


def run_rtp(data: bytes) -> str:
    """The hot path's header parse, the extension scans (checked against each other) and the lossless model."""
    rtcp = is_rtcp(data)
    header = parse_rtp(data)
    elements, broken = _elements_until_error(data, header)
    # find_extension duplicates iter_extensions' loop for speed: both must agree on every id.
    for ext_id in range(1, 16):
        first = next((data[s:e] for i, s, e in elements if i == ext_id), None)
        try:
            value = find_extension(data, header, ext_id)
        except ParseError:
            assert broken and first is None, f"find_extension({ext_id}) raised where iter_extensions found {first!r}"
            continue
        assert value == first, f"find_extension({ext_id}) = {value!r}, iter_extensions says {first!r}"
        assert not (value is None and broken), f"find_extension({ext_id}) missed the overrun iter_extensions found"
    for _, start, end in elements:
        for decode in _DECODERS:
            with contextlib.suppress(ParseError):  # a value of the wrong size for this decoder: a declared refusal
                decode(data[start:end])
    packet = RtpPacket.parse(data)
    again = RtpPacket.parse(packet.serialize())
    assert again == packet, f"RtpPacket round trip changed {packet!r} into {again!r}"
    buf = bytearray(data)
    rewrite_rtp(buf, header.ssrc ^ 0x5A5A5A5A, header.sequence + 1, header.timestamp + 3000, 100, True)
    moved = parse_rtp(buf)
    assert moved[5:] == header[5:] and moved.ssrc == header.ssrc ^ 0x5A5A5A5A and moved.payload_type == 100
    padded = len(data) > header.payload_end
    return f"rtp{'/rtcp-range' if rtcp else ''} cc={header.csrc_count} ext={len(elements)} pad={padded}"


def run_rtcp(data: bytes) -> str:
    """Compound RTCP: the cheap framing scan, the full parse, and parse(serialize(parse(x))) == parse(x)."""
    packets = parse_rtcp(data)
    assert len(rtcp_packet_types(data)) == len(packets)
    again = parse_rtcp(build_compound(packets))
    assert again == packets, f"RTCP round trip changed {packets!r} into {again!r}"
    return "rtcp " + ",".join(sorted({type(p).__name__ for p in packets}))


def run_twcc(data: bytes) -> str:
    """A transport-cc FCI (TransportCC.decode): what it says encodes again into an FCI that decodes the same."""
    feedback = decode_feedback(data)
    again = decode_feedback(encode_feedback(feedback.base_seq, feedback.reference_time, feedback.feedback_count,
                                            feedback.arrivals))
    assert again == feedback, f"re-encoding {feedback!r} gave {again!r}"
    count = len(feedback.arrivals)
    size = "1" if count == 1 else "<14" if count < 14 else "<100" if count < 100 else "more"
    lost = any(at is None for _, at in feedback.arrivals)
    return f"twcc n={size} lost={lost} negative={feedback.reference_time < 0}"


# --- VP8 / H.264 ---------------------------------------------------------------------------------------------


def run_vp8(data: bytes) -> str:
    """An RTP payload: the descriptor, a keyframe's size, and PictureID/TL0PICIDX rewriting in place."""
    desc = parse_vp8(data)
    size = keyframe_size(data, desc, 0)
    buf = bytearray(data)
    rewrite_vp8(buf, desc, desc.picture_id, desc.tl0picidx)
    assert buf == data, "rewriting a descriptor with its own values changed it"
    rewrite_vp8(buf, desc, 0x1234, 0xAB)
    moved = parse_vp8(buf)
    expected = desc._replace(
        picture_id=None if desc.picture_id is None else 0x1234 & ((1 << desc.picture_id_bits) - 1),
        tl0picidx=None if desc.tl0picidx is None else 0xAB,
    )
    assert moved == expected, f"rewrite gave {moved!r}, expected {expected!r}"
    return f"vp8 x={desc.header_len > 1} key={desc.keyframe} size={size is not None}"


def run_h264(data: bytes) -> str:
    """An RTP payload: NAL types, the SPS it carries and its picture size, reassembly; the SPS reader on its own."""
    outcome = "h264"
    try:
        sps_size(b"\x67" + data[1:])  # the bit reader behind the keyframe size, on any bytes
        outcome += " sps-any"
    except ParseError:
        pass
    info = parse_h264(data)
    sps = find_sps(data)
    if sps is not None:
        try:
            sps_size(sps)
            outcome += " sps-size"
        except ParseError:
            outcome += " sps-bad"
    units = H264Depacketizer().push(data)
    if data[0] & 0x1F == STAP_A:
        assert tuple(u[0] & 0x1F for u in units) == info.nal_types
    return f"{outcome} types={info.nal_types[:3]} start={info.fragment_start} key={info.keyframe}"


def _packets(data: bytes) -> list[bytes]:
    """A stream of RTP packets, each behind a 2-byte length: the recorder's input is a sequence."""
    out = []
    pos = 0
    while pos + 2 <= len(data):
        (length,) = struct.unpack_from("!H", data, pos)
        out.append(data[pos + 2 : pos + 2 + length])
        pos += 2 + length
    return out


def run_depacketizer(data: bytes) -> str:
    """The recorder's depacketizers on a packet sequence: they drop what they cannot use and never raise."""
    vp8, h264, opus = Vp8Depacketizer(), H264FrameDepacketizer(), OpusDepacketizer()
    frames = [0, 0, 0]
    for packet in _packets(data):
        frames[0] += vp8.push(packet) is not None
        frames[1] += h264.push(packet) is not None
        frames[2] += opus.push(packet) is not None
    return f"frames vp8={min(frames[0], 3)} h264={min(frames[1], 3)} opus={min(frames[2], 3)}"


def run_forwarding(data: bytes) -> str:
    """A publisher's packet sequence through the forwarding path, as the load bots negotiate it (mid 4, rid 10,
    repaired-rid 11, audio level 1) with Chrome's transport-cc 3: VP8 simulcast, H.264 and Opus publications with one
    subscription each; the transport-cc feedback the side sends every few packets must decode.

    RTP goes to PublisherSide.on_rtp (SSRC learning, RTX un-wrapping and upstream NACKs, codec describe, keyframe
    sizes, the fan-out, VP8 munging);
    RTCP both to the publisher side and, as a subscriber would send it, to the subscriptions (NACK answered from
    the layer history, reports, keyframe requests). A byte of each packet now and then switches layers.
    """
    from mediaserver.rooms import publishing
    from mediaserver.rooms.publishing import PublisherSide
    from mediaserver.rooms.subscriptions import new_subscription
    from mediaserver.rtp.extensions import URI_AUDIO_LEVEL, URI_MID, URI_REPAIRED_RID, URI_RID, URI_TRANSPORT_CC
    from mediaserver.rtp.ntp import ntp_now
    from mediaserver.rtp.rtcp import Fir, Nack, Pli, ReceiverReport, SenderReport
    from mediaserver.sdp.negotiation import NegotiatedMedia

    clock = Clock()
    real_time = publishing.time
    publishing.time = clock  # type: ignore[assignment]
    try:
        transport = RecordingTransport()
        side = PublisherSide("fuzz", transport, rtcp_ssrc=1)  # type: ignore[arg-type]
        video_ext = {URI_MID: 4, URI_RID: 10, URI_REPAIRED_RID: 11, URI_TRANSPORT_CC: 3}
        pubs = [
            side.publish(NegotiatedMedia(mid="1", kind="video", payload_type=96, rtx_payload_type=97,
                                         clock_rate=90000, codec="VP8", ext_ids=video_ext, rids=["q", "h", "f"])),
            side.publish(NegotiatedMedia(mid="2", kind="video", payload_type=102, rtx_payload_type=103,
                                         clock_rate=90000, codec="H264", ext_ids=video_ext)),
            side.publish(NegotiatedMedia(mid="0", kind="audio", payload_type=111, rtx_payload_type=None,
                                         clock_rate=48000, codec="opus",
                                         ext_ids={URI_AUDIO_LEVEL: 1, URI_MID: 4, URI_TRANSPORT_CC: 3})),
        ]
        sent: list[bytes] = []
        subs = []
        for index, pub in enumerate(pubs):
            pub.send_pli = lambda ssrc: None
            sub = new_subscription(pub, str(index), pub.payload_type, sent.append)
            pub.subscribe(sub)
            sub.negotiated = True
            sub.activate()
            subs.append(sub)
        for count, packet in enumerate(_packets(data)):
            clock.now += 0.001
            if count % 4 == 3:
                side.send_feedback(clock.now)
            if len(packet) > 1 and 191 < packet[1] < 224:
                side.on_rtcp(packet)
                try:
                    feedback = parse_rtcp(packet)
                except ParseError:
                    continue
                for item in feedback:
                    for sub in subs:
                        if isinstance(item, Nack):
                            sub.retransmit(item.lost, clock.now)
                        elif isinstance(item, ReceiverReport | SenderReport):
                            for block in item.reports:
                                sub.on_report_block(block, ntp_now())
                        elif isinstance(item, Pli | Fir):
                            sub.publication.request_keyframe(max(sub.current_layer, sub.target_layer))
                continue
            side.on_rtp(packet)
            side.repair_tick(clock.now)  # upstream NACKs: retries and give-ups over what the packets left missing
            if packet and packet[-1] % 13 == 0:
                subs[0].select(packet[-1] % 3, 2)
        side.send_feedback(clock.now + 0.1)
        reported = [p.decode() for wire in transport.rtcp for p in parse_rtcp(wire) if isinstance(p, TransportCC)]
        numbers = sum(len(f.arrivals) for f in reported)
        return f"forwarded={min(len(sent), 5)} errors={min(side.rtp_errors, 3)} twcc={min(numbers, 3)}"
    finally:
        publishing.time = real_time


# --- STUN and the shared port ----------------------------------------------------------------------------------

STUN_PWD = b"fuzzPasswordFuzzPassword"


def run_stun(data: bytes) -> str:
    check = ice_lite.parse_binding_request(data)
    if check is None:
        return "not a request"
    verified = ice_lite.verify(check, STUN_PWD)
    stun.parse_message(ice_lite.binding_success(check, ("192.0.2.1", 5000), STUN_PWD))
    stun.parse_message(ice_lite.binding_error(check, 401, "Unauthorized"))
    return f"request nominated={check.nominated} verified={verified}"


class _MuxRig:
    """A MuxCore with one PeerTransport connected through a real DTLS handshake, and the client's SRTP keys."""

    HOME = ("192.0.2.10", 50000)
    STRANGER = ("198.51.100.7", 40000)

    def __init__(self) -> None:
        from mediaserver.transport import mux_core
        from mediaserver.transport.certificate import Certificate
        from mediaserver.transport.dtls import DtlsSession
        from mediaserver.transport.mux_core import MuxCore
        from mediaserver.transport.peer import PeerTransport

        self.errors: list[BaseException] = []
        rig = self

        class _Log:
            """Stands in for the mux's logger: the handler error it logs is the crash to report."""

            def exception(self, *args: object, **kwargs: object) -> None:
                import sys

                exc = sys.exc_info()[1]
                if exc is not None:
                    rig.errors.append(exc)

            def info(self, *args: object, **kwargs: object) -> None:
                pass

        mux_core.log = _Log()
        server_cert, client_cert = Certificate.generate(), Certificate.generate()
        self.wire: list[tuple[bytes, tuple[str, int]]] = []
        self.core = MuxCore(clock=lambda: 1000.0)
        self.core.attach(lambda data, addr: self.wire.append((data, addr)))
        self.peer = PeerTransport(self.core, server_cert.ssl_context(), "fuzz")
        self.peer.set_remote_fingerprint(client_cert.fingerprint)
        self.received: list[bytes] = []
        self.peer.on_rtp = self.received.append
        self.peer.on_rtcp = self.received.append
        self.core.datagram_received(self._signed(b"", nominate=True), self.HOME)
        client = DtlsSession(client_cert.ssl_context(), server=False)
        outgoing = client.start()
        for _ in range(10):
            for datagram in outgoing:
                self.core.datagram_received(datagram, self.HOME)
            outgoing = []
            for reply, _ in self.wire:
                outgoing += client.receive(reply)
            self.wire.clear()
            if self.peer.state == "connected" and client.handshake_done:
                break
        assert self.peer.state == "connected" and client.srtp is not None
        self.client_srtp = client.srtp
        self.seq = 0

    def _signed(self, body: bytes, nominate: bool) -> bytes:
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self.peer.local_ufrag}:browser"
        if nominate:
            request.attributes["USE-CANDIDATE"] = None
        request.add_message_integrity(self.peer.local_pwd.encode())
        request.add_fingerprint()
        return bytes(request)

    def resign(self, data: bytes) -> bytes | None:
        """A parseable binding request re-signed with the peer's credentials, so the checks after integrity run."""
        try:
            message = stun.parse_message(data)
        except Exception:  # aioice's own parser on garbage: nothing to re-sign
            return None
        message.attributes.pop("MESSAGE-INTEGRITY", None)
        message.attributes.pop("FINGERPRINT", None)
        message.attributes["USERNAME"] = f"{self.peer.local_ufrag}:browser"
        try:
            message.add_message_integrity(self.peer.local_pwd.encode())
            message.add_fingerprint()
            return bytes(message)
        except Exception:  # an attribute aioice parsed but cannot write back
            return None


_mux: _MuxRig | None = None


def run_mux(data: bytes) -> str:
    """One datagram into the shared port (RFC 7983 first-byte demultiplexing), in one of four ways by data[0] % 4:

    0 from the connected peer's address, 1 from an unknown address, 2 a STUN request re-signed with the peer's
    credentials, 3 plaintext RTP/RTCP protected with the client's SRTP keys, which must reach the peer unchanged.
    A handler error (the mux catches it and counts it) is a crash.
    """
    global _mux
    if _mux is None or _mux.peer.state != "connected":
        _mux = _MuxRig()
    rig = _mux
    mode, body = (data[0] % 4, data[1:]) if data else (0, b"")
    before = rig.core.counters.as_dict()
    rig.received.clear()
    expected: bytes | None = None
    if mode == 0:
        rig.core.datagram_received(body, rig.HOME)
    elif mode == 1:
        rig.core.datagram_received(body, rig.STRANGER)
    elif mode == 2:
        signed = rig.resign(body)
        if signed is None:
            return "mode2 unparseable"
        rig.core.datagram_received(signed, rig.HOME)
    else:
        plain = bytearray(body)
        if len(plain) < 12 or not 127 < plain[0] < 192:
            return "mode3 not rtp"
        rtcp = 191 < plain[1] < 224
        if not rtcp:
            # libsrtp drops replays and keeps a stream per SSRC: fresh sequence numbers, one SSRC.
            rig.seq += 1
            struct.pack_into("!HI", plain, 2, rig.seq & 0xFFFF, 0x11223344)
        try:
            protected = (rig.client_srtp.protect_rtcp if rtcp else rig.client_srtp.protect)(bytes(plain))
        except Exception:  # libsrtp refuses to protect some malformed headers: not the server's parser
            return "mode3 unprotectable"
        expected = bytes(plain)
        rig.core.datagram_received(protected, rig.HOME)
    rig.wire.clear()
    if rig.errors:
        exc = rig.errors.pop()
        rig.errors.clear()
        raise AssertionError(f"mux handler error {type(exc).__name__}: {exc}") from exc
    after = rig.core.counters.as_dict()
    changed = sorted(k for k, v in after.items() if v != before[k] and k not in ("datagrams_in", "bytes_in",
                                                                                 "datagrams_out", "bytes_out"))
    # Refused by libsrtp, or before it by the peer's SSRC budget (fresh RTCP sender SSRCs): declared drops.
    if expected is not None and not {"srtp_errors", "ssrc_refused"} & set(changed):
        assert rig.received == [expected], "an SRTP round trip through the mux changed the packet"
    return f"mode{mode} {','.join(changed) or ('delivered' if rig.received else 'handled')}"


# --- SDP, control protocol, browser messages ------------------------------------------------------------------

SERVER = ServerIdentity("srvUfrag", "ServerPassword0123456789", ":".join(["5A"] * 32), "203.0.113.9", 50000)


def run_sdp(data: bytes) -> str:
    """Any text as an SDP: parsed, re-serialized (which must parse again), answered as a publisher offer and read
    as a subscriber answer; our own answer must parse."""
    text = data.decode("utf-8", "surrogateescape")
    sd = parse_sdp(text)
    once = sd.serialize()
    twice = parse_sdp(once).serialize()
    assert twice == once, "serialize(parse(serialize(sdp))) differs from serialize(sdp)"
    outcome = f"parsed m={min(len(sd.media), 4)}"
    try:
        answer, _, negotiated = answer_publisher_offer(text, SERVER, session_id=1)
        parse_sdp(answer)
        outcome += f" answered={len(negotiated)}"
    except SdpError:
        outcome += " offer-refused"
    read_subscriber_answer(text, [m.mid or "" for m in sd.media])
    return outcome + " answer-ok"


class _FakeWriter:
    """Collects what the control server writes back."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1)


class _ControlRig:
    """The real ControlServer and Sfu (no sockets opened), recording replaced by a stub: no worker processes."""

    def __init__(self) -> None:
        from mediaserver.config import Config
        from mediaserver.control_server import ControlServer
        from mediaserver.sfu import Sfu

        async def no_recording(sfu: Sfu, params: dict[str, Any]) -> dict[str, Any]:
            sfu._room(params)  # the same parameter checks, without a muxer process
            return {}

        class FuzzSfu(Sfu):
            _async_handlers = {**Sfu._async_handlers, proto.START_RECORDING: no_recording,
                               proto.STOP_RECORDING: no_recording}

        self.loop = asyncio.new_event_loop()
        self.server = ControlServer()
        self.sfu = FuzzSfu(Config(fault_injection=True), lambda name, params: None)
        self.server.sfu = self.sfu

    def serve(self, data: bytes) -> bytes:
        async def session() -> bytes:
            reader = asyncio.StreamReader()
            reader.feed_data(data)
            reader.feed_eof()
            writer = _FakeWriter()
            await self.server._serve(reader, writer)  # type: ignore[arg-type]
            if self.server._tasks:
                await asyncio.gather(*self.server._tasks)
            return bytes(writer.data)

        try:
            return self.loop.run_until_complete(session())
        finally:
            for room in list(self.sfu.rooms.values()):
                room.close()
            self.sfu.rooms.clear()


_control: _ControlRig | None = None


def run_control(data: bytes) -> str:
    """A gateway's byte stream into the control server: framing (read_message), then every request dispatched.

    The server must answer each request, never with `internal` (an exception its checks did not expect).
    """
    global _control
    if _control is None:
        _control = _ControlRig()
    reply = _control.serve(data)
    codes = []
    for body in _frames(reply):
        message = proto.msgpack.unpackb(body, raw=False)
        error = message.get("error")
        if error is not None:
            assert error["code"] != proto.ERR_INTERNAL, f"internal error answering a request: {error['message']}"
            codes.append(error["code"])
        elif "result" in message:
            codes.append("ok")
    return "replies " + ",".join(sorted(set(codes)))


def _frames(data: bytes) -> list[bytes]:
    from .engine import split_frames

    return split_frames(data)


class _ClientRig:
    """The gateway's MediaClient reading a media server's byte stream: responses to pending calls and events."""

    def __init__(self) -> None:
        from signaling_gateway.media_client import MediaClient

        self.loop = asyncio.new_event_loop()
        self.client = MediaClient("127.0.0.1", 1)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.client.add_event_listener(lambda name, params: self.events.append((name, params)))

    def read(self, data: bytes) -> str:
        async def session() -> str:
            reader = asyncio.StreamReader()
            reader.feed_data(data)
            reader.feed_eof()
            futures = {i: asyncio.get_running_loop().create_future() for i in range(1, 16)}
            self.client._pending = dict(futures)
            try:
                await self.client._read_loop(reader)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise  # a frame cut short: the declared end of a broken connection
                # The end of the stream between two frames: how every good session ends.
            finally:
                self.client._pending = {}
            answered = sum(f.done() for f in futures.values())
            return f"answered={min(answered, 3)}"

        self.events.clear()
        return self.loop.run_until_complete(session()) + f" events={min(len(self.events), 3)}"


_media_client: _ClientRig | None = None


def run_control_client(data: bytes) -> str:
    """A media server's byte stream into the gateway's MediaClient; it may only end as its connection loop expects."""
    global _media_client
    if _media_client is None:
        _media_client = _ClientRig()
    return _media_client.read(data)


def run_bus_event(data: bytes) -> str:
    """A gateway event read from the Redis bus: an event, or None for junk (counted, never raised)."""
    from signaling_gateway.bus import parse_event

    event = parse_event(data.decode("utf-8", "surrogateescape"))
    return "event" if event is not None else "junk"


def run_node_record(data: bytes) -> str:
    """A media server's heartbeat record as read from Redis: a record, or None for anything else."""
    record = proto.NodeRecord.from_json(data)
    if record is None:
        return "skipped"
    assert proto.NodeRecord.from_json(record.to_json()) == record
    return "record"


def run_client(data: bytes) -> str:
    """A browser's WebSocket text frame."""
    message = parse_client_message(data.decode("utf-8", "surrogateescape"))
    return f"{message.type}"


_RTP_WORDS = (b"\x90", b"\x80", b"\xbe\xde", b"\x10\x00", b"\x00\x00\x00\x00")
_SDP_WORDS = (b"a=rtpmap:96 VP8/90000", b"a=rtpmap:102 H264/90000", b"a=group:BUNDLE 0 1", b"a=mid:0",
              b"a=simulcast:send q;h;f", b"a=rid:q send", b"a=ssrc-group:FID 1 2", b"a=setup:active",
              b"a=fmtp:102 packetization-mode=1;profile-level-id=42e01f", b"a=rtcp-mux", b"a=sendonly",
              b"a=recvonly", b"a=ice-lite", b"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
              b"m=video 9 UDP/TLS/RTP/SAVPF 96",
              b"0", b"4294967296", b"\xd9\xa3", b"\xe2\x80\xa8", b"\x00", b"*", b":", b"/", b"rid=", b"~", b"")
_CONTROL_WORDS = (*(m.encode() for m in sorted(proto.METHODS)), b"room_id", b"participant_id", b"sdp", b"params")
_CLIENT_WORDS = (b"publish_offer", b"subscribe_answer", b"video_prefs", b"media_state", b"host_action",
                 b"client_report", b"connection_stats", b"request_unmute", b"prefs", b"track_id", b"kind")

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("rtp", run_rtp, (ParseError,), max_len=1500, dictionary=_RTP_WORDS),
        Target("rtcp", run_rtcp, (ParseError,), max_len=1500),
        Target("twcc", run_twcc, (ParseError,), max_len=1500),
        Target("vp8", run_vp8, (ParseError,), max_len=1500),
        Target("h264", run_h264, (ParseError,), max_len=1500, dictionary=(b"\x67", b"\x68", b"\x65", b"\x18", b"\x1c")),
        Target("depacketizer", run_depacketizer, (), max_len=8192),
        Target("forwarding", run_forwarding, (), max_len=8192),
        Target("stun", run_stun, (ice_lite.StunError,), max_len=1500),
        Target("mux", run_mux, (), max_len=1501),
        Target("sdp", run_sdp, (SdpError,), shape="lines", max_len=16384, dictionary=_SDP_WORDS),
        Target("control", run_control, (), shape="msgpack", max_len=65536, dictionary=_CONTROL_WORDS),
        Target("control_client", run_control_client,
               (asyncio.IncompleteReadError, ConnectionError, proto.ProtocolError), shape="msgpack", max_len=65536,
               dictionary=_CONTROL_WORDS),
        Target("bus_event", run_bus_event, (), shape="json", max_len=70000),
        Target("node_record", run_node_record, (), shape="json", max_len=4096),
        Target("client", run_client, (BadMessage,), shape="json", max_len=65536, dictionary=_CLIENT_WORDS),
    )
}
