"""A network of its own for a browser under test: a Linux network namespace joined to ours by a veth pair.

DESIGN.md §9: the product listens on the root side's address, the browser lives in the namespace; a second,
address-less veth pair inside gives the namespace a default route into a dead end, and a blackhole route for
the whole test range in the root namespace keeps every test packet on this machine. Cutting the link, moving
the browser to a new address, or shaping it are one `ip` call each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TEST_RANGE = "10.213.0.0/16"
CHROMIUM = "/usr/lib/chromium/chromium"


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=10)


def netns_available() -> bool:
    """Root with `ip netns` and veth: what these tests need from the kernel."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"mtprobe{os.getpid() % 10000}"
    try:
        _ip("netns", "add", probe)
        _ip("link", "add", f"{probe}a", "type", "veth", "peer", "name", f"{probe}b")
        return True
    except (subprocess.CalledProcessError, OSError):
        return False
    finally:
        _ip("link", "del", f"{probe}a", check=False)
        _ip("netns", "del", probe, check=False)


def _tbf(dev: str, kbit: int, queue_ms: int, netns: str | None = None) -> None:
    # A burst of a few packets: a larger one lets keyframes through at line rate and hides the cap.
    burst = max(kbit * 1000 // 8 // 100, 4000)
    prefix = ["ip", "netns", "exec", netns] if netns else []
    subprocess.run([*prefix, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{kbit}kbit",
                    "burst", str(burst), "latency", f"{queue_ms}ms"], check=True, capture_output=True, timeout=10)


@dataclass(frozen=True)
class QdiscStats:
    """The root qdisc's counters from `tc -s qdisc show dev D` (`kind` noqueue when nothing shapes the link)."""

    text: str
    kind: str
    sent_bytes: int
    sent_packets: int
    dropped: int
    overlimits: int
    backlog_bytes: int
    backlog_packets: int

    @classmethod
    def parse(cls, text: str) -> QdiscStats:
        # qdisc tbf 8001: root refcnt 2 rate 600Kbit burst 7500b lat 150ms
        #  Sent 1234 bytes 12 pkt (dropped 3, overlimits 4 requeues 0)
        #  backlog 1514b 1p requeues 0
        root = next((line for line in text.splitlines() if line.startswith("qdisc ") and " root " in line), "")
        sent = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)", text)
        backlog = re.search(r"backlog (\d+)b (\d+)p", text)
        return cls(text=text.strip(), kind=root.split()[1] if root else "",
                   sent_bytes=int(sent[1]) if sent else 0, sent_packets=int(sent[2]) if sent else 0,
                   dropped=int(sent[3]) if sent else 0, overlimits=int(sent[4]) if sent else 0,
                   backlog_bytes=int(backlog[1]) if backlog else 0, backlog_packets=int(backlog[2]) if backlog else 0)


class BrowserNetwork:
    """Namespace `mtN`: 10.213.N.1 on our side (the product binds there), 10.213.N.2 on the browser's side."""

    def __init__(self, index: int) -> None:
        if not 1 <= index <= 254:
            raise ValueError("index must be 1-254")
        self.index = index
        self.netns = f"mt{index}"
        self.root_if, self.ns_if = f"mt{index}r", f"mt{index}n"
        self.dead_if, self.dead_peer = f"mt{index}d0", f"mt{index}d1"
        self.server_ip = f"10.213.{index}.1"
        self.browser_ip = f"10.213.{index}.2"
        self._tmp = Path(tempfile.mkdtemp(prefix=f"netns-{index}-"))
        self.chromium = self._tmp / "chromium-in-netns"
        self._tables: list[tuple[str, str | None]] = []  # nft tables of drop_uplink/drop_downlink

    def __enter__(self) -> BrowserNetwork:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        self.destroy()  # a previous run killed mid-test may have left it behind
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.root_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.netns)
        _ip("addr", "add", f"{self.server_ip}/24", "dev", self.root_if)
        _ip("link", "set", self.root_if, "up")
        _ip("addr", "add", f"{self.browser_ip}/24", "dev", self.ns_if, netns=self.netns)
        _ip("link", "set", self.ns_if, "up", netns=self.netns)
        _ip("link", "set", "lo", "up", netns=self.netns)
        # An address added in the same subnet is a secondary one; without this, removing the old (primary)
        # address would remove the new one with it, and a hand-over would leave the browser with none.
        for conf in ("all", self.ns_if):
            subprocess.run(["ip", "netns", "exec", self.netns, "sysctl", "-qw",
                            f"net.ipv4.conf.{conf}.promote_secondaries=1"], check=True, timeout=10)
        # Browsers want a default route before they send media; this one leads nowhere.
        _ip("link", "add", self.dead_if, "type", "veth", "peer", "name", self.dead_peer, netns=self.netns)
        _ip("link", "set", self.dead_if, "up", netns=self.netns)
        _ip("link", "set", self.dead_peer, "up", netns=self.netns)
        _ip("route", "add", "default", "dev", self.dead_if, netns=self.netns)
        if "blackhole" not in _ip("route", "show", TEST_RANGE).stdout:
            _ip("route", "add", "blackhole", TEST_RANGE)
        self.chromium.write_text(f'#!/bin/sh\nexec ip netns exec {self.netns} {CHROMIUM} "$@"\n')
        self.chromium.chmod(0o755)

    def destroy(self) -> None:
        self.stop_dropping()  # a root-namespace table would outlive the namespace
        _ip("link", "del", self.root_if, check=False)  # takes its peer in the namespace with it
        _ip("netns", "del", self.netns, check=False)

    def link_down(self) -> None:
        """The browser's network is gone (Wi-Fi dropped): nothing in or out, addresses kept."""
        _ip("link", "set", self.ns_if, "down", netns=self.netns)

    def link_up(self) -> None:
        _ip("link", "set", self.ns_if, "up", netns=self.netns)

    def move_to_new_address(self) -> str:
        """Wi-Fi to mobile: a new address on the interface, then the old one removed; returns the new one."""
        new = f"10.213.{self.index}.3" if self.browser_ip.endswith(".2") else f"10.213.{self.index}.2"
        _ip("addr", "add", f"{new}/24", "dev", self.ns_if, netns=self.netns)
        _ip("addr", "del", f"{self.browser_ip}/24", "dev", self.ns_if, netns=self.netns)
        self.browser_ip = new
        return new

    def block_udp(self) -> None:
        """A firewall that lets no UDP out of the browser's network (TCP still passes): only TURN over TCP works.

        Dropped in the namespace's output hook: the browser's sendto fails (EPERM), as behind a strict firewall.
        """
        rules = (f"table inet mtblock {{\n  chain out {{\n    type filter hook output priority 0; policy accept;\n"
                 f"    oifname \"{self.ns_if}\" meta l4proto udp counter drop\n  }}\n}}\n")
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "-f", "-"], input=rules, text=True, check=True,
                       timeout=10)

    def cap_downlink(self, kbit: int, queue_ms: int = 150) -> None:
        """A thin link towards the browser: a token bucket on our side of the veth (its egress is the downlink)."""
        _tbf(self.root_if, kbit, queue_ms)

    def cap_uplink(self, kbit: int, queue_ms: int = 150) -> None:
        """A thin link from the browser: a token bucket on the namespace's side of the veth."""
        _tbf(self.ns_if, kbit, queue_ms, netns=self.netns)

    def present(self) -> bool:
        """The namespace and our side of its veth still exist (something outside the test may delete them)."""
        return (_ip("link", "show", self.root_if, check=False).returncode == 0
                and self.netns in _ip("netns", "list").stdout.split())

    def downlink_qdisc(self) -> QdiscStats:
        """What the downlink's qdisc has done so far (`tc -s qdisc show` on our side of the veth)."""
        out = subprocess.run(["tc", "-s", "qdisc", "show", "dev", self.root_if], capture_output=True, text=True,
                             check=True, timeout=10).stdout
        return QdiscStats.parse(out)

    def uncap(self) -> None:
        subprocess.run(["tc", "qdisc", "del", "dev", self.root_if, "root"], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "exec", self.netns, "tc", "qdisc", "del", "dev", self.ns_if, "root"],
                       capture_output=True, timeout=10)

    def drop_uplink(self, percent: int) -> str:
        """Lose `percent` of the browser's UDP at random on its way to us; returns the nft table's name.

        Dropped in our input hook (DESIGN.md §9): dropping in the browser's output hook would fail its sendto.
        """
        return self._drop(f"mtdropup{self.index}", f"iifname \"{self.root_if}\"", percent, netns=None)

    def drop_downlink(self, percent: int) -> str:
        """Lose `percent` of the UDP we send the browser, in the namespace's input hook."""
        return self._drop(f"mtdropdown{self.index}", f"iifname \"{self.ns_if}\"", percent, netns=self.netns)

    def _drop(self, table: str, match: str, percent: int, netns: str | None) -> str:
        if not 0 < percent < 100:
            raise ValueError("percent must be 1-99")
        rules = (f"table inet {table} {{\n  chain in {{\n    type filter hook input priority 0; policy accept;\n"
                 f"    {match} meta l4proto udp numgen random mod 100 lt {percent} counter drop\n  }}\n}}\n")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        subprocess.run([*prefix, "nft", "-f", "-"], input=rules, text=True, check=True, timeout=10)
        self._tables.append((table, netns))
        return table

    def stop_dropping(self) -> None:
        for table, netns in self._tables:
            prefix = ["ip", "netns", "exec", netns] if netns else []
            subprocess.run([*prefix, "nft", "delete", "table", "inet", table], capture_output=True, timeout=10)
        self._tables.clear()

    def unblock_udp(self) -> None:
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "delete", "table", "inet", "mtblock"],
                       check=False, timeout=10, capture_output=True)
