// The `herald` command as users run it: real child processes of `node bin/herald.js`, on both
// engines. Exit codes, the `--json` contract, the "listening on" line and graceful SIGTERM.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {DIALECTS, createStore, type TestStore} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/herald.js');

/** Every child spawned by this file; after() kills any still running. */
const children = new Set<ChildProcess>();
/** Temporary data folders made by this file; after() removes them. */
const tmpDirs: string[] = [];

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-cli-'));
  tmpDirs.push(dir);
  return dir;
}

/** The environment without anything that would configure Herald behind the test's back. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'PORT' || key === 'DATABASE_URL' || key.startsWith('HERALD_')) continue;
    env[key] = value;
  }
  return {...env, HERALD_LOG_LEVEL: 'warn', ...extra};
}

function spawnHerald(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe']});
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs a command to completion. */
function run(args: string[], env: Record<string, string> = {}): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawnHerald(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({code, stdout, stderr}));
  });
}

/** Starts `serve`, resolving once it prints its "listening on" line. */
function serve(args: string[], env: Record<string, string> = {}): Promise<{child: ChildProcess; url: string; port: number}> {
  const child = spawnHerald(['serve', ...args], env);
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${why}\n${output}`));
    const timer = setTimeout(() => fail('serve did not start within 15 s'), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({child, url: match[1]!, port: Number(match[2])});
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(`serve exited early with ${code}`);
    });
  });
}

/** Sends SIGTERM and resolves to the exit code (rejects after `ms`). */
function terminate(child: ChildProcess, ms = 5000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms of SIGTERM`)), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** CLI flags for a store. */
function storeArgs(store: TestStore): string[] {
  return ['--data', store.flags.data, ...(store.flags['database-url'] ? ['--database-url', store.flags['database-url']] : [])];
}

after(() => {
  for (const child of children) child.kill('SIGKILL');
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
