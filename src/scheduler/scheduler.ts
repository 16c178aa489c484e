/**
 * The scheduler: publishes every scheduled post and page whose `published_at` has come, within
 * a second, with the events of "scheduled → published" (`published`, `edited`, `site.changed`)
 * written in the same transaction as the status change. It catches up on start (everything
 * overdue), and any number of processes may run it on one database: each post is claimed in
 * its own transaction with a re-check of its status (content/posts.ts publishScheduledPost),
 * so exactly one of them publishes it.
 */
import type {Logger} from 'pino';
import type {Queryable} from '../db/database.ts';
import {publishScheduledPost} from '../content/posts.ts';
import {detectPostEvents} from '../events/detect.ts';
import {announceCommitted, writeOutbox, type OutboxDeps} from '../events/outbox.ts';
import type {FiredEvent} from '../listen/feed.ts';

/** What the scheduler needs: the outbox's dependencies and, optionally, a logger. */
export interface SchedulerDeps extends OutboxDeps {
  readonly logger?: Pick<Logger, 'info' | 'error'>;
}

/** Options of startScheduler. */
export interface SchedulerOptions {
  /** Longest sleep between two looks at the table, in ms (default 1000: "within one second"). */
  readonly maxSleepMs?: number;
  /** Due posts read per query (default 100). */
  readonly batchSize?: number;
}

/** Pause before looking again at a post still overdue after a pass (held by someone else). */
const OVERDUE_RETRY_MS = 100;

/** A running scheduler. */
export interface Scheduler {
  /** Stops after the publish in progress (if any) has committed; resolves once stopped. */
  stop(): Promise<void>;
}

/** Due posts, oldest first: the ids a pass tries to publish. published_at compares as ISO text. */
async function duePosts(q: Queryable, now: Date, limit: number): Promise<string[]> {
  const rows = await q
    .selectFrom('posts')
    .select('id')
    .where('status', '=', 'scheduled')
    .where('published_at', '<=', now.toISOString())
    .orderBy('published_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((row) => row.id);
}

/** The earliest published_at among scheduled posts, in ms since the epoch, or null. */
async function nextDue(q: Queryable): Promise<number | null> {
  const row = await q
    .selectFrom('posts')
    .select((eb) => eb.fn.min('published_at').as('next'))
    .where('status', '=', 'scheduled')
    .executeTakeFirst();
  const next = row?.next as string | null | undefined;
  return next ? Date.parse(next) : null;
}

/**
 * Publishes every post and page due now, each in its own transaction with its events.
 * Returns how many this call published (others may have been taken by another process).
 * `stopping` is asked before each post; when it answers true the pass ends there.
 */
export async function publishDue(deps: SchedulerDeps, options: SchedulerOptions = {}, stopping: () => boolean = () => false): Promise<number> {
  const batchSize = options.batchSize ?? 100;
  let published = 0;
  for (;;) {
    const now = deps.clock.now();
    const ids = await duePosts(deps.database.db, now, batchSize);
    let round = 0;
    let failed = 0;
    for (const id of ids) {
      if (stopping()) return published + round;
      let deliveries = 0;
      let fired: readonly FiredEvent[] = [];
      let change;
      try {
        change = await publishScheduledPost({database: deps.database, now: deps.clock.now(), random: deps.random}, id, async (trx, change) => {
          const written = await writeOutbox(trx, deps.database.dialect, detectPostEvents(change), {now: deps.clock.now(), random: deps.random, siteUrl: deps.siteUrl()});
          deliveries = written.deliveries;
          fired = written.events;
        });
      } catch (error) {
        // Rolled back: the post is still scheduled and due, and is tried again next pass. One
        // post that cannot be published must not hold back the others.
        failed++;
        deps.logger?.error({err: error, post_id: id}, 'publishing a scheduled post failed');
        continue;
      }
      if (change === null) continue; // another process has it, or it is no longer due
      round++;
      // After commit: the worker may now claim the deliveries.
      announceCommitted(deps, {events: fired, deliveries});
      deps.logger?.info({post_id: id, type: change.type, published_at: change.after?.row.published_at}, 'scheduled post published');
    }
    published += round;
    // A full batch may hide more due rows; a batch with nothing published was all taken elsewhere.
    if (ids.length < batchSize || round === 0 || failed > 0) return published;
  }
}

/**
 * Starts the scheduler loop: a pass at once (catching up on everything overdue), then a pass
 * at the next due time, sleeping at most `maxSleepMs` so posts scheduled meanwhile (by this or
 * another process) are published within that bound. Errors are logged and retried next pass.
 */
export function startScheduler(deps: SchedulerDeps, options: SchedulerOptions = {}): Scheduler {
  const maxSleepMs = options.maxSleepMs ?? 1000;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let wakeSleep: (() => void) | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wakeSleep = resolve;
      timer = setTimeout(resolve, ms);
    });

  const loop = async () => {
    while (!stopped) {
      let delay = maxSleepMs;
      try {
        await publishDue(deps, options, () => stopped);
        const next = await nextDue(deps.database.db);
        if (next !== null) {
          const wait = next - deps.clock.now().getTime();
          // Still overdue after a pass: another process or transaction holds it; look again soon
          // rather than spin. Otherwise sleep until it is due (+1 ms: timers may round down).
          delay = Math.min(maxSleepMs, wait <= 0 ? OVERDUE_RETRY_MS : wait + 1);
        }
      } catch (error) {
        deps.logger?.error({err: error}, 'scheduler pass failed');
      }
      if (stopped) break;
      await sleep(delay);
      timer = null;
      wakeSleep = null;
    }
  };
  const running = loop();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wakeSleep?.();
      await running;
    },
  };
}
