"""The bots' reconnect policy: the Python twin of the web client's state machine (web_client/js/reconnect.js).

Pure: events and the time go in, actions come out, and `GatewayBot` (bot.py) applies them. Same schedule as the
web client (LiveKit's default policy): at once, then 0.3, 1.2, 2.7, 4.8 s, then every 7 s +/- 1 s of jitter, for
as long as the server's reconnect window (60 s from the start of the trouble, `welcome.reconnect_window_s`)
allows; an attempt that fails after the window is over ends in "gave_up", and nothing is done after that.

The socket half of reconnect.js is ported as it is (events `welcome`, `socket_lost`, `attempt_failed`,
`online`, `fatal`, `leave`). Its ICE half (`ice` / `check_ice` events, `restart_ice` actions) is not: a bot
has no ICE connection state to watch. It restarts ICE on both connections on every resume, as the web client's
publisher does, and how long media takes to come back is what the load generator measures, not acts on.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass

# The schedule, as BACKOFF_MS / STEADY_MS / JITTER_MS in reconnect.js (seconds here).
BACKOFF_S: tuple[float, ...] = (0.0, 0.3, 1.2, 2.7, 4.8)
STEADY_S = 7.0
JITTER_S = 1.0
# The gateway's reconnect window (its welcome says so in `reconnect_window_s`); 60 s until the first welcome.
DEFAULT_WINDOW_S = 60.0
# web_client/js/signaling.js: a ping every 2 s, and 5 s without hearing anything is a dead socket.
PING_INTERVAL_S = 2.0
SILENCE_S = 5.0
# A connect attempt that has not opened by then is abandoned (signaling.js CONNECT_TIMEOUT_MS).
CONNECT_TIMEOUT_S = 6.0
# room.js: while the socket is down, GET /healthz every 2 s (1.5 s timeout); an answer means "online".
REACHABILITY_S = 2.0
REACHABILITY_TIMEOUT_S = 1.5

CONNECTING = "connecting"  # the first join, before its welcome
CONNECTED = "connected"
RECONNECTING = "reconnecting"
GAVE_UP = "gave_up"
ENDED = "ended"  # left, or a final refusal (unauthorized, removed, meeting ended)


def backoff_delay(attempt: int, random: Callable[[], float] = _random.random) -> float:
    """Seconds before attempt `attempt` (0 = the first attempt after the loss) of one trouble."""
    if attempt < len(BACKOFF_S):
        return BACKOFF_S[attempt]
    # Rounded to the millisecond, as reconnect.js does with Math.round on milliseconds.
    return STEADY_S + round((random() * 2 - 1) * JITTER_S * 1000) / 1000


@dataclass(frozen=True)
class Connect:
    """Open a socket (with the reconnect token) after `delay` seconds; replaces a connect already scheduled."""

    delay: float


@dataclass(frozen=True)
class Show:
    """What the web client would show: "reconnecting", "reconnected" or "disconnected" (it gave up)."""

    state: str


@dataclass(frozen=True)
class Probe:
    """Check the socket now with a ping (the silence rule then decides)."""


Action = Connect | Show | Probe


class ReconnectPolicy:
    """reconnect.js's ReconnectMachine without its ICE half; `phase` is one of the constants above."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, random: Callable[[], float] = _random.random) -> None:
        self.window_s = window_s
        self.random = random
        self.phase = CONNECTING
        self.since: float | None = None  # when the current trouble began
        self.attempt = 0  # socket attempts in this trouble
        self.socket_up = False

    @property
    def finished(self) -> bool:
        return self.phase in (GAVE_UP, ENDED)

    def welcome(self, now: float, window_s: float | None = None) -> list[Action]:
        """A welcome arrived on a new socket (the first join or a reconnect)."""
        if self.finished:
            return []
        if window_s is not None and window_s > 0:
            self.window_s = window_s
        self.socket_up = True
        self.attempt = 0
        was_reconnecting = self.phase == RECONNECTING
        # reconnect.js waits for ICE here when media is not fine; a bot's media is never "not fine" to it.
        self.phase = CONNECTED
        self.since = None
        return [Show("reconnected")] if was_reconnecting else []

    def socket_lost(self, now: float) -> list[Action]:
        """The socket closed (not by us) or went silent."""
        return self._lost(now)

    def attempt_failed(self, now: float) -> list[Action]:
        """A connect attempt did not get as far as a welcome."""
        return self._lost(now)

    def _lost(self, now: float) -> list[Action]:
        if self.finished:
            return []
        self.socket_up = False
        actions: list[Action] = []
        if self.phase != RECONNECTING:
            self.phase = RECONNECTING
            self.since = now if self.since is None else self.since
            self.attempt = 0
            actions.append(Show("reconnecting"))
        else:
            self.attempt += 1
        assert self.since is not None
        if now - self.since > self.window_s:
            self.phase = GAVE_UP
            return [Show("disconnected")]
        actions.append(Connect(backoff_delay(self.attempt, self.random)))
        return actions

    def online(self, now: float) -> list[Action]:
        """The network answers again (the reachability probe): connect at once instead of waiting."""
        if self.finished:
            return []
        if self.phase == RECONNECTING and not self.socket_up:
            return [Connect(0.0)]
        return [Probe()]

    def fatal(self) -> list[Action]:
        """A final refusal: no retry would change the gateway's answer."""
        if not self.finished:
            self.phase = ENDED
        return []

    def leave(self) -> list[Action]:
        if not self.finished:
            self.phase = ENDED
        return []
