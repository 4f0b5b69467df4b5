import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomStream, backoff } from '../app/stream.js';

class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; FakeWS.all.push(this); }
  send(s) { this.sent.push(JSON.parse(s)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen(); }
  msg(e) { this.onmessage({ data: JSON.stringify(e) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code, reason: '' }); }
}

function setup() {
  FakeWS.all = [];
  const events = [], states = [], timers = [];
  const s = new RoomStream({ roomID: 7, token: () => 'tok', after: 3, url: 'ws://h', WebSocket: FakeWS,
    setTimeout: (f) => timers.push(f), onEvent: (e) => events.push(e), onState: (st) => states.push(st) });
  return { s, events, states, timers };
}

test('resumes after the last seq and drops duplicates', () => {
  const { s, events, timers } = setup();
  assert.equal(FakeWS.all[0].url, 'ws://h/ws/chat/7?token=tok&after=3');
  FakeWS.all[0].open();
  FakeWS.all[0].msg({ type: 'message', seq: 4, content: 'a' });
  FakeWS.all[0].msg({ type: 'message', seq: 4, content: 'a' });
  FakeWS.all[0].drop();
  assert.equal(timers.length, 1);
  timers[0]();
  assert.equal(FakeWS.all[1].url, 'ws://h/ws/chat/7?token=tok&after=4');
  FakeWS.all[1].open();
  FakeWS.all[1].msg({ type: 'message', seq: 4, content: 'a' });
  FakeWS.all[1].msg({ type: 'message', seq: 5, content: 'b' });
  assert.deepEqual(events.map((e) => e.seq), [4, 5]);
  assert.equal(s.lastSeq, 5);
});

test('offline messages are queued with a client_id and sent once open', () => {
  const { s } = setup();
  const id = s.send('hi');
  assert.equal(FakeWS.all[0].sent.length, 0);
  FakeWS.all[0].open();
  assert.deepEqual(FakeWS.all[0].sent, [{ type: 'message', client_id: id, content: 'hi' }]);
  FakeWS.all[0].msg({ type: 'ack', client_id: id, seq: 4 });
  assert.equal(s.pending.length, 0);
});

test('a queued message unacknowledged before a cut is resent with the same client_id', () => {
  const { s, timers } = setup();
  FakeWS.all[0].open();
  const id = s.send('hi');
  FakeWS.all[0].drop();
  timers[0]();
  FakeWS.all[1].open();
  assert.deepEqual(FakeWS.all[1].sent, [{ type: 'message', client_id: id, content: 'hi' }]);
});

test('policy close stops reconnecting', () => {
  const { states, timers } = setup();
  FakeWS.all[0].drop(1008);
  assert.equal(timers.length, 0);
  assert.equal(states.at(-1), 'closed');
  assert.equal(backoff(0), 250);
  assert.equal(backoff(10), 5000);
});

test('the queue survives a reload: a new stream sends what the last one had not', () => {
  const mem = new Map();
  const storage = { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, v), removeItem: (k) => mem.delete(k) };
  FakeWS.all = [];
  const opts = { roomID: 7, token: () => 'tok', after: 3, url: 'ws://h', WebSocket: FakeWS, setTimeout: () => {},
    onEvent: () => {}, onState: () => {}, queueKey: 'q.7', storage };
  const first = new RoomStream(opts);
  const id = first.send('typed offline');
  first.close();
  assert.ok(mem.has('q.7'));
  const events = [];
  const second = new RoomStream({ ...opts, onEvent: (e) => events.push(e) });
  assert.deepEqual(second.pending.map((p) => p.client_id), [id]);
  FakeWS.all[1].open();
  assert.deepEqual(FakeWS.all[1].sent, [{ type: 'message', client_id: id, content: 'typed offline' }]);
  // The server had it already: an ack settles it, and the view hears of it.
  FakeWS.all[1].msg({ type: 'ack', client_id: id, seq: 4 });
  assert.equal(second.pending.length, 0);
  assert.equal(mem.has('q.7'), false);
  assert.equal(events.at(-1).type, 'ack');
});
