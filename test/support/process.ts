/**
 * Real `node bin/herald.js` child processes for end-to-end tests: spawn with a clean
 * environment, wait for serve's "listening on" line, stop with SIGTERM, and kill whatever a
 * test file left running.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {TestStore} from './herald.ts';

/** The repository root (where `bin/herald.js` lives). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/herald.js');

/** Every child spawned and not yet exited; killChildren() ends them. */
const children = new Set<ChildProcess>();

/** The environment without anything that would configure Herald behind the test's back. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'PORT' || key === 'DATABASE_URL' || key.startsWith('HERALD_')) continue;
    env[key] = value;
  }
  return {...env, HERALD_LOG_LEVEL: 'warn', ...extra};
}

/** The `--data` / `--database-url` options that point a command at `store`. */
export function storeArgs(store: TestStore): string[] {
  return ['--data', store.flags.data, ...(store.flags['database-url'] ? ['--database-url', store.flags['database-url']] : [])];
}

/** Spawns `herald <args>` with piped output. */
export function spawnHerald(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe']});
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs a command to completion. */
export function runHerald(args: string[], env: Record<string, string> = {}): Promise<{code: number | null; stdout: string; stderr: string}> {
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

/** Starts `herald serve <args>`, resolving once it prints its "listening on" line. */
export function startServe(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<{child: ChildProcess; url: string; port: number}> {
  const child = spawnHerald(['serve', ...args], env);
  let output = '';
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`${why}\n${output}`));
    const timer = setTimeout(() => fail(`serve did not start within ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({child, url: match[1]!, port: Number(match[2])});
      }
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(`serve exited early with ${code}`);
    });
  });
}

/**
 * Starts `herald serve` on `store` for the crash tests: private targets allowed, 30 retries
 * 250 ms apart and a 2 s delivery timeout, so deliveries that failed while a receiver was down
 * arrive soon after it comes up.
 */
export function startFastRetryServe(store: TestStore): Promise<{child: ChildProcess; url: string; port: number}> {
  return startServe(['--port', '0', ...storeArgs(store), '--allow-private-targets', '--retry-schedule', Array(30).fill('250ms').join(','), '--delivery-timeout', '2s'], {}, 20_000);
}

/** Sends SIGTERM and resolves to the exit code (rejects after `ms`). */
export function terminate(child: ChildProcess, ms = 10_000): Promise<number | null> {
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

/** Kills (SIGKILL) every child still running; for after() hooks. */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** A loopback port that was free a moment ago (nothing listens on it now). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
