// call.js: voice calls in the browser, over /ws/signaling/{room} with the
// same protocol as client/call (vc call), so browsers and terminals share
// one mesh: the newcomer offers to everyone already there; perfect
// negotiation with the polite side chosen by peer id (ours < theirs), and
// the polite side asking the other for the turn ("negotiate" request/grant)
// before any later offer, which Pion needs since it cannot roll back.

import { api, session } from './api.js';
import { h, clear } from './dom.js';

const GRANT_TIMEOUT = 5000;

/** @type {Call|null} the call this tab is in (one at a time) */
let current = null;

class Remote {
  /** @param {Call} k @param {{peer_id:string, user:string}} p @param {boolean} offer */
  constructor(k, p, offer) {
    this.k = k;
    this.id = p.peer_id;
    this.user = p.user || '?';
    this.polite = k.selfID < this.id;
    this.pc = new RTCPeerConnection({ iceServers: k.ice });
    this.makingOffer = false;
    this.renegotiate = false;
    this.mayOffer = false;
    this.askedTurn = false;
    this.granted = 0;
    this.turnWanted = false;
    this.muted = false;
    this.level = 0;
    this.audio = new Audio();
    this.audio.autoplay = true;
    /** serialises negotiation steps */
    this.chain = Promise.resolve();
    this.pc.onicecandidate = (e) => { if (e.candidate) k.send('ice_candidate', this.id, e.candidate.toJSON()); };
    this.pc.onnegotiationneeded = () => this.serial(() => this.negotiate());
    this.pc.ontrack = (e) => { this.audio.srcObject = e.streams[0] || new MediaStream([e.track]); this.k.meter(this, this.audio.srcObject); };
    this.pc.onconnectionstatechange = () => k.render();
    if (offer) this.attach();
  }

  /** @param {()=>Promise<void>|void} f */
  serial(f) { this.chain = this.chain.then(f).catch((e) => console.warn('call:', e)); return this.chain; }

  attach() {
    const mic = this.k.stream;
    if (!mic || this.pc.getSenders().some((s) => s.track)) return;
    for (const t of mic.getAudioTracks()) this.pc.addTrack(t, mic);
  }

  async negotiate() {
    if (this.pc.signalingState !== 'stable') { this.renegotiate = true; return; }
    const first = !this.pc.remoteDescription;
    if (!first && this.polite && !this.mayOffer) {
      this.renegotiate = true;
      if (!this.askedTurn) { this.askedTurn = true; this.k.send('negotiate', this.id, { request: true }); }
      return;
    }
    if (!first && !this.polite && this.granted && Date.now() - this.granted < GRANT_TIMEOUT) { this.renegotiate = true; return; }
    this.renegotiate = false; this.mayOffer = false; this.granted = 0;
    this.makingOffer = true;
    try {
      await this.pc.setLocalDescription();
      const d = /** @type {RTCSessionDescription} */ (this.pc.localDescription);
      this.k.send('offer', this.id, { type: d.type, sdp: d.sdp });
    } finally { this.makingOffer = false; }
  }

  /** @param {any} m */
  async handle(m) {
    const d = m.data || {};
    switch (m.type) {
      case 'state': this.muted = !!d.muted; this.k.render(); return;
      case 'ice_candidate':
        try { await this.pc.addIceCandidate(d); } catch { /* a candidate of an ignored offer */ }
        return;
      case 'negotiate':
        if (d.grant && this.polite) { this.askedTurn = false; this.mayOffer = true; if (this.pc.signalingState === 'stable') await this.negotiate(); }
        else if (d.request && !this.polite) {
          if (this.pc.signalingState === 'stable' && !this.makingOffer && !this.renegotiate) this.grant(); else this.turnWanted = true;
        }
        return;
    }
    const desc = { type: d.type || m.type, sdp: d.sdp };
    if (desc.type === 'offer' && !this.polite) this.granted = 0;
    const collision = desc.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable');
    if (!this.polite && collision) return;
    await this.pc.setRemoteDescription(desc); // a browser rolls back implicitly
    if (desc.type === 'offer') {
      this.attach();
      await this.pc.setLocalDescription();
      const l = /** @type {RTCSessionDescription} */ (this.pc.localDescription);
      this.k.send('answer', this.id, { type: l.type, sdp: l.sdp });
    }
    await this.settled();
  }

  grant() { this.turnWanted = false; this.granted = Date.now(); this.k.send('negotiate', this.id, { grant: true }); }

  async settled() {
    if (this.pc.signalingState !== 'stable') return;
    if (this.renegotiate || (this.polite && this.mayOffer)) { await this.negotiate(); return; }
    if (!this.polite && this.turnWanted) this.grant();
  }

  close() { this.pc.close(); this.audio.srcObject = null; }
}

class Call {
  /** @param {any} view the RoomView */
  constructor(view) {
    this.view = view;
    this.roomID = view.room.id;
    /** @type {Map<string, Remote>} */
    this.peers = new Map();
    this.selfID = '';
    this.muted = false;
    this.ended = false;
    this.attempt = 0;
    /** @type {RTCIceServer[]} */
    this.ice = [];
    /** @type {MediaStream|null} the microphone, from start() */
    this.stream = null;
    this.box = h('div', { class: 'call', role: 'region', 'aria-label': 'Call' });
    this.list = h('ul', { class: 'participants', 'aria-label': 'In the call' });
    this.muteBtn = h('button', { type: 'button', 'aria-pressed': 'false', text: 'Mute', onclick: () => this.toggleMute() });
    this.box.append(this.list, this.muteBtn, h('button', { type: 'button', class: 'danger', text: 'Leave call', onclick: () => this.leave() }));
  }

  async start() {
    try {
      const cfg = await api.rtcConfig();
      this.ice = (cfg.ice_servers || []).map((/** @type {any} */ s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
    } catch { this.ice = []; }
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false });
    this.stream = mic;
    this.ctx = new AudioContext();
    this.selfLevel = { level: 0 };
    this.meter(this.selfLevel, mic);
    this.connect();
    this.tick = setInterval(() => this.render(), 200);
  }

  connect() {
    if (this.ended) return;
    const q = new URLSearchParams({ token: session.token });
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/signaling/${this.roomID}?${q}`);
    this.ws = ws;
    ws.onmessage = (ev) => { let m; try { m = JSON.parse(ev.data); } catch { return; } this.onSignal(m); };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.ended) return;
      // The mesh is rebuilt on a new socket: the daemon gives us a new peer id.
      for (const r of this.peers.values()) r.close();
      this.peers.clear();
      this.selfID = '';
      this.render();
      if (ev.code === 1008) { this.view.app.toast(`Call ended: ${ev.reason}`); this.leave(); return; }
      setTimeout(() => this.connect(), Math.min(250 * 2 ** this.attempt++, 5000));
    };
  }

  /** @param {string} type @param {string} to @param {any} data */
  send(type, to, data) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type, to, data }));
  }

  /** @param {any} m */
  onSignal(m) {
    switch (m.type) {
      case 'welcome':
        this.attempt = 0;
        this.selfID = m.peer_id;
        for (const p of m.peers || []) this.add(p, true);
        this.announce('');
        break;
      case 'peer_joined':
        this.add({ peer_id: m.peer_id, user: m.user }, false);
        this.announce(m.peer_id);
        break;
      case 'peer_left': {
        const r = this.peers.get(m.peer_id);
        if (r) { r.close(); this.peers.delete(m.peer_id); }
        break;
      }
      case 'offer': case 'answer': case 'ice_candidate': case 'state': case 'negotiate': {
        if (!m.from || m.from === this.selfID || (m.to && m.to !== this.selfID)) return;
        let r = this.peers.get(m.from);
        if (!r && m.type === 'offer') r = this.add({ peer_id: m.from, user: m.user }, false);
        if (r) { const rr = r; rr.serial(() => rr.handle(m)); }
        break;
      }
    }
    this.render();
  }

  /** @param {{peer_id:string, user:string}} p @param {boolean} offer */
  add(p, offer) {
    let r = this.peers.get(p.peer_id);
    if (!r) { r = new Remote(this, p, offer); this.peers.set(p.peer_id, r); }
    return r;
  }

  /** @param {string} to */
  announce(to) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify({ type: 'state', ...(to ? { to } : {}), data: { muted: this.muted } }));
  }

  toggleMute() {
    this.muted = !this.muted;
    if (this.stream) for (const t of this.stream.getAudioTracks()) t.enabled = !this.muted;
    this.muteBtn.setAttribute('aria-pressed', String(this.muted));
    this.muteBtn.textContent = this.muted ? 'Unmute' : 'Mute';
    this.announce('');
    this.render();
  }

  /**
   * meter keeps obj.level up to date from a stream's audio level (obj.sample() reads it).
   * @param {{level:number, analyser?:AnalyserNode, sample?:()=>void}} obj @param {MediaStream} stream
   */
  meter(obj, stream) {
    if (!this.ctx) return;
    const src = this.ctx.createMediaStreamSource(stream);
    const an = this.ctx.createAnalyser();
    an.fftSize = 512;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    obj.analyser = an;
    obj.sample = () => { an.getFloatTimeDomainData(buf); let s = 0; for (const x of buf) s += x * x; obj.level = Math.sqrt(s / buf.length); };
  }

  render() {
    clear(this.list);
    const row = (/** @type {string} */ name, /** @type {any} */ o, /** @type {boolean} */ muted, /** @type {string} */ state) => {
      if (o && o.sample) o.sample();
      const speaking = !muted && o && o.level > 0.02;
      this.list.append(h('li', { class: speaking ? 'speaking' : '' }, h('span', { class: 'dot on', 'aria-hidden': 'true' }),
        `${name}${muted ? ' (muted)' : ''}${state && state !== 'connected' ? ` · ${state}` : ''}`, speaking ? h('span', { class: 'sr', text: ' speaking' }) : null));
    };
    row(`${this.view.me.username} (you)`, this.selfLevel, this.muted, this.selfID ? '' : 'connecting');
    for (const r of this.peers.values()) row(r.user, r, r.muted, r.pc.connectionState);
  }

  leave() {
    this.ended = true;
    clearInterval(this.tick);
    if (this.ws) this.ws.close(1000, 'hang up');
    for (const r of this.peers.values()) r.close();
    this.peers.clear();
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.ctx) this.ctx.close();
    this.box.remove();
    if (current === this) current = null;
    if (this.view.callBtn) this.view.callBtn.hidden = false;
  }
}

/** callButton is the room header's "Join call" button. @param {any} view */
export function callButton(view) {
  const btn = h('button', { type: 'button', text: 'Join call', onclick: async () => {
    if (current) current.leave();
    const k = new Call(view);
    current = k;
    btn.hidden = true;
    view.el.querySelector('.room-head').after(k.box);
    try { await k.start(); } catch (e) {
      view.app.toast(`Could not join the call: ${/** @type {any} */ (e).message || e}`);
      k.leave();
    }
  } });
  view.callBtn = btn;
  const close = view.close.bind(view);
  view.close = () => { if (current && current.view === view) current.leave(); close(); };
  return btn;
}

/** onCallEvent shows who is in a room's call (chat "call" events). @param {any} view @param {any} e */
export function onCallEvent(view, e) {
  const n = (e.participants || []).length;
  if (view.callBtn) view.callBtn.textContent = 'Join call';
  view.online.dataset.call = n ? `${n} in call` : '';
}

/** the test hook: the current call, if any */
/** @type {any} */ (window).vcCall = () => current;
