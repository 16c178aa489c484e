// Compile-time check (run by `tsc --noEmit`, not by the test runner): a CommonJS TypeScript
// receiver gets the same types through the "require" condition of herald/verify
// (resolved to verify/index.d.cts).
import type {WebhookVerificationErrorCode} from 'herald/verify';
import type {IncomingHttpHeaders} from 'node:http';

declare const verify: typeof import('herald/verify');

function handle(raw: Buffer, headers: IncomingHttpHeaders, secret: string): string {
  try {
    const ghost = verify.verifyGhostSignature<{event?: string}>(raw, headers['x-ghost-signature'], secret, {toleranceMs: 60_000});
    const standard: unknown = verify.verifyStandardWebhook(raw, headers, secret, {toleranceS: 60, now: new Date()});
    return `${ghost.event ?? ''} ${typeof standard}`;
  } catch (error) {
    if (error instanceof verify.WebhookVerificationError) {
      const code: WebhookVerificationErrorCode = error.code;
      return code;
    }
    throw error;
  }
}

// @ts-expect-error toleranceS belongs to verifyStandardWebhook
verify.verifyGhostSignature('{}', undefined, 's', {toleranceS: 1});
void handle;
