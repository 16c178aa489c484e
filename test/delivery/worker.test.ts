// The delivery worker end to end, on both engines: rows inserted directly, real HTTP receivers
// on 127.0.0.1, a compressed retry schedule (100 ms, 200 ms: three attempts) and a 500 ms timeout.
import {after, afterEach, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {createHmac} from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import {sql} from 'kysely';
import {Webhook} from 'standardwebhooks';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';
import {openDatabase, type Database} from '../../src/db/database.ts';
import {startWorker, type Worker} from '../../src/delivery/worker.ts';
import {createWake, type Wake} from '../../src/lib/wake.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {cryptoRandom, type Random} from '../../src/lib/ids.ts';
import {GHOST_API_VERSION, HERALD_VERSION} from '../../src/lib/version.ts';
import type {WebhooksTable} from '../../src/db/schema.ts';
import {closedPortUrl, insertDeliveries, insertEvent, insertWebhook, receiverSet, sleep, until, type Receiver} from './helpers.ts';

const FLAGS = {'retry-schedule': '100ms,200ms', 'delivery-timeout': '500ms'};
const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const BODY = JSON.stringify({event: 'post.published', post: {current: {id: 'p1', title: 'Ünïcödé ✓ "quoted"'}, previous: {}}});

async function deliveryRow(database: Database, id: string) {
  return database.db.selectFrom('deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
async function attemptRows(database: Database, deliveryId: string) {
  return database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('attempt_number').execute();
}
async function webhookRow(database: Database, id: string) {
  return database.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}
/** Waits until the delivery is in `status` (and has at least `attempts` attempts). */
function settled(database: Database, id: string, status: string, attempts = 1, timeoutMs = 15_000) {
  return until(
    async () => {
      const row = await deliveryRow(database, id);
      return row.status === status && row.attempt_count >= attempts ? row : null;
    },
    timeoutMs,
    `delivery ${id} ${status} after ${attempts} attempts`,
  );
}

// One engine after the other, never side by side: better-sqlite3 works synchronously on the
// event loop, so SQLite's disk waits would land in the middle of the PostgreSQL timings.
for (const dialect of DIALECTS) {
  describe(`delivery worker (${dialect})`, () => {
    let h: TestHerald;
    const receivers = receiverSet();
    const receiver = receivers.start;
    /** A webhook on `path` of `r`, one event with BODY, and `count` deliveries due now. */
    const seed = async (r: Receiver, path: string, options: {count?: number; webhook?: Partial<WebhooksTable>} = {}) => {
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}${path}`, secret: SECRET, ...options.webhook});
      const eventId = await insertEvent(h.database, BODY);
      const ids = await insertDeliveries(h.database, Array.from({length: options.count ?? 1}, () => ({event_id: eventId, webhook_id: webhookId})));
      h.wake.notify();
      return {webhookId, eventId, ids, deliveryId: ids[0]!};
    };
    /** Stops a webhook from producing more traffic once its test is done. */
    const retire = (webhookId: string) => h.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', webhookId).execute();

    before(async () => {
      h = await startHerald(dialect, {flags: FLAGS});
      await h.worker!.ready;
    });
    // Anything unexpected the worker logged (errors, lost leases) is shown after the test.
    let shown = 0;
    afterEach((t) => {
      const expected = new Set(['delivery attempt', 'webhook disabled', 'delivery lease was lost before the attempt was recorded']);
      const problems = h.logs.slice(shown).map((l) => JSON.parse(l)).filter((l) => l.level >= 40 && !expected.has(l.msg));
      shown = h.logs.length;
      if (problems.length > 0) console.log(`worker problems after "${t.name}": ${JSON.stringify(problems.slice(-20))}`);
    });
    after(async () => {
      await h.close();
      await receivers.closeAll();
    });

    test('success: one attempt, the exact body and headers at the receiver, everything recorded', async () => {
      const r = await receiver((_req, res) => {
        res.setHeader('x-receiver', 'yes');
        res.end('thanks');
      });
      const expires = new Date(Date.now() + 3_600_000).toISOString();
      const {webhookId, deliveryId} = await seed(r, '/hook?x=1', {
        webhook: {previous_secrets: JSON.stringify([{secret: 'rotated-out-secret', expires_at: expires}])},
      });
      const [got] = await r.waitFor(1);
      const row = await settled(h.database, deliveryId, 'succeeded');

      // The body, byte for byte, and SPEC §6's headers.
      assert.equal(got!.method, 'POST');
      assert.equal(got!.path, '/hook?x=1');
      assert.deepEqual(got!.raw, Buffer.from(BODY, 'utf8'));
      const headers = got!.headers;
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['content-length'], String(Buffer.byteLength(BODY)));
      assert.equal(headers['content-version'], `v${GHOST_API_VERSION}`);
      assert.equal(headers['user-agent'], `Herald/${HERALD_VERSION} (+Ghost-compatible)`);
      const ghost = /^sha256=([a-f0-9]{64}), t=(\d+)$/.exec(String(headers['x-ghost-signature']));
      assert.ok(ghost, String(headers['x-ghost-signature']));
      assert.equal(ghost[1], createHmac('sha256', SECRET).update(`${BODY}${ghost[2]}`).digest('hex'));
      assert.ok(Math.abs(Number(ghost[2]) - got!.at) < 5000, 'signed for this attempt');
      assert.equal(headers['webhook-id'], deliveryId);
      assert.equal(headers['webhook-timestamp'], String(Math.floor(Number(ghost[2]) / 1000)));
      // The official Standard Webhooks library accepts it, with the current and the rotated-out secret.
      const swHeaders = {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      };
      assert.deepEqual(new Webhook(SECRET).verify(got!.raw.toString('utf8'), swHeaders), JSON.parse(BODY));
      new Webhook(Buffer.from('rotated-out-secret'), {format: 'raw'}).verify(got!.raw.toString('utf8'), swHeaders);
      assert.equal(swHeaders['webhook-signature'].split(' ').length, 2);
      assert.equal(headers['location'], undefined);

      // The delivery, its one attempt, and the webhook's last_triggered_*.
      assert.equal(row.attempt_count, 1);
      assert.equal(row.next_attempt_at, null);
      assert.equal(row.lease_owner, null);
      assert.equal(row.lease_expires_at, null);
      assert.equal(row.last_status_code, 200);
      assert.equal(row.last_error, null);
      const attempts = await attemptRows(h.database, deliveryId);
      assert.equal(attempts.length, 1);
      const a = attempts[0]!;
      assert.equal(a.attempt_number, 1);
      assert.equal(a.trigger, 'scheduled');
      assert.equal(a.webhook_id, webhookId);
      assert.equal(a.request_url, `${r.url}/hook?x=1`);
      assert.equal(a.response_status, 200);
      assert.equal(a.response_body, 'thanks');
      assert.equal(a.error, null);
      assert.ok(a.duration_ms >= 0 && a.duration_ms < 500);
      assert.equal(row.last_attempt_at, a.started_at);
      const sent = JSON.parse(a.request_headers) as Record<string, string>;
      assert.equal(sent['webhook-id'], deliveryId);
      assert.equal(sent['X-Ghost-Signature'], headers['x-ghost-signature']);
      assert.equal(sent['webhook-signature'], headers['webhook-signature']);
      assert.equal(JSON.parse(a.response_headers!)['x-receiver'], 'yes');
      const webhook = (await webhookRow(h.database, webhookId))!;
      assert.equal(webhook.last_triggered_status, '200');
      assert.equal(webhook.last_triggered_error, null);
      assert.equal(webhook.last_triggered_at, a.started_at);

      // One log line for the attempt; no secret anywhere in the logs.
      const lines = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'delivery attempt' && l.delivery_id === deliveryId);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].webhook_id, webhookId);
      assert.equal(lines[0].event, 'post.published');
      assert.equal(lines[0].status, 200);
      assert.equal(lines[0].outcome, 'success');
      assert.equal(typeof lines[0].duration_ms, 'number');
      const allLogs = h.logs.join('\n');
      assert.ok(!allLogs.includes(SECRET) && !allLogs.includes('rotated-out-secret'));
    });

    test('500 then 200: two attempts, same webhook-id, same body bytes', async () => {
      const r = await receiver((_req, res, n) => {
        res.statusCode = n === 1 ? 500 : 200;
        res.end(n === 1 ? 'boom' : 'ok');
      });
      const {deliveryId} = await seed(r, '/flaky');
      const got = await r.waitFor(2);
      const row = await settled(h.database, deliveryId, 'succeeded', 2);
      assert.equal(got[0]!.headers['webhook-id'], deliveryId);
      assert.equal(got[1]!.headers['webhook-id'], deliveryId);
      assert.deepEqual(got[0]!.raw, got[1]!.raw);
      assert.deepEqual(got[1]!.raw, Buffer.from(BODY));
      assert.ok(got[1]!.at - got[0]!.at >= 75, `retried after ${got[1]!.at - got[0]!.at} ms (schedule 100 ms ± 20 %)`);
      assert.equal(row.attempt_count, 2);
      const attempts = await attemptRows(h.database, deliveryId);
      assert.deepEqual(
        attempts.map((a) => [a.attempt_number, a.response_status, a.error, a.response_body]),
        [
          [1, 500, 'HTTP 500', 'boom'],
          [2, 200, null, 'ok'],
        ],
      );
      const logged = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'delivery attempt' && l.delivery_id === deliveryId);
      assert.deepEqual(
        logged.map((l) => [l.attempt, l.status, l.outcome]),
        [
          [1, 500, 'failure'],
          [2, 200, 'success'],
        ],
      );
    });

    test('always 500: failed after entries + 1 = 3 attempts, spaced by the schedule', async () => {
      const r = await receiver((_req, res) => {
        res.statusCode = 500;
        res.end();
      });
      const {deliveryId, webhookId} = await seed(r, '/down');
      const row = await settled(h.database, deliveryId, 'failed', 3);
      await sleep(400);
      assert.equal(r.received.length, 3, 'no fourth attempt');
      const gaps = [r.received[1]!.at - r.received[0]!.at, r.received[2]!.at - r.received[1]!.at];
      assert.ok(gaps[0]! >= 75 && gaps[1]! >= 155, `gaps ${gaps}`);
      assert.equal(row.attempt_count, 3);
      assert.equal(row.next_attempt_at, null);
      assert.equal(row.last_status_code, 500);
      assert.equal(row.last_error, 'HTTP 500');
      assert.equal(row.lease_owner, null);
      assert.deepEqual((await attemptRows(h.database, deliveryId)).map((a) => a.attempt_number), [1, 2, 3]);
      const webhook = (await webhookRow(h.database, webhookId))!;
      assert.equal(webhook.last_triggered_status, '500');
      assert.equal(webhook.last_triggered_error, 'HTTP 500');
      assert.equal(webhook.status, 'available', 'one failed delivery does not disable a webhook');
    });

    test('timeout: the attempt error and last_triggered_error say so', async () => {
      const r = await receiver(() => {}); // never answers
      const {deliveryId, webhookId} = await seed(r, '/hang');
      const row = await settled(h.database, deliveryId, 'pending', 1);
      await retire(webhookId);
      const [a] = await attemptRows(h.database, deliveryId);
      assert.equal(a!.error, 'timeout after 500 ms');
      assert.equal(a!.response_status, null);
      assert.equal(a!.response_headers, null);
      assert.ok(a!.duration_ms >= 490 && a!.duration_ms < 1000, String(a!.duration_ms));
      assert.equal(row.last_error, 'timeout after 500 ms');
      assert.equal(row.last_status_code, null);
      assert.ok(row.next_attempt_at! > row.last_attempt_at!);
      const webhook = (await webhookRow(h.database, webhookId))!;
      assert.equal(webhook.last_triggered_status, null);
      assert.equal(webhook.last_triggered_error, 'Request failed: timeout after 500 ms');
    });

    test('a lease lost during the attempt: the attempt is logged, the delivery is left to its new owner', async () => {
      const r = await receiver(async (_req, res) => {
        await sleep(200);
        res.end('late');
      });
      const {deliveryId, webhookId} = await seed(r, '/stolen');
      await r.waitFor(1);
      // Another worker took the delivery over while this attempt was on the wire.
      const takenUntil = new Date(Date.now() + 60_000).toISOString();
      await h.database.db.updateTable('deliveries').set({lease_owner: 'another-worker', lease_expires_at: takenUntil}).where('id', '=', deliveryId).execute();
      const [a] = await until(async () => {
        const rows = await attemptRows(h.database, deliveryId);
        return rows.length > 0 ? rows : null;
      }, 5000);
      await retire(webhookId);
      assert.equal(a!.response_status, 200);
      assert.equal(a!.response_body, 'late');
      const row = await deliveryRow(h.database, deliveryId);
      assert.equal(row.lease_owner, 'another-worker');
      assert.equal(row.lease_expires_at, takenUntil);
      assert.equal(row.status, 'pending');
      assert.equal(row.attempt_count, 0);
      await until(async () => h.logs.some((l) => l.includes('delivery lease was lost') && l.includes(deliveryId)), 2000, 'the lost lease is logged');
      // Its webhook's last_triggered_* still tells what this attempt saw.
      assert.equal((await webhookRow(h.database, webhookId))!.last_triggered_status, '200');
    });

    test('connection refused names the code', async () => {
      const url = await closedPortUrl();
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: url});
      const eventId = await insertEvent(h.database, BODY);
      const [deliveryId] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
      h.wake.notify();
      const row = await settled(h.database, deliveryId!, 'failed', 3);
      assert.equal(row.last_error, 'ECONNREFUSED');
      const webhook = (await webhookRow(h.database, webhookId))!;
      assert.equal(webhook.last_triggered_error, 'Request failed: ECONNREFUSED');
      assert.equal(webhook.last_triggered_status, null);
    });

    test('410 Gone disables the webhook (never deletes it); its other deliveries are not sent', async () => {
      const r = await receiver((_req, res) => {
        res.statusCode = 410;
        res.end();
      });
      const {webhookId, deliveryId, eventId} = await seed(r, '/gone');
      const soon = new Date(Date.now() + 300).toISOString();
      const later = await insertDeliveries(h.database, [
        {event_id: eventId, webhook_id: webhookId, next_attempt_at: soon},
        {event_id: eventId, webhook_id: webhookId, next_attempt_at: soon},
      ]);
      const row = await settled(h.database, deliveryId, 'failed', 1);
      assert.equal(row.last_status_code, 410);
      assert.equal(row.next_attempt_at, null);
      const webhook = await webhookRow(h.database, webhookId);
      assert.ok(webhook, 'the webhook still exists');
      assert.equal(webhook.status, 'disabled');
      assert.match(webhook.disabled_reason!, /410 Gone/);
      assert.equal(webhook.last_triggered_status, '410');
      await sleep(700);
      assert.equal(r.received.length, 1, 'nothing more was sent to a disabled webhook');
      for (const id of later) {
        const other = await deliveryRow(h.database, id);
        assert.equal(other.status, 'pending');
        assert.equal(other.attempt_count, 0);
        assert.equal(other.lease_owner, null);
      }
    });

    test('429 with Retry-After: the next attempt waits for it, capped at twice the step', async () => {
      const r = await receiver((_req, res, n) => {
        if (n === 1) {
          res.statusCode = 429;
          res.setHeader('retry-after', '1'); // 1000 ms, over the cap of 2 × 100 ms
        }
        res.end();
      });
      const {deliveryId} = await seed(r, '/throttled');
      const got = await r.waitFor(2);
      await settled(h.database, deliveryId, 'succeeded', 2);
      const gap = got[1]!.at - got[0]!.at;
      // The schedule alone gives 80-120 ms; the Retry-After raises it to the cap, 200 ms.
      assert.ok(gap >= 195 && gap < 600, `second attempt after ${gap} ms`);
      const [first] = await attemptRows(h.database, deliveryId);
      assert.equal(first!.response_status, 429);
      assert.equal(JSON.parse(first!.response_headers!)['retry-after'], '1');
    });

    test('302 is a failure and the redirect is not followed', async () => {
      const r = await receiver((req, res) => {
        if (req.path === '/moved') {
          res.statusCode = 302;
          res.setHeader('location', '/elsewhere');
        }
        res.end();
      });
      const {deliveryId, webhookId} = await seed(r, '/moved');
      const row = await settled(h.database, deliveryId, 'failed', 3);
      assert.equal(row.last_status_code, 302);
      assert.equal(row.last_error, 'HTTP 302');
      assert.ok(r.received.every((x) => x.path === '/moved'), 'never requested the Location');
      assert.equal(r.received.length, 3);
      const webhook = (await webhookRow(h.database, webhookId))!;
      assert.equal(webhook.last_triggered_status, '302');
    });

    test('the response body is truncated to 16 KiB', async () => {
      const r = await receiver((_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.end('x'.repeat(100_000));
      });
      const {deliveryId} = await seed(r, '/chatty');
      await settled(h.database, deliveryId, 'succeeded');
      const [a] = await attemptRows(h.database, deliveryId);
      assert.equal(a!.response_body!.length, 16 * 1024);
      assert.equal(a!.response_status, 200);
      assert.equal(JSON.parse(a!.response_headers!)['content-type'], 'text/plain');
    });

    test('credentials in the target URL: sent as Basic auth, never stored or logged', async () => {
      const r = await receiver((req, res) => void res.end(String(req.headers.authorization)));
      const target = `${r.url.replace('http://', 'http://hook-user:s3cr3t-pass@')}/private`;
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: target});
      const eventId = await insertEvent(h.database, BODY);
      const [deliveryId] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
      h.wake.notify();
      await settled(h.database, deliveryId!, 'succeeded');
      assert.equal(r.received[0]!.headers.authorization, `Basic ${Buffer.from('hook-user:s3cr3t-pass').toString('base64')}`);
      const [a] = await attemptRows(h.database, deliveryId!);
      assert.equal(a!.request_url, `${r.url.replace('http://', 'http://hook-user:***@')}/private`);
      assert.ok(!a!.request_headers.toLowerCase().includes('authorization'));
      assert.ok(!h.logs.join('\n').includes('s3cr3t-pass'));
    });

    test('a lease left by a dead worker is retried once it has run out; a live lease is respected', async () => {
      const r = await receiver();
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/lease`});
      const eventId = await insertEvent(h.database, BODY);
      const [dead, live] = await insertDeliveries(h.database, [
        {event_id: eventId, webhook_id: webhookId, lease_owner: 'dead-worker', lease_expires_at: new Date(Date.now() - 1000).toISOString()},
        {event_id: eventId, webhook_id: webhookId, lease_owner: 'live-worker', lease_expires_at: new Date(Date.now() + 600_000).toISOString()},
      ]);
      h.wake.notify();
      const row = await settled(h.database, dead!, 'succeeded');
      assert.equal(row.lease_owner, null);
      await sleep(300);
      assert.equal(r.received.length, 1);
      assert.equal(r.received[0]!.headers['webhook-id'], dead);
      const held = await deliveryRow(h.database, live!);
      assert.equal(held.status, 'pending');
      assert.equal(held.lease_owner, 'live-worker');
      await retire(webhookId);
    });

    test('a webhook whose deliveries have only failed for 5 days is disabled', async () => {
      const r = await receiver((_req, res) => {
        res.statusCode = 500;
        res.end();
      });
      const sixDaysAgo = new Date(Date.now() - 6 * 86_400_000).toISOString();
      const make = async (path: string, withSuccess: boolean) => {
        const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}${path}`});
        const eventId = await insertEvent(h.database, BODY);
        await insertDeliveries(h.database, [
          {event_id: eventId, webhook_id: webhookId, status: 'failed', attempt_count: 3, next_attempt_at: null, created_at: sixDaysAgo, last_attempt_at: sixDaysAgo},
          ...(withSuccess
            ? [{event_id: eventId, webhook_id: webhookId, status: 'succeeded' as const, attempt_count: 1, next_attempt_at: null, created_at: sixDaysAgo, last_attempt_at: new Date(Date.now() - 86_400_000).toISOString()}]
            : []),
        ]);
        const [deliveryId] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
        return {webhookId, deliveryId: deliveryId!};
      };
      const failing = await make('/failing', false);
      const recovered = await make('/recovered', true);
      h.wake.notify();
      await settled(h.database, failing.deliveryId, 'failed', 3);
      await settled(h.database, recovered.deliveryId, 'failed', 3);
      const disabled = (await webhookRow(h.database, failing.webhookId))!;
      assert.equal(disabled.status, 'disabled');
      assert.match(disabled.disabled_reason!, /failed for 5 days/);
      assert.equal((await webhookRow(h.database, recovered.webhookId))!.status, 'available', 'a success a day ago keeps it enabled');
      await retire(recovered.webhookId);
    });

    test('--disable-after sets that period: failing for 2 days disables at 1d, not at the 5-day default', async () => {
      const short = await startHerald(dialect, {flags: {...FLAGS, 'disable-after': '1d'}});
      try {
        const r = await receiver((_req, res) => {
          res.statusCode = 500;
          res.end();
        });
        const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
        const webhookId = await insertWebhook(short.database, short.integration.id, {target_url: `${r.url}/short`});
        const eventId = await insertEvent(short.database, BODY);
        await insertDeliveries(short.database, [{event_id: eventId, webhook_id: webhookId, status: 'failed', attempt_count: 3, next_attempt_at: null, created_at: twoDaysAgo, last_attempt_at: twoDaysAgo}]);
        const [deliveryId] = await insertDeliveries(short.database, [{event_id: eventId, webhook_id: webhookId}]);
        short.wake.notify();
        await settled(short.database, deliveryId!, 'failed', 3);
        const row = (await webhookRow(short.database, webhookId))!;
        assert.equal(row.status, 'disabled');
        assert.match(row.disabled_reason!, /failed for 1 day \(/);
      } finally {
        await short.close();
      }
    });
  });

  // Concurrency and isolation, with a 5 s attempt timeout: slow endpoints here are slow by
  // hundreds of ms, and a loaded machine must not turn them into timeouts and retries.
  describe(`delivery worker concurrency (${dialect})`, () => {
    let h: TestHerald;
    const receivers = receiverSet();
    const receiver = receivers.start;
    const seed = async (r: Receiver, path: string, options: {count?: number} = {}) => {
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}${path}`, secret: SECRET});
      const eventId = await insertEvent(h.database, BODY);
      const ids = await insertDeliveries(h.database, Array.from({length: options.count ?? 1}, () => ({event_id: eventId, webhook_id: webhookId})));
      h.wake.notify();
      return {webhookId, eventId, ids, deliveryId: ids[0]!};
    };
    const retire = (webhookId: string) => h.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', webhookId).execute();
    const allSucceeded = async (ids: readonly string[], timeoutMs = 15_000) => {
      await until(async () => {
        const rows = await h.database.db.selectFrom('deliveries').select('status').where('id', 'in', [...ids]).execute();
        return rows.every((x) => x.status === 'succeeded');
      }, timeoutMs);
    };
    before(async () => {
      h = await startHerald(dialect, {flags: {...FLAGS, 'delivery-timeout': '5s'}});
      await h.worker!.ready;
    });
    after(async () => {
      await h.close();
      await receivers.closeAll();
    });

    test('at most 8 deliveries in flight to one webhook', async () => {
      const r = await receiver(async (_req, res) => {
        await sleep(100);
        res.end();
      });
      const {ids} = await seed(r, '/busy', {count: 30});
      await r.waitFor(30);
      await allSucceeded(ids);
      assert.equal(r.maxInFlight('/busy'), 8);
    });

    test("many attempts to one webhook at once: at rest its last_triggered_* is the latest attempt's", async () => {
      const r = await receiver((_req, res) => void res.end());
      const {webhookId, ids} = await seed(r, '/many', {count: 60});
      await allSucceeded(ids);
      // Under load the row is written at most once a second; at rest it holds the latest.
      const latest = await h.database.db
        .selectFrom('delivery_attempts')
        .select((eb) => eb.fn.max('started_at').as('at'))
        .where('webhook_id', '=', webhookId)
        .executeTakeFirstOrThrow();
      const webhook = await until(async () => {
        const row = await webhookRow(h.database, webhookId);
        return row?.last_triggered_at === latest.at ? row : null;
      }, 3000, 'last_triggered_at to reach the latest attempt');
      assert.equal(webhook.last_triggered_status, '200');
      await retire(webhookId);
    });

    test('a hanging endpoint does not delay deliveries to a healthy one', async () => {
      const slow = await receiver(() => {}); // hangs until the 5 s timeout
      const fast = await receiver();
      const past = new Date(Date.now() - 1000).toISOString();
      // The hanging webhook's 20 deliveries are older, so they come first in the claim order.
      const slowHook = await insertWebhook(h.database, h.integration.id, {target_url: `${slow.url}/hang`});
      const event = await insertEvent(h.database, BODY);
      await insertDeliveries(h.database, Array.from({length: 20}, () => ({event_id: event, webhook_id: slowHook, next_attempt_at: past})));
      const fastHook = await insertWebhook(h.database, h.integration.id, {target_url: `${fast.url}/ok`});
      await insertDeliveries(h.database, Array.from({length: 5}, () => ({event_id: event, webhook_id: fastHook})));
      const t0 = Date.now();
      h.wake.notify();
      const got = await fast.waitFor(5, 4000);
      const last = Math.max(...got.map((g) => g.at)) - t0;
      await retire(slowHook);
      // Behind the hanging endpoint they would wait for its 5 s timeout; beside it they go at once.
      assert.ok(last < 1000, `healthy endpoint got all 5 after ${last} ms`);
      assert.ok(slow.maxInFlight() <= 8);
    });

    test('fan-out: one event to 40 endpoints that each take 300 ms arrives in parallel', async (t) => {
      const r = await receiver(async (_req, res) => {
        await sleep(300);
        res.end();
      });
      const eventId = await insertEvent(h.database, BODY);
      const hooks: string[] = [];
      for (let i = 0; i < 40; i++) hooks.push(await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/fan/${i}`}));
      const t0 = Date.now();
      const ids = await insertDeliveries(
        h.database,
        hooks.map((webhook_id) => ({event_id: eventId, webhook_id})),
      );
      h.wake.notify();
      const got = await r.waitFor(40);
      const lastArrival = Math.max(...got.map((g) => g.at)) - t0;
      await allSucceeded(ids);
      const allDone = Date.now() - t0;
      t.diagnostic(`fan-out to 40: last arrival after ${lastArrival} ms, all recorded after ${allDone} ms`);
      assert.equal(new Set(got.map((g) => g.path)).size, 40);
      assert.ok(lastArrival < 1000, `last arrival after ${lastArrival} ms`);
    });
  });

  describe(`delivery worker wake-up and lifecycle (${dialect})`, () => {
    let h: TestHerald;
    const receivers = receiverSet();
    const workers: Worker[] = [];
    const databases: Database[] = [];
    before(async () => {
      h = await startHerald(dialect, {flags: FLAGS, worker: false});
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.stop({graceMs: 0})));
      await Promise.all(databases.map((d) => d.close()));
      await h.close();
      await receivers.closeAll();
    });
    const receiver = receivers.start;
    /** Wakes every worker started here (each has its own Wake, as separate processes would). */
    const wakes: Wake[] = [];
    const notifyAll = () => wakes.forEach((w) => w.notify());
    const worker = (deps: Partial<Parameters<typeof startWorker>[0]> = {}, options: Parameters<typeof startWorker>[1] = {}) => {
      const wake = deps.wake ?? createWake();
      wakes.push(wake);
      const w = startWorker({config: h.config, database: h.database, clock: systemClock, random: cryptoRandom, logger: pino({level: 'silent'}), ...deps, wake}, options);
      workers.push(w);
      return w;
    };
    const stopAll = async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop({graceMs: 0})));
      wakes.splice(0);
    };
    // Even when a test fails half-way, its workers must not run into the next test.
    afterEach(() => stopAll());

    test('wake.notify() starts a delivery at once, without waiting for the poll', async () => {
      const wake = createWake();
      const w = worker({wake}, {pollIntervalMs: 5000});
      await w.ready;
      await sleep(200); // the worker's first round is over; it now sleeps for the 5 s poll
      const r = await receiver();
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/wake`});
      const eventId = await insertEvent(h.database, BODY);
      await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
      const t0 = Date.now();
      wake.notify();
      const [got] = await r.waitFor(1, 2000);
      assert.ok(got!.at - t0 < 200, `arrived after ${got!.at - t0} ms`);
      await stopAll();
    });

    if (dialect === 'postgres') {
      test('a NOTIFY from another connection wakes the worker (LISTEN)', async () => {
        const w = worker({}, {pollIntervalMs: 5000});
        await w.ready;
        await sleep(200);
        const r = await receiver();
        const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/listen`});
        const eventId = await insertEvent(h.database, BODY);
        await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
        const other = await openDatabase(h.config);
        databases.push(other);
        const t0 = Date.now();
        await sql`select pg_notify('herald_deliveries', '')`.execute(other.db);
        const [got] = await r.waitFor(1, 2000);
        assert.ok(got!.at - t0 < 200, `arrived after ${got!.at - t0} ms`);
        await stopAll();
      });

      // A slot frees when its answer is in; the record is written after. To hold a record back,
      // another connection locks the webhook row it updates (last_triggered_*). The claim only
      // reads that row, so it is not held back. (On SQLite, records and claims take the same
      // write lock, so this cannot be set apart there.)
      const heldRecord = async (options: Parameters<typeof startWorker>[1]) => {
        const r = await receiver();
        const first = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/first`});
        const second = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/second`});
        const eventId = await insertEvent(h.database, BODY);
        // The first is due earlier, so with one slot it is attempted first.
        const [a] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: first, next_attempt_at: new Date(Date.now() - 1000).toISOString()}]);
        const [b] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: second}]);
        const lock = new pg.Client({connectionString: h.config.databaseUrl!});
        await lock.connect();
        await lock.query('begin');
        await lock.query('select id from webhooks where id = $1 for update', [first]);
        const w = worker({}, {concurrency: 1, pollIntervalMs: 5000, ...options});
        await w.ready;
        notifyAll();
        await r.waitFor(1, 3000, (x) => x.path === '/first');
        const release = async () => {
          await lock.query('commit');
          await lock.end();
        };
        return {r, a: a!, b: b!, release};
      };

      test('a finished attempt frees its slot before it is written: the next delivery does not wait for the record', async () => {
        const {r, a, b, release} = await heldRecord({});
        try {
          await r.waitFor(1, 3000, (x) => x.path === '/second');
          // The first attempt's record is still held back by the lock.
          assert.equal((await deliveryRow(h.database, a)).status, 'pending');
          assert.equal((await deliveryRow(h.database, a)).attempt_count, 0);
        } finally {
          await release();
        }
        await settled(h.database, a, 'succeeded');
        await settled(h.database, b, 'succeeded');
        assert.equal(r.received.length, 2, 'each delivered once');
        await stopAll();
      });

      test('with maxUnrecorded attempts waiting to be written, nothing more is claimed until they are', async () => {
        // A short poll: the bound, not a long sleep, must be what keeps the worker from claiming.
        const {r, a, b, release} = await heldRecord({maxUnrecorded: 1, pollIntervalMs: 50});
        try {
          await sleep(500);
          assert.equal(r.received.filter((x) => x.path === '/second').length, 0, 'claimed while the record was held back');
          assert.equal((await deliveryRow(h.database, b)).lease_owner, null);
        } finally {
          await release();
        }
        await r.waitFor(1, 3000, (x) => x.path === '/second');
        await settled(h.database, a, 'succeeded');
        await settled(h.database, b, 'succeeded');
        await stopAll();
      });
    }

    test('Retry-After is a floor over the jittered schedule (random 0 gives -20 %) and is capped at 2 × the step', async () => {
      // A worker with 1 s steps and a random source of zeros: the schedule alone would retry after 800 ms.
      const config = {...h.config, retrySchedule: [1000, 1000]};
      const zeros: Random = {bytes: (n) => Buffer.alloc(n), uuid: () => '00000000-0000-4000-8000-000000000000'};
      worker({config, random: zeros});
      const r = await receiver((req, res) => {
        if (req.path === '/floor' && r.received.filter((x) => x.path === '/floor').length === 1) {
          res.statusCode = 429;
          res.setHeader('retry-after', '1');
        }
        if (req.path === '/cap') {
          res.statusCode = 503;
          res.setHeader('retry-after', '3600');
        }
        res.end();
      });
      const floorHook = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/floor`});
      const capHook = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/cap`});
      const eventId = await insertEvent(h.database, BODY);
      const [floorId, capId] = await insertDeliveries(h.database, [
        {event_id: eventId, webhook_id: floorHook},
        {event_id: eventId, webhook_id: capHook},
      ]);
      notifyAll();
      const capped = await settled(h.database, capId!, 'pending', 1);
      const [capAttempt] = await attemptRows(h.database, capId!);
      const finished = Date.parse(capAttempt!.started_at) + capAttempt!.duration_ms;
      const delay = Date.parse(capped.next_attempt_at!) - finished;
      assert.ok(delay >= 1990 && delay <= 2100, `503 Retry-After 3600 s scheduled after ${delay} ms (cap 2000)`);
      const got = await r.waitFor(2, 3000, (x) => x.path === '/floor');
      await settled(h.database, floorId!, 'succeeded', 2);
      const gap = got[1]!.at - got[0]!.at;
      assert.ok(gap >= 1000 && gap < 1500, `429 Retry-After 1 s: retried after ${gap} ms (schedule alone: 800 ms)`);
      await h.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', capHook).execute();
      await stopAll();
    });

    test('stop() lets an in-flight attempt finish and records it', async () => {
      const r = await receiver(async (_req, res) => {
        await sleep(300);
        res.end('late but fine');
      });
      const w = worker();
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/slow`});
      const eventId = await insertEvent(h.database, BODY);
      const [id] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
      notifyAll();
      await r.waitFor(1, 3000);
      assert.equal(w.inFlight(), 1);
      const t0 = Date.now();
      await w.stop();
      assert.ok(Date.now() - t0 >= 200, 'stop waited for the attempt');
      const row = await deliveryRow(h.database, id!);
      assert.equal(row.status, 'succeeded');
      const [a] = await attemptRows(h.database, id!);
      assert.equal(a!.response_body, 'late but fine');
      workers.splice(workers.indexOf(w), 1);
    });

    test('stop() past its grace aborts the attempt, records nothing and hands the lease back', async () => {
      const r = await receiver(() => {});
      const w = worker();
      const webhookId = await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/stuck`});
      const eventId = await insertEvent(h.database, BODY);
      const [id] = await insertDeliveries(h.database, [{event_id: eventId, webhook_id: webhookId}]);
      notifyAll();
      await r.waitFor(1, 3000);
      // In flight, the delivery is next due when its lease runs out (if its attempt is never recorded).
      const inFlight = await deliveryRow(h.database, id!);
      assert.ok(inFlight.lease_expires_at && Date.parse(inFlight.lease_expires_at) > Date.now());
      assert.equal(inFlight.next_attempt_at, inFlight.lease_expires_at);
      const t0 = Date.now();
      await w.stop({graceMs: 50});
      assert.ok(Date.now() - t0 < 400, `stopped after ${Date.now() - t0} ms`);
      workers.splice(workers.indexOf(w), 1);
      const row = await deliveryRow(h.database, id!);
      assert.equal(row.status, 'pending');
      assert.equal(row.attempt_count, 0);
      assert.equal(row.lease_owner, null);
      assert.equal(row.lease_expires_at, null);
      assert.ok(Date.parse(row.next_attempt_at!) <= Date.now(), 'handed back due at once, not at the lease expiry');
      assert.equal((await attemptRows(h.database, id!)).length, 0);
      await h.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', webhookId).execute();
    });

    // On PostgreSQL each worker has its own connection pool, as separate processes would. On
    // SQLite two connections in one process would block each other's event loop (better-sqlite3
    // waits synchronously on the file lock), so there the two workers share the connection.
    test('two workers on one database deliver each delivery exactly once', async (t) => {
      const r = await receiver(async (_req, res) => {
        await sleep(Math.floor(Math.random() * 20));
        res.end();
      });
      const lines: {worker: string}[][] = [[], []];
      // A generous timeout: under a loaded machine a 500 ms one would time out (and rightly
      // retry) a few attempts, which would make "exactly once" about the machine, not the claim.
      const config = {...h.config, deliveryTimeoutMs: 5000};
      const make = async (i: number) => {
        let database = h.database;
        if (dialect === 'postgres') {
          database = await openDatabase(h.config);
          databases.push(database);
        }
        const logger = pino({level: 'info'}, {write: (line: string) => void lines[i]!.push(JSON.parse(line))});
        return worker({config, database, logger}, {workerId: `worker-${i}`});
      };
      const [a, b] = [await make(0), await make(1)];
      await Promise.all([a.ready, b.ready]);
      const eventId = await insertEvent(h.database, BODY);
      const hooks: string[] = [];
      for (let i = 0; i < 10; i++) hooks.push(await insertWebhook(h.database, h.integration.id, {target_url: `${r.url}/pair/${i}`}));
      const ids = await insertDeliveries(
        h.database,
        hooks.flatMap((webhook_id) => Array.from({length: 20}, () => ({event_id: eventId, webhook_id}))),
      );
      notifyAll();
      await r.waitFor(200, 20_000);
      await until(async () => {
        const rows = await h.database.db.selectFrom('deliveries').select('status').where('id', 'in', ids).execute();
        return rows.every((x) => x.status === 'succeeded');
      }, 20_000);
      await sleep(200);
      const perId = new Map<string, number>();
      for (const got of r.received) perId.set(String(got.headers['webhook-id']), (perId.get(String(got.headers['webhook-id'])) ?? 0) + 1);
      assert.equal(perId.size, 200);
      const attempts = await h.database.db
        .selectFrom('delivery_attempts')
        .select(['delivery_id', 'attempt_number', 'response_status', 'error'])
        .where('delivery_id', 'in', ids)
        .execute();
      // Exactly once: one request and one recorded attempt per delivery. The one honest
      // exception is an attempt that failed (a stalled machine can time out a request the
      // receiver did get): then the delivery was retried, and each request is still exactly
      // one recorded attempt with its own number, never two workers on one attempt.
      const failed = attempts.filter((a) => a.response_status !== 200);
      for (const id of ids) {
        const mine = attempts.filter((a) => a.delivery_id === id);
        assert.equal(perId.get(id), mine.length, `delivery ${id}: requests = recorded attempts`);
        assert.deepEqual(mine.map((a) => a.attempt_number).sort((a, b) => a - b), mine.map((_, i) => i + 1), `delivery ${id}: attempt numbers 1..n`);
        assert.equal(mine.filter((a) => a.response_status === 200).length, 1, `delivery ${id}: one success`);
      }
      if (failed.length > 0) t.diagnostic(`retried after failed attempts (machine stalls): ${JSON.stringify(failed)}`);
      else assert.ok([...perId.values()].every((n) => n === 1));
      const byWorker = lines.map((l) => l.filter((x: any) => x.msg === 'delivery attempt').length);
      t.diagnostic(`attempts per worker: ${byWorker.join(' / ')}`);
      assert.equal(byWorker[0]! + byWorker[1]!, attempts.length);
      assert.ok(byWorker[0]! > 0 && byWorker[1]! > 0, 'both workers took part');
      const problems = lines.flat().filter((x: any) => x.level >= 50);
      assert.deepEqual(problems, [], 'no errors (e.g. deadlocks between the two recorders)');
      await stopAll();
    });
  });
}
