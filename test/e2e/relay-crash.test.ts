// The relay's promise, tested the hard way: a real `herald serve` acknowledges Ghost deliveries
// at its ingest endpoint while the onward receiver is down, is killed with SIGKILL (in the middle
// of a burst of ingests), restarts, and every delivery it acknowledged still arrives onward,
// byte for byte, once the receiver is up.
import {after, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {once} from 'node:events';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {freePort, killChildren, runHerald, startFastRetryServe as startServer, storeArgs} from '../support/process.ts';
import {loadFixtures, sign} from '../relay/support.ts';

for (const dialect of DIALECTS) {
  describe(`relay crash safety (${dialect})`, () => {
    let store: TestStore | undefined;
    let receiver: http.Server | undefined;
    after(async () => {
      killChildren();
      receiver?.close();
      await store?.drop();
    });

    test('an acknowledged ingest is delivered after SIGKILL and restart', {timeout: 90_000}, async () => {
      store = await createStore(dialect);
      const integration = await runHerald(['integration', 'create', '--name', 'Relay crash', '--json', ...storeArgs(store)]);
      assert.equal(integration.code, 0, integration.stderr);
      const adminKey = JSON.parse(integration.stdout).admin_key as string;
      const created = await runHerald(['source', 'create', '--name', 'Upstream Ghost', '--json', ...storeArgs(store)]);
      assert.equal(created.code, 0, created.stderr);
      const source = JSON.parse(created.stdout) as {id: string; secret: string; ingest_path: string};
      const port = await freePort();

      let server = await startServer(store);
      const hook = await fetch(`${server.url}/ghost/api/admin/webhooks/`, {
        method: 'POST',
        headers: {authorization: await adminToken(adminKey), 'content-type': 'application/json'},
        body: JSON.stringify({webhooks: [{event: 'post.published', target_url: `http://127.0.0.1:${port}/hook`, source_id: source.id}]}),
      });
      assert.equal(hook.status, 201, await hook.text());

      // Distinct bodies (a real Ghost body with a numbered title), so each arrival is identifiable.
      const fixture = loadFixtures().find((f) => f.event === 'post.published')!;
      const bodies = Array.from({length: 50}, (_, i) => fixture.raw.replace(/"title":"[^"]*"/, `"title":"relay-${i}"`));
      const ingest = async (raw: string): Promise<boolean> => {
        const response = await fetch(`${server.url}${source.ingest_path}post.published`, {
          method: 'POST',
          headers: {'content-type': 'application/json', 'x-ghost-signature': sign(raw, source.secret)},
          body: raw,
        });
        return response.status === 202;
      };

      // A first batch acknowledged for sure while the receiver is down.
      const acknowledged = new Set<string>();
      for (const raw of bodies.slice(0, 10)) {
        assert.equal(await ingest(raw), true);
        acknowledged.add(raw);
      }
      // A burst in flight when the process is killed: what was acknowledged must arrive.
      const burst = bodies.slice(10).map((raw) => ingest(raw).then((ok) => ok && acknowledged.add(raw)).catch(() => false));
      await new Promise((resolve) => setTimeout(resolve, 30));
      server.child.kill('SIGKILL');
      await Promise.all(burst);
      if (server.child.exitCode === null && server.child.signalCode === null) await once(server.child, 'exit');

      server = await startServer(store);
      const received = new Set<string>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`missing ${[...acknowledged].filter((raw) => !received.has(raw)).length} of ${acknowledged.size}`)), 30_000);
        receiver = http.createServer((request, response) => {
          const chunks: Buffer[] = [];
          request.on('data', (chunk: Buffer) => chunks.push(chunk));
          request.on('end', () => {
            received.add(Buffer.concat(chunks).toString('utf8'));
            response.writeHead(200).end('ok');
            if ([...acknowledged].every((raw) => received.has(raw))) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        receiver.listen(port, '127.0.0.1');
      });
      // Every arrival is one of the bodies Ghost sent, unchanged.
      for (const raw of received) assert.ok(bodies.includes(raw), 'an onward body differs from what Ghost sent');
    });
  });
}
