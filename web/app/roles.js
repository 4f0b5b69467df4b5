// roles.js: the role manager (list, create, edit, delete), API keys and the
// usage page with its SVG chart.

import { api } from './api.js';
import { h, clear, field, showErrors } from './dom.js';

export class RolesView {
  /** @param {HTMLElement} el @param {any} app */
  constructor(el, app) {
    this.el = el;
    this.app = app;
    /** @type {any[]} */ this.models = [];
    this.list = h('ul', { class: 'role-list' });
    this.formBox = h('div', { class: 'role-form' });
  }

  async start() {
    document.title = 'My roles · Virtual Company';
    clear(this.el);
    this.el.append(h('section', { class: 'page', 'aria-labelledby': 'roles-h' },
      h('div', { class: 'page-head' }, h('h1', { id: 'roles-h', text: 'My roles' }), h('button', { type: 'button', class: 'primary', text: 'New role', onclick: () => this.edit(null) })),
      h('div', { class: 'split' }, this.list, this.formBox)));
    try { this.models = await api.models(); } catch { this.models = []; }
    await this.refresh();
  }

  async refresh() {
    clear(this.list);
    let roles = [];
    try { roles = await api.roles(); } catch (e) { this.list.append(h('li', { class: 'error', text: String(/** @type {any} */ (e).message) })); return; }
    if (!roles.length) this.list.append(h('li', { class: 'empty', text: 'No roles yet: create one, then add it to a room.' }));
    for (const r of roles) {
      this.list.append(h('li', {}, h('span', { class: 'avatar', 'aria-hidden': 'true', text: r.avatar || '🤖' }),
        h('span', { class: 'grow' }, h('strong', { text: r.name }), ` @${r.handle}`, h('br'), h('small', { text: r.model || 'default model' })),
        h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${r.name}`, text: 'Edit', onclick: () => this.edit(r) }),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${r.name}`, text: 'Delete', onclick: async () => {
          if (!(await this.app.confirm(`Delete the role ${r.name}?`, 'Delete role'))) return;
          try { await api.deleteRole(r.id); this.refresh(); clear(this.formBox); } catch (e) { this.app.toast(String(/** @type {any} */ (e).message)); }
        } })));
    }
  }

  /** @param {any} r */
  edit(r) {
    clear(this.formBox);
    const listID = 'model-list';
    const fs = {
      name: field('Name', { value: r ? r.name : '', required: true, maxlength: '100' }),
      handle: field('Handle', { value: r ? r.handle : '', placeholder: 'derived from the name when empty', maxlength: '40' }),
      avatar: field('Avatar', { value: r ? r.avatar : '🤖', maxlength: '16' }),
      description: field('Description', { value: r ? r.description : '' }),
      ai_instructions: field('Instructions', { tag: 'textarea', rows: '5', placeholder: 'How this role thinks and answers. Without instructions it never answers.' }),
      model: field('Model', { value: r ? r.model : '', list: listID, placeholder: 'search models (empty: the default)', autocomplete: 'off' }),
      temperature: field('Temperature', { type: 'number', step: '0.1', min: '0', max: '2', value: r && r.temperature != null ? String(r.temperature) : '' }),
      max_tokens: field('Max tokens', { type: 'number', step: '1', min: '1', value: r && r.max_tokens != null ? String(r.max_tokens) : '' }),
    };
    fs.ai_instructions.input.value = r ? r.ai_instructions : '';
    const dl = h('datalist', { id: listID }, ...(this.models || []).map((/** @type {any} */ m) => h('option', { value: m.id, text: `${m.name} (${m.provider})` })));
    const alert = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'card', 'aria-label': r ? `Edit ${r.name}` : 'New role', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      /** @type {any} */
      const body = {
        name: fs.name.input.value.trim(), avatar: fs.avatar.input.value.trim(), description: fs.description.input.value,
        ai_instructions: fs.ai_instructions.input.value, handle: fs.handle.input.value.trim(), model: fs.model.input.value.trim(),
      };
      if (fs.temperature.input.value !== '') body.temperature = Number(fs.temperature.input.value);
      if (fs.max_tokens.input.value !== '') body.max_tokens = Number(fs.max_tokens.input.value);
      if (!r && !body.handle) delete body.handle;
      try {
        if (r) await api.updateRole(r.id, body); else await api.createRole(body);
        clear(this.formBox);
        this.app.toast(r ? 'Role saved.' : 'Role created.');
        this.refresh();
      } catch (err) { showErrors(err, fs, alert); }
    } }, h('h2', { text: r ? `Edit ${r.name}` : 'New role' }), alert, ...Object.values(fs).map((f) => f.wrap), dl,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Save' }), h('button', { type: 'button', text: 'Cancel', onclick: () => clear(this.formBox) })));
    this.formBox.append(form);
    fs.name.input.focus();
  }
}

export class KeysView {
  /** @param {HTMLElement} el @param {any} app */
  constructor(el, app) {
    this.el = el;
    this.app = app;
    this.keyList = h('ul', { class: 'role-list' });
    this.usageBox = h('div', { class: 'usage' });
  }

  async start() {
    document.title = 'Keys & usage · Virtual Company';
    clear(this.el);
    const provider = field('Provider', { tag: 'select' });
    // The providers the daemon knows are those of its model list.
    let providers = ['openai', 'anthropic', 'openrouter'];
    try {
      const ms = await api.models();
      const seen = [...new Set(ms.map((/** @type {any} */ m) => m.provider).filter(Boolean))];
      if (seen.length) providers = seen;
    } catch { /* the usual three */ }
    for (const p of providers) provider.input.append(h('option', { value: p, text: p }));
    const key = field('API key', { type: 'password', autocomplete: 'off', required: true });
    const base = field('Base URL', { type: 'url', placeholder: 'optional' });
    const alert = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'card', 'aria-label': 'Add a key', onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      try {
        await api.addKey({ provider: provider.input.value, api_key: key.input.value, ...(base.input.value ? { base_url: base.input.value } : {}) });
        key.input.value = '';
        this.refreshKeys();
      } catch (err) { showErrors(err, { provider, api_key: key, base_url: base }, alert); }
    } }, h('h2', { text: 'Add a key' }), alert, provider.wrap, key.wrap, base.wrap, h('button', { type: 'submit', class: 'primary', text: 'Add key' }));
    this.el.append(h('section', { class: 'page', 'aria-labelledby': 'keys-h' },
      h('h1', { id: 'keys-h', text: 'API keys' }), h('div', { class: 'split' }, this.keyList, form),
      h('h1', { text: 'Usage' }), this.usageBox));
    this.refreshKeys();
    this.refreshUsage();
  }

  async refreshKeys() {
    clear(this.keyList);
    try {
      const keys = await api.keys();
      if (!keys.length) this.keyList.append(h('li', { class: 'empty', text: 'No keys stored.' }));
      for (const k of keys) {
        this.keyList.append(h('li', {}, h('span', { class: 'grow', text: `${k.provider} ••••${k.last_four}${k.base_url ? ' · ' + k.base_url : ''}` }),
          h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${k.provider} key`, text: 'Delete', onclick: async () => {
            if (!(await this.app.confirm(`Delete your ${k.provider} key?`, 'Delete key'))) return;
            try { await api.deleteKey(k.id); this.refreshKeys(); } catch (e) { this.app.toast(String(/** @type {any} */ (e).message)); }
          } })));
      }
    } catch (e) { this.keyList.append(h('li', { class: 'error', text: String(/** @type {any} */ (e).message) })); }
  }

  async refreshUsage() {
    clear(this.usageBox);
    try {
      const u = await api.usage();
      this.usageBox.append(h('p', { text: `Total ${u.total_tokens} tokens; today ${u.used_today}${u.daily_budget ? ` of ${u.daily_budget}` : ''}.` }), chart(u.rows || []));
    } catch (e) { this.usageBox.append(h('p', { class: 'error', text: String(/** @type {any} */ (e).message) })); }
  }
}

const SVG = 'http://www.w3.org/2000/svg';
/** @param {string} tag @param {Record<string,string|number>} attrs */
function s(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** chart draws tokens per day, stacked by model, as an SVG bar chart. @param {any[]} rows */
export function chart(rows) {
  const days = [...new Set(rows.map((r) => r.day))].sort().slice(-30);
  const models = [...new Set(rows.map((r) => r.model))];
  if (!days.length) return h('p', { class: 'empty', text: 'No AI replies yet.' });
  /** @type {Record<string, Record<string, number>>} */
  const by = {};
  for (const r of rows) ((by[r.day] ||= {})[r.model] = (by[r.day][r.model] || 0) + r.input_tokens + r.output_tokens);
  const max = Math.max(...days.map((d) => Object.values(by[d] || {}).reduce((a, b) => a + b, 0)), 1);
  const W = 600, H = 200, pad = 24, bw = Math.min((W - pad) / days.length, 48);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': `Tokens per day for the last ${days.length} days`, class: 'chart' });
  days.forEach((d, i) => {
    let y = H;
    models.forEach((m, j) => {
      const v = (by[d] || {})[m] || 0;
      if (!v) return;
      const bh = (v / max) * (H - 10);
      y -= bh;
      const rect = s('rect', { x: pad + i * bw + 2, y, width: Math.max(bw - 4, 1), height: bh, class: `c${j % 6}` });
      const t = s('title', {});
      t.textContent = `${d} ${m}: ${v} tokens`;
      rect.append(t);
      svg.append(rect);
    });
    if (days.length <= 10 || i % Math.ceil(days.length / 10) === 0) {
      const lbl = s('text', { x: pad + i * bw + bw / 2, y: H + 14, 'text-anchor': 'middle', class: 'axis' });
      lbl.textContent = d.slice(5);
      svg.append(lbl);
    }
  });
  const top = s('text', { x: 0, y: 10, class: 'axis' });
  top.textContent = String(max);
  svg.append(top);
  const legend = h('ul', { class: 'legend' }, ...models.map((m, j) => h('li', {}, h('span', { class: `swatch c${j % 6}`, 'aria-hidden': 'true' }), m)));
  return h('figure', {}, svg, legend);
}
