// Every row of SPEC §4, end to end: one webhook per event (all 29) pointing at a real local
// receiver; Ghost's actions replayed through the official client; after each action the
// receiver must get exactly that action's events — no more, none missing.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {DIALECTS, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {EVENT_NAMES} from '../../src/events/names.ts';
import {replayGhostActions, type ExpectEvents} from '../events/actions.ts';

/** How long to keep listening after the expected events arrived, to catch extras. */
const SETTLE_MS = 150;

for (const dialect of DIALECTS) {
  describe(`SPEC §4 end to end to a real receiver (${dialect})`, () => {
    let herald: TestHerald;
    let server: http.Server;
    const received: string[] = [];

    before(async () => {
      herald = await startHerald(dialect);
      server = http.createServer((request, response) => {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          const event = decodeURIComponent(request.url!.split('/').pop()!);
          // The webhook is for `event`; the body must say the same, as its first key.
          received.push(JSON.parse(body).event === event && body.startsWith(`{"event":"${event}"`) ? event : `MISMATCH ${event}`);
          response.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      for (const event of EVENT_NAMES) await herald.api.webhooks.add({event, target_url: `${base}/${event}`});
    });
    after(async () => {
      await herald?.close();
      server?.close();
    });

    /** Runs an action and checks the receiver got exactly `expected` (as a multiset: fan-out is parallel). */
    const expectReceived: ExpectEvents = async (action, run, expected) => {
      const start = received.length;
      await run();
      const deadline = Date.now() + 5_000;
      while (received.length - start < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      assert.deepEqual(received.slice(start).sort(), [...expected].sort(), action);
    };

    for (const type of ['post', 'page'] as const) {
      test(`${type}s: every action delivers exactly its events`, async () => {
        await replayGhostActions(herald.api, type, expectReceived);
      });
    }

    test('tags, members and settings deliver their events; no-ops deliver nothing', async () => {
      const tag = await (async () => {
        let created: any;
        await expectReceived('tag.create', async () => (created = await herald.api.tags.add({name: 'E2E tag'})), ['tag.added', 'site.changed']);
        return created;
      })();
      await expectReceived('tag.edit', () => herald.api.tags.edit({id: tag.id, name: 'E2E tag edited'}), ['tag.edited', 'site.changed']);
      await expectReceived('tag.edit_noop', () => herald.api.tags.edit({id: tag.id, name: 'E2E tag edited'}), []);
      await expectReceived('tag.delete', () => herald.api.tags.delete({id: tag.id}), ['tag.deleted', 'site.changed']);

      let member: any;
      await expectReceived('member.create', async () => (member = await herald.api.members.add({email: 'e2e@example.com'})), ['member.added']);
      await expectReceived('member.edit', () => herald.api.members.edit({id: member.id, name: 'E2E'}), ['member.edited']);
      await expectReceived('member.edit_noop', () => herald.api.members.edit({id: member.id, name: 'E2E'}), []);
      await expectReceived('member.delete', () => herald.api.members.delete({id: member.id}), ['member.deleted']);

      const staff = await staffSession(herald);
      await expectReceived('settings.edit_title', async () => assert.equal((await staff('PUT', '/settings/', {settings: [{key: 'title', value: 'E2E site'}]})).status, 200), ['site.changed']);
      await expectReceived('settings.edit_noop', async () => assert.equal((await staff('PUT', '/settings/', {settings: [{key: 'title', value: 'E2E site'}]})).status, 200), []);
    });
  });
}
