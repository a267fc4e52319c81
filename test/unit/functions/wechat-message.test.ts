import type { Context } from 'aws-lambda';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeps, type Deps } from '../../../functions/lib/deps';
import { makeHandler } from '../../../functions/wechat-message';
import { type LocalDynamo, startLocalDynamo } from '../../../local/local-dynamo';
import { loadConfig } from '../../../shared/config';
import { MsgCrypto, sha1Signature } from '../../../shared/crypto/msg-crypto';
import { MetricName } from '../../../shared/log';
import type { ReleaseCheckReplyJob } from '../../../shared/messages/handle-message';
import { DynamoDbTokenStore } from '../../../shared/store/dynamodb-token-store';
import { httpEvent } from '../../support/events';
import { SECRET } from '../../support/harness';
import { type RecordedMetrics, recordingLog, recordingMetrics } from '../../support/recorders';
import { type RecordingPublisher, recordingPublisher } from '../../support/recording-publisher';
import {
  AUTHORIZER_APPID,
  COMPONENT_APPID,
  OTHER_AUTHORIZER_APPID,
  OTHER_COMPONENT_APPID,
  T0,
} from '../../support/test-ids';

const crypto = new MsgCrypto({ ...SECRET, appId: COMPONENT_APPID });
const TEST_OFFICIAL_ACCOUNT = 'wx570bc396a51b8ff8';
const TEST_MINI_PROGRAM = 'wxd101a85aa106f53e';
const FAN = 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M';
const GH = 'gh_123456789abc';
const context = {} as Context;

let dynamo: LocalDynamo;
let deps: Deps;
let bus: RecordingPublisher;
let metrics: RecordedMetrics;
let jobs: ReleaseCheckReplyJob[];
let handler: ReturnType<typeof makeHandler>;
let msgId = 1_000;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});

async function authorize(tableName: string, appIds: string[]) {
  const store = new DynamoDbTokenStore(dynamo.doc, tableName);
  for (const authorizerAppId of appIds) {
    await store.saveAuthorization(
      {
        componentAppId: COMPONENT_APPID,
        authorizerAppId,
        accessToken: `access-${authorizerAppId}`,
        expiresAt: T0 + 7_200_000,
        refreshToken: `refresh-${authorizerAppId}`,
        funcInfo: [1],
        refreshAt: T0 + 6_000_000,
        authorizedAt: T0,
      },
      T0
    );
  }
  return store;
}

/** A Lambda container's deps: each has its own intake memory. */
const containerDeps = (tableName: string) =>
  createDeps(
    loadConfig({ TOKEN_TABLE_NAME: tableName, COMPONENT_APPID, COMPONENT_SECRET_ID: 'local' }),
    {
      dynamo: dynamo.doc,
      secrets: async () => SECRET,
      clock: () => T0,
      log: recordingLog(),
      metrics,
      events: bus,
      startReleaseCheckReply: async (job) => {
        jobs.push(job);
      },
    }
  );

beforeEach(async () => {
  const tableName = await dynamo.createTable();
  await authorize(tableName, [AUTHORIZER_APPID, TEST_OFFICIAL_ACCOUNT, TEST_MINI_PROGRAM]);
  bus = recordingPublisher();
  metrics = recordingMetrics();
  jobs = [];
  deps = containerDeps(tableName);
  handler = makeHandler(async () => deps);
});

const cdata = (value: string) => `<![CDATA[${value}]]>`;

/** A decrypted push as WeChat writes it: strings in CDATA, numbers bare, nested elements kept. */
function messageXml(fields: Record<string, string | number>, inner = ''): string {
  const elements = Object.entries(fields)
    .map(([name, value]) =>
      typeof value === 'number'
        ? `<${name}>${value}</${name}>`
        : `<${name}>${cdata(value)}</${name}>`
    )
    .join('');
  return `<xml>${elements}${inner}</xml>`;
}

const base = (msgType: string) => ({
  ToUserName: GH,
  FromUserName: FAN,
  CreateTime: T0 / 1000,
  MsgType: msgType,
});

const text = (content: string, extra: Record<string, string | number> = {}) =>
  messageXml({ ...base('text'), Content: content, MsgId: msgId++, ...extra });
const eventXml = (event: string, extra: Record<string, string | number> = {}) =>
  messageXml({ ...base('event'), Event: event, ...extra });

/** A push exactly as WeChat sends it to `…/wechat/messages/<appid>`: signed query, encrypted envelope. */
function delivery(
  plaintext: string,
  options: { receiveId?: string; token?: string; signature?: string } = {}
) {
  const sealer = options.receiveId
    ? new MsgCrypto({ ...SECRET, appId: options.receiveId })
    : crypto;
  const sealed = sealer.encrypt(plaintext, { timestamp: String(T0 / 1000), nonce: '1234567' });
  const token = options.token ?? SECRET.token;
  return {
    query: {
      signature: sha1Signature(token, sealed.timestamp, sealed.nonce),
      timestamp: sealed.timestamp,
      nonce: sealed.nonce,
      openid: FAN,
      encrypt_type: 'aes',
      msg_signature:
        options.signature ?? sha1Signature(token, sealed.timestamp, sealed.nonce, sealed.encrypt),
    },
    body: `<xml><ToUserName>${cdata(GH)}</ToUserName><Encrypt>${cdata(sealed.encrypt)}</Encrypt></xml>`,
  };
}

function post(appId: string, input: { query?: Record<string, string>; body?: string }) {
  const event = httpEvent({
    method: 'POST',
    path: `/wechat/messages/${appId}`,
    headers: { 'content-type': 'text/xml' },
    ...input,
  });
  return handler(
    {
      ...event,
      routeKey: 'POST /wechat/messages/{appid}',
      pathParameters: { appid: appId },
    },
    context
  );
}

const send = (appId: string, plaintext: string) => post(appId, delivery(plaintext));

const xmlParser = new XMLParser({ processEntities: false, parseTagValue: false });

/** Decrypts a passive reply the way WeChat does: signature first, then the ciphertext. */
function openReply(body: string) {
  const envelope = xmlParser.parse(body).xml as Record<string, string>;
  const plaintext = crypto.decrypt({
    msgSignature: envelope.MsgSignature as string,
    timestamp: String(envelope.TimeStamp),
    nonce: String(envelope.Nonce),
    encrypt: envelope.Encrypt as string,
  });
  return xmlParser.parse(plaintext).xml as Record<string, string>;
}

describe('POST /wechat/messages/{appid}: onto the bus', () => {
  it('publishes a fan’s message with WeChat’s fields, the authorizer and its id, then answers success', async () => {
    const answer = await send(AUTHORIZER_APPID, text('hello 你好', { MsgDataId: 'x1' }));
    expect(answer).toMatchObject({ statusCode: 200, body: 'success' });
    expect(bus.messages).toHaveLength(1);
    const [event] = bus.messages;
    expect(event).toMatchObject({
      schemaVersion: 1,
      componentAppId: COMPONENT_APPID,
      authorizerAppId: AUTHORIZER_APPID,
      msgType: 'text',
      time: new Date(T0).toISOString(),
      message: {
        ToUserName: GH,
        FromUserName: FAN,
        CreateTime: String(T0 / 1000),
        MsgType: 'text',
        Content: 'hello 你好',
        MsgDataId: 'x1',
      },
    });
    expect(event?.event).toBeUndefined();
    expect(event?.id).toMatch(/^[0-9a-f]{32}$/);
    expect(metrics.total(MetricName.MessagePublished)).toBe(1);
  });

  it('keeps nested and repeated elements as objects and arrays (a menu’s photo event)', async () => {
    const pics =
      '<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum><![CDATA[a1]]></PicMd5Sum></item>' +
      '<item><PicMd5Sum><![CDATA[b2]]></PicMd5Sum></item></PicList></SendPicsInfo>';
    const xml = messageXml({ ...base('event'), Event: 'pic_sysphoto', EventKey: 'k' }, pics);
    expect((await send(AUTHORIZER_APPID, xml)).statusCode).toBe(200);
    expect(bus.messages[0]).toMatchObject({
      msgType: 'event',
      event: 'pic_sysphoto',
      message: {
        SendPicsInfo: {
          Count: '2',
          PicList: { item: [{ PicMd5Sum: 'a1' }, { PicMd5Sum: 'b2' }] },
        },
      },
    });
  });

  it('gives every delivery of one push the same id, and another push another id', async () => {
    const first = text('one');
    await send(AUTHORIZER_APPID, first);
    handler = makeHandler(async () => deps); // the same container: the same intake memory
    const again = await send(AUTHORIZER_APPID, first);
    expect(again).toMatchObject({ statusCode: 200, body: 'success' });
    expect(bus.messages).toHaveLength(1);
    expect(metrics.total(MetricName.MessageDuplicate)).toBe(1);

    await send(AUTHORIZER_APPID, eventXml('subscribe'));
    await send(
      AUTHORIZER_APPID,
      eventXml('LOCATION', { Latitude: '23.1', Longitude: '113.3', Precision: '119.3' })
    );
    await send(AUTHORIZER_APPID, eventXml('subscribe'));
    const ids = bus.messages.map((m) => m.id);
    expect(new Set(ids).size).toBe(3);
    expect(bus.messages.map((m) => m.event)).toEqual([undefined, 'subscribe', 'LOCATION']);
  });

  it('publishes a retry a new container receives again, with the same id (consumers dedupe by it)', async () => {
    const push = text('twice');
    await send(AUTHORIZER_APPID, push);
    const otherContainer = containerDeps(deps.config.tokenTableName);
    handler = makeHandler(async () => otherContainer);
    await send(AUTHORIZER_APPID, push);
    expect(bus.messages.map((m) => m.id)).toEqual([bus.messages[0]?.id, bus.messages[0]?.id]);
  });

  it('answers 503 when the bus refuses, publishing nothing, and publishes WeChat’s next delivery', async () => {
    const push = text('retry me');
    bus.failNext();
    const refused = await send(AUTHORIZER_APPID, push);
    expect(refused.statusCode).toBe(503);
    expect(refused.body).not.toContain('retry me');
    expect(bus.messages).toEqual([]);
    expect(metrics.total(MetricName.MessagePublishFailed)).toBe(1);
    expect((await send(AUTHORIZER_APPID, push)).body).toBe('success');
    expect(bus.messages).toHaveLength(1);
  });
});

describe('what is never published', () => {
  it('acknowledges a push for an appid that is not an authorizer, counts it, publishes nothing', async () => {
    const answer = await send(OTHER_AUTHORIZER_APPID, text('who?'));
    expect(answer).toMatchObject({ statusCode: 200, body: 'success' });
    expect(bus.messages).toEqual([]);
    expect(metrics.total(MetricName.MessageRefused, 'unknown_authorizer')).toBe(1);
  });

  it('acknowledges a revoked authorizer’s push without publishing it', async () => {
    const store = new DynamoDbTokenStore(dynamo.doc, deps.config.tokenTableName);
    await store.endAuthorization(
      COMPONENT_APPID,
      AUTHORIZER_APPID,
      'revoked',
      { eventTime: T0 },
      T0
    );
    expect((await send(AUTHORIZER_APPID, text('gone'))).body).toBe('success');
    expect(bus.messages).toEqual([]);
  });

  const forged: [string, () => Promise<{ statusCode?: number }>, number, string][] = [
    [
      'a wrong msg_signature',
      () => post(AUTHORIZER_APPID, delivery(text('x'), { signature: 'a'.repeat(40) })),
      401,
      'signature_mismatch',
    ],
    [
      'another token',
      () => post(AUTHORIZER_APPID, delivery(text('x'), { token: 'not-our-token' })),
      401,
      'signature_mismatch',
    ],
    [
      'a payload sealed for another component',
      () => post(AUTHORIZER_APPID, delivery(text('x'), { receiveId: OTHER_COMPONENT_APPID })),
      400,
      'appid_mismatch',
    ],
    [
      'an appid in the URL that is not one',
      () => post('not-an-appid', delivery(text('x'))),
      400,
      'invalid_request',
    ],
    [
      'no signature at all',
      () => post(AUTHORIZER_APPID, { body: delivery(text('x')).body }),
      400,
      'invalid_request',
    ],
    [
      'an entity declaration inside the payload',
      () => send(AUTHORIZER_APPID, `<!DOCTYPE xml [<!ENTITY a "b">]>${text('&a;')}`),
      400,
      'malformed_message',
    ],
    [
      'a payload without MsgType',
      () =>
        send(AUTHORIZER_APPID, messageXml({ ToUserName: GH, FromUserName: FAN, CreateTime: 1 })),
      400,
      'malformed_message',
    ],
    [
      'an event without Event',
      () => send(AUTHORIZER_APPID, messageXml(base('event'))),
      400,
      'malformed_message',
    ],
    [
      'a huge body',
      () =>
        post(AUTHORIZER_APPID, {
          ...delivery(text('x')),
          body: `<xml>${'a'.repeat(70_000)}</xml>`,
        }),
      413,
      'payload_too_large',
    ],
  ];
  it.each(forged)(
    'refuses %s with a 4xx, counted by kind, publishing nothing',
    async (_name, act, status, kind) => {
      expect((await act()).statusCode).toBe(status);
      expect(bus.messages).toEqual([]);
      expect(jobs).toEqual([]);
      expect(metrics.total(MetricName.MessageRefused, kind)).toBe(1);
    }
  );
});

describe('WeChat’s release check, answered for its test accounts only', () => {
  it.each([TEST_OFFICIAL_ACCOUNT, TEST_MINI_PROGRAM])(
    '%s: an event gets the encrypted text reply <Event>from_callback',
    async (account) => {
      const answer = await send(account, eventXml('LOCATION'));
      expect(answer.statusCode).toBe(200);
      expect(answer.headers?.['content-type']).toMatch(/xml/);
      const reply = openReply(answer.body as string);
      expect(reply).toMatchObject({
        ToUserName: FAN,
        FromUserName: GH,
        MsgType: 'text',
        Content: 'LOCATIONfrom_callback',
      });
      expect(bus.messages).toHaveLength(1);
    }
  );

  it('the text TESTCOMPONENT_MSG_TYPE_TEXT gets TESTCOMPONENT_MSG_TYPE_TEXT_callback', async () => {
    const answer = await send(TEST_OFFICIAL_ACCOUNT, text('TESTCOMPONENT_MSG_TYPE_TEXT'));
    expect(openReply(answer.body as string).Content).toBe('TESTCOMPONENT_MSG_TYPE_TEXT_callback');
  });

  it('QUERY_AUTH_CODE:<code> gets an empty answer and starts the customer-service reply once', async () => {
    const push = text('QUERY_AUTH_CODE:queryauthcode@@@abc');
    const answer = await send(TEST_OFFICIAL_ACCOUNT, push);
    expect(answer).toMatchObject({ statusCode: 200, body: '' });
    expect(jobs).toEqual([
      {
        job: 'release-check-reply',
        authorizerAppId: TEST_OFFICIAL_ACCOUNT,
        queryAuthCode: 'queryauthcode@@@abc',
        toUser: FAN,
      },
    ]);
    expect((await send(TEST_OFFICIAL_ACCOUNT, push)).body).toBe('');
    expect(jobs).toHaveLength(1);
  });

  it('a real account sending the same texts and events gets no reply and starts nothing', async () => {
    for (const xml of [
      eventXml('LOCATION'),
      text('TESTCOMPONENT_MSG_TYPE_TEXT'),
      text('QUERY_AUTH_CODE:queryauthcode@@@abc'),
    ]) {
      expect(await send(AUTHORIZER_APPID, xml)).toMatchObject({ statusCode: 200, body: 'success' });
    }
    expect(jobs).toEqual([]);
    expect(bus.messages).toHaveLength(3);
  });

  it('a test account’s other messages get no reply', async () => {
    expect((await send(TEST_OFFICIAL_ACCOUNT, text('hello'))).body).toBe('success');
  });
});
