// main.js: the app shell: session, login and registration, the rooms
// sidebar, routing (/rooms/ID deep links), dialogs, the Ctrl-K room
// switcher, unread counts and notifications.

import { api, decode, session, setUnauthorizedHandler } from './api.js';
import { PAGE, takeBoot } from './boot.js';
import { h, clear, field, showErrors } from './dom.js';
import { RoomView } from './chat.js';
import { RolesView, KeysView } from './roles.js';
import { callButton, onCallEvent } from './call.js';

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
const READ_KEY = 'vc.read';

class App {
  constructor() {
    /** @type {any} */ this.me = null;
    /** @type {any[]} */ this.rooms = [];
    /** @type {RoomView|null} */ this.view = null;
    /** @type {Record<string, number>} */ this.read = JSON.parse(localStorage.getItem(READ_KEY) || '{}');
    /** @type {Record<string, {seq:number, unread:number, mentions:number}>} counted unread messages per room */
    this.counts = {};
    this.unreadHidden = 0;
    this.totalUnread = 0;
    /** @type {ReturnType<typeof setInterval>|undefined} */ this.poll = undefined;
    /** @type {{roomID:number, p:Promise<any>}|null} */ this.prefetched = null;
    // The shell's parts; shell() makes them again for each signed-in session.
    this.roomList = h('ul', { class: 'rooms' });
    this.main = h('main', { class: 'content', id: 'main' });
    this.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    this.callButton = callButton;
    this.onCallEvent = onCallEvent;
    setUnauthorizedHandler((d) => this.expired(d || 'Your session ended. Please log in again.'));
    window.addEventListener('popstate', () => this.route());
    document.addEventListener('keydown', (e) => this.shortcut(e));
    document.addEventListener('visibilitychange', () => { if (!document.hidden) { this.unreadHidden = 0; this.updateTitle(); } });
    document.addEventListener('click', (e) => this.linkClick(e));
  }

  async boot() {
    const token = session.token;
    if (!token) { this.login(); return; }
    // Everything the first screen needs is asked for at once: the user, the
    // rooms and, on a room's deep link, its newest messages. boot.js sent
    // these requests before this module was even loaded; later boots (after
    // a login) send them here.
    const early = takeBoot(token);
    const m = /^\/rooms\/(\d+)\/?$/.exec(location.pathname);
    if (m) {
      const id = Number(m[1]);
      const p = early && early.room && early.room.id === id ? decode(early.room.p, early.room.path, token) : api.messages(id, { limit: PAGE });
      p.catch(() => {}); // the room view reports errors when it takes it
      this.prefetched = { roomID: id, p };
    }
    const rooms = early ? decode(early.rooms.p, early.rooms.path, token) : api.rooms();
    rooms.catch(() => {});
    try {
      this.me = await (early ? decode(early.me.p, early.me.path, token) : api.me());
    } catch (e) {
      this.prefetched = null;
      if (/** @type {any} */ (e).status !== 401) this.login(String(/** @type {any} */ (e).message || e));
      return;
    }
    this.shell();
    try { this.setRooms(await rooms); } catch { this.setRooms([]); }
    this.route();
    this.poll = setInterval(() => { if (!document.hidden) this.refreshRooms(); }, 15000);
  }

  /** expired returns to the login screen with a message. @param {string} msg */
  expired(msg) {
    session.clear();
    if (this.view) { this.view.close(); this.view = null; }
    clearInterval(this.poll);
    this.me = null;
    this.login(msg);
  }

  /** @param {string} [message] */
  login(message) {
    document.title = 'Log in · Virtual Company';
    clear(root);
    const user = field('Username', { name: 'username', autocomplete: 'username', required: true });
    const pass = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const keepID = 'keep-signed-in';
    const keep = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: keepID, checked: true }));
    const alert = h('p', { class: 'error', role: 'alert', text: message || '' });
    const form = h('form', { class: 'card auth', 'aria-labelledby': 'login-h', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      try {
        const tok = await api.login(user.input.value.trim(), pass.input.value);
        session.save(tok.access_token, keep.checked);
        this.afterLogin();
      } catch (err) { showErrors(err, { username: user, password: pass }, alert); }
    } },
    h('h1', { id: 'login-h', text: 'Virtual Company' }), alert, user.wrap, pass.wrap,
    h('div', { class: 'check' }, keep, h('label', { for: keepID, text: 'Keep me signed in' })),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Log in' }),
      h('button', { type: 'button', text: 'Create account', onclick: () => this.register() })));
    root.append(h('main', { class: 'center' }, form));
    user.input.focus();
  }

  register() {
    document.title = 'Create account · Virtual Company';
    clear(root);
    const fs = {
      email: field('Email', { name: 'email', type: 'email', autocomplete: 'email', required: true }),
      username: field('Username', { name: 'username', autocomplete: 'username', required: true }),
      name: field('Name', { name: 'name', autocomplete: 'name' }),
      password: field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }),
    };
    const alert = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'card auth', 'aria-labelledby': 'reg-h', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const body = { email: fs.email.input.value.trim(), username: fs.username.input.value.trim(), name: fs.name.input.value.trim(), password: fs.password.input.value };
      try {
        await api.register(body);
        const tok = await api.login(body.username, body.password);
        session.save(tok.access_token, true);
        this.afterLogin();
      } catch (err) {
        const x = /** @type {any} */ (err);
        // The seed answers taken names with a plain 400: point at the field.
        if (!x.field && /email/i.test(x.message)) x.field = 'email';
        else if (!x.field && /username/i.test(x.message)) x.field = 'username';
        showErrors(err, fs, alert);
      }
    } },
    h('h1', { id: 'reg-h', text: 'Create account' }), alert, fs.email.wrap, fs.username.wrap, fs.name.wrap, fs.password.wrap,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Create account' }),
      h('button', { type: 'button', text: 'Back to log in', onclick: () => this.login() })));
    root.append(h('main', { class: 'center' }, form));
    fs.email.input.focus();
  }

  afterLogin() {
    if (location.pathname === '/login') history.replaceState(null, '', '/');
    this.boot();
  }

  shell() {
    clear(root);
    this.roomList = h('ul', { class: 'rooms' });
    this.nav = h('nav', { class: 'sidebar', 'aria-label': 'Rooms' },
      h('div', { class: 'side-head' }, h('h2', { text: 'Rooms' }), h('button', { type: 'button', class: 'primary small', text: 'New room', onclick: () => this.newRoom() })),
      this.roomList);
    this.main = h('main', { class: 'content', id: 'main' });
    this.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    const top = h('header', { class: 'top' },
      h('button', { type: 'button', class: 'menu small', 'aria-label': 'Show rooms', onclick: () => root.classList.toggle('show-nav') }, '☰'),
      h('a', { href: '/', class: 'brand', text: 'Virtual Company' }),
      h('span', { class: 'spacer' }),
      h('a', { href: '/roles', text: 'My roles' }),
      h('a', { href: '/keys', text: 'Keys & usage' }),
      h('span', { class: 'me', text: this.me.username }),
      h('button', { type: 'button', class: 'small', text: 'Log out', onclick: () => this.expired('You logged out.') }),
      h('button', { type: 'button', class: 'small', text: 'Log out everywhere', onclick: async () => {
        try { await api.logoutAll(); } catch { /* the token is gone either way */ }
        this.expired('You logged out on every device.');
      } }));
    root.append(h('a', { href: '#main', class: 'skip', text: 'Skip to content' }), top, h('div', { class: 'layout' }, this.nav, this.main), this.toasts);
  }

  async refreshRooms() {
    try { this.setRooms(await api.rooms()); } catch { /* kept as it was; the next poll retries */ }
  }

  /** @param {any[]} list */
  setRooms(list) {
    this.rooms = list;
    // A room seen for the first time starts read: unread counts what
    // arrives from now on, not a backlog from before this browser.
    let changed = false;
    for (const r of this.rooms) if (this.read[r.id] === undefined) { this.read[r.id] = r.last_seq || 0; changed = true; }
    if (changed) localStorage.setItem(READ_KEY, JSON.stringify(this.read));
    this.renderRooms();
    const cur = this.view ? this.view.room.id : 0;
    for (const r of this.rooms) if (r.id !== cur) this.countUnread(r);
  }

  renderRooms() {
    if (!this.roomList) return;
    clear(this.roomList);
    const cur = this.view ? this.view.room.id : 0;
    let total = 0;
    for (const r of this.rooms) {
      const unread = r.id === cur ? 0 : this.unread(r);
      total += unread;
      const mention = r.id === cur ? 0 : (this.counts[r.id] && this.counts[r.id].seq === r.last_seq ? this.counts[r.id].mentions : 0);
      this.roomList.append(h('li', {}, h('a', { href: `/rooms/${r.id}`, 'aria-current': r.id === cur ? 'page' : false },
        h('span', { class: 'name', text: r.name }),
        mention ? h('span', { class: 'badge mention', 'aria-label': `${mention} mentions`, text: `@${mention}` }) : null,
        unread ? h('span', { class: 'badge', 'aria-label': `${unread} unread`, text: String(unread) }) : null)));
    }
    if (!this.rooms.length) this.roomList.append(h('li', { class: 'empty', text: 'No rooms yet.' }));
    this.totalUnread = total;
    this.updateTitle();
  }

  /** unread is the number of messages after the last one read, own messages excluded once counted. @param {any} r */
  unread(r) {
    const seen = this.read[r.id];
    if (seen === undefined) return 0; // never opened here: nothing to compare with
    const c = this.counts[r.id];
    if (c && c.seq === r.last_seq) return c.unread;
    return Math.max(0, (r.last_seq || 0) - seen);
  }

  /**
   * countUnread reads the messages of a room after the last one read, to
   * count them without our own and to count the mentions of us.
   * @param {any} r
   */
  async countUnread(r) {
    const seen = this.read[r.id];
    if (seen === undefined || !(r.last_seq > seen) || (this.counts[r.id] && this.counts[r.id].seq === r.last_seq)) return;
    try {
      const msgs = await api.messages(r.id, { after: seen, limit: 100 });
      const others = msgs.filter((/** @type {any} */ m) => !(m.user_id === this.me.id && !m.role_id));
      const me = new RegExp(`(^|[^\\w.@-])@${this.me.username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i');
      this.counts[r.id] = { seq: r.last_seq, unread: others.length, mentions: others.filter((/** @type {any} */ m) => me.test(m.content)).length };
      this.renderRooms();
    } catch { /* the plain count stays */ }
  }

  /** takePrefetch returns the boot's request for a room's newest messages, once. @param {number} roomID */
  takePrefetch(roomID) {
    const p = this.prefetched && this.prefetched.roomID === roomID ? this.prefetched.p : null;
    this.prefetched = null;
    return p;
  }

  /** @param {number} roomID @param {number} seq */
  markRead(roomID, seq) {
    if ((this.read[roomID] || 0) >= seq) return;
    this.read[roomID] = seq;
    delete this.counts[roomID];
    localStorage.setItem(READ_KEY, JSON.stringify(this.read));
    const r = this.rooms.find((x) => x.id === roomID);
    if (r && r.last_seq < seq) r.last_seq = seq;
  }

  updateTitle() {
    const n = this.unreadHidden;
    const base = this.view ? `${this.view.room.name} · Virtual Company` : 'Virtual Company';
    document.title = n ? `(${n}) ${base}` : base;
  }

  /**
   * notify counts a message in the title while the tab is hidden, and raises
   * a browser notification for a mention of us or a reply to us.
   * @param {any} room @param {any} m @param {boolean} replyToMe
   */
  notify(room, m, replyToMe) {
    if (!document.hidden) return;
    this.unreadHidden++;
    this.updateTitle();
    const mention = replyToMe || (this.view && this.view.mentionsMe(m.content || ''));
    if (!mention || !('Notification' in window) || Notification.permission !== 'granted') return;
    const n = new Notification(`${m.user} in ${room.name}`, { body: (m.content || '').slice(0, 200), tag: `room-${room.id}` });
    n.onclick = () => { window.focus(); this.go(`/rooms/${room.id}`); };
  }

  /** @param {MouseEvent} e */
  linkClick(e) {
    const a = /** @type {HTMLElement} */ (e.target).closest && /** @type {HTMLElement} */ (e.target).closest('a');
    if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    const href = a.getAttribute('href') || '';
    if (!href.startsWith('/') || href.startsWith('//')) return;
    e.preventDefault();
    root.classList.remove('show-nav');
    this.go(href);
  }

  /** @param {string} path */
  go(path) {
    if (location.pathname !== path) history.pushState(null, '', path);
    this.route();
  }

  route() {
    if (!this.me) return;
    const p = location.pathname;
    if (this.view) { this.view.close(); this.view = null; }
    clear(this.main);
    const m = /^\/rooms\/(\d+)\/?$/.exec(p);
    if (m) { this.openRoom(Number(m[1])); return; }
    if (p === '/roles') { new RolesView(this.main, this).start(); this.renderRooms(); return; }
    if (p === '/keys' || p === '/usage') { new KeysView(this.main, this).start(); this.renderRooms(); return; }
    this.renderRooms();
    this.main.append(h('div', { class: 'welcome' }, h('h1', { text: `Welcome, ${this.me.name || this.me.username}` }),
      h('p', { text: this.rooms.length ? 'Pick a room on the left, or press Ctrl-K to jump to one.' : 'Create a room to start talking with people and AI roles.' }),
      h('button', { type: 'button', class: 'primary', text: 'New room', onclick: () => this.newRoom() }),
      'Notification' in window && Notification.permission === 'default'
        ? h('button', { type: 'button', text: 'Enable notifications', onclick: () => Notification.requestPermission() }) : null));
  }

  /** @param {number} id */
  async openRoom(id) {
    let room = this.rooms.find((r) => r.id === id);
    if (!room) {
      try { room = await api.getRoom(id); } catch (e) {
        this.main.append(h('div', { class: 'welcome' }, h('h1', { text: 'Room not found' }), h('p', { text: String(/** @type {any} */ (e).message) })));
        return;
      }
    }
    const v = new RoomView({ room, me: this.me, app: this });
    this.view = v;
    this.main.append(v.el);
    this.renderRooms();
    this.updateTitle();
    await v.start();
    if (this.view === v) { this.renderRooms(); v.input.focus(); }
  }

  async newRoom() {
    const name = await this.prompt('New room', 'Room name', '', 'Create');
    if (!name) return;
    try {
      const r = await api.createRoom(name);
      await this.refreshRooms();
      this.go(`/rooms/${r.id}`);
    } catch (e) { this.toast(String(/** @type {any} */ (e).message)); }
  }

  /**
   * prompt asks for one value in a modal dialog.
   * @param {string} title @param {string} label @param {string} value @param {string} ok
   * @returns {Promise<string>}
   */
  prompt(title, label, value, ok) {
    return new Promise((resolve) => {
      const f = field(label, { name: 'value', value, required: true, maxlength: '200' });
      const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { 'aria-labelledby': 'dlg-h' }));
      const form = h('form', { method: 'dialog' }, h('h2', { id: 'dlg-h', text: title }), f.wrap,
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', value: 'ok', text: ok }), h('button', { type: 'button', text: 'Cancel', onclick: () => dlg.close('') })));
      dlg.append(form);
      dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok' ? f.input.value.trim() : ''); dlg.remove(); });
      document.body.append(dlg);
      dlg.showModal();
      f.input.focus();
    });
  }

  /** @param {string} text @param {string} ok @returns {Promise<boolean>} */
  confirm(text, ok) {
    return new Promise((resolve) => {
      const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { role: 'alertdialog', 'aria-labelledby': 'cf-h' }));
      dlg.append(h('form', { method: 'dialog' }, h('p', { id: 'cf-h', text }),
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'danger', value: 'ok', text: ok }), h('button', { type: 'submit', value: '', text: 'Cancel' }))));
      dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok'); dlg.remove(); });
      document.body.append(dlg);
      dlg.showModal();
    });
  }

  /** @param {string} text */
  toast(text) {
    const t = h('p', { class: 'toast', text });
    this.toasts.append(t);
    setTimeout(() => t.remove(), 6000);
  }

  /** @param {KeyboardEvent} e */
  shortcut(e) {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k' && this.me) { e.preventDefault(); this.switcher(); }
  }

  /** switcher is the Ctrl-K / Cmd-K room switcher. */
  switcher() {
    if (document.querySelector('dialog.switcher')) return;
    const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'switcher', 'aria-label': 'Go to room' }));
    const input = /** @type {HTMLInputElement} */ (h('input', { type: 'search', 'aria-label': 'Go to room', placeholder: 'Go to room…', role: 'combobox', 'aria-controls': 'sw-list', 'aria-expanded': 'true' }));
    const list = h('ul', { id: 'sw-list', role: 'listbox', 'aria-label': 'Rooms found' });
    let sel = 0;
    /** @type {any[]} */ let found = [];
    const draw = () => {
      const q = input.value.toLowerCase();
      found = this.rooms.filter((r) => r.name.toLowerCase().includes(q)).slice(0, 20);
      sel = Math.min(sel, Math.max(0, found.length - 1));
      clear(list);
      found.forEach((r, i) => list.append(h('li', { role: 'option', id: `sw-${r.id}`, 'aria-selected': String(i === sel), text: r.name, onmousedown: () => pick(r) })));
      input.setAttribute('aria-activedescendant', found[sel] ? `sw-${found[sel].id}` : '');
    };
    const pick = (/** @type {any} */ r) => { dlg.close(); this.go(`/rooms/${r.id}`); };
    input.addEventListener('input', () => { sel = 0; draw(); });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') { sel = Math.min(sel + 1, found.length - 1); draw(); e.preventDefault(); }
      if (e.key === 'ArrowUp') { sel = Math.max(sel - 1, 0); draw(); e.preventDefault(); }
      if (e.key === 'Enter' && found[sel]) { e.preventDefault(); pick(found[sel]); }
    });
    dlg.append(input, list);
    dlg.addEventListener('close', () => dlg.remove());
    document.body.append(dlg);
    draw();
    dlg.showModal();
    input.focus();
  }
}

const app = new App();
// For tests and the console: the running app.
/** @type {any} */ (window).vcApp = app;
app.boot();
