// The listen stream (GET /ghost/api/admin/webhooks/listen/) in-process on both engines: who may
// open it, the `ready` message and its stable secret, which events it carries and how they are
// signed, and that the server's close() ends open streams. The SSE parser on its own.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {Webhook} from 'standardwebhooks';
import {DIALECTS, request, startHerald, staffSession, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {createSseParser, type SseMessage} from '../../src/listen/sse.ts';
import {parseEventFilter} from '../../src/listen/stream.ts';
import {sign} from '../relay/support.ts';

/** An open stream: its parsed messages so far, and a way to wait for more. */
async function openStream(herald: TestHerald, key: string, query = '') {
  const controller = new AbortController();
  const response = await fetch(`${herald.url}/ghost/api/admin/webhooks/listen/${query}`, {
    headers: {authorization: await adminToken(key), accept: 'text/event-stream'},
    signal: controller.signal,
  });
  const messages: SseMessage[] = [];
  let ended = false;
  if (response.status === 200) {
    const parser = createSseParser((message) => messages.push(message));
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of response.body!) parser.push(decoder.decode(chunk, {stream: true}));
      } catch {
        // aborted
      }
      ended = true;
    })();
  }
  const until = async (predicate: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) assert.fail(`timed out; messages: ${JSON.stringify(messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {response, messages, until, ended: () => ended, close: () => controller.abort()};
}

for (const dialect of DIALECTS) {
  describe(`listen stream (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect, {worker: false});
    });
    after(async () => herald?.close());

    test("no credentials: Ghost's 403; a staff session: 403 (the stream belongs to an integration); unknown events: 422", async () => {
      const anonymous = await request(herald, 'GET', '/ghost/api/admin/webhooks/listen/');
      assert.equal(anonymous.status, 403);
      assert.equal(anonymous.body.errors[0].message, 'Authorization failed');
      const staff = await staffSession(herald);
      const asStaff = await staff('GET', '/webhooks/listen/');
      assert.equal(asStaff.status, 403);
      assert.equal(asStaff.body.errors[0].type, 'NoPermissionError');
      assert.match(asStaff.body.errors[0].message, /Admin API key/);
      const bad = await openStream(herald, herald.integration.admin_key, '?events=post.published,nope.never');
      assert.equal(bad.response.status, 422);
      const body = await bad.response.json();
      assert.equal(body.errors[0].property, 'events');
      assert.match(body.errors[0].context, /nope\.never/);
    });

    test('ready carries a whsec_ secret that stays the same for the integration and differs between integrations', async () => {
      const first = await openStream(herald, herald.integration.admin_key, '?events=tag.added');
      assert.equal(first.response.status, 200);
      assert.match(first.response.headers.get('content-type')!, /^text\/event-stream/);
      await first.until(() => first.messages.length >= 1);
      const ready = JSON.parse(first.messages[0]!.data);
      assert.equal(first.messages[0]!.event, 'ready');
      assert.match(ready.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.deepEqual(ready.events, ['tag.added']);
      assert.equal(ready.integration.id, herald.integration.id);
      first.close();
      const again = await openStream(herald, herald.integration.admin_key);
      await again.until(() => again.messages.length >= 1);
      assert.equal(JSON.parse(again.messages[0]!.data).secret, ready.secret);
      assert.equal(JSON.parse(again.messages[0]!.data).events, null);
      again.close();
      const other = await herald.createIntegration('Other dev');
      const third = await openStream(herald, other.admin_key);
      await third.until(() => third.messages.length >= 1);
      assert.notEqual(JSON.parse(third.messages[0]!.data).secret, ready.secret);
      third.close();
    });

    test('committed events arrive filtered, signed with the listen secret, with the stored body; relayed and rolled-back ones never do', async () => {
      const stream = await openStream(herald, herald.integration.admin_key, '?events=tag.added,tag.deleted');
      await stream.until(() => stream.messages.length >= 1);
      const secret = JSON.parse(stream.messages[0]!.data).secret;
      // A relayed event (a Ghost site's, through the ingest endpoint) is not Herald's own content.
      const sources = await request(herald, 'POST', '/ghost/api/admin/sources/', {body: {sources: [{name: 'Upstream'}]}, headers: {authorization: await adminToken(herald.integration.admin_key)}});
      assert.equal(sources.status, 201, sources.text);
      const source = sources.body.sources[0];
      const raw = '{"tag":{"current":{"id":"aaaaaaaaaaaaaaaaaaaaaaaa","name":"Relayed"}}}';
      const ingested = await request(herald, 'POST', `${source.ingest_path}tag.added`, {body: raw, headers: {'x-ghost-signature': sign(raw, source.secret)}});
      assert.equal(ingested.status, 202, ingested.text);
      // A write that fails validation commits nothing and announces nothing.
      await assert.rejects(herald.api.tags.add({name: ''}));
      const tag = await herald.api.tags.add({name: 'Streamed'});
      await herald.api.tags.delete({id: tag.id});
      await stream.until(() => stream.messages.length >= 3);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const deliveries = stream.messages.slice(1);
      assert.deepEqual(deliveries.map((m) => m.event), ['delivery', 'delivery']);
      const parsed = deliveries.map((m) => JSON.parse(m.data));
      assert.deepEqual(parsed.map((d) => d.event), ['tag.added', 'tag.deleted']);
      const stored = await herald.database.db.selectFrom('events').select(['id', 'name', 'payload']).where('name', 'in', ['tag.added', 'tag.deleted']).where('source_id', 'is', null).orderBy('id').execute();
      assert.equal((await herald.database.db.selectFrom('events').select('id').where('source_id', '=', source.id).execute()).length, 1, 'the relayed event was committed');
      assert.deepEqual(parsed.map((d) => [d.id, d.event, d.body]), stored.map((row) => [row.id, row.name, row.payload]));
      assert.deepEqual(deliveries.map((m) => m.id), stored.map((row) => row.id));
      for (const delivery of parsed) {
        assert.equal(delivery.headers['webhook-id'], delivery.id);
        const payload = new Webhook(secret).verify(delivery.body, delivery.headers) as any;
        assert.equal(payload.event, delivery.event);
      }
      stream.close();
    });

    test('closing the server ends open streams instead of waiting on them', async () => {
      const extra = await startHerald(dialect, {worker: false});
      const stream = await openStream(extra, extra.integration.admin_key);
      await stream.until(() => stream.messages.length >= 1);
      assert.equal(extra.feed.size, 1);
      const started = Date.now();
      await extra.close();
      assert.ok(Date.now() - started < 5000, 'close() did not hang on the open stream');
      await stream.until(() => stream.ended());
    });
  });
}

describe('listen helpers', () => {
  test('the SSE parser handles split chunks, CRLF, multi-line data, comments and ids', () => {
    const messages: SseMessage[] = [];
    const parser = createSseParser((message) => messages.push(message));
    for (const piece of ['retry: 2000\nevent: re', 'ady\ndata: {"a":1}\n\n: keepalive\n\n', 'id: 42\r', '\nevent: delivery\r\ndata: line one\r\ndata: line two\r\n\r\n', 'data: no event\n\n', 'event: partial\ndata: x']) {
      parser.push(piece);
    }
    assert.deepEqual(messages, [
      {event: 'ready', data: '{"a":1}', id: null},
      {event: 'delivery', data: 'line one\nline two', id: '42'},
      {event: 'message', data: 'no event', id: '42'},
    ]);
    parser.push('\n\n');
    assert.equal(messages.at(-1)!.event, 'partial');
  });

  test('parseEventFilter: absent or empty means all; names are trimmed and deduplicated; unknown ones are a 422', () => {
    assert.equal(parseEventFilter(undefined), null);
    assert.equal(parseEventFilter(''), null);
    assert.equal(parseEventFilter(' , '), null);
    assert.deepEqual(parseEventFilter('post.published, member.added,post.published'), ['post.published', 'member.added']);
    assert.throws(() => parseEventFilter('post.published,post.teleported,x'), (error: any) => error.status === 422 && /post\.teleported, x/.test(error.context));
    assert.throws(() => parseEventFilter(['a', 'b']), (error: any) => error.status === 422);
  });
});
