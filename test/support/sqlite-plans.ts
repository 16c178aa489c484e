/**
 * SQLite query plans for tests that guard against a bad plan: SQLite keeps no statistics, so a
 * term on a low-selectivity index (deliveries_claim leads with status) can look as good as the
 * right one. `statementsRun` records every statement `work` runs; `planOf` explains one.
 */
import type {Database} from '../../src/db/database.ts';

/** The text of every statement run (all/get/run/iterate) while `work` runs, in order. */
export async function statementsRun(database: Database, work: () => Promise<unknown>): Promise<string[]> {
  const statementType = await database.syncTransaction!((prepare) => Object.getPrototypeOf(prepare('select 1')));
  const methods = ['all', 'get', 'run', 'iterate'] as const;
  const original = Object.fromEntries(methods.map((m) => [m, statementType[m]]));
  const texts: string[] = [];
  for (const method of methods) {
    statementType[method] = function (this: {source: string}, ...args: unknown[]) {
      texts.push(this.source);
      return original[method].apply(this, args);
    };
  }
  try {
    await work();
  } finally {
    Object.assign(statementType, original);
  }
  return texts;
}

/** The query plan of `text` (its parameters all null), its steps joined with " | ". */
export async function planOf(database: Database, text: string): Promise<string> {
  const named = [...new Set(Array.from(text.matchAll(/@(\w+)/g), (m) => m[1]!))];
  const plan = await database.syncTransaction!((prepare) => {
    const statement = prepare(`explain query plan ${text}`);
    return (named.length > 0 ? statement.all(Object.fromEntries(named.map((name) => [name, null]))) : statement.all(...Array.from(text.matchAll(/\?/g), () => null))) as {detail: string}[];
  });
  return plan.map((step) => step.detail).join(' | ');
}
