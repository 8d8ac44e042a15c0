// The two peer connections of a participant: publisher (we offer) and subscriber (the server offers).

const PC_CONFIG = { bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" };

export class Publisher {
  constructor(iceServers, signaling) {
    this.pc = new RTCPeerConnection({ ...PC_CONFIG, iceServers });
    this.signaling = signaling;
  }

  // Single-layer video for now; simulcast encodings slot in here as sendEncodings.
  async publish(stream) {
    const [video] = stream.getVideoTracks();
    const [audio] = stream.getAudioTracks();
    if (video) this.pc.addTransceiver(video, { direction: "sendonly", streams: [stream] });
    if (audio) this.pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    // The server is ICE-lite and learns our address from our checks, so no need to wait for candidates.
    this.signaling.send("publish_offer", { sdp: this.pc.localDescription.sdp });
  }

  async applyAnswer(sdp) {
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  close() {
    this.pc.close();
  }
}

export class Subscriber {
  constructor(iceServers, signaling, onTrack) {
    this.pc = new RTCPeerConnection({ ...PC_CONFIG, iceServers });
    this.signaling = signaling;
    this.pc.ontrack = onTrack;
    this.chain = Promise.resolve();
  }

  // Offers are answered strictly one after another: a second setRemoteDescription mid-answer would fail.
  handleOffer(sdp) {
    this.chain = this.chain
      .then(() => this.answer(sdp))
      .catch((err) => console.error("subscriber: answering an offer failed", err));
    return this.chain;
  }

  async answer(sdp) {
    if (this.pc.signalingState === "closed") return;
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.signaling.send("subscribe_answer", { sdp: this.pc.localDescription.sdp });
  }

  close() {
    this.pc.close();
  }
}
