// First-run setup and staff sessions, as Ghost: setup once, sign in with e-mail and password
// from the site's own origin, an HttpOnly cookie, the Origin check on writes, sign out.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, startHerald, type TestHerald} from '../support/herald.ts';

const API = '/ghost/api/admin';
const OWNER = {name: 'Grace Owner', email: 'Grace@Example.com', password: 'a long enough password', blogTitle: 'Grace\'s Site'};
const FOREIGN = 'https://evil.example';

for (const dialect of DIALECTS) {
  describe(`setup and session (${dialect})`, () => {
    let herald: TestHerald;
    /** The session cookie (`name=value`) from the correct sign-in. */
    let cookie = '';

    const signIn = (body: unknown, headers: Record<string, string> = {origin: herald.url}) =>
      request(herald, 'POST', `${API}/session/`, {body, headers});
    const withCookie = (method: string, pathname: string, origin: string | null, body?: unknown) =>
      request(herald, method, `${API}${pathname}`, {body, headers: {cookie, ...(origin === null ? {} : {origin})}});

    before(async () => {
      herald = await startHerald(dialect);
    });
    after(async () => herald?.close());

    // The tests below run in order and build on each other (setup, then sign-in, then use).

    test('setup status is false before setup', async () => {
      const response = await request(herald, 'GET', `${API}/authentication/setup/`);
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, {setup: [{status: false}]});
    });

    test('invalid setup input is a 422 naming the property', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{...OWNER, email: 'not-an-email'}, 'email'],
        [{...OWNER, password: 'short'}, 'password'],
        [{...OWNER, name: ''}, 'name'],
      ];
      for (const [setup, property] of cases) {
        const response = await request(herald, 'POST', `${API}/authentication/setup/`, {body: {setup: [setup]}});
        assert.equal(response.status, 422, property);
        assert.equal(response.body.errors[0].type, 'ValidationError');
        assert.equal(response.body.errors[0].property, property);
      }
      assert.deepEqual((await request(herald, 'GET', `${API}/authentication/setup/`)).body, {setup: [{status: false}]});
    });

    test('setup makes the owner; status becomes true; the site title is set', async () => {
      const response = await request(herald, 'POST', `${API}/authentication/setup/`, {body: {setup: [OWNER]}});
      assert.equal(response.status, 201);
      const user = response.body.users[0];
      assert.equal(user.name, OWNER.name);
      assert.equal(user.email, OWNER.email.toLowerCase());
      assert.equal(user.status, 'active');
      assert.equal(user.password, undefined);
      assert.deepEqual((await request(herald, 'GET', `${API}/authentication/setup/`)).body, {setup: [{status: true}]});
      const title = await herald.database.db.selectFrom('settings').select('value').where('key', '=', 'title').executeTakeFirstOrThrow();
      assert.equal(title.value, OWNER.blogTitle);
    });

    test('the password is stored hashed', async () => {
      const row = await herald.database.db.selectFrom('users').select('password').where('email', '=', OWNER.email.toLowerCase()).executeTakeFirstOrThrow();
      assert.ok(row.password?.startsWith('scrypt$'));
      assert.ok(!row.password!.includes(OWNER.password));
    });

    test('a second setup is a 403', async () => {
      const response = await request(herald, 'POST', `${API}/authentication/setup/`, {body: {setup: [{...OWNER, email: 'other@example.com'}]}});
      assert.equal(response.status, 403);
      assert.equal(response.body.errors[0].type, 'NoPermissionError');
    });

    test('sign-in without an Origin (or Referer) is a 400', async () => {
      const response = await signIn({username: OWNER.email, password: OWNER.password}, {});
      assert.equal(response.status, 400);
      assert.equal(response.body.errors[0].type, 'BadRequestError');
    });

    test('sign-in from a foreign Origin is a 400', async () => {
      const response = await signIn({username: OWNER.email, password: OWNER.password}, {origin: FOREIGN});
      assert.equal(response.status, 400);
      assert.equal(response.body.errors[0].type, 'BadRequestError');
    });

    test('a wrong password is a 422; an unknown user a 404', async () => {
      const wrong = await signIn({username: OWNER.email, password: 'not the password'});
      assert.equal(wrong.status, 422);
      assert.equal(wrong.body.errors[0].type, 'ValidationError');
      const unknown = await signIn({username: 'nobody@example.com', password: OWNER.password});
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.errors[0].type, 'NotFoundError');
      assert.equal(wrong.headers.get('set-cookie'), null);
    });

    test('the right credentials give 201 and an HttpOnly session cookie', async () => {
      // The e-mail is matched case-insensitively; a Referer serves as the origin too.
      const response = await signIn({username: OWNER.email.toUpperCase(), password: OWNER.password}, {referer: `${herald.url}/ghost/`});
      assert.equal(response.status, 201);
      const setCookie = response.headers.get('set-cookie') ?? '';
      assert.match(setCookie, /^ghost-admin-api-session=[^;]+;/);
      assert.match(setCookie, /;\s*HttpOnly/i);
      assert.match(setCookie, /;\s*Path=\/ghost/i);
      cookie = setCookie.split(';')[0]!;
    });

    test('the cookie authenticates reads', async () => {
      const response = await withCookie('GET', '/integrations/', null);
      assert.equal(response.status, 200);
      assert.ok(Array.isArray(response.body.integrations));
    });

    test('the cookie authenticates writes from the site origin only', async () => {
      const created = await withCookie('POST', '/integrations/', herald.url, {integrations: [{name: 'From the UI'}]});
      assert.equal(created.status, 201);
      const id = created.body.integrations[0].id;
      for (const [method, pathname, body] of [
        ['POST', '/integrations/', {integrations: [{name: 'CSRF'}]}],
        ['PUT', `/integrations/${id}/`, {integrations: [{name: 'CSRF'}]}],
        ['DELETE', `/integrations/${id}/`, undefined],
      ] as const) {
        const foreign = await withCookie(method, pathname, FOREIGN, body);
        assert.equal(foreign.status, 400, `${method} from a foreign origin`);
        assert.equal(foreign.body.errors[0].type, 'BadRequestError');
        const none = await withCookie(method, pathname, null, body);
        assert.equal(none.status, 400, `${method} without an origin`);
      }
      // Nothing the refused requests asked for happened.
      const names = (await withCookie('GET', '/integrations/', null)).body.integrations.map((i: any) => i.name);
      assert.ok(names.includes('From the UI'));
      assert.ok(!names.includes('CSRF'));
    });

    test('DELETE /session/ signs out: the cookie stops working', async () => {
      const response = await withCookie('DELETE', '/session/', herald.url);
      assert.equal(response.status, 204);
      assert.match(response.headers.get('set-cookie') ?? '', /ghost-admin-api-session=;/);
      const after = await withCookie('GET', '/integrations/', null);
      assert.equal(after.status, 403);
      assert.equal(after.body.errors[0].type, 'NoPermissionError');
      const sessions = await herald.database.db.selectFrom('sessions').select('id').execute();
      assert.equal(sessions.length, 0);
    });
  });
}
