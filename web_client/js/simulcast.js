// Publisher-side simulcast: the camera's three encodings, dynacast (the server pauses layers nobody
// watches) and loss adaptation (we pause our own top layer while our uplink loses packets).
//
// A layer is active iff dynacast wants it AND loss adaptation allows it; both only ever toggle
// `encodings[i].active` through one serialized setParameters path, so they cannot undo each other.

// Lowest first: the media server ranks layers by their order in the simulcast line (q < h < f).
// L1T3 gives the server temporal layers to drop before it has to switch spatial layers.
export const SIMULCAST_LAYERS = Object.freeze([
  Object.freeze({ rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: "L1T3" }),
  Object.freeze({ rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: "L1T3" }),
  Object.freeze({ rid: "f", scaleResolutionDownBy: 1, maxBitrate: 1_700_000, scalabilityMode: "L1T3" }),
]);

// Our outbound loss from the server's receiver reports (DESIGN §5): > 10 % in two samples in a row
// steps down, ≤ 2 % for CLEAN_FOR_UP_MS steps back up one level at a time.
export const LOSS_HIGH = 0.1;
export const LOSS_CLEAN = 0.02;
export const CLEAN_FOR_UP_MS = 10_000;
export const STATS_INTERVAL_MS = 2_000;
// When only the lowest layer is left, loss adaptation lowers its bitrate instead (never below the floor).
const BITRATE_SCALE_STEP = 0.5;
const MIN_BITRATE = 60_000;

// Adds the camera's send-only transceiver with the simulcast encodings. `trackOrNull` may be null (camera
// off): the encodings belong to the transceiver, so a track set later with replaceTrack is sent as simulcast.
export function addCameraTransceiver(pc, trackOrNull, streams) {
  return pc.addTransceiver(trackOrNull || "video", {
    direction: "sendonly",
    streams,
    sendEncodings: SIMULCAST_LAYERS.map((layer) => ({ ...layer })),
  });
}

// The loss-adaptation decision alone (no WebRTC), so it can be tested with made-up samples.
export class LossAdaptation {
  constructor() {
    this.lossyInARow = 0;
    this.cleanSince = null;
    this.level = 0; // how many steps down we are
    this.stepsDown = 0;
    this.stepsUp = 0;
    this.lastLoss = null;
  }

  // One loss sample (0..1) at time `now` (ms); returns -1 to step down, +1 to step up, 0 to stay.
  onSample(loss, now) {
    this.lastLoss = loss;
    if (loss > LOSS_HIGH) {
      this.cleanSince = null;
      this.lossyInARow += 1;
      if (this.lossyInARow < 2) return 0;
      this.lossyInARow = 0; // the next step needs two fresh samples that see this one's effect
      this.level += 1;
      this.stepsDown += 1;
      return -1;
    }
    this.lossyInARow = 0;
    if (loss > LOSS_CLEAN) {
      this.cleanSince = null;
      return 0;
    }
    if (this.cleanSince === null) this.cleanSince = now;
    if (this.level > 0 && now - this.cleanSince >= CLEAN_FOR_UP_MS) {
      this.level -= 1;
      this.stepsUp += 1;
      this.cleanSince = now; // each further step up needs its own clean period: no flapping
      return 1;
    }
    return 0;
  }

  // A step down that had nothing left to pause is taken back, so recovery does not wait for it.
  undoStep() {
    if (this.level > 0) this.level -= 1;
  }
}

// Loss over one stats interval from the sender's report: Δ packetsLost (the server's receiver reports)
// over Δ packetsSent, summed over the layers. Returns null when there is nothing to judge.
export function lossSample(previous, current) {
  let sent = 0;
  let lost = 0;
  for (const [ssrc, now] of current) {
    const before = previous.get(ssrc);
    if (!before || now.packetsLost === null) continue;
    sent += Math.max(now.packetsSent - before.packetsSent, 0);
    lost += Math.max(now.packetsLost - before.packetsLost, 0);
  }
  if (sent <= 0) return null;
  return Math.min(lost / sent, 1);
}

// Per outbound SSRC: {rid, packetsSent, packetsLost (null before the first receiver report)}.
export function senderCounters(report) {
  const remote = new Map();
  report.forEach((r) => {
    if (r.type === "remote-inbound-rtp" && r.kind === "video") remote.set(r.localId, r);
  });
  const counters = new Map();
  report.forEach((r) => {
    if (r.type !== "outbound-rtp" || r.kind !== "video") return;
    const rr = remote.get(r.id);
    counters.set(r.ssrc, {
      rid: r.rid || null,
      packetsSent: r.packetsSent || 0,
      packetsLost: rr && typeof rr.packetsLost === "number" ? rr.packetsLost : null,
    });
  });
  return counters;
}

export class SimulcastSender {
  constructor(sender, { log = console } = {}) {
    this.sender = sender;
    this.log = log;
    this.rids = SIMULCAST_LAYERS.map((layer) => layer.rid);
    this.wanted = new Set(this.rids); // dynacast: the server starts by wanting every layer
    this.lossPaused = []; // rids paused for loss, most recent last (restored in reverse order)
    this.bitrateScale = 1;
    this.adaptation = new LossAdaptation();
    this.counters = new Map();
    this.chain = Promise.resolve();
    this.timer = null;
    this.closed = false;
  }

  // Keeps the resolution of every layer under CPU or bandwidth pressure (a plain sender would scale
  // down instead), then starts watching our outbound loss.
  start() {
    this.enqueue((params) => {
      params.degradationPreference = "maintain-resolution";
    });
    this.timer = setInterval(() => this.poll().catch((err) => this.log.warn("simulcast: stats failed", err)),
      STATS_INTERVAL_MS);
  }

  close() {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  // A `layers_needed` message: ours unless it names a screen share (the server's ids say which: `screen-…`).
  onLayersNeeded(message) {
    if (typeof message.track_id === "string" && message.track_id.startsWith("screen-")) return;
    if (Array.isArray(message.rids)) this.setNeeded(message.rids);
  }

  // Dynacast from the server: the rids some subscriber needs (unknown rids are ignored).
  setNeeded(rids) {
    const wanted = new Set(rids.filter((rid) => this.rids.includes(rid)));
    wanted.add(this.rids[0]); // the lowest layer always runs: a newcomer's first frames come from it
    this.wanted = wanted;
    this.log.info(`simulcast: dynacast wants ${[...wanted].join(",")}`);
    this.applyActive();
  }

  state() {
    return {
      wanted: [...this.wanted],
      lossPaused: [...this.lossPaused],
      bitrateScale: this.bitrateScale,
      lossLevel: this.adaptation.level,
      lastLoss: this.adaptation.lastLoss,
      stepsDown: this.adaptation.stepsDown,
      stepsUp: this.adaptation.stepsUp,
    };
  }

  async poll() {
    if (this.closed) return;
    const counters = senderCounters(await this.sender.getStats());
    const loss = lossSample(this.counters, counters);
    this.counters = counters;
    if (loss === null) return;
    const decision = this.adaptation.onSample(loss, performance.now());
    const percent = (loss * 100).toFixed(1);
    if (decision < 0) this.stepDown(percent);
    else if (decision > 0) this.stepUp(percent);
  }

  stepDown(percent) {
    // The top layer that is actually running: pausing one dynacast already paused would change nothing.
    const candidates = this.rids.slice(1).filter((rid) => this.wanted.has(rid) && !this.lossPaused.includes(rid));
    if (candidates.length > 0) {
      const rid = candidates[candidates.length - 1];
      this.lossPaused.push(rid);
      this.log.info(`simulcast: pausing layer ${rid}: outbound loss ${percent}% in two samples in a row`);
      this.applyActive();
    } else if (this.bitrateScale * SIMULCAST_LAYERS[0].maxBitrate > MIN_BITRATE) {
      this.bitrateScale *= BITRATE_SCALE_STEP;
      this.log.info(`simulcast: bitrate x${this.bitrateScale}: outbound loss ${percent}% on the lowest layer`);
      this.applyActive();
    } else {
      this.adaptation.undoStep();
    }
  }

  stepUp(percent) {
    // Undo in reverse order: the bitrate cut came last, so it goes first.
    if (this.bitrateScale < 1) {
      this.bitrateScale = Math.min(this.bitrateScale / BITRATE_SCALE_STEP, 1);
      this.log.info(`simulcast: bitrate x${this.bitrateScale}: outbound loss ${percent}%, clean for a while`);
    } else if (this.lossPaused.length > 0) {
      const rid = this.lossPaused.pop();
      this.log.info(`simulcast: resuming layer ${rid}: outbound loss ${percent}%, clean for a while`);
    } else {
      return;
    }
    this.applyActive();
  }

  applyActive() {
    this.enqueue((params) => {
      for (const encoding of params.encodings) {
        const layer = SIMULCAST_LAYERS.find((l) => l.rid === encoding.rid);
        if (!layer) continue;
        encoding.active = this.wanted.has(layer.rid) && !this.lossPaused.includes(layer.rid);
        encoding.maxBitrate = Math.max(Math.round(layer.maxBitrate * this.bitrateScale), MIN_BITRATE);
      }
    });
  }

  // setParameters needs the transaction of the latest getParameters and allows one call in flight:
  // every change goes through this chain, edits the current parameters and keeps the layer order.
  enqueue(edit) {
    this.chain = this.chain
      .then(async () => {
        if (this.closed) return;
        const params = this.sender.getParameters();
        if (!params.encodings || params.encodings.length === 0) return;
        edit(params);
        await this.sender.setParameters(params);
      })
      .catch((err) => this.log.warn("simulcast: setParameters failed", err));
    return this.chain;
  }
}
