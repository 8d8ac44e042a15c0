// The pre-join choices (camera and microphone on/off, which devices), carried to the call page of the
// same tab through sessionStorage, one entry per meeting.

const DEFAULTS = { audio: true, video: true, micId: null, cameraId: null };

function key(meetingId) {
  return `call-prefs:${meetingId}`;
}

export function loadCallPrefs(meetingId) {
  let saved = {};
  try {
    saved = JSON.parse(sessionStorage.getItem(key(meetingId)) || "{}") || {};
  } catch {
    saved = {}; // storage disabled or a mangled entry: the defaults will do
  }
  const prefs = { ...DEFAULTS };
  for (const field of ["audio", "video"]) if (typeof saved[field] === "boolean") prefs[field] = saved[field];
  for (const field of ["micId", "cameraId"]) {
    if (typeof saved[field] === "string" && saved[field].length > 0 && saved[field].length <= 512) {
      prefs[field] = saved[field];
    }
  }
  return prefs;
}

export function saveCallPrefs(meetingId, prefs) {
  const value = {
    audio: Boolean(prefs.audio),
    video: Boolean(prefs.video),
    micId: prefs.micId || null,
    cameraId: prefs.cameraId || null,
  };
  try {
    sessionStorage.setItem(key(meetingId), JSON.stringify(value));
  } catch {
    // Private mode with storage off: the call starts with the defaults instead.
  }
}
