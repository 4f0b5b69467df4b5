// stream.js: one room's live chat socket with resume. It remembers the seq
// of the last message seen and reconnects with ?after=<seq>, so a dropped
// connection or a daemon restart loses nothing; a message whose seq is not
// newer is dropped, so nothing shows twice. Messages sent while offline
// wait in a queue with a client_id and are sent once the socket is open;
// the server stores a client_id once, so a resend after a cut never doubles.

/** @typedef {{type:string, seq?:number, client_id?:string, [k:string]:any}} ChatEvent */

/** Close codes after which reconnecting is pointless. */
export const FATAL_CLOSE = new Set([1008, 4003]);

/** backoff returns the delay before reconnect attempt n (0-based), in ms. @param {number} n */
export function backoff(n) {
  return Math.min(250 * 2 ** n, 5000);
}

/** newClientID makes a unique client_id. */
export function newClientID() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class RoomStream {
  /**
   * @param {{roomID:number, token:()=>string, after:number, onEvent:(e:ChatEvent)=>void,
   *   onState:(s:'connecting'|'open'|'reconnecting'|'closed', detail?:string)=>void,
   *   WebSocket?:typeof WebSocket, url?:string, setTimeout?:typeof setTimeout}} o
   */
  constructor(o) {
    this.o = o;
    this.roomID = o.roomID;
    this.lastSeq = o.after;
    /** @type {Array<{client_id:string, content:string, role_id?:number}>} */
    this.pending = [];
    this.attempt = 0;
    this.stopped = false;
    /** @type {WebSocket|null} */
    this.ws = null;
    this.WS = o.WebSocket || globalThis.WebSocket;
    this.timer = o.setTimeout || globalThis.setTimeout.bind(globalThis);
    this.connect();
  }

  url() {
    const base = this.o.url || `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`;
    const q = new URLSearchParams({ token: this.o.token(), after: String(this.lastSeq) });
    return `${base}/ws/chat/${this.roomID}?${q}`;
  }

  connect() {
    if (this.stopped) return;
    this.o.onState(this.attempt ? 'reconnecting' : 'connecting');
    const ws = new this.WS(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.o.onState('open');
      for (const p of this.pending) ws.send(JSON.stringify({ type: 'message', ...p }));
    };
    ws.onmessage = (ev) => {
      /** @type {ChatEvent} */
      let e;
      try { e = JSON.parse(String(ev.data)); } catch { return; }
      this.receive(e);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (FATAL_CLOSE.has(ev.code)) {
        this.stopped = true;
        this.o.onState('closed', ev.reason || 'closed');
        return;
      }
      this.o.onState('reconnecting');
      this.timer(() => this.connect(), backoff(this.attempt++));
    };
  }

  /** receive applies one event: drops replays already seen, settles the queue. @param {ChatEvent} e */
  receive(e) {
    if (e.type === 'message') {
      if (typeof e.seq === 'number') {
        if (e.seq <= this.lastSeq) return;
        this.lastSeq = e.seq;
      }
      if (e.client_id) this.settle(e.client_id);
    } else if (e.type === 'ack' && e.client_id) {
      this.settle(e.client_id);
      return;
    }
    this.o.onEvent(e);
  }

  /** @param {string} id */
  settle(id) {
    this.pending = this.pending.filter((p) => p.client_id !== id);
  }

  /**
   * send queues a message and sends it now when the socket is open.
   * @param {string} content @param {number} [roleID] @returns {string} its client_id
   */
  send(content, roleID) {
    const p = { client_id: newClientID(), content, ...(roleID ? { role_id: roleID } : {}) };
    this.pending.push(p);
    this.frame({ type: 'message', ...p });
    return p.client_id;
  }

  /** frame sends a control frame if the socket is open (typing, ai_cancel). @param {object} f */
  frame(f) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(f));
  }

  /** reconnectNow skips the backoff (the browser came back online). */
  reconnectNow() {
    if (!this.ws && !this.stopped) { this.attempt = 0; this.connect(); }
  }

  close() {
    this.stopped = true;
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000, 'bye'); }
  }
}
