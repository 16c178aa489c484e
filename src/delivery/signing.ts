/**
 * Signature strings for outgoing deliveries (pure). Two schemes are sent side by side:
 * Ghost's `X-Ghost-Signature`, so existing Ghost receivers verify unchanged, and Standard
 * Webhooks' `webhook-signature`, so receivers can use the official libraries.
 */
import {createHmac} from 'node:crypto';

/** Prefix of a Standard Webhooks secret; the rest is base64 of the key bytes. */
export const WHSEC_PREFIX = 'whsec_';

/**
 * A body to sign: the payload text, or its UTF-8 bytes. A sender signing one body for many
 * webhooks encodes it once and passes the bytes; both give the same signatures.
 */
export type SignedBody = string | Uint8Array;

/**
 * Ghost's exact header value: `sha256=<hex HMAC-SHA256(secret as UTF-8, body + tMs)>, t=<tMs>`.
 * The body and the millisecond timestamp are concatenated with no separator, and the secret
 * is used as its UTF-8 bytes even when it is a `whsec_` secret (that is what Ghost does).
 */
export function ghostSignature(body: SignedBody, secret: string, tMs: number): string {
  const t = String(Math.trunc(tMs));
  // The HMAC is fed in two parts: the same bytes as body + t, without copying the body.
  const hex = createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).update(t).digest('hex');
  return `sha256=${hex}, t=${t}`;
}

/**
 * The key bytes of a secret for Standard Webhooks: a `whsec_` secret is base64-decoded (the
 * part after the prefix, as the official libraries do); any other secret is its UTF-8 bytes.
 */
export function standardKey(secret: string): Buffer {
  return secret.startsWith(WHSEC_PREFIX) ? Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * The `webhook-signature` header value: one `v1,<base64 HMAC-SHA256 over "id.ts.body">` entry
 * per secret, space-separated (several entries during a secret rotation). Empty secrets are
 * skipped; no secrets gives an empty string.
 */
export function standardSignatures(id: string, timestampSeconds: number, body: SignedBody, secrets: readonly string[]): string {
  // Signed content: `${id}.${timestamp}.${body}`, fed as the prefix and then the body.
  const prefix = `${id}.${Math.trunc(timestampSeconds)}.`;
  return secrets
    .filter((secret) => secret !== '')
    .map((secret) => `v1,${createHmac('sha256', standardKey(secret)).update(prefix).update(body).digest('base64')}`)
    .join(' ');
}

/** One entry of `webhooks.previous_secrets`: a rotated-out secret that still signs until it expires. */
export interface PreviousSecret {
  readonly secret: string;
  /** ISO-8601; the secret stops signing at this instant. */
  readonly expires_at: string;
}

/**
 * The secrets that sign a delivery at `now`: the current one first, then every unexpired
 * previous secret (from the `previous_secrets` JSON column; unreadable JSON counts as none).
 * Duplicates are dropped.
 */
export function signingSecrets(current: string | null, previousJson: string | null, now: Date): string[] {
  const secrets: string[] = [];
  if (current) secrets.push(current);
  let previous: unknown = null;
  try {
    previous = previousJson ? JSON.parse(previousJson) : null;
  } catch {
    previous = null;
  }
  if (Array.isArray(previous)) {
    for (const entry of previous as Partial<PreviousSecret>[]) {
      if (!entry || typeof entry.secret !== 'string' || entry.secret === '') continue;
      const expires = typeof entry.expires_at === 'string' ? Date.parse(entry.expires_at) : Number.NaN;
      if (!(expires > now.getTime())) continue;
      if (!secrets.includes(entry.secret)) secrets.push(entry.secret);
    }
  }
  return secrets;
}
