// Sound bars on each tile: how loud that person is right now (0-3 bars), from the audio the browser receives
// or, for our own tile, what the microphone captures.

const POLL_MS = 150;
// audioLevel is linear 0..1 (RFC 6464's -dBov mapped by the browser); these are roughly -34, -22 and -14 dBov.
const THRESHOLDS = [0.02, 0.08, 0.2];

export function barsFor(audioLevel) {
  return THRESHOLDS.filter((threshold) => audioLevel >= threshold).length;
}

export class SoundBars {
  constructor({ client, grid, localTile }) {
    this.client = client;
    this.grid = grid;
    this.localTile = localTile;
    this.addBars(localTile);
    grid.tileHooks.push((tile) => this.addBars(tile));
    this.timer = setInterval(() => this.poll().catch(() => {}), POLL_MS);
  }

  addBars(tile) {
    const nameBar = tile.querySelector(".name-bar");
    if (!nameBar || nameBar.querySelector(".sound-bars")) return;
    const bars = document.createElement("span");
    bars.className = "sound-bars";
    bars.dataset.testid = "sound-bars";
    bars.dataset.level = "0";
    bars.setAttribute("aria-hidden", "true"); // the speaker highlight and the mic indicator say it in words
    for (let i = 0; i < THRESHOLDS.length; i += 1) bars.append(document.createElement("i"));
    nameBar.append(bars);
  }

  async poll() {
    const { publisher, subscriber } = this.client;
    if (publisher) this.show(this.localTile, await localLevel(publisher));
    if (!subscriber) return;
    // inbound-rtp's audioLevel (what is being played), by the received track's id: the synchronization
    // sources carry no level in Chromium for our forwarded audio.
    const levels = new Map();
    (await subscriber.getStats()).forEach((entry) => {
      if (entry.type === "inbound-rtp" && entry.kind === "audio") levels.set(entry.trackIdentifier, entry.audioLevel || 0);
    });
    for (const tile of document.querySelectorAll('[data-testid="participant-tile"]')) {
      const stream = tile.querySelector("video")?.srcObject;
      const track = stream ? stream.getAudioTracks()[0] : null;
      this.show(tile, track ? levels.get(track.id) || 0 : 0);
    }
  }

  show(tile, audioLevel) {
    const bars = tile.querySelector(".sound-bars");
    if (bars) bars.dataset.level = String(barsFor(audioLevel));
  }

  close() {
    clearInterval(this.timer);
  }
}

async function localLevel(publisher) {
  let level = 0;
  const report = await publisher.getStats();
  report.forEach((entry) => {
    if (entry.type === "media-source" && entry.kind === "audio") level = entry.audioLevel || 0;
  });
  return level;
}
