/**
 * Database helpers of the outbox and scheduler tests: webhook rows written directly, and a
 * reader of the events table that returns what was fired since the last mark.
 */
import type {Kysely} from 'kysely';
import type {Database} from '../../src/db/database.ts';
import type {DB, EventsTable, WebhooksTable} from '../../src/db/schema.ts';
import {insertWebhookRow} from '../support/rows.ts';
import type {Wake} from '../../src/lib/wake.ts';

/** Inserts a webhook for `event` (available, no relay source unless overridden); returns its id. */
export async function addWebhook(db: Kysely<DB>, integrationId: string, event: string, overrides: Partial<WebhooksTable> = {}): Promise<string> {
  return insertWebhookRow(db, integrationId, {event, target_url: 'http://127.0.0.1:9/hook', ...overrides});
}

/** The events table read as a log: `mark()`, act, then `fresh()` gives what was fired meanwhile, in order. */
export class EventLog {
  private readonly seen = new Set<string>();
  private readonly database: Database;
  constructor(database: Database) {
    this.database = database;
  }

  /** Every event so far, in emission order (created_at, then the batch's consecutive ids). */
  async all(): Promise<EventsTable[]> {
    return this.database.db.selectFrom('events').selectAll().orderBy('created_at').orderBy('id').execute();
  }

  /** Counts every event fired so far as seen. */
  async mark(): Promise<void> {
    for (const event of await this.all()) this.seen.add(event.id);
  }

  /** Events fired since the last mark(), in order; they count as seen afterwards. */
  async fresh(): Promise<EventsTable[]> {
    const events = (await this.all()).filter((e) => !this.seen.has(e.id));
    for (const event of events) this.seen.add(event.id);
    return events;
  }
}

/** True when `wake` had a pending notify() (consumed), false when none came within 100 ms. */
export async function wasWoken(wake: Wake): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => (timedOut = true), 50);
  await wake.wait(100);
  clearTimeout(timer);
  return !timedOut;
}
