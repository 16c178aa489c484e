/**
 * `npm run bench` (SPEC §12): Herald's delivery engine measured end to end, next to the bare
 * HTTP ceiling of the same machine, in one run. Herald runs as real `herald serve` processes
 * (a fresh database per scenario), the receiver in its own process answering 200 at once, and
 * this process drives the Admin API and reads the clocks. Times are taken with the system-wide
 * monotonic clock (process.hrtime), which every process on the machine shares.
 *
 *   npm run bench [-- --quick] [-- --json] [-- --database-url postgres://…] [-- --check]
 *
 * --quick runs every scenario small (about 15 s; CI runs it so the benchmark cannot rot).
 * --check exits 1 when a first target (issue #7) is missed.
 */
import {fork, spawn, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {randomBytes} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import pg from 'pg';
import {Pool} from 'undici';
import {adminToken} from '../src/lib/admin-token.ts';
import {DEFAULT_CONCURRENCY} from '../src/delivery/worker.ts';
import type {Arrival, ReceiverStats} from './receiver.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/herald.js');
/** The Node flags `npx herald` and `npm start` run with: those on bin/herald.js's first line. */
const NODE_FLAGS = /^#!.*\bnode\b(.*)$/m.exec(fs.readFileSync(BIN, 'utf8').split('\n')[0]!)?.[1]!.trim().split(/\s+/).filter(Boolean) ?? [];

// ---------------------------------------------------------------------------------------------
// Sizes

interface Sizes {
  readonly ceilingRequests: number;
  readonly throughputWebhooks: number;
  readonly throughputPosts: number;
  /**
   * Posts published before the timed ones (their deliveries not counted), and as many bare
   * requests before the ceiling's timed loop: both sides are measured warm, as a long-running
   * server is, not while V8 still compiles their hot paths.
   */
  readonly warmUpPosts: number;
  readonly latencyPosts: number;
  readonly ratePerSecond: number;
  readonly fanout: number;
  readonly isolationPosts: number;
  readonly backlogWebhooks: number;
  readonly backlogPosts: number;
  readonly apiPosts: number;
}

const FULL: Sizes = {
  ceilingRequests: 10_000,
  throughputWebhooks: 100,
  throughputPosts: 100,
  warmUpPosts: 20,
  latencyPosts: 300,
  ratePerSecond: 30,
  fanout: 1000,
  isolationPosts: 150,
  backlogWebhooks: 1000,
  backlogPosts: 100,
  apiPosts: 300,
};

const QUICK: Sizes = {
  ceilingRequests: 2000,
  throughputWebhooks: 20,
  throughputPosts: 20,
  warmUpPosts: 5,
  latencyPosts: 60,
  ratePerSecond: 30,
  fanout: 200,
  isolationPosts: 45,
  backlogWebhooks: 100,
  backlogPosts: 50,
  apiPosts: 60,
};

/** Herald's global in-flight limit (worker default): the ceiling loop uses the same. */
const CONCURRENCY = DEFAULT_CONCURRENCY;

// ---------------------------------------------------------------------------------------------
// Clocks and statistics

const nowNs = (): bigint => process.hrtime.bigint();
const ms = (ns: bigint): number => Number(ns) / 1e6;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function summary(values: readonly number[]): {p50: number; p99: number; max: number; n: number} {
  const sorted = [...values].sort((a, b) => a - b);
  return {p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN, n: sorted.length};
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

// ---------------------------------------------------------------------------------------------
// The receiver process

interface Receiver {
  readonly url: string;
  readonly pid: number;
  reset(track: boolean): Promise<void>;
  stats(): Promise<ReceiverStats>;
  arrivals(): Promise<Arrival[]>;
  /** Resolves once `count` requests have arrived (polls; fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs: number): Promise<ReceiverStats>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const child = fork(path.join(ROOT, 'bench/receiver.ts'), [], {execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc']});
  const pending = new Map<string, (message: any) => void>();
  child.on('message', (message: any) => {
    const resolve = pending.get(message.type);
    pending.delete(message.type);
    resolve?.(message);
  });
  const ask = (type: string, extra: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve) => {
      pending.set(type, resolve);
      child.send({type, ...extra});
    });
  const ready: {port: number} = await new Promise((resolve, reject) => {
    pending.set('ready', resolve);
    child.once('exit', (code) => reject(new Error(`the receiver exited with ${code}`)));
  });
  const receiver: Receiver = {
    url: `http://127.0.0.1:${ready.port}`,
    pid: child.pid!,
    reset: async (track) => void (await ask('reset', {track})),
    stats: async () => (await ask('stats')).stats,
    arrivals: async () => (await ask('arrivals')).arrivals,
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const stats = await receiver.stats();
        if (stats.count >= count) return stats;
        if (Date.now() > deadline) throw new Error(`only ${stats.count} of ${count} deliveries arrived within ${timeoutMs / 1000} s`);
        await sleep(stats.count > count * 0.9 ? 5 : 25);
      }
    },
    async close() {
      child.send({type: 'close'});
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
  return receiver;
}

// ---------------------------------------------------------------------------------------------
// Herald processes

interface Store {
  readonly args: string[];
  drop(): Promise<void>;
}

/** A fresh database: a temp folder for SQLite, or a new schema in the given PostgreSQL database. */
async function createStore(databaseUrl: string | undefined): Promise<Store> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-bench-'));
  if (!databaseUrl) return {args: ['--data', dir], drop: async () => fs.rmSync(dir, {recursive: true, force: true})};
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({connectionString: databaseUrl});
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    args: ['--data', dir, '--database-url', url.toString()],
    async drop() {
      const client = new pg.Client({connectionString: databaseUrl});
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
      fs.rmSync(dir, {recursive: true, force: true});
    },
  };
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (key !== 'PORT' && key !== 'DATABASE_URL' && !key.startsWith('HERALD_')) env[key] = value;
  return env;
}

async function runCommand(args: string[]): Promise<string> {
  return runNode([BIN, ...args]);
}

async function runNode(args: string[]): Promise<string> {
  const child = spawn(process.execPath, args, {cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe']});
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${args.map((a) => path.basename(a)).join(' ')} failed (${code}): ${err}`);
  return out;
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  /** Peak resident memory of the process so far (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

async function startServer(store: Store, extra: string[] = []): Promise<Server> {
  // HERALD_BENCH_PROFILE=DIR writes a CPU profile of every Herald process (and its sender thread) into DIR.
  const profile = process.env.HERALD_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.HERALD_BENCH_PROFILE] : [];
  const child = spawn(process.execPath, [...NODE_FLAGS, ...profile, BIN, 'serve', '--port', '0', '--allow-private-targets', '--log-level', 'warn', ...store.args, ...extra], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url: string = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`herald serve did not start:\n${output}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk) => {
      output += chunk;
      if (output.length > 20_000) output = output.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`herald serve exited with ${code}:\n${output}`)));
  });
  child.stderr!.on('data', (chunk) => process.stderr.write(chunk));
  return {
    url,
    child,
    peakRssMb() {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A small Admin API client on one keep-alive pool. */
class Api {
  private readonly pool: Pool;
  private readonly key: string;
  private token: {value: string; at: number} | null = null;
  constructor(url: string, key: string) {
    this.pool = new Pool(url, {connections: 16});
    this.key = key;
  }
  private async authorization(): Promise<string> {
    if (!this.token || Date.now() - this.token.at > 240_000) this.token = {value: await adminToken(this.key), at: Date.now()};
    return this.token.value;
  }
  async post(pathname: string, body: unknown): Promise<any> {
    const response = await this.pool.request({
      method: 'POST',
      path: `/ghost/api/admin${pathname}`,
      headers: {authorization: await this.authorization(), 'content-type': 'application/json'},
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`POST ${pathname}: ${response.statusCode} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }
  async addWebhooks(count: number, event: string, target: (i: number) => string): Promise<void> {
    let next = 0;
    const one = async () => {
      for (let i = next++; i < count; i = next++) await this.post('/webhooks/', {webhooks: [{event, target_url: target(i), name: `bench ${i}`}]});
    };
    await Promise.all(Array.from({length: 8}, one));
  }
  /** Creates a post; resolves to its id. */
  async addPost(title: string, status: 'draft' | 'published'): Promise<string> {
    const result = await this.post('/posts/', {posts: [{title, status}]});
    return result.posts[0].id;
  }
  close(): Promise<void> {
    return this.pool.close();
  }
}

/** One scenario's Herald: a fresh store, a server, an integration key and a client. */
async function withHerald<T>(databaseUrl: string | undefined, extra: string[], work: (api: Api, server: Server, store: Store) => Promise<T>): Promise<T> {
  const store = await createStore(databaseUrl);
  try {
    const key = JSON.parse(await runCommand(['integration', 'create', '--name', 'Bench', '--json', ...store.args])).admin_key;
    const server = await startServer(store, extra);
    const api = new Api(server.url, key);
    try {
      return await work(api, server, store);
    } finally {
      await api.close();
      await server.stop();
    }
  } finally {
    await store.drop();
  }
}

/** CPU time (user + system, in clock ticks) of each thread of a process, by thread id; empty off Linux. */
function threadTicks(pid: number): Map<string, number> {
  const threads = new Map<string, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // utime and stime are fields 14 and 15; the name in parentheses before them may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.set(tid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return threads;
}

/** CPU per unit of work between two snapshots of threadTicks, in µs, summed per label. */
function cpuPerUnit(before: Map<string, number>, after: Map<string, number>, units: number, label: (tid: string) => string = () => 'all'): Record<string, number> {
  const tickUs = 1e6 / 100; // USER_HZ is 100 on Linux
  const sums: Record<string, number> = {};
  for (const [tid, ticks] of after) {
    const spent = ticks - (before.get(tid) ?? 0);
    if (spent <= 0) continue;
    const key = label(tid);
    sums[key] = (sums[key] ?? 0) + (spent * tickUs) / units;
  }
  for (const key of Object.keys(sums)) sums[key] = Math.round(sums[key]!);
  return sums;
}

/**
 * Labels a thread: `main` for the main thread, else `+n`, its thread id minus the process id.
 * Linux hands out ids in creation order (shared with every other process, so there may be gaps),
 * and Node names none of its threads, so the order is all there is: V8's helpers come first,
 * Herald's checkpoint and sender threads last.
 */
function threadLabel(pid: number): (tid: string) => string {
  return (tid) => (Number(tid) === pid ? 'main' : `+${Number(tid) - pid}`);
}

/** The throughput run's CPU per delivery, by thread, as a table row (none off Linux). */
function cpuRow(cpu: {herald: Record<string, number>; receiver: number}): string[][] {
  const parts = Object.entries(cpu.herald).sort((a, b) => b[1] - a[1]);
  if (parts.length === 0) return [];
  const herald = parts.reduce((sum, [, us]) => sum + us, 0);
  return [['  CPU per delivery', `${herald} µs`, `Herald's threads: ${parts.map(([name, us]) => `${name} ${us}`).join(', ')}; the receiver ${cpu.receiver} µs`]];
}

/** Runs `count` calls of `fire(i)` at `perSecond`, on an absolute schedule; resolves when all settled. */
async function paced(count: number, perSecond: number, fire: (i: number) => Promise<void>): Promise<void> {
  const start = Date.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    running.push(fire(i));
  }
  await Promise.all(running);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/** A bare undici keep-alive loop: `requests` POSTs of a 5 KB JSON body at CONCURRENCY. */
async function ceiling(receiver: Receiver, requests: number, warmUp: number): Promise<{perSecond: number; cpuUs: {client: number; receiver: number}}> {
  const body = JSON.stringify({event: 'post.published', post: {current: {id: '0'.repeat(24), html: 'x'.repeat(5000)}}}).slice(0, 5120);
  const pool = new Pool(receiver.url, {connections: CONCURRENCY});
  const send = () => pool.request({method: 'POST', path: '/ceiling', headers: {'content-type': 'application/json'}, body}).then((r) => r.body.dump());
  // Warm up first (the connections, and V8 on both sides), as much as Herald's turn does.
  let next = 0;
  await Promise.all(
    Array.from({length: CONCURRENCY}, async () => {
      while (next++ < Math.max(warmUp, CONCURRENCY)) await send();
    }),
  );
  await receiver.reset(false);
  next = 0;
  const receiverBefore = threadTicks(receiver.pid);
  const cpuBefore = process.cpuUsage();
  const started = nowNs();
  await Promise.all(
    Array.from({length: CONCURRENCY}, async () => {
      while (next++ < requests) await send();
    }),
  );
  const elapsed = ms(nowNs() - started);
  const cpu = process.cpuUsage(cpuBefore);
  const receiverUs = cpuPerUnit(receiverBefore, threadTicks(receiver.pid), requests).all ?? 0;
  await pool.close();
  return {perSecond: (requests / elapsed) * 1000, cpuUs: {client: Math.round((cpu.user + cpu.system) / requests), receiver: receiverUs}};
}

async function throughput(receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes) {
  return withHerald(databaseUrl, [], async (api, server) => {
    await api.addWebhooks(sizes.throughputWebhooks, 'post.published', (i) => `${receiver.url}/throughput/${i}`);
    // Warm-up: one post (its deliveries open the connections), not counted.
    await receiver.reset(false);
    for (let i = 0; i < sizes.warmUpPosts; i++) await api.addPost(`warm-up ${i}`, 'published');
    await receiver.waitFor(sizes.throughputWebhooks * sizes.warmUpPosts, 60_000);
    await receiver.reset(false);
    const total = sizes.throughputWebhooks * sizes.throughputPosts;
    const heraldBefore = threadTicks(server.child.pid!);
    const receiverBefore = threadTicks(receiver.pid);
    const started = nowNs();
    for (let i = 0; i < sizes.throughputPosts; i++) await api.addPost(`Throughput ${i}`, 'published');
    const writesMs = ms(nowNs() - started);
    const stats = await receiver.waitFor(total, 120_000);
    const elapsed = ms(BigInt(stats.last!) - started);
    const cpuUs = {
      herald: cpuPerUnit(heraldBefore, threadTicks(server.child.pid!), total, threadLabel(server.child.pid!)),
      receiver: cpuPerUnit(receiverBefore, threadTicks(receiver.pid), total).all ?? 0,
    };
    return {deliveries: total, seconds: elapsed / 1000, perSecond: (total / elapsed) * 1000, apiWritesSeconds: writesMs / 1000, cpuUs};
  });
}

/** Posts at a steady rate to webhooks on post.added; API request start → arrival, per healthy arrival. */
async function paceLatency(receiver: Receiver, api: Api, posts: number, perSecond: number, healthy: number): Promise<number[]> {
  await receiver.reset(true);
  const starts = new Map<string, bigint>();
  await paced(posts, perSecond, async (i) => {
    const start = nowNs();
    const id = await api.addPost(`Latency ${i}`, 'draft');
    starts.set(id, start);
  });
  await receiver.waitFor(posts * healthy, 60_000);
  const arrivals = await receiver.arrivals();
  const latencies: number[] = [];
  for (const arrival of arrivals) {
    const start = arrival.resource ? starts.get(arrival.resource) : undefined;
    if (start === undefined) throw new Error(`an arrival for an unknown post (${arrival.resource})`);
    latencies.push(ms(BigInt(arrival.at) - start));
  }
  return latencies;
}

async function latency(receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes) {
  return withHerald(databaseUrl, [], async (api) => {
    await api.addWebhooks(1, 'post.added', () => `${receiver.url}/latency`);
    await paceLatency(receiver, api, 10, sizes.ratePerSecond, 1); // warm-up
    return summary(await paceLatency(receiver, api, sizes.latencyPosts, sizes.ratePerSecond, 1));
  });
}

async function fanout(receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes) {
  return withHerald(databaseUrl, [], async (api) => {
    await api.addWebhooks(sizes.fanout, 'post.published', (i) => `${receiver.url}/fanout/${i}`);
    await receiver.reset(false);
    const started = nowNs();
    await api.addPost('Fan-out', 'published');
    const stats = await receiver.waitFor(sizes.fanout, 60_000);
    return {webhooks: sizes.fanout, lastArrivalMs: ms(BigInt(stats.last!) - started)};
  });
}

async function isolation(receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes, hang: boolean) {
  return withHerald(databaseUrl, [], async (api) => {
    await api.addWebhooks(10, 'post.added', (i) => (hang && i === 9 ? `${receiver.url}/hang` : `${receiver.url}/ok/${i}`));
    const healthy = hang ? 9 : 10;
    await paceLatency(receiver, api, 5, sizes.ratePerSecond, healthy); // warm-up
    return summary(await paceLatency(receiver, api, sizes.isolationPosts, sizes.ratePerSecond, healthy));
  });
}

async function backlog(receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes) {
  const total = sizes.backlogWebhooks * sizes.backlogPosts;
  // The API process runs no worker: every delivery waits. Then a worker process starts on the
  // same database with `total` deliveries pending.
  return withHerald(databaseUrl, ['--no-worker'], async (api, _server, store) => {
    await api.addWebhooks(sizes.backlogWebhooks, 'post.published', (i) => `${receiver.url}/backlog/${i}`);
    for (let i = 0; i < sizes.backlogPosts; i++) await api.addPost(`Backlog ${i}`, 'published');
    await receiver.reset(false);
    const worker = await startServer(store, ['--worker-only']);
    const started = nowNs();
    try {
      const stats = await receiver.waitFor(total, 300_000);
      const seconds = ms(BigInt(stats.last!) - started) / 1000;
      return {pending: total, peakRssMb: worker.peakRssMb(), drainSeconds: seconds, drainPerSecond: total / seconds};
    } finally {
      await worker.stop();
    }
  });
}

async function apiLatency(databaseUrl: string | undefined, sizes: Sizes) {
  return withHerald(databaseUrl, [], async (api) => {
    for (let i = 0; i < 20; i++) await api.addPost(`Warm-up ${i}`, 'draft');
    const durations: number[] = [];
    for (let i = 0; i < sizes.apiPosts; i++) {
      const start = nowNs();
      await api.addPost(`API ${i}`, 'draft');
      durations.push(ms(nowNs() - start));
    }
    return summary(durations);
  });
}

// ---------------------------------------------------------------------------------------------
// Main

interface Check {
  readonly name: string;
  readonly value: string;
  readonly target: string;
  readonly ok: boolean;
}

/** What one scenario contributes: its JSON figures, table rows and target checks. */
interface Outcome {
  readonly json: Record<string, unknown>;
  readonly rows: string[][];
  readonly checks: Check[];
}

const f1 = (n: number) => n.toFixed(1);

/** The scenarios in run order. `throughput` needs `ceiling` (its ratio), `isolation` runs twice. */
const SCENARIOS = ['ceiling', 'throughput', 'latency', 'fanout', 'isolation', 'backlog', 'api'] as const;
type Scenario = (typeof SCENARIOS)[number];

async function runScenario(name: Scenario, receiver: Receiver, databaseUrl: string | undefined, sizes: Sizes, ceilingPerSecond: number | null): Promise<Outcome> {
  switch (name) {
    case 'ceiling': {
      const bare = await ceiling(receiver, sizes.ceilingRequests, sizes.throughputWebhooks * sizes.warmUpPosts);
      return {
        json: {ceiling: {concurrency: CONCURRENCY, requests: sizes.ceilingRequests, perSecond: bare.perSecond, cpuUs: bare.cpuUs}},
        rows: [
          ['ceiling (bare undici)', `${Math.round(bare.perSecond)} req/s`, `${sizes.ceilingRequests} POSTs of 5 KB, ${CONCURRENCY} in flight`],
          ['  CPU per request', `${bare.cpuUs.client} µs`, `the client (all its threads); the receiver ${bare.cpuUs.receiver} µs`],
        ],
        checks: [],
      };
    }
    case 'throughput': {
      const drain = await throughput(receiver, databaseUrl, sizes);
      const ratio = ceilingPerSecond ? drain.perSecond / ceilingPerSecond : null;
      return {
        json: {throughput: {...drain, ratioToCeiling: ratio}},
        rows: [
          [
            'throughput',
            `${Math.round(drain.perSecond)} deliveries/s`,
            `${drain.deliveries} deliveries in ${drain.seconds.toFixed(2)} s (the ${sizes.throughputPosts} API writes took ${drain.apiWritesSeconds.toFixed(2)} s)${ratio === null ? '' : `, ${ratio.toFixed(2)}× the ceiling`}`,
          ],
          ...cpuRow(drain.cpuUs),
        ],
        checks:
          ratio === null
            ? []
            : [{name: 'throughput / ceiling', value: `${ratio.toFixed(2)}× (${Math.round(drain.perSecond)}/s vs ${Math.round(ceilingPerSecond!)}/s)`, target: '≥ 0.5×', ok: ratio >= 0.5}],
      };
    }
    case 'latency': {
      const lat = await latency(receiver, databaseUrl, sizes);
      return {
        json: {latency: {...lat, posts: sizes.latencyPosts, perSecond: sizes.ratePerSecond}},
        rows: [['latency', `p50 ${f1(lat.p50)} ms, p99 ${f1(lat.p99)} ms`, `${sizes.latencyPosts} posts at ${sizes.ratePerSecond}/s, API request start → arrival`]],
        checks: [
          {name: 'latency p50', value: `${f1(lat.p50)} ms`, target: '≤ 5 ms', ok: lat.p50 <= 5},
          {name: 'latency p99', value: `${f1(lat.p99)} ms`, target: '≤ 25 ms', ok: lat.p99 <= 25},
        ],
      };
    }
    case 'fanout': {
      const fan = await fanout(receiver, databaseUrl, sizes);
      return {
        json: {fanout: fan},
        rows: [['fan-out', `${Math.round(fan.lastArrivalMs)} ms`, `one event to ${fan.webhooks} webhooks, until the last arrival`]],
        checks: [{name: `fan-out to ${fan.webhooks}`, value: `${Math.round(fan.lastArrivalMs)} ms`, target: '≤ 1500 ms', ok: fan.lastArrivalMs <= 1500}],
      };
    }
    case 'isolation': {
      const calm = await isolation(receiver, databaseUrl, sizes, false);
      const stormy = await isolation(receiver, databaseUrl, sizes, true);
      return {
        json: {isolation: {noHang: calm, oneHanging: stormy}},
        rows: [['isolation', `p99 ${f1(stormy.p99)} ms (no hang: ${f1(calm.p99)} ms)`, `9 healthy endpoints while a 10th hangs until timeout`]],
        checks: [{name: 'isolation p99 (1 of 10 hangs)', value: `${f1(stormy.p99)} ms vs ${f1(calm.p99)} ms`, target: '≤ 2× no-hang', ok: stormy.p99 <= 2 * Math.max(calm.p99, 1)}],
      };
    }
    case 'backlog': {
      const queued = await backlog(receiver, databaseUrl, sizes);
      return {
        json: {backlog: queued},
        rows: [['backlog', `peak RSS ${Math.round(queued.peakRssMb)} MB, drain ${Math.round(queued.drainPerSecond)}/s`, `${queued.pending} pending deliveries, worker started after`]],
        checks: [{name: `backlog peak RSS (${queued.pending} pending)`, value: `${Math.round(queued.peakRssMb)} MB`, target: '≤ 200 MB', ok: queued.peakRssMb <= 200}],
      };
    }
    case 'api': {
      const api = await apiLatency(databaseUrl, sizes);
      return {
        json: {api},
        rows: [['API', `p50 ${f1(api.p50)} ms, p99 ${f1(api.p99)} ms`, `${sizes.apiPosts} post creations, no webhooks`]],
        checks: [{name: 'create-post p50 (no webhooks)', value: `${f1(api.p50)} ms (p99 ${f1(api.p99)} ms)`, target: '≤ 10 ms', ok: api.p50 <= 10}],
      };
    }
  }
}

const USAGE = `Usage: npm run bench [-- options]
  --quick              every scenario small (about 15 s)
  --json               machine-readable output on stdout
  --check              exit 1 when a first target is missed
  --database-url URL   run Herald on PostgreSQL (a fresh schema per scenario)
  --only a,b           run only these scenarios (${SCENARIOS.join(', ')})
`;

async function main(): Promise<number> {
  const {values} = parseArgs({
    options: {
      json: {type: 'boolean'},
      quick: {type: 'boolean'},
      check: {type: 'boolean'},
      'database-url': {type: 'string'},
      only: {type: 'string'},
      help: {type: 'boolean', short: 'h'},
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const only = values.only?.split(',').map((name) => name.trim()) ?? [...SCENARIOS];
  const unknown = only.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown scenario ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const sizes = values.quick ? QUICK : FULL;
  const databaseUrl = values['database-url'];
  const say = (line: string) => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  // Herald runs from the bundle `npm ci` builds; rebuild it so the benchmark measures this checkout.
  await runNode([path.join(ROOT, 'scripts/build.js')]);
  const receiver = await startReceiver();
  const began = Date.now();
  try {
    const machine = {cpus: os.cpus().length, model: os.cpus()[0]?.model ?? null, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`};
    say(`Herald benchmark on ${databaseUrl ? 'PostgreSQL' : 'SQLite'}${values.quick ? ' (quick)' : ''}: ${machine.cpus} × ${machine.model ?? 'CPU'}, Node ${process.version}`);
    let ceilingPerSecond: number | null = null;
    const outcomes: Outcome[] = [];
    for (const name of SCENARIOS) {
      if (!only.includes(name)) continue;
      say(`· ${name}…`);
      const outcome = await runScenario(name, receiver, databaseUrl, sizes, ceilingPerSecond);
      if (name === 'ceiling') ceilingPerSecond = (outcome.json.ceiling as {perSecond: number}).perSecond;
      outcomes.push(outcome);
    }
    const checks = outcomes.flatMap((o) => o.checks);
    const report = {
      machine,
      database: databaseUrl ? 'postgres' : 'sqlite',
      quick: values.quick === true,
      seconds: Math.round((Date.now() - began) / 1000),
      ...Object.assign({}, ...outcomes.map((o) => o.json)),
      targets: checks,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const rows: string[][] = [['scenario', 'result', 'detail'], ...outcomes.flatMap((o) => o.rows)];
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
      process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.slice(1).map(line).join('\n')}\n\n`);
      process.stdout.write(`First targets (${report.database}${report.quick ? '; a quick run uses smaller sizes than the targets assume' : ''}):\n`);
      for (const check of checks) process.stdout.write(`  ${check.ok ? 'ok  ' : 'MISS'}  ${check.name}: ${check.value} (target ${check.target})\n`);
      process.stdout.write(`\n${report.seconds} s in all.\n`);
    }
    return values.check && checks.some((c) => !c.ok) ? 1 : 0;
  } finally {
    await receiver.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
