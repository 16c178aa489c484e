// Herald's two latency histograms are kept as plain bucket counts (delivery/metrics.ts); their
// exposition must be exactly what prom-client's own Histogram prints for the same observations.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {Histogram, Registry} from 'prom-client';
import {createMetrics} from '../../src/delivery/metrics.ts';

test('the attempt-duration and event-to-delivery histograms render like prom-client histograms', async () => {
  const metrics = createMetrics(null, {defaults: false});
  const reference = new Registry();
  const duration = new Histogram({
    name: 'herald_delivery_attempt_duration_seconds',
    help: 'Duration of one HTTP delivery attempt.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [reference],
  });
  const latency = new Histogram({
    name: 'herald_event_to_delivery_seconds',
    help: 'Time from an event being created to the end of its successful delivery attempt.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    registers: [reference],
  });
  const created = new Date('2026-12-07T00:00:00.000Z');
  // Values on, between and past the bounds (5 ms is exactly the first bound).
  for (const [ms, lagMs] of [[0, 10], [5, 25], [7, 26], [30, 1000], [2000, 90_000], [50_000, 100_000_000]] as const) {
    metrics.recordAttempt({outcome: 'succeeded', durationMs: ms, eventCreatedAt: created.toISOString(), finishedAt: new Date(created.getTime() + lagMs)});
    duration.observe(ms / 1000);
    latency.observe(lagMs / 1000);
  }
  // A failed attempt counts in the duration histogram only.
  metrics.recordAttempt({outcome: 'failed', durationMs: 120});
  duration.observe(0.12);

  const ours = (await metrics.render()).split('\n');
  const theirs = (await reference.metrics()).trim().split('\n');
  const pick = (lines: string[], name: string) => lines.filter((line) => line.includes(name));
  for (const name of ['herald_delivery_attempt_duration_seconds', 'herald_event_to_delivery_seconds']) {
    assert.deepEqual(pick(ours, name), pick(theirs, name), name);
  }
  assert.ok(pick(ours, 'herald_delivery_attempt_duration_seconds_count 7').length === 1);
});
