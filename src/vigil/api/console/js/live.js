// The live event stream: one WebSocket per signed-in tab, shared by the views.
//
// The socket authenticates with the session cookie (the API checks the Origin). Views subscribe
// while they are shown. After a drop it reconnects with back-off and tells subscribers
// "reconnected", so a list can reload what it may have missed in the gap.
//
// The server closes the socket with 4401 when the session ends (logout elsewhere, expiry,
// revocation, a disabled account) and 4403 when a change of roles or cameras leaves nothing it
// may show (docs/api.md). Neither is retried: `onEnded(code, reason)` signs the tab out.

const MAX_RETRY_MS = 30_000;

export class Live {
  /** `onState(text)` is told "connected", "reconnecting" or "stopped"; `onEnded(code, reason)`
   * when the server ended the session's access (4401) or its scope (4403). */
  constructor(onState, onEnded = () => {}) {
    this.onState = onState;
    this.onEnded = onEnded;
    this.handlers = new Set();
    this.closed = false;
    this.retryMs = 1000;
    this.everOpened = false;
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/events`);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.retryMs = 1000;
      this.onState("connected");
      if (this.everOpened) this.emit({ type: "reconnected" });
      this.everOpened = true;
    });
    ws.addEventListener("message", (msg) => {
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.emit(event);
    });
    ws.addEventListener("close", (ev) => {
      if (this.closed) return;
      if (ev.code === 4401 || ev.code === 4403) {
        this.onState("stopped");
        this.onEnded(ev.code, ev.reason);
        return;
      }
      this.onState("reconnecting");
      setTimeout(() => this.closed || this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    });
  }

  emit(event) {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (err) {
        console.error("live event handler failed", err);
      }
    }
  }

  /** Call `handler(event)` for each event; returns the function that stops it. */
  subscribe(handler) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  close() {
    this.closed = true;
    this.handlers.clear();
    this.ws?.close();
  }
}
