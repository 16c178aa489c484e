// The whole path through public interfaces only: the official Ghost client creates a webhook
// and publishes a post; a real local receiver gets Ghost's payload with both signatures.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {Webhook} from 'standardwebhooks';
import {DIALECTS, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver on 127.0.0.1 that records requests, answering after `delayMs`. */
async function receiver(delayMs = 0): Promise<{url: string; got: Received[]; close(): void}> {
  const got: Received[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      got.push({headers: request.headers, body, at: performance.now()});
      setTimeout(() => response.writeHead(200).end('ok'), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, close: () => server.close()};
}

/** Polls `check` (after running `refresh`, if given) until it holds or `ms` pass. */
async function until(check: () => boolean, ms: number, refresh?: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (refresh) await refresh();
    if (check()) return;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const dialect of DIALECTS) {
  describe(`webhook delivery end to end (${dialect})`, () => {
    let herald: TestHerald;
    before(async () => {
      herald = await startHerald(dialect);
    });
    after(async () => herald?.close());

    test('publishing a post delivers Ghost\'s payload, signed both ways', async () => {
      const hook = await receiver();
      try {
        const webhook = await herald.api.webhooks.add({event: 'post.published', target_url: hook.url});
        assert.match(webhook.secret, /^whsec_/);
        const post = await herald.api.posts.add({title: 'Hello webhooks', html: '<p>Hi</p>', status: 'published'}, {source: 'html'});
        await until(() => hook.got.length === 1, 5_000);
        const {headers, body} = hook.got[0]!;

        const payload = JSON.parse(body);
        assert.equal(Object.keys(payload)[0], 'event');
        assert.equal(payload.event, 'post.published');
        assert.equal(payload.post.current.id, post.id);
        assert.equal(payload.post.current.html, '<p>Hi</p>');
        assert.equal('mobiledoc' in payload.post.current, false);
        assert.equal(payload.post.current.authors[0].email, undefined);

        // X-Ghost-Signature, Ghost's format, keyed with the secret as UTF-8.
        const [, hex, t] = /^sha256=([0-9a-f]{64}), t=(\d+)$/.exec(String(headers['x-ghost-signature']))!;
        assert.equal(hex, crypto.createHmac('sha256', webhook.secret).update(body + t).digest('hex'));
        // Standard Webhooks, with the official library.
        assert.deepEqual(new Webhook(webhook.secret).verify(body, headers as Record<string, string>), payload);
        assert.equal(headers['content-type'], 'application/json');
        assert.match(String(headers['user-agent']), /^Herald\/\d+\.\d+\.\d+ \(\+Ghost-compatible\)$/);

        // The attempt is recorded once the receiver has answered: last_triggered_* show it.
        let recorded: any = null;
        await until(() => recorded?.last_triggered_status === '200', 5_000, async () => {
          const response = await fetch(`${herald.url}/ghost/api/admin/webhooks/${webhook.id}/`, {headers: {authorization: await adminToken(herald.integration.admin_key)}});
          recorded = (await response.json()).webhooks[0];
        });
        assert.equal(recorded.last_triggered_error, null);
        assert.ok(recorded.last_triggered_at);
      } finally {
        hook.close();
      }
    });

    test('one event to 40 endpoints that each take 300 ms arrives everywhere in well under a second', async () => {
      const hooks = await Promise.all(Array.from({length: 40}, () => receiver(300)));
      try {
        for (const hook of hooks) await herald.api.webhooks.add({event: 'tag.added', target_url: hook.url});
        const started = performance.now();
        await herald.api.tags.add({name: 'Fan-out'});
        await until(() => hooks.every((hook) => hook.got.length === 1), 5_000);
        const lastArrival = Math.max(...hooks.map((hook) => hook.got[0]!.at)) - started;
        // Ghost's sequential loop would need 40 × 300 ms = 12 s to reach the last one.
        assert.ok(lastArrival < 1_000, `last arrival after ${Math.round(lastArrival)} ms`);
      } finally {
        for (const hook of hooks) hook.close();
      }
    });
  });
}
