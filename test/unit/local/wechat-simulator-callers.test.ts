import { request } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { type CallerApiName, CallerApiPath, type WechatSimulator } from '../../../local/simulator';
import { ConfigError } from '../../../shared/errors';
import { parseRequestIp } from '../../../shared/wechat/errcodes';
import {
  ApiPath,
  type ApiQuotaResponse,
  type AuthorizerTokenResponse,
  type QueryAuthResponse,
  type WechatErrorBody,
} from '../../../shared/wechat/wire';
import {
  AUTHORIZER_APPID,
  COMPONENT_APPID,
  HOUR,
  MINUTE,
  OTHER_AUTHORIZER_APPID,
  SECOND,
} from '../../support/test-ids';
import { RID, SECRET, useSimulatorFixture, withToken } from './wechat-simulator-fixture';

/**
 * The simulator's whitelist by source address and the APIs callers of our tokens use (getticket,
 * user/info, custom messages, getwxacodeunlimit, jscode2session): token verdicts, quotas, binary answers.
 */

const f = useSimulatorFixture();
const { call, componentToken, start } = f;

const MERCHANT = AUTHORIZER_APPID;
const OTHER = OTHER_AUTHORIZER_APPID;
/** Another loopback address: Linux routes all of 127.0.0.0/8 to lo, so a client can bind to it. */
const EGRESS_LOOPBACK = '127.0.0.2';

interface Raw {
  status: number;
  contentType: string;
  body: Buffer;
  json: WechatErrorBody & Record<string, unknown>;
}

/** One request to `target` with node:http (bound to `localAddress` when given); JSON parsed when it is. */
function send(
  target: WechatSimulator,
  method: 'GET' | 'POST',
  path: string,
  query: Record<string, string> = {},
  body?: unknown,
  localAddress?: string
): Promise<Raw> {
  const url = new URL(`${target.url}${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        localAddress,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          const contentType = res.headers['content-type'] ?? '';
          const json = contentType.startsWith('application/json') ? JSON.parse(all.toString()) : {};
          resolve({ status: res.statusCode ?? 0, contentType, body: all, json });
        });
      }
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A caller API by name: GET with `query`, or POST with `body`. */
function caller(
  api: CallerApiName,
  query: Record<string, string>,
  body?: unknown,
  opts: { target?: WechatSimulator; from?: string; method?: 'GET' | 'POST' } = {}
): Promise<Raw> {
  const method = opts.method ?? (body === undefined ? 'GET' : 'POST');
  return send(opts.target ?? f.sim, method, CallerApiPath[api], query, body, opts.from);
}

/** `appId`'s first authorizer tokens (and the component token that got them). */
async function authorizerTokens(appId = MERCHANT, target = f.sim) {
  const component = await componentToken(target);
  const auth = await call<QueryAuthResponse>(
    'api_query_auth',
    { component_appid: COMPONENT_APPID, authorization_code: target.authorize(appId) },
    withToken(component),
    target
  );
  const info = auth.json.authorization_info;
  return {
    component,
    accessToken: info?.authorizer_access_token as string,
    refreshToken: info?.authorizer_refresh_token as string,
  };
}

const ticketOf = (accessToken: string, type = 'jsapi', opts = {}) =>
  caller('getTicket', { access_token: accessToken, type }, undefined, opts);

describe('the whitelist by source address (SimulatorOptions.whitelist)', () => {
  it('answers 61004 with the address it saw, for every API, before the method or the token', async () => {
    const guarded = await start({ whitelist: [EGRESS_LOOPBACK] });
    const { ticket } = await guarded.pushTicket();
    const body = {
      component_appid: COMPONENT_APPID,
      component_appsecret: SECRET,
      component_verify_ticket: ticket,
    };
    const refused = await send(guarded, 'POST', ApiPath.api_component_token, {}, body);
    expect(refused.json).toEqual({
      errcode: 61004,
      errmsg: expect.stringMatching(
        /^access clientip is not registered requestIP: 127\.0\.0\.1 rid: /
      ),
    });
    expect(refused.json.errmsg).toMatch(RID);
    expect(parseRequestIp(refused.json.errmsg as string)).toBe('127.0.0.1');

    // Component APIs, getApiQuota (even as a GET without a token) and the callers' APIs alike.
    const everyApi = [
      send(guarded, 'POST', ApiPath.api_start_push_ticket, {}, {}),
      send(guarded, 'GET', ApiPath.getApiQuota),
      caller('getTicket', { access_token: 'x', type: 'jsapi' }, undefined, { target: guarded }),
      caller('getUserInfo', {}, undefined, { target: guarded }),
      caller('sendCustomMessage', {}, 'not json', { target: guarded }),
      caller('getUnlimitedQRCode', {}, {}, { target: guarded, method: 'GET' }),
      caller('thirdpartyCode2Session', {}, undefined, { target: guarded }),
    ];
    for (const answer of await Promise.all(everyApi)) {
      expect([answer.status, answer.json.errcode]).toEqual([200, 61004]);
    }

    const allowed = await send(
      guarded,
      'POST',
      ApiPath.api_component_token,
      {},
      body,
      EGRESS_LOOPBACK
    );
    expect(allowed.json).toEqual({ component_access_token: expect.any(String), expires_in: 7200 });
    expect(guarded.calls.map((c) => c.clientIp)).toEqual([
      ...new Array(8).fill('127.0.0.1'),
      EGRESS_LOOPBACK,
    ]);
    expect(guarded.calls.filter((c) => c.errcode === 61004)).toHaveLength(8);
  });

  it('guards calls made with an authorizer token too (protocol §11.13)', async () => {
    const guarded = await start({ whitelist: [EGRESS_LOOPBACK] });
    const { ticket } = await guarded.pushTicket();
    const component = await send(
      guarded,
      'POST',
      ApiPath.api_component_token,
      {},
      {
        component_appid: COMPONENT_APPID,
        component_appsecret: SECRET,
        component_verify_ticket: ticket,
      },
      EGRESS_LOOPBACK
    );
    const auth = await send(
      guarded,
      'POST',
      ApiPath.api_query_auth,
      withToken(component.json.component_access_token as string),
      { component_appid: COMPONENT_APPID, authorization_code: guarded.authorize(MERCHANT) },
      EGRESS_LOOPBACK
    );
    const info = auth.json.authorization_info as QueryAuthResponse['authorization_info'];
    const token = info.authorizer_access_token as string;

    expect((await ticketOf(token, 'jsapi', { target: guarded })).json.errcode).toBe(61004);
    const fromEgress = await ticketOf(token, 'jsapi', { target: guarded, from: EGRESS_LOOPBACK });
    expect(fromEgress.json).toMatchObject({ errcode: 0, ticket: expect.any(String) });
    // The refused call neither issued a ticket nor spent quota.
    expect(guarded.ticketQuotaUsed(MERCHANT, 'jsapi')).toBe(1);
  });

  it('normalizes IPv4-mapped addresses, and can be changed or lifted at run time', async () => {
    const guarded = await start({ whitelist: [`::ffff:${EGRESS_LOOPBACK}`] });
    expect([...(guarded.state.whitelist ?? [])]).toEqual([EGRESS_LOOPBACK]);
    const push = () =>
      send(guarded, 'POST', ApiPath.api_start_push_ticket, {}, {}, EGRESS_LOOPBACK);
    expect((await push()).json.errcode).toBe(41002); // past the whitelist: the body's appid is missing

    guarded.setWhitelist(['127.0.0.3']);
    expect((await push()).json.errmsg).toMatch(/requestIP: 127\.0\.0\.2 rid: /);
    guarded.setWhitelist(undefined);
    expect((await send(guarded, 'POST', ApiPath.api_start_push_ticket, {}, {})).json.errcode).toBe(
      41002
    );
  });

  it('setWhitelisted(false) refuses even a listed address, reporting the egress IP', async () => {
    const guarded = await start({ whitelist: [EGRESS_LOOPBACK], egressIp: '198.51.100.99' });
    guarded.setWhitelisted(false);
    const answer = await send(
      guarded,
      'POST',
      ApiPath.api_start_push_ticket,
      {},
      {},
      EGRESS_LOOPBACK
    );
    expect(answer.json.errmsg).toMatch(
      /^access clientip is not registered requestIP: 198\.51\.100\.99 /
    );
    guarded.setWhitelisted(true);
    const again = await send(
      guarded,
      'POST',
      ApiPath.api_start_push_ticket,
      {},
      {},
      EGRESS_LOOPBACK
    );
    expect(again.json.errcode).toBe(41002);
  });

  it('never guards the merchant pages or the simulator routes; refuses a whitelist entry that is no IP', async () => {
    const guarded = await start({ whitelist: [EGRESS_LOOPBACK] });
    const page = await send(guarded, 'GET', '/cgi-bin/componentloginpage');
    expect(page.contentType).toMatch(/^text\/html/);
    const revoke = await send(guarded, 'POST', '/simulator/unauthorize', {
      authorizer_appid: MERCHANT,
    });
    expect(revoke.json.errcode).toBe(61003);

    await expect(start({ whitelist: ['127.0.0.1', 'nat.example.com'] })).rejects.toThrow(
      ConfigError
    );
    expect(() => f.sim.setWhitelist(['300.1.1.1'])).toThrow(/"300.1.1.1" is not an IP address/);
    expect(f.sim.state.whitelist).toBeUndefined();
  });
});

describe('authorizer-token APIs: the token verdicts (as getApiQuota judges tokens)', () => {
  it('41001 missing, 40014 malformed, 40001 unknown, 48001 for the component token', async () => {
    const { component } = await authorizerTokens();
    const verdict = async (query: Record<string, string>) =>
      (await caller('getTicket', { type: 'jsapi', ...query })).json;
    expect((await verdict({})).errcode).toBe(41001);
    expect(await verdict({ access_token: 'not a token!' })).toEqual({
      errcode: 40014,
      errmsg: expect.stringMatching(/^invalid access_token rid: /),
    });
    expect((await verdict({ access_token: 'unknownToken_0123' })).errcode).toBe(40001);
    expect((await verdict({ access_token: component })).errcode).toBe(48001);
  });

  it('42001 once expired; 40001 once superseded past the 5-minute grace, or revoked', async () => {
    const { accessToken } = await authorizerTokens();
    f.now += 7200 * SECOND - 1;
    expect((await ticketOf(accessToken)).json.errcode).toBe(0);
    f.now += 1;
    expect((await ticketOf(accessToken)).json).toEqual({
      errcode: 42001,
      errmsg: expect.stringMatching(/^access_token expired rid: /),
    });

    const fresh = await authorizerTokens(OTHER);
    const renewed = await call<AuthorizerTokenResponse>(
      'api_authorizer_token',
      {
        component_appid: COMPONENT_APPID,
        authorizer_appid: OTHER,
        authorizer_refresh_token: fresh.refreshToken,
      },
      withToken(fresh.component)
    );
    f.now += 5 * MINUTE - 1;
    expect((await caller('getUserInfo', { access_token: fresh.accessToken })).json.errcode).toBe(
      41009 // still accepted: past the token check
    );
    f.now += 1;
    expect((await caller('getUserInfo', { access_token: fresh.accessToken })).json.errcode).toBe(
      40001
    );
    const next = renewed.json.authorizer_access_token as string;
    expect((await ticketOf(next)).json.errcode).toBe(0);
    await f.sim.revoke(OTHER, { push: false });
    expect((await ticketOf(next)).json.errcode).toBe(40001);
  });

  it('records each call with its API name and token, and answers 43001 / 43002 to the wrong method', async () => {
    const { accessToken } = await authorizerTokens();
    f.sim.resetCalls();
    const post = await caller('getTicket', { access_token: accessToken, type: 'jsapi' }, {});
    expect(post.json).toEqual({
      errcode: 43001,
      errmsg: expect.stringMatching(/^require GET method rid: /),
    });
    const get = await caller('sendCustomMessage', { access_token: accessToken });
    expect(get.json.errcode).toBe(43002);
    await ticketOf(accessToken);
    expect(f.sim.callCount('getTicket')).toBe(2);
    expect(f.sim.calls.map((c) => [c.api, c.method, c.token, c.errcode])).toEqual([
      ['getTicket', 'POST', accessToken, 43001],
      ['sendCustomMessage', 'GET', accessToken, 43002],
      ['getTicket', 'GET', accessToken, undefined],
    ]);
  });
});

describe('GET /cgi-bin/ticket/getticket', () => {
  it('issues a new ticket per call, valid 7200 s; the previous one is superseded after the grace', async () => {
    const { accessToken } = await authorizerTokens();
    const first = await ticketOf(accessToken);
    expect(first.contentType).toBe('application/json; encoding=utf-8');
    expect(first.json).toEqual({
      errcode: 0,
      errmsg: 'ok',
      ticket: expect.stringMatching(/^[\w-]{40,}$/),
      expires_in: 7200,
    });
    const ticket = first.json.ticket as string;
    expect(f.sim.currentTicket(MERCHANT, 'jsapi')).toBe(ticket);
    expect(f.sim.ticketStatus(ticket)).toBe('valid');

    f.now += MINUTE;
    const second = (await ticketOf(accessToken)).json.ticket as string;
    expect(second).not.toBe(ticket);
    expect(f.sim.currentTicket(MERCHANT, 'jsapi')).toBe(second);
    f.now += 5 * MINUTE - 1;
    expect(f.sim.ticketStatus(ticket)).toBe('valid');
    f.now += 1;
    expect(f.sim.ticketStatus(ticket)).toBe('superseded');
    expect(f.sim.ticketStatus(second)).toBe('valid');
    f.now += 7200 * SECOND;
    expect(f.sim.ticketStatus(second)).toBe('expired');
    expect(f.sim.ticketStatus('never-issued')).toBe('unknown');

    const card = (await ticketOf(accessToken, 'wx_card')).json.ticket;
    expect(f.sim.currentTicket(MERCHANT, 'wx_card')).toBe(card);
    expect(f.sim.currentTicket(MERCHANT, 'jsapi')).toBe(second);
  });

  it('answers 40097 for another type, without counting it', async () => {
    const { accessToken } = await authorizerTokens();
    expect((await ticketOf(accessToken, 'jsapi_ticket')).json).toEqual({
      errcode: 40097,
      errmsg: expect.stringMatching(
        /^invalid args \(simulator: type must be jsapi or wx_card\) rid: /
      ),
    });
    expect((await caller('getTicket', { access_token: accessToken })).json.errcode).toBe(40097);
    expect(f.sim.quotaUsed('getTicket', MERCHANT)).toBe(0);
  });

  it('counts calls per authorizer and per type, 45009 past dailyQuota.getTicket, until Beijing midnight', async () => {
    const limited = await start({ rules: { dailyQuota: { getTicket: 2 } } });
    const mine = await authorizerTokens(MERCHANT, limited);
    const theirs = await authorizerTokens(OTHER, limited);
    const get = (token: string, type = 'jsapi') => ticketOf(token, type, { target: limited });

    expect((await get(mine.accessToken)).json.errcode).toBe(0);
    expect((await get(mine.accessToken)).json.errcode).toBe(0);
    const refused = await get(mine.accessToken);
    expect(refused.json).toEqual({
      errcode: 45009,
      errmsg: expect.stringMatching(/^reach max api daily quota limit rid: /),
    });
    const current = limited.currentTicket(MERCHANT, 'jsapi');
    expect(limited.ticketQuotaUsed(MERCHANT, 'jsapi')).toBe(2);

    // The other type and the other authorizer have their own counts.
    expect((await get(mine.accessToken, 'wx_card')).json.errcode).toBe(0);
    expect((await get(theirs.accessToken)).json.errcode).toBe(0);
    expect(limited.ticketQuotaUsed(MERCHANT, 'wx_card')).toBe(1);
    expect(limited.ticketQuotaUsed(OTHER, 'jsapi')).toBe(1);
    expect(limited.quotaUsed('getTicket', MERCHANT)).toBe(3);
    expect(limited.currentTicket(MERCHANT, 'jsapi')).toBe(current); // 45009 issued nothing

    // getApiQuota knows the path: the authorizer's type nearest its limit.
    const quota = await send(
      limited,
      'POST',
      ApiPath.getApiQuota,
      { access_token: mine.accessToken },
      { cgi_path: CallerApiPath.getTicket }
    );
    expect((quota.json as unknown as ApiQuotaResponse).quota).toEqual({
      daily_limit: 2,
      used: 2,
      remain: 0,
    });

    f.now += 8 * HOUR; // T0 is 16:00 in Beijing: a new day there
    const fresh = await authorizerTokens(MERCHANT, limited);
    expect((await get(fresh.accessToken)).json.errcode).toBe(0);
    expect(limited.ticketQuotaUsed(MERCHANT, 'jsapi')).toBe(1);
  });

  it('can lose the answer after issuing the ticket (fault "lost")', async () => {
    const { accessToken } = await authorizerTokens();
    f.sim.failNext('getTicket', 'lost');
    await expect(ticketOf(accessToken)).rejects.toThrow();
    expect(f.sim.currentTicket(MERCHANT, 'jsapi')).toBeDefined();
    expect(f.sim.ticketQuotaUsed(MERCHANT, 'jsapi')).toBe(1);
    f.sim.failNext('*', 'malformed');
    expect((await ticketOf(accessToken)).json).toEqual({
      errcode: 0,
      errmsg: 'ok',
      expires_in: 7200,
    });
  });
});

describe('GET /cgi-bin/user/info', () => {
  it("answers a follower of the authorizer's account; 40003 for another account's openid, 41009 for none", async () => {
    const { accessToken } = await authorizerTokens();
    const openid = f.sim.openId(MERCHANT, 'alice');
    expect(openid).toMatch(/^o[\w-]{27}$/);
    expect(f.sim.openId(MERCHANT, 'alice')).toBe(openid);
    expect(f.sim.openId(OTHER, 'alice')).not.toBe(openid);

    const answer = await caller('getUserInfo', {
      access_token: accessToken,
      openid,
      lang: 'zh_CN',
    });
    expect(answer.json).toEqual({
      subscribe: 1,
      openid,
      language: 'zh_CN',
      subscribe_time: Math.floor(f.now / 1000),
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: 'ADD_SCENE_QR_CODE',
      qr_scene: 0,
      qr_scene_str: '',
    });
    const elsewhere = { access_token: accessToken, openid: f.sim.openId(OTHER, 'bob') };
    expect((await caller('getUserInfo', elsewhere)).json).toEqual({
      errcode: 40003,
      errmsg: expect.stringMatching(/^invalid openid rid: /),
    });
    expect((await caller('getUserInfo', { access_token: accessToken })).json.errcode).toBe(41009);
    expect(f.sim.quotaUsed('getUserInfo', MERCHANT)).toBe(3);
  });
});

describe('POST /cgi-bin/message/custom/send', () => {
  const text = (touser: string, content: unknown = 'hello') => ({
    touser,
    msgtype: 'text',
    text: { content },
  });

  it('sends within 48 hours of the follower’s last message, then 45015', async () => {
    let { accessToken } = await authorizerTokens();
    const openid = f.sim.messageFrom(MERCHANT, 'carol');
    const sendText = (body: unknown) =>
      caller('sendCustomMessage', { access_token: accessToken }, body);
    expect((await sendText(text(openid))).json).toEqual({ errcode: 0, errmsg: 'ok' });

    f.now += 48 * HOUR;
    accessToken = (await authorizerTokens()).accessToken;
    expect((await sendText(text(openid))).json).toEqual({
      errcode: 45015,
      errmsg: expect.stringMatching(
        /^response out of time limit or subscription is canceled rid: /
      ),
    });
    f.sim.messageFrom(MERCHANT, 'carol');
    expect((await sendText(text(openid))).json.errcode).toBe(0);
    const silent = f.sim.openId(MERCHANT, 'dave'); // follows, never wrote
    expect((await sendText(text(silent))).json.errcode).toBe(45015);

    const open = await start({ rules: { customerServiceWindowMs: Infinity } });
    const tokens = await authorizerTokens(MERCHANT, open);
    const anyone = open.openId(MERCHANT, 'erin');
    const sent = await caller(
      'sendCustomMessage',
      { access_token: tokens.accessToken },
      text(anyone),
      { target: open }
    );
    expect(sent.json.errcode).toBe(0);
  });

  it('validates the body: 44002 empty, 47001 not JSON or no object, 40003 touser, 40008 msgtype, 44004 text', async () => {
    const { accessToken } = await authorizerTokens();
    const openid = f.sim.messageFrom(MERCHANT);
    const errcode = async (body: unknown) =>
      (await caller('sendCustomMessage', { access_token: accessToken }, body)).json.errcode;
    expect(await errcode('')).toBe(44002);
    expect(await errcode('{"touser":')).toBe(47001);
    expect(await errcode({ msgtype: 'text', text: { content: 'x' } })).toBe(40003);
    expect(await errcode(text(f.sim.messageFrom(OTHER)))).toBe(40003);
    expect(await errcode({ touser: openid, msgtype: 'telegram', text: { content: 'x' } })).toBe(
      40008
    );
    expect(await errcode({ touser: openid, msgtype: 'image' })).toBe(47001);
    expect(await errcode(text(openid, ''))).toBe(44004);
    expect(await errcode(text(openid, 42))).toBe(44004);
    expect(await errcode({ touser: openid, msgtype: 'image', image: { media_id: 'm' } })).toBe(0);
    expect(f.sim.quotaUsed('sendCustomMessage', MERCHANT)).toBe(7); // from the JSON check on
  });
});

describe('POST /wxa/getwxacodeunlimit (a binary answer)', () => {
  it('answers image/jpeg bytes: a baseline JPEG whose comment names the request', async () => {
    const { accessToken } = await authorizerTokens();
    const answer = await caller(
      'getUnlimitedQRCode',
      { access_token: accessToken },
      { scene: 'id=42&from=qr', page: 'pages/index/index', width: 430 }
    );
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('image/jpeg');
    const bytes = answer.body;
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]); // SOI, then a marker
    expect([...bytes.subarray(-2)]).toEqual([0xff, 0xd9]); // EOI
    expect(bytes.includes(Buffer.from([0xff, 0xc0]))).toBe(true); // SOF0: baseline
    expect(bytes.toString('latin1')).toContain(
      `wxacode appid=${MERCHANT} scene=id=42&from=qr page=pages/index/index`
    );
    expect(f.sim.calls.at(-1)).toMatchObject({ api: 'getUnlimitedQRCode', token: accessToken });
  });

  it('answers JSON errors: 47001, 40169, 40129, 41030, 40097', async () => {
    const { accessToken } = await authorizerTokens();
    const qr = (body: unknown) => caller('getUnlimitedQRCode', { access_token: accessToken }, body);
    const missing = await qr({ page: 'pages/index/index' });
    expect(missing.contentType).toBe('application/json; encoding=utf-8');
    expect(missing.json).toEqual({
      errcode: 40169,
      errmsg: expect.stringMatching(
        /^invalid length for scene, or the data is not json string rid: /
      ),
    });
    expect((await qr('scene=1')).json.errcode).toBe(47001);
    expect((await qr({ scene: '' })).json.errcode).toBe(40169);
    expect((await qr({ scene: 'x'.repeat(33) })).json.errcode).toBe(40169);
    expect((await qr({ scene: 'x'.repeat(32) })).contentType).toBe('image/jpeg');
    expect((await qr({ scene: '订单=1' })).json.errcode).toBe(40129);
    expect((await qr({ scene: 'a%20b' })).json.errcode).toBe(40129);
    expect((await qr({ scene: 'a', page: '/pages/index/index' })).json).toEqual({
      errcode: 41030,
      errmsg: expect.stringMatching(/^invalid page rid: /),
    });
    expect((await qr({ scene: 'a', page: 'pages/index/index?x=1' })).json.errcode).toBe(41030);
    expect((await qr({ scene: 'a', env_version: 'beta' })).json.errcode).toBe(40097);
    expect((await qr({ scene: 'a', env_version: 'trial' })).contentType).toBe('image/jpeg');
  });

  it('a malformed answer is an image of two bytes', async () => {
    const { accessToken } = await authorizerTokens();
    f.sim.failNext('getUnlimitedQRCode', 'malformed');
    const answer = await caller(
      'getUnlimitedQRCode',
      { access_token: accessToken },
      { scene: 'a' }
    );
    expect([answer.contentType, [...answer.body]]).toEqual(['image/jpeg', [0xff, 0xd8]]);
  });
});

describe('GET /sns/component/jscode2session (the component token)', () => {
  let component: string;
  beforeEach(async () => {
    component = (await authorizerTokens()).component;
  });
  const session = (query: Record<string, string>, target = f.sim) =>
    caller(
      'thirdpartyCode2Session',
      {
        appid: MERCHANT,
        grant_type: 'authorization_code',
        component_appid: COMPONENT_APPID,
        component_access_token: component,
        ...query,
      },
      undefined,
      { target }
    );

  it('exchanges a wx.login code once for {openid, session_key}', async () => {
    const code = f.sim.loginCode(MERCHANT, 'frank');
    const answer = await session({ js_code: code });
    expect(answer.json).toEqual({
      openid: f.sim.openId(MERCHANT, 'frank'),
      session_key: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/),
    });
    expect((await session({ js_code: code })).json).toEqual({
      errcode: 40163,
      errmsg: expect.stringMatching(/^code been used rid: /),
    });
    expect(f.sim.callCount('thirdpartyCode2Session')).toBe(2);
    expect(f.sim.calls.at(-1)?.token).toBe(component);
    expect(f.sim.quotaUsed('thirdpartyCode2Session')).toBe(2);
  });

  it('answers 40029 for an unknown, expired or other mini program’s code', async () => {
    expect((await session({ js_code: 'bogus' })).json).toEqual({
      errcode: 40029,
      errmsg: expect.stringMatching(/^invalid code rid: /),
    });
    const late = f.sim.loginCode(MERCHANT);
    f.now += 5 * MINUTE;
    expect((await session({ js_code: late })).json.errcode).toBe(40029);
    f.sim.authorize(OTHER);
    const theirs = f.sim.loginCode(OTHER);
    expect((await session({ js_code: theirs })).json.errcode).toBe(40029);
    expect((await session({ appid: OTHER, js_code: theirs })).json.openid).toBe(
      f.sim.openId(OTHER)
    );
  });

  it('checks the component token, component_appid, appid, grant_type and js_code', async () => {
    const code = f.sim.loginCode(MERCHANT);
    const errcode = async (query: Record<string, string>) =>
      (await session({ js_code: code, ...query })).json.errcode;
    expect(await errcode({ component_access_token: '' })).toBe(41001);
    expect(await errcode({ component_access_token: 'unknownToken_0123' })).toBe(40001);
    const { accessToken } = await authorizerTokens(OTHER);
    expect(await errcode({ component_access_token: accessToken })).toBe(61014);
    component = await componentToken(); // authorizerTokens minted a newer one: still within its grace
    expect(await errcode({ component_appid: '' })).toBe(41002);
    expect(await errcode({ component_appid: 'wxcomponent999999' })).toBe(40013);
    expect(await errcode({ appid: '' })).toBe(41002);
    expect(await errcode({ appid: 'wxneverauthorized01' })).toBe(61003);
    expect(await errcode({ grant_type: 'client_credential' })).toBe(40002);
    expect(await errcode({ js_code: '' })).toBe(41008);
    const post = await caller('thirdpartyCode2Session', { js_code: code }, {});
    expect(post.json.errcode).toBe(43001);
    // None of the refusals used the code.
    expect((await session({ js_code: code })).json.openid).toBe(f.sim.openId(MERCHANT));
  });

  it('answers 61003 once the mini program revoked the platform', async () => {
    const code = f.sim.loginCode(MERCHANT);
    await f.sim.revoke(MERCHANT, { push: false });
    expect((await session({ js_code: code })).json.errcode).toBe(61003);
  });
});
