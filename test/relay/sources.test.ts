// Sources (SPEC §13) through the Admin API (staff sessions and integration keys) and through
// `herald source create|list|delete`, which work on the database directly.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, createStore, request, staffSession, startHerald, type TestHerald, type TestStore} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {killChildren, runHerald, storeArgs} from '../support/process.ts';

const API = '/ghost/api/admin';
const SOURCE_KEYS = ['id', 'name', 'secret', 'ingest_path'];

for (const dialect of DIALECTS) {
  describe(`sources API (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Awaited<ReturnType<typeof staffSession>>;
    const api = async (method: string, pathname: string, body?: unknown) => request(herald, method, `${API}${pathname}`, {body, headers: {authorization: await adminToken(herald.integration.admin_key)}});

    before(async () => {
      herald = await startHerald(dialect, {worker: false});
      staff = await staffSession(herald);
    });
    after(async () => herald?.close());

    test('add answers 201 with the SPEC shape and a generated secret; read and browse find it', async () => {
      const created = await api('POST', '/sources/', {sources: [{name: '  My Ghost  ', ignored: true}]});
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.meta, undefined);
      const source = created.body.sources[0];
      assert.deepEqual(Object.keys(source), SOURCE_KEYS);
      assert.match(source.id, /^[0-9a-f]{24}$/);
      assert.equal(source.name, 'My Ghost');
      assert.match(source.secret, /^[0-9a-f]{64}$/);
      assert.equal(source.ingest_path, `/ingest/ghost/${source.id}/`);

      const read = await api('GET', `/sources/${source.id}/`);
      assert.equal(read.status, 200);
      assert.deepEqual(read.body, {sources: [source]});

      const other = await staff('POST', '/sources/', {sources: [{name: 'Second'}]});
      assert.equal(other.status, 201);
      assert.notEqual(other.body.sources[0].secret, source.secret);

      const list = await staff('GET', '/sources/');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.sources.map((s: {name: string}) => s.name), ['My Ghost', 'Second']);
      assert.equal(list.body.meta.pagination.total, 2);
    });

    test('bad input and unknown ids answer Ghost errors', async () => {
      const noName = await api('POST', '/sources/', {sources: [{}]});
      assert.equal(noName.status, 422);
      assert.equal(noName.body.errors[0].property, 'name');
      assert.equal((await api('POST', '/sources/', {sources: [{name: 'x'.repeat(192)}]})).status, 422);
      assert.equal((await api('POST', '/sources/', {nope: []})).status, 422);
      const missing = await api('GET', '/sources/abcdefabcdefabcdefabcdef/');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.errors[0].type, 'NotFoundError');
      assert.equal((await api('DELETE', '/sources/abcdefabcdefabcdefabcdef/')).status, 404);
      // No credentials: Ghost's 403, as on every Admin API route.
      assert.equal((await request(herald, 'GET', `${API}/sources/`)).status, 403);
    });

    test('delete: 422 while a webhook subscribes, 204 once it does not; ingest then answers 404', async () => {
      const source = (await api('POST', '/sources/', {sources: [{name: 'Doomed'}]})).body.sources[0];
      const hook = await api('POST', '/webhooks/', {webhooks: [{event: 'post.published', target_url: 'http://127.0.0.1:9/relayed', source_id: source.id}]});
      assert.equal(hook.status, 201, hook.text);
      const refused = await api('DELETE', `/sources/${source.id}/`);
      assert.equal(refused.status, 422);
      assert.equal(refused.body.errors[0].code, 'SOURCE_IN_USE');

      // The same target may take the same event from Herald's own content and from the source.
      assert.equal((await api('POST', '/webhooks/', {webhooks: [{event: 'post.published', target_url: 'http://127.0.0.1:9/relayed'}]})).status, 201);
      assert.equal((await api('POST', '/webhooks/', {webhooks: [{event: 'post.published', target_url: 'http://127.0.0.1:9/relayed', source_id: source.id}]})).status, 422);

      const moved = await api('PUT', `/webhooks/${hook.body.webhooks[0].id}/`, {webhooks: [{source_id: null, target_url: 'http://127.0.0.1:9/other'}]});
      assert.equal(moved.status, 200, moved.text);
      assert.equal(moved.body.webhooks[0].source_id, null);
      assert.equal((await api('PUT', `/webhooks/${hook.body.webhooks[0].id}/`, {webhooks: [{source_id: 'abcdefabcdefabcdefabcdef'}]})).status, 422);

      const deleted = await api('DELETE', `/sources/${source.id}/`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assert.equal((await request(herald, 'POST', `/ingest/ghost/${source.id}/post.published`, {body: '{}'})).status, 404);
    });

    test('delete is refused while Ghost webhooks made by connect point at the source', async () => {
      const source = (await api('POST', '/sources/', {sources: [{name: 'Connected'}]})).body.sources[0];
      await herald.database.db
        .insertInto('source_ghost_webhooks')
        .values({id: 'abcdefabcdefabcdef000001', source_id: source.id, ghost_url: 'https://ghost.example', event: 'post.added', ghost_webhook_id: 'abcdefabcdefabcdef000002', target_url: 'https://herald.example/x', created_at: new Date().toISOString()})
        .execute();
      const refused = await api('DELETE', `/sources/${source.id}/`);
      assert.equal(refused.status, 422);
      assert.equal(refused.body.errors[0].code, 'SOURCE_CONNECTED');
      assert.match(refused.body.errors[0].help, /herald source disconnect/);
    });
  });

  describe(`herald source CLI (${dialect})`, () => {
    let store: TestStore;
    before(async () => {
      store = await createStore(dialect);
    });
    after(async () => {
      killChildren();
      await store?.drop();
    });

    test('create --json, list --json, list, delete; usage errors exit 2, runtime errors 1', async () => {
      const created = await runHerald(['source', 'create', '--name', 'My Ghost', '--json', ...storeArgs(store)]);
      assert.equal(created.code, 0, created.stderr);
      const source = JSON.parse(created.stdout);
      assert.deepEqual(Object.keys(source), SOURCE_KEYS);
      assert.equal(source.ingest_path, `/ingest/ghost/${source.id}/`);

      const human = await runHerald(['source', 'create', '--name', 'Other', ...storeArgs(store)]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /Created source "Other" \([0-9a-f]{24}\)/);
      assert.match(human.stdout, /Secret: +[0-9a-f]{64}/);

      const listed = await runHerald(['source', 'list', '--json', ...storeArgs(store)]);
      assert.equal(listed.code, 0, listed.stderr);
      const list = JSON.parse(listed.stdout);
      assert.deepEqual(list.map((s: {name: string}) => s.name), ['My Ghost', 'Other']);
      assert.deepEqual(list[0], source);

      const text = await runHerald(['source', 'list', ...storeArgs(store)]);
      assert.match(text.stdout, /Ingest path: \/ingest\/ghost\//);
      assert.match(text.stdout, /not connected/);

      assert.equal((await runHerald(['source', 'create', ...storeArgs(store)])).code, 2);
      assert.equal((await runHerald(['source', 'delete', ...storeArgs(store)])).code, 2);
      assert.equal((await runHerald(['source', 'frobnicate', ...storeArgs(store)])).code, 2);
      const unknown = await runHerald(['source', 'delete', 'abcdefabcdefabcdefabcdef', ...storeArgs(store)]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /not found/i);
      assert.equal(unknown.stderr.trim().split('\n').length, 1);

      const deleted = await runHerald(['source', 'delete', source.id, ...storeArgs(store)]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const after = JSON.parse((await runHerald(['source', 'list', '--json', ...storeArgs(store)])).stdout);
      assert.deepEqual(after.map((s: {name: string}) => s.name), ['Other']);
    });
  });
}
