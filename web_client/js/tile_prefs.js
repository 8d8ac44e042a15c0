// Tells the media server how large each remote video is drawn and whether it can be seen, so it forwards
// the smallest simulcast layer that looks sharp (and nothing for a hidden tile), as LiveKit's adaptive
// stream does. Sent as `video_prefs {prefs: [{track_id, width, height, visible}]}`, at most every MIN_GAP_MS.

const MIN_GAP_MS = 250;

// mid -> publisher track id from the subscriber connection's remote offer (`a=msid:<participant> <track>`).
// The receiving track's own id is made up by the browser, so the offer is the only reliable source.
export function msidTracksByMid(sdp) {
  const byMid = new Map();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section);
    const msid = /^a=msid:\S+ (\S+)/m.exec(section);
    if (mid && msid) byMid.set(mid[1], msid[1]);
  }
  return byMid;
}

export class TilePrefsReporter {
  // `subscriber` is the subscriber RTCPeerConnection, `send(prefs)` delivers one message.
  constructor(subscriber, send) {
    this.subscriber = subscriber;
    this.send = send;
    this.tiles = new Map(); // participant id -> tile element
    this.intersecting = new Map(); // tile element -> boolean from the IntersectionObserver
    this.lastSent = "";
    this.lastAt = -Infinity;
    this.timer = null;
    this.sdpSeen = null;
    this.tracksByMid = new Map();
    this.closed = false;
    this.resizeObserver = new ResizeObserver(() => this.schedule());
    this.intersectionObserver = new IntersectionObserver((entries) => {
      for (const entry of entries) this.intersecting.set(entry.target, entry.isIntersecting);
      this.schedule();
    });
    this.onVisibility = () => this.schedule();
    document.addEventListener("visibilitychange", this.onVisibility);
    // A new offer can move a track to another m-line (slots are reused): recompute once it is applied.
    this.onSignaling = () => this.subscriber.signalingState === "stable" && this.schedule();
    subscriber.addEventListener("signalingstatechange", this.onSignaling);
  }

  observe(participantId, tile) {
    if (this.tiles.get(participantId) === tile) return;
    this.forget(participantId);
    this.tiles.set(participantId, tile);
    this.resizeObserver.observe(tile);
    this.intersectionObserver.observe(tile);
    this.schedule();
  }

  forget(participantId) {
    const tile = this.tiles.get(participantId);
    if (!tile) return;
    this.tiles.delete(participantId);
    this.intersecting.delete(tile);
    this.resizeObserver.unobserve(tile);
    this.intersectionObserver.unobserve(tile);
    this.schedule();
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.resizeObserver.disconnect();
    this.intersectionObserver.disconnect();
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.subscriber.removeEventListener("signalingstatechange", this.onSignaling);
  }

  // Debounced: layout changes come in bursts (a pin moves every tile); one message per MIN_GAP_MS at most.
  schedule() {
    if (this.closed || this.timer !== null) return;
    const wait = Math.max(MIN_GAP_MS - (performance.now() - this.lastAt), 0);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.report();
    }, wait);
  }

  report() {
    if (this.closed) return;
    const prefs = this.collect();
    const text = JSON.stringify(prefs);
    if (prefs.length === 0 || text === this.lastSent) return;
    if (this.send(prefs)) {
      this.lastSent = text;
      this.lastAt = performance.now();
    }
  }

  collect() {
    const pageVisible = document.visibilityState === "visible";
    const ratio = window.devicePixelRatio || 1;
    const prefs = [];
    for (const tile of this.tiles.values()) {
      const video = tile.querySelector("video");
      const trackId = video && this.publisherTrackId(video.srcObject);
      if (!trackId) continue;
      const rect = video.getBoundingClientRect();
      const width = Math.round(rect.width * ratio);
      const height = Math.round(rect.height * ratio);
      const visible = pageVisible && width > 0 && height > 0 && this.intersecting.get(tile) !== false;
      prefs.push({ track_id: trackId, width, height, visible });
    }
    prefs.sort((a, b) => (a.track_id < b.track_id ? -1 : 1)); // stable text: unchanged layouts send nothing
    return prefs;
  }

  // The publisher's track id of the video in `stream`: receiving track -> transceiver -> mid -> msid.
  publisherTrackId(stream) {
    if (!stream) return null;
    const [track] = stream.getVideoTracks();
    if (!track) return null;
    const description = this.subscriber.remoteDescription;
    if (!description) return null;
    if (description.sdp !== this.sdpSeen) {
      this.sdpSeen = description.sdp;
      this.tracksByMid = msidTracksByMid(description.sdp);
    }
    const transceiver = this.subscriber.getTransceivers().find((t) => t.receiver.track === track);
    if (!transceiver || transceiver.mid === null) return null;
    return this.tracksByMid.get(transceiver.mid) || null;
  }
}
