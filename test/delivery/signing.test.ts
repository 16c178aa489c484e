// Signature strings: Ghost's exact X-Ghost-Signature (checked against real Ghost 5.99.1
// deliveries) and Standard Webhooks signatures (checked with the official library).
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {Webhook} from 'standardwebhooks';
import {ghostSignature, signingSecrets, standardKey, standardSignatures} from '../../src/delivery/signing.ts';
import {attemptHeaders, redactUrl, USER_AGENT} from '../../src/delivery/request.ts';
import {GHOST_API_VERSION, HERALD_VERSION} from '../../src/lib/version.ts';

const FIXTURES = path.resolve('..', 'shared', 'ghost-fixtures', 'payloads');
const FIXTURE_SECRET = 'anchor-webhook-secret';

describe('ghostSignature', () => {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

  test('the fixtures are there (29 events)', () => {
    assert.equal(files.length, 29);
  });

  for (const file of files) {
    test(`reproduces the real header of ${file}`, () => {
      const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as {headers: [string, string][]; body: unknown};
      const header = fixture.headers.find(([name]) => name.toLowerCase() === 'x-ghost-signature')![1];
      const t = Number(/, t=(\d+)$/.exec(header)![1]);
      assert.equal(ghostSignature(JSON.stringify(fixture.body), FIXTURE_SECRET, t), header);
    });
  }

  test('format: lowercase hex, comma and one space, millisecond t', () => {
    assert.match(ghostSignature('{}', 's', 1795853348172), /^sha256=[a-f0-9]{64}, t=1795853348172$/);
  });

  test('the body as UTF-8 bytes gives the real header too (the sender thread signs bytes)', () => {
    for (const file of files) {
      const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as {headers: [string, string][]; body: unknown};
      const header = fixture.headers.find(([name]) => name.toLowerCase() === 'x-ghost-signature')![1];
      const t = Number(/, t=(\d+)$/.exec(header)![1]);
      assert.equal(ghostSignature(Buffer.from(JSON.stringify(fixture.body), 'utf8'), FIXTURE_SECRET, t), header, file);
    }
    // Multi-byte characters: the bytes are the UTF-8 of the text, not one byte per character.
    const text = JSON.stringify({title: 'Ünïcödé ✓ 🚀'});
    assert.equal(ghostSignature(Buffer.from(text, 'utf8'), 's', 5), ghostSignature(text, 's', 5));
    assert.notEqual(ghostSignature(Buffer.from(text, 'latin1'), 's', 5), ghostSignature(text, 's', 5));
  });

  test('a whsec_ secret is used as its UTF-8 text for Ghost (as Ghost does)', () => {
    const a = ghostSignature('{}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 1);
    const b = ghostSignature('{}', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 1);
    assert.equal(a, b);
    assert.notEqual(a, ghostSignature('{}', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 1));
  });
});

describe('standardSignatures', () => {
  const body = JSON.stringify({event: 'post.published', post: {current: {title: 'Ünïcödé ✓'}}});
  const id = '6b0a8c24116f123f0ab0dfc3';
  const now = new Date();
  const ts = Math.floor(now.getTime() / 1000);
  const whsec = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

  test('verifies with the official library (whsec_ secret)', () => {
    const signature = standardSignatures(id, ts, body, [whsec]);
    assert.match(signature, /^v1,[A-Za-z0-9+/]+=*$/);
    const verified = new Webhook(whsec).verify(body, {'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature});
    assert.deepEqual(verified, JSON.parse(body));
  });

  test('equals the official library signature', () => {
    assert.equal(standardSignatures(id, ts, body, [whsec]), new Webhook(whsec).sign(id, new Date(ts * 1000), body));
  });

  test('the body as UTF-8 bytes signs the same, and verifies with the official library', () => {
    const bytes = Buffer.from(body, 'utf8');
    const signature = standardSignatures(id, ts, bytes, [whsec, 'plain-old-secret']);
    assert.equal(signature, standardSignatures(id, ts, body, [whsec, 'plain-old-secret']));
    new Webhook(whsec).verify(body, {'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature});
  });

  test('a non-whsec secret is used as UTF-8 bytes (library raw format)', () => {
    const secret = 'plain-old-secret';
    const signature = standardSignatures(id, ts, body, [secret]);
    assert.deepEqual(standardKey(secret), Buffer.from(secret, 'utf8'));
    new Webhook(Buffer.from(secret, 'utf8'), {format: 'raw'}).verify(body, {'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature});
    new Webhook(secret, {format: 'raw'}).verify(body, {'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature});
  });

  test('one entry per secret: each secret verifies on its own (rotation)', () => {
    const old = `whsec_${Buffer.from('another-key-of-32-bytes-length!!').toString('base64')}`;
    const signature = standardSignatures(id, ts, body, [whsec, old]);
    assert.equal(signature.split(' ').length, 2);
    for (const secret of [whsec, old]) {
      new Webhook(secret).verify(body, {'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature});
    }
    assert.throws(() =>
      new Webhook(`whsec_${Buffer.from('not-a-key-of-this-webhook-at-all').toString('base64')}`).verify(body, {
        'webhook-id': id,
        'webhook-timestamp': String(ts),
        'webhook-signature': signature,
      }),
    );
  });

  test('no secrets, no entries', () => {
    assert.equal(standardSignatures(id, ts, body, []), '');
    assert.equal(standardSignatures(id, ts, body, ['']), '');
  });
});

describe('signingSecrets', () => {
  const now = new Date('2026-11-28T08:00:00.000Z');
  test('current first, then unexpired previous secrets; expired, malformed and duplicate ones dropped', () => {
    const previous = JSON.stringify([
      {secret: 'old-valid', expires_at: '2026-11-29T08:00:00.000Z'},
      {secret: 'old-expired', expires_at: '2026-11-28T07:59:59.999Z'},
      {secret: 'old-exact', expires_at: '2026-11-28T08:00:00.000Z'},
      {secret: 'current', expires_at: '2026-11-29T08:00:00.000Z'},
      {secret: 'no-expiry'},
      {expires_at: '2026-11-29T08:00:00.000Z'},
      null,
    ]);
    assert.deepEqual(signingSecrets('current', previous, now), ['current', 'old-valid']);
  });
  test('null, empty and broken JSON mean no previous secrets', () => {
    assert.deepEqual(signingSecrets('s', null, now), ['s']);
    assert.deepEqual(signingSecrets('s', '', now), ['s']);
    assert.deepEqual(signingSecrets('s', '{not json', now), ['s']);
    assert.deepEqual(signingSecrets('s', '{"a":1}', now), ['s']);
    assert.deepEqual(signingSecrets(null, null, now), []);
  });
});

describe('attemptHeaders', () => {
  const now = new Date('2026-11-28T08:00:01.234Z');
  const body = '{"event":"tag.added","tag":{"current":{"name":"é"},"previous":{}}}';
  const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

  test('SPEC §6 headers, in order, for this instant', () => {
    const headers = attemptHeaders({deliveryId: 'd1', body, secret, previousSecrets: null, now});
    assert.deepEqual(Object.keys(headers), [
      'Content-Type',
      'Content-Length',
      'Content-Version',
      'User-Agent',
      'X-Ghost-Signature',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]);
    assert.equal(headers['Content-Type'], 'application/json');
    assert.equal(headers['Content-Length'], String(Buffer.byteLength(body)));
    assert.equal(headers['Content-Version'], `v${GHOST_API_VERSION}`);
    assert.equal(headers['User-Agent'], `Herald/${HERALD_VERSION} (+Ghost-compatible)`);
    assert.equal(USER_AGENT, headers['User-Agent']);
    assert.equal(headers['X-Ghost-Signature'], ghostSignature(body, secret, now.getTime()));
    assert.equal(headers['webhook-id'], 'd1');
    assert.equal(headers['webhook-timestamp'], '1795852801');
    assert.equal(headers['webhook-signature'], standardSignatures('d1', 1795852801, body, [secret]));
  });

  test('X-Ghost-Signature uses the current secret only; webhook-signature adds valid previous ones', () => {
    const previousSecrets = JSON.stringify([{secret: 'old', expires_at: '2026-11-29T00:00:00.000Z'}]);
    const headers = attemptHeaders({deliveryId: 'd1', body, secret, previousSecrets, now});
    assert.equal(headers['X-Ghost-Signature'], ghostSignature(body, secret, now.getTime()));
    assert.equal(headers['webhook-signature'], standardSignatures('d1', 1795852801, body, [secret, 'old']));
  });

  test('the body as bytes gives the same headers (Content-Length counts bytes, not characters)', () => {
    const fromText = attemptHeaders({deliveryId: 'd1', body, secret, previousSecrets: null, now});
    const fromBytes = attemptHeaders({deliveryId: 'd1', body: Buffer.from(body, 'utf8'), secret, previousSecrets: null, now});
    assert.deepEqual(fromBytes, fromText);
    assert.equal(fromBytes['Content-Length'], String(body.length + 1)); // "é" is two bytes
  });

  test('without a secret there are no signature headers', () => {
    const headers = attemptHeaders({deliveryId: 'd1', body, secret: null, previousSecrets: null, now});
    assert.equal(headers['X-Ghost-Signature'], undefined);
    assert.equal(headers['webhook-signature'], undefined);
    assert.equal(headers['webhook-id'], 'd1');
  });

  test('redactUrl hides a password and leaves other URLs alone', () => {
    assert.equal(redactUrl('https://user:hunter2@example.com/hook?x=1'), 'https://user:***@example.com/hook?x=1');
    assert.equal(redactUrl('https://example.com/hook'), 'https://example.com/hook');
    assert.equal(redactUrl('not a url'), 'not a url');
  });
});
