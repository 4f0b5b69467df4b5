// stream.js: one room's live chat socket with resume. It remembers the seq
// of the last message seen and reconnects with ?after=<seq>, so a dropped
// connection or a daemon restart loses nothing; a message whose seq is not
// newer is dropped, so nothing shows twice. Messages sent while offline
// wait in a queue with a client_id and are sent once the socket is open;
// the server stores a client_id once, so a resend after a cut never doubles.
// The queue is kept in sessionStorage (queueKey), so a reload while offline
// loses nothing: the new page sends it with the same client_ids.

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

/** @typedef {{client_id:string, content:string, role_id?:number}} Pending */

export class RoomStream {
  /**
   * @param {{roomID:number, token:()=>string, after:number, onEvent:(e:ChatEvent)=>void,
   *   onState:(s:'connecting'|'open'|'reconnecting'|'closed', detail?:string)=>void,
   *   WebSocket?:typeof WebSocket, url?:string, setTimeout?:typeof setTimeout,
   *   queueKey?:string, storage?:Pick<Storage,'getItem'|'setItem'|'removeItem'>|null}} o
   */
  constructor(o) {
    this.o = o;
    this.roomID = o.roomID;
    this.lastSeq = o.after;
    this.store = o.storage === undefined ? (globalThis.sessionStorage || null) : o.storage;
    this.queueKey = o.queueKey || '';
    /** @type {Pending[]} */
    this.pending = this.load();
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
      // A resend of a message stored before (the first answer was lost).
      this.settle(e.client_id);
    }
    this.o.onEvent(e);
  }

  /** settle drops a message from the queue once the server has it. @param {string} id */
  settle(id) {
    const before = this.pending.length;
    this.pending = this.pending.filter((p) => p.client_id !== id);
    if (this.pending.length !== before) this.save();
  }

  /** load reads the queue a page before this one left (a reload while offline). @returns {Pending[]} */
  load() {
    if (!this.store || !this.queueKey) return [];
    try {
      const q = JSON.parse(this.store.getItem(this.queueKey) || '[]');
      return Array.isArray(q) ? q.filter((p) => p && typeof p.client_id === 'string' && typeof p.content === 'string') : [];
    } catch { return []; }
  }

  save() {
    if (!this.store || !this.queueKey) return;
    try {
      if (this.pending.length) this.store.setItem(this.queueKey, JSON.stringify(this.pending));
      else this.store.removeItem(this.queueKey);
    } catch { /* storage full or denied: the queue still lives in this page */ }
  }

  /**
   * send queues a message and sends it now when the socket is open.
   * @param {string} content @param {number} [roleID] @returns {string} its client_id
   */
  send(content, roleID) {
    const p = { client_id: newClientID(), content, ...(roleID ? { role_id: roleID } : {}) };
    this.pending.push(p);
    this.save();
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
