// The call page: local preview, signaling, one publisher and one subscriber connection, remote tiles.

import { startCallFeatures } from "./call_features.js";
import { CallMedia } from "./call_media.js";
import { loadCallPrefs, saveCallPrefs } from "./call_prefs.js";
import { Grid } from "./grid.js";
import { hydrateIcons } from "./icons.js";
import { playVideo } from "./media.js";
import { Publisher, Subscriber } from "./peers.js";
import { SignalingChannel } from "./signaling.js";
import { TilePrefsReporter } from "./tile_prefs.js";
import { initialOf, prepareLocalTile } from "./tiles.js";

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
};
window.meetingClient = client;
let publisher = null;
let subscriber = null;
let tilePrefs = null; // reports remote tile sizes so the server picks each video's simulcast layer
let features = null; // host panel, host controls' effects, screen share, recording, speaker (call_features.js)

// Participants who left: a late track for them must not bring back a nameless tile.
const departed = new Set();
let soundBlocked = false;
let fatalError = null;

const FATAL_ERRORS = new Set(["unauthorized", "forbidden", "meeting_not_found", "media_unavailable", "transport_closed"]);

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
  showStatus("The browser blocked sound until you interact with the page.", {
    action: {
      label: "Enable sound",
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
  const withSound = await playVideo(video);
  if (!withSound) offerSound();
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

function onWelcome(message) {
  client.participantId = message.participant_id;
  client.name = message.name;
  client.isHost = message.is_host;
  document.getElementById("local-name").textContent = `${message.name} (you)`; // textContent: never HTML
  localTile.querySelector(".avatar-initial").textContent = initialOf(message.name);
  const iceServers = Array.isArray(message.ice_servers) ? message.ice_servers : [];
  // The subscriber exists before any subscribe_offer can be dispatched: both are created synchronously here.
  subscriber = new Subscriber(iceServers, client.signaling, onTrack);
  client.subscriber = subscriber.pc;
  tilePrefs = new TilePrefsReporter(subscriber.pc, (prefs) => client.signaling.send("video_prefs", { prefs }));
  for (const participant of message.participants) addParticipant(participant);
  // Published even with camera and microphone off, so turning them on later needs no renegotiation.
  publisher = new Publisher(iceServers, client.signaling);
  client.publisher = publisher.pc;
  callMedia.publish(publisher).catch((err) => {
    console.error("publisher: offer failed", err);
    showStatus(`Could not send your camera: ${err.message}`, { bad: true });
  });
  client.simulcast = publisher.simulcast;
  callMedia.connected(client.signaling);
}

function onError(message) {
  console.warn("gateway error", message.code, message.message);
  if (FATAL_ERRORS.has(message.code)) {
    // The gateway closes the socket right after; keep its explanation for the disconnect notice.
    fatalError = message.message || message.code;
    showStatus(fatalError, { bad: true });
  }
}

function onDisconnected(event, closedByUs) {
  if (closedByUs || client.left) return;
  teardown();
  const reason = fatalError || event.reason || `code ${event.code}`;
  showStatus(`Disconnected from the meeting: ${reason}.`, {
    bad: true,
    action: { label: "Rejoin", run: () => window.location.reload() },
  });
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
  if (client.signaling) client.signaling.close(1000, "leave");
  teardown();
  callMedia.stop();
  document.getElementById("rejoin").href = window.location.pathname;
  document.getElementById(view).hidden = false;
}

function websocketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const { audio, video } = callMedia.state; // so the others' first view of us shows our mic and camera right
  const query = new URLSearchParams({ meeting: meetingId, audio: audio ? "1" : "0", video: video ? "1" : "0" });
  return `${scheme}://${window.location.host}/ws?${query}`;
}

async function main() {
  document.getElementById("leave").addEventListener("click", () => leave());
  await startLocalMedia();
  if (client.left) return;
  const signaling = new SignalingChannel(websocketUrl());
  client.signaling = signaling;
  signaling
    .on("welcome", onWelcome)
    .on("publish_answer", (message) => publisher && publisher.applyAnswer(message.sdp))
    .on("subscribe_offer", (message) => subscriber && subscriber.handleOffer(message.sdp))
    .on("layers_needed", (message) => publisher && publisher.simulcast && publisher.simulcast.onLayersNeeded(message))
    .on("participant_joined", (message) => addParticipant(message.participant))
    .on("participant_media", (message) => grid.setMedia(message.participant_id, message))
    .on("participant_left", (message) => {
      departed.add(message.participant_id);
      if (tilePrefs) tilePrefs.forget(message.participant_id);
      grid.removeTile(message.participant_id);
    })
    .on("error", onError);
  features = startCallFeatures({ client, grid, signaling, localTile, leave, showStatus, hideStatus });
  signaling.onclose = onDisconnected;
  try {
    client.ws = await signaling.connect();
  } catch (err) {
    showStatus(`Could not reach the meeting server: ${err.message}`, {
      bad: true,
      action: { label: "Retry", run: () => window.location.reload() },
    });
  }
}

window.addEventListener("pagehide", () => {
  if (client.signaling) client.signaling.close(1000, "page closed"); // browsers only allow 1000 or 3000-4999
});

main();
