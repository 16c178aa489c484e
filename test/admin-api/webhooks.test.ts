// The /webhooks/ endpoints: add, edit, delete through the official client (the only verbs it
// has), browse and read as Herald's extensions, ownership between integrations, staff sessions.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {EVENT_NAMES} from '../../src/events/names.ts';

const API = '/ghost/api/admin';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UNKNOWN_ID = 'abcdefabcdefabcdefabcdef';
/** Ghost's webhook keys (its response snapshot), then Herald's additions. */
const WEBHOOK_KEYS = [
  'id', 'event', 'target_url', 'name', 'secret', 'api_version', 'integration_id',
  'last_triggered_at', 'last_triggered_status', 'last_triggered_error', 'created_at', 'updated_at',
  'status', 'disabled_reason', 'filter', 'source_id',
];

let counter = 0;
/** A target URL no other test uses (the (event, target_url) pair must be unique). */
const target = (label = 'hook') => `https://receiver.example.com/${label}/${++counter}`;

/** Asserts the official client rejected with a Ghost error of `type` (and `property`, when given). */
function ghostError(type: string, property?: string | null) {
  return (error: any) => {
    assert.equal(error.name, type, `${error.name}: ${error.message} (${error.context})`);
    if (property !== undefined) assert.equal(error.property, property);
    return true;
  };
}

for (const dialect of DIALECTS) {
  describe(`webhooks (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Awaited<ReturnType<typeof staffSession>>;
    const auth = async (key = herald.integration.admin_key) => ({authorization: await adminToken(key)});

    before(async () => {
      herald = await startHerald(dialect);
      staff = await staffSession(herald);
    });
    after(async () => herald?.close());

    test('add answers 201 with Ghost\'s fields, Herald\'s extras and a generated whsec_ secret', async () => {
      const url = target();
      const response = await request(herald, 'POST', `${API}/webhooks/`, {body: {webhooks: [{event: 'post.published', target_url: url, name: 'Deploy'}]}, headers: await auth()});
      assert.equal(response.status, 201, response.text);
      assert.equal(response.body.meta, undefined);
      assert.equal(response.headers.get('location'), null);
      assert.equal(response.body.webhooks.length, 1);
      const webhook = response.body.webhooks[0];
      assert.deepEqual(Object.keys(webhook), WEBHOOK_KEYS);
      assert.match(webhook.id, /^[0-9a-f]{24}$/);
      assert.equal(webhook.event, 'post.published');
      assert.equal(webhook.target_url, url);
      assert.equal(webhook.name, 'Deploy');
      assert.equal(webhook.api_version, 'v6.0');
      assert.equal(webhook.integration_id, herald.integration.id);
      assert.equal(webhook.last_triggered_at, null);
      assert.equal(webhook.last_triggered_status, null);
      assert.equal(webhook.last_triggered_error, null);
      assert.match(webhook.created_at, ISO);
      assert.equal(webhook.updated_at, webhook.created_at);
      assert.equal(webhook.status, 'available');
      assert.equal(webhook.disabled_reason, null);
      assert.equal(webhook.filter, null);
      assert.match(webhook.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
      assert.equal(Buffer.from(webhook.secret.slice(6), 'base64').length, 32);

      const row = await herald.database.db.selectFrom('webhooks').selectAll().where('id', '=', webhook.id).executeTakeFirstOrThrow();
      assert.equal(row.secret, webhook.secret);
      assert.equal(row.previous_secrets, null);
      assert.equal(row.source_id, null);
    });

    test('through the official client: a given secret, filter and api_version are kept; null or empty secrets are generated', async () => {
      const webhook = await herald.api.webhooks.add({event: 'tag.added', target_url: target(), secret: 'thisissecret', api_version: 'v5.0', filter: 'slug:-internal'});
      assert.equal(webhook.secret, 'thisissecret');
      assert.equal(webhook.api_version, 'v5.0');
      assert.equal(webhook.filter, 'slug:-internal');
      for (const secret of [null, '']) {
        const generated = await herald.api.webhooks.add({event: 'tag.added', target_url: target(), secret});
        assert.match(generated.secret, /^whsec_/);
      }
      const a = await herald.api.webhooks.add({event: 'tag.added', target_url: target()});
      const b = await herald.api.webhooks.add({event: 'tag.added', target_url: target()});
      assert.notEqual(a.secret, b.secret);
    });

    test('event is compared lowercased and stored lowercased', async () => {
      const webhook = await herald.api.webhooks.add({event: 'Member.Added', target_url: target()});
      assert.equal(webhook.event, 'member.added');
    });

    test('an integration_id in the body is overwritten with the calling integration\'s', async () => {
      const other = await herald.createIntegration('Someone else');
      const webhook = await herald.api.webhooks.add({event: 'post.added', target_url: target(), integration_id: other.id});
      assert.equal(webhook.integration_id, herald.integration.id);
      const bogus = await herald.api.webhooks.add({event: 'post.added', target_url: target(), integration_id: 'ignore_me'});
      assert.equal(bogus.integration_id, herald.integration.id);
    });

    test('unknown properties are ignored', async () => {
      const webhook = await herald.api.webhooks.add({event: 'post.added', target_url: target(), colour: 'blue', status: 'disabled', last_triggered_at: '2020-01-01T00:00:00.000Z'});
      assert.equal(webhook.status, 'available');
      assert.equal(webhook.last_triggered_at, null);
      assert.equal('colour' in webhook, false);
    });

    test('a duplicate (event, target_url) is a 422, also when the URL differs only in case', async () => {
      const url = target('Dup');
      await herald.api.webhooks.add({event: 'post.edited', target_url: url});
      for (const again of [url, url.toUpperCase().replace('HTTPS', 'https'), url.toLowerCase()]) {
        await assert.rejects(herald.api.webhooks.add({event: 'post.edited', target_url: again}), (error: any) => {
          assert.equal(error.name, 'ValidationError');
          assert.equal(error.message, 'Validation error, cannot save webhook.');
          assert.equal(error.context, 'Target URL has already been used for this event.');
          return true;
        });
      }
      // Another event to the same URL is fine, and so is another integration's duplicate check: it is global.
      await herald.api.webhooks.add({event: 'post.deleted', target_url: url});
      const other = await herald.createIntegration('Dup checker');
      await assert.rejects(herald.client(other.admin_key).webhooks.add({event: 'post.edited', target_url: url}), ghostError('ValidationError'));
      const count = await herald.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).where('event', '=', 'post.edited').executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 1);
    });

    test('concurrent adds of one pair: exactly one wins, the rest are 422', async () => {
      const url = target('race');
      const results = await Promise.allSettled(Array.from({length: 8}, (_, i) => herald.api.webhooks.add({event: 'page.edited', target_url: i % 2 ? url : url.toUpperCase().replace('HTTPS', 'https')})));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal(r.reason.name, 'ValidationError');
      const rows = await herald.database.db.selectFrom('webhooks').select('target_url').where('event', '=', 'page.edited').execute();
      assert.equal(rows.filter((row) => row.target_url.toLowerCase() === url.toLowerCase()).length, 1);
    });

    const INVALID: ReadonlyArray<{name: string; body: Record<string, unknown>; property: string}> = [
      {name: 'missing event', body: {target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'empty event', body: {event: '', target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'null event', body: {event: null, target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'numeric event', body: {event: 7, target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'an event over 50 characters', body: {event: 'post.'.repeat(11), target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'an unknown event', body: {event: 'test.create', target_url: 'https://a.example/x'}, property: 'event'},
      {name: 'missing target_url', body: {event: 'post.added'}, property: 'target_url'},
      {name: 'empty target_url', body: {event: 'post.added', target_url: ''}, property: 'target_url'},
      {name: 'a relative target_url', body: {event: 'post.added', target_url: '/hooks/x'}, property: 'target_url'},
      {name: 'a target_url that is not a URL', body: {event: 'post.added', target_url: 'not a url'}, property: 'target_url'},
      {name: 'an ftp:// target_url', body: {event: 'post.added', target_url: 'ftp://files.example.com/x'}, property: 'target_url'},
      {name: 'a target_url without //', body: {event: 'post.added', target_url: 'http:example.com/x'}, property: 'target_url'},
      {name: 'a javascript: target_url', body: {event: 'post.added', target_url: 'javascript:alert(1)'}, property: 'target_url'},
      {name: 'a target_url over 2000 characters', body: {event: 'post.added', target_url: `https://a.example/${'x'.repeat(2000)}`}, property: 'target_url'},
      {name: 'a target_url object', body: {event: 'post.added', target_url: {href: 'https://a.example'}}, property: 'target_url'},
      {name: 'a name over 191 characters', body: {event: 'post.added', target_url: 'https://a.example/n', name: 'n'.repeat(192)}, property: 'name'},
      {name: 'a numeric name', body: {event: 'post.added', target_url: 'https://a.example/n', name: 5}, property: 'name'},
      {name: 'a secret over 191 characters', body: {event: 'post.added', target_url: 'https://a.example/s', secret: 's'.repeat(192)}, property: 'secret'},
      {name: 'a whsec_ secret that is not base64', body: {event: 'post.added', target_url: 'https://a.example/s', secret: 'whsec_not base64!'}, property: 'secret'},
      {name: 'an api_version over 50 characters', body: {event: 'post.added', target_url: 'https://a.example/v', api_version: 'v'.repeat(51)}, property: 'api_version'},
      {name: 'a filter that is not NQL', body: {event: 'post.added', target_url: 'https://a.example/f', filter: 'status:'}, property: 'filter'},
      {name: 'a filter with unbalanced parentheses', body: {event: 'post.added', target_url: 'https://a.example/f', filter: '(status:draft'}, property: 'filter'},
      {name: 'a filter over 2000 characters', body: {event: 'post.added', target_url: 'https://a.example/f', filter: `slug:${'x'.repeat(2000)}`}, property: 'filter'},
      {name: 'a numeric filter', body: {event: 'post.added', target_url: 'https://a.example/f', filter: 3}, property: 'filter'},
    ];

    for (const bad of INVALID) {
      test(`add with ${bad.name} is a 422 naming ${bad.property}`, async () => {
        const response = await request(herald, 'POST', `${API}/webhooks/`, {body: {webhooks: [bad.body]}, headers: await auth()});
        assert.equal(response.status, 422, response.text);
        const error = response.body.errors[0];
        assert.equal(error.type, 'ValidationError');
        assert.equal(error.property, bad.property);
      });
    }

    test('an unknown event\'s error lists the valid events; nothing is written by refused adds', async () => {
      const before = await herald.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      await assert.rejects(herald.api.webhooks.add({event: 'post.exploded', target_url: target()}), (error: any) => {
        assert.equal(error.name, 'ValidationError');
        assert.equal(error.property, 'event');
        for (const name of EVENT_NAMES) assert.ok(error.context.includes(name), `context names ${name}`);
        return true;
      });
      const afterCount = await herald.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(afterCount.n), Number(before.n));
    });

    test('every event name is accepted; http and loopback targets too (the SSRF guard is not here yet)', async () => {
      for (const event of EVENT_NAMES) await herald.api.webhooks.add({event, target_url: 'https://every.example.com/hook'});
      const loopback = await herald.api.webhooks.add({event: 'post.added', target_url: 'http://127.0.0.1:9/hook'});
      assert.equal(loopback.target_url, 'http://127.0.0.1:9/hook');
    });

    test('edit answers 200; integration_id in the body is ignored; a save that changes nothing keeps updated_at', async () => {
      const other = await herald.createIntegration('Not the owner');
      const webhook = await herald.api.webhooks.add({event: 'post.added', target_url: target(), name: 'Before', secret: 'keep-me'});
      await new Promise((r) => setTimeout(r, 5));
      const same = await herald.api.webhooks.edit({id: webhook.id, name: 'Before', secret: 'keep-me', event: 'post.added', target_url: webhook.target_url});
      assert.equal(same.updated_at, webhook.updated_at);
      // A client PUTting back the whole GET response changes nothing either.
      const whole = await herald.api.webhooks.edit({...webhook});
      assert.equal(whole.updated_at, webhook.updated_at);

      const url = target('moved');
      const edited = await herald.api.webhooks.edit({id: webhook.id, name: 'After', event: 'post.published', target_url: url, api_version: 'v5.9', filter: 'tag:news', integration_id: other.id});
      assert.deepEqual(Object.keys(edited), WEBHOOK_KEYS);
      assert.equal(edited.name, 'After');
      assert.equal(edited.event, 'post.published');
      assert.equal(edited.target_url, url);
      assert.equal(edited.api_version, 'v5.9');
      assert.equal(edited.filter, 'tag:news');
      assert.equal(edited.secret, 'keep-me');
      assert.equal(edited.integration_id, herald.integration.id);
      assert.equal(edited.created_at, webhook.created_at);
      assert.ok(edited.updated_at > webhook.updated_at);

      // An empty secret gets a new generated one; null name and filter clear them.
      const regenerated = await herald.api.webhooks.edit({id: webhook.id, secret: '', name: null, filter: null});
      assert.match(regenerated.secret, /^whsec_/);
      assert.equal(regenerated.name, null);
      assert.equal(regenerated.filter, null);
    });

    test('edit validates like add, and refuses a pair another webhook uses', async () => {
      const taken = await herald.api.webhooks.add({event: 'member.edited', target_url: target('taken')});
      const webhook = await herald.api.webhooks.add({event: 'member.deleted', target_url: taken.target_url});
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, event: 'member.edited'}), (error: any) => {
        assert.equal(error.name, 'ValidationError');
        assert.equal(error.context, 'Target URL has already been used for this event.');
        return true;
      });
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, event: 'nope'}), ghostError('ValidationError', 'event'));
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, target_url: 'ftp://x.example'}), ghostError('ValidationError', 'target_url'));
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, target_url: null}), ghostError('ValidationError', 'target_url'));
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, filter: 'a:(b'}), ghostError('ValidationError', 'filter'));
      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, status: 'paused'}), ghostError('ValidationError', 'status'));
      // Changing only the case of its own URL is not a clash with itself.
      const recased = await herald.api.webhooks.edit({id: webhook.id, target_url: webhook.target_url.replace('receiver', 'RECEIVER')});
      assert.match(recased.target_url, /RECEIVER/);
      const row = await herald.database.db.selectFrom('webhooks').selectAll().where('id', '=', webhook.id).executeTakeFirstOrThrow();
      assert.equal(row.event, 'member.deleted');
    });

    test('edit status: disabled records the reason, available clears it', async () => {
      const webhook = await herald.api.webhooks.add({event: 'page.added', target_url: target()});
      const disabled = await herald.api.webhooks.edit({id: webhook.id, status: 'disabled'});
      assert.equal(disabled.status, 'disabled');
      assert.equal(disabled.disabled_reason, 'Disabled by a user');
      // A reason recorded elsewhere (the delivery worker on a 410) survives a PUT-back of the same status.
      await herald.database.db.updateTable('webhooks').set({disabled_reason: 'The target answered 410 Gone.'}).where('id', '=', webhook.id).execute();
      const again = await herald.api.webhooks.edit({id: webhook.id, status: 'disabled', name: 'x'});
      assert.equal(again.disabled_reason, 'The target answered 410 Gone.');
      const enabled = await herald.api.webhooks.edit({id: webhook.id, status: 'available'});
      assert.equal(enabled.status, 'available');
      assert.equal(enabled.disabled_reason, null);
      const read = await request(herald, 'GET', `${API}/webhooks/${webhook.id}/`, {headers: await auth()});
      assert.equal(read.body.webhooks[0].status, 'available');
    });

    test('delete answers 204 and takes the deliveries with it; then edit, read and delete are 404', async () => {
      const webhook = await herald.api.webhooks.add({event: 'post.deleted', target_url: target()});
      const stamp = new Date().toISOString();
      await herald.database.db.insertInto('events').values({id: 'e00000000000000000000001', name: 'post.deleted', resource_type: 'post', resource_id: null, payload: '{}', source_id: null, created_at: stamp}).execute();
      await herald.database.db
        .insertInto('deliveries')
        .values({id: 'd00000000000000000000001', event_id: 'e00000000000000000000001', webhook_id: webhook.id, status: 'pending', attempt_count: 0, next_attempt_at: stamp, lease_owner: null, lease_expires_at: null, last_attempt_at: null, last_status_code: null, last_error: null, created_at: stamp, updated_at: stamp})
        .execute();

      assert.equal(await herald.api.webhooks.delete({id: webhook.id}), '');
      const deliveries = await herald.database.db.selectFrom('deliveries').select('id').where('webhook_id', '=', webhook.id).execute();
      assert.deepEqual(deliveries, []);

      await assert.rejects(herald.api.webhooks.edit({id: webhook.id, name: 'gone'}), (error: any) => {
        assert.equal(error.name, 'NotFoundError');
        assert.equal(error.message, 'Resource not found error, cannot edit webhook.');
        return true;
      });
      await assert.rejects(herald.api.webhooks.delete({id: webhook.id}), ghostError('NotFoundError'));
      const read = await request(herald, 'GET', `${API}/webhooks/${webhook.id}/`, {headers: await auth()});
      assert.equal(read.status, 404);
      assert.equal(read.body.errors[0].type, 'NotFoundError');
    });

    test('raw delete answers 204 with an empty body', async () => {
      const webhook = await herald.api.webhooks.add({event: 'post.deleted', target_url: target()});
      const response = await request(herald, 'DELETE', `${API}/webhooks/${webhook.id}/`, {headers: await auth()});
      assert.equal(response.status, 204);
      assert.equal(response.text, '');
    });

    test('browse and read: envelopes, pagination, filter, order, fields', async () => {
      const own = await herald.createIntegration('Browser');
      const client = herald.client(own.admin_key);
      const created = [];
      for (const event of ['tag.added', 'tag.edited', 'tag.deleted']) created.push(await client.webhooks.add({event, target_url: target('browse'), name: `b-${event}`}));
      const headers = await auth(own.admin_key);

      const list = await request(herald, 'GET', `${API}/webhooks/`, {headers});
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.webhooks.map((w: any) => w.id), created.map((w) => w.id).reverse(), 'newest first');
      assert.deepEqual(list.body.meta.pagination, {page: 1, limit: 15, pages: 1, total: 3, next: null, prev: null});
      assert.deepEqual(Object.keys(list.body.webhooks[0]), WEBHOOK_KEYS);

      const page = await request(herald, 'GET', `${API}/webhooks/?limit=2&page=2&order=${encodeURIComponent('event asc')}`, {headers});
      assert.deepEqual(page.body.webhooks.map((w: any) => w.event), ['tag.edited']);
      assert.deepEqual(page.body.meta.pagination, {page: 2, limit: 2, pages: 2, total: 3, next: null, prev: 1});

      const filtered = await request(herald, 'GET', `${API}/webhooks/?filter=${encodeURIComponent("event:[tag.added,tag.deleted]+status:available")}`, {headers});
      assert.deepEqual(filtered.body.webhooks.map((w: any) => w.event).sort(), ['tag.added', 'tag.deleted']);

      const fields = await request(herald, 'GET', `${API}/webhooks/?fields=event,name`, {headers});
      assert.deepEqual(Object.keys(fields.body.webhooks[0]).sort(), ['event', 'id', 'name']);

      const read = await request(herald, 'GET', `${API}/webhooks/${created[0].id}/`, {headers});
      assert.equal(read.status, 200);
      assert.equal(read.body.meta, undefined);
      assert.deepEqual(read.body.webhooks, [created[0]]);

      for (const query of ['filter=nope:1', 'filter=event:', 'order=secret%20asc', 'limit=0', 'page=x']) {
        const bad = await request(herald, 'GET', `${API}/webhooks/?${query}`, {headers});
        assert.ok(bad.status >= 400 && bad.status < 500, `${query}: ${bad.status} ${bad.text}`);
        assert.ok(Array.isArray(bad.body.errors));
      }
    });

    test('an integration cannot read, edit or delete another integration\'s webhook, and browses only its own', async () => {
      const a = await herald.createIntegration('Integration A');
      const b = await herald.createIntegration('Integration B');
      const apiA = herald.client(a.admin_key);
      const apiB = herald.client(b.admin_key);
      const hookA = await apiA.webhooks.add({event: 'member.added', target_url: target('a'), name: 'A', secret: 'a-secret'});
      const hookB = await apiB.webhooks.add({event: 'member.added', target_url: target('b')});

      const expect403 = (action: string) => (error: any) => {
        assert.equal(error.name, 'NoPermissionError');
        assert.equal(error.message, `You do not have permission to ${action} this webhook.`);
        assert.match(error.context, /^You may only \w+ webhooks that belong to the authenticated integration\. Check the supplied Admin API Key\.$/);
        return true;
      };
      await assert.rejects(apiB.webhooks.edit({id: hookA.id, name: 'hijacked'}), expect403('edit'));
      await assert.rejects(apiB.webhooks.edit({id: hookA.id, status: 'disabled'}), expect403('edit'));
      await assert.rejects(apiB.webhooks.delete({id: hookA.id}), expect403('delete'));
      const read = await request(herald, 'GET', `${API}/webhooks/${hookA.id}/`, {headers: await auth(b.admin_key)});
      assert.equal(read.status, 403);
      assert.equal(read.body.errors[0].type, 'NoPermissionError');
      assert.equal(read.body.errors[0].message, 'You do not have permission to read this webhook.');
      assert.equal(read.text.includes('a-secret'), false);

      const row = await herald.database.db.selectFrom('webhooks').selectAll().where('id', '=', hookA.id).executeTakeFirstOrThrow();
      assert.equal(row.name, 'A');
      assert.equal(row.status, 'available');

      const listB = await request(herald, 'GET', `${API}/webhooks/?limit=100`, {headers: await auth(b.admin_key)});
      assert.deepEqual(listB.body.webhooks.map((w: any) => w.id), [hookB.id]);
      assert.equal(listB.body.meta.pagination.total, 1);
      // A filter cannot widen what an integration sees.
      const sneaky = await request(herald, 'GET', `${API}/webhooks/?filter=${encodeURIComponent(`integration_id:${a.id},id:${hookA.id}`)}`, {headers: await auth(b.admin_key)});
      assert.deepEqual(sneaky.body.webhooks, []);

      // Its own are still fully its own.
      assert.equal((await apiA.webhooks.edit({id: hookA.id, name: 'A2'})).name, 'A2');
      assert.equal(await apiA.webhooks.delete({id: hookA.id}), '');
    });

    test('staff: add requires an existing integration_id; browse, read, edit and delete see every webhook', async () => {
      const missing = await staff('POST', '/webhooks/', {webhooks: [{event: 'post.added', target_url: target()}]});
      assert.equal(missing.status, 422, JSON.stringify(missing.body));
      assert.equal(missing.body.errors[0].property, 'integration_id');

      const unknown = await staff('POST', '/webhooks/', {webhooks: [{event: 'post.added', target_url: target(), integration_id: UNKNOWN_ID}]});
      assert.equal(unknown.status, 422);
      assert.deepEqual(
        (({message, context, help, property, type}) => ({message, context, help, property, type}))(unknown.body.errors[0]),
        {
          message: 'Validation error, cannot save webhook.',
          context: "Validation failed for 'integration_id'. 'integration_id' value does not match any existing integration.",
          help: "Provide the 'integration_id' of an existing integration.",
          property: 'integration_id',
          type: 'ValidationError',
        },
      );
      for (const integration_id of [null, 42, '', 'x'.repeat(200)]) {
        const bad = await staff('POST', '/webhooks/', {webhooks: [{event: 'post.added', target_url: target(), integration_id}]});
        assert.equal(bad.status, 422, `${integration_id}`);
        assert.equal(bad.body.errors[0].property, 'integration_id');
      }

      const other = await herald.createIntegration('Staff-made');
      const added = await staff('POST', '/webhooks/', {webhooks: [{event: 'post.added', target_url: target('staff'), integration_id: other.id}]});
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const webhook = added.body.webhooks[0];
      assert.equal(webhook.integration_id, other.id);
      assert.match(webhook.secret, /^whsec_/);

      const mine = await herald.api.webhooks.add({event: 'post.added', target_url: target('staff-sees')});
      const list = await staff('GET', '/webhooks/?limit=100');
      assert.equal(list.status, 200);
      const ids = list.body.webhooks.map((w: any) => w.id);
      assert.ok(ids.includes(webhook.id) && ids.includes(mine.id), 'staff sees every integration\'s webhooks');
      const total = await herald.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      assert.equal(list.body.meta.pagination.total, Number(total.n));
      const byIntegration = await staff('GET', `/webhooks/?filter=${encodeURIComponent(`integration_id:${other.id}`)}`);
      assert.deepEqual(byIntegration.body.webhooks.map((w: any) => w.id), [webhook.id]);

      assert.equal((await staff('GET', `/webhooks/${mine.id}/`)).body.webhooks[0].id, mine.id);
      const edited = await staff('PUT', `/webhooks/${mine.id}/`, {webhooks: [{name: 'Staff touched', integration_id: other.id}]});
      assert.equal(edited.status, 200);
      assert.equal(edited.body.webhooks[0].name, 'Staff touched');
      assert.equal(edited.body.webhooks[0].integration_id, herald.integration.id);
      assert.equal((await staff('DELETE', `/webhooks/${webhook.id}/`)).status, 204);
      assert.equal((await staff('PUT', `/webhooks/${webhook.id}/`, {webhooks: [{name: 'x'}]})).status, 404);
    });

    test('integrations ?include=webhooks shows an integration\'s webhooks', async () => {
      const owner = await herald.createIntegration('With hooks');
      const hook = await herald.client(owner.admin_key).webhooks.add({event: 'site.changed', target_url: target('site')});
      const response = await staff('GET', `/integrations/${owner.id}/?include=webhooks`);
      assert.equal(response.status, 200);
      assert.deepEqual(response.body.integrations[0].webhooks, [hook]);
      // Deleting the integration takes its webhooks with it.
      assert.equal((await staff('DELETE', `/integrations/${owner.id}/`)).status, 204);
      const read = await staff('GET', `/webhooks/${hook.id}/`);
      assert.equal(read.status, 404);
    });

    const BAD_BODIES: ReadonlyArray<{name: string; body: string}> = [
      {name: 'malformed JSON', body: '{"webhooks": ['},
      {name: 'an empty object', body: '{}'},
      {name: 'an empty list', body: '{"webhooks": []}'},
      {name: 'a null item', body: '{"webhooks": [null]}'},
      {name: 'an array item', body: '{"webhooks": [[]]}'},
      {name: 'two items', body: '{"webhooks": [{"event": "post.added", "target_url": "https://a.example/1"}, {"event": "post.added", "target_url": "https://a.example/2"}]}'},
      {name: 'webhooks as an object', body: '{"webhooks": {"event": "post.added"}}'},
      {name: 'a string', body: '"webhooks"'},
      {name: 'null', body: 'null'},
      {name: 'an empty body', body: ''},
      {name: 'a NUL in the target_url', body: '{"webhooks": [{"event": "post.added", "target_url": "https://a.example/\\u0000"}]}'},
      {name: 'a URL with a bad port', body: '{"webhooks": [{"event": "post.added", "target_url": "https://a.example:99999/"}]}'},
      {name: 'a URL without slashes', body: '{"webhooks": [{"event": "post.added", "target_url": "http:example.com"}]}'},
      {name: 'a URL without a host', body: '{"webhooks": [{"event": "post.added", "target_url": "https://"}]}'},
      {name: 'a whitespace target_url', body: '{"webhooks": [{"event": "post.added", "target_url": "   "}]}'},
      {name: 'a boolean secret', body: '{"webhooks": [{"event": "post.added", "target_url": "https://a.example/b", "secret": true}]}'},
      {name: 'an object filter', body: '{"webhooks": [{"event": "post.added", "target_url": "https://a.example/b", "filter": {"$ne": 1}}]}'},
      {name: 'a deeply nested filter', body: JSON.stringify({webhooks: [{event: 'post.added', target_url: 'https://a.example/deep', filter: `${'('.repeat(900)}a:1${')'.repeat(900)}`}]})},
      {name: 'an event of the wrong type', body: '{"webhooks": [{"event": ["post.added"], "target_url": "https://a.example/b"}]}'},
    ];

    test('bad input is never a 500 and never writes anything', async () => {
      const victim = await herald.api.webhooks.add({event: 'post.edited', target_url: target('victim')});
      const count = async () => Number((await herald.database.db.selectFrom('webhooks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = await count();
      const row = async () => herald.database.db.selectFrom('webhooks').selectAll().where('id', '=', victim.id).executeTakeFirstOrThrow();
      const rowBefore = await row();
      for (const bad of BAD_BODIES) {
        for (const [method, path] of [['POST', '/webhooks/'], ['PUT', `/webhooks/${victim.id}/`]] as const) {
          const response = await request(herald, method, `${API}${path}`, {body: bad.body, headers: {'content-type': 'application/json', ...(await auth())}});
          assert.ok(response.status >= 400 && response.status < 500, `${method} ${bad.name}: ${response.status} ${response.text.slice(0, 300)}`);
          assert.ok(Array.isArray(response.body?.errors), `${method} ${bad.name}: ${response.text.slice(0, 300)}`);
        }
      }
      for (const path of [`/webhooks/${UNKNOWN_ID}/`, '/webhooks/not-an-id/', '/webhooks/%E0%A4%A/']) {
        for (const method of ['GET', 'PUT', 'DELETE']) {
          const response = await request(herald, method, `${API}${path}`, {body: method === 'PUT' ? {webhooks: [{name: 'x'}]} : undefined, headers: await auth()});
          assert.ok(response.status >= 400 && response.status < 500, `${method} ${path}: ${response.status} ${response.text.slice(0, 300)}`);
        }
      }
      assert.equal(await count(), before);
      assert.deepEqual(await row(), rowBefore);
    });

    test('without credentials every webhook route is refused', async () => {
      for (const [method, path] of [['GET', '/webhooks/'], ['POST', '/webhooks/'], ['GET', `/webhooks/${UNKNOWN_ID}/`], ['PUT', `/webhooks/${UNKNOWN_ID}/`], ['DELETE', `/webhooks/${UNKNOWN_ID}/`]] as const) {
        const response = await request(herald, method, `${API}${path}`, {body: method === 'POST' || method === 'PUT' ? {webhooks: [{event: 'post.added', target_url: 'https://a.example/'}]} : undefined});
        assert.equal(response.status, 403, `${method} ${path}`);
        assert.equal(response.body.errors[0].type, 'NoPermissionError');
      }
    });
  });
}
