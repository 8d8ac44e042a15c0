// This page's own camera and microphone: each one is on exactly when a live track is held for it.
// Turning one off stops its track (the camera light goes off); turning it on opens the device again.

import { t } from "./i18n.js";

const KINDS = ["audio", "video"];
// 1280x720 is what the top simulcast layer is for; without a size Chrome opens cameras at 640x480,
// which its encoder splits into two layers only.
const CAPTURE = { video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: {} };

export class LocalMedia {
  // `micId` / `cameraId`: the devices to prefer (from the pre-join pickers); any device when absent or gone.
  constructor({ micId = null, cameraId = null } = {}) {
    this.tracks = { audio: null, video: null };
    this.deviceIds = { audio: micId, video: cameraId };
    this.generation = { audio: 0, video: 0 };
    this.onended = null; // (kind) => void: a device was unplugged or its permission revoked
  }

  isOn(kind) {
    const track = this.tracks[kind];
    return track !== null && track.readyState === "live";
  }

  track(kind) {
    return this.isOn(kind) ? this.tracks[kind] : null;
  }

  state() {
    return { audio: this.isOn("audio"), video: this.isOn("video") };
  }

  // A stream of the live tracks (for a preview element or a msid).
  stream(kinds = KINDS) {
    return new MediaStream(kinds.map((kind) => this.track(kind)).filter(Boolean));
  }

  // Opens what `wanted` ({audio, video}) asks for in one getUserMedia call (one permission prompt), then one
  // kind at a time if that fails (a laptop whose camera is busy can still send sound). Returns the error per
  // wanted kind that stayed off: {audio: Error|null, video: Error|null}.
  async start(wanted) {
    const kinds = KINDS.filter((kind) => wanted[kind]);
    const errors = { audio: null, video: null };
    if (kinds.length === 0) return errors;
    if (kinds.length > 1) {
      const generations = { ...this.generation };
      try {
        const stream = await openDevices(kinds, this.deviceIds);
        for (const track of stream.getTracks()) {
          if (this.generation[track.kind] === generations[track.kind]) this.adopt(track);
          else track.stop(); // turned off while the prompt was open
        }
        return errors;
      } catch (err) {
        console.info(`local media: ${kinds.join("+")} together failed (${err.name}); trying one at a time`);
      }
    }
    for (const kind of kinds) {
      try {
        await this.turnOn(kind);
      } catch (err) {
        errors[kind] = err;
      }
    }
    return errors;
  }

  async turnOn(kind) {
    if (this.isOn(kind)) return this.tracks[kind];
    const generation = ++this.generation[kind];
    const stream = await openDevices([kind], this.deviceIds);
    const [track] = stream.getTracks();
    if (this.generation[kind] !== generation) {
      // Turned off (or on again) while the device was opening: this track is no longer wanted.
      track.stop();
      throw new DOMException(`${kind} was switched again while opening`, "AbortError");
    }
    this.adopt(track);
    return track;
  }

  turnOff(kind) {
    this.generation[kind] += 1;
    const track = this.tracks[kind];
    this.tracks[kind] = null;
    if (track) {
      track.onended = null;
      track.stop();
    }
  }

  // Uses another device from now on; an open one is reopened on it. Returns the new track or null.
  async switchDevice(kind, deviceId) {
    this.deviceIds[kind] = deviceId || null;
    if (!this.isOn(kind)) return null;
    this.turnOff(kind);
    return this.turnOn(kind);
  }

  stopAll() {
    for (const kind of KINDS) this.turnOff(kind);
  }

  adopt(track) {
    const kind = track.kind;
    const previous = this.tracks[kind];
    if (previous && previous !== track) previous.stop();
    this.tracks[kind] = track;
    // Remember the device actually in use, so the pickers and the call page show and reuse it.
    const settings = track.getSettings ? track.getSettings() : {};
    if (settings.deviceId) this.deviceIds[kind] = settings.deviceId;
    track.onended = () => {
      if (this.tracks[kind] !== track) return;
      this.tracks[kind] = null;
      if (this.onended) this.onended(kind);
    };
  }
}

// getUserMedia for `kinds`, on the preferred devices when they still exist (else on any device).
async function openDevices(kinds, deviceIds) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new DOMException("camera and microphone need a secure (https) page", "NotSupportedError");
  }
  const exact = {};
  const any = {};
  for (const kind of kinds) {
    exact[kind] = deviceIds[kind] ? { ...CAPTURE[kind], deviceId: { exact: deviceIds[kind] } } : { ...CAPTURE[kind] };
    any[kind] = { ...CAPTURE[kind] };
  }
  try {
    return await navigator.mediaDevices.getUserMedia(exact);
  } catch (err) {
    const stale = err.name === "OverconstrainedError" || err.name === "NotFoundError";
    if (!stale || kinds.every((kind) => !deviceIds[kind])) throw err;
    return navigator.mediaDevices.getUserMedia(any); // the chosen device was unplugged since
  }
}

// Off localhost, browsers give a plain-http page no camera or microphone at all: say so, and what to do.
export function insecureContextNotice() {
  // Judged by what the browser offers, not by isSecureContext alone: a browser configured to allow media on
  // this address (Firefox's media.getusermedia.insecure.enabled) gives getUserMedia on an insecure page.
  if (window.isSecureContext || (navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return null;
  return t("media.error.insecure", { origin: window.location.origin });
}

// A sentence for a getUserMedia failure, for the people who have to act on it.
export function describeMediaError(kind, err) {
  // One key per device: Ukrainian declines "camera" and "microphone" differently in each sentence.
  // i18n-keys: media.error.blocked.camera media.error.blocked.microphone media.error.not_found.camera
  // i18n-keys: media.error.not_found.microphone media.error.busy.camera media.error.busy.microphone
  // i18n-keys: media.error.needs_https.camera media.error.needs_https.microphone media.error.other.camera
  // i18n-keys: media.error.other.microphone
  const device = kind === "video" ? "camera" : "microphone";
  const name = err && err.name;
  let reason = "other";
  if (name === "NotAllowedError" || name === "SecurityError") reason = "blocked";
  else if (name === "NotFoundError" || name === "OverconstrainedError") reason = "not_found";
  else if (name === "NotReadableError") reason = "busy";
  else if (name === "NotSupportedError") reason = "needs_https";
  return t(`media.error.${reason}.${device}`, { error: name || "?" });
}
