// Shared helpers of the delivery tests: a real HTTP receiver on 127.0.0.1, rows inserted
// directly (webhooks, events, deliveries), and polling for database state.
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {objectId} from '../../src/lib/ids.ts';
import type {DeliveriesTable, WebhooksTable} from '../../src/db/schema.ts';
import {insertWebhookRow} from '../support/rows.ts';
import type {Database} from '../../src/db/database.ts';

/** One request as the receiver got it. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The raw body bytes. */
  readonly raw: Buffer;
  readonly body: string;
  /** Date.now() at the request's arrival (headers read). */
  readonly at: number;
  /** The client's port: equal ports mean a reused (keep-alive) connection. */
  readonly remotePort: number | undefined;
}

/** Decides the answer; may be async (slow endpoints). Default: 200 "ok". */
export type Handler = (request: Received, response: http.ServerResponse, n: number) => void | Promise<void>;

/** A local receiver. */
export interface Receiver {
  /** Base URL, e.g. http://127.0.0.1:4567 */
  readonly url: string;
  readonly received: Received[];
  /** Highest number of requests in flight at once, per path and overall. */
  maxInFlight(path?: string): number;
  /** Resolves when at least `n` requests have arrived (matching `filter`), or rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number, filter?: (r: Received) => boolean): Promise<Received[]>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1, port 0. */
export async function startReceiver(handler: Handler = (_req, res) => void res.end('ok')): Promise<Receiver> {
  const received: Received[] = [];
  const inFlight = new Map<string, number>();
  const maxByPath = new Map<string, number>();
  let inFlightAll = 0;
  let maxAll = 0;
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const at = Date.now();
    const path = req.url ?? '/';
    inFlight.set(path, (inFlight.get(path) ?? 0) + 1);
    maxByPath.set(path, Math.max(maxByPath.get(path) ?? 0, inFlight.get(path)!));
    inFlightAll += 1;
    maxAll = Math.max(maxAll, inFlightAll);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      inFlight.set(path, inFlight.get(path)! - 1);
      inFlightAll -= 1;
    };
    res.on('close', finish);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request: Received = {method: req.method ?? '', path, headers: req.headers, raw, body: raw.toString('utf8'), at, remotePort: req.socket.remotePort};
      received.push(request);
      for (const wake of waiters) wake();
      Promise.resolve(handler(request, res, received.length)).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    maxInFlight: (path?: string) => (path === undefined ? maxAll : (maxByPath.get(path) ?? 0)),
    waitFor(n, timeoutMs = 15_000, filter = () => true) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = received.filter(filter);
          if (matching.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(matching);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver got ${received.filter(filter).length} of ${n} requests within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Receivers started for one suite, all closed by closeAll() in its after(). */
export function receiverSet(): {start: typeof startReceiver; closeAll(): Promise<void>} {
  const started: Receiver[] = [];
  return {
    async start(...args) {
      const r = await startReceiver(...args);
      started.push(r);
      return r;
    },
    closeAll: async () => {
      await Promise.all(started.splice(0).map((r) => r.close()));
    },
  };
}

/** A loopback URL on which nothing listens (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/hook`;
}

/** Inserts a webhook row; returns its id. */
export async function insertWebhook(
  database: Database,
  integrationId: string,
  values: Partial<WebhooksTable> & {target_url: string},
): Promise<string> {
  return insertWebhookRow(database.db, integrationId, {
    event: 'post.published',
    name: 'test hook',
    secret: `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`,
    ...values,
  });
}

/** Inserts an event row with `payload` (the exact body); returns its id. */
export async function insertEvent(database: Database, payload: string, name = 'post.published'): Promise<string> {
  const id = objectId();
  await database.db
    .insertInto('events')
    .values({id, name, resource_type: 'post', resource_id: null, payload, source_id: null, created_at: new Date().toISOString()})
    .execute();
  return id;
}

/** Inserts pending deliveries (due now unless given); returns their ids in order. */
export async function insertDeliveries(
  database: Database,
  rows: readonly (Partial<DeliveriesTable> & {event_id: string; webhook_id: string})[],
): Promise<string[]> {
  const now = new Date().toISOString();
  const values = rows.map((row) => ({
    id: objectId(),
    status: 'pending' as const,
    attempt_count: 0,
    next_attempt_at: now,
    lease_owner: null,
    lease_expires_at: null,
    last_attempt_at: null,
    last_status_code: null,
    last_error: null,
    created_at: now,
    updated_at: now,
    ...row,
  }));
  if (values.length > 0) await database.db.insertInto('deliveries').values(values).execute();
  return values.map((v) => v.id);
}

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). */
export async function until<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
