// The `herald` command as users run it: real child processes of `node bin/herald.js`, on both
// engines. Exit codes, the `--json` contract, the "listening on" line and graceful SIGTERM.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {freePort, killChildren, runHerald as run, startServe as serve, storeArgs, terminate} from '../support/process.ts';

/** Temporary data folders made by this file; after() removes them. */
const tmpDirs: string[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));
  tmpDirs.push(dir);
  return dir;
}

after(() => {
  killChildren();
  for (const dir of tmpDirs) fs.rmSync(dir, {recursive: true, force: true});
});

// The engines and the usage checks are independent: run them side by side (each spawn costs
// about a second of TypeScript loading), each group's own steps in order.
describe('herald CLI', {concurrency: true}, () => {
for (const dialect of DIALECTS) {
  describe(`herald integration and serve (${dialect})`, {concurrency: 1}, () => {
    let store: TestStore;
    let created: {id: string; name: string; admin_key: string; content_key: string};

    before(async () => {
      store = await createStore(dialect);
    });
    after(async () => store?.drop());

    test('integration create --json prints exactly id, name, admin_key, content_key', async () => {
      const result = await run(['integration', 'create', '--name', 'CLI app', '--json', ...storeArgs(store)]);
      assert.equal(result.code, 0, result.stderr);
      created = JSON.parse(result.stdout);
      assert.deepEqual(Object.keys(created), ['id', 'name', 'admin_key', 'content_key']);
      assert.match(created.id, /^[0-9a-f]{24}$/);
      assert.equal(created.name, 'CLI app');
      assert.match(created.admin_key, /^[0-9a-f]{24}:[0-9a-f]{64}$/);
      assert.match(created.content_key, /^[0-9a-f]{26}$/);
    });

    test('integration list --json lists it', async () => {
      const result = await run(['integration', 'list', '--json', ...storeArgs(store)]);
      assert.equal(result.code, 0, result.stderr);
      const list = JSON.parse(result.stdout);
      assert.ok(Array.isArray(list));
      assert.deepEqual(list, [created]);
    });

    test('the printed admin key works against serve on the same database; SIGTERM exits 0', async () => {
      // PORT names a port that is taken: serve starts only if --port 0 wins over it.
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const takenPort = (taken.address() as net.AddressInfo).port;
      const server = await serve(['--port', '0', ...storeArgs(store)], {PORT: String(takenPort)}).finally(() => taken.close());
      assert.ok(server.port > 0);
      assert.notEqual(server.port, takenPort);
      const response = await fetch(`${server.url}/ghost/api/admin/tags/`, {headers: {authorization: await adminToken(created.admin_key)}});
      assert.equal(response.status, 200);
      assert.ok(Array.isArray(((await response.json()) as {tags: unknown[]}).tags));
      assert.equal(await terminate(server.child), 0);
    });
  });
}

describe('herald command-line errors and ports', {concurrency: 1}, () => {
  test('bad usage exits 2 with a message', async () => {
    const [badPort, unknown, noName] = await Promise.all([
      run(['serve', '--port', 'abc']),
      run(['frobnicate']),
      run(['integration', 'create', '--data', tmpDir()]),
    ]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--port/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /frobnicate/);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--name/);
  });

  test('PORT is honoured', async () => {
    const port = await freePort();
    const server = await serve(['--data', tmpDir()], {PORT: String(port)});
    try {
      assert.equal(server.port, port);
    } finally {
      assert.equal(await terminate(server.child), 0);
    }
  });
});
});
