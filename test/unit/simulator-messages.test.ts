import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CallerApiPath,
  kindsFor,
  MESSAGE_KINDS,
  type MessageDraw,
  type MessageKindName,
  originalId,
  type SimulatorOptions,
  startWechatSimulator,
  type WechatSimulator,
} from '../../local/simulator';
import { WechatSealer } from '../../local/simulator/crypto';
import { readXml, XmlSyntaxError } from '../../local/simulator/xml';
import { MsgCrypto } from '../../shared/crypto/msg-crypto';
import { ApiPath } from '../../shared/wechat/wire';
import rawVectors from '../fixtures/crypto-vectors.json';
import {
  AUTHORIZER_APPID,
  COMPONENT_APPID,
  HOUR,
  OTHER_AUTHORIZER_APPID,
  OTHER_COMPONENT_APPID,
  T0,
} from '../support/test-ids';
import {
  KEY,
  decrypt as open,
  type Received,
  SECRET,
  TOKEN,
  tag,
} from './local/wechat-simulator-fixture';

/**
 * The simulator's side of the message URL (protocol §13): fans' messages and events sealed like the
 * pushes, the service's passive replies opened and judged strictly, deliveries made again, the catalogue
 * of kinds, and the customer-service API the release check reads. The service's side is played with its
 * own MsgCrypto (the shared fixture's keys and `decrypt`).
 */

const OTHER_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj';
const MINI_PROGRAM = OTHER_AUTHORIZER_APPID;
const EGRESS_LOOPBACK = '127.0.0.2';

const serviceCrypto = new MsgCrypto({ token: TOKEN, encodingAesKey: KEY, appId: COMPONENT_APPID });

/** What the stand-in message URL answers a delivery: status and body, or nothing (a dropped socket). */
type Respond = (message: Received) => { status?: number; body: string } | 'drop';

const where = (message: Received) => new URL(message.url, 'http://x');

/** A passive text reply to `message` as a correct service builds it; `change` spoils one part. */
function passiveReply(
  message: Received,
  content: string,
  change: { crypto?: MsgCrypto; toUserName?: string; msgSignature?: string } = {}
): string {
  const payload = open(message);
  const inner =
    `<xml><ToUserName><![CDATA[${change.toUserName ?? tag(payload, 'FromUserName')}]]></ToUserName>` +
    `<FromUserName><![CDATA[${tag(payload, 'ToUserName')}]]></FromUserName>` +
    `<CreateTime>${Math.floor(T0 / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content><![CDATA[${content}]]></Content></xml>`;
  const sealed = (change.crypto ?? serviceCrypto).encrypt(inner, { timestamp: '1800000001' });
  return (
    `<xml><Encrypt><![CDATA[${sealed.encrypt}]]></Encrypt>` +
    `<MsgSignature><![CDATA[${change.msgSignature ?? sealed.msgSignature}]]></MsgSignature>` +
    `<TimeStamp>${sealed.timestamp}</TimeStamp><Nonce><![CDATA[${sealed.nonce}]]></Nonce></xml>`
  );
}

let receiver: Server;
let base = '';
const received: Received[] = [];
let respond: Respond;
let now = T0;
let sim: WechatSimulator;
const started: WechatSimulator[] = [];

async function start(options: Partial<SimulatorOptions> = {}): Promise<WechatSimulator> {
  const simulator = await startWechatSimulator({
    componentAppId: COMPONENT_APPID,
    componentAppSecret: SECRET,
    token: TOKEN,
    encodingAesKey: KEY,
    messageUrl: `${base}/wechat/messages/$APPID$?via=console`,
    clock: () => now,
    ...options,
  });
  started.push(simulator);
  return simulator;
}

beforeAll(async () => {
  receiver = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const message = { url: req.url ?? '/', headers: req.headers, body };
      received.push(message);
      const answer = respond(message);
      if (answer === 'drop') return void req.socket.destroy();
      res.writeHead(answer.status ?? 200, { 'content-type': 'text/xml' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
beforeEach(async () => {
  now = T0;
  received.length = 0;
  respond = () => ({ body: 'success' });
  sim = await start();
  sim.authorize(AUTHORIZER_APPID);
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

describe('a message to the message URL', () => {
  it('is sealed like a push for the component and addressed to the account, from the fan', async () => {
    const record = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: '你好' });
    expect(received).toHaveLength(1);
    const message = received[0] as Received;
    const userName = sim.state.authorizers.get(AUTHORIZER_APPID)?.userName;
    expect(userName).toMatch(/^gh_[0-9a-f]{12}$/);
    expect(where(message).pathname).toBe(`/wechat/messages/${AUTHORIZER_APPID}`);
    expect(where(message).searchParams.get('via')).toBe('console');
    expect(where(message).searchParams.get('openid')).toBe(sim.openId(AUTHORIZER_APPID));
    expect(message.body).toBe(
      `<xml><ToUserName><![CDATA[${userName}]]></ToUserName><Encrypt><![CDATA[${tag(message.body, 'Encrypt')}]]></Encrypt></xml>`
    );
    const payload = open(message);
    expect(payload).toBe(record.xml);
    expect(readXml(payload)).toEqual({
      ToUserName: userName,
      FromUserName: sim.openId(AUTHORIZER_APPID),
      CreateTime: String(Math.floor(T0 / 1000)),
      MsgType: 'text',
      Content: '你好',
      MsgId: String(record.msgId),
    });
    expect(payload).toContain(`<CreateTime>${Math.floor(T0 / 1000)}</CreateTime>`);
    expect(sim.openId(AUTHORIZER_APPID)).toMatch(/^o[\w-]{27}$/);
    expect(record).toMatchObject({
      status: 200,
      body: 'success',
      answer: 'empty',
      msgType: 'text',
    });
    expect(sim.messages).toEqual([record]);
  });

  it('to a mini program carries no openid in the query; the original id is derived from the appid', async () => {
    sim.authorize(MINI_PROGRAM, [17, 18, 19], { accountType: 'mini_program' });
    await sim.sendMessage(MINI_PROGRAM, MESSAGE_KINDS.user_enter_tempsession.build());
    const message = received[0] as Received;
    expect(where(message).pathname).toBe(`/wechat/messages/${MINI_PROGRAM}`);
    expect(where(message).searchParams.has('openid')).toBe(false);
    expect(tag(open(message), 'ToUserName')).toBe(originalId(MINI_PROGRAM));
    expect(originalId(MINI_PROGRAM)).not.toBe(originalId(AUTHORIZER_APPID));
    expect(tag(open(message), 'Event')).toBe('user_enter_tempsession');
  });

  it('is recorded, not sent, without a message URL; setMessageUrl sets one', async () => {
    sim.setMessageUrl(undefined);
    const unsent = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'x' });
    expect(unsent).toMatchObject({ answer: 'unsent', error: 'no messageUrl set' });
    sim.setMessageUrl(`${base}/other/$APPID$/in`);
    await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'x' });
    expect(received.map((m) => where(m).pathname)).toEqual([`/other/${AUTHORIZER_APPID}/in`]);
  });

  it('refuses an account that has not authorized the platform', async () => {
    await expect(sim.sendMessage(MINI_PROGRAM, { MsgType: 'text', Content: 'x' })).rejects.toThrow(
      /no active authorization/
    );
  });
});

describe('the service’s answer', () => {
  it('a correct encrypted passive reply is opened and read', async () => {
    respond = (message) => ({ body: passiveReply(message, '收到') });
    const record = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'hi' });
    expect(record.replyError).toBeUndefined();
    expect(record.answer).toBe('reply');
    expect(record.reply).toMatchObject({
      MsgType: 'text',
      Content: '收到',
      ToUserName: sim.openId(AUTHORIZER_APPID),
      FromUserName: sim.state.authorizers.get(AUTHORIZER_APPID)?.userName,
    });
  });

  it('success and the empty string mean no reply', async () => {
    respond = () => ({ body: '' });
    expect(
      (await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'a' })).answer
    ).toBe('empty');
    respond = () => ({ body: 'success' });
    expect(
      (await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'b' })).answer
    ).toBe('empty');
  });

  it.each([
    ['a bad MsgSignature', { msgSignature: 'f'.repeat(40) }, /MsgSignature is not sha1/],
    [
      'another receive id',
      {
        crypto: new MsgCrypto({ token: TOKEN, encodingAesKey: KEY, appId: OTHER_COMPONENT_APPID }),
      },
      /receive id is "wxcomponent000002", not the component appid/,
    ],
    [
      'another EncodingAESKey',
      {
        crypto: new MsgCrypto({
          token: TOKEN,
          encodingAesKey: OTHER_KEY,
          appId: COMPONENT_APPID,
        }),
      },
      /Encrypt does not open/,
    ],
    [
      'a ToUserName that is not the fan',
      { toUserName: 'o_not_the_fan' },
      /ToUserName is not the fan/,
    ],
  ])('a reply with %s is refused, saying why', async (_case, change, why) => {
    respond = (message) => ({ body: passiveReply(message, 'x', change) });
    const record = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'hi' });
    expect(record.answer).toBe('invalid_reply');
    expect(record.reply).toBeUndefined();
    expect(record.replyError).toMatch(why);
  });

  it('a plaintext XML reply is refused in safe mode; other text is no reply at all', async () => {
    respond = () => ({
      body: '<xml><ToUserName>o</ToUserName><MsgType>text</MsgType><Content>hi</Content></xml>',
    });
    const plain = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'a' });
    expect(plain).toMatchObject({ answer: 'plaintext', replyError: /unencrypted reply/ });
    respond = () => ({ body: 'ok' });
    const other = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'b' });
    expect(other).toMatchObject({ answer: 'invalid_reply', replyError: /not well-formed XML/ });
  });

  it('a reply missing a required element names it', async () => {
    respond = (message) => {
      const payload = open(message);
      const inner = `<xml><ToUserName><![CDATA[${tag(payload, 'FromUserName')}]]></ToUserName><FromUserName><![CDATA[${tag(payload, 'ToUserName')}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[image]]></MsgType><Image></Image></xml>`;
      const s = serviceCrypto.encrypt(inner);
      return {
        body: `<xml><Encrypt><![CDATA[${s.encrypt}]]></Encrypt><MsgSignature><![CDATA[${s.msgSignature}]]></MsgSignature><TimeStamp>${s.timestamp}</TimeStamp><Nonce><![CDATA[${s.nonce}]]></Nonce></xml>`,
      };
    };
    const record = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'hi' });
    expect(record.replyError).toBe('a image reply needs <Image><MediaId>');
  });
});

describe('deliveries made again (protocol §11.9)', () => {
  it('an HTTP 500 is delivered again at each flush, three deliveries in all, same MsgId and CreateTime', async () => {
    respond = () => ({ status: 500, body: 'busy' });
    const first = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'again' });
    expect(first.answer).toBe('http_error');
    now += 7_000;
    await sim.flushMessages();
    now += 7_000;
    await sim.flushMessages();
    await sim.flushMessages();
    expect(received).toHaveLength(3);
    const payloads = received.map(open);
    expect(new Set(payloads)).toEqual(new Set([first.xml]));
    expect(new Set(payloads.map((p) => tag(p, 'MsgId')))).toEqual(new Set([String(first.msgId)]));
    expect(sim.messages.map((m) => [m.delivery ?? 1, m.msgId, m.createTime])).toEqual([
      [1, first.msgId, Math.floor(T0 / 1000)],
      [2, first.msgId, Math.floor(T0 / 1000)],
      [3, first.msgId, Math.floor(T0 / 1000)],
    ]);
    expect(new Set(received.map((m) => where(m).searchParams.get('timestamp'))).size).toBe(3);
  });

  it('a dropped connection is no answer and is delivered again; a later success ends it', async () => {
    respond = () => 'drop';
    const first = await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'x' });
    expect(first.answer).toBe('no_answer');
    expect(first.error).toBeDefined();
    respond = (message) => ({ body: passiveReply(message, 'late') });
    await sim.flushMessages();
    await sim.flushMessages();
    expect(sim.messages.map((m) => m.answer)).toEqual(['no_answer', 'reply']);
    expect(sim.messages[1]?.reply?.Content).toBe('late');
  });

  it('an answer lost on its way back makes WeChat deliver again, after newer messages', async () => {
    sim.loseNextMessageAnswers(1);
    await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'first' });
    await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'second' });
    await sim.flushMessages();
    await sim.flushMessages();
    expect(received.map((m) => tag(open(m), 'Content'))).toEqual(['first', 'second', 'first']);
  });

  it('retry: false, or the rule off, sends a failed message once', async () => {
    respond = () => ({ status: 503, body: '' });
    await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'x' }, { retry: false });
    await sim.flushMessages();
    expect(received).toHaveLength(1);
    const quiet = await start({ rules: { retryUnansweredPushes: false } });
    quiet.authorize(AUTHORIZER_APPID);
    await quiet.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'y' });
    await quiet.flushMessages();
    expect(received).toHaveLength(2);
  });
});

describe('the catalogue of message and event kinds', () => {
  let seq = 0;
  const draw: MessageDraw = {
    nextMsgId: () => ++seq,
    random: () => 0.3,
    nowSeconds: 1_800_000_000,
  };

  it('keeps WeChat’s element names', () => {
    const names = (kind: MessageKindName) =>
      Object.keys(MESSAGE_KINDS[kind].build(draw)).filter((name) => name !== 'MsgType');
    expect(names('text')).toEqual(['Content', 'MsgId']);
    expect(names('image')).toEqual(['PicUrl', 'MediaId', 'MsgId']);
    expect(names('location')).toEqual(['Location_X', 'Location_Y', 'Scale', 'Label', 'MsgId']);
    expect(names('link')).toEqual(['Title', 'Description', 'Url', 'MsgId']);
    expect(names('shortvideo')).toEqual(['MediaId', 'ThumbMediaId', 'MsgId']);
    expect(names('subscribe_qrscene')).toEqual(['Event', 'EventKey', 'Ticket']);
    expect(names('LOCATION')).toEqual(['Event', 'Latitude', 'Longitude', 'Precision']);
    expect(names('VIEW')).toEqual(['Event', 'EventKey', 'MenuId']);
    expect(names('TEMPLATESENDJOBFINISH')).toEqual(['Event', 'MsgID', 'Status']);
    expect(names('weapp_audit_fail')).toEqual(['Event', 'Reason', 'FailTime', 'ScreenShot']);
    expect(MESSAGE_KINDS.subscribe_qrscene.build(draw).EventKey).toMatch(/^qrscene_\d+$/);
  });

  it('gives official accounts and mini programs their own kinds', () => {
    expect(kindsFor('mini_program')).toEqual(
      expect.arrayContaining(['text', 'weapp_audit_success', 'weapp_audit_delay'])
    );
    expect(kindsFor('mini_program')).not.toContain('subscribe');
    expect(kindsFor('official_account')).not.toContain('weapp_audit_fail');
  });

  it('sendMessages sends a mix to the authorized accounts, every message with its own MsgId', async () => {
    sim.authorize(MINI_PROGRAM, [17, 18, 19], { accountType: 'mini_program' });
    let state = 7;
    const random = () => {
      state = (state * 48_271) % 2_147_483_647;
      return state / 2_147_483_647;
    };
    const records = await sim.sendMessages(40, { random });
    expect(records).toHaveLength(40);
    expect(received).toHaveLength(40);
    const kindOf = (fields: { MsgType: string; Event?: unknown }) =>
      fields.MsgType === 'event' ? String(fields.Event) : fields.MsgType;
    const kindsReceived = (type: 'official_account' | 'mini_program') =>
      new Set(kindsFor(type).map((name) => kindOf(MESSAGE_KINDS[name].build(draw))));
    const official = kindsReceived('official_account');
    const mini = kindsReceived('mini_program');
    for (const record of records) {
      const kind = record.event ?? record.msgType;
      expect(record.authorizerAppId === AUTHORIZER_APPID ? official : mini).toContain(kind);
    }
    const ids = records.filter((r) => r.msgType !== 'event').map((r) => r.msgId);
    expect(ids.length).toBeGreaterThan(5);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(records.map((r) => r.authorizerAppId))).toEqual(
      new Set([AUTHORIZER_APPID, MINI_PROGRAM])
    );
  });
});

describe('the simulator opens passive replies with its own crypto', () => {
  const vectors = (
    rawVectors as unknown as {
      id: string;
      token: string;
      encoding_aes_key?: string;
      encrypt?: string;
      derived?: { plaintext?: string; trailing_receive_id?: string };
    }[]
  ).filter((v) => v.derived?.plaintext !== undefined);

  it.each(vectors.map((v) => [v.id, v] as const))('unseals the public vector %s', (_id, v) => {
    const sealer = new WechatSealer({
      token: v.token,
      encodingAesKey: v.encoding_aes_key as string,
      componentAppId: 'unused',
    });
    expect(sealer.unseal(v.encrypt as string)).toEqual({
      plaintext: v.derived?.plaintext,
      receiveId: v.derived?.trailing_receive_id,
    });
  });

  it('refuses what is not WXBizMsgCrypt', () => {
    const sealer = new WechatSealer({ token: TOKEN, encodingAesKey: KEY, componentAppId: 'x' });
    expect(() => sealer.unseal('not base64!')).toThrow(/not base64/);
    expect(() => sealer.unseal(Buffer.alloc(20).toString('base64'))).toThrow(/multiple of 32/);
    expect(() => sealer.unseal(Buffer.alloc(32).toString('base64'))).toThrow(/PKCS#7/);
  });

  it('reads WeChat’s XML strictly', () => {
    expect(readXml('<xml><A><![CDATA[a]]]]><![CDATA[>b]]></A><B>1 &lt; 2</B></xml>')).toEqual({
      A: 'a]]>b',
      B: '1 < 2',
    });
    expect(readXml('<xml><item><x>1</x></item><item><x>2</x></item></xml>')).toEqual({
      item: [{ x: '1' }, { x: '2' }],
    });
    for (const bad of [
      '<xml a="1"></xml>',
      '<x></x>',
      '<xml><A>1</B></xml>',
      '<xml><A>1<B/></A></xml>',
    ]) {
      expect(() => readXml(bad)).toThrow(XmlSyntaxError);
    }
  });
});

// --- the customer-service API ---------------------------------------------------------------------------

interface Json {
  errcode?: number;
  errmsg?: string;
  [key: string]: unknown;
}

/** A POST with node:http, from `localAddress` when given; the JSON answer. */
function post(url: string, body: unknown, localAddress?: string): Promise<Json> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve(JSON.parse(text) as Json));
      }
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The authorizer token a service gets: a ticket, the component token, then api_query_auth. */
async function authorizerToken(target: WechatSimulator, from?: string): Promise<string> {
  const { ticket } = await target.pushTicket();
  const component = await post(
    `${target.url}${ApiPath.api_component_token}`,
    {
      component_appid: COMPONENT_APPID,
      component_appsecret: SECRET,
      component_verify_ticket: ticket,
    },
    from
  );
  const code = target.authorize(AUTHORIZER_APPID);
  const auth = await post(
    `${target.url}${ApiPath.api_query_auth}?component_access_token=${component.component_access_token}`,
    { component_appid: COMPONENT_APPID, authorization_code: code },
    from
  );
  return (auth.authorization_info as { authorizer_access_token: string }).authorizer_access_token;
}

describe('POST /cgi-bin/message/custom/send', () => {
  const send = (target: WechatSimulator, token: string, body: unknown, from?: string) =>
    post(`${target.url}${CallerApiPath.sendCustomMessage}?access_token=${token}`, body, from);

  it('sends a text to a fan who wrote, and records it in the state', async () => {
    const token = await authorizerToken(sim);
    await sim.sendMessage(AUTHORIZER_APPID, { MsgType: 'text', Content: 'hello' });
    const touser = sim.openId(AUTHORIZER_APPID);
    const answer = await send(sim, token, {
      touser,
      msgtype: 'text',
      text: { content: 'hi back' },
    });
    expect(answer).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(sim.state.customMessages).toEqual([
      {
        authorizerAppId: AUTHORIZER_APPID,
        touser,
        msgtype: 'text',
        content: 'hi back',
        payload: { content: 'hi back' },
        accessToken: token,
        at: T0,
      },
    ]);
  });

  it('refuses a fan who never wrote (45015): an event WeChat reports by itself opens no window', async () => {
    const token = await authorizerToken(sim);
    await sim.sendMessage(AUTHORIZER_APPID, MESSAGE_KINDS.LOCATION.build());
    const answer = await send(sim, token, {
      touser: sim.openId(AUTHORIZER_APPID),
      msgtype: 'text',
      text: { content: 'x' },
    });
    expect(answer.errcode).toBe(45015);
    expect(sim.state.customMessages).toEqual([]);
  });

  it.each([
    ['no touser', 40003, { touser: undefined, msgtype: 'text', text: { content: 'x' } }],
    ['an unknown msgtype', 40008, { msgtype: 'telegram', text: { content: 'x' } }],
    ['an empty content', 44004, { msgtype: 'text', text: { content: '' } }],
    ['no text object', 47001, { msgtype: 'text' }],
  ])('answers %s with errcode %i', async (_case, errcode, body) => {
    const token = await authorizerToken(sim);
    const touser = sim.messageFrom(AUTHORIZER_APPID);
    const answer = await send(sim, token, { touser, ...body });
    expect(answer.errcode).toBe(errcode);
    expect(sim.state.customMessages).toEqual([]);
  });

  it('refuses an unknown token (40001) and an expired one (42001)', async () => {
    const token = await authorizerToken(sim);
    const touser = sim.messageFrom(AUTHORIZER_APPID);
    const body = { touser, msgtype: 'text', text: { content: 'x' } };
    expect((await send(sim, 'not-a-token', body)).errcode).toBe(40001);
    now += 2 * HOUR;
    sim.messageFrom(AUTHORIZER_APPID);
    expect((await send(sim, token, body)).errcode).toBe(42001);
    expect(sim.state.customMessages).toEqual([]);
  });

  it('answers 61004 to a source address off the whitelist, whatever the request', async () => {
    const guarded = await start({ whitelist: [EGRESS_LOOPBACK] });
    const token = await authorizerToken(guarded, EGRESS_LOOPBACK);
    const touser = guarded.messageFrom(AUTHORIZER_APPID);
    const body = { touser, msgtype: 'text', text: { content: 'x' } };
    const refused = await send(guarded, token, body);
    expect(refused.errcode).toBe(61004);
    expect(refused.errmsg).toContain('requestIP: 127.0.0.1');
    expect(await send(guarded, token, body, EGRESS_LOOPBACK)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(guarded.state.customMessages).toHaveLength(1);
  });
});
