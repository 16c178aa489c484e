/**
 * Test harness: starts a real Herald (buildApp on a real port) on SQLite in a temp folder or on
 * PostgreSQL in a fresh schema, with a custom integration and the official Ghost Admin API client.
 * Every repository and API test loops over DIALECTS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {randomBytes} from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
// @ts-expect-error the official client ships no types
import GhostAdminAPI from '@tryghost/admin-api';
import {buildApp} from '../../src/app.ts';
import {loadConfig, type Config} from '../../src/config.ts';
import {openDatabase, type Database, type Dialect} from '../../src/db/database.ts';
import {systemClock, type Clock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {createWake, type Wake} from '../../src/lib/wake.ts';
import {createHandoff, type Handoff} from '../../src/delivery/handoff.ts';
import {createEventFeed, type EventFeed} from '../../src/listen/feed.ts';
import {startWorker, type Worker, type WorkerOptions} from '../../src/delivery/worker.ts';
import {createSender, type Sender, type SenderOptions} from '../../src/delivery/sender.ts';
import {createGuardedLookup} from '../../src/delivery/ssrf.ts';
import {startScheduler} from '../../src/scheduler/scheduler.ts';
import {createMetrics, type Metrics} from '../../src/delivery/metrics.ts';
import {createIntegration, summariseIntegrations, type IntegrationSummary} from '../../src/content/integrations.ts';
import type {FastifyInstance} from 'fastify';

/** Both engines; every database-touching test runs for each. */
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/** The PostgreSQL server tests use (CI starts it; trust auth, database `test`). */
export const TEST_PG_URL = process.env.HERALD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A place for a test database: a temp folder (SQLite) or a fresh schema (PostgreSQL). */
export interface TestStore {
  readonly dialect: Dialect;
  /** CLI/config options that point at this store. */
  readonly flags: {data: string; 'database-url'?: string};
  /** Removes the folder or drops the schema. */
  drop(): Promise<void>;
}

/** Makes an empty store for `dialect`. */
export async function createStore(dialect: Dialect): Promise<TestStore> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-test-'));
  if (dialect === 'sqlite') {
    return {dialect, flags: {data: dataDir}, drop: async () => fs.rmSync(dataDir, {recursive: true, force: true})};
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({connectionString: TEST_PG_URL});
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    dialect,
    flags: {data: dataDir, 'database-url': url.toString()},
    drop: async () => {
      const client = new pg.Client({connectionString: TEST_PG_URL});
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
      fs.rmSync(dataDir, {recursive: true, force: true});
    },
  };
}

/** A running Herald for one test. */
export interface TestHerald {
  readonly dialect: Dialect;
  readonly app: FastifyInstance;
  readonly url: string;
  readonly database: Database;
  readonly config: Config;
  readonly store: TestStore;
  /** The integration made at start, with its keys. */
  readonly integration: IntegrationSummary;
  /** The official @tryghost/admin-api client, authenticated with the integration's Admin key. */
  readonly api: any;
  /** Lines the server logged (JSON strings), for log assertions. */
  readonly logs: string[];
  /** The wake signal shared by the app and the worker (notify() to wake the worker). */
  readonly wake: Wake;
  /** The live event feed behind `herald listen` streams. */
  readonly feed: EventFeed;
  /** The delivery worker running on the same deps; null with `{worker: false}`. */
  readonly worker: Worker | null;
  /** Where the app's writes ask a worker for room (the started worker, or one a test attaches). */
  readonly handoff: Handoff;
  /** The metrics shared by the app (/metrics) and the worker. */
  readonly metrics: Metrics;
  /** Makes another official client, e.g. for a second integration's key. */
  client(adminKey: string): any;
  /** Creates another integration directly in the database. */
  createIntegration(name: string): Promise<IntegrationSummary>;
  close(): Promise<void>;
}

/** Options for startHerald. */
export interface StartOptions {
  /** Extra config flags (e.g. {'max-body': '1kb'}); 'allow-private-targets' defaults to true here. */
  readonly flags?: Record<string, string | boolean>;
  readonly clock?: Clock;
  /** Run the delivery worker on the same deps (stopped by close()). Default true. */
  readonly worker?: boolean;
  /** Worker tuning (concurrency, poll interval, …) when the worker runs. */
  readonly workerOptions?: WorkerOptions;
  /** Run the scheduler (publishes due scheduled posts) on the same deps. Default false. */
  readonly scheduler?: boolean;
}

/**
 * The tests' safety net: a sender that never leaves this machine. Tests create webhooks for
 * hosts like example.com; if an event ever matched one, a real sender would resolve and
 * connect to it. This one refuses any target that is not a loopback literal or `localhost`
 * (names are allowed only when a test supplies its own lookup, which decides where they go),
 * before any DNS query or connection, as a blocked attempt.
 */
function loopbackOnlySender(senderOptions: SenderOptions | undefined, config: Config): Sender {
  // Composes with the SSRF guard exactly as the worker's own sender would.
  const real = createSender(config.allowPrivateTargets ? senderOptions : {...senderOptions, lookup: createGuardedLookup(senderOptions?.lookup)});
  const allowed = (hostname: string): boolean => {
    const host = hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)) return true;
    const isIpLiteral = /^[\d.]+$/.test(host) || host.includes(':');
    return !isIpLiteral && senderOptions?.lookup !== undefined;
  };
  return {
    async send(request) {
      let hostname = '';
      try {
        hostname = new URL(request.url).hostname;
      } catch {
        return real.send(request);
      }
      if (!allowed(hostname)) return {kind: 'error', code: 'BLOCKED', message: hostname, durationMs: 0};
      return real.send(request);
    },
    abortAll: () => real.abortAll(),
    close: () => real.close(),
    destroy: () => real.destroy(),
  };
}

/** Starts Herald on a fresh store for `dialect`, listening on a free loopback port. */
export async function startHerald(dialect: Dialect, options: StartOptions = {}): Promise<TestHerald> {
  const store = await createStore(dialect);
  // Tests deliver to loopback receivers, so private targets are allowed unless a test says
  // {'allow-private-targets': false} (the SSRF tests).
  const config = loadConfig({port: '0', ...store.flags, 'log-level': 'info', 'allow-private-targets': true, ...options.flags}, {});
  const database = await openDatabase(config);
  const logs: string[] = [];
  const logger = pino({level: config.logLevel, base: undefined}, {write: (line: string) => void logs.push(line)});
  let siteUrl = '';
  const wake = createWake();
  const handoff = createHandoff();
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics(database);
  const feed = createEventFeed(database, config.databaseUrl, logger);
  const app = buildApp({config, database, clock, random: cryptoRandom, logger, siteUrl: () => siteUrl, wake, feed, metrics, handoff});
  await app.listen({port: 0, host: '127.0.0.1'});
  const workerOptions = {...options.workerOptions, sender: options.workerOptions?.sender ?? loopbackOnlySender(options.workerOptions?.senderOptions, config)};
  const worker = options.worker === false ? null : startWorker({config, database, clock, random: cryptoRandom, logger, wake, metrics, handoff}, workerOptions);
  const address = app.server.address();
  siteUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const scheduler = options.scheduler ? startScheduler({database, clock, random: cryptoRandom, siteUrl: () => siteUrl, wake, feed, logger}) : null;

  const makeIntegration = async (name: string) => {
    const row = await database.db.transaction().execute((trx) => createIntegration(trx, {name}, new Date(), cryptoRandom));
    return (await summariseIntegrations(database.db, row.id))[0]!;
  };
  const integration = await makeIntegration('Test integration');
  const client = (adminKey: string) => new GhostAdminAPI({url: siteUrl, key: adminKey, version: 'v5.0'});

  return {
    dialect,
    app,
    url: siteUrl,
    database,
    config,
    store,
    integration,
    api: client(integration.admin_key),
    logs,
    wake,
    feed,
    worker,
    handoff,
    metrics,
    client,
    createIntegration: makeIntegration,
    close: async () => {
      // Tests do not wait for attempts to unreachable targets: after 2 s they are abandoned.
      await scheduler?.stop();
      await worker?.stop({graceMs: 2000});
      await app.close();
      await feed.close();
      await database.close();
      await store.drop();
    },
  };
}

/** Signs the owner up (first-run setup) and in; returns a fetch wrapper carrying the session cookie and Origin. */
export async function staffSession(herald: TestHerald, owner = {name: 'Ada Owner', email: 'ada@example.com', password: 'correct horse battery', blogTitle: 'Test Site'}) {
  const base = `${herald.url}/ghost/api/admin`;
  const setup = await fetch(`${base}/authentication/setup/`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({setup: [owner]})});
  if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
  const session = await fetch(`${base}/session/`, {method: 'POST', headers: {'content-type': 'application/json', origin: herald.url}, body: JSON.stringify({username: owner.email, password: owner.password})});
  if (session.status !== 201) throw new Error(`sign-in failed: ${session.status} ${await session.text()}`);
  const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
  return async (method: string, pathname: string, body?: unknown) => {
    const response = await fetch(`${base}${pathname}`, {
      method,
      headers: {cookie, origin: herald.url, ...(body === undefined ? {} : {'content-type': 'application/json'})},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null};
  };
}

/** Raw HTTP helper: `authorization` is sent when given. */
export async function request(herald: TestHerald, method: string, pathname: string, options: {body?: string | unknown; headers?: Record<string, string>} = {}) {
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const response = await fetch(`${herald.url}${pathname}`, {
    method,
    headers: {...(body === undefined ? {} : {'content-type': 'application/json'}), ...options.headers},
    body,
  });
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return {status: response.status, headers: response.headers, text, body: json};
}
