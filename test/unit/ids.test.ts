// ObjectIds in Ghost's (MongoDB's) layout: 4 bytes of seconds, 5 per-process bytes, a 3-byte counter.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {cryptoRandom, objectId, type Random} from '../../src/lib/ids.ts';

const fixed = (byte: number): Random => ({bytes: (n) => Buffer.alloc(n, byte), uuid: () => '00000000-0000-4000-8000-000000000000'});

test('24 hex characters: the seconds, then the random source’s 5 bytes, then a counter', () => {
  const now = new Date('2026-12-07T08:00:00.999Z');
  const id = objectId(now, fixed(0xab));
  assert.match(id, /^[0-9a-f]{24}$/);
  assert.equal(id.slice(0, 8), Math.floor(now.getTime() / 1000).toString(16).padStart(8, '0'));
  assert.equal(id.slice(8, 18), 'ababababab');
  // The process bytes are drawn once per random source.
  assert.equal(objectId(now, fixed(0xab)).slice(8, 18), 'ababababab', 'a new source object draws its own');
  const source = fixed(0x01);
  const a = objectId(now, source);
  const b = objectId(now, source);
  assert.equal(a.slice(8, 18), b.slice(8, 18));
  assert.equal(parseInt(b.slice(18), 16), (parseInt(a.slice(18), 16) + 1) % 0xffffff, 'the counter counts');
});

test('ids made one after another sort in creation order, also within one second and across seconds', () => {
  const ids: string[] = [];
  const start = Date.parse('2026-12-07T08:00:00.000Z');
  for (let i = 0; i < 3000; i++) ids.push(objectId(new Date(start + i), cryptoRandom));
  // Within this run the counter does not wrap (it would after 16.7 million ids).
  const wrapped = ids.some((id, i) => i > 0 && parseInt(id.slice(18), 16) < parseInt(ids[i - 1]!.slice(18), 16));
  if (!wrapped) assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

test('the seconds are fixed-width: early dates are zero-padded', () => {
  assert.equal(objectId(new Date(1000), fixed(0)).slice(0, 8), '00000001');
});
