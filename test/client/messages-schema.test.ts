import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { describe, expect, it } from 'vitest';
import {
  type WechatMessage as ClientWechatMessage,
  type WechatMessageEvent as ClientWechatMessageEvent,
  isWechatEvent,
  isWechatMessage,
  WECHAT_EVENT_REQUIRED_FIELDS,
  WECHAT_MESSAGE_REQUIRED_FIELDS,
  type WechatBusEvent,
  type WechatEventKinds,
  type WechatMessageDetailType,
  type WechatMessageKinds,
} from '../../client/src/index';
import {
  type WechatMessageEvent as ServiceWechatMessageEvent,
  wechatMessageDetailType,
  wechatMessageEvent,
} from '../../shared/events/wechat-message-event';
import {
  readWechatMessage,
  type WechatMessage as ServiceWechatMessage,
} from '../../shared/messages/read-wechat-message';
import { ROOT } from '../e2e/sandbox-process';
import { AUTHORIZER_APPID, COMPONENT_APPID } from '../support/test-ids';

const SCHEMA = JSON.parse(
  readFileSync(join(ROOT, 'client', 'schemas', 'wechat-message-event.schema.json'), 'utf8')
);
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(SCHEMA);

const OFFICIAL = '<ToUserName><![CDATA[gh_3c884a361561]]></ToUserName>';
const MINI = '<ToUserName><![CDATA[gh_8dad206e9538]]></ToUserName>';
const FAN = '<FromUserName><![CDATA[oMgHVjngRipVsoxg6TuX3vz6glDg]]></FromUserName>';
const AUDITOR = '<FromUserName><![CDATA[o4_t15ZbZgzLT1AHE1i1TJB5ns3A]]></FromUserName>';
const AT = '<CreateTime>1800000000</CreateTime>';

/** WeChat's pushes, decrypted, as its pages show them: strings in CDATA, numbers bare. */
const MESSAGES: Record<keyof WechatMessageKinds, string> = {
  text: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>24786315830201827</MsgId></xml>`,
  image: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz.qpic.cn/mmbiz_jpg/abc/0]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId><MsgId>24786315830201828</MsgId></xml>`,
  voice: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[腾讯微信团队]]></Recognition><MsgId>24786315830201829</MsgId></xml>`,
  video: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[video]]></MsgType><MediaId><![CDATA[media_id]]></MediaId><ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId><MsgId>24786315830201830</MsgId></xml>`,
  shortvideo: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[shortvideo]]></MsgType><MediaId><![CDATA[media_id]]></MediaId><ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId><MsgId>24786315830201831</MsgId></xml>`,
  location: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>24786315830201832</MsgId></xml>`,
  link: `<xml>${OFFICIAL}${FAN}${AT}<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[公众平台官网链接]]></Title><Description><![CDATA[公众平台官网链接]]></Description><Url><![CDATA[url]]></Url><MsgId>24786315830201833</MsgId></xml>`,
};

const event = (name: string, fields = '', to = OFFICIAL, from = FAN) =>
  `<xml>${to}${from}${AT}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[${name}]]></Event>${fields}</xml>`;

const EVENTS: Record<keyof WechatEventKinds, string> = {
  subscribe: event('subscribe', '<EventKey><![CDATA[]]></EventKey>'),
  unsubscribe: event('unsubscribe', '<EventKey><![CDATA[]]></EventKey>'),
  SCAN: event(
    'SCAN',
    '<EventKey><![CDATA[123123]]></EventKey><Ticket><![CDATA[gQH47joAAAAAAAAAASxodHRwOi8v]]></Ticket>'
  ),
  LOCATION: event(
    'LOCATION',
    '<Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>'
  ),
  CLICK: event('CLICK', '<EventKey><![CDATA[V1001_TODAY_MUSIC]]></EventKey>'),
  VIEW: event(
    'VIEW',
    '<EventKey><![CDATA[https://www.qq.com/]]></EventKey><MenuId>208379533</MenuId>'
  ),
  TEMPLATESENDJOBFINISH: event(
    'TEMPLATESENDJOBFINISH',
    '<MsgID>200163836</MsgID><Status><![CDATA[success]]></Status>'
  ),
  weapp_audit_success: event(
    'weapp_audit_success',
    '<SuccTime>1800000000</SuccTime>',
    MINI,
    AUDITOR
  ),
  weapp_audit_fail: event(
    'weapp_audit_fail',
    '<Reason><![CDATA[1:账号信息不符合规范:<br>(1):包含色情因素<br>]]></Reason><FailTime>1800000000</FailTime><ScreenShot>xxx|yyy|zzz</ScreenShot>',
    MINI,
    AUDITOR
  ),
  weapp_audit_delay: event(
    'weapp_audit_delay',
    '<Reason><![CDATA[为了更好的服务小程序，您的服务商正在进行提审系统的优化，可能会导致审核时效的增长，请耐心等待]]></Reason><DelayTime>1800000000</DelayTime>',
    MINI,
    AUDITOR
  ),
};

/** Kinds the client does not name: WeChat adds kinds, and nests elements in some. */
const OTHER_KINDS: Record<string, string> = {
  miniprogrampage: `<xml>${MINI}${FAN}${AT}<MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>24786315830201834</MsgId><Title><![CDATA[小程序卡片]]></Title><AppId><![CDATA[wxabcdef0123456789]]></AppId><PagePath><![CDATA[pages/index/index]]></PagePath><ThumbUrl><![CDATA[http://mmbiz.qpic.cn/thumb]]></ThumbUrl><ThumbMediaId><![CDATA[thumb_media_id]]></ThumbMediaId></xml>`,
  subscribe_with_scene: event(
    'subscribe',
    '<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[gQH47joAAAAAAAAAASxodHRwOi8v]]></Ticket>'
  ),
  pic_sysphoto: event(
    'pic_sysphoto',
    `<EventKey><![CDATA[6]]></EventKey>
     <SendPicsInfo><Count>2</Count>
       <PicList>
         <item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum></item>
         <item><PicMd5Sum><![CDATA[2c6f8d34c6cf86793b64f8c7e274f296]]></PicMd5Sum></item>
       </PicList>
     </SendPicsInfo>`
  ),
};

/** What the service publishes for `xml`: the same two calls as the message intake. */
const published = (xml: string) =>
  wechatMessageEvent(COMPONENT_APPID, AUTHORIZER_APPID, readWechatMessage(xml));

function errorsOf(detail: unknown): string[] {
  return validate(detail)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

const clone = <T>(value: T): T => structuredClone(value);

describe('the wechat-message-event JSON Schema', () => {
  it.each(Object.entries(MESSAGES))('accepts a published %s message', (msgType, xml) => {
    const detail = published(xml);

    expect(errorsOf(detail)).toEqual([]);
    expect(detail).toMatchObject({ msgType, message: { MsgType: msgType } });
    expect(isWechatMessage(detail, msgType as keyof WechatMessageKinds)).toBe(true);
  });

  it.each(Object.entries(EVENTS))('accepts a published %s event', (name, xml) => {
    const detail = published(xml);

    expect(errorsOf(detail)).toEqual([]);
    expect(detail).toMatchObject({ msgType: 'event', event: name, message: { Event: name } });
    expect(isWechatEvent(detail, name as keyof WechatEventKinds)).toBe(true);
  });

  it.each(Object.entries(OTHER_KINDS))('accepts %s, a kind it does not type', (_, xml) => {
    expect(errorsOf(published(xml))).toEqual([]);
  });

  it('keeps nested elements as objects and repeated ones as arrays, all text', () => {
    const detail = published(OTHER_KINDS.pic_sysphoto as string);

    expect(detail.message.SendPicsInfo).toEqual({
      Count: '2',
      PicList: {
        item: [
          { PicMd5Sum: '1b5f7c23b5bf75682a53e7b6d163e185' },
          { PicMd5Sum: '2c6f8d34c6cf86793b64f8c7e274f296' },
        ],
      },
    });
    expect(isWechatEvent(detail, 'subscribe')).toBe(false);
  });

  it('keeps bare numbers as strings, which the typed kinds and the schema expect', () => {
    const detail = published(MESSAGES.location);

    expect(detail.message).toMatchObject({
      CreateTime: '1800000000',
      Location_X: '23.134521',
      Scale: '20',
      MsgId: '24786315830201832',
    });
    expect(detail.time).toBe('2027-01-15T08:00:00.000Z');
  });

  it('refuses an event without authorizerAppId', () => {
    const detail: Partial<ServiceWechatMessageEvent> = published(MESSAGES.text);
    delete detail.authorizerAppId;

    expect(errorsOf(detail)).toContain(" must have required property 'authorizerAppId'");
  });

  it('refuses another schemaVersion', () => {
    const detail = { ...published(MESSAGES.text), schemaVersion: 2 };

    expect(errorsOf(detail)).toContain('/schemaVersion must be equal to constant');
  });

  it('refuses a text message without Content, and the guard does not narrow it', () => {
    const detail = clone(published(MESSAGES.text));
    delete detail.message.Content;

    expect(errorsOf(detail)).toContain("/message must have required property 'Content'");
    expect(isWechatMessage(detail, 'text')).toBe(false);
  });

  it('refuses a weapp_audit_fail without Reason, and the guard does not narrow it', () => {
    const detail = clone(published(EVENTS.weapp_audit_fail));
    delete detail.message.Reason;

    expect(errorsOf(detail)).toContain("/message must have required property 'Reason'");
    expect(isWechatEvent(detail, 'weapp_audit_fail')).toBe(false);
  });

  it('refuses a number where WeChat text is kept, and a message without FromUserName', () => {
    const numbered = clone(published(EVENTS.weapp_audit_success));
    numbered.message.SuccTime = 1800000000 as unknown as string;
    const { FromUserName: _, ...anonymous } = published(
      OTHER_KINDS.miniprogrampage as string
    ).message;

    expect(errorsOf(numbered)).toContain('/message/SuccTime must be string');
    expect(errorsOf({ ...published(MESSAGES.text), message: anonymous })).toContain(
      "/message must have required property 'FromUserName'"
    );
  });

  it('refuses an event whose message is another kind than its event says', () => {
    const detail = { ...published(EVENTS.CLICK), event: 'SCAN' };

    expect(errorsOf(detail)).toContain('/message/Event must be equal to constant');
    expect(isWechatEvent(detail, 'SCAN')).toBe(false);
  });

  it("requires the same fields of each kind as the client's guards", () => {
    const defs = SCHEMA.$defs as Record<string, { required: string[] }>;
    const required = (def: string, common: string[]) =>
      defs[def]?.required.filter((name) => !common.includes(name));

    for (const [msgType, fields] of Object.entries(WECHAT_MESSAGE_REQUIRED_FIELDS)) {
      expect(required(`${msgType}Message`, ['MsgType']), msgType).toEqual(fields);
    }
    for (const [name, fields] of Object.entries(WECHAT_EVENT_REQUIRED_FIELDS)) {
      expect(required(`${name}Event`, ['MsgType', 'Event']), name).toEqual(fields);
    }
  });

  it("types what the service publishes as the client's types (checked by npm run typecheck)", () => {
    const service: ServiceWechatMessageEvent = published(MESSAGES.text);
    const read: ServiceWechatMessage = readWechatMessage(MESSAGES.text);

    const detail: ClientWechatMessageEvent = service;
    const message: ClientWechatMessage = read;
    const envelope: WechatBusEvent = {
      source: 'wechat-token-service',
      'detail-type': wechatMessageDetailType(service) satisfies WechatMessageDetailType,
      time: service.time,
      detail,
    };

    expect(envelope.detail).toBe(service);
    expect(message).toEqual(service.message);
  });
});
