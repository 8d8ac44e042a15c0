// The tiles of the call page: the local tile plus one per remote participant, laid out by layout.js so the
// tiles are as large as the stage allows at 16:9, for any head count and window shape.

import { bestLayout } from "./layout.js";
import { Spotlight } from "./spotlight.js";
import { createTileElement, setTileMedia, setTileName } from "./tiles.js";

const PLACEHOLDER_PREFIX = "placeholder-";
const PHONE_QUERY = "(max-width: 600px)"; // as room.css's phone rules
const MAX_TILES = 20; // a meeting's size limit: debugFill never goes past it

export class Grid {
  // `container` is the grid element (its parent, the stage, is the area measured); `localTile` is in it.
  constructor(container, localTile) {
    this.container = container;
    this.stage = container.parentElement;
    this.localTile = localTile;
    this.tiles = new Map(); // remote participant id -> tile element
    this.media = new Map(); // participant id -> {audio, video}, kept for tiles created later (by a track)
    // Extra per-tile controls: each hook gets (tile, participantId) for every new remote tile and can add
    // buttons to the tile's `.tile-actions` box.
    this.tileHooks = [];
    this.spotlight = new Spotlight(container, (id) => this.tile(id)); // pin one remote tile large
    this.resizeObserver = new ResizeObserver(() => this.layout());
    this.resizeObserver.observe(this.stage);
    this.updateCount();
  }

  get count() {
    return this.tiles.size + 1; // + the local tile
  }

  tile(participantId) {
    return this.tiles.get(participantId) || null;
  }

  // Idempotent: the same participant can be announced by welcome, by participant_joined, or first by a track.
  ensureTile(participantId, name) {
    let tile = this.tiles.get(participantId);
    if (!tile) {
      tile = createTileElement(participantId, name || "");
      const media = this.media.get(participantId);
      if (media) setTileMedia(tile, media);
      this.tiles.set(participantId, tile);
      this.container.appendChild(tile);
      this.spotlight.addButton(tile, participantId);
      for (const hook of this.tileHooks) hook(tile, participantId);
      this.updateCount();
    }
    if (name) setTileName(tile, name);
    return tile;
  }

  // Microphone / camera state of a remote participant, shown as indicators on its tile.
  setMedia(participantId, state) {
    const known = { ...this.media.get(participantId) };
    if (typeof state.audio === "boolean") known.audio = state.audio;
    if (typeof state.video === "boolean") known.video = state.video;
    this.media.set(participantId, known);
    const tile = this.tiles.get(participantId);
    if (tile) setTileMedia(tile, known);
  }

  // A remote video this browser cannot decode (`info`: {track_id, codec}), or null once one it can arrives:
  // the tile shows the avatar and says why, rather than staying black.
  setUnavailable(participantId, info) {
    const tile = info ? this.ensureTile(participantId, null) : this.tiles.get(participantId);
    if (!tile) return;
    let note = tile.querySelector('[data-testid="tile-unavailable"]');
    if (!info) {
      delete tile.dataset.unavailable;
      if (note) note.remove();
      return;
    }
    tile.dataset.unavailable = info.track_id;
    if (!note) {
      note = document.createElement("p");
      note.className = "tile-notice";
      note.dataset.testid = "tile-unavailable";
      tile.appendChild(note);
    }
    note.textContent = `This browser cannot play this video (${info.codec}). Chrome or Safari can.`;
  }

  // The server's word on a remote track this browser cannot decode: `active` shows why, false (the track is
  // gone: its sender switched codec or stopped it) takes that note away.
  onTrackUnavailable(message) {
    const tile = this.tiles.get(message.participant_id);
    if (message.active !== false) this.setUnavailable(message.participant_id, message);
    else if (tile && tile.dataset.unavailable === message.track_id) this.setUnavailable(message.participant_id, null);
  }

  video(participantId) {
    const tile = this.tiles.get(participantId);
    return tile ? tile.querySelector("video") : null;
  }

  removeTile(participantId) {
    const tile = this.tiles.get(participantId);
    this.media.delete(participantId);
    if (!tile) return;
    const video = tile.querySelector("video");
    video.srcObject = null;
    tile.remove();
    this.tiles.delete(participantId);
    this.spotlight.forget(participantId);
    this.updateCount();
  }

  // Another participant's socket dropped (false) or came back (true): its tile stays, marked meanwhile.
  setConnection(participantId, connected) {
    const tile = this.tiles.get(participantId);
    if (tile) tile.dataset.connection = connected ? "connected" : "reconnecting";
  }

  clear() {
    for (const id of [...this.tiles.keys()]) this.removeTile(id);
  }

  // Test hook: adds placeholder tiles (no media; only this page sees them) until the grid holds `total`
  // tiles, so the real layout can be checked for every head count without 20 browsers. Returns the count.
  debugFill(total) {
    for (const id of [...this.tiles.keys()]) if (id.startsWith(PLACEHOLDER_PREFIX)) this.removeTile(id);
    const wanted = Math.min(Math.max(Math.floor(Number(total)) || 1, 1), MAX_TILES);
    for (let i = 1; this.count < wanted; i += 1) {
      const id = `${PLACEHOLDER_PREFIX}${i}`;
      this.setMedia(id, { audio: false, video: false });
      this.ensureTile(id, `Guest ${i}`).dataset.placeholder = "true";
    }
    return this.count;
  }

  updateCount() {
    this.container.dataset.count = String(this.count);
    this.layout();
  }

  // Sizes the tiles (CSS variables read by room.css); the spotlight view has its own CSS layout.
  layout() {
    const style = getComputedStyle(this.stage);
    const width = this.stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = this.stage.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    if (width <= 0 || height <= 0) return; // not rendered yet; the ResizeObserver calls again
    const gap = parseFloat(getComputedStyle(this.container).columnGap) || 0;
    // On a phone our own tile is a small picture in a corner (room.css): the grid is the others' tiles.
    const corner = this.count >= 2 && window.matchMedia(PHONE_QUERY).matches;
    this.container.dataset.selfView = corner ? "corner" : "tile";
    const layout = bestLayout(corner ? this.count - 1 : this.count, width, height, { gap });
    const vars = {
      "--tile-width": `${layout.tileWidth}px`,
      "--tile-height": `${layout.tileHeight}px`,
      "--grid-width": `${layout.width}px`,
      "--grid-height": `${layout.height}px`,
    };
    for (const [name, value] of Object.entries(vars)) this.container.style.setProperty(name, value);
    this.container.dataset.cols = String(layout.cols);
    this.container.dataset.rows = String(layout.rows);
  }

  close() {
    this.resizeObserver.disconnect();
  }
}
