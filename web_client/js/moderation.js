// What the host's controls do to this page: a forced mute / video off (the device goes off and its button
// stays disabled until the host allows it; "Ask to unmute" sends a request), being removed, the meeting
// ending or being locked. The media server already enforces all of it; this is what the person sees.

import { t } from "./i18n.js";

// i18n-keys: moderation.muted.audio moderation.muted.video moderation.allowed.audio moderation.allowed.video
const KINDS = new Set(["audio", "video"]);
// Admission refusals and the messages before a close: each ends the call on its own full-page view.
const END_VIEWS = {
  kicked: "kicked-view",
  meeting_ended: "ended-view",
  meeting_locked: "locked-view",
};

export class Moderation {
  // `leave(viewId)` ends the call and shows that view; `showStatus(text, options)` is the page's banner.
  constructor({ callMedia, signaling, leave, showStatus, hideStatus, actionsBox }) {
    this.callMedia = callMedia;
    this.signaling = signaling;
    this.leave = leave;
    this.showStatus = showStatus;
    this.hideStatus = hideStatus;
    this.requestButtons = {};
    this.actionsBox = actionsBox;
    this.lockBadge = document.createElement("span");
    this.lockBadge.className = "lock-badge";
    this.lockBadge.dataset.testid = "meeting-locked-badge";
    this.lockBadge.textContent = t("moderation.locked_badge");
    this.lockBadge.title = t("moderation.locked_badge_title");
    this.lockBadge.hidden = true;
    actionsBox.appendChild(this.lockBadge);
    signaling
      .on("force_mute", (message) => this.onForceMute(message.kind))
      .on("unmute_allowed", (message) => this.onAllowed(message.kind))
      .on("kicked", () => this.end("kicked"))
      .on("meeting_ended", () => this.end("meeting_ended"))
      .on("meeting_locked", (message) => {
        this.lockBadge.hidden = !message.locked;
      })
      .on("error", (message) => {
        if (END_VIEWS[message.code]) this.end(message.code);
      });
  }

  async onForceMute(kind) {
    if (!KINDS.has(kind)) return;
    await this.callMedia.block(kind);
    const button = this.requestButton(kind);
    button.textContent = kind === "audio" ? t("moderation.ask_unmute") : t("moderation.ask_camera");
    button.disabled = false;
    button.hidden = false;
    this.showStatus(t(`moderation.muted.${kind}`), { bad: true });
  }

  onAllowed(kind) {
    if (!KINDS.has(kind)) return;
    this.callMedia.unblock(kind);
    const button = this.requestButtons[kind];
    if (button) {
      button.hidden = true;
      button.disabled = false;
    }
    this.showStatus(t(`moderation.allowed.${kind}`));
    setTimeout(() => this.hideStatus(), 4000);
  }

  // "Ask to unmute": one per kind, shown while that kind is blocked.
  requestButton(kind) {
    let button = this.requestButtons[kind];
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "button request-unmute";
      button.dataset.testid = kind === "audio" ? "request-unmute" : "request-video";
      button.dataset.kind = kind;
      button.addEventListener("click", () => {
        if (this.signaling.send("request_unmute", { kind })) {
          button.disabled = true; // until the host answers (the gateway also limits how often)
          button.textContent = t("moderation.asked");
        }
      });
      this.requestButtons[kind] = button;
      this.actionsBox.appendChild(button);
    }
    return button;
  }

  end(reason) {
    this.leave(END_VIEWS[reason]);
  }
}
