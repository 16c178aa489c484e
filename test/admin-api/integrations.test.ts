// The /integrations/ endpoints through a staff session, as Ghost's admin uses them.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UNKNOWN_ID = 'abcdefabcdefabcdefabcdef';

/** Checks the two keys every custom integration has, as Ghost makes them. */
function assertKeys(integration: any): void {
  assert.equal(integration.api_keys.length, 2);
  const admin = integration.api_keys.find((k: any) => k.type === 'admin');
  const content = integration.api_keys.find((k: any) => k.type === 'content');
  assert.match(admin.id, /^[0-9a-f]{24}$/);
  assert.match(admin.secret, /^[0-9a-f]{64}$/);
  assert.match(content.secret, /^[0-9a-f]{26}$/);
  assert.equal(admin.integration_id, integration.id);
  assert.equal(content.integration_id, integration.id);
}

for (const dialect of DIALECTS) {
  describe(`integrations (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Awaited<ReturnType<typeof staffSession>>;

    before(async () => {
      herald = await startHerald(dialect);
      staff = await staffSession(herald);
    });
    after(async () => herald?.close());

    test('browse with include=api_keys,webhooks', async () => {
      const response = await staff('GET', '/integrations/?include=api_keys,webhooks');
      assert.equal(response.status, 200);
      assert.ok(response.body.meta.pagination);
      const found = response.body.integrations.find((i: any) => i.id === herald.integration.id);
      assert.ok(found, 'the harness integration is listed');
      assert.equal(found.type, 'custom');
      assert.equal(found.name, 'Test integration');
      assertKeys(found);
      assert.deepEqual(found.webhooks, []);
      // Without include, no relations.
      const plain = await staff('GET', '/integrations/');
      assert.equal(plain.body.integrations[0].api_keys, undefined);
    });

    test('read', async () => {
      const response = await staff('GET', `/integrations/${herald.integration.id}/?include=api_keys`);
      assert.equal(response.status, 200);
      assert.equal(response.body.meta, undefined);
      assert.equal(response.body.integrations.length, 1);
      assert.equal(response.body.integrations[0].id, herald.integration.id);
      assertKeys(response.body.integrations[0]);
    });

    test('add answers 201 with fresh keys', async () => {
      const response = await staff('POST', '/integrations/', {integrations: [{name: 'Zapier', description: 'Automations'}]});
      assert.equal(response.status, 201);
      const integration = response.body.integrations[0];
      assert.match(integration.id, /^[0-9a-f]{24}$/);
      assert.equal(integration.name, 'Zapier');
      assert.equal(integration.slug, 'zapier');
      assert.equal(integration.description, 'Automations');
      assert.match(integration.created_at, ISO);
      assertKeys(integration);
      // The new admin key works at once.
      const admin = integration.api_keys.find((k: any) => k.type === 'admin');
      const tags = await request(herald, 'GET', '/ghost/api/admin/tags/', {headers: {authorization: await adminToken(`${admin.id}:${admin.secret}`)}});
      assert.equal(tags.status, 200);
    });

    test('add without a name is a 422 naming the property', async () => {
      const response = await staff('POST', '/integrations/', {integrations: [{description: 'no name'}]});
      assert.equal(response.status, 422);
      assert.equal(response.body.errors[0].type, 'ValidationError');
      assert.equal(response.body.errors[0].property, 'name');
    });

    test('edit a name; a no-op edit keeps updated_at', async () => {
      const created = (await staff('POST', '/integrations/', {integrations: [{name: 'Before'}]})).body.integrations[0];
      await new Promise((resolve) => setTimeout(resolve, 5));
      const edited = await staff('PUT', `/integrations/${created.id}/`, {integrations: [{name: 'After'}]});
      assert.equal(edited.status, 200);
      assert.equal(edited.body.integrations[0].name, 'After');
      assert.notEqual(edited.body.integrations[0].updated_at, created.updated_at);

      const stamp = edited.body.integrations[0].updated_at;
      await new Promise((resolve) => setTimeout(resolve, 5));
      // Clients PUT back whole GET responses: unknown and unchanged fields change nothing.
      const same = await staff('PUT', `/integrations/${created.id}/`, {integrations: [{...edited.body.integrations[0]}]});
      assert.equal(same.status, 200);
      assert.equal(same.body.integrations[0].updated_at, stamp);
      assert.equal(same.body.integrations[0].name, 'After');
    });

    test('delete answers 204 and takes the keys with it', async () => {
      const created = (await staff('POST', '/integrations/', {integrations: [{name: 'Short-lived'}]})).body.integrations[0];
      const admin = created.api_keys.find((k: any) => k.type === 'admin');
      const response = await staff('DELETE', `/integrations/${created.id}/`);
      assert.equal(response.status, 204);
      assert.equal(response.body, null);
      const keys = await herald.database.db.selectFrom('api_keys').select('id').where('integration_id', '=', created.id).execute();
      assert.equal(keys.length, 0);
      const tags = await request(herald, 'GET', '/ghost/api/admin/tags/', {headers: {authorization: await adminToken(`${admin.id}:${admin.secret}`)}});
      assert.equal(tags.status, 401);
      assert.equal(tags.body.errors[0].code, 'UNKNOWN_ADMIN_API_KEY');
      assert.equal((await staff('GET', `/integrations/${created.id}/`)).status, 404);
    });

    test('refresh gives a key a new secret (admin and content)', async () => {
      const created = (await staff('POST', '/integrations/', {integrations: [{name: 'Rotating'}]})).body.integrations[0];
      for (const type of ['admin', 'content']) {
        const key = created.api_keys.find((k: any) => k.type === type);
        const response = await staff('POST', `/integrations/${created.id}/api_key/${key.id}/refresh/`);
        assert.equal(response.status, 200);
        const after = response.body.integrations[0].api_keys.find((k: any) => k.id === key.id);
        assert.notEqual(after.secret, key.secret);
        assert.match(after.secret, type === 'admin' ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{26}$/);
      }
    });

    test('unknown ids are 404 NotFoundError', async () => {
      const key = herald.integration.admin_key.split(':')[0];
      const cases: Array<[string, string, unknown?]> = [
        ['GET', `/integrations/${UNKNOWN_ID}/`],
        ['PUT', `/integrations/${UNKNOWN_ID}/`, {integrations: [{name: 'x'}]}],
        ['DELETE', `/integrations/${UNKNOWN_ID}/`],
        ['POST', `/integrations/${UNKNOWN_ID}/api_key/${key}/refresh/`],
        ['POST', `/integrations/${herald.integration.id}/api_key/${UNKNOWN_ID}/refresh/`],
      ];
      for (const [method, pathname, body] of cases) {
        const response = await staff(method, pathname, body);
        assert.equal(response.status, 404, `${method} ${pathname}`);
        assert.equal(response.body.errors[0].type, 'NotFoundError');
      }
    });
  });
}
