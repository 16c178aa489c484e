// Whatever a client sends, the answer is a Ghost error envelope with a 4xx status, never a 500,
// and a refused write leaves nothing behind.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const API = '/ghost/api/admin';
/** Exactly the keys of one entry in Ghost's error envelope (@tryghost/mw-error-handler). */
const ENVELOPE_KEYS = ['code', 'context', 'details', 'ghostErrorCode', 'help', 'id', 'message', 'property', 'type'];

/** Asserts `response` is Ghost's error envelope with exactly the expected keys. */
function assertEnvelope(response: {status: number; body: any; text: string}, status: number, type: string): void {
  assert.equal(response.status, status, response.text.slice(0, 300));
  assert.ok(Array.isArray(response.body?.errors) && response.body.errors.length === 1, response.text.slice(0, 300));
  assert.deepEqual(Object.keys(response.body).sort(), ['errors']);
  const error = response.body.errors[0];
  assert.deepEqual(Object.keys(error).sort(), ENVELOPE_KEYS);
  assert.equal(error.type, type);
  assert.equal(typeof error.message, 'string');
  assert.match(error.id, /^[0-9a-f-]{36}$/);
}

/** Bodies a client might get wrong, each with the status and type Herald must answer. */
const BAD_BODIES: ReadonlyArray<{name: string; body: string; status: number; type: string}> = [
  {name: 'malformed JSON', body: '{"tags": [', status: 400, type: 'BadRequestError'},
  {name: 'a trailing comma', body: '{"tags": [{"name": "x"},]}', status: 400, type: 'BadRequestError'},
  {name: 'resource as an object', body: '{"tags": {}}', status: 422, type: 'ValidationError'},
  {name: 'an empty object', body: '{}', status: 422, type: 'ValidationError'},
  {name: 'an array', body: '[]', status: 422, type: 'ValidationError'},
  {name: 'null', body: 'null', status: 422, type: 'ValidationError'},
  {name: 'a string', body: '"tags"', status: 422, type: 'ValidationError'},
  {name: 'an empty resource list', body: '{"tags": []}', status: 422, type: 'ValidationError'},
  {name: 'a null item', body: '{"tags": [null]}', status: 422, type: 'ValidationError'},
  {name: 'a number item', body: '{"tags": [1]}', status: 422, type: 'ValidationError'},
  {name: 'two items', body: '{"tags": [{"name": "a"}, {"name": "b"}]}', status: 422, type: 'ValidationError'},
  {name: 'a name of the wrong type', body: '{"tags": [{"name": 42}]}', status: 422, type: 'ValidationError'},
  {name: 'an empty body', body: '', status: 422, type: 'ValidationError'},
  // PostgreSQL cannot store U+0000 in text: refused at the edge on both engines alike.
  {name: 'a NUL in the name', body: '{"tags": [{"name": "a\\u0000b"}]}', status: 422, type: 'ValidationError'},
  {name: 'a NUL in a property name', body: '{"tags": [{"name": "a", "x\\u0000": 1}]}', status: 422, type: 'ValidationError'},
];

for (const dialect of DIALECTS) {
  describe(`bad input (${dialect})`, () => {
    let herald: TestHerald;
    let small: TestHerald;
    const auth = async (key = herald.integration.admin_key) => ({authorization: await adminToken(key)});
    const tagCount = async (h: TestHerald) =>
      Number((await h.database.db.selectFrom('tags').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    before(async () => {
      herald = await startHerald(dialect);
      small = await startHerald(dialect, {flags: {'max-body': '1kb'}});
    });
    after(async () => {
      await herald?.close();
      await small?.close();
    });

    test('a NUL anywhere in the URL is a 400 on every resource, and a NUL in a body names its property', async () => {
      for (const path of ['/tags/a%00b/', '/tags/slug/a%00b/', "/tags/?filter=name:'a%00b'", '/members/a%00/', "/members/?filter=email:'a%00'", '/integrations/%00/']) {
        assertEnvelope(await request(herald, 'GET', `${API}${path}`, {headers: await auth()}), 400, 'BadRequestError');
      }
      const member = await request(herald, 'POST', `${API}/members/`, {body: '{"members": [{"email": "a@b.co", "note": "x\\u0000"}]}', headers: await auth()});
      assertEnvelope(member, 422, 'ValidationError');
      assert.equal(member.body.errors[0].property, 'note');
      const count = Number((await herald.database.db.selectFrom('members').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      assert.equal(count, 0);
    });

    for (const bad of BAD_BODIES) {
      test(`POST /tags/ with ${bad.name} is a ${bad.status}`, async () => {
        const response = await request(herald, 'POST', `${API}/tags/`, {body: bad.body, headers: {'content-type': 'application/json', ...(await auth())}});
        assertEnvelope(response, bad.status, bad.type);
      });
    }

    test('PUT with malformed JSON is a 400 too', async () => {
      const tag = await herald.api.tags.add({name: 'Target'});
      const response = await request(herald, 'PUT', `${API}/tags/${tag.id}/`, {body: '{nope', headers: await auth()});
      assertEnvelope(response, 400, 'BadRequestError');
    });

    test('a body just over the default 10 MiB limit is a 413', async () => {
      const limit = 10 * 1024 * 1024;
      const prefix = '{"tags":[{"name":"big","description":"';
      const suffix = '"}]}';
      const body = prefix + 'x'.repeat(limit + 1 - prefix.length - suffix.length) + suffix;
      assert.equal(Buffer.byteLength(body), limit + 1);
      const response = await request(herald, 'POST', `${API}/tags/`, {body, headers: await auth()});
      assertEnvelope(response, 413, 'RequestEntityTooLargeError');
    });

    test('--max-body lowers the limit: 2 KB is a 413 at 1kb, a small body still passes', async () => {
      const big = JSON.stringify({tags: [{name: 'big', description: 'x'.repeat(2048)}]});
      const refused = await request(small, 'POST', `${API}/tags/`, {body: big, headers: await auth(small.integration.admin_key)});
      assertEnvelope(refused, 413, 'RequestEntityTooLargeError');
      const fine = await request(small, 'POST', `${API}/tags/`, {body: {tags: [{name: 'small'}]}, headers: await auth(small.integration.admin_key)});
      assert.equal(fine.status, 201);
    });

    test('an unknown route is a 404 NotFoundError, with or without credentials', async () => {
      assertEnvelope(await request(herald, 'GET', `${API}/nothing-here/`, {headers: await auth()}), 404, 'NotFoundError');
      assertEnvelope(await request(herald, 'GET', `${API}/nothing-here/`), 404, 'NotFoundError');
      assertEnvelope(await request(herald, 'GET', '/no/such/page'), 404, 'NotFoundError');
      assertEnvelope(await request(herald, 'DELETE', `${API}/tags/`, {headers: await auth()}), 404, 'NotFoundError');
    });

    test('a text/plain body is a 4xx envelope, never a 500', async () => {
      const response = await request(herald, 'POST', `${API}/tags/`, {body: '{"tags":[{"name":"x"}]}', headers: {'content-type': 'text/plain', ...(await auth())}});
      assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
      assertEnvelope(response, response.status, response.body.errors[0].type);
    });

    test('an unsupported content type is a 415', async () => {
      const response = await request(herald, 'POST', `${API}/tags/`, {body: '<tag/>', headers: {'content-type': 'application/xml', ...(await auth())}});
      assertEnvelope(response, 415, 'UnsupportedMediaTypeError');
    });

    test('bad browse parameters are 4xx envelopes', async () => {
      const headers = await auth();
      assertEnvelope(await request(herald, 'GET', `${API}/tags/?limit=abc`, {headers}), 422, 'ValidationError');
      assertEnvelope(await request(herald, 'GET', `${API}/tags/?page=0`, {headers}), 422, 'ValidationError');
      assertEnvelope(await request(herald, 'GET', `${API}/tags/?order=secret%20asc`, {headers}), 400, 'BadRequestError');
      assertEnvelope(await request(herald, 'GET', `${API}/tags/?filter=${encodeURIComponent('slug:(')}`, {headers}), 400, 'BadRequestError');
      assertEnvelope(await request(herald, 'GET', `${API}/tags/?filter=${encodeURIComponent('password:x')}`, {headers}), 400, 'BadRequestError');
    });

    test('a malformed session cookie is treated as no session (403), not a 500', async () => {
      for (const cookie of ['ghost-admin-api-session=%', 'ghost-admin-api-session=%E0%A4%A', 'ghost-admin-api-session=']) {
        assertEnvelope(await request(herald, 'GET', `${API}/tags/`, {headers: {cookie}}), 403, 'NoPermissionError');
      }
    });

    test('an oversized Authorization token is refused cleanly', async () => {
      const response = await request(herald, 'GET', `${API}/tags/`, {headers: {authorization: `Ghost ${'a'.repeat(4000)}`}});
      assertEnvelope(response, 400, 'BadRequestError');
    });

    test('a refused write leaves nothing behind', async () => {
      const before = await tagCount(herald);
      const headers = await auth();
      for (const item of [{name: 'ok', visibility: 'bogus'}, {name: 'ok', description: 'x'.repeat(501)}, {name: 'x'.repeat(192)}, {name: ',comma'}]) {
        const response = await request(herald, 'POST', `${API}/tags/`, {body: {tags: [item]}, headers});
        assertEnvelope(response, 422, 'ValidationError');
      }
      assert.equal(await tagCount(herald), before);
    });
  });
}
