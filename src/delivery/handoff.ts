/**
 * The hand-off between a content write and this process's delivery worker. A fresh event's
 * deliveries would otherwise be inserted due, found by the worker's next claim and leased
 * there: a read and an UPDATE per delivery that only move the rows to the worker next door.
 * With a hand-off, the outbox asks the worker for room before it inserts them; the rows it is
 * granted go in already leased to that worker, and after the commit their attempts start at
 * once, with no claim. Rows without room go in due, as before, for any worker to claim.
 *
 * The worker grants room only while it has nothing due waiting (its last claim was not full),
 * so fresh events never overtake deliveries that were due before them. A granted lease is an
 * ordinary lease: if the process dies before or during the attempt, the row is claimed again
 * once the lease runs out, like any other.
 */

/** What a handed-off attempt needs: the delivery row's id, its event and its webhook. */
export interface HandedOff {
  readonly deliveryId: string;
  readonly event: {readonly id: string; readonly name: string; readonly payload: string; readonly created_at: string; readonly source_id: string | null};
  readonly webhook: {readonly id: string; readonly target_url: string; readonly secret: string | null; readonly previous_secrets: string | null};
}

/** Room the worker set aside for one write's deliveries, until that write commits or rolls back. */
export interface Reservation {
  /** The worker's lease owner name, for the granted rows' `lease_owner`. */
  readonly leaseOwner: string;
  /** ISO instant the granted rows' lease runs out (their `lease_expires_at` and `next_attempt_at`). */
  readonly leaseUntil: string;
  /** Per webhook asked for, in order: true when its delivery goes in leased to the worker. */
  readonly granted: readonly boolean[];
  /** After the commit: starts the granted deliveries' attempts (one per granted webhook, in order). */
  start(deliveries: readonly HandedOff[]): void;
  /** After a rollback: gives the room back. */
  cancel(): void;
}

/** How a worker takes part: room for one delivery per webhook id asked for, or null for none. */
export type Reserve = (webhookIds: readonly string[]) => Reservation | null;

/**
 * The meeting point, made by the composition root and given to both the app (its outbox
 * writes ask) and the worker (which answers while it runs). With no worker attached, every
 * request gets null and deliveries go in due.
 */
export interface Handoff {
  reserve: Reserve;
  /** The worker answers from now on. */
  attach(reserve: Reserve): void;
  /** The worker stops answering (it is stopping); only `reserve` itself is detached. */
  detach(reserve: Reserve): void;
}

export function createHandoff(): Handoff {
  let current: Reserve | null = null;
  return {
    reserve: (webhookIds) => (current && webhookIds.length > 0 ? current(webhookIds) : null),
    attach(reserve) {
      current = reserve;
    },
    detach(reserve) {
      if (current === reserve) current = null;
    },
  };
}
