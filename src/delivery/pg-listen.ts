/**
 * Cross-process wake-up on PostgreSQL: a dedicated client LISTENs on DELIVERY_CHANNEL and
 * calls onNotify() for every NOTIFY, so a worker in any process starts on a commit made by
 * another one at once. It reconnects on its own; the worker's slow poll covers the gaps.
 */
import pg from 'pg';
import type {Logger} from 'pino';
import {DELIVERY_CHANNEL} from '../lib/wake.ts';

/** A running LISTEN connection. */
export interface DeliveryListener {
  /** Resolves once the first LISTEN is in place (or the first attempt failed). */
  readonly ready: Promise<void>;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/** Options of listenForDeliveries. */
export interface ListenOptions {
  readonly databaseUrl: string;
  readonly logger: Logger;
  /** Called on every notification, and after every (re)connect (something may have been missed). */
  readonly onNotify: () => void;
  /** First delay before reconnecting, doubled up to 30 s. Default 1000 ms. */
  readonly reconnectMs?: number;
}

/** Starts listening on DELIVERY_CHANNEL. */
export function listenForDeliveries(options: ListenOptions): DeliveryListener {
  let closed = false;
  let client: pg.Client | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let delay = options.reconnectMs ?? 1000;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const scheduleReconnect = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void connect();
    }, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, 30_000);
  };

  const connect = async () => {
    const next = new pg.Client({connectionString: options.databaseUrl});
    client = next;
    next.on('notification', (message) => {
      if (message.channel === DELIVERY_CHANNEL) options.onNotify();
    });
    next.on('error', (error) => {
      if (closed) return;
      options.logger.warn({err: {message: error.message, code: (error as {code?: string}).code}}, 'delivery LISTEN connection lost; reconnecting');
      void next.end().catch(() => {});
      if (client === next) client = null;
      scheduleReconnect();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${DELIVERY_CHANNEL}`);
      if (closed) {
        await next.end().catch(() => {});
        return;
      }
      delay = options.reconnectMs ?? 1000;
      options.onNotify();
    } catch (error) {
      if (!closed) {
        options.logger.warn({err: {message: (error as Error).message}}, 'delivery LISTEN failed; polling until it reconnects');
        void next.end().catch(() => {});
        if (client === next) client = null;
        scheduleReconnect();
      }
    } finally {
      markReady();
    }
  };

  void connect();

  return {
    ready,
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = null;
      const current = client;
      client = null;
      if (current) await current.end().catch(() => {});
    },
  };
}
