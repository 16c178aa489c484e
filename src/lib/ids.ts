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
/** The 5 "process unique" bytes of ObjectIds (as hex), drawn once per random source. */
const processHex = new WeakMap<Random, string>();

/**
 * A 24-hex ObjectId like Ghost's (MongoDB's layout): 4 bytes of seconds, 5 bytes drawn once
 * per process (per random source), 3 bytes of an incrementing counter. So ids made in one
 * process sort by creation, even within one second. (Built as text: two are made per
 * delivery, and a Buffer per id cost more than the rest.)
 */
export function objectId(now: Date = new Date(), random: Random = cryptoRandom): string {
  let unique = processHex.get(random);
  if (unique === undefined) {
    unique = random.bytes(5).toString('hex');
    processHex.set(random, unique);
  }
  counter = (counter + 1) % 0xffffff;
  // As an unsigned 32-bit number, like the 4 bytes it stands for.
  const seconds = Math.floor(now.getTime() / 1000) >>> 0;
  return seconds.toString(16).padStart(8, '0') + unique + counter.toString(16).padStart(6, '0');
}

/** An Admin API key secret: 32 random bytes as 64 hex characters (Ghost's `secret.create('admin')`). */
export function adminKeySecret(random: Random = cryptoRandom): string {
  return random.bytes(32).toString('hex');
}

/** A Content API key secret: 13 random bytes as 26 hex characters. */
export function contentKeySecret(random: Random = cryptoRandom): string {
  return random.bytes(13).toString('hex');
}
