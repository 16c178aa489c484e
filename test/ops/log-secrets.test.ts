// SPEC §11: logs never contain a secret. A realistic session — integration keys, staff setup
// and sign-in, webhooks with explicit and generated secrets, signed deliveries to a loopback
// receiver and to a failing one, bad credentials — then every captured log line is scanned
// for every secret used.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {receiver, until, type Receiver} from './support.ts';

for (const dialect of DIALECTS) {
  describe(`no secrets in logs (${dialect})`, () => {
    let herald: TestHerald;
    const receivers: Receiver[] = [];
    before(async () => {
      // trace: the most verbose level, so a secret logged at any level shows up.
      herald = await startHerald(dialect, {flags: {'allow-private-targets': true, 'log-level': 'trace'}});
    });
    after(async () => {
      await Promise.all(receivers.map((r) => r.close()));
      await herald?.close();
    });

    test('a realistic session logs none of the secrets it used', async () => {
      const secrets = new Map<string, string>();
      const keep = (label: string, value: string | null | undefined) => {
        assert.ok(value && value.length >= 8, `${label} is a usable secret`);
        secrets.set(label, value);
      };
      const ok = await receiver();
      const failing = await receiver({status: 500});
      const gone = await receiver({status: 410});
      receivers.push(ok, failing, gone);

      // The integration's keys, used through the official client and raw JWTs.
      const [adminId, adminSecret] = herald.integration.admin_key.split(':');
      keep('admin key secret', adminSecret);
      keep('content key', herald.integration.content_key);
      const token = await adminToken(herald.integration.admin_key);
      keep('admin JWT', token.replace(/^Ghost /, ''));
      assert.equal((await request(herald, 'GET', '/ghost/api/admin/site/', {headers: {authorization: token}})).status, 200);
      await herald.api.tags.browse();
      // Wrong and malformed credentials: rejected, never echoed into logs.
      const forged = await adminToken(`${adminId}:${'ab'.repeat(32)}`);
      keep('forged JWT', forged.replace(/^Ghost /, ''));
      assert.equal((await request(herald, 'GET', '/ghost/api/admin/tags/', {headers: {authorization: forged}})).status, 401);
      assert.equal((await request(herald, 'GET', `/ghost/api/admin/tags/?key=${herald.integration.content_key}`)).status, 403);
      await request(herald, 'GET', `/ghost/api/content/posts/?key=${herald.integration.content_key}`);

      // Staff: first-run setup with a password, sign-in, a failed sign-in, a malformed one.
      const password = 'Tr0ub4dor&3-horse-battery';
      keep('password', password);
      const staff = await staffSession(herald, {name: 'Ada Owner', email: 'ada@example.com', password, blogTitle: 'Secrets'});
      const signIn = await fetch(`${herald.url}/ghost/api/admin/session/`, {
        method: 'POST',
        headers: {'content-type': 'application/json', origin: herald.url},
        body: JSON.stringify({username: 'ada@example.com', password}),
      });
      assert.equal(signIn.status, 201);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
      keep('session cookie value', cookie.slice(cookie.indexOf('=') + 1));
      const wrongPassword = 'not-the-password-9f8e7d';
      keep('wrong password', wrongPassword);
      const denied = await fetch(`${herald.url}/ghost/api/admin/session/`, {
        method: 'POST',
        headers: {'content-type': 'application/json', origin: herald.url},
        body: JSON.stringify({username: 'ada@example.com', password: wrongPassword}),
      });
      assert.ok(denied.status >= 400 && denied.status < 500);
      await fetch(`${herald.url}/ghost/api/admin/session/`, {
        method: 'POST',
        headers: {'content-type': 'application/json', origin: herald.url},
        body: `{"username":"ada@example.com","password":"${password}"`,
      });
      assert.equal((await request(herald, 'GET', '/ghost/api/admin/users/me/', {headers: {cookie, origin: herald.url}})).status < 500, true);

      // Staff make a second integration and refresh its Admin key.
      const created = await staff('POST', '/integrations/?include=api_keys', {integrations: [{name: 'Zapier'}]});
      assert.equal(created.status, 201);
      const integration = created.body.integrations[0];
      for (const key of integration.api_keys) keep(`integration ${key.type} key`, key.secret);
      const adminKey = integration.api_keys.find((k: any) => k.type === 'admin');
      const refreshed = await staff('POST', `/integrations/${integration.id}/api_key/${adminKey.id}/refresh/`);
      assert.equal(refreshed.status, 200);
      for (const key of refreshed.body.integrations[0].api_keys) keep(`refreshed ${key.type} key`, key.secret);

      // Webhooks: explicit secrets, a generated one, credentials in a target URL.
      const explicit = 'explicit-webhook-secret-5a1b2c';
      keep('explicit webhook secret', explicit);
      const hooks = [
        await herald.api.webhooks.add({event: 'post.published', target_url: ok.url, secret: explicit}),
        await herald.api.webhooks.add({event: 'post.published', target_url: `${ok.url}?generated=1`}),
        await herald.api.webhooks.add({event: 'post.published', target_url: failing.url, secret: 'failing-endpoint-secret-77aa'}),
        await herald.api.webhooks.add({event: 'post.published', target_url: gone.url, secret: 'whsec_' + Buffer.from('gone-endpoint-secret-bytes').toString('base64')}),
      ];
      const withQuery = await herald.api.webhooks.add({event: 'post.published', target_url: `${ok.url}?token=query-token-secret-31337`});
      keep('target URL query token', 'query-token-secret-31337');
      hooks.push(withQuery);
      for (const hook of hooks) {
        keep(`webhook ${hook.id} secret`, hook.secret);
        if (hook.secret.startsWith('whsec_')) keep(`webhook ${hook.id} secret bytes`, hook.secret.slice('whsec_'.length));
      }
      const staffHook = await staff('POST', '/webhooks/', {webhooks: [{event: 'post.published', target_url: `${ok.url}?staff=1`, integration_id: integration.id, secret: 'staff-made-secret-0042'}]});
      if (staffHook.status === 201) keep('staff webhook secret', staffHook.body.webhooks[0].secret);

      // Deliveries: signed, to a receiver that answers, one that fails and one that is gone.
      await herald.api.posts.add({title: 'Secret-free logs', html: '<p>Hi</p>', status: 'published'}, {source: 'html'});
      await until(() => ok.got.length >= 3 && failing.got.length >= 1 && gone.got.length >= 1, 5_000);
      await until(() => herald.logs.filter((l) => l.includes('"delivery attempt"')).length >= hooks.length, 5_000);
      const signatures = [...ok.got, ...failing.got].map((r) => String(r.headers['x-ghost-signature']).split(',')[0]!.replace('sha256=', ''));
      signatures.forEach((s, i) => keep(`signature ${i}`, s));

      // The session did happen and was logged: a line per request and per attempt.
      assert.ok(herald.logs.some((l) => l.includes('"msg":"request"')));
      assert.ok(herald.logs.some((l) => l.includes('"msg":"delivery attempt"') && l.includes('"status":500')));
      assert.ok(herald.logs.some((l) => l.includes('"msg":"webhook disabled"')));

      const leaks: string[] = [];
      for (const line of herald.logs) {
        for (const [label, value] of secrets) {
          if (line.includes(value) || line.includes(JSON.stringify(value).slice(1, -1))) leaks.push(`${label} in: ${line.slice(0, 300)}`);
        }
      }
      assert.deepEqual(leaks, [], `secrets found in ${leaks.length} log lines`);
      assert.ok(secrets.size >= 15, `scanned for ${secrets.size} secrets`);
    });
  });
}
