import { createHash } from 'node:crypto';
import type { EpochMs } from '../clock';
import type { XmlValue } from '../wechat/callback-xml';

/**
 * What an authorized account's fans and WeChat send to the message-and-event URL (消息与事件接收URL),
 * published on the stack's EventBridge bus with `source` `wechat-token-service` (as lifecycle events) and
 * `detail-type` {@link WECHAT_MESSAGE_DETAIL_TYPE} or {@link WECHAT_EVENT_DETAIL_TYPE}; the `detail` is a
 * {@link WechatMessageEvent}. docs/events.md ("Messages and events") and the client package's JSON Schema
 * document it for consumers.
 *
 * @see ../../docs/wechat-protocol.md §13
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
 */

/** `detail-type` of a fan's message (`MsgType` other than `event`). */
export const WECHAT_MESSAGE_DETAIL_TYPE = 'wechat.message';
/** `detail-type` of an event (`MsgType` `event`: subscriptions, menu clicks, code audits…). */
export const WECHAT_EVENT_DETAIL_TYPE = 'wechat.event';
export type WechatMessageDetailType =
  | typeof WECHAT_MESSAGE_DETAIL_TYPE
  | typeof WECHAT_EVENT_DETAIL_TYPE;

/** Bumped only for a change a consumer must adapt to; fields are only ever added within a version. */
export const WECHAT_MESSAGE_SCHEMA_VERSION = 1;

/** WeChat's fields of one message, names kept: text as strings, nested elements as objects or arrays. */
export type WechatMessageFields = { [name: string]: XmlValue };

/** The fields every message and event has (checked by `readWechatMessage`). */
export type WechatMessageBody = WechatMessageFields & {
  ToUserName: string;
  FromUserName: string;
  /** Seconds since the epoch, as WeChat writes it. */
  CreateTime: string;
  MsgType: string;
};

/** An event's `detail`. */
export interface WechatMessageEvent {
  /**
   * The same for every delivery of one push (WeChat retries an unanswered one three times, with the same
   * payload): a digest of the authorizer and `MsgId`, or for an event (which has none) of all its fields
   * (`FromUserName` and `CreateTime`, WeChat's deduplication key, and the rest, so that two events of one
   * fan in the same second stay two). Delivery is at least once: consumers drop duplicates by it.
   */
  id: string;
  schemaVersion: typeof WECHAT_MESSAGE_SCHEMA_VERSION;
  componentAppId: string;
  /** The authorized account the push is for: the `$APPID$` of the URL. */
  authorizerAppId: string;
  /** WeChat's `MsgType` (`text`, `image`, `event`, …). */
  msgType: string;
  /** WeChat's `Event` (`subscribe`, `CLICK`, `weapp_audit_success`, …), for events only. */
  event?: string;
  /** WeChat's `CreateTime`, ISO 8601 UTC. */
  time: string;
  /** The decrypted push: every element WeChat sent, names as WeChat spells them. */
  message: WechatMessageBody;
}

/** `value` as JSON with object keys sorted, so that equal payloads digest alike whatever their order. */
function canonical(value: XmlValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] as XmlValue)}`).join(',')}}`;
}

/**
 * The id of a push for `authorizerAppId` (see {@link WechatMessageEvent.id}): `MsgId` identifies a message;
 * an event is identified by everything it says.
 */
export function wechatMessageId(
  componentAppId: string,
  authorizerAppId: string,
  message: WechatMessageFields
): string {
  const msgId = typeof message.MsgId === 'string' ? message.MsgId : undefined;
  const key = msgId ? `MsgId\n${msgId}` : `fields\n${canonical(message)}`;
  return createHash('sha256')
    .update(`${componentAppId}\n${authorizerAppId}\n${key}`)
    .digest('hex')
    .slice(0, 32);
}

/** The bus event of a validated push (see `readWechatMessage`). */
export function wechatMessageEvent(
  componentAppId: string,
  authorizerAppId: string,
  message: WechatMessageBody
): WechatMessageEvent {
  const createTime: EpochMs = Number(message.CreateTime) * 1000;
  return {
    id: wechatMessageId(componentAppId, authorizerAppId, message),
    schemaVersion: WECHAT_MESSAGE_SCHEMA_VERSION,
    componentAppId,
    authorizerAppId,
    msgType: message.MsgType,
    ...(typeof message.Event === 'string' ? { event: message.Event } : {}),
    time: new Date(createTime).toISOString(),
    message,
  };
}

/** The `detail-type` a push is published under. */
export const wechatMessageDetailType = (event: WechatMessageEvent): WechatMessageDetailType =>
  event.msgType === 'event' ? WECHAT_EVENT_DETAIL_TYPE : WECHAT_MESSAGE_DETAIL_TYPE;
