// Each tile's connection quality (the `connection_quality` message: the media server's score of that
// participant's worse direction, smoothed so it drops at once and rises after a few seconds), as a small
// bars indicator in the tile's name bar, our own tile included.
//
// Shown only when the connection is poor or lost, as Google Meet does: in a grid of twenty, twenty green
// bars say nothing, while the bars appearing on one tile explain why that video froze or blurred. The level
// is on every tile all the same (`data-quality`, and the indicator's `data-level` and accessible name); the
// host's panel lists every level and MOS.
//
// No i18n.js import here (node tests import this module and i18n.js fetches its catalog): the call page
// passes its `t` in, and the words are the catalog's `quality.*` keys.

// i18n-keys: quality.level.excellent quality.level.good quality.level.poor quality.level.lost quality.level.unknown
// i18n-keys: quality.name quality.title
const LEVELS = new Set(["excellent", "good", "poor", "lost"]);
const BARS = { excellent: 3, good: 2, poor: 1, lost: 0 };
const SHOWN = new Set(["poor", "lost"]);

// What the indicator shows for a level (pure: tested under node); `t(key, fields)` gives the words.
export function qualityView(level, mos, t) {
  const known = LEVELS.has(level) ? level : "unknown";
  const name = t("quality.name", { level: t(`quality.level.${known}`) });
  return {
    level: known,
    bars: BARS[level] ?? 0,
    hidden: !SHOWN.has(level),
    name,
    title: typeof mos === "number" && level !== "lost" ? t("quality.title", { name, mos: mos.toFixed(1) }) : name,
  };
}

export class ConnectionQuality {
  // `tileOf(participantId)` finds a tile (remote or our own); new remote tiles come through grid.tileHooks.
  constructor(signaling, grid, tileOf, t) {
    this.tileOf = tileOf;
    this.t = t;
    this.levels = new Map(); // participant id -> {level, mos}, for tiles created after the message
    grid.tileHooks.push((tile, participantId) => {
      const known = this.levels.get(participantId);
      if (known) render(tile, qualityView(known.level, known.mos, this.t));
    });
    signaling
      .on("connection_quality", (message) => this.set(message.participant_id, message.level, message.mos))
      .on("participant_left", (message) => this.levels.delete(message.participant_id));
  }

  set(participantId, level, mos) {
    if (typeof participantId !== "string" || !LEVELS.has(level)) return;
    this.levels.set(participantId, { level, mos });
    const tile = this.tileOf(participantId);
    if (tile) render(tile, qualityView(level, mos, this.t));
  }
}

function render(tile, view) {
  tile.dataset.quality = view.level;
  const indicator = tile.querySelector('[data-testid="connection-quality"]') || createIndicator(tile);
  indicator.dataset.level = view.level;
  indicator.dataset.bars = String(view.bars);
  indicator.setAttribute("aria-label", view.name);
  indicator.title = view.title;
  indicator.hidden = view.hidden;
}

function createIndicator(tile) {
  const indicator = document.createElement("span");
  indicator.className = "quality-indicator";
  indicator.dataset.testid = "connection-quality";
  indicator.setAttribute("role", "img");
  for (let i = 1; i <= 3; i += 1) {
    const bar = document.createElement("span");
    bar.className = `quality-bar bar-${i}`;
    indicator.appendChild(bar);
  }
  const bar = tile.querySelector(".name-bar");
  (bar || tile).appendChild(indicator);
  return indicator;
}
