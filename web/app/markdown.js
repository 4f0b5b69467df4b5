// markdown.js: a small, safe Markdown renderer. It parses into a tree of
// {tag, attrs, children} nodes and plain strings; toDOM builds elements with
// textContent only, so no HTML in a message is ever interpreted. Links keep
// only http:, https: and mailto: targets.

/** @typedef {{tag:string, attrs?:Record<string,string>, children:Array<Node|string>}} Node */

/** @param {string} tag @param {Array<Node|string>} children @param {Record<string,string>} [attrs] @returns {Node} */
const el = (tag, children, attrs) => (attrs ? { tag, attrs, children } : { tag, children });

/** safeURL returns url when its scheme is http, https or mailto, else ''. @param {string} url */
export function safeURL(url) {
  const u = url.trim();
  if (/^(https?:\/\/|mailto:)/i.test(u) && !/[\s<>"]/.test(u)) return u;
  return '';
}

const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][^*]*?)\*|(?<![A-Za-z0-9])_([^_\s][^_]*?)_(?![A-Za-z0-9])|\[([^\]\n]+)\]\(([^)\s]*)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/;

/** inline parses emphasis, code, links and bare URLs. @param {string} text @returns {Array<Node|string>} */
export function inline(text) {
  /** @type {Array<Node|string>} */
  const out = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) { out.push(rest); break; }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    if (m[1]) out.push(el('code', [m[2].replace(/^ (.*) $/, '$1')]));
    else if (m[3] !== undefined || m[4] !== undefined) out.push(el('strong', inline(m[3] ?? m[4])));
    else if (m[5] !== undefined || m[6] !== undefined) out.push(el('em', inline(m[5] ?? m[6])));
    else if (m[7] !== undefined) {
      const href = safeURL(m[8]);
      out.push(href ? link(href, inline(m[7])) : m[0]);
    } else if (m[9]) out.push(link(m[9], [m[9]]));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

/** @param {string} href @param {Array<Node|string>} children */
function link(href, children) {
  return el('a', children, { href, rel: 'noopener noreferrer', target: '_blank' });
}

const FENCE = /^ {0,3}(```+|~~~+)\s*([\w+-]*)\s*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^ {0,3}[-*+]\s+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

/** @param {string} line */
function cells(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|')) s = s.slice(0, -1);
  return s.split('|').map((c) => c.trim());
}

/** parse turns Markdown into a list of block nodes. @param {string} src @returns {Node[]} */
export function parse(src) {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  /** @type {Node[]} */
  const out = [];
  let i = 0;
  /** @type {string[]} */
  let para = [];
  const flush = () => {
    if (para.length) {
      /** @type {Array<Node|string>} */
      const kids = [];
      para.forEach((l, j) => {
        if (j > 0) kids.push(el('br', []));
        kids.push(...inline(l));
      });
      out.push(el('p', kids));
      para = [];
    }
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = FENCE.exec(line))) {
      flush();
      const fence = m[1];
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i++;
      /** @type {Record<string,string>} */
      const attrs = m[2] ? { 'data-lang': m[2] } : {};
      out.push(el('pre', [el('code', [body.join('\n')])], attrs));
      continue;
    }
    if (!line.trim()) { flush(); i++; continue; }
    if ((m = HEADING.exec(line))) {
      flush();
      out.push(el('h' + m[1].length, inline(m[2])));
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const body = [];
      while (i < lines.length && (m = QUOTE.exec(lines[i]))) { body.push(m[1]); i++; }
      out.push(el('blockquote', parse(body.join('\n'))));
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      flush();
      const ordered = !BULLET.test(line);
      const re = ordered ? ORDERED : BULLET;
      /** @type {Node[]} */
      const items = [];
      const start = ordered ? /** @type {RegExpExecArray} */ (ORDERED.exec(line))[1] : '';
      while (i < lines.length && (m = re.exec(lines[i]))) {
        items.push(el('li', inline(ordered ? m[2] : m[1])));
        i++;
        // Continuation lines (indented) belong to the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !re.test(lines[i])) {
          const li = items[items.length - 1];
          li.children.push(el('br', []), ...inline(lines[i].trim()));
          i++;
        }
      }
      out.push(el(ordered ? 'ol' : 'ul', items, ordered && start !== '1' ? { start: String(Number(start)) } : undefined));
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      flush();
      const head = cells(line);
      i += 2;
      /** @type {Node[]} */
      const rows = [];
      while (i < lines.length && lines[i].includes('|') && lines[i].trim()) {
        const cs = cells(lines[i]);
        rows.push(el('tr', head.map((_, j) => el('td', inline(cs[j] ?? '')))));
        i++;
      }
      out.push(el('table', [
        el('thead', [el('tr', head.map((h) => el('th', inline(h))))]),
        el('tbody', rows),
      ]));
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return out;
}

/**
 * toDOM builds the elements of a parsed tree into a fragment. Only the tags
 * parse makes are created and only their known attributes are set.
 * @param {Array<Node|string>} nodes @param {Document} doc
 */
export function toDOM(nodes, doc = document) {
  const frag = doc.createDocumentFragment();
  for (const n of nodes) {
    if (typeof n === 'string') { frag.append(doc.createTextNode(n)); continue; }
    const e = doc.createElement(n.tag);
    for (const [k, v] of Object.entries(n.attrs || {})) {
      if (k === 'href' && !safeURL(v)) continue;
      e.setAttribute(k, v);
    }
    e.append(toDOM(n.children, doc));
    if (n.tag === 'pre') {
      const wrap = doc.createElement('div');
      wrap.className = 'code';
      const copy = doc.createElement('button');
      copy.type = 'button';
      copy.className = 'copy';
      copy.textContent = 'Copy';
      copy.setAttribute('aria-label', 'Copy code');
      wrap.append(copy, e);
      frag.append(wrap);
      continue;
    }
    frag.append(e);
  }
  return frag;
}

/**
 * stableEnd is the length of the longest prefix of src made of whole blocks:
 * it ends at a blank line outside a code fence, so text appended to src
 * never changes how that prefix renders, and parse(prefix) followed by
 * parse(rest) is parse(src). A streaming reply renders its stable part once
 * and re-renders only the block still growing.
 * @param {string} src
 */
export function stableEnd(src) {
  let pos = 0, end = 0, fence = '';
  const lines = src.split('\n');
  // The last line may still grow: only lines with their newline count.
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i];
    if (fence) {
      if (line.trim().startsWith(fence)) fence = '';
    } else {
      const m = FENCE.exec(line.replace(/\r$/, ''));
      if (m) fence = m[1];
      else if (!line.trim()) end = pos + line.length + 1;
    }
    pos += line.length + 1;
  }
  return end;
}

/** render parses src and returns its DOM fragment. @param {string} src */
export function render(src) { return toDOM(parse(src)); }
