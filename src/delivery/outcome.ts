/**
 * What one HTTP attempt amounted to (pure): success, gone (410: disable the webhook) or a
 * failure to retry, plus the strings stored in the delivery log and on the webhook's
 * `last_triggered_*` columns.
 */
import {parseRetryAfter} from './retry-policy.ts';

/** The receiver answered (whatever the status). */
export interface HttpResponseResult {
  readonly kind: 'response';
  readonly status: number;
  /** Response headers, lower-case names, repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The response body as text, at most the sender's limit (16 KiB). */
  readonly body: string;
  readonly durationMs: number;
}

/** No answer came: the attempt timed out, the connection failed, or it was refused before sending. */
export interface HttpErrorResult {
  readonly kind: 'error';
  /**
   * `TIMEOUT` for the total time limit, a system code (`ECONNREFUSED`, `ENOTFOUND`, …), an
   * `SOCKET_CLOSED` (the connection ended before an answer), `BAD_RESPONSE` (not HTTP),
   * `INVALID_REQUEST` (headers HTTP cannot carry), a TLS code (`DEPTH_ZERO_SELF_SIGNED_CERT`, …),
   * `INVALID_URL`, or `BLOCKED` (a refused target address). Older records may hold undici's
   * codes (`UND_ERR_SOCKET`, …).
   */
  readonly code: string;
  /** Human-readable detail; for BLOCKED, the refused address. */
  readonly message: string;
  readonly durationMs: number;
}

/** What the sender returns for one attempt. */
export type HttpResult = HttpResponseResult | HttpErrorResult;

/** The classified outcome of one attempt. */
export type Outcome =
  | {readonly kind: 'success'; readonly status: number}
  | {readonly kind: 'gone'; readonly status: 410}
  | {
      readonly kind: 'failure';
      readonly status: number | null;
      /** `HTTP 500`, `timeout after 10000 ms`, `ECONNREFUSED`, `blocked: 10.0.0.1`, … */
      readonly error: string;
      /** The receiver's Retry-After in ms from now, honoured only for 429 and 503. */
      readonly retryAfterMs?: number;
    };

/** The longest error string kept (the columns hold 2000 characters). */
const MAX_ERROR = 500;

/**
 * Classifies an attempt's result. 2xx is success; 410 is gone; everything else, 3xx included
 * (redirects are never followed), is a failure. `timeoutMs` names the limit in timeout
 * errors; `nowMs` turns an HTTP-date Retry-After into a delay.
 */
export function classify(result: HttpResult, timeoutMs: number, nowMs: number): Outcome {
  if (result.kind === 'response') {
    const status = result.status;
    if (status >= 200 && status < 300) return {kind: 'success', status};
    if (status === 410) return {kind: 'gone', status: 410};
    const error = `HTTP ${status}`;
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(result.headers['retry-after'], nowMs);
      if (retryAfterMs !== null) return {kind: 'failure', status, error, retryAfterMs};
    }
    return {kind: 'failure', status, error};
  }
  return {kind: 'failure', status: null, error: errorText(result, timeoutMs)};
}

function errorText(result: HttpErrorResult, timeoutMs: number): string {
  if (result.code === 'TIMEOUT') return `timeout after ${timeoutMs} ms`;
  if (result.code === 'BLOCKED') return `blocked: ${result.message}`;
  if (result.code === 'INVALID_URL') return clip(`invalid URL: ${result.message}`);
  return clip(result.code || result.message || 'unknown error');
}

function clip(text: string): string {
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
}

/** The error stored on the attempt and the delivery (`last_error`); null on success. */
export function attemptError(outcome: Outcome): string | null {
  switch (outcome.kind) {
    case 'success':
      return null;
    case 'gone':
      return 'HTTP 410';
    case 'failure':
      return outcome.error;
  }
}

/** `webhooks.last_triggered_status`: the real HTTP status as text (Ghost stores it as a string), or null. */
export function lastTriggeredStatus(outcome: Outcome): string | null {
  return outcome.status === null ? null : String(outcome.status);
}

/**
 * `webhooks.last_triggered_error`: null on success; `HTTP <status>` when the receiver answered
 * with a failure; `Request failed: <reason>` (Ghost's prefix) when no answer came.
 */
export function lastTriggeredError(outcome: Outcome): string | null {
  if (outcome.kind === 'success') return null;
  if (outcome.kind === 'gone') return 'HTTP 410';
  return outcome.status === null ? `Request failed: ${outcome.error}` : outcome.error;
}
