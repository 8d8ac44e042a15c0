// The reconnect state machine (web_client/js/reconnect.js) on its own: its schedule, and invariants over
// random event sequences with a seeded generator (a property test without a library).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BACKOFF_MS, ICE_GRACE_MS, JITTER_MS, RESTART_SETTLE_MS, ReconnectMachine, STEADY_MS, backoffDelay,
} from "../../web_client/js/reconnect.js";

function seeded(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

test("the schedule: at once, 0.3, 1.2, 2.7, 4.8 s, then about 7 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => backoffDelay(n)), [0, 300, 1200, 2700, 4800]);
  for (let n = 5; n < 50; n++) {
    const d = backoffDelay(n);
    assert.ok(d >= STEADY_MS - JITTER_MS && d <= STEADY_MS + JITTER_MS, `attempt ${n}: ${d}`);
  }
});

test("a lost socket reconnects on the schedule until the window is over, then gives up", () => {
  const m = new ReconnectMachine({ windowMs: 60000, random: () => 0.5 });
  assert.deepEqual(m.handle({ type: "welcome", windowMs: 60000 }, 0), []);
  let now = 1000;
  let actions = m.handle({ type: "socket_lost" }, now);
  assert.deepEqual(actions, [{ type: "show", state: "reconnecting" }, { type: "connect", delay: 0 }]);
  const delays = [];
  while (true) {
    now += 1000;
    actions = m.handle({ type: "attempt_failed" }, now);
    const connect = actions.find((a) => a.type === "connect");
    if (!connect) break;
    delays.push(connect.delay);
    now += connect.delay;
  }
  assert.deepEqual(delays.slice(0, 4), BACKOFF_MS.slice(1));
  assert.ok(delays.slice(4).every((d) => d === STEADY_MS));
  assert.deepEqual(actions, [{ type: "show", state: "disconnected" }]);
  assert.ok(now - 1000 > 60000 && now - 1000 <= 60000 + STEADY_MS + 1000);
  assert.equal(m.phase, "gave_up");
  assert.deepEqual(m.handle({ type: "socket_lost" }, now + 1), []);
});

test("a resume within the window says reconnected; ICE that stays bad is restarted over the socket", () => {
  const m = new ReconnectMachine({ random: () => 0.5 });
  m.handle({ type: "welcome" }, 0);
  m.handle({ type: "ice", pc: "publisher", state: "connected" }, 0);
  m.handle({ type: "ice", pc: "subscriber", state: "connected" }, 0);
  // ICE goes disconnected: wait for the grace, then restart (the socket is fine).
  assert.deepEqual(m.handle({ type: "ice", pc: "subscriber", state: "disconnected" }, 100),
    [{ type: "check_ice", delay: ICE_GRACE_MS }]);
  const later = m.handle({ type: "check_ice" }, 100 + ICE_GRACE_MS);
  assert.deepEqual(later.slice(0, 2), [{ type: "show", state: "reconnecting" }, { type: "restart_ice" }]);
  assert.deepEqual(m.handle({ type: "ice", pc: "subscriber", state: "connected" }, 5000),
    [{ type: "show", state: "reconnected" }]);
  assert.equal(m.phase, "connected");
});

test("failed ICE restarts at once; the socket coming back with media still down waits for ICE", () => {
  const m = new ReconnectMachine();
  m.handle({ type: "welcome" }, 0);
  m.handle({ type: "ice", pc: "publisher", state: "connected" }, 0);
  assert.ok(m.handle({ type: "ice", pc: "publisher", state: "failed" }, 10).some((a) => a.type === "restart_ice"));
  m.handle({ type: "socket_lost" }, 20);
  const back = m.handle({ type: "welcome" }, 500);
  assert.deepEqual(back, [{ type: "check_ice", delay: ICE_GRACE_MS }]);
  assert.equal(m.phase, "reconnecting");
  assert.deepEqual(m.handle({ type: "ice", pc: "publisher", state: "connected" }, 900),
    [{ type: "show", state: "reconnected" }]);
});

test("a restart under way is not replaced by another before it had time to work", () => {
  const m = new ReconnectMachine({ random: () => 0.5 });
  m.handle({ type: "welcome" }, 0);
  m.handle({ type: "ice", pc: "subscriber", state: "connected" }, 0);
  m.handle({ type: "socket_lost" }, 1000);
  m.handle({ type: "welcome" }, 3000); // resumed: the resume itself restarts ICE
  // ICE only now notices the old path is gone: no second restart while the first settles.
  assert.deepEqual(m.handle({ type: "ice", pc: "subscriber", state: "failed" }, 3500),
    [{ type: "show", state: "reconnecting" }, { type: "check_ice", delay: RESTART_SETTLE_MS - 500 }]);
  const later = m.handle({ type: "check_ice" }, 3000 + RESTART_SETTLE_MS);
  assert.ok(later.some((a) => a.type === "restart_ice"), JSON.stringify(later));
});

test("leaving or a final refusal stops everything", () => {
  const m = new ReconnectMachine();
  m.handle({ type: "welcome" }, 0);
  m.handle({ type: "fatal" }, 1);
  assert.deepEqual(m.handle({ type: "socket_lost" }, 2), []);
  assert.equal(m.phase, "ended");
});

const EVENTS = [
  () => ({ type: "socket_lost" }),
  () => ({ type: "attempt_failed" }),
  () => ({ type: "welcome" }),
  () => ({ type: "online" }),
  () => ({ type: "check_ice" }),
  (r) => ({ type: "ice", pc: r() < 0.5 ? "publisher" : "subscriber",
            state: ["connected", "disconnected", "failed", "checking", "completed"][Math.floor(r() * 5)] }),
];

test("invariants over random event sequences", () => {
  for (let seed = 1; seed <= 500; seed++) {
    const r = seeded(seed);
    const windowMs = 5000 + Math.floor(r() * 60000);
    const m = new ReconnectMachine({ windowMs, random: r });
    let now = 0;
    let shown = "connected";
    let troubleSince = null;
    for (let i = 0; i < 200 && m.phase !== "gave_up"; i++) {
      now += Math.floor(r() * 3000);
      const event = EVENTS[Math.floor(r() * EVENTS.length)](r);
      const before = m.phase;
      const actions = m.handle(event, now);
      if (before !== "reconnecting" && m.phase === "reconnecting") troubleSince = m.since;
      for (const action of actions) {
        if (action.type === "connect") {
          assert.ok(action.delay >= 0 && action.delay <= STEADY_MS + JITTER_MS, `seed ${seed}: delay ${action.delay}`);
          assert.equal(m.socketUp, false, `seed ${seed}: connect while the socket is up`);
        }
        if (action.type === "restart_ice") assert.equal(m.socketUp, true, `seed ${seed}: restart without a socket`);
        if (action.type === "show") {
          // "reconnected" only after "reconnecting"; "disconnected" is the last word.
          if (action.state === "reconnected") assert.equal(shown, "reconnecting", `seed ${seed}`);
          if (action.state === "disconnected") {
            assert.ok(now - troubleSince > windowMs, `seed ${seed}: gave up after ${now - troubleSince} ms`);
          }
          shown = action.state;
        }
      }
      if (m.phase === "connected") assert.ok(m.socketUp, `seed ${seed}: connected without a socket`);
      // ICE bad for longer than the grace, looked at: never still shown as connected.
      const longBad = m.iceBadSince !== null && now - m.iceBadSince >= ICE_GRACE_MS && !m.mediaOk();
      if (event.type === "check_ice" && longBad) assert.notEqual(m.phase, "connected", `seed ${seed}`);
    }
    if (m.phase === "gave_up") assert.deepEqual(m.handle({ type: "socket_lost" }, now + 1), []);
  }
});
