/**
 * The HTTP side of a delivery attempt: one undici Agent per process (keep-alive, one pool per
 * origin, connections reused), a total time limit per attempt, no redirects followed, and at
 * most 16 KiB of the answer read. It never throws: every attempt ends as an HttpResult.
 */
import type {LookupFunction} from 'node:net';
import {performance} from 'node:perf_hooks';
import {Agent, type Dispatcher} from 'undici';
import type {HttpResult} from './outcome.ts';

/** The most of a response body that is read and kept (bytes). */
export const MAX_RESPONSE_BODY = 16 * 1024;

/** How the process-wide Agent is built. */
export interface SenderOptions {
  /**
   * The DNS lookup used for every new connection (passed to net/tls.connect through undici's
   * `connect` option). This is where an SSRF guard plugs in: a lookup that vets every address
   * it returns and fails with an error whose `code` is `BLOCKED` (message: the address) makes
   * the attempt fail with `blocked: <address>`, and the socket connects to the vetted address
   * only. Default: the system resolver.
   */
  readonly lookup?: LookupFunction;
  /** How long an idle keep-alive connection is kept, in ms. Default 4000 (undici's). */
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

/** Sends delivery requests over the shared Agent. */
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

/** Creates the process's sender (one Agent; call close() at shutdown). */
export function createSender(options: SenderOptions = {}): Sender {
  const agent = new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4000,
    connections: options.connectionsPerOrigin ?? null,
    pipelining: 1,
    // undici's own defaults are 300 s; the per-attempt AbortSignal is the real limit.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: options.lookup ? {lookup: options.lookup} : {},
  });

  /**
   * Parsed targets by URL string: a process sends to the same few URLs over and over, and
   * parsing one (and building its Basic auth) cost more than a little per attempt.
   */
  const targets = new Map<string, Target | string>();
  /**
   * Set by abortAll(), which destroys the Agent: every request then fails, and reads as ABORTED.
   * (No registry of running requests: a long-lived structure holding each request's closures
   * cost more CPU per request, in garbage collection, than the whole rest of send().)
   */
  let aborted = false;

  /**
   * One POST through undici's dispatch API: a handler object per request, with no response
   * stream, promise chain or AbortController in between (those were most of the cost of a
   * request, and of the garbage made per attempt).
   */
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
    const headers: Record<string, string> = target.authorization ? {...request.headers, Authorization: target.authorization} : (request.headers as Record<string, string>);

    return new Promise<HttpResult>((resolve) => {
      let done = false;
      /** The time limit stopped the attempt. */
      let stopped = false;
      /** undici's controller, once the request is on a connection. */
      let controller: Dispatcher.DispatchController | null = null;
      let status = 0;
      let responseHeaders: Record<string, string> | null = null;
      const chunks: Buffer[] = [];
      let size = 0;

      const finish = (result: HttpResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(result);
      };
      // Read at most MAX_RESPONSE_BODY bytes. A body cut short (the limit, the time limit, a
      // reset) keeps what arrived: the status line already decided the outcome.
      const response = (): HttpResult => ({
        kind: 'response',
        status,
        headers: responseHeaders!,
        body: size === 0 ? '' : Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BODY).toString('utf8').replace(/\u0000/g, '\uFFFD'),
        durationMs: elapsed(),
      });
      const failed = (error: unknown): HttpResult => {
        if (stopped) return {kind: 'error', code: 'TIMEOUT', message: `timeout after ${request.timeoutMs} ms`, durationMs: elapsed()};
        if (aborted) return {kind: 'error', code: 'ABORTED', message: 'aborted', durationMs: elapsed()};
        return {kind: 'error', ...describeError(error), durationMs: elapsed()};
      };
      // Before the request is on a connection (still connecting, or queued), the attempt ends
      // at once and the request is dropped as soon as undici starts it.
      const timer = setTimeout(() => {
        if (done || stopped) return;
        stopped = true;
        const reason = new Error('timeout');
        if (controller) controller.abort(reason);
        else finish(responseHeaders ? response() : failed(reason));
      }, request.timeoutMs);

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(started) {
          if (stopped) started.abort(new Error('timeout'));
          else controller = started;
        },
        onResponseStart(_controller, statusCode, incoming) {
          status = statusCode;
          responseHeaders = flattenHeaders(incoming);
        },
        onResponseData(own, chunk) {
          if (done) return;
          chunks.push(chunk);
          size += chunk.length;
          // Enough kept: leaving now drops that connection, so a huge or endless body costs nothing more.
          if (size >= MAX_RESPONSE_BODY) {
            finish(response());
            own.abort(new Error('response body limit reached'));
          }
        },
        onResponseEnd() {
          finish(response());
        },
        onResponseError(_controller, error) {
          finish(responseHeaders ? response() : failed(error));
        },
      };
      try {
        // Never follow redirects: a bare Agent (no redirect interceptor composed) returns the
        // 3xx itself, and a 3xx is a failed attempt.
        agent.dispatch({origin: target.origin, path: target.path, method: 'POST', headers, body: request.body}, handler);
      } catch (error) {
        finish(failed(error));
      }
    });
  }

  return {
    send,
    abortAll() {
      if (aborted) return;
      aborted = true;
      void agent.destroy(new Error('aborted')).catch(() => {});
    },
    close: () => (aborted ? Promise.resolve() : agent.close()),
    destroy: () => (aborted ? Promise.resolve() : agent.destroy()),
  };
}

/** Where a target URL sends: origin, path with query, and Basic auth from its credentials. */
interface Target {
  readonly origin: string;
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
  // Credentials in the target URL become Basic auth, as Ghost's HTTP client does.
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : null;
  return {origin: url.origin, path: `${url.pathname}${url.search}`, authorization};
}

/** Lower-case header names; repeated headers joined with ", "; NULs (PostgreSQL refuses them) replaced. */
function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = (Array.isArray(value) ? value.join(', ') : value).replace(/\u0000/g, '\uFFFD');
  }
  return flat;
}

/** The code (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, BLOCKED…) and message of a failed request. */
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
