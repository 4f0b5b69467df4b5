import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, inline, safeURL, stableEnd } from '../app/markdown.js';

test('html is text, never markup', () => {
  const tree = parse('<img src=x onerror=alert(1)>');
  assert.deepEqual(tree, [{ tag: 'p', children: ['<img src=x onerror=alert(1)>'] }]);
});

test('links keep only http, https and mailto', () => {
  assert.equal(safeURL('javascript:alert(1)'), '');
  assert.equal(safeURL(' JaVaScRiPt:alert(1)'), '');
  assert.equal(safeURL('data:text/html,x'), '');
  assert.equal(safeURL('https://example.com/a'), 'https://example.com/a');
  assert.equal(safeURL('mailto:a@b.c'), 'mailto:a@b.c');
  assert.deepEqual(inline('[x](javascript:alert(1))'), ['[x](javascript:alert(1)', ')']);
  const [a] = inline('[site](https://example.com)');
  assert.deepEqual(a, { tag: 'a', attrs: { href: 'https://example.com', rel: 'noopener noreferrer', target: '_blank' }, children: ['site'] });
});

test('emphasis, code, bare urls', () => {
  assert.deepEqual(inline('a **b** *c* `d*e*`'), ['a ', { tag: 'strong', children: ['b'] }, ' ', { tag: 'em', children: ['c'] }, ' ', { tag: 'code', children: ['d*e*'] }]);
  const out = inline('see https://go.dev.');
  assert.equal(out[1].attrs.href, 'https://go.dev');
  assert.equal(out[2], '.');
  assert.deepEqual(inline('snake_case_name'), ['snake_case_name']);
});

test('blocks: headings, lists, quotes, fences, tables', () => {
  const tree = parse('# T\n\n- a\n- b\n\n1. x\n2. y\n\n> q\n\n```go\nfmt.Println("<b>")\n```\n\n| h1 | h2 |\n|---|---|\n| 1 | 2 |\n\npara\nline');
  assert.deepEqual(tree.map((n) => n.tag), ['h1', 'ul', 'ol', 'blockquote', 'pre', 'table', 'p']);
  assert.equal(tree[4].attrs['data-lang'], 'go');
  assert.deepEqual(tree[4].children[0].children, ['fmt.Println("<b>")']);
  assert.equal(tree[5].children[1].children[0].children.length, 2);
  assert.deepEqual(tree[6].children, ['para', { tag: 'br', children: [] }, 'line']);
});

test('a stable prefix renders the same alone as within the whole text', () => {
  const src = '# Plan\n\nFirst *para*\nline two\n\n- a\n- b\n\n```js\nconst x = 1;\n\nconst y = 2;\n```\n\n> quote\n> more\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nlast para';
  for (let k = 0; k <= src.length; k++) {
    const head = src.slice(0, k);
    const end = stableEnd(head);
    assert.ok(end <= k);
    // The prefix is whole blocks of the full text too.
    assert.deepEqual([...parse(src.slice(0, end)), ...parse(src.slice(end))], parse(src), `cut at ${end} of ${k}`);
    assert.deepEqual([...parse(head.slice(0, end)), ...parse(head.slice(end))], parse(head), `head cut at ${end} of ${k}`);
  }
  // Inside an open fence nothing after the fence is stable.
  assert.equal(stableEnd('para\n\n```\ncode\n\nmore code\n'), 'para\n\n'.length);
  assert.equal(stableEnd('no newline yet'), 0);
});
