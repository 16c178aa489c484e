/**
 * `herald listen` (SPEC §9), the listener side: keeps one outgoing SSE connection to a Herald
 * server, authenticated with an Admin API key, and forwards every event it streams to a local
 * URL with the exact body and the signing headers, printing a line per event and per result.
 * A lost connection is retried with backoff; a refused key ends the command.
 */
import {Agent, request} from 'undici';
import {adminToken} from '../lib/admin-token.ts';
import {createSseParser, type SseMessage} from './sse.ts';
import type {ListenDelivery} from './stream.ts';

/** An Admin API key as Ghost makes them: 24 hex id, colon, 64 hex secret. */
const ADMIN_KEY = /^[0-9a-f]{24}:[0-9a-f]{64}$/;

/** What runListener needs. */
export interface ListenerOptions {
  /** The Herald server, e.g. http://127.0.0.1:2368. */
  readonly server: string;
  /** The integration's Admin API key (id:secret). */
  readonly key: string;
  /** Where each event is POSTed. */
  readonly forwardTo: string;
  /** Event names to receive; null for all. */
  readonly events: readonly string[] | null;
  /** Ends the listener (^C): resolves with 0 once in-flight forwards are done. */
  readonly signal: AbortSignal;
  /** Normal output lines (without newline). */
  readonly out: (line: string) => void;
  /** Error and connection-state lines. */
  readonly err: (line: string) => void;
  /** First reconnect delay (doubled per failure up to maxReconnectMs). Default 1000. */
  readonly reconnectMs?: number;
  readonly maxReconnectMs?: number;
  /** Time allowed for the local app to answer one forward. Default 30 s. */
  readonly forwardTimeoutMs?: number;
}

/** A usage problem found before connecting (exit code 2). */
export class ListenUsageError extends Error {}

/** Checks the options that can be wrong before anything is sent; throws ListenUsageError. */
export function checkListenOptions(options: {server?: string; key?: string; forwardTo?: string}): void {
  if (!options.forwardTo) throw new ListenUsageError('listen needs --forward-to URL (where your app receives webhooks, e.g. http://localhost:3000/webhooks)');
  if (!isHttpUrl(options.forwardTo)) throw new ListenUsageError(`--forward-to must be an http:// or https:// URL, not "${options.forwardTo}"`);
  if (!options.key) throw new ListenUsageError('listen needs an Admin API key: --key ID:SECRET or HERALD_ADMIN_KEY (create one with: herald integration create --name "Local dev")');
  if (!ADMIN_KEY.test(options.key)) throw new ListenUsageError('--key must be an Admin API key: 24 hex characters, a colon, 64 hex characters');
  if (!options.server || !isHttpUrl(options.server)) throw new ListenUsageError(`--url must be the Herald server's http:// or https:// URL, not "${options.server ?? ''}"`);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Why a connection ended. `fatal` ones end the command; the others are retried. */
interface Ended {
  readonly fatal: boolean;
  readonly reason: string;
  /** The stream was open (rather than the connection failing). */
  readonly wasOpen?: boolean;
}

/** Runs until the signal aborts (exit code 0) or the server refuses the listener (1). */
export async function runListener(options: ListenerOptions): Promise<number> {
  const server = options.server.replace(/\/+$/, '');
  const streamUrl = new URL(`${server}/ghost/api/admin/webhooks/listen/`);
  if (options.events) streamUrl.searchParams.set('events', options.events.join(','));
  // The stream gets a keepalive comment every 15 s: 45 s of silence means the link is dead.
  const agent = new Agent({bodyTimeout: 45_000, headersTimeout: 15_000, connectTimeout: 10_000});
  const inFlight = new Set<Promise<void>>();
  let secret: string | null = null;
  let everConnected = false;
  let delay = options.reconnectMs ?? 1000;

  const forward = async (delivery: ListenDelivery): Promise<void> => {
    const headers = {...delivery.headers};
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-length') delete headers[name];
    try {
      const response = await request(options.forwardTo, {
        method: 'POST',
        headers,
        body: delivery.body,
        dispatcher: agent,
        headersTimeout: options.forwardTimeoutMs ?? 30_000,
        bodyTimeout: options.forwardTimeoutMs ?? 30_000,
      });
      await response.body.dump();
      options.out(`<-- [${response.statusCode}] POST ${options.forwardTo} [${delivery.id}]`);
    } catch (error) {
      options.out(`<-- [ERROR] POST ${options.forwardTo} [${delivery.id}] ${errorText(error)}`);
    }
  };

  const onMessage = (message: SseMessage) => {
    if (message.event === 'ready') {
      const ready = JSON.parse(message.data) as {secret: string};
      if (ready.secret !== secret) {
        secret = ready.secret;
        options.out(`Ready! Your webhook signing secret is ${secret} (^C to quit)`);
      } else {
        options.err(`Reconnected to ${server}.`);
      }
      delay = options.reconnectMs ?? 1000;
      return;
    }
    if (message.event === 'delivery') {
      const delivery = JSON.parse(message.data) as ListenDelivery;
      options.out(`--> ${delivery.event} [${delivery.id}]`);
      const job = forward(delivery).finally(() => inFlight.delete(job));
      inFlight.add(job);
    }
  };

  /** One connection, from request to its end. */
  const connectOnce = async (): Promise<Ended> => {
    let response;
    try {
      response = await request(streamUrl, {
        method: 'GET',
        headers: {authorization: await adminToken(options.key), accept: 'text/event-stream'},
        dispatcher: agent,
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal.aborted) return {fatal: true, reason: 'stopped'};
      return {fatal: !everConnected, reason: `cannot reach Herald at ${server} (${errorText(error)})`};
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      const reason = `Herald at ${server} refused the listener: ${response.statusCode} ${ghostErrorText(text)}`;
      // A refused key or a bad --events never fixes itself; a server error may.
      return {fatal: !everConnected || response.statusCode < 500, reason};
    }
    everConnected = true;
    const parser = createSseParser(onMessage);
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.push(decoder.decode(chunk as Buffer, {stream: true}));
      return {fatal: false, reason: 'the server closed the stream', wasOpen: true};
    } catch (error) {
      if (options.signal.aborted) return {fatal: true, reason: 'stopped'};
      return {fatal: false, reason: errorText(error), wasOpen: true};
    }
  };

  try {
    for (;;) {
      const ended = await connectOnce();
      if (options.signal.aborted) return 0;
      if (ended.fatal) {
        options.err(`herald listen: ${ended.reason}`);
        return 1;
      }
      options.err(
        ended.wasOpen
          ? `Lost the connection to ${server} (${ended.reason}); reconnecting in ${seconds(delay)}…`
          : `Still cannot connect: ${ended.reason}; retrying in ${seconds(delay)}…`,
      );
      if (!(await sleep(delay, options.signal))) return 0;
      // Doubled per failed attempt; a "ready" message resets it.
      delay = Math.min(delay * 2, options.maxReconnectMs ?? 15_000);
    }
  } finally {
    // ^C: let the forwards already sent finish (each is bounded by its timeout).
    await Promise.allSettled([...inFlight]);
    await agent.close().catch(() => {});
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve(true);
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', abort, {once: true});
  });
}

function errorText(error: unknown): string {
  const err = error as {code?: string; message?: string; cause?: {message?: string}};
  const message = err?.message || String(error);
  return err?.cause?.message && !message.includes(err.cause.message) ? `${message}: ${err.cause.message}` : message;
}

/** The message (and context) of a Ghost error envelope, or the raw text. */
function ghostErrorText(text: string): string {
  try {
    const first = (JSON.parse(text) as {errors?: Array<{message?: string; context?: string | null}>}).errors?.[0];
    if (first?.message) return first.context ? `${first.message} ${first.context}` : first.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}
