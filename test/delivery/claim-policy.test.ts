// What a claim may take (pure): candidates in their order, each webhook within its free room.
// Both engines' claims (worker-sqlite.ts, worker.ts) lease exactly what this picks.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {inPickedOrder, pickWithinRoom} from '../../src/delivery/claim-policy.ts';

const row = (id: string, webhook_id: string) => ({id, webhook_id});

test('each webhook gets at most its room, in candidate order; others are not held up', () => {
  const candidates = [row('a', 'w1'), row('b', 'w1'), row('c', 'w2'), row('d', 'w1'), row('e', 'w3'), row('f', 'w2')];
  const room: Record<string, number> = {w1: 2, w2: 1, w3: 5};
  assert.deepEqual(pickWithinRoom(candidates, (w) => room[w]!), ['a', 'b', 'c', 'e']);
});

test('a webhook with no room (or less than none) gets nothing', () => {
  const candidates = [row('a', 'w1'), row('b', 'w2'), row('c', 'w1')];
  assert.deepEqual(pickWithinRoom(candidates, (w) => (w === 'w1' ? 0 : -3)), []);
});

test("the room is asked once per webhook and counted down by the claim's own picks", () => {
  const asked: string[] = [];
  const picked = pickWithinRoom([row('a', 'w1'), row('b', 'w1'), row('c', 'w1')], (w) => {
    asked.push(w);
    return 2;
  });
  assert.deepEqual(picked, ['a', 'b']);
  assert.deepEqual(asked, ['w1']);
});

test('inPickedOrder: the leased rows in the order they were picked, whatever order RETURNING gave', () => {
  const rows = [{id: 'c'}, {id: 'a'}, {id: 'd'}, {id: 'b'}];
  assert.deepEqual(inPickedOrder(rows, ['b', 'd', 'a', 'c']).map((r) => r.id), ['b', 'd', 'a', 'c']);
  // A row that was not picked (none is leased so) goes last; the input is left as it was.
  assert.deepEqual(inPickedOrder(rows, ['a', 'b']).map((r) => r.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(rows.map((r) => r.id), ['c', 'a', 'd', 'b']);
});
