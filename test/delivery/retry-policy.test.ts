// The retry policy: jitter bounds, exhaustion, Retry-After floor and cap, Retry-After parsing.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {JITTER, maxAttempts, nextDelay, parseRetryAfter} from '../../src/delivery/retry-policy.ts';

const SCHEDULE = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

describe('nextDelay', () => {
  test('±20 % jitter around each step: random 0 → -20 %, 0.5 → exact, 0.999 → just under +20 %', () => {
    assert.equal(JITTER, 0.2);
    SCHEDULE.forEach((step, i) => {
      const attempt = i + 1;
      assert.equal(nextDelay({attempt, schedule: SCHEDULE, random: 0}), Math.round(step * 0.8));
      assert.equal(nextDelay({attempt, schedule: SCHEDULE, random: 0.5}), step);
      const high = nextDelay({attempt, schedule: SCHEDULE, random: 0.999})!;
      assert.ok(high <= step * 1.2 && high >= step * 1.199, `${high} for step ${step}`);
    });
  });

  test('every random in [0,1) stays within the bounds', () => {
    for (let r = 0; r < 1; r += 0.01) {
      const d = nextDelay({attempt: 1, schedule: [1000], random: r})!;
      assert.ok(d >= 800 && d <= 1200, String(d));
    }
  });

  test('attempts are exhausted after entries + 1', () => {
    assert.equal(maxAttempts(SCHEDULE), 8);
    assert.notEqual(nextDelay({attempt: 7, schedule: SCHEDULE, random: 0.5}), null);
    assert.equal(nextDelay({attempt: 8, schedule: SCHEDULE, random: 0.5}), null);
    assert.equal(nextDelay({attempt: 9, schedule: SCHEDULE, random: 0.5}), null);
    assert.equal(nextDelay({attempt: 1, schedule: [], random: 0.5}), null, 'an empty schedule means one attempt');
    assert.equal(nextDelay({attempt: 0, schedule: SCHEDULE, random: 0.5}), null);
  });

  test('compressed test schedule', () => {
    assert.equal(nextDelay({attempt: 1, schedule: [100, 200], random: 0.5}), 100);
    assert.equal(nextDelay({attempt: 2, schedule: [100, 200], random: 0.5}), 200);
    assert.equal(nextDelay({attempt: 3, schedule: [100, 200], random: 0.5}), null);
  });

  const table: [string, number, number, number | null, number][] = [
    // name, step, random, retryAfterMs, expected
    ['Retry-After longer than the step is honoured', 5_000, 0.5, 8_000, 8_000],
    ['Retry-After is capped at twice the step', 5_000, 0.5, 60_000, 10_000],
    ['Retry-After shorter than the schedule is a floor only: the schedule wins', 5_000, 0.5, 1_000, 5_000],
    ['Retry-After shorter than the jittered delay: the jittered delay wins', 5_000, 0.999, 5_500, 5_998],
    ['Retry-After 0 changes nothing', 5_000, 0, 0, 4_000],
    ['Retry-After exactly twice the step', 5_000, 0, 10_000, 10_000],
    ['no Retry-After', 5_000, 0, null, 4_000],
  ];
  for (const [name, step, random, retryAfterMs, expected] of table) {
    test(name, () => {
      assert.equal(nextDelay({attempt: 1, schedule: [step], random, retryAfterMs}), expected);
    });
  }

  test('Retry-After does not revive an exhausted delivery', () => {
    assert.equal(nextDelay({attempt: 2, schedule: [1000], random: 0.5, retryAfterMs: 500}), null);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-28T08:00:00.000Z');
  const table: [string, string | string[] | undefined | null, number | null][] = [
    ['delta-seconds', '120', 120_000],
    ['zero seconds', '0', 0],
    ['with spaces', ' 7 ', 7_000],
    ['IMF-fixdate in the future', 'Sat, 28 Nov 2026 08:00:30 GMT', 30_000],
    ['IMF-fixdate in the past gives 0', 'Sat, 28 Nov 2026 07:00:00 GMT', 0],
    ['obsolete RFC 850 date', 'Saturday, 28-Nov-26 08:01:00 GMT', 60_000],
    ['repeated header: first value', ['5', '10'], 5_000],
    ['negative', '-5', null],
    ['fraction', '1.5', null],
    ['garbage', 'soon', null],
    ['empty', '', null],
    ['missing', undefined, null],
    ['null', null, null],
  ];
  for (const [name, value, expected] of table) {
    test(name, () => assert.equal(parseRetryAfter(value, now), expected));
  }
});
