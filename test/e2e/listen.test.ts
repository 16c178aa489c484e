// `herald listen --forward-to` as a developer runs it: real `herald serve` and `herald listen`
// child processes, a real local app server, the official admin-api client making the changes,
// and the forwarded requests verified with the official standardwebhooks package and the
// secret the listener printed. The server runs with the SSRF guard on throughout.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {ChildProcess} from 'node:child_process';
import {Webhook} from 'standardwebhooks';
// @ts-expect-error the official client ships no types
import GhostAdminAPI from '@tryghost/admin-api';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {freePort, killChildren, runHerald, spawnHerald, startServe, storeArgs, terminate} from '../support/process.ts';
import {ghostSignature} from '../../src/delivery/signing.ts';
import {loadConfig} from '../../src/config.ts';
import {openDatabase} from '../../src/db/database.ts';

after(() => killChildren());

/** One request the local app received. */
interface Received {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** The developer's app: records every request, answers `status`. */
async function startApp(status = 200): Promise<{url: string; received: Received[]; close(): Promise<void>}> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({url: req.url ?? '', headers: req.headers, body});
      res.writeHead(status, {'content-type': 'text/plain'}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A running `herald listen`: its output so far, and a way to wait for a line. */
interface Listener {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  waitFor(pattern: RegExp, where?: 'stdout' | 'stderr', ms?: number): Promise<RegExpExecArray>;
  exited(): Promise<number | null>;
}

function listen(args: string[], env: Record<string, string> = {}): Listener {
  const child = spawnHerald(['listen', ...args], env);
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout!.on('data', (chunk) => ((out += chunk), poke()));
  child.stderr!.on('data', (chunk) => ((err += chunk), poke()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => (poke(), resolve(code))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitFor(pattern, where = 'stdout', ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(where === 'stdout' ? out : err);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(match);
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`listen exited (${child.exitCode}) before ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${ms} ms\nstdout:\n${out}\nstderr:\n${err}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

/** Stops a listener with ^C and returns its exit code. */
function interrupt(listener: Listener): Promise<number | null> {
  listener.child.kill('SIGINT');
  return listener.exited();
}

/** Waits until `received` holds `count` requests (or fails after `ms`). */
async function arrivals(received: Received[], count: number, ms = 10_000): Promise<Received[]> {
  const deadline = Date.now() + ms;
  while (received.length < count) {
    if (Date.now() > deadline) assert.fail(`expected ${count} forwarded requests, got ${received.length}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return received;
}

const READY = /Ready! Your webhook signing secret is (whsec_[A-Za-z0-9+/=]+) \(\^C to quit\)/;

for (const dialect of DIALECTS) {
  describe(`herald listen (${dialect})`, {concurrency: 1}, () => {
    let store: TestStore;
    let port: number;
    let server: {child: ChildProcess; url: string};
    let key: string;
    let api: any;

    before(async () => {
      store = await createStore(dialect);
      const created = await runHerald(['integration', 'create', '--name', 'Local dev', '--json', ...storeArgs(store)]);
      assert.equal(created.code, 0, created.stderr);
      key = JSON.parse(created.stdout).admin_key;
      port = await freePort();
      // No --allow-private-targets: the SSRF guard is on, and listen still reaches localhost.
      server = await startServe(['--port', String(port), ...storeArgs(store)]);
      api = new GhostAdminAPI({url: server.url, key, version: 'v5.0'});
    });
    after(async () => {
      if (server?.child.exitCode === null) await terminate(server.child);
      await store?.drop();
    });

    test('forwards every event with its exact body and headers; the printed secret verifies them', async () => {
      const app = await startApp();
      const listener = listen(['--forward-to', app.url, '--url', server.url, '--key', key]);
      try {
        const secret = (await listener.waitFor(READY))[1]!;
        const tag = await api.tags.add({name: 'Listened'});
        // Adding a tag fires tag.added, then site.changed (as in Ghost); forwards run side by side.
        const received = await arrivals(app.received, 2);
        assert.deepEqual(received.map((r) => JSON.parse(r.body).event).sort(), ['site.changed', 'tag.added']);
        const request = received.find((r) => JSON.parse(r.body).event === 'tag.added');
        assert.equal(request!.url, '/webhooks');
        assert.equal(request!.headers['content-type'], 'application/json');
        assert.match(String(request!.headers['user-agent']), /^Herald\//);
        // The official Standard Webhooks verifier accepts it with the printed secret.
        const payload = new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>) as any;
        assert.equal(payload.event, 'tag.added');
        assert.equal(payload.tag.current.id, tag.id);
        // So does a Ghost receiver checking X-Ghost-Signature.
        const ghost = String(request!.headers['x-ghost-signature']);
        const t = Number(/t=(\d+)/.exec(ghost)![1]);
        assert.equal(ghost, ghostSignature(request!.body, secret, t));
        // The exact stored body: the same bytes the events table holds.
        const database = await openDatabase(loadConfig(store.flags, {}));
        const stored = await database.db.selectFrom('events').select(['id', 'payload']).where('name', '=', 'tag.added').executeTakeFirstOrThrow();
        await database.close();
        assert.equal(request!.body, stored.payload);
        const id = String(request!.headers['webhook-id']);
        assert.equal(id, stored.id);
        await listener.waitFor(new RegExp(`--> tag\\.added \\[${id}\\]`));
        await listener.waitFor(new RegExp(`<-- \\[200\\] POST ${app.url.replace(/[.]/g, '\\.')} \\[${id}\\]`));
        assert.equal(await interrupt(listener), 0);
        assert.equal(listener.stderr(), '');
      } finally {
        listener.child.kill('SIGKILL');
        await app.close();
      }
    });

    test('the secret is the same on every run; --events filters; the app answering 500 or not at all is printed', async () => {
      const app = await startApp(500);
      const first = listen(['--forward-to', app.url], {HERALD_URL: server.url, HERALD_ADMIN_KEY: key});
      const firstSecret = (await first.waitFor(READY))[1]!;
      assert.equal(await interrupt(first), 0);

      const listener = listen(['--forward-to', app.url, '--events', 'post.published,member.added', '--url', server.url, '--key', key]);
      try {
        assert.equal((await listener.waitFor(READY))[1], firstSecret);
        await api.tags.add({name: 'Not wanted'});
        const post = await api.posts.add({title: 'Filtered', status: 'published'});
        await api.members.add({email: 'listen@example.com'});
        const received = await arrivals(app.received, 2);
        await new Promise((resolve) => setTimeout(resolve, 300)); // nothing else trails in
        assert.deepEqual(received.map((r) => JSON.parse(r.body).event ?? Object.keys(JSON.parse(r.body))[0]).sort(), ['member.added', 'post.published']);
        const published = received.find((r) => r.body.includes(post.id))!;
        new Webhook(firstSecret).verify(published.body, published.headers as Record<string, string>);
        await listener.waitFor(/<-- \[500\] POST .* \[[0-9a-f]{24}\]/);
        assert.doesNotMatch(listener.stdout(), /tag\.added|post\.added/);
      } finally {
        assert.equal(await interrupt(listener), 0);
        await app.close();
      }

      // An app that is not running: the listener says so and keeps going.
      const gone = await freePort();
      const orphan = listen(['--forward-to', `http://127.0.0.1:${gone}/hook`, '--url', server.url, '--key', key]);
      try {
        await orphan.waitFor(READY);
        await api.tags.add({name: 'Nobody home'});
        await orphan.waitFor(/<-- \[ERROR\] POST http:\/\/127\.0\.0\.1:\d+\/hook \[[0-9a-f]{24}\] .*ECONNREFUSED/);
      } finally {
        assert.equal(await interrupt(orphan), 0);
      }
    });

    test('a wrong key, an unknown event, an unreachable server and bad usage each end with one clear line', async () => {
      const app = await startApp();
      try {
        const wrongKey = `${'a'.repeat(24)}:${'b'.repeat(64)}`;
        const refused = listen(['--forward-to', app.url, '--url', server.url, '--key', wrongKey]);
        assert.equal(await refused.exited(), 1);
        assert.match(refused.stderr(), /^herald listen: Herald at http:\/\/127\.0\.0\.1:\d+ refused the listener: 401 .+\n$/);
        assert.equal(refused.stdout(), '');

        const unknown = listen(['--forward-to', app.url, '--url', server.url, '--key', key, '--events', 'post.published,post.teleported']);
        assert.equal(await unknown.exited(), 1);
        assert.match(unknown.stderr(), /422 .*post\.teleported/);

        const nowhere = listen(['--forward-to', app.url, '--url', `http://127.0.0.1:${await freePort()}`, '--key', key]);
        assert.equal(await nowhere.exited(), 1);
        assert.match(nowhere.stderr(), /^herald listen: cannot reach Herald at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\)\n$/);

        for (const [args, message] of [
          [['--url', server.url, '--key', key], /--forward-to/],
          [['--forward-to', 'ftp://example.com/x', '--url', server.url, '--key', key], /--forward-to must be an http/],
          [['--forward-to', app.url, '--url', server.url], /Admin API key/],
          [['--forward-to', app.url, '--url', server.url, '--key', 'not-a-key'], /--key must be an Admin API key/],
        ] as const) {
          const result = await runHerald(['listen', ...args]);
          assert.equal(result.code, 2, result.stderr);
          assert.match(result.stderr, message);
        }
      } finally {
        await app.close();
      }
    });

    test('a server restart: the listener says it lost the connection, reconnects with the same secret, and goes on forwarding', async () => {
      const app = await startApp();
      const listener = listen(['--forward-to', app.url, '--url', server.url, '--key', key, '--events', 'tag.added']);
      try {
        const secret = (await listener.waitFor(READY))[1]!;
        assert.equal(await terminate(server.child), 0);
        await listener.waitFor(/Lost the connection to http:\/\/127\.0\.0\.1:\d+ \(.+\); reconnecting in 1s/, 'stderr');
        server = await startServe(['--port', String(port), ...storeArgs(store)]);
        await listener.waitFor(/Reconnected to http:\/\/127\.0\.0\.1:\d+\./, 'stderr', 30_000);
        await api.tags.add({name: 'After the restart'});
        const [request] = await arrivals(app.received, 1);
        assert.equal(JSON.parse(request!.body).tag.current.name, 'After the restart');
        new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>);
        assert.equal(listener.stdout().match(/Ready!/g)?.length, 1, 'the secret did not change, so Ready is printed once');
      } finally {
        assert.equal(await interrupt(listener), 0);
        await app.close();
      }
    });
  });
}

describe('herald listen on PostgreSQL with two server processes', () => {
  test('a listener on one process receives events committed through the other', async () => {
    const store = await createStore('postgres');
    const app = await startApp();
    const servers: ChildProcess[] = [];
    try {
      const created = await runHerald(['integration', 'create', '--name', 'Two processes', '--json', ...storeArgs(store)]);
      const key = JSON.parse(created.stdout).admin_key;
      const a = await startServe(['--port', '0', ...storeArgs(store)]);
      servers.push(a.child);
      const b = await startServe(['--port', '0', ...storeArgs(store)]);
      servers.push(b.child);
      const listener = listen(['--forward-to', app.url, '--url', a.url, '--key', key, '--events', 'tag.added']);
      try {
        const secret = (await listener.waitFor(READY))[1]!;
        const viaB = new GhostAdminAPI({url: b.url, key, version: 'v5.0'});
        const tag = await viaB.tags.add({name: 'Made on B'});
        const viaA = new GhostAdminAPI({url: a.url, key, version: 'v5.0'});
        await viaA.tags.add({name: 'Made on A'});
        const received = await arrivals(app.received, 2);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(app.received.length, 2, 'each event once, however many processes there are');
        const payloads = received.map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as any);
        assert.deepEqual(payloads.map((p) => p.tag.current.name).sort(), ['Made on A', 'Made on B']);
        assert.ok(payloads.some((p) => p.tag.current.id === tag.id));
      } finally {
        assert.equal(await interrupt(listener), 0);
      }
    } finally {
      for (const child of servers) await terminate(child);
      await app.close();
      await store.drop();
    }
  });
});
