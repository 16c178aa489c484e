import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {DIALECTS, request, staffSession, startHerald, type TestHerald} from '../support/herald.ts';
import {adminToken} from '../support/token.ts';
import {DEFAULT_SETTINGS} from '../../src/db/migrations.ts';
import {editSettings, type SettingsChange} from '../../src/content/settings.ts';
import {GHOST_API_VERSION} from '../../src/lib/version.ts';

type Staff = Awaited<ReturnType<typeof staffSession>>;

for (const dialect of DIALECTS) {
  describe(`settings and site (${dialect})`, () => {
    let herald: TestHerald;
    let staff: Staff;
    before(async () => {
      herald = await startHerald(dialect);
      staff = await staffSession(herald);
    });
    after(async () => herald?.close());

    const withKey = async (method: string, pathname: string, body?: unknown) =>
      request(herald, method, `/ghost/api/admin${pathname}`, {body, headers: {authorization: await adminToken(herald.integration.admin_key)}});
    const settingsMap = (list: Array<{key: string; value: unknown}>) => Object.fromEntries(list.map((s) => [s.key, s.value]));
    const stored = async () => settingsMap(await herald.database.db.selectFrom('settings').select(['key', 'value']).execute());

    test('GET /settings/ lists every setting by key, for staff and integrations', async () => {
      const forStaff = await staff('GET', '/settings/');
      assert.equal(forStaff.status, 200);
      assert.deepEqual(forStaff.body.meta, {filters: {}});
      const keys = forStaff.body.settings.map((s: any) => s.key);
      assert.deepEqual(keys, Object.keys(DEFAULT_SETTINGS).sort());
      for (const setting of forStaff.body.settings) assert.deepEqual(Object.keys(setting), ['key', 'value']);
      const values = settingsMap(forStaff.body.settings);
      assert.equal(values.title, 'Test Site', 'setup stored the blog title');
      assert.equal(values.logo, null);
      assert.equal(values.navigation, '[]');

      const forIntegration = await withKey('GET', '/settings/');
      assert.equal(forIntegration.status, 200);
      assert.deepEqual(forIntegration.body, forStaff.body);
    });

    test('an integration key cannot edit settings (Ghost\'s 501)', async () => {
      const response = await withKey('PUT', '/settings/', {settings: [{key: 'title', value: 'By Key'}]});
      assert.equal(response.status, 501);
      assert.equal(response.body.errors[0].type, 'NotImplementedError');
      assert.notEqual((await stored()).title, 'By Key');
    });

    test('staff edit title and description; only changed rows are written; site reflects it', async () => {
      const rowsBefore = await herald.database.db.selectFrom('settings').selectAll().execute();
      await new Promise((r) => setTimeout(r, 5));
      const response = await staff('PUT', '/settings/', {settings: [
        {key: 'title', value: 'Renamed Site'},
        {key: 'description', value: 'New words.'},
        {key: 'locale', value: 'en'},
      ]});
      assert.equal(response.status, 200);
      assert.deepEqual(response.body.meta, {filters: {}});
      assert.equal(response.body.settings.length, Object.keys(DEFAULT_SETTINGS).length);
      const values = settingsMap(response.body.settings);
      assert.equal(values.title, 'Renamed Site');
      assert.equal(values.description, 'New words.');

      const rowsAfter = await herald.database.db.selectFrom('settings').selectAll().execute();
      const stampOf = (rows: typeof rowsBefore, key: string) => rows.find((r) => r.key === key)!.updated_at;
      assert.notEqual(stampOf(rowsAfter, 'title'), stampOf(rowsBefore, 'title'));
      assert.equal(stampOf(rowsAfter, 'locale'), stampOf(rowsBefore, 'locale'), 'an unchanged value is not rewritten');

      const site = await herald.api.site.read();
      assert.equal(site.title, 'Renamed Site');
      assert.equal(site.description, 'New words.');
    });

    test('values are validated: accent_color, timezone, lengths, types, navigation', async () => {
      const cases: Array<[string, unknown]> = [
        ['accent_color', 'red'],
        ['accent_color', '#12345'],
        ['accent_color', null],
        ['timezone', 'Mars/Olympus_Mons'],
        ['timezone', 5],
        ['title', 't'.repeat(151)],
        ['title', 42],
        ['description', 'd'.repeat(201)],
        ['locale', ''],
        ['logo', 'x'.repeat(2001)],
        ['meta_title', 'm'.repeat(301)],
        ['meta_description', 'm'.repeat(501)],
        ['navigation', 'not json'],
        ['navigation', {label: 'Home', url: '/'}],
        ['secondary_navigation', [{label: 'No url'}]],
      ];
      for (const [key, value] of cases) {
        const response = await staff('PUT', '/settings/', {settings: [{key, value}]});
        assert.equal(response.status, 422, `${key}=${JSON.stringify(value)}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.errors[0].type, 'ValidationError');
        assert.equal(response.body.errors[0].property, key);
      }
      for (const body of [{}, {settings: 'title'}, {settings: [{value: 'x'}]}, {settings: [null]}]) {
        const response = await staff('PUT', '/settings/', body);
        assert.equal(response.status, 422, JSON.stringify(body));
        assert.equal(response.body.errors[0].property, 'settings');
      }

      const good = await staff('PUT', '/settings/', {settings: [
        {key: 'accent_color', value: '#00aa99'},
        {key: 'timezone', value: 'Europe/London'},
        {key: 'navigation', value: [{label: 'Home', url: '/'}]},
        {key: 'secondary_navigation', value: '[{"label":"About","url":"/about/"}]'},
        {key: 'logo', value: null},
      ]});
      assert.equal(good.status, 200);
      const values = await stored();
      assert.equal(values.accent_color, '#00aa99');
      assert.equal(values.timezone, 'Europe/London');
      assert.deepEqual(JSON.parse(values.navigation as string), [{label: 'Home', url: '/'}]);
      assert.deepEqual(JSON.parse(values.secondary_navigation as string), [{label: 'About', url: '/about/'}]);
      assert.equal((await herald.api.site.read()).accent_color, '#00aa99');
    });

    test('an unknown key is Ghost\'s 404', async () => {
      const response = await staff('PUT', '/settings/', {settings: [{key: 'no_such_setting', value: 'x'}]});
      assert.equal(response.status, 404);
      assert.equal(response.body.errors[0].type, 'NotFoundError');
      assert.equal(response.body.errors[0].message, 'Problem finding setting: no_such_setting');
    });

    test('a body mixing valid and invalid entries changes nothing', async () => {
      const before = await herald.database.db.selectFrom('settings').selectAll().orderBy('key').execute();
      for (const bad of [{key: 'accent_color', value: 'blue'}, {key: 'nope', value: 'x'}]) {
        const response = await staff('PUT', '/settings/', {settings: [
          {key: 'title', value: 'Half Written'},
          {key: 'description', value: 'Should not stick'},
          bad,
        ]});
        assert.ok(response.status === 422 || response.status === 404, JSON.stringify(response.body));
      }
      const afterRows = await herald.database.db.selectFrom('settings').selectAll().orderBy('key').execute();
      assert.deepEqual(afterRows, before);
    });

    test('editSettings reports changed keys to its hook; a failing hook writes nothing', async () => {
      const now = new Date();
      const changes: SettingsChange[] = [];
      const record = async (_trx: unknown, change: SettingsChange) => void changes.push(change);
      const ctx = {database: herald.database, now};

      const change = await editSettings(ctx, {settings: [{key: 'title', value: 'Hooked'}, {key: 'locale', value: 'fr'}, {key: 'timezone', value: (await stored()).timezone}]}, record);
      assert.deepEqual(change.changedKeys, ['locale', 'title']);
      assert.equal(change.after.title, 'Hooked');
      assert.equal(change.before.locale, 'en');
      assert.equal(changes.length, 1);

      const noop = await editSettings(ctx, {settings: [{key: 'title', value: 'Hooked'}]}, record);
      assert.deepEqual(noop.changedKeys, []);
      assert.equal(changes.length, 1, 'no hook call for a save that changed nothing');

      await assert.rejects(editSettings(ctx, {settings: [{key: 'title', value: 'Never'}]}, async () => {
        throw new Error('outbox down');
      }), /outbox down/);
      assert.equal((await stored()).title, 'Hooked');
    });

    test('GET /site/ needs no authentication and reports the site', async () => {
      const response = await request(herald, 'GET', '/ghost/api/admin/site/');
      assert.equal(response.status, 200);
      assert.deepEqual(Object.keys(response.body.site), ['title', 'description', 'logo', 'icon', 'accent_color', 'locale', 'url', 'version']);
      const values = await stored();
      assert.deepEqual(response.body.site, {
        title: values.title,
        description: values.description,
        logo: values.logo,
        icon: values.icon,
        accent_color: values.accent_color,
        locale: values.locale,
        url: `${herald.url}/`,
        version: GHOST_API_VERSION,
      });
      assert.equal(response.body.meta, undefined);

      // A bad token does not matter on a public route.
      const withJunk = await request(herald, 'GET', '/ghost/api/admin/site/', {headers: {authorization: 'Ghost junk'}});
      assert.equal(withJunk.status, 200);
      const viaClient = await herald.api.site.read();
      assert.deepEqual(viaClient, response.body.site);
    });
  });
}
