"""Once-a-second getStats samples of what a page receives from one participant's video (inbound-rtp on the
subscriber connection) and of what a publisher's page sends per simulcast layer (outbound-rtp), with the
arithmetic that turns them into per-second rows, window summaries and a printable table.

The sampling runs inside the page (a `setInterval` that stores each sample with the wall clock), so its
timing does not depend on Playwright round trips or on how busy the test's event loop is; Python reads the
samples back when it wants them. Wall-clock times (`Date.now()`) put the samples of several browsers on this
machine on one timeline with the test's own `time.time()` marks.

    sampler = InboundSampler(page, host_id, "A")
    await sampler.start()
    ...                                             # shape the network, pin, wait
    summary = summarize(await sampler.samples(), start=t_cap + 10, end=t_cap + 40)
    print(format_table({"A": per_second(samples_a, zero=t_cap)}))
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from playwright.async_api import Page

# window.__inboundSamplers[key] = {samples, errors, timer}. A sample whose tile or receiver is not there yet
# has `missing: true`, so a gap in the media shows as such instead of as a silent hole in the timeline.
# Counters come from one RTCPeerConnection.getStats() of the subscriber connection: the inbound-rtp whose
# trackIdentifier is the track on the participant's tile, and the transport's bytesReceived (everything
# this connection receives: every participant's audio and video, RTCP, retransmissions).
_START_INBOUND_JS = """
({key, pid, intervalMs}) => {
  const all = (window.__inboundSamplers = window.__inboundSamplers || {});
  if (all[key]) clearInterval(all[key].timer);
  const state = (all[key] = {samples: [], errors: 0, lastError: null, timer: null, busy: false});
  const take = async () => {
    if (state.busy) return;  // a getStats slower than the interval: skip a tick rather than pile up
    state.busy = true;
    try {
      const client = window.meetingClient;
      const tile = document.querySelector(`[data-testid="participant-tile"][data-participant-id="${pid}"]`);
      const video = tile && tile.querySelector("video");
      const track = video && video.srcObject && video.srcObject.getVideoTracks()[0];
      if (!client || !client.subscriber || !track) {
        state.samples.push({t: Date.now() / 1000, missing: true});
        return;
      }
      const report = await client.subscriber.getStats();
      const s = {t: Date.now() / 1000, missing: true, elementWidth: video.videoWidth, transportBytes: 0};
      report.forEach((r) => {
        if (r.type === "transport") s.transportBytes += r.bytesReceived || 0;
        if (r.type !== "inbound-rtp" || r.kind !== "video" || r.trackIdentifier !== track.id) return;
        Object.assign(s, {
          missing: false, ssrc: r.ssrc, bytesReceived: r.bytesReceived || 0,
          packetsReceived: r.packetsReceived || 0, packetsLost: r.packetsLost || 0,
          framesDecoded: r.framesDecoded || 0, framesDropped: r.framesDropped || 0,
          framesPerSecond: r.framesPerSecond || 0, frameWidth: r.frameWidth || 0, frameHeight: r.frameHeight || 0,
          freezeCount: r.freezeCount || 0, totalFreezesDuration: r.totalFreezesDuration || 0,
          nackCount: r.nackCount || 0, pliCount: r.pliCount || 0, keyFramesDecoded: r.keyFramesDecoded || 0,
        });
      });
      state.samples.push(s);
    } catch (e) {
      state.errors += 1;
      state.lastError = String(e);
    } finally {
      state.busy = false;
    }
  };
  take();
  state.timer = setInterval(take, intervalMs);
  return true;
}
"""

# window.__outboundSamplers[key]: the publisher connection's video outbound-rtp per rid (a simulcast layer),
# plus whether each encoding is active in the sender's parameters (dynacast or loss adaptation may pause one).
_START_OUTBOUND_JS = """
({key, intervalMs}) => {
  const all = (window.__outboundSamplers = window.__outboundSamplers || {});
  if (all[key]) clearInterval(all[key].timer);
  const state = (all[key] = {samples: [], errors: 0, lastError: null, timer: null, busy: false});
  const take = async () => {
    if (state.busy) return;
    state.busy = true;
    try {
      const client = window.meetingClient;
      if (!client || !client.publisher) return;
      const report = await client.publisher.getStats();
      const layers = {};
      report.forEach((r) => {
        if (r.type !== "outbound-rtp" || r.kind !== "video") return;
        layers[r.rid || ""] = {
          bytesSent: r.bytesSent || 0, packetsSent: r.packetsSent || 0, framesEncoded: r.framesEncoded || 0,
          framesPerSecond: r.framesPerSecond || 0, frameWidth: r.frameWidth || 0,
          limitation: r.qualityLimitationReason || null, active: r.active !== false,
        };
      });
      state.samples.push({t: Date.now() / 1000, layers});
    } catch (e) {
      state.errors += 1;
      state.lastError = String(e);
    } finally {
      state.busy = false;
    }
  };
  take();
  state.timer = setInterval(take, intervalMs);
  return true;
}
"""


@dataclass(frozen=True)
class InboundSample:
    """Cumulative receive counters of one video track at wall-clock time `t` (seconds since the epoch)."""

    t: float
    missing: bool = False  # no tile, track or inbound-rtp for it at this instant
    bytes_received: int = 0
    packets_received: int = 0
    packets_lost: int = 0
    frames_decoded: int = 0
    frames_dropped: int = 0
    frames_per_second: float = 0.0
    frame_width: int = 0
    frame_height: int = 0
    freeze_count: int = 0
    total_freezes_duration: float = 0.0
    nack_count: int = 0
    pli_count: int = 0
    key_frames_decoded: int = 0
    transport_bytes: int = 0  # the whole subscriber connection
    ssrc: int = 0


_JS_NAMES = {
    "bytesReceived": "bytes_received", "packetsReceived": "packets_received", "packetsLost": "packets_lost",
    "framesDecoded": "frames_decoded", "framesDropped": "frames_dropped", "framesPerSecond": "frames_per_second",
    "frameWidth": "frame_width", "frameHeight": "frame_height", "freezeCount": "freeze_count",
    "totalFreezesDuration": "total_freezes_duration", "nackCount": "nack_count", "pliCount": "pli_count",
    "keyFramesDecoded": "key_frames_decoded", "transportBytes": "transport_bytes", "ssrc": "ssrc",
    "t": "t", "missing": "missing",
}
_FIELD_NAMES = {f.name for f in fields(InboundSample)}


def _inbound(raw: Mapping[str, Any]) -> InboundSample:
    values = {_JS_NAMES[k]: v for k, v in raw.items() if k in _JS_NAMES}
    assert set(values) <= _FIELD_NAMES
    return InboundSample(**values)


class PageUnresponsive(AssertionError):
    """A page did not answer an evaluate within the sampler's timeout (seen once on a saturated machine: a
    page that stopped answering for minutes while its call went on)."""


class _PageSampler:
    """A sampler's page side: `window.<table>[key]`. Samples are copied to Python as they are read (only the new
    ones each time), so what was read survives a page that stops answering later; every call is bounded."""

    _table = ""

    def __init__(self, page: Page, key: str, interval_ms: int, timeout: float) -> None:
        self.page, self.key, self.interval_ms, self.timeout = page, key, interval_ms, timeout
        self._raw: list[dict[str, Any]] = []

    async def _evaluate(self, script: str, arg: Any) -> Any:
        try:
            return await asyncio.wait_for(self.page.evaluate(script, arg), self.timeout)
        except TimeoutError:
            raise PageUnresponsive(f"{self.page.url} did not answer within {self.timeout} s "
                                   f"(sampler {self.key!r}, {len(self._raw)} samples read)") from None

    async def stop(self) -> None:
        await self._evaluate(f"(key) => clearInterval(window.{self._table}[key].timer)", self.key)

    async def fetch(self) -> list[dict[str, Any]]:
        """Reads the samples taken since the last read; returns all read so far (raises PageUnresponsive)."""
        fresh = await self._evaluate(f"([key, from]) => window.{self._table}[key].samples.slice(from)",
                                     [self.key, len(self._raw)])
        assert isinstance(fresh, list)
        self._raw.extend(fresh)
        return list(self._raw)

    def read(self) -> list[dict[str, Any]]:
        """The samples read so far, without asking the page."""
        return list(self._raw)

    async def errors(self) -> tuple[int, str | None]:
        """getStats calls that threw, and the last error: a sampler that fails shows here, not as a gap."""
        state = await self._evaluate(
            f"(key) => {{ const s = window.{self._table}[key]; return [s.errors, s.lastError]; }}", self.key)
        return int(state[0]), state[1]


class InboundSampler(_PageSampler):
    """Samples, inside `page`, the video of participant `pid` as its tile shows it, every `interval_ms`."""

    _table = "__inboundSamplers"

    def __init__(self, page: Page, pid: str, key: str, interval_ms: int = 1000, timeout: float = 20.0) -> None:
        super().__init__(page, key, interval_ms, timeout)
        self.pid = pid

    async def start(self) -> None:
        await self._evaluate(_START_INBOUND_JS, {"key": self.key, "pid": self.pid, "intervalMs": self.interval_ms})

    async def samples(self) -> list[InboundSample]:
        """Every sample so far, read from the page now (raises PageUnresponsive)."""
        return [_inbound(r) for r in await self.fetch()]

    def cached(self) -> list[InboundSample]:
        """Every sample read so far (for when the page has stopped answering)."""
        return [_inbound(r) for r in self.read()]

    async def latest(self) -> InboundSample | None:
        raw = await self._evaluate(f"(key) => window.{self._table}[key].samples.at(-1) || null", self.key)
        return None if raw is None else _inbound(raw)

    async def wait_for(self, what: str, accept: Callable[[InboundSample], bool], timeout: float) -> float:
        """Seconds until the newest sample satisfies `accept`; AssertionError naming `what` after `timeout`."""
        start = time.monotonic()
        last: InboundSample | None = None
        while time.monotonic() - start <= timeout:
            last = await self.latest()
            if last is not None and not last.missing and accept(last):
                return time.monotonic() - start
            # A new sample comes once per interval: polling a few times per interval is enough.
            await asyncio.sleep(self.interval_ms / 4000)
        raise AssertionError(f"{what}: not within {timeout} s; latest sample {last}")


class OutboundSampler(_PageSampler):
    """Samples, inside a publisher's `page`, its video outbound-rtp per simulcast rid every `interval_ms`.

    Samples are `{t, layers: {rid: {bytesSent, packetsSent, framesEncoded, framesPerSecond, frameWidth,
    limitation, active}}}`: `fetch()` reads them from the page, `read()` returns those already read."""

    _table = "__outboundSamplers"

    def __init__(self, page: Page, key: str, interval_ms: int = 1000, timeout: float = 20.0) -> None:
        super().__init__(page, key, interval_ms, timeout)  # the same defaults as InboundSampler's

    async def start(self) -> None:
        await self._evaluate(_START_OUTBOUND_JS, {"key": self.key, "intervalMs": self.interval_ms})


def _delta(before: float, after: float) -> float:
    # A counter that went down belongs to a new receiver (new peer connection or m-line): it counts from 0.
    # Only for counters that never go down by themselves (not packetsLost: see `_track_delta`).
    return after - before if after >= before else after


def _restarted(a: InboundSample, b: InboundSample) -> bool:
    """The track's counters started again between two samples (a new receiver or a new SSRC)."""
    return b.ssrc != a.ssrc or b.packets_received < a.packets_received or b.bytes_received < a.bytes_received


def _track_delta(a: InboundSample, b: InboundSample, name: str) -> float:
    # packetsLost goes down when a retransmission fills an earlier gap, so a decrease in it alone is no restart:
    # the restart is decided on the whole sample, and a negative loss delta is kept (it is recovered loss).
    after: float = getattr(b, name)
    return after if _restarted(a, b) else after - getattr(a, name)


@dataclass(frozen=True)
class Second:
    """One sampling interval, ending `t` seconds after the timeline's zero."""

    t: float
    kbit_s: float  # this track's RTP payload (bytesReceived)
    link_kbit_s: float  # the whole subscriber connection (transport bytesReceived)
    # lost / (received + lost) in the interval, as Chrome counts packetsLost (expected minus received by sequence
    # number): a retransmission that fills a gap takes its loss back. None when no packet was expected.
    loss_pct: float | None
    fps: float  # frames decoded per second in the interval
    width: int
    freeze_count: int  # cumulative, as Chrome reports it


def per_second(samples: Sequence[InboundSample], zero: float) -> list[Second]:
    """Consecutive samples as intervals, times relative to `zero`; intervals touching a missing sample are left
    out (there is nothing to difference)."""
    rows = []
    for a, b in itertools.pairwise(samples):
        if a.missing or b.missing or b.t <= a.t:
            continue
        dt = b.t - a.t
        lost, received = _track_delta(a, b, "packets_lost"), _track_delta(a, b, "packets_received")
        expected = max(lost, 0) + received
        rows.append(Second(
            t=b.t - zero,
            kbit_s=_track_delta(a, b, "bytes_received") * 8 / dt / 1000,
            link_kbit_s=_delta(a.transport_bytes, b.transport_bytes) * 8 / dt / 1000,
            # An interval whose retransmissions recovered more than it lost shows as 0, not as negative loss.
            loss_pct=100 * max(lost, 0) / expected if expected > 0 else None,
            fps=_track_delta(a, b, "frames_decoded") / dt,
            width=b.frame_width,
            freeze_count=b.freeze_count,
        ))
    return rows


@dataclass(frozen=True)
class Window:
    """What one track did between two instants: rates over the whole window, not a mean of per-second rates."""

    start: float
    end: float
    seconds: float
    samples: int
    missing: int
    mean_kbit_s: float
    mean_link_kbit_s: float
    loss_pct: float
    nacks: int  # NACKs the receiver sent: the loss before retransmissions repaired it
    plis: int
    key_frames: int
    freeze_growth: int
    freeze_seconds: float
    mean_fps: float
    min_fps: float  # the slowest single interval
    widths: tuple[int, ...]  # distinct frame widths seen, in order of appearance


def summarize(samples: Sequence[InboundSample], start: float, end: float) -> Window:
    """The window [start, end] (wall-clock seconds) from the first sample at or after `start` to the last at
    or before `end`. Counters that restart inside it (a new receiver) are summed piecewise."""
    inside = [s for s in samples if start <= s.t <= end]
    present = [s for s in inside if not s.missing]
    if len(present) < 2:
        raise AssertionError(f"fewer than two samples between {start:.1f} and {end:.1f}: {inside}")

    def total(name: str) -> float:
        if name == "transport_bytes":
            return sum(_delta(a.transport_bytes, b.transport_bytes) for a, b in itertools.pairwise(present))
        return sum(_track_delta(a, b, name) for a, b in itertools.pairwise(present))

    seconds = present[-1].t - present[0].t
    lost, received = total("packets_lost"), total("packets_received")
    fps = [r.fps for r in per_second(present, 0.0)]
    widths = tuple(dict.fromkeys(s.frame_width for s in present))
    return Window(
        start=start, end=end, seconds=seconds, samples=len(inside), missing=len(inside) - len(present),
        mean_kbit_s=total("bytes_received") * 8 / seconds / 1000,
        mean_link_kbit_s=total("transport_bytes") * 8 / seconds / 1000,
        # Net of recovery: what the retransmissions filled in the window is not lost.
        loss_pct=100 * max(lost, 0) / (max(lost, 0) + received) if received > 0 else 0.0,
        nacks=int(total("nack_count")), plis=int(total("pli_count")), key_frames=int(total("key_frames_decoded")),
        freeze_growth=int(total("freeze_count")),
        freeze_seconds=total("total_freezes_duration"),
        mean_fps=total("frames_decoded") / seconds,
        min_fps=min(fps) if fps else 0.0,
        widths=widths,
    )


def layer_fps(samples: Sequence[Mapping[str, Any]], rid: str, start: float, end: float) -> float:
    """Frames per second a publisher encoded on layer `rid` between two wall-clock instants (0 if not sent)."""
    inside = [s for s in samples if start <= s["t"] <= end and rid in s["layers"]]
    if len(inside) < 2 or inside[-1]["t"] <= inside[0]["t"]:
        return 0.0
    frames = sum(_delta(a["layers"][rid]["framesEncoded"], b["layers"][rid]["framesEncoded"])
                 for a, b in itertools.pairwise(inside))
    return float(frames / (inside[-1]["t"] - inside[0]["t"]))


def layer_fps_per_second(samples: Sequence[Mapping[str, Any]], rid: str, zero: float) -> dict[int, float]:
    """Frames a publisher encoded on layer `rid` in each sampling interval, keyed by its end's second after
    `zero` (rounded, as the table's rows)."""
    rates = {}
    for a, b in itertools.pairwise(samples):
        if rid in a["layers"] and rid in b["layers"] and b["t"] > a["t"]:
            frames = _delta(a["layers"][rid]["framesEncoded"], b["layers"][rid]["framesEncoded"])
            rates[round(b["t"] - zero)] = frames / (b["t"] - a["t"])
    return rates


@dataclass(frozen=True)
class Freeze:
    """freezeCount grew by `count` in the interval ending at `second` (after the timeline's zero)."""

    second: int
    count: int
    key_frame: bool  # a key frame was decoded in this interval or the one before (a layer switch, a PLI)


def freezes(samples: Sequence[InboundSample], zero: float) -> list[Freeze]:
    """Each interval in which Chrome counted a freeze, with whether a key frame came just before or with it."""
    found, key_before = [], False
    for a, b in itertools.pairwise(s for s in samples if not s.missing):
        grew = _track_delta(a, b, "freeze_count")
        key_now = _track_delta(a, b, "key_frames_decoded") > 0
        if grew > 0:
            found.append(Freeze(round(b.t - zero), int(grew), key_now or key_before))
        key_before = key_now
    return found


def _cell(value: float | None, spec: str, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}{spec}}"


def format_table(timelines: Mapping[str, Sequence[Second]],
                 extra: Mapping[str, Mapping[int, str]] | None = None) -> str:
    """One line per second (rounded), for each timeline its kbit/s, link kbit/s, loss %, fps, width and
    freezeCount side by side, then `extra` columns (name -> {second: text}) such as the server's layer."""
    extra = extra or {}
    by_second: dict[str, dict[int, Second]] = {
        label: {round(row.t): row for row in rows} for label, rows in timelines.items()}
    seconds = sorted(set(itertools.chain.from_iterable(by_second.values())) | {
        s for column in extra.values() for s in column})
    cols = ("kbit/s", "link", "loss%", "fps", "width", "frz")
    head = f"{'t':>4} | " + " | ".join(
        " ".join(f"{label + ' ' + c if i == 0 else c:>{8 if i == 0 else 6}}" for i, c in enumerate(cols))
        for label in timelines)
    head += "".join(f" | {name}" for name in extra)
    lines = [head, "-" * len(head)]
    for second in seconds:
        parts = []
        for label in timelines:
            row = by_second[label].get(second)
            if row is None:
                parts.append(" ".join(f"{'.':>{8 if i == 0 else 6}}" for i in range(len(cols))))
                continue
            parts.append(" ".join((
                _cell(row.kbit_s, ".0f", 8), _cell(row.link_kbit_s, ".0f", 6), _cell(row.loss_pct, ".1f", 6),
                _cell(row.fps, ".1f", 6), f"{row.width:6d}", f"{row.freeze_count:6d}")))
        line = f"{second:4d} | " + " | ".join(parts)
        line += "".join(f" | {column.get(second, '.'):<{len(name)}}" for name, column in extra.items())
        lines.append(line)
    return "\n".join(lines)
