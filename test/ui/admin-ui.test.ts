// The admin UI at /ghost/: how its files are served (fast, no browser), then the whole flow in a
// real headless Chromium (Debian's /usr/bin/chromium through playwright-core; nothing is ever
// downloaded): first-run setup → integration → webhook → a published post → the delivery in
// the log → Resend, with screenshots saved under test-artifacts/ui/.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {chromium, type Browser, type Page} from 'playwright-core';
import {request, startHerald, type TestHerald} from '../support/herald.ts';
import {ROOT} from '../support/process.ts';
import {EVENT_NAMES} from '../../src/events/names.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-artifacts/ui');

describe('admin UI files', () => {
  let herald: TestHerald;
  before(async () => {
    herald = await startHerald('sqlite', {worker: false});
  });
  after(async () => herald?.close());

  test('/ghost/ serves the app page with security and caching headers', async () => {
    const response = await request(herald, 'GET', '/ghost/');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/html; charset=utf-8/);
    assert.match(response.text, /<script type="module" src="\/ghost\/assets\/app\.js"><\/script>/);
    assert.match(response.headers.get('content-security-policy')!, /script-src 'self'/);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const etag = response.headers.get('etag')!;
    assert.ok(etag);
    const again = await request(herald, 'GET', '/ghost/', {headers: {'if-none-match': etag}});
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
  });

  test('/ghost and page paths (deep links) load the same app page', async () => {
    const bare = await request(herald, 'GET', '/ghost');
    assert.equal(bare.status, 200);
    assert.match(bare.text, /\/ghost\/assets\/app\.js/);
    const deep = await request(herald, 'GET', '/ghost/settings/integrations/');
    assert.equal(deep.status, 200);
    assert.match(deep.text, /\/ghost\/assets\/app\.js/);
  });

  test('assets have their content types; the event list is generated from the one list of names', async () => {
    const js = await request(herald, 'GET', '/ghost/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type')!, /^text\/javascript/);
    const css = await request(herald, 'GET', '/ghost/assets/styles.css');
    assert.match(css.headers.get('content-type')!, /^text\/css/);
    const icon = await request(herald, 'GET', '/ghost/assets/favicon.svg');
    assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
    const events = await request(herald, 'GET', '/ghost/assets/events.js');
    assert.equal(events.status, 200);
    assert.equal(events.text.trim(), `export const EVENT_NAMES = ${JSON.stringify(EVENT_NAMES)};`);
  });

  test('an unknown asset, a path escape and the bare page file are Ghost 404s', async () => {
    for (const pathname of ['/ghost/assets/nope.js', '/ghost/assets/..%2Fadmin-ui.ts', '/ghost/assets/index.html', '/ghost/assets/']) {
      const response = await request(herald, 'GET', pathname);
      assert.equal(response.status, 404, pathname);
      assert.equal(response.body?.errors?.[0]?.type, 'NotFoundError', pathname);
    }
  });

  test('the Admin API is untouched: known routes answer, unknown /ghost/api/ paths stay JSON 404s', async () => {
    const site = await request(herald, 'GET', '/ghost/api/admin/site/');
    assert.equal(site.status, 200);
    assert.equal(typeof site.body.site.title, 'string');
    assert.equal((await request(herald, 'GET', '/ghost/api/%61dmin/site/')).status, 200);
    for (const pathname of ['/ghost/api/admin/nope/', '/ghost/api/nope', '/ghost/api/', '/ghost/api', '/ghost/%61pi/nope', '/ghost/api/admin/posts/abc/def/ghi/']) {
      const response = await request(herald, 'GET', pathname);
      assert.equal(response.status, 404, pathname);
      assert.match(response.headers.get('content-type')!, /application\/json/, pathname);
      assert.equal(response.body?.errors?.[0]?.type, 'NotFoundError', pathname);
    }
  });

  test('/ghost/ui/session/ tells the page whether setup is done and whether it is signed in', async () => {
    const response = await request(herald, 'GET', '/ghost/ui/session/');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {setup: false, signed_in: false});
  });
});

/** A local receiver that records every request; `failing` makes it answer 500. */
function startReceiver() {
  const received: Array<{headers: http.IncomingHttpHeaders; body: string}> = [];
  const state = {failing: false};
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({headers: req.headers, body});
      res.writeHead(state.failing ? 500 : 200, {'content-type': 'application/json'});
      res.end(state.failing ? '{"error":"receiver is down"}' : '{"ok":true}');
    });
  });
  return {
    received,
    state,
    listen: () => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as {port: number}).port}/hook`))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Waits until `check` returns a truthy value. */
async function until<T>(what: string, check: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const hasChromium = fs.existsSync(CHROMIUM);

describe('admin UI in Chromium', {skip: hasChromium ? false : `${CHROMIUM} is not installed (.ci/run installs it with apt-get install -y chromium)`}, () => {
  let herald: TestHerald;
  let browser: Browser;
  let page: Page;
  const receiver = startReceiver();
  let target = '';
  /** Console errors and uncaught page errors; a deliberate API error may add its one network line. */
  const problems: string[] = [];
  let expectedNetworkErrors = 0;

  /** Form controls without a <label>, found on the pages screenshotted. */
  const unlabelled: string[] = [];
  const shot = async (name: string) => {
    await page.screenshot({path: path.join(SHOTS, `${name}.png`), fullPage: true});
    const found = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')].filter((el) => !(el as HTMLInputElement).labels?.length).map((el) => el.outerHTML.slice(0, 100)),
    );
    unlabelled.push(...found.map((html) => `${name}: ${html}`));
  };
  const button = (name: string) => page.getByRole('button', {name, exact: true});
  const sidebar = (name: string) => page.locator('.sidebar').getByRole('link', {name, exact: true});
  // When a step fails, say what the page showed (an API error in an alert, usually).
  const alerts = async () => (await page.getByRole('alert').allTextContents().catch(() => [])).join(' | ');
  const expectToast = async (text: string) => {
    try {
      await page.locator('.toast', {hasText: text}).waitFor();
    } catch (error) {
      throw new Error(`no "${text}" notice; the page shows: ${await alerts()}`, {cause: error});
    }
  };

  before(async () => {
    fs.mkdirSync(SHOTS, {recursive: true});
    target = await receiver.listen();
    // One attempt per delivery (no retries), so a failure is final at once for the failed-only filter.
    herald = await startHerald('sqlite', {flags: {'retry-schedule': ''}});
    browser = await chromium.launch({executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking']});
    const context = await browser.newContext({viewport: {width: 1280, height: 860}});
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      // The browser itself logs a failed fetch; that is expected exactly where a test provokes an API error.
      if (expectedNetworkErrors > 0 && /Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
        expectedNetworkErrors -= 1;
        return;
      }
      problems.push(`console: ${text}`);
    });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await herald?.close();
    await receiver.close();
  });

  test('from first-run setup to a Resend that arrives', async () => {
    // ---- First-run setup
    await page.goto(`${herald.url}/ghost/`);
    await page.getByRole('heading', {name: 'Create your account'}).waitFor();
    await page.getByLabel('Site title').fill('The Herald Times');
    await page.getByLabel('Full name').fill('Ada Owner');
    await page.getByLabel('Email address').fill('ada@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await shot('01-setup');
    await button('Create account & start publishing →').click();
    await page.getByRole('heading', {name: 'Posts', level: 1}).waitFor();
    assert.equal(await page.locator('.brand-name').textContent(), 'The Herald Times');

    // ---- Settings › Advanced › Integrations › Add custom integration
    await sidebar('Settings').click();
    await page.getByRole('heading', {name: 'Settings', level: 1}).waitFor();
    await page.getByRole('navigation', {name: 'Settings'}).getByRole('link', {name: 'Integrations'}).click();
    await page.getByRole('heading', {name: 'Integrations', level: 1}).waitFor();
    await button('Add custom integration').click();
    await page.getByRole('dialog').getByLabel('Name').fill('Rebuild bot');
    await page.getByRole('dialog').getByRole('button', {name: 'Add'}).click();
    await page.getByRole('heading', {name: 'Rebuild bot'}).waitFor();
    const adminKey = await page.getByRole('textbox', {name: 'Admin API key'}).inputValue();
    assert.match(adminKey, /^[0-9a-f]{24}:[0-9a-f]{64}$/);
    assert.match(await page.getByRole('textbox', {name: 'Content API key'}).inputValue(), /^[0-9a-f]{26}$/);
    assert.equal(await page.getByRole('textbox', {name: 'API URL'}).inputValue(), herald.url);
    await shot('02-integration-keys');

    // Regenerate the Admin API key: a new secret, the same key id.
    await button('Regenerate Admin API key').click();
    await page.getByRole('dialog').getByRole('button', {name: 'Regenerate Admin API key'}).click();
    await expectToast('Admin API key regenerated.');
    const newKey = await until('a regenerated key', async () => {
      const value = await page.getByRole('textbox', {name: 'Admin API key'}).inputValue();
      return value !== adminKey ? value : '';
    });
    assert.equal(newKey.split(':')[0], adminKey.split(':')[0]);

    // ---- Add webhook: an invalid target URL shows the API's error, then a good one is saved.
    await button('Add webhook').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Notify on publish');
    const eventOptions = await dialog.getByLabel('Event').locator('option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
    assert.deepEqual([...eventOptions].sort(), [...EVENT_NAMES].sort());
    assert.deepEqual(await dialog.getByLabel('Event').locator('optgroup').evaluateAll((groups) => groups.map((g) => g.getAttribute('label'))), ['Global', 'Posts', 'Pages', 'Tags', 'Members']);
    await dialog.getByLabel('Event').selectOption('post.published');
    await dialog.getByLabel('Target URL').fill('not a url');
    expectedNetworkErrors = 1;
    await dialog.getByRole('button', {name: 'Create webhook'}).click();
    await dialog.getByRole('alert').filter({hasText: 'target_url must be an absolute URL'}).waitFor();
    await shot('03-add-webhook-api-error');
    expectedNetworkErrors = 0;
    await dialog.getByLabel('Target URL').fill(target);
    await dialog.getByRole('button', {name: 'Create webhook'}).click();
    await expectToast('Webhook created.');
    const row = page.locator('tbody tr', {hasText: 'Notify on publish'});
    await row.waitFor();
    assert.match(await row.textContent() ?? '', /Post published/);
    assert.match(await row.textContent() ?? '', /Not triggered yet/);
    assert.match(await row.textContent() ?? '', /Active/);
    await shot('04-integration-with-webhook');

    // ---- Posts › New post › Publish
    await sidebar('Posts').click();
    await page.getByRole('link', {name: 'New post', exact: true}).click();
    await page.getByLabel('Title').fill('Hello from the browser');
    await page.getByLabel('Content (HTML)').fill('<p>Published from the admin UI.</p>');
    await page.getByLabel('Tags').fill('News');
    await shot('05-post-editor');
    await button('Publish').click();
    await expectToast('Post published.');
    await page.locator('.page-head .pill', {hasText: 'Published'}).waitFor();

    const first = await until('the post.published delivery', () => receiver.received[0]);
    const payload = JSON.parse(first.body);
    assert.equal(payload.event, 'post.published');
    assert.equal(payload.post.current.title, 'Hello from the browser');
    const webhookId = first.headers['webhook-id'];
    assert.ok(webhookId);

    // ---- The webhook's delivery log shows it, with status 200
    await sidebar('Settings').click();
    await page.getByRole('navigation', {name: 'Settings'}).getByRole('link', {name: 'Integrations'}).click();
    await page.getByRole('link', {name: 'Configure Rebuild bot'}).click();
    await page.getByRole('link', {name: 'Notify on publish', exact: true}).click();
    await page.getByRole('heading', {name: 'Delivery log'}).waitFor();
    const logRow = page.locator('section[aria-labelledby="log-title"] tbody tr').first();
    await until('the delivery in the log with 200', async () => {
      const text = (await logRow.textContent().catch(() => '')) ?? '';
      if (/Succeeded\s*200/.test(text) && /\d+ ms/.test(text)) return true;
      await button('Refresh').click();
      await page.getByRole('heading', {name: 'Delivery log'}).waitFor();
      return false;
    });
    assert.match((await logRow.textContent())!, /post\.published/);
    await shot('06-webhook-delivery-log');

    // ---- Open the delivery: request headers, payload, response
    await logRow.getByRole('link').first().click();
    await page.getByRole('heading', {name: 'Post published delivery'}).waitFor();
    const body = page.locator('main');
    await body.getByText('Request headers').first().waitFor();
    const text = (await body.textContent())!;
    assert.match(text, /webhook-signature/);
    assert.match(text, /x-ghost-signature/i);
    assert.match(text, /Response body/);
    assert.match(text, /"ok": true/);
    assert.match(await page.locator('section[aria-labelledby="payload-title"] pre').textContent() ?? '', /"title": "Hello from the browser"/);
    assert.match(text, new RegExp(String(webhookId)));
    await shot('07-delivery-detail');

    // ---- Resend: the receiver gets the same delivery again (same webhook-id)
    await button('Resend').click();
    await expectToast('Resend queued.');
    const second = await until('the resent delivery', () => receiver.received[1]);
    assert.equal(second.headers['webhook-id'], webhookId);
    assert.equal(second.body, first.body);
    await page.getByRole('heading', {name: 'Attempts (2)'}).waitFor();
    assert.match((await page.locator('details.attempt').first().textContent())!, /Manual/);
    await shot('08-delivery-resent');
  });

  test('failed only, recover, enable/disable, rotate secret and send test', async () => {
    await page.getByRole('link', {name: '← Delivery log', exact: true}).click();
    await page.getByRole('heading', {name: 'Delivery log'}).waitFor();
    const before = receiver.received.length;

    // A test delivery to a receiver that is down fails (one attempt, no retries in this test).
    receiver.state.failing = true;
    await button('Send test').click();
    await expectToast('Test delivery queued.');
    await until('the failed test attempt', () => receiver.received.length > before);
    await page.locator('section[aria-labelledby="log-title"] tbody tr', {hasText: 'Failed'}).waitFor();

    await page.getByLabel('Failed only').check();
    await until('the failed-only filter', async () => (await page.locator('section[aria-labelledby="log-title"] tbody tr').count()) === 1 && /Failed\s*500/.test((await page.locator('section[aria-labelledby="log-title"] tbody tr').first().textContent()) ?? ''));
    assert.ok(page.url().endsWith('?failed=1'));
    await shot('09-failed-only');

    // Recover failed since…: the receiver is back, the failed delivery is re-queued and arrives.
    receiver.state.failing = false;
    const beforeRecover = receiver.received.length;
    await button('Recover failed deliveries').click();
    await expectToast('1 failed delivery re-queued.');
    await until('the recovered delivery', () => receiver.received.length > beforeRecover);

    // Disable and enable.
    await button('Disable webhook').click();
    await expectToast('Webhook disabled.');
    await page.locator('.facts .pill', {hasText: 'Disabled'}).waitFor();
    await button('Enable webhook').click();
    await expectToast('Webhook enabled.');
    await page.locator('.facts .pill', {hasText: 'Active'}).waitFor();

    // Rotate the secret.
    const secret = await page.getByLabel('Signing secret').inputValue();
    await button('Rotate secret').click();
    await page.getByRole('dialog').getByRole('button', {name: 'Rotate secret'}).click();
    await expectToast('Secret rotated.');
    await until('a new secret', async () => (await page.getByLabel('Signing secret').inputValue()) !== secret);
    await shot('10-webhook-page');

    // The log is paginated (15 a page): 15 more test sends make a second page.
    await page.getByLabel('Failed only').uncheck();
    await until('the unfiltered log', () => !page.url().includes('failed=1'));
    const webhookId = /webhooks\/([0-9a-f]{24})/.exec(page.url())![1]!;
    const sent = await page.evaluate(async (id) => {
      let ok = 0;
      for (let i = 0; i < 15; i++) ok += (await fetch(`/ghost/api/admin/webhooks/${id}/test/`, {method: 'POST'})).status === 201 ? 1 : 0;
      return ok;
    }, webhookId);
    assert.equal(sent, 15);
    await button('Refresh').click();
    const pager = page.getByRole('navigation', {name: 'Pagination'});
    await pager.getByText('Page 1 of 2').waitFor();
    await pager.getByRole('link', {name: 'Older →'}).click();
    await pager.getByText('Page 2 of 2').waitFor();
    assert.equal(await page.locator('section[aria-labelledby="log-title"] tbody tr').count(), 2);
    await pager.getByRole('link', {name: '← Newer'}).click();
    await pager.getByText('Page 1 of 2').waitFor();
  });

  test('a webhook can subscribe to a relayed Ghost site (a source) from the form', async () => {
    const source = await page.evaluate(async () => {
      const response = await fetch('/ghost/api/admin/sources/', {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({sources: [{name: 'Old Ghost'}]})});
      return (await response.json()).sources[0] as {id: string; name: string};
    });
    await page.locator('.crumbs a', {hasText: 'Rebuild bot'}).click();
    await button('Add webhook').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Relay to the old receiver');
    await dialog.getByLabel('Event').selectOption('post.published');
    const options = await dialog.getByLabel('Source').locator('option').allTextContents();
    assert.deepEqual(options, ['This site (Herald’s own content)', 'Relayed Ghost site: Old Ghost']);
    await dialog.getByLabel('Source').selectOption(source.id);
    await dialog.getByLabel('Target URL').fill(`${target}?relay=1`);
    await dialog.getByRole('button', {name: 'Create webhook'}).click();
    await expectToast('Webhook created.');
    const hooks = await page.evaluate(async () => (await (await fetch('/ghost/api/admin/webhooks/?limit=all')).json()).webhooks as Array<{id: string; name: string; source_id: string | null}>);
    const relayed = hooks.find((hook) => hook.name === 'Relay to the old receiver');
    assert.equal(relayed?.source_id, source.id);
    await page.goto(`${herald.url}/ghost/#/webhooks/${relayed!.id}`);
    await page.locator('.facts', {hasText: 'Relayed Ghost site'}).waitFor();
    // Back to Herald's own content: the edit form offers the same choice.
    await button('Edit webhook').click();
    await page.getByRole('dialog').getByLabel('Source').selectOption('');
    await page.getByRole('dialog').getByRole('button', {name: 'Save webhook'}).click();
    await expectToast('Webhook saved.');
    const after = await page.evaluate(async (id) => (await (await fetch(`/ghost/api/admin/webhooks/${id}/`)).json()).webhooks[0].source_id, relayed!.id);
    assert.equal(after, null);
  });

  test('settings, tags, members and pages fire their events from the browser', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    // Settings › General
    await sidebar('Settings').click();
    await page.getByLabel('Site description').fill('News from the browser');
    await button('Save settings').click();
    await expectToast('Settings saved.');

    // Tags: create, edit, delete
    await sidebar('Tags').click();
    await page.getByRole('link', {name: 'New tag', exact: true}).click();
    await page.getByLabel('Name').fill('Launch');
    await button('Create tag').click();
    await expectToast('Tag created.');
    await page.getByLabel('Description').fill('Launch news');
    await button('Save tag').click();
    await expectToast('Tag saved.');
    await button('Delete tag').click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete tag'}).click();
    await expectToast('Tag deleted.');

    // Members: add, edit, delete
    await sidebar('Members').click();
    await page.getByRole('link', {name: 'New member', exact: true}).click();
    await page.getByLabel('Email').fill('reader@example.com');
    await button('Add member').click();
    await expectToast('Member added.');
    await page.getByLabel('Name').fill('Rita Reader');
    await button('Save member').click();
    await expectToast('Member saved.');
    await shot('11-member');
    await button('Delete member').click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete member'}).click();
    await expectToast('Member deleted.');

    // Pages: draft → scheduled → rescheduled → draft → published → edited → draft → deleted
    await sidebar('Pages').click();
    await page.getByRole('link', {name: 'New page', exact: true}).click();
    await page.getByLabel('Title').fill('About us');
    await page.getByLabel('Tags').fill('Company');
    await button('Save draft').click();
    await expectToast('Page saved as a draft.');
    await page.getByLabel('Publish date').fill('2031-01-01T10:00');
    await button('Schedule').click();
    await page.locator('.page-head .pill', {hasText: 'Scheduled'}).waitFor();
    await page.getByLabel('Publish date').fill('2031-02-01T10:00');
    await button('Update').click();
    await expectToast('Page updated.');
    await button('Unschedule').click();
    await page.locator('.page-head .pill', {hasText: 'Draft'}).waitFor();
    await button('Publish').click();
    await page.locator('.page-head .pill', {hasText: 'Published'}).waitFor();
    await page.getByLabel('Content (HTML)').fill('<p>Who we are.</p>');
    await button('Update').click();
    await expectToast('Page updated.');
    await button('Unpublish').click();
    await page.locator('.page-head .pill', {hasText: 'Draft'}).waitFor();
    await button('Delete page').click();
    await page.getByRole('dialog').getByRole('button', {name: 'Delete page'}).click();
    await page.getByRole('heading', {name: 'Pages', level: 1}).waitFor();

    const rows = await herald.database.db.selectFrom('events').select('name').where('created_at', '>=', since).execute();
    const fired = new Set(rows.map((row) => row.name));
    for (const name of ['site.changed', 'tag.added', 'tag.edited', 'tag.deleted', 'member.added', 'member.edited', 'member.deleted', 'page.added', 'page.edited', 'page.scheduled', 'page.rescheduled', 'page.unscheduled', 'page.published', 'page.published.edited', 'page.unpublished', 'page.deleted', 'page.tag.attached', 'page.tag.detached']) {
      assert.ok(fired.has(name), `${name} was not fired (fired: ${[...fired].join(', ')})`);
    }
  });

  test('sign out and in again; phone width', async () => {
    await sidebar('Settings').click();
    await page.getByRole('navigation', {name: 'Settings'}).getByRole('link', {name: 'Integrations'}).click();
    await page.getByRole('link', {name: 'Configure Rebuild bot'}).waitFor();
    await shot('12-integrations');
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByRole('heading', {name: 'Welcome back'}).waitFor();
    // The session is gone on the server too.
    const state = await page.evaluate(() => fetch('/ghost/ui/session/').then((r) => r.json()));
    assert.deepEqual(state, {setup: true, signed_in: false});
    await shot('13-signin');
    await page.getByLabel('Email address').fill('ada@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await button('Sign in →').click();
    await page.getByRole('heading', {name: 'Posts', level: 1}).waitFor();
    await page.getByRole('link', {name: 'Hello from the browser', exact: true}).waitFor();
    await shot('14-posts');

    await page.setViewportSize({width: 390, height: 844});
    await shot('15-phone-posts');
    await sidebar('Settings').click();
    await page.getByRole('navigation', {name: 'Settings'}).getByRole('link', {name: 'Integrations'}).click();
    await page.getByRole('link', {name: 'Rebuild bot', exact: true}).click();
    await page.getByRole('heading', {name: 'Rebuild bot'}).waitFor();
    await shot('16-phone-integration');
    await page.getByRole('link', {name: 'Notify on publish', exact: true}).click();
    await page.getByRole('heading', {name: 'Delivery log'}).waitFor();
    await shot('17-phone-webhook');
    // Nothing overflows the phone's width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the viewport`);
    await page.setViewportSize({width: 1280, height: 860});
  });

  test('no errors in the browser console', () => {
    assert.deepEqual(problems, []);
  });

  test('every form control has a <label>', () => {
    assert.deepEqual(unlabelled, []);
  });
});
