/**
 * `GET /webhooks/listen/?events=a,b` (SPEC §3.1, §9): the Server-Sent Events stream behind
 * `herald listen`. An integration connects with its Admin API key; the stream first sends
 * `event: ready` with the integration's stable listen secret, then one `event: delivery` per
 * committed event of Herald's own content (the exact body, and the headers a webhook delivery
 * of it would carry, signed with the listen secret). Nothing is queued for a listener that is
 * not connected. The stream is outgoing from the listener, so no SSRF exception is involved.
 */
import type {FastifyInstance} from 'fastify';
import type {ServerResponse} from 'node:http';
import type {Deps} from '../app.ts';
import {listenSecretFor} from '../content/integrations.ts';
import {attemptHeaders} from '../delivery/request.ts';
import {EVENT_NAMES, isEventName} from '../events/names.ts';
import {HeraldError, validationError} from '../lib/errors.ts';
import type {FiredEvent} from './feed.ts';

/** A comment line is sent this often, so proxies keep the connection and dead ones are found. */
export const KEEPALIVE_MS = 15_000;

/** A listener this far behind (bytes not yet taken by its socket) is disconnected. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** What a `delivery` message carries. */
export interface ListenDelivery {
  /** The delivery id (`webhook-id`): the event's id. */
  readonly id: string;
  readonly event: string;
  readonly created_at: string;
  /** The request headers, signed with the listen secret. */
  readonly headers: Record<string, string>;
  /** The exact request body. */
  readonly body: string;
}

/** Parses `?events=a,b` (empty or absent: every event); unknown names are a 422. */
export function parseEventFilter(raw: unknown): string[] | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string') throw validationError('events', 'events must be a comma-separated list of event names.');
  const names = [...new Set(raw.split(',').map((name) => name.trim()).filter((name) => name !== ''))];
  const unknown = names.filter((name) => !isEventName(name));
  if (unknown.length > 0) {
    throw validationError('events', `Unknown event${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Valid events: ${EVENT_NAMES.join(', ')}.`);
  }
  return names.length > 0 ? names : null;
}

/** One SSE message. `data` is JSON on one line (JSON.stringify escapes every newline). */
function sse(event: string, data: unknown, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Registers the listen stream on the Admin API. */
export function registerListenRoutes(app: FastifyInstance, deps: Deps): void {
  const open = new Set<ServerResponse>();

  // Open streams would hold the server's close() forever: end them first.
  app.addHook('preClose', async () => {
    for (const response of open) response.end();
    open.clear();
  });

  app.get<{Querystring: {events?: string}}>('/webhooks/listen/', async (request, reply) => {
    const principal = request.principal;
    if (principal?.kind !== 'integration') {
      throw new HeraldError('NoPermission', {
        message: 'Listening needs an Admin API key.',
        context: 'herald listen streams events for one integration; authenticate with its Admin API key (id:secret).',
        code: 'LISTEN_NEEDS_INTEGRATION',
      });
    }
    const filter = parseEventFilter(request.query.events);
    const {secret, ...integration} = await listenSecretFor(deps.database.db, principal.integrationId, deps.random);

    const response = reply.raw;
    const log = request.log.child({integration_id: integration.id});
    let closed = false;
    let keepalive: NodeJS.Timeout | null = null;
    let unsubscribe: (() => void) | null = null;
    const close = (reason: string) => {
      if (closed) return;
      closed = true;
      open.delete(response);
      if (keepalive) clearInterval(keepalive);
      unsubscribe?.();
      if (!response.writableEnded) response.end();
      log.info({reason}, 'listen stream closed');
    };
    const write = (chunk: string) => {
      if (closed) return;
      response.write(chunk);
      if (response.writableLength > MAX_BUFFERED_BYTES) close('listener too slow');
    };

    const send = (event: FiredEvent) => {
      if (event.source_id !== null) return; // relayed events go to their source's webhooks only
      if (filter && !filter.includes(event.name)) return;
      const delivery: ListenDelivery = {
        id: event.id,
        event: event.name,
        created_at: event.created_at,
        headers: attemptHeaders({deliveryId: event.id, body: event.payload, secret, previousSecrets: null, now: deps.clock.now()}),
        body: event.payload,
      };
      write(sse('delivery', delivery, event.id));
    };

    // Subscribed before `ready` is sent: whatever commits after the listener reads it arrives.
    try {
      unsubscribe = await deps.feed.subscribe(send);
    } catch (error) {
      throw new HeraldError('ServiceUnavailable', {message: 'The event stream is unavailable.', context: (error as Error).message, cause: error});
    }
    if (response.destroyed) {
      unsubscribe();
      return reply;
    }
    reply.hijack();
    open.add(response);
    response.on('close', () => close('disconnected'));
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    write(`retry: 2000\n${sse('ready', {secret, events: filter, integration})}`);
    log.info({events: filter ?? 'all'}, 'listen stream opened');

    keepalive = setInterval(() => {
      // A deleted integration (or a refreshed key) ends the stream; the listener then learns
      // on reconnect that its key is no longer valid.
      deps.database.db
        .selectFrom('api_keys')
        .select('id')
        .where('id', '=', principal.apiKeyId)
        .executeTakeFirst()
        .then((key) => (key ? write(': keepalive\n\n') : close('API key no longer valid')))
        .catch(() => write(': keepalive\n\n'));
    }, KEEPALIVE_MS);
    keepalive.unref();
  });
}
