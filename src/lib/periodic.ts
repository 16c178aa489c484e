/**
 * A background task run now and then (retention, filing): one run at a time, the next one
 * `intervalMs` after the last ended, until stopped. The timer never keeps the process alive.
 */

/** A running periodic task. */
export interface Periodic {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` after `firstMs` (default `intervalMs`), then `intervalMs` after each run ends.
 * `task` must not throw (it logs its own failures); `isStopped` tells a long run to end early.
 */
export function startPeriodic(task: (isStopped: () => boolean) => Promise<void>, options: {readonly intervalMs: number; readonly firstMs?: number}): Periodic {
  let stopped = false;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const isStopped = () => stopped;

  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = task(isStopped).finally(() => {
        running = null;
        schedule(options.intervalMs);
      });
    }, ms);
    timer.unref();
  };

  schedule(options.firstMs ?? options.intervalMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
