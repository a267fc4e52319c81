import { describe, expect, it } from 'vitest';
import {
  exchangeAuthCode,
  exchangePendingAuthCodes,
} from '../../../shared/authorization/auth-codes';
import { reconcileAuthorizers } from '../../../shared/authorization/reconcile';
import {
  AuthorizerRevokedError,
  AuthorizerWithoutApiPermissionError,
  WechatApiError,
  WechatUnavailableError,
} from '../../../shared/errors';
import {
  AUTH_CODE_PUSH_WAIT_MS,
  FORCED_REFRESH_BACKOFF_MS,
  LEASE_MS,
  SUPERSEDED_OVERLAP_MS,
} from '../../../shared/policy';
import {
  getAuthorizerAccessToken,
  refreshAuthorizerIfDue,
} from '../../../shared/serving/authorizer-tokens';
import type { AuthorizerRecord, TokenStore } from '../../../shared/store/token-store';
import type { AuthorizerListResponse, AuthorizerTokenResponse } from '../../../shared/wechat/wire';
import { fakeComponentApi } from '../../support/fake-component-api';
import {
  AUTHORIZER_APPID as A,
  COMPONENT_APPID as C,
  HOUR,
  MINUTE,
  T0,
} from '../../support/test-ids';
import { tokenContext } from '../../support/token-context';
import { authorizerInfo } from '../../support/wechat-answers';

const renewedAnswer = (n: number): AuthorizerTokenResponse => ({
  authorizer_access_token: `access-${n}`,
  expires_in: 7200,
  authorizer_refresh_token: 'refresh-1',
});
const lost = (api: string) =>
  new WechatUnavailableError(api, 'no answer within 5000 ms', { uncertain: true });
const wechatError = (api: string, errcode: number, kind: WechatApiError['kind']) =>
  new WechatApiError(api, errcode, 'from the test', kind);
/** The stored record of authorizer `A`, as the refresh sweep lists it to `refreshAuthorizerIfDue`. */
async function listedAuthorizer(store: TokenStore): Promise<AuthorizerRecord> {
  const record = await store.getAuthorizer(C, A);
  if (!record) throw new Error(`no stored authorizer ${A}`);
  return record;
}
const listOf = (...list: AuthorizerListResponse['list']): AuthorizerListResponse => ({
  total_count: list.length,
  list,
});

describe('expiresAt is a promise WeChat keeps', () => {
  it('promises a token until its planned renewal plus the 5-minute overlap, not its nominal expiry', async () => {
    const { ctx, store } = await tokenContext();
    const record = await store.getAuthorizer(C, A);
    const token = await getAuthorizerAccessToken(ctx, A);
    expect(token.expiresAt).toBe((record?.refreshAt as number) + SUPERSEDED_OVERLAP_MS);
    expect(token.expiresAt).toBeLessThan(record?.expiresAt as number);
  });

  it('promises only 5 minutes for a token served after its planned renewal, while renewals fail', async () => {
    const { ctx, clock } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw wechatError('api_authorizer_token', -1, 'busy');
      },
    });
    clock.now = T0 + 2 * HOUR - 12 * MINUTE;
    const token = await getAuthorizerAccessToken(ctx, A);
    expect(token.accessToken).toBe('access-1');
    expect(token.expiresAt).toBeLessThanOrEqual(clock.now + 4 * MINUTE + SUPERSEDED_OVERLAP_MS);
  });
});

describe('work under a lease ends before the lease', () => {
  it('gives every WeChat call made under the lease a budget that ends before the lease does', async () => {
    const budgets: number[] = [];
    const { ctx, clock } = await tokenContext();
    ctx.api = fakeComponentApi(
      { apiAuthorizerToken: async () => renewedAnswer(2) },
      { onWithin: (ms) => budgets.push(ms) }
    );
    clock.now = T0 + 2 * HOUR - 15 * MINUTE;
    await refreshAuthorizerIfDue(ctx, await listedAuthorizer(ctx.store));
    expect(budgets.length).toBeGreaterThan(0);
    expect(Math.max(...budgets)).toBeLessThan(LEASE_MS);
  });

  it('treats an abandoned call as uncertain: the stored token is promised 5 minutes from the attempt and renewed at once', async () => {
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw lost('api_authorizer_token');
      },
    });
    const attemptAt = T0 + 2 * HOUR - 15 * MINUTE;
    clock.now = attemptAt;
    await expect(refreshAuthorizerIfDue(ctx, await listedAuthorizer(store))).rejects.toThrow(
      WechatUnavailableError
    );
    const record = await store.getAuthorizer(C, A);
    expect(record?.expiresAt).toBe(attemptAt + SUPERSEDED_OVERLAP_MS);
    expect(record?.refreshAt).toBe(attemptAt);
    ctx.api = fakeComponentApi({ apiAuthorizerToken: async () => renewedAnswer(2) });
    clock.now = attemptAt + MINUTE;
    expect(await getAuthorizerAccessToken(ctx, A)).toMatchObject({ accessToken: 'access-2' });
  });
});

describe('invalidToken reports cannot spend the quota', () => {
  it('when WeChat cannot say whether a reported token is dead, forces one refresh, then backs off without handing the token back', async () => {
    let calls = 0;
    const { ctx, clock } = await tokenContext({
      apiAuthorizerToken: async () => renewedAnswer(++calls + 1),
      getApiQuota: async () => {
        throw lost('getApiQuota');
      },
    });
    clock.now = T0 + 10 * MINUTE;
    const first = await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' });
    expect(first.accessToken).toBe('access-2');
    for (let i = 0; i < 20; i++) {
      clock.now += 1000;
      await expect(
        getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-2' })
      ).rejects.toMatchObject({ code: 'upstream_unavailable' });
    }
    expect(calls).toBe(1);
    clock.now += 2 * MINUTE;
    await expect(
      getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-2' })
    ).rejects.toMatchObject({ code: 'upstream_unavailable' });
    expect((await getAuthorizerAccessToken(ctx, A)).accessToken).toBe('access-2');
    expect(calls).toBe(1);
    clock.now = T0 + 10 * MINUTE + FORCED_REFRESH_BACKOFF_MS;
    expect(await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-2' })).toMatchObject({
      accessToken: 'access-3',
    });
    expect(calls).toBe(2);
  });
});

describe('a failing renewal is not retried by every caller', () => {
  it('answers callers from the store until the failed renewal is due again', async () => {
    let calls = 0;
    const { ctx, clock } = await tokenContext({
      apiAuthorizerToken: async () => {
        calls += 1;
        throw wechatError('api_authorizer_token', 61023, 'refresh_token_invalid');
      },
      apiGetAuthorizerList: async () =>
        listOf({ authorizer_appid: A, refresh_token: '', auth_time: 1 }),
    });
    clock.now = T0 + 2 * HOUR - 4 * MINUTE;
    for (let i = 0; i < 10; i++) {
      const answer = await getAuthorizerAccessToken(ctx, A).catch((error: unknown) => error);
      expect(answer).toMatchObject({ accessToken: 'access-1' });
      clock.now += 20_000;
    }
    expect(calls).toBe(1);
    clock.now = T0 + 2 * HOUR + 10 * MINUTE;
    await expect(getAuthorizerAccessToken(ctx, A)).rejects.toMatchObject({
      code: 'upstream_unavailable',
    });
    expect(calls).toBe(1);
  });
});

describe('api_query_auth is never repeated; a lost answer is recovered', () => {
  const code = 'queryauthcode@@@lost';
  /** The code as it reaches us: by push (naming the merchant) or by the redirect (naming nobody). */
  const arrived = (source: 'push' | 'redirect') => ({
    code,
    expiresAt: T0 + 10 * MINUTE,
    receivedAt: T0,
    source,
    ...(source === 'push' ? { authorizerAppId: 'wxnewmerchant0001' } : {}),
  });
  const info = (refreshToken = 'refresh-recovered') => ({
    authorizer_info: { nick_name: 'Shop' },
    authorization_info: {
      authorizer_appid: 'wxnewmerchant0001',
      authorizer_refresh_token: refreshToken,
      func_info: [{ funcscope_category: { id: 17 } }],
    },
  });

  it('holds a redirect code until the push names the authorizer, then recovers a lost answer through api_get_authorizer_info', async () => {
    let queryAuthCalls = 0;
    const { ctx, store } = await tokenContext({
      apiQueryAuth: async () => {
        queryAuthCalls += 1;
        throw lost('api_query_auth');
      },
      apiGetAuthorizerInfo: async () => info(),
    });
    await expect(exchangeAuthCode(ctx, arrived('redirect'))).rejects.toMatchObject({
      code: 'auth_code_awaiting_push',
    });
    expect(queryAuthCalls).toBe(0);
    expect(await store.getAuthCode(C, code)).not.toHaveProperty('uncertainAt');
    await expect(exchangeAuthCode(ctx, arrived('push'))).rejects.toThrow(WechatUnavailableError);
    const result = await exchangeAuthCode(ctx, arrived('push'));
    expect(result).toEqual({ status: 'exchanged', authorizerAppId: 'wxnewmerchant0001' });
    expect(queryAuthCalls).toBe(1);
    expect(await store.getAuthorizer(C, 'wxnewmerchant0001')).toMatchObject({
      status: 'active',
      refreshToken: 'refresh-recovered',
      funcInfo: [17],
    });
  });

  it('recovers a push-path code on the schedule, without sending the code again', async () => {
    let queryAuthCalls = 0;
    const { ctx, clock, store } = await tokenContext({
      apiQueryAuth: async () => {
        queryAuthCalls += 1;
        throw lost('api_query_auth');
      },
      apiGetAuthorizerInfo: async () => info(),
    });
    await exchangeAuthCode(ctx, arrived('push'), { wait: false }).catch(() => undefined);
    clock.now = T0 + 2 * MINUTE;
    expect(await exchangePendingAuthCodes(ctx)).toMatchObject({ exchanged: 1 });
    expect(queryAuthCalls).toBe(1);
    expect((await store.getAuthorizer(C, 'wxnewmerchant0001'))?.status).toBe('active');
  });

  it('reconciles a redirect-only code whose push never came, after waiting for it', async () => {
    const { ctx, clock, store } = await tokenContext({
      apiQueryAuth: async () => {
        throw lost('api_query_auth');
      },
      apiGetAuthorizerList: async () =>
        listOf(
          { authorizer_appid: A, refresh_token: 'refresh-1', auth_time: T0 / 1000 },
          { authorizer_appid: 'wxnewmerchant0001', refresh_token: 'r-new', auth_time: T0 / 1000 }
        ),
      apiGetAuthorizerInfo: async (_ct: string, appId: string) =>
        authorizerInfo(appId, appId === A ? 'refresh-1' : 'r-new', [1, 17]),
    });
    await exchangeAuthCode(ctx, arrived('redirect')).catch(() => undefined);
    clock.now = T0 + MINUTE + 1;
    await exchangePendingAuthCodes(ctx);
    expect(await store.getAuthorizer(C, 'wxnewmerchant0001')).toBeUndefined();
    clock.now = T0 + AUTH_CODE_PUSH_WAIT_MS + MINUTE;
    await exchangePendingAuthCodes(ctx);
    expect(await store.getAuthorizer(C, 'wxnewmerchant0001')).toMatchObject({
      status: 'active',
      refreshToken: 'r-new',
      funcInfo: [1, 17],
    });
    expect(await store.getAuthCode(C, code)).toMatchObject({
      status: 'exchanged',
      outcomeCode: 'recovered_by_reconciliation',
    });
  });

  it('never sends a redirect code no push named, and settles a burst of them with one list read', async () => {
    const calls: string[] = [];
    const { ctx, clock, store } = await tokenContext({
      apiQueryAuth: async () => {
        calls.push('api_query_auth');
        throw new Error('a held code must not be sent');
      },
      apiGetAuthorizerList: async () => {
        calls.push('api_get_authorizer_list');
        return listOf({ authorizer_appid: A, refresh_token: 'refresh-1', auth_time: T0 / 1000 });
      },
    });
    const codes = Array.from({ length: 5 }, (_, i) => `queryauthcode@@@burst${i}`);
    for (const burst of codes) {
      await exchangeAuthCode(ctx, { ...arrived('redirect'), code: burst }).catch(() => undefined);
    }
    clock.now = T0 + AUTH_CODE_PUSH_WAIT_MS + MINUTE;
    expect(await exchangePendingAuthCodes(ctx)).toMatchObject({ exchanged: 5 });
    expect(calls).toEqual(['api_get_authorizer_list']);
    for (const burst of codes) {
      expect((await store.getAuthCode(C, burst))?.outcomeCode).toBe('recovered_by_reconciliation');
    }
  });

  it('recovers a code that expired while WeChat was only busy, instead of losing the authorization', async () => {
    let queryAuthCalls = 0;
    const { ctx, clock, store } = await tokenContext({
      apiQueryAuth: async () => {
        queryAuthCalls += 1;
        throw wechatError('api_query_auth', -1, 'busy');
      },
      apiGetAuthorizerInfo: async () => info(),
    });
    await exchangeAuthCode(ctx, arrived('push'), { wait: false }).catch(() => undefined);
    clock.now = T0 + 5 * MINUTE;
    await exchangePendingAuthCodes(ctx);
    clock.now = T0 + 10 * MINUTE;
    expect(await exchangePendingAuthCodes(ctx)).toMatchObject({ exchanged: 1, expired: 0 });
    expect(queryAuthCalls).toBe(2);
    expect((await store.getAuthorizer(C, 'wxnewmerchant0001'))?.status).toBe('active');
  });
});

describe('an account without API permission', () => {
  it('is recorded with its permissions and answered with a stable code, not retried as an outage', async () => {
    let calls = 0;
    const { ctx, store } = await tokenContext({
      apiQueryAuth: async () => {
        calls += 1;
        return {
          authorization_info: {
            authorizer_appid: 'wxnoapi0000000001',
            func_info: [{ funcscope_category: { id: 1 } }, { funcscope_category: { id: 2 } }],
          },
        };
      },
    });
    const result = await exchangeAuthCode(ctx, {
      code: 'queryauthcode@@@noapi',
      expiresAt: T0 + 10 * MINUTE,
      receivedAt: T0,
      source: 'push',
      authorizerAppId: 'wxnoapi0000000001',
    });
    expect(result).toEqual({ status: 'exchanged', authorizerAppId: 'wxnoapi0000000001' });
    expect(await store.getAuthorizer(C, 'wxnoapi0000000001')).toMatchObject({
      status: 'without_api_permission',
      funcInfo: [1, 2],
    });
    await expect(getAuthorizerAccessToken(ctx, 'wxnoapi0000000001')).rejects.toThrow(
      AuthorizerWithoutApiPermissionError
    );
    expect(await exchangePendingAuthCodes(ctx)).toEqual({ exchanged: 0, expired: 0, pending: 0 });
    expect(calls).toBe(1);
  });
});

describe('verdicts need evidence from WeChat', () => {
  it('marks an authorizer revoked after 61003 only when a complete listing and api_get_authorizer_info confirm it', async () => {
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw wechatError('api_authorizer_token', 61003, 'not_authorized');
      },
      apiGetAuthorizerList: async () => listOf(),
      apiGetAuthorizerInfo: async () => {
        throw wechatError('api_get_authorizer_info', 61003, 'not_authorized');
      },
    });
    clock.now = T0 + 2 * HOUR - 4 * MINUTE;
    await expect(getAuthorizerAccessToken(ctx, A)).rejects.toThrow(AuthorizerRevokedError);
    expect((await store.getAuthorizer(C, A))?.status).toBe('revoked');
  });

  it('keeps an authorizer a shifting listing missed: api_get_authorizer_info says it is authorized, with its refresh token', async () => {
    const used: string[] = [];
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async (_ct, _appId, refreshToken) => {
        used.push(refreshToken);
        if (refreshToken === 'refresh-1') {
          throw wechatError('api_authorizer_token', 61023, 'refresh_token_invalid');
        }
        return renewedAnswer(2);
      },
      apiGetAuthorizerList: async () => listOf(),
      apiGetAuthorizerInfo: async () => ({
        authorizer_info: { nick_name: 'Shop' },
        authorization_info: {
          authorizer_appid: A,
          authorizer_refresh_token: 'refresh-current',
          func_info: [{ funcscope_category: { id: 1 } }],
        },
      }),
    });
    clock.now = T0 + 2 * HOUR - 4 * MINUTE;
    expect((await getAuthorizerAccessToken(ctx, A)).accessToken).toBe('access-2');
    expect(used).toEqual(['refresh-1', 'refresh-current']);
    expect(await store.getAuthorizer(C, A)).toMatchObject({ status: 'active' });
  });

  it('concludes nothing when api_get_authorizer_info fails after a listing without the authorizer', async () => {
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw wechatError('api_authorizer_token', 61023, 'refresh_token_invalid');
      },
      apiGetAuthorizerList: async () => listOf(),
      apiGetAuthorizerInfo: async () => {
        throw lost('api_get_authorizer_info');
      },
    });
    clock.now = T0 + 2 * HOUR - 4 * MINUTE;
    await expect(getAuthorizerAccessToken(ctx, A)).resolves.toMatchObject({
      accessToken: 'access-1',
    });
    expect((await store.getAuthorizer(C, A))?.status).toBe('active');
  });

  it('keeps an authorizer active after 61003 when WeChat still lists it, using the listed token', async () => {
    const used: string[] = [];
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async (_ct, _appId, refreshToken) => {
        used.push(refreshToken);
        if (refreshToken === 'refresh-1') {
          throw wechatError('api_authorizer_token', 61003, 'not_authorized');
        }
        return renewedAnswer(2);
      },
      apiGetAuthorizerList: async () =>
        listOf({ authorizer_appid: A, refresh_token: 'refresh-2', auth_time: 1 }),
    });
    clock.now = T0 + 2 * HOUR - 4 * MINUTE;
    expect(await getAuthorizerAccessToken(ctx, A)).toMatchObject({ accessToken: 'access-2' });
    expect(used).toEqual(['refresh-1', 'refresh-2']);
    expect((await store.getAuthorizer(C, A))?.status).toBe('active');
  });

  it.each([
    [
      'a malformed answer',
      async () => {
        throw new WechatUnavailableError('api_get_authorizer_list', 'answer has no list');
      },
    ],
    [
      'an inconsistent listing (fewer items than announced)',
      async () => ({ total_count: 3, list: [] }),
    ],
    [
      'a listing without a usable refresh token',
      async () => listOf({ authorizer_appid: A, refresh_token: '', auth_time: 1 }),
    ],
  ])('never concludes needs_reauthorization from %s', async (_name, apiGetAuthorizerList) => {
    const { ctx, clock, store } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw wechatError('api_authorizer_token', 61023, 'refresh_token_invalid');
      },
      apiGetAuthorizerList,
    });
    clock.now = T0 + 2 * HOUR - 15 * MINUTE;
    await expect(refreshAuthorizerIfDue(ctx, await listedAuthorizer(store))).rejects.toThrow();
    expect(await store.getAuthorizer(C, A)).toMatchObject({
      status: 'active',
      refreshToken: 'refresh-1',
    });
  });

  it('reconciliation restores a needs_reauthorization record WeChat lists with a refresh token', async () => {
    const { ctx, store } = await tokenContext({
      apiGetAuthorizerList: async () =>
        listOf({ authorizer_appid: A, refresh_token: 'refresh-9', auth_time: 1 }),
      apiGetAuthorizerInfo: async () => authorizerInfo(A, 'refresh-9'),
    });
    await store.endAuthorization(C, A, 'needs_reauthorization', { eventTime: T0 }, T0);
    const summary = await reconcileAuthorizers(ctx, { deadline: T0 + 10 * MINUTE });
    expect(summary.reactivated).toBe(1);
    expect(await store.getAuthorizer(C, A)).toMatchObject({
      status: 'active',
      refreshToken: 'refresh-9',
    });
  });

  it('reconciliation records an unknown authorizer WeChat gives no refresh token for as awaiting a fresh authorization code', async () => {
    const { ctx, store } = await tokenContext({
      apiGetAuthorizerList: async () =>
        listOf({ authorizer_appid: 'wxnoapi0000000001', refresh_token: '', auth_time: 1 }),
      apiGetAuthorizerInfo: async () => ({
        authorizer_info: { nick_name: 'Unverified' },
        authorization_info: {
          authorizer_appid: 'wxnoapi0000000001',
          func_info: [{ funcscope_category: { id: 1 } }],
        },
      }),
    });
    const summary = await reconcileAuthorizers(ctx, { deadline: T0 + 10 * MINUTE });
    expect(summary).toMatchObject({ imported: 1, withoutRefreshToken: 1, failed: 0 });
    expect(await store.getAuthorizer(C, 'wxnoapi0000000001')).toMatchObject({
      status: 'awaiting_authorization_code',
      funcInfo: [1],
    });
    await expect(getAuthorizerAccessToken(ctx, 'wxnoapi0000000001')).rejects.toMatchObject({
      code: 'authorization_code_needed',
    });
  });

  it('does not settle a redirect-only code by a reconciliation that could not describe every authorizer', async () => {
    let infoCalls = 0;
    const { ctx, clock, store } = await tokenContext({
      apiQueryAuth: async () => {
        throw lost('api_query_auth');
      },
      apiGetAuthorizerList: async () =>
        listOf({ authorizer_appid: 'wxnoapi0000000001', refresh_token: '', auth_time: 1 }),
      apiGetAuthorizerInfo: async () => {
        infoCalls += 1;
        if (infoCalls === 1)
          throw new WechatUnavailableError('api_get_authorizer_info', 'HTTP 500');
        return {
          authorizer_info: {},
          authorization_info: { authorizer_appid: 'wxnoapi0000000001', func_info: [] },
        };
      },
    });
    const code = 'queryauthcode@@@noapi-lost';
    await exchangeAuthCode(ctx, {
      code,
      expiresAt: T0 + 10 * MINUTE,
      receivedAt: T0,
      source: 'redirect',
    }).catch(() => undefined);
    clock.now = T0 + AUTH_CODE_PUSH_WAIT_MS + MINUTE;
    await exchangePendingAuthCodes(ctx);
    expect((await store.getAuthCode(C, code))?.status).toBe('pending');
    clock.now += 2 * MINUTE;
    await exchangePendingAuthCodes(ctx);
    expect((await store.getAuthorizer(C, 'wxnoapi0000000001'))?.status).toBe(
      'awaiting_authorization_code'
    );
    expect((await store.getAuthCode(C, code))?.status).toBe('exchanged');
  });
});
