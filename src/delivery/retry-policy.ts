/**
 * When the next attempt of a failed delivery happens (pure). The schedule lists the delays
 * between attempts, so a delivery gets `schedule.length + 1` attempts in all. Each delay is
 * jittered by ±20 % so that a burst of failures does not come back as a burst of retries.
 */

/** Relative jitter applied to every scheduled delay: ±20 %. */
export const JITTER = 0.2;

/** What the policy needs to know about the attempt that just failed. */
export interface RetryInput {
  /** 1-based number of the attempt that just failed. */
  readonly attempt: number;
  /** Delays between attempts, in ms (Config.retrySchedule). */
  readonly schedule: readonly number[];
  /** A uniform random number in [0, 1); 0.5 means no jitter. */
  readonly random: number;
  /** The receiver's Retry-After, in ms from now (only passed for 429 and 503). */
  readonly retryAfterMs?: number | null;
}

/**
 * The delay in ms before the next attempt, or null when the attempts are exhausted.
 * A Retry-After is honoured as a floor (never earlier than the jittered schedule), but is
 * capped at twice the schedule step, so a receiver cannot park a delivery for days.
 */
export function nextDelay(input: RetryInput): number | null {
  const {attempt, schedule} = input;
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > schedule.length) return null;
  const step = schedule[attempt - 1]!;
  const random = Math.min(Math.max(input.random, 0), 1);
  const jittered = step * (1 - JITTER + 2 * JITTER * random);
  let delay = jittered;
  const retryAfter = input.retryAfterMs;
  if (retryAfter !== undefined && retryAfter !== null && Number.isFinite(retryAfter) && retryAfter > 0) {
    delay = Math.max(jittered, Math.min(retryAfter, 2 * step));
  }
  return Math.round(delay);
}

/** Total attempts a delivery gets with `schedule`. */
export function maxAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/**
 * Parses a Retry-After header value into ms from `nowMs`: either delta-seconds (`120`) or an
 * HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`). A date in the past gives 0. Anything else
 * (missing, negative, garbage) gives null.
 */
export function parseRetryAfter(value: string | readonly string[] | null | undefined, nowMs: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (typeof text !== 'string') return null;
  const trimmed = text.trim();
  if (trimmed === '') return null;
  if (/^\d+$/.test(trimmed)) {
    const seconds = Number(trimmed);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : null;
  }
  // HTTP-date (IMF-fixdate and the obsolete forms Date.parse understands); a bare number with
  // a sign or a fraction is not a valid Retry-After and is not a date either.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
