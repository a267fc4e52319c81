import { describe, expect, it } from 'vitest';
import {
  exchangeAuthCode,
  exchangePendingAuthCodes,
} from '../../../../shared/authorization/auth-codes';
import { reconcileAuthorizers } from '../../../../shared/authorization/reconcile';
import {
  RefreshInProgressError,
  WechatApiError,
  WechatUnavailableError,
} from '../../../../shared/errors';
import { LEASE_MS, promisedExpiry, SUPERSEDED_OVERLAP_MS } from '../../../../shared/policy';
import {
  getAuthorizerAccessToken,
  refreshAuthorizerIfDue,
  refreshAuthorizerNow,
} from '../../../../shared/serving/authorizer-tokens';
import { succession } from '../../../../shared/serving/succession';
import type { QueryAuthResponse } from '../../../../shared/wechat/wire';
import type { MemoryTokenStore } from '../../../support/memory-token-store';
import { AUTHORIZER_APPID as A, COMPONENT_APPID as C, MINUTE, T0 } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';
import { authorizerInfo } from '../../../support/wechat-answers';

const incoming = (requestedAt: number, issuedAt: number) => ({
  accessToken: 'new',
  requestedAt,
  issuedAt,
});

describe('succession: the token WeChat issued last stays', () => {
  it('replaces a token answered before the incoming call began', () => {
    expect(
      succession({ accessToken: 'old', requestedAt: 10, issuedAt: 20 }, incoming(21, 30))
    ).toEqual({ keep: 'incoming' });
  });

  it('keeps a stored token whose call began after the incoming answer came', () => {
    expect(
      succession({ accessToken: 'old', requestedAt: 31, issuedAt: 40 }, incoming(21, 30))
    ).toEqual({ keep: 'stored' });
  });

  it('caps the stored token when either may be the newer, to the incoming call + 5 minutes', () => {
    expect(
      succession({ accessToken: 'old', requestedAt: 25, issuedAt: 35 }, incoming(21, 30))
    ).toEqual({ keep: 'stored', capAt: 21 + SUPERSEDED_OVERLAP_MS });
  });

  it('takes a lease-long window for a stored token written before requestedAt was kept', () => {
    const legacy = { accessToken: 'old', issuedAt: 30 + LEASE_MS };
    expect(succession(legacy, incoming(21, 30))).toMatchObject({
      capAt: 21 + SUPERSEDED_OVERLAP_MS,
    });
    expect(succession(legacy, incoming(21, 29))).toEqual({ keep: 'stored' });
  });

  it('stores the incoming token when nothing is stored', () => {
    expect(succession(undefined, incoming(1, 2))).toEqual({ keep: 'incoming' });
    expect(succession({ issuedAt: 5 }, incoming(1, 2))).toEqual({ keep: 'incoming' });
  });
});

describe('promises while a renewal is in flight', () => {
  it('end 5 minutes after the lease was claimed, not 5 minutes after the planned renewal or now', () => {
    const token = { expiresAt: T0 + 120 * MINUTE, refreshAt: T0 + 105 * MINUTE };
    expect(promisedExpiry(token, T0)).toBe(T0 + 110 * MINUTE);
    const claimedAt = T0 + 10 * MINUTE;
    const leased = { ...token, leaseUntil: claimedAt + LEASE_MS };
    expect(promisedExpiry(leased, claimedAt + 2000)).toBe(claimedAt + SUPERSEDED_OVERLAP_MS);
    expect(promisedExpiry(leased, claimedAt + LEASE_MS + 1)).toBe(T0 + 110 * MINUTE);
  });

  it('are what get-token hands out while a renewal holds the lease', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { ctx, clock } = await tokenContext({
      apiAuthorizerToken: async () => {
        await gate;
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    });
    const claimedAt = T0 + 10 * MINUTE;
    clock.now = claimedAt;
    const renewal = refreshAuthorizerNow(ctx, A);
    await new Promise((resolve) => setImmediate(resolve));
    const during = await getAuthorizerAccessToken(ctx, A);
    expect(during.accessToken).toBe('access-1');
    expect(during.expiresAt).toBe(claimedAt + SUPERSEDED_OVERLAP_MS);
    release();
    expect(await renewal).toBe('refreshed');
    expect((await getAuthorizerAccessToken(ctx, A)).accessToken).toBe('access-2');
  });
});

const granted = (accessToken: string, refreshToken: string): QueryAuthResponse => ({
  authorization_info: {
    authorizer_appid: A,
    authorizer_access_token: accessToken,
    expires_in: 7200,
    authorizer_refresh_token: refreshToken,
    func_info: [{ funcscope_category: { id: 1 } }],
  },
});

/**
 * A pushed code of an authorizer whose renewal is in flight (its call to WeChat under way): the stored
 * token expired just before (a renewal that kept failing), so no promise stands in the way of exchanging
 * the code, but the renewal holds the authorizer's lease.
 */
async function renewalMeetsCode(
  refreshTokenOfCode: string,
  storedToken: 'alive' | 'dead' = 'dead'
) {
  const calls: string[] = [];
  let exchange: Promise<unknown> = Promise.resolve();
  const received = {
    code: 'code-1',
    source: 'push' as const,
    authorizerAppId: A,
    expiresAt: T0 + 115 * MINUTE,
    receivedAt: T0 + 105 * MINUTE,
  };
  const setup = await tokenContext(
    {
      apiQueryAuth: async () => {
        calls.push('api_query_auth');
        return granted('access-x', refreshTokenOfCode);
      },
      apiGetAuthorizerInfo: async () => {
        calls.push('api_get_authorizer_info');
        return authorizerInfo(A, refreshTokenOfCode);
      },
      getApiQuota: async () => {
        calls.push('getApiQuota');
        if (storedToken === 'dead') {
          throw new WechatApiError('getApiQuota', 40001, 'invalid credential', 'token_invalid');
        }
        return { errcode: 0, errmsg: 'ok', quota: { daily_limit: 10, used: 1, remain: 9 } };
      },
      apiAuthorizerToken: async () => {
        calls.push('api_authorizer_token');
        setup.clock.now += 1000;
        exchange = exchangeAuthCode(setup.ctx, received).catch((error: unknown) => error);
        await exchange;
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    },
    { authorizerExpiresIn: 105 * MINUTE + 500 }
  );
  setup.clock.now = T0 + 105 * MINUTE;
  const listed = await setup.store.getAuthorizer(C, A);
  const outcome = await refreshAuthorizerIfDue(setup.ctx, listed as NonNullable<typeof listed>);
  return { ...setup, outcome, calls, exchanged: await exchange, received };
}

/**
 * A renewal's token `access-2` of the same authorization, saved on the version it read (while another
 * flow's call is under way): WeChat issued it between `requestedAt` and `issuedAt`.
 */
async function renewalSaves(store: MemoryTokenStore, requestedAt: number, issuedAt: number) {
  const current = await store.getAuthorizer(C, A);
  await store.saveAuthorization(
    {
      componentAppId: C,
      authorizerAppId: A,
      expectedVersion: current?.version,
      accessToken: 'access-2',
      expiresAt: issuedAt + 120 * MINUTE,
      refreshAt: issuedAt + 105 * MINUTE,
      requestedAt,
      issuedAt,
      refreshToken: 'refresh-1',
      funcInfo: [1],
      authorizedAt: T0,
    },
    issuedAt
  );
}

describe('one writer per authorizer record: flows that overlap keep the newest token', () => {
  it('a code meeting a renewal in flight waits for its lease instead of minting alongside: it stays pending and certain', async () => {
    const { store, outcome, calls, exchanged } = await renewalMeetsCode('refresh-1');
    expect(exchanged).toBeInstanceOf(RefreshInProgressError);
    expect(outcome).toBe('refreshed');
    expect(calls).toEqual(['api_authorizer_token']);
    expect(await store.getAuthorizer(C, A)).toMatchObject({ accessToken: 'access-2' });
    const code = await store.getAuthCode(C, 'code-1');
    expect(code).toMatchObject({ status: 'pending' });
    expect(code).not.toHaveProperty('uncertainAt');
  });

  it('the code is settled after the renewal without minting: the renewal’s token, now promised, stands', async () => {
    const setup = await renewalMeetsCode('refresh-1');
    setup.clock.now += 2 * MINUTE;
    expect(await exchangePendingAuthCodes(setup.ctx)).toMatchObject({ exchanged: 1 });
    expect(setup.calls).toEqual(['api_authorizer_token', 'api_get_authorizer_info']);
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-2',
      refreshToken: 'refresh-1',
    });
  });

  it('a re-authorization’s code settled after a renewal of the ended authorization drops that token and renews at once', async () => {
    const setup = await renewalMeetsCode('refresh-new');
    setup.clock.now += 2 * MINUTE;
    await exchangePendingAuthCodes(setup.ctx);
    const record = await setup.store.getAuthorizer(C, A);
    expect(record).toMatchObject({ refreshToken: 'refresh-new' });
    expect(record?.accessToken).toBeUndefined();
    expect(setup.calls).not.toContain('api_query_auth');
    expect(setup.calls.filter((call) => call === 'getApiQuota')).toHaveLength(1);
  });

  it('a pushed code with another refresh token keeps a stored token WeChat still accepts: a permission change that kept it, the refresh token rotated meanwhile', async () => {
    const setup = await renewalMeetsCode('refresh-new', 'alive');
    setup.clock.now += 2 * MINUTE;
    const before = await setup.store.getAuthorizer(C, A);
    await exchangePendingAuthCodes(setup.ctx);
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-2',
      expiresAt: before?.expiresAt,
      refreshAt: before?.refreshAt,
      refreshToken: 'refresh-new',
    });
    expect(setup.calls).toEqual(['api_authorizer_token', 'api_get_authorizer_info', 'getApiQuota']);
  });

  it('a refresh token healed from a list that shows a later authorization keeps that time and reads its permissions: a later rotation is not taken for a re-authorization', async () => {
    let listed = { authorizer_appid: A, refresh_token: 'refresh-2', auth_time: T0 / 1000 + 600 };
    const setup = await tokenContext({
      apiAuthorizerToken: async (_ct: string, _appId: string, refreshToken: string) => {
        if (refreshToken === 'refresh-1') {
          throw new WechatApiError(
            'api_authorizer_token',
            61023,
            'invalid refresh token',
            'refresh_token_invalid'
          );
        }
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
      apiGetAuthorizerList: async () => ({ total_count: 1, list: [listed] }),
      // The missed authorization granted another permission set: read again, nothing minted.
      apiGetAuthorizerInfo: async () => ({
        authorizer_info: { nick_name: 'Shop' },
        authorization_info: {
          authorizer_appid: A,
          authorizer_refresh_token: 'refresh-2',
          func_info: [1, 17].map((id) => ({ funcscope_category: { id } })),
        },
      }),
    });
    setup.clock.now = T0 + 20 * MINUTE;
    expect(await refreshAuthorizerNow(setup.ctx, A)).toBe('refreshed');
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-2',
      refreshToken: 'refresh-2',
      authorizedAt: T0 + 600_000,
      funcInfo: [1, 17],
    });
    listed = { ...listed, refresh_token: 'refresh-3' };
    const summary = await reconcileAuthorizers(setup.ctx, {
      deadline: setup.clock.now + MINUTE,
      reserveMs: 0,
    });
    expect(summary).toMatchObject({ reauthorized: 0 });
    expect((await setup.store.getAuthorizer(C, A))?.accessToken).toBe('access-2');
  });

  it('a pushed code whose recovery call fails (-1 from api_get_authorizer_info) stays certain: the promised token is not capped', async () => {
    let infoCalls = 0;
    const setup = await tokenContext({
      apiQueryAuth: async () => {
        throw new Error('a code of an authorizer holding a promised token is not exchanged');
      },
      apiGetAuthorizerInfo: async () => {
        infoCalls += 1;
        if (infoCalls === 1) {
          const busy = new WechatApiError('api_get_authorizer_info', -1, 'system error', 'busy');
          busy.afterLostAnswer = true;
          throw busy;
        }
        return authorizerInfo(A, 'refresh-1');
      },
    });
    const before = await setup.store.getAuthorizer(C, A);
    const received = {
      code: 'code-change',
      source: 'push' as const,
      authorizerAppId: A,
      expiresAt: T0 + 10 * MINUTE,
      receivedAt: T0,
    };
    await expect(exchangeAuthCode(setup.ctx, received)).rejects.toThrow(WechatApiError);
    expect(await setup.store.getAuthCode(C, 'code-change')).not.toHaveProperty('uncertainAt');
    setup.clock.now += 2 * MINUTE;
    expect(await exchangeAuthCode(setup.ctx, received)).toEqual({
      status: 'exchanged',
      authorizerAppId: A,
    });
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-1',
      expiresAt: before?.expiresAt,
    });
  });

  it('a permission change seen only in the list (later auth_time, same refresh token) reads the permissions again and keeps the token', async () => {
    let infoCalls = 0;
    const setup = await tokenContext({
      apiGetAuthorizerList: async () => ({
        total_count: 1,
        list: [{ authorizer_appid: A, refresh_token: 'refresh-1', auth_time: T0 / 1000 + 600 }],
      }),
      apiGetAuthorizerInfo: async () => {
        infoCalls += 1;
        return authorizerInfo(A, 'refresh-1', [1, 17]);
      },
    });
    setup.clock.now = T0 + 20 * MINUTE;
    const reconcile = () =>
      reconcileAuthorizers(setup.ctx, { deadline: setup.clock.now + MINUTE, reserveMs: 0 });
    expect(await reconcile()).toMatchObject({ reauthorized: 1, failed: 0 });
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-1',
      refreshToken: 'refresh-1',
      funcInfo: [1, 17],
      authorizedAt: T0 + 600_000,
    });
    expect(await reconcile()).toMatchObject({ reauthorized: 0 });
    expect(infoCalls).toBe(1);
  });

  it('a renewal whose token was issued after a stored exchange replaces it', async () => {
    const setup = await tokenContext({
      apiAuthorizerToken: async () => {
        setup.clock.now += 1000;
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    });
    setup.clock.now = T0 + 105 * MINUTE;
    const listed = await setup.store.getAuthorizer(C, A);
    // An exchange answered before the renewal's call began, saved after the lease was claimed.
    const originalClaim = setup.store.claim.bind(setup.store);
    setup.store.claim = async (...args) => {
      await originalClaim(...args);
      setup.store.claim = originalClaim;
      await setup.store.saveAuthorization(
        {
          componentAppId: C,
          authorizerAppId: A,
          expectedVersion: listed?.version,
          accessToken: 'access-x',
          expiresAt: T0 + 200 * MINUTE,
          issuedAt: T0 + 104 * MINUTE,
          requestedAt: T0 + 104 * MINUTE,
          refreshToken: 'refresh-1',
          funcInfo: [1],
          refreshAt: T0 + 185 * MINUTE,
          authorizedAt: T0 + 104 * MINUTE,
        },
        T0 + 105 * MINUTE
      );
    };
    expect(await refreshAuthorizerNow(setup.ctx, A)).toBe('refreshed');
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-2',
      authorizedAt: T0 + 104 * MINUTE,
    });
  });

  it('a code of the same authorization whose token may be older than the stored one keeps the stored one, capped', async () => {
    const renewedAt = T0 + 10 * MINUTE;
    const setup = await tokenContext(
      {
        // A renewal whose call began a second before the exchange's and was answered a second after
        // it saves first (the stored token had expired: nothing promised stood in the code's way).
        apiQueryAuth: async () => {
          await renewalSaves(setup.store, renewedAt - 1000, renewedAt + 1000);
          return granted('access-x', 'refresh-1');
        },
      },
      { authorizerExpiresIn: 5 * MINUTE }
    );
    setup.clock.now = renewedAt;
    await exchangeAuthCode(setup.ctx, {
      code: 'code-same',
      source: 'push',
      authorizerAppId: A,
      expiresAt: renewedAt + 10 * MINUTE,
      receivedAt: T0,
    });
    const after = await setup.store.getAuthorizer(C, A);
    expect(after).toMatchObject({
      accessToken: 'access-2',
      expiresAt: renewedAt + SUPERSEDED_OVERLAP_MS,
      refreshAt: renewedAt,
    });
  });

  it('a pushed code of an authorizer holding a promised token is settled with api_get_authorizer_info: nothing minted', async () => {
    const calls: string[] = [];
    const setup = await tokenContext({
      apiQueryAuth: async () => {
        calls.push('api_query_auth');
        return granted('access-x', 'refresh-1');
      },
      apiGetAuthorizerInfo: async () => {
        calls.push('api_get_authorizer_info');
        return authorizerInfo(A, 'refresh-1', [1, 17]);
      },
    });
    setup.clock.now = T0 + 30 * MINUTE;
    const before = await setup.store.getAuthorizer(C, A);
    const result = await exchangeAuthCode(setup.ctx, {
      code: 'code-update',
      source: 'push',
      authorizerAppId: A,
      expiresAt: setup.clock.now + 10 * MINUTE,
      receivedAt: setup.clock.now,
    });
    expect(result).toEqual({ status: 'exchanged', authorizerAppId: A });
    expect(calls).toEqual(['api_get_authorizer_info']);
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-1',
      expiresAt: before?.expiresAt,
      refreshAt: before?.refreshAt,
      funcInfo: [1, 17],
    });
  });

  it('a re-authorization whose push and redirect were lost is stored from the listing: new refresh token and permissions, renewed at once', async () => {
    const used: string[] = [];
    const setup = await tokenContext({
      apiGetAuthorizerList: async () => ({
        total_count: 1,
        list: [{ authorizer_appid: A, refresh_token: 'refresh-new', auth_time: T0 / 1000 + 60 }],
      }),
      apiGetAuthorizerInfo: async () => authorizerInfo(A, 'refresh-new', [1, 17]),
      // The re-authorization killed the stored token (protocol §7.3).
      getApiQuota: async () => {
        throw new WechatApiError('getApiQuota', 40001, 'invalid credential', 'token_invalid');
      },
      apiAuthorizerToken: async (_ct, _appId, refreshToken) => {
        used.push(refreshToken);
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    });
    setup.clock.now = T0 + 10 * MINUTE;
    const summary = await reconcileAuthorizers(setup.ctx, {
      deadline: setup.clock.now + 10 * MINUTE,
      reserveMs: 0,
    });
    expect(summary).toMatchObject({ reauthorized: 1, imported: 0, failed: 0 });
    const record = await setup.store.getAuthorizer(C, A);
    expect(record).toMatchObject({
      status: 'active',
      refreshToken: 'refresh-new',
      funcInfo: [1, 17],
    });
    expect(record?.accessToken).toBeUndefined();
    expect((await getAuthorizerAccessToken(setup.ctx, A)).accessToken).toBe('access-2');
    expect(used).toEqual(['refresh-new']);
    const again = await reconcileAuthorizers(setup.ctx, {
      deadline: setup.clock.now + 10 * MINUTE,
      reserveMs: 0,
    });
    expect(again).toMatchObject({ reauthorized: 0 });
  });

  it('a later authorization listed with another refresh token keeps a stored token WeChat still accepts: a permission change that kept it, the refresh token rotated meanwhile', async () => {
    const checked: string[] = [];
    const setup = await tokenContext({
      apiGetAuthorizerList: async () => ({
        total_count: 1,
        list: [{ authorizer_appid: A, refresh_token: 'refresh-new', auth_time: T0 / 1000 + 60 }],
      }),
      apiGetAuthorizerInfo: async () => authorizerInfo(A, 'refresh-new', [1, 17]),
      getApiQuota: async (accessToken) => {
        checked.push(accessToken);
        return { errcode: 0, errmsg: 'ok', quota: { daily_limit: 10, used: 1, remain: 9 } };
      },
    });
    setup.clock.now = T0 + 10 * MINUTE;
    const before = await setup.store.getAuthorizer(C, A);
    const summary = await reconcileAuthorizers(setup.ctx, {
      deadline: setup.clock.now + 10 * MINUTE,
      reserveMs: 0,
    });
    expect(summary).toMatchObject({ reauthorized: 1, failed: 0 });
    expect(checked).toEqual(['access-1']);
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      status: 'active',
      accessToken: 'access-1',
      expiresAt: before?.expiresAt,
      refreshAt: before?.refreshAt,
      refreshToken: 'refresh-new',
      funcInfo: [1, 17],
      authorizedAt: T0 + 60_000,
    });
  });

  it('a code of the same authorization whose exchange answer was lost caps the stored token when recovered: WeChat may have minted one', async () => {
    const attemptAt = T0 + 20 * MINUTE;
    const setup = await tokenContext(
      {
        // The stored token had expired (nothing promised stood in the code's way); a renewal answered
        // just before the exchange's call saves while that call's answer is lost.
        apiQueryAuth: async () => {
          await renewalSaves(setup.store, attemptAt - 2000, attemptAt - 1000);
          throw new WechatUnavailableError('api_query_auth', 'no answer', { uncertain: true });
        },
        apiGetAuthorizerInfo: async () => authorizerInfo(A, 'refresh-1'),
      },
      { authorizerExpiresIn: 15 * MINUTE }
    );
    setup.clock.now = attemptAt;
    const received = {
      code: 'code-late',
      expiresAt: attemptAt + 10 * MINUTE,
      receivedAt: attemptAt,
      source: 'push' as const,
      authorizerAppId: A,
    };
    await expect(exchangeAuthCode(setup.ctx, received)).rejects.toThrow(WechatUnavailableError);
    setup.clock.now += 1000;
    await exchangeAuthCode(setup.ctx, received);
    expect(await setup.store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-2',
      expiresAt: attemptAt + SUPERSEDED_OVERLAP_MS,
      refreshAt: attemptAt + 1000,
    });
  });

  it('a reconciliation import decided on a version another writer moved is decided again', async () => {
    const setup = await tokenContext({
      apiGetAuthorizerList: async () => ({
        total_count: 1,
        list: [
          {
            authorizer_appid: 'wxlatecomer000001',
            refresh_token: 'refresh-l',
            auth_time: T0 / 1000,
          },
        ],
      }),
      apiGetAuthorizerInfo: async () => authorizerInfo('wxlatecomer000001', 'refresh-l'),
    });
    const save = setup.store.saveAuthorization.bind(setup.store);
    let raced = false;
    setup.store.saveAuthorization = async (authorization, now) => {
      if (!raced && authorization.authorizerAppId === 'wxlatecomer000001') {
        raced = true;
        await save(
          { ...authorization, accessToken: 'access-exchanged', expiresAt: now + 7_200_000 },
          now
        );
      }
      return save(authorization, now);
    };
    const summary = await reconcileAuthorizers(setup.ctx, {
      deadline: T0 + 10 * MINUTE,
      reserveMs: 0,
    });
    expect(summary).toMatchObject({ imported: 0, failed: 0 });
    expect(await setup.store.getAuthorizer(C, 'wxlatecomer000001')).toMatchObject({
      accessToken: 'access-exchanged',
    });
  });
});
