// The call page: local preview, signaling, one publisher and one subscriber connection, remote tiles.

import { Grid } from "./grid.js";
import { getLocalMedia, playVideo } from "./media.js";
import { Publisher, Subscriber } from "./peers.js";
import { SignalingChannel } from "./signaling.js";

const meetingId = document.body.dataset.meetingId;
const grid = new Grid(document.getElementById("grid"), document.getElementById("tile-template"));
const localVideo = document.getElementById("local-video");
const statusBar = document.getElementById("status");

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
};
window.meetingClient = client;
let publisher = null;
let subscriber = null;

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
  const video = grid.ensureTile(participantId, null).querySelector("video");
  if (video.srcObject !== stream) video.srcObject = stream;
  const withSound = await playVideo(video);
  if (!withSound) offerSound();
}

function onTrack(event) {
  const [stream] = event.streams;
  // The server puts the publisher's participant_id in the msid, so the stream id names the tile.
  if (!stream || departed.has(stream.id) || client.left) return;
  attachRemote(stream.id, stream);
}

async function startLocalMedia() {
  const { stream, error } = await getLocalMedia();
  if (!stream) {
    showStatus(`No camera or microphone (${error ? error.name : "unavailable"}): others will not see or hear you.`, {
      bad: true,
    });
    return null;
  }
  client.localStream = stream;
  localVideo.srcObject = stream;
  await playVideo(localVideo);
  return stream;
}

function onWelcome(message) {
  client.participantId = message.participant_id;
  client.name = message.name;
  client.isHost = message.is_host;
  document.getElementById("local-name").textContent = `${message.name} (you)`;
  const iceServers = Array.isArray(message.ice_servers) ? message.ice_servers : [];
  // The subscriber exists before any subscribe_offer can be dispatched: both are created synchronously here.
  subscriber = new Subscriber(iceServers, client.signaling, onTrack);
  client.subscriber = subscriber.pc;
  for (const participant of message.participants) grid.ensureTile(participant.id, participant.name);
  if (client.localStream) {
    publisher = new Publisher(iceServers, client.signaling);
    client.publisher = publisher.pc;
    publisher.publish(client.localStream).catch((err) => {
      console.error("publisher: offer failed", err);
      showStatus(`Could not send your camera: ${err.message}`, { bad: true });
    });
  }
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
  if (publisher) publisher.close();
  if (subscriber) subscriber.close();
  grid.clear();
}

function leave() {
  if (client.left) return;
  client.left = true;
  if (client.signaling) client.signaling.close(1000, "leave");
  teardown();
  if (client.localStream) for (const track of client.localStream.getTracks()) track.stop();
  localVideo.srcObject = null;
  document.getElementById("rejoin").href = window.location.pathname;
  document.getElementById("left-view").hidden = false;
}

function websocketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/ws?meeting=${encodeURIComponent(meetingId)}`;
}

async function main() {
  document.getElementById("leave").addEventListener("click", leave);
  await startLocalMedia();
  if (client.left) return;
  const signaling = new SignalingChannel(websocketUrl());
  client.signaling = signaling;
  signaling
    .on("welcome", onWelcome)
    .on("publish_answer", (message) => publisher && publisher.applyAnswer(message.sdp))
    .on("subscribe_offer", (message) => subscriber && subscriber.handleOffer(message.sdp))
    .on("participant_joined", (message) => {
      departed.delete(message.participant.id);
      grid.ensureTile(message.participant.id, message.participant.name);
    })
    .on("participant_left", (message) => {
      departed.add(message.participant_id);
      grid.removeTile(message.participant_id);
    })
    .on("error", onError);
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
