// The two dispatchers against real local receivers: the sender thread (what `herald serve`
// uses) must send exactly what the in-process one sends, answer with the same results, keep
// the SSRF guard, abort on shutdown, and survive its thread dying.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {inProcessDispatcher, profilerFlags, threadDispatcher, type DispatchInput, type Dispatched, type Dispatcher} from '../../src/delivery/dispatcher.ts';
import {attemptHeaders} from '../../src/delivery/request.ts';
import {createSender} from '../../src/delivery/sender.ts';
import {startReceiver, type Receiver} from './helpers.ts';

const BODY = JSON.stringify({post: {current: {id: '6b0a0a0a0a0a0a0a0a0a0a0a', title: 'Dispatch', html: '<p>é ✓</p>'}}});
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/** Each attempt's context is the resolve of its promise: call() makes one attempt. */
type Waiter = (dispatched: Dispatched) => void;
const answer = (resolve: Waiter, dispatched: Dispatched) => resolve(dispatched);
const call = (d: Dispatcher<Waiter>, input: DispatchInput) => new Promise<Dispatched>((resolve) => d.dispatch(input, resolve));

describe('dispatchers', () => {
  let r: Receiver;
  const opened: Dispatcher<Waiter>[] = [];
  const thread = (allowPrivateTargets = true, onThreadError?: (message: string) => void) => {
    const d = threadDispatcher({allowPrivateTargets, onThreadError}, answer);
    opened.push(d);
    return d;
  };
  before(async () => {
    r = await startReceiver(async (req, res) => {
      if (req.path.startsWith('/hang')) return; // never answers
      if (req.path === '/fail') {
        res.writeHead(500, {'x-reason': 'boom'});
        return void res.end('broken');
      }
      res.end();
    });
  });
  after(async () => {
    await Promise.all(opened.map((d) => d.close()));
    await r.close();
  });
  const input = (path: string, extra: Partial<DispatchInput> = {}): DispatchInput => ({
    deliveryId: `delivery-${path.slice(1)}`,
    url: `${r.url}${path}`,
    body: BODY,
    bodyKey: 'event-1',
    secret: SECRET,
    previousSecrets: null,
    now: new Date('2026-11-28T12:00:00.123Z'),
    timeoutMs: 2000,
    ...extra,
  });

  test('the thread sends what the in-process dispatcher sends: same headers, same body bytes', async () => {
    const local = inProcessDispatcher(createSender(), answer);
    opened.push(local);
    const viaThread = thread();
    await viaThread.ready;
    const a = await call(local, input('/same'));
    const b = await call(viaThread, input('/same'));
    const expected = attemptHeaders(input('/same'));
    assert.deepEqual(JSON.parse(a.requestHeaders), expected);
    assert.deepEqual(JSON.parse(b.requestHeaders), expected);
    const [first, second] = await r.waitFor(2, 3000, (x) => x.path === '/same');
    assert.equal(second!.raw.toString('utf8'), BODY);
    assert.deepEqual(second!.raw, first!.raw);
    for (const name of ['x-ghost-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'content-length', 'user-agent']) {
      assert.equal(second!.headers[name], first!.headers[name], name);
      assert.equal(second!.headers[name], expected[Object.keys(expected).find((k) => k.toLowerCase() === name)!], name);
    }
    assert.equal(a.result.kind, 'response');
    assert.equal(b.result.kind, 'response');
  });

  test('many attempts started in one turn (several events) all come back, each matched to its own delivery and body', async () => {
    const d = thread();
    // Three events, three bodies: each batch carries each body once, keyed by event.
    const bodyOf = (event: number) => JSON.stringify({event, post: {current: {title: `Event ${event}`}}});
    const results = await Promise.all(
      Array.from({length: 40}, (_, i) => call(d, input('/many', {deliveryId: `many-${i}`, bodyKey: `event-${i % 3}`, body: bodyOf(i % 3)}))),
    );
    assert.deepEqual(
      results.map((x) => JSON.parse(x.requestHeaders)['webhook-id']),
      Array.from({length: 40}, (_, i) => `many-${i}`),
    );
    assert.ok(results.every((x) => x.result.kind === 'response' && x.result.status === 200));
    const got = await r.waitFor(40, 3000, (x) => x.path === '/many');
    for (const arrival of got) {
      const i = Number(String(arrival.headers['webhook-id']).slice('many-'.length));
      assert.equal(arrival.body, bodyOf(i % 3), `delivery many-${i} got its own event's body`);
    }
  });

  test('an error answer comes back whole: status, lower-case headers, body', async () => {
    const {result} = await call(thread(), input('/fail'));
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.status, 500);
    assert.equal(result.headers['x-reason'], 'boom');
    assert.equal(result.body, 'broken');
  });

  test('the SSRF guard holds in the thread: a name resolving to loopback is blocked, nothing arrives', async () => {
    const before = r.received.length;
    const port = new URL(r.url).port;
    const {result} = await call(thread(false), input('/x', {url: `http://localhost:${port}/guarded`}));
    assert.equal(result.kind, 'error');
    if (result.kind !== 'error') return;
    assert.equal(result.code, 'BLOCKED');
    assert.match(result.message, /^(127\.0\.0\.1|::1)$/);
    assert.equal(r.received.length, before);
  });

  test('abortAll() ends a hanging attempt at once as ABORTED, not as a timeout', async () => {
    const d = thread();
    await d.ready;
    const pending = call(d, input('/hang-abort', {timeoutMs: 10_000}));
    await r.waitFor(1, 3000, (x) => x.path === '/hang-abort');
    const t0 = Date.now();
    d.abortAll();
    const {result} = await pending;
    assert.equal(result.kind, 'error');
    if (result.kind === 'error') assert.equal(result.code, 'ABORTED');
    assert.ok(Date.now() - t0 < 1000, `aborted after ${Date.now() - t0} ms`);
  });

  test('a thread that dies fails its running attempts (SENDER_THREAD) and the next attempt gets a new thread', async () => {
    const errors: string[] = [];
    const d = thread(true, (message) => errors.push(message));
    await d.ready;
    const hanging = call(d, input('/hang-death', {timeoutMs: 10_000}));
    await r.waitFor(1, 3000, (x) => x.path === '/hang-death');
    // A body that is not a string makes the thread's message handler throw: the thread dies.
    const broken = await call(d, input('/never', {body: 42 as unknown as string, bodyKey: 'broken'}));
    assert.equal(broken.result.kind, 'error');
    if (broken.result.kind === 'error') assert.equal(broken.result.code, 'SENDER_THREAD');
    const {result} = await hanging;
    assert.equal(result.kind, 'error');
    if (result.kind === 'error') assert.equal(result.code, 'SENDER_THREAD');
    assert.equal(errors.length, 1);
    const again = await call(d, input('/after-death'));
    assert.equal(again.result.kind, 'response');
    await r.waitFor(1, 3000, (x) => x.path === '/after-death');
  });

  test('close() waits for running attempts, and an attempt after close is ABORTED without a request', async () => {
    const d = threadDispatcher({allowPrivateTargets: true}, answer);
    const running = call(d, input('/last'));
    const closing = d.close();
    assert.equal((await running).result.kind, 'response');
    await closing;
    const before = r.received.length;
    const late = await call(d, input('/late'));
    assert.equal(late.result.kind, 'error');
    if (late.result.kind === 'error') assert.equal(late.result.code, 'ABORTED');
    assert.equal(r.received.length, before);
  });
});

test('the sender thread gets only the CPU profiler flags of its process, each with its value', async () => {
  assert.deepEqual(profilerFlags([]), []);
  assert.deepEqual(profilerFlags(['--max-semi-space-size=8', '--max-old-space-size=256']), []);
  assert.deepEqual(profilerFlags(['--max-semi-space-size=8', '--cpu-prof', '--cpu-prof-dir', '/tmp/p', '--max-old-space-size=256']), ['--cpu-prof', '--cpu-prof-dir', '/tmp/p']);
  assert.deepEqual(profilerFlags(['--cpu-prof', '--cpu-prof-dir=/tmp/p', '--cpu-prof-interval', '500']), ['--cpu-prof', '--cpu-prof-dir=/tmp/p', '--cpu-prof-interval', '500']);
});

test('a process run with --cpu-prof gets a profile of its sender thread too', () => {
  const module = JSON.stringify(new URL('../../src/delivery/dispatcher.ts', import.meta.url).href);
  /** The profiles a profiled process writes: with the dispatcher started, or only its module loaded. */
  const profiles = (start: boolean): number => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-prof-'));
    try {
      const script = `const {threadDispatcher} = await import(${module});${start ? ' const d = threadDispatcher({allowPrivateTargets: true}); await d.ready; await d.close();' : ''}`;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--cpu-prof', '--cpu-prof-dir', dir, '--input-type=module', '-e', script], {encoding: 'utf8', timeout: 60_000});
      assert.equal(child.status, 0, child.stderr);
      return fs.readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).length;
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
    }
  };
  // tsx's loader threads write profiles of their own; the sender thread (with, from source, the
  // loader it registers) adds to them only if it was given the flags.
  assert.ok(profiles(true) > profiles(false));
});
