// The host's live meetings, from GET /api/meetings: each with its people count, a share and an enter button.

import { formatClock } from "./expiry.js";
import { plural, t } from "./i18n.js";
import { icon } from "./icons.js";

export class MeetingList {
  // `onShare(meeting)` opens the share panel for that meeting.
  constructor(list, empty, count, onShare) {
    this.list = list;
    this.empty = empty;
    this.count = count;
    this.onShare = onShare;
    this.meetings = [];
  }

  async refresh() {
    const response = await fetch("/api/meetings", { credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/login");
      return this.meetings;
    }
    if (!response.ok) throw new Error(`GET /api/meetings answered ${response.status}`);
    const body = await response.json();
    this.render(Array.isArray(body.meetings) ? body.meetings : []);
    return this.meetings;
  }

  render(meetings) {
    this.meetings = meetings;
    this.list.replaceChildren(...meetings.map((meeting) => this.item(meeting)));
    this.empty.hidden = meetings.length > 0;
    this.count.textContent = meetings.length > 0 ? String(meetings.length) : "";
  }

  item(meeting) {
    const now = new Date();
    const li = document.createElement("li");
    li.className = "meeting-item";
    li.dataset.testid = "meeting-item";
    li.dataset.meetingId = meeting.id;

    const info = document.createElement("div");
    info.className = "meeting-info";
    const code = document.createElement("code");
    code.className = "meeting-code";
    code.textContent = meeting.id;
    const meta = document.createElement("span");
    meta.className = "meeting-meta muted";
    const people = plural("home.meeting.people", meeting.participants);
    const started = formatClock(new Date(meeting.created_at), now);
    const ends = formatClock(new Date(meeting.expires_at), now);
    meta.textContent = t("home.meeting.info", { started, people, ends });
    info.append(code, meta);

    const buttons = document.createElement("div");
    buttons.className = "meeting-buttons";
    const share = document.createElement("button");
    share.type = "button";
    share.className = "button";
    share.dataset.testid = "share-meeting";
    share.textContent = t("home.meeting.share");
    // Every row has a "Share" and an "Enter": the accessible name says which meeting.
    share.setAttribute("aria-label", t("home.meeting.share_label", { id: meeting.id }));
    share.addEventListener("click", () => this.onShare(meeting));
    const enter = document.createElement("a");
    enter.className = "button primary";
    enter.dataset.testid = "enter-meeting";
    enter.href = meeting.url;
    enter.setAttribute("aria-label", t("home.meeting.enter_label", { id: meeting.id }));
    enter.append(icon("enter"), document.createTextNode(` ${t("home.meeting.enter")}`));
    buttons.append(share, enter);

    li.append(info, buttons);
    return li;
  }
}
