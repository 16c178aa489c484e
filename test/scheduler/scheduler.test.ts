import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import path from 'node:path';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {publishDue, startScheduler, type SchedulerDeps} from '../../src/scheduler/scheduler.ts';
import {addWebhook, EventLog, wasWoken} from '../events/db-support.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const later = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function eventually<T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Runs the scheduler in another process on the same database for `runMs`; resolves to how many it published. */
function schedulerProcess(herald: TestHerald, runMs: number): {ready: Promise<void>; done: Promise<number>} {
  const script = path.resolve('test/scheduler/scheduler-process.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(herald.store.flags), String(runMs)], {stdio: ['ignore', 'pipe', 'pipe']});
  let out = '';
  let err = '';
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk) => {
    out += chunk;
    if (out.includes('ready\n')) markReady();
  });
  child.stderr.on('data', (chunk) => (err += chunk));
  const done = new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`scheduler process exited ${code}: ${err}`));
      // The child writes its error-level log lines to stderr: a failed pass is a failure here.
      if (err.trim() !== '') return reject(new Error(`scheduler process logged errors: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!).published);
    });
  });
  return {ready, done};
}

for (const dialect of DIALECTS) {
  describe(`scheduler (${dialect})`, () => {
    let herald: TestHerald;
    let deps: SchedulerDeps;
    let log: EventLog;
    before(async () => {
      herald = await startHerald(dialect, {worker: false});
      deps = {database: herald.database, clock: systemClock, random: cryptoRandom, siteUrl: () => herald.url, wake: herald.wake, feed: herald.feed};
      log = new EventLog(herald.database);
    });
    after(async () => herald?.close());

    test('a post and a page scheduled ahead are published within a second of their time, with published, edited, site.changed', async () => {
      await addWebhook(herald.database.db, herald.integration.id, 'post.published');
      const scheduler = startScheduler(deps);
      try {
        const at = later(1500);
        const post = await herald.api.posts.add({title: 'Timed post', status: 'scheduled', published_at: at});
        const page = await herald.api.pages.add({title: 'Timed page', status: 'scheduled', published_at: at});
        await log.mark();
        await herald.wake.wait(0);
        assert.equal((await herald.api.posts.read({id: post.id})).status, 'scheduled');

        for (const [api, item] of [[herald.api.posts, post], [herald.api.pages, page]] as const) {
          const publishedAt = await eventually(async () => {
            const row = await herald.database.db.selectFrom('posts').select(['status']).where('id', '=', item.id).executeTakeFirstOrThrow();
            return row.status === 'published' ? Date.now() : undefined;
          }, 4000, `${item.title} published`);
          const lateBy = publishedAt - Date.parse(at);
          assert.ok(lateBy >= 0 && lateBy < 1000, `published ${lateBy} ms after its time`);
          const read = await api.read({id: item.id});
          assert.equal(read.published_at, at, 'published_at is kept');
          assert.notEqual(read.updated_at, item.updated_at);
        }

        const events = await log.fresh();
        for (const [type, item] of [['post', post], ['page', page]] as const) {
          const own = events.filter((e) => e.resource_id === item.id);
          assert.deepEqual(own.map((e) => e.name), [`${type}.published`, `${type}.edited`]);
          const body = JSON.parse(own[0]!.payload);
          assert.deepEqual(Object.keys(body), ['event', type]);
          assert.deepEqual(Object.keys(body[type].previous).sort(), ['status', 'updated_at']);
          assert.equal(body[type].previous.status, 'scheduled');
          assert.equal(body[type].current.status, 'published');
          assert.equal(body[type].current.url, `${herald.url}/${item.slug}/`);
        }
        // One site.changed per publish (each is its own transaction), each right after its post's events.
        assert.deepEqual(events.map((e) => e.name).filter((n) => n === 'site.changed'), ['site.changed', 'site.changed']);
        const postPublished = events.find((e) => e.name === 'post.published')!;
        assert.equal((await herald.database.db.selectFrom('deliveries').select('id').where('event_id', '=', postPublished.id).execute()).length, 1);
        assert.ok(await wasWoken(herald.wake), 'the worker was woken for the delivery');
      } finally {
        await scheduler.stop();
      }
    });

    test('catches up on start: everything overdue is published at once, in batches; drafts and future posts are left alone', async () => {
      const due: any[] = [];
      for (let i = 0; i < 5; i++) due.push(await herald.api.posts.add({title: `Overdue ${i}`, status: 'scheduled', published_at: later(300)}));
      const unscheduled = await herald.api.posts.add({title: 'Changed my mind', status: 'scheduled', published_at: later(300)});
      await herald.api.posts.edit({id: unscheduled.id, updated_at: unscheduled.updated_at, status: 'draft'});
      const future = await herald.api.posts.add({title: 'Next week', status: 'scheduled', published_at: later(7 * 86_400_000)});
      await sleep(500);
      await log.mark();

      const started = Date.now();
      const scheduler = startScheduler(deps, {batchSize: 2});
      try {
        await eventually(async () => {
          const rows = await herald.database.db.selectFrom('posts').select('id').where('id', 'in', due.map((p) => p.id)).where('status', '=', 'published').execute();
          return rows.length === due.length ? true : undefined;
        }, 3000, 'overdue posts published');
        assert.ok(Date.now() - started < 1000, 'caught up within a second of starting');
      } finally {
        await scheduler.stop();
      }
      const events = await log.fresh();
      assert.equal(events.filter((e) => e.name === 'post.published').length, due.length);
      assert.equal(events.filter((e) => e.name === 'site.changed').length, due.length);
      assert.equal((await herald.api.posts.read({id: unscheduled.id})).status, 'draft');
      assert.equal((await herald.api.posts.read({id: future.id})).status, 'scheduled');
    });

    test('publishDue on nothing due publishes nothing; stop() returns promptly while sleeping', async () => {
      assert.equal(await publishDue(deps), 0);
      const scheduler = startScheduler(deps);
      await sleep(50);
      const stopping = Date.now();
      await scheduler.stop();
      assert.ok(Date.now() - stopping < 200);
    });

    test('two scheduler processes on one database publish each post exactly once', async () => {
      const a = schedulerProcess(herald, 6500);
      const b = schedulerProcess(herald, 6500);
      await Promise.all([a.ready, b.ready]);
      await log.mark();
      const at = later(2500);
      const posts: any[] = [];
      for (let i = 0; i < 12; i++) posts.push(await herald.api.posts.add({title: `Race ${i}`, status: 'scheduled', published_at: at}));
      const [byA, byB] = await Promise.all([a.done, b.done]);
      assert.equal(byA + byB, posts.length, `published by A: ${byA}, by B: ${byB}`);

      const events = (await log.fresh()).filter((e) => e.name === 'post.published');
      assert.deepEqual(events.map((e) => e.resource_id).sort(), posts.map((p) => p.id).sort(), 'one post.published per post');
      const rows = await herald.database.db.selectFrom('posts').select(['id', 'status']).where('id', 'in', posts.map((p) => p.id)).execute();
      assert.ok(rows.every((row) => row.status === 'published'));
    });
  });
}
