// `herald source connect` / `disconnect` (SPEC §13) against a local stand-in that speaks Ghost's
// webhook Admin API (JWT checked as Ghost does, 201 {webhooks:[…]}, Ghost's 422 on a duplicate,
// 401 for a wrong key), driven through the real CLI and through the same client code directly.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {randomBytes} from 'node:crypto';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {freePort, killChildren, runHerald, storeArgs} from '../support/process.ts';
import {openDatabase, type Database} from '../../src/db/database.ts';
import {loadConfig} from '../../src/config.ts';
import {EVENT_NAMES} from '../../src/events/names.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {connectSource, disconnectSource, ingestTarget} from '../../src/relay/connect.ts';
import {GhostClientError, normaliseGhostUrl} from '../../src/relay/ghost-client.ts';
import {createSource} from '../../src/relay/sources.ts';
import {startGhostStandIn, type GhostStandIn} from './support.ts';

const PUBLIC = 'https://herald.example.com';

test('normaliseGhostUrl: trailing slashes and /ghost dropped, subdirectories kept, non-http refused', () => {
  assert.equal(normaliseGhostUrl('https://blog.example.com/'), 'https://blog.example.com');
  assert.equal(normaliseGhostUrl('https://blog.example.com/ghost/'), 'https://blog.example.com');
  assert.equal(normaliseGhostUrl('https://example.com/blog/?x=1#y'), 'https://example.com/blog');
  assert.throws(() => normaliseGhostUrl('ftp://example.com'));
  assert.throws(() => normaliseGhostUrl('not a url'));
  assert.equal(ingestTarget('https://h.example/', 'abc', 'post.added'), 'https://h.example/ingest/ghost/abc/post.added');
});

for (const dialect of DIALECTS) {
  describe(`source connect / disconnect (${dialect})`, () => {
    let store: TestStore;
    let ghost: GhostStandIn;
    let sourceId: string;
    let secret: string;
    const cli = (...args: string[]) => runHerald(['source', ...args, ...storeArgs(store)]);

    before(async () => {
      store = await createStore(dialect);
      ghost = await startGhostStandIn();
      const created = await runHerald(['source', 'create', '--name', 'My Ghost', '--json', ...storeArgs(store)]);
      assert.equal(created.code, 0, created.stderr);
      ({id: sourceId, secret} = JSON.parse(created.stdout));
    });
    after(async () => {
      killChildren();
      await ghost?.close();
      await store?.drop();
    });

    test('connect creates one Ghost webhook per event at the ingest URL with the source secret, one line each', async () => {
      const result = await cli('connect', sourceId, '--ghost-url', `${ghost.url}/`, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines.filter((line) => / created \(Ghost webhook [0-9a-f]{24}\)/.test(line)).length, 29, result.stdout);
      assert.match(lines.at(-1)!, /29 created, 0 already connected, 0 failed/);
      assert.equal(ghost.webhooks.size, 29);
      const byEvent = new Map([...ghost.webhooks.values()].map((w) => [w.event, w]));
      for (const event of EVENT_NAMES) {
        const webhook = byEvent.get(event);
        assert.ok(webhook, event);
        assert.equal(webhook.target_url, `${PUBLIC}/ingest/ghost/${sourceId}/${event}`);
        assert.equal(webhook.secret, secret);
      }
      // Deleting a connected source is refused, with the way out in the one line.
      const refused = await cli('delete', sourceId);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Run "herald source disconnect/);
      assert.equal(refused.stderr.trim().split('\n').length, 1);
      const list = await cli('list');
      assert.match(list.stdout, new RegExp(`connected to ${ghost.url.replace(/[.]/g, '\\.')} \\(29 events\\)`));
    });

    test('connect again changes nothing', async () => {
      const requests = ghost.log.length;
      const before = new Set(ghost.webhooks.keys());
      const result = await cli('connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.split('\n').filter((line) => /^  \S+ +already connected/.test(line)).length, 29);
      assert.match(result.stdout, /0 created, 29 already connected, 0 failed/);
      assert.deepEqual(new Set(ghost.webhooks.keys()), before);
      assert.equal(ghost.log.length, requests, 'no request to Ghost for what is recorded');
    });

    test('disconnect removes exactly what connect made, and leaves what it did not', async () => {
      // A webhook the user made by hand in the same Ghost.
      ghost.webhooks.set('ffffffffffffffffffffffff', {id: 'ffffffffffffffffffffffff', event: 'post.published', target_url: 'https://zapier.example/hook', secret: null, name: 'Zapier', integration_id: 'x'});
      // One of connect's webhooks deleted by hand in Ghost meanwhile: reported, forgotten.
      const gone = [...ghost.webhooks.values()].find((w) => w.event === 'tag.deleted')!;
      ghost.webhooks.delete(gone.id);
      const result = await cli('disconnect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /28 removed, 1 already gone, 0 failed/);
      assert.deepEqual([...ghost.webhooks.keys()], ['ffffffffffffffffffffffff']);
      const again = await cli('disconnect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /Nothing to remove/);
      assert.match((await cli('list')).stdout, /not connected/);
      ghost.webhooks.clear();
    });

    test('a webhook Ghost already has (its 422) counts as connected and is not removed by disconnect', async () => {
      const target = `${PUBLIC}/ingest/ghost/${sourceId}/member.added`;
      ghost.webhooks.set('eeeeeeeeeeeeeeeeeeeeeeee', {id: 'eeeeeeeeeeeeeeeeeeeeeeee', event: 'member.added', target_url: target, secret, name: 'by hand', integration_id: 'x'});
      const result = await cli('connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC, '--events', 'member.added,member.deleted');
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /member\.added +already connected/);
      assert.match(result.stdout, /member\.deleted +created/);
      assert.match(result.stdout, /1 created, 1 already connected, 0 failed/);
      const removed = await cli('disconnect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey);
      assert.match(removed.stdout, /1 removed/);
      assert.deepEqual([...ghost.webhooks.keys()], ['eeeeeeeeeeeeeeeeeeeeeeee']);
      ghost.webhooks.clear();
    });

    test('a wrong key, an unreachable Ghost and a refusing Ghost give one clear line and exit 1', async () => {
      const wrongKey = `${ghost.adminKey.split(':')[0]}:${randomBytes(32).toString('hex')}`;
      const denied = await cli('connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', wrongKey, '--public-url', PUBLIC);
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /Ghost refused the Admin API key \(UnauthorizedError/);
      assert.equal(denied.stderr.trim().split('\n').length, 1);
      assert.equal(ghost.webhooks.size, 0);

      const port = await freePort();
      const down = await cli('connect', sourceId, '--ghost-url', `http://127.0.0.1:${port}`, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /Cannot reach Ghost at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);

      ghost.refuseAdds = {status: 422, body: {errors: [{type: 'ValidationError', message: 'Validation error, cannot save webhook.', context: 'target_url is not a valid URL.'}]}};
      try {
        const refused = await cli('connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC, '--events', 'post.added');
        assert.equal(refused.code, 1);
        assert.match(refused.stdout, /post\.added +failed: Ghost refused \(ValidationError: Validation error, cannot save webhook\.: target_url is not a valid URL\.\)/);
        assert.match(refused.stdout, /0 created, 0 already connected, 1 failed/);
      } finally {
        ghost.refuseAdds = null;
      }
    });

    test('usage errors exit 2 with one line', async () => {
      const cases = [
        ['connect', sourceId, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC],
        ['connect', sourceId, '--ghost-url', ghost.url, '--public-url', PUBLIC],
        ['connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', 'nope', '--public-url', PUBLIC],
        ['connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey],
        ['connect', sourceId, '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC, '--events', 'post.exploded'],
        ['connect', sourceId, '--ghost-url', 'ftp://x', '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC],
        ['disconnect', '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey],
      ];
      for (const args of cases) {
        const result = await cli(...args);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      }
      const unknown = await cli('connect', 'abcdefabcdefabcdefabcdef', '--ghost-url', ghost.url, '--ghost-admin-key', ghost.adminKey, '--public-url', PUBLIC);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /not found/i);
    });
  });

  describe(`connect through the client code directly (${dialect})`, () => {
    let store: TestStore;
    let database: Database;
    let ghost: GhostStandIn;
    before(async () => {
      store = await createStore(dialect);
      database = await openDatabase(loadConfig({...store.flags}, {}));
      ghost = await startGhostStandIn();
    });
    after(async () => {
      await ghost?.close();
      await database?.close();
      await store?.drop();
    });

    test('an auth failure mid-way keeps what was made recorded, and the next connect completes it', async () => {
      const source = await createSource(database.db, {name: 'Direct'}, new Date(), cryptoRandom);
      const ctx = {database, now: () => new Date(), random: cryptoRandom};
      const events = ['post.added', 'post.edited', 'post.deleted'];
      let calls = 0;
      const lines: string[] = [];
      // The key stops working after the first webhook (revoked in Ghost meanwhile).
      const flaky = {
        add: async (webhook: Parameters<typeof realClient.add>[0]) => {
          if (++calls > 1) throw new GhostClientError('unauthorized', 'Ghost refused the Admin API key (UnauthorizedError)');
          return realClient.add(webhook);
        },
        remove: (id: string) => realClient.remove(id),
      };
      const {createGhostClient} = await import('../../src/relay/ghost-client.ts');
      const realClient = createGhostClient({ghostUrl: ghost.url, adminKey: ghost.adminKey});
      await assert.rejects(
        connectSource({...ctx, client: flaky}, {sourceId: source.id, ghostUrl: ghost.url, adminKey: ghost.adminKey, publicUrl: PUBLIC, events}, (line) => lines.push(`${line.event} ${line.outcome}`)),
        (error: unknown) => error instanceof GhostClientError && error.kind === 'unauthorized',
      );
      assert.deepEqual(lines, ['post.added created']);
      const done = await connectSource(ctx, {sourceId: source.id, ghostUrl: ghost.url, adminKey: ghost.adminKey, publicUrl: PUBLIC, events}, () => {});
      assert.deepEqual(done.map((line) => `${line.event} ${line.outcome}`), ['post.added already-connected', 'post.edited created', 'post.deleted created']);
      assert.equal(ghost.webhooks.size, 3);
      const removed = await disconnectSource(ctx, {sourceId: source.id, ghostUrl: ghost.url, adminKey: ghost.adminKey}, () => {});
      assert.equal(removed.length, 3);
      assert.equal(ghost.webhooks.size, 0);
    });
  });
}
