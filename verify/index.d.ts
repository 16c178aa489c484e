/**
 * Types of `herald/verify` for ES modules (index.mjs). The declarations, with their
 * documentation, are in index.d.cts, the types of the one implementation (index.cjs).
 */
export {WebhookVerificationError, verifyGhostSignature, verifyStandardWebhook} from './index.cjs';
export type {
  HeadersLike,
  HeadersRecord,
  HeaderValue,
  RawBody,
  VerifyGhostSignatureOptions,
  VerifyStandardWebhookOptions,
  WebhookVerificationErrorCode,
} from './index.cjs';
