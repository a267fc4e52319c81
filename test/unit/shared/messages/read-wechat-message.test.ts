import { describe, expect, it } from 'vitest';
import {
  MAX_MESSAGE_BODY_BYTES,
  parseMessageEnvelope,
  readWechatMessage,
} from '../../../../shared/messages/read-wechat-message';

const head =
  '<ToUserName><![CDATA[gh_123456789abc]]></ToUserName><FromUserName><![CDATA[o6_fan]]></FromUserName>' +
  '<CreateTime>1800000000</CreateTime>';

describe('readWechatMessage', () => {
  it('keeps every element WeChat sent, text as strings (bare numbers too)', () => {
    const message = readWechatMessage(
      `<xml>${head}<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X>` +
        '<Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置]]></Label><MsgId>1234567890123456</MsgId></xml>'
    );
    expect(message).toEqual({
      ToUserName: 'gh_123456789abc',
      FromUserName: 'o6_fan',
      CreateTime: '1800000000',
      MsgType: 'location',
      Location_X: '23.134521',
      Location_Y: '113.358803',
      Scale: '20',
      Label: '位置',
      MsgId: '1234567890123456',
    });
  });

  it.each([
    [
      'no ToUserName',
      '<xml><FromUserName>a</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>',
      'no ToUserName',
    ],
    [
      'no CreateTime',
      `<xml><ToUserName>g</ToUserName><FromUserName>a</FromUserName><MsgType>text</MsgType></xml>`,
      'no CreateTime',
    ],
    [
      'a CreateTime that is not seconds',
      `<xml><ToUserName>g</ToUserName><FromUserName>a</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>`,
      'CreateTime',
    ],
    ['an event without Event', `<xml>${head}<MsgType>event</MsgType></xml>`, 'no Event'],
    ['a malformed MsgType', `<xml>${head}<MsgType>te xt</MsgType></xml>`, 'MsgType is malformed'],
    ['a nested MsgType', `<xml>${head}<MsgType><a>text</a></MsgType></xml>`, 'must hold text'],
    [
      'a repeated top-level element',
      `<xml>${head}<MsgType>text</MsgType><MsgType>image</MsgType></xml>`,
      'repeats',
    ],
    [
      'an entity declaration',
      `<!DOCTYPE xml [<!ENTITY e "x">]><xml>${head}<MsgType>&e;</MsgType></xml>`,
      'DTD',
    ],
    ['unclosed XML', `<xml>${head}<MsgType>text</MsgType>`, 'well-formed'],
    [
      'nesting beyond the deepest WeChat push',
      `<xml>${head}<MsgType>event</MsgType><Event>x</Event><a><b><c><d><e><f>1</f></e></d></c></b></a></xml>`,
      'too deeply',
    ],
  ])('refuses %s', (_name, xml, message) => {
    expect(() => readWechatMessage(xml)).toThrow(
      expect.objectContaining({
        code: 'malformed_message',
        message: expect.stringContaining(message),
      })
    );
  });

  it('refuses a payload above the limit before parsing it', () => {
    const xml = `<xml>${head}<MsgType>text</MsgType><Content>${'字'.repeat(MAX_MESSAGE_BODY_BYTES / 3)}</Content></xml>`;
    expect(() => readWechatMessage(xml)).toThrow(
      expect.objectContaining({ code: 'payload_too_large' })
    );
  });
});

describe('parseMessageEnvelope', () => {
  it('reads Encrypt and the account’s original id', () => {
    expect(
      parseMessageEnvelope(
        '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>'
      )
    ).toEqual({ toUserName: 'gh_1', encrypt: 'abc=' });
  });

  it('refuses an envelope without Encrypt', () => {
    expect(() => parseMessageEnvelope('<xml><ToUserName>gh_1</ToUserName></xml>')).toThrow(
      /no Encrypt/
    );
  });
});
