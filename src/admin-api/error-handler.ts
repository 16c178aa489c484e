/**
 * The one error mapping: every failure leaving the HTTP layer is rendered as Ghost's
 * `{"errors":[…]}` envelope. Client mistakes never become 500s; real faults are logged with
 * their cause and answered with a generic message.
 */
import {randomUUID} from 'node:crypto';
import type {FastifyError, FastifyReply, FastifyRequest} from 'fastify';
import {HeraldError} from '../lib/errors.ts';

/** One entry of Ghost's error envelope. */
export interface GhostErrorBody {
  message: string;
  context: string | null;
  type: string;
  details: unknown;
  property: string | null;
  help: string | null;
  code: string | null;
  id: string;
  ghostErrorCode: string | null;
}

/** Renders a HeraldError as Ghost's envelope entry. */
export function toGhostError(error: HeraldError): GhostErrorBody {
  return {
    message: error.message,
    context: error.context,
    type: error.type,
    details: error.details,
    property: error.property,
    help: error.help,
    code: error.code,
    id: randomUUID(),
    ghostErrorCode: null,
  };
}

/** Maps anything thrown into a HeraldError (Fastify's own client errors included). */
export function normaliseError(error: unknown): HeraldError {
  if (error instanceof HeraldError) return error;
  const fastifyError = error as Partial<FastifyError> & {validation?: Array<{instancePath?: string; params?: Record<string, unknown>; message?: string}>};
  const code = fastifyError?.code;
  if (fastifyError?.validation) {
    const first = fastifyError.validation[0];
    const property = first?.instancePath?.split('/').filter(Boolean).pop() ?? (first?.params?.missingProperty as string | undefined) ?? null;
    return new HeraldError('Validation', {
      message: property ? `Validation failed for ${property}.` : 'Validation error.',
      context: fastifyError.message ?? null,
      property,
      cause: error,
    });
  }
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HeraldError('RequestEntityTooLarge', {context: 'The request body is larger than the configured limit.', cause: error});
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HeraldError('UnsupportedMediaType', {context: 'Send JSON with Content-Type: application/json.', cause: error});
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HeraldError('BadRequest', {message: 'Malformed JSON in request body.', context: fastifyError.message ?? null, code: 'INVALID_JSON', cause: error});
  }
  const status = fastifyError?.statusCode;
  // Only a parser's 400 is the client's malformed JSON; a bare SyntaxError is a server fault
  // (say, JSON.parse of a stored column) and must be a logged 500, not a silent 400.
  if (status === 400 && (error instanceof SyntaxError || /JSON/i.test(fastifyError?.message ?? ''))) {
    return new HeraldError('BadRequest', {message: 'Malformed JSON in request body.', context: fastifyError?.message ?? null, code: 'INVALID_JSON', cause: error});
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const kind = status === 401 ? 'Unauthorized' : status === 403 ? 'NoPermission' : status === 404 ? 'NotFound' : status === 405 ? 'MethodNotAllowed' : status === 413 ? 'RequestEntityTooLarge' : status === 415 ? 'UnsupportedMediaType' : status === 429 ? 'TooManyRequests' : 'BadRequest';
    return new HeraldError(kind, {context: fastifyError?.message ?? null, cause: error});
  }
  return new HeraldError('Internal', {cause: error});
}

/** Fastify error handler: logs faults, answers with Ghost's envelope. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const herald = normaliseError(error);
  if (herald.status >= 500) {
    request.log.error({err: error}, 'request failed');
  }
  void reply.status(herald.status).type('application/json; charset=utf-8').send({errors: [toGhostError(herald)]});
}

/** Fastify not-found handler: Ghost's 404 envelope for unknown routes. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const error = new HeraldError('NotFound', {message: 'Resource not found', context: `No route for ${request.method} ${request.url.split('?')[0]}.`});
  void reply.status(404).type('application/json; charset=utf-8').send({errors: [toGhostError(error)]});
}
