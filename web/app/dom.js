// dom.js: building elements without HTML strings.

/**
 * h creates an element. attrs: on* keys become listeners, `class`, `text`
 * (textContent) and everything else attributes; false/null skip.
 * @param {string} tag @param {Record<string,any>} [attrs] @param {...(Node|string|null|false|undefined)} kids
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'value') /** @type {HTMLInputElement} */ (e).value = v;
    else if (k === 'checked') /** @type {HTMLInputElement} */ (e).checked = !!v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids) if (c !== null && c !== false && c !== undefined) e.append(c);
  return e;
}

let fieldSeq = 0;

/**
 * field is a labelled input with a slot for its error (aria-describedby).
 * @param {string} label @param {Record<string,any>} attrs
 */
export function field(label, attrs) {
  const id = `f${++fieldSeq}`;
  const err = h('p', { class: 'field-error', id: `${id}-err`, 'aria-live': 'polite' });
  const tag = attrs.tag || 'input';
  delete attrs.tag;
  const input = h(tag, { id, 'aria-describedby': `${id}-err`, ...attrs });
  const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }), input, err);
  return { wrap, input: /** @type {HTMLInputElement} */ (input), err };
}

/** showErrors puts an API error next to its field, else in the form's alert. @param {any} e @param {Record<string,{err:HTMLElement,input:HTMLElement}>} fields @param {HTMLElement} alert */
export function showErrors(e, fields, alert) {
  for (const f of Object.values(fields)) { f.err.textContent = ''; f.input.removeAttribute('aria-invalid'); }
  alert.textContent = '';
  const f = e && e.field && fields[e.field];
  if (f) {
    f.err.textContent = e.message;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
  } else {
    alert.textContent = e && e.message ? e.message : String(e);
  }
}

/** clear empties an element. @param {Element} e */
export function clear(e) { while (e.firstChild) e.firstChild.remove(); }

/** dayLabel says Today, Yesterday or the local date. @param {Date} d */
export function dayLabel(d) {
  const now = new Date();
  const day = (/** @type {Date} */ x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(now) - day(d)) / 86400000);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}
