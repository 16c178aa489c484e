/**
 * Filing deliveries into the per-webhook index (migration 0009).
 *
 * The index deliveries_webhook_created (webhook_id, created_at) serves every read of one
 * webhook's deliveries: its delivery log, recovery, the failing-for-days check and retention.
 * A fan-out writes one delivery per webhook, so entering them as they are written touches one
 * index page per webhook in the post's own commit. On SQLite that was most of the commit
 * (about 100 of its 115 pages with 100 webhooks), paid again when the checkpoint copies them.
 *
 * So SQLite's outbox writes them unfiled (filed = 0: only in deliveries_unfiled, which grows at
 * its end) and they are filed here: by a timer about once a second, when each webhook's page
 * takes many rows at once, and by every read through the index, right before it reads (so a
 * read never misses a delivery committed before it started). PostgreSQL writes every row filed;
 * filing finds nothing there.
 */
import type BetterSqlite3 from 'better-sqlite3';
import {sql} from 'kysely';
import type {Logger} from 'pino';
import type {Database, Queryable} from '../db/database.ts';
import {startPeriodic, type Periodic} from '../lib/periodic.ts';

/** Rows filed per statement: a statement holds SQLite's write lock for tens of ms at most. */
export const FILING_BATCH = 5000;

/** The oldest `batch` unfiled rows. Its text is fixed, so SQLite prepares it once. */
const FILE_BATCH = 'update deliveries set filed = 1 where id in (select id from deliveries where filed = 0 order by id limit ?)';

type Prepare = (sql: string) => BetterSqlite3.Statement;

/** Files up to `batch` unfiled deliveries, oldest first; returns how many. */
export async function fileBatch(q: Queryable, batch: number = FILING_BATCH): Promise<number> {
  const result = await sql`update deliveries set filed = 1 where id in (select id from deliveries where filed = 0 order by id limit ${batch})`.execute(q);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Files every unfiled delivery, a batch per statement; returns how many. Run it, in the same
 * transaction where there is one, before reading a webhook's deliveries through the index.
 */
export async function fileAll(q: Queryable, batch: number = FILING_BATCH): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await fileBatch(q, batch);
    total += n;
    if (n < batch) return total;
  }
}

/** fileAll inside a synchronous SQLite transaction (Database.syncTransaction). */
export function fileAllSqlite(prepare: Prepare, batch: number = FILING_BATCH): number {
  const statement = prepare(FILE_BATCH);
  let total = 0;
  for (;;) {
    const n = statement.run(batch).changes;
    total += n;
    if (n < batch) return total;
  }
}

export interface FilingDeps {
  readonly database: Database;
  readonly logger: Logger;
}

export interface FilingOptions {
  /** Time between runs, in ms. Default 1000. */
  readonly intervalMs?: number;
  /** Rows per statement. Default FILING_BATCH. */
  readonly batch?: number;
}

/** A running filing loop. */
export type Filing = Periodic;

/**
 * Files unfiled deliveries every `intervalMs` until stopped, a batch per statement with the
 * event loop let through between batches.
 */
export function startFiling(deps: FilingDeps, options: FilingOptions = {}): Filing {
  const batch = options.batch ?? FILING_BATCH;
  const log = deps.logger.child({component: 'filing'});
  return startPeriodic(
    async (isStopped) => {
      try {
        while (!isStopped() && (await fileBatch(deps.database.db, batch)) === batch) await new Promise((resolve) => setImmediate(resolve));
      } catch (error) {
        log.warn({err: {message: (error as Error)?.message ?? String(error)}}, 'filing deliveries failed; trying again next run');
      }
    },
    {intervalMs: options.intervalMs ?? 1000},
  );
}
