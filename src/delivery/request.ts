/**
 * The request of one delivery attempt (pure): the headers SPEC §6 lists, signed for this
 * attempt's instant. The body is the event's stored payload, never re-serialised.
 */
import {GHOST_API_VERSION, HERALD_VERSION} from '../lib/version.ts';
import {ghostSignature, signingSecrets, standardSignatures, type SignedBody} from './signing.ts';

/** The User-Agent of every delivery. */
export const USER_AGENT = `Herald/${HERALD_VERSION} (+Ghost-compatible)`;

/** What the headers of one attempt depend on. */
export interface AttemptRequestInput {
  /** The delivery id: `webhook-id`, the same on every attempt (receivers dedupe on it). */
  readonly deliveryId: string;
  /** The exact body (events.payload), or its UTF-8 bytes. */
  readonly body: SignedBody;
  /** The webhook's current secret; signs both schemes. */
  readonly secret: string | null;
  /** webhooks.previous_secrets (JSON); unexpired entries add Standard Webhooks signatures. */
  readonly previousSecrets: string | null;
  /** The instant of this attempt. */
  readonly now: Date;
}

/**
 * The request headers of one attempt, in the order they are sent: Content-Type,
 * Content-Length, Content-Version, User-Agent, X-Ghost-Signature (current secret only, Ghost's
 * exact format), then Standard Webhooks' webhook-id, webhook-timestamp and webhook-signature
 * (one v1 entry per valid secret). Without any secret the signature headers are left out.
 */
export function attemptHeaders(input: AttemptRequestInput): Record<string, string> {
  const ms = input.now.getTime();
  const seconds = Math.floor(ms / 1000);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'Content-Length': String(typeof input.body === 'string' ? Buffer.byteLength(input.body, 'utf8') : input.body.byteLength),
    'Content-Version': `v${GHOST_API_VERSION}`,
    'User-Agent': USER_AGENT,
  };
  if (input.secret) headers['X-Ghost-Signature'] = ghostSignature(input.body, input.secret, ms);
  headers['webhook-id'] = input.deliveryId;
  headers['webhook-timestamp'] = String(seconds);
  const secrets = signingSecrets(input.secret, input.previousSecrets, input.now);
  if (secrets.length > 0) headers['webhook-signature'] = standardSignatures(input.deliveryId, seconds, input.body, secrets);
  return headers;
}

/** A URL safe to store and log: any password in it is replaced by `***`. */
export function redactUrl(url: string): string {
  // Credentials come before an "@": without one there is nothing to hide (and no URL to parse
  // on every attempt).
  if (!url.includes('@')) return url;
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
