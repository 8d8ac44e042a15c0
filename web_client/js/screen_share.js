// Screen sharing, for everyone. Sending: getDisplayMedia's track goes on a further send-only video
// transceiver of the publisher connection and we offer again (`publish_offer`); the media server publishes a
// video m-line after the camera's as `screen-…`. Stopping sets the transceiver inactive and offers again; the
// server withdraws the publication. Receiving: a track whose publisher track id (the subscriber offer's
// `a=msid`) starts with `screen-` is shown large above the tiles (`screen-share-tile`) instead of in its
// owner's tile; the grid comes back when the gateway says the share ended (`screen_share {active: false}`).

import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { playVideo } from "./media.js";
import { msidTracksByMid } from "./tile_prefs.js";

const NEGOTIATION_TIMEOUT_MS = 10_000;
const SCREEN_PREFIX = "screen-";

export class ScreenShare {
  constructor({ client, grid, signaling, buttonsBox, beforeButton, report }) {
    this.client = client;
    this.grid = grid;
    this.signaling = signaling;
    this.report = report;
    this.transceiver = null; // ours, kept and reused: m-lines are never removed
    this.track = null;
    this.chain = Promise.resolve(); // one offer at a time on the publisher connection
    this.shares = new Map(); // publisher participant id -> {trackId, track} of remote shares, newest last
    this.tile = null;
    this.button = document.createElement("button");
    this.button.type = "button";
    this.button.className = "control";
    this.button.dataset.testid = "share-screen";
    this.button.setAttribute("aria-pressed", "false");
    const holder = document.createElement("span");
    holder.className = "control-icon";
    holder.appendChild(icon("screen"));
    const label = document.createElement("span");
    label.className = "control-label";
    label.textContent = t("share_screen.start");
    this.button.append(holder, label);
    // The phone layout hides the label (display: none); aria-labelledby still names the button by it.
    label.id = "share-screen-label";
    this.button.setAttribute("aria-labelledby", label.id);
    // Phones (and some tablets) cannot share a screen at all: no button that could only fail.
    this.button.hidden = !canShareScreen();
    this.render();
    this.button.addEventListener("click", () => (this.track ? this.stop() : this.start()));
    buttonsBox.insertBefore(this.button, beforeButton);
    signaling
      .on("screen_share", (message) => {
        if (!message.active) this.forget(message.participant_id, message.track_id);
      })
      .on("participant_left", (message) => this.forget(message.participant_id, null))
      .on("force_mute", (message) => {
        if (message.kind !== "video") return;
        if (this.track) this.stop(); // the host's video off covers the screen too (the server blocks it)
        this.button.disabled = true;
      })
      .on("unmute_allowed", (message) => {
        if (message.kind === "video") this.button.disabled = false;
      });
  }

  get sharing() {
    return this.track !== null;
  }

  async start() {
    const publisher = this.client.publisher;
    if (!publisher || this.track || this.client.media.blocked.video) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch (err) {
      if (err.name !== "NotAllowedError" && err.name !== "AbortError") {
        this.report(t("share_screen.error.start", { error: err.message }));
      }
      return;
    }
    const [track] = stream.getVideoTracks();
    track.contentHint = "detail"; // text stays sharp; the encoder drops frames rather than resolution
    track.onended = () => this.stop(); // the browser's own "Stop sharing"
    this.track = track;
    this.render();
    if (this.transceiver) {
      await this.transceiver.sender.replaceTrack(track);
      this.transceiver.direction = "sendonly";
    } else {
      this.transceiver = publisher.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    }
    await this.renegotiate();
  }

  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.onended = null;
    track.stop();
    this.render();
    if (!this.transceiver || this.client.publisher.signalingState === "closed") return;
    await this.transceiver.sender.replaceTrack(null);
    this.transceiver.direction = "inactive";
    await this.renegotiate();
  }

  // A new publisher offer once the previous exchange is done; room.js applies the answer (publish_answer).
  renegotiate() {
    this.chain = this.chain.then(async () => {
      const pc = this.client.publisher;
      await stable(pc);
      if (pc.signalingState === "closed") return;
      await pc.setLocalDescription(await pc.createOffer());
      this.signaling.send("publish_offer", { sdp: pc.localDescription.sdp });
      await stable(pc);
    }).catch((err) => {
      console.error("screen share: renegotiation failed", err);
      this.report(t("share_screen.error.failed", { error: err.message }));
    });
    return this.chain;
  }

  // Called first for every remote track: takes screen shares (true) and leaves cameras and microphones.
  claim(event) {
    const subscriber = this.client.subscriber;
    const description = subscriber && subscriber.remoteDescription;
    const mid = event.transceiver && event.transceiver.mid;
    if (!description || mid === null || event.track.kind !== "video") return false;
    const trackId = msidTracksByMid(description.sdp).get(mid);
    if (!trackId || !trackId.startsWith(SCREEN_PREFIX)) return false;
    const [stream] = event.streams;
    if (!stream) return true;
    // The screen has its publisher's stream id like the camera, so the browser put it in the stream that the
    // owner's tile plays: take it out there, the tile keeps the camera.
    stream.removeTrack(event.track);
    this.shares.delete(stream.id);
    this.shares.set(stream.id, { trackId, track: event.track });
    this.show();
    return true;
  }

  forget(participantId, trackId) {
    const share = this.shares.get(participantId);
    if (!share || (trackId !== null && share.trackId !== trackId)) return;
    this.shares.delete(participantId);
    this.show();
  }

  // The newest remote share large above the tiles, or the grid back as it was when there is none.
  show() {
    const newest = [...this.shares.entries()].at(-1);
    if (!newest) {
      if (this.tile) {
        this.tile.querySelector("video").srcObject = null;
        this.tile.remove();
        this.tile = null;
      }
      this.grid.container.classList.remove("screen-sharing");
      this.grid.layout();
      return;
    }
    const [participantId, { track }] = newest;
    if (!this.tile) this.tile = createScreenTile();
    this.tile.dataset.participantId = participantId;
    const owner = this.grid.tile(participantId);
    const name = owner ? owner.querySelector(".name").textContent : "";
    // textContent: never HTML
    this.tile.querySelector(".name").textContent = name ? t("share_screen.presenting", { name })
      : t("share_screen.presenting_someone");
    const video = this.tile.querySelector("video");
    if (!video.srcObject || video.srcObject.getVideoTracks()[0] !== track) {
      video.srcObject = new MediaStream([track]);
      playVideo(video);
    }
    this.grid.container.classList.add("screen-sharing");
    if (this.grid.container.firstElementChild !== this.tile) this.grid.container.prepend(this.tile);
  }

  render() {
    const on = this.track !== null;
    if (on) this.button.dataset.state = "on";
    else delete this.button.dataset.state; // not "off": that styles a device that is off (red)
    this.button.setAttribute("aria-pressed", String(on));
    this.button.querySelector(".control-label").textContent = on ? t("share_screen.stop") : t("share_screen.start");
    this.button.title = on ? t("share_screen.stop_hint") : t("share_screen.start_hint");
  }

  close() {
    if (this.track) {
      this.track.onended = null;
      this.track.stop();
      this.track = null;
    }
    this.shares.clear();
    this.show();
  }
}

function canShareScreen() {
  return Boolean(navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === "function");
}

function createScreenTile() {
  const tile = document.createElement("figure");
  tile.className = "tile screen-share-tile";
  tile.dataset.testid = "screen-share-tile";
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // a screen share carries no sound here
  const bar = document.createElement("figcaption");
  bar.className = "name-bar";
  const label = document.createElement("span");
  label.className = "name";
  bar.append(label);
  tile.append(video, bar);
  return tile;
}

// Resolves once the connection has no offer outstanding (or is closed); rejects after a timeout.
function stable(pc) {
  if (pc.signalingState === "stable" || pc.signalingState === "closed") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pc.removeEventListener("signalingstatechange", check);
      reject(new Error("no answer from the server"));
    }, NEGOTIATION_TIMEOUT_MS);
    function check() {
      if (pc.signalingState !== "stable" && pc.signalingState !== "closed") return;
      clearTimeout(timer);
      pc.removeEventListener("signalingstatechange", check);
      resolve();
    }
    pc.addEventListener("signalingstatechange", check);
  });
}
