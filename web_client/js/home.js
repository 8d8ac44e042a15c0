// Host home: create a meeting, show its share panel, and list the live meetings to share or enter again.

import { hydrateIcons } from "./icons.js";
import { MeetingList } from "./meeting_list.js";
import { SharePanel } from "./share_panel.js";

hydrateIcons();
const button = document.getElementById("create-meeting");
const errorBox = document.getElementById("home-error");
const panel = new SharePanel(document.getElementById("share-panel"));
const meetings = new MeetingList(
  document.getElementById("meeting-list"),
  document.getElementById("meetings-empty"),
  document.getElementById("meetings-count"),
  (meeting) => {
    panel.show(meeting);
    panel.root.scrollIntoView({ behavior: "smooth", block: "nearest" });
  },
);

// Tests and the console can look at what the page knows.
window.homePage = { panel, meetings };

async function createMeeting() {
  button.disabled = true;
  errorBox.textContent = "";
  try {
    const response = await fetch("/api/meetings", { method: "POST", credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      window.location.assign("/login");
      return;
    }
    if (!response.ok) throw new Error(body.message || `the server answered ${response.status}`);
    panel.show(body);
    panel.link.focus({ preventScroll: true });
    await refreshList();
  } catch (err) {
    errorBox.textContent = `Could not create a meeting: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

async function refreshList() {
  try {
    await meetings.refresh();
  } catch (err) {
    errorBox.textContent = `Could not load your meetings: ${err.message}`;
  }
}

button.addEventListener("click", createMeeting);
// Coming back to the tab (e.g. after a call) shows fresh people counts and drops ended meetings.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshList();
});
refreshList();
