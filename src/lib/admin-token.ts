/**
 * Signs Admin API JWTs the way @tryghost/admin-api does (HS256, hex-decoded secret, kid,
 * aud /admin/, 5-minute expiry): `herald listen` authenticates with it, and the options
 * break each rule for the auth tests.
 */
import {SignJWT} from 'jose';

/** Options to make a token valid or deliberately wrong. */
export interface TokenOptions {
  readonly audience?: string;
  /** Seconds since epoch for iat. */
  readonly iat?: number;
  /** Seconds since epoch for exp. */
  readonly exp?: number;
  /** Sign with this hex secret instead of the key's own. */
  readonly secret?: string;
  /** Override the kid header. */
  readonly kid?: string | null;
}

/** Makes `Ghost <jwt>` for an Admin key `id:secret`. */
export async function adminToken(adminKey: string, options: TokenOptions = {}): Promise<string> {
  const [id, secret] = adminKey.split(':');
  const now = Math.floor(Date.now() / 1000);
  const header: Record<string, string> = {alg: 'HS256', typ: 'JWT'};
  if (options.kid !== null) header.kid = options.kid ?? id!;
  const jwt = await new SignJWT({})
    .setProtectedHeader(header as {alg: string})
    .setIssuedAt(options.iat ?? now)
    .setExpirationTime(options.exp ?? (options.iat ?? now) + 300)
    .setAudience(options.audience ?? '/admin/')
    .sign(Buffer.from(options.secret ?? secret!, 'hex'));
  return `Ghost ${jwt}`;
}
