// The delivery log API (SPEC §3.1) against real loopback receivers, on both engines: listing,
// filters and pagination, one delivery with its attempts, retry, recover, test send, secret
// rotation (verified with the official standardwebhooks package) and the events list.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {Webhook} from 'standardwebhooks';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {planOf, statementsRun} from '../support/sqlite-plans.ts';

const API = '/ghost/api/admin';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver on 127.0.0.1 that records requests and answers `status` (changeable) with "ok". */
async function receiver(initialStatus = 200): Promise<{url: string; got: Received[]; status: number; close(): void}> {
  const got: Received[] = [];
  const state = {
    url: '',
    got,
    status: initialStatus,
    close: () => server.close(),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      got.push({headers: req.headers, body});
      res.writeHead(state.status, {'content-type': 'text/plain', 'x-receiver': 'yes'}).end(state.status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return state;
}

/** Polls until `check` returns a truthy value, or throws after `ms`. */
async function until<T>(check: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const LIST_KEYS = ['id', 'webhook_id', 'event_id', 'event', 'status', 'attempt_count', 'next_attempt_at', 'created_at', 'last_attempt_at', 'last_status_code', 'last_error'];

for (const dialect of DIALECTS) {
  describe(`delivery log API (${dialect})`, () => {
    let herald: TestHerald;
    let auth: () => Promise<Record<string, string>>;
    let otherAuth: () => Promise<Record<string, string>>;
    const receivers: {close(): void}[] = [];

    const call = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      request(herald, method, `${API}${path}`, {body, headers: headers ?? (await auth())});
    const deliveriesOf = async (webhookId: string, query = '') => (await call('GET', `/webhooks/${webhookId}/deliveries/${query}`)).body;
    const detail = async (id: string) => (await call('GET', `/deliveries/${id}/`)).body.deliveries[0];

    before(async () => {
      herald = await startHerald(dialect, {flags: {'retry-schedule': '100ms', 'delivery-timeout': '1s', 'allow-private-targets': true}});
      auth = async () => ({authorization: await adminToken(herald.integration.admin_key)});
      const other = await herald.createIntegration('Someone else');
      otherAuth = async () => ({authorization: await adminToken(other.admin_key)});
    });
    after(async () => {
      for (const r of receivers) r.close();
      await herald?.close();
    });

    let hook: Awaited<ReturnType<typeof receiver>>;
    let webhook: any;

    test('the log lists a webhook\'s deliveries newest first, with filters, pagination and ownership', async () => {
      hook = await receiver();
      receivers.push(hook);
      webhook = await herald.api.webhooks.add({event: 'tag.added', target_url: hook.url});
      const startedAt = new Date().toISOString();
      for (const name of ['Alpha', 'Beta', 'Gamma']) await herald.api.tags.add({name});
      await until(async () => {
        const body = await deliveriesOf(webhook.id);
        return body.deliveries.length === 3 && body.deliveries.every((d: any) => d.status === 'succeeded');
      }, 10_000, 'three succeeded deliveries');

      const list = await deliveriesOf(webhook.id);
      assert.equal(list.deliveries.length, 3);
      for (const d of list.deliveries) {
        assert.deepEqual(Object.keys(d), LIST_KEYS);
        assert.equal(d.webhook_id, webhook.id);
        assert.equal(d.event, 'tag.added');
        assert.equal(d.attempt_count, 1);
        assert.equal(d.last_status_code, 200);
        assert.equal(d.next_attempt_at, null);
        assert.equal(d.last_error, null);
      }
      const created = list.deliveries.map((d: any) => d.created_at);
      assert.deepEqual(created, [...created].sort().reverse());
      // Newest first: the payloads name the tags in reverse order of creation.
      const names = [];
      for (const d of list.deliveries) names.push(JSON.parse((await detail(d.id)).payload).tag.current.name);
      assert.deepEqual(names, ['Gamma', 'Beta', 'Alpha']);
      assert.deepEqual(list.meta.pagination, {page: 1, limit: 15, pages: 1, total: 3, next: null, prev: null});

      assert.equal((await deliveriesOf(webhook.id, '?filter=status:succeeded')).deliveries.length, 3);
      assert.equal((await deliveriesOf(webhook.id, '?filter=status:failed')).deliveries.length, 0);
      assert.equal((await deliveriesOf(webhook.id, '?filter=event:tag.added')).deliveries.length, 3);
      assert.equal((await deliveriesOf(webhook.id, `?filter=${encodeURIComponent('event:post.published')}`)).deliveries.length, 0);
      assert.equal((await deliveriesOf(webhook.id, `?filter=${encodeURIComponent(`created_at:>='${startedAt}'`)}`)).deliveries.length, 3);
      assert.equal((await deliveriesOf(webhook.id, `?filter=${encodeURIComponent("created_at:<'2000-01-01T00:00:00.000Z'")}`)).deliveries.length, 0);

      const page1 = await deliveriesOf(webhook.id, '?limit=2');
      assert.deepEqual(page1.meta.pagination, {page: 1, limit: 2, pages: 2, total: 3, next: 2, prev: null});
      const page2 = await deliveriesOf(webhook.id, '?limit=2&page=2');
      assert.equal(page2.deliveries.length, 1);
      assert.deepEqual([...page1.deliveries, ...page2.deliveries].map((d: any) => d.id), list.deliveries.map((d: any) => d.id));

      const foreign = await call('GET', `/webhooks/${webhook.id}/deliveries/`, undefined, await otherAuth());
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.errors[0].type, 'NoPermissionError');
      const missing = await call('GET', '/webhooks/aaaaaaaaaaaaaaaaaaaaaaaa/deliveries/');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.errors[0].type, 'NotFoundError');
    });

    if (dialect === 'sqlite') {
      test("SQLite: the log and its total, filtered by status, read through the webhook's own index", async () => {
        // Without statistics SQLite could count a status filter's total by walking
        // deliveries_claim over that status for every webhook (the whole log, for succeeded).
        let body;
        const run = await statementsRun(herald.database, async () => {
          body = await deliveriesOf(webhook.id, `?filter=${encodeURIComponent('status:succeeded')}&limit=2`);
        });
        assert.equal(body!.deliveries.length, 2);
        assert.equal(body!.meta.pagination.total, 3);
        const reads = run.filter((text) => /from "deliveries"/.test(text));
        assert.equal(reads.length, 2, 'the page and its total');
        for (const text of reads) assert.match(await planOf(herald.database, text), /SEARCH deliveries USING INDEX deliveries_webhook_created \(webhook_id=\?/, text);
      });
    }

    test('a delivery reads with the exact body sent and every attempt', async () => {
      const [latest] = (await deliveriesOf(webhook.id)).deliveries;
      const read = await call('GET', `/deliveries/${latest.id}/`);
      assert.equal(read.status, 200);
      const d = read.body.deliveries[0];
      assert.deepEqual(Object.keys(d), [...LIST_KEYS, 'payload', 'attempts']);
      const sent = hook.got.find((r) => r.headers['webhook-id'] === latest.id)!;
      assert.ok(sent, 'the receiver got the delivery');
      assert.equal(d.payload, sent.body);
      assert.equal(d.attempts.length, 1);
      const [attempt] = d.attempts;
      assert.deepEqual(Object.keys(attempt), ['id', 'started_at', 'duration_ms', 'trigger', 'request', 'response', 'error']);
      assert.equal(attempt.trigger, 'scheduled');
      assert.equal(attempt.request.url, hook.url);
      assert.equal(attempt.request.headers['webhook-id'], latest.id);
      assert.match(attempt.request.headers['X-Ghost-Signature'], /^sha256=/);
      assert.equal(attempt.response.status, 200);
      assert.equal(attempt.response.body, 'ok');
      assert.equal(attempt.response.headers['x-receiver'], 'yes');
      assert.equal(attempt.error, null);
      assert.equal(typeof attempt.duration_ms, 'number');

      const foreign = await call('GET', `/deliveries/${latest.id}/`, undefined, await otherAuth());
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.errors[0].type, 'NoPermissionError');
      assert.equal((await call('GET', '/deliveries/aaaaaaaaaaaaaaaaaaaaaaaa/')).status, 404);
    });

    test('retrying a succeeded delivery makes one manual attempt with the same webhook-id and body', async () => {
      const [latest] = (await deliveriesOf(webhook.id)).deliveries;
      const before = hook.got.filter((r) => r.headers['webhook-id'] === latest.id);
      assert.equal(before.length, 1);

      assert.equal((await call('POST', `/deliveries/${latest.id}/retry/`, undefined, await otherAuth())).status, 403);
      assert.equal((await call('POST', '/deliveries/aaaaaaaaaaaaaaaaaaaaaaaa/retry/')).status, 404);

      const retried = await call('POST', `/deliveries/${latest.id}/retry/`);
      assert.equal(retried.status, 200);
      assert.deepEqual(Object.keys(retried.body.deliveries[0]), LIST_KEYS);
      assert.equal(retried.body.deliveries[0].id, latest.id);
      assert.equal(retried.body.deliveries[0].status, 'pending');

      const done = await until(async () => {
        const d = await detail(latest.id);
        return d.attempts.length === 2 && d.status === 'succeeded' && d;
      }, 10_000, 'the manual attempt');
      assert.deepEqual(done.attempts.map((a: any) => a.trigger), ['scheduled', 'manual']);
      assert.equal(done.attempt_count, 2);
      assert.equal(done.attempts[1].request.headers['webhook-id'], latest.id);
      const after = hook.got.filter((r) => r.headers['webhook-id'] === latest.id);
      assert.equal(after.length, 2);
      assert.equal(after[1]!.body, after[0]!.body);
    });

    test('failed deliveries are recovered once the receiver is back; a manual retry of a failed one is one attempt', async () => {
      const broken = await receiver(500);
      receivers.push(broken);
      const failing = await herald.api.webhooks.add({event: 'member.added', target_url: broken.url});
      const since = new Date(Date.now() - 1000).toISOString();
      await herald.api.members.add({email: 'one@example.com'});
      await herald.api.members.add({email: 'two@example.com'});
      // Schedule 100ms: two attempts each, then failed.
      await until(async () => {
        const list = (await deliveriesOf(failing.id, '?filter=status:failed')).deliveries;
        return list.length === 2 && list;
      }, 10_000, 'two failed deliveries');
      const failed = (await deliveriesOf(failing.id)).deliveries;
      for (const d of failed) {
        assert.equal(d.attempt_count, 2);
        assert.equal(d.last_status_code, 500);
      }

      // A manual retry of a finished delivery is exactly one attempt: still failing, it is failed again.
      const one = failed[0];
      const sentBefore = broken.got.length;
      assert.equal((await call('POST', `/deliveries/${one.id}/retry/`)).status, 200);
      const again = await until(async () => {
        const d = await detail(one.id);
        return d.attempts.length === 3 && d.status === 'failed' && d;
      }, 10_000, 'the manual attempt of a failed delivery');
      assert.equal(again.attempts[2].trigger, 'manual');
      assert.equal(again.attempts[2].response.status, 500);
      await new Promise((resolve) => setTimeout(resolve, 400)); // longer than the schedule's step
      assert.equal(broken.got.length, sentBefore + 1);
      assert.equal((await detail(one.id)).status, 'failed');

      // Bad windows are refused.
      const noSince = await call('POST', `/webhooks/${failing.id}/recover/`, {});
      assert.equal(noSince.status, 422);
      assert.equal(noSince.body.errors[0].property, 'since');
      const badSince = await call('POST', `/webhooks/${failing.id}/recover/`, {since: 'yesterday'});
      assert.equal(badSince.status, 422);
      assert.equal(badSince.body.errors[0].property, 'since');
      assert.equal((await call('POST', `/webhooks/${failing.id}/recover/`, {since}, await otherAuth())).status, 403);
      // A window before the deliveries recovers nothing.
      assert.deepEqual((await call('POST', `/webhooks/${failing.id}/recover/`, {since: '2000-01-01T00:00:00Z', until: '2000-01-02T00:00:00Z'})).body, {recovered: 0});

      broken.status = 200;
      const recovered = await call('POST', `/webhooks/${failing.id}/recover/`, {since});
      assert.equal(recovered.status, 200);
      assert.deepEqual(recovered.body, {recovered: 2});
      await until(async () => {
        const list = (await deliveriesOf(failing.id)).deliveries;
        return list.every((d: any) => d.status === 'succeeded');
      }, 10_000, 'recovered deliveries to succeed');
      for (const d of failed) {
        const read = await detail(d.id);
        const last = read.attempts.at(-1);
        assert.equal(last.trigger, 'manual');
        assert.equal(last.response.status, 200);
      }
      // Nothing failed is left to recover.
      assert.deepEqual((await call('POST', `/webhooks/${failing.id}/recover/`, {since})).body, {recovered: 0});
    });

    test('a test send delivers a sample of the webhook\'s own event to this webhook only', async () => {
      const other = await receiver();
      receivers.push(other);
      const bystander = await herald.api.webhooks.add({event: 'tag.added', target_url: other.url});
      const sent = await call('POST', `/webhooks/${webhook.id}/test/`);
      assert.equal(sent.status, 201);
      const d = sent.body.deliveries[0];
      assert.deepEqual(Object.keys(d), LIST_KEYS);
      assert.equal(d.webhook_id, webhook.id);
      assert.equal(d.event, 'tag.added');
      const got = await until<Received>(() => hook.got.find((r) => r.headers['webhook-id'] === d.id), 10_000, 'the test delivery');
      const body = JSON.parse(got.body);
      assert.equal(Object.keys(body)[0], 'event');
      assert.equal(body.event, 'tag.added');
      assert.equal(typeof body.tag.current.id, 'string');
      assert.equal(typeof body.tag.current.name, 'string');
      assert.deepEqual(body.tag.previous, {});
      assert.equal((new Webhook(webhook.secret).verify(got.body, got.headers as Record<string, string>) as any).event, 'tag.added');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(other.got.length, 0);
      assert.equal((await deliveriesOf(bystander.id)).deliveries.length, 0);

      assert.equal((await call('POST', `/webhooks/${webhook.id}/test/`, undefined, await otherAuth())).status, 403);
      assert.equal((await call('POST', '/webhooks/aaaaaaaaaaaaaaaaaaaaaaaa/test/')).status, 404);
      await herald.api.webhooks.delete({id: bystander.id});
    });

    test('rotating the secret signs with both secrets for 24 h and X-Ghost-Signature with the new one', async () => {
      const oldSecret = webhook.secret;
      assert.equal((await call('POST', `/webhooks/${webhook.id}/secret/rotate/`, undefined, await otherAuth())).status, 403);
      const rotated = await call('POST', `/webhooks/${webhook.id}/secret/rotate/`);
      assert.equal(rotated.status, 200);
      const updated = rotated.body.webhooks[0];
      assert.equal(updated.id, webhook.id);
      assert.match(updated.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.notEqual(updated.secret, oldSecret);
      const row = await herald.database.db.selectFrom('webhooks').select('previous_secrets').where('id', '=', webhook.id).executeTakeFirstOrThrow();
      const previous = JSON.parse(row.previous_secrets!);
      assert.equal(previous.length, 1);
      assert.equal(previous[0].secret, oldSecret);
      const ttl = Date.parse(previous[0].expires_at) - Date.now();
      assert.ok(ttl > 23.9 * 3600_000 && ttl <= 24 * 3600_000, `expires in ${ttl} ms`);

      const sent = (await call('POST', `/webhooks/${webhook.id}/test/`)).body.deliveries[0];
      const got = await until<Received>(() => hook.got.find((r) => r.headers['webhook-id'] === sent.id), 10_000, 'a delivery after rotation');
      const headers = got.headers as Record<string, string>;
      assert.equal(String(headers['webhook-signature']).split(' ').length, 2);
      assert.equal((new Webhook(oldSecret).verify(got.body, headers) as any).event, 'tag.added');
      assert.equal((new Webhook(updated.secret).verify(got.body, headers) as any).event, 'tag.added');
      const [, hex, t] = /^sha256=([0-9a-f]{64}), t=(\d+)$/.exec(String(headers['x-ghost-signature']))!;
      assert.equal(hex, crypto.createHmac('sha256', updated.secret).update(got.body + t).digest('hex'));

      // A second rotation keeps both earlier secrets signing.
      const second = (await call('POST', `/webhooks/${webhook.id}/secret/rotate/`)).body.webhooks[0];
      const row2 = await herald.database.db.selectFrom('webhooks').select('previous_secrets').where('id', '=', webhook.id).executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(row2.previous_secrets!).map((e: any) => e.secret), [oldSecret, updated.secret]);
      webhook = second;
    });

    test('/events/ lists fired events newest first', async () => {
      const response = await call('GET', '/events/?limit=100');
      assert.equal(response.status, 200);
      const events = response.body.events;
      assert.ok(events.length >= 5);
      for (const e of events) assert.deepEqual(Object.keys(e), ['id', 'name', 'resource_type', 'resource_id', 'created_at']);
      const stamps = events.map((e: any) => `${e.created_at}|${e.id}`);
      assert.deepEqual(stamps, [...stamps].sort().reverse());
      const tagEvents = (await call('GET', `/events/?filter=${encodeURIComponent('name:tag.added')}&limit=100`)).body.events;
      assert.ok(tagEvents.length >= 3);
      assert.ok(tagEvents.every((e: any) => e.name === 'tag.added' && e.resource_type === 'tag'));
      // Events are site-wide: another integration sees them too.
      const foreign = await call('GET', '/events/?limit=1', undefined, await otherAuth());
      assert.equal(foreign.status, 200);
      assert.equal(foreign.body.events[0].id, events[0].id);
      assert.equal(foreign.body.meta.pagination.limit, 1);
    });
  });
}
