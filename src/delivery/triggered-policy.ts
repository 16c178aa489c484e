/**
 * When a webhook's `last_triggered_*` columns are written (pure). Under load one webhook's
 * attempts finish in almost every recording batch, and rewriting its row each time cost a
 * statement per attempt for a value shown as "last triggered N minutes ago". So each webhook's
 * latest attempt waits as pending, and is written when its previous write is at least
 * `everyMs` old, when its outcome differs from what was last written (a failure shows at once),
 * or when the worker is idle after the batch (nothing running or queued): at rest the columns
 * always hold the latest attempt.
 */

/** A webhook's latest attempt, as its `last_triggered_*` columns hold it. */
export interface Triggered {
  readonly webhookId: string;
  readonly at: string;
  readonly status: string | null;
  readonly error: string | null;
}

/** What was last written for one webhook, and when (a monotonic clock, ms). */
export interface Written {
  readonly atMs: number;
  readonly status: string | null;
  readonly error: string | null;
}

/** The pending entries to write now, in webhook id order (the lock order on PostgreSQL). */
export function triggeredToWrite(
  pending: ReadonlyMap<string, Triggered>,
  written: ReadonlyMap<string, Written>,
  input: {readonly nowMs: number; readonly idle: boolean; readonly everyMs: number},
): Triggered[] {
  const due: Triggered[] = [];
  for (const entry of pending.values()) {
    const last = written.get(entry.webhookId);
    if (input.idle || !last || input.nowMs - last.atMs >= input.everyMs || last.status !== entry.status || last.error !== entry.error) due.push(entry);
  }
  return due.sort((a, b) => (a.webhookId < b.webhookId ? -1 : a.webhookId > b.webhookId ? 1 : 0));
}
