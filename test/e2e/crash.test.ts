// The outbox promise, tested the hard way: a real server process takes writes while its
// receiver is down, is killed with SIGKILL (in the middle of a burst of writes), restarts,
// and every event whose change was committed still arrives once the receiver is up.
import {after, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {once} from 'node:events';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {freePort, killChildren, runHerald, startFastRetryServe as startServer, storeArgs} from '../support/process.ts';

for (const dialect of DIALECTS) {
  describe(`crash safety (${dialect})`, () => {
    let store: TestStore | undefined;
    let receiver: http.Server | undefined;
    after(async () => {
      killChildren();
      receiver?.close();
      await store?.drop();
    });

    test('SIGKILL during a burst of writes loses no committed event', {timeout: 90_000}, async () => {
      store = await createStore(dialect);
      const created = await runHerald(['integration', 'create', '--name', 'Crash test', '--json', ...storeArgs(store)]);
      assert.equal(created.code, 0, created.stderr);
      const adminKey = JSON.parse(created.stdout).admin_key as string;
      const port = await freePort();

      let server = await startServer(store);
      const api = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${server.url}/ghost/api/admin${path}`, {
          method,
          headers: {authorization: await adminToken(adminKey), 'content-type': 'application/json'},
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return {status: response.status, body: await response.json().catch(() => null)};
      };

      const hook = await api('POST', '/webhooks/', {webhooks: [{event: 'tag.added', target_url: `http://127.0.0.1:${port}/hook`}]});
      assert.equal(hook.status, 201, JSON.stringify(hook.body));

      // A first batch committed for sure (each answered 201) while the receiver is down.
      for (let i = 0; i < 10; i++) assert.equal((await api('POST', '/tags/', {tags: [{name: `before-${i}`}]})).status, 201);

      // A burst in flight when the process is killed: some commit, some never do.
      const burst = Array.from({length: 40}, (_, i) => api('POST', '/tags/', {tags: [{name: `burst-${i}`}]}).catch(() => null));
      await new Promise((resolve) => setTimeout(resolve, 40));
      server.child.kill('SIGKILL');
      await Promise.all(burst);
      if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, 'exit');

      // Restart; the committed tags are the truth of what must be delivered.
      server = await startServer(store);
      const list = await api('GET', '/tags/?limit=100');
      const committed = new Set<string>(list.body.tags.map((t: {name: string}) => t.name));
      for (let i = 0; i < 10; i++) assert.ok(committed.has(`before-${i}`));

      // Bring the receiver up and wait for every committed tag's event.
      const received = new Map<string, string>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`missing: ${[...committed].filter((n) => !received.has(n)).join(', ')}`)), 30_000);
        receiver = http.createServer((request, response) => {
          let body = '';
          request.on('data', (chunk) => (body += chunk));
          request.on('end', () => {
            const payload = JSON.parse(body);
            received.set(payload.tag.current.name, String(request.headers['webhook-id']));
            response.writeHead(200).end('ok');
            if ([...committed].every((name) => received.has(name))) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        receiver.listen(port, '127.0.0.1');
      });
      // Nothing that did not commit was delivered (no phantom events).
      for (const name of received.keys()) assert.ok(committed.has(name), `unexpected delivery for ${name}`);
    });
  });
}
