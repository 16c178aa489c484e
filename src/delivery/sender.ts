/**
 * The HTTP side of a delivery attempt: keep-alive connections pooled per origin (http1.ts), a
 * total time limit per attempt, no redirects followed, and at most 16 KiB of the answer read.
 * It never throws: every attempt ends as an HttpResult.
 */
import net, {type LookupFunction} from 'node:net';
import {performance} from 'node:perf_hooks';
import {createHttp1Client, requestHead, type Http1Origin} from './http1.ts';
import type {HttpResult} from './outcome.ts';

/** The most of a response body that is read and kept (bytes). */
export const MAX_RESPONSE_BODY = 16 * 1024;

/** How the sender is built. */
export interface SenderOptions {
  /**
   * The DNS lookup used for every new connection (passed to net/tls.connect). This is where an
   * SSRF guard plugs in: a lookup that vets every address it returns and fails with an error
   * whose `code` is `BLOCKED` (message: the address) makes the attempt fail with
   * `blocked: <address>`, and the socket connects to the vetted address only. Default: the
   * system resolver.
   */
  readonly lookup?: LookupFunction;
  /** How long an idle connection is kept, in ms. Default 4000 (a server's shorter `Keep-Alive: timeout=` wins). */
  readonly keepAliveTimeoutMs?: number;
  /** Connections per origin; null = no limit (the worker bounds concurrency). Default null. */
  readonly connectionsPerOrigin?: number | null;
}

/** One POST. */
export interface SendRequest {
  readonly url: string;
  /** Exactly the headers to send (the sender adds only Authorization for credentials in the URL). */
  readonly headers: Readonly<Record<string, string>>;
  /** The payload text, or its UTF-8 bytes (sent as they are). */
  readonly body: string | Uint8Array;
  /** Total time allowed (connect, send, headers and body), in ms. */
  readonly timeoutMs: number;
}

/** Sends delivery requests over its own connection pools. */
export interface Sender {
  send(request: SendRequest): Promise<HttpResult>;
  /**
   * Fails every running request at once with the error code `ABORTED` (shutdown past its
   * grace), and every later one: the sender's connections are destroyed.
   */
  abortAll(): void;
  /** Waits for in-flight requests, then closes every connection. */
  close(): Promise<void>;
  /** Closes every connection now, failing in-flight requests. */
  destroy(): Promise<void>;
}

/** Creates the process's sender (one connection pool per origin; call close() at shutdown). */
export function createSender(options: SenderOptions = {}): Sender {
  const client = createHttp1Client({
    lookup: options.lookup,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 4000,
    connectionsPerOrigin: options.connectionsPerOrigin ?? null,
    maxBody: MAX_RESPONSE_BODY,
  });

  /**
   * Parsed targets by URL string: a process sends to the same few URLs over and over, and
   * parsing one (and building its Basic auth) cost more than a little per attempt.
   */
  const targets = new Map<string, Target | string>();
  /**
   * Set by abortAll(): every running request fails, and every later one, as ABORTED. (No
   * registry of running requests here: a long-lived structure holding each request's closures
   * cost more CPU per request, in garbage collection, than the whole rest of send().)
   */
  let aborted = false;

  function send(request: SendRequest): Promise<HttpResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);

    let target = targets.get(request.url);
    if (target === undefined) {
      target = parseTarget(request.url);
      if (targets.size >= 1000) targets.delete(targets.keys().next().value!);
      targets.set(request.url, target);
    }
    if (typeof target === 'string') return Promise.resolve({kind: 'error', code: 'INVALID_URL', message: target, durationMs: elapsed()});
    if (aborted) return Promise.resolve({kind: 'error', code: 'ABORTED', message: 'aborted', durationMs: 0});
    const headers = target.authorization ? {...request.headers, Authorization: target.authorization} : request.headers;
    const bodyLength = typeof request.body === 'string' ? Buffer.byteLength(request.body, 'utf8') : request.body.byteLength;
    const head = requestHead(target.origin, target.path, headers, bodyLength);
    if (head instanceof Error) return Promise.resolve({kind: 'error', code: 'INVALID_REQUEST', message: head.message, durationMs: elapsed()});

    return new Promise<HttpResult>((resolve) => {
      /** The time limit stopped the attempt. */
      let stopped = false;
      const exchange = client.post(target.origin, head, request.body, (outcome) => {
        clearTimeout(timer);
        // A body cut short (the limit, the time limit, a reset) keeps what arrived: the
        // status line already decided the outcome.
        if (outcome.kind === 'answer') {
          const body = outcome.body.length === 0 ? '' : outcome.body.subarray(0, MAX_RESPONSE_BODY).toString('utf8').replace(/\u0000/g, '\uFFFD');
          resolve({kind: 'response', status: outcome.status, headers: outcome.headers, body, durationMs: elapsed()});
        } else if (stopped) resolve({kind: 'error', code: 'TIMEOUT', message: `timeout after ${request.timeoutMs} ms`, durationMs: elapsed()});
        else if (aborted) resolve({kind: 'error', code: 'ABORTED', message: 'aborted', durationMs: elapsed()});
        else resolve({kind: 'error', ...describeError(outcome.error), durationMs: elapsed()});
      });
      // Connecting, waiting for a connection, sending, or reading: the limit is total.
      const timer = setTimeout(() => {
        stopped = true;
        client.stop(exchange, new Error('timeout'));
      }, request.timeoutMs);
    });
  }

  return {
    send,
    abortAll() {
      if (aborted) return;
      aborted = true;
      client.destroyAll(new Error('aborted'));
    },
    close: () => client.close(),
    async destroy() {
      aborted = true;
      client.destroyAll(new Error('aborted'));
      await client.close();
    },
  };
}

/** Where a target URL sends: its origin, path with query, and Basic auth from its credentials. */
interface Target {
  readonly origin: Http1Origin;
  readonly path: string;
  readonly authorization: string | null;
}

/** The parsed target, or why it cannot be sent to. */
function parseTarget(raw: string): Target | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `unsupported protocol ${url.protocol}`;
  const secure = url.protocol === 'https:';
  // An IPv6 literal comes bracketed: the brackets stay in the Host header, not in the address.
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  // Credentials in the target URL become Basic auth, as Ghost's HTTP client does.
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : null;
  return {
    origin: {key: url.origin, secure, host, port, hostHeader: url.host, servername: net.isIP(host) === 0 ? host : undefined},
    path: `${url.pathname}${url.search}`,
    authorization,
  };
}

/** The code (ECONNREFUSED, ENOTFOUND, SOCKET_CLOSED, BLOCKED…) and message of a failed request. */
function describeError(error: unknown): {code: string; message: string} {
  const err = error as {code?: unknown; message?: unknown; name?: unknown; cause?: {code?: unknown; message?: unknown}} | null;
  const code =
    (typeof err?.code === 'string' && err.code) ||
    (typeof err?.cause?.code === 'string' && err.cause.code) ||
    (typeof err?.name === 'string' && err.name !== 'Error' && err.name) ||
    'UNKNOWN';
  const message = (typeof err?.message === 'string' && err.message) || (typeof err?.cause?.message === 'string' && err.cause.message) || String(error);
  return {code, message};
}
