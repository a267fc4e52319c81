import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWechatSimulator, type WechatSimulator } from '../../../../local/simulator';
import {
  EmptyCredentialError,
  isUncertainOutcome,
  WechatApiError,
  type WechatErrorKind,
  WechatUnavailableError,
} from '../../../../shared/errors';
import { HttpComponentApi } from '../../../../shared/wechat/api-client';
import { errorKind, isSystemic } from '../../../../shared/wechat/errcodes';
import { ApiPath } from '../../../../shared/wechat/wire';
import fixtures from '../../../fixtures/wechat-api.json';
import { AUTHORIZER_APPID, COMPONENT_APPID, T0 } from '../../../support/test-ids';

type Fixture = {
  id: string;
  request?: Record<string, unknown>;
  response?: Record<string, unknown>;
};
const byId = (id: string) => (fixtures as Fixture[]).find((f) => f.id === id) as Fixture;
const errorFixtures = (fixtures as Fixture[]).filter((f) => f.id.startsWith('error-'));

interface Sent {
  url: string;
  method: string;
  /** Absent for a GET. */
  body: Record<string, unknown>;
}

/** A fetch double that records requests and answers from a script. */
function scriptedFetch(...answers: (Response | Error | (() => Response))[]) {
  const sent: Sent[] = [];
  const fetchStub = (async (url: string | URL, init?: RequestInit) => {
    sent.push({
      url: String(url),
      method: init?.method ?? 'GET',
      body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
    });
    const next = answers.shift();
    if (!next) throw new Error('no scripted answer left');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  }) as typeof fetch;
  return { sent, fetchStub };
}

const jsonResponse = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function client(fetchStub: typeof fetch, attempts = 2) {
  return new HttpComponentApi({
    componentAppId: COMPONENT_APPID,
    baseUrl: 'https://api.example.test',
    timeoutMs: 1000,
    attempts,
    retryDelayMs: 0,
    fetch: fetchStub,
  });
}

describe('HttpComponentApi requests', () => {
  it('POSTs api_component_token without a token and decodes the documented answer', async () => {
    const fixture = byId('doc-api_component_token');
    const { sent, fetchStub } = scriptedFetch(jsonResponse(fixture.response));
    const answer = await client(fetchStub).apiComponentToken('secret', 'ticket@@@x');
    expect(answer).toEqual(fixture.response);
    expect(sent).toEqual([
      {
        url: 'https://api.example.test/cgi-bin/component/api_component_token',
        method: 'POST',
        body: {
          component_appid: COMPONENT_APPID,
          component_appsecret: 'secret',
          component_verify_ticket: 'ticket@@@x',
        },
      },
    ]);
  });

  it.each([
    [
      'apiCreatePreauthcode',
      (c: HttpComponentApi) => c.apiCreatePreauthcode('ct'),
      'api_create_preauthcode',
      {},
      'doc-api_create_preauthcode',
    ],
    [
      'apiQueryAuth',
      (c: HttpComponentApi) => c.apiQueryAuth('ct', 'code@@@1'),
      'api_query_auth',
      { authorization_code: 'code@@@1' },
      'doc-api_query_auth',
    ],
    [
      'apiAuthorizerToken',
      (c: HttpComponentApi) => c.apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', 'refresh'),
      'api_authorizer_token',
      { authorizer_appid: 'wxf8b4f85f3a794e77', authorizer_refresh_token: 'refresh' },
      'doc-api_authorizer_token',
    ],
    [
      'apiGetAuthorizerList',
      (c: HttpComponentApi) => c.apiGetAuthorizerList('ct', 500, 500),
      'api_get_authorizer_list',
      { offset: 500, count: 500 },
      'doc-api_get_authorizer_list',
    ],
    [
      'apiGetAuthorizerInfo',
      (c: HttpComponentApi) => c.apiGetAuthorizerInfo('ct', 'wxf8b4f85f3a794e77'),
      'api_get_authorizer_info',
      { authorizer_appid: 'wxf8b4f85f3a794e77' },
      'doc-api_get_authorizer_info-official-account',
    ],
  ])(
    '%s sends the component token as component_access_token and WeChat field names',
    async (_n, call, api, body, fixtureId) => {
      const fixture = byId(fixtureId);
      const { sent, fetchStub } = scriptedFetch(jsonResponse(fixture.response));
      const answer = await call(client(fetchStub));
      expect(sent[0]?.url).toBe(
        `https://api.example.test/cgi-bin/component/${api}?component_access_token=ct`
      );
      expect(sent[0]?.body).toEqual({ component_appid: COMPONENT_APPID, ...body });
      expect(answer).toMatchObject(
        api === 'api_get_authorizer_list'
          ? { total_count: 33 }
          : (fixture.response as Record<string, unknown>)
      );
    }
  );

  it('caps api_get_authorizer_list pages at 500', async () => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse({ total_count: 0, list: [] }));
    await client(fetchStub).apiGetAuthorizerList('ct', 0, 10_000);
    expect(sent[0]?.body.count).toBe(500);
  });

  it('GETs getticket with the authorizer token and the type in the query, and no body', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse({ errcode: 0, errmsg: 'ok', ticket: 'sM4AOVdW', expires_in: 7200 })
    );
    const answer = await client(fetchStub).getTicket('at@@@1', 'wx_card');
    expect(answer).toEqual({ ticket: 'sM4AOVdW', expires_in: 7200 });
    expect(sent).toEqual([
      {
        url: 'https://api.example.test/cgi-bin/ticket/getticket?access_token=at%40%40%401&type=wx_card',
        method: 'GET',
        body: undefined,
      },
    ]);
  });

  it('decodes getticket errcodes as every other API: a rejected token is token_invalid', async () => {
    const { fetchStub } = scriptedFetch(
      jsonResponse({ errcode: 40001, errmsg: 'invalid credential' }),
      jsonResponse({ errcode: 45009, errmsg: 'reach max api daily quota limit' })
    );
    const api = client(fetchStub);
    await expect(api.getTicket('at', 'jsapi')).rejects.toMatchObject({
      name: 'WechatApiError',
      api: 'getTicket',
      errcode: 40001,
      kind: 'token_invalid',
    });
    await expect(api.getTicket('at', 'jsapi')).rejects.toMatchObject({ kind: 'quota' });
  });

  it('refuses a getticket answer without a ticket, and an empty token before sending', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse({ errcode: 0, errmsg: 'ok', expires_in: 7200 })
    );
    await expect(client(fetchStub, 1).getTicket('at', 'jsapi')).rejects.toThrow(
      WechatUnavailableError
    );
    await expect(client(fetchStub).getTicket('', 'jsapi')).rejects.toThrow(EmptyCredentialError);
    expect(sent).toHaveLength(1);
  });

  it('answers api_start_push_ticket {errcode: 0} as success', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse(byId('doc-api_start_push_ticket').response)
    );
    await client(fetchStub).apiStartPushTicket('secret');
    expect(sent[0]?.body).toEqual({
      component_appid: COMPONENT_APPID,
      component_secret: 'secret',
    });
  });
});

describe('HttpComponentApi refuses empty credentials locally', () => {
  it.each(['', 'null', 'undefined', ' NULL '])('never sends a refresh token %j', async (value) => {
    const { sent, fetchStub } = scriptedFetch();
    await expect(
      client(fetchStub).apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', value)
    ).rejects.toThrow(EmptyCredentialError);
    expect(sent).toEqual([]);
  });

  it.each([
    ['ticket', (c: HttpComponentApi) => c.apiComponentToken('secret', 'null')],
    ['secret', (c: HttpComponentApi) => c.apiComponentToken('', 'ticket')],
    ['component token', (c: HttpComponentApi) => c.apiCreatePreauthcode('')],
    ['auth code', (c: HttpComponentApi) => c.apiQueryAuth('ct', 'undefined')],
  ])('never sends an empty %s', async (_what, call) => {
    const { sent, fetchStub } = scriptedFetch();
    await expect(call(client(fetchStub))).rejects.toThrow(EmptyCredentialError);
    expect(sent).toEqual([]);
  });
});

describe('HttpComponentApi decodes errors by errcode', () => {
  const expectedKinds: Record<number, WechatErrorKind> = {
    61004: 'ip_not_whitelisted',
    40164: 'ip_not_whitelisted',
    61005: 'ticket_invalid',
    61006: 'ticket_invalid',
    61011: 'credentials_invalid',
    45009: 'quota',
    61023: 'refresh_token_invalid',
    61003: 'not_authorized',
    61010: 'auth_code_invalid',
    61009: 'auth_code_invalid',
    50002: 'unknown',
    61007: 'unknown',
    [-1]: 'busy',
  };

  it.each(errorFixtures)('turns the real body $id into a typed WechatApiError', async (fixture) => {
    const body = fixture.response as { errcode: number; errmsg: string };
    const answers = Array.from({ length: 2 }, () => jsonResponse(body));
    const { sent, fetchStub } = scriptedFetch(...answers);
    const error = await client(fetchStub)
      .apiCreatePreauthcode('ct')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error).toMatchObject({
      api: 'api_create_preauthcode',
      errcode: body.errcode,
      kind: expectedKinds[body.errcode],
    });
    expect(sent).toHaveLength(body.errcode === -1 ? 2 : 1);
  });

  it.each([
    ['error-61004-16', '182.42.109.124'],
    ['error-61004-17', '120.55.36.117'],
    ['error-40164-29', '47.95.215.232'],
  ])('reads the egress IP WeChat saw from %s', async (id, ip) => {
    const { fetchStub } = scriptedFetch(jsonResponse(byId(id).response));
    await expect(client(fetchStub).apiCreatePreauthcode('ct')).rejects.toMatchObject({
      requestIp: ip,
    });
  });

  it('matches the errcode, not the errmsg', async () => {
    const { fetchStub } = scriptedFetch(
      jsonResponse({ errcode: 61023, errmsg: 'code is expired (a misleading message)' })
    );
    await expect(
      client(fetchStub).apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', 'r')
    ).rejects.toMatchObject({
      kind: 'refresh_token_invalid',
      code: 'wechat_refresh_token_invalid',
    });
  });

  it('classifies whitelist and credential errors as systemic, quota and busy as not', () => {
    expect(isSystemic(errorKind(61004))).toBe(true);
    expect(isSystemic(errorKind(40125))).toBe(true);
    expect(isSystemic(errorKind(45009))).toBe(false);
    expect(isSystemic(errorKind(-1))).toBe(false);
    expect(errorKind(40001)).toBe('token_invalid');
    expect(errorKind(42001)).toBe('token_invalid');
    expect(errorKind(40014)).toBe('token_invalid');
  });
});

describe('HttpComponentApi transport failures', () => {
  it('retries a -1 busy answer once and then succeeds', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse({ errcode: -1, errmsg: 'system error' }),
      jsonResponse({ pre_auth_code: 'p', expires_in: 600 })
    );
    await expect(client(fetchStub).apiCreatePreauthcode('ct')).resolves.toEqual({
      pre_auth_code: 'p',
      expires_in: 600,
    });
    expect(sent).toHaveLength(2);
  });

  it.each([
    ['an HTML error page', () => new Response('<html>502</html>', { status: 502 })],
    ['an empty body', () => new Response('', { status: 200 })],
    ['a JSON array', () => jsonResponse([1, 2])],
  ])('reports %s as WechatUnavailableError after its attempts', async (_what, answer) => {
    const { sent, fetchStub } = scriptedFetch(answer, answer);
    await expect(client(fetchStub).apiComponentToken('s', 't')).rejects.toThrow(
      WechatUnavailableError
    );
    expect(sent).toHaveLength(2);
  });

  it('reports a success answer without the token as WechatUnavailableError, without retrying', async () => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse({ expires_in: 7200 }));
    await expect(client(fetchStub).apiComponentToken('s', 't')).rejects.toThrow(
      'answer has no component_access_token'
    );
    expect(sent).toHaveLength(1);
  });

  it('reports a connection failure without the URL (it carries the token)', async () => {
    const { fetchStub } = scriptedFetch(
      new TypeError('fetch failed'),
      new TypeError('fetch failed')
    );
    const error = (await client(fetchStub)
      .apiCreatePreauthcode('secret-component-token')
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error.message).toBe('WeChat api_create_preauthcode unavailable: connection failed');
  });

  it('does not retry a definite WeChat error such as 61023', async () => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse(byId('error-61023-22').response));
    await expect(
      client(fetchStub).apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', 'r')
    ).rejects.toThrow(WechatApiError);
    expect(sent).toHaveLength(1);
  });
});

describe('HttpComponentApi and uncertain outcomes', () => {
  it('never retries api_query_auth after a lost answer: the code is single-use', async () => {
    const { sent, fetchStub } = scriptedFetch(
      new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }),
      jsonResponse({ errcode: 61009, errmsg: 'code is invalid' })
    );
    const error = await client(fetchStub)
      .apiQueryAuth('ct', 'queryauthcode@@@x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(error).toMatchObject({ uncertain: true });
    expect(sent).toHaveLength(1);
  });

  it('sends a single-use call again after -1 (WeChat did nothing), but never after a lost answer', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse({ errcode: -1, errmsg: 'system error' }),
      jsonResponse({ authorization_info: { authorizer_appid: 'wxf8b4f85f3a794e77' } })
    );
    const answer = await client(fetchStub).apiQueryAuth('ct', 'queryauthcode@@@x');
    expect(answer.authorization_info.authorizer_appid).toBe('wxf8b4f85f3a794e77');
    expect(sent).toHaveLength(2);
  });

  it('marks an answer that follows a lost attempt as uncertain: the lost one may have acted', async () => {
    const { fetchStub } = scriptedFetch(
      new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }),
      jsonResponse({ errcode: 61023, errmsg: 'refresh_token is invalid' })
    );
    const error = await client(fetchStub)
      .apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', 'refresh')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatApiError);
    expect(isUncertainOutcome(error)).toBe(true);
    const plain = await client(scriptedFetch(jsonResponse({ errcode: 61023 })).fetchStub)
      .apiAuthorizerToken('ct', 'wxf8b4f85f3a794e77', 'refresh')
      .catch((e: unknown) => e);
    expect(isUncertainOutcome(plain)).toBe(false);
  });

  it('calls a refused connection certain (nothing reached WeChat) and names the URL without its token', async () => {
    const { fetchStub } = scriptedFetch(
      new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
    );
    const error = await client(fetchStub, 1)
      .apiCreatePreauthcode('secret-component-token')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      uncertain: false,
      url: 'https://api.example.test/cgi-bin/component/api_create_preauthcode',
    });
    expect(JSON.stringify(error)).not.toContain('secret-component-token');
  });

  it('accepts an api_query_auth answer without tokens (no API permission) as final', async () => {
    const { fetchStub } = scriptedFetch(
      jsonResponse({
        authorization_info: {
          authorizer_appid: 'wxf8b4f85f3a794e77',
          func_info: [{ funcscope_category: { id: 1 } }],
        },
      })
    );
    const answer = await client(fetchStub).apiQueryAuth('ct', 'queryauthcode@@@x');
    expect(answer.authorization_info).toEqual({
      authorizer_appid: 'wxf8b4f85f3a794e77',
      authorizer_access_token: undefined,
      expires_in: undefined,
      authorizer_refresh_token: undefined,
      func_info: [{ funcscope_category: { id: 1 } }],
    });
  });

  it.each([
    ['no list', { errcode: 0, total_count: 3 }],
    ['no total_count', { list: [] }],
    ['an item without appid', { total_count: 1, list: [{ refresh_token: 'r', auth_time: 1 }] }],
    ['a non-array list', { total_count: 1, list: {} }],
  ])(
    'refuses an api_get_authorizer_list answer with %s (a failure, never an empty list)',
    async (_name, body) => {
      const { fetchStub } = scriptedFetch(jsonResponse(body), jsonResponse(body));
      await expect(client(fetchStub).apiGetAuthorizerList('ct', 0, 500)).rejects.toThrow(
        WechatUnavailableError
      );
    }
  );

  it('keeps a listed authorizer whose refresh token is empty (WeChat documents it)', async () => {
    const { fetchStub } = scriptedFetch(
      jsonResponse({
        total_count: 1,
        list: [{ authorizer_appid: AUTHORIZER_APPID, refresh_token: '', auth_time: 5 }],
      })
    );
    const page = await client(fetchStub).apiGetAuthorizerList('ct', 0, 500);
    expect(page.list).toEqual([
      { authorizer_appid: AUTHORIZER_APPID, refresh_token: '', auth_time: 5 },
    ]);
  });

  it('ends every attempt within the budget given by within(), and starts none without time left', async () => {
    let attempts = 0;
    const hang = (_url: string | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        attempts += 1;
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const api = new HttpComponentApi({
      componentAppId: COMPONENT_APPID,
      baseUrl: 'https://api.example.test',
      timeoutMs: 60_000,
      attempts: 5,
      retryDelayMs: 0,
      fetch: hang as typeof fetch,
    });
    const error = await api
      .within(300)
      .apiCreatePreauthcode('ct')
      .catch((e: unknown) => e);
    // The first attempt is cut at the budget (not at its 60 s timeout) and no retry fits after it.
    expect(error).toMatchObject({
      uncertain: true,
      message: expect.stringMatching(/no answer within (2\d\d|300) ms/),
    });
    expect(attempts).toBe(1);
    const none = scriptedFetch();
    const spent = new HttpComponentApi({
      componentAppId: COMPONENT_APPID,
      baseUrl: 'https://api.example.test',
      timeoutMs: 1000,
      attempts: 2,
      retryDelayMs: 0,
      fetch: none.fetchStub,
    }).within(0);
    await expect(spent.apiCreatePreauthcode('ct')).rejects.toMatchObject({ uncertain: false });
    expect(none.sent).toEqual([]);
  });
});

describe('HttpComponentApi getApiQuota', () => {
  const quotaAnswer = {
    errcode: 0,
    errmsg: 'ok',
    quota: { daily_limit: 10000, used: 3, remain: 9997 },
  };

  it('POSTs cgi_path with the token as access_token, and no component_appid', async () => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse(quotaAnswer));
    const answer = await client(fetchStub).getApiQuota('at/+=', '/cgi-bin/openapi/quota/get');
    expect(answer).toEqual({ quota: { daily_limit: 10000, used: 3, remain: 9997 } });
    expect(sent).toEqual([
      {
        url: 'https://api.example.test/cgi-bin/openapi/quota/get?access_token=at%2F%2B%3D',
        method: 'POST',
        body: { cgi_path: '/cgi-bin/openapi/quota/get' },
      },
    ]);
  });

  it.each(['', 'null', ' undefined '])('never sends an empty access_token %j', async (token) => {
    const { sent, fetchStub } = scriptedFetch();
    const error = await client(fetchStub)
      .getApiQuota(token, ApiPath.getApiQuota)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyCredentialError);
    expect(error).toMatchObject({ api: 'getApiQuota', field: 'access_token' });
    expect(sent).toEqual([]);
  });

  it.each([
    ['errcode 0 without quota', { errcode: 0, errmsg: 'ok' }],
    ['a quota without remain', { quota: { daily_limit: 1, used: 0 } }],
    ['a negative count', { quota: { daily_limit: 1, used: -1, remain: 2 } }],
    ['a quota that is not an object', { quota: 'unlimited' }],
  ])('refuses an answer with %s as WechatUnavailableError, without retrying', async (_n, body) => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse(body), jsonResponse(body));
    await expect(client(fetchStub).getApiQuota('at', ApiPath.getApiQuota)).rejects.toThrow(
      WechatUnavailableError
    );
    expect(sent).toHaveLength(1);
  });

  it.each([
    [40001, 'token_invalid'],
    [42001, 'token_invalid'],
    [40014, 'token_invalid'],
    [76003, 'unknown'],
    [76021, 'unknown'],
    [76022, 'unknown'],
    [61004, 'ip_not_whitelisted'],
  ] as const)('decodes errcode %i by its number as kind %s', async (errcode, kind) => {
    const { fetchStub } = scriptedFetch(jsonResponse({ errcode, errmsg: 'ok (not the errcode)' }));
    const error = await client(fetchStub)
      .getApiQuota('at', ApiPath.getApiQuota)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error).toMatchObject({ api: 'getApiQuota', errcode, kind });
  });

  it('retries a -1 busy answer (it changes nothing at WeChat)', async () => {
    const { sent, fetchStub } = scriptedFetch(
      jsonResponse({ errcode: -1, errmsg: 'system error' }),
      jsonResponse(quotaAnswer)
    );
    await expect(client(fetchStub).getApiQuota('at', ApiPath.getApiQuota)).resolves.toEqual({
      quota: quotaAnswer.quota,
    });
    expect(sent).toHaveLength(2);
  });

  it('starts no call without time left before the deadline', async () => {
    const { sent, fetchStub } = scriptedFetch(jsonResponse(quotaAnswer));
    await expect(
      client(fetchStub).within(0).getApiQuota('at', ApiPath.getApiQuota)
    ).rejects.toMatchObject({ uncertain: false });
    expect(sent).toEqual([]);
  });
});

describe('HttpComponentApi getApiQuota against the simulator: a liveness check of a token', () => {
  const SECRET = 'component-secret-0123456789abcdef';
  let now = T0;
  let sim: WechatSimulator;
  let api: HttpComponentApi;

  beforeEach(async () => {
    now = T0;
    sim = await startWechatSimulator({
      componentAppId: COMPONENT_APPID,
      componentAppSecret: SECRET,
      token: 'simtoken',
      encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
      clock: () => now,
    });
    api = new HttpComponentApi({
      componentAppId: COMPONENT_APPID,
      baseUrl: sim.url,
      timeoutMs: 2000,
      attempts: 1,
      retryDelayMs: 0,
    });
  });
  afterEach(() => sim.close());

  async function authorizerTokens() {
    const { ticket } = await sim.pushTicket();
    const component = (await api.apiComponentToken(SECRET, ticket)).component_access_token;
    const auth = await api.apiQueryAuth(component, sim.authorize(AUTHORIZER_APPID));
    const info = auth.authorization_info;
    return {
      component,
      accessToken: info.authorizer_access_token as string,
      refreshToken: info.authorizer_refresh_token as string,
    };
  }

  it("answers a live authorizer token with getApiQuota's own quota, spent on the merchant", async () => {
    const { accessToken } = await authorizerTokens();
    const answer = await api.getApiQuota(accessToken, ApiPath.getApiQuota);
    expect(answer.quota).toEqual({ daily_limit: 10_000, used: 1, remain: 9_999 });
    expect(sim.quotaUsed('getApiQuota', AUTHORIZER_APPID)).toBe(1);
  });

  it('answers a token superseded more than 5 minutes ago with kind token_invalid (40001)', async () => {
    const { component, accessToken, refreshToken } = await authorizerTokens();
    await api.apiAuthorizerToken(component, AUTHORIZER_APPID, refreshToken);
    now += 5 * 60_000;
    const error = await api.getApiQuota(accessToken, ApiPath.getApiQuota).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatApiError);
    expect(error).toMatchObject({ errcode: 40001, kind: 'token_invalid' });
  });

  it('answers an expired token with kind token_invalid (42001)', async () => {
    const { accessToken } = await authorizerTokens();
    now += 7200_000;
    await expect(api.getApiQuota(accessToken, ApiPath.getApiQuota)).rejects.toMatchObject({
      errcode: 42001,
      kind: 'token_invalid',
    });
  });

  it("proves a live token with an errcode checked after it: another account's path answers 76022", async () => {
    const { accessToken } = await authorizerTokens();
    await expect(api.getApiQuota(accessToken, ApiPath.api_component_token)).rejects.toMatchObject({
      errcode: 76022,
      kind: 'unknown',
    });
  });
});
