/**
 * The live feed of committed events behind `herald listen` (SPEC §9). Streams subscribe here;
 * nothing is stored for them, so an event fired while nobody listens is simply not streamed.
 *
 * SQLite (one process): the outbox announces its events with committed() after its transaction
 * has committed. PostgreSQL (any number of processes): the outbox's transaction NOTIFYs
 * EVENTS_CHANNEL with the event ids, PostgreSQL sends it at commit to every process, and each
 * process's feed reads those events back and hands them to its own subscribers. committed() is
 * then ignored, so a process's own events arrive once, through the same path as the others'.
 */
import type {Logger} from 'pino';
import type {Database} from '../db/database.ts';
import {listenOnChannels, type ChannelListener} from '../delivery/pg-listen.ts';

/** PostgreSQL NOTIFY channel: "these events (comma-separated ids) were committed". */
export const EVENTS_CHANNEL = 'herald_events';

/** Ids per NOTIFY payload: 24 characters and a comma each, well under PostgreSQL's 8000 bytes. */
export const IDS_PER_NOTIFY = 250;

/** One committed event, as streamed. */
export interface FiredEvent {
  readonly id: string;
  readonly name: string;
  /** The exact JSON body every webhook of this event receives. */
  readonly payload: string;
  readonly source_id: string | null;
  readonly created_at: string;
}

/** Receives every committed event while subscribed. */
export type FeedSubscriber = (event: FiredEvent) => void;

/** The feed of one process. */
export interface EventFeed {
  /** The outbox calls this after a commit with the events it wrote (in emission order). */
  committed(events: readonly FiredEvent[]): void;
  /**
   * Adds a subscriber; resolves (with its unsubscribe function) once events committed from now
   * on are certain to reach it. Rejects when the feed cannot listen (PostgreSQL unreachable).
   */
  subscribe(subscriber: FeedSubscriber): Promise<() => void>;
  /** Current number of subscribers. */
  readonly size: number;
  /** Drops every subscriber and stops listening. */
  close(): Promise<void>;
}

/** Makes the feed for `database`; on PostgreSQL it LISTENs (lazily, from the first subscriber). */
export function createEventFeed(database: Database, databaseUrl: string | null, logger: Logger): EventFeed {
  const subscribers = new Set<FeedSubscriber>();
  const emit = (events: readonly FiredEvent[]): void => {
    for (const event of events) {
      for (const subscriber of [...subscribers]) {
        try {
          subscriber(event);
        } catch (error) {
          logger.warn({err: {message: (error as Error).message}}, 'listen subscriber failed');
        }
      }
    }
  };

  const postgres = database.dialect === 'postgres' && databaseUrl !== null;
  let listener: ChannelListener | null = null;
  let listening: Promise<void> | null = null;
  let reading: Promise<void> = Promise.resolve();

  const readBack = async (ids: string[]): Promise<void> => {
    if (ids.length === 0 || subscribers.size === 0) return;
    const rows = await database.db
      .selectFrom('events')
      .select(['id', 'name', 'payload', 'source_id', 'created_at'])
      .where('id', 'in', ids)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    emit(rows);
  };

  const startListening = (): Promise<void> => {
    if (listening) return listening;
    listening = new Promise<void>((resolve, reject) => {
      let connected = false;
      listener = listenOnChannels({
        databaseUrl: databaseUrl!,
        logger,
        channels: [EVENTS_CHANNEL],
        onConnect: () => {
          connected = true;
          resolve();
        },
        onNotification: (_channel, payload) => {
          const ids = payload.split(',').filter((id) => /^[0-9a-f]{24}$/.test(id));
          // One read at a time, in notification (= commit) order, so events stream in order.
          reading = reading
            .then(() => readBack(ids))
            .catch((error: Error) => logger.warn({err: {message: error.message}}, 'listen feed could not read events'));
        },
      });
      void listener.ready.then(() => {
        if (!connected) {
          // The first LISTEN failed; the next subscriber tries again.
          const failed = listener;
          listener = null;
          listening = null;
          void failed?.close();
          reject(new Error('cannot LISTEN for events on PostgreSQL'));
        }
      });
    });
    return listening;
  };

  return {
    committed(events) {
      if (!postgres && subscribers.size > 0) emit(events);
    },
    async subscribe(subscriber) {
      if (postgres) await startListening();
      subscribers.add(subscriber);
      return () => {
        subscribers.delete(subscriber);
      };
    },
    get size() {
      return subscribers.size;
    },
    async close() {
      subscribers.clear();
      const current = listener;
      listener = null;
      listening = null;
      if (current) await current.close();
    },
  };
}
