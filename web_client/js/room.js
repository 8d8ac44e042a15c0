// The call page: local preview, signaling, one publisher and one subscriber connection, remote tiles.

import { startCallFeatures } from "./call_features.js";
import { CallMedia } from "./call_media.js";
import { ClientReporter } from "./client_report.js";
import { codecFromQuery } from "./codecs.js";
import { loadCallPrefs, saveCallPrefs } from "./call_prefs.js";
import { Grid } from "./grid.js";
import { hydrateIcons } from "./icons.js";
import { playVideo } from "./media.js";
import { Publisher, Subscriber, isRelayed, useIceServers } from "./peers.js";
import { ReconnectMachine } from "./reconnect.js";
import { SignalingChannel } from "./signaling.js";
import { TilePrefsReporter } from "./tile_prefs.js";
import { initialOf, prepareLocalTile } from "./tiles.js";
import { t } from "./i18n.js";

const meetingId = document.body.dataset.meetingId;
const localTile = document.getElementById("local-tile");
const localVideo = document.getElementById("local-video");
const statusBar = document.getElementById("status");
hydrateIcons();
prepareLocalTile(localTile);
const grid = new Grid(document.getElementById("grid"), localTile);
// Camera and microphone as chosen on the pre-join page (the host, who has none, starts with both on).
const callMedia = new CallMedia({
  prefs: loadCallPrefs(meetingId),
  localTile,
  localVideo,
  buttons: { audio: document.getElementById("toggle-mic"), video: document.getElementById("toggle-camera") },
  report: (text) => showStatus(text, { bad: true }),
});

// Tests and the console read live state from here: publisher and subscriber are the RTCPeerConnections.
const client = {
  meetingId,
  participantId: null,
  name: null,
  isHost: false,
  ws: null,
  publisher: null,
  subscriber: null,
  localStream: null,
  signaling: null,
  left: false,
  grid, // tests add placeholder tiles through this to lay out a full meeting (grid.debugFill)
  media: callMedia,
  simulcast: null, // the camera's SimulcastSender (dynacast and loss-adaptation state)
  connection: "connecting", // connecting | connected | reconnecting | disconnected (also body[data-connection])
  reconnects: [], // {at, kind}: each time the call came back (tests and the console read these)
  relayed: false, // our media goes through TURN
  turnRenewals: 0, // TURN credentials fetched again before they expired
};
window.meetingClient = client;
// Media reached, time to first frame, browser and OS families: the gateway's user-experience metrics.
const reporter = new ClientReporter({
  userAgent: navigator.userAgent,
  touchPoints: navigator.maxTouchPoints,
  send: (fields) => Boolean(client.signaling && client.signaling.send("client_report", fields)),
});
let publisher = null;
let subscriber = null;
let tilePrefs = null; // reports remote tile sizes so the server picks each video's simulcast layer
let features = null; // host panel, host controls' effects, screen share, recording, speaker (call_features.js)

// Participants who left: a late track for them must not bring back a nameless tile.
const departed = new Set();
let soundBlocked = false;
let fatalError = null;
// Refusals no retry can change: the call ends with the gateway's explanation.
// i18n-keys: room.error.unauthorized room.error.forbidden room.error.meeting_not_found room.error.meeting_full room.error.too_many_connections room.error.media_limit
const FATAL_ERRORS = new Set([
  "unauthorized", "forbidden", "meeting_not_found", "meeting_full", "too_many_connections", "media_limit",
]);
// Reconnecting (reconnect.js decides when; this page applies its actions).
const machine = new ReconnectMachine();
let reconnectToken = null;
let connectTimer = null;
let iceTimer = null;
let reconnectedTimer = null;
let iceServers = []; // from the latest welcome, for connections built later (media_reset)
// Direct to the media server first (STUN at most); TURN for a connection that does not connect within
// TURN_AFTER_MS or fails (a firewall that blocks UDP to the media port). `?ice=relay` forces TURN throughout.
const TURN_AFTER_MS = 5000;
const RELAY_ONLY = new URLSearchParams(window.location.search).get("ice") === "relay";
const onTurn = { publisher: false, subscriber: false };
let relayed = null; // what this socket's gateway was last told (connection_stats); null: nothing yet
let turnRenewal = null;
let connecting = false; // a socket attempt is in flight
let reachability = null; // while the socket is down: is the gateway reachable again? (browsers' `online` is unreliable)
const REACHABILITY_MS = 2000;
// The host session (12 h) and the guest token (8 h) get a fresh lifetime while the call lasts.
const SESSION_RENEW_MS = 30 * 60 * 1000;

async function renewSession() {
  try {
    await fetch(`/api/session/renew?meeting=${encodeURIComponent(meetingId)}`, { method: "POST" });
  } catch (err) {
    console.info("session: renewal failed, retried later", err.message);
  }
}

function showStatus(text, { bad = false, action = null } = {}) {
  statusBar.replaceChildren(document.createTextNode(text));
  statusBar.classList.toggle("bad", bad);
  if (action) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = action.label;
    button.addEventListener("click", action.run);
    statusBar.appendChild(button);
  }
  statusBar.hidden = false;
}

function hideStatus() {
  statusBar.hidden = true;
}

function offerSound() {
  if (soundBlocked) return;
  soundBlocked = true;
  showStatus(t("room.status.sound_blocked"), {
    action: {
      label: t("room.status.enable_sound"),
      run: () => {
        soundBlocked = false;
        for (const tile of grid.tiles.values()) {
          const video = tile.querySelector("video");
          video.muted = false;
          video.play().catch(() => {});
        }
        hideStatus();
      },
    },
  });
}

async function attachRemote(participantId, stream) {
  const tile = grid.ensureTile(participantId, null);
  const video = tile.querySelector("video");
  if (video.srcObject !== stream) video.srcObject = stream;
  if (tilePrefs) tilePrefs.observe(participantId, tile);
  watchFirstFrame(video);
  const withSound = await playVideo(video);
  if (!withSound) offerSound();
}

function watchFirstFrame(video) {
  const decoded = () => reporter.frameDecoded(performance.now());
  if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(decoded);
  else video.addEventListener("loadeddata", decoded, { once: true });
}

function onTrack(event) {
  if (features && features.claimTrack(event)) return; // a screen share: shown large, not in a tile
  const [stream] = event.streams;
  // The server puts the publisher's participant_id in the msid, so the stream id names the tile.
  if (!stream || departed.has(stream.id) || client.left) return;
  attachRemote(stream.id, stream);
}

async function startLocalMedia() {
  callMedia.onchange = () => {
    client.localStream = callMedia.local.stream();
    // A reload or a rejoin in this tab comes back with the camera and microphone as they are now.
    const { audio, video } = callMedia.state;
    const { audio: micId, video: cameraId } = callMedia.local.deviceIds;
    saveCallPrefs(meetingId, { audio, video, micId, cameraId });
  };
  await callMedia.start();
  client.localStream = callMedia.local.stream();
}

function addParticipant(participant) {
  departed.delete(participant.id);
  grid.setMedia(participant.id, participant);
  grid.ensureTile(participant.id, participant.name);
}

function removeParticipant(participantId) {
  departed.add(participantId);
  if (tilePrefs) tilePrefs.forget(participantId);
  grid.removeTile(participantId);
}

function onWelcome(message) {
  const first = client.participantId === null;
  const sameParticipant = message.participant_id === client.participantId;
  reconnectToken = message.reconnect_token || null;
  client.participantId = message.participant_id;
  client.name = message.name;
  client.isHost = message.is_host;
  document.getElementById("local-name").textContent = t("room.name_you", { name: message.name }); // textContent: never HTML
  localTile.querySelector(".avatar-initial").textContent = initialOf(message.name);
  const listed = new Set(message.participants.map((p) => p.id));
  if (!first) {
    // Back after a drop: whoever left meanwhile goes; the tiles of everyone else stay as they were.
    for (const id of [...grid.tiles.keys()]) if (!listed.has(id)) removeParticipant(id);
  }
  for (const participant of message.participants) addParticipant(participant);
  setIceServers(Array.isArray(message.ice_servers) ? message.ice_servers : []);
  if (first || !sameParticipant || message.media_reset) {
    buildMedia();
    if (!first) client.reconnects.push({ at: Date.now(), kind: sameParticipant ? "media_reset" : "rejoin" });
  } else {
    // Resumed with our media session kept. Whatever dropped the socket (a new network, a cut link) likely broke
    // the media path too, even if ICE has not noticed yet: restart it now (DTLS and tracks stay). The server
    // sends the subscriber's restart offer by itself.
    if (publisher) publisher.restartIce().catch((err) => console.warn("publisher: ICE restart failed", err));
    client.reconnects.push({ at: Date.now(), kind: "resume" });
  }
  callMedia.connected(client.signaling);
  reporter.welcome(message.participant_id, message.participants);
  relayed = null; // a new socket: tell this gateway our path again
  reportPath();
  feed({ type: "welcome", windowMs: Number(message.reconnect_window_s) * 1000 || undefined });
}

// New peer connections (the first join, or after the media server lost ours): tiles, pin and devices stay.
function buildMedia() {
  if (tilePrefs) tilePrefs.close();
  if (publisher) publisher.close();
  if (subscriber) subscriber.close();
  machine.resetIce();
  const first = RELAY_ONLY ? iceServers : directServers();
  onTurn.publisher = onTurn.subscriber = RELAY_ONLY;
  // The subscriber exists before any subscribe_offer can be dispatched: both are created synchronously here.
  subscriber = new Subscriber(first, client.signaling, onTrack, RELAY_ONLY);
  client.subscriber = subscriber.pc;
  watchIce(subscriber.pc, "subscriber");
  tilePrefs = new TilePrefsReporter(subscriber.pc, (prefs) => client.signaling.send("video_prefs", { prefs }));
  // Published even with camera and microphone off, so turning them on later needs no renegotiation.
  publisher = new Publisher(first, client.signaling, { relayOnly: RELAY_ONLY, videoCodec: codecFromQuery() });
  client.publisher = publisher.pc;
  watchIce(publisher.pc, "publisher");
  for (const which of ["publisher", "subscriber"]) {
    const pc = which === "publisher" ? publisher.pc : subscriber.pc;
    setTimeout(() => fallBackToTurn(which, pc), TURN_AFTER_MS);
  }
  callMedia.publish(publisher).catch((err) => {
    console.error("publisher: offer failed", err);
    showStatus(t("room.status.camera_failed", { error: err.message }), { bad: true });
  });
  client.simulcast = publisher.simulcast;
}

// New ICE servers (a welcome's, or renewed TURN credentials): the open connections use them from their next
// ICE restart, and the credentials are renewed again before they expire (TURN_TTL; calls last 8 hours).
function setIceServers(servers) {
  iceServers = servers;
  for (const [which, peer] of [["publisher", publisher], ["subscriber", subscriber]]) {
    if (peer) useIceServers(peer.pc, onTurn[which] ? iceServers : directServers());
  }
  clearTimeout(turnRenewal);
  const expiries = iceServers.filter((s) => s.username).map((s) => Number(String(s.username).split(":")[0]));
  if (expiries.length === 0 || !expiries.every(Number.isFinite)) return;
  const left = Math.min(...expiries) * 1000 - Date.now();
  turnRenewal = setTimeout(renewTurn, Math.max(left * 0.8, 10_000));
}

async function renewTurn() {
  try {
    const response = await fetch(`/api/turn-credentials?meeting=${encodeURIComponent(meetingId)}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    setIceServers((await response.json()).ice_servers || []);
  } catch (err) {
    console.info("turn: renewal failed, retried in a minute", err.message);
    turnRenewal = setTimeout(renewTurn, 60_000);
    return;
  }
  client.turnRenewals += 1;
  // Connections on TURN take the new credentials now: their allocations must not outlive the old ones.
  if (onTurn.publisher && publisher) publisher.restartIce().catch((err) => console.warn("turn: restart", err));
  if (onTurn.subscriber) client.signaling.send("restart_ice");
}

function directServers() {
  return iceServers.filter((server) => !server.username); // STUN needs no credential; TURN does
}

// A connection still not connected after TURN_AFTER_MS, or failed: the same connection again, through TURN.
function fallBackToTurn(which, pc) {
  const current = which === "publisher" ? publisher : subscriber;
  if (!current || current.pc !== pc || onTurn[which] || ["connected", "completed"].includes(pc.iceConnectionState)) {
    return;
  }
  if (!iceServers.some((server) => server.username)) return; // no TURN configured
  onTurn[which] = true;
  console.info(`ice: ${which} not connected directly; trying TURN`);
  useIceServers(pc, iceServers);
  if (which === "publisher") publisher.restartIce().catch((err) => console.warn("publisher: TURN restart failed", err));
  else client.signaling.send("restart_ice"); // the server's restart offer makes the browser gather again
}

// Whether our media goes through TURN: shown to the host (call stats) and counted for the TURN autoscaler.
async function reportPath() {
  if (!publisher || !subscriber || !client.signaling) return;
  const now = (await isRelayed(publisher.pc)) || (await isRelayed(subscriber.pc));
  client.relayed = now;
  if (now !== relayed && client.signaling.send("connection_stats", { relayed: now })) relayed = now;
}

function watchIce(pc, which) {
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") reporter.mediaConnected(); // ICE and DTLS: media reaches the server
  });
  pc.addEventListener("iceconnectionstatechange", () => {
    const current = which === "publisher" ? publisher : subscriber;
    if (!current || current.pc !== pc) return; // a connection already replaced
    console.info(`ice: ${which} ${pc.iceConnectionState}`);
    if (pc.iceConnectionState === "failed") fallBackToTurn(which, pc);
    if (pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed") reportPath();
    feed({ type: "ice", pc: which, state: pc.iceConnectionState });
  });
}

function restartIce() {
  if (publisher) publisher.restartIce().catch((err) => console.warn("publisher: ICE restart failed", err));
  client.signaling.send("restart_ice"); // the subscriber's new credentials come in the server's next offer
}

// --- reconnecting -------------------------------------------------------------------------------------

function feed(event) {
  const actions = machine.handle(event, Date.now());
  watchReachability(machine.phase === "reconnecting" && !machine.socketUp);
  for (const action of actions) {
    if (action.type === "show") showConnection(action.state);
    else if (action.type === "connect") scheduleConnect(action.delay);
    else if (action.type === "restart_ice") restartIce();
    else if (action.type === "probe") client.signaling.probe();
    else if (action.type === "check_ice") {
      clearTimeout(iceTimer);
      iceTimer = setTimeout(() => feed({ type: "check_ice" }), action.delay);
    }
  }
}

function scheduleConnect(delay) {
  clearTimeout(connectTimer);
  connectTimer = setTimeout(connectSocket, delay);
}

async function connectSocket() {
  if (client.left || connecting) return;
  connecting = true;
  clearTimeout(connectTimer);
  reporter.joining(performance.now()); // the first socket starts the first-frame clock
  try {
    client.ws = await client.signaling.connect(websocketUrl());
  } catch (err) {
    console.info("signaling: connect failed", err.message);
    if (!fatalError) feed({ type: "attempt_failed" });
  } finally {
    connecting = false;
  }
}

// A cheap request every 2 s while the socket is down: the moment the gateway answers, reconnect at once
// instead of waiting out the backoff (after a long outage that wait would be up to 8 s).
function watchReachability(wanted) {
  if (!wanted) {
    clearInterval(reachability);
    reachability = null;
    return;
  }
  if (reachability) return;
  reachability = setInterval(async () => {
    if (connecting) return;
    try {
      const response = await fetch("/healthz", { cache: "no-store", signal: AbortSignal.timeout(1500) });
      if (response.ok && reachability) feed({ type: "online" });
    } catch {
      // still unreachable
    }
  }, REACHABILITY_MS);
}

function showConnection(state) {
  client.connection = state;
  document.body.dataset.connection = state;
  clearTimeout(reconnectedTimer);
  if (state === "reconnecting") {
    showStatus(t("room.status.reconnecting"));
  } else if (state === "reconnected") {
    client.connection = "connected";
    document.body.dataset.connection = "connected";
    showStatus(t("room.status.reconnected"));
    reconnectedTimer = setTimeout(hideStatus, 3000);
  } else if (state === "disconnected") {
    teardown();
    showStatus(t("room.status.disconnected"), {
      bad: true,
      action: { label: t("room.left.rejoin"), run: () => window.location.reload() },
    });
  }
}

function onError(message) {
  console.warn("gateway error", message.code, message.message);
  if (FATAL_ERRORS.has(message.code)) {
    // The gateway closes the socket right after; no retry would change its answer.
    fatalError = t(`room.error.${message.code}`); // the server's text is for developers
  }
}

function onSocketLost() {
  if (client.left) return;
  if (fatalError) {
    feed({ type: "fatal" });
    teardown();
    showStatus(t("room.status.disconnected_because", { reason: fatalError }), {
      bad: true,
      action: { label: t("room.left.rejoin"), run: () => window.location.reload() },
    });
    return;
  }
  feed({ type: "socket_lost" });
}

function teardown() {
  if (features) features.teardown();
  if (tilePrefs) tilePrefs.close();
  if (publisher) publisher.close();
  if (subscriber) subscriber.close();
  grid.clear();
}

// `view`: what the page shows afterwards (left, or removed / meeting ended / locked out: moderation.js).
function leave(view = "left-view") {
  if (client.left) return;
  client.left = true;
  feed({ type: "leave" });
  clearTimeout(connectTimer);
  if (client.signaling) client.signaling.close(1000, "leave");
  teardown();
  callMedia.stop();
  document.getElementById("rejoin").href = window.location.pathname;
  showAfterCall(document.getElementById(view));
}

// The view after the call, its words and next step for this person's role (the welcome said which).
function showAfterCall(section) {
  section.querySelector(".card").appendChild(document.getElementById("next-step"));
  const role = client.isHost ? "host" : "guest";
  for (const part of section.querySelectorAll("[data-for]")) part.hidden = part.dataset.for !== role;
  section.querySelector(".next-step").hidden = false;
  section.hidden = false;
}

function websocketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const { audio, video } = callMedia.state; // so the others' view of us shows our mic and camera right
  const query = new URLSearchParams({ meeting: meetingId, audio: audio ? "1" : "0", video: video ? "1" : "0" });
  if (reconnectToken) query.set("reconnect", reconnectToken); // the same participant, if still within its window
  return `${scheme}://${window.location.host}/ws?${query}`;
}

async function main() {
  document.getElementById("leave").addEventListener("click", () => leave());
  await startLocalMedia();
  if (client.left) return;
  const signaling = new SignalingChannel();
  client.signaling = signaling;
  signaling
    .on("welcome", onWelcome)
    .on("publish_answer", (message) => publisher && publisher.applyAnswer(message.sdp))
    .on("subscribe_offer", (message) => subscriber && subscriber.handleOffer(message.sdp, message.offer_id))
    .on("media_reset", () => {
      buildMedia();
      client.reconnects.push({ at: Date.now(), kind: "media_reset" });
    })
    .on("layers_needed", (message) => publisher && publisher.simulcast && publisher.simulcast.onLayersNeeded(message))
    .on("renegotiate_publisher", () => publisher && publisher.renegotiate().catch((err) => console.warn(err)))
    .on("track_unavailable", (message) => grid.onTrackUnavailable(message))
    .on("participant_joined", (message) => addParticipant(message.participant))
    .on("participant_media", (message) => grid.setMedia(message.participant_id, message))
    .on("participant_connection", (message) => grid.setConnection(message.participant_id, message.connected))
    .on("participant_left", (message) => removeParticipant(message.participant_id))
    .on("error", onError);
  features = startCallFeatures({ client, grid, signaling, localTile, leave, showStatus, hideStatus });
  signaling.onlost = onSocketLost;
  window.addEventListener("online", () => feed({ type: "online" }));
  setInterval(renewSession, SESSION_RENEW_MS);
  setInterval(reportPath, 5000);
  await connectSocket();
}

window.addEventListener("pagehide", () => {
  if (client.signaling) client.signaling.close(1000, "page closed"); // browsers only allow 1000 or 3000-4999
});

main();
