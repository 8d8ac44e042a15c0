"""A subscriber on a thin link, in real Chromium: guest A pins a 720p speaker (the host) and its downlink is
capped at 600 kbit/s (tc tbf, 150 ms queue). The requirement:

* within 10 s A settles on layers that fit: from 10 s to 40 s after the cap, the host's video arrives at a mean
  <= 600 kbit/s, loses < 2 % of its packets, and freezes less than once a minute (no freeze in those 30 s);
* within 15 s of the cap's removal A is back on the top layer (1280 wide) to stay: every sample from then until
  20 s after the removal is 1280 wide (A may be passing through 1280 on its way down again at the moment of the
  removal);
* guest B, pinning the same speaker on a clean link, is unaffected throughout: 1280 wide, no freeze, its frame
  rate near what the publisher encodes.

The host publishes from a Chromium in the root namespace (fake camera 1280x720, three simulcast layers); A's
Chromium lives in a network namespace whose root-side veth carries the cap; B's is in the root namespace. The
guests join with their cameras off: they are subscribers here, and two more 720p simulcast encoders would cost
this 2-core machine more than the measurement can afford (their microphones stay on, so A's link also carries
the host's and B's audio).

Loss is Chrome's packetsLost / (packetsReceived + packetsLost) over the window, net of what retransmissions
repaired (Chrome's counter goes back down when they fill a gap); the NACK count, the qdisc's drops and the media
server's retransmissions are reported beside it. Freezes are Chrome's freezeCount; one that falls in a second in
which the publisher itself encoded under 80 % of its usual frame rate (its encoder starved of CPU by other jobs
on the machine), with no key frame just before it, is the publisher's and is not held against the media server
(both counts are printed).

The rig is checked before the requirement is judged: both viewers on 1280 uncapped, the publisher sending q and
a 1280-wide f, the tbf in place and dropping or queueing, the namespace still there. A run that fails while the
machine's cores were more than 90 % busy on average (other jobs share this machine; the three Chromiums take
about 70 % of one core) fails as the rig's: freezes then measure the CPU as much as the product.

Run with `-s`: a per-second table (A and B: kbit/s, link kbit/s, loss %, fps, width, freezeCount; the media
server's layer choice for A and B; the qdisc's throughput, drops and backlog; the publisher's active layers and
top-layer fps; the machine's CPU) is printed and saved under test-artifacts/browser/, with the raw samples as
JSON beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import os
import re
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from benchmarks.loadtest.stats import MachineSample, machine_percent, read_machine
from signaling_gateway.media_client import MediaClient
from tests.gateway.gateway_process import GatewayProcess, child_pids
from tests.netns import BrowserNetwork, QdiscStats, netns_available

from .conftest import (
    ARTIFACTS,
    CHROMIUM,
    create_meeting,
    diagnose,
    login_host,
    participant_id,
    tile_selector,
    wait_for_frames,
    wait_for_tile,
)
from .cpu_load import CpuWindow, chromium_roots
from .inbound_sampler import (
    InboundSample,
    InboundSampler,
    OutboundSampler,
    PageUnresponsive,
    Window,
    format_table,
    freezes,
    layer_fps,
    layer_fps_per_second,
    per_second,
    summarize,
)
from .reconnect_rig import new_page, product_on, secure_origin_args

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not netns_available(), reason="needs root and ip netns (network namespaces)"),
    # Call set-up (~20-40 s on a loaded machine) + 10 s uncapped + 40 s capped + 20 s after the uncap.
    pytest.mark.timeout(360),
]

NETWORK_INDEX = 47  # the reconnect, Firefox and reachability tests use 31-36
CAP_KBIT = 600
QUEUE_MS = 150
SETTLE_S = 10  # the requirement: settled this long after the cap ...
CAPPED_S = 40  # ... and measured until this long after it
RECOVER_S = 15  # back on the top layer this long after the cap goes ...
STAY_S = 5  # ... and still there this much later (a pass on the way to the next oscillation is no recovery)
BASELINE_S = 10  # uncapped, before the cap: the reference figures
TOP_WIDTH = 1280
WIDE: ViewportSize = {"width": 1280, "height": 720}  # a pinned tile on this page wants the top layer
TOP_RID = "f"
EXPECTED_ENCODINGS = [("q", 4), ("h", 2), ("f", 1)]  # web_client/js/simulcast.js, lowest first
# "Near the publisher's": B decodes at least this share of the frames the top layer encodes, on average, and no
# single second falls below the second share (a stall).
B_FPS_MEAN_SHARE, B_FPS_MIN_SHARE = 0.85, 0.5
# A second in which the publisher's top layer encodes less than this share of its median frame rate is the
# publisher's own stall (CPU: other jobs share this machine); a freeze then, with no key frame just before it,
# is not counted against the media server. Both counts are printed.
STALL_SHARE = 0.8
CORES = os.cpu_count() or 1
SATURATED = 90 * CORES  # % of one core: the machine's cores busier than this on average over the run

# Seen on the shared test machine: another job deleting every network namespace in the middle of a run.
VANISHED = (f"A's network (namespace mt{NETWORK_INDEX} and its veth) disappeared during the test: deleted from "
            "outside it, so the figures say nothing about the product")

ENCODINGS_JS = """
() => window.meetingClient.simulcast.sender.getParameters().encodings
        .map((e) => ({rid: e.rid, scale: e.scaleResolutionDownBy, active: e.active, maxBitrate: e.maxBitrate}))
"""


@pytest.fixture(scope="module")
def network() -> Iterator[BrowserNetwork]:
    with BrowserNetwork(NETWORK_INDEX) as net:
        yield net


@pytest.fixture(scope="module")
def product(network: BrowserNetwork) -> Iterator[GatewayProcess]:
    with product_on(network, "thin-links-product.log") as gateway:
        yield gateway


@dataclass
class Rig:
    host: Page
    a: Page  # capped, in the namespace
    b: Page  # clean, in the root namespace
    meeting_id: str
    host_id: str
    a_id: str
    b_id: str
    cpu_roots: dict[str, int]
    console: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def three_browsers(network: BrowserNetwork, origin: str) -> AsyncIterator[tuple[dict[str, Browser],
                                                                                      dict[str, int]]]:
    """Host and B here, A in the namespace; also each one's browser process, for the CPU figures."""
    async with async_playwright() as playwright:
        launched: dict[str, Browser] = {}
        roots: dict[str, int] = {}
        try:
            for label, executable in (("host", CHROMIUM), ("A", str(network.chromium)), ("B", CHROMIUM)):
                before = chromium_roots()
                launched[label] = await playwright.chromium.launch(executable_path=executable,
                                                                   args=secure_origin_args(origin))
                new = chromium_roots() - before
                if len(new) == 1:
                    roots[label] = new.pop()
            yield launched, roots
        finally:
            for browser in launched.values():
                await browser.close()


async def join_as_subscriber(browser: Browser, base_url: str, meeting_id: str, name: str, console: list[str]) -> Page:
    """A guest who turns the camera off on the pre-join page (after it opened: issue #15's race) and joins."""
    page = await new_page(browser, base_url, console, name, viewport=WIDE)
    await page.goto(f"/join/{meeting_id}")
    await page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=\"preview-video\"]'); return v && v.videoWidth > 0; }")
    await page.get_by_test_id("toggle-camera").click()
    await page.locator('[data-testid="toggle-camera"][data-state="off"]').wait_for()
    await page.get_by_test_id("guest-name").fill(name)
    await page.get_by_test_id("join-submit").click()
    await page.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    return page


async def pin_and_check(page: Page, pid: str) -> dict[str, Any]:
    """Pins `pid`'s tile and waits for the spotlight layout; returns the tile's size in device pixels."""
    await page.locator(f"{tile_selector(pid)} [data-testid='pin-participant']").click()
    await page.wait_for_selector(f"{tile_selector(pid)}.pinned", state="attached")
    box = await page.locator(tile_selector(pid)).evaluate(
        "(t) => { const r = t.getBoundingClientRect(); return {width: r.width * devicePixelRatio, "
        "height: r.height * devicePixelRatio}; }")
    assert isinstance(box, dict)
    return box


async def server_view(media: MediaClient, rig: Rig) -> dict[str, Any]:
    """The media server's view of A's and B's video subscriptions to the host (layer, target, temporal cap,
    downlink controller), compactly."""
    room = (await media.stats(rig.meeting_id))["rooms"][rig.meeting_id]
    view: dict[str, Any] = {}
    for label, pid in (("A", rig.a_id), ("B", rig.b_id)):
        participant = room.get(pid, {})
        subs = [s for s in participant.get("subscriptions", [])
                if s["kind"] == "video" and s["publisher"] == rig.host_id]
        view[label] = {"sub": subs[0] if subs else None, "downlink": participant.get("downlink")}
    return view


def _server_cell(view: dict[str, Any]) -> str:
    sub, downlink = view["sub"], view["downlink"] or {}
    if sub is None:
        return "none"
    loss = downlink.get("loss")
    return (f"L{sub['layer']}>{sub['target_layer']} T{sub['max_tid']} dn{downlink.get('steps_down', '?')}"
            f" rr{'?' if loss is None else round(loss * 100)}%")


@dataclass
class Poll:
    """What the test saw once a second from outside the pages: the qdisc, the media server, the machine's CPU."""

    t: float
    qdisc: QdiscStats
    server: dict[str, Any] | None
    machine: MachineSample


async def poll_outside(network: BrowserNetwork, media: MediaClient, rig: Rig, into: list[Poll]) -> None:
    start = time.monotonic()
    for tick in range(1, 10_000):
        try:
            qdisc = await asyncio.to_thread(network.downlink_qdisc)
        except subprocess.CalledProcessError:  # the veth is gone: recorded, and judged as a rig failure
            qdisc = dataclasses.replace(QdiscStats.parse(""), kind="gone")
        try:
            server = await server_view(media, rig)
        except Exception as exc:  # a slow control answer must not end the timeline; it shows as a gap
            server = {"error": repr(exc)}
        into.append(Poll(time.time(), qdisc, server, read_machine()))
        await asyncio.sleep(max(start + tick - time.monotonic(), 0.05))


async def keep_reading(samplers: dict[str, InboundSampler | OutboundSampler]) -> None:
    """Copies the pages' samples to Python every few seconds, so a page that stops answering later (seen once on
    a saturated machine) costs only its last seconds; the final read after the run says whether it did."""
    while True:
        await asyncio.sleep(5)
        for sampler in samplers.values():
            with contextlib.suppress(PageUnresponsive):
                await sampler.fetch()


def outside_columns(polls: list[Poll], zero: float, publisher: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
    """Per-second columns: the media server's choice for A and B, the qdisc's rate/drops/backlog, the publisher's
    active layers and top-layer fps."""
    columns: dict[str, dict[int, str]] = {"server A": {}, "server B": {}, "tc kbit/s drop backlog": {},
                                          "pub active, f fps": {}, "cpu%": {}}
    for before, after in itertools.pairwise(polls):
        second = round(after.t - zero)
        dt = after.t - before.t
        if after.server and "error" not in after.server:
            columns["server A"][second] = _server_cell(after.server["A"])
            columns["server B"][second] = _server_cell(after.server["B"])
        q0, q1 = before.qdisc, after.qdisc
        if q1.kind == "tbf" and q0.kind == "tbf":
            columns["tc kbit/s drop backlog"][second] = (
                f"{(q1.sent_bytes - q0.sent_bytes) * 8 / dt / 1000:5.0f} {q1.dropped - q0.dropped:4d} "
                f"{q1.backlog_bytes:6d}B")
        else:
            columns["tc kbit/s drop backlog"][second] = q1.kind
        columns["cpu%"][second] = f"{machine_busy(before, after):4.0f}"
    for before_s, after_s in itertools.pairwise(publisher):
        second = round(after_s["t"] - zero)
        layers = after_s["layers"]
        top, top_before = layers.get(TOP_RID), before_s["layers"].get(TOP_RID)
        fps = ((top["framesEncoded"] - top_before["framesEncoded"]) / (after_s["t"] - before_s["t"])
               if top and top_before else 0.0)
        active = "".join(rid for rid, _ in EXPECTED_ENCODINGS if layers.get(rid, {}).get("active"))
        columns["pub active, f fps"][second] = f"{active:3} {fps:4.1f}"
    return columns


# Not met reliably yet (issue P11 stays open): in 11 runs of the last two versions on a quiet machine 6 passed, 5
# failed, every failure on one criterion only, 1-3 freezes in the 30 s (the bitrate, loss < 2 %, the climb back
# and the other viewer held in all). The freezes fall on spatial switches the allocator makes while capped.
# Not strict: a pass shows as XPASS, and the figures print either way.
@pytest.mark.xfail(reason="P11: 1-3 freezes in 30 s in half the runs (spatial switches while capped)", strict=False)
async def test_a_capped_subscriber_settles_on_layers_that_fit_and_climbs_back(
    network: BrowserNetwork, product: GatewayProcess
) -> None:
    console: list[str] = []
    async with three_browsers(network, product.base_url) as (launched, roots):
        host = await new_page(launched["host"], product.base_url, console, "host")
        await login_host(host)
        meeting_id = await create_meeting(host)
        host_id = await participant_id(host)
        a = await join_as_subscriber(launched["A"], product.base_url, meeting_id, "A", console)
        b = await join_as_subscriber(launched["B"], product.base_url, meeting_id, "B", console)
        rig = Rig(host, a, b, meeting_id, host_id, await participant_id(a), await participant_id(b), roots, console)
        try:
            await measure(rig, network, product)
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "thin-links.console.log").write_text("\n".join(console))


async def measure(rig: Rig, network: BrowserNetwork, product: GatewayProcess) -> None:
    for page in (rig.a, rig.b):
        await wait_for_tile(page, rig.host_id)
        await wait_for_frames(page, rig.host_id, more=20)
    tile_a, tile_b = await pin_and_check(rig.a, rig.host_id), await pin_and_check(rig.b, rig.host_id)

    a_in = InboundSampler(rig.a, rig.host_id, "host")
    b_in = InboundSampler(rig.b, rig.host_id, "host")
    pub_out = OutboundSampler(rig.host, "camera")
    samplers: dict[str, InboundSampler | OutboundSampler] = {"A": a_in, "B": b_in, "host": pub_out}
    for sampler in samplers.values():
        await sampler.start()
    crashed: list[str] = []
    labels = {id(rig.host): "host", id(rig.a): "A", id(rig.b): "B"}
    for page in (rig.host, rig.a, rig.b):
        page.on("crash", lambda crashed_page: crashed.append(labels[id(crashed_page)]))

    media = MediaClient("127.0.0.1", int(product.env["MEDIA_CONTROL_PORT"]), request_timeout=5.0)
    await media.start()
    assert await media.wait_connected(10), "could not reach the media server's control port"
    polls: list[Poll] = []
    poller = asyncio.create_task(poll_outside(network, media, rig, polls))
    reader = asyncio.create_task(keep_reading(samplers))
    media_pids = child_pids(product.process.pid)
    cpu = CpuWindow({**{f"chromium {k}": v for k, v in rig.cpu_roots.items()}, "gateway": product.process.pid,
                     **{f"media server {i}": pid for i, pid in enumerate(media_pids)}})
    rig_problems: list[str] = []
    marks: dict[str, float] = {}
    qdisc_capped: QdiscStats | None = None
    try:
        # --- the rig: both viewers on the top layer of a three-layer publisher before anything is shaped ----------
        try:
            up_a = await a_in.wait_for("A receives the host 1280 wide", lambda s: s.frame_width == TOP_WIDTH, 30)
            up_b = await b_in.wait_for("B receives the host 1280 wide", lambda s: s.frame_width == TOP_WIDTH, 30)
        except AssertionError as exc:
            if not network.present():
                raise AssertionError(f"rig: {VANISHED}") from exc
            view = await server_view(media, rig)
            raise AssertionError(f"rig: the top layer never reached a pinned viewer uncapped ({exc}); server "
                                 f"{view}; publisher {(await pub_out.fetch())[-1:]}; A {await diagnose(rig.a)}; "
                                 f"tiles A {tile_a} B {tile_b}") from None
        encodings = await rig.host.evaluate(ENCODINGS_JS)
        assert [(e["rid"], e["scale"]) for e in encodings] == EXPECTED_ENCODINGS, f"rig: encodings {encodings}"

        marks["baseline"] = time.time()
        cpu.start()
        await asyncio.sleep(BASELINE_S)  # a fixed window: the uncapped reference figures

        if not network.present():
            raise AssertionError(f"rig: {VANISHED}")
        network.cap_downlink(CAP_KBIT, queue_ms=QUEUE_MS)
        marks["cap"] = cap_at = time.time()
        await asyncio.sleep(max(cap_at + CAPPED_S - time.time(), 0))
        qdisc_capped = await asyncio.to_thread(network.downlink_qdisc)
        network.uncap()
        marks["uncap"] = uncap_at = time.time()
        # A fixed window, judged from the samples: A may happen to be passing through 1280 at the moment of
        # the uncap (today's controller oscillates), so "back" is when it gets there to stay.
        await asyncio.sleep(max(uncap_at + RECOVER_S + STAY_S - time.time(), 0))
        marks["end"] = time.time()
        load = cpu.stop()
    finally:
        network.uncap()
        for task in (poller, reader):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await media.close()
    unresponsive = []
    for label, sampler in samplers.items():
        try:
            await sampler.fetch()
        except PageUnresponsive as exc:  # what was read during the run is kept; the rig check below says so
            unresponsive.append(f"{label}: {exc}")
    samples_a, samples_b, publisher = a_in.cached(), b_in.cached(), pub_out.read()
    errors: dict[str, Any] = {}
    for label, inbound in (("A", a_in), ("B", b_in)):
        with contextlib.suppress(PageUnresponsive):
            errors[label] = await inbound.errors()

    # --- the table ------------------------------------------------------------------------------------------
    zero = marks["cap"]
    table = format_table({"A": per_second(samples_a, zero), "B": per_second(samples_b, zero)},
                         outside_columns(polls, zero, publisher))
    settled = summarize(samples_a, zero + SETTLE_S, zero + CAPPED_S)
    a_base = summarize(samples_a, marks["baseline"], zero)
    b_all = summarize(samples_b, zero, marks["end"])
    b_base = summarize(samples_b, marks["baseline"], zero)
    recovery_s = back_to_stay(samples_a, marks["uncap"], marks["end"])
    pub_fps = layer_fps(publisher, TOP_RID, zero, marks["end"])
    stalls = publisher_stalls(publisher, zero)
    a_freezes = Freezes.of(samples_a, zero, SETTLE_S, CAPPED_S, stalls)
    b_freezes = Freezes.of(samples_b, zero, 0, round(marks["end"] - zero), stalls)
    b_rows = [r for r in per_second(samples_b, zero) if r.t > 0 and not stalls & _near(round(r.t))]
    b_min_fps = min((r.fps for r in b_rows), default=0.0)
    capped_polls = [p for p in polls if zero < p.t <= marks["uncap"]]
    backlog_max = max((p.qdisc.backlog_bytes for p in capped_polls), default=0)

    summary = {
        "pinned tile (device px)": {"A": tile_a, "B": tile_b},
        "uncapped: A, B at 1280 after (s)": [round(up_a, 1), round(up_b, 1)],
        "A uncapped (10 s before the cap)": _brief(a_base),
        f"A capped, {SETTLE_S}-{CAPPED_S} s after the cap": _brief(settled),
        "A at 1280 to stay after the cap went (s)": None if recovery_s is None else round(recovery_s, 1),
        "B uncapped": _brief(b_base),
        "B from the cap to the end": _brief(b_all),
        "publisher f-layer fps from the cap to the end": round(pub_fps, 1),
        "publisher stalls (s after the cap: f encoded < 80 % of its median fps)": sorted(stalls),
        f"A freezes {SETTLE_S}-{CAPPED_S} s after the cap": a_freezes.describe(),
        "B freezes from the cap to the end": b_freezes.describe(),
        "qdisc while capped: max backlog bytes": backlog_max,
        f"qdisc and media server, {SETTLE_S}-{CAPPED_S} s after the cap": link_window(
            polls, zero + SETTLE_S, zero + CAPPED_S),
        "CPU % of one core, baseline to the end": {k: round(v) for k, v in load.items()},
        "publisher layers seen (rid: widths, max kbit/s)": layers_seen(publisher),
        "sampler errors": errors,
    }
    text = (f"thin link: cap {CAP_KBIT} kbit/s, tbf queue {QUEUE_MS} ms; t = seconds since the cap "
            f"(uncapped at t={marks['uncap'] - zero:.1f})\n{table}\n\ntc -s qdisc show dev {network.root_if} "
            f"just before the cap was removed:\n{qdisc_capped.text if qdisc_capped else '-'}\n\n"
            + "\n".join(f"{k}: {v}" for k, v in summary.items()))
    print("\n" + text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"thin-links-{stamp}.txt").write_text(text + "\n")
    (ARTIFACTS / f"thin-links-{stamp}.json").write_text(json.dumps({
        "marks": marks, "summary": summary, "A": [asdict(s) for s in samples_a], "B": [asdict(s) for s in samples_b],
        "publisher": publisher, "outside": [{"t": p.t, "qdisc": asdict(p.qdisc), "server": p.server} for p in polls],
    }, default=str))

    # --- the rig must be sound before the requirement is judged -------------------------------------------------
    if crashed or unresponsive:
        rig_problems.append(f"pages crashed {crashed} or stopped answering {unresponsive}")
    gone = [round(p.t - zero, 1) for p in polls if p.qdisc.kind == "gone"]
    if gone:
        rig_problems.append(f"{VANISHED} (first missed at t={gone[0]} s)")
    if qdisc_capped is None or qdisc_capped.kind != "tbf":
        rig_problems.append(f"the cap was not in place: {qdisc_capped}")
    elif qdisc_capped.dropped == 0 and backlog_max == 0:
        rig_problems.append("the qdisc neither dropped nor queued anything: the cap never bit")
    if a_base.widths != (TOP_WIDTH,) or b_base.widths != (TOP_WIDTH,):
        rig_problems.append(f"uncapped baseline not all at the top layer: A {a_base.widths}, B {b_base.widths}")
    if pub_fps < 5:
        rig_problems.append(f"the publisher's top layer ran at {pub_fps:.1f} fps (CPU starved?)")
    sent = layers_seen([s for s in publisher if marks["baseline"] <= s["t"] <= zero])
    if TOP_WIDTH not in sent.get(TOP_RID, {}).get("widths", []) or not sent.get("q", {}).get("max kbit/s"):
        rig_problems.append(f"the publisher did not send q and a 1280-wide f before the cap: {sent}")
    assert not rig_problems, "rig: " + "; ".join(rig_problems)

    failures = []
    if settled.mean_kbit_s > CAP_KBIT:
        failures.append(f"A received {settled.mean_kbit_s:.0f} kbit/s > {CAP_KBIT}")
    if settled.loss_pct >= 2:
        failures.append(f"A lost {settled.loss_pct:.1f} % >= 2 %")
    if a_freezes.own >= 0.5:
        failures.append(f"A froze {a_freezes.own} times in {CAPPED_S - SETTLE_S} s (>= 1 a minute; "
                        f"{a_freezes.describe()})")
    if recovery_s is None or recovery_s > RECOVER_S:
        failures.append(f"A not back at {TOP_WIDTH} to stay within {RECOVER_S} s of the cap's removal "
                        f"({'never' if recovery_s is None else f'{recovery_s:.1f} s'})")
    if b_all.widths != (TOP_WIDTH,):
        failures.append(f"B left the top layer: widths {b_all.widths}")
    if b_freezes.own > 0:
        failures.append(f"B froze {b_freezes.own} times ({b_freezes.describe()})")
    if b_all.mean_fps < B_FPS_MEAN_SHARE * pub_fps or b_min_fps < B_FPS_MIN_SHARE * pub_fps:
        failures.append(f"B's fps mean {b_all.mean_fps:.1f} / min {b_min_fps:.1f} (outside the publisher's stalls) "
                        f"vs the publisher's {pub_fps:.1f}")
    # Freezes and frame rates on a machine whose cores are all busy measure the CPU as much as the product: a
    # failure then is the rig's (run again when the machine is quieter); a pass under that load still counts.
    busy = machine_busy(polls[0], polls[-1]) if len(polls) > 1 else 0.0
    assert not failures or busy < SATURATED, (
        f"rig: the machine was saturated ({busy:.0f} % of {CORES * 100} busy over the run, other jobs included), so "
        f"the failures below may be the CPU's: {'; '.join(failures)}")
    assert not failures, "thin-link requirement not met: " + "; ".join(failures)


def _brief(window: Window) -> dict[str, Any]:
    return {"kbit/s": round(window.mean_kbit_s), "link kbit/s": round(window.mean_link_kbit_s),
            "loss %": round(window.loss_pct, 2), "nacks": window.nacks, "plis": window.plis,
            "key frames": window.key_frames, "freezes": window.freeze_growth,
            "frozen s": round(window.freeze_seconds, 2), "fps mean": round(window.mean_fps, 1),
            "fps min": round(window.min_fps, 1), "widths": list(window.widths), "missing samples": window.missing}


def machine_busy(before: Poll, after: Poll) -> float:
    """The whole machine's CPU between two polls, in % of one core (CORES * 100 = every core busy)."""
    return machine_percent(before.machine, after.machine, CORES)[0]


def publisher_stalls(publisher: list[dict[str, Any]], zero: float) -> set[int]:
    """Seconds (after `zero`) in which the publisher's top layer encoded < STALL_SHARE of its median frame rate:
    its own encoder or capture fell behind (seen when other jobs load this machine), not anything downstream."""
    rates = layer_fps_per_second(publisher, TOP_RID, zero)
    if not rates:
        return set()
    typical = statistics.median(rates.values())
    return {second for second, fps in rates.items() if fps < STALL_SHARE * typical}


def _near(second: int) -> set[int]:
    # The pages sample at their own phases: a second's neighbours are the same moment give or take a sample.
    return {second - 1, second, second + 1}


@dataclass(frozen=True)
class Freezes:
    """Freezes in a window, and how many of them the publisher's own stalls account for."""

    total: int
    publisher: int  # at a publisher stall, with no key frame just before (a switch or PLI would be ours)
    seconds: tuple[int, ...]

    @property
    def own(self) -> int:
        return self.total - self.publisher

    @classmethod
    def of(cls, samples: list[InboundSample], zero: float, start: int, end: int, stalls: set[int]) -> Freezes:
        total = publisher = 0
        seconds = []
        for freeze in freezes(samples, zero):
            if not start < freeze.second <= end:
                continue
            total += freeze.count
            seconds.append(freeze.second)
            if not freeze.key_frame and stalls & _near(freeze.second):
                publisher += freeze.count
        return cls(total, publisher, tuple(seconds))

    def describe(self) -> str:
        return f"{self.total} at t={list(self.seconds)}, {self.publisher} of them during a publisher stall"


def link_window(polls: list[Poll], start: float, end: float) -> dict[str, Any]:
    """Between two instants: what the qdisc passed and dropped (every packet to A: video, audio, RTCP,
    retransmissions), and what the media server sent A of the host's video, resent, and refused to resend."""
    inside = [p for p in polls if start <= p.t <= end and p.qdisc.kind == "tbf"]
    if len(inside) < 2:
        return {}
    first, last = inside[0], inside[-1]
    sent, dropped = last.qdisc.sent_packets - first.qdisc.sent_packets, last.qdisc.dropped - first.qdisc.dropped
    result: dict[str, Any] = {
        "tc kbit/s": round((last.qdisc.sent_bytes - first.qdisc.sent_bytes) * 8 / (last.t - first.t) / 1000),
        "tc packets passed": sent, "tc dropped": dropped,
        "tc drop %": round(100 * dropped / (sent + dropped), 1) if sent + dropped else 0.0}
    subs = [p.server["A"]["sub"] if p.server and "A" in p.server else None for p in (first, last)]
    if subs[0] and subs[1]:
        for key in ("packets_sent", "retransmits", "retransmits_refused", "nacked_packets"):
            result[f"server {key}"] = subs[1][key] - subs[0][key]
    return result


def back_to_stay(samples: list[InboundSample], since: float, until: float) -> float | None:
    """Seconds after `since` from which every sample up to `until` is at the top layer (None: never)."""
    after = [s for s in samples if since <= s.t <= until]
    if not after or after[-1].frame_width != TOP_WIDTH:
        return None
    first = len(after) - 1
    while first > 0 and after[first - 1].frame_width == TOP_WIDTH:
        first -= 1
    return after[first].t - since


def layers_seen(publisher: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rid the frame widths the publisher sent it at and its highest one-second bitrate: which of the
    three layers really went out (dynacast pauses the ones nobody needs)."""
    seen: dict[str, dict[str, Any]] = {}
    for before, after in itertools.pairwise(publisher):
        dt = after["t"] - before["t"]
        for rid, layer in after["layers"].items():
            entry = seen.setdefault(rid, {"widths": [], "max kbit/s": 0})
            earlier = before["layers"].get(rid)
            if earlier is None or dt <= 0:
                continue
            kbit = (layer["bytesSent"] - earlier["bytesSent"]) * 8 / dt / 1000
            if kbit > 0 and layer["frameWidth"] and layer["frameWidth"] not in entry["widths"]:
                entry["widths"].append(layer["frameWidth"])
            entry["max kbit/s"] = max(entry["max kbit/s"], round(kbit))
    return seen
