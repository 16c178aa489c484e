import {after, before, describe, test} from 'node:test';
import {replayGhostActions} from './actions.ts';
import assert from 'node:assert/strict';
import pg from 'pg';
import {DIALECTS, request, staffSession, startHerald, TEST_PG_URL, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {addPost} from '../../src/content/posts.ts';
import {eventsFor} from '../../src/events/outbox.ts';
import {createHandoff, type HandedOff} from '../../src/delivery/handoff.ts';
import {EVENT_NAMES} from '../../src/events/names.ts';
import {cryptoRandom} from '../../src/lib/ids.ts';
import {systemClock} from '../../src/lib/clock.ts';
import {DELIVERY_CHANNEL} from '../../src/lib/wake.ts';
import {assertLikeGhost, fixtureAction} from './support.ts';
import {addWebhook, EventLog, wasWoken} from './db-support.ts';


for (const dialect of DIALECTS) {
  describe(`outbox: Ghost's actions replayed through @tryghost/admin-api (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Awaited<ReturnType<typeof staffSession>>;
    let log: EventLog;
    const compared = new Set<string>();
    before(async () => {
      herald = await startHerald(dialect, {worker: false});
      staff = await staffSession(herald);
      log = new EventLog(herald.database);
    });
    after(async () => herald?.close());

    /**
     * Runs `run`, then checks the events it fired (names in order) and, for events whose Ghost
     * fixture was captured during the same action, the payload against Ghost's.
     */
    async function expectEvents(action: string, run: () => Promise<unknown>, expected: string[]): Promise<void> {
      await log.mark();
      await run();
      const events = await log.fresh();
      assert.deepEqual(events.map((e) => e.name), expected, action);
      for (const event of events) {
        assert.ok(!event.payload.includes('ada@example.com'), `${action}: staff e-mail leaked in ${event.name}`);
        assert.ok(event.payload.startsWith(`{"event":"${event.name}"`), `${action}: event first`);
        if (event.name === 'site.changed') {
          assert.equal(event.payload, '{"event":"site.changed"}');
          assert.equal(event.resource_type, null);
          continue;
        }
        const resource = event.name.split('.')[0]!;
        assert.equal(event.resource_type, resource);
        assert.match(event.resource_id ?? '', /^[0-9a-f]{24}$/);
        if (fixtureAction(event.name) === action) {
          assertLikeGhost(JSON.parse(event.payload), event.name, resource);
          compared.add(event.name);
        }
      }
    }

    for (const type of ['post', 'page'] as const) {
      test(`${type}s: every action of events-by-action.md fires Ghost's events, in order (★ deletes of drafts fire no site.changed)`, async () => {
        await replayGhostActions(herald.api, type, expectEvents);
      });
    }

    test('tags: create, edit, no-op edit, delete', async () => {
      let tag: any;
      await expectEvents('tag.create', async () => (tag = await herald.api.tags.add({name: 'Anchor Tag', description: 'first'})), ['tag.added', 'site.changed']);
      await expectEvents('tag.edit', async () => (tag = await herald.api.tags.edit({id: tag.id, name: 'Anchor Tag Edited', description: 'second'})), ['tag.edited', 'site.changed']);
      await expectEvents('tag.edit_noop', () => herald.api.tags.edit({id: tag.id, name: 'Anchor Tag Edited'}), []);
      await expectEvents('tag.delete', () => herald.api.tags.delete({id: tag.id}), ['tag.deleted', 'site.changed']);
    });

    test('members: create, edit, no-op edit, delete (never site.changed)', async () => {
      let member: any;
      await expectEvents('member.create', async () => (member = await herald.api.members.add({email: `anchor-${dialect}@example.com`, name: 'Anchor Member'})), ['member.added']);
      await expectEvents('member.edit', async () => (member = await herald.api.members.edit({id: member.id, name: 'Anchor Member Edited', note: 'edited'})), ['member.edited']);
      await expectEvents('member.edit_noop', () => herald.api.members.edit({id: member.id, name: 'Anchor Member Edited'}), []);
      await expectEvents('member.delete', () => herald.api.members.delete({id: member.id}), ['member.deleted']);
    });

    test('settings (staff session): a change fires site.changed, a no-op nothing, an integration gets 501 and nothing', async () => {
      await expectEvents('settings.edit_title', async () => assert.equal((await staff('PUT', '/settings/', {settings: [{key: 'title', value: 'New title'}]})).status, 200), ['site.changed']);
      await expectEvents('settings.noop', async () => assert.equal((await staff('PUT', '/settings/', {settings: [{key: 'title', value: 'New title'}]})).status, 200), []);
      await expectEvents(
        'settings.integration',
        async () => {
          const response = await request(herald, 'PUT', '/ghost/api/admin/settings/', {
            headers: {authorization: await adminToken(herald.integration.admin_key)},
            body: {settings: [{key: 'title', value: 'Other'}]},
          });
          assert.equal(response.status, 501);
        },
        [],
      );
    });

    test("every one of Ghost's 28 resource fixtures was compared with what Herald stored", () => {
      assert.deepEqual([...EVENT_NAMES].filter((name) => name !== 'site.changed' && !compared.has(name)), []);
    });

    test('rolled-back changes leave no events: 409 collision, 422 validation, 404', async () => {
      const post = await herald.api.posts.add({title: 'Collide', status: 'published'});
      await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Collide 2'});
      await expectEvents('stale edit', () => assert.rejects(herald.api.posts.edit({id: post.id, updated_at: post.updated_at, title: 'Collide 3'}), (e: any) => e.name === 'UpdateCollisionError'), []);
      await expectEvents('bad author', () => assert.rejects(herald.api.posts.add({title: 'x', tags: ['brand new tag'], authors: [{id: '0'.repeat(24)}]}), (e: any) => e.name === 'ValidationError'), []);
      assert.equal((await herald.database.db.selectFrom('tags').select('id').where('name', '=', 'brand new tag').execute()).length, 0);
      const member = await herald.api.members.add({email: `dup-${dialect}@example.com`});
      await expectEvents('duplicate member', () => assert.rejects(herald.api.members.add({email: member.email}), (e: any) => e.name === 'ValidationError'), []);
      await expectEvents('bad setting', async () => assert.equal((await staff('PUT', '/settings/', {settings: [{key: 'title', value: 'ok'}, {key: 'accent_color', value: 'red'}]})).status, 422), []);
      await expectEvents('missing post', () => assert.rejects(herald.api.posts.delete({id: '0'.repeat(24)}), (e: any) => e.name === 'NotFoundError'), []);
    });
  });

  describe(`outbox: deliveries and wake-ups (${dialect})`, () => {
    let herald: TestHerald;
    let log: EventLog;
    before(async () => {
      herald = await startHerald(dialect, {worker: false});
      log = new EventLog(herald.database);
    });
    after(async () => herald?.close());

    test('one pending delivery per available, non-relay webhook of the event; none for disabled, other events or relay webhooks', async () => {
      const db = herald.database.db;
      const integration = herald.integration.id;
      const published1 = await addWebhook(db, integration, 'post.published');
      const published2 = await addWebhook(db, integration, 'post.published');
      await addWebhook(db, integration, 'post.published', {status: 'disabled'});
      await addWebhook(db, integration, 'post.published', {source_id: 'a'.repeat(24)});
      await addWebhook(db, integration, 'post.unpublished');
      const site = await addWebhook(db, integration, 'site.changed');
      const added = await addWebhook(db, integration, 'post.added');

      await herald.wake.wait(0); // forget any earlier wake-up
      await log.mark();
      const post = await herald.api.posts.add({title: 'Fan out', status: 'published'});
      const events = await log.fresh();
      assert.deepEqual(events.map((e) => e.name), ['post.added', 'post.published', 'site.changed']);
      assert.ok(await wasWoken(herald.wake), 'the worker is woken after the commit');

      const deliveries = await db.selectFrom('deliveries').selectAll().where('event_id', 'in', events.map((e) => e.id)).orderBy('id').execute();
      const byEvent = new Map(events.map((e) => [e.id, e.name]));
      assert.deepEqual(
        deliveries.map((d) => [byEvent.get(d.event_id), d.webhook_id]),
        [['post.added', added], ['post.published', published1], ['post.published', published2], ['site.changed', site]],
      );
      for (const delivery of deliveries) {
        assert.equal(delivery.status, 'pending');
        assert.equal(Number(delivery.attempt_count), 0);
        assert.equal(delivery.next_attempt_at, events[0]!.created_at);
        assert.equal(delivery.created_at, events[0]!.created_at);
        assert.equal(delivery.updated_at, events[0]!.created_at);
        assert.equal(delivery.lease_owner, null);
        assert.equal(delivery.lease_expires_at, null);
        assert.equal(delivery.last_attempt_at, null);
        assert.equal(delivery.last_status_code, null);
        assert.equal(delivery.last_error, null);
        assert.equal(delivery.next_trigger, null);
      }
      for (const event of events) {
        assert.equal(event.source_id, null);
        assert.equal(event.created_at, events[0]!.created_at);
      }
      assert.equal(events[1]!.resource_id, post.id);

      // A draft edit fires post.edited only: no webhook listens, so no delivery and no wake-up.
      await herald.api.posts.edit({id: post.id, updated_at: post.updated_at, status: 'draft'});
      await log.mark();
      const draft = await herald.api.posts.read({id: post.id});
      await herald.wake.wait(0);
      await herald.api.posts.edit({id: post.id, updated_at: draft.updated_at, title: 'Quiet'});
      const quiet = await log.fresh();
      assert.deepEqual(quiet.map((e) => e.name), ['post.edited']);
      assert.equal((await db.selectFrom('deliveries').select('id').where('event_id', '=', quiet[0]!.id).execute()).length, 0);
      assert.equal(await wasWoken(herald.wake), false);
    });

    test("one route module's writes follow every webhook change between them (SQLite keeps the list while no webhook changes)", async () => {
      const db = herald.database.db;
      const integration = herald.integration.id;
      const other = await herald.createIntegration('Fan-out changes');
      const fannedOut = async (name: string) => {
        await log.mark();
        await herald.api.tags.add({name});
        const added = (await log.fresh()).find((e) => e.name === 'tag.added');
        assert.ok(added, 'tag.added fired');
        const rows = await db.selectFrom('deliveries').select('webhook_id').where('event_id', '=', added.id).orderBy('id').execute();
        return rows.map((row) => row.webhook_id);
      };
      const first = await addWebhook(db, integration, 'tag.added');
      const doomed = await addWebhook(db, other.id, 'tag.added');
      assert.deepEqual(await fannedOut('Fan-out 1'), [first, doomed]);
      assert.deepEqual(await fannedOut('Fan-out 2'), [first, doomed], 'nothing changed: the same list');

      const second = await addWebhook(db, integration, 'tag.added');
      assert.deepEqual(await fannedOut('Fan-out 3'), [first, doomed, second], 'a webhook added since');

      // Its integration deleted: the webhook goes by cascade, and a delivery to it would break the write.
      await db.deleteFrom('integrations').where('id', '=', other.id).execute();
      assert.deepEqual(await fannedOut('Fan-out 4'), [first, second], 'a webhook deleted by cascade');

      await db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', first).execute();
      assert.deepEqual(await fannedOut('Fan-out 5'), [second], 'a webhook disabled since');

      await db.updateTable('webhooks').set({event: 'tag.deleted'}).where('id', '=', second).execute();
      assert.deepEqual(await fannedOut('Fan-out 6'), [], 'a webhook moved to another event');

      await db.updateTable('webhooks').set({status: 'available', event: 'tag.added'}).where('id', 'in', [first, second]).execute();
      assert.deepEqual(await fannedOut('Fan-out 7'), [first, second], 'both back');
      // Columns delivering does not read leave the list as it is (and it stays right).
      await db.updateTable('webhooks').set({last_triggered_at: new Date().toISOString(), name: 'Renamed'}).where('id', '=', first).execute();
      assert.deepEqual(await fannedOut('Fan-out 8'), [first, second]);
    });

    test('a hook that fails after writing the outbox rolls everything back and wakes nobody', async () => {
      await addWebhook(herald.database.db, herald.integration.id, 'post.added');
      const withEvents = eventsFor({database: herald.database, clock: systemClock, random: cryptoRandom, siteUrl: () => herald.url, wake: herald.wake, feed: herald.feed});
      await herald.wake.wait(0);
      const counts = async () => Promise.all((['events', 'deliveries', 'posts'] as const).map(async (t) => (await herald.database.db.selectFrom(t).select('id').execute()).length));
      const beforeCounts = await counts();
      await assert.rejects(
        withEvents((on) =>
          addPost({database: herald.database, now: new Date(), random: cryptoRandom}, 'post', {title: 'Doomed'}, {
            onChange: async (trx, change) => {
              await on.post(trx, change);
              throw new Error('boom after the outbox write');
            },
          }),
        ),
        /boom/,
      );
      assert.deepEqual(await counts(), beforeCounts);
      assert.equal(await wasWoken(herald.wake), false);
    });

    /** A stand-in worker on a fresh hand-off: grants where `grant` says, and records what it is told. */
    function stubWorker(grant: (webhookId: string, i: number) => boolean, leaseOwner = 'stub-worker') {
      const handoff = createHandoff();
      const calls: {asked: string[]; started: HandedOff[][]; cancelled: number}[] = [];
      handoff.attach((webhookIds) => {
        const call = {asked: [...webhookIds], started: [] as HandedOff[][], cancelled: 0};
        calls.push(call);
        return {
          leaseOwner,
          leaseUntil: '2099-01-01T00:00:00.000Z',
          granted: webhookIds.map(grant),
          start: (deliveries) => void call.started.push([...deliveries]),
          cancel: () => void call.cancelled++,
        };
      });
      const withEvents = eventsFor({database: herald.database, clock: systemClock, random: cryptoRandom, siteUrl: () => herald.url, wake: herald.wake, feed: herald.feed, handoff});
      return {withEvents, calls};
    }
    const postArgs = (title: string) => [{database: herald.database, now: new Date(), random: cryptoRandom}, 'post', {title}] as const;

    test('hand-off: granted deliveries go in leased to the worker and start after the commit; the rest go in due and wake it', async () => {
      const db = herald.database.db;
      await db.updateTable('webhooks').set({status: 'disabled'}).where('event', '=', 'post.added').execute(); // earlier tests' webhooks
      const hooks = [
        await addWebhook(db, herald.integration.id, 'post.added', {target_url: 'http://127.0.0.1:9/a', secret: 'first-secret'}),
        await addWebhook(db, herald.integration.id, 'post.added', {target_url: 'http://127.0.0.1:9/b'}),
        await addWebhook(db, herald.integration.id, 'post.added', {target_url: 'http://127.0.0.1:9/c'}),
      ];
      const {withEvents, calls} = stubWorker((_id, i) => i !== 1);
      await herald.wake.wait(0);
      const change = await withEvents((on) => addPost(...postArgs('Handed'), {onChange: on.post}));
      assert.equal(calls.length, 1);
      assert.deepEqual(calls[0]!.asked, hooks, 'asked for every subscriber, in creation order');
      assert.equal(calls[0]!.cancelled, 0);
      const rows = await db.selectFrom('deliveries').selectAll().where('webhook_id', 'in', hooks).execute();
      const byHook = new Map(rows.map((r) => [r.webhook_id, r]));
      for (const i of [0, 2]) {
        const row = byHook.get(hooks[i]!)!;
        assert.equal(row.status, 'pending');
        assert.equal(row.lease_owner, 'stub-worker');
        assert.equal(row.lease_expires_at, '2099-01-01T00:00:00.000Z');
        assert.equal(row.next_attempt_at, '2099-01-01T00:00:00.000Z', 'due again only when the lease runs out');
      }
      const due = byHook.get(hooks[1]!)!;
      assert.equal(due.lease_owner, null);
      assert.equal(due.lease_expires_at, null);
      assert.equal(due.next_attempt_at, due.created_at, 'due at once');
      // Started once, after the commit, with what their attempts need.
      assert.equal(calls[0]!.started.length, 1);
      const started = calls[0]!.started[0]!;
      assert.deepEqual(started.map((d) => d.deliveryId), [byHook.get(hooks[0]!)!.id, byHook.get(hooks[2]!)!.id]);
      const event = await db.selectFrom('events').selectAll().where('id', '=', started[0]!.event.id).executeTakeFirstOrThrow();
      assert.equal(event.name, 'post.added');
      assert.equal(JSON.parse(event.payload).post.current.id, change.after!.row.id);
      assert.deepEqual(started[0]!.event, {id: event.id, name: event.name, payload: event.payload, created_at: event.created_at, source_id: null, resource_type: event.resource_type, resource_id: event.resource_id});
      assert.deepEqual(started[0]!.webhook, {id: hooks[0], event: 'post.added', target_url: 'http://127.0.0.1:9/a', secret: 'first-secret', previous_secrets: null});
      assert.equal(await wasWoken(herald.wake), true, 'the due delivery wakes the worker');

      // All granted: nothing is due, so nothing wakes the worker for a claim.
      const all = stubWorker(() => true);
      await all.withEvents((on) => addPost(...postArgs('All handed'), {onChange: on.post}));
      assert.equal(all.calls[0]!.started[0]!.length, 3);
      assert.equal(await wasWoken(herald.wake), false);
      await db.updateTable('webhooks').set({status: 'disabled'}).where('id', 'in', hooks).execute();
    });

    test('hand-off: a write that fails after the outbox gives the room back and starts nothing; one run again keeps only its last run', async () => {
      const db = herald.database.db;
      await db.updateTable('webhooks').set({status: 'disabled'}).where('event', '=', 'post.added').execute(); // earlier tests' webhooks
      const hook = await addWebhook(db, herald.integration.id, 'post.added');
      const {withEvents, calls} = stubWorker(() => true);
      await assert.rejects(
        withEvents((on) =>
          addPost(...postArgs('Doomed'), {
            onChange: async (trx, change) => {
              await on.post(trx, change);
              throw new Error('boom after the outbox write');
            },
          }),
        ),
        /boom/,
      );
      assert.equal(calls.length, 1);
      assert.equal(calls[0]!.cancelled, 1);
      assert.equal(calls[0]!.started.length, 0);

      // A write whose first transaction rolled back and which then ran again (as a slug race
      // does): the first run's room is given back, only the second run's deliveries start.
      const second = await withEvents(async (on) => {
        await addPost(...postArgs('Rolled back'), {
          onChange: async (trx, change) => {
            await on.post(trx, change);
            throw new Error('rolled back');
          },
        }).catch(() => {});
        return addPost(...postArgs('Kept'), {onChange: on.post});
      });
      assert.equal(calls.length, 3);
      assert.equal(calls[1]!.cancelled, 1, 'the rolled-back run');
      assert.equal(calls[1]!.started.length, 0);
      assert.equal(calls[2]!.cancelled, 0);
      assert.equal(calls[2]!.started.length, 1);
      const [started] = calls[2]!.started[0]!;
      assert.equal(JSON.parse(started!.event.payload).post.current.id, second.after!.row.id);
      const rows = await db.selectFrom('deliveries').select('id').where('webhook_id', '=', hook).execute();
      assert.deepEqual(rows.map((r) => r.id), [started!.deliveryId], 'only the kept run wrote a delivery');

      if (dialect === 'postgres') {
        // The deliveries INSERT itself fails (a lease owner longer than its column): the room
        // held for its rows is given back, whatever the caller does with the error.
        const broken = stubWorker(() => true, 'x'.repeat(65));
        await assert.rejects(broken.withEvents((on) => addPost(...postArgs('Too long an owner'), {onChange: on.post})));
        assert.equal(broken.calls.length, 1);
        assert.equal(broken.calls[0]!.cancelled, 1);
        assert.equal(broken.calls[0]!.started.length, 0);
      }
      await db.updateTable('webhooks').set({status: 'disabled'}).where('id', '=', hook).execute();
    });

    if (dialect === 'postgres') {
      test(`PostgreSQL: a commit with deliveries sends NOTIFY ${DELIVERY_CHANNEL}`, async () => {
        await addWebhook(herald.database.db, herald.integration.id, 'member.added');
        const listener = new pg.Client({connectionString: TEST_PG_URL});
        await listener.connect();
        try {
          await listener.query(`LISTEN ${DELIVERY_CHANNEL}`);
          const notified = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.channel)));
          await herald.api.members.add({email: 'notify@example.com'});
          const channel = await Promise.race([notified, new Promise((resolve) => setTimeout(() => resolve('timeout'), 3000))]);
          assert.equal(channel, DELIVERY_CHANNEL);
        } finally {
          await listener.end();
        }
      });
    }
  });
}
