// What a claim may take (pure): candidates in their order, each webhook within its free room.
// Both engines' claims (worker-sqlite.ts, worker.ts) lease exactly what this picks.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {dueOrder, pickWithinRoom} from '../../src/delivery/claim-policy.ts';

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

test('dueOrder: oldest due first, then by id; a row without a due time (none is claimed so) sorts first', () => {
  const rows = [
    {id: 'c', next_attempt_at: '2026-12-01T00:00:01.000Z'},
    {id: 'b', next_attempt_at: '2026-12-01T00:00:00.000Z'},
    {id: 'a', next_attempt_at: '2026-12-01T00:00:01.000Z'},
    {id: 'd', next_attempt_at: null},
  ];
  assert.deepEqual(rows.sort(dueOrder).map((r) => r.id), ['d', 'b', 'a', 'c']);
});
