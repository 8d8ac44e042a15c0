// Guest pre-join page: name, camera / microphone preview with on/off and device pickers, then join.
// The choices go to the call page through sessionStorage; the preview's tracks stop before leaving.

import { saveCallPrefs, loadCallPrefs } from "./call_prefs.js";
import { fillSelect, listDevices } from "./devices.js";
import { hydrateIcons, setIcon } from "./icons.js";
import { LocalMedia, describeMediaError, insecureContextNotice } from "./local_media.js";
import { playVideo } from "./media.js";
import { MAX_NAME_CHARS, cleanName, nameLength, nameProblem, nameProblemKey } from "./name_check.js";
import { initialOf } from "./tiles.js";
import { MicMeter } from "./mic_meter.js";
import { WhoIsHere } from "./who_is_here.js";
import { t, plural } from "./i18n.js";

const meetingId = document.body.dataset.meetingId;
const form = document.getElementById("join-form");
const nameInput = document.getElementById("guest-name");
const nameCount = document.getElementById("name-count");
const errorBox = document.getElementById("join-error");
const submit = document.getElementById("join-submit");
const preview = document.getElementById("preview");
const previewVideo = document.getElementById("preview-video");
const previewAvatar = document.getElementById("preview-avatar");
const note = document.getElementById("media-note");
const buttons = { audio: document.getElementById("toggle-mic"), video: document.getElementById("toggle-camera") };
const selects = { audio: document.getElementById("mic-select"), video: document.getElementById("camera-select") };
const maxName = Number(nameInput.dataset.max) || MAX_NAME_CHARS;
const meter = new MicMeter(document.getElementById("mic-level"));
const here = new WhoIsHere({ element: document.getElementById("who-is-here"), meetingId, say: sayWhoIsHere });

const prefs = loadCallPrefs(meetingId);
const media = new LocalMedia({ micId: prefs.micId, cameraId: prefs.cameraId });
const busy = { audio: false, video: false };
// What the person chose (the saved choice, then their clicks): what the call starts with. Not what is open
// this instant: a device still opening when Join is pressed (a slow camera) must not join as "off".
// A device that fails to open is off, and the note says why.
const chosen = { audio: prefs.audio, video: prefs.video };
let leaving = false;

// Tests and the console can look at the preview's state.
window.prejoin = { media, busy, chosen, meter };

const LABELS = {
  audio: { on: t("join.mic_off"), off: t("join.mic_on"), icons: ["mic", "micOff"] },
  video: { on: t("join.camera_off_action"), off: t("join.camera_on"), icons: ["camera", "cameraOff"] },
};

function showNote(text) {
  note.textContent = text;
  note.hidden = !text;
}

function render() {
  const state = media.state();
  for (const kind of ["audio", "video"]) {
    const on = state[kind];
    const button = buttons[kind];
    button.dataset.state = on ? "on" : "off";
    button.setAttribute("aria-label", on ? LABELS[kind].on : LABELS[kind].off);
    button.title = button.getAttribute("aria-label");
    button.disabled = busy[kind];
    setIcon(button.querySelector(".control-icon"), on ? LABELS[kind].icons[0] : LABELS[kind].icons[1]);
  }
  preview.dataset.video = state.video ? "on" : "off";
  meter.follow(media.track("audio"));
}

// "Oleh is in the call", "Oleh and Ann are in the call", "Oleh and 4 others are in the call".
function sayWhoIsHere({ names, count }) {
  if (count === 0 || names.length === 0) return t("join.here.nobody");
  if (count === 1) return t("join.here.one", { name: names[0] });
  if (count === 2 && names.length >= 2) return t("join.here.two", { first: names[0], second: names[1] });
  return plural("join.here.others", count - 1, { name: names[0] });
}

async function showPreview() {
  const track = media.track("video");
  previewVideo.srcObject = track ? new MediaStream([track]) : null;
  if (track) await playVideo(previewVideo);
}

async function refreshDevices() {
  const devices = await listDevices();
  fillSelect(selects.video, devices.video, media.deviceIds.video, { noun: t("join.camera"), emptyText: t("join.no_camera") });
  fillSelect(selects.audio, devices.audio, media.deviceIds.audio, { noun: t("join.microphone"), emptyText: t("join.no_microphone") });
}

async function start() {
  const insecure = insecureContextNotice();
  if (insecure) {
    // No device can open here: the reason, instead of every device failing with a cryptic error.
    showNote(insecure);
    note.dataset.reason = "insecure-context";
    render();
    return;
  }
  const errors = await media.start({ audio: prefs.audio, video: prefs.video });
  for (const kind of ["audio", "video"]) if (errors[kind]) chosen[kind] = false;
  const problems = ["video", "audio"].filter((kind) => errors[kind]).map((kind) => describeMediaError(kind, errors[kind]));
  if (problems.length > 0) showNote(`${problems.join(" ")} ${t("join.still_can_join")}`);
  if (leaving) {
    media.stopAll();
    return;
  }
  await showPreview();
  render();
  await refreshDevices();
}

async function toggle(kind) {
  if (busy[kind] || leaving) return;
  busy[kind] = true;
  render();
  try {
    if (media.isOn(kind)) {
      chosen[kind] = false;
      media.turnOff(kind);
    } else {
      chosen[kind] = true;
      await media.turnOn(kind);
      showNote("");
      await refreshDevices(); // the first permission grant reveals the device names
    }
  } catch (err) {
    if (err.name !== "AbortError") {
      chosen[kind] = false;
      showNote(`${describeMediaError(kind, err)} ${t("join.still_can_join")}`);
    }
  } finally {
    busy[kind] = false;
    if (kind === "video") await showPreview();
    render();
  }
}

async function pick(kind) {
  if (busy[kind]) return;
  busy[kind] = true;
  render();
  try {
    await media.switchDevice(kind, selects[kind].value);
  } catch (err) {
    showNote(describeMediaError(kind, err));
  } finally {
    busy[kind] = false;
    if (kind === "video") await showPreview();
    render();
  }
}

function renderName() {
  const name = cleanName(nameInput.value);
  const length = nameLength(name);
  nameCount.textContent = `${length}/${maxName}`;
  nameCount.classList.toggle("over", length > maxName);
  previewAvatar.textContent = name ? initialOf(name) : "?";
}

function onSubmit(event) {
  const found = nameProblemKey(nameInput.value, maxName);
  const problem = found ? t(found.key, found.fields) : "";
  if (problem) {
    event.preventDefault();
    errorBox.textContent = problem; // textContent: nothing typed here is ever HTML
    nameInput.setAttribute("aria-invalid", "true");
    nameInput.focus();
    return;
  }
  // The browser posts the form (the gateway checks the name again and sets the guest token).
  leaving = true;
  // The choice, not the devices' state now: the call page opens them again from it.
  saveCallPrefs(meetingId, {
    audio: chosen.audio,
    video: chosen.video,
    micId: media.deviceIds.audio,
    cameraId: media.deviceIds.video,
  });
  media.stopAll(); // free the camera for the call page, which opens it again
  meter.close();
  here.stop();
  previewVideo.srcObject = null;
  submit.disabled = true;
  submit.textContent = t("join.joining");
}

hydrateIcons();
render();
renderName();
if (errorBox.textContent.trim()) nameInput.setAttribute("aria-invalid", "true");
for (const kind of ["audio", "video"]) {
  buttons[kind].addEventListener("click", () => toggle(kind));
  selects[kind].addEventListener("change", () => pick(kind));
}
nameInput.addEventListener("input", () => {
  renderName();
  if (nameInput.getAttribute("aria-invalid") && !nameProblem(nameInput.value, maxName)) {
    nameInput.removeAttribute("aria-invalid");
    errorBox.textContent = "";
  }
});
form.addEventListener("submit", onSubmit);
if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
  navigator.mediaDevices.addEventListener("devicechange", () => refreshDevices());
}
media.onended = (kind) => {
  chosen[kind] = false;
  showNote(kind === "video" ? t("join.camera_stopped") : t("join.mic_stopped"));
  if (kind === "video") showPreview();
  render();
};
// Back/forward cache or closing the tab: never leave the camera light on.
window.addEventListener("pagehide", () => {
  media.stopAll();
  meter.follow(null);
  here.stop();
});
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return; // back to this page from the cache: the preview was stopped, start it again
  leaving = false;
  submit.disabled = false;
  submit.textContent = t("join.submit");
  here.start();
  start();
});
here.start();
start();
