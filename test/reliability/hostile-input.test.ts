import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHandler as makeAuthEvent } from '../../functions/auth-event';
import { MetricName } from '../../shared/log';
import { type Harness, SECRET, startHarness } from '../support/harness';
import { credentialValues, leakedIn, scanTable } from '../support/reliability-stack';
import {
  AUTHORIZER_APPID,
  COMPONENT_APPID,
  OTHER_AUTHORIZER_APPID,
  OTHER_COMPONENT_APPID,
} from '../support/test-ids';
import {
  AES_KEY,
  envelopeXml,
  forgedSignature,
  frame,
  padLength,
  padWith,
  payloadXml,
  pkcs7,
  queryString,
  rawEncrypt,
  sealedPush,
  signedQuery,
} from '../support/wechat-forgery';

const REVOKED = OTHER_AUTHORIZER_APPID;
const CRAFTED_TICKET = 'ticket@@@crafted-replay-ticket-value-0001';

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

interface Fixture {
  h: Harness;
  ticketCreateSeconds: number;
  authorizedCode: string;
  authorizedAtSeconds: number;
}

interface HostileCase {
  name: string;
  send: (f: Fixture) => Promise<Answer>;
  status: number;
  message: string;
  /** The error code the service must log (and count, on the event route) once. */
  code?: string;
  /** Raw input that must not come back in the answer. */
  injected?: string;
}

const fromResponse = async (response: Response): Promise<Answer> => ({
  status: response.status,
  body: await response.text(),
  headers: Object.fromEntries(response.headers),
});

function postEvent(
  f: Fixture,
  query: Record<string, string> | [string, string][] | string,
  body: string | Buffer,
  contentType = 'text/xml'
): Promise<Answer> {
  const qs = typeof query === 'string' ? query : queryString(query);
  return fetch(`${f.h.service.url}/wechat/events?${qs}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  }).then(fromResponse);
}

const lambdaContext = { getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

async function invokeEvent(
  f: Fixture,
  query: Record<string, string>,
  body: string,
  isBase64Encoded: boolean
): Promise<Answer> {
  const handler = makeAuthEvent(() => Promise.resolve(f.h.deps));
  const event = {
    version: '2.0',
    routeKey: 'POST /wechat/events',
    rawPath: '/wechat/events',
    rawQueryString: queryString(query),
    headers: { 'content-type': 'text/xml' },
    queryStringParameters: query,
    body,
    isBase64Encoded,
    requestContext: { http: { method: 'POST', path: '/wechat/events' } },
  } as unknown as APIGatewayProxyEventV2;
  const result = await handler(event, lambdaContext);
  return {
    status: result.statusCode ?? 0,
    body: result.body ?? '',
    headers: (result.headers ?? {}) as Record<string, string>,
  };
}

const withoutBudgetCounts = (items: Record<string, unknown>[]) =>
  items.filter((item) => !String(item.pk).startsWith('BUDGET#'));

const getPage = (f: Fixture, path: string, headers: Record<string, string> = {}) =>
  fetch(`${f.h.service.url}${path}`, { headers }).then(fromResponse);

const postToken = (f: Fixture, raw: string) =>
  fetch(`${f.h.service.url}/local/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw,
  }).then(fromResponse);

const nowSeconds = (f: Fixture) => Math.floor(f.h.clock.now / 1000);
const ticketPayload = (createTime: number, ticket = CRAFTED_TICKET) =>
  payloadXml([
    ['AppId', COMPONENT_APPID],
    ['CreateTime', createTime],
    ['InfoType', 'component_verify_ticket'],
    ['ComponentVerifyTicket', ticket],
  ]);
const replayPayload = (f: Fixture) => ticketPayload(f.ticketCreateSeconds - 60);
/** A 2020 ticket push: constant bytes, so every tampered ciphertext decrypts the same way on every run. */
const FIXED_REPLAY = ticketPayload(1_600_000_000);

/** Posts `xml` properly encrypted and signed, so it reaches the payload checks. */
function sealed(f: Fixture, xml: string, receiveId?: string) {
  const push = sealedPush(xml, { receiveId });
  return postEvent(f, push.query, push.body);
}

/** Posts raw plaintext bytes (already padded), encrypted and properly signed. */
function sealedBytes(f: Fixture, padded: Buffer, key = AES_KEY) {
  const encrypt = rawEncrypt(padded, key).toString('base64');
  return postEvent(f, signedQuery(encrypt), envelopeXml(encrypt));
}

/** Posts an Encrypt value exactly as given, signed over that value. */
function signedEncrypt(f: Fixture, encrypt: string) {
  return postEvent(f, signedQuery(encrypt), envelopeXml(encrypt));
}

/** Posts a replayed (harmless) push with the query changed by `edit`. */
function withQuery(
  f: Fixture,
  edit: (query: Record<string, string>, encrypt: string) => Record<string, string> | string
) {
  const push = sealedPush(replayPayload(f));
  return postEvent(f, edit({ ...push.query }, push.encrypt), push.body);
}

/** Posts a replayed push with the ciphertext changed by `edit` (and then signed properly). */
function withCiphertext(f: Fixture, edit: (cipher: Buffer) => Buffer | string) {
  const cipher = rawEncrypt(pkcs7(frame(FIXED_REPLAY)));
  const edited = edit(Buffer.from(cipher));
  return signedEncrypt(f, typeof edited === 'string' ? edited : edited.toString('base64'));
}

const flip = (index: number, mask: number) => (cipher: Buffer) => {
  const at = index < 0 ? cipher.length + index : index;
  cipher[at] = (cipher[at] as number) ^ mask;
  return cipher;
};

const withoutKey = (query: Record<string, string>, ...names: string[]) =>
  Object.fromEntries(Object.entries(query).filter(([name]) => !names.includes(name)));

const duplicated = (query: Record<string, string>, name: string): [string, string][] => [
  ...Object.entries(query),
  [name, query[name] as string],
];

const DTD_EXTERNAL = `<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`;
const BILLION_LAUGHS = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from(
  { length: 9 },
  (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`
).join('')}]>`;
const nested = (depth: number, leaf = 'x') =>
  `${'<a>'.repeat(depth)}${leaf}${'</a>'.repeat(depth)}`;

const queryAndSignatureCases: HostileCase[] = [
  {
    name: 'answers 400 naming every missing parameter when the query is empty',
    send: (f) => withQuery(f, () => ''),
    status: 400,
    message: 'missing query parameter timestamp, nonce, msg_signature',
    code: 'invalid_request',
  },
  ...(['timestamp', 'nonce', 'msg_signature'] as const).map(
    (name): HostileCase => ({
      name: `answers 400 when ${name} is missing`,
      send: (f) => withQuery(f, (q) => withoutKey(q, name)),
      status: 400,
      message: `missing query parameter ${name}`,
      code: 'invalid_request',
    })
  ),
  {
    name: 'answers 400 when msg_signature is empty',
    send: (f) => withQuery(f, (q) => ({ ...q, msg_signature: '' })),
    status: 400,
    message: 'missing query parameter msg_signature',
    code: 'invalid_request',
  },
  {
    name: 'answers 401 to a forged msg_signature',
    send: (f) => withQuery(f, (q) => ({ ...q, msg_signature: forgedSignature('forged') })),
    status: 401,
    message: 'msg_signature does not match the message',
    code: 'signature_mismatch',
  },
  {
    name: 'answers 401 to a msg_signature made with another callback token',
    send: (f) =>
      withQuery(f, (_q, encrypt) => signedQuery(encrypt, { token: 'another-callback-token' })),
    status: 401,
    message: 'signature does not match',
    code: 'signature_mismatch',
  },
  {
    name: 'answers 401 when the Encrypt was swapped after signing',
    send: (f) => {
      const signedFor = sealedPush(replayPayload(f));
      const other = sealedPush(ticketPayload(f.ticketCreateSeconds - 120));
      return postEvent(f, signedFor.query, other.body);
    },
    status: 401,
    message: 'msg_signature does not match the message',
    code: 'signature_mismatch',
  },
  {
    name: 'answers 401 when the timestamp was changed after signing',
    send: (f) =>
      withQuery(f, (q, encrypt) => ({
        ...q,
        timestamp: '1700000001',
        signature: signedQuery(encrypt, { timestamp: '1700000001' }).signature as string,
      })),
    status: 401,
    message: 'msg_signature does not match the message',
    code: 'signature_mismatch',
  },
  {
    name: 'answers 401 to a forged plain signature next to a valid msg_signature',
    send: (f) => withQuery(f, (q) => ({ ...q, signature: forgedSignature('plain') })),
    status: 401,
    message: 'signature does not match',
    code: 'signature_mismatch',
  },
  {
    name: 'answers 400 to a msg_signature that is not hex',
    send: (f) => withQuery(f, (q) => ({ ...q, msg_signature: 'z'.repeat(40) })),
    status: 400,
    message: 'msg_signature is malformed',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to a msg_signature one digit too long',
    send: (f) => withQuery(f, (q) => ({ ...q, msg_signature: `${q.msg_signature}0` })),
    status: 400,
    message: 'msg_signature is malformed',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to a plain signature that is not hex',
    send: (f) => withQuery(f, (q) => ({ ...q, signature: '<script>alert(1)</script>' })),
    status: 400,
    message: 'signature is malformed',
    code: 'invalid_request',
    injected: '<script>',
  },
  ...(
    [
      ['msg_signature', 'msg_signature is malformed'],
      ['timestamp', 'timestamp is malformed'],
      ['nonce', 'nonce is malformed'],
      ['encrypt_type', 'encrypt_type must be aes (plaintext mode is not accepted)'],
      ['signature', 'signature is malformed'],
    ] as const
  ).map(
    ([name, message]): HostileCase => ({
      name: `answers 400 to a duplicated ${name} (comma-joined like API Gateway)`,
      send: (f) => withQuery(f, (q) => queryString(duplicated(q, name))),
      status: 400,
      message,
      code: 'invalid_request',
    })
  ),
  {
    name: 'answers 400 to plaintext mode (encrypt_type=raw)',
    send: (f) => withQuery(f, (q) => ({ ...q, encrypt_type: 'raw' })),
    status: 400,
    message: 'encrypt_type must be aes (plaintext mode is not accepted)',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to a 13-digit timestamp',
    send: (f) => withQuery(f, (q) => ({ ...q, timestamp: '1700000000000' })),
    status: 400,
    message: 'timestamp is malformed',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to a negative timestamp',
    send: (f) => withQuery(f, (q) => ({ ...q, timestamp: '-1' })),
    status: 400,
    message: 'timestamp is malformed',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to a 4 KB timestamp',
    send: (f) => withQuery(f, (q) => ({ ...q, timestamp: '9'.repeat(4096) })),
    status: 400,
    message: 'timestamp is malformed',
    code: 'invalid_request',
  },
  {
    name: 'answers 400 to markup in the nonce',
    send: (f) => withQuery(f, (q) => ({ ...q, nonce: '<img src=x onerror=alert(1)>' })),
    status: 400,
    message: 'nonce is malformed',
    code: 'invalid_request',
    injected: '<img',
  },
  {
    name: 'answers 400 to a 65-character nonce',
    send: (f) => withQuery(f, (q) => ({ ...q, nonce: 'n'.repeat(65) })),
    status: 400,
    message: 'nonce is malformed',
    code: 'invalid_request',
  },
];

const appIdCases: HostileCase[] = [
  {
    name: 'answers 400 to an envelope addressed to another platform',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, envelopeXml(push.encrypt, OTHER_COMPONENT_APPID));
    },
    status: 400,
    message: 'event is addressed to another component appid',
    code: 'appid_mismatch',
  },
  {
    name: 'answers 400 to an envelope with an empty AppId',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, envelopeXml(push.encrypt, ''));
    },
    status: 400,
    message: 'event is addressed to another component appid',
    code: 'appid_mismatch',
  },
  {
    name: 'answers 400 to a payload naming another platform',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', OTHER_COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
        ])
      ),
    status: 400,
    message: 'decrypted event names another component appid',
    code: 'appid_mismatch',
  },
  {
    name: 'answers 400 to a payload without AppId',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
        ])
      ),
    status: 400,
    message: 'decrypted event names another component appid',
    code: 'appid_mismatch',
  },
  {
    name: 'answers 400 to a message encrypted for another receive id',
    send: (f) => sealed(f, ticketPayload(nowSeconds(f)), OTHER_COMPONENT_APPID),
    status: 400,
    message: 'message was encrypted for another appid',
    code: 'appid_mismatch',
  },
];

const ciphertextCases: HostileCase[] = [
  {
    name: 'answers 400 when a bit flip corrupts the length prefix',
    send: (f) => withCiphertext(f, flip(0, 0x80)),
    status: 400,
    message: 'Encrypt has an invalid length prefix',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when a bit flip corrupts the first XML byte',
    send: (f) => withCiphertext(f, flip(4, 0x01)),
    status: 400,
    message: 'decrypted event is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when a bit flip corrupts the pad byte',
    send: (f) => withCiphertext(f, flip(-17, 0x40)),
    status: 400,
    message: 'Encrypt has invalid padding',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when a bit flip garbles the last block',
    send: (f) => withCiphertext(f, flip(-1, 0x01)),
    status: 400,
    message: 'Encrypt has invalid padding',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when the ciphertext lost its last 16 bytes',
    send: (f) => withCiphertext(f, (c) => c.subarray(0, c.length - 16)),
    status: 400,
    message: 'Encrypt has a length that is not a whole number of blocks',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when the ciphertext lost its last 32 bytes',
    send: (f) => withCiphertext(f, (c) => c.subarray(0, c.length - 32)),
    status: 400,
    message: 'Encrypt has invalid padding',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 when the base64 lost its last character',
    send: (f) => withCiphertext(f, (c) => c.toString('base64').slice(0, -1)),
    status: 400,
    message: 'Encrypt is not valid base64',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a single 16-byte block',
    send: (f) => withCiphertext(f, (c) => c.subarray(0, 16)),
    status: 400,
    message: 'Encrypt has a length that is not a whole number of blocks',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an empty Encrypt',
    send: (f) => signedEncrypt(f, ''),
    status: 400,
    message: 'event body has no Encrypt element',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an Encrypt that is not base64',
    send: (f) => signedEncrypt(f, '%%%%not*base64%%'),
    status: 400,
    message: 'Encrypt is not valid base64',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an Encrypt in the base64url alphabet',
    send: (f) =>
      withCiphertext(
        f,
        (c) => `-_${c.toString('base64').slice(2).replaceAll('+', '-').replaceAll('/', '_')}`
      ),
    status: 400,
    message: 'Encrypt is not valid base64',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an Encrypt with line breaks inside',
    send: (f) =>
      withCiphertext(f, (c) => {
        const b64 = c.toString('base64');
        return `${b64.slice(0, 40)}\n${b64.slice(40)}`;
      }),
    status: 400,
    message: 'Encrypt is not valid base64',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a frame shorter than random + length',
    send: (f) => sealedBytes(f, pkcs7(Buffer.from('0123456789abcdef'))),
    status: 400,
    message: 'Encrypt is too short',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a length prefix larger than the message',
    send: (f) => {
      const xml = replayPayload(f);
      return sealedBytes(f, pkcs7(frame(xml, { declaredLength: Buffer.byteLength(xml) + 100 })));
    },
    status: 400,
    message: 'Encrypt has an invalid length prefix',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a length prefix shorter than the message',
    send: (f) => {
      const xml = replayPayload(f);
      return sealedBytes(f, pkcs7(frame(xml, { declaredLength: Buffer.byteLength(xml) - 6 })));
    },
    status: 400,
    message: 'message was encrypted for another appid',
    code: 'appid_mismatch',
  },
  {
    name: 'answers 400 to a message that is not UTF-8',
    send: (f) => sealedBytes(f, pkcs7(frame(Buffer.from([0x3c, 0xff, 0xfe, 0xc3, 0x28, 0x3e])))),
    status: 400,
    message: 'message is not valid UTF-8',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a message encrypted under another EncodingAESKey',
    send: (f) =>
      sealedBytes(
        f,
        pkcs7(frame(FIXED_REPLAY)),
        Buffer.from('kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR=', 'base64')
      ),
    status: 400,
    message: 'Encrypt has invalid padding',
    code: 'malformed_message',
  },
  {
    name: 'answers 413 to an Encrypt of 20 KB',
    send: (f) => signedEncrypt(f, 'A'.repeat(20 * 1024)),
    status: 413,
    message: 'body is larger than 16384 bytes',
    code: 'payload_too_large',
  },
];

/** A message whose natural pad is 20 bytes, so every pad value fits in one 32-byte block. */
function padProbe(f: Fixture): Buffer {
  for (let filler = 0; filler < 32; filler++) {
    const unpadded = frame(
      ticketPayload(f.ticketCreateSeconds - 60, `${CRAFTED_TICKET}${'x'.repeat(filler)}`)
    );
    if (padLength(unpadded.length) === 20) return unpadded;
  }
  throw new Error('no filler gives a 20-byte pad');
}

const badPad = (name: string, fill: (index: number, count: number) => number): HostileCase => ({
  name: `answers 400 to ${name}`,
  send: (f) => sealedBytes(f, padWith(padProbe(f), fill)),
  status: 400,
  message: 'Encrypt has invalid padding',
  code: 'malformed_message',
});

const paddingCases: HostileCase[] = [
  badPad('pad bytes of 0', () => 0),
  ...Array.from({ length: 223 }, (_, i) => i + 33).map((value) =>
    badPad(`pad bytes of ${value} (above the 32-byte block)`, () => value)
  ),
  badPad('a pad whose first byte differs', (i, count) => (i === 0 ? count - 1 : count)),
  badPad('a pad with a zero in the middle', (i, count) => (i === 10 ? 0 : count)),
  badPad('a pad of 16 whose sixteenth byte from the end is 15', (i) =>
    i < 4 ? 4 : i === 4 ? 15 : 16
  ),
  badPad('a pad whose last byte says 20 but the one before says 19', (i, count) =>
    i === count - 2 ? count - 1 : count
  ),
  {
    name: 'answers 400 to a full 32-byte pad of 32s that swallows the receive id',
    send: (f) => {
      const padded = padWith(padProbe(f), (_i, count) => count);
      padded.fill(32, padded.length - 32);
      return sealedBytes(f, padded);
    },
    status: 400,
    message: 'message was encrypted for another appid',
    code: 'appid_mismatch',
  },
];

const xmlCases: HostileCase[] = [
  {
    name: 'answers 400 to an envelope with an external entity (XXE)',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `${DTD_EXTERNAL}<xml><Encrypt>&xxe;</Encrypt></xml>`);
    },
    status: 400,
    message: 'event body contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a billion-laughs envelope',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `${BILLION_LAUGHS}<xml><Encrypt>&lol9;</Encrypt></xml>`);
    },
    status: 400,
    message: 'event body contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a lower-case doctype in the envelope',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<!doctype xml>${push.body}`);
    },
    status: 400,
    message: 'event body contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an encrypted payload with an external entity (XXE)',
    send: (f) =>
      sealed(
        f,
        `${DTD_EXTERNAL}<xml><AppId>${COMPONENT_APPID}</AppId><CreateTime>${nowSeconds(f)}</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>&xxe;</ComponentVerifyTicket></xml>`
      ),
    status: 400,
    message: 'decrypted event contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an encrypted billion-laughs payload',
    send: (f) => sealed(f, `${BILLION_LAUGHS}<xml><InfoType>&lol9;</InfoType></xml>`),
    status: 400,
    message: 'decrypted event contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an encrypted payload declaring an entity without a doctype',
    send: (f) => sealed(f, `<!ENTITY e "x"><xml><InfoType>&e;</InfoType></xml>`),
    status: 400,
    message: 'decrypted event contains a DTD or entity declaration',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an entity reference as the Encrypt value',
    send: (f) => {
      const query = signedQuery('&xxe;');
      return postEvent(f, query, '<xml><Encrypt>&xxe;</Encrypt></xml>');
    },
    status: 400,
    message: 'Encrypt is not valid base64',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an envelope nested five levels deep',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<xml><Encrypt>${push.encrypt}</Encrypt>${nested(4)}</xml>`);
    },
    status: 400,
    message: 'XML is nested too deeply',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an envelope nested 2000 levels deep',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<xml>${nested(2000)}</xml>`);
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an encrypted payload nested five levels deep',
    send: (f) =>
      sealed(
        f,
        `<xml><AppId>${COMPONENT_APPID}</AppId><CreateTime>${nowSeconds(f)}</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>${nested(4, 't')}</ComponentVerifyTicket></xml>`
      ),
    status: 400,
    message: 'XML is nested too deeply',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an Encrypt that holds an element',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<xml><Encrypt><b>${push.encrypt}</b></Encrypt></xml>`);
    },
    status: 400,
    message: 'event body element Encrypt must hold text',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a duplicated Encrypt element',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(
        f,
        push.query,
        `<xml><Encrypt>${push.encrypt}</Encrypt><Encrypt>${push.encrypt}</Encrypt></xml>`
      );
    },
    status: 400,
    message: 'XML repeats an element',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a duplicated AppId element',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(
        f,
        push.query,
        `<xml><AppId>${COMPONENT_APPID}</AppId><AppId>${OTHER_COMPONENT_APPID}</AppId><Encrypt>${push.encrypt}</Encrypt></xml>`
      );
    },
    status: 400,
    message: 'XML repeats an element',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a payload with two ComponentVerifyTicket elements',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f) + 60],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
          ['ComponentVerifyTicket', `${CRAFTED_TICKET}-2`],
        ])
      ),
    status: 400,
    message: 'XML repeats an element',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a payload with two InfoType elements',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f) + 60],
          ['InfoType', 'unauthorized'],
          ['InfoType', 'component_verify_ticket'],
          ['AuthorizerAppid', AUTHORIZER_APPID],
        ])
      ),
    status: 400,
    message: 'XML repeats an element',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to two <xml> roots',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `${push.body}${push.body}`);
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a root other than <xml>',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<root><Encrypt>${push.encrypt}</Encrypt></root>`);
    },
    status: 400,
    message: 'event body must have a single <xml> root',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an unclosed envelope',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, `<xml><Encrypt>${push.encrypt}</Encrypt>`);
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an empty body',
    send: (f) => postEvent(f, sealedPush(replayPayload(f)).query, ''),
    status: 400,
    message: 'event body is empty',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a body of blanks',
    send: (f) => postEvent(f, sealedPush(replayPayload(f)).query, ' \n\t '),
    status: 400,
    message: 'event body is empty',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a JSON body sent as XML',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, JSON.stringify({ Encrypt: push.encrypt }));
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a decrypted payload that is not XML',
    send: (f) => sealed(f, 'ComponentVerifyTicket=ticket@@@plain'),
    status: 400,
    message: 'decrypted event is not well-formed XML',
    code: 'malformed_message',
  },
];

const payloadCases: HostileCase[] = [
  {
    name: 'answers 400 to a payload without InfoType',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
        ])
      ),
    status: 400,
    message: 'event has no InfoType',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a malformed InfoType',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', '<script>alert(1)</script>'],
        ])
      ),
    status: 400,
    message: 'event InfoType is malformed',
    code: 'malformed_message',
    injected: '<script>',
  },
  {
    name: 'answers 400 to a payload without CreateTime',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
        ])
      ),
    status: 400,
    message: 'event CreateTime must be a number of seconds',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a CreateTime that is not a number',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', '1e12'],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', CRAFTED_TICKET],
        ])
      ),
    status: 400,
    message: 'event CreateTime must be a number of seconds',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to a ticket push without a ticket',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f) + 60],
          ['InfoType', 'component_verify_ticket'],
          ['ComponentVerifyTicket', ''],
        ])
      ),
    status: 400,
    message: 'ticket event has no ComponentVerifyTicket',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an authorized push without AuthorizationCode',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'authorized'],
          ['AuthorizerAppid', AUTHORIZER_APPID],
          ['AuthorizationCodeExpiredTime', nowSeconds(f) + 600],
        ])
      ),
    status: 400,
    message: 'authorization event has no AuthorizationCode',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an authorized push without AuthorizationCodeExpiredTime',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'authorized'],
          ['AuthorizerAppid', AUTHORIZER_APPID],
          ['AuthorizationCode', 'queryauthcode@@@crafted'],
        ])
      ),
    status: 400,
    message: 'event AuthorizationCodeExpiredTime must be a number of seconds',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an authorized push with a malformed AuthorizerAppid',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'authorized'],
          ['AuthorizerAppid', 'wx"><b>'],
          ['AuthorizationCode', 'queryauthcode@@@crafted'],
          ['AuthorizationCodeExpiredTime', nowSeconds(f) + 600],
        ])
      ),
    status: 400,
    message: 'event AuthorizerAppid is not an appid',
    code: 'malformed_message',
  },
  {
    name: 'answers 400 to an unauthorized push with markup as AuthorizerAppid',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', nowSeconds(f)],
          ['InfoType', 'unauthorized'],
          ['AuthorizerAppid', '<script>alert(1)</script>'],
        ])
      ),
    status: 400,
    message: 'event AuthorizerAppid is not an appid',
    code: 'malformed_message',
    injected: '<script>',
  },
];

const sizeAndEncodingCases: HostileCase[] = [
  {
    name: 'answers 413 to a 1 MB body',
    send: (f) => postEvent(f, sealedPush(replayPayload(f)).query, 'A'.repeat(1024 * 1024)),
    status: 413,
    message: 'body is larger than 16384 bytes',
    code: 'payload_too_large',
  },
  {
    name: 'answers 413 to a body one byte over 16 KB',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(f, push.query, push.body.padEnd(16 * 1024 + 1, ' '));
    },
    status: 413,
    message: 'body is larger than 16384 bytes',
    code: 'payload_too_large',
  },
  {
    name: 'answers 413 to 6000 three-byte characters (under 16 K characters, over 16 KB)',
    send: (f) =>
      postEvent(f, sealedPush(replayPayload(f)).query, `<xml>${'中'.repeat(6000)}</xml>`),
    status: 413,
    message: 'body is larger than 16384 bytes',
    code: 'payload_too_large',
  },
  ...(
    [
      'application/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'text/html',
    ] as const
  ).map(
    (contentType): HostileCase => ({
      name: `answers 400 to content-type ${contentType}`,
      send: (f) => {
        const push = sealedPush(replayPayload(f));
        return postEvent(f, push.query, push.body, contentType);
      },
      status: 400,
      message: 'content-type must be XML',
      code: 'invalid_request',
    })
  ),
  {
    name: 'answers 400 to a UTF-16 envelope',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return postEvent(
        f,
        push.query,
        Buffer.from(push.body, 'utf16le'),
        'text/xml; charset=utf-16'
      );
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers 413 to a base64-encoded body over the limit',
    send: (f) =>
      invokeEvent(
        f,
        sealedPush(replayPayload(f)).query,
        Buffer.alloc(17 * 1024, 0x41).toString('base64'),
        true
      ),
    status: 413,
    message: 'body is larger than 16384 bytes',
    code: 'payload_too_large',
  },
  {
    name: 'answers 400 to a body flagged base64 that is raw XML',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return invokeEvent(f, push.query, push.body, true);
    },
    status: 400,
    message: 'event body is not well-formed XML',
    code: 'malformed_message',
  },
  {
    name: 'answers success to a base64-encoded replay and keeps the stored ticket',
    send: (f) => {
      const push = sealedPush(replayPayload(f));
      return invokeEvent(f, push.query, Buffer.from(push.body).toString('base64'), true);
    },
    status: 200,
    message: 'success',
  },
];

const replayCases: HostileCase[] = [
  {
    name: 'answers success to a ticket older than the stored one and keeps the stored ticket',
    send: (f) => sealed(f, ticketPayload(f.ticketCreateSeconds - 600)),
    status: 200,
    message: 'success',
  },
  {
    name: 'answers success to a different ticket with the same CreateTime and keeps the stored one',
    send: (f) => sealed(f, ticketPayload(f.ticketCreateSeconds)),
    status: 200,
    message: 'success',
  },
  {
    name: 'answers success to a ticket older than 12 hours and stores nothing',
    send: (f) => sealed(f, ticketPayload(f.ticketCreateSeconds - 12 * 3600 - 1)),
    status: 200,
    message: 'success',
  },
  {
    name: 'answers success to an exact replay of the stored ticket push',
    send: (f) =>
      sealed(f, ticketPayload(f.ticketCreateSeconds, f.h.simulator.state.latestTicket as string)),
    status: 200,
    message: 'success',
  },
  {
    name: 'answers success to a replayed authorized push and exchanges nothing again',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', f.authorizedAtSeconds],
          ['InfoType', 'authorized'],
          ['AuthorizerAppid', AUTHORIZER_APPID],
          ['AuthorizationCode', f.authorizedCode],
          ['AuthorizationCodeExpiredTime', f.authorizedAtSeconds + 600],
        ])
      ),
    status: 200,
    message: 'success',
  },
  {
    name: 'answers success to an unauthorized push older than the authorization and keeps it',
    send: (f) =>
      sealed(
        f,
        payloadXml([
          ['AppId', COMPONENT_APPID],
          ['CreateTime', f.authorizedAtSeconds - 3600],
          ['InfoType', 'unauthorized'],
          ['AuthorizerAppid', AUTHORIZER_APPID],
        ])
      ),
    status: 200,
    message: 'success',
  },
  ...(['notify_third_fasteregister', 'notify_unknown_future_event'] as const).map(
    (infoType): HostileCase => ({
      name: `answers success to the unknown InfoType ${infoType} and writes nothing`,
      send: (f) =>
        sealed(
          f,
          payloadXml([
            ['AppId', COMPONENT_APPID],
            ['CreateTime', nowSeconds(f)],
            ['InfoType', infoType],
            ['AuthorizerAppid', AUTHORIZER_APPID],
          ])
        ),
      status: 200,
      message: 'success',
    })
  ),
];

const XSS = '"><script>alert(1)</script>';
const encoded = encodeURIComponent;

const authorizePageCases: HostileCase[] = [
  ...(
    [
      ['auth_type', XSS, 'auth_type must be one of 1, 2, 3, 4, 5, 6, 8'],
      ['auth_type', '" onmouseover="alert(1)', 'auth_type must be one of 1, 2, 3, 4, 5, 6, 8'],
      ['auth_type', '7', 'auth_type must be one of 1, 2, 3, 4, 5, 6, 8'],
      ['biz_appid', XSS, 'biz_appid must be an appid'],
      ['biz_appid', 'javascript:alert(1)', 'biz_appid must be an appid'],
      ['biz_appid', `wx${'a'.repeat(8000)}`, 'biz_appid must be an appid'],
      ['biz_appid', 'wx1234567890abcdef\u202e', 'biz_appid must be an appid'],
      ['category_id_list', `1|2|${XSS}`, 'category_id_list must be permission-set ids'],
      ['category_id_list', '1|<img src=x onerror=alert(1)>', 'category_id_list must be'],
      ['category_id_list', '1\n2', 'category_id_list must be permission-set ids'],
      [
        'category_id_list',
        Array.from({ length: 65 }, (_, i) => i + 1).join('|'),
        'category_id_list must be permission-set ids',
      ],
    ] as const
  ).map(
    ([name, value, message]): HostileCase => ({
      name: `shows a 400 page without echoing ${name}=${JSON.stringify(value.slice(0, 40))}`,
      send: (f) => getPage(f, `/authorize?${name}=${encoded(value)}`),
      status: 400,
      message,
      code: 'invalid_request',
      injected: value.length > 3 ? value : undefined,
    })
  ),
  {
    name: 'shows a 400 page for a duplicated auth_type',
    send: (f) => getPage(f, '/authorize?auth_type=3&auth_type=3'),
    status: 400,
    message: 'auth_type must be one of',
    code: 'invalid_request',
  },
  {
    name: 'ignores a forged X-Forwarded-Host carrying markup',
    send: (f) => getPage(f, '/authorize', { 'x-forwarded-host': `evil.example${XSS}` }),
    status: 200,
    message: 'id="authorize-pc"',
    injected: XSS,
  },
];

/** Shaped like WeChat's codes (`queryauthcode@@@` + base64url), so the other parameters are what is checked. */
const WELL_FORMED_CODE = `queryauthcode@@@${'A'.repeat(86)}`;

const callbackCases: HostileCase[] = [
  ...(
    [
      ['', 'the link has no auth_code; start the authorization again'],
      [`auth_code=${encoded(XSS)}`, 'auth_code is malformed'],
      [`auth_code=${encoded('<img src=x onerror=alert(1)>')}`, 'auth_code is malformed'],
      ['auth_code=short', 'auth_code is malformed'],
      [`auth_code=${'a'.repeat(513)}`, 'auth_code is malformed'],
      [
        'auth_code=queryauthcode@@@AAAAAAAA&auth_code=queryauthcode@@@BBBBBBBB',
        'auth_code is malformed',
      ],
      [`auth_code=${encoded('queryauthcode@@@ spaced value')}`, 'auth_code is malformed'],
      ['auth_code=queryauthcode%00@@@nul', 'auth_code is malformed'],
      ['auth_code=undefined', 'auth_code is malformed'],
      [`auth_code=${WELL_FORMED_CODE}&expires_in=${encoded(XSS)}`, 'expires_in is malformed'],
      [`auth_code=${WELL_FORMED_CODE}&expires_in=-1`, 'expires_in is malformed'],
      [`auth_code=${WELL_FORMED_CODE}`, 'expires_in is missing'],
      [`auth_code=${WELL_FORMED_CODE}&expires_in=999999`, 'expires_in is malformed'],
      [`auth_code=&error=${encoded(XSS)}`, 'the link has no auth_code'],
    ] as const
  ).map(
    ([query, message]): HostileCase => ({
      name: `shows a 400 page for the callback query ${JSON.stringify(query.slice(0, 60))}`,
      send: (f) => getPage(f, `/authorize/callback${query ? `?${query}` : ''}`),
      status: 400,
      message,
      code: 'invalid_request',
      injected: query.includes(encoded(XSS)) ? '<script>' : undefined,
    })
  ),
];

interface TokenCase {
  name: string;
  raw: string;
  code: string;
  message: string;
  status?: number;
}

const APPID_MESSAGE = 'authorizerAppId must be an appid (wx followed by letters and digits)';
const OBJECT_MESSAGE = 'the request must be a JSON object';
const tokenPayloads: TokenCase[] = [
  ...(
    ['[]', `["${AUTHORIZER_APPID}"]`, '123', `"${AUTHORIZER_APPID}"`, 'null', 'true'] as const
  ).map(
    (raw): TokenCase => ({
      name: `refuses the payload ${raw} with invalid_request`,
      raw,
      code: 'invalid_request',
      message: OBJECT_MESSAGE,
    })
  ),
  ...(
    [
      ['an empty object', '{}'],
      ['an empty authorizerAppId', '{"authorizerAppId":""}'],
      ['the string "null" as authorizerAppId', '{"authorizerAppId":"null"}'],
      ['null as authorizerAppId', '{"authorizerAppId":null}'],
      ['a number as authorizerAppId', '{"authorizerAppId":12345678901234567}'],
      ['an array as authorizerAppId', `{"authorizerAppId":["${AUTHORIZER_APPID}"]}`],
      ['an object as authorizerAppId', `{"authorizerAppId":{"toString":"${AUTHORIZER_APPID}"}}`],
      ['an appid with a trailing newline', `{"authorizerAppId":"${AUTHORIZER_APPID}\\n"}`],
      ['markup as authorizerAppId', `{"authorizerAppId":${JSON.stringify(XSS)}}`],
      ['an appid with a Cyrillic letter', '{"authorizerAppId":"w\u0445merchanthostile1"}'],
      ['an appid in capitals', `{"authorizerAppId":"${AUTHORIZER_APPID.toUpperCase()}"}`],
    ] as const
  ).map(
    ([what, raw]): TokenCase => ({
      name: `refuses ${what} with invalid_request`,
      raw,
      code: 'invalid_request',
      message: APPID_MESSAGE,
    })
  ),
  {
    name: 'refuses a __proto__ key without polluting any prototype',
    raw: `{"__proto__":{"authorizerAppId":"${AUTHORIZER_APPID}","component":true}}`,
    code: 'invalid_request',
    message: 'unknown field(s): "__proto__"',
  },
  {
    name: 'refuses a constructor key next to a valid appid',
    raw: `{"constructor":{"prototype":{"polluted":true}},"authorizerAppId":"${AUTHORIZER_APPID}"}`,
    code: 'invalid_request',
    message: 'unknown field(s): "constructor"',
  },
  {
    name: 'refuses an extra field next to a valid appid',
    raw: `{"authorizerAppId":"${AUTHORIZER_APPID}","tenant":"other"}`,
    code: 'invalid_request',
    message: 'unknown field(s): "tenant"',
  },
  ...(['"true"', '1', 'false', 'null'] as const).map(
    (value): TokenCase => ({
      name: `refuses component: ${value}`,
      raw: `{"component":${value}}`,
      code: 'invalid_request',
      message: 'component must be true',
    })
  ),
  {
    name: 'refuses component together with authorizerAppId',
    raw: `{"component":true,"authorizerAppId":"${AUTHORIZER_APPID}"}`,
    code: 'invalid_request',
    message: 'send either authorizerAppId or component, not both',
  },
  ...(
    [
      ['an empty invalidToken', '""'],
      ['a numeric invalidToken', '123'],
      ['an invalidToken of 2049 characters', `"${'t'.repeat(2049)}"`],
      ['an array invalidToken', '["x"]'],
    ] as const
  ).map(
    ([what, value]): TokenCase => ({
      name: `refuses ${what}`,
      raw: `{"authorizerAppId":"${AUTHORIZER_APPID}","invalidToken":${value}}`,
      code: 'invalid_request',
      message: 'invalidToken must be the non-empty token WeChat rejected',
    })
  ),
  {
    name: 'answers authorizer_not_found for a well-formed appid that never authorized',
    raw: '{"authorizerAppId":"wx0000000000000000"}',
    code: 'authorizer_not_found',
    message: 'authorizer wx0000000000000000 has not authorized this platform',
  },
  {
    name: 'answers authorizer_revoked for a revoked merchant',
    raw: `{"authorizerAppId":"${REVOKED}"}`,
    code: 'authorizer_revoked',
    message: `authorizer ${REVOKED} revoked the authorization`,
  },
  {
    name: 'answers 400 invalid_request to a body that is not JSON',
    raw: `{"authorizerAppId":"${AUTHORIZER_APPID}"`,
    code: 'invalid_request',
    message: 'body must be JSON',
    status: 400,
  },
];

const tokenCases: HostileCase[] = tokenPayloads.map((c) => ({
  name: c.name,
  send: (f) => postToken(f, c.raw),
  status: c.status ?? 200,
  message: c.message,
  code: c.code,
}));

const suites: [string, string, HostileCase[]][] = [
  ['POST /wechat/events: query and signatures', 'event', queryAndSignatureCases],
  ['POST /wechat/events: AppId checks', 'event', appIdCases],
  ['POST /wechat/events: ciphertext tampering', 'event', ciphertextCases],
  ['POST /wechat/events: PKCS#7 padding', 'event', paddingCases],
  ['POST /wechat/events: XML attacks', 'event', xmlCases],
  ['POST /wechat/events: payload fields', 'event', payloadCases],
  ['POST /wechat/events: size, content type and encoding', 'event', sizeAndEncodingCases],
  ['POST /wechat/events: replays and unknown events', 'event', replayCases],
  ['GET /authorize: injection', 'page', authorizePageCases],
  ['GET /authorize/callback: injection and malformed codes', 'page', callbackCases],
  ['get-token payloads (POST /local/token)', 'token', tokenCases],
];

const HOSTILE_CASE_COUNT = suites.reduce((sum, [, , cases]) => sum + cases.length, 0);

describe('hostile-input corpus against the real handlers', () => {
  const f = {} as Fixture;

  beforeAll(async () => {
    f.h = await startHarness();
    await f.h.simulator.pushTicket();
    f.ticketCreateSeconds =
      ((await f.h.store.getTicket(COMPONENT_APPID))?.createTime as number) / 1000;
    await f.h.token({ component: true });
    const authorized = await f.h.simulator.pushAuthorized(AUTHORIZER_APPID);
    f.authorizedCode = authorized.authCode;
    f.authorizedAtSeconds = nowSeconds(f);
    await f.h.simulator.pushAuthorized(REVOKED);
    await f.h.simulator.pushUnauthorized(REVOKED);
    const merchant = await f.h.store.getAuthorizer(COMPONENT_APPID, AUTHORIZER_APPID);
    if (merchant?.status !== 'active') throw new Error('the corpus needs an active merchant');
  });
  afterAll(async () => {
    await f.h.close();
  });

  it('holds at least 50 hostile cases', () => {
    expect(HOSTILE_CASE_COUNT).toBeGreaterThanOrEqual(50);
  });

  describe.each(suites)('%s', (_title, route, cases) => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const { h } = f;
      const before = await scanTable(h);
      const logStart = h.log.entries.length;
      const rejectedBefore = c.code ? h.metrics.total(MetricName.CallbackRejected, c.code) : 0;

      const answer = await c.send(f);

      expect(answer.status).toBe(c.status);
      if (route === 'token') {
        expect(JSON.parse(answer.body)).toEqual({
          error: { code: c.code, message: expect.stringContaining(c.message) },
        });
      } else {
        expect(answer.body).toContain(c.message);
      }
      const after = await scanTable(h);
      // A page that called WeChat counted it in its route's budget; nothing else may change.
      expect(c.status < 400 ? withoutBudgetCounts(after) : after).toEqual(
        c.status < 400 ? withoutBudgetCounts(before) : before
      );
      const logs = h.log.entries.slice(logStart);
      const credentials = credentialValues(h.simulator, { extra: [CRAFTED_TICKET] });
      expect(leakedIn(answer.body, credentials)).toEqual([]);
      expect(leakedIn(JSON.stringify(logs), [...credentials, SECRET.token])).toEqual([]);
      if (c.injected) expect(answer.body).not.toContain(c.injected);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(({} as Record<string, unknown>).authorizerAppId).toBeUndefined();

      if (route === 'event') {
        expect(answer.headers['x-content-type-options']).toBe('nosniff');
        const rejections = logs.filter((e) => e.message === 'request rejected');
        if (c.status >= 400) {
          expect(answer.body).toBe(c.message);
          expect(rejections.map((e) => e.fields.code)).toEqual([c.code]);
          expect(h.metrics.total(MetricName.CallbackRejected, c.code)).toBe(rejectedBefore + 1);
        } else {
          expect(answer.body).toBe('success');
          expect(rejections).toEqual([]);
        }
      }
      if (route === 'page') {
        expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
        expect(answer.body).not.toMatch(/<script|onerror=|onmouseover=/i);
        if (c.status >= 400) {
          expect(
            logs.filter((e) => e.message === 'request rejected').map((e) => e.fields.code)
          ).toEqual([c.code]);
        }
      }
      if (route === 'token' && c.status === 200) {
        const refusals = logs.filter((e) => e.message === 'get-token refused');
        expect(refusals.map((e) => e.fields.code)).toEqual([c.code]);
      }
    });
  });
});
