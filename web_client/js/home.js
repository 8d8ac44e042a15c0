// Host home: create a meeting, show its share panel, and list the live meetings to share or enter again.

import { t } from "./i18n.js";
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
    if (!response.ok) {
      // The server's own message is for developers (English); the host reads the catalog's words.
      console.warn("create meeting:", response.status, body.message);
      // i18n-keys: home.error.media_unavailable home.error.create
      errorBox.textContent = t(body.error === "media_unavailable" ? "home.error.media_unavailable" : "home.error.create");
      return;
    }
    panel.show(body);
    panel.link.focus({ preventScroll: true });
    await refreshList();
  } catch (err) {
    console.warn("create meeting:", err);
    errorBox.textContent = t("home.error.create");
  } finally {
    button.disabled = false;
  }
}

async function refreshList() {
  try {
    await meetings.refresh();
  } catch (err) {
    console.warn("meeting list:", err);
    errorBox.textContent = t("home.error.list");
  }
}

button.addEventListener("click", createMeeting);
button.disabled = false; // disabled in the page until this module (it awaits its catalog first) listens
// Coming back to the tab (e.g. after a call) shows fresh people counts and drops ended meetings.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshList();
});
refreshList();
