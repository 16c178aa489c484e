/**
 * Values kept in memory while a table's generation holds still (SQLite; migration 0008 keeps
 * the webhooks' generation with triggers, so every connection's changes move it). The caller
 * reads the generation in the transaction that then uses the entries, so they are what that
 * transaction would read.
 */

/** Reads the webhooks' generation (one row; none if it was removed by hand). */
export const WEBHOOKS_GENERATION = `select value from herald_generations where name = 'webhooks'`;

export interface GenerationCache<V> {
  /**
   * The entries that hold at `generation`: emptied first if it moved on since they were read
   * (or the cache is full). Without a generation nothing is kept: a new empty map each time.
   */
  at(generation: number | null): Map<string, V>;
}

/** A cache of at most `limit` entries (past it, it starts over). */
export function generationCache<V>(limit: number): GenerationCache<V> {
  let current: number | null = null;
  const entries = new Map<string, V>();
  return {
    at(generation) {
      if (generation === null) return new Map();
      if (generation !== current || entries.size >= limit) {
        entries.clear();
        current = generation;
      }
      return entries;
    },
  };
}
