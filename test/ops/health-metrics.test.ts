// GET /health and GET /metrics (SPEC §3.1, §11), on both engines.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import {buildApp} from '../../src/app.ts';
import {openDatabase} from '../../src/db/database.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {createEventFeed} from '../../src/listen/feed.ts';
import {createWake} from '../../src/lib/wake.ts';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {receiver, until} from './support.ts';

/** The value of a sample line `name{labels} value` in Prometheus text, or null. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

for (const dialect of DIALECTS) {
  describe(`operations endpoints (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect, {flags: {'allow-private-targets': true}});
    });
    after(async () => herald?.close());

    test('GET /health answers 200 with the database and queue status, without credentials', async () => {
      const response = await request(herald, 'GET', '/health');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(response.body, {status: 'ok', database: 'ok', queue: {pending: 0, due: 0}});
    });

    test('GET /health counts pending and due deliveries', async () => {
      // Two deliveries to a failing receiver: after one attempt each they wait for a retry (not
      // due). Then the webhook is disabled (nothing claims them) and one is made due.
      const failing = await receiver({status: 500});
      const webhook = await herald.api.webhooks.add({event: 'tag.added', target_url: failing.url});
      await herald.api.tags.add({name: 'Queued'});
      await herald.api.tags.add({name: 'Queued later'});
      const byWebhook = () => herald.database.db.selectFrom('deliveries').select(['id', 'attempt_count']).where('webhook_id', '=', webhook.id).execute();
      await until(async () => (await byWebhook()).filter((r) => r.attempt_count === 1).length === 2, 5_000);
      await failing.close();
      await herald.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', webhook.id).execute();
      const rows = await byWebhook();
      await herald.database.db.updateTable('deliveries').set({next_attempt_at: new Date(Date.now() - 1000).toISOString()}).where('id', '=', rows[0]!.id).execute();
      const response = await request(herald, 'GET', '/health');
      assert.equal(response.status, 200);
      assert.deepEqual(response.body.queue, {pending: 2, due: 1});
      const metrics = await request(herald, 'GET', '/metrics');
      assert.equal(sample(metrics.text, 'herald_deliveries_pending'), 2);
      assert.equal(sample(metrics.text, 'herald_webhooks_disabled'), 1);
      await herald.api.webhooks.delete({id: webhook.id});
    });

    test('GET /metrics exposes the named series in Prometheus text format', async () => {
      const response = await request(herald, 'GET', '/metrics');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      for (const name of [
        'herald_deliveries_total',
        'herald_delivery_attempt_duration_seconds',
        'herald_event_to_delivery_seconds',
        'herald_deliveries_pending',
        'herald_webhooks_disabled',
        'process_cpu_user_seconds_total',
        'nodejs_eventloop_lag_seconds',
      ]) {
        assert.match(response.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      assert.match(response.text, /^# TYPE herald_delivery_attempt_duration_seconds histogram$/m);
      assert.match(response.text, /^# TYPE herald_event_to_delivery_seconds histogram$/m);
      assert.match(response.text, /^# TYPE herald_deliveries_total counter$/m);
      for (const outcome of ['succeeded', 'failed', 'retrying', 'blocked', 'gone']) {
        assert.notEqual(sample(response.text, `herald_deliveries_total{outcome="${outcome}",source="herald"}`), null, outcome);
      }
    });

    test('a delivery increments herald_deliveries_total and observes both histograms', async () => {
      const read = async () => (await request(herald, 'GET', '/metrics')).text;
      const before = await read();
      const succeeded0 = sample(before, 'herald_deliveries_total{outcome="succeeded",source="herald"}')!;
      const retrying0 = sample(before, 'herald_deliveries_total{outcome="retrying",source="herald"}')!;
      const gone0 = sample(before, 'herald_deliveries_total{outcome="gone",source="herald"}')!;
      const attempts0 = sample(before, 'herald_delivery_attempt_duration_seconds_count')!;
      const latency0 = sample(before, 'herald_event_to_delivery_seconds_count')!;
      const disabled0 = sample(before, 'herald_webhooks_disabled')!;

      const ok = await receiver();
      const failing = await receiver({status: 500});
      const gone = await receiver({status: 410});
      try {
        const hooks = await Promise.all(
          [ok, failing, gone].map((r) => herald.api.webhooks.add({event: 'member.added', target_url: r.url})),
        );
        await herald.api.members.add({email: 'metrics@example.com'});
        await until(async () => {
          const text = await read();
          return (
            sample(text, 'herald_deliveries_total{outcome="succeeded",source="herald"}') === succeeded0 + 1 &&
            sample(text, 'herald_deliveries_total{outcome="retrying",source="herald"}') === retrying0 + 1 &&
            sample(text, 'herald_deliveries_total{outcome="gone",source="herald"}') === gone0 + 1
          );
        }, 5_000);
        const text = await read();
        assert.equal(sample(text, 'herald_delivery_attempt_duration_seconds_count'), attempts0 + 3);
        assert.equal(sample(text, 'herald_event_to_delivery_seconds_count'), latency0 + 1);
        assert.equal(sample(text, 'herald_webhooks_disabled'), disabled0 + 1); // the 410 one
        for (const hook of hooks) await herald.api.webhooks.delete({id: hook.id});
      } finally {
        await Promise.all([ok.close(), failing.close(), gone.close()]);
      }
    });

    test('GET /health answers 503 once the database is unreachable; /metrics still answers', async () => {
      // A second app on its own connection to the same store, whose database is then closed under it.
      const database = await openDatabase(herald.config);
      const app = buildApp({
        config: herald.config,
        database,
        clock: systemClock,
        random: cryptoRandom,
        logger: pino({level: 'silent'}),
        siteUrl: () => 'http://127.0.0.1',
        wake: createWake(),
        feed: createEventFeed(database, null, pino({level: 'silent'})),
      });
      try {
        const up = await app.inject({method: 'GET', url: '/health'});
        assert.equal(up.statusCode, 200);
        assert.equal(up.json().status, 'ok');
        await database.close();
        const down = await app.inject({method: 'GET', url: '/health'});
        assert.equal(down.statusCode, 503);
        assert.deepEqual(down.json(), {status: 'error', database: 'unreachable'});
        const metrics = await app.inject({method: 'GET', url: '/metrics'});
        assert.equal(metrics.statusCode, 200);
        assert.match(metrics.body, /^# TYPE herald_deliveries_pending gauge$/m);
      } finally {
        await app.close();
      }
    });
  });
}
