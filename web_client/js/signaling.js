// The WebSocket to the gateway: JSON messages with a `type`, dispatched to the handlers of that type (in the
// order they were added: the call page's own first, then features such as the host panel). One channel lives
// as long as the call: each reconnect opens a new socket under the same handlers.

// A socket that has heard nothing for this long is dead even if the browser has not noticed (a removed address,
// a cut link): the client pings every PING_MS, the gateway answers every ping.
const PING_MS = 2000;
const SILENCE_MS = 5000;
const CHECK_MS = 1000; // silence is looked for every second, so a dead socket is noticed 5-6 s after its last word
// A connect attempt that has not opened by then is abandoned (a SYN into a dead link waits much longer).
const CONNECT_TIMEOUT_MS = 6000;

export class SignalingChannel {
  constructor() {
    this.ws = null;
    this.handlers = new Map();
    this.onlost = null; // (event) => void: the socket closed or went silent, not by our own close()
    this.closedByUs = false;
    this.lastHeard = 0;
    this.pinger = null;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  // Opens a socket to `url`; resolves once open, rejects if it closes or times out first.
  connect(url) {
    this.drop();
    this.closedByUs = false;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      this.ws = ws;
      let opened = false;
      const timer = setTimeout(() => {
        if (!opened) {
          ws.onclose = null;
          ws.close();
          reject(new Error("timed out"));
        }
      }, CONNECT_TIMEOUT_MS);
      ws.onopen = () => {
        opened = true;
        clearTimeout(timer);
        this.lastHeard = Date.now();
        this.startPinging(ws);
        resolve(ws);
      };
      ws.onmessage = (event) => {
        if (ws !== this.ws) return;
        this.lastHeard = Date.now();
        this.dispatch(event.data);
      };
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (!opened) {
          reject(new Error(`could not connect (${event.code})`));
          return;
        }
        if (ws !== this.ws) return;
        this.lost(event);
      };
    });
  }

  startPinging(ws) {
    clearInterval(this.pinger);
    let lastPing = 0;
    this.pinger = setInterval(() => {
      if (ws !== this.ws) return;
      const now = Date.now();
      if (now - this.lastHeard > SILENCE_MS) {
        this.lost({ code: 0, reason: "silent" });
        return;
      }
      if (now - lastPing >= PING_MS - 100) {
        lastPing = now;
        this.send("ping");
      }
    }, CHECK_MS);
  }

  // The socket is gone (closed by the server or the network, or silent): forget it and tell the page once.
  lost(event) {
    const ws = this.ws;
    this.drop();
    if (ws && this.onlost && !this.closedByUs) this.onlost(event);
  }

  // Checks the socket now: a ping that gets no answer within a few seconds means it is dead.
  probe(timeoutMs = 3000) {
    const ws = this.ws;
    if (!ws) return;
    const asked = Date.now();
    this.send("ping");
    setTimeout(() => {
      if (ws === this.ws && this.lastHeard < asked) this.lost({ code: 0, reason: "no answer" });
    }, timeoutMs);
  }

  drop() {
    clearInterval(this.pinger);
    this.pinger = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      // 4000: not a goodbye, so the gateway keeps us for our reconnect window.
      if (ws.readyState <= WebSocket.OPEN) ws.close(4000, "reconnecting");
    }
  }

  get connected() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  dispatch(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      console.warn("signaling: ignoring a message that is not JSON");
      return;
    }
    if (message.type === "ping") {
      // Answering keeps the gateway's idea of this participant fresh during hours-long calls.
      this.send("pong");
      return;
    }
    if (message.type === "pong") return; // heard: lastHeard is already updated
    const handlers = this.handlers.get(message.type);
    if (!handlers) {
      console.debug("signaling: no handler for", message.type);
      return;
    }
    // Each handler on its own: one that fails does not keep the others from seeing the message.
    for (const handler of handlers) {
      Promise.resolve()
        .then(() => handler(message))
        .catch((err) => console.error(`signaling: handling ${message.type} failed`, err));
    }
  }

  send(type, fields = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }

  // A goodbye: the gateway lets the participant go at once.
  close(code = 1000, reason = "leave") {
    this.closedByUs = true;
    clearInterval(this.pinger);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(code, reason);
  }
}
