/**
 * Configuration: flags beat environment variables beat defaults. Parsed and validated once
 * at start into one frozen Config; nothing else reads process.env.
 */
import path from 'node:path';

/** Which parts of Herald a process runs. */
export type Role = 'all' | 'api' | 'worker';

/** The validated configuration of one Herald process. */
export interface Config {
  /** HTTP port; 0 picks any free port. Default 2368. */
  readonly port: number;
  /** Bind address. Default 127.0.0.1. */
  readonly host: string;
  /** Public site URL without a trailing slash; default `http://<host>:<port>` (resolved after listen when port is 0). */
  readonly url: string | null;
  /** Folder of the embedded SQLite database. Default ./data. */
  readonly dataDir: string;
  /** A postgres:// URL selects PostgreSQL; null means SQLite in dataDir. */
  readonly databaseUrl: string | null;
  /** Permit webhook targets on loopback/private networks. Default false. */
  readonly allowPrivateTargets: boolean;
  /** Delays between delivery attempts, in ms. Default 5s,5m,30m,2h,5h,10h,10h. */
  readonly retrySchedule: readonly number[];
  /** Total time allowed for one delivery attempt, in ms. Default 10 s. */
  readonly deliveryTimeoutMs: number;
  /** Which parts this process runs. Default all. */
  readonly role: Role;
  /** Largest accepted request body, in bytes. Default 10 MiB. */
  readonly maxBodyBytes: number;
  /** pino log level. Default info. */
  readonly logLevel: string;
  /** Delivery attempts and succeeded deliveries older than this are pruned, in ms. Default 30 days. */
  readonly retentionMs: number;
  /** A webhook whose deliveries have only failed for this long is disabled, in ms. Default 5 days. */
  readonly disableAfterMs: number;
}

/** The option table shared by `serve` and the database-only commands. */
export const OPTION_SPEC = {
  port: {type: 'string'},
  host: {type: 'string'},
  url: {type: 'string'},
  data: {type: 'string'},
  'database-url': {type: 'string'},
  'allow-private-targets': {type: 'boolean'},
  'retry-schedule': {type: 'string'},
  'delivery-timeout': {type: 'string'},
  'no-worker': {type: 'boolean'},
  'worker-only': {type: 'boolean'},
  'max-body': {type: 'string'},
  'log-level': {type: 'string'},
  retention: {type: 'string'},
  'disable-after': {type: 'string'},
} as const;

/** Parsed flag values as node:util parseArgs returns them. */
export type Flags = Partial<Record<keyof typeof OPTION_SPEC, string | boolean>>;

/** Raised for any invalid option; the CLI prints its message and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000};

/** Parses `500ms`, `5s`, `30m`, `2h`, `1d` (or a bare number of ms) into milliseconds. */
export function parseDuration(text: string, name: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new ConfigError(`${name}: "${text}" is not a duration (examples: 500ms, 5s, 30m, 2h)`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** Parses `10mb`, `512kb`, `1048576` into bytes. */
export function parseSize(text: string, name: string): number {
  const match = /^\s*(\d+)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!match) throw new ConfigError(`${name}: "${text}" is not a size (examples: 512kb, 10mb)`);
  const mult = {b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3}[(match[2] ?? 'b').toLowerCase() as 'b'];
  return Number(match[1]) * mult;
}

function truthy(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

/**
 * Builds the Config from parsed flags and an environment. Throws ConfigError with a message
 * naming the option for any invalid value.
 */
export function loadConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const str = (flag: keyof typeof OPTION_SPEC, envName: string): string | undefined => {
    const value = flags[flag];
    if (typeof value === 'string') return value;
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };

  const portText = str('port', 'PORT') ?? '2368';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ConfigError(`--port: "${portText}" is not a port number (0-65535)`);

  const host = str('host', 'HERALD_HOST') ?? '127.0.0.1';

  let url = str('url', 'HERALD_URL') ?? null;
  if (url !== null) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`--url: "${url}" is not a URL (example: https://blog.example.com)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`--url: "${url}" must be http or https`);
    url = url.replace(/\/+$/, '');
  }

  const databaseUrl = str('database-url', 'DATABASE_URL') ?? null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`--database-url: only postgres:// URLs are supported (got "${databaseUrl.split('@').pop()}")`);
  }

  const allowPrivateTargets =
    flags['allow-private-targets'] === true || truthy(env.HERALD_ALLOW_PRIVATE_TARGETS) === true;

  const scheduleText = str('retry-schedule', 'HERALD_RETRY_SCHEDULE') ?? '5s,5m,30m,2h,5h,10h,10h';
  const retrySchedule = scheduleText.trim() === '' ? [] : scheduleText.split(',').map((part) => parseDuration(part, '--retry-schedule'));

  const deliveryTimeoutMs = parseDuration(str('delivery-timeout', 'HERALD_DELIVERY_TIMEOUT') ?? '10s', '--delivery-timeout');
  if (deliveryTimeoutMs <= 0) throw new ConfigError('--delivery-timeout: must be greater than zero');

  let role: Role;
  if (flags['no-worker'] && flags['worker-only']) throw new ConfigError('--no-worker and --worker-only cannot be used together');
  if (flags['no-worker']) role = 'api';
  else if (flags['worker-only']) role = 'worker';
  else {
    const envRole = env.HERALD_ROLE || 'all';
    if (envRole !== 'all' && envRole !== 'api' && envRole !== 'worker') {
      throw new ConfigError(`HERALD_ROLE: "${envRole}" must be one of all, api, worker`);
    }
    role = envRole;
  }

  const maxBodyBytes = parseSize(str('max-body', 'HERALD_MAX_BODY') ?? '10mb', '--max-body');
  const logLevel = str('log-level', 'HERALD_LOG_LEVEL') ?? 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(logLevel)) throw new ConfigError(`--log-level: "${logLevel}" must be one of ${levels.join(', ')}`);

  const retentionMs = parseDuration(str('retention', 'HERALD_RETENTION') ?? '30d', '--retention');
  if (retentionMs <= 0) throw new ConfigError('--retention: must be greater than zero');
  const disableAfterMs = parseDuration(str('disable-after', 'HERALD_DISABLE_AFTER') ?? '5d', '--disable-after');
  if (disableAfterMs <= 0) throw new ConfigError('--disable-after: must be greater than zero');

  return Object.freeze({
    port,
    host,
    url,
    dataDir: path.resolve(cwd, str('data', 'HERALD_DATA') ?? './data'),
    databaseUrl,
    allowPrivateTargets,
    retrySchedule: Object.freeze(retrySchedule),
    deliveryTimeoutMs,
    role,
    maxBodyBytes,
    logLevel,
    retentionMs,
    disableAfterMs,
  });
}
