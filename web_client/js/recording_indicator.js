// "Recording" for everyone in the call while the media server records it (the `recording` message), and
// the active speaker's tile highlight (the `active_speaker` message, from the audio-level extension).
import { t } from "./i18n.js";

export class RecordingIndicator {
  constructor(signaling, parent = document.body) {
    this.element = document.createElement("div");
    this.element.className = "recording-indicator";
    this.element.dataset.testid = "recording-indicator";
    this.element.setAttribute("role", "status");
    this.element.hidden = true;
    const dot = document.createElement("span");
    dot.className = "recording-dot";
    dot.setAttribute("aria-hidden", "true");
    this.element.append(dot, document.createTextNode(t("room.recording")));
    parent.appendChild(this.element);
    signaling.on("recording", (message) => {
      this.element.hidden = !message.active;
    });
  }
}

export class SpeakerHighlight {
  // `tileOf(participantId)` finds a tile (remote or our own); new remote tiles come through grid.tileHooks.
  constructor(signaling, grid, tileOf) {
    this.tileOf = tileOf;
    this.current = null;
    grid.tileHooks.push((tile, participantId) => {
      if (participantId === this.current) tile.dataset.speaking = "true";
    });
    signaling.on("active_speaker", (message) => this.show(message.participant_id));
  }

  show(participantId) {
    const previous = this.current === null ? null : this.tileOf(this.current);
    if (previous) delete previous.dataset.speaking;
    this.current = participantId;
    const tile = this.tileOf(participantId);
    if (tile) tile.dataset.speaking = "true";
  }
}
