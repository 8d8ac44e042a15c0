"""Load test settings: the command line (`python -m benchmarks.loadtest --help`) into one dataclass."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

TARGETS = ("mediaserver", "janus", "aiortc-relay")


@dataclass(frozen=True)
class RunConfig:
    url: str = "http://127.0.0.1:8080"
    participants: int = 20
    duration: float = 60.0
    warmup: float = 20.0
    join_timeout: float = 30.0
    loss: float = 0.0
    loss_bots: int | None = None
    target: str = "mediaserver"
    json_path: Path | None = None
    plot_path: Path | None = None
    server_pid: int | None = None
    media_control: str | None = None
    host_user: str = "host"
    host_password: str = ""
    janus_event_loops: int = 0
    compare: tuple[str, ...] = ()
    relay_participants: int = 3
    seed: int = 1
    progress: bool = True
    command: str = ""
    # Network blips (target mediaserver): every `blip_every` s of the window the last `blip_bots` guests lose
    # their network for `blip` s (0: no blips).
    blip: float = 0.0
    blip_every: float = 60.0
    blip_bots: int = 1
    # R meetings of `participants` bots at once, one load-generator process per meeting (rooms.py).
    rooms: int = 1
    # Set by rooms.py for its children: a directory where each writes that its warm-up is over and waits
    # for all `rooms` (the windows open together), and counters of the whole server, not just this meeting.
    barrier: Path | None = None

    def loss_for(self, index: int) -> float:
        """Injected downlink loss of bot `index`: the last `loss_bots` bots get it (the host never does)."""
        if self.loss <= 0:
            return 0.0
        count = self.participants - 1 if self.loss_bots is None else min(self.loss_bots, self.participants - 1)
        return self.loss if index >= self.participants - count else 0.0

    @property
    def blip_indices(self) -> tuple[int, ...]:
        """The bots that blip: the last `blip_bots` guests, never the host (bot 0); none without --blip."""
        if self.blip <= 0:
            return ()
        count = max(0, min(self.blip_bots, self.participants - 1))
        return tuple(range(self.participants - count, self.participants))

    @property
    def tracks_expected(self) -> int:
        """Every bot subscribes to every other bot's audio and video."""
        return self.participants * (self.participants - 1) * 2


def parse_args(argv: list[str] | None = None) -> RunConfig:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the signalling gateway (target mediaserver)")
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured, after the warm-up")
    parser.add_argument("--warmup", type=float, default=20.0,
                        help="seconds after every track flows, not measured (NACK caches fill, RSS settles)")
    parser.add_argument("--join-timeout", type=float, default=30.0,
                        help="seconds to wait for every expected track to flow")
    parser.add_argument("--loss", type=float, default=0.0, help="injected downlink loss P (0..1) at the bots")
    parser.add_argument("--loss-bots", type=int, default=None, help="how many bots get --loss (default: all guests)")
    parser.add_argument("--target", choices=TARGETS, default="mediaserver")
    parser.add_argument("--json", type=Path, default=None, dest="json_path", help="write the report here")
    parser.add_argument("--plot", type=Path, default=None, dest="plot_path", help="write a PNG plot here")
    parser.add_argument("--server-pid", type=int, default=None,
                        help="process to measure (default: found from the UDP port the server answers on)")
    parser.add_argument("--media-control", default=None,
                        help="host:port of the media server's control port (default: from its command line)")
    parser.add_argument("--host-user", default=os.environ.get("HOST_USERNAME", "host"))
    parser.add_argument("--janus-event-loops", type=int, default=0,
                        help="Janus event_loops setting (0: its default, one thread per handle)")
    parser.add_argument("--compare", nargs="+", default=[], choices=TARGETS[1:], metavar="PEER",
                        help="after the run, the same bots against these peers (janus, aiortc-relay)")
    parser.add_argument("--relay-participants", type=int, default=3,
                        help="participants for the aiortc relay under --compare (it saturates early)")
    parser.add_argument("--blip", type=float, default=0.0, metavar="SECONDS",
                        help="network blips: --blip-bots bots lose their network for this long (0: none)")
    parser.add_argument("--blip-every", type=float, default=60.0, metavar="SECONDS",
                        help="a blip every this many seconds of the measured window (the first after one period)")
    parser.add_argument("--blip-bots", type=int, default=1, metavar="K",
                        help="how many bots blip: the last K guests, never the host (default 1)")
    parser.add_argument("--rooms", type=int, default=1, metavar="R",
                        help="R meetings of --participants bots at once, each driven by its own process")
    parser.add_argument("--barrier", type=Path, default=None, help=argparse.SUPPRESS)  # rooms.py's children
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-progress", action="store_true", help="no live progress line")
    ns = parser.parse_args(argv)
    if ns.participants < 2:
        parser.error("--participants must be at least 2")
    if not 1 <= ns.rooms <= 16:
        parser.error("--rooms must be from 1 to 16")
    if ns.rooms > 1 and (ns.compare or ns.blip or ns.plot_path):
        parser.error("--rooms runs one target, without --compare, --blip or --plot")
    if not 0 <= ns.loss < 1:
        parser.error("--loss must be in [0, 1)")
    if ns.blip < 0:
        parser.error("--blip must be >= 0")
    if ns.blip > 0:
        if ns.target != "mediaserver" or ns.compare:
            parser.error("--blip needs --target mediaserver (the bots reconnect through the product's gateway)")
        if ns.blip_every <= ns.blip:
            parser.error("--blip-every must be longer than --blip")
        if not 1 <= ns.blip_bots <= ns.participants - 2:
            parser.error("--blip-bots must be from 1 to participants - 2 (two bots that never blip are the control)")
        if ns.blip_every + ns.blip > ns.duration:
            parser.error("no blip fits in the window: --duration must be at least --blip-every + --blip")
    password = os.environ.get("HOST_PASSWORD", "")
    if ns.target == "mediaserver" and not password:
        parser.error("set HOST_PASSWORD to the gateway's host password")
    return RunConfig(
        url=ns.url, participants=ns.participants, duration=ns.duration, warmup=ns.warmup,
        join_timeout=ns.join_timeout, loss=ns.loss, loss_bots=ns.loss_bots, target=ns.target,
        json_path=ns.json_path, plot_path=ns.plot_path, server_pid=ns.server_pid, media_control=ns.media_control,
        host_user=ns.host_user, host_password=password, janus_event_loops=ns.janus_event_loops, seed=ns.seed,
        compare=tuple(ns.compare), relay_participants=ns.relay_participants,
        progress=not ns.no_progress, blip=ns.blip, blip_every=ns.blip_every, blip_bots=ns.blip_bots,
        rooms=ns.rooms, barrier=ns.barrier,
        command=shlex.join(["python", "-m", "benchmarks.loadtest", *(sys.argv[1:] if argv is None else argv)]),
    )
