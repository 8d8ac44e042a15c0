// The host's live call statistics (`call_stats`, every ~2 s, from the media server's RTCP view): the call's
// duration, and per participant the bitrate both ways, packet loss, jitter, round-trip time, the connection
// quality level and MOS its tiles show (connection_quality.js draws those from their own message), and a
// small chart of the bitrates.

import { t } from "./i18n.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const HISTORY = 30; // samples per chart: a minute at the gateway's pace
const CHART = { width: 120, height: 28 };
// i18n-keys: stats.quality.excellent stats.quality.good stats.quality.poor stats.quality.lost
const QUALITIES = new Set(["excellent", "good", "poor", "lost"]);

// A figure with its unit, as the language writes it ("120 кбіт/с"); a percentage is the same in both.
const KBPS = (value) => t("stats.figure.kbps", { value });
const MS = (value) => t("stats.figure.ms", { value });
const PERCENT = (value) => `${value} %`;

export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function kbps(bps) {
  return typeof bps === "number" ? Math.round(bps / 1000) : null;
}

export class CallStats {
  constructor(parent) {
    this.rows = new Map(); // participant id -> {element, history: {up: [], down: []}}
    this.durationBase = null; // {seconds, at}: the server's duration and when we got it
    this.section = document.createElement("section");
    this.section.className = "call-stats";
    this.section.dataset.testid = "call-stats";
    const heading = document.createElement("h3");
    heading.textContent = t("stats.heading");
    const duration = document.createElement("p");
    duration.className = "call-duration";
    this.duration = document.createElement("span");
    this.duration.dataset.testid = "call-duration";
    this.duration.textContent = "00:00";
    duration.append(`${t("stats.duration")} `, this.duration);
    this.list = document.createElement("div");
    this.list.className = "stats-rows";
    this.section.append(heading, duration, this.list);
    parent.appendChild(this.section);
    // The duration moves every second between the server's updates.
    this.timer = setInterval(() => this.renderDuration(), 1000);
  }

  update(message) {
    this.durationBase = { seconds: Number(message.duration_s) || 0, at: performance.now() };
    this.renderDuration();
    const seen = new Set();
    for (const row of message.participants || []) {
      seen.add(row.id);
      this.renderRow(row);
    }
    for (const [id, entry] of this.rows) {
      if (!seen.has(id)) {
        entry.element.remove();
        this.rows.delete(id);
      }
    }
  }

  renderDuration() {
    if (!this.durationBase) return;
    const { seconds, at } = this.durationBase;
    this.duration.textContent = formatDuration(seconds + (performance.now() - at) / 1000);
  }

  renderRow(row) {
    let entry = this.rows.get(row.id);
    if (!entry) {
      entry = { element: createRow(row.id), history: { up: [], down: [] } };
      this.rows.set(row.id, entry);
      this.list.appendChild(entry.element);
    }
    const { element, history } = entry;
    const up = row.uplink || {};
    const down = row.downlink || {};
    element.querySelector(".stats-name").textContent = row.is_host ? t("stats.host_name", { name: row.name }) : row.name;
    const quality = element.querySelector('[data-testid="stat-quality"]');
    const known = QUALITIES.has(row.quality);
    quality.dataset.quality = known ? row.quality : "unknown";
    const level = known ? t(`stats.quality.${row.quality}`) : "–";
    const withMos = typeof row.mos === "number" && row.quality !== "lost";
    quality.textContent = known && withMos ? t("stats.quality_mos", { level, mos: row.mos.toFixed(1) }) : level;
    if (typeof row.mos === "number") quality.dataset.mos = String(row.mos);
    else delete quality.dataset.mos;
    const path = element.querySelector('[data-testid="stat-path"]');
    path.dataset.path = row.relayed ? "relayed" : "direct";
    path.textContent = row.relayed ? t("stats.path.relayed") : t("stats.path.direct");
    setFigure(element, "stat-uplink-bitrate", kbps(up.bitrate_bps), KBPS);
    setFigure(element, "stat-downlink-bitrate", kbps(down.bitrate_bps), KBPS);
    const loss = Math.max(Number(up.loss) || 0, Number(down.loss) || 0);
    setFigure(element, "stat-loss", row.uplink || row.downlink ? Math.round(loss * 1000) / 10 : null, PERCENT);
    setFigure(element, "stat-jitter", typeof down.jitter_ms === "number" ? down.jitter_ms : null, MS);
    setFigure(element, "stat-rtt", typeof down.rtt_ms === "number" ? Math.round(down.rtt_ms) : null, MS);
    push(history.up, kbps(up.bitrate_bps) || 0);
    push(history.down, kbps(down.bitrate_bps) || 0);
    drawChart(element.querySelector(".sparkline"), history);
  }

  close() {
    clearInterval(this.timer);
  }
}

function push(list, value) {
  list.push(value);
  if (list.length > HISTORY) list.shift();
}

function createRow(participantId) {
  const element = document.createElement("div");
  element.className = "stats-row";
  element.dataset.testid = "stats-row";
  element.dataset.participantId = participantId;
  const header = document.createElement("div");
  header.className = "stats-header";
  const name = document.createElement("span");
  name.className = "stats-name";
  const quality = document.createElement("span");
  quality.className = "quality-badge";
  quality.dataset.testid = "stat-quality";
  const path = document.createElement("span");
  path.className = "path-badge";
  path.dataset.testid = "stat-path"; // direct to the media server, or relayed through TURN
  header.append(name, quality, path);
  const figures = document.createElement("dl");
  figures.className = "stats-figures";
  for (const [testid, label] of [
    ["stat-uplink-bitrate", t("stats.up")],
    ["stat-downlink-bitrate", t("stats.down")],
    ["stat-loss", t("stats.loss")],
    ["stat-jitter", t("stats.jitter")],
    ["stat-rtt", t("stats.rtt")],
  ]) {
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.dataset.testid = testid;
    value.textContent = "–";
    figures.append(term, value);
  }
  const chart = document.createElementNS(SVG_NS, "svg");
  chart.setAttribute("class", "sparkline");
  chart.setAttribute("viewBox", `0 0 ${CHART.width} ${CHART.height}`);
  chart.setAttribute("preserveAspectRatio", "none");
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-label", t("stats.chart_label"));
  for (const cls of ["spark-up", "spark-down"]) {
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("class", cls);
    chart.appendChild(line);
  }
  element.append(header, figures, chart);
  return element;
}

// The raw number goes in data-value (tests and tooltips), the text with its unit (`format(value)`).
function setFigure(row, testid, value, format) {
  const cell = row.querySelector(`[data-testid="${testid}"]`);
  if (value === null || Number.isNaN(value)) {
    cell.textContent = "–";
    delete cell.dataset.value;
    return;
  }
  cell.dataset.value = String(value);
  cell.textContent = format(value);
}

// Both bitrates on one scale (the larger of the two histories), newest on the right.
function drawChart(svg, history) {
  const top = Math.max(1, ...history.up, ...history.down);
  const step = CHART.width / (HISTORY - 1);
  const points = (values) => {
    const offset = HISTORY - values.length;
    return values
      .map((v, i) => `${((offset + i) * step).toFixed(1)},${(CHART.height - 1 - (v / top) * (CHART.height - 2)).toFixed(1)}`)
      .join(" ");
  };
  svg.querySelector(".spark-up").setAttribute("points", points(history.up));
  svg.querySelector(".spark-down").setAttribute("points", points(history.down));
  svg.dataset.samples = String(history.down.length);
}
