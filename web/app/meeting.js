// meeting.js: meetings of AI roles in a room (POST /api/rooms/{id}/meetings):
// the "Start meeting" dialog (topic, rounds, mode, the seated roles taking
// part) and the banner with the round and the speaker, kept up to date by
// the socket's meeting_start, meeting_turn and meeting_end events.

import { api } from './api.js';
import { h, field, showErrors } from './dom.js';

const STATUS = /** @type {Record<string,string>} */ ({
  done: 'done', stopped: 'stopped', failed: 'failed', budget_exhausted: 'its token budget was used up',
});

/**
 * MeetingBanner shows the running meeting of one room.
 */
export class MeetingBanner {
  /** @param {any} view the RoomView */
  constructor(view) {
    this.view = view;
    /** @type {{id:number, topic:string, rounds:number, round:number, speaker:number|null}|null} */
    this.meeting = null;
    this.text = h('span', { class: 'grow' });
    this.stopBtn = h('button', { type: 'button', class: 'small danger', text: 'Stop meeting', onclick: () => this.stop() });
    this.el = h('div', { class: 'meeting', role: 'status', 'aria-label': 'Meeting', hidden: true }, this.text, this.stopBtn);
    // The room header's button, shown once the daemon answers for meetings
    // (a daemon without them answers 404 and the button stays hidden).
    this.startBtn = h('button', { type: 'button', hidden: true, text: 'Start meeting', onclick: () => startMeetingDialog(view) });
    this.hideTimer = 0;
  }

  /** load shows a meeting that was running before the page opened the room, and the Start meeting button. */
  async load() {
    try {
      const ms = await api.meetings(this.view.room.id);
      if (!Array.isArray(ms)) return;
      this.startBtn.hidden = false;
      const m = ms.find((/** @type {any} */ x) => x.status === 'running');
      if (m && !this.meeting) {
        this.meeting = { id: m.id, topic: m.topic, rounds: m.rounds, round: m.round, speaker: m.speaker ?? null };
        this.render();
      }
    } catch { /* no meetings to show */ }
  }

  /** @param {any} e a meeting_start, meeting_turn or meeting_end event */
  onEvent(e) {
    switch (e.type) {
      case 'meeting_start':
        this.meeting = { id: e.meeting_id, topic: e.topic || '', rounds: e.rounds || 0, round: 0, speaker: null };
        break;
      case 'meeting_turn':
        if (!this.meeting || this.meeting.id !== e.meeting_id) {
          this.meeting = { id: e.meeting_id, topic: '', rounds: 0, round: 0, speaker: null };
          this.load();
        }
        this.meeting.round = e.round || this.meeting.round;
        this.meeting.speaker = e.role_id ?? null;
        break;
      case 'meeting_end':
        if (this.meeting && this.meeting.id !== e.meeting_id) return;
        this.meeting = null;
        this.ended(e.status || 'done');
        return;
    }
    this.render();
  }

  render() {
    const m = this.meeting;
    clearTimeout(this.hideTimer);
    if (!m) { this.el.hidden = true; return; }
    const role = m.speaker != null ? this.view.roles.get(m.speaker) : null;
    const who = m.speaker != null ? `${role ? role.name : `role ${m.speaker}`} speaking` : 'starting';
    const round = m.round ? `round ${m.round}${m.rounds ? ` of ${m.rounds}` : ''}` : 'about to start';
    this.text.textContent = `Meeting${m.topic ? `: ${m.topic}` : ''} · ${round} · ${who}`;
    this.stopBtn.hidden = false;
    this.el.hidden = false;
  }

  /** @param {string} status */
  ended(status) {
    this.text.textContent = `Meeting over: ${STATUS[status] || status}.`;
    this.stopBtn.hidden = true;
    this.el.hidden = false;
    clearTimeout(this.hideTimer);
    this.hideTimer = setTimeout(() => { if (!this.meeting) this.el.hidden = true; }, 8000);
  }

  async stop() {
    if (!this.meeting) return;
    try { await api.stopMeeting(this.view.room.id, this.meeting.id); } catch (e) { this.view.app.toast(String(/** @type {any} */ (e).message || e)); }
  }

  close() { clearTimeout(this.hideTimer); }
}

/**
 * startMeetingDialog asks for a topic, the rounds, the mode and the seated
 * roles taking part (all ticked, in the room's order), then starts it.
 * @param {any} view the RoomView
 */
export async function startMeetingDialog(view) {
  /** @type {any[]} */
  let seated = [];
  try { seated = await api.roomRoles(view.room.id); } catch (e) { view.app.toast(String(/** @type {any} */ (e).message || e)); return; }
  const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { 'aria-labelledby': 'mt-h', class: 'meeting-dialog' }));
  const topic = field('Topic', { name: 'topic', required: true, maxlength: '4000', autocomplete: 'off' });
  const rounds = field('Rounds', { name: 'rounds', type: 'number', min: '1', max: '10', step: '1', value: '2', required: true });
  const mode = field('Mode', { tag: 'select', name: 'mode' });
  mode.input.append(h('option', { value: 'round_robin', text: 'Round robin: each role in turn' }),
    h('option', { value: 'chaired', text: 'Chaired: the first role picks who speaks' }));
  const rolesErr = h('p', { class: 'field-error', id: 'mt-roles-err', 'aria-live': 'polite' });
  const boxes = seated.map((/** @type {any} */ r) => {
    const id = `mt-role-${r.id}`;
    const box = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id, value: String(r.id), checked: true, 'aria-describedby': 'mt-roles-err' }));
    return { box, wrap: h('div', { class: 'check' }, box, h('label', { for: id, text: r.name })) };
  });
  const rolesSet = h('fieldset', { class: 'roles-pick' }, h('legend', { text: 'Roles' }),
    ...(boxes.length ? boxes.map((b) => b.wrap) : [h('p', { class: 'empty', text: 'No role sits in this room: add one with Roles first.' })]), rolesErr);
  const alert = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { onsubmit: async (/** @type {Event} */ ev) => {
    ev.preventDefault();
    const ids = boxes.filter((b) => b.box.checked).map((b) => Number(b.box.value));
    const fields = { topic, rounds, mode, roles: { input: /** @type {HTMLElement} */ (boxes[0] ? boxes[0].box : rolesSet), err: rolesErr } };
    if (!ids.length) { showErrors({ field: 'roles', message: 'Pick at least one role.' }, fields, alert); return; }
    try {
      await api.startMeeting(view.room.id, { topic: topic.input.value.trim(), rounds: Number(rounds.input.value), mode: mode.input.value, roles: ids });
      dlg.close();
    } catch (err) { showErrors(err, fields, alert); }
  } },
  h('h2', { id: 'mt-h', text: 'Start meeting' }), alert, topic.wrap, rounds.wrap, mode.wrap, rolesSet,
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', text: 'Start', disabled: !boxes.length }),
    h('button', { type: 'button', text: 'Cancel', onclick: () => dlg.close() })));
  dlg.append(form);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  topic.input.focus();
}
