// client_report.js: user agents mapped onto the gateway's fixed families, and when a report goes out.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BROWSERS, ClientReporter, MAX_FIRST_FRAME_MS, SYSTEMS, browserFamily, osFamily,
} from "../../web_client/js/client_report.js";

const AGENTS = [
  // [user agent, touch points, browser, os]
  ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", 0,
    "chrome", "linux"],
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 "
    + "Edg/124.0.2478.80", 0, "edge", "windows"],
  ["Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0", 0, "firefox", "linux"],
  ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    + "Safari/605.1.15", 0, "safari", "macos"],
  ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    + "Safari/605.1.15", 5, "safari", "ios"], // an iPad asking for the desktop site
  ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0 "
    + "Mobile/15E148 Safari/604.1", 5, "chrome", "ios"],
  ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 "
    + "Mobile/15E148 Safari/605.1.15", 5, "firefox", "ios"],
  ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
    + "Safari/537.36", 5, "chrome", "android"],
  ["Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
    + "Chrome/117.0.0.0 Mobile Safari/537.36", 5, "other", "android"],
  ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 "
    + "OPR/110.0.0.0", 0, "other", "windows"],
  ["Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    0, "chrome", "other"],
  ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
    0, "chrome", "linux"],
  ["curl/8.5.0", 0, "other", "other"],
  ["", 0, "other", "other"],
];

test("real user agents map onto the families", () => {
  for (const [ua, touch, browser, os] of AGENTS) {
    assert.equal(browserFamily(ua), browser, ua);
    assert.equal(osFamily(ua, touch), os, ua);
  }
});

test("anything at all maps into the fixed lists (they become metric labels)", () => {
  const pieces = ["Chrome/1", "Safari/2", "Version/3", "Edg/4", "Firefox/5", "Android", "iPhone", "Windows", "X11",
    "Macintosh", "CrOS", "OPR/6", "<script>", "\u0000", "Linux", "😀", " "];
  let x = 12345;
  for (let i = 0; i < 2000; i++) {
    let ua = "";
    for (let n = 0; n < 6; n++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      ua += pieces[x % pieces.length] + (x & 1 ? " " : "");
    }
    assert.ok(BROWSERS.includes(browserFamily(ua)), ua);
    assert.ok(SYSTEMS.includes(osFamily(ua, x % 3)), ua);
  }
  for (const odd of [undefined, null, 42, {}, []]) {
    assert.equal(browserFamily(odd), "other");
    assert.equal(osFamily(odd), "other");
  }
});

const CHROME = AGENTS[0][0];

function reporter(open = true) {
  const sent = [];
  const state = { open };
  const r = new ClientReporter({
    userAgent: CHROME, send: (fields) => state.open && sent.push(fields) > 0,
  });
  return { r, sent, state };
}

test("someone's camera on at the welcome: connected once, then the first frame timed from the first socket", () => {
  const { r, sent } = reporter();
  r.joining(1000);
  r.joining(1500); // a retry does not restart the clock
  r.welcome("p1", [{ id: "p0", video: true }]);
  r.mediaConnected();
  r.mediaConnected();
  r.frameDecoded(2250);
  r.frameDecoded(2400);
  assert.deepEqual(sent, [{ browser: "chrome", os: "linux" }, { browser: "chrome", os: "linux", first_frame_ms: 1250 }]);
});

test("alone at the welcome: no first-frame time, one report of reached media", () => {
  const { r, sent } = reporter();
  r.joining(0);
  r.welcome("p1", [{ id: "p0", video: false }]);
  r.frameDecoded(90_000); // someone turned the camera on a minute and a half later
  r.mediaConnected();
  assert.deepEqual(sent, [{ browser: "chrome", os: "linux" }]);
});

test("nothing before the welcome, an absurd time is left out, a report the socket missed goes at the next welcome", () => {
  const { r, sent, state } = reporter();
  r.joining(0);
  r.mediaConnected(); // no participant yet: the gateway would not know whose it is
  assert.deepEqual(sent, []);
  r.welcome("p1", [{ id: "p0", video: true }]);
  state.open = false;
  r.frameDecoded(MAX_FIRST_FRAME_MS + 1);
  assert.deepEqual(sent, []);
  state.open = true;
  r.welcome("p1", [{ id: "p0", video: true }]); // resumed: same participant
  assert.deepEqual(sent, [{ browser: "chrome", os: "linux" }]);
});

test("a new participant id (a rejoin) is a new join: reported again, untimed", () => {
  const { r, sent } = reporter();
  r.joining(0);
  r.welcome("p1", [{ id: "p0", video: true }]);
  r.frameDecoded(800);
  r.welcome("p2", [{ id: "p0", video: true }]);
  r.frameDecoded(90_000);
  assert.deepEqual(sent, [
    { browser: "chrome", os: "linux", first_frame_ms: 800 },
    { browser: "chrome", os: "linux" },
  ]);
});
