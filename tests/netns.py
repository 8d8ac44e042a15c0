"""A network of its own for a browser under test: a Linux network namespace joined to ours by a veth pair.

DESIGN.md §9: the product listens on the root side's address, the browser lives in the namespace; a second,
address-less veth pair inside gives the namespace a default route into a dead end, and a blackhole route for
the whole test range in the root namespace keeps every test packet on this machine. Cutting the link, moving
the browser to a new address, or shaping it are one `ip` call each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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

    def unblock_udp(self) -> None:
        subprocess.run(["ip", "netns", "exec", self.netns, "nft", "delete", "table", "inet", "mtblock"],
                       check=False, timeout=10, capture_output=True)
