"""CPU used by the processes of a browser test over a window: each Chromium (its browser process and every
renderer, GPU and utility process under it), the product's processes, and the whole machine.

Playwright does not tell Python the pid of a browser it launched, so a Chromium is found as a top-level
`chromium` process under this test process: one whose parent is not itself a Chromium (the `ip netns exec`
wrapper execs Chromium, so a browser in a namespace is found the same way). Launch one browser at a time and
call `chromium_roots()` around each launch to know which is which.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.loadtest.stats import CLOCK_TICKS, MachineSample, machine_percent, parse_proc_stat, read_machine


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int, tree: Mapping[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _is_chromium(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "chromium"
    except OSError:
        return False


def chromium_roots() -> set[int]:
    """The browser processes of every Chromium this test process has launched (directly or through a driver)."""
    tree = _children()
    roots = set()
    for pid in _descendants(os.getpid(), tree):
        if not _is_chromium(pid):
            continue
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if not _is_chromium(ppid):
            roots.add(pid)
    return roots


def _tree_ticks(root: int, tree: Mapping[int, list[int]]) -> dict[int, int]:
    ticks = {}
    for pid in _descendants(root, tree):
        try:
            utime, stime = parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
        except (OSError, IndexError, ValueError):
            continue
        ticks[pid] = utime + stime
    return ticks


@dataclass(frozen=True)
class _Snapshot:
    wall: float
    machine: MachineSample
    groups: dict[str, dict[int, int]]  # label -> pid -> CPU ticks of the process tree under the label's root


def _snapshot(roots: Mapping[str, int]) -> _Snapshot:
    tree = _children()
    return _Snapshot(time.monotonic(), read_machine(), {label: _tree_ticks(pid, tree) for label, pid in roots.items()})


class CpuWindow:
    """`start()` then `stop()`: % of one core per labelled process tree, and the machine's busy %, in between."""

    def __init__(self, roots: Mapping[str, int]) -> None:
        self.roots = dict(roots)
        self._start: _Snapshot | None = None

    def start(self) -> None:
        self._start = _snapshot(self.roots)

    def stop(self) -> dict[str, float]:
        """Label -> % of one core (a process that started inside the window counts from zero); `machine` is
        every process on the machine, other tests' included (200 = both cores busy)."""
        assert self._start is not None, "start() first"
        end = _snapshot(self.roots)
        wall = end.wall - self._start.wall
        result = {}
        for label, ticks in end.groups.items():
            before = self._start.groups.get(label, {})
            used = sum(t - before.get(pid, 0) for pid, t in ticks.items())
            result[label] = 100.0 * used / CLOCK_TICKS / wall
        result["machine"] = machine_percent(self._start.machine, end.machine, os.cpu_count() or 1)[0]
        return result
