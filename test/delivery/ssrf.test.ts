// The SSRF guard (SPEC §7): which addresses are public, literal targets in every spelling
// refused at create/edit, and names vetted at send time through the guarded lookup (the
// connection goes to the checked address; a refused one is a `blocked: <address>` attempt that
// follows the retry schedule). NETWORK: nothing here leaves loopback. Public literals are only
// ever stored (for an event no test triggers), names are made up and resolved by custom
// lookups, and the one real lookup is of `localhost`.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import type {LookupFunction} from 'node:net';
import {createGuardedLookup, isPublicAddress, literalTargetProblem} from '../../src/delivery/ssrf.ts';
import {createSender} from '../../src/delivery/sender.ts';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import pino from 'pino';
import {startWorker, type Worker} from '../../src/delivery/worker.ts';
import {createWake} from '../../src/lib/wake.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {insertDeliveries, insertEvent, insertWebhook, startReceiver, until, type Receiver} from './helpers.ts';

const API = '/ghost/api/admin';

describe('isPublicAddress', () => {
  const notPublic = [
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1',
    '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3',
    '255.255.255.255', '224.0.0.1', '239.255.255.250', '192.0.2.1', '198.51.100.7', '203.0.113.9',
    '198.18.0.1', '198.19.255.255', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', 'ff05::2',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::127.0.0.1',
    '::ffff:0:127.0.0.1', '64:ff9b::10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', '2002:c0a8:101::1',
    '2001:db8::1', '[::1]', 'not an address', '', '127.1', '0x7f.1', '256.0.0.1',
  ];
  const isPublic = ['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2001:4860:4860::8888', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1', '[2606:4700::1111]'];
  for (const address of notPublic) test(`${JSON.stringify(address)} is not public`, () => assert.equal(isPublicAddress(address), false));
  for (const address of isPublic) test(`${address} is public`, () => assert.equal(isPublicAddress(address), true));
});

describe('literalTargetProblem (WHATWG URL host parsing)', () => {
  const refused: [string, string][] = [
    ['http://127.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://0177.1/', '127.0.0.1'],
    ['http://127.0.0.1./', '127.0.0.1'],
    ['https://user:pw@127.0.0.1:8443/x?y', '127.0.0.1'],
    ['http://10.0.0.1/', '10.0.0.1'],
    ['http://012.0.0.1/', '10.0.0.1'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://0xa9fea9fe/', '169.254.169.254'],
    ['http://0/', '0.0.0.0'],
    ['http://[::1]:8080/', '::1'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/', '::ffff:7f00:1'],
    ['http://[fe80::1]/', 'fe80::1'],
  ];
  for (const [url, address] of refused) test(`${url} → ${address}`, () => assert.equal(literalTargetProblem(url), address));
  const fine = ['http://93.184.216.34/', 'http://1572395042/', 'https://[2606:4700::1111]/', 'http://localhost/', 'https://example.com/', 'http://127.0.0.1.example/', 'not a url'];
  for (const url of fine) test(`${url} → null`, () => assert.equal(literalTargetProblem(url), null));
});

/** A base lookup answering from a table (never the network); records the names asked for. */
function tableLookup(table: Record<string, string[]>, asked: string[] = []): LookupFunction {
  return (hostname, options, callback) => {
    asked.push(hostname);
    const addresses = (table[hostname] ?? []).map((address) => ({address, family: address.includes(':') ? 6 : 4}));
    if (addresses.length === 0) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), {code: 'ENOTFOUND'}), '', 4);
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

function lookupOnce(lookup: LookupFunction, hostname: string, options: dns.LookupOptions): Promise<{error: NodeJS.ErrnoException | null; address: unknown; family?: number}> {
  return new Promise((resolve) => lookup(hostname, options, (error, address, family) => resolve({error, address, family})));
}

describe('createGuardedLookup', () => {
  const table = {
    'public.test': ['93.184.216.34', '2606:4700::1111'],
    'mixed.test': ['93.184.216.34', '10.0.0.7'],
    'metadata.test': ['169.254.169.254'],
    'mapped.test': ['::ffff:127.0.0.1'],
  };

  test('refuses a name if ANY of its addresses is not public, naming that address', async () => {
    for (const [name, address] of [['mixed.test', '10.0.0.7'], ['metadata.test', '169.254.169.254'], ['mapped.test', '::ffff:127.0.0.1']] as const) {
      for (const all of [true, false]) {
        const {error} = await lookupOnce(createGuardedLookup(tableLookup(table)), name, {all});
        assert.equal(error?.code, 'BLOCKED', name);
        assert.equal(error?.message, address);
      }
    }
  });

  test('asks the base lookup once, for all addresses, and answers with the vetted ones only', async () => {
    const asked: string[] = [];
    const guarded = createGuardedLookup(tableLookup(table, asked));
    const all = await lookupOnce(guarded, 'public.test', {all: true});
    assert.equal(all.error, null);
    assert.deepEqual(all.address, [{address: '93.184.216.34', family: 4}, {address: '2606:4700::1111', family: 6}]);
    const one = await lookupOnce(guarded, 'public.test', {});
    assert.deepEqual([one.address, one.family], ['93.184.216.34', 4]);
    assert.deepEqual(asked, ['public.test', 'public.test'], 'one base lookup per connection');
  });

  test('passes resolution errors through', async () => {
    const {error} = await lookupOnce(createGuardedLookup(tableLookup(table)), 'nowhere.test', {all: true});
    assert.equal(error?.code, 'ENOTFOUND');
  });

  test('with the system resolver, localhost is blocked', async () => {
    const {error} = await lookupOnce(createGuardedLookup(), 'localhost', {all: true});
    assert.equal(error?.code, 'BLOCKED');
    assert.match(error!.message, /^(127\.0\.0\.1|::1)$/);
  });
});

describe('sender with the guarded lookup (no database)', () => {
  let r: Receiver;
  before(async () => {
    r = await startReceiver();
  });
  after(() => r.close());

  test('a made-up name resolving to loopback (rebinding simulation) is blocked before any connection', async () => {
    const asked: string[] = [];
    const sender = createSender({lookup: createGuardedLookup(tableLookup({'rebind.invalid': ['127.0.0.1']}, asked))});
    try {
      const result = await sender.send({url: `http://rebind.invalid:${new URL(r.url).port}/x`, headers: {'content-type': 'application/json'}, body: '{}', timeoutMs: 2000});
      assert.equal(result.kind, 'error');
      assert.equal(result.kind === 'error' && result.code, 'BLOCKED');
      assert.equal(result.kind === 'error' && result.message, '127.0.0.1');
      assert.deepEqual(asked, ['rebind.invalid']);
      assert.equal(r.received.length, 0, 'no connection was made');
    } finally {
      await sender.destroy();
    }
  });
});

/** The literal targets refused at create without --allow-private-targets, and the address named. */
const REFUSED_LITERALS: [string, string][] = [
  ['127.0.0.1', '127.0.0.1'],
  ['127.1', '127.0.0.1'],
  ['2130706433', '127.0.0.1'],
  ['0x7f000001', '127.0.0.1'],
  ['0177.0.0.1', '127.0.0.1'],
  ['10.0.0.1', '10.0.0.1'],
  ['172.16.5.4', '172.16.5.4'],
  ['192.168.1.1', '192.168.1.1'],
  ['169.254.169.254', '169.254.169.254'],
  ['100.64.0.1', '100.64.0.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['[::1]', '::1'],
  ['[::]', '::'],
  ['[fe80::1]', 'fe80::1'],
  ['[fc00::1]', 'fc00::1'],
  ['[ff02::1]', 'ff02::1'],
  ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
  ['[::ffff:7f00:1]', '::ffff:7f00:1'],
];
/** Accepted at create; stored only, for an event no test here triggers (nothing is ever sent). */
const NEVER_FIRED = 'tag.deleted';

for (const dialect of DIALECTS) {
  describe(`SSRF guard, server without --allow-private-targets (${dialect})`, () => {
    let herald: TestHerald;
    let receiver: Receiver;
    const lookedUp: string[] = [];
    // Made-up names resolve from this table; `localhost` goes to the system resolver (local).
    const lookup: LookupFunction = (hostname, options, callback) => {
      lookedUp.push(hostname);
      if (hostname === 'rebind.invalid') return tableLookup({'rebind.invalid': ['127.0.0.1']})(hostname, options, callback);
      if (hostname === 'localhost') return dns.lookup(hostname, options, callback as any);
      return callback(Object.assign(new Error('ENOTFOUND'), {code: 'ENOTFOUND'}), '', 4);
    };
    const auth = async () => ({authorization: await adminToken(herald.integration.admin_key)});
    const create = async (targetUrl: string, event = NEVER_FIRED) =>
      request(herald, 'POST', `${API}/webhooks/`, {body: {webhooks: [{event, target_url: targetUrl}]}, headers: await auth()});

    before(async () => {
      receiver = await startReceiver();
      herald = await startHerald(dialect, {
        flags: {'allow-private-targets': false, 'retry-schedule': '1h,1h'},
        workerOptions: {senderOptions: {lookup}, pollIntervalMs: 100},
      });
    });
    after(async () => {
      await herald?.close();
      await receiver?.close();
    });

    for (const [host, address] of REFUSED_LITERALS) {
      test(`create with http://${host}/ is a 422 on target_url naming ${address}`, async () => {
        const response = await create(`http://${host}:8080/hook`);
        assert.equal(response.status, 422, response.text);
        const error = response.body.errors[0];
        assert.equal(error.type, 'ValidationError');
        assert.equal(error.property, 'target_url');
        assert.match(error.context, /resolves to a private address/);
        assert.ok(error.context.includes(`(${address})`), error.context);
        assert.match(error.context, /--allow-private-targets/);
      });
    }

    test('public literals and names are accepted at create (stored only, never fired)', async () => {
      for (const url of ['http://93.184.216.34/hook', 'https://[2606:4700::1111]/hook', 'http://localhost:9/hook', 'https://hooks.example.com/x']) {
        const response = await create(url);
        assert.equal(response.status, 201, `${url}: ${response.text}`);
        assert.equal(response.body.webhooks[0].target_url, url);
      }
    });

    test('edit to a private literal is a 422; nothing is changed', async () => {
      const created = await create('https://edit-me.example.com/hook');
      assert.equal(created.status, 201, created.text);
      const id = created.body.webhooks[0].id;
      const edit = await request(herald, 'PUT', `${API}/webhooks/${id}/`, {body: {webhooks: [{target_url: 'http://0x7f.1/hook'}]}, headers: await auth()});
      assert.equal(edit.status, 422, edit.text);
      assert.equal(edit.body.errors[0].property, 'target_url');
      const row = await herald.database.db.selectFrom('webhooks').select('target_url').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(row.target_url, 'https://edit-me.example.com/hook');
    });

    /** Stores a webhook straight in the database (as one made before the config changed) and one due delivery. */
    async function deliverTo(targetUrl: string) {
      const webhookId = await insertWebhook(herald.database, herald.integration.id, {target_url: targetUrl});
      const eventId = await insertEvent(herald.database, '{"post":{}}');
      const [deliveryId] = await insertDeliveries(herald.database, [{event_id: eventId, webhook_id: webhookId}]);
      herald.wake.notify();
      const attempt = await until(
        () => herald.database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId!).executeTakeFirst(),
        10_000,
        `the attempt to ${targetUrl}`,
      );
      const delivery = await herald.database.db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId!).executeTakeFirstOrThrow();
      const webhook = await herald.database.db.selectFrom('webhooks').selectAll().where('id', '=', webhookId).executeTakeFirstOrThrow();
      return {attempt, delivery, webhook};
    }

    /** A blocked attempt is a failed attempt: recorded, then rescheduled by the retry schedule (1h ± 20 %). */
    function assertBlocked(result: Awaited<ReturnType<typeof deliverTo>>, error: RegExp) {
      assert.match(result.attempt.error ?? '', error);
      assert.equal(result.attempt.response_status, null);
      // Ghost's wording for an attempt without an HTTP answer: `Request failed: <error>`.
      assert.match((result.webhook.last_triggered_error ?? '').replace(/^Request failed: /, ''), error);
      assert.equal(result.delivery.status, 'pending');
      assert.equal(result.delivery.attempt_count, 1);
      assert.match(result.delivery.last_error ?? '', error);
      const wait = Date.parse(result.delivery.next_attempt_at!) - Date.now();
      assert.ok(wait > 0.7 * 3_600_000 && wait < 1.3 * 3_600_000, `next attempt in ${wait} ms`);
    }

    test('send time: a stored webhook to http://localhost:<port>/ is blocked, the receiver gets nothing', async () => {
      const result = await deliverTo(`http://localhost:${new URL(receiver.url).port}/name`);
      assertBlocked(result, /^blocked: (127\.0\.0\.1|::1)$/);
      assert.ok(lookedUp.includes('localhost'));
      assert.equal(receiver.received.length, 0);
    });

    test('send time: stored literal targets (net.connect never looks them up) are blocked before any connection', async () => {
      const port = new URL(receiver.url).port;
      assertBlocked(await deliverTo(`http://127.0.0.1:${port}/literal`), /^blocked: 127\.0\.0\.1$/);
      assertBlocked(await deliverTo(`http://0x7f.1:${port}/hex`), /^blocked: 127\.0\.0\.1$/);
      assertBlocked(await deliverTo(`http://[::ffff:127.0.0.1]:${port}/mapped`), /^blocked: ::ffff:7f00:1$/);
      assert.equal(receiver.received.length, 0);
    });

    test('send time: a made-up name the lookup answers with 127.0.0.1 (rebinding) is blocked, no connection', async () => {
      const result = await deliverTo(`http://rebind.invalid:${new URL(receiver.url).port}/rebind`);
      assertBlocked(result, /^blocked: 127\.0\.0\.1$/);
      assert.ok(lookedUp.includes('rebind.invalid'));
      assert.equal(receiver.received.length, 0);
    });
  });

  describe(`SSRF guard, the worker's own sender as \`herald serve\` builds it (${dialect})`, () => {
    // No harness sender: startWorker builds its sender from the config, as cli.ts serve does.
    let herald: TestHerald;
    let receiver: Receiver;
    let worker: Worker | null = null;
    before(async () => {
      receiver = await startReceiver();
      herald = await startHerald(dialect, {worker: false, flags: {'allow-private-targets': false, 'retry-schedule': '1h'}});
    });
    after(async () => {
      await worker?.stop({graceMs: 0});
      await herald?.close();
      await receiver?.close();
    });

    test('localhost (system resolver) and a stored loopback literal are blocked; the receiver gets nothing', async () => {
      const wake = createWake();
      worker = startWorker({config: herald.config, database: herald.database, clock: systemClock, random: cryptoRandom, logger: pino({level: 'silent'}), wake}, {pollIntervalMs: 100});
      const port = new URL(receiver.url).port;
      const eventId = await insertEvent(herald.database, '{"post":{}}');
      for (const [target, error] of [[`http://localhost:${port}/name`, /^blocked: (127\.0\.0\.1|::1)$/], [`http://127.0.0.1:${port}/literal`, /^blocked: 127\.0\.0\.1$/]] as const) {
        const webhookId = await insertWebhook(herald.database, herald.integration.id, {target_url: target});
        const [deliveryId] = await insertDeliveries(herald.database, [{event_id: eventId, webhook_id: webhookId}]);
        wake.notify();
        const attempt = await until(() => herald.database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId!).executeTakeFirst(), 10_000, target);
        assert.match(attempt.error ?? '', error);
      }
      assert.equal(receiver.received.length, 0);
    });
  });

  describe(`SSRF guard, server with --allow-private-targets (${dialect})`, () => {
    let herald: TestHerald;
    let receiver: Receiver;
    const pinned: LookupFunction = (hostname, options, callback) => tableLookup({'pinned.invalid': ['127.0.0.1']})(hostname, options, callback);

    before(async () => {
      receiver = await startReceiver();
      herald = await startHerald(dialect, {flags: {'allow-private-targets': true}, workerOptions: {senderOptions: {lookup: pinned}, pollIntervalMs: 100}});
    });
    after(async () => {
      await herald?.close();
      await receiver?.close();
    });

    test('private literals are accepted at create', async () => {
      const response = await request(herald, 'POST', `${API}/webhooks/`, {
        body: {webhooks: [{event: NEVER_FIRED, target_url: 'http://127.1:9/hook'}]},
        headers: {authorization: await adminToken(herald.integration.admin_key)},
      });
      assert.equal(response.status, 201, response.text);
    });

    test('a custom lookup answering 127.0.0.1 delivers', async () => {
      const webhookId = await insertWebhook(herald.database, herald.integration.id, {target_url: `http://pinned.invalid:${new URL(receiver.url).port}/pinned`});
      const eventId = await insertEvent(herald.database, '{"post":{}}');
      const [deliveryId] = await insertDeliveries(herald.database, [{event_id: eventId, webhook_id: webhookId}]);
      herald.wake.notify();
      const [received] = await receiver.waitFor(1, 10_000);
      assert.equal(received!.path, '/pinned');
      await until(async () => {
        const row = await herald.database.db.selectFrom('deliveries').select('status').where('id', '=', deliveryId!).executeTakeFirstOrThrow();
        return row.status === 'succeeded';
      });
    });
  });
}
