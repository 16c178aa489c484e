// Retention (SPEC §11): old attempts and old succeeded deliveries are pruned (and events left
// with no deliveries); newer rows, pending and failed deliveries are kept. Both engines.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {pruneOnce} from '../../src/delivery/retention.ts';
import {loadConfig} from '../../src/config.ts';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';
import {receiver, until, type Receiver} from './support.ts';
import {planOf, statementsRun} from '../support/sqlite-plans.ts';

const DAY = 86_400_000;

test('--retention / HERALD_RETENTION: a duration, 30 days by default', () => {
  assert.equal(loadConfig({}, {}).retentionMs, 30 * DAY);
  assert.equal(loadConfig({}, {HERALD_RETENTION: '7d'}).retentionMs, 7 * DAY);
  assert.equal(loadConfig({retention: '12h'}, {HERALD_RETENTION: '7d'}).retentionMs, 12 * 3_600_000);
  assert.throws(() => loadConfig({retention: 'soon'}, {}), /--retention/);
  assert.throws(() => loadConfig({retention: '0'}, {}), /--retention/);
});

for (const dialect of DIALECTS) {
  describe(`retention (${dialect})`, () => {
    let herald: TestHerald;
    const receivers: Receiver[] = [];
    before(async () => {
      herald = await startHerald(dialect, {flags: {'allow-private-targets': true}});
    });
    after(async () => {
      await Promise.all(receivers.map((r) => r.close()));
      await herald?.close();
    });

    test('prunes what is older than the retention, keeps newer rows and every pending or failed delivery', async () => {
      const db = herald.database.db;
      const ok = await receiver();
      const failing = await receiver({status: 500});
      receivers.push(ok, failing);
      const eventOf = async (tagId: string) => (await db.selectFrom('events').select('id').where('resource_id', '=', tagId).executeTakeFirstOrThrow()).id;
      const deliveriesOf = (eventId: string) => db.selectFrom('deliveries').selectAll().where('event_id', '=', eventId).execute();

      // T0: delivered to A only. T1 (old) and T2 (new): to A (succeeds), B (fails, retrying) and C (fails, marked failed).
      const a = await herald.api.webhooks.add({event: 'tag.added', target_url: ok.url});
      const t0 = await herald.api.tags.add({name: 'Zero'});
      const e0 = await eventOf(t0.id);
      await until(async () => (await deliveriesOf(e0)).every((d) => d.status === 'succeeded'), 5_000);
      const b = await herald.api.webhooks.add({event: 'tag.added', target_url: failing.url});
      const c = await herald.api.webhooks.add({event: 'tag.added', target_url: `${failing.url}?c=1`});
      const t1 = await herald.api.tags.add({name: 'One'});
      const t2 = await herald.api.tags.add({name: 'Two'});
      const [e1, e2] = [await eventOf(t1.id), await eventOf(t2.id)];
      await until(async () => [...(await deliveriesOf(e1)), ...(await deliveriesOf(e2))].every((d) => d.attempt_count === 1), 5_000);
      // Freeze: no more attempts; C's deliveries are failed for good.
      await db.updateTable('webhooks').set({status: 'disabled'}).where('id', 'in', [b.id, c.id]).execute();
      await db.updateTable('deliveries').set({status: 'failed', next_attempt_at: null}).where('webhook_id', '=', c.id).execute();
      // An event that no webhook listens to.
      const member = await herald.api.members.add({email: 'old@example.com'});
      const eMember = (await db.selectFrom('events').select('id').where('resource_id', '=', member.id).executeTakeFirstOrThrow()).id;

      // Age T0, T1 and the member event (and everything hanging off them) to 40 days.
      const old = new Date(Date.now() - 40 * DAY).toISOString();
      const oldEvents = [e0, e1, eMember];
      await db.updateTable('events').set({created_at: old}).where('id', 'in', oldEvents).execute();
      await db.updateTable('deliveries').set({created_at: old, updated_at: old, last_attempt_at: old}).where('event_id', 'in', oldEvents).execute();
      const oldDeliveryIds = (await db.selectFrom('deliveries').select('id').where('event_id', 'in', oldEvents).execute()).map((d) => d.id);
      await db.updateTable('delivery_attempts').set({started_at: old}).where('delivery_id', 'in', oldDeliveryIds).execute();
      // A succeeded delivery created long ago but finished yesterday is still history to keep.
      const [a2] = (await deliveriesOf(e2)).filter((d) => d.webhook_id === a.id);
      await db.updateTable('deliveries').set({created_at: old}).where('id', '=', a2!.id).execute();

      const counts = async () => ({
        events: Number((await db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
        deliveries: Number((await db.selectFrom('deliveries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
        attempts: Number((await db.selectFrom('delivery_attempts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
      });
      const before = await counts();
      // A tiny batch size, so the bounded batches loop.
      const result = await pruneOnce(herald.database, new Date(), {retentionMs: 30 * DAY, batchSize: 2});
      const afterCounts = await counts();

      // Attempts: T0/A, T1/A, T1/B, T1/C are old (4); T2's three attempts are new.
      assert.equal(result.attempts, 4);
      // Deliveries: T0/A and T1/A (succeeded, old); T1/B is pending and T1/C failed: kept.
      assert.equal(result.deliveries, 2);
      // Events: T0 (its only delivery is gone) and the member event (none ever); T1 keeps B's and C's.
      assert.equal(result.events, 2);
      assert.deepEqual(afterCounts, {events: before.events - 2, deliveries: before.deliveries - 2, attempts: before.attempts - 4});

      const left = await db.selectFrom('events').select('id').where('id', 'in', [e0, e1, e2, eMember]).execute();
      assert.deepEqual(left.map((e) => e.id).sort(), [e1, e2].sort());
      const t1Left = await deliveriesOf(e1);
      assert.deepEqual(t1Left.map((d) => [d.webhook_id, d.status]).sort(), [[b.id, 'pending'], [c.id, 'failed']].sort());
      assert.equal((await deliveriesOf(e2)).length, 3);
      const t2Attempts = await db.selectFrom('delivery_attempts').select('id').where('delivery_id', 'in', (await deliveriesOf(e2)).map((d) => d.id)).execute();
      assert.equal(t2Attempts.length, 3);

      // A second run finds nothing more.
      assert.deepEqual(await pruneOnce(herald.database, new Date(), {retentionMs: 30 * DAY}), {attempts: 0, deliveries: 0, events: 0});
      // A week's retention: nothing left is that old but the kept pending and failed deliveries (their attempts went already).
      const week = await pruneOnce(herald.database, new Date(), {retentionMs: 7 * DAY});
      assert.deepEqual(week, {attempts: 0, deliveries: 0, events: 0});
    });

    if (dialect === 'sqlite') {
      test('SQLite: every statement of a run reads old rows through an index on their age, never the whole log', async () => {
        // Searched by status (deliveries_claim), the statement that finds nothing more read every
        // succeeded delivery of the retention period, holding the write lock all along.
        const texts = await statementsRun(herald.database, () => pruneOnce(herald.database, new Date(), {retentionMs: 30 * DAY}));
        const deletes = texts.filter((text) => text.startsWith('delete'));
        assert.ok(deletes.some((text) => text.includes('from "deliveries" where "webhook_id"')), 'the deliveries are pruned per webhook');
        for (const text of deletes) {
          const plan = await planOf(herald.database, text);
          assert.doesNotMatch(plan, /deliveries_claim|SCAN (deliveries|delivery_attempts|events|e)\b/, `${text}\n${plan}`);
          assert.match(plan, /USING (COVERING )?INDEX (deliveries_webhook_created \(webhook_id=\? AND created_at<\?\)|delivery_attempts_started \(started_at<\?\)|events_created_at \(created_at<\?\))/, `${text}\n${plan}`);
        }
      });
    }
  });
}
