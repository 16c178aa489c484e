/**
 * The wake-up signal between the outbox and the delivery worker: a commit that wrote
 * deliveries calls notify(); the worker's wait() returns at once instead of polling. Across
 * processes on PostgreSQL the same happens through LISTEN/NOTIFY on DELIVERY_CHANNEL.
 */

/** PostgreSQL NOTIFY channel: "new deliveries are due". */
export const DELIVERY_CHANNEL = 'herald_deliveries';

/** An edge-triggered signal that remembers a notify() made while nobody was waiting. */
export interface Wake {
  /** Wakes the current or the next waiter. */
  notify(): void;
  /** Resolves on the next notify() (or a pending one), or after `ms` as a safety net. */
  wait(ms: number): Promise<void>;
}

/** Creates a Wake. notify() wakes every current waiter, or the next one if none waits. */
export function createWake(): Wake {
  let pending = false;
  const waiters = new Set<() => void>();
  return {
    notify() {
      if (waiters.size === 0) {
        pending = true;
        return;
      }
      for (const release of [...waiters]) release();
    },
    wait(ms) {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          waiters.delete(release);
          resolve();
        };
        const timer = setTimeout(release, ms);
        waiters.add(release);
      });
    },
  };
}
