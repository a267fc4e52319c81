import { describe, expect, it } from 'vitest';
import {
  AppIdMismatchError,
  MalformedMessageError,
  PayloadTooLargeError,
} from '../../../../shared/errors';
import {
  parseAuthEvent,
  parseEnvelope,
  parseXmlFields,
} from '../../../../shared/wechat/callback-xml';
import { OTHER_COMPONENT_APPID } from '../../../support/test-ids';

const C = 'wx9eeba14a01d3807f';
const xml = (fields: Record<string, string>) =>
  `<xml>${Object.entries(fields)
    .map(([k, v]) => `<${k}><![CDATA[${v}]]></${k}>`)
    .join('')}</xml>`;

describe('parseEnvelope', () => {
  it('reads AppId and Encrypt from a real push body', () => {
    const body = `<xml>\n    <AppId><![CDATA[${C}]]></AppId>\n    <Encrypt><![CDATA[abc+/=]]></Encrypt>\n</xml>`;
    expect(parseEnvelope(body, C)).toEqual({ appId: C, encrypt: 'abc+/=' });
  });

  it('rejects an envelope addressed to another component before decrypting', () => {
    expect(() => parseEnvelope(xml({ AppId: OTHER_COMPONENT_APPID, Encrypt: 'x' }), C)).toThrow(
      AppIdMismatchError
    );
  });

  it.each([
    ['no Encrypt', xml({ AppId: C }), MalformedMessageError],
    ['an empty body', '', MalformedMessageError],
    ['not XML', 'hello', MalformedMessageError],
    ['unclosed XML', `<xml><Encrypt>x</Encrypt>`, MalformedMessageError],
    ['two roots', `<xml><Encrypt>x</Encrypt></xml><xml></xml>`, MalformedMessageError],
    ['another root', `<root><Encrypt>x</Encrypt></root>`, MalformedMessageError],
    [
      'a duplicated Encrypt',
      `<xml><Encrypt>x</Encrypt><Encrypt>y</Encrypt></xml>`,
      MalformedMessageError,
    ],
    ['a nested Encrypt', `<xml><Encrypt><a>x</a></Encrypt></xml>`, MalformedMessageError],
    [
      'a DOCTYPE',
      `<!DOCTYPE xml [<!ENTITY e "x">]><xml><Encrypt>&e;</Encrypt></xml>`,
      MalformedMessageError,
    ],
    [
      'an external entity',
      `<!doctype xml SYSTEM "file:///etc/passwd"><xml><Encrypt>x</Encrypt></xml>`,
      MalformedMessageError,
    ],
    [
      'a 1 MB body',
      `<xml><Encrypt>${'A'.repeat(1024 * 1024)}</Encrypt></xml>`,
      PayloadTooLargeError,
    ],
  ])('rejects %s', (_what, body, error) => {
    expect(() => parseEnvelope(body, C)).toThrow(error);
  });

  it('keeps entity references as text instead of expanding them', () => {
    expect(parseXmlFields('<xml><A>&amp;lt;&#x41;</A></xml>', 'body')).toEqual({
      A: '&amp;lt;&#x41;',
    });
  });

  it('rejects deep nesting that fits under the size limit', () => {
    const deep = `<xml>${'<a>'.repeat(1500)}x${'</a>'.repeat(1500)}</xml>`;
    expect(() => parseXmlFields(deep, 'body')).toThrow(MalformedMessageError);
  });
});

describe('parseAuthEvent', () => {
  it('parses a component_verify_ticket in plain and CDATA form alike', () => {
    const plain = `<xml><AppId>${C}</AppId><CreateTime>1413192605</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@x</ComponentVerifyTicket></xml>`;
    const cdata = xml({
      AppId: C,
      CreateTime: '1413192605',
      InfoType: 'component_verify_ticket',
      ComponentVerifyTicket: 'ticket@@@x',
    });
    const expected = {
      appId: C,
      createTime: 1_413_192_605_000,
      infoType: 'component_verify_ticket',
      ticket: 'ticket@@@x',
    };
    expect(parseAuthEvent(plain, C)).toEqual(expected);
    expect(parseAuthEvent(cdata, C)).toEqual(expected);
  });

  it.each(['authorized', 'updateauthorized'])(
    'parses %s with the code and its absolute expiry',
    (infoType) => {
      const event = parseAuthEvent(
        xml({
          AppId: C,
          CreateTime: '1413192760',
          InfoType: infoType,
          AuthorizerAppid: 'wxf8b4f85f3a794e77',
          AuthorizationCode: 'queryauthcode@@@abc',
          AuthorizationCodeExpiredTime: '1413193360',
          PreAuthCode: 'preauthcode@@@x',
        }),
        C
      );
      expect(event).toEqual({
        appId: C,
        createTime: 1_413_192_760_000,
        infoType,
        authorizerAppId: 'wxf8b4f85f3a794e77',
        authorizationCode: 'queryauthcode@@@abc',
        authorizationCodeExpiresAt: 1_413_193_360_000,
        preAuthCode: 'preauthcode@@@x',
      });
    }
  );

  it('reads a relative AuthorizationCodeExpiredTime as seconds after CreateTime', () => {
    const event = parseAuthEvent(
      xml({
        AppId: C,
        CreateTime: '1413192760',
        InfoType: 'authorized',
        AuthorizerAppid: 'wxf8b4f85f3a794e77',
        AuthorizationCode: 'code',
        AuthorizationCodeExpiredTime: '600',
      }),
      C
    );
    expect(event).toMatchObject({ authorizationCodeExpiresAt: 1_413_193_360_000 });
  });

  it('parses the miaoxing unauthorized vector plaintext', () => {
    const plaintext = `<?xml version="1.0"?>\n<xml><AppId><![CDATA[${C}]]></AppId><AuthorizerAppid><![CDATA[wx1234567890123456]]></AuthorizerAppid><CreateTime>1445303136</CreateTime><InfoType><![CDATA[unauthorized]]></InfoType></xml>\n`;
    expect(parseAuthEvent(plaintext, C)).toEqual({
      appId: C,
      createTime: 1_445_303_136_000,
      infoType: 'unauthorized',
      authorizerAppId: 'wx1234567890123456',
    });
  });

  it('returns unknown InfoTypes for acknowledgement instead of failing', () => {
    expect(
      parseAuthEvent(xml({ AppId: C, CreateTime: '1', InfoType: 'notify_third_fasteregister' }), C)
    ).toEqual({
      appId: C,
      createTime: 1000,
      infoType: 'unknown',
      rawInfoType: 'notify_third_fasteregister',
    });
  });

  it.each([
    [
      'another component appid',
      { AppId: OTHER_COMPONENT_APPID, CreateTime: '1', InfoType: 'unauthorized' },
      AppIdMismatchError,
    ],
    ['no InfoType', { AppId: C, CreateTime: '1' }, MalformedMessageError],
    [
      'a malformed InfoType',
      { AppId: C, CreateTime: '1', InfoType: '<script>' },
      MalformedMessageError,
    ],
    [
      'no CreateTime',
      { AppId: C, InfoType: 'unauthorized', AuthorizerAppid: 'wx1234567890123456' },
      MalformedMessageError,
    ],
    [
      'a non-numeric CreateTime',
      { AppId: C, CreateTime: 'soon', InfoType: 'unauthorized' },
      MalformedMessageError,
    ],
    [
      'a ticket event without a ticket',
      { AppId: C, CreateTime: '1', InfoType: 'component_verify_ticket' },
      MalformedMessageError,
    ],
    [
      'an authorization without a code',
      {
        AppId: C,
        CreateTime: '1',
        InfoType: 'authorized',
        AuthorizerAppid: 'wx1234567890123456',
        AuthorizationCodeExpiredTime: '2',
      },
      MalformedMessageError,
    ],
    [
      'an authorizer appid that is not an appid',
      { AppId: C, CreateTime: '1', InfoType: 'unauthorized', AuthorizerAppid: 'not-an-appid' },
      MalformedMessageError,
    ],
  ])('rejects %s', (_what, fields, error) => {
    expect(() => parseAuthEvent(xml(fields as Record<string, string>), C)).toThrow(error);
  });
});
