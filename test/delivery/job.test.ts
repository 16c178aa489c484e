// jobOf (delivery/job.ts): every Job has the same parts with the same keys in the same order,
// whether made from database rows (with columns attempts do not read) or from the outbox's objects.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {jobOf} from '../../src/delivery/job.ts';

test('a job made from database rows and one made from hand-off objects have the same keys, in the same order, and nothing else', () => {
  const fromRows = jobOf(
    {next_trigger: 'manual', attempt_count: 2, next_attempt_at: '2026-12-07T00:00:00.000Z', webhook_id: 'w1', event_id: 'e1', id: 'd1'},
    {source_id: null, created_at: '2026-12-06T00:00:00.000Z', payload: '{"a":1}', name: 'post.published', id: 'e1'} as never,
    {status: 'available', previous_secrets: null, secret: 's', target_url: 'https://example.com/hook', id: 'w1'} as never,
  );
  const handedOff = jobOf(
    {id: 'd2', event_id: 'e2', webhook_id: 'w2', attempt_count: 0, next_attempt_at: null},
    {id: 'e2', name: 'tag.added', resource_type: 'tag', resource_id: 't', payload: '{}', source_id: 'src', created_at: 'x'} as never,
    {id: 'w2', event: 'tag.added', target_url: 'http://127.0.0.1/x', secret: null, previous_secrets: '[]', integration_id: 'i'} as never,
  );
  for (const part of ['delivery', 'event', 'webhook'] as const) assert.deepEqual(Object.keys(fromRows[part]), Object.keys(handedOff[part]), part);
  assert.deepEqual(Object.keys(fromRows.delivery), ['id', 'event_id', 'webhook_id', 'attempt_count', 'next_attempt_at', 'next_trigger']);
  assert.deepEqual(fromRows.event, {name: 'post.published', payload: '{"a":1}', created_at: '2026-12-06T00:00:00.000Z', source_id: null});
  assert.deepEqual(fromRows.webhook, {id: 'w1', target_url: 'https://example.com/hook', secret: 's', previous_secrets: null});
  // A missing next_trigger (a hand-off) is null, as a row's would be.
  assert.equal(handedOff.delivery.next_trigger, null);
  assert.equal(fromRows.delivery.next_trigger, 'manual');
});
