// One video tile: video, avatar for when the camera is off, name label, mic-off / camera-off indicators,
// and an empty `.tile-actions` box where other features put per-tile buttons (e.g. pin).

import { icon } from "./icons.js";
import { t } from "./i18n.js";

// Builds a remote participant's tile (the local tile is in room.html with the same structure).
export function createTileElement(participantId, name = "") {
  const tile = document.createElement("figure");
  tile.className = "tile";
  tile.dataset.testid = "participant-tile";
  tile.dataset.participantId = participantId;
  // room.css shows it over a tile whose connection dropped (CSS cannot read the catalog).
  tile.dataset.reconnectingLabel = t("room.status.reconnecting");

  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;

  const avatar = document.createElement("div");
  avatar.className = "avatar";
  avatar.setAttribute("aria-hidden", "true");
  const initial = document.createElement("span");
  initial.className = "avatar-initial";
  avatar.appendChild(initial);

  const bar = document.createElement("figcaption");
  bar.className = "name-bar";
  const label = document.createElement("span");
  label.className = "name";
  bar.append(label, indicator("mic-off-indicator", "micOff", t("room.mic_off")));
  bar.append(indicator("camera-off-indicator", "cameraOff", t("room.camera_off")));

  const actions = document.createElement("div");
  actions.className = "tile-actions";

  tile.append(video, avatar, bar, actions);
  setTileName(tile, name);
  return tile;
}

function indicator(testid, iconName, title) {
  const badge = document.createElement("span");
  badge.className = "indicator";
  badge.dataset.testid = testid;
  badge.title = title;
  badge.setAttribute("role", "img");
  badge.setAttribute("aria-label", title);
  badge.hidden = true;
  badge.appendChild(icon(iconName));
  return badge;
}

// Fills the (static) local tile's indicator holders, so it matches createTileElement's tiles.
export function prepareLocalTile(tile) {
  for (const [testid, iconName] of [
    ["mic-off-indicator", "micOff"],
    ["camera-off-indicator", "cameraOff"],
  ]) {
    const badge = tile.querySelector(`[data-testid="${testid}"]`);
    if (badge && !badge.firstChild) badge.appendChild(icon(iconName));
  }
}

export function setTileName(tile, name) {
  if (!name) return;
  tile.querySelector(".name").textContent = name; // textContent: names are never HTML
  tile.querySelector(".avatar-initial").textContent = initialOf(name);
  tile.setAttribute("aria-label", name);
}

// `state` is {audio, video}; a missing field leaves that indicator as it is.
export function setTileMedia(tile, state) {
  if (typeof state.audio === "boolean") {
    tile.dataset.audio = state.audio ? "on" : "off";
    tile.querySelector('[data-testid="mic-off-indicator"]').hidden = state.audio;
  }
  if (typeof state.video === "boolean") {
    tile.dataset.video = state.video ? "on" : "off";
    tile.querySelector('[data-testid="camera-off-indicator"]').hidden = state.video;
  }
}

// The first letter as a person reads it (a whole emoji or accented letter, not half a surrogate pair).
export function initialOf(name) {
  const trimmed = name.trim();
  if (!trimmed) return "?";
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    const [first] = new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(trimmed);
    return first.segment.toLocaleUpperCase();
  }
  return Array.from(trimmed)[0].toLocaleUpperCase();
}
