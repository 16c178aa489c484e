// Configuration: flag beats env beats default; every bad value is a ConfigError naming the option.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {ConfigError, loadConfig, parseDuration, parseSize, type Flags} from '../../src/config.ts';

const CWD = '/srv/herald';
const load = (flags: Flags = {}, env: NodeJS.ProcessEnv = {}) => loadConfig(flags, env, CWD);

/** Asserts that loading throws a ConfigError whose message matches `pattern`. */
function assertConfigError(flags: Flags, env: NodeJS.ProcessEnv, pattern: RegExp): void {
  assert.throws(() => load(flags, env), (error: unknown) => error instanceof ConfigError && pattern.test(error.message));
}

describe('config defaults', () => {
  test('every option has the documented default', () => {
    const config = load();
    assert.equal(config.port, 2368);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.url, null);
    assert.equal(config.dataDir, path.resolve(CWD, 'data'));
    assert.equal(config.databaseUrl, null);
    assert.equal(config.allowPrivateTargets, false);
    assert.deepEqual(config.retrySchedule, [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    assert.equal(config.deliveryTimeoutMs, 10_000);
    assert.equal(config.role, 'all');
    assert.equal(config.maxBodyBytes, 10 * 1024 * 1024);
    assert.equal(config.logLevel, 'info');
  });

  test('the config is frozen', () => {
    const config = load();
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.retrySchedule));
  });
});

describe('precedence: flag beats env beats default', () => {
  const cases: ReadonlyArray<{flag: keyof Flags; env: string; flagValue: string; envValue: string; read: (c: ReturnType<typeof load>) => unknown; fromFlag: unknown; fromEnv: unknown}> = [
    {flag: 'port', env: 'PORT', flagValue: '8080', envValue: '9090', read: (c) => c.port, fromFlag: 8080, fromEnv: 9090},
    {flag: 'host', env: 'HERALD_HOST', flagValue: '0.0.0.0', envValue: '::1', read: (c) => c.host, fromFlag: '0.0.0.0', fromEnv: '::1'},
    {flag: 'url', env: 'HERALD_URL', flagValue: 'https://a.example/', envValue: 'https://b.example', read: (c) => c.url, fromFlag: 'https://a.example', fromEnv: 'https://b.example'},
    {flag: 'data', env: 'HERALD_DATA', flagValue: 'flag-data', envValue: '/env/data', read: (c) => c.dataDir, fromFlag: path.resolve(CWD, 'flag-data'), fromEnv: '/env/data'},
    {flag: 'database-url', env: 'DATABASE_URL', flagValue: 'postgres://a/x', envValue: 'postgresql://b/y', read: (c) => c.databaseUrl, fromFlag: 'postgres://a/x', fromEnv: 'postgresql://b/y'},
    {flag: 'retry-schedule', env: 'HERALD_RETRY_SCHEDULE', flagValue: '1s,2s', envValue: '3m', read: (c) => c.retrySchedule, fromFlag: [1000, 2000], fromEnv: [180_000]},
    {flag: 'delivery-timeout', env: 'HERALD_DELIVERY_TIMEOUT', flagValue: '500ms', envValue: '2s', read: (c) => c.deliveryTimeoutMs, fromFlag: 500, fromEnv: 2000},
    {flag: 'max-body', env: 'HERALD_MAX_BODY', flagValue: '1kb', envValue: '2mb', read: (c) => c.maxBodyBytes, fromFlag: 1024, fromEnv: 2 * 1024 * 1024},
    {flag: 'log-level', env: 'HERALD_LOG_LEVEL', flagValue: 'debug', envValue: 'silent', read: (c) => c.logLevel, fromFlag: 'debug', fromEnv: 'silent'},
  ];
  for (const c of cases) {
    test(`--${c.flag} beats ${c.env}`, () => {
      assert.deepEqual(c.read(load({}, {[c.env]: c.envValue})), c.fromEnv);
      assert.deepEqual(c.read(load({[c.flag]: c.flagValue}, {[c.env]: c.envValue})), c.fromFlag);
    });
  }

  test('an empty environment variable counts as unset', () => {
    assert.equal(load({}, {PORT: ''}).port, 2368);
    assert.equal(load({}, {HERALD_DATA: ''}).dataDir, path.resolve(CWD, 'data'));
  });

  test('a valid flag wins even when the environment value is invalid', () => {
    assert.equal(load({port: '0'}, {PORT: 'abc'}).port, 0);
  });

  test('--allow-private-targets and HERALD_ALLOW_PRIVATE_TARGETS', () => {
    assert.equal(load({'allow-private-targets': true}).allowPrivateTargets, true);
    assert.equal(load({}, {HERALD_ALLOW_PRIVATE_TARGETS: '1'}).allowPrivateTargets, true);
    assert.equal(load({}, {HERALD_ALLOW_PRIVATE_TARGETS: 'true'}).allowPrivateTargets, true);
    assert.equal(load({}, {HERALD_ALLOW_PRIVATE_TARGETS: '0'}).allowPrivateTargets, false);
  });
});

describe('role', () => {
  test('HERALD_ROLE selects the role; the flags beat it', () => {
    assert.equal(load({}, {HERALD_ROLE: 'api'}).role, 'api');
    assert.equal(load({}, {HERALD_ROLE: 'worker'}).role, 'worker');
    assert.equal(load({}, {HERALD_ROLE: 'all'}).role, 'all');
    assert.equal(load({'no-worker': true}, {HERALD_ROLE: 'worker'}).role, 'api');
    assert.equal(load({'worker-only': true}, {HERALD_ROLE: 'api'}).role, 'worker');
  });

  test('an unknown HERALD_ROLE is an error naming it', () => {
    assertConfigError({}, {HERALD_ROLE: 'everything'}, /HERALD_ROLE/);
  });

  test('--no-worker with --worker-only is an error', () => {
    assertConfigError({'no-worker': true, 'worker-only': true}, {}, /--no-worker.*--worker-only/);
  });
});

describe('durations and sizes', () => {
  test('durations in ms, s, m, h (and bare ms)', () => {
    assert.equal(parseDuration('500ms', 'x'), 500);
    assert.equal(parseDuration('5s', 'x'), 5_000);
    assert.equal(parseDuration('5m', 'x'), 300_000);
    assert.equal(parseDuration('2h', 'x'), 7_200_000);
    assert.equal(parseDuration('1d', 'x'), 86_400_000);
    assert.equal(parseDuration('1.5s', 'x'), 1_500);
    assert.equal(parseDuration('250', 'x'), 250);
    assert.equal(parseDuration(' 5s ', 'x'), 5_000);
  });

  test('bad durations are errors naming the option', () => {
    for (const text of ['', 'soon', '5x', '-5s', '5 seconds', 's']) {
      assert.throws(() => parseDuration(text, '--delivery-timeout'), (e: unknown) => e instanceof ConfigError && /--delivery-timeout/.test(e.message), text);
    }
    assertConfigError({'retry-schedule': '5s,soon'}, {}, /--retry-schedule/);
    assertConfigError({'delivery-timeout': '0s'}, {}, /--delivery-timeout/);
  });

  test('an empty retry schedule means a single attempt', () => {
    assert.deepEqual(load({'retry-schedule': ''}).retrySchedule, []);
  });

  test('sizes', () => {
    assert.equal(parseSize('1kb', 'x'), 1024);
    assert.equal(parseSize('10MB', 'x'), 10 * 1024 * 1024);
    assert.equal(parseSize('1gb', 'x'), 1024 ** 3);
    assert.equal(parseSize('100', 'x'), 100);
    assertConfigError({'max-body': 'huge'}, {}, /--max-body/);
  });
});

describe('invalid values', () => {
  test('ports', () => {
    for (const port of ['abc', '-1', '65536', '80.5', '']) assertConfigError({port}, {}, /--port/);
    assertConfigError({}, {PORT: 'abc'}, /--port/);
    assert.equal(load({port: '0'}).port, 0);
    assert.equal(load({port: '65535'}).port, 65535);
  });

  test('URLs', () => {
    assertConfigError({url: 'not a url'}, {}, /--url/);
    assertConfigError({url: 'ftp://example.com'}, {}, /--url/);
    assert.equal(load({url: 'https://blog.example.com/'}).url, 'https://blog.example.com');
  });

  test('database URLs must be postgres://', () => {
    assertConfigError({'database-url': 'mysql://root@localhost/ghost'}, {}, /--database-url/);
    assertConfigError({}, {DATABASE_URL: 'sqlite:///tmp/x'}, /--database-url/);
  });

  test('a database URL error never echoes the password', () => {
    assert.throws(
      () => load({'database-url': 'mysql://root:hunter2@localhost/ghost'}),
      (error: unknown) => error instanceof ConfigError && !error.message.includes('hunter2'),
    );
  });

  test('log levels', () => {
    assertConfigError({'log-level': 'loud'}, {}, /--log-level/);
  });
});

test('--disable-after / HERALD_DISABLE_AFTER: 5 days by default, flag beats env, must be positive', () => {
  const DAY = 86_400_000;
  assert.equal(loadConfig({}, {}).disableAfterMs, 5 * DAY);
  assert.equal(loadConfig({}, {HERALD_DISABLE_AFTER: '2d'}).disableAfterMs, 2 * DAY);
  assert.equal(loadConfig({'disable-after': '12h'}, {HERALD_DISABLE_AFTER: '2d'}).disableAfterMs, 12 * 3_600_000);
  assert.throws(() => loadConfig({'disable-after': '0s'}, {}), /--disable-after/);
  assert.throws(() => loadConfig({'disable-after': 'soon'}, {}), /--disable-after/);
});
