/**
 * `@wechat-token-service/client`: WeChat access tokens and tickets for your services, from the token
 * service's get-token Lambda, cached and retried the way WeChat needs; and WeChat API calls through its
 * call-wechat Lambda, which adds the token itself; and the types of the WeChat messages and events it
 * publishes on its event bus.
 *
 * @see ../../docs/callers.md#callers
 * @see ../../docs/events.md#messages-and-events
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
export * from './lifecycle-events.js';
export {
  type ClickEvent,
  type ImageMessage,
  isWechatEvent,
  isWechatMessage,
  type LinkMessage,
  type LocationEvent,
  type LocationMessage,
  type OtherWechatMessage,
  type ScanEvent,
  type ShortVideoMessage,
  type SubscribeEvent,
  type TemplateSendJobFinishEvent,
  type TextMessage,
  type UnsubscribeEvent,
  type VideoMessage,
  type ViewEvent,
  type VoiceMessage,
  WECHAT_EVENT_REQUIRED_FIELDS,
  WECHAT_MESSAGE_REQUIRED_FIELDS,
  type WeappAuditDelayEvent,
  type WeappAuditFailEvent,
  type WeappAuditSuccessEvent,
  type WechatBusEvent,
  type WechatEventCommon,
  type WechatEventKinds,
  type WechatMessage,
  type WechatMessageCommon,
  type WechatMessageDetailType,
  type WechatMessageEvent,
  type WechatMessageFields,
  type WechatMessageKinds,
  type WechatXmlValue,
} from './messages.js';
export {
  createTokenClient,
  TOKEN_REJECTED_ERRCODES,
  type TokenClient,
  type TokenClientOptions,
} from './token-client.js';
