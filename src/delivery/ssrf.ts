/**
 * The SSRF guard (SPEC §7): which addresses a webhook may reach, the create-time check of
 * literal targets, and the DNS lookup the sender connects through. A name is resolved once per
 * connection; every address it resolves to is vetted and the socket connects to a vetted address
 * only, so a second (rebinding) answer is never asked for.
 */
import dns from 'node:dns';
import type {LookupFunction} from 'node:net';
import ipaddr from 'ipaddr.js';

/** The error code a refused address fails with (the sender reports it as `blocked: <address>`). */
export const BLOCKED = 'BLOCKED';

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * True only for a public unicast address. False for loopback, private, link-local (incl.
 * 169.254.169.254), unique-local, multicast, unspecified, broadcast, carrier-grade NAT,
 * reserved/documentation/benchmarking ranges, anything that does not parse, and IPv6 forms that
 * embed an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4) unless the embedded IPv4 is public.
 */
export function isPublicAddress(ip: string): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
  return address.kind() === 'ipv4' ? isPublicV4(address as ipaddr.IPv4) : isPublicV6(address as ipaddr.IPv6);
}

function isPublicV4(address: ipaddr.IPv4): boolean {
  return address.range() === 'unicast';
}

function embeddedV4(parts: readonly number[], high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([parts[high]! >> 8, parts[high]! & 0xff, parts[low]! >> 8, parts[low]! & 0xff]);
}

function isPublicV6(address: ipaddr.IPv6): boolean {
  const parts = address.parts;
  const range = address.range() as string;
  if (range === 'loopback' || range === 'unspecified') return false;
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT), ::a.b.c.d (deprecated compatible) and
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix) reach the embedded IPv4 address: judge that.
  if (range === 'ipv4Mapped' || range === 'rfc6145' || parts.slice(0, 6).every((p) => p === 0)) return isPublicV4(embeddedV4(parts, 6, 7));
  if (parts[0] === 0x64 && parts[1] === 0xff9b && parts.slice(2, 6).every((p) => p === 0)) return isPublicV4(embeddedV4(parts, 6, 7));
  // 6to4 (2002:AABB:CCDD::/48) carries the IPv4 address AA.BB.CC.DD.
  if (range === '6to4') return isPublicV4(embeddedV4(parts, 1, 2));
  return range === 'unicast' && address.match(GLOBAL_UNICAST_V6);
}

/**
 * The refused address when `url`'s host is an IP literal that is not public, else null (a name,
 * a public literal, or no URL at all). The host is read as WHATWG URL parsing reads it, so the
 * odd IPv4 spellings (2130706433, 0x7f.1, 0177.0.0.1, 127.1) are already dotted quads here.
 */
export function literalTargetProblem(url: string): string | null {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return null;
  }
  const host = hostname.replace(/^\[|\]$/g, '');
  const isLiteral = hostname.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
  if (!isLiteral) return null;
  return isPublicAddress(host) ? null : host;
}

/** The error a guarded lookup fails with: code BLOCKED, message the refused address. */
export function blockedError(address: string): NodeJS.ErrnoException {
  return Object.assign(new Error(address), {code: BLOCKED});
}

/**
 * A lookup for net/tls.connect (the sender's `lookup`) that resolves every address of a
 * name with `baseLookup` (once), and fails with code BLOCKED if any of them is not public;
 * otherwise it answers with those vetted addresses only, so the connection goes to a checked
 * address and no second lookup can rebind the name.
 */
export function createGuardedLookup(baseLookup: LookupFunction = dns.lookup as unknown as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    baseLookup(hostname, {...options, all: true}, (error, result, family) => {
      if (error) return callback(error, '', 4);
      const addresses: dns.LookupAddress[] = Array.isArray(result)
        ? result
        : typeof result === 'string' && result !== ''
          ? [{address: result, family: family ?? (result.includes(':') ? 6 : 4)}]
          : [];
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`no address for ${hostname}`), {code: 'ENOTFOUND'}), '', 4);
      }
      const refused = addresses.find((entry) => !isPublicAddress(entry.address));
      if (refused) return callback(blockedError(refused.address), '', 4);
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
}
