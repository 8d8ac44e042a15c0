// What this browser tells the gateway about its join (`client_report`, the gateway's user-experience metrics):
// that its media reached the media server, how long its first remote frame took, and its browser and OS as
// families. Pure (no DOM): room.js feeds it events and a send function; tested under node.

export const BROWSERS = ["chrome", "firefox", "safari", "edge", "other"];
export const SYSTEMS = ["windows", "macos", "linux", "android", "ios", "other"];
// The gateway refuses longer first-frame times (a tab asleep in the background is not a slow join).
export const MAX_FIRST_FRAME_MS = 600_000;

// Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", and every iOS browser is WebKit.
export function browserFamily(userAgent) {
  const ua = String(userAgent || "");
  if (/\bEdg(e|A|iOS)?\//.test(ua)) return "edge";
  if (/\b(Firefox|FxiOS)\//.test(ua)) return "firefox";
  if (/\b(OPR|Opera|SamsungBrowser|YaBrowser|Vivaldi|UCBrowser)\//.test(ua)) return "other";
  if (/(Chrome|Chromium|CriOS)\//.test(ua)) return "chrome"; // also HeadlessChrome/ (automation)
  if (/\bSafari\//.test(ua) && /\bVersion\//.test(ua)) return "safari";
  return "other";
}

// `touchPoints` (navigator.maxTouchPoints): an iPad asks for desktop pages and says "Macintosh".
export function osFamily(userAgent, touchPoints = 0) {
  const ua = String(userAgent || "");
  if (/\b(iPhone|iPad|iPod)\b/.test(ua)) return "ios";
  if (/\bMacintosh\b/.test(ua)) return touchPoints > 1 ? "ios" : "macos";
  if (/\bAndroid\b/.test(ua)) return "android";
  if (/\bWindows\b/.test(ua)) return "windows";
  if (/\bCrOS\b/.test(ua)) return "other";
  if (/\b(Linux|X11)\b/.test(ua)) return "linux";
  return "other";
}

export class ClientReporter {
  // `send(fields)`: true when it went out (the socket was open); a report that did not is sent at the next welcome.
  constructor({ userAgent, touchPoints = 0, send }) {
    this.families = { browser: browserFamily(userAgent), os: osFamily(userAgent, touchPoints) };
    this.send = send;
    this.startedAt = null;
    this.participantId = null;
    this.reset(false);
  }

  reset(timed) {
    this.timed = timed; // time the first frame: someone's camera was on when we joined
    this.connectedSent = false;
    this.frameDone = false;
    this.pending = null;
  }

  // The first signaling socket is being opened: the first-frame clock starts (later sockets do not restart it).
  joining(now) {
    if (this.startedAt === null) this.startedAt = now;
  }

  // Every welcome. A new participant id is a new join for the gateway, reported anew; only the first join is
  // timed, since a rejoin keeps showing its old tiles and has no first frame to wait for.
  welcome(participantId, participants) {
    if (participantId !== this.participantId) {
      const first = this.participantId === null;
      this.participantId = participantId;
      this.reset(first && participants.some((p) => p.video));
      return;
    }
    if (this.pending) this.deliver(this.pending);
  }

  // A peer connection to the media server connected (ICE and DTLS): our media reached it.
  mediaConnected() {
    if (this.connectedSent || this.frameDone || this.participantId === null) return;
    this.connectedSent = true;
    this.deliver({ ...this.families });
  }

  // A remote video frame decoded (the first counts).
  frameDecoded(now) {
    if (this.frameDone || this.participantId === null) return;
    this.frameDone = true;
    const elapsed = Math.round(now - this.startedAt);
    if (this.timed && this.startedAt !== null && elapsed >= 0 && elapsed <= MAX_FIRST_FRAME_MS) {
      this.deliver({ ...this.families, first_frame_ms: elapsed });
    } else if (!this.connectedSent) {
      this.connectedSent = true;
      this.deliver({ ...this.families });
    }
  }

  deliver(fields) {
    this.pending = this.send(fields) ? null : fields;
  }
}
