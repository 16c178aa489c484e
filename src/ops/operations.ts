/**
 * The operations endpoints outside the Admin API (SPEC §3.1, §11): GET /health and GET /metrics.
 * Neither needs authentication; neither reveals anything but counts.
 */
import {sql} from 'kysely';
import type {FastifyInstance} from 'fastify';
import type {Database} from '../db/database.ts';
import type {Clock} from '../lib/clock.ts';
import type {Metrics} from '../delivery/metrics.ts';

/** What the operations routes need. */
export interface OperationsDeps {
  readonly database: Database;
  readonly clock: Clock;
  readonly metrics: Metrics;
}

/** Registers GET /health and GET /metrics on the root of `app`. */
export function registerOperationsRoutes(app: FastifyInstance, deps: OperationsDeps): void {
  app.get('/health', async (_request, reply) => {
    const db = deps.database.db;
    try {
      await sql`select 1`.execute(db);
    } catch {
      return reply.code(503).header('cache-control', 'no-store').send({status: 'error', database: 'unreachable'});
    }
    try {
      const now = deps.clock.now().toISOString();
      const row = await db
        .selectFrom('deliveries')
        .select((eb) => [
          eb.fn.countAll().as('pending'),
          eb.fn.sum(eb.case().when('next_attempt_at', '<=', now).then(1).else(0).end()).as('due'),
        ])
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return reply
        .header('cache-control', 'no-store')
        .send({status: 'ok', database: 'ok', queue: {pending: Number(row?.pending ?? 0), due: Number(row?.due ?? 0)}});
    } catch {
      // select 1 passed but the tables did not answer: the database is not usable.
      return reply.code(503).header('cache-control', 'no-store').send({status: 'error', database: 'unreachable'});
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.render();
    return reply.header('content-type', deps.metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}
