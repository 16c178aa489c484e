'use strict';
/**
 * herald/verify — check that a webhook request really comes from Herald (or Ghost) before
 * trusting its body.
 *
 * Herald signs every delivery twice, side by side:
 *
 *   X-Ghost-Signature: sha256=<hex HMAC-SHA256(secret as UTF-8 bytes, body + t)>, t=<ms>
 *     Ghost's own format: the raw body and the millisecond timestamp are concatenated with no
 *     separator. The key is the secret's UTF-8 text, even for a `whsec_` secret.
 *
 *   webhook-id, webhook-timestamp (seconds), webhook-signature: v1,<base64> [v1,<base64> ...]
 *     Standard Webhooks: HMAC-SHA256 over `${id}.${timestamp}.${body}`. A `whsec_` secret is
 *     base64-decoded to get the key; any other secret is used as its UTF-8 bytes. During a
 *     secret rotation there is one `v1,` entry per secret, and any one of them may match.
 *
 * Both verifiers take the body exactly as it arrived (a string or the raw bytes), compare
 * signatures in constant time, refuse timestamps too far from the receiver's clock in either
 * direction (a replay guard, 5 minutes by default), and return the parsed JSON payload. Every
 * refusal is a WebhookVerificationError with a stable `code`. Messages never contain the secret.
 *
 * This file is the only implementation: index.mjs re-exports it for ES modules. It is plain
 * CommonJS with no dependency beyond node:crypto, so it runs on plain Node (no TypeScript loader).
 */
const crypto = require('node:crypto');

const DEFAULT_GHOST_TOLERANCE_MS = 5 * 60 * 1000;
const DEFAULT_STANDARD_TOLERANCE_S = 5 * 60;
const WHSEC_PREFIX = 'whsec_';

/**
 * Thrown by both verifiers when a request must not be trusted. `code` says why, for programs:
 * - `missing_secret`:   no secret (or an empty one) was given to the verifier
 * - `invalid_body`:     the body is not a string, Buffer, Uint8Array or ArrayBuffer (often: it was
 *                       already parsed as JSON by a body parser, so the raw bytes are lost)
 * - `missing_header`:   a signature header is absent or empty
 * - `malformed_header`: a signature header is present but cannot be read
 * - `bad_signature`:    no signature matches the body and the secret
 * - `stale_timestamp`:  the signature is valid but its timestamp is too old or in the future
 * - `invalid_json`:     the signature is valid but the body is not JSON
 */
class WebhookVerificationError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.code = code;
  }
}

/** Shorthand for the throw sites below. */
function fail(code, message) {
  return new WebhookVerificationError(code, message);
}

/**
 * The body as bytes. Strings are taken as UTF-8 (what Herald and Ghost send); binary input is
 * used as is, which is the safest choice: the signature covers the bytes on the wire.
 */
function bodyBytes(rawBody) {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (Buffer.isBuffer(rawBody)) return rawBody;
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  if (rawBody instanceof ArrayBuffer) return Buffer.from(rawBody);
  throw fail(
    'invalid_body',
    'The body must be the raw request body (a string, Buffer, Uint8Array or ArrayBuffer), not parsed JSON.',
  );
}

/** A secret that is a non-empty string, or a missing_secret error. */
function requireSecret(secret) {
  if (typeof secret !== 'string' || secret === '') {
    throw fail('missing_secret', 'No webhook secret was given to verify the signature with.');
  }
  return secret;
}

/** The verification time in milliseconds: options.now (a number or a Date) or the clock. */
function nowMs(options) {
  const now = options && options.now !== undefined ? options.now : Date.now();
  const ms = now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError('options.now must be a finite number of milliseconds or a Date');
  }
  return ms;
}

/** A tolerance option: a non-negative number (Infinity turns the check off), or the default. */
function tolerance(options, name, fallback) {
  const value = options && options[name] !== undefined ? options[name] : fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`options.${name} must be a non-negative number`);
  }
  return value;
}

/**
 * One header value as a single string, or undefined when absent. Node gives string[] for some
 * repeated headers; a one-element array is unwrapped, several elements are joined with `joiner`
 * (or refused when `joiner` is null, for headers that must appear once).
 */
function single(value, name, joiner) {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    if (value.length === 1) return single(value[0], name, joiner);
    if (joiner === null || !value.every((v) => typeof v === 'string')) {
      throw fail('malformed_header', `The ${name} header was sent more than once.`);
    }
    return value.join(joiner);
  }
  if (typeof value !== 'string') throw fail('malformed_header', `The ${name} header is not a string.`);
  return value;
}

/** The JSON payload of a body whose signature has been checked. */
function parsePayload(bytes) {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw fail('invalid_json', 'The signature is valid but the body is not JSON.');
  }
}

/** Constant-time equality of two byte strings; different lengths are simply unequal. */
function sameBytes(a, b) {
  // The lengths are not secret (a SHA-256 digest is always 32 bytes), so checking them first
  // leaks nothing; timingSafeEqual itself requires equal lengths.
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** A digit string (a timestamp), parsed; anything else is malformed. */
function parseDigits(text, name) {
  if (!/^\d{1,16}$/.test(text)) throw fail('malformed_header', `The ${name} is not a whole number.`);
  return Number(text);
}

// ---------------------------------------------------------------------------------------------
// X-Ghost-Signature
// ---------------------------------------------------------------------------------------------

/**
 * Reads `sha256=<hex>, t=<ms>`: the parts may come in any order, with any spacing around the
 * commas and equals signs; unknown parts are ignored; each known part must appear once.
 */
function parseGhostHeader(header) {
  const parts = {};
  for (const piece of header.split(',')) {
    const eq = piece.indexOf('=');
    if (eq === -1) {
      if (piece.trim() === '') continue;
      throw fail('malformed_header', 'The X-Ghost-Signature header is not of the form "sha256=<hex>, t=<ms>".');
    }
    const key = piece.slice(0, eq).trim().toLowerCase();
    const value = piece.slice(eq + 1).trim();
    if (key !== 'sha256' && key !== 't') continue;
    if (key in parts) throw fail('malformed_header', `The X-Ghost-Signature header has more than one "${key}" part.`);
    parts[key] = value;
  }
  if (parts.sha256 === undefined || parts.t === undefined) {
    throw fail('malformed_header', 'The X-Ghost-Signature header needs both a "sha256=" and a "t=" part.');
  }
  if (!/^[0-9a-fA-F]{64}$/.test(parts.sha256)) {
    throw fail('malformed_header', 'The sha256 part of the X-Ghost-Signature header is not 64 hex digits.');
  }
  return {digest: Buffer.from(parts.sha256, 'hex'), t: parts.t, tMs: parseDigits(parts.t, 'X-Ghost-Signature t value')};
}

/**
 * Verifies Ghost's `X-Ghost-Signature` header and returns the parsed JSON payload.
 *
 * @param {string | Buffer | Uint8Array | ArrayBuffer} rawBody the body exactly as received
 * @param {string | string[] | undefined | null} header the X-Ghost-Signature header value
 * @param {string} secret the webhook secret (used as its UTF-8 bytes, `whsec_` or not)
 * @param {{toleranceMs?: number, now?: number | Date}} [options]
 *   toleranceMs: how far the `t` value may be from now, either way (default 300000, 5 minutes);
 *   now: the current time in milliseconds (default Date.now()), for tests.
 * @returns {any} the payload
 * @throws {WebhookVerificationError}
 */
function verifyGhostSignature(rawBody, header, secret, options) {
  requireSecret(secret);
  const bytes = bodyBytes(rawBody);
  const maxSkew = tolerance(options, 'toleranceMs', DEFAULT_GHOST_TOLERANCE_MS);
  const now = nowMs(options);

  const value = single(header, 'X-Ghost-Signature', null);
  if (value === undefined || value.trim() === '') {
    throw fail('missing_header', 'The X-Ghost-Signature header is missing.');
  }
  const {digest, t, tMs} = parseGhostHeader(value);

  // Ghost's message is the body followed directly by the t text exactly as sent.
  const expected = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(bytes).update(t, 'utf8').digest();
  if (!sameBytes(expected, digest)) {
    throw fail('bad_signature', 'The X-Ghost-Signature does not match the body and the secret.');
  }
  // Checked after the signature, so this code means "authentic but old": a replay or a clock skew.
  if (Math.abs(now - tMs) > maxSkew) {
    throw fail(
      'stale_timestamp',
      tMs < now ? 'The X-Ghost-Signature timestamp is too old.' : 'The X-Ghost-Signature timestamp is too far in the future.',
    );
  }
  return parsePayload(bytes);
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks
// ---------------------------------------------------------------------------------------------

/**
 * A header reader over either a fetch `Headers`-like object (anything with a get() method) or a
 * plain object such as Node's IncomingHttpHeaders, whose keys may be in any case.
 */
function headerReader(headers) {
  if (headers === null || typeof headers !== 'object') {
    throw new TypeError('headers must be an object of request headers or a Headers instance');
  }
  if (typeof headers.get === 'function') {
    return (name) => {
      const value = headers.get(name);
      return value === null ? undefined : value;
    };
  }
  const byLowerName = new Map();
  for (const key of Object.keys(headers)) {
    const lower = key.toLowerCase();
    if (!byLowerName.has(lower)) byLowerName.set(lower, headers[key]);
    else {
      // The same name twice in different cases: treat it as a repeated header.
      const previous = byLowerName.get(lower);
      byLowerName.set(lower, [].concat(previous, headers[key]));
    }
  }
  return (name) => byLowerName.get(name);
}

/** The key bytes of a Standard Webhooks secret: base64 after `whsec_`, otherwise UTF-8. */
function standardKey(secret) {
  const key = secret.startsWith(WHSEC_PREFIX)
    ? Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
  if (key.length === 0) throw fail('missing_secret', 'The webhook secret decodes to an empty key.');
  return key;
}

/**
 * Verifies Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
 * and returns the parsed JSON payload.
 *
 * @param {string | Buffer | Uint8Array | ArrayBuffer} rawBody the body exactly as received
 * @param {object} headers the request headers: a plain object (any name case; string, string[]
 *   or undefined values, like Node's req.headers) or a fetch Headers-like object with get()
 * @param {string} secret `whsec_<base64 key>`, or any other string used as its UTF-8 bytes
 * @param {{toleranceS?: number, now?: number | Date}} [options]
 *   toleranceS: how far webhook-timestamp may be from now, either way (default 300 seconds);
 *   now: the current time in milliseconds (default Date.now()), for tests.
 * @returns {any} the payload
 * @throws {WebhookVerificationError}
 */
function verifyStandardWebhook(rawBody, headers, secret, options) {
  const key = standardKey(requireSecret(secret));
  const bytes = bodyBytes(rawBody);
  const maxSkewS = tolerance(options, 'toleranceS', DEFAULT_STANDARD_TOLERANCE_S);
  const nowS = Math.floor(nowMs(options) / 1000);

  const read = headerReader(headers);
  const id = single(read('webhook-id'), 'webhook-id', null);
  const timestamp = single(read('webhook-timestamp'), 'webhook-timestamp', null);
  // Repeated signature headers are merged: each one is just more candidate signatures.
  const signatureHeader = single(read('webhook-signature'), 'webhook-signature', ' ');
  for (const [name, value] of [['webhook-id', id], ['webhook-timestamp', timestamp], ['webhook-signature', signatureHeader]]) {
    if (value === undefined || value.trim() === '') throw fail('missing_header', `The ${name} header is missing.`);
  }
  const ts = timestamp.trim();
  const tsSeconds = parseDigits(ts, 'webhook-timestamp header');

  // Entries are space-separated `<version>,<base64>`; only v1 (HMAC-SHA256) is ours, others
  // (such as v1a, asymmetric signatures) are skipped as the specification asks.
  const candidates = [];
  for (const entry of signatureHeader.trim().split(/\s+/)) {
    const comma = entry.indexOf(',');
    if (comma === -1) continue;
    if (entry.slice(0, comma) === 'v1') candidates.push(Buffer.from(entry.slice(comma + 1), 'base64'));
  }
  if (candidates.length === 0) {
    throw fail('malformed_header', 'The webhook-signature header has no "v1,<base64>" signature.');
  }

  const mac = crypto.createHmac('sha256', key);
  mac.update(`${id}.${ts}.`, 'utf8');
  mac.update(bytes);
  const expected = mac.digest();
  // Every candidate is compared (no early exit), each in constant time.
  let matched = false;
  for (const candidate of candidates) matched = sameBytes(expected, candidate) || matched;
  if (!matched) {
    throw fail('bad_signature', 'No webhook-signature entry matches the body and the secret.');
  }
  if (Math.abs(nowS - tsSeconds) > maxSkewS) {
    throw fail(
      'stale_timestamp',
      tsSeconds < nowS ? 'The webhook-timestamp is too old.' : 'The webhook-timestamp is too far in the future.',
    );
  }
  return parsePayload(bytes);
}

module.exports = {WebhookVerificationError, verifyGhostSignature, verifyStandardWebhook};
