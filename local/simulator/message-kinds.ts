import type { AccountType, MessageFields } from './types';

/**
 * The messages and events WeChat sends to the message URL (消息与事件接收URL) for authorized accounts,
 * with the element names of WeChat's docs, below the `ToUserName`, `FromUserName` and `CreateTime` every
 * one of them starts with:
 *
 * - official accounts' standard messages (普通消息):
 *   https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
 * - their event pushes (事件推送):
 *   https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html
 *   and the menu events (VIEW's `MenuId`):
 *   https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Custom_Menu_Push_Events.html
 * - the template message's delivery report (`TEMPLATESENDJOBFINISH`):
 *   https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
 * - mini programs' code audit results (代码审核结果推送):
 *   https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/code/audit_event.html
 * - mini programs' customer-service messages and `user_enter_tempsession`:
 *   https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/customer-message/receive.html
 *
 * Strings go into CDATA, numbers bare, as WeChat writes them. Every message has a `MsgId` unique in the
 * simulator (WeChat's key for spotting a repeat, protocol §11.9); events have none.
 *
 * @see ../../docs/wechat-protocol.md §13
 */

/** What a kind's builder draws on: unique ids, randomness, WeChat's clock. */
export interface MessageDraw {
  /** A `MsgId` no other message of this simulator has (WeChat's are 64-bit numbers). */
  nextMsgId(): number;
  /** Uniform in [0, 1). */
  random(): number;
  /** WeChat's clock in epoch seconds. */
  nowSeconds: number;
}

/** One kind of message or event. */
export interface MessageKind {
  /** The accounts that receive it. */
  readonly accounts: readonly AccountType[];
  /** `MsgType` and the kind's own elements. */
  build(draw: MessageDraw): MessageFields;
}

const OFFICIAL: readonly AccountType[] = ['official_account'];
const MINI: readonly AccountType[] = ['mini_program'];
const BOTH: readonly AccountType[] = ['official_account', 'mini_program'];

const pick = <T>(draw: MessageDraw, items: readonly T[]): T =>
  items[Math.floor(draw.random() * items.length)] as T;
const mediaId = (draw: MessageDraw) =>
  `media_${Math.floor(draw.random() * 2 ** 48).toString(36)}_${draw.nextMsgId().toString(36)}`;
const ticket = (draw: MessageDraw) =>
  `gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL${Math.floor(draw.random() * 1e9)}`;
const event = (name: string, fields: Omit<MessageFields, 'MsgType'> = {}): MessageFields => ({
  MsgType: 'event',
  Event: name,
  ...fields,
});

const TEXTS = ['你好', 'hello', '请问营业时间?', '查询订单 20270115', '🙂'];

/**
 * WeChat's message and event kinds by name (`MsgType` for messages, `Event` for events, with
 * `subscribe_qrscene` for a follow through a QR code with a scene), each with the accounts that get it
 * and a builder of its fields.
 */
export const MESSAGE_KINDS = {
  text: {
    accounts: BOTH,
    build: (draw) => ({ MsgType: 'text', Content: pick(draw, TEXTS), MsgId: draw.nextMsgId() }),
  },
  image: {
    accounts: BOTH,
    build: (draw) => {
      const id = draw.nextMsgId();
      return {
        MsgType: 'image',
        PicUrl: `http://mmbiz.qpic.cn/mmbiz_jpg/sim${id}/0`,
        MediaId: mediaId(draw),
        MsgId: id,
      };
    },
  },
  voice: {
    accounts: OFFICIAL,
    build: (draw) => ({
      MsgType: 'voice',
      MediaId: mediaId(draw),
      Format: pick(draw, ['amr', 'speex']),
      ...(draw.random() < 0.5 ? { Recognition: '你好' } : {}),
      MsgId: draw.nextMsgId(),
    }),
  },
  video: {
    accounts: OFFICIAL,
    build: (draw) => ({
      MsgType: 'video',
      MediaId: mediaId(draw),
      ThumbMediaId: mediaId(draw),
      MsgId: draw.nextMsgId(),
    }),
  },
  shortvideo: {
    accounts: OFFICIAL,
    build: (draw) => ({
      MsgType: 'shortvideo',
      MediaId: mediaId(draw),
      ThumbMediaId: mediaId(draw),
      MsgId: draw.nextMsgId(),
    }),
  },
  location: {
    accounts: OFFICIAL,
    build: (draw) => ({
      MsgType: 'location',
      Location_X: 23.134521,
      Location_Y: 113.358803,
      Scale: 20,
      Label: '广州市天河区',
      MsgId: draw.nextMsgId(),
    }),
  },
  link: {
    accounts: OFFICIAL,
    build: (draw) => ({
      MsgType: 'link',
      Title: '公众平台官网链接',
      Description: '公众平台官网链接',
      Url: 'https://mp.weixin.qq.com/',
      MsgId: draw.nextMsgId(),
    }),
  },
  miniprogrampage: {
    accounts: MINI,
    build: (draw) => ({
      MsgType: 'miniprogrampage',
      Title: '小程序卡片',
      AppId: 'wxsimulated00000001',
      PagePath: 'pages/index/index',
      ThumbUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/sim/0',
      ThumbMediaId: mediaId(draw),
      MsgId: draw.nextMsgId(),
    }),
  },
  subscribe: { accounts: OFFICIAL, build: () => event('subscribe') },
  subscribe_qrscene: {
    accounts: OFFICIAL,
    build: (draw) =>
      event('subscribe', {
        EventKey: `qrscene_${Math.floor(draw.random() * 100_000)}`,
        Ticket: ticket(draw),
      }),
  },
  unsubscribe: { accounts: OFFICIAL, build: () => event('unsubscribe') },
  SCAN: {
    accounts: OFFICIAL,
    build: (draw) =>
      event('SCAN', {
        EventKey: String(Math.floor(draw.random() * 100_000)),
        Ticket: ticket(draw),
      }),
  },
  LOCATION: {
    accounts: OFFICIAL,
    build: () =>
      event('LOCATION', { Latitude: 23.137466, Longitude: 113.352425, Precision: 119.385 }),
  },
  CLICK: {
    accounts: OFFICIAL,
    build: (draw) => event('CLICK', { EventKey: pick(draw, ['V1001_TODAY_MUSIC', 'V1001_GOOD']) }),
  },
  VIEW: {
    accounts: OFFICIAL,
    build: (draw) =>
      event('VIEW', { EventKey: 'https://www.qq.com/', MenuId: Math.floor(draw.random() * 1000) }),
  },
  TEMPLATESENDJOBFINISH: {
    accounts: OFFICIAL,
    build: (draw) =>
      event('TEMPLATESENDJOBFINISH', {
        MsgID: draw.nextMsgId(),
        Status: pick(draw, ['success', 'failed:user block', 'failed: system failed']),
      }),
  },
  user_enter_tempsession: {
    accounts: MINI,
    build: () => event('user_enter_tempsession', { SessionFrom: 'sessionFrom' }),
  },
  weapp_audit_success: {
    accounts: MINI,
    build: (draw) => event('weapp_audit_success', { SuccTime: draw.nowSeconds }),
  },
  weapp_audit_fail: {
    accounts: MINI,
    build: (draw) =>
      event('weapp_audit_fail', {
        Reason: '1:账号信息不符合规范:<br>(1):包含色情因素<br>',
        FailTime: draw.nowSeconds,
        ScreenShot: `${mediaId(draw)}|${mediaId(draw)}`,
      }),
  },
  weapp_audit_delay: {
    accounts: MINI,
    build: (draw) =>
      event('weapp_audit_delay', {
        Reason:
          '为了更好地服务小程序,您的服务商正在进行提审系统的优化,可能会导致审核时效的增长,请耐心等待',
        DelayTime: draw.nowSeconds,
      }),
  },
} as const satisfies Record<string, MessageKind>;

export type MessageKindName = keyof typeof MESSAGE_KINDS;

/** The events a fan's own act causes; with any message, they open the customer-service window. */
const FAN_EVENTS: ReadonlySet<string> = new Set([
  'subscribe',
  'SCAN',
  'CLICK',
  'VIEW',
  'user_enter_tempsession',
]);

/** The events WeChat sends on its own behalf, from a system account rather than a fan. */
const SYSTEM_EVENTS: ReadonlySet<string> = new Set([
  'weapp_audit_success',
  'weapp_audit_fail',
  'weapp_audit_delay',
]);

/**
 * Whether the payload is a fan's own act, after which the account may send that fan customer-service
 * messages for 48 hours (a message, a follow, a scan, a menu click; not the location WeChat reports by
 * itself, an unfollow or a delivery report).
 *
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
 */
export function opensServiceWindow(fields: MessageFields): boolean {
  return fields.MsgType !== 'event' || FAN_EVENTS.has(String(fields.Event));
}

/** Whether WeChat itself sends it (a code audit result): `FromUserName` is a system account. */
export function fromSystemAccount(fields: MessageFields): boolean {
  return fields.MsgType === 'event' && SYSTEM_EVENTS.has(String(fields.Event));
}

/** The kinds an account of `type` receives. */
export function kindsFor(type: AccountType): MessageKindName[] {
  return (Object.keys(MESSAGE_KINDS) as MessageKindName[]).filter((name) =>
    (MESSAGE_KINDS[name].accounts as readonly AccountType[]).includes(type)
  );
}
