/**
 * Herald's closed set of error kinds. Every layer throws `HeraldError`; one handler
 * (admin-api/error-handler.ts) renders it as Ghost's `{"errors":[…]}` envelope.
 */

/** The error kinds, with the HTTP status and Ghost `type` each renders as. */
export const ERROR_KINDS = {
  BadRequest: {status: 400, type: 'BadRequestError', message: 'Request not understood error, cannot process request.'},
  Unauthorized: {status: 401, type: 'UnauthorizedError', message: 'You are not authorised to make this request.'},
  NoPermission: {status: 403, type: 'NoPermissionError', message: 'You do not have permission to perform this request.'},
  NotFound: {status: 404, type: 'NotFoundError', message: 'Resource not found error, cannot read resource.'},
  MethodNotAllowed: {status: 405, type: 'MethodNotAllowedError', message: 'Method not allowed for resource.'},
  UpdateCollision: {status: 409, type: 'UpdateCollisionError', message: 'Saving failed! Someone else is editing this post.'},
  RequestEntityTooLarge: {status: 413, type: 'RequestEntityTooLargeError', message: 'Request was too big for the server to handle.'},
  UnsupportedMediaType: {status: 415, type: 'UnsupportedMediaTypeError', message: 'The media in the request is not supported by the server.'},
  Validation: {status: 422, type: 'ValidationError', message: 'Validation error, cannot save resource.'},
  TooManyRequests: {status: 429, type: 'TooManyRequestsError', message: 'Too many requests.'},
  Internal: {status: 500, type: 'InternalServerError', message: 'The server has encountered an error.'},
  NotImplemented: {status: 501, type: 'NotImplementedError', message: 'The server does not support the functionality required to fulfill the request.'},
  ServiceUnavailable: {status: 503, type: 'ServiceUnavailableError', message: 'The server is temporarily unavailable.'},
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** Options every error may carry; all optional, all rendered into Ghost's envelope. */
export interface ErrorOptions {
  readonly message?: string;
  readonly context?: string | null;
  readonly help?: string | null;
  readonly property?: string | null;
  readonly details?: unknown;
  /** A stable machine-readable code, e.g. `INVALID_JWT`. Tests assert on this, not on text. */
  readonly code?: string | null;
  readonly cause?: unknown;
}

/** An error with a kind from ERROR_KINDS; anything else reaching the handler is a 500. */
export class HeraldError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly type: string;
  readonly context: string | null;
  readonly help: string | null;
  readonly property: string | null;
  readonly details: unknown;
  readonly code: string | null;

  constructor(kind: ErrorKind, options: ErrorOptions = {}) {
    const def = ERROR_KINDS[kind];
    super(options.message ?? def.message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = def.type;
    this.kind = kind;
    this.status = def.status;
    this.type = def.type;
    this.context = options.context ?? null;
    this.help = options.help ?? null;
    this.property = options.property ?? null;
    this.details = options.details ?? null;
    this.code = options.code ?? null;
  }
}

/** Shorthand for the most common failure: a 422 naming the offending property. */
export function validationError(property: string, context?: string, message?: string): HeraldError {
  return new HeraldError('Validation', {
    message: message ?? `Validation failed for ${property}.`,
    context: context ?? null,
    property,
  });
}

/** A 404 for a resource, phrased as Ghost does. */
export function notFound(resource: string, action = 'read'): HeraldError {
  return new HeraldError('NotFound', {
    message: `Resource not found error, cannot ${action} ${resource}.`,
    context: `${capitalise(resource)} not found.`,
  });
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
