/** Admin API tokens for tests: the same signer `herald listen` uses. */
export {adminToken, type TokenOptions} from '../../src/lib/admin-token.ts';
