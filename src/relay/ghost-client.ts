/**
 * A small client for the two calls of Ghost's webhook Admin API that `source connect` and
 * `source disconnect` need: `POST /ghost/api/admin/webhooks/` and `DELETE …/webhooks/:id/`,
 * authenticated as @tryghost/admin-api does (a fresh HS256 JWT per request, aud /admin/).
 *
 * Ghost has no webhook browse endpoint for integrations, so "is it already there?" is answered
 * by Ghost's own duplicate rule: adding an (event, target_url) pair that exists is a 422
 * ValidationError "Target URL has already been used for this event." — reported as `exists`.
 */
import {adminToken} from '../lib/admin-token.ts';

/** Why a call to Ghost failed as a whole (every further call would fail the same way). */
export type GhostFailureKind = 'unreachable' | 'unauthorized' | 'unexpected';

/** A failure that stops connect/disconnect: Ghost is unreachable, refuses the key, or is not Ghost. */
export class GhostClientError extends Error {
  readonly kind: GhostFailureKind;
  readonly status: number | null;
  constructor(kind: GhostFailureKind, message: string, options: {status?: number | null; cause?: unknown} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = 'GhostClientError';
    this.kind = kind;
    this.status = options.status ?? null;
  }
}

/** What adding one webhook came to. */
export type AddOutcome =
  | {readonly kind: 'created'; readonly id: string}
  | {readonly kind: 'exists'}
  | {readonly kind: 'refused'; readonly status: number; readonly reason: string};

/** What deleting one webhook came to. */
export type RemoveOutcome = {readonly kind: 'deleted'} | {readonly kind: 'missing'} | {readonly kind: 'refused'; readonly status: number; readonly reason: string};

/** A webhook to create in Ghost. */
export interface GhostWebhookInput {
  readonly event: string;
  readonly target_url: string;
  readonly secret: string;
  readonly name: string;
}

/** The two calls, bound to one Ghost site and key. */
export interface GhostWebhookApi {
  add(webhook: GhostWebhookInput): Promise<AddOutcome>;
  remove(id: string): Promise<RemoveOutcome>;
}

/** Options of createGhostClient. */
export interface GhostClientOptions {
  /** The site URL, normalised by normaliseGhostUrl. */
  readonly ghostUrl: string;
  /** `<24 hex id>:<64 hex secret>`, as Ghost shows a custom integration's Admin API key. */
  readonly adminKey: string;
  /** Time allowed per request. Default 15 s. */
  readonly timeoutMs?: number;
  /** The fetch to use (tests). Default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** The Admin API key format Ghost issues. */
export const ADMIN_KEY = /^[0-9a-f]{24}:[0-9a-f]{64}$/;

/**
 * The canonical form of a Ghost site URL: http(s) only, no query or fragment, no trailing
 * slash, and a trailing `/ghost` (the admin path users often copy) dropped. Throws on anything
 * else, with a message naming the problem.
 */
export function normaliseGhostUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`"${text}" is not a URL (example: https://blog.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${text}" must be an http or https URL`);
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '').replace(/\/ghost$/, '');
}

/** One error entry of Ghost's envelope, as far as it can be read. */
function ghostReason(status: number, text: string): string {
  try {
    const first = (JSON.parse(text) as {errors?: Array<{type?: string; message?: string; context?: string | null}>}).errors?.[0];
    if (first) return [first.type, first.message, first.context].filter((part) => typeof part === 'string' && part !== '').join(': ');
  } catch {
    // Not Ghost's envelope; fall through to the raw text.
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return snippet === '' ? `HTTP ${status}` : `HTTP ${status}: ${snippet}`;
}

/** Makes the client. Every call signs a fresh token, as the official client does. */
export function createGhostClient(options: GhostClientOptions): GhostWebhookApi {
  const base = `${options.ghostUrl}/ghost/api/admin`;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;

  const call = async (method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<{status: number; text: string}> => {
    const url = `${base}${path}`;
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: {
          authorization: await adminToken(options.adminKey),
          'accept-version': 'v5.0',
          accept: 'application/json',
          ...(body === undefined ? {} : {'content-type': 'application/json'}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // A redirect would turn the POST into a GET; say where Ghost lives instead.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const cause = (error as {cause?: {code?: string; message?: string}}).cause;
      const detail = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : cause?.code ?? cause?.message ?? (error as Error).message;
      throw new GhostClientError('unreachable', `Cannot reach Ghost at ${options.ghostUrl} (${detail}). Check --ghost-url.`, {cause: error});
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      throw new GhostClientError('unexpected', `Ghost at ${options.ghostUrl} redirected to ${location ?? '(no location)'}; use the site's canonical URL as --ghost-url.`, {status: response.status});
    }
    if (response.status === 401 || response.status === 403) {
      throw new GhostClientError('unauthorized', `Ghost refused the Admin API key (${ghostReason(response.status, text)}). Check --ghost-admin-key: it is the "Admin API key" of a custom integration.`, {status: response.status});
    }
    if (response.status === 404 && !/"errors"/.test(text)) {
      throw new GhostClientError('unexpected', `${url} is not Ghost's Admin API (HTTP 404). Check --ghost-url.`, {status: 404});
    }
    return {status: response.status, text};
  };

  return {
    async add(webhook) {
      const {status, text} = await call('POST', '/webhooks/', {webhooks: [webhook]});
      if (status === 201 || status === 200) {
        let id: unknown;
        try {
          id = (JSON.parse(text) as {webhooks?: Array<{id?: unknown}>}).webhooks?.[0]?.id;
        } catch {
          id = undefined;
        }
        if (typeof id !== 'string' || id === '') throw new GhostClientError('unexpected', `Ghost answered ${status} without a webhook id; is ${options.ghostUrl} a Ghost site?`, {status});
        return {kind: 'created', id};
      }
      if (status === 422 && /already been used/i.test(text)) return {kind: 'exists'};
      return {kind: 'refused', status, reason: ghostReason(status, text)};
    },
    async remove(id) {
      const {status, text} = await call('DELETE', `/webhooks/${encodeURIComponent(id)}/`);
      if (status === 204 || status === 200) return {kind: 'deleted'};
      if (status === 404) return {kind: 'missing'};
      return {kind: 'refused', status, reason: ghostReason(status, text)};
    },
  };
}
