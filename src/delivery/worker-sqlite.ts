/**
 * The delivery worker's hot path on SQLite: claiming and recording as short prepared
 * statements, one row at a time, inside one synchronous transaction (Database.syncTransaction).
 *
 * Why a second query path: on SQLite every statement runs in-process, so a statement per row
 * costs a few microseconds, while building, compiling and preparing a Kysely query whose text
 * changes with the batch size (an IN list, a CASE per column) cost more than the work itself.
 * PostgreSQL keeps batched statements in worker.ts (a round trip per row would be the expensive
 * part there): the claim in Kysely, the record as arrays joined with unnest(). Both paths
 * apply the same plan (what worker.ts decides per attempt), run under the same worker tests
 * on both engines, and keep the same rules: a lease only on an available webhook's due,
 * unleased row; a result recorded only while the lease is still ours.
 */
import type BetterSqlite3 from 'better-sqlite3';
import {inPickedOrder, pickWithinRoom, type ClaimInput, type ClaimResult} from './claim-policy.ts';
import type {ClaimedRow, Job, RecordPlan} from './worker.ts';
import {generationCache, WEBHOOKS_GENERATION, type GenerationCache} from '../db/generation.ts';
import {fileAllSqlite} from './filing.ts';
import {jobOf} from './job.ts';

type Prepare = (sql: string) => BetterSqlite3.Statement;

// The candidate read walks deliveries_claim in order and stops at the limit. The saturated
// webhooks come as one JSON array, so the statement text (and its prepared plan) never changes.
const CANDIDATES = `select d.id, d.webhook_id from deliveries d
  where d.status = 'pending' and d.next_attempt_at <= @now and (d.lease_expires_at is null or d.lease_expires_at < @now)
    and d.webhook_id not in (select id from webhooks where status <> 'available')
    and d.webhook_id not in (select value from json_each(@saturated))
  order by d.next_attempt_at, d.id limit @limit`;
// Leases the picked rows in one statement (the ids as one JSON array, so its text never
// changes) and re-checks every condition: another process may have leased a row since the read.
// The `+` keeps SQLite from walking deliveries_claim for status = 'pending', its choice without
// the hint: that read every pending row per lease (a 100,000-row backlog drained at ~5,200/s
// instead of ~8,600/s); the ids are looked up by primary key instead. A leased row is next due
// when its lease runs out (if its attempt is never recorded): with next_attempt_at moved there,
// the candidate read no longer walks past every attempt in flight (the oldest due rows) first.
const LEASE = `update deliveries set lease_owner = @owner, lease_expires_at = @until, next_attempt_at = @until
  where id in (select value from json_each(@ids)) and +status = 'pending' and (lease_expires_at is null or lease_expires_at < @now)
  returning id, event_id, webhook_id, attempt_count, next_attempt_at, next_trigger`;
const WEBHOOK = `select id, target_url, secret, previous_secrets, status from webhooks where id = ?`;
const EVENT = `select id, name, payload, created_at, source_id from events where id = ?`;

type ClaimWebhook = Job['webhook'] & {status: string};

/**
 * The webhook rows claims have loaded, kept from one claim to the next while the webhooks'
 * generation (migration 0008: triggers change it on every change to a webhook's target,
 * secrets, status…, from any connection) holds still. Without it a claim read one webhook row
 * per delivery, the only statement that ran once per delivery.
 */
export type WebhookCache = GenerationCache<ClaimWebhook>;

/** Rows kept at most: a process with more webhooks than this reads again past it. */
export function webhookCache(): WebhookCache {
  return generationCache<ClaimWebhook>(10_000);
}

/**
 * Leases due deliveries (oldest due first, at most `free`, at most each webhook's room) and
 * loads what their attempts need, all in the caller's transaction. Webhook rows come from
 * `cache` while they are current.
 */
export function claimSqlite(prepare: Prepare, input: ClaimInput, cache: WebhookCache = webhookCache()): ClaimResult {
  // One row more than can be taken: it tells whether more are due (`full`).
  const read = prepare(CANDIDATES).all({now: input.nowIso, saturated: JSON.stringify(input.saturated), limit: input.free + 1}) as {id: string; webhook_id: string}[];
  const full = read.length > input.free;
  const found = full ? read.slice(0, input.free) : read;
  const picked = pickWithinRoom(found, input.roomOf);
  if (picked.length === 0) return {jobs: [], missing: [], full, collided: false};
  const leased = inPickedOrder(prepare(LEASE).all({owner: input.workerId, until: input.leaseUntil, ids: JSON.stringify(picked), now: input.nowIso}) as ClaimedRow[], picked);
  const webhooks = cache.at((prepare(WEBHOOKS_GENERATION).get() as {value: number} | undefined)?.value ?? null);
  const events = new Map<string, Job['event']>();
  const jobs: Job[] = [];
  const missing: string[] = [];
  for (const delivery of leased) {
    let webhook = webhooks.get(delivery.webhook_id);
    if (!webhook) {
      webhook = prepare(WEBHOOK).get(delivery.webhook_id) as ClaimWebhook | undefined;
      if (webhook) webhooks.set(webhook.id, webhook);
    }
    let event = events.get(delivery.event_id);
    if (!event) {
      event = prepare(EVENT).get(delivery.event_id) as Job['event'] | undefined;
      if (event) events.set(delivery.event_id, event);
    }
    // The candidate read already left out unavailable webhooks, in this same transaction.
    if (webhook && event) jobs.push(jobOf(delivery, event, webhook));
    else missing.push(delivery.id);
  }
  return {jobs, missing, full, collided: leased.length < picked.length};
}

const INSERT_ATTEMPT = `insert into delivery_attempts (id, delivery_id, webhook_id, attempt_number, trigger, started_at,
  duration_ms, request_url, request_headers, response_status, response_headers, response_body, error)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
// Only while the lease is still ours: if it ran out and another worker took the delivery,
// that worker's attempt decides (this one is still in the log).
const UPDATE_DELIVERY = `update deliveries set status = ?, attempt_count = attempt_count + 1, next_attempt_at = ?,
  last_attempt_at = ?, last_status_code = ?, last_error = ?, next_trigger = null, lease_owner = null,
  lease_expires_at = null, updated_at = ? where id = ? and lease_owner = ?`;
const UPDATE_TRIGGERED = `update webhooks set last_triggered_at = ?, last_triggered_status = ?, last_triggered_error = ? where id = ?`;

/** Writes a record plan in the caller's transaction; returns the ids whose lease was lost. */
export function recordSqlite(prepare: Prepare, plan: RecordPlan, workerId: string, nowIso: string): string[] {
  const insert = prepare(INSERT_ATTEMPT);
  for (const a of plan.attempts) {
    insert.run(
      a.id,
      a.delivery_id,
      a.webhook_id,
      a.attempt_number,
      a.trigger,
      a.started_at,
      a.duration_ms,
      a.request_url,
      a.request_headers,
      a.response_status,
      a.response_headers,
      a.response_body,
      a.error,
    );
  }
  const update = prepare(UPDATE_DELIVERY);
  const lost: string[] = [];
  for (const u of plan.updates) {
    if (update.run(u.status, u.nextAt, u.lastAt, u.code, u.error, nowIso, u.id, workerId).changes === 0) lost.push(u.id);
  }
  const triggered = prepare(UPDATE_TRIGGERED);
  for (const t of plan.triggered) triggered.run(t.at, t.status, t.error, t.webhookId);
  return lost;
}

/**
 * Disables a webhook that is still available; true when it did. (SQLite twin of the Kysely
 * statement in worker.ts.)
 */
export function disableSqlite(prepare: Prepare, webhookId: string, reason: string, nowIso: string): boolean {
  return (
    prepare(`update webhooks set status = 'disabled', disabled_reason = ?, updated_at = ? where id = ? and status = 'available'`).run(reason, nowIso, webhookId)
      .changes > 0
  );
}

/** True when a delivery of the webhook failed at or before `cutoffIso` and none succeeded since. */
export function failingSinceSqlite(prepare: Prepare, webhookId: string, cutoffIso: string): boolean {
  // Through the webhook's own index, which holds filed rows only: file first (a success of a
  // moment ago may not be), and say `filed = 1` so SQLite can use it. `+status`: without the
  // hint SQLite walked deliveries_claim over every succeeded delivery of every webhook, inside
  // the record's write transaction.
  fileAllSqlite(prepare);
  const success = prepare(`select max(last_attempt_at) as at from deliveries where webhook_id = ? and filed = 1 and +status = 'succeeded'`).get(webhookId) as {
    at: string | null;
  };
  const old = prepare(
    `select id from deliveries where webhook_id = @webhook and filed = 1 and status = 'failed' and created_at <= @cutoff and (@success is null or created_at > @success) limit 1`,
  ).get({webhook: webhookId, cutoff: cutoffIso, success: success.at ?? null});
  return old !== undefined;
}
