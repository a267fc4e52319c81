/**
 * The messages and events of the accounts that authorized the platform (消息与事件), as the token service
 * publishes them on its EventBridge bus: `source` `wechat-token-service`, `detail-type` `wechat.message`
 * (a fan's message) or `wechat.event` (`MsgType` `event`), and a {@link WechatMessageEvent} as `detail`,
 * whose `message` holds WeChat's decrypted fields with WeChat's names. Every leaf value is a string, numbers
 * included (`"1800000000"`), as the service's XML parser keeps text; nested elements are objects, repeated
 * ones arrays. The JSON Schema `@wechat-token-service/client/schemas/wechat-message-event.schema.json`
 * checks the same at run time.
 *
 * @see ../../docs/events.md#messages-and-events
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/code/audit_event.html
 */

/** `detail-type` of a fan's message (`wechat.message`) or of an event (`wechat.event`). */
export type WechatMessageDetailType = 'wechat.message' | 'wechat.event';

/** An element of a push: text, nested elements by name, or a repeated element's values. */
export type WechatXmlValue = string | { [name: string]: WechatXmlValue } | WechatXmlValue[];

/** A push's fields by WeChat's element names, whatever its kind. */
export type WechatMessageFields = { [name: string]: WechatXmlValue };

/**
 * What an EventBridge rule's target (a Lambda, an SQS queue's message body) receives. EventBridge adds
 * `version`, `id` (different for each delivery: deduplicate by `detail.id`), `account`, `region` and
 * `resources`; the sandbox's `GET /local/events` shows the four fields the service sets.
 */
export interface WechatBusEvent<D = WechatMessageEvent> {
  source: 'wechat-token-service';
  'detail-type': D extends WechatMessageEvent<unknown> ? WechatMessageDetailType : string;
  /** `detail.time` (EventBridge writes it to the second). */
  time: string;
  detail: D;
  version?: string;
  id?: string;
  account?: string;
  region?: string;
  resources?: string[];
}

/**
 * The `detail` of a `wechat.message` or `wechat.event` (`schemaVersion` 1: fields may be added, never
 * changed or removed within a version). `M` is the type of `message`; narrow it with
 * {@link isWechatMessage} or {@link isWechatEvent}.
 */
export interface WechatMessageEvent<M = WechatMessage> {
  /**
   * The same for every delivery of one push: a digest of the platform, the authorizer and `MsgId`, or for
   * an event (which has none) of `FromUserName`, `CreateTime` and `Event`, WeChat's own deduplication
   * rule. Delivery is at least once: drop the events whose `id` you have seen.
   */
  id: string;
  schemaVersion: 1;
  /** The platform's (component) appid. */
  componentAppId: string;
  /** The authorized account the push is for (the `$APPID$` of the message URL). */
  authorizerAppId: string;
  /** `message.MsgType`: `text`, `image`, …, `event`. */
  msgType: string;
  /** `message.Event` (`subscribe`, `CLICK`, `weapp_audit_success`, …), for events only. */
  event?: string;
  /** `message.CreateTime`, ISO 8601 UTC. */
  time: string;
  /** The decrypted push: every element WeChat sent, names as WeChat spells them. */
  message: M;
}

/** The fields every message and event has. */
export type WechatMessageCommon = {
  /** The account's original id (原始ID, `gh_…`). */
  ToUserName: string;
  /** The fan's OpenID, or WeChat's system account for code audit events. */
  FromUserName: string;
  /** Epoch seconds, e.g. `"1800000000"`. */
  CreateTime: string;
  MsgType: string;
};

/** The fields every event has. */
export type WechatEventCommon<E extends string> = WechatMessageCommon & {
  MsgType: 'event';
  Event: E;
};

/** 文本消息. */
export type TextMessage = WechatMessageCommon & { MsgType: 'text'; Content: string; MsgId: string };
/** 图片消息. */
export type ImageMessage = WechatMessageCommon & {
  MsgType: 'image';
  PicUrl: string;
  MediaId: string;
  MsgId: string;
};
/** 语音消息; `Recognition` only with speech recognition switched on. */
export type VoiceMessage = WechatMessageCommon & {
  MsgType: 'voice';
  MediaId: string;
  /** `amr`, `speex`, … */
  Format: string;
  Recognition?: string;
  MsgId: string;
};
/** 视频消息. */
export type VideoMessage = WechatMessageCommon & {
  MsgType: 'video';
  MediaId: string;
  ThumbMediaId: string;
  MsgId: string;
};
/** 小视频消息. */
export type ShortVideoMessage = WechatMessageCommon & {
  MsgType: 'shortvideo';
  MediaId: string;
  ThumbMediaId: string;
  MsgId: string;
};
/** 地理位置消息: latitude (`Location_X`), longitude (`Location_Y`), map zoom, place name. */
export type LocationMessage = WechatMessageCommon & {
  MsgType: 'location';
  Location_X: string;
  Location_Y: string;
  Scale: string;
  Label: string;
  MsgId: string;
};
/** 链接消息. */
export type LinkMessage = WechatMessageCommon & {
  MsgType: 'link';
  Title: string;
  Description: string;
  Url: string;
  MsgId: string;
};

/** 关注: `EventKey` (`qrscene_…`) and `Ticket` when the fan followed through a QR code with a scene. */
export type SubscribeEvent = WechatEventCommon<'subscribe'> & {
  EventKey?: string;
  Ticket?: string;
};
/** 取消关注. */
export type UnsubscribeEvent = WechatEventCommon<'unsubscribe'> & {
  EventKey?: string;
  Ticket?: string;
};
/** A follower scanned a QR code with a scene: `EventKey` is the scene. */
export type ScanEvent = WechatEventCommon<'SCAN'> & { EventKey: string; Ticket: string };
/** 上报地理位置. */
export type LocationEvent = WechatEventCommon<'LOCATION'> & {
  Latitude: string;
  Longitude: string;
  Precision: string;
};
/** A menu button of type `click`: `EventKey` is the button's key. */
export type ClickEvent = WechatEventCommon<'CLICK'> & { EventKey: string };
/** A menu link was followed: `EventKey` is the URL. */
export type ViewEvent = WechatEventCommon<'VIEW'> & { EventKey: string; MenuId?: string };
/** A template message's delivery report (`Status`: `success`, `failed:user block`, …). */
export type TemplateSendJobFinishEvent = WechatEventCommon<'TEMPLATESENDJOBFINISH'> & {
  MsgID: string;
  Status: string;
};
/** 代码审核通过 (mini programs). */
export type WeappAuditSuccessEvent = WechatEventCommon<'weapp_audit_success'> & {
  /** Epoch seconds. */
  SuccTime: string;
};
/** 代码审核不通过: `ScreenShot` is media ids joined by `|`. */
export type WeappAuditFailEvent = WechatEventCommon<'weapp_audit_fail'> & {
  Reason: string;
  /** Epoch seconds. */
  FailTime: string;
  ScreenShot?: string;
};
/** 代码审核延后. */
export type WeappAuditDelayEvent = WechatEventCommon<'weapp_audit_delay'> & {
  Reason: string;
  /** Epoch seconds. */
  DelayTime: string;
};

/** The typed messages by `MsgType`. */
export interface WechatMessageKinds {
  text: TextMessage;
  image: ImageMessage;
  voice: VoiceMessage;
  video: VideoMessage;
  shortvideo: ShortVideoMessage;
  location: LocationMessage;
  link: LinkMessage;
}

/** The typed events by `Event`. */
export interface WechatEventKinds {
  subscribe: SubscribeEvent;
  unsubscribe: UnsubscribeEvent;
  SCAN: ScanEvent;
  LOCATION: LocationEvent;
  CLICK: ClickEvent;
  VIEW: ViewEvent;
  TEMPLATESENDJOBFINISH: TemplateSendJobFinishEvent;
  weapp_audit_success: WeappAuditSuccessEvent;
  weapp_audit_fail: WeappAuditFailEvent;
  weapp_audit_delay: WeappAuditDelayEvent;
}

/**
 * Any other kind (WeChat adds kinds: mini programs' customer-service messages, menu photo and scan events,
 * …): the common fields, and the rest by name. Known kinds may carry fields this package does not name
 * yet too: read them as `(detail.message as WechatMessageFields).Name`.
 */
export type OtherWechatMessage = WechatMessageCommon & { Event?: string } & WechatMessageFields;

/** A message or event of any kind. */
export type WechatMessage =
  | WechatMessageKinds[keyof WechatMessageKinds]
  | WechatEventKinds[keyof WechatEventKinds]
  | OtherWechatMessage;

/** The text fields each typed kind must have: what the guards check, and the JSON Schema requires. */
export const WECHAT_MESSAGE_REQUIRED_FIELDS: {
  readonly [K in keyof WechatMessageKinds]: readonly string[];
} = {
  text: ['Content', 'MsgId'],
  image: ['PicUrl', 'MediaId', 'MsgId'],
  voice: ['MediaId', 'Format', 'MsgId'],
  video: ['MediaId', 'ThumbMediaId', 'MsgId'],
  shortvideo: ['MediaId', 'ThumbMediaId', 'MsgId'],
  location: ['Location_X', 'Location_Y', 'Scale', 'Label', 'MsgId'],
  link: ['Title', 'Description', 'Url', 'MsgId'],
};

/** The text fields each typed event must have, besides `Event`. */
export const WECHAT_EVENT_REQUIRED_FIELDS: {
  readonly [K in keyof WechatEventKinds]: readonly string[];
} = {
  subscribe: [],
  unsubscribe: [],
  SCAN: ['EventKey', 'Ticket'],
  LOCATION: ['Latitude', 'Longitude', 'Precision'],
  CLICK: ['EventKey'],
  VIEW: ['EventKey'],
  TEMPLATESENDJOBFINISH: ['MsgID', 'Status'],
  weapp_audit_success: ['SuccTime'],
  weapp_audit_fail: ['Reason', 'FailTime'],
  weapp_audit_delay: ['Reason', 'DelayTime'],
};

const COMMON_FIELDS = ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType'];

function isKind(
  detail: WechatMessageEvent<unknown>,
  kind: { msgType: string; event?: string },
  names: readonly string[]
): boolean {
  if (typeof detail.message !== 'object' || detail.message === null) return false;
  const fields = detail.message as Record<string, unknown>;
  return (
    detail.msgType === kind.msgType &&
    detail.event === kind.event &&
    fields.MsgType === kind.msgType &&
    fields.Event === kind.event &&
    [...COMMON_FIELDS, ...names].every((name) => typeof fields[name] === 'string')
  );
}

/**
 * Whether `detail` is a fan's message of `msgType` with that kind's fields, narrowing `detail.message`:
 * `if (isWechatMessage(detail, 'text')) reply(detail.message.Content)`.
 */
export function isWechatMessage<K extends keyof WechatMessageKinds>(
  detail: WechatMessageEvent<unknown>,
  msgType: K
): detail is WechatMessageEvent<WechatMessageKinds[K]> {
  return isKind(detail, { msgType }, WECHAT_MESSAGE_REQUIRED_FIELDS[msgType]);
}

/**
 * Whether `detail` is the event `event` with that kind's fields, narrowing `detail.message`:
 * `if (isWechatEvent(detail, 'weapp_audit_success')) release(detail.authorizerAppId)`.
 */
export function isWechatEvent<K extends keyof WechatEventKinds>(
  detail: WechatMessageEvent<unknown>,
  event: K
): detail is WechatMessageEvent<WechatEventKinds[K]> {
  return isKind(detail, { msgType: 'event', event }, WECHAT_EVENT_REQUIRED_FIELDS[event]);
}
