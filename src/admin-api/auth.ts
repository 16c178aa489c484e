/**
 * Admin API authentication, exactly as Ghost: an integration's Admin API key as a short-lived
 * HS256 JWT (`Authorization: Ghost <token>`), or a staff session cookie with Ghost's Origin
 * check. Content API keys are refused here.
 */
import {decodeJwt, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload} from 'jose';
import type {FastifyRequest} from 'fastify';
import type {Database} from '../db/database.ts';
import {HeraldError} from '../lib/errors.ts';
import {hashSessionToken} from '../content/users.ts';

/** Who is making a request. */
export type Principal =
  | {readonly kind: 'integration'; readonly integrationId: string; readonly apiKeyId: string}
  | {readonly kind: 'staff'; readonly userId: string};

/** Name of the staff session cookie (Ghost's). */
export const SESSION_COOKIE = 'ghost-admin-api-session';

/** Longest accepted token age: Ghost's `maxAge: '5m'`. */
const MAX_TOKEN_AGE_SECONDS = 5 * 60;
/** Ghost's audience rule for the unversioned Admin API (not anchored at the start). */
const AUDIENCE = /\/?admin\/?$/;

/**
 * Verifies an `Authorization: Ghost <jwt>` header against the api_keys table. Throws Ghost's
 * errors: 401 INVALID_AUTH_HEADER, 400 INVALID_JWT / MISSING_ADMIN_API_KID, 401
 * UNKNOWN_ADMIN_API_KEY / INVALID_API_KEY_TYPE / INVALID_JWT.
 */
export async function verifyAdminToken(header: string, database: Database, now: Date, cache: TokenCache): Promise<Principal> {
  const match = /^Ghost\s+(\S+)$/i.exec(header.trim());
  if (!match) {
    throw new HeraldError('Unauthorized', {
      message: 'Authorization header format is "Authorization: Ghost [token]"',
      code: 'INVALID_AUTH_HEADER',
    });
  }
  const token = match[1]!;

  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    decodeJwt(token);
    kid = typeof header.kid === 'string' ? header.kid : undefined;
  } catch (error) {
    throw new HeraldError('BadRequest', {message: 'Invalid token', code: 'INVALID_JWT', cause: error});
  }
  if (!kid) throw new HeraldError('BadRequest', {message: 'Admin API kid missing.', code: 'MISSING_ADMIN_API_KID'});

  const key = await database.db.selectFrom('api_keys').select(['id', 'type', 'secret', 'integration_id']).where('id', '=', kid).executeTakeFirst();
  if (!key) throw new HeraldError('Unauthorized', {message: 'Unknown Admin API Key', code: 'UNKNOWN_ADMIN_API_KEY'});
  if (key.type !== 'admin') throw new HeraldError('Unauthorized', {message: 'Invalid API Key type', code: 'INVALID_API_KEY_TYPE'});

  try {
    // A token whose signature was already verified with this same secret is not verified
    // again (clients reuse a token for a while: @tryghost/admin-api makes the same one within
    // a second); its time claims are checked afresh, exactly as jose checks them.
    const seen = cache.verified.get(token);
    let payload: JWTPayload;
    if (seen && seen.secret === key.secret) {
      payload = seen.payload;
      const nowS = Math.floor(now.getTime() / 1000);
      if (typeof payload.exp === 'number' && payload.exp <= nowS) throw new joseErrors.JWTExpired('"exp" claim timestamp check failed', payload, 'exp', 'check_failed');
      if (typeof payload.nbf === 'number' && payload.nbf > nowS) throw new joseErrors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', payload, 'nbf', 'check_failed');
    } else {
      // jose checks the signature, exp and nbf. maxAge is checked below as jsonwebtoken does it:
      // jose's maxTokenAge also refuses an iat in the future, which Ghost accepts (a client whose
      // clock runs a little ahead must not be locked out).
      ({payload} = await jwtVerify(token, await hmacKey(cache, key.secret), {algorithms: ['HS256'], currentDate: now}));
      if (cache.verified.size >= VERIFIED_TOKEN_CACHE_SIZE) cache.verified.delete(cache.verified.keys().next().value!);
      cache.verified.set(token, {secret: key.secret, payload});
    }
    const audiences = Array.isArray(payload.aud) ? payload.aud : payload.aud === undefined ? [] : [payload.aud];
    if (!audiences.some((aud) => AUDIENCE.test(aud))) {
      throw new HeraldError('Unauthorized', {message: 'Invalid token: jwt audience invalid. expected: /admin/', code: 'INVALID_JWT'});
    }
    if (typeof payload.iat !== 'number') {
      throw new HeraldError('Unauthorized', {message: 'Invalid token: iat required when maxAge is specified', code: 'INVALID_JWT'});
    }
    if (Math.floor(now.getTime() / 1000) >= payload.iat + MAX_TOKEN_AGE_SECONDS) {
      throw new HeraldError('Unauthorized', {message: 'Invalid token: maxAge exceeded', code: 'INVALID_JWT'});
    }
  } catch (error) {
    if (error instanceof HeraldError) throw error;
    throw new HeraldError('Unauthorized', {message: `Invalid token: ${describeJoseError(error)}`, code: 'INVALID_JWT', cause: error});
  }
  if (!key.integration_id) throw new HeraldError('Unauthorized', {message: 'Unknown Admin API Key', code: 'UNKNOWN_ADMIN_API_KEY'});
  return {kind: 'integration', integrationId: key.integration_id, apiKeyId: key.id};
}

/**
 * What Admin API key verification remembers between requests; one per app (buildApp makes it).
 * `verified`: tokens whose signature verified, with the secret that verified them. `keys`: the
 * imported HMAC key per hex secret (importing one costs more than verifying). Both drop their
 * oldest entries first; a refreshed key has a new secret, so nothing stale can match.
 */
export interface TokenCache {
  readonly verified: Map<string, {readonly secret: string; readonly payload: JWTPayload}>;
  readonly keys: Map<string, Promise<CryptoKey>>;
}

/** An empty TokenCache. */
export function createTokenCache(): TokenCache {
  return {verified: new Map(), keys: new Map()};
}

const VERIFIED_TOKEN_CACHE_SIZE = 10_000;
const HMAC_KEY_CACHE_SIZE = 1000;

/** The verification key of an Admin API key's hex secret. */
function hmacKey(cache: TokenCache, secretHex: string): Promise<CryptoKey> {
  let key = cache.keys.get(secretHex);
  if (!key) {
    key = crypto.subtle.importKey('raw', Buffer.from(secretHex, 'hex'), {name: 'HMAC', hash: 'SHA-256'}, false, ['verify']);
    if (cache.keys.size >= HMAC_KEY_CACHE_SIZE) cache.keys.delete(cache.keys.keys().next().value!);
    cache.keys.set(secretHex, key);
    key.catch(() => cache.keys.delete(secretHex));
  }
  return key;
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'jwt expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return error.claim === 'nbf' ? 'jwt not active' : `jwt ${error.claim} invalid`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'invalid algorithm';
  return 'jwt malformed';
}

/** The request's Origin, or the origin of its Referer, or null. */
export function requestOrigin(request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') return origin;
  const referer = request.headers.referer;
  if (typeof referer === 'string') {
    try {
      return new URL(referer).origin;
    } catch {
      return null;
    }
  }
  return null;
}

/** Reads one cookie from the Cookie header. */
export function readCookie(request: FastifyRequest, name: string): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) {
      const raw = part.slice(index + 1).trim();
      // A malformed escape (`%`, `%E0%A4%A`) is the client's mistake, not a 500: no session.
      try {
        return decodeURIComponent(raw);
      } catch {
        return null;
      }
    }
  }
  return null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves a staff session cookie. State-changing requests must come from the site's own
 * origin (Ghost's CSRF rule): anything else is a 400.
 */
export async function verifySession(request: FastifyRequest, database: Database, siteOrigin: string, now: Date): Promise<Principal | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token) return null;
  if (!SAFE_METHODS.has(request.method)) {
    const origin = requestOrigin(request);
    if (origin !== siteOrigin) {
      throw new HeraldError('BadRequest', {
        message: `Request made from incorrect origin. Expected '${siteOrigin}' received '${origin ?? ''}'.`,
        code: 'INVALID_ORIGIN',
      });
    }
  }
  const session = await database.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.user_id', 'sessions.expires_at', 'users.status'])
    .where('sessions.id', '=', hashSessionToken(token))
    .executeTakeFirst();
  if (!session || session.expires_at <= now.toISOString() || session.status !== 'active') return null;
  return {kind: 'staff', userId: session.user_id};
}

/** Ghost's answer when neither a key nor a session identifies the caller. */
export function missingCredentials(): HeraldError {
  return new HeraldError('NoPermission', {
    message: 'Authorization failed',
    context: 'Unable to determine the authenticated user or integration. Check that cookies are being passed through if using session authentication.',
  });
}

/** Ghost's answer when an integration calls something only staff may use. */
export function notImplementedForIntegrations(): HeraldError {
  return new HeraldError('NotImplemented');
}
