/**
 * Opens the database named by the config: SQLite (better-sqlite3, WAL) in the data folder, or
 * PostgreSQL (pg) for a postgres:// URL. Both go through the same Kysely<DB>; the few places
 * the engines differ are the named helpers below.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import {CompiledQuery, Kysely, PostgresDialect, SqliteDialect, type DatabaseConnection, type Driver, type Transaction} from 'kysely';
import type {DB} from './schema.ts';
import {migrate} from './migrations.ts';
import {startCheckpointer, type Checkpointer} from './checkpointer.ts';

/** Which engine a Database runs on. */
export type Dialect = 'sqlite' | 'postgres';

/** An open database: the query builder, which engine it is, and how to close it. */
export interface Database {
  readonly db: Kysely<DB>;
  readonly dialect: Dialect;
  /** A one-line description for logs, never containing a password. */
  readonly description: string;
  /**
   * SQLite only (undefined on PostgreSQL): runs `work` synchronously in one IMMEDIATE
   * transaction on the connection Kysely uses, holding it, so no Kysely transaction is open
   * meanwhile; `prepare` returns cached prepared statements. For the delivery worker's hot
   * path, where one short statement per row costs far less than building and compiling a
   * query per batch (see worker-sqlite.ts). `work` must not await: the transaction ends when
   * it returns, and it rolls back if it throws.
   */
  readonly syncTransaction?: <T>(work: (prepare: (sql: string) => BetterSqlite3.Statement) => T) => Promise<T>;
  close(): Promise<void>;
}

/** A query context: the database itself or an open transaction. */
export type Queryable = Kysely<DB> | Transaction<DB>;

/** Where to find the database. */
export interface DatabaseOptions {
  readonly databaseUrl: string | null;
  readonly dataDir: string;
}

/** How a long-running process opens the database. */
export interface OpenOptions {
  /**
   * SQLite: run WAL checkpoints on a background thread instead of inside commits (see
   * checkpointer.ts). For a serving process; short commands keep SQLite's own. Ignored on PostgreSQL.
   */
  readonly backgroundCheckpoints?: boolean;
  /** Hears about failed background checkpoints (they are retried on the next interval). */
  readonly onCheckpointError?: (message: string) => void;
}

/** Opens the database and applies pending migrations. */
export async function openDatabase(options: DatabaseOptions, open: OpenOptions = {}): Promise<Database> {
  const database = options.databaseUrl ? openPostgres(options.databaseUrl) : openSqlite(options.dataDir, open);
  try {
    await migrate(database.db, database.dialect);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/**
 * SQLite with every transaction begun IMMEDIATE. Herald's transactions write; a deferred one
 * that reads first and then writes fails at once with SQLITE_BUSY when another process (a
 * worker, a scheduler) committed in between. IMMEDIATE takes the write lock up front, so a
 * second process waits on busy_timeout instead of failing half-way.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

function openSqlite(dataDir: string, open: OpenOptions): Database {
  fs.mkdirSync(dataDir, {recursive: true});
  const file = path.join(dataDir, 'herald.db');
  const sqlite = new BetterSqlite3(file);
  // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes
  // (a kill -9 loses nothing committed) and only risks the last commits on power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Statement journals (the undo of one statement inside a transaction, e.g. a change's
  // many-row outbox INSERT) and temporary tables stay in memory instead of spilling to a temp
  // file: that spill was a write system call per page touched, on the API's hot path.
  sqlite.pragma('temp_store = MEMORY');
  let checkpointer: Checkpointer | null = null;
  if (open.backgroundCheckpoints) {
    sqlite.pragma('wal_autocheckpoint = 0');
    checkpointer = startCheckpointer(file, open.onCheckpointError ?? (() => {}));
  }
  const statements = cachedStatements(sqlite);
  const db = new Kysely<DB>({dialect: new ImmediateSqliteDialect({database: statements})});
  const prepare = (text: string) => statements.prepare(text);
  return {
    db,
    dialect: 'sqlite',
    description: `sqlite ${file}`,
    syncTransaction: (work) => db.connection().execute(async () => sqlite.transaction(() => work(prepare)).immediate()),
    // The thread's connection closes first, so this one is the last: SQLite then checkpoints
    // everything and removes the WAL file, as it does without the thread.
    close: async () => {
      await checkpointer?.close();
      await db.destroy();
    },
  };
}

/** Prepared statements kept per SQL text (most recently used first out of the way). */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The better-sqlite3 handle as Kysely's SqliteDialect sees it, with prepared statements
 * reused: Kysely prepares every query afresh, and compiling the SQL was the single largest
 * cost of the delivery worker's queries. A statement is only ever run to completion (all()
 * or run(); Herald never streams), so sharing one between callers is safe, and SQLite
 * re-prepares a cached statement by itself after a schema change.
 */
function cachedStatements(sqlite: BetterSqlite3.Database): {prepare(sql: string): BetterSqlite3.Statement; close(): void} {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql) {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql); // re-inserted below: the Map's order is the LRU order
      } else {
        statement = sqlite.prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
    close() {
      cache.clear();
      sqlite.close();
    },
  };
}

function openPostgres(databaseUrl: string): Database {
  const pool = new pg.Pool({connectionString: databaseUrl, max: 10});
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<DB>({dialect: new PostgresDialect({pool})});
  const url = new URL(databaseUrl);
  return {db, dialect: 'postgres', description: `postgres ${url.host}${url.pathname}`, close: () => db.destroy()};
}

/** True when `error` is a unique-constraint violation on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as {code?: unknown} | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** True when `error` is a foreign-key violation on either engine. */
export function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as {code?: unknown} | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Counts come back as numbers from SQLite and as strings from pg; this makes them numbers. */
export function toCount(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0);
}
