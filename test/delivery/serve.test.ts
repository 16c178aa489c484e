// `herald serve` runs the delivery worker according to its role, and SIGTERM lets an in-flight
// attempt finish and be recorded before the process exits 0. Real child processes.
import {after, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import type {ChildProcess} from 'node:child_process';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {killChildren, startServe, storeArgs, terminate} from '../support/process.ts';
import {loadConfig} from '../../src/config.ts';
import {openDatabase, type Database} from '../../src/db/database.ts';
import {createIntegration} from '../../src/content/integrations.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {insertDeliveries, insertEvent, insertWebhook, sleep, startReceiver, until} from './helpers.ts';

after(() => killChildren());

/** Starts `herald serve` on the store and resolves once it is listening. */
async function serve(store: TestStore, extra: string[]): Promise<ChildProcess> {
  return (await startServe(['--port', '0', ...storeArgs(store), ...extra])).child;
}

/** A store with one webhook to `url` and one pending delivery, written before serve starts. */
async function seeded(dialect: (typeof DIALECTS)[number], url: string): Promise<{store: TestStore; database: Database; deliveryId: string}> {
  const store = await createStore(dialect);
  const database = await openDatabase(loadConfig({...store.flags}, {}));
  const integration = await database.db.transaction().execute((trx) => createIntegration(trx, {name: 'serve test'}, new Date(), cryptoRandom));
  const webhookId = await insertWebhook(database, integration.id, {target_url: url});
  const eventId = await insertEvent(database, '{"event":"post.published"}');
  const [deliveryId] = await insertDeliveries(database, [{event_id: eventId, webhook_id: webhookId}]);
  return {store, database, deliveryId: deliveryId!};
}

describe('herald serve and the delivery worker', {concurrency: true}, () => {
  for (const dialect of DIALECTS) {
    test(`${dialect}: serve delivers; SIGTERM waits for the in-flight attempt, records it, exits 0`, async () => {
      const receiver = await startReceiver(async (req, res) => {
        await sleep(req.path === '/slow' ? 800 : 0);
        res.end('done');
      });
      const {store, database, deliveryId} = await seeded(dialect, `${receiver.url}/slow`);
      try {
        const child = await serve(store, ['--delivery-timeout', '5s', '--allow-private-targets']);
        await receiver.waitFor(1, 10_000);
        const exit = terminate(child);
        assert.equal(await exit, 0);
        const row = await database.db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirstOrThrow();
        assert.equal(row.status, 'succeeded', 'the attempt in flight at SIGTERM was finished and recorded');
        const attempts = await database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).execute();
        assert.equal(attempts.length, 1);
        assert.equal(attempts[0]!.response_body, 'done');
      } finally {
        await database.close();
        await store.drop();
        await receiver.close();
      }
    });

    test(`${dialect}: --no-worker serves the API but sends nothing; --worker-only sends`, async () => {
      const receiver = await startReceiver();
      const {store, database, deliveryId} = await seeded(dialect, `${receiver.url}/hook`);
      try {
        const api = await serve(store, ['--no-worker', '--allow-private-targets']);
        await sleep(1500);
        assert.equal(receiver.received.length, 0);
        assert.equal(await terminate(api), 0);
        const worker = await serve(store, ['--worker-only', '--allow-private-targets']);
        await receiver.waitFor(1, 10_000);
        await until(async () => {
          const row = await database.db.selectFrom('deliveries').select('status').where('id', '=', deliveryId).executeTakeFirstOrThrow();
          return row.status === 'succeeded';
        });
        assert.equal(await terminate(worker), 0);
      } finally {
        await database.close();
        await store.drop();
        await receiver.close();
      }
    });
  }
});
