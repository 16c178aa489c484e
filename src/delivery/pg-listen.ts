/**
 * Cross-process signals on PostgreSQL: a dedicated client LISTENs on some channels and calls
 * onNotification() for every NOTIFY, so a process reacts at once to a commit made by another
 * one (the delivery worker on DELIVERY_CHANNEL, `herald listen` streams on EVENTS_CHANNEL).
 * It reconnects on its own; onConnect() runs after every (re)connect, since notifications
 * sent meanwhile are lost.
 */
import pg from 'pg';
import type {Logger} from 'pino';

/** A running LISTEN connection. */
export interface ChannelListener {
  /** Resolves once the first LISTEN is in place (or the first attempt failed). */
  readonly ready: Promise<void>;
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/** Options of listenOnChannels. */
export interface ListenOptions {
  readonly databaseUrl: string;
  readonly logger: Logger;
  /** The channels to LISTEN on (plain identifiers). */
  readonly channels: readonly string[];
  /** Called on every notification with its channel and payload. */
  readonly onNotification: (channel: string, payload: string) => void;
  /** Called after every (re)connect: anything notified meanwhile was missed. */
  readonly onConnect?: () => void;
  /** First delay before reconnecting, doubled up to 30 s. Default 1000 ms. */
  readonly reconnectMs?: number;
}

/** Starts listening on `options.channels`. */
export function listenOnChannels(options: ListenOptions): ChannelListener {
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
      if (options.channels.includes(message.channel)) options.onNotification(message.channel, message.payload ?? '');
    });
    next.on('error', (error) => {
      if (closed) return;
      options.logger.warn({err: {message: error.message, code: (error as {code?: string}).code}}, 'LISTEN connection lost; reconnecting');
      void next.end().catch(() => {});
      if (client === next) client = null;
      scheduleReconnect();
    });
    try {
      await next.connect();
      for (const channel of options.channels) await next.query(`LISTEN ${channel}`);
      if (closed) {
        await next.end().catch(() => {});
        return;
      }
      delay = options.reconnectMs ?? 1000;
      options.onConnect?.();
    } catch (error) {
      if (!closed) {
        options.logger.warn({err: {message: (error as Error).message}}, 'LISTEN failed; retrying');
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
