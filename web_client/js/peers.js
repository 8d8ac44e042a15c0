// The two peer connections of a participant: publisher (we offer) and subscriber (the server offers).

import { restrictCodec } from "./codecs.js";
import { SimulcastSender, addCameraTransceiver } from "./simulcast.js";

const PC_CONFIG = { bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };

// `relayOnly`: every path through TURN (a troubleshooting switch, `?ice=relay` on the call page).
function connection(iceServers, relayOnly) {
  return new RTCPeerConnection({ ...PC_CONFIG, iceServers, ...(relayOnly ? { iceTransportPolicy: "relay" } : {}) });
}

// Switches a connection to other ICE servers (direct first, TURN after): effective from its next ICE restart.
export function useIceServers(pc, iceServers) {
  if (pc.signalingState !== "closed") pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
}

// True when the connection's selected candidate pair goes through a TURN relay (our side's candidate).
export async function isRelayed(pc) {
  if (pc.connectionState !== "connected") return false;
  const stats = await pc.getStats();
  let relayed = false;
  stats.forEach((report) => {
    if (report.type !== "transport" || !report.selectedCandidatePairId) return;
    const pair = stats.get(report.selectedCandidatePairId);
    const local = pair && stats.get(pair.localCandidateId);
    if (local && local.candidateType === "relay") relayed = true;
  });
  return relayed;
}

export class Publisher {
  // `videoCodec`: a mime type ("video/H264") the camera is restricted to; null offers all the browser has.
  constructor(iceServers, signaling, { relayOnly = false, videoCodec = null } = {}) {
    this.pc = connection(iceServers, relayOnly);
    this.signaling = signaling;
    this.videoCodec = videoCodec;
    this.simulcast = null; // the camera's SimulcastSender: dynacast and loss adaptation
    this.senders = { audio: null, video: null };
    this.wanted = null; // a new offer asked for while one was outstanding: { iceRestart }
  }

  // Both transceivers always exist, even with the camera or microphone off (no track in `stream`): turning
  // one on later is a replaceTrack on its sender, with no renegotiation.
  async publish(stream) {
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    const camera = addCameraTransceiver(this.pc, video || null, [stream]);
    if (this.videoCodec && !restrictCodec(camera, this.videoCodec)) console.warn("cannot send", this.videoCodec);
    this.senders.video = camera.sender;
    this.simulcast = new SimulcastSender(this.senders.video);
    this.simulcast.start();
    this.senders.audio = this.pc.addTransceiver(audio || "audio", { direction: "sendonly", streams: [stream] }).sender;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    // The server is ICE-lite and learns our address from our checks, so no need to wait for candidates.
    this.signaling.send("publish_offer", { sdp: this.pc.localDescription.sdp });
  }

  async applyAnswer(sdp) {
    if (this.pc.signalingState !== "have-local-offer") return; // an answer to an offer of a closed connection
    await this.pc.setRemoteDescription({ type: "answer", sdp });
    if (this.wanted) await this.reoffer(this.wanted);
  }

  // New ICE credentials on the same connection (DTLS and the tracks stay): after a network change.
  restartIce() {
    return this.reoffer({ iceRestart: true });
  }

  // The server asked for a new offer: its answer picks a codec every subscriber can decode.
  renegotiate() {
    return this.reoffer({ iceRestart: false });
  }

  async reoffer({ iceRestart }) {
    if (this.pc.signalingState === "closed") return;
    if (this.pc.signalingState !== "stable") {
      // After the answer to the outstanding offer; a restart asked for meanwhile is not lost to a plain one.
      this.wanted = { iceRestart: iceRestart || Boolean(this.wanted && this.wanted.iceRestart) };
      return;
    }
    this.wanted = null;
    await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart }));
    this.signaling.send("publish_offer", { sdp: this.pc.localDescription.sdp });
  }

  // Camera or microphone on (a track) or off (null).
  async setTrack(kind, track) {
    const sender = this.senders[kind];
    if (sender && this.pc.signalingState !== "closed") await sender.replaceTrack(track);
  }

  close() {
    if (this.simulcast) this.simulcast.close();
    this.pc.close();
  }
}

export class Subscriber {
  constructor(iceServers, signaling, onTrack, relayOnly = false) {
    this.pc = connection(iceServers, relayOnly);
    this.signaling = signaling;
    this.pc.ontrack = onTrack;
    this.chain = Promise.resolve();
  }

  // Offers are answered strictly one after another: a second setRemoteDescription mid-answer would fail.
  // `offerId` goes back with the answer, so the server can tell an answer to an offer it already replaced.
  handleOffer(sdp, offerId = null) {
    this.chain = this.chain
      .then(() => this.answer(sdp, offerId))
      .catch((err) => console.error("subscriber: answering an offer failed", err));
    return this.chain;
  }

  async answer(sdp, offerId) {
    if (this.pc.signalingState === "closed") return;
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    const fields = { sdp: this.pc.localDescription.sdp };
    if (Number.isInteger(offerId)) fields.offer_id = offerId;
    this.signaling.send("subscribe_answer", fields);
  }

  close() {
    this.pc.close();
  }
}
