// herald/verify, the receiver library: signatures made by Herald's own sending code verify;
// every way a request can be wrong is refused with the right code; the official
// standardwebhooks library agrees both ways; real Ghost deliveries verify; and the package
// loads on plain Node (require and import, no tsx).
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import type {IncomingHttpHeaders} from 'node:http';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import Fastify from 'fastify';
import {Webhook} from 'standardwebhooks';
import {verifyGhostSignature, verifyStandardWebhook, WebhookVerificationError} from 'herald/verify';
import type {WebhookVerificationErrorCode} from 'herald/verify';
import {ghostSignature, standardSignatures} from '../../src/delivery/signing.ts';
import {attemptHeaders} from '../../src/delivery/request.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.resolve(ROOT, '..', 'shared', 'ghost-fixtures', 'payloads');
const FIXTURE_SECRET = 'anchor-webhook-secret';

const SECRET = `whsec_${Buffer.from('herald-verify-test-key-32-bytes!').toString('base64')}`;
const OLD_SECRET = `whsec_${Buffer.from('the-previous-key-being-rotated!!').toString('base64')}`;
const PLAIN_SECRET = 'a plain shared secret';
const BODY = JSON.stringify({event: 'post.published', post: {current: {id: '6b0a8c24116f123f0ab0dfc3', title: 'Ünïcödé ✓ 🚀'}, previous: {}}});
const PAYLOAD = JSON.parse(BODY) as unknown;
const NOW = new Date('2026-11-28T10:00:00.123Z');
const NOW_MS = NOW.getTime();
const NOW_S = Math.floor(NOW_MS / 1000);
const DELIVERY_ID = '6b0a8c24116f123f0ab0dfd9';

/** Asserts that `fn` throws a WebhookVerificationError with `code`, and a clean message. */
function throwsCode(fn: () => unknown, code: WebhookVerificationErrorCode, secrets: readonly string[] = [SECRET, OLD_SECRET, PLAIN_SECRET]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof WebhookVerificationError, `expected a WebhookVerificationError, got ${String(error)}`);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'WebhookVerificationError');
    assert.equal(error.code, code, error.message);
    // One sentence for people, never the secret (nor its base64 key part).
    assert.match(error.message, /^[A-Z][^\n]*\.$/);
    for (const secret of secrets) {
      assert.ok(!error.message.includes(secret), 'the message contains the secret');
      assert.ok(!error.message.includes(secret.replace(/^whsec_/, '')), 'the message contains the key');
    }
    return true;
  });
}

/** The headers Herald's sender puts on an attempt at NOW. */
function heraldHeaders(opts: {secret?: string; previous?: string[]; body?: string; now?: Date} = {}): Record<string, string> {
  const now = opts.now ?? NOW;
  const previousSecrets = opts.previous
    ? JSON.stringify(opts.previous.map((secret) => ({secret, expires_at: new Date(now.getTime() + 86_400_000).toISOString()})))
    : null;
  return attemptHeaders({deliveryId: DELIVERY_ID, body: opts.body ?? BODY, secret: opts.secret ?? SECRET, previousSecrets, now});
}

/** A header of a Record<string, string>, found without regard to case. */
function header(headers: Record<string, string>, name: string): string {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  assert.ok(key, `no ${name} header`);
  return headers[key];
}

describe('verifyGhostSignature', () => {
  const signed = header(heraldHeaders(), 'X-Ghost-Signature');

  test('a signature from Herald\'s sender verifies and returns the payload', () => {
    assert.match(signed, new RegExp(`^sha256=[0-9a-f]{64}, t=${NOW_MS}$`));
    assert.deepEqual(verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('Buffer, Uint8Array and ArrayBuffer bodies verify like the string', () => {
    const bytes = Buffer.from(BODY, 'utf8');
    assert.deepEqual(verifyGhostSignature(bytes, signed, SECRET, {now: NOW_MS}), PAYLOAD);
    const view = new Uint8Array(bytes.length);
    view.set(bytes);
    assert.deepEqual(verifyGhostSignature(view, signed, SECRET, {now: NOW_MS}), PAYLOAD);
    assert.deepEqual(verifyGhostSignature(view.buffer, signed, SECRET, {now: NOW_MS}), PAYLOAD);
    // A Uint8Array that is a window into a larger buffer: only its own bytes count.
    const padded = Buffer.concat([Buffer.from('xx'), bytes, Buffer.from('yy')]);
    assert.deepEqual(verifyGhostSignature(padded.subarray(2, 2 + bytes.length), signed, SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('the whsec_ secret is used as its text (as Ghost does), and a plain secret works too', () => {
    const plain = ghostSignature(BODY, PLAIN_SECRET, NOW_MS);
    assert.deepEqual(verifyGhostSignature(BODY, plain, PLAIN_SECRET, {now: NOW_MS}), PAYLOAD);
    // Keyed with the base64-decoded key instead, it would not verify.
    const decodedKey = Buffer.from(SECRET.slice('whsec_'.length), 'base64').toString('latin1');
    throwsCode(() => verifyGhostSignature(BODY, signed, decodedKey, {now: NOW_MS}), 'bad_signature', [SECRET, decodedKey]);
  });

  test('defaults to the real clock', () => {
    const now = Date.now();
    assert.deepEqual(verifyGhostSignature(BODY, ghostSignature(BODY, SECRET, now), SECRET), PAYLOAD);
    throwsCode(() => verifyGhostSignature(BODY, ghostSignature(BODY, SECRET, now - 10 * 60_000), SECRET), 'stale_timestamp');
    assert.deepEqual(verifyGhostSignature(BODY, ghostSignature(BODY, SECRET, NOW_MS), SECRET, {now: NOW}), PAYLOAD, 'now as a Date');
  });

  test('the header is read tolerantly: order, spacing, hex case, a one-element array', () => {
    const hex = /sha256=([0-9a-f]{64})/.exec(signed)![1];
    for (const variant of [
      `t=${NOW_MS}, sha256=${hex}`,
      `sha256=${hex},t=${NOW_MS}`,
      `  sha256 = ${hex} ,   t= ${NOW_MS}  `,
      `SHA256=${hex.toUpperCase()}, T=${NOW_MS}`,
      `sha256=${hex}, t=${NOW_MS}, v=2`,
    ]) {
      assert.deepEqual(verifyGhostSignature(BODY, variant, SECRET, {now: NOW_MS}), PAYLOAD, variant);
    }
    assert.deepEqual(verifyGhostSignature(BODY, [signed], SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('a tampered body, signature or timestamp, or the wrong secret: bad_signature', () => {
    throwsCode(() => verifyGhostSignature(BODY.replace('Ünïcödé', 'Unicode'), signed, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyGhostSignature(`${BODY} `, signed, SECRET, {now: NOW_MS}), 'bad_signature');
    const hex = /sha256=([0-9a-f]{64})/.exec(signed)![1];
    const flipped = hex.slice(0, 10) + (hex[10] === '0' ? '1' : '0') + hex.slice(11);
    throwsCode(() => verifyGhostSignature(BODY, `sha256=${flipped}, t=${NOW_MS}`, SECRET, {now: NOW_MS}), 'bad_signature');
    // Moving t (even within the tolerance) breaks the signature, since t is signed.
    throwsCode(() => verifyGhostSignature(BODY, `sha256=${hex}, t=${NOW_MS + 1}`, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyGhostSignature(BODY, signed, 'not-the-secret', {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyGhostSignature(BODY, signed, OLD_SECRET, {now: NOW_MS}), 'bad_signature');
  });

  test('stale and future timestamps are refused beyond the tolerance (default 5 minutes), edges included', () => {
    assert.deepEqual(verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 300_000}), PAYLOAD);
    assert.deepEqual(verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS - 300_000}), PAYLOAD);
    throwsCode(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 300_001}), 'stale_timestamp');
    throwsCode(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS - 300_001}), 'stale_timestamp');
    assert.throws(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 300_001}), /too old/);
    assert.throws(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS - 300_001}), /future/);

    assert.deepEqual(verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 1000, toleranceMs: 1000}), PAYLOAD);
    throwsCode(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 1001, toleranceMs: 1000}), 'stale_timestamp');
    throwsCode(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS - 1001, toleranceMs: 1000}), 'stale_timestamp');
    assert.deepEqual(verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS + 10 * 365 * 86_400_000, toleranceMs: Infinity}), PAYLOAD);
    assert.throws(() => verifyGhostSignature(BODY, signed, SECRET, {now: NOW_MS, toleranceMs: -1}), TypeError);
  });

  test('a stale timestamp with a bad signature is a bad signature (the signature is checked first)', () => {
    throwsCode(() => verifyGhostSignature(BODY, signed, 'wrong', {now: NOW_MS + 3_600_000}), 'bad_signature');
  });

  test('a missing header: missing_header', () => {
    for (const missing of [undefined, null, '', '   ', []]) {
      throwsCode(() => verifyGhostSignature(BODY, missing, SECRET, {now: NOW_MS}), 'missing_header');
    }
  });

  test('a malformed header: malformed_header', () => {
    const hex = 'a'.repeat(64);
    for (const bad of [
      'garbage',
      `sha256=${hex}`,
      `t=${NOW_MS}`,
      `sha256=abc, t=${NOW_MS}`,
      `sha256=${'g'.repeat(64)}, t=${NOW_MS}`,
      `sha256=${hex}a, t=${NOW_MS}`,
      `sha256=${hex}, t=soon`,
      `sha256=${hex}, t=-5`,
      `sha256=${hex}, t=1.5`,
      `sha256=${hex}, sha256=${hex}, t=${NOW_MS}`,
      `sha256=${hex}, t=1, t=2`,
    ]) {
      throwsCode(() => verifyGhostSignature(BODY, bad, SECRET, {now: NOW_MS}), 'malformed_header');
    }
    throwsCode(() => verifyGhostSignature(BODY, [signed, signed], SECRET, {now: NOW_MS}), 'malformed_header');
  });

  test('no secret: missing_secret; a parsed body: invalid_body; a signed non-JSON body: invalid_json', () => {
    throwsCode(() => verifyGhostSignature(BODY, signed, '', {now: NOW_MS}), 'missing_secret');
    throwsCode(() => verifyGhostSignature(BODY, signed, undefined as unknown as string, {now: NOW_MS}), 'missing_secret');
    throwsCode(() => verifyGhostSignature(PAYLOAD as string, signed, SECRET, {now: NOW_MS}), 'invalid_body');
    const text = 'ok, not JSON';
    throwsCode(() => verifyGhostSignature(text, ghostSignature(text, SECRET, NOW_MS), SECRET, {now: NOW_MS}), 'invalid_json');
  });
});

describe('verifyStandardWebhook', () => {
  test('headers from Herald\'s sender verify (whsec_ and plain secrets) and return the payload', () => {
    const headers = heraldHeaders();
    assert.equal(header(headers, 'webhook-timestamp'), String(NOW_S));
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET, {now: NOW_MS}), PAYLOAD);
    assert.deepEqual(verifyStandardWebhook(BODY, heraldHeaders({secret: PLAIN_SECRET}), PLAIN_SECRET, {now: NOW_MS}), PAYLOAD);
    throwsCode(() => verifyStandardWebhook(BODY, heraldHeaders({secret: PLAIN_SECRET}), SECRET, {now: NOW_MS}), 'bad_signature');
  });

  test('a fetch Headers object and plain objects with any name case', () => {
    const sent = heraldHeaders();
    assert.deepEqual(verifyStandardWebhook(BODY, new Headers(sent), SECRET, {now: NOW_MS}), PAYLOAD);
    const mixed = {
      'Webhook-Id': header(sent, 'webhook-id'),
      'WEBHOOK-TIMESTAMP': header(sent, 'webhook-timestamp'),
      'webhook-Signature': header(sent, 'webhook-signature'),
    };
    assert.deepEqual(verifyStandardWebhook(BODY, mixed, SECRET, {now: NOW_MS}), PAYLOAD);
    // As Node gives them: lower-case names, some values arrays, unrelated headers undefined.
    const node: IncomingHttpHeaders = {
      'webhook-id': header(sent, 'webhook-id'),
      'webhook-timestamp': [header(sent, 'webhook-timestamp')],
      'webhook-signature': header(sent, 'webhook-signature'),
      'x-forwarded-for': undefined,
      'set-cookie': ['a=b'],
    };
    assert.deepEqual(verifyStandardWebhook(BODY, node, SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('Buffer and Uint8Array bodies', () => {
    const headers = heraldHeaders();
    assert.deepEqual(verifyStandardWebhook(Buffer.from(BODY), headers, SECRET, {now: NOW_MS}), PAYLOAD);
    assert.deepEqual(verifyStandardWebhook(new TextEncoder().encode(BODY), headers, SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('rotation: with two v1 entries, either secret verifies, a third does not', () => {
    const headers = heraldHeaders({previous: [OLD_SECRET]});
    const entries = header(headers, 'webhook-signature').split(' ');
    assert.equal(entries.length, 2);
    assert.ok(entries.every((e) => e.startsWith('v1,')));
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET, {now: NOW_MS}), PAYLOAD);
    assert.deepEqual(verifyStandardWebhook(BODY, headers, OLD_SECRET, {now: NOW_MS}), PAYLOAD);
    throwsCode(() => verifyStandardWebhook(BODY, headers, PLAIN_SECRET, {now: NOW_MS}), 'bad_signature');
    // The same entries in two separate headers (Node's array form), order reversed.
    const split = {...headers, 'webhook-signature': [entries[1], entries[0]]};
    assert.deepEqual(verifyStandardWebhook(BODY, split, SECRET, {now: NOW_MS}), PAYLOAD);
    // Unknown versions (e.g. asymmetric v1a) are skipped, not fatal.
    const withOther = {...headers, 'webhook-signature': `v1a,AAAA ${entries[1]}`};
    assert.deepEqual(verifyStandardWebhook(BODY, withOther, OLD_SECRET, {now: NOW_MS}), PAYLOAD);
  });

  test('a tampered body, id, timestamp or signature, or the wrong secret: bad_signature', () => {
    const headers = heraldHeaders();
    throwsCode(() => verifyStandardWebhook(BODY.replace('✓', 'x'), headers, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyStandardWebhook(BODY, {...headers, 'webhook-id': 'another-id'}, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyStandardWebhook(BODY, {...headers, 'webhook-timestamp': String(NOW_S + 1)}, SECRET, {now: NOW_MS}), 'bad_signature');
    const signature = header(headers, 'webhook-signature');
    const raw = Buffer.from(signature.slice(3), 'base64');
    raw[0] ^= 1;
    throwsCode(() => verifyStandardWebhook(BODY, {...headers, 'webhook-signature': `v1,${raw.toString('base64')}`}, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyStandardWebhook(BODY, {...headers, 'webhook-signature': `v1,${raw.subarray(0, 16).toString('base64')}`}, SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyStandardWebhook(BODY, headers, OLD_SECRET, {now: NOW_MS}), 'bad_signature');
    throwsCode(() => verifyStandardWebhook(BODY, headers, `whsec_${Buffer.from('another key').toString('base64')}`, {now: NOW_MS}), 'bad_signature');
  });

  test('stale and future timestamps are refused beyond the tolerance (default 300 s), edges included', () => {
    const headers = heraldHeaders();
    const at = (seconds: number) => (NOW_S + seconds) * 1000;
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET, {now: at(300) + 999}), PAYLOAD);
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET, {now: at(-300)}), PAYLOAD);
    throwsCode(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(301)}), 'stale_timestamp');
    throwsCode(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(-301)}), 'stale_timestamp');
    assert.throws(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(301)}), /too old/);
    assert.throws(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(-301)}), /future/);
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET, {now: at(10), toleranceS: 10}), PAYLOAD);
    throwsCode(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(11), toleranceS: 10}), 'stale_timestamp');
    throwsCode(() => verifyStandardWebhook(BODY, headers, SECRET, {now: at(-11), toleranceS: 10}), 'stale_timestamp');
    // The real clock by default.
    throwsCode(() => verifyStandardWebhook(BODY, heraldHeaders({now: new Date(Date.now() - 600_000)}), SECRET), 'stale_timestamp');
    assert.deepEqual(verifyStandardWebhook(BODY, heraldHeaders({now: new Date()}), SECRET), PAYLOAD);
  });

  test('missing headers: missing_header', () => {
    const headers = heraldHeaders();
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const without = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== name));
      throwsCode(() => verifyStandardWebhook(BODY, without, SECRET, {now: NOW_MS}), 'missing_header');
      throwsCode(() => verifyStandardWebhook(BODY, new Headers(without), SECRET, {now: NOW_MS}), 'missing_header');
      throwsCode(() => verifyStandardWebhook(BODY, {...without, [name]: ''}, SECRET, {now: NOW_MS}), 'missing_header');
    }
    throwsCode(() => verifyStandardWebhook(BODY, {}, SECRET, {now: NOW_MS}), 'missing_header');
  });

  test('malformed headers: malformed_header', () => {
    const headers = heraldHeaders();
    for (const [name, value] of [
      ['webhook-timestamp', 'yesterday'],
      ['webhook-timestamp', '-1'],
      ['webhook-timestamp', '1.5'],
      ['webhook-signature', 'garbage'],
      ['webhook-signature', 'v2,AAAA v1a,BBBB'],
      ['webhook-id', ['a', 'b']],
      ['webhook-timestamp', [String(NOW_S), String(NOW_S)]],
    ] as const) {
      throwsCode(() => verifyStandardWebhook(BODY, {...headers, [name]: value}, SECRET, {now: NOW_MS}), 'malformed_header');
    }
  });

  test('no secret: missing_secret; a parsed body: invalid_body; a signed non-JSON body: invalid_json', () => {
    const headers = heraldHeaders();
    throwsCode(() => verifyStandardWebhook(BODY, headers, '', {now: NOW_MS}), 'missing_secret');
    throwsCode(() => verifyStandardWebhook(BODY, headers, 'whsec_', {now: NOW_MS}), 'missing_secret');
    throwsCode(() => verifyStandardWebhook(PAYLOAD as string, headers, SECRET, {now: NOW_MS}), 'invalid_body');
    const text = '<html>not json</html>';
    const signedText = {'webhook-id': 'x', 'webhook-timestamp': String(NOW_S), 'webhook-signature': standardSignatures('x', NOW_S, text, [SECRET])};
    throwsCode(() => verifyStandardWebhook(text, signedText, SECRET, {now: NOW_MS}), 'invalid_json');
  });
});

describe('agrees with the official standardwebhooks library', () => {
  test('what the official library signs, herald/verify accepts', () => {
    const now = new Date();
    const signature = new Webhook(SECRET).sign(DELIVERY_ID, now, BODY);
    const headers = {'webhook-id': DELIVERY_ID, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signature};
    assert.deepEqual(verifyStandardWebhook(BODY, headers, SECRET), PAYLOAD);
    throwsCode(() => verifyStandardWebhook(BODY, headers, OLD_SECRET), 'bad_signature');
  });

  test('what Herald sends (rotation included), the official library accepts; a tampered body it refuses too', () => {
    const headers = heraldHeaders({previous: [OLD_SECRET], now: new Date()});
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.deepEqual(new Webhook(SECRET).verify(BODY, lower), PAYLOAD);
    assert.deepEqual(new Webhook(OLD_SECRET).verify(BODY, lower), PAYLOAD);
    assert.deepEqual(verifyStandardWebhook(BODY, lower, SECRET), PAYLOAD);
    assert.throws(() => new Webhook(SECRET).verify(`${BODY} `, lower));
    throwsCode(() => verifyStandardWebhook(`${BODY} `, lower, SECRET), 'bad_signature');
  });
});

describe('real Ghost 5.99.1 deliveries (shared/ghost-fixtures)', () => {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

  test('the fixtures are there', () => {
    assert.ok(files.length >= 5, `only ${files.length} fixtures`);
  });

  for (const file of files) {
    test(`${file} verifies with the webhook's secret`, () => {
      const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as {headers: [string, string][]; body: unknown};
      const signature = fixture.headers.find(([name]) => name.toLowerCase() === 'x-ghost-signature')![1];
      const t = Number(/t=(\d+)/.exec(signature)![1]);
      const raw = JSON.stringify(fixture.body);
      assert.deepEqual(verifyGhostSignature(raw, signature, FIXTURE_SECRET, {now: t + 1000}), fixture.body);
      assert.deepEqual(verifyGhostSignature(Buffer.from(raw), signature, FIXTURE_SECRET, {now: Date.now(), toleranceMs: Infinity}), fixture.body);
      throwsCode(() => verifyGhostSignature(raw, signature, FIXTURE_SECRET, {now: t + 300_001}), 'stale_timestamp', [FIXTURE_SECRET]);
      throwsCode(() => verifyGhostSignature(raw, signature, 'another-secret', {now: t}), 'bad_signature', [FIXTURE_SECRET]);
      // Re-serialised with different spacing, the same JSON no longer verifies: raw bytes matter.
      const pretty = JSON.stringify(fixture.body, null, 2);
      if (pretty !== raw) throwsCode(() => verifyGhostSignature(pretty, signature, FIXTURE_SECRET, {now: t}), 'bad_signature', [FIXTURE_SECRET]);
    });
  }
});

describe('packaging', () => {
  /** Runs a script on plain Node (no tsx loader) from the repository root. */
  function plainNode(args: string[], env: Record<string, string>): {status: number | null; stdout: string; stderr: string} {
    const childEnv: NodeJS.ProcessEnv = {...process.env, ...env};
    delete childEnv.NODE_OPTIONS;
    delete childEnv.NODE_TEST_CONTEXT;
    const result = spawnSync(process.execPath, args, {cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 30_000});
    return {status: result.status, stdout: result.stdout, stderr: result.stderr};
  }

  const now = new Date();
  const headers = heraldHeaders({now});
  const env = {HV_BODY: BODY, HV_SECRET: SECRET, HV_HEADERS: JSON.stringify(headers)};
  const script = (load: string) => `${load}
    const headers = JSON.parse(process.env.HV_HEADERS);
    const ghost = verifyGhostSignature(process.env.HV_BODY, headers['X-Ghost-Signature'], process.env.HV_SECRET);
    const standard = verifyStandardWebhook(Buffer.from(process.env.HV_BODY), headers, process.env.HV_SECRET);
    let code = null;
    try { verifyStandardWebhook(process.env.HV_BODY + ' ', headers, process.env.HV_SECRET); } catch (error) {
      code = error instanceof WebhookVerificationError ? error.code : 'wrong class';
    }
    const tsx = process.execArgv.some((arg) => /^(--import|--loader|--experimental-loader|--require|-r)(=|$)/.test(arg)) || 'NODE_OPTIONS' in process.env;
    console.log(JSON.stringify({ghost, standard, code, tsx}));`;

  test("require('herald/verify') works on plain Node", () => {
    const run = plainNode(['-e', script("const {verifyGhostSignature, verifyStandardWebhook, WebhookVerificationError} = require('herald/verify');")], env);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {ghost: PAYLOAD, standard: PAYLOAD, code: 'bad_signature', tsx: false});
  });

  test("import {…} from 'herald/verify' works on plain Node", () => {
    const load = "import {verifyGhostSignature, verifyStandardWebhook, WebhookVerificationError} from 'herald/verify';";
    const run = plainNode(['--input-type=module', '-e', script(load)], env);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {ghost: PAYLOAD, standard: PAYLOAD, code: 'bad_signature', tsx: false});
  });

  test('the ES module and CommonJS entries share one implementation', () => {
    const cjs = createRequire(import.meta.url)('herald/verify') as typeof import('herald/verify');
    assert.equal(cjs.WebhookVerificationError, WebhookVerificationError);
    assert.equal(cjs.verifyGhostSignature, verifyGhostSignature);
    assert.equal(cjs.verifyStandardWebhook, verifyStandardWebhook);
    const esm = fs.readFileSync(path.join(ROOT, 'verify', 'index.mjs'), 'utf8');
    assert.doesNotMatch(esm, /createHmac|timingSafeEqual/);
  });

  test('the types reject a wrong call (checked by tsc), and so does the code', () => {
    const call = () =>
      // @ts-expect-error the secret must be a string
      verifyGhostSignature(BODY, 'sha256=00, t=1', 42);
    throwsCode(call, 'missing_secret');
    const typed = () => verifyStandardWebhook<{event: string}>(BODY, heraldHeaders(), SECRET, {now: NOW_MS}).event;
    assert.equal(typed(), 'post.published');
  });
});

describe('a Fastify receiver like the README example', () => {
  test('keeps the raw body and verifies both schemes over HTTP', async () => {
    const app = Fastify();
    app.addContentTypeParser('application/json', {parseAs: 'buffer'}, (_request, body, done) => done(null, body));
    app.post('/hook', async (request, reply) => {
      try {
        const raw = request.body as Buffer;
        const ghost = verifyGhostSignature(raw, request.headers['x-ghost-signature'], SECRET);
        const standard = verifyStandardWebhook(raw, request.headers, SECRET);
        return {ghost, standard};
      } catch (error) {
        if (error instanceof WebhookVerificationError) return reply.code(401).send({code: error.code});
        throw error;
      }
    });
    try {
      const headers = heraldHeaders({now: new Date()});
      const good = await app.inject({method: 'POST', url: '/hook', headers, payload: BODY});
      assert.equal(good.statusCode, 200, good.body);
      assert.deepEqual(good.json(), {ghost: PAYLOAD, standard: PAYLOAD});
      const bad = await app.inject({method: 'POST', url: '/hook', headers, payload: BODY.replace('post', 'page')});
      assert.equal(bad.statusCode, 401);
      assert.deepEqual(bad.json(), {code: 'bad_signature'});
    } finally {
      await app.close();
    }
  });
});
