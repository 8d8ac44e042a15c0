"""Finding and watching the server under test: its process (by the UDP port it answers on) and its counters."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from pathlib import Path
from typing import Any

from mediaserver import control_protocol as proto
from mediaserver.loop_lag import BUCKETS_MS, window_quantile_ms


def udp_socket_inodes(port: int) -> set[int]:
    """Inodes of the UDP sockets bound to `port` on any local address, from /proc/net/udp{,6}."""
    inodes: set[int] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def pid_owning_udp_port(port: int) -> int | None:
    """The process holding a socket bound to UDP `port` (our own user's processes only)."""
    inodes = udp_socket_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(proc.name)
        except OSError:
            continue
    return None


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def control_address(pid: int) -> tuple[str, int] | None:
    """The media server's control host/port from its command line (the gateway passes --control-port)."""
    args = cmdline(pid)
    if "mediaserver" not in args:
        return None
    host, port = "127.0.0.1", None
    for flag, value in itertools.pairwise(args):
        if flag == "--control-port":
            port = int(value)
        elif flag == "--control-host":
            host = value
    if port is None:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return None
        port = next((int(e.split("=", 1)[1]) for e in environ if e.startswith("MEDIA_CONTROL_PORT=")), 7881)
    return host, port


class ControlStats:
    """A read-only client of the media server's control port: asks for `stats`, ignores room events."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
        self._task = asyncio.create_task(self._read(), name="control-stats")

    async def _read(self) -> None:
        assert self._reader is not None
        # Events are broadcast to every control client; reading them keeps the server's buffer empty.
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, proto.ProtocolError):
            while True:
                message = await proto.read_message(self._reader)
                future = self._pending.pop(message.get("id", -1), None) if "id" in message else None
                if future is not None and not future.done():
                    future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("control connection closed"))

    async def stats(self, room_id: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        assert self._writer is not None
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        self._writer.write(proto.request(msg_id, proto.STATS, {"room_id": room_id} if room_id else {}))
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RuntimeError(f"stats failed: {reply['error']}")
        result = reply["result"]
        assert isinstance(result, dict)
        return result

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# Keys of the media server's loop-lag histogram buckets among the totals below.
LOOP_LAG_PREFIX = "loop_lag_bucket_"
# The media server's drop counters (UdpMux) worth a line in the report when they move during the window.
SERVER_ERROR_COUNTERS = ("srtp_errors", "send_errors", "handler_errors", "srtp_unknown_source", "srtp_before_keys",
                         "dtls_dropped", "stun_bad")


def forwarding_totals(stats: dict[str, Any]) -> dict[str, int]:
    """Sum the per-subscription counters of a `stats` result: forwarded packets, retransmits, layer switches."""
    totals = {"packets_forwarded": 0, "retransmits": 0, "layer_switches": 0, "subscriptions": 0,
              "active_subscriptions": 0, "rtt_us_median": -1}
    rtts: list[float] = []
    for room in stats.get("rooms", {}).values():
        for participant in room.values():
            for sub in participant.get("subscriptions", []):
                if isinstance(sub.get("rtt_ms"), int | float):
                    rtts.append(float(sub["rtt_ms"]))  # from the bots' receiver reports
                totals["subscriptions"] += 1
                totals["active_subscriptions"] += 1 if sub.get("active") else 0
                totals["packets_forwarded"] += int(sub.get("packets_sent", 0))
                totals["retransmits"] += int(sub.get("retransmits", 0))
                totals["layer_switches"] += int(sub.get("layer_switches", 0))
    if rtts:
        totals["rtt_us_median"] = int(sorted(rtts)[len(rtts) // 2] * 1000)
    counters = stats.get("counters", {})
    for name in SERVER_ERROR_COUNTERS:
        totals[name] = int(counters.get(name, 0))
    lag = stats.get("loop_lag")
    if isinstance(lag, dict):
        for index, count in enumerate(lag.get("counts", [])):
            totals[f"{LOOP_LAG_PREFIX}{index}"] = int(count)
    return totals


def loop_lag_window(start: dict[str, int], end: dict[str, int]) -> dict[str, float | str] | None:
    """The media server's event-loop lag over the window, as bucket bounds (`mediaserver/loop_lag.py`)."""
    size = len(BUCKETS_MS) + 1
    keys = [f"{LOOP_LAG_PREFIX}{i}" for i in range(size)]
    if not all(k in start and k in end for k in keys):
        return None  # a server without the monitor, or a peer
    before, after = [start[k] for k in keys], [end[k] for k in keys]
    block: dict[str, float | str] = {}
    for name, share in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        bound = window_quantile_ms(before, after, share)
        if bound is None:
            return None
        block[name] = bound if bound != float("inf") else f">{BUCKETS_MS[-1]:g}"
    return block
