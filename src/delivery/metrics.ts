/**
 * Prometheus metrics (SPEC §11). One Metrics object per app, made in the composition root and
 * passed through deps: every instance owns its own Registry, so two apps in one process (tests)
 * never share counters and nothing lives at module level.
 */
import {collectDefaultMetrics, Counter, Gauge, Registry, type Metric, type MetricObjectWithValues, type MetricValueWithName} from 'prom-client';
import type {Database} from '../db/database.ts';

/** How one recorded attempt ended, as the `outcome` label of herald_deliveries_total. */
export type AttemptOutcomeLabel = 'succeeded' | 'failed' | 'retrying' | 'blocked' | 'gone';

/** One recorded attempt, as the metrics see it. */
export interface AttemptSample {
  readonly outcome: AttemptOutcomeLabel;
  /** How long the HTTP attempt took, in ms. */
  readonly durationMs: number;
  /** When the event was created (ISO); with a successful attempt, gives event→delivery latency. */
  readonly eventCreatedAt?: string;
  /** When the attempt ended. */
  readonly finishedAt?: Date;
  /** The relay source of the event (SPEC §13); absent or null for Herald's own content. */
  readonly source?: string | null;
}

/** The `source` label of Herald's own events (relayed ones carry their source id). */
export const OWN_SOURCE_LABEL = 'herald';

/** The metrics of one Herald app. */
export interface Metrics {
  readonly registry: Registry;
  /** Counts one recorded attempt and observes its timings. */
  recordAttempt(sample: AttemptSample): void;
  /** The exposition text (gauges read from the database first). */
  render(): Promise<string>;
  /** The content type of render()'s text. */
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Collect the process defaults (CPU, memory, event loop). Default true. */
  readonly defaults?: boolean;
}

/**
 * Makes the metrics of one app. The two gauges are collected from `database` on every scrape
 * (any process sharing the database reports the same queue); omit it in a process without one.
 */
export function createMetrics(database: Database | null, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaults ?? true) collectDefaultMetrics({register: registry});

  const deliveries = new Counter({
    name: 'herald_deliveries_total',
    help: 'Delivery attempts recorded, by outcome (succeeded, failed: last attempt failed, retrying: failed with a retry scheduled, blocked: target refused, gone: 410) and source (herald, or the id of a relayed Ghost site).',
    labelNames: ['outcome', 'source'] as const,
    registers: [registry],
  });
  for (const outcome of ['succeeded', 'failed', 'retrying', 'blocked', 'gone'] as const) deliveries.inc({outcome, source: OWN_SOURCE_LABEL}, 0);

  const attemptDuration = new PlainHistogram(
    registry,
    'herald_delivery_attempt_duration_seconds',
    'Duration of one HTTP delivery attempt.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  const eventToDelivery = new PlainHistogram(
    registry,
    'herald_event_to_delivery_seconds',
    'Time from an event being created to the end of its successful delivery attempt.',
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
  );

  new Gauge({
    name: 'herald_deliveries_pending',
    help: 'Deliveries waiting for an attempt (due now or scheduled for a retry).',
    registers: [registry],
    async collect() {
      if (!database) return;
      // An unreachable database keeps the last value: /metrics still answers (and /health says why).
      const row = await database.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst()
        .catch(() => null);
      if (row === null) return;
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'herald_webhooks_disabled',
    help: 'Webhooks disabled (by a 410, by failing for days, or by hand).',
    registers: [registry],
    async collect() {
      if (!database) return;
      // An unreachable database keeps the last value: /metrics still answers (and /health says why).
      const row = await database.db
        .selectFrom('webhooks')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('status', '=', 'disabled')
        .executeTakeFirst()
        .catch(() => null);
      if (row === null) return;
      this.set(Number(row?.n ?? 0));
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    recordAttempt(sample) {
      deliveries.inc({outcome: sample.outcome, source: sample.source ?? OWN_SOURCE_LABEL});
      attemptDuration.observe(Math.max(0, sample.durationMs) / 1000);
      if (sample.outcome === 'succeeded' && sample.eventCreatedAt && sample.finishedAt) {
        const created = Date.parse(sample.eventCreatedAt);
        if (!Number.isNaN(created)) eventToDelivery.observe(Math.max(0, sample.finishedAt.getTime() - created) / 1000);
      }
    },
    render: () => registry.metrics(),
  };
}

/**
 * A histogram without labels, kept as plain bucket counts: observe() is a loop and two
 * additions. (prom-client's Histogram hashes an empty label set and allocates on every
 * observation: two per recorded attempt.) The registry renders it like its own histograms:
 * cumulative `_bucket` lines up to `+Inf`, then `_sum` and `_count`.
 */
class PlainHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  constructor(registry: Registry, name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
    registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  async get(): Promise<Omit<MetricObjectWithValues<MetricValueWithName<string>>, 'type' | 'collect'> & {type: 'histogram'}> {
    let cumulative = 0;
    const bucket = `${this.name}_bucket`;
    const values: MetricValueWithName<string>[] = this.bounds.map((le, i) => ({labels: {le}, value: (cumulative += this.counts[i]!), metricName: bucket}));
    values.push({labels: {le: '+Inf'}, value: this.count, metricName: bucket});
    values.push({labels: {}, value: this.sum, metricName: `${this.name}_sum`});
    values.push({labels: {}, value: this.count, metricName: `${this.name}_count`});
    return {name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator};
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
