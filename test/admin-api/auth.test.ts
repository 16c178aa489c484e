// Admin API authentication, checked against Ghost's rules and error codes
// (ghost/core/core/server/services/auth/api-key/admin.js): the Admin key JWT, content keys
// refused, staff-only routes, and which routes need no credentials at all.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {SignJWT, UnsecuredJWT} from 'jose';
import {DIALECTS, request, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const TAGS = '/ghost/api/admin/tags/';

/** Asserts a Ghost error envelope with `status`, `type` and (when given) `code`. */
function assertError(response: {status: number; body: any}, status: number, type: string, code?: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.errors?.[0]?.type, type);
  if (code !== undefined) assert.equal(response.body.errors[0].code, code);
}

for (const dialect of DIALECTS) {
  describe(`Admin API key authentication (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Awaited<ReturnType<typeof staffSession>>;
    const get = (pathname: string, authorization?: string) =>
      request(herald, 'GET', pathname, {headers: authorization === undefined ? {} : {authorization}});
    const now = () => Math.floor(Date.now() / 1000);

    before(async () => {
      herald = await startHerald(dialect);
      staff = await staffSession(herald);
    });
    after(async () => herald?.close());

    test('a valid token is accepted', async () => {
      const response = await get(TAGS, await adminToken(herald.integration.admin_key));
      assert.equal(response.status, 200);
      assert.ok(Array.isArray(response.body.tags));
    });

    test('no Authorization header and no cookie is a 403 NoPermissionError', async () => {
      assertError(await get(TAGS), 403, 'NoPermissionError');
    });

    test('another scheme is a 401 INVALID_AUTH_HEADER', async () => {
      assertError(await get(TAGS, 'Bearer x'), 401, 'UnauthorizedError', 'INVALID_AUTH_HEADER');
    });

    test('an undecodable token is a 400 INVALID_JWT', async () => {
      assertError(await get(TAGS, 'Ghost abc'), 400, 'BadRequestError', 'INVALID_JWT');
    });

    test('a token without kid is a 400 MISSING_ADMIN_API_KID', async () => {
      assertError(await get(TAGS, await adminToken(herald.integration.admin_key, {kid: null})), 400, 'BadRequestError', 'MISSING_ADMIN_API_KID');
    });

    test('an unknown kid is a 401 UNKNOWN_ADMIN_API_KEY', async () => {
      const token = await adminToken(herald.integration.admin_key, {kid: 'ffffffffffffffffffffffff'});
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'UNKNOWN_ADMIN_API_KEY');
    });

    test('a content key is a 401 INVALID_API_KEY_TYPE', async () => {
      const content = await herald.database.db
        .selectFrom('api_keys')
        .select(['id', 'secret'])
        .where('integration_id', '=', herald.integration.id)
        .where('type', '=', 'content')
        .executeTakeFirstOrThrow();
      // Content secrets are 26 hex (13 bytes); sign with it so only the type can be wrong.
      const token = await adminToken(`${content.id}:${content.secret}`);
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_API_KEY_TYPE');
    });

    test('a wrong secret is a 401 INVALID_JWT', async () => {
      const token = await adminToken(herald.integration.admin_key, {secret: 'ab'.repeat(32)});
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('only HS256 is accepted: HS512 and alg none are 401 INVALID_JWT', async () => {
      const [id, secret] = herald.integration.admin_key.split(':');
      const hs512 = await new SignJWT({}).setProtectedHeader({alg: 'HS512', kid: id!}).setIssuedAt().setExpirationTime('5m').setAudience('/admin/').sign(Buffer.from(secret!, 'hex'));
      assertError(await get(TAGS, `Ghost ${hs512}`), 401, 'UnauthorizedError', 'INVALID_JWT');
      // An unsecured JWT with a kid added to its header: no signature at all.
      const unsecured = new UnsecuredJWT({}).setIssuedAt().setExpirationTime('5m').setAudience('/admin/').encode();
      const header = Buffer.from(JSON.stringify({alg: 'none', kid: id})).toString('base64url');
      assertError(await get(TAGS, `Ghost ${header}.${unsecured.split('.')[1]}.`), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('an expired token is a 401 INVALID_JWT', async () => {
      const token = await adminToken(herald.integration.admin_key, {iat: now() - 120, exp: now() - 60});
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('a token issued more than 5 minutes ago is a 401 INVALID_JWT even if exp is later', async () => {
      const token = await adminToken(herald.integration.admin_key, {iat: now() - 6 * 60, exp: now() + 600});
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('a token from a client whose clock runs ahead is accepted (jsonwebtoken allows a future iat)', async () => {
      const token = await adminToken(herald.integration.admin_key, {iat: now() + 30, exp: now() + 330});
      assert.equal((await get(TAGS, token)).status, 200);
    });

    test('a wrong audience is a 401 INVALID_JWT', async () => {
      const token = await adminToken(herald.integration.admin_key, {audience: '/content/'});
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('audiences matching Ghost\'s unanchored /\\/?admin\\/?$/ are accepted', async () => {
      for (const audience of ['/admin/', 'admin', '/ghost/api/admin/', '/v5/admin/']) {
        const response = await get(TAGS, await adminToken(herald.integration.admin_key, {audience}));
        assert.equal(response.status, 200, `audience ${audience}`);
      }
    });

    test('the scheme is case-insensitive', async () => {
      const token = (await adminToken(herald.integration.admin_key)).replace(/^Ghost /, 'ghost ');
      assert.equal((await get(TAGS, token)).status, 200);
    });

    test('after a key refresh the old secret is refused and the new one works', async () => {
      const other = await herald.createIntegration('Refreshed');
      const [keyId] = other.admin_key.split(':');
      const refreshed = await staff('POST', `/integrations/${other.id}/api_key/${keyId}/refresh/`);
      assert.equal(refreshed.status, 200);
      const key = refreshed.body.integrations[0].api_keys.find((k: any) => k.id === keyId);
      assert.match(key.secret, /^[0-9a-f]{64}$/);
      assertError(await get(TAGS, await adminToken(other.admin_key)), 401, 'UnauthorizedError', 'INVALID_JWT');
      assert.equal((await get(TAGS, await adminToken(`${keyId}:${key.secret}`))).status, 200);
    });

    test('a token accepted once is refused with the same token after its key is refreshed', async () => {
      const other = await herald.createIntegration('Reused token');
      const [keyId] = other.admin_key.split(':');
      const token = await adminToken(other.admin_key);
      assert.equal((await get(TAGS, token)).status, 200);
      assert.equal((await get(TAGS, token)).status, 200); // the same token again
      assert.equal((await staff('POST', `/integrations/${other.id}/api_key/${keyId}/refresh/`)).status, 200);
      assertError(await get(TAGS, token), 401, 'UnauthorizedError', 'INVALID_JWT');
    });

    test('an integration key on a staff-only route is a 501 NotImplementedError', async () => {
      assertError(await get('/ghost/api/admin/integrations/', await adminToken(herald.integration.admin_key)), 501, 'NotImplementedError');
    });

    test('a percent-encoded path cannot skip authentication', async () => {
      // `%61dmin` routes to the tags handler; authentication must follow the route, not the raw URL.
      const response = await get('/ghost/api/%61dmin/tags/');
      assertError(response, 403, 'NoPermissionError');
    });

    test('setup status needs no credentials; /site/ neither (when registered)', async () => {
      assert.equal((await get('/ghost/api/admin/authentication/setup/')).status, 200);
      const site = await get('/ghost/api/admin/site/');
      // /site/ is written concurrently; until it exists the route is simply unknown.
      if (site.status !== 404) assert.equal(site.status, 200);
    });
  });
}

describe('a token reused as time passes (its signature verified once)', () => {
  let herald: TestHerald;
  let offsetMs = 0;
  before(async () => {
    herald = await startHerald('sqlite', {worker: false, clock: {now: () => new Date(Date.now() + offsetMs)}});
  });
  after(async () => herald?.close());

  test('is refused once it has expired or is older than 5 minutes, with the same errors as a fresh one', async () => {
    const get = (authorization: string) => request(herald, 'GET', TAGS, {headers: {authorization}});
    const iat = Math.floor(Date.now() / 1000);
    const short = await adminToken(herald.integration.admin_key, {iat, exp: iat + 60});
    const long = await adminToken(herald.integration.admin_key, {iat, exp: iat + 3600});
    assert.equal((await get(short)).status, 200);
    assert.equal((await get(long)).status, 200);
    offsetMs = 61_000;
    const expired = await get(short);
    assertError(expired, 401, 'UnauthorizedError', 'INVALID_JWT');
    assert.equal(expired.body.errors[0].message, 'Invalid token: jwt expired');
    assert.equal((await get(long)).status, 200);
    offsetMs = 301_000;
    const old = await get(long);
    assertError(old, 401, 'UnauthorizedError', 'INVALID_JWT');
    assert.equal(old.body.errors[0].message, 'Invalid token: maxAge exceeded');
  });
});
