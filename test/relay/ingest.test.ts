// The relay's ingest endpoint (SPEC §13) fed with the real Ghost deliveries of ghost-fixtures,
// re-signed for a source with a fresh timestamp: each is committed and delivered onward byte
// for byte, re-signed per webhook (X-Ghost-Signature and Standard Webhooks); forged, stale,
// unknown, oversize and repeated requests are refused or dropped as specified.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {createHmac} from 'node:crypto';
import http from 'node:http';
import {Webhook} from 'standardwebhooks';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {startReceiver, type Receiver} from '../delivery/helpers.ts';
import {toCount} from '../../src/db/database.ts';
import {checkGhostSignature, eventOfBody, recordIngest} from '../../src/relay/ingest.ts';
import type {HandedOff, Reserve} from '../../src/delivery/handoff.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {FIXTURE_SECRET, loadFixtures, sign} from './support.ts';

const API = '/ghost/api/admin';
const fixtures = loadFixtures();

/** Counts rows of the outbox tables. */
async function counts(herald: TestHerald) {
  const db = herald.database.db;
  const events = await db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  const deliveries = await db.selectFrom('deliveries').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return {events: toCount(events.n), deliveries: toCount(deliveries.n)};
}

/** Ghost's own check, as a receiver would write it (SPEC §6). */
function ghostVerifies(body: string, header: string, secret: string): boolean {
  const match = /^sha256=([a-f0-9]{64}), t=(\d+)$/.exec(header);
  if (!match) return false;
  return createHmac('sha256', secret).update(body + match[2]).digest('hex') === match[1];
}

describe('ingest checks (pure)', () => {
  test('the fixtures are what Ghost signed: raw body = JSON.stringify(body)', () => {
    assert.equal(fixtures.length, 29);
    for (const fixture of fixtures) {
      const header = fixture.headers['x-ghost-signature']!;
      const t = Number(/t=(\d+)/.exec(header)![1]);
      assert.equal(checkGhostSignature(fixture.raw, header, FIXTURE_SECRET, t).kind, 'valid', fixture.event);
    }
  });

  test('signature verdicts: missing, malformed, mismatch, stale either way, valid at the edge', () => {
    const body = '{"a":1}';
    const now = 1_800_000_000_000;
    assert.equal(checkGhostSignature(body, undefined, 's', now).kind, 'missing');
    assert.equal(checkGhostSignature(body, '', 's', now).kind, 'missing');
    assert.equal(checkGhostSignature(body, 'sha256=abc, t=1', 's', now).kind, 'malformed');
    assert.equal(checkGhostSignature(body, sign(body, 'other', now), 's', now).kind, 'mismatch');
    assert.equal(checkGhostSignature(`${body} `, sign(body, 's', now), 's', now).kind, 'mismatch');
    assert.equal(checkGhostSignature(body, sign(body, 's', now - 300_001), 's', now).kind, 'stale');
    assert.equal(checkGhostSignature(body, sign(body, 's', now + 300_001), 's', now).kind, 'stale');
    assert.equal(checkGhostSignature(body, sign(body, 's', now - 300_000), 's', now).kind, 'valid');
  });

  test('event name: body first, then path; unknown names and non-objects refused', () => {
    assert.deepEqual(eventOfBody('{"event":"tag.added","tag":{"current":{"id":"6b0a8c24116f123f0ab0dfc3"}}}', 'post.added'), {
      kind: 'event',
      name: 'tag.added',
      resourceType: 'tag',
      resourceId: '6b0a8c24116f123f0ab0dfc3',
    });
    assert.equal((eventOfBody('{}', 'site.changed') as {name: string}).name, 'site.changed');
    assert.equal(eventOfBody('{}', undefined).kind, 'unknown-event');
    assert.equal(eventOfBody('{}', 'post.nonsense').kind, 'unknown-event');
    assert.equal(eventOfBody('{"event":"nope"}', 'post.added').kind, 'unknown-event');
    assert.equal(eventOfBody('[1]', 'post.added').kind, 'invalid-json');
    assert.equal(eventOfBody('{', 'post.added').kind, 'invalid-json');
  });
});

for (const dialect of DIALECTS) {
  describe(`ingest (${dialect})`, () => {
    let herald: TestHerald;
    let receiver: Receiver;
    let source: {id: string; name: string; secret: string; ingest_path: string};
    /** Webhook secrets by event. */
    const secrets = new Map<string, string>();
    let flakyCalls = 0;

    const api = async (method: string, pathname: string, body?: unknown) => request(herald, method, `${API}${pathname}`, {body, headers: {authorization: await adminToken(herald.integration.admin_key)}});
    const ingest = (raw: string, signature: string | null, suffix = '') =>
      request(herald, 'POST', `${source.ingest_path}${suffix}`, {body: raw, headers: signature === null ? {} : {'x-ghost-signature': signature}});

    before(async () => {
      receiver = await startReceiver((req, res) => {
        if (req.path === '/flaky' && ++flakyCalls === 1) return void res.writeHead(500).end('try again');
        res.end('ok');
      });
      herald = await startHerald(dialect, {flags: {'retry-schedule': '200ms,200ms,200ms'}});
      const created = await api('POST', '/sources/', {sources: [{name: 'My Ghost'}]});
      assert.equal(created.status, 201, created.text);
      source = created.body.sources[0];
      for (const fixture of fixtures) {
        const hook = await api('POST', '/webhooks/', {webhooks: [{event: fixture.event, target_url: `${receiver.url}/relay/${fixture.event}`, source_id: source.id}]});
        assert.equal(hook.status, 201, hook.text);
        assert.equal(hook.body.webhooks[0].source_id, source.id);
        secrets.set(fixture.event, hook.body.webhooks[0].secret);
      }
    });
    after(async () => {
      await herald?.close();
      await receiver?.close();
    });

    test('every real Ghost delivery is accepted, stored and delivered onward byte for byte, re-signed', async () => {
      const accepted = new Map<string, string>();
      for (const fixture of fixtures) {
        const response = await ingest(fixture.raw, sign(fixture.raw, source.secret), fixture.event);
        assert.equal(response.status, 202, `${fixture.event}: ${response.text}`);
        assert.equal(response.body.accepted, true);
        assert.equal(response.body.deliveries, 1);
        accepted.set(fixture.event, response.body.event_id);
      }
      // Stored: the exact body, the source, the event name taken from the path (Ghost 5 bodies have none).
      for (const fixture of fixtures) {
        const row = await herald.database.db.selectFrom('events').selectAll().where('id', '=', accepted.get(fixture.event)!).executeTakeFirstOrThrow();
        assert.equal(row.payload, fixture.raw);
        assert.equal(row.source_id, source.id);
        assert.equal(row.name, fixture.event);
      }
      const got = await receiver.waitFor(29, 20_000, (r) => r.path.startsWith('/relay/'));
      for (const fixture of fixtures) {
        const hit = got.find((r) => r.path === `/relay/${fixture.event}`);
        assert.ok(hit, `no onward delivery of ${fixture.event}`);
        assert.ok(hit.raw.equals(Buffer.from(fixture.raw, 'utf8')), `${fixture.event}: body differs`);
        const secret = secrets.get(fixture.event)!;
        assert.ok(ghostVerifies(hit.body, String(hit.headers['x-ghost-signature']), secret), `${fixture.event}: X-Ghost-Signature`);
        new Webhook(secret).verify(hit.body, hit.headers as Record<string, string>);
      }
    });

    test("an ingest's deliveries are handed to the worker: in leased, started after the commit; a repeat asks for nothing; a failed write cancels", async () => {
      const fixture = fixtures.find((f) => f.event === 'tag.added')!;
      const calls: {started: HandedOff[]; cancelled: number}[] = [];
      const stub = (owner = 'relay-stub'): Reserve => (webhookIds) => {
        const call = {started: [] as HandedOff[], cancelled: 0};
        calls.push(call);
        return {
          leaseOwner: owner,
          leaseUntil: '2099-01-01T00:00:00.000Z',
          granted: webhookIds.map(() => true),
          start: (deliveries) => void call.started.push(...deliveries),
          cancel: () => void call.cancelled++,
        };
      };
      const event = eventOfBody(fixture.raw, fixture.event);
      assert.equal(event.kind, 'event');
      if (event.kind !== 'event') return;
      const signature = sign(fixture.raw, source.secret);
      const input = {sourceId: source.id, signature, body: fixture.raw, event};
      const result = await recordIngest(herald.database, input, {now: new Date(), random: cryptoRandom, reserve: stub()});
      assert.equal(result.kind, 'accepted');
      if (result.kind !== 'accepted') return;
      assert.equal(calls.length, 1);
      assert.equal(result.deliveries, 1);
      const [handed] = result.handedOff!.deliveries;
      const row = await herald.database.db.selectFrom('deliveries').selectAll().where('id', '=', handed!.deliveryId).executeTakeFirstOrThrow();
      assert.equal(row.lease_owner, 'relay-stub');
      assert.equal(row.next_attempt_at, '2099-01-01T00:00:00.000Z');
      assert.equal(handed!.event.payload, fixture.raw, 'the exact upstream body');
      assert.equal(handed!.webhook.secret, secrets.get('tag.added'));
      assert.equal(calls[0]!.started.length, 0, 'started by the caller, after the commit');
      result.handedOff!.reservation.start(result.handedOff!.deliveries);
      assert.equal(calls[0]!.started.length, 1);

      // The same signature again: a repeat, decided before any room is asked for.
      const repeat = await recordIngest(herald.database, input, {now: new Date(), random: cryptoRandom, reserve: stub()});
      assert.equal(repeat.kind, 'repeat');
      assert.equal(calls.length, 1);

      if (dialect === 'postgres') {
        // A write that fails after the reservation (a lease owner longer than its column) gives the room back.
        const fresh = sign(fixture.raw, source.secret, Date.now() + 1);
        await assert.rejects(recordIngest(herald.database, {...input, signature: fresh}, {now: new Date(), random: cryptoRandom, reserve: stub('x'.repeat(65))}));
        assert.equal(calls.length, 2);
        assert.equal(calls[1]!.cancelled, 1);
        assert.equal(calls[1]!.started.length, 0);
      }
      // The stub never sends: these rows are left to nobody.
      await herald.database.db.deleteFrom('deliveries').where('lease_owner', '=', 'relay-stub').execute();
    });

    test('a Ghost 6 body names its own event; the path segment is then optional', async () => {
      const raw = JSON.stringify({event: 'member.added', member: {current: {id: '6b0a8c24116f123f0ab0dfc4', email: 'new@example.com'}, previous: {}}});
      const response = await ingest(raw, sign(raw, source.secret));
      assert.equal(response.status, 202, response.text);
      const row = await herald.database.db.selectFrom('events').selectAll().where('id', '=', response.body.event_id).executeTakeFirstOrThrow();
      assert.equal(row.name, 'member.added');
      assert.equal(row.resource_id, '6b0a8c24116f123f0ab0dfc4');
      const [hit] = await receiver.waitFor(1, 10_000, (r) => r.path === '/relay/member.added' && r.body === raw);
      assert.equal(hit!.body, raw);
    });

    test('the bytes count, not the Content-Type: none, or text/plain, is accepted the same', async () => {
      const raw = JSON.stringify({event: 'member.edited', member: {current: {name: 'Ünïcødé ✓'}, previous: {name: 'old'}}});
      const url = new URL(`${herald.url}${source.ingest_path}`);
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(url, {method: 'POST', headers: {'x-ghost-signature': sign(raw, source.secret), 'content-length': Buffer.byteLength(raw)}}, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end(raw);
      });
      assert.equal(status, 202);
      const plain = await fetch(url, {method: 'POST', headers: {'content-type': 'text/plain', 'x-ghost-signature': sign(raw, source.secret, Date.now() + 1)}, body: raw});
      assert.equal(plain.status, 202);
      const hits = await receiver.waitFor(2, 10_000, (r) => r.path === '/relay/member.edited' && r.body === raw);
      assert.ok(hits[0]!.raw.equals(Buffer.from(raw, 'utf8')));
    });

    test('refusals: missing, wrong or stale signature 401; unknown event 422; unknown source 404; bad JSON 400 — nothing written', async () => {
      const fixture = fixtures.find((f) => f.event === 'post.published')!;
      const before = await counts(herald);
      const missing = await ingest(fixture.raw, null, 'post.published');
      assert.equal(missing.status, 401);
      assert.equal(missing.body.errors[0].type, 'UnauthorizedError');
      assert.equal(missing.body.errors[0].code, 'MISSING_SIGNATURE');
      // The fixture's own header: right format, made with another secret.
      const wrong = await ingest(fixture.raw, fixture.headers['x-ghost-signature']!, 'post.published');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.errors[0].code, 'INVALID_SIGNATURE');
      const tampered = await ingest(fixture.raw.replace('"published"', '"draft"'), sign(fixture.raw, source.secret), 'post.published');
      assert.equal(tampered.status, 401);
      const stale = await ingest(fixture.raw, sign(fixture.raw, source.secret, Date.now() - 6 * 60_000), 'post.published');
      assert.equal(stale.status, 401);
      assert.equal(stale.body.errors[0].code, 'STALE_SIGNATURE');
      const future = await ingest(fixture.raw, sign(fixture.raw, source.secret, Date.now() + 6 * 60_000), 'post.published');
      assert.equal(future.status, 401);
      const unknownPath = await ingest(fixture.raw, sign(fixture.raw, source.secret), 'post.nonsense');
      assert.equal(unknownPath.status, 422);
      assert.equal(unknownPath.body.errors[0].type, 'ValidationError');
      assert.equal(unknownPath.body.errors[0].property, 'event');
      const noEvent = await ingest(fixture.raw, sign(fixture.raw, source.secret));
      assert.equal(noEvent.status, 422);
      const unknownBody = JSON.stringify({event: 'post.exploded', post: {current: {}, previous: {}}});
      assert.equal((await ingest(unknownBody, sign(unknownBody, source.secret), 'post.published')).status, 422);
      const notJson = '{"post":';
      assert.equal((await ingest(notJson, sign(notJson, source.secret), 'post.published')).status, 400);
      const noSource = await request(herald, 'POST', '/ingest/ghost/abcdefabcdefabcdefabcdef/post.published', {body: fixture.raw, headers: {'x-ghost-signature': sign(fixture.raw, source.secret)}});
      assert.equal(noSource.status, 404);
      assert.equal(noSource.body.errors[0].type, 'NotFoundError');
      assert.equal((await request(herald, 'POST', '/ingest/ghost/not-an-id/', {body: fixture.raw})).status, 404);
      assert.deepEqual(await counts(herald), before);
    });

    test('an exact repeat (same signature) is answered 200 and writes nothing', async () => {
      const fixture = fixtures.find((f) => f.event === 'tag.edited')!;
      const signature = sign(fixture.raw, source.secret);
      const first = await ingest(fixture.raw, signature, 'tag.edited');
      assert.equal(first.status, 202, first.text);
      const before = await counts(herald);
      const again = await ingest(fixture.raw, signature, 'tag.edited');
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(again.body, {accepted: false, repeat: true});
      assert.deepEqual(await counts(herald), before);
      // Ghost sending the same body again later signs it anew: that is a new delivery.
      const later = await ingest(fixture.raw, sign(fixture.raw, source.secret, Date.now() + 1), 'tag.edited');
      assert.equal(later.status, 202);
    });

    test('retries and the delivery log apply: 500 then 200 shows two attempts', async () => {
      const hook = await api('POST', '/webhooks/', {webhooks: [{event: 'member.deleted', target_url: `${receiver.url}/flaky`, source_id: source.id}]});
      assert.equal(hook.status, 201, hook.text);
      const fixture = fixtures.find((f) => f.event === 'member.deleted')!;
      const response = await ingest(fixture.raw, sign(fixture.raw, source.secret), 'member.deleted');
      assert.equal(response.status, 202);
      assert.equal(response.body.deliveries, 2);
      await receiver.waitFor(2, 15_000, (r) => r.path === '/flaky');
      const webhookId = hook.body.webhooks[0].id;
      let delivery: any;
      for (let i = 0; i < 100; i++) {
        const list = await api('GET', `/webhooks/${webhookId}/deliveries/`);
        const id = list.body.deliveries[0]?.id;
        if (id) {
          delivery = (await api('GET', `/deliveries/${id}/`)).body.deliveries[0];
          if (delivery.status === 'succeeded') break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(delivery.status, 'succeeded');
      assert.equal(delivery.payload, fixture.raw);
      assert.equal(delivery.attempts.length, 2);
      assert.deepEqual(delivery.attempts.map((a: any) => a.response.status).sort(), [200, 500]);
      // The metrics count relayed attempts under the source's id, apart from Herald's own.
      const metrics = await request(herald, 'GET', '/metrics');
      const count = (outcome: string) => Number(new RegExp(`^herald_deliveries_total\\{outcome="${outcome}",source="${source.id}"\\} (\\d+)$`, 'm').exec(metrics.text)?.[1] ?? -1);
      assert.ok(count('retrying') >= 1, metrics.text.split('\n').filter((l) => l.startsWith('herald_deliveries_total')).join('\n'));
      assert.ok(count('succeeded') >= 1);
    });

    test('Herald\'s own content never reaches source webhooks, and relayed events never reach Herald\'s own', async () => {
      const own = await api('POST', '/webhooks/', {webhooks: [{event: 'tag.added', target_url: `${receiver.url}/own`}]});
      assert.equal(own.status, 201, own.text);
      assert.equal(own.body.webhooks[0].source_id, null);
      const beforeRelay = receiver.received.filter((r) => r.path === '/relay/tag.added').length;
      assert.equal((await api('POST', '/tags/', {tags: [{name: 'Herald own tag'}]})).status, 201);
      await receiver.waitFor(1, 10_000, (r) => r.path === '/own');
      const fixture = fixtures.find((f) => f.event === 'tag.added')!;
      assert.equal((await ingest(fixture.raw, sign(fixture.raw, source.secret, Date.now() + 2), 'tag.added')).status, 202);
      await receiver.waitFor(beforeRelay + 1, 10_000, (r) => r.path === '/relay/tag.added');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.received.filter((r) => r.path === '/own').length, 1);
      assert.equal(receiver.received.filter((r) => r.path === '/relay/tag.added').length, beforeRelay + 1);
    });

    test('a webhook naming an unknown source is a 422', async () => {
      const response = await api('POST', '/webhooks/', {webhooks: [{event: 'post.added', target_url: `${receiver.url}/x`, source_id: 'abcdefabcdefabcdefabcdef'}]});
      assert.equal(response.status, 422);
      assert.equal(response.body.errors[0].property, 'source_id');
    });
  });

  describe(`ingest body limit (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect, {flags: {'max-body': '2kb'}, worker: false});
    });
    after(async () => herald?.close());

    test('a body over the limit is a 413 and writes nothing', async () => {
      const created = await request(herald, 'POST', `${API}/sources/`, {body: {sources: [{name: 'Small'}]}, headers: {authorization: await adminToken(herald.integration.admin_key)}});
      const source = created.body.sources[0];
      const raw = JSON.stringify({event: 'post.added', post: {current: {html: 'x'.repeat(4096)}, previous: {}}});
      const response = await request(herald, 'POST', `${source.ingest_path}post.added`, {body: raw, headers: {'x-ghost-signature': sign(raw, source.secret)}});
      assert.equal(response.status, 413);
      assert.equal(response.body.errors[0].type, 'RequestEntityTooLargeError');
      const events = await herald.database.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(toCount(events.n), 0);
    });
  });
}
