/**
 * The `herald` command line. Parses argv with node:util parseArgs, runs one command, and
 * returns the exit code. The only place that calls listen().
 */
import {parseArgs} from 'node:util';
import {ConfigError, loadConfig, OPTION_SPEC, type Config, type Flags} from './config.ts';
import type {Database} from './db/database.ts';
import {systemClock} from './lib/clock.ts';
import {cryptoRandom} from './lib/ids.ts';
import {createWake} from './lib/wake.ts';
import {createHandoff} from './delivery/handoff.ts';
import {HeraldError} from './lib/errors.ts';
import type {IntegrationSummary} from './content/integrations.ts';
// The server, the database drivers and pino are imported where a command needs them, so usage
// errors and --help answer at once instead of after loading all of them.

const USAGE = `Usage: herald <command> [options]

Commands:
  serve                                   run the server (Admin API, webhooks, admin UI)
  integration create --name NAME [--json] create a custom integration; prints its API keys
  integration list [--json]               list custom integrations with their API keys
  source create --name NAME [--json]      add an upstream Ghost site to relay; prints its secret
  source list [--json]                    list sources (ingest path, connected Ghost, subscribers)
  source delete ID                        delete a source (refused while webhooks or Ghost use it)
  source connect ID --ghost-url URL --ghost-admin-key KEY --public-url URL [--events all|a,b]
                                          create the Ghost webhooks that send to Herald (default all 29)
  source disconnect ID --ghost-url URL --ghost-admin-key KEY
                                          remove exactly the Ghost webhooks connect made
  listen --forward-to URL [--events a,b] [--url SERVER] [--key ID:SECRET]
                                          stream events from a Herald server to a local URL
                                          (server and key also from HERALD_URL, HERALD_ADMIN_KEY)

Options (serve; --data and --database-url also apply to integration and source):
  --port N                 HTTP port, 0 = any free port          (PORT, default 2368)
  --host ADDR              bind address                           (HERALD_HOST, default 127.0.0.1)
  --url URL                public site URL                        (HERALD_URL, default http://HOST:PORT)
  --data DIR               SQLite database folder                 (HERALD_DATA, default ./data)
  --database-url URL       postgres://… selects PostgreSQL        (DATABASE_URL)
  --allow-private-targets  allow webhooks to private addresses    (HERALD_ALLOW_PRIVATE_TARGETS=1)
  --retry-schedule LIST    delays between attempts                (HERALD_RETRY_SCHEDULE, default 5s,5m,30m,2h,5h,10h,10h)
  --delivery-timeout D     time allowed per attempt               (HERALD_DELIVERY_TIMEOUT, default 10s)
  --no-worker | --worker-only  which parts to run                 (HERALD_ROLE=api|worker|all)
  --max-body SIZE          largest request body                   (HERALD_MAX_BODY, default 10mb)
  --log-level LEVEL        pino log level                         (HERALD_LOG_LEVEL, default info)
  --disable-after D        auto-disable a webhook failing this long (HERALD_DISABLE_AFTER, default 5d)
  --retention D            prune delivery history older than D    (HERALD_RETENTION, default 30d)
`;

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...OPTION_SPEC,
        name: {type: 'string'},
        json: {type: 'boolean'},
        help: {type: 'boolean', short: 'h'},
        'forward-to': {type: 'string'},
        events: {type: 'string'},
        key: {type: 'string'},
        'ghost-url': {type: 'string'},
        'ghost-admin-key': {type: 'string'},
        'public-url': {type: 'string'},
      },
    });
  } catch (error) {
    process.stderr.write(`herald: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const {values, positionals} = parsed;
  const [command, sub] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }

  // listen talks to a server; it needs none of the server's configuration.
  if (command === 'listen') return listenCommand(values);

  let config: Config;
  try {
    config = loadConfig(values as Flags);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`herald: ${error.message}\n`);
      return 2;
    }
    throw error;
  }

  try {
    switch (command) {
      case 'serve':
        return await serve(config);
      case 'integration':
        return await integrationCommand(config, sub, values.name, values.json === true);
      case 'source':
        return await sourceCommand(config, sub, positionals[2], values);
      default:
        process.stderr.write(`herald: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`herald: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof HeraldError) return [error.message, error.context, error.help].filter((part) => part).join(' ');
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${message}${cause}`;
}

async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const {openDatabase} = await import('./db/database.ts');
  const database = await openDatabase(config);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}

async function integrationCommand(config: Config, sub: string | undefined, name: string | undefined, json: boolean): Promise<number> {
  if (sub === 'create') {
    if (!name || name.trim() === '') {
      process.stderr.write('herald: integration create needs --name NAME\n');
      return 2;
    }
    const {createIntegration, summariseIntegrations} = await import('./content/integrations.ts');
    const summary = await withDatabase(config, async (database) => {
      const now = systemClock.now();
      const row = await database.db.transaction().execute((trx) => createIntegration(trx, {name}, now, cryptoRandom));
      return (await summariseIntegrations(database.db, row.id))[0]!;
    });
    process.stdout.write(json ? `${JSON.stringify(summary)}\n` : formatSummary(summary, 'Created integration'));
    return 0;
  }
  if (sub === 'list') {
    const {summariseIntegrations} = await import('./content/integrations.ts');
    const list = await withDatabase(config, (database) => summariseIntegrations(database.db));
    if (json) process.stdout.write(`${JSON.stringify(list)}\n`);
    else if (list.length === 0) process.stdout.write('No integrations yet. Create one with: herald integration create --name "My app"\n');
    else process.stdout.write(list.map((s) => formatSummary(s, 'Integration')).join('\n'));
    return 0;
  }
  process.stderr.write(`herald: integration needs "create" or "list"\n\n${USAGE}`);
  return 2;
}

/** Options the `source` subcommands read. */
interface SourceFlags {
  name?: string;
  json?: boolean;
  events?: string;
  'ghost-url'?: string;
  'ghost-admin-key'?: string;
  'public-url'?: string;
}

function usageError(message: string): number {
  process.stderr.write(`herald: ${message}\n`);
  return 2;
}

async function sourceCommand(config: Config, sub: string | undefined, id: string | undefined, flags: SourceFlags): Promise<number> {
  const sources = await import('./relay/sources.ts');
  if (sub === 'create') {
    if (!flags.name || flags.name.trim() === '') return usageError('source create needs --name NAME');
    const source = await withDatabase(config, async (database) => sources.serializeSource(await sources.createSource(database.db, {name: flags.name}, systemClock.now(), cryptoRandom)));
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(source)}\n`
        : `Created source "${source.name}" (${source.id})\n  Secret:      ${source.secret}\n  Ingest path: ${source.ingest_path}\n` +
            `Next: herald source connect ${source.id} --ghost-url https://your-ghost.example --ghost-admin-key ID:SECRET --public-url https://herald.example\n`,
    );
    return 0;
  }
  if (sub === 'list') {
    const list = await withDatabase(config, (database) => sources.describeSources(database.db));
    if (flags.json) process.stdout.write(`${JSON.stringify(list.map(({id, name, secret, ingest_path}) => ({id, name, secret, ingest_path})))}\n`);
    else if (list.length === 0) process.stdout.write('No sources yet. Create one with: herald source create --name "My Ghost"\n');
    else {
      for (const s of list) {
        const ghost = s.ghost_url ? `connected to ${s.ghost_url} (${s.connected_events.length} event${s.connected_events.length === 1 ? '' : 's'})` : 'not connected';
        process.stdout.write(`Source "${s.name}" (${s.id})\n  Secret:      ${s.secret}\n  Ingest path: ${s.ingest_path}\n  Ghost:       ${ghost}\n  Webhooks:    ${s.webhooks}\n`);
      }
    }
    return 0;
  }
  if (sub === 'delete') {
    if (!id) return usageError('source delete needs the source ID');
    await withDatabase(config, (database) => database.db.transaction().execute((trx) => sources.deleteSource(trx, id, database.dialect)));
    process.stdout.write(`Deleted source ${id}\n`);
    return 0;
  }
  if (sub === 'connect' || sub === 'disconnect') return relayCommand(config, sub, id, flags);
  process.stderr.write(`herald: source needs "create", "list", "delete", "connect" or "disconnect"\n\n${USAGE}`);
  return 2;
}

async function relayCommand(config: Config, sub: 'connect' | 'disconnect', id: string | undefined, flags: SourceFlags): Promise<number> {
  const [{ADMIN_KEY, GhostClientError, normaliseGhostUrl}, {connectSource, disconnectSource}, {EVENT_NAMES, isEventName}, sources] = await Promise.all([
    import('./relay/ghost-client.ts'),
    import('./relay/connect.ts'),
    import('./events/names.ts'),
    import('./relay/sources.ts'),
  ]);
  if (!id) return usageError(`source ${sub} needs the source ID (see herald source list)`);
  if (!flags['ghost-url']) return usageError(`source ${sub} needs --ghost-url URL (your Ghost site, e.g. https://blog.example.com)`);
  let ghostUrl: string;
  try {
    ghostUrl = normaliseGhostUrl(flags['ghost-url']);
  } catch (error) {
    return usageError(`--ghost-url: ${(error as Error).message}`);
  }
  const adminKey = flags['ghost-admin-key']?.trim();
  if (!adminKey) return usageError(`source ${sub} needs --ghost-admin-key ID:SECRET (Ghost Admin › Settings › Integrations › custom integration › Admin API key)`);
  if (!ADMIN_KEY.test(adminKey)) return usageError('--ghost-admin-key: a Ghost Admin API key looks like <24 hex>:<64 hex>');
  const ctx = (database: Database) => ({database, now: () => systemClock.now(), random: cryptoRandom});
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const pad = (event: string) => event.padEnd(22);

  try {
    if (sub === 'connect') {
      const publicText = flags['public-url'] ?? config.url ?? undefined;
      if (!publicText) return usageError('source connect needs --public-url URL: the address at which Ghost reaches this Herald');
      let publicUrl: string;
      try {
        const parsed = new URL(publicText);
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
        publicUrl = publicText.replace(/\/+$/, '');
      } catch {
        return usageError(`--public-url: "${publicText}" is not an http(s) URL`);
      }
      let events: readonly string[] = EVENT_NAMES;
      if (flags.events !== undefined && flags.events.trim() !== 'all') {
        events = [...new Set(flags.events.split(',').map((name) => name.trim()).filter((name) => name !== ''))];
        const unknown = events.filter((name) => !isEventName(name));
        if (events.length === 0 || unknown.length > 0) return usageError(`--events: ${unknown.length > 0 ? `unknown event ${unknown.join(', ')}` : 'no event named'}; use "all" or some of: ${EVENT_NAMES.join(', ')}`);
      }
      const lines = await withDatabase(config, async (database) => {
        const source = await sources.readSource(database.db, id);
        out(`Connecting ${events.length} event${events.length === 1 ? '' : 's'} of ${ghostUrl} to source "${source.name}" at ${publicUrl}/ingest/ghost/${id}/<event>`);
        return connectSource(ctx(database), {sourceId: id, ghostUrl, adminKey, publicUrl, events}, (line) =>
          out(`  ${pad(line.event)} ${line.outcome === 'created' ? `created (Ghost webhook ${line.ghostWebhookId})` : line.outcome === 'already-connected' ? `already connected (${line.detail})` : `failed: ${line.detail}`}`),
        );
      });
      const count = (outcome: string) => lines.filter((line) => line.outcome === outcome).length;
      out(`${count('created')} created, ${count('already-connected')} already connected, ${count('failed')} failed.`);
      return count('failed') > 0 ? 1 : 0;
    }
    const lines = await withDatabase(config, async (database) => {
      const source = await sources.readSource(database.db, id);
      out(`Disconnecting source "${source.name}" from ${ghostUrl}`);
      return disconnectSource(ctx(database), {sourceId: id, ghostUrl, adminKey}, (line) =>
        out(`  ${pad(line.event)} ${line.outcome === 'removed' ? `removed (Ghost webhook ${line.ghostWebhookId})` : line.outcome === 'already-gone' ? `already gone from Ghost (${line.ghostWebhookId})` : `failed: ${line.detail}`}`),
      );
    });
    const count = (outcome: string) => lines.filter((line) => line.outcome === outcome).length;
    out(lines.length === 0 ? `Nothing to remove: connect made no webhooks in ${ghostUrl} for this source.` : `${count('removed')} removed, ${count('already-gone')} already gone, ${count('failed')} failed.`);
    return count('failed') > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof GhostClientError) {
      process.stderr.write(`herald: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function listenCommand(values: {'forward-to'?: string; events?: string; url?: string; key?: string}): Promise<number> {
  const {checkListenOptions, runListener, ListenUsageError} = await import('./listen/client.ts');
  const server = values.url ?? process.env.HERALD_URL ?? 'http://127.0.0.1:2368';
  const key = values.key ?? process.env.HERALD_ADMIN_KEY;
  const events = values.events === undefined ? null : values.events.split(',').map((name) => name.trim()).filter((name) => name !== '');
  try {
    checkListenOptions({server, key, forwardTo: values['forward-to']});
    if (events !== null && events.length === 0) throw new ListenUsageError('--events needs at least one event name, e.g. --events post.published,member.added');
  } catch (error) {
    if (error instanceof ListenUsageError) {
      process.stderr.write(`herald: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const stop = new AbortController();
  const quit = () => stop.abort();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  try {
    return await runListener({
      server,
      key: key!,
      forwardTo: values['forward-to']!,
      events,
      signal: stop.signal,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}

function formatSummary(summary: IntegrationSummary, heading: string): string {
  return `${heading} "${summary.name}" (${summary.id})\n  Admin API key:   ${summary.admin_key}\n  Content API key: ${summary.content_key}\n`;
}

async function serve(config: Config): Promise<number> {
  const [{default: pino}, {buildApp}, {openDatabase}, {startWorker}, {startScheduler}, {createMetrics}, {startRetention}, {startFiling}, {createEventFeed}] = await Promise.all([
    import('pino'),
    import('./app.ts'),
    import('./db/database.ts'),
    import('./delivery/worker.ts'),
    import('./scheduler/scheduler.ts'),
    import('./delivery/metrics.ts'),
    import('./delivery/retention.ts'),
    import('./delivery/filing.ts'),
    import('./listen/feed.ts'),
  ]);
  const logger = pino({
    level: config.logLevel,
    base: undefined,
    // Defence in depth: even if a header object is ever logged, credentials are censored.
    redact: {paths: ['req.headers.authorization', 'req.headers.cookie', '*.secret', '*.password'], censor: '[redacted]'},
  });
  const database = await openDatabase(config, {
    backgroundCheckpoints: true,
    onCheckpointError: (message) => logger.warn({err: {message}}, 'background WAL checkpoint failed; retrying'),
  });
  let siteUrl = config.url;
  const wake = createWake();
  // Fresh deliveries go straight to this process's worker when it has room (delivery/handoff.ts).
  const handoff = createHandoff();
  // One metrics registry for the process: /metrics shows what this process's worker recorded.
  const metrics = createMetrics(database);
  // Committed events for `herald listen` streams (from every process, on PostgreSQL).
  const feed = createEventFeed(database, config.databaseUrl, logger);
  const app = buildApp({
    config,
    database,
    clock: systemClock,
    random: cryptoRandom,
    logger,
    siteUrl: () => siteUrl ?? `http://${config.host}:${config.port}`,
    wake,
    feed,
    metrics,
    handoff,
  });

  let address: string;
  try {
    await app.listen({port: config.port, host: config.host});
    const bound = app.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    address = `http://${host}:${port}`;
    siteUrl ??= address;
  } catch (error) {
    await app.close().catch(() => {});
    await database.close();
    throw error;
  }
  // The delivery worker shares the app's wake signal, so a commit wakes it at once. Roles
  // 'all' and 'worker' run it; 'api' leaves delivery to worker processes on the same database.
  const worker =
    config.role === 'api' ? null : startWorker({config, database, clock: systemClock, random: cryptoRandom, logger, wake, metrics, handoff});
  // The scheduler runs beside the worker; several processes may run it (each post is
  // published exactly once), so no process needs to be special.
  // Retention prunes old delivery history hourly wherever deliveries are worked.
  const retention = config.role === 'api' ? null : startRetention({database, clock: systemClock, logger}, {retentionMs: config.retentionMs});
  // SQLite's outbox writes deliveries unfiled; every serving process files them (filing.ts).
  const filing = database.dialect === 'sqlite' ? startFiling({database, logger}) : null;
  const scheduler =
    config.role === 'api' ? null : startScheduler({database, clock: systemClock, random: cryptoRandom, siteUrl: () => siteUrl ?? address, wake, feed, logger});

  // The signal handlers go in before the ready line is printed: whoever waits for that line
  // may send SIGTERM the moment it reads it, and must get a graceful exit 0, not a kill.
  let stopping = false;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({signal}, 'shutting down');
    // Stop taking requests and claiming deliveries; let in-flight requests and delivery
    // attempts finish and be recorded (each attempt is bounded by the delivery timeout), then
    // close the database. Past the bound, open sockets would keep the process alive: exit.
    const boundMs = Math.max(10_000, config.deliveryTimeoutMs + 5_000);
    const force = setTimeout(() => {
      logger.warn(`graceful shutdown took over ${boundMs / 1000} s; exiting anyway`);
      process.exit(0);
    }, boundMs);
    force.unref();
    Promise.all([
      app.close().catch((error: unknown) => logger.error({err: error}, 'error while closing the server')),
      worker?.stop().catch((error: unknown) => logger.error({err: error}, 'error while stopping the delivery worker')),
      scheduler?.stop().catch((error: unknown) => logger.error({err: error}, 'error while stopping the scheduler')),
      retention?.stop(),
      filing?.stop(),
    ])
      .then(() => feed.close())
      .then(() => database.close())
      .catch((error: unknown) => logger.error({err: error}, 'error while closing the database'))
      .finally(() => {
        clearTimeout(force);
        stopped();
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  process.stdout.write(`Herald is listening on ${address} (${database.description}; admin API ${siteUrl}/ghost/api/admin/)\n`);
  await done;
  return 0;
}
