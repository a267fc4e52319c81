/**
 * `@wechat-token-service/client`: WeChat access tokens and tickets for your services, from the token
 * service's get-token Lambda, cached and retried the way WeChat needs; and WeChat API calls through its
 * call-wechat Lambda, which adds the token itself.
 *
 * @see ../../README.md#callers
 */
export type {
  CallWeChatRequest,
  WeChatApi,
  WeChatCaller,
  WeChatQuery,
  WeChatResponse,
} from './call-wechat.js';
export {
  type ClientErrorCode,
  type ServiceErrorCode,
  type TokenErrorCode,
  TokenServiceError,
} from './errors.js';
export type { GetTokenRequest, TicketKind } from './invoke.js';
export { type JsapiConfig, type JsapiConfigOptions, jsapiSignature } from './jsapi.js';
export {
  createTokenClient,
  TOKEN_REJECTED_ERRCODES,
  type TokenClient,
  type TokenClientOptions,
} from './token-client.js';
