/**
 * `@wechat-token-service/client`: WeChat access tokens for your services, from the token service's
 * get-token Lambda, cached and retried the way WeChat needs.
 *
 * @see ../../README.md#callers
 */
export {
  type ClientErrorCode,
  type ServiceErrorCode,
  type TokenErrorCode,
  TokenServiceError,
} from './errors.js';
export type { GetTokenRequest } from './invoke.js';
export {
  createTokenClient,
  TOKEN_REJECTED_ERRCODES,
  type TokenClient,
  type TokenClientOptions,
} from './token-client.js';
