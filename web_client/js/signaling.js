// The WebSocket to the gateway: JSON messages with a `type`, dispatched to the handlers of that type (in the
// order they were added: the call page's own first, then features such as the host panel).

export class SignalingChannel {
  constructor(url) {
    this.url = url;
    this.ws = null;
    this.handlers = new Map();
    this.onclose = null;
    this.closedByUs = false;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
    return this;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        resolve(ws);
      };
      ws.onmessage = (event) => this.dispatch(event.data);
      ws.onclose = (event) => {
        if (!opened) reject(new Error(`could not connect (code ${event.code})`));
        if (this.onclose) this.onclose(event, this.closedByUs);
      };
    });
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

  close(code = 1000, reason = "leave") {
    this.closedByUs = true;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
  }
}
