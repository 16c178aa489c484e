// Filing deliveries into the per-webhook index (migration 0009, delivery/filing.ts): SQLite's
// outbox writes a fan-out's deliveries unfiled, the filing enters them later in batches, and
// every read of a webhook's deliveries through the index sees them anyway. Both engines.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import {fileAll, fileBatch, startFiling} from '../../src/delivery/filing.ts';
import {failingSinceSqlite} from '../../src/delivery/worker-sqlite.ts';
import {objectId} from '../../src/lib/ids.ts';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const API = '/ghost/api/admin';
const DAY = 86_400_000;

for (const dialect of DIALECTS) {
  describe(`filing deliveries (${dialect})`, () => {
    let herald: TestHerald;
    const call = async (method: string, path: string, body?: unknown) =>
      request(herald, method, `${API}${path}`, {body, headers: {authorization: await adminToken(herald.integration.admin_key)}});

    before(async () => {
      // No worker: the deliveries stay pending and unrecorded, as the outbox wrote them.
      herald = await startHerald(dialect, {worker: false, flags: {'allow-private-targets': true}});
    });
    after(async () => {
      await herald?.close();
    });

    /** Three webhooks on `event` (no other webhook left) and one change that fires it; the deliveries' ids, oldest first. */
    const fanOut = async (event: 'tag.added', name: string): Promise<{webhooks: string[]; deliveries: string[]}> => {
      await herald.database.db.deleteFrom('webhooks').execute();
      const webhooks: string[] = [];
      for (let i = 0; i < 3; i++) webhooks.push((await herald.api.webhooks.add({event, target_url: `http://127.0.0.1:9/${name}/${i}`})).id);
      const tag = await herald.api.tags.add({name});
      const db = herald.database.db;
      const event_ = await db.selectFrom('events').select('id').where('resource_id', '=', tag.id).executeTakeFirstOrThrow();
      const rows = await db.selectFrom('deliveries').select('id').where('event_id', '=', event_.id).orderBy('id').execute();
      return {webhooks, deliveries: rows.map((r) => r.id)};
    };
    const filedOf = async (ids: string[]) =>
      (await herald.database.db.selectFrom('deliveries').select(['id', 'filed']).where('id', 'in', ids).orderBy('id').execute()).map((r) => Number(r.filed));

    test("a fan-out's deliveries are written unfiled on SQLite (filed on PostgreSQL); fileAll files every one", async () => {
      const {deliveries} = await fanOut('tag.added', 'Fan');
      assert.equal(deliveries.length, 3);
      assert.deepEqual(await filedOf(deliveries), dialect === 'sqlite' ? [0, 0, 0] : [1, 1, 1]);
      assert.equal(await fileAll(herald.database.db), dialect === 'sqlite' ? 3 : 0);
      assert.deepEqual(await filedOf(deliveries), [1, 1, 1]);
      assert.equal(await fileAll(herald.database.db), 0);
    });

    test('a batch files the oldest unfiled rows first, no more than its size; fileAll goes on until none is left', async () => {
      const {deliveries} = await fanOut('tag.added', 'Batch');
      await herald.database.db.updateTable('deliveries').set({filed: 0}).where('id', 'in', deliveries).execute();
      assert.equal(await fileBatch(herald.database.db, 2), 2);
      assert.deepEqual(await filedOf(deliveries), [1, 1, 0]);
      await herald.database.db.updateTable('deliveries').set({filed: 0}).where('id', 'in', deliveries).execute();
      assert.equal(await fileAll(herald.database.db, 1), 3);
      assert.deepEqual(await filedOf(deliveries), [1, 1, 1]);
    });

    test("a webhook's delivery log, its recovery and its deletion see unfiled deliveries", async () => {
      const {webhooks, deliveries} = await fanOut('tag.added', 'Seen');
      const db = herald.database.db;
      await db.updateTable('deliveries').set({filed: 0}).where('id', 'in', deliveries).execute();
      const log = await call('GET', `/webhooks/${webhooks[0]}/deliveries/`);
      assert.equal(log.status, 200);
      assert.deepEqual(
        log.body.deliveries.map((d: {id: string}) => d.id),
        [deliveries[0]],
      );

      await db.updateTable('deliveries').set({status: 'failed', next_attempt_at: null, filed: 0}).where('id', 'in', deliveries).execute();
      const recovered = await call('POST', `/webhooks/${webhooks[1]}/recover/`, {since: new Date(Date.now() - DAY).toISOString()});
      assert.deepEqual(recovered.body, {recovered: 1});
      assert.equal((await db.selectFrom('deliveries').select('status').where('id', '=', deliveries[1]!).executeTakeFirstOrThrow()).status, 'pending');

      await db.updateTable('deliveries').set({filed: 0}).where('id', 'in', deliveries).execute();
      assert.equal((await call('DELETE', `/webhooks/${webhooks[2]}/`)).status, 204);
      assert.deepEqual((await db.selectFrom('deliveries').select('id').where('id', 'in', deliveries).orderBy('id').execute()).map((r) => r.id), deliveries.slice(0, 2));
    });

    test('the filing loop files on its own, a batch at a time, and stop() waits for its run', async () => {
      const {deliveries} = await fanOut('tag.added', 'Loop');
      await herald.database.db.updateTable('deliveries').set({filed: 0}).where('id', 'in', deliveries).execute();
      const filing = startFiling({database: herald.database, logger: pino({level: 'silent'})}, {intervalMs: 10, batch: 2});
      try {
        const end = Date.now() + 5_000;
        while ((await filedOf(deliveries)).includes(0)) {
          assert.ok(Date.now() < end, 'the loop filed every row within 5 s');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } finally {
        await filing.stop();
      }
      assert.deepEqual(await filedOf(deliveries), [1, 1, 1]);
    });

    if (dialect === 'sqlite') {
      test('the failing-for-days check counts a success that is not filed yet', async () => {
        const db = herald.database.db;
        const {webhooks, deliveries} = await fanOut('tag.added', 'Failing');
        const eventId = (await db.selectFrom('deliveries').select('event_id').where('id', '=', deliveries[0]!).executeTakeFirstOrThrow()).event_id;
        const tenDaysAgo = new Date(Date.now() - 10 * DAY).toISOString();
        // Failed ten days ago (filed), then a success a moment ago that is not filed yet.
        await db.updateTable('deliveries').set({status: 'failed', next_attempt_at: null, created_at: tenDaysAgo, filed: 1}).where('id', '=', deliveries[0]!).execute();
        const now = new Date().toISOString();
        await db
          .insertInto('deliveries')
          .values({
            id: objectId(),
            event_id: eventId,
            webhook_id: webhooks[0]!,
            status: 'succeeded',
            attempt_count: 1,
            next_attempt_at: null,
            lease_owner: null,
            lease_expires_at: null,
            last_attempt_at: now,
            last_status_code: 200,
            last_error: null,
            created_at: now,
            updated_at: now,
            filed: 0,
          })
          .execute();
        const cutoff = new Date(Date.now() - 3 * DAY).toISOString();
        assert.equal(await herald.database.syncTransaction!((prepare) => failingSinceSqlite(prepare, webhooks[0]!, cutoff)), false);
        // The same check without the success: failing since before the cutoff.
        await db.deleteFrom('deliveries').where('webhook_id', '=', webhooks[0]!).where('status', '=', 'succeeded').execute();
        assert.equal(await herald.database.syncTransaction!((prepare) => failingSinceSqlite(prepare, webhooks[0]!, cutoff)), true);
      });
    }
  });
}
