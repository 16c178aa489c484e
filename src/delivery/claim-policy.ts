/**
 * What a claim may take (pure), the same on both engines. The candidates come oldest due
 * first; a webhook gets at most its free room (perWebhook minus what runs here already), so a
 * webhook with a backlog never takes the slots of others and nothing is leased only to be
 * handed back.
 */

import type {Job} from './worker.ts';

/** What one claim needs to know, built once per claim by the worker. */
export interface ClaimInput {
  /** The most deliveries to lease. */
  readonly free: number;
  /** Free room per webhook, given how many of its attempts run here already. */
  readonly roomOf: (webhookId: string) => number;
  /** Webhooks with no room at all here (left out of the candidate read). */
  readonly saturated: readonly string[];
  readonly nowIso: string;
  readonly leaseUntil: string;
  readonly workerId: string;
}

/** The ids of the candidates to lease, in their order: each webhook's first `roomOf` of them. */
export function pickWithinRoom(candidates: readonly {readonly id: string; readonly webhook_id: string}[], roomOf: (webhookId: string) => number): string[] {
  const room = new Map<string, number>();
  const picked: string[] = [];
  for (const candidate of candidates) {
    const left = room.get(candidate.webhook_id) ?? roomOf(candidate.webhook_id);
    if (left > 0) picked.push(candidate.id);
    room.set(candidate.webhook_id, left - 1);
  }
  return picked;
}

/**
 * The leased rows in the order they were picked: oldest due first, then by id (the candidate
 * read's order). UPDATE … RETURNING gives them in no particular order on either engine, and
 * with their new next_attempt_at (the lease's expiry), so the order comes from the pick.
 */
export function inPickedOrder<R extends {readonly id: string}>(rows: readonly R[], picked: readonly string[]): R[] {
  const position = new Map(picked.map((id, i) => [id, i]));
  const at = (row: R) => position.get(row.id) ?? Number.MAX_SAFE_INTEGER;
  return [...rows].sort((a, b) => at(a) - at(b));
}

/** A claim's result: the jobs to start, and whether more rows were due than it could take (`full`). */
export interface ClaimResult {
  readonly jobs: Job[];
  /** Leased rows that cannot be attempted now (event or webhook gone or disabled): to release. */
  readonly missing: string[];
  readonly full: boolean;
  /** Some picked rows were leased by another process between the read and the lease. */
  readonly collided: boolean;
}
