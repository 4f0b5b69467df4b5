// chat.js: the room view: history (backwards with before=), the live
// stream (stream.js), AI replies streaming token by token, the composer
// with @ completion, members and seated roles.

import { api, session } from './api.js';
import { h, clear, dayLabel, field, showErrors } from './dom.js';
import { render, stableEnd } from './markdown.js';
import { RoomStream } from './stream.js';
import { PAGE } from './boot.js';
import { MeetingBanner } from './meeting.js';

// The message list keeps at most this many messages in the DOM: scrolling
// back drops the newest ones (reloaded with after= when you scroll down
// again), so a room of any length stays a page of bounded size.
export const WINDOW = 150;
// Formatters are built once: building one per message is slow.
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/**
 * @typedef {{id:number, seq:number, user:string, user_id:number|null, role_id:number|null,
 *   content:string, message_type:string, timestamp:string, client_id?:string}} Message
 */

/**
 * StreamState is a reply streaming in: its text so far, the length of it
 * already rendered for good (stable) and the nodes of the block still
 * growing (tail), redrawn on the next animation frame.
 * @typedef {{article:HTMLElement, body:HTMLElement, text:string, roleID:number|null, frame:number,
 *   stable:number, tail:ChildNode[], replyToMe:boolean}} StreamState
 */

export class RoomView {
  /**
   * @param {{room:any, me:any, app:any}} o
   */
  constructor(o) {
    this.room = o.room;
    this.me = o.me;
    this.app = o.app;
    /** @type {Map<string,StreamState>} */
    this.streams = new Map();
    /** @type {Map<number, any>} seated roles by id */
    this.roles = new Map();
    this.firstSeq = 0;
    this.lastDay = '';
    this.firstDay = '';
    this.loadingOlder = false;
    this.loadingNewer = false;
    this.atStart = false;
    // trimmedEnd: the newest messages were dropped from the DOM; live
    // messages wait in the database until the person scrolls down.
    this.trimmedEnd = false;
    this.lastShownSeq = 0;
    /** @type {any[]} */ this.held = [];
    this.heldDropped = false;
    /** @type {Map<string,number>} typing user -> expiry */
    this.typing = new Map();
    this.lastTypingSent = 0;
    // stuck: the view is at the end and follows new messages; scrollFrame:
    // the animation frame that will scroll there.
    this.stuck = true;
    this.scrollFrame = 0;
    /** @type {RoomStream|null} the live socket, from start() */
    this.stream = null;
    /** @type {Set<string>|null} */ this.onlineUsers = null;
    /** @type {any[]} */ this.memberList = [];
    this.panelKind = '';
    this.state = '';
    this.onlineHandler = () => { if (this.stream) this.stream.reconnectNow(); };
    /** @type {ReturnType<typeof setInterval>|undefined} */ this.typingTimer = undefined;
    // The elements are made here, so that they always exist.
    const r = this.room;
    this.title = h('h2', { class: 'room-title', text: r.name });
    this.bar = h('div', { class: 'reconnect', role: 'status', hidden: true });
    this.log = h('div', { class: 'log', role: 'log', 'aria-label': 'Messages', 'aria-live': 'polite', tabindex: '0' });
    this.sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
    this.log.append(this.sentinel);
    this.typingLine = h('p', { class: 'typing', 'aria-live': 'polite' });
    this.input = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'composer', rows: '1', 'aria-label': 'Message', placeholder: `Message ${r.name}`, onkeydown: (/** @type {KeyboardEvent} */ e) => this.onKey(e), oninput: () => this.onInput() }));
    this.stopBtn = h('button', { type: 'button', class: 'stop', hidden: true, onclick: () => this.stop(), text: 'Stop' });
    this.completion = h('ul', { class: 'completion', role: 'listbox', 'aria-label': 'Mentions', hidden: true });
    const form = h('form', { class: 'composer', onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); this.send(); } },
      this.completion, this.input, this.stopBtn, h('button', { type: 'submit', text: 'Send' }));
    this.panel = h('aside', { class: 'panel', hidden: true });
    this.meeting = new MeetingBanner(this);
    this.online = h('span', { class: 'online-count' });
    const head = h('header', { class: 'room-head' }, this.title, this.online,
      h('div', { class: 'room-actions' },
        h('button', { type: 'button', onclick: () => this.showMembers(), text: 'Members' }),
        h('button', { type: 'button', onclick: () => this.showRoles(), text: 'Roles' }),
        this.app.callButton ? this.app.callButton(this) : null,
        this.meeting.startBtn,
        h('button', { type: 'button', onclick: () => this.rename(), text: 'Rename' }),
        h('button', { type: 'button', onclick: () => this.leave(), text: 'Leave' }),
        this.room.created_by === this.me.id ? h('button', { type: 'button', class: 'danger', onclick: () => this.remove(), text: 'Delete' }) : null));
    this.el = h('section', { class: 'room', 'aria-labelledby': 'room-title' },
      head, this.meeting.el, this.bar, h('div', { class: 'room-body' }, h('div', { class: 'room-main' }, this.log, this.typingLine, form), this.panel));
    this.title.id = 'room-title';
    // Copy buttons of code blocks (markdown.js makes them).
    this.log.addEventListener('click', (e) => {
      const btn = /** @type {HTMLElement} */ (e.target).closest && /** @type {HTMLElement} */ (e.target).closest('button.copy');
      const code = btn && btn.parentElement && btn.parentElement.querySelector('pre');
      if (!btn || !code) return;
      navigator.clipboard.writeText(code.textContent || '').then(() => { btn.textContent = 'Copied'; }, () => { btn.textContent = 'Copy failed'; });
    });
    this.log.addEventListener('scroll', () => {
      // Whether the view follows new messages is decided by the person's
      // scrolling, read here (after layout) rather than before every insert.
      // A scroll the app has queued wins over the event of an older one.
      const end = this.nearEnd();
      if (!this.scrollFrame) this.stuck = end;
      if (this.trimmedEnd && end) this.loadNewer();
    }, { passive: true });
    this.observer = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) this.loadOlder(); }, { root: this.log });
  }

  async start() {
    let msgs = [];
    try {
      msgs = await (this.app.takePrefetch(this.room.id) || api.messages(this.room.id, { limit: PAGE }));
    } catch (e) {
      this.log.append(h('p', { class: 'error', text: String(/** @type {any} */ (e).message || e) }));
      return;
    }
    this.atStart = msgs.length < PAGE;
    // One DOM insertion for the whole page: no layout per message.
    const frag = document.createDocumentFragment();
    for (const m of msgs) this.append(m, frag);
    this.log.append(frag);
    this.firstSeq = msgs.length ? msgs[0].seq : 0;
    this.firstDay = msgs.length ? new Date(msgs[0].timestamp).toDateString() : '';
    this.scrollToEnd();
    // What the performance test reads: navigation to the newest messages in
    // the DOM (the mark) and painted (the element timing of the newest
    // message's time, the last thing the eye reads).
    performance.mark('vc:newest');
    const newest = this.log.querySelector('article:last-of-type time');
    if (newest) newest.setAttribute('elementtiming', 'vc-newest');
    const last = msgs.length ? msgs[msgs.length - 1].seq : 0;
    this.app.markRead(this.room.id, last);
    this.stream = new RoomStream({
      roomID: this.room.id, token: () => session.token, after: last,
      onEvent: (e) => this.onEvent(e), onState: (s, d) => this.onState(s, d),
      queueKey: `vc.queue.${this.me.id}.${this.room.id}`,
    });
    // Messages typed on a page before this one and not yet stored (a reload
    // while offline): shown as pending, sent once the socket opens. One
    // already in the history was stored; its resend is answered by an ack.
    const stored = new Set(msgs.map((/** @type {any} */ m) => m.client_id).filter(Boolean));
    for (const p of this.stream.pending) if (!stored.has(p.client_id)) this.log.append(this.pendingArticle(p.content, p.client_id));
    this.observer.observe(this.sentinel);
    this.loadRoles();
    this.meeting.load();
    window.addEventListener('online', this.onlineHandler);
    this.typingTimer = setInterval(() => this.renderTyping(), 1000);
  }

  close() {
    if (this.stream) this.stream.close();
    this.observer.disconnect();
    cancelAnimationFrame(this.scrollFrame);
    this.meeting.close();
    window.removeEventListener('online', this.onlineHandler);
    clearInterval(this.typingTimer);
  }

  /** @param {string} s @param {string} [detail] */
  onState(s, detail) {
    this.state = s;
    if (s === 'open' || s === 'connecting') { this.bar.hidden = true; return; }
    this.bar.hidden = false;
    this.bar.textContent = s === 'reconnecting' ? 'Reconnecting… messages you send now are sent once the connection is back.' : `Disconnected: ${detail}`;
    if (s === 'closed' && /token|auth/i.test(detail || '')) this.app.expired('Your session ended. Please log in again.');
  }

  /** @param {any} e */
  onEvent(e) {
    switch (e.type) {
      case 'message': {
        // Whoever sent a message is done typing it.
        if (e.user && !e.role_id && this.typing.delete(e.user)) this.renderTyping();
        if (this.trimmedEnd) { this.hold(e); break; } // shown when scrolled down
        const pending = e.client_id && this.log.querySelector(`article[data-client-id="${CSS.escape(e.client_id)}"]`);
        if (pending) pending.remove();
        if (e.message_type === 'ai_response' && e.role_id) {
          for (const [id, st] of this.streams) {
            if (st.roleID === e.role_id) { st.article.replaceWith(this.article(e)); this.endStream(id); this.follow(); this.afterAppend(e, st.replyToMe); return; }
          }
        }
        this.append(e);
        this.afterAppend(e);
        break;
      }
      case 'ack': {
        // A resend of a message stored before: shown once, as stored.
        const pending = e.client_id && this.log.querySelector(`article.pending[data-client-id="${CSS.escape(e.client_id)}"]`);
        if (!(pending instanceof HTMLElement)) break;
        if (e.seq && this.log.querySelector(`article[data-seq="${Number(e.seq)}"]`)) { pending.remove(); break; }
        pending.classList.remove('pending');
        pending.removeAttribute('aria-busy');
        if (e.id) pending.dataset.id = String(e.id);
        if (e.seq) pending.dataset.seq = String(e.seq);
        break;
      }
      case 'ai_start': if (!this.trimmedEnd) this.startStream(e); break;
      case 'ai_delta': this.delta(e); break;
      case 'ai_done': {
        const st = this.streams.get(e.stream_id);
        if (st) { st.article.dataset.id = String(e.message_id); st.article.classList.remove('streaming'); this.endStream(e.stream_id); }
        break;
      }
      case 'ai_error': {
        const st = this.streams.get(e.stream_id);
        if (st) {
          st.article.classList.remove('streaming');
          st.article.append(h('p', { class: 'ai-error', text: e.code === 'canceled' ? 'Stopped.' : `${e.detail}` }));
          this.endStream(e.stream_id);
        }
        break;
      }
      case 'typing':
        if (e.user && e.user !== this.me.username) { this.typing.set(e.user, Date.now() + 4000); this.renderTyping(); }
        break;
      case 'presence':
        this.onlineUsers = new Set((e.online || []).map((/** @type {any} */ u) => u.user));
        this.renderOnline();
        break;
      case 'join': case 'leave':
        if (!this.onlineUsers) this.onlineUsers = new Set();
        if (e.type === 'join') this.onlineUsers.add(e.user); else this.onlineUsers.delete(e.user);
        this.renderOnline();
        this.presenceLine(e);
        break;
      case 'members':
        this.loadRoles();
        if (this.panelKind === 'members') this.showMembers(true);
        if (this.panelKind === 'roles') this.showRoles(true);
        break;
      case 'meeting_start': case 'meeting_turn': case 'meeting_end':
        this.meeting.onEvent(e);
        break;
      case 'call':
        if (this.app.onCallEvent) this.app.onCallEvent(this, e);
        break;
    }
  }

  /** presenceLine collapses a burst of join/leave events into one line. @param {any} e */
  presenceLine(e) {
    const last = this.log.lastElementChild;
    const verb = e.type === 'join' ? 'joined' : 'left';
    if (last && last.classList.contains('presence')) {
      const seen = /** @type {HTMLElement} */ (last).dataset;
      const list = JSON.parse(seen.events || '[]');
      list.push(`${e.user} ${verb}`);
      seen.events = JSON.stringify(list.slice(-6));
      last.textContent = list.slice(-6).join(', ');
      return;
    }
    const p = h('p', { class: 'presence', text: `${e.user} ${verb}` });
    p.dataset.events = JSON.stringify([`${e.user} ${verb}`]);
    this.log.append(p);
    this.follow();
  }

  renderOnline() {
    const n = this.onlineUsers ? this.onlineUsers.size : 0;
    this.online.textContent = n ? `${n} online` : '';
  }

  renderTyping() {
    const now = Date.now();
    for (const [u, t] of this.typing) if (t < now) this.typing.delete(u);
    const us = [...this.typing.keys()];
    this.typingLine.textContent = us.length ? `${us.join(', ')} ${us.length === 1 ? 'is' : 'are'} typing…` : '';
  }

  /** @param {any} e @param {boolean} [replyToMe] the message answers one of ours */
  afterAppend(e, replyToMe) {
    if (e.seq) this.app.markRead(this.room.id, e.seq);
    const mine = e.user_id === this.me.id && !e.role_id;
    if (!mine) this.app.notify(this.room, e, !!replyToMe);
  }

  /** @param {any} e */
  startStream(e) {
    const body = h('div', { class: 'body' });
    const article = this.frame({ user: e.role, role_id: e.role_id, timestamp: new Date().toISOString(), message_type: 'ai_response', model: e.model }, body);
    article.classList.add('streaming');
    article.dataset.stream = e.stream_id;
    this.log.append(article);
    this.follow();
    const replyToMe = !!e.reply_to && !!this.log.querySelector(`article.mine[data-id="${Number(e.reply_to)}"]`);
    this.streams.set(e.stream_id, { article, body, text: '', roleID: e.role_id ?? null, frame: 0, stable: 0, tail: [], replyToMe });
    this.stopBtn.hidden = false;
  }

  /** @param {any} e */
  delta(e) {
    const st = this.streams.get(e.stream_id);
    if (!st) return;
    st.text += e.delta;
    // Deltas are drawn once per animation frame however fast they come:
    // every delta shows, and a fast stream costs one small render a frame.
    if (!st.frame) st.frame = requestAnimationFrame(() => { st.frame = 0; this.renderStream(st); });
  }

  /**
   * renderStream draws what came since the last frame: the blocks that
   * became whole (stableEnd) are rendered once and kept; only the block
   * still growing is rendered again.
   * @param {StreamState} st
   */
  renderStream(st) {
    if (!st.article.isConnected) return;
    for (const n of st.tail) n.remove();
    const end = stableEnd(st.text);
    if (end > st.stable) {
      st.body.append(render(st.text.slice(st.stable, end)));
      st.stable = end;
    }
    const tail = render(st.text.slice(st.stable));
    st.tail = [...tail.childNodes];
    st.body.append(tail);
    this.follow();
  }

  /** @param {string} id */
  endStream(id) {
    const st = this.streams.get(id);
    if (st && st.frame) {
      cancelAnimationFrame(st.frame);
      st.frame = 0;
      this.renderStream(st);
    }
    this.streams.delete(id);
    this.stopBtn.hidden = this.streams.size === 0;
  }

  stop() {
    const s = this.stream;
    if (s) for (const id of this.streams.keys()) s.frame({ type: 'ai_cancel', stream_id: id });
  }

  /** @param {any} m @param {HTMLElement} body */
  frame(m, body) {
    const t = new Date(m.timestamp);
    const isRole = !!m.role_id;
    const role = isRole ? this.roles.get(m.role_id) : null;
    const avatar = (role && role.avatar) || (isRole ? '🤖' : (m.user || '?').slice(0, 1).toUpperCase());
    const meta = h('header', {},
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: avatar }),
      h('strong', { class: 'author', text: m.user || 'system' }),
      m.model || (role && role.model) ? h('span', { class: 'model', text: m.model || role.model }) : null,
      h('time', { datetime: t.toISOString(), title: FULL.format(t), text: CLOCK.format(t) }));
    const a = h('article', { class: `msg ${m.message_type || 'text'}${isRole ? ' ai' : ''}` }, meta, body);
    if (this.mentionsMe(m.content || '')) a.classList.add('mention');
    if (m.user_id === this.me.id && !m.role_id) a.classList.add('mine');
    return a;
  }

  /** @param {string} text */
  mentionsMe(text) {
    return new RegExp(`(^|[^\\w.@-])@${this.me.username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i').test(text);
  }

  /** @param {any} m */
  article(m) {
    const body = h('div', { class: 'body' });
    body.append(render(m.content || ''));
    const a = this.frame(m, body);
    if (m.id) a.dataset.id = String(m.id);
    if (m.seq) a.dataset.seq = String(m.seq);
    return a;
  }

  /**
   * append adds a message at the end, with a day separator when the day
   * changes; into `into` (a fragment being built) when given.
   * @param {any} m @param {DocumentFragment} [into]
   */
  append(m, into) {
    if (m.seq) {
      if (m.seq <= this.lastShownSeq) return;
      this.lastShownSeq = m.seq;
    }
    const target = into || this.log;
    const day = new Date(m.timestamp).toDateString();
    if (day !== this.lastDay) {
      target.append(h('div', { class: 'day', role: 'separator', text: dayLabel(new Date(m.timestamp)) }));
      this.lastDay = day;
    }
    target.append(this.article(m));
    if (!into) this.follow();
  }

  async loadOlder() {
    if (this.loadingOlder || this.atStart || !this.firstSeq) return;
    this.loadingOlder = true;
    try {
      const msgs = await api.messages(this.room.id, { limit: PAGE, before: this.firstSeq });
      if (msgs.length < PAGE) this.atStart = true;
      if (!msgs.length) return;
      const before = this.log.scrollHeight;
      const frag = document.createDocumentFragment();
      let day = '';
      for (const m of msgs) {
        const d = new Date(m.timestamp).toDateString();
        if (d !== day) { frag.append(h('div', { class: 'day', role: 'separator', text: dayLabel(new Date(m.timestamp)) })); day = d; }
        frag.append(this.article(m));
      }
      // The first day separator of what was shown may now be a repeat.
      const firstSep = this.sentinel.nextElementSibling;
      if (firstSep && firstSep.classList.contains('day') && day === this.firstDay) firstSep.remove();
      this.sentinel.after(frag);
      this.firstSeq = msgs[0].seq;
      this.firstDay = new Date(msgs[0].timestamp).toDateString();
      this.log.scrollTop += this.log.scrollHeight - before;
      this.trimEnd();
    } catch (e) {
      this.app.toast(String(/** @type {any} */ (e).message || e));
    } finally {
      this.loadingOlder = false;
    }
  }

  /** hold keeps a live message that came while the newest were trimmed (bounded). @param {any} e */
  hold(e) {
    if (!this.held) this.held = [];
    this.held.push(e);
    if (this.held.length > 1000) { this.held.shift(); this.heldDropped = true; }
  }

  /** stored is the stored messages in the DOM, oldest first. */
  stored() { return /** @type {NodeListOf<HTMLElement>} */ (this.log.querySelectorAll('article[data-seq]')); }

  /** trimEnd drops the newest messages beyond WINDOW (removing at the bottom does not move the view). */
  trimEnd() {
    const all = this.stored();
    if (all.length <= WINDOW) return;
    const keep = all[WINDOW - 1];
    while (keep.nextSibling) keep.nextSibling.remove();
    this.trimmedEnd = true;
    this.lastShownSeq = Number(keep.dataset.seq);
    this.lastDay = new Date(/** @type {HTMLTimeElement} */ (keep.querySelector('time')).dateTime).toDateString();
    for (const [id, st] of this.streams) if (!st.article.isConnected) this.endStream(id);
  }

  /** trimStart drops the oldest messages beyond WINDOW, keeping the view where it is. */
  trimStart() {
    const all = this.stored();
    if (all.length <= WINDOW) return;
    const first = all[all.length - WINDOW];
    const before = this.log.scrollHeight;
    while (this.sentinel.nextSibling && this.sentinel.nextSibling !== first) this.sentinel.nextSibling.remove();
    const t = new Date(/** @type {HTMLTimeElement} */ (first.querySelector('time')).dateTime);
    first.before(h('div', { class: 'day', role: 'separator', text: dayLabel(t) }));
    this.firstSeq = Number(first.dataset.seq);
    this.firstDay = t.toDateString();
    this.atStart = false;
    this.log.scrollTop -= before - this.log.scrollHeight;
  }

  /** loadNewer brings back the messages after the last one shown (after trimEnd). */
  async loadNewer() {
    if (this.loadingNewer || !this.trimmedEnd) return;
    this.loadingNewer = true;
    try {
      const msgs = await api.messages(this.room.id, { limit: PAGE, after: this.lastShownSeq });
      const frag = document.createDocumentFragment();
      for (const m of msgs) this.append(m, frag);
      this.log.append(frag);
      if (msgs.length < PAGE) {
        if (this.heldDropped) {
          // Some live messages were not kept: read on from the database.
          this.held = [];
          this.heldDropped = false;
        } else {
          // At the end: what came live meanwhile follows (append skips
          // what this page already had, by seq), and live messages show again.
          const f2 = document.createDocumentFragment();
          for (const e of this.held) this.append(e, f2);
          this.log.append(f2);
          this.held = [];
          this.trimmedEnd = false;
          if (this.lastShownSeq) this.app.markRead(this.room.id, this.lastShownSeq);
        }
      }
      this.trimStart();
    } catch (e) {
      this.app.toast(String(/** @type {any} */ (e).message || e));
    } finally {
      this.loadingNewer = false;
    }
  }

  nearEnd() { return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80; }
  scrollToEnd() { this.log.scrollTop = this.log.scrollHeight; }

  /**
   * follow keeps the newest message in view if the view was at the end:
   * the scroll happens once, on the next animation frame, so a burst of
   * inserts costs one layout instead of two per insert.
   */
  follow() {
    if (!this.stuck || this.scrollFrame) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      if (this.stuck) this.scrollToEnd();
    });
  }

  send() {
    const text = this.input.value.trim();
    if (!text || !this.stream) return;
    this.input.value = '';
    this.hideCompletion();
    const id = this.stream.send(text);
    this.stuck = true;
    if (this.trimmedEnd) { this.scrollToEnd(); return; } // it shows with the newest, loaded on the way down
    this.log.append(this.pendingArticle(text, id));
    this.follow();
  }

  /** pendingArticle shows a message of ours the server has not stored yet. @param {string} text @param {string} clientID */
  pendingArticle(text, clientID) {
    const a = this.article({ user: this.me.username, user_id: this.me.id, content: text, timestamp: new Date().toISOString(), message_type: 'text' });
    a.classList.add('pending');
    a.dataset.clientId = clientID;
    a.setAttribute('aria-busy', 'true');
    return a;
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    if (!this.completion.hidden) {
      const items = [...this.completion.children];
      const cur = items.findIndex((x) => x.getAttribute('aria-selected') === 'true');
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = (cur + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
        items.forEach((x, i) => x.setAttribute('aria-selected', String(i === n)));
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && cur >= 0) { e.preventDefault(); this.complete(/** @type {HTMLElement} */ (items[cur]).dataset.handle || ''); return; }
      if (e.key === 'Escape') { this.hideCompletion(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); }
  }

  onInput() {
    const now = Date.now();
    if (this.stream && now - this.lastTypingSent > 3000 && this.input.value) { this.lastTypingSent = now; this.stream.frame({ type: 'typing' }); }
    const m = /(^|\s)@([\w.-]*)$/.exec(this.input.value.slice(0, this.input.selectionStart));
    if (!m) { this.hideCompletion(); return; }
    const q = m[2].toLowerCase();
    const names = [...[...this.roles.values()].map((r) => ({ handle: r.handle, label: `${r.name} (AI)` })),
      ...(this.memberList || []).map((/** @type {any} */ u) => ({ handle: u.username, label: u.name || u.username }))]
      .filter((x) => x.handle && x.handle.toLowerCase().startsWith(q)).slice(0, 8);
    clear(this.completion);
    if (!names.length) { this.hideCompletion(); return; }
    names.forEach((x, i) => this.completion.append(h('li', { role: 'option', 'aria-selected': String(i === 0), 'data-handle': x.handle,
      onmousedown: (/** @type {Event} */ ev) => { ev.preventDefault(); this.complete(x.handle); } }, `@${x.handle} `, h('small', { text: x.label }))));
    this.completion.hidden = false;
  }

  /** @param {string} handle */
  complete(handle) {
    const pos = this.input.selectionStart;
    const before = this.input.value.slice(0, pos).replace(/@[\w.-]*$/, `@${handle} `);
    this.input.value = before + this.input.value.slice(pos);
    this.input.selectionStart = this.input.selectionEnd = before.length;
    this.hideCompletion();
  }

  hideCompletion() { this.completion.hidden = true; }

  async loadRoles() {
    try {
      const [roles, members] = await Promise.all([api.roomRoles(this.room.id), api.members(this.room.id)]);
      this.roles = new Map(roles.map((/** @type {any} */ r) => [r.id, r]));
      this.memberList = members;
    } catch { /* the panel shows errors when opened */ }
  }

  /** @param {boolean} [refresh] */
  async showMembers(refresh) {
    if (this.panelKind === 'members' && !refresh) { this.closePanel(); return; }
    this.panelKind = 'members';
    const list = h('ul', { class: 'members' });
    const f = field('Username', { name: 'username', autocomplete: 'off', required: true });
    const alert = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'inline', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      try { await api.addMember(this.room.id, f.input.value.trim()); f.input.value = ''; this.showMembers(true); } catch (err) { showErrors(err, { username: f }, alert); }
    } }, f.wrap, h('button', { type: 'submit', text: 'Add member' }), alert);
    this.openPanel('Members', list, form);
    try {
      const ms = await api.members(this.room.id);
      this.memberList = ms;
      for (const m of ms) {
        const online = m.online || (this.onlineUsers && this.onlineUsers.has(m.username));
        list.append(h('li', {}, h('span', { class: `dot${online ? ' on' : ''}`, role: 'img', 'aria-label': online ? 'online' : 'offline' }),
          h('span', { text: `${m.name || m.username} (@${m.username})` }),
          this.room.created_by === this.me.id && m.user_id !== this.me.id
            ? h('button', { type: 'button', class: 'small', 'aria-label': `Remove ${m.username}`, text: 'Remove',
              onclick: async () => { try { await api.removeMember(this.room.id, m.user_id); this.showMembers(true); } catch (err) { alert.textContent = String(/** @type {any} */ (err).message); } } })
            : null));
      }
    } catch (e) { alert.textContent = String(/** @type {any} */ (e).message || e); }
  }

  /** @param {boolean} [refresh] */
  async showRoles(refresh) {
    if (this.panelKind === 'roles' && !refresh) { this.closePanel(); return; }
    this.panelKind = 'roles';
    const list = h('ul', { class: 'members' });
    const select = /** @type {HTMLSelectElement} */ (h('select', { id: 'seat-role', 'aria-label': 'Role to add' }));
    const alert = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'inline', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      if (!select.value) return;
      try { await api.seatRole(this.room.id, Number(select.value)); this.loadRoles(); this.showRoles(true); } catch (err) { alert.textContent = String(/** @type {any} */ (err).message); }
    } }, select, h('button', { type: 'submit', text: 'Add role to room' }), alert);
    this.openPanel('Roles in this room', list, form);
    try {
      const [seated, mine] = await Promise.all([api.roomRoles(this.room.id), api.roles()]);
      const ids = new Set(seated.map((/** @type {any} */ r) => r.id));
      for (const r of mine) if (!ids.has(r.id)) select.append(h('option', { value: String(r.id), text: `${r.name} (@${r.handle})` }));
      if (!select.options.length) select.append(h('option', { value: '', text: 'No role to add: create one in My roles' }));
      for (const r of seated) {
        list.append(h('li', {}, h('span', { class: 'avatar', 'aria-hidden': 'true', text: r.avatar || '🤖' }),
          h('span', { text: `${r.name} (@${r.handle})${r.model ? ' · ' + r.model : ''}` }),
          h('button', { type: 'button', class: 'small', 'aria-label': `Unseat ${r.name}`, text: 'Unseat',
            onclick: async () => { try { await api.unseatRole(this.room.id, r.id); this.loadRoles(); this.showRoles(true); } catch (err) { alert.textContent = String(/** @type {any} */ (err).message); } } })));
      }
    } catch (e) { alert.textContent = String(/** @type {any} */ (e).message || e); }
  }

  /** @param {string} title @param {...HTMLElement} kids */
  openPanel(title, ...kids) {
    clear(this.panel);
    this.panel.setAttribute('aria-label', title);
    this.panel.append(h('header', {}, h('h3', { text: title }), h('button', { type: 'button', class: 'small', 'aria-label': 'Close panel', text: '×', onclick: () => this.closePanel() })), ...kids);
    this.panel.hidden = false;
  }

  closePanel() { this.panel.hidden = true; this.panelKind = ''; }

  async rename() {
    const name = await this.app.prompt('Rename room', 'Room name', this.room.name, 'Rename');
    if (!name) return;
    try { this.room = await api.renameRoom(this.room.id, name); this.title.textContent = this.room.name; this.app.refreshRooms(); } catch (e) { this.app.toast(String(/** @type {any} */ (e).message)); }
  }

  async leave() {
    if (!(await this.app.confirm(`Leave ${this.room.name}?`, 'Leave'))) return;
    try { await api.removeMember(this.room.id, this.me.id); this.app.go('/'); this.app.refreshRooms(); } catch (e) { this.app.toast(String(/** @type {any} */ (e).message)); }
  }

  async remove() {
    if (!(await this.app.confirm(`Delete ${this.room.name} and all its messages? This cannot be undone.`, 'Delete room'))) return;
    try { await api.deleteRoom(this.room.id); this.app.go('/'); this.app.refreshRooms(); } catch (e) { this.app.toast(String(/** @type {any} */ (e).message)); }
  }
}
