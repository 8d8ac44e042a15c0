"""The bots' reconnect policy (benchmarks/loadtest/reconnect.py): the web client's schedule, as property tests."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.loadtest import reconnect as rc
from benchmarks.loadtest.reconnect import Connect, Probe, ReconnectPolicy, Show, backoff_delay

JS = Path(__file__).resolve().parents[2] / "web_client" / "js"


def js_constant(file: str, name: str) -> str:
    match = re.search(rf"\b{name}\s*=\s*([^;]+);", (JS / file).read_text())
    assert match, f"{name} not found in {file}"
    return match.group(1).strip()


def test_the_schedule_constants_are_the_web_clients() -> None:
    backoff = [int(v) / 1000 for v in js_constant("reconnect.js", "BACKOFF_MS").strip("[]").split(",")]
    assert tuple(backoff) == rc.BACKOFF_S
    assert int(js_constant("reconnect.js", "STEADY_MS")) / 1000 == rc.STEADY_S
    assert int(js_constant("reconnect.js", "JITTER_MS")) / 1000 == rc.JITTER_S
    window = re.search(r"windowMs = (\d+)", (JS / "reconnect.js").read_text())
    assert window and int(window.group(1)) / 1000 == rc.DEFAULT_WINDOW_S
    assert int(js_constant("signaling.js", "PING_MS")) / 1000 == rc.PING_INTERVAL_S
    assert int(js_constant("signaling.js", "SILENCE_MS")) / 1000 == rc.SILENCE_S
    assert int(js_constant("signaling.js", "CONNECT_TIMEOUT_MS")) / 1000 == rc.CONNECT_TIMEOUT_S
    assert int(js_constant("room.js", "REACHABILITY_MS")) / 1000 == rc.REACHABILITY_S


@given(attempt=st.integers(0, 10_000), r=st.floats(0, 1, exclude_max=True))
def test_delays_follow_the_schedule(attempt: int, r: float) -> None:
    delay = backoff_delay(attempt, lambda: r)
    if attempt < len(rc.BACKOFF_S):
        assert delay == rc.BACKOFF_S[attempt]
    else:
        assert rc.STEADY_S - rc.JITTER_S <= delay <= rc.STEADY_S + rc.JITTER_S
        assert delay == rc.STEADY_S + round((r * 2 - 1) * 1000) / 1000


def test_a_lost_socket_is_retried_on_the_schedule_until_the_window_is_over() -> None:
    # The web client's own test (tests/web_client/reconnect.test.mjs), same numbers.
    policy = ReconnectPolicy(random=lambda: 0.5)
    assert policy.welcome(0.0, 60.0) == []
    now = 1.0
    assert policy.socket_lost(now) == [Show("reconnecting"), Connect(0.0)]
    delays = []
    while True:
        now += 1.0  # each attempt takes a second to fail
        actions = policy.attempt_failed(now)
        connect = next((a for a in actions if isinstance(a, Connect)), None)
        if connect is None:
            break
        delays.append(connect.delay)
        now += connect.delay
    assert delays[:4] == list(rc.BACKOFF_S[1:])
    assert all(d == rc.STEADY_S for d in delays[4:])
    assert actions == [Show("disconnected")]
    assert 60.0 < now - 1.0 <= 60.0 + rc.STEADY_S + 1.0
    assert policy.phase == rc.GAVE_UP
    assert policy.socket_lost(now + 1) == [] and policy.online(now + 2) == [] and policy.welcome(now + 3) == []


def test_a_welcome_ends_the_trouble_and_the_next_loss_starts_the_schedule_again() -> None:
    policy = ReconnectPolicy(random=lambda: 0.5)
    policy.welcome(0.0)
    policy.socket_lost(10.0)
    policy.attempt_failed(10.5)
    assert policy.online(11.0) == [Connect(0.0)]  # the network answers: at once, not after the backoff
    assert policy.welcome(11.2, 30.0) == [Show("reconnected")]
    assert policy.phase == rc.CONNECTED and policy.window_s == 30.0
    assert policy.online(12.0) == [Probe()]
    assert policy.socket_lost(100.0) == [Show("reconnecting"), Connect(0.0)]
    assert policy.since == 100.0


def test_a_final_refusal_stops_everything() -> None:
    policy = ReconnectPolicy()
    policy.welcome(0.0)
    assert policy.fatal() == []
    assert policy.socket_lost(1.0) == [] and policy.phase == rc.ENDED


EVENTS = st.sampled_from(["socket_lost", "attempt_failed", "welcome", "online"])


@settings(max_examples=400)
@given(window=st.floats(1.0, 120.0), r=st.floats(0, 1, exclude_max=True),
       events=st.lists(st.tuples(EVENTS, st.floats(0.0, 15.0)), max_size=120))
def test_invariants_over_random_event_sequences(window: float, r: float, events: list[tuple[str, float]]) -> None:
    policy = ReconnectPolicy(window_s=window, random=lambda: r)
    policy.welcome(0.0)
    now = 0.0
    trouble_since: float | None = None  # the model: when this trouble began, and losses counted in it
    losses = 0
    shown = "connected"
    for kind, step in events:
        now += step
        finished_before = policy.finished
        socket_up_before = policy.socket_up
        actions = getattr(policy, kind)(now)
        if finished_before:
            assert actions == [], "acted after giving up"
            assert policy.phase == rc.GAVE_UP
            continue
        connects = [a for a in actions if isinstance(a, Connect)]
        shows = [a.state for a in actions if isinstance(a, Show)]
        if kind in ("socket_lost", "attempt_failed"):
            if trouble_since is None:
                trouble_since, losses = now, 0
            else:
                losses += 1
            if now - trouble_since > window:
                assert actions == [Show("disconnected")]
                assert policy.phase == rc.GAVE_UP
            else:
                # Within the window every loss is retried, on the schedule.
                assert connects == [Connect(backoff_delay(losses, lambda: r))]
                assert policy.phase == rc.RECONNECTING
        elif kind == "welcome":
            trouble_since = None
            assert connects == [] and policy.phase == rc.CONNECTED and policy.socket_up
        elif kind == "online":
            assert connects == ([Connect(0.0)] if not socket_up_before else [])
        for state in shows:
            if state == "reconnected":
                assert shown == "reconnecting"
            if state == "disconnected":
                assert trouble_since is not None and now - trouble_since > window, "gave up inside the window"
            shown = state
        if connects:
            assert not policy.socket_up, "a connect while the socket is up"
    if policy.phase == rc.GAVE_UP:
        assert policy.socket_lost(now + 1) == [] and policy.attempt_failed(now + 2) == []
