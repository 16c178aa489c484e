/**
 * Types of `herald/verify` (the CommonJS entry, index.cjs). The ES module entry's types,
 * index.d.ts, re-export these, so both `require` and `import` see the same declarations.
 *
 * Herald signs every webhook delivery twice: Ghost's `X-Ghost-Signature` and Standard Webhooks'
 * `webhook-id` / `webhook-timestamp` / `webhook-signature`. Verify either one, with the raw body
 * exactly as received.
 */

/** Why a request was refused; see {@link WebhookVerificationError.code}. */
export type WebhookVerificationErrorCode =
  | 'missing_secret'
  | 'invalid_body'
  | 'missing_header'
  | 'malformed_header'
  | 'bad_signature'
  | 'stale_timestamp'
  | 'invalid_json';

/**
 * Thrown by both verifiers when a request must not be trusted. Answer it with a 4xx status
 * (401 or 400) and do not act on the body. The message is one sentence for people and never
 * contains the secret; `code` is the stable reason for programs.
 */
export declare class WebhookVerificationError extends Error {
  constructor(code: WebhookVerificationErrorCode, message: string);
  readonly name: 'WebhookVerificationError';
  /**
   * - `missing_secret`: no secret, or an empty one (or a `whsec_` secret with an empty key)
   * - `invalid_body`: the body is not a string/Buffer/Uint8Array/ArrayBuffer (it was probably
   *   already parsed as JSON by a body parser, and the raw bytes are lost)
   * - `missing_header`: a signature header is absent or empty
   * - `malformed_header`: a signature header is present but cannot be read
   * - `bad_signature`: no signature matches the body and the secret
   * - `stale_timestamp`: the signature is valid but its timestamp is outside the tolerance
   *   (too old, or too far in the future)
   * - `invalid_json`: the signature is valid but the body is not JSON
   */
  readonly code: WebhookVerificationErrorCode;
}

/** The request body exactly as received. A string is taken as its UTF-8 bytes. */
export type RawBody = string | Uint8Array | ArrayBuffer;

/**
 * One header value as Node gives it (`req.headers[name]`): absent, a string, or (for some
 * repeated headers) an array of strings.
 */
export type HeaderValue = string | readonly string[] | undefined | null;

/** A fetch `Headers` instance, or anything with the same `get()`. */
export interface HeadersLike {
  get(name: string): string | null;
}

/** A plain object of headers (any name case), e.g. Node's `IncomingHttpHeaders`. */
export type HeadersRecord = Readonly<Record<string, HeaderValue>>;

export interface VerifyGhostSignatureOptions {
  /**
   * How far the header's `t` (milliseconds) may be from `now`, in either direction, before the
   * request is refused as `stale_timestamp`. Default 300000 (5 minutes); `Infinity` disables it.
   */
  toleranceMs?: number;
  /** The current time in milliseconds since the epoch (or a Date). Default `Date.now()`. */
  now?: number | Date;
}

export interface VerifyStandardWebhookOptions {
  /**
   * How far `webhook-timestamp` (seconds) may be from `now`, in either direction, before the
   * request is refused as `stale_timestamp`. Default 300 (5 minutes); `Infinity` disables it.
   */
  toleranceS?: number;
  /** The current time in milliseconds since the epoch (or a Date). Default `Date.now()`. */
  now?: number | Date;
}

/**
 * Verifies Ghost's `X-Ghost-Signature: sha256=<hex>, t=<ms>` header (HMAC-SHA256 keyed with the
 * secret's UTF-8 bytes over the raw body followed by the `t` text) and returns the parsed JSON
 * payload. The comparison is constant-time, and a `t` more than `toleranceMs` away from now is
 * refused. Works for deliveries from Herald and from Ghost itself.
 *
 * @param rawBody the request body exactly as received, never re-serialised JSON
 * @param header the `X-Ghost-Signature` header value (`req.headers['x-ghost-signature']`)
 * @param secret the webhook's secret; a `whsec_…` secret is used as its text here, as Ghost does
 * @returns the parsed payload (pass a type argument to name its shape)
 * @throws {WebhookVerificationError} when the request must not be trusted
 */
export declare function verifyGhostSignature<T = unknown>(
  rawBody: RawBody,
  header: HeaderValue,
  secret: string,
  options?: VerifyGhostSignatureOptions,
): T;

/**
 * Verifies the Standard Webhooks headers `webhook-id`, `webhook-timestamp` (seconds) and
 * `webhook-signature` (`v1,<base64>` entries, space-separated; any one matching is enough, which
 * covers secret rotations) and returns the parsed JSON payload. The HMAC-SHA256 is over
 * `${id}.${timestamp}.${body}`; the comparison is constant-time, and a timestamp more than
 * `toleranceS` away from now is refused.
 *
 * @param rawBody the request body exactly as received, never re-serialised JSON
 * @param headers the request headers: `req.headers` (any name case) or a fetch `Headers`
 * @param secret `whsec_<base64 key>` (the key is base64-decoded), or any other string (used as
 *   its UTF-8 bytes)
 * @returns the parsed payload (pass a type argument to name its shape)
 * @throws {WebhookVerificationError} when the request must not be trusted
 */
export declare function verifyStandardWebhook<T = unknown>(
  rawBody: RawBody,
  headers: HeadersLike | HeadersRecord,
  secret: string,
  options?: VerifyStandardWebhookOptions,
): T;
