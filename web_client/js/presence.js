// Who is in the call, told in the info line above the controls (never over the video): the people count,
// brief join / leave notices, "waiting for the host" for a guest alone, and, for the host, a guest's
// request to unmute with its Allow button, so it is seen with the host panel closed.

import { plural, t } from "./i18n.js";
import { icon } from "./icons.js";

const NOTICE_MS = 4000;
const REQUEST_MS = 20000;

export class Presence {
  constructor({ roster, signaling, footer, tileOf }) {
    this.roster = roster;
    this.tileOf = tileOf;
    this.signaling = signaling;
    this.box = document.createElement("div");
    this.box.className = "call-info";
    this.box.dataset.testid = "call-info";
    this.count = document.createElement("span");
    this.count.className = "people-count";
    this.count.dataset.testid = "people-count";
    this.line = document.createElement("span");
    this.line.className = "call-info-line";
    this.line.dataset.testid = "presence-line";
    this.line.setAttribute("role", "status");
    this.line.setAttribute("aria-live", "polite");
    this.countNumber = document.createElement("span");
    this.count.append(icon("users"), this.countNumber);
    this.box.append(this.count, this.line);
    footer.prepend(this.box);
    this.noticeTimer = null;
    roster.subscribe((change) => this.onChange(change));
    signaling.on("unmute_requested", (message) => this.onRequest(message));
  }

  onChange(change) {
    if (change.kind === "welcome") this.onWelcome(change.first);
    else if (change.kind === "joined") this.onJoined(change.id, change.known);
    else if (change.kind === "left") this.onLeft(change.person);
  }

  onWelcome(first) {
    for (const [id, person] of this.roster.people) if (person.host) this.badge(id);
    if (this.roster.self.host) this.badge(this.roster.self.id);
    if (first) this.idle();
    this.render();
  }

  onJoined(id, known) {
    const person = this.roster.get(id);
    if (person.host) this.badge(id);
    this.render();
    if (!known) this.notice(t("presence.joined", { name: person.name }), "joined");
  }

  onLeft(person) {
    this.render();
    if (person) this.notice(t("presence.left", { name: person.name }), "left");
  }

  onRequest(message) {
    const person = this.roster.get(message.participant_id);
    if (!person) return;
    const kind = message.kind === "video" ? "video" : "audio";
    // i18n-keys: presence.asks.audio presence.asks.video
    const allow = document.createElement("button");
    allow.type = "button";
    allow.className = "button small";
    allow.dataset.testid = "presence-allow";
    allow.textContent = t("presence.allow");
    allow.addEventListener("click", () => {
      this.signaling.send("host_action", { action: kind === "audio" ? "unmute" : "video_on",
        participant_id: message.participant_id });
      this.idle();
    });
    this.notice(t(`presence.asks.${kind}`, { name: person.name }), "request", allow, REQUEST_MS);
  }

  // A "Host" label in the name bar of the host's tile (room.js made the tile before this handler ran).
  badge(participantId) {
    const tile = this.tileOf(participantId);
    if (!tile || tile.querySelector(".host-badge")) return;
    const label = document.createElement("span");
    label.className = "host-badge";
    label.dataset.testid = "host-badge";
    label.textContent = t("presence.host_badge");
    tile.querySelector(".name-bar").insertBefore(label, tile.querySelector(".name").nextSibling);
  }

  // The count includes us; a guest alone with no host in the call is told it waits for the host.
  render() {
    const total = this.roster.people.size + 1;
    // i18n-keys: presence.people.one presence.people.few presence.people.many presence.people.other
    const label = plural("presence.people", total, { count: total });
    this.countNumber.textContent = String(total);
    this.count.setAttribute("aria-label", label);
    this.count.title = label;
    if (!this.noticeTimer) this.idle();
  }

  waiting() {
    if (this.roster.self.host) return false;
    return ![...this.roster.people.values()].some((person) => person.host);
  }

  idle() {
    clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    const waiting = this.roster.self !== null && this.waiting();
    this.line.dataset.kind = waiting ? "waiting" : "";
    this.line.replaceChildren(waiting ? t("presence.waiting_for_host") : "");
  }

  notice(text, kind, action = null, ms = NOTICE_MS) {
    clearTimeout(this.noticeTimer);
    this.line.dataset.kind = kind;
    this.line.replaceChildren(document.createTextNode(text));
    if (action) this.line.appendChild(action);
    this.noticeTimer = setTimeout(() => this.idle(), ms);
  }
}
