/**
 * Retention (SPEC §11): delivery attempts and succeeded deliveries older than the retention
 * (default 30 days) are pruned, and so are events left with no deliveries. Pending and failed
 * deliveries are never pruned (a failed one may still be recovered). Every DELETE is bounded,
 * so a large backlog never holds a long write lock: SQLite has one writer, and a short
 * statement lets requests and the worker in between.
 */
import {sql} from 'kysely';
import type {Logger} from 'pino';
import type {Database} from '../db/database.ts';
import type {Clock} from '../lib/clock.ts';
import {startPeriodic, type Periodic} from '../lib/periodic.ts';
import {fileAll} from './filing.ts';

/** The default retention: 30 days. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;
/** Rows deleted per statement. */
const BATCH = 500;

export interface PruneOptions {
  /** Rows older than this (ms before `now`) go. Default 30 days. */
  readonly retentionMs?: number;
  /** Rows per DELETE statement. Default 500. */
  readonly batchSize?: number;
}

/** What one run deleted. */
export interface PruneResult {
  readonly attempts: number;
  readonly deliveries: number;
  readonly events: number;
}

/** Deletes what is older than the retention, in bounded batches; safe in many processes at once. */
export async function pruneOnce(database: Database, now: Date, options: PruneOptions = {}): Promise<PruneResult> {
  const db = database.db;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const batch = Math.max(1, Math.floor(options.batchSize ?? BATCH));
  const cutoff = new Date(now.getTime() - retentionMs).toISOString();

  /** Runs `once` (one bounded DELETE, returning its row count) until it deletes less than a batch. */
  const drain = async (once: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      const n = await once();
      total += n;
      if (n < batch) return total;
    }
  };
  const count = (result: {numDeletedRows: bigint}) => Number(result.numDeletedRows);

  const attempts = await drain(async () =>
    count(
      await db
        .deleteFrom('delivery_attempts')
        .where('id', 'in', (eb) => eb.selectFrom('delivery_attempts').select('id').where('started_at', '<', cutoff).limit(batch))
        .executeTakeFirst(),
    ),
  );
  // Finished (updated_at) and created before the cutoff; their remaining attempts go by cascade.
  // One webhook at a time, through its own index (webhook_id, created_at): each statement reads
  // only that webhook's old rows. Searched by status instead, the last statement of a run (the
  // one that finds less than a batch) read every succeeded delivery of the retention period,
  // holding SQLite's write lock all along.
  // The index holds filed rows only (filing.ts): file first, and say `filed = 1`.
  await fileAll(db);
  let deliveries = 0;
  const webhooks = await db.selectFrom('webhooks').select('id').orderBy('id').execute();
  for (const {id: webhookId} of webhooks) {
    deliveries += await drain(async () =>
      count(
        await db
          .deleteFrom('deliveries')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('deliveries')
              .select('id')
              .where('webhook_id', '=', webhookId)
              .where(sql<boolean>`filed = 1`)
              .where('created_at', '<', cutoff)
              .where('status', '=', 'succeeded')
              .where('updated_at', '<', cutoff)
              .limit(batch),
          )
          .executeTakeFirst(),
      ),
    );
  }
  const events = await drain(async () =>
    count(
      await db
        .deleteFrom('events')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('events as e')
            .select('e.id')
            .where('e.created_at', '<', cutoff)
            .where(({not, exists, selectFrom}) => not(exists(selectFrom('deliveries as d').select('d.id').whereRef('d.event_id', '=', 'e.id'))))
            .limit(batch),
        )
        .executeTakeFirst(),
    ),
  );
  return {attempts, deliveries, events};
}

export interface RetentionDeps {
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface RetentionOptions {
  /** Default 30 days. */
  readonly retentionMs?: number;
  /** Time between runs. Default 1 hour; the first run comes after `firstRunMs`. */
  readonly intervalMs?: number;
  /** Delay of the first run after start. Default 1 minute (start-up stays quick). */
  readonly firstRunMs?: number;
}

/** A running retention loop. */
export type Retention = Periodic;

/** Prunes now and then (hourly by default) until stopped. The timer never keeps the process alive. */
export function startRetention(deps: RetentionDeps, options: RetentionOptions = {}): Retention {
  const intervalMs = options.intervalMs ?? 3_600_000;
  const log = deps.logger.child({component: 'retention'});
  return startPeriodic(
    async () => {
      try {
        const result = await pruneOnce(deps.database, deps.clock.now(), {retentionMs: options.retentionMs});
        if (result.attempts + result.deliveries + result.events > 0) log.info(result, 'pruned old delivery history');
      } catch (error) {
        log.warn({err: {message: (error as Error)?.message ?? String(error)}}, 'pruning old delivery history failed; trying again next run');
      }
    },
    {intervalMs, firstMs: options.firstRunMs ?? Math.min(60_000, intervalMs)},
  );
}
