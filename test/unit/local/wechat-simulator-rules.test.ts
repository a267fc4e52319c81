import { describe, expect, it } from 'vitest';
import type { WechatSimulator } from '../../../local/simulator';
import { WechatApiError, WechatUnavailableError } from '../../../shared/errors';
import type {
  AuthorizerInfoResponse,
  AuthorizerListResponse,
  AuthorizerTokenResponse,
  PreAuthCodeResponse,
  QueryAuthResponse,
} from '../../../shared/wechat/wire';
import {
  AUTHORIZER_APPID,
  authorizerAppId,
  COMPONENT_APPID,
  HOUR,
  MINUTE,
  OTHER_AUTHORIZER_APPID,
  T0,
} from '../../support/test-ids';
import {
  decrypt,
  type Received,
  SECRET,
  tag,
  useSimulatorFixture,
  withToken,
} from './wechat-simulator-fixture';

/**
 * One test per rule of real WeChat the simulator enforces (wechat-protocol.md §11), each over loopback
 * HTTP, each written so that it fails when the rule is switched off or removed.
 */

const f = useSimulatorFixture();
const MERCHANT = AUTHORIZER_APPID;
const OTHER = OTHER_AUTHORIZER_APPID;

/** Plain-fetch calls of one simulator with its component token. */
function apis(sim: WechatSimulator, token: string) {
  const body = (extra: Record<string, unknown>) => ({ component_appid: COMPONENT_APPID, ...extra });
  return {
    preauth: () =>
      f.call<PreAuthCodeResponse>('api_create_preauthcode', body({}), withToken(token), sim),
    queryAuth: (code: string) =>
      f.call<QueryAuthResponse>(
        'api_query_auth',
        body({ authorization_code: code }),
        withToken(token),
        sim
      ),
    refresh: (appId: string, refreshToken: string) =>
      f.call<AuthorizerTokenResponse>(
        'api_authorizer_token',
        body({ authorizer_appid: appId, authorizer_refresh_token: refreshToken }),
        withToken(token),
        sim
      ),
    list: () =>
      f.call<AuthorizerListResponse>(
        'api_get_authorizer_list',
        body({ offset: 0, count: 500 }),
        withToken(token),
        sim
      ),
    info: (appId: string) =>
      f.call<AuthorizerInfoResponse>(
        'api_get_authorizer_info',
        body({ authorizer_appid: appId }),
        withToken(token),
        sim
      ),
  };
}

/** A component token, and `MERCHANT` authorized and exchanged: its first access and refresh tokens. */
async function authorized(sim: WechatSimulator = f.sim) {
  const token = await f.componentToken(sim);
  const api = apis(sim, token);
  const auth = (await api.queryAuth(sim.authorize(MERCHANT))).json.authorization_info;
  return {
    token,
    api,
    accessToken: auth?.authorizer_access_token as string,
    refreshToken: auth?.authorizer_refresh_token as string,
  };
}

describe('rule 1: token lifetimes', () => {
  it('a superseded authorizer token is accepted 5 minutes after the new one, then not; tokenValidAt tells', async () => {
    const { api, accessToken, refreshToken } = await authorized();
    f.now += 10 * MINUTE;
    const renewedAt = f.now;
    const renewed = (await api.refresh(MERCHANT, refreshToken)).json.authorizer_access_token;
    expect(renewed).toBeDefined();
    f.now += 5 * MINUTE - 1;
    expect(f.sim.tokenStatus(accessToken)).toBe('valid');
    f.now += 1;
    expect(f.sim.tokenStatus(accessToken)).toBe('superseded');
    expect(f.sim.tokenValidAt(accessToken, T0 - 1)).toBe(false);
    expect(f.sim.tokenValidAt(accessToken, T0)).toBe(true);
    expect(f.sim.tokenValidAt(accessToken, renewedAt + 5 * MINUTE - 1)).toBe(true);
    expect(f.sim.tokenValidAt(accessToken, renewedAt + 5 * MINUTE)).toBe(false);
    expect(f.sim.tokenValidAt(renewed as string, renewedAt + 5 * MINUTE)).toBe(true);
    expect(f.sim.tokenValidAt('no-such-token', renewedAt)).toBe(false);
  });

  it('a renewal elsewhere (renewElsewhere and its HTTP route) supersedes the token the service holds', async () => {
    const { accessToken } = await authorized();
    const renewed = f.sim.renewElsewhere(MERCHANT);
    expect(renewed).not.toBe(accessToken);
    f.now += 5 * MINUTE;
    expect(f.sim.tokenStatus(accessToken)).toBe('superseded');
    expect(f.sim.tokenStatus(renewed)).toBe('valid');

    const route = await fetch(
      `${f.sim.url}/simulator/renew-elsewhere?authorizer_appid=${MERCHANT}`,
      {
        method: 'POST',
      }
    );
    expect(await route.json()).toEqual({ errcode: 0, errmsg: 'ok' });
    f.now += 5 * MINUTE;
    expect(f.sim.tokenStatus(renewed)).toBe('superseded');
    const unknown = await fetch(
      `${f.sim.url}/simulator/renew-elsewhere?authorizer_appid=${OTHER}`,
      {
        method: 'POST',
      }
    );
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { errcode: number }).errcode).toBe(61003);
  });

  it('with supersededGraceMs: Infinity a superseded component token keeps working', async () => {
    const lenient = await f.start({ rules: { supersededGraceMs: Number.POSITIVE_INFINITY } });
    const first = await f.componentToken(lenient);
    await f.componentToken(lenient);
    f.now += HOUR;
    expect((await apis(lenient, first).preauth()).json.pre_auth_code).toBeDefined();
    expect(
      (await apis(f.sim, await f.componentToken()).preauth()).json.pre_auth_code
    ).toBeDefined();
    const strictFirst = await f.componentToken();
    await f.componentToken();
    f.now += 5 * MINUTE;
    expect((await apis(f.sim, strictFirst).preauth()).json.errcode).toBe(40001);
  });

  it('tokens die at expires_in (42001 for the component token), unless tokensExpire is off', async () => {
    const token = await f.componentToken();
    const lenient = await f.start({ rules: { tokensExpire: false, tokenTtlSeconds: 60 } });
    const lasting = await f.componentToken(lenient);
    f.now += 7200_000 - 1;
    expect((await apis(f.sim, token).preauth()).json.pre_auth_code).toBeDefined();
    f.now += 1;
    expect((await apis(f.sim, token).preauth()).json.errcode).toBe(42001);
    expect(f.sim.tokenStatus(token)).toBe('expired');
    expect((await apis(lenient, lasting).preauth()).json.pre_auth_code).toBeDefined();
    expect(lenient.tokenStatus(lasting)).toBe('valid');
  });

  it('a permission change with keepTokens keeps the refresh and access tokens: only the sets and auth_time move', async () => {
    const { api, accessToken, refreshToken } = await authorized();
    f.now += 60_000;
    f.sim.authorize(MERCHANT, [1, 17], { keepTokens: true });
    expect(f.sim.tokenStatus(accessToken)).toBe('valid');
    expect(f.sim.listedRefreshToken(MERCHANT)).toBe(refreshToken);
    expect((await api.list()).json.list?.[0]?.auth_time).toBe(Math.floor((T0 + 60_000) / 1000));
    expect((await api.info(MERCHANT)).json.authorization_info?.func_info).toEqual(
      [1, 17].map((id) => ({ funcscope_category: { id } }))
    );
  });

  it('a re-authorization kills the previous access token at once (rule reauthorizationKillsAccessTokens)', async () => {
    const { accessToken } = await authorized();
    f.sim.authorize(MERCHANT);
    expect(f.sim.tokenStatus(accessToken)).toBe('revoked');

    const lenient = await f.start({ rules: { reauthorizationKillsAccessTokens: false } });
    const kept = await authorized(lenient);
    lenient.authorize(MERCHANT);
    expect(lenient.tokenStatus(kept.accessToken)).toBe('valid');
  });
});

describe('rule 2: processed calls whose answer is lost, and malformed answers', () => {
  it("'lost' on api_authorizer_token: WeChat issued a new token (the held one has 5 minutes) and spent quota", async () => {
    const { token, accessToken, refreshToken } = await authorized();
    f.sim.failNext('api_authorizer_token', 'lost');
    const error = await f
      .client()
      .apiAuthorizerToken(token, MERCHANT, refreshToken)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WechatUnavailableError);
    expect(f.sim.calls.at(-1)).toMatchObject({ api: 'api_authorizer_token', fault: 'lost' });
    expect(f.sim.state.authorizers.get(MERCHANT)?.accessTokens.size).toBe(2);
    expect(f.sim.quotaUsed('api_authorizer_token', MERCHANT)).toBe(1);
    f.now += 5 * MINUTE;
    expect(f.sim.tokenStatus(accessToken)).toBe('superseded');
  });

  it("'lost' on api_query_auth consumes the single-use code: asking again answers 61009", async () => {
    const token = await f.componentToken();
    const code = f.sim.authorize(MERCHANT);
    f.sim.failNext('api_query_auth', 'lost');
    await expect(f.client().apiQueryAuth(token, code)).rejects.toBeInstanceOf(
      WechatUnavailableError
    );
    expect(f.sim.state.authCodes.get(code)?.used).toBe(true);
    const again = await f
      .client()
      .apiQueryAuth(token, code)
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(WechatApiError);
    expect(again).toMatchObject({ errcode: 61009 });
    const info = (await apis(f.sim, token).info(MERCHANT)).json.authorization_info;
    expect(info?.authorizer_refresh_token).toBe(f.sim.listedRefreshToken(MERCHANT));
  });

  it("'lost' with a rotating refresh token: the old one works 5 more minutes, then 61023; info has the new one", async () => {
    const rotating = await f.start({ rules: { rotateRefreshTokenOnRefresh: true } });
    const { token, api, refreshToken } = await authorized(rotating);
    rotating.failNext('api_authorizer_token', 'lost');
    await expect(
      f.client(rotating).apiAuthorizerToken(token, MERCHANT, refreshToken)
    ).rejects.toBeInstanceOf(WechatUnavailableError);
    const current = (await api.info(MERCHANT)).json.authorization_info?.authorizer_refresh_token;
    expect(current).toMatch(/^refreshtoken@@@/);
    expect(current).not.toBe(refreshToken);
    f.now += 5 * MINUTE - 1;
    expect((await api.refresh(MERCHANT, refreshToken)).json.authorizer_refresh_token).toBe(current);
    f.now += 1;
    expect((await api.refresh(MERCHANT, refreshToken)).json.errcode).toBe(61023);
    const next = await api.refresh(MERCHANT, current as string);
    expect(next.json.authorizer_refresh_token).not.toBe(current);
  });

  it("'lost_timeout' holds the socket until the client gives up, after WeChat minted the code", async () => {
    const token = await f.componentToken();
    const before = f.sim.state.preAuthCodes.size;
    f.sim.failNext('api_create_preauthcode', 'lost_timeout');
    await expect(f.client(f.sim, 150).apiCreatePreauthcode(token)).rejects.toBeInstanceOf(
      WechatUnavailableError
    );
    expect(f.sim.state.preAuthCodes.size).toBe(before + 1);
    expect(f.sim.quotaUsed('api_create_preauthcode')).toBe(1);
    expect(f.sim.calls.at(-1)?.fault).toBe('lost_timeout');
  });

  it("'timeout' and 'reset' are not processed: nothing issued, no quota spent", async () => {
    const { token, refreshToken } = await authorized();
    f.sim.failNext('api_authorizer_token', 'reset');
    f.sim.failNext('api_authorizer_token', 'timeout');
    const client = f.client(f.sim, 150);
    await expect(client.apiAuthorizerToken(token, MERCHANT, refreshToken)).rejects.toThrow();
    await expect(client.apiAuthorizerToken(token, MERCHANT, refreshToken)).rejects.toThrow();
    expect(f.sim.state.authorizers.get(MERCHANT)?.accessTokens.size).toBe(1);
    expect(f.sim.quotaUsed('api_authorizer_token', MERCHANT)).toBe(0);
  });

  it("'malformed': errcode 0 and HTTP 200 without the fields the API exists to return", async () => {
    const { token, api, refreshToken } = await authorized();
    f.sim.failNext('api_get_authorizer_list', 'malformed');
    const list = await api.list();
    expect(list.status).toBe(200);
    expect(list.json).toEqual({ errcode: 0, errmsg: 'ok', total_count: 1 });

    f.sim.failNext('api_authorizer_token', 'malformed');
    const refreshed = await api.refresh(MERCHANT, refreshToken);
    expect(refreshed.json).toEqual({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    expect(f.sim.state.authorizers.get(MERCHANT)?.accessTokens.size).toBe(1);

    f.sim.failNext('api_authorizer_token', 'malformed');
    await expect(
      f.client().apiAuthorizerToken(token, MERCHANT, refreshToken)
    ).rejects.toBeInstanceOf(WechatUnavailableError);
    expect(f.sim.calls.filter((c) => c.fault === 'malformed')).toHaveLength(3);
  });
});

describe('rule 3: no API permission', () => {
  it('api_query_auth answers authorizer_appid and func_info, and no token at all', async () => {
    const token = await f.componentToken();
    const code = f.sim.authorize(MERCHANT, [1, 15], { apiPermission: false });
    const answer = await apis(f.sim, token).queryAuth(code);
    expect(answer.json).toEqual({
      authorization_info: {
        authorizer_appid: MERCHANT,
        func_info: [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 15 } }],
      },
    });
    expect(f.sim.state.authorizers.get(MERCHANT)?.accessTokens.size).toBe(0);
    const withPermission = await apis(f.sim, token).queryAuth(f.sim.authorize(OTHER));
    expect(withPermission.json.authorization_info?.authorizer_refresh_token).toBeDefined();
  });

  it('pushAuthorized passes apiPermission through', async () => {
    const token = await f.componentToken();
    const { authCode } = await f.sim.pushAuthorized(MERCHANT, { apiPermission: false });
    const info = (await apis(f.sim, token).queryAuth(authCode)).json.authorization_info;
    expect(info).toBeDefined();
    expect(info?.authorizer_access_token).toBeUndefined();
    expect(f.sim.state.authorizers.get(MERCHANT)?.apiPermission).toBe(false);
  });
});

describe('rule 4: revocation', () => {
  it('61003 from api_authorizer_token and api_get_authorizer_info, not listed, tokens dead at once', async () => {
    const { api, accessToken, refreshToken } = await authorized();
    f.received.length = 0;
    const push = await f.sim.revoke(MERCHANT);
    expect(push).toEqual({ status: 200, body: 'success' });
    expect(tag(decrypt(f.received[0] as Received), 'InfoType')).toBe('unauthorized');
    expect((await api.refresh(MERCHANT, refreshToken)).json).toEqual({
      errcode: 61003,
      errmsg: expect.stringMatching(/^component is not authorized by this account rid: /),
    });
    expect((await api.info(MERCHANT)).json.errcode).toBe(61003);
    expect((await api.list()).json).toEqual({ total_count: 0, list: [] });
    expect(f.sim.tokenStatus(accessToken)).toBe('revoked');
    expect(f.sim.isAuthorized(MERCHANT)).toBe(false);
    expect(f.sim.listedRefreshToken(MERCHANT)).toBeUndefined();
  });

  it('revokedRefreshErrcode: 61023 makes api_authorizer_token answer 61023 instead', async () => {
    const other = await f.start({ rules: { revokedRefreshErrcode: 61023 } });
    const { api, refreshToken } = await authorized(other);
    other.forgetAuthorizer(MERCHANT);
    expect((await api.refresh(MERCHANT, refreshToken)).json.errcode).toBe(61023);
    expect((await api.info(MERCHANT)).json.errcode).toBe(61003);
  });

  it('the unauthorized push can be lost: revoke({push: false}), forgetAuthorizer, and the HTTP route with push=0', async () => {
    await authorized();
    f.received.length = 0;
    expect(await f.sim.revoke(MERCHANT, { push: false })).toEqual({ status: 0, body: '' });
    expect(f.sim.pushes.at(-1)).toMatchObject({ infoType: 'unauthorized', lost: true, status: 0 });

    f.sim.authorize(OTHER);
    const route = await fetch(
      `${f.sim.url}/simulator/unauthorize?authorizer_appid=${OTHER}&push=0`,
      { method: 'POST' }
    );
    expect(await route.json()).toEqual({ errcode: 0, errmsg: 'ok', push: { status: 0, body: '' } });
    expect(f.sim.isAuthorized(OTHER)).toBe(false);

    f.sim.authorize(MERCHANT);
    f.sim.forgetAuthorizer(MERCHANT);
    expect(f.sim.isAuthorized(MERCHANT)).toBe(false);
    await f.sim.flushPushes();
    expect(f.received).toEqual([]);
  });
});

describe('rule 5: daily quotas (45009), per Beijing day', () => {
  it('counts calls per API per day and answers 45009 past the limit until Beijing midnight', async () => {
    const limited = await f.start({ rules: { dailyQuota: { api_create_preauthcode: 2 } } });
    const api = apis(limited, await f.componentToken(limited));
    expect((await api.preauth()).json.pre_auth_code).toBeDefined();
    expect((await api.preauth()).json.pre_auth_code).toBeDefined();
    expect((await api.preauth()).json).toEqual({
      errcode: 45009,
      errmsg: expect.stringMatching(/^reach max api daily quota limit rid: /),
    });
    expect(limited.quotaUsed('api_create_preauthcode')).toBe(2);
    expect(limited.quotaUsed('api_component_token')).toBe(1);
    // T0 is 16:00 in Beijing: the day rolls over 8 hours later (with a new component token by then).
    f.now = T0 + 8 * HOUR - 1;
    const later = apis(limited, await f.componentToken(limited));
    expect((await later.preauth()).json.errcode).toBe(45009);
    f.now += 1;
    expect((await later.preauth()).json.pre_auth_code).toBeDefined();
    expect(limited.quotaUsed('api_create_preauthcode')).toBe(1);
    expect(limited.quotaUsed('api_create_preauthcode', undefined, T0)).toBe(2);
  });

  it('api_authorizer_token is counted per authorizer appid', async () => {
    const limited = await f.start({ rules: { dailyQuota: { api_authorizer_token: 1 } } });
    const { api, refreshToken } = await authorized(limited);
    const code = limited.authorize(OTHER);
    const other = (await api.queryAuth(code)).json.authorization_info;
    expect((await api.refresh(MERCHANT, refreshToken)).json.authorizer_access_token).toBeDefined();
    expect((await api.refresh(MERCHANT, refreshToken)).json.errcode).toBe(45009);
    const otherToken = other?.authorizer_refresh_token as string;
    expect((await api.refresh(OTHER, otherToken)).json.authorizer_access_token).toBeDefined();
    expect(limited.quotaUsed('api_authorizer_token', MERCHANT)).toBe(1);
    expect(limited.quotaUsed('api_authorizer_token')).toBe(2);
  });

  it('with authorizerTokenQuota per_platform, api_authorizer_token spends one quota for all authorizers', async () => {
    const limited = await f.start({
      rules: { dailyQuota: { api_authorizer_token: 1 }, authorizerTokenQuota: 'per_platform' },
    });
    const { api, refreshToken } = await authorized(limited);
    const other = (await api.queryAuth(limited.authorize(OTHER))).json.authorization_info;
    expect((await api.refresh(MERCHANT, refreshToken)).json.authorizer_access_token).toBeDefined();
    const otherToken = other?.authorizer_refresh_token as string;
    expect((await api.refresh(OTHER, otherToken)).json.errcode).toBe(45009);
  });

  it('the defaults are finite for every API (10000/day for api_component_token, 2000 per authorizer)', () => {
    expect(f.sim.rules.dailyQuota.api_component_token).toBe(10_000);
    expect(f.sim.rules.dailyQuota.api_authorizer_token).toBe(2_000);
    for (const limit of Object.values(f.sim.rules.dailyQuota)) {
      expect(Number.isFinite(limit)).toBe(true);
    }
  });
});

describe('rules 6 and 7: what the list and the info show', () => {
  it('api_get_authorizer_list can list an authorizer with an empty refresh_token', async () => {
    const { api, refreshToken } = await authorized();
    f.sim.setListedWithoutRefreshToken(MERCHANT, true);
    expect((await api.list()).json.list).toEqual([
      { authorizer_appid: MERCHANT, refresh_token: '', auth_time: Math.floor(T0 / 1000) },
    ]);
    expect(f.sim.listedRefreshToken(MERCHANT)).toBe('');
    // api_get_authorizer_info answers the same empty refresh token (WeChat's FAQ: a new code is needed).
    expect((await api.info(MERCHANT)).json.authorization_info?.authorizer_refresh_token).toBe('');
    expect((await api.refresh(MERCHANT, refreshToken)).json.authorizer_access_token).toBeDefined();
    f.sim.setListedWithoutRefreshToken(MERCHANT, false);
    expect((await api.list()).json.list?.[0]?.refresh_token).toBe(refreshToken);
  });

  it('api_get_authorizer_info carries authorizer_appid, the CURRENT refresh token and func_info', async () => {
    const { api, refreshToken } = await authorized();
    const rotated = f.sim.rotateRefreshToken(MERCHANT);
    expect(rotated).not.toBe(refreshToken);
    expect((await api.info(MERCHANT)).json.authorization_info).toEqual({
      authorizer_appid: MERCHANT,
      authorizer_refresh_token: rotated,
      func_info: [1, 2, 3].map((id) => ({ funcscope_category: { id } })),
    });
  });
});

describe('rule 8: pushes', () => {
  it('pushEvent sends nested elements and any InfoType, sealed for the service', async () => {
    const answer = await f.sim.pushEvent('notify_third_fasteregister', {
      appid: authorizerAppId(3),
      status: 0,
      auth_code: 'fastregister-code',
      msg: 'OK',
      info: {
        name: '模拟企业',
        code: '91440300MA5XXXXXXX',
        code_type: 1,
        legal_persona_wechat: 'legal-wechat',
        legal_persona_name: '张三',
        component_phone: '13800000000',
      },
    });
    expect(answer).toEqual({ status: 200, body: 'success' });
    const created = Math.floor(T0 / 1000);
    expect(decrypt(f.received[0] as Received)).toBe(
      `<xml><AppId><![CDATA[${COMPONENT_APPID}]]></AppId><CreateTime>${created}</CreateTime>` +
        '<InfoType><![CDATA[notify_third_fasteregister]]></InfoType>' +
        `<appid><![CDATA[${authorizerAppId(3)}]]></appid><status>0</status>` +
        '<auth_code><![CDATA[fastregister-code]]></auth_code><msg><![CDATA[OK]]></msg>' +
        '<info><name><![CDATA[模拟企业]]></name><code><![CDATA[91440300MA5XXXXXXX]]></code>' +
        '<code_type>1</code_type><legal_persona_wechat><![CDATA[legal-wechat]]></legal_persona_wechat>' +
        '<legal_persona_name><![CDATA[张三]]></legal_persona_name>' +
        '<component_phone><![CDATA[13800000000]]></component_phone></info></xml>'
    );
    await f.sim.pushEvent('some_future_info_type', { items: { item: ['a', 'b'] } });
    expect(tag(decrypt(f.received[1] as Received), 'items')).toBe(
      '<item><![CDATA[a]]></item><item><![CDATA[b]]></item>'
    );
    await expect(f.sim.pushEvent('x', { 'bad name': 'v' })).rejects.toThrow(TypeError);
  });

  it('pushAuthorized({deliver: false}) authorizes but loses the push; the code still works', async () => {
    const token = await f.componentToken();
    f.received.length = 0;
    const { authCode, status } = await f.sim.pushAuthorized(MERCHANT, { deliver: false });
    expect(status).toBe(0);
    expect(f.received).toEqual([]);
    expect(f.sim.pushes.at(-1)).toMatchObject({ infoType: 'authorized', lost: true });
    expect(f.sim.isAuthorized(MERCHANT)).toBe(true);
    const auth = await apis(f.sim, token).queryAuth(authCode);
    expect(auth.json.authorization_info?.authorizer_appid).toBe(MERCHANT);
  });
});

describe('rule 8b: pushes are retried (§11.9)', () => {
  it('a push not answered success is delivered again by the next flush, three deliveries in all', async () => {
    f.answer = 'busy';
    await f.sim.pushEvent('some_info_type', { n: 1 });
    expect(f.received).toHaveLength(1);
    await f.sim.flushPushes();
    await f.sim.flushPushes();
    await f.sim.flushPushes();
    expect(f.received).toHaveLength(3);
    expect(new Set(f.received.map((push) => decrypt(push))).size).toBe(1);
    expect(f.sim.pushes.map((push) => push.delivery ?? 1)).toEqual([1, 2, 3]);
  });

  it('a push whose success was lost on the way back comes again, late: after a newer push', async () => {
    f.sim.loseNextPushAnswers(1);
    await f.sim.pushEvent('first', {});
    await f.sim.pushEvent('second', {});
    await f.sim.flushPushes();
    await f.sim.flushPushes();
    expect(f.received.map((push) => tag(decrypt(push), 'InfoType'))).toEqual([
      'first',
      'second',
      'first',
    ]);
  });

  it('with retryUnansweredPushes off, a failed push is not sent again', async () => {
    const quiet = await f.start({ rules: { retryUnansweredPushes: false } });
    f.answer = 'busy';
    await quiet.pushEvent('some_info_type', {});
    await quiet.flushPushes();
    expect(f.received).toHaveLength(1);
  });
});

describe('rule 8c: WeChat’s clock is not ours (§11.8)', () => {
  it('clockSkewMs moves the time WeChat writes: a push’s CreateTime and the list’s auth_time', async () => {
    const skewed = await f.start({ rules: { clockSkewMs: -90_000 } });
    const token = await f.componentToken(skewed);
    f.received.length = 0;
    await skewed.pushEvent('some_info_type', {});
    expect(tag(decrypt(f.received[0] as Received), 'CreateTime')).toBe(
      String(Math.floor((T0 - 90_000) / 1000))
    );
    skewed.authorize(MERCHANT);
    expect((await apis(skewed, token).list()).json.list?.[0]?.auth_time).toBe(
      Math.floor((T0 - 90_000) / 1000)
    );
  });
});

describe('rule 9: the simulator clock drives the ticket pushes', () => {
  it('catchUp() pushes one ticket once the interval has passed on the clock, however far it jumped', async () => {
    const timed = await f.start({ ticketIntervalMs: 600_000 });
    await timed.catchUp();
    expect(f.received).toEqual([]);
    f.now += 600_000 - 1;
    await timed.catchUp();
    expect(f.received).toEqual([]);
    f.now += 1;
    await timed.catchUp();
    expect(f.received).toHaveLength(1);
    expect(tag(decrypt(f.received[0] as Received), 'CreateTime')).toBe(
      String(Math.floor(f.now / 1000))
    );
    f.now += 10 * HOUR;
    await timed.catchUp();
    await timed.catchUp();
    expect(f.received).toHaveLength(2);
    expect(timed.now()).toBe(f.now);

    timed.stopPushes();
    f.now += HOUR;
    await timed.catchUp();
    expect(f.received).toHaveLength(2);
  });

  it('catchUp() does nothing without a ticket push service (ticketIntervalMs unset)', async () => {
    f.now += 24 * HOUR;
    await f.sim.catchUp();
    expect(f.received).toEqual([]);
  });
});

describe('rule 10: -1 after WeChat processed the call', () => {
  it("'busy_after_processing' on api_query_auth consumes the code: a resend of it answers 61009", async () => {
    const token = await f.componentToken();
    const code = f.sim.authorize(MERCHANT);
    f.sim.failNext('api_query_auth', 'busy_after_processing');
    const busy = await f
      .client()
      .apiQueryAuth(token, code)
      .catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(WechatApiError);
    expect(busy).toMatchObject({ errcode: -1, kind: 'busy' });
    expect(f.sim.calls.at(-1)).toMatchObject({
      api: 'api_query_auth',
      fault: 'busy_after_processing',
      errcode: -1,
    });
    expect(f.sim.state.authCodes.get(code)?.used).toBe(true);
    const resent = await apis(f.sim, token).queryAuth(code);
    expect(resent.json.errcode).toBe(61009);
  });

  it("'busy_after_processing' on api_authorizer_token issued a new token: the previous one dies 5 minutes later", async () => {
    const { api, accessToken, refreshToken } = await authorized();
    f.sim.failNext('api_authorizer_token', 'busy_after_processing');
    const issuedAt = f.now;
    const busy = await api.refresh(MERCHANT, refreshToken);
    expect(busy.status).toBe(200);
    expect(busy.json).toEqual({
      errcode: -1,
      errmsg: expect.stringMatching(/^system error rid: /),
    });
    expect(f.sim.state.authorizers.get(MERCHANT)?.accessTokens.size).toBe(2);
    expect(f.sim.quotaUsed('api_authorizer_token', MERCHANT)).toBe(1);
    expect(f.sim.tokenValidAt(accessToken, issuedAt + 5 * MINUTE - 1)).toBe(true);
    f.now += 5 * MINUTE;
    expect(f.sim.tokenStatus(accessToken)).toBe('superseded');
  });

  it('an unprocessed {errcode: -1} fault leaves the code unused and the token alone', async () => {
    const { token, api, accessToken, refreshToken } = await authorized();
    const code = f.sim.authorize(OTHER);
    f.sim.failNext('*', { errcode: -1 }, 2);
    expect((await api.queryAuth(code)).json.errcode).toBe(-1);
    expect((await api.refresh(MERCHANT, refreshToken)).json.errcode).toBe(-1);
    expect(f.sim.state.authCodes.get(code)?.used).toBe(false);
    f.now += 5 * MINUTE;
    expect(f.sim.tokenStatus(accessToken)).toBe('valid');
    expect((await apis(f.sim, token).queryAuth(code)).json.authorization_info).toBeDefined();
  });
});

describe('rule 11: tickets', () => {
  it('61006 for a ticket WeChat never pushed, 61005 for one older than ticketTtlMs', async () => {
    const short = await f.start({ rules: { ticketTtlMs: HOUR } });
    const { ticket } = await short.pushTicket();
    const mint = (t: string) =>
      f.call(
        'api_component_token',
        {
          component_appid: COMPONENT_APPID,
          component_appsecret: SECRET,
          component_verify_ticket: t,
        },
        {},
        short
      );
    expect((await mint('ticket@@@never-pushed')).json.errcode).toBe(61006);
    f.now += HOUR - 1;
    expect((await mint(ticket)).json.component_access_token).toBeDefined();
    f.now += 1;
    expect((await mint(ticket)).json.errcode).toBe(61005);
  });
});
