// The host panel (host only): everyone in the call with microphone / camera state and connection quality,
// per-person actions (mute or allow the microphone, turn the camera off or allow it, remove), meeting actions
// (lock, record, end for everyone) and the live statistics (call_stats.js). Every button only sends a
// `host_action`; the gateway checks that we are the host and the servers enforce it. The panel shows state
// as the server reports it back (moderation, meeting_locked, recording, participant_media).

import { CallStats } from "./call_stats.js";
import { t } from "./i18n.js";

// i18n-keys: host.state.on host.state.off host.state.blocked host.state.excellent host.state.good
// i18n-keys: host.state.poor host.state.lost host.state.unknown
const STATES = new Set(["on", "off", "blocked", "excellent", "good", "poor", "lost", "unknown"]);

export class HostPanel {
  constructor({ roster, signaling, toggleBox }) {
    this.roster = roster;
    this.signaling = signaling;
    this.toggleBox = toggleBox;
    // Our own row is ours alone: the roster holds the others, and only call_stats tells our devices' state.
    this.self = null; // {name, audio, video, audioBlocked, videoBlocked, self: true}
    this.asks = new Map(); // participant id -> Set of "audio" / "video": requests the host has not answered yet
    this.rows = new Map(); // participant id -> <li>
    this.panel = null;
    this.stats = null;
    this.locked = false;
    this.recording = false;
    roster.subscribe((change) => this.onChange(change));
    signaling
      .on("unmute_requested", (message) => this.asked(message.participant_id, message.kind))
      .on("meeting_locked", (message) => this.setMeetingState({ locked: message.locked }))
      .on("recording", (message) => this.setMeetingState({ recording: message.active }))
      .on("call_stats", (message) => this.onStats(message));
  }

  onChange(change) {
    // Built once, at the first welcome as host; after a reconnect the rows follow the updates that come next.
    if (change.kind === "welcome") {
      if (!this.panel && this.roster.self.host) this.open();
      return;
    }
    if (change.kind === "left") {
      this.remove(change.id);
      return;
    }
    if (change.kind === "updated") this.answered(change.id, change.fields);
    this.show(change.id);
  }

  open() {
    this.panel = document.createElement("aside");
    this.panel.className = "host-panel";
    this.panel.dataset.testid = "host-panel";
    this.panel.id = "host-panel";
    this.panel.setAttribute("aria-labelledby", "host-panel-heading");
    // A heading with its own close: on a phone the panel is a sheet over the call, closed from within it.
    const header = document.createElement("div");
    header.className = "hp-header";
    const heading = document.createElement("h2");
    heading.id = "host-panel-heading";
    heading.textContent = t("host.title");
    this.closeButton = document.createElement("button");
    this.closeButton.type = "button";
    this.closeButton.className = "hp-close";
    this.closeButton.dataset.testid = "close-host-panel";
    this.closeButton.setAttribute("aria-label", t("host.close"));
    this.closeButton.title = t("host.close");
    this.closeButton.textContent = "×";
    this.closeButton.addEventListener("click", () => this.setOpen(false, { returnFocus: true }));
    header.append(heading, this.closeButton);
    this.meetingActions = document.createElement("div");
    this.meetingActions.className = "hp-meeting";
    this.lockButton = this.button("lock-meeting", t("host.lock"), () => this.act(this.locked ? "unlock" : "lock"));
    this.recordButton = this.button("record-meeting", t("host.record_start"), () =>
      this.act(this.recording ? "record_stop" : "record_start"),
    );
    const end = this.button("end-meeting", t("host.end"), () => (confirm.hidden = false));
    end.classList.add("danger");
    // Ending is for everyone and cannot be undone: one more click, inline (a dialog would block tests).
    const confirm = document.createElement("div");
    confirm.className = "hp-confirm";
    confirm.dataset.testid = "end-confirm";
    confirm.hidden = true;
    const yes = this.button("confirm-end-meeting", t("host.end_now"), () => this.act("end"));
    yes.classList.add("danger");
    const no = this.button("cancel-end-meeting", t("host.cancel"), () => (confirm.hidden = true));
    confirm.append(t("host.end_question"), yes, no);
    this.meetingActions.append(this.lockButton, this.recordButton, end, confirm);
    this.list = document.createElement("ul");
    this.list.className = "hp-people";
    this.list.dataset.testid = "participant-list";
    this.panel.append(header, this.meetingActions, this.list);
    this.stats = new CallStats(this.panel);
    document.body.appendChild(this.panel);

    // Opened from the controls bar, closed at first: the call itself keeps the whole stage until the host
    // wants the panel (on a phone it covers the call).
    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "button hp-toggle";
    this.toggle.dataset.testid = "toggle-host-panel";
    this.toggle.textContent = t("host.title");
    this.toggle.setAttribute("aria-controls", "host-panel");
    this.toggle.addEventListener("click", () => this.setOpen(this.panel.hidden, { focus: this.panel.hidden }));
    this.toggleBox.appendChild(this.toggle);
    // Escape closes the panel from anywhere on the page (not only from inside it), as Meet's side panels do.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || this.panel.hidden || event.defaultPrevented) return;
      event.preventDefault();
      this.setOpen(false, { returnFocus: this.panel.contains(document.activeElement) });
    });
    this.setOpen(false);
    this.setMeetingState({});

    const self = this.roster.self;
    this.self = { name: t("host.you", { name: self.name }), audio: false, video: false, self: true };
    this.show(self.id);
    for (const id of this.roster.people.keys()) this.show(id);
  }

  // `focus`: into the panel (opened from the keyboard or a tap, the close button is next);
  // `returnFocus`: back to the toggle when the panel closes with the focus inside it.
  setOpen(open, { focus = false, returnFocus = false } = {}) {
    this.panel.hidden = !open;
    document.body.classList.toggle("with-host-panel", open);
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open && focus) this.closeButton.focus();
    if (!open && returnFocus) this.toggle.focus();
  }

  button(testid, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.dataset.testid = testid;
    button.textContent = label;
    button.addEventListener("click", onClick);
    return button;
  }

  act(action, participantId = null) {
    const fields = participantId ? { action, participant_id: participantId } : { action };
    this.signaling.send("host_action", fields);
  }

  person(id) {
    return this.self && id === this.roster.self.id ? this.self : this.roster.get(id);
  }

  show(id) {
    const person = this.panel && this.person(id);
    if (person) this.renderRow(id, person);
  }

  // Allowing the device again answers the request for it.
  answered(id, fields) {
    const asks = this.asks.get(id);
    if (asks && fields.audioBlocked === false) asks.delete("audio");
    if (asks && fields.videoBlocked === false) asks.delete("video");
  }

  remove(id) {
    this.asks.delete(id);
    const row = this.rows.get(id);
    if (row) row.remove();
    this.rows.delete(id);
  }

  asked(id, kind) {
    if (!this.panel || !this.roster.get(id)) return;
    if (!this.asks.has(id)) this.asks.set(id, new Set());
    this.asks.get(id).add(kind);
    this.show(id);
  }

  renderRow(id, person) {
    let row = this.rows.get(id);
    if (!row) {
      row = document.createElement("li");
      row.className = "hp-person";
      row.dataset.testid = "participant-row";
      row.dataset.participantId = id;
      const name = document.createElement("span");
      name.className = "hp-name";
      const states = document.createElement("span");
      states.className = "hp-states";
      for (const testid of ["participant-mic", "participant-camera", "participant-quality"]) {
        const badge = document.createElement("span");
        badge.className = "hp-badge";
        badge.dataset.testid = testid;
        states.appendChild(badge);
      }
      row.append(name, states);
      if (!person.self) {
        const actions = document.createElement("div");
        actions.className = "hp-actions";
        const mute = this.button("mute-participant", "", () =>
          this.act(this.roster.get(id)?.audioBlocked ? "unmute" : "mute", id),
        );
        const video = this.button("video-off-participant", "", () =>
          this.act(this.roster.get(id)?.videoBlocked ? "video_on" : "video_off", id),
        );
        const kick = this.button("kick-participant", t("host.remove"), () => this.act("kick", id));
        kick.classList.add("danger");
        const request = document.createElement("span");
        request.className = "hp-request";
        request.dataset.testid = "unmute-request";
        actions.append(mute, video, kick);
        row.append(actions, request);
      }
      this.rows.set(id, row);
      this.list.appendChild(row);
    }
    row.querySelector(".hp-name").textContent = person.name; // textContent: names are never HTML
    setBadge(row, "participant-mic", "host.badge.mic", deviceState(person.audio, person.audioBlocked));
    setBadge(row, "participant-camera", "host.badge.camera", deviceState(person.video, person.videoBlocked));
    if (person.self) return;
    const mute = row.querySelector('[data-testid="mute-participant"]');
    mute.textContent = person.audioBlocked ? t("host.allow_mic") : t("host.mute");
    mute.dataset.action = person.audioBlocked ? "unmute" : "mute";
    const video = row.querySelector('[data-testid="video-off-participant"]');
    video.textContent = person.videoBlocked ? t("host.allow_camera") : t("host.stop_video");
    video.dataset.action = person.videoBlocked ? "video_on" : "video_off";
    const request = row.querySelector(".hp-request");
    const asks = this.asks.get(id) || new Set();
    const both = asks.has("audio") && asks.has("video");
    request.textContent = both ? t("host.asks.both") : asks.has("audio") ? t("host.asks.audio")
      : asks.has("video") ? t("host.asks.video") : "";
    request.hidden = asks.size === 0;
  }

  setMeetingState({ locked, recording }) {
    if (typeof locked === "boolean") this.locked = locked;
    if (typeof recording === "boolean") this.recording = recording;
    if (!this.panel) return;
    this.lockButton.textContent = this.locked ? t("host.unlock") : t("host.lock");
    this.lockButton.setAttribute("aria-pressed", String(this.locked));
    this.recordButton.textContent = this.recording ? t("host.record_stop") : t("host.record_start");
    this.recordButton.setAttribute("aria-pressed", String(this.recording));
  }

  onStats(message) {
    if (!this.panel) return;
    for (const row of message.participants || []) {
      const fields = { audio: row.audio, video: row.video };
      // null for a participant on another gateway: its blocks come in `moderation` messages instead.
      if (typeof row.audio_blocked === "boolean") fields.audioBlocked = row.audio_blocked;
      if (typeof row.video_blocked === "boolean") fields.videoBlocked = row.video_blocked;
      if (row.id === this.roster.self.id) {
        for (const [key, value] of Object.entries(fields)) if (value !== undefined) this.self[key] = value;
        this.show(row.id);
      } else {
        this.roster.update(row.id, fields);
      }
      const element = this.rows.get(row.id);
      if (element) setBadge(element, "participant-quality", "host.badge.connection", row.quality || "unknown");
    }
    this.stats.update(message);
  }

  close() {
    if (this.stats) this.stats.close();
  }
}

function deviceState(on, blocked) {
  if (blocked) return "blocked";
  return on ? "on" : "off";
}

// `key`: the badge's catalog text, "Mic: {state}" (one text per badge, so each language orders it its own way).
function setBadge(row, testid, key, state) {
  const badge = row.querySelector(`[data-testid="${testid}"]`);
  badge.dataset.state = state;
  if (testid === "participant-quality") badge.dataset.quality = state;
  // i18n-keys: host.badge.mic host.badge.camera host.badge.connection
  badge.textContent = t(key, { state: STATES.has(state) ? t(`host.state.${state}`) : state });
}
