// Hand-off (src/delivery/handoff.ts) on both engines: a content write's deliveries go in leased
// to this process's worker and start after the commit, with no claim. Each test runs its own
// worker with a wake signal the app never rings and a one-minute poll, so a delivery that
// arrives within seconds was handed off; one that had to be claimed waits for something else
// to wake the worker (an attempt finishing).
import {after, afterEach, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';
import {startWorker, type Worker, type WorkerOptions} from '../../src/delivery/worker.ts';
import {createSender} from '../../src/delivery/sender.ts';
import {createWake} from '../../src/lib/wake.ts';
import {systemClock, type Clock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {insertWebhook, receiverSet, sleep, until} from './helpers.ts';

const FLAGS = {'retry-schedule': '100ms,200ms', 'delivery-timeout': '500ms'};

for (const dialect of DIALECTS) {
  describe(`hand-off to the worker (${dialect})`, () => {
    let h: TestHerald;
    const receivers = receiverSet();
    const workers: Worker[] = [];
    const webhooks: string[] = [];
    const logs: string[] = [];

    before(async () => {
      h = await startHerald(dialect, {flags: FLAGS, worker: false});
    });
    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop({graceMs: 1000})));
      // Later tests' posts must not fan out to this test's webhooks.
      if (webhooks.length > 0) await h.database.db.updateTable('webhooks').set({status: 'disabled'}).where('id', 'in', webhooks.splice(0)).execute();
    });
    after(async () => {
      await h.close();
      await receivers.closeAll();
    });

    const receiver = receivers.start;
    const webhook = async (target: string) => {
      const id = await insertWebhook(h.database, h.integration.id, {target_url: target});
      webhooks.push(id);
      return id;
    };
    /**
     * A worker on the app's hand-off (unless `attach` is false), polling once a minute, whose
     * wake signal nothing but itself rings, unless `appWake`: then the app's commits of due
     * deliveries wake it, as in `herald serve`. Resolves once it has made its first claim (it
     * grants room only after that).
     */
    const worker = async (options: WorkerOptions = {}, how: {clock?: Clock; attach?: boolean; appWake?: boolean; timeoutMs?: number} = {}): Promise<Worker> => {
      const {clock = systemClock, attach = true, appWake = false} = how;
      const logger = pino({level: 'info', base: undefined}, {write: (line: string) => void logs.push(line)});
      // A test that holds attempts open for a while sets a longer timeout than FLAGS' 500 ms, so
      // none of them times out (and is retried out of order) on a slow machine.
      const config = how.timeoutMs === undefined ? h.config : {...h.config, deliveryTimeoutMs: how.timeoutMs};
      const w = startWorker(
        {config, database: h.database, clock, random: cryptoRandom, logger, wake: appWake ? h.wake : createWake(), ...(attach ? {handoff: h.handoff} : {})},
        {pollIntervalMs: 60_000, sender: createSender(), ...options},
      );
      workers.push(w);
      await w.ready;
      if (attach) {
        // Asks for room until the worker grants it (after its first claim), then gives it back.
        await until(async () => {
          const probe = h.handoff.reserve(['probe']);
          probe?.cancel();
          return probe !== null;
        }, 5000, 'the worker to grant room');
      } else {
        await sleep(200);
      }
      return w;
    };
    const publish = async (title: string): Promise<string> => (await h.api.posts.add({title, status: 'published'})).id;
    const deliveriesOf = (webhookId: string) =>
      h.database.db.selectFrom('deliveries').selectAll().where('webhook_id', '=', webhookId).orderBy('created_at').orderBy('id').execute();
    /** A handler that holds every request until release() is called. */
    const holdAll = () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const handler = async (_req: unknown, res: {end(body: string): void}) => {
        await released;
        res.end('ok');
      };
      return {handler, release};
    };
    /** A handler that holds its first request until release() is called. */
    const holdFirst = () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const handler = async (_req: unknown, res: {end(body: string): void}, n: number) => {
        if (n === 1) await released;
        res.end('ok');
      };
      return {handler, release};
    };

    test('a fresh event is delivered at once by the idle worker: its delivery went in leased to that worker, with no claim', async () => {
      const r = await receiver();
      const hook = await webhook(`${r.url}/fresh`);
      const w = await worker();
      await publish('Handed off');
      const [got] = await r.waitFor(1, 5000);
      assert.match(got!.body, /"title":"Handed off"/);
      const [row] = await until(async () => {
        const rows = await deliveriesOf(hook);
        return rows[0]?.status === 'succeeded' ? rows : null;
      });
      assert.equal(row!.attempt_count, 1);
      assert.equal(row!.lease_owner, null, 'the lease ends with the record');
      const [attempt] = await h.database.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', row!.id).execute();
      assert.equal(attempt!.response_status, 200);
      assert.ok(w.inFlight() === 0);
    });

    test('control: without the hand-off the same worker does not see a fresh event before its poll', async () => {
      const r = await receiver();
      await webhook(`${r.url}/control`);
      // (No LISTEN either: on PostgreSQL the commit's NOTIFY would wake it.)
      await worker({listen: false}, {attach: false});
      await publish('Not handed off');
      await sleep(1500);
      assert.equal(r.received.length, 0, 'nothing but the one-minute poll would have claimed it');
    });

    test('a webhook may have more deliveries waiting for a slot than it may have in flight, up to the line (8 × the concurrency); past that they go in due', async () => {
      const hold = holdAll();
      const a = await receiver(hold.handler);
      const b = await receiver(hold.handler);
      const hookA = await webhook(`${a.url}/a`);
      const hookB = await webhook(`${b.url}/b`);
      const w = await worker({concurrency: 2, perWebhookConcurrency: 2}, {appWake: true, timeoutMs: 30_000});
      const titles = ['One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine'];
      await publish(titles[0]!);
      await a.waitFor(1, 5000);
      await b.waitFor(1, 5000);
      // Both slots are taken: each later post's two deliveries wait in line, leased, until the
      // line holds 16 (2 in flight and 14 waiting). Each webhook then has 8 (4 × its limit of 2).
      for (const title of titles.slice(1)) await publish(title);
      for (const hook of [hookA, hookB]) {
        assert.deepEqual(
          (await deliveriesOf(hook)).map((row) => row.lease_owner === w.id),
          [true, true, true, true, true, true, true, true, false],
          'seven waiting behind the one in flight; the ninth went in due',
        );
      }
      hold.release();
      for (const r of [a, b]) {
        const got = await r.waitFor(titles.length, 5000);
        assert.deepEqual(
          got.map((g) => /"title":"(\w+)"/.exec(g.body)?.[1]),
          titles,
          'the waiting ones in order, then the due one (claimed)',
        );
        assert.ok(r.maxInFlight() <= 2, 'never more than its limit in flight');
      }
    });

    test("a webhook at its limit in flight holds up no other webhook's waiting deliveries, and never has more in flight", async () => {
      const hold = holdFirst();
      const busy = await receiver(hold.handler);
      // The other webhook's first attempt takes 600 ms: every post below is written before it
      // ends, so no attempt finishes (and wakes a claim) meanwhile, and both webhooks' later
      // deliveries wait in their lines.
      const other = await receiver(async (_req: unknown, res: {end(body: string): void}, n: number) => {
        if (n === 1) await sleep(600);
        res.end('ok');
      });
      const busyHook = await webhook(`${busy.url}/busy`);
      const otherHook = await webhook(`${other.url}/other`);
      const w = await worker({concurrency: 8, perWebhookConcurrency: 1}, {appWake: true, timeoutMs: 30_000});
      const titles = ['One', 'Two', 'Three', 'Four', 'Five'];
      await publish(titles[0]!);
      await busy.waitFor(1, 5000);
      for (const title of titles.slice(1)) await publish(title);
      for (const hook of [busyHook, otherHook]) {
        assert.deepEqual(
          (await deliveriesOf(hook)).map((row) => row.lease_owner === w.id),
          [true, true, true, true, true],
          'one in flight and four waiting in its line',
        );
      }
      // The other webhook's line moves while the busy one's waits: the busy webhook is skipped, not waited for.
      await other.waitFor(titles.length, 5000);
      assert.equal(busy.received.length, 1, 'the busy webhook still has its one attempt in flight');
      hold.release();
      const got = await busy.waitFor(titles.length, 5000);
      assert.deepEqual(
        got.map((g) => /"title":"(\w+)"/.exec(g.body)?.[1]),
        titles,
        'in order, one at a time',
      );
      assert.equal(busy.maxInFlight(), 1);
      assert.equal(other.maxInFlight(), 1);
    });

    test('with every slot busy, handed-off deliveries wait in line (leased) up to 8 × the concurrency; past that they go in due', async () => {
      const hold = holdFirst();
      const slow = await receiver(hold.handler);
      const quick = await receiver();
      const slowHook = await webhook(`${slow.url}/slow`);
      const quickHook = await webhook(`${quick.url}/quick`);
      const w = await worker({concurrency: 1}, {appWake: true});
      await publish('One'); // slow: in flight and held; quick: waits for the slot
      await slow.waitFor(1, 5000);
      await sleep(100);
      assert.equal(quick.received.length, 0, 'the only slot is taken');
      const [waiting] = await deliveriesOf(quickHook);
      assert.equal(waiting!.lease_owner, w.id, 'the waiting delivery is leased to the worker');
      // One in flight + seven waiting = 8 × concurrency: the fifth post finds the line full.
      for (const title of ['Two', 'Three', 'Four', 'Five']) await publish(title);
      const rows = await Promise.all([deliveriesOf(slowHook), deliveriesOf(quickHook)]);
      assert.deepEqual(
        rows.map((list) => list.map((row) => row.lease_owner === w.id)),
        [
          [true, true, true, true, false],
          [true, true, true, true, false],
        ],
        'the line holds seven; past it, deliveries go in due',
      );
      hold.release();
      const quickGot = await quick.waitFor(5, 5000);
      await slow.waitFor(5, 5000);
      assert.deepEqual(
        quickGot.map((got) => /"title":"(\w+)"/.exec(got.body)?.[1]),
        ['One', 'Two', 'Three', 'Four', 'Five'],
        'the waiting deliveries went first, in order, and the due one after them',
      );
      assert.equal(slow.maxInFlight() + quick.maxInFlight(), 2);
      assert.equal(Math.max(slow.maxInFlight(), quick.maxInFlight()), 1);
    });

    test("room is held from the reservation until the commit or the rollback, within each webhook's room (8 × its limit) and the line", async () => {
      await worker({concurrency: 2, perWebhookConcurrency: 1});
      const first = h.handoff.reserve([...Array.from({length: 9}, () => 'a'), 'b']);
      assert.ok(first);
      assert.deepEqual(first.granted, [true, true, true, true, true, true, true, true, false, true], "a webhook's room: 8 × its limit of 1");
      assert.match(first.leaseOwner, /.+/);
      assert.ok(Date.parse(first.leaseUntil) > Date.now());
      const second = h.handoff.reserve(['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
      assert.deepEqual(second?.granted, [true, true, true, true, true, true, true, false], 'sixteen in all (8 × concurrency)');
      assert.equal(h.handoff.reserve(['k']), null, 'all the room is held');
      first.cancel();
      first.cancel(); // twice is harmless
      const third = h.handoff.reserve(['k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't']);
      assert.deepEqual(third?.granted, [true, true, true, true, true, true, true, true, true, false], 'a rollback gives the room back (nine)');
      third!.cancel();
      second!.cancel();
    });

    test('a stopping worker grants nothing, and the hand-off falls back to due rows', async () => {
      const r = await receiver();
      const hook = await webhook(`${r.url}/stopping`);
      const w = await worker();
      await w.stop();
      assert.equal(h.handoff.reserve([hook]), null);
      await publish('After stop');
      const [row] = await deliveriesOf(hook);
      assert.equal(row!.lease_owner, null);
      assert.equal(row!.status, 'pending');
      assert.equal(row!.attempt_count, 0);
    });

    test('a waiting delivery whose lease ran out is not attempted under it: another worker claims it, and it is delivered once', async () => {
      let offset = 0;
      const clock: Clock = {now: () => new Date(Date.now() + offset)};
      const hold = holdFirst();
      const slow = await receiver(hold.handler);
      const quick = await receiver();
      await webhook(`${slow.url}/slow`);
      const quickHook = await webhook(`${quick.url}/quick`);
      await worker({concurrency: 1, leaseMarginMs: 1000}, {clock});
      await publish('Lease runs out');
      await slow.waitFor(1, 5000);
      // The quick delivery waits, leased for 1.5 s. Time passes beyond that lease…
      offset = 5000;
      // …and a second worker (no hand-off) claims what has run out: both leases.
      await worker({}, {clock, attach: false});
      await quick.waitFor(1, 5000);
      // The first worker's slot frees: it must not send the quick delivery again.
      hold.release();
      await slow.waitFor(2, 5000);
      await sleep(500);
      assert.equal(quick.received.length, 1, 'delivered exactly once');
      const [row] = await deliveriesOf(quickHook);
      assert.equal(row!.status, 'succeeded');
      assert.equal(row!.attempt_count, 1);
    });
  });
}
