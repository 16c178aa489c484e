/**
 * The clock port. Everything that reads the time takes a Clock, so tests can move time.
 * Timestamps are stored and serialised as ISO-8601 UTC with milliseconds.
 */

/** A source of the current time. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = {now: () => new Date()};

/**
 * Parses a user-supplied date (ISO-8601 or anything Date understands) into the stored
 * ISO form, or returns null when it is not a valid date.
 */
export function parseDate(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
