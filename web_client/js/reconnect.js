// The call's reconnect state machine, without timers or sockets: events and the time go in, actions come out
// (room.js applies them). Same schedule as LiveKit's default policy: at once, then 0.3, 1.2, 2.7, 4.8 s, then
// every ~7 s with jitter, for as long as the server's reconnect window allows; only then "gave up".

export const BACKOFF_MS = [0, 300, 1200, 2700, 4800];
export const STEADY_MS = 7000;
export const JITTER_MS = 1000;
// ICE may flap "disconnected" for a moment on a busy link; only a longer spell is worth a restart.
export const ICE_GRACE_MS = 2000;
// An ICE restart (ours, or the one a resume does) gets this long to work before another replaces it.
export const RESTART_SETTLE_MS = 4000;

export function backoffDelay(attempt, random = Math.random) {
  if (attempt < BACKOFF_MS.length) return BACKOFF_MS[attempt];
  return STEADY_MS + Math.round((random() * 2 - 1) * JITTER_MS);
}

// Phases: "connecting" (first join), "connected", "reconnecting", "gave_up", "ended" (left or a final refusal).
export class ReconnectMachine {
  constructor({ windowMs = 60000, random = Math.random } = {}) {
    this.windowMs = windowMs;
    this.random = random;
    this.phase = "connecting";
    this.since = null; // when the current trouble began
    this.attempt = 0; // socket attempts in this trouble
    this.socketUp = false;
    this.ice = { publisher: "new", subscriber: "new" };
    this.iceBadSince = null;
    this.iceRestarts = 0;
    this.lastRestart = null;
  }

  // One event: {type, ...}; returns a list of actions: {type: "show", state}, {type: "connect", delay},
  // {type: "restart_ice"}, {type: "probe"} (check the socket with a ping now), {type: "check_ice", delay}.
  handle(event, now) {
    if (this.phase === "ended" || this.phase === "gave_up") return [];
    switch (event.type) {
      case "welcome":
        return this.onWelcome(event, now);
      case "socket_lost":
      case "attempt_failed":
        return this.onSocketLost(now);
      case "ice":
        return this.onIce(event.pc, event.state, now);
      case "check_ice":
        return this.checkIce(now);
      case "online":
        return this.phase === "reconnecting" && !this.socketUp
          ? [{ type: "connect", delay: 0 }]
          : [{ type: "probe" }, ...this.restartIfBad(now, true)];
      case "fatal":
      case "leave":
        this.phase = "ended";
        return [];
      default:
        return [];
    }
  }

  onWelcome(event, now) {
    if (typeof event.windowMs === "number" && event.windowMs > 0) this.windowMs = event.windowMs;
    this.socketUp = true;
    this.attempt = 0;
    const wasReconnecting = this.phase === "reconnecting";
    // A resume restarts ICE on both connections (the page its publisher, the server the subscriber).
    if (wasReconnecting) this.lastRestart = now;
    if (this.mediaOk() || !wasReconnecting) {
      this.phase = "connected";
      this.since = null;
      return wasReconnecting ? [{ type: "show", state: "reconnected" }] : [];
    }
    // Signalling is back; media follows (an ICE restart on resume, or new connections on media_reset).
    return [{ type: "check_ice", delay: ICE_GRACE_MS }];
  }

  onSocketLost(now) {
    this.socketUp = false;
    const actions = [];
    if (this.phase !== "reconnecting") {
      this.phase = "reconnecting";
      this.since = this.since ?? now;
      this.attempt = 0;
      actions.push({ type: "show", state: "reconnecting" });
    } else {
      this.attempt += 1;
    }
    if (now - this.since > this.windowMs) {
      this.phase = "gave_up";
      return [{ type: "show", state: "disconnected" }];
    }
    actions.push({ type: "connect", delay: backoffDelay(this.attempt, this.random) });
    return actions;
  }

  onIce(pc, state, now) {
    this.ice[pc] = state;
    if (this.mediaOk()) {
      this.iceBadSince = null;
      this.iceRestarts = 0;
      if (this.phase === "reconnecting" && this.socketUp) {
        this.phase = "connected";
        this.since = null;
        return [{ type: "show", state: "reconnected" }];
      }
      // Media came back by itself, so the network is back: the socket need not wait for its backoff.
      if (this.phase === "reconnecting") return [{ type: "connect", delay: 0 }];
      return [];
    }
    if (state === "disconnected" || state === "failed") {
      if (this.iceBadSince === null) this.iceBadSince = now;
      // "failed" needs a restart at once; "disconnected" may heal by itself within the grace.
      return state === "failed" ? this.restartIfBad(now, true) : [{ type: "check_ice", delay: ICE_GRACE_MS }];
    }
    return [];
  }

  checkIce(now) {
    if (this.mediaOk()) return [];
    return this.restartIfBad(now, false);
  }

  restartIfBad(now, force) {
    if (this.mediaOk() || this.iceBadSince === null) return [];
    if (!force && now - this.iceBadSince < ICE_GRACE_MS) return [{ type: "check_ice", delay: ICE_GRACE_MS }];
    const actions = [];
    if (this.phase === "connected") {
      this.phase = "reconnecting";
      this.since = this.iceBadSince;
      actions.push({ type: "show", state: "reconnecting" });
    }
    const settling = this.lastRestart === null ? 0 : RESTART_SETTLE_MS - (now - this.lastRestart);
    if (settling > 0) {
      actions.push({ type: "check_ice", delay: settling }); // a restart is still under way
      return actions;
    }
    if (now - (this.since ?? now) > this.windowMs) {
      // Media never came back within the window: the server has dropped us by now; the socket decides next.
      actions.push({ type: "probe" });
      return actions;
    }
    // A restart goes through the socket; without one, the resume after the next connect does it.
    if (this.socketUp) {
      actions.push({ type: "restart_ice" });
      this.iceRestarts += 1;
      this.lastRestart = now;
    }
    actions.push({ type: "check_ice", delay: backoffDelay(Math.min(this.iceRestarts + 2, 5), this.random) });
    return actions;
  }

  // Media counts as fine when every connection is connected ("new": not set up yet, nothing to wait for).
  mediaOk() {
    return Object.values(this.ice).every((s) => s === "connected" || s === "completed" || s === "new");
  }

  // A connection was replaced (new peer connections after media_reset): start its state afresh.
  resetIce() {
    this.ice = { publisher: "new", subscriber: "new" };
    this.iceBadSince = null;
  }
}
