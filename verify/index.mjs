// ES module entry of herald/verify. The implementation lives in index.cjs (one copy for both
// module systems); this file only re-exports its named exports.
import verify from './index.cjs';

export const {WebhookVerificationError, verifyGhostSignature, verifyStandardWebhook} = verify;
