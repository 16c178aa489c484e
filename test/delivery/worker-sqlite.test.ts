// The SQLite claim (worker-sqlite.ts) on its own: what it leases, in which order, and what it
// does when another process leased a picked row between its read and its lease.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import type BetterSqlite3 from 'better-sqlite3';
import {startHerald, type TestHerald} from '../support/herald.ts';
import {claimSqlite, failingSinceSqlite, webhookCache} from '../../src/delivery/worker-sqlite.ts';
import type {ClaimInput} from '../../src/delivery/claim-policy.ts';
import {insertDeliveries, insertEvent, insertWebhook} from './helpers.ts';

let h: TestHerald;
before(async () => {
  h = await startHerald('sqlite', {worker: false});
});
after(() => h.close());

function input(free: number, roomOf: (webhookId: string) => number = () => 8): ClaimInput {
  const now = new Date();
  return {free, roomOf, saturated: [], nowIso: now.toISOString(), leaseUntil: new Date(now.getTime() + 60_000).toISOString(), workerId: 'claimer'};
}

async function seed(count: number, dueIn: (i: number) => number = () => 0) {
  const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: 'http://127.0.0.1:9/hook'});
  const eventId = await insertEvent(h.database, '{"n":1}');
  const base = Date.now() - 10_000;
  const ids = await insertDeliveries(
    h.database,
    Array.from({length: count}, (_, i) => ({event_id: eventId, webhook_id: webhookId, next_attempt_at: new Date(base + dueIn(i)).toISOString()})),
  );
  return {webhookId, eventId, ids};
}

const leaseOf = (id: string) => h.database.db.selectFrom('deliveries').select(['lease_owner']).where('id', '=', id).executeTakeFirstOrThrow();
const releaseAll = () => h.database.db.updateTable('deliveries').set({lease_owner: null, lease_expires_at: null, status: 'succeeded'}).execute();

test('leases the picked rows in one go and returns their jobs oldest due first, with the event and webhook loaded', async () => {
  // Inserted in one order, due in the reverse one.
  const {ids, webhookId, eventId} = await seed(5, (i) => (5 - i) * 100);
  const result = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, input(10)));
  assert.deepEqual(result.jobs.map((j) => j.delivery.id), [...ids].reverse());
  assert.equal(result.full, false);
  assert.equal(result.collided, false);
  for (const job of result.jobs) {
    assert.equal(job.webhook.id, webhookId);
    assert.equal(job.event.payload, '{"n":1}');
    assert.equal(job.delivery.event_id, eventId);
  }
  for (const id of ids) assert.equal((await leaseOf(id)).lease_owner, 'claimer');
  await releaseAll();
});

test('a leased row is next due when its lease runs out (claims walk the due rows only, not the attempts in flight)', async () => {
  const {ids} = await seed(3);
  const claim = input(1);
  const first = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, claim));
  assert.deepEqual(first.jobs.map((j) => j.delivery.id), [ids[0]]);
  const row = await h.database.db.selectFrom('deliveries').select(['next_attempt_at', 'lease_expires_at']).where('id', '=', ids[0]!).executeTakeFirstOrThrow();
  assert.equal(row.lease_expires_at, claim.leaseUntil);
  assert.equal(row.next_attempt_at, claim.leaseUntil);
  // No longer among the due rows: a candidate read walks from the rows behind it.
  const due = await h.database.db.selectFrom('deliveries').select('id').where('id', 'in', ids).where('next_attempt_at', '<=', claim.nowIso).orderBy('id').execute();
  assert.deepEqual(due.map((d) => d.id), ids.slice(1));
  await releaseAll();
});

test('a row another process leased between the read and the lease is left to it and reported as a collision', async () => {
  const {ids} = await seed(4);
  const stolen = ids[1]!;
  const result = await h.database.syncTransaction!((prepare) => {
    // The other process commits its lease right after this claim's candidate read.
    const intercept = (text: string): BetterSqlite3.Statement => {
      if (text.startsWith('update deliveries set lease_owner')) {
        prepare(`update deliveries set lease_owner = 'other', lease_expires_at = ? where id = ?`).run(new Date(Date.now() + 60_000).toISOString(), stolen);
      }
      return prepare(text);
    };
    return claimSqlite(intercept, input(4));
  });
  assert.deepEqual(result.jobs.map((j) => j.delivery.id), ids.filter((id) => id !== stolen));
  assert.equal(result.collided, true);
  assert.equal(result.full, false, 'it read every due row: none is left behind');
  assert.equal((await leaseOf(stolen)).lease_owner, 'other');
  await releaseAll();
});

test('`full` says more rows are due than the claim could take (not that it took as many as it could)', async () => {
  await seed(5);
  const four = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, input(4)));
  assert.equal(four.jobs.length, 4);
  assert.equal(four.full, true, 'a fifth row is due');
  const last = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, input(1)));
  assert.equal(last.jobs.length, 1);
  assert.equal(last.full, false, 'it took the last due row');
  await releaseAll();
});

test("each webhook within its room; nothing leased when no webhook has any", async () => {
  const {ids, webhookId} = await seed(3);
  const none = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, input(10, () => 0)));
  assert.deepEqual(none, {jobs: [], missing: [], full: false, collided: false});
  for (const id of ids) assert.equal((await leaseOf(id)).lease_owner, null);
  const some = await h.database.syncTransaction!((prepare) => claimSqlite(prepare, input(10, (w) => (w === webhookId ? 2 : 8))));
  assert.deepEqual(some.jobs.map((j) => j.delivery.id), ids.slice(0, 2));
  assert.equal((await leaseOf(ids[2]!)).lease_owner, null);
  await releaseAll();
});

test('the lease finds the picked rows by id, not by walking every pending row', async () => {
  // Walking deliveries_claim for status = 'pending' (SQLite's choice without the hint) made
  // each lease scan the whole backlog: with 100,000 pending rows, every claim read them all.
  await seed(3);
  let leaseText = '';
  await h.database.syncTransaction!((prepare) =>
    claimSqlite((text) => {
      if (text.startsWith('update deliveries set lease_owner')) leaseText = text;
      return prepare(text);
    }, input(1)),
  );
  assert.notEqual(leaseText, '', 'the claim leased with its update statement');
  const plan = await h.database.syncTransaction!((prepare) =>
    prepare(`explain query plan ${leaseText}`).all({owner: 'x', until: 'y', ids: '["a","b"]', now: 'z'}) as {detail: string}[],
  );
  const onDeliveries = plan.map((step) => step.detail).filter((detail) => /\bdeliveries\b/.test(detail));
  assert.equal(onDeliveries.length, 1, JSON.stringify(plan));
  assert.match(onDeliveries[0]!, /USING INDEX sqlite_autoindex_deliveries_1 \(id=\?\)/);
  await releaseAll();
});

test("the check before disabling a webhook reads that webhook's deliveries only", async () => {
  // deliveries_claim leads with status: searched for 'succeeded', it walks every webhook's
  // finished deliveries (the whole log) inside the record's write transaction.
  const texts: string[] = [];
  await h.database.syncTransaction!((prepare) =>
    failingSinceSqlite((text) => {
      texts.push(text);
      return prepare(text);
    }, 'some-webhook', new Date().toISOString()),
  );
  // First the filing (the index holds filed rows only), through the unfiled rows' own index.
  assert.equal(texts.length, 3);
  const filing = await h.database.syncTransaction!((prepare) => prepare(`explain query plan ${texts[0]}`).all(1) as {detail: string}[]);
  assert.match(texts[0]!, /^update deliveries set filed = 1/);
  // A scan of the partial index is a scan of the unfiled rows only.
  const filingPlan = filing.map((step) => step.detail).join(' | ');
  assert.match(filingPlan, /SCAN deliveries USING COVERING INDEX deliveries_unfiled/);
  assert.doesNotMatch(filingPlan, /SCAN deliveries(?! USING COVERING INDEX deliveries_unfiled)\b/);
  for (const text of texts.slice(1)) {
    const plan = await h.database.syncTransaction!((prepare) => {
      const statement = prepare(`explain query plan ${text}`);
      const named = text.includes('@webhook');
      return (named ? statement.all({webhook: 'w', cutoff: 'c', success: null}) : statement.all('w')) as {detail: string}[];
    });
    const details = plan.map((step) => step.detail).join(' | ');
    assert.match(details, /USING (COVERING )?INDEX deliveries_webhook_created \(webhook_id=\?/, text);
    assert.doesNotMatch(details, /deliveries_claim/, text);
  }
});

test('webhook rows are kept from one claim to the next until a webhook changes (any column delivering reads)', async () => {
  const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: 'http://127.0.0.1:9/kept', secret: 'first'});
  const eventId = await insertEvent(h.database, '{"n":2}');
  const cache = webhookCache();
  /** One claim of a fresh delivery of the webhook: the webhook it loaded, and whether it read the row. */
  const claimOne = async () => {
    await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId, next_attempt_at: new Date(Date.now() - 1000).toISOString()}]);
    let readWebhook = false;
    const result = await h.database.syncTransaction!((prepare) =>
      claimSqlite((text) => {
        if (text.includes('from webhooks where id = ?')) readWebhook = true;
        return prepare(text);
      }, input(10), cache),
    );
    await releaseAll();
    assert.equal(result.jobs.length, 1);
    return {webhook: result.jobs[0]!.webhook, readWebhook};
  };
  const first = await claimOne();
  assert.equal(first.readWebhook, true);
  assert.equal(first.webhook.secret, 'first');
  assert.equal((await claimOne()).readWebhook, false, 'nothing changed: the kept row');

  // Columns delivering does not read change nothing.
  await h.database.db.updateTable('webhooks').set({last_triggered_at: new Date().toISOString(), last_triggered_status: '200', name: 'Renamed'}).where('id', '=', webhookId).execute();
  assert.equal((await claimOne()).readWebhook, false);

  for (const [column, value] of [['secret', 'second'], ['target_url', 'http://127.0.0.1:9/moved'], ['previous_secrets', '[]']] as const) {
    await h.database.db.updateTable('webhooks').set({[column]: value}).where('id', '=', webhookId).execute();
    const after = await claimOne();
    assert.equal(after.readWebhook, true, `${column} changed: read again`);
    assert.equal((after.webhook as Record<string, unknown>)[column], value);
  }
  // Another webhook added (or any other change to the table's delivering columns) empties the cache.
  await insertWebhook(h.database, h.integration.id, {target_url: 'http://127.0.0.1:9/other'});
  assert.equal((await claimOne()).readWebhook, true);
  assert.equal((await claimOne()).readWebhook, false);
});
