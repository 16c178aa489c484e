/**
 * Identifiers and secrets in Ghost's formats. Randomness comes from the caller's `Random`
 * port so tests can make it deterministic.
 */
import {randomBytes, randomUUID} from 'node:crypto';

/** The random source; the composition root passes the real one. */
export interface Random {
  /** `n` cryptographically strong random bytes. */
  bytes(n: number): Buffer;
  /** A v4 UUID. */
  uuid(): string;
}

/** The default random source, backed by node:crypto. */
export const cryptoRandom: Random = {
  bytes: (n) => randomBytes(n),
  uuid: () => randomUUID(),
};

let counter = randomBytes(3).readUIntBE(0, 3);
/** The 5 "process unique" bytes of ObjectIds, drawn once per random source. */
const processBytes = new WeakMap<Random, Buffer>();

/**
 * A 24-hex ObjectId like Ghost's (MongoDB's layout): 4 bytes of seconds, 5 bytes drawn once
 * per process (per random source), 3 bytes of an incrementing counter. So ids made in one
 * process sort by creation, even within one second.
 */
export function objectId(now: Date = new Date(), random: Random = cryptoRandom): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32BE(Math.floor(now.getTime() / 1000), 0);
  let unique = processBytes.get(random);
  if (!unique) {
    unique = random.bytes(5);
    processBytes.set(random, unique);
  }
  unique.copy(buf, 4);
  counter = (counter + 1) % 0xffffff;
  buf.writeUIntBE(counter, 9, 3);
  return buf.toString('hex');
}

/** An Admin API key secret: 32 random bytes as 64 hex characters (Ghost's `secret.create('admin')`). */
export function adminKeySecret(random: Random = cryptoRandom): string {
  return random.bytes(32).toString('hex');
}

/** A Content API key secret: 13 random bytes as 26 hex characters. */
export function contentKeySecret(random: Random = cryptoRandom): string {
  return random.bytes(13).toString('hex');
}
