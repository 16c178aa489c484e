// The sender against real local receivers: keep-alive reuse, the total time limit, the 16 KiB
// read cap, no redirects, error codes, credentials in the URL, and the DNS lookup hook where
// the SSRF guard will plug in.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import type {LookupFunction} from 'node:net';
import {createSender, MAX_RESPONSE_BODY, type Sender} from '../../src/delivery/sender.ts';
import {closedPortUrl, sleep, startReceiver, type Receiver} from './helpers.ts';

const HEADERS = {'Content-Type': 'application/json', 'Content-Length': '2'};

describe('sender', () => {
  let sender: Sender;
  let r: Receiver;
  before(async () => {
    sender = createSender();
    r = await startReceiver(async (req, res) => {
      switch (req.path) {
        case '/hang':
          return; // never answers
        case '/dribble':
          res.writeHead(200, {'content-type': 'text/plain'});
          res.write('first part;');
          return; // headers and some body, then nothing
        case '/endless': {
          res.writeHead(200);
          const chunk = 'y'.repeat(4096);
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
          return;
        }
        case '/redirect':
          res.writeHead(302, {location: '/target'});
          return void res.end('moved');
        case '/created':
          res.writeHead(201, {'x-multi': ['a', 'b']});
          return void res.end('{"ok":true}');
        case '/slow':
          await sleep(100);
          return void res.end('slow');
        default:
          return void res.end(`auth=${req.headers.authorization ?? ''}`);
      }
    });
  });
  after(async () => {
    await sender.destroy();
    await r.close();
  });
  const send = (path: string, timeoutMs = 1000) => sender.send({url: `${r.url}${path}`, headers: HEADERS, body: '{}', timeoutMs});

  test('an answer: status, lower-case headers (repeats joined), body, duration', async () => {
    const result = await send('/created');
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.status, 201);
    assert.equal(result.headers['x-multi'], 'a, b');
    assert.equal(result.body, '{"ok":true}');
    assert.ok(result.durationMs >= 0 && result.durationMs < 1000);
    const got = r.received.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.body, '{}');
    assert.equal(got.headers['content-type'], 'application/json');
  });

  test('connections are kept alive and reused', async () => {
    for (let i = 0; i < 10; i++) await send(`/seq/${i}`);
    const ports = r.received.slice(-10).map((x) => x.remotePort);
    // An answer read in full hands its connection back before the caller hears of it.
    assert.equal(new Set(ports).size, 1, `ten sequential requests over ${new Set(ports).size} connections: ${ports}`);
  });

  test('no answer within the limit is a TIMEOUT after about the limit', async () => {
    const result = await send('/hang', 300);
    assert.equal(result.kind, 'error');
    if (result.kind !== 'error') return;
    assert.equal(result.code, 'TIMEOUT');
    assert.ok(result.durationMs >= 290 && result.durationMs < 800, String(result.durationMs));
  });

  test('the limit is total: a body that never ends is cut at the limit, the status stands', async () => {
    const result = await send('/dribble', 300);
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.status, 200);
    assert.equal(result.body, 'first part;');
    assert.ok(result.durationMs >= 290 && result.durationMs < 800, String(result.durationMs));
  });

  test('at most 16 KiB of an endless body is read, then the sender stops at once', async () => {
    const result = await send('/endless', 5000);
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(Buffer.byteLength(result.body), MAX_RESPONSE_BODY);
    assert.ok(result.durationMs < 1000, `${result.durationMs} ms`);
  });

  test('redirects are not followed', async () => {
    const before = r.received.length;
    const result = await send('/redirect');
    assert.equal(result.kind === 'response' && result.status, 302);
    await sleep(50);
    assert.equal(r.received.length, before + 1);
    assert.ok(!r.received.some((x) => x.path === '/target'));
  });

  test('connection refused, invalid URL, other protocols', async () => {
    const refused = await sender.send({url: await closedPortUrl(), headers: HEADERS, body: '{}', timeoutMs: 1000});
    assert.equal(refused.kind === 'error' && refused.code, 'ECONNREFUSED');
    const invalid = await sender.send({url: 'not a url', headers: HEADERS, body: '{}', timeoutMs: 1000});
    assert.equal(invalid.kind === 'error' && invalid.code, 'INVALID_URL');
    const ftp = await sender.send({url: 'ftp://127.0.0.1/x', headers: HEADERS, body: '{}', timeoutMs: 1000});
    assert.equal(ftp.kind === 'error' && ftp.code, 'INVALID_URL');
  });

  test('abortAll() (shutdown) ends running and waiting requests at once as ABORTED, and every later one', async () => {
    // One connection: the first request hangs on it, the second waits for it.
    const single = createSender({connectionsPerOrigin: 1});
    const running = single.send({url: `${r.url}/hang`, headers: HEADERS, body: '{}', timeoutMs: 5000});
    await sleep(50);
    const waiting = single.send({url: `${r.url}/queued-abort`, headers: HEADERS, body: '{}', timeoutMs: 5000});
    await sleep(20);
    const t0 = Date.now();
    single.abortAll();
    const [first, second] = await Promise.all([running, waiting]);
    assert.equal(first.kind === 'error' && first.code, 'ABORTED');
    assert.equal(second.kind === 'error' && second.code, 'ABORTED');
    assert.ok(Date.now() - t0 < 1000, `ended after ${Date.now() - t0} ms, not at the time limit`);
    const later = await single.send({url: `${r.url}/created`, headers: HEADERS, body: '{}', timeoutMs: 1000});
    assert.equal(later.kind === 'error' && later.code, 'ABORTED');
    assert.ok(!r.received.some((x) => x.path === '/queued-abort'), 'the waiting request was never sent');
  });

  test('the limit also ends a request still waiting for a connection, and the next in line still goes', async () => {
    // One connection per origin: the second request waits behind the first, which hangs.
    const single = createSender({connectionsPerOrigin: 1});
    try {
      const first = single.send({url: `${r.url}/hang`, headers: HEADERS, body: '{}', timeoutMs: 1500});
      await sleep(50);
      const t0 = Date.now();
      const queued = await single.send({url: `${r.url}/queued`, headers: HEADERS, body: '{}', timeoutMs: 300});
      assert.equal(queued.kind === 'error' && queued.code, 'TIMEOUT');
      assert.ok(Date.now() - t0 < 1000, `ended after ${Date.now() - t0} ms, not when the connection came free`);
      const hung = await first;
      assert.equal(hung.kind === 'error' && hung.code, 'TIMEOUT');
      // The dropped request never reaches the receiver; a new one gets the freed connection.
      const next = await single.send({url: `${r.url}/after`, headers: HEADERS, body: '{}', timeoutMs: 1000});
      assert.equal(next.kind === 'response' && next.status, 200);
      assert.equal(r.received.filter((x) => x.path === '/queued').length, 0);
    } finally {
      await single.destroy();
    }
  });

  test('credentials in the URL are sent as Basic auth', async () => {
    const url = `${r.url.replace('http://', 'http://user:p%40ss@')}/auth`;
    const result = await sender.send({url, headers: HEADERS, body: '{}', timeoutMs: 1000});
    assert.equal(result.kind === 'response' && result.body, `auth=Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });

  test('parallel requests to one origin run in parallel', async () => {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({length: 20}, () => send('/slow', 2000)));
    assert.ok(results.every((x) => x.kind === 'response' && x.status === 200));
    assert.ok(Date.now() - t0 < 600, `${Date.now() - t0} ms for 20 × 100 ms`);
  });
});

describe('sender DNS lookup hook (where the SSRF guard plugs in)', () => {
  let r: Receiver;
  before(async () => {
    r = await startReceiver();
  });
  after(() => r.close());
  const port = () => new URL(r.url).port;

  test('a lookup that refuses an address fails the attempt with BLOCKED and the address', async () => {
    const lookups: string[] = [];
    const refuse: LookupFunction = (hostname, _options, callback) => {
      lookups.push(hostname);
      callback(Object.assign(new Error('169.254.169.254'), {code: 'BLOCKED'}), '', 4);
    };
    const sender = createSender({lookup: refuse});
    try {
      const before = r.received.length;
      const result = await sender.send({url: `http://localhost:${port()}/x`, headers: HEADERS, body: '{}', timeoutMs: 1000});
      assert.equal(result.kind, 'error');
      if (result.kind !== 'error') return;
      assert.equal(result.code, 'BLOCKED');
      assert.equal(result.message, '169.254.169.254');
      assert.deepEqual(lookups, ['localhost']);
      assert.equal(r.received.length, before, 'no connection was made');
    } finally {
      await sender.destroy();
    }
  });

  test('the connection goes to the address the lookup returned', async () => {
    const pin: LookupFunction = (_hostname, options, callback) => {
      if ((options as {all?: boolean}).all) (callback as any)(null, [{address: '127.0.0.1', family: 4}]);
      else callback(null, '127.0.0.1', 4);
    };
    const sender = createSender({lookup: pin});
    try {
      const result = await sender.send({url: `http://pinned.invalid:${port()}/pinned`, headers: HEADERS, body: '{}', timeoutMs: 1000});
      assert.equal(result.kind === 'response' && result.status, 200);
      assert.equal(r.received.at(-1)!.path, '/pinned');
    } finally {
      await sender.destroy();
    }
  });
});
