"""The fuzz engine: structure-aware mutation of a corpus, one target call per input, outcomes and crashes counted."""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import struct
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import msgpack
import structlog

CORPUS_ROOT = Path(__file__).parent / "corpus"
# An input that takes longer than this is reported as a hang (the parsers are all linear in their input).
HANG_S = 2.0

Shape = Literal["binary", "lines", "json", "msgpack"]


class Hang(Exception):
    """Raised inside the target by the watchdog when one input runs past HANG_S."""


@dataclass(frozen=True)
class Target:
    """One parser under test: `run` returns an outcome label, or raises one of `declared` for bad input.

    Anything else `run` raises (an invariant's AssertionError included) is a crash.
    """

    name: str
    run: Callable[[bytes], str]
    declared: tuple[type[BaseException], ...]
    shape: Shape = "binary"
    max_len: int = 4096
    # Tokens a text mutator splices in: words the parser reacts to.
    dictionary: tuple[bytes, ...] = ()


@dataclass
class Crash:
    target: str
    kind: str  # the exception's type name
    message: str
    data: bytes
    trace: str

    def describe(self) -> str:
        head = f"{self.target}: {self.kind}: {self.message}"
        return f"{head}\ninput ({len(self.data)} B): {self.data[:400]!r}\n{self.trace}"


@dataclass
class Report:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)  # every distinct result, ok or declared error
    errors: Counter[str] = field(default_factory=Counter)  # declared exceptions by type
    crashes: list[Crash] = field(default_factory=list)
    crash_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        ok = sum(n for label, n in self.outcomes.items() if label.startswith("ok:"))
        lines = [
            f"{self.target}: {self.inputs} inputs in {self.seconds:.1f} s ({self.rate:,.0f}/s); "
            f"accepted {ok}, declared errors {sum(self.errors.values())}, "
            f"unexpected {sum(self.crash_kinds.values())}; distinct outcomes {len(self.outcomes)}",
            "  declared: " + (", ".join(f"{k} {v}" for k, v in self.errors.most_common()) or "none"),
            "  unexpected: " + (", ".join(f"{k} {v}" for k, v in self.crash_kinds.most_common()) or "none"),
        ]
        return "\n".join(lines)


_DIGITS = re.compile(r"\d+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def outcome_of(exc: BaseException) -> str:
    """A declared error's outcome: its type and message with numbers and quoted input folded, i.e. which check fired."""
    text = _QUOTED.sub("'…'", _DIGITS.sub("N", str(exc)))
    return f"err:{type(exc).__name__}:{text[:70]}"


def _drop_event(logger: object, method: str, event: object) -> Any:
    raise structlog.DropEvent


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """structlog off while fuzzing: the control server logs every connection, and a million lines say nothing."""
    old = structlog.get_config()
    structlog.configure(processors=[_drop_event])
    try:
        yield
    finally:
        structlog.configure(**old)


def load_corpus(name: str) -> list[bytes]:
    folder = CORPUS_ROOT / name
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name != "README.md"]


# --- mutators -------------------------------------------------------------------------------------------------

_INTERESTING_8 = (0, 1, 2, 3, 4, 0x0F, 0x10, 0x1F, 0x20, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xBE, 0xC0, 0xC8, 0xDE,
                  0xFE, 0xFF)
_INTERESTING_16 = (0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0x3FF, 0x7FFF, 0x8000, 0xBEDE, 0x1000, 0xFFFE, 0xFFFF)
_INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x2112A442)


class Mutator:
    """Havoc-style mutations (bit flips, interesting values, length-field edits, truncation, splices) over a corpus."""

    def __init__(self, corpus: Sequence[bytes], seed: int, max_len: int, dictionary: Sequence[bytes] = ()) -> None:
        if not corpus:
            raise ValueError("a fuzz target needs a corpus")
        self.corpus = list(corpus)
        self.rng = random.Random(seed)
        self.max_len = max_len
        self.dictionary = list(dictionary)

    def bytes_input(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.03:
            return rng.randbytes(rng.randrange(0, 64))  # now and then something from nowhere
        data = bytearray(rng.choice(self.corpus))
        for _ in range(rng.choice((1, 1, 2, 3, 4, 8))):
            self._mutate(data)
        return bytes(data[: self.max_len])

    def _mutate(self, data: bytearray) -> None:
        rng = self.rng
        op = rng.randrange(12)
        n = len(data)
        if n == 0:
            data += rng.randbytes(rng.randrange(1, 16))
            return
        pos = rng.randrange(n)
        if op == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos] = rng.choice(_INTERESTING_8)
        elif op == 2:
            data[pos] = (data[pos] + rng.randrange(-16, 17)) & 0xFF
        elif op == 3 and n >= 2:
            # Length fields are 16 bits in RTP, RTCP, STUN and the SDES/STAP-A items: set one to a boundary.
            pos = rng.randrange(n - 1)
            value = rng.choice((*_INTERESTING_16, n, n - pos, n + 1, (n - pos) // 4, (n - pos) // 4 + 1))
            struct.pack_into("!H", data, pos, value & 0xFFFF)
        elif op == 4 and n >= 4:
            pos = rng.randrange(n - 3)
            struct.pack_into("!I", data, pos, rng.choice((*_INTERESTING_32, n, rng.getrandbits(32))))
        elif op == 5:
            del data[rng.randrange(n + 1) :]  # truncation
        elif op == 6:
            data += rng.randbytes(rng.randrange(1, 32))
        elif op == 7:
            end = min(n, pos + rng.randrange(1, 33))
            del data[pos:end]
        elif op == 8:
            chunk = data[pos : pos + rng.randrange(1, 33)]
            at = rng.randrange(n + 1)
            data[at:at] = chunk  # duplicate a piece of itself (repeated elements, chunks, items)
        elif op == 9:
            other = rng.choice(self.corpus)
            cut = rng.randrange(len(other) + 1)
            data[pos:] = other[cut:]  # splice: our head, another input's tail
        elif op == 10 and self.dictionary:
            word = rng.choice(self.dictionary)
            data[pos:pos] = word
        else:
            data[pos] = rng.randrange(256)

    # Text: lines are the unit SDP is made of.
    def lines_input(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.5:
            return self.bytes_input()
        lines = rng.choice(self.corpus).split(b"\n")
        for _ in range(rng.choice((1, 1, 2, 3, 6))):
            op = rng.randrange(7)
            i = rng.randrange(len(lines)) if lines else 0
            if not lines:
                lines.append(b"a=")
            elif op == 0:
                del lines[i]
            elif op == 1:
                lines.insert(rng.randrange(len(lines) + 1), lines[i])
            elif op == 2:
                j = rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
            elif op == 3:
                other = rng.choice(self.corpus).split(b"\n")
                lines.insert(i, rng.choice(other))
            elif op == 4:
                words = lines[i].split(b" ")
                k = rng.randrange(len(words))
                words[k] = rng.choice(self.dictionary or [b""])
                lines[i] = b" ".join(words)
            elif op == 5:
                line = bytearray(lines[i])
                self._mutate(line)
                lines[i] = bytes(line)
            else:
                cut = rng.randrange(len(lines[i]) + 1)
                lines[i] = lines[i][:cut] + rng.choice(self.dictionary or [b"0"]) + lines[i][cut:]
        return b"\n".join(lines)[: self.max_len]

    # JSON and msgpack: mutate the decoded tree so most inputs get past the decoder to the checks behind it.
    def json_input(self) -> bytes:
        if self.rng.random() < 0.35:
            return self.bytes_input()
        try:
            tree = json.loads(self.rng.choice(self.corpus))
        except (ValueError, RecursionError):  # the saved deep-nesting crash inputs are in the corpus too
            return self.bytes_input()
        tree = self._mutate_tree(tree, 0)
        text = json.dumps(tree, allow_nan=True)
        colons = [i for i, c in enumerate(text) if c == ":"]
        if colons and self.rng.random() < 0.05:
            # Nesting deeper than any tree the encoders here can write: the size limits say nothing about depth.
            depth = self.rng.choice((1000, 5000, 50_000))
            at = self.rng.choice(colons) + 1
            text = f'{text[:at]} {"[" * depth}0{"]" * depth}, "deep":{text[at:]}'
        return text.encode()[: self.max_len]

    def msgpack_input(self) -> bytes:
        """Control frames: each a 4-byte length and a msgpack map; the tree, the framing or the bytes are mutated."""
        rng = self.rng
        if rng.random() < 0.3:
            return self.bytes_input()
        frames = split_frames(rng.choice(self.corpus))
        if not frames:
            return self.bytes_input()
        out = bytearray()
        for body in frames:
            try:
                tree = msgpack.unpackb(body, raw=False)
            except Exception:  # a corpus of real frames decodes; a mutated splice may not
                out += struct.pack("!I", len(body)) + body
                continue
            if rng.random() < 0.6:
                tree = self._mutate_tree(tree, 0)
            try:
                # surrogatepass: lone surrogates are what a broken peer could send, the server must refuse them.
                packed = msgpack.packb(tree, use_bin_type=True, unicode_errors="surrogatepass")
            except (ValueError, TypeError, OverflowError):  # deeper or larger than msgpack writes: keep the frame
                packed = body
            out += struct.pack("!I", len(packed)) + packed
        if rng.random() < 0.2:
            self._mutate(out)
        return bytes(out[: self.max_len])

    def _mutate_tree(self, node: Any, depth: int) -> Any:
        rng = self.rng
        if isinstance(node, dict) and node and rng.random() < 0.8:
            key = rng.choice(list(node))
            roll = rng.random()
            if roll < 0.15:
                del node[key]
            elif roll < 0.25:
                node[self._scalar()] = self._value(depth)
            else:
                node[key] = self._mutate_tree(node[key], depth + 1)
            return node
        if isinstance(node, list) and node and rng.random() < 0.8:
            i = rng.randrange(len(node))
            roll = rng.random()
            if roll < 0.15:
                del node[i]
            elif roll < 0.3:
                node.insert(i, node[i])
            else:
                node[i] = self._mutate_tree(node[i], depth + 1)
            return node
        return self._value(depth)

    def _scalar(self) -> Any:
        rng = self.rng
        pool: list[Any] = [None, True, False, 0, -1, 1, 2**31, 2**53, -(2**63), 2**64 - 1, 0.5, -0.0, 1e308,
                           "", "x", "audio", "video", "\u0663", "\ud800", "a" * 300, "VP8", "H264"]
        pool += [w.decode("utf-8", "replace") for w in self.dictionary]
        return rng.choice(pool)

    def _value(self, depth: int) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            # Deep, but within what json.dumps and msgpack.packb can write (json_input goes deeper as text).
            nested: Any = self._scalar()
            for _ in range(rng.choice((10, 100, 400))):
                nested = [nested] if rng.random() < 0.5 else {"k": nested}
            return nested
        if roll < 0.15 and depth < 4:
            return [self._value(depth + 1) for _ in range(rng.randrange(4))]
        if roll < 0.25 and depth < 4:
            return {str(self._scalar()): self._value(depth + 1) for _ in range(rng.randrange(3))}
        if roll < 0.3:
            return float(rng.choice(("inf", "-inf", "nan")))
        return self._scalar()

    def next_input(self, shape: Shape) -> bytes:
        if shape == "lines":
            return self.lines_input()
        if shape == "json":
            return self.json_input()
        if shape == "msgpack":
            return self.msgpack_input()
        return self.bytes_input()


def split_frames(data: bytes) -> list[bytes]:
    """The msgpack bodies of a stream of length-prefixed frames, as far as the framing holds."""
    frames = []
    pos = 0
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from("!I", data, pos)
        if pos + 4 + length > len(data):
            break
        frames.append(data[pos + 4 : pos + 4 + length])
        pos += 4 + length
    return frames


# --- running --------------------------------------------------------------------------------------------------


class _Watchdog:
    """SIGALRM a few times per limit; raises Hang in the target when the current input has run past the limit."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.started = time.monotonic()
        self.active = False
        self._previous: Any = None
        self._previous_timer = (0.0, 0.0)
        self._entered = 0.0

    def __enter__(self) -> _Watchdog:
        if hasattr(signal, "setitimer"):
            self._previous = signal.signal(signal.SIGALRM, self._tick)
            tick = min(1.0, self.limit / 3)
            self._entered = time.monotonic()
            self._previous_timer = signal.setitimer(signal.ITIMER_REAL, tick, tick)
        return self

    def __exit__(self, *exc: object) -> None:
        if hasattr(signal, "setitimer"):
            # pytest-timeout arms SIGALRM too: give its handler back with what was left of its timer.
            delay, interval = self._previous_timer
            if delay:
                delay = max(delay - (time.monotonic() - self._entered), 0.001)
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            signal.signal(signal.SIGALRM, self._previous or signal.SIG_DFL)
            signal.setitimer(signal.ITIMER_REAL, delay, interval)

    def _tick(self, signum: int, frame: FrameType | None) -> None:
        if self.active and time.monotonic() - self.started > self.limit:
            self.active = False
            raise Hang(f"one input ran for more than {self.limit} s")


def execute(target: Target, data: bytes, report: Report) -> Crash | None:
    """Run one input and count its outcome; return the crash if it raised anything undeclared."""
    report.inputs += 1
    try:
        label = target.run(data)
    except target.declared as exc:
        report.errors[type(exc).__name__] += 1
        report.outcomes[outcome_of(exc)] += 1
        return None
    except (Exception, RecursionError, MemoryError) as exc:  # everything else is what a fuzzer is for
        kind = type(exc).__name__
        report.crash_kinds[kind] += 1
        report.outcomes[f"crash:{kind}"] += 1
        crash = Crash(target.name, kind, str(exc)[:300], data, traceback.format_exc(limit=8))
        if len(report.crashes) < 20:
            report.crashes.append(crash)
        return crash
    report.outcomes[f"ok:{label}"] += 1
    return None


def fuzz(target: Target, inputs: int, seed: int = 0, corpus: Sequence[bytes] | None = None,
         progress: Callable[[Report], None] | None = None, stop_on_crash: bool = False,
         hang_s: float = HANG_S) -> Report:
    """Every corpus input once, then `inputs` mutated ones (the corpus counts towards `inputs`)."""
    seeds = list(corpus) if corpus is not None else load_corpus(target.name)
    mutator = Mutator(seeds, seed, target.max_len, target.dictionary)
    report = Report(target.name)
    start = time.perf_counter()
    watchdog = _Watchdog(hang_s)
    with watchdog, quiet_logs():
        for index in range(inputs):
            data = seeds[index] if index < len(seeds) else mutator.next_input(target.shape)
            watchdog.started = time.monotonic()
            watchdog.active = True
            crash = execute(target, data, report)
            watchdog.active = False
            if crash is not None and stop_on_crash:
                break
            if progress is not None and index and index % 100_000 == 0:
                report.seconds = time.perf_counter() - start
                progress(report)
    report.seconds = time.perf_counter() - start
    return report
