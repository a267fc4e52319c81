import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MsgCrypto, sha1Signature } from '../../shared/crypto/msg-crypto';
import {
  AppIdMismatchError,
  MalformedMessageError,
  ServiceError,
  SignatureMismatchError,
} from '../../shared/errors';
import {
  type AuthEvent,
  parseAuthEvent,
  parseEnvelope,
  parseXmlFields,
} from '../../shared/wechat/callback-xml';
import { SECRET } from '../support/harness';
import { soak } from '../support/soak';
import { COMPONENT_APPID, OTHER_COMPONENT_APPID } from '../support/test-ids';
import { frame, padWith, payloadXml, rawEncrypt } from '../support/wechat-forgery';

const RUNS = { numRuns: soak(300, 20_000) };
const MANY = { numRuns: soak(1000, 50_000) };
const crypto = new MsgCrypto({
  token: SECRET.token,
  encodingAesKey: SECRET.encodingAesKey,
  appId: COMPONENT_APPID,
});
const OLD_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR';

const fullUnicode = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b));
const signed = (encrypt: string, timestamp = '1700000000', nonce = 'n0nce') => ({
  encrypt,
  timestamp,
  nonce,
  msgSignature: sha1Signature(SECRET.token, timestamp, nonce, encrypt),
});

const TYPED_CRYPTO = [MalformedMessageError, AppIdMismatchError, SignatureMismatchError];
function outcomeOf(run: () => unknown): { value?: unknown; error?: unknown } {
  try {
    return { value: run() };
  } catch (error) {
    return { error };
  }
}
const isTypedCryptoError = (error: unknown) => TYPED_CRYPTO.some((type) => error instanceof type);

describe('message crypto properties', () => {
  it('round-trips any Unicode text of any length through encrypt and decrypt', () => {
    fc.assert(
      fc.property(fullUnicode(3000), bytes16, (text, random) => {
        const sealed = crypto.encrypt(text, { random, timestamp: '1700000000', nonce: 'n0nce' });
        expect(crypto.decrypt(sealed)).toBe(text);
      }),
      RUNS
    );
  });

  it('round-trips for any receive id and callback token', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 32 }),
        fullUnicode(200),
        (appId, token, text) => {
          const own = new MsgCrypto({ token, encodingAesKey: SECRET.encodingAesKey, appId });
          expect(own.decrypt(own.encrypt(text))).toBe(text);
        }
      ),
      RUNS
    );
  });

  it('still decrypts messages sealed with the previous EncodingAESKey during a key change', () => {
    const old = new MsgCrypto({
      token: SECRET.token,
      encodingAesKey: OLD_KEY,
      appId: COMPONENT_APPID,
    });
    const rotating = new MsgCrypto({
      token: SECRET.token,
      encodingAesKey: SECRET.encodingAesKey,
      previousEncodingAesKey: OLD_KEY,
      appId: COMPONENT_APPID,
    });
    fc.assert(
      fc.property(fullUnicode(500), (text) => {
        expect(rotating.decrypt(old.encrypt(text))).toBe(text);
        expect(rotating.decrypt(crypto.encrypt(text))).toBe(text);
      }),
      RUNS
    );
  });

  it('produces ciphertext that is whole 32-byte blocks of standard base64', () => {
    fc.assert(
      fc.property(fullUnicode(600), (text) => {
        const { encrypt } = crypto.encrypt(text);
        expect(encrypt).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
        expect(Buffer.from(encrypt, 'base64').length % 32).toBe(0);
      }),
      RUNS
    );
  });

  it('raises only its typed errors for arbitrary validly signed ciphertext bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (cipher) => {
        const result = outcomeOf(() =>
          crypto.decrypt(signed(Buffer.from(cipher).toString('base64')))
        );
        if (result.error !== undefined) expect(isTypedCryptoError(result.error)).toBe(true);
      }),
      RUNS
    );
  });

  it('raises only its typed errors for arbitrary validly signed Encrypt strings', () => {
    fc.assert(
      fc.property(fc.oneof(fullUnicode(300), fc.base64String({ maxLength: 300 })), (encrypt) => {
        const result = outcomeOf(() => crypto.decrypt(signed(encrypt)));
        if (result.error !== undefined) expect(isTypedCryptoError(result.error)).toBe(true);
      }),
      RUNS
    );
  });

  it('decrypts a hand-built frame exactly when every part of it is valid, else raises a typed error', () => {
    const likely = <T>(valid: T, ...others: fc.Arbitrary<T>[]) =>
      fc.oneof({ arbitrary: fc.constant(valid), weight: 3 }, ...others);
    const parts = fc.record({
      message: fc.oneof(
        fullUnicode(100).map((text) => Buffer.from(text, 'utf8')),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))
      ),
      random: bytes16,
      lengthDelta: likely(0, fc.integer({ min: -40, max: 40 }), fc.constant(2 ** 31)),
      receiveId: likely(COMPONENT_APPID, fc.constant(OTHER_COMPONENT_APPID), fc.constant('')),
      pad: likely<'valid' | 'inconsistent' | number>(
        'valid',
        fc.integer({ min: 0, max: 255 }),
        fc.constant('inconsistent')
      ),
    });
    fc.assert(
      fc.property(parts, (p) => {
        const declared = Math.max(0, Math.min(2 ** 32 - 1, p.message.length + p.lengthDelta));
        const unpadded = frame(p.message, {
          random: p.random,
          receiveId: p.receiveId,
          declaredLength: declared,
        });
        const padded = padWith(unpadded, (i, count) =>
          p.pad === 'valid'
            ? count
            : p.pad === 'inconsistent'
              ? i === 0 && count > 1
                ? count - 1
                : count
              : p.pad
        );
        const result = outcomeOf(() =>
          crypto.decrypt(signed(rawEncrypt(padded).toString('base64')))
        );
        const utf8 = (() => {
          try {
            return new TextDecoder('utf-8', { fatal: true }).decode(p.message);
          } catch {
            return undefined;
          }
        })();
        const count = padded.length - unpadded.length;
        const padValid =
          p.pad === 'valid' || (p.pad === 'inconsistent' && count === 1) || p.pad === count;
        const allValid =
          padValid &&
          declared === p.message.length &&
          p.receiveId === COMPONENT_APPID &&
          utf8 !== undefined;
        if (allValid) expect(result.value).toBe(utf8);
        else expect(isTypedCryptoError(result.error)).toBe(true);
      }),
      MANY
    );
  });

  it('rejects every signature but the right one with SignatureMismatchError', () => {
    const sealed = crypto.encrypt('<xml/>', { timestamp: '1700000000', nonce: 'n0nce' });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.stringMatching(/^[0-9a-f]{40}$/)),
        (msgSignature) => {
          fc.pre(msgSignature.toLowerCase() !== sealed.msgSignature);
          expect(() => crypto.decrypt({ ...sealed, msgSignature })).toThrow(SignatureMismatchError);
        }
      ),
      RUNS
    );
  });
});

const xmlToken = fc.constantFrom(
  '<xml>',
  '</xml>',
  '<xml/>',
  '<AppId>',
  '</AppId>',
  '<Encrypt>',
  '</Encrypt>',
  '<InfoType>',
  '</InfoType>',
  '<CreateTime>',
  '</CreateTime>',
  '<ComponentVerifyTicket>',
  '</ComponentVerifyTicket>',
  '<AuthorizerAppid>',
  '</AuthorizerAppid>',
  '<__proto__>',
  '</__proto__>',
  '<constructor>',
  '<a>',
  '</a>',
  '<![CDATA[',
  ']]>',
  '<!DOCTYPE x [',
  '<!ENTITY e "v">',
  ']>',
  '&e;',
  '&amp;',
  '&#x41;',
  '<?xml version="1.0"?>',
  '<!--',
  '-->',
  '<?pi x?>',
  ' a="1"',
  '>',
  '<',
  '/',
  COMPONENT_APPID,
  'component_verify_ticket',
  'authorized',
  'unauthorized',
  '1700000000',
  'ticket@@@x',
  ' ',
  '\n',
  '\u0000',
  '中',
  '\ud83d\ude00'
);
const xmlSoup = fc
  .array(fc.oneof(xmlToken, fullUnicode(8)), { maxLength: 40 })
  .map((t) => t.join(''));
const anyInput = fc.oneof(
  fullUnicode(400),
  xmlSoup,
  xmlSoup.map((x) => `<xml>${x}</xml>`)
);

describe('XML parsing properties', () => {
  it.each([
    ['parseXmlFields', (x: string) => parseXmlFields(x, 'event body')],
    ['parseEnvelope', (x: string) => parseEnvelope(x, COMPONENT_APPID)],
    ['parseAuthEvent', (x: string) => parseAuthEvent(x, COMPONENT_APPID)],
  ] as const)('%s raises only typed service errors for arbitrary input', (_name, parse) => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const result = outcomeOf(() => parse(input));
        if (result.error !== undefined) expect(result.error).toBeInstanceOf(ServiceError);
      }),
      MANY
    );
  });

  it('never lets an element name reach the prototype of the parsed fields', () => {
    fc.assert(
      fc.property(xmlSoup, (inner) => {
        const result = outcomeOf(() => parseXmlFields(`<xml>${inner}</xml>`, 'event body'));
        if (result.value) expect(Object.getPrototypeOf(result.value)).toBe(Object.prototype);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      RUNS
    );
  });

  const appId = fc.stringMatching(/^wx[0-9a-zA-Z]{14,30}$/);
  const printable = (text: string) =>
    [...text].every((ch) => {
      const code = ch.codePointAt(0) as number;
      return code >= 0x20 && code !== 0x7f && code !== 0xfffe && code !== 0xffff;
    });
  const credential = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 120 })
    .filter((s) => s.trim() === s && s.length > 0 && printable(s));
  const createTime = fc.integer({ min: 1, max: 99_999_999_999 });
  const event: fc.Arbitrary<AuthEvent> = fc
    .oneof(
      fc.record({
        infoType: fc.constant('component_verify_ticket' as const),
        appId: fc.constant(COMPONENT_APPID),
        createTime,
        ticket: credential,
      }),
      fc
        .record({
          infoType: fc.constantFrom('authorized' as const, 'updateauthorized' as const),
          appId: fc.constant(COMPONENT_APPID),
          createTime,
          authorizerAppId: appId,
          authorizationCode: credential,
          lifetime: fc.integer({ min: 0, max: 3600 }),
          preAuthCode: fc.option(credential, { nil: undefined }),
        })
        .map(({ lifetime, preAuthCode, ...e }) => ({
          ...e,
          authorizationCodeExpiresAt: (e.createTime + lifetime) * 1000,
          ...(preAuthCode ? { preAuthCode } : {}),
        })),
      fc.record({
        infoType: fc.constant('unauthorized' as const),
        appId: fc.constant(COMPONENT_APPID),
        createTime,
        authorizerAppId: appId,
      }),
      fc
        .record({
          appId: fc.constant(COMPONENT_APPID),
          createTime,
          rawInfoType: fc
            .stringMatching(/^[a-z_]{1,64}$/)
            .filter(
              (t) =>
                ![
                  'component_verify_ticket',
                  'authorized',
                  'updateauthorized',
                  'unauthorized',
                ].includes(t)
            ),
        })
        .map((e) => ({ ...e, infoType: 'unknown' as const }))
    )
    .map((e) => ({ ...e, createTime: e.createTime * 1000 }) as AuthEvent);

  function fieldsOf(e: AuthEvent): [string, string | number][] {
    const base: [string, string | number][] = [
      ['AppId', e.appId],
      ['CreateTime', e.createTime / 1000],
      ['InfoType', e.infoType === 'unknown' ? e.rawInfoType : e.infoType],
    ];
    switch (e.infoType) {
      case 'component_verify_ticket':
        return [...base, ['ComponentVerifyTicket', e.ticket]];
      case 'authorized':
      case 'updateauthorized':
        return [
          ...base,
          ['AuthorizerAppid', e.authorizerAppId],
          ['AuthorizationCode', e.authorizationCode],
          ['AuthorizationCodeExpiredTime', e.authorizationCodeExpiresAt / 1000],
          ...(e.preAuthCode ? [['PreAuthCode', e.preAuthCode] as [string, string]] : []),
        ];
      case 'unauthorized':
        return [...base, ['AuthorizerAppid', e.authorizerAppId]];
      default:
        return base;
    }
  }

  it('round-trips every well-formed payload, in any element order, through parseAuthEvent', () => {
    fc.assert(
      fc.property(
        event.chain((e) =>
          fc.tuple(
            fc.constant(e),
            fc.shuffledSubarray(fieldsOf(e), { minLength: fieldsOf(e).length })
          )
        ),
        ([e, fields]) => {
          expect(parseAuthEvent(payloadXml(fields), COMPONENT_APPID)).toEqual(e);
        }
      ),
      MANY
    );
  });

  it('round-trips every well-formed payload after encryption, decryption and parsing', () => {
    fc.assert(
      fc.property(event, bytes16, (e, random) => {
        const sealed = crypto.encrypt(payloadXml(fieldsOf(e)), { random });
        expect(parseAuthEvent(crypto.decrypt(sealed), COMPONENT_APPID)).toEqual(e);
      }),
      RUNS
    );
  });
});
