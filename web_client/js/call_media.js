// The call page's own camera and microphone: the mic / camera buttons, the local tile, the publisher's
// tracks (replaceTrack, no renegotiation) and telling the others with `media_state`.

import { t } from "./i18n.js";
import { setIcon } from "./icons.js";
import { LocalMedia, describeMediaError, insecureContextNotice } from "./local_media.js";
import { playVideo } from "./media.js";
import { setTileMedia } from "./tiles.js";

// Catalog keys of each button's name while the device is on (what a press does: turn it off) and off.
// i18n-keys: room.media.mic_off room.media.mic_on room.media.camera_off room.media.camera_on
// i18n-keys: room.media.camera_stopped room.media.mic_stopped
const LABELS = {
  audio: { on: "room.media.mic_off", off: "room.media.mic_on", icons: ["mic", "micOff"] },
  video: { on: "room.media.camera_off", off: "room.media.camera_on", icons: ["camera", "cameraOff"] },
};

export class CallMedia {
  // `prefs`: the pre-join choices; `buttons`: {audio, video} toggle buttons; `report(text)` shows a problem.
  constructor({ prefs, localTile, localVideo, buttons, report }) {
    this.prefs = prefs;
    this.local = new LocalMedia({ micId: prefs.micId, cameraId: prefs.cameraId });
    this.localTile = localTile;
    this.localVideo = localVideo;
    this.buttons = buttons;
    this.report = report;
    this.publisher = null;
    this.signaling = null;
    this.busy = { audio: false, video: false };
    // Turned off by the host (moderation.js): the button stays disabled until the host allows it again.
    this.blocked = { audio: false, video: false };
    this.onchange = null; // () => void, after every change of state
    this.local.onended = (kind) => {
      this.report(t(kind === "video" ? "room.media.camera_stopped" : "room.media.mic_stopped"));
      this.apply(kind, null);
    };
    for (const kind of ["audio", "video"]) {
      buttons[kind].addEventListener("click", () => this.toggle(kind));
    }
    this.render();
  }

  get state() {
    return this.local.state();
  }

  // Opens the devices the pre-join page left on. A refusal is reported; the call goes on without them.
  async start() {
    const insecure = insecureContextNotice();
    if (insecure) {
      this.report(insecure);
      this.render();
      return;
    }
    const errors = await this.local.start({ audio: this.prefs.audio, video: this.prefs.video });
    const problems = ["video", "audio"].filter((kind) => errors[kind]).map((k) => describeMediaError(k, errors[k]));
    if (problems.length > 0) this.report(`${problems.join(" ")} You can still see and hear the others.`);
    await this.showLocalVideo();
    this.render();
  }

  // The publisher always gets both transceivers (see peers.js), whatever is on right now.
  publish(publisher) {
    this.publisher = publisher;
    return publisher.publish(this.local.stream());
  }

  // The others learn our state from the WebSocket URL at join; this repeats it once joined, in case a button
  // was pressed while connecting (the gateway ignores a repeat).
  connected(signaling) {
    this.signaling = signaling;
    this.announce();
  }

  announce() {
    if (this.signaling) this.signaling.send("media_state", this.state);
  }

  async toggle(kind) {
    if (this.busy[kind] || this.blocked[kind]) return;
    this.busy[kind] = true;
    this.render();
    try {
      if (this.local.isOn(kind)) {
        this.local.turnOff(kind); // stops the track: the camera light goes off
        await this.apply(kind, null);
      } else {
        const track = await this.local.turnOn(kind);
        await this.apply(kind, track);
      }
    } catch (err) {
      if (err.name !== "AbortError") this.report(describeMediaError(kind, err));
    } finally {
      this.busy[kind] = false;
      this.render();
    }
  }

  async apply(kind, track) {
    if (this.publisher) {
      try {
        await this.publisher.setTrack(kind, track);
      } catch (err) {
        console.error(`publisher: replaceTrack(${kind}) failed`, err);
      }
    }
    if (kind === "video") await this.showLocalVideo();
    this.render();
    this.announce();
    if (this.onchange) this.onchange();
  }

  async showLocalVideo() {
    const track = this.local.track("video");
    const current = this.localVideo.srcObject;
    const showing = current ? current.getVideoTracks()[0] : null;
    if (showing === track) return;
    this.localVideo.srcObject = track ? new MediaStream([track]) : null;
    if (track) await playVideo(this.localVideo);
  }

  render() {
    const state = this.state;
    setTileMedia(this.localTile, state);
    for (const kind of ["audio", "video"]) {
      const button = this.buttons[kind];
      const on = state[kind];
      const labels = LABELS[kind];
      button.dataset.state = on ? "on" : "off";
      button.setAttribute("aria-label", t(on ? labels.on : labels.off));
      button.title = t(on ? labels.on : labels.off);
      button.disabled = this.busy[kind] || this.blocked[kind];
      button.dataset.blocked = String(this.blocked[kind]);
      const holder = button.querySelector(".control-icon");
      const name = on ? labels.icons[0] : labels.icons[1];
      if (holder && holder.dataset.icon !== name) setIcon(holder, name);
    }
  }

  // The host turned this kind off: the device goes off here too, and the button stays disabled until
  // unblock(). The media server already stopped forwarding it; this is what the person sees.
  async block(kind) {
    this.blocked[kind] = true;
    this.local.turnOff(kind); // also cancels a device still opening
    await this.apply(kind, null);
  }

  unblock(kind) {
    this.blocked[kind] = false;
    this.render();
  }

  stop() {
    this.local.stopAll();
    this.localVideo.srcObject = null;
  }
}
