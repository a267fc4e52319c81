import { describe, expect, it } from 'vitest';
import {
  AuthorizerRevokedError,
  RefreshTokenUnusableError,
  TicketUnavailableError,
  UpstreamUnavailableError,
  WechatApiError,
  WechatUnavailableError,
} from '../../../../shared/errors';
import { MetricName } from '../../../../shared/log';
import {
  LEASE_MS,
  REFRESH_MARGIN_MS,
  RETRY_AFTER_FAILURE_MS,
  SERVE_MIN_REMAINING_MS,
  SUPERSEDED_OVERLAP_MS,
  UNLISTED_REFRESH_TOKEN_RETRY_MS,
} from '../../../../shared/policy';
import {
  getAuthorizerAccessToken,
  peekAuthorizerToken,
  refreshAuthorizerIfDue,
} from '../../../../shared/serving/authorizer-tokens';
import {
  getComponentAccessToken,
  peekComponentToken,
  refreshComponentTokenIfDue,
} from '../../../../shared/serving/component-token';
import type { ReleaseOutcome, TokenStore } from '../../../../shared/store/token-store';
import type { ComponentApi } from '../../../../shared/wechat/api-client';
import type { ComponentTokenResponse } from '../../../../shared/wechat/wire';
import { recordingMetrics } from '../../../support/recorders';
import { AUTHORIZER_APPID as A, COMPONENT_APPID as C, MINUTE, T0 } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

/*
 * `serveToken`, `peekToken` and `refreshTokenIfDue` take a token kind, and the kinds are private
 * to their modules: the rules are driven through the kinds' public entry points (the component
 * token's, and the authorizer's where a rule needs `check` or a renewal that can be `kept`).
 *
 * The stored component token (`tokenContext`): `component-token`, version 1, issued at T0,
 * nominal expiry T0 + 2 h, planned renewal T0 + 1 h 45. From the planned renewal on it is promised
 * until its nominal expiry.
 */
const EXPIRES = T0 + 120 * MINUTE;
const DUE = EXPIRES - REFRESH_MARGIN_MS;
const componentRef = { kind: 'component_token', componentAppId: C } as const;

/** `tokenContext` with a usable ticket, recording metrics, and WeChat made of `methods`. */
async function serving(methods: Partial<ComponentApi> = {}) {
  const setup = await tokenContext(methods);
  await setup.store.putTicket({
    componentAppId: C,
    ticket: 'ticket@@@t',
    createTime: T0 - MINUTE,
    receivedAt: T0,
  });
  const metrics = recordingMetrics();
  setup.ctx.metrics = metrics;
  return { ...setup, metrics };
}

/** `api_component_token`, answering `component-token-2`, `-3`, … or `failure`; counts calls. */
function componentMint(failure?: Error) {
  const mint = {
    calls: 0,
    apiComponentToken: async (): Promise<ComponentTokenResponse> => {
      mint.calls += 1;
      if (failure) throw failure;
      return { component_access_token: `component-token-${mint.calls + 1}`, expires_in: 7200 };
    },
  };
  return mint;
}

/** What another refresher leaves when it gives up the lease, recording `outcome` at `now`. */
async function releasedByRival(store: TokenStore, outcome: ReleaseOutcome, now: number) {
  await store.claim(componentRef, 1, { owner: 'rival', until: now + LEASE_MS }, now);
  await store.release(componentRef, 'rival', outcome, now);
}

const busy = () => new WechatApiError('api_component_token', -1, 'system busy', 'busy');
/** The promise for a token minted at `at` with a 2 h life: its planned renewal + the overlap. */
const promisedFromMint = (at: number) => at + 7_200_000 - REFRESH_MARGIN_MS + SUPERSEDED_OVERLAP_MS;

describe('serveToken: the stored token', () => {
  it('serves a stored token with exactly the serve margin of promised life, without calling WeChat or claiming the lease', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = EXPIRES - SERVE_MIN_REMAINING_MS;

    const token = await getComponentAccessToken(ctx);

    expect(token).toEqual({ accessToken: 'component-token', expiresAt: EXPIRES });
    expect(mint.calls).toBe(0);
    const record = await store.getComponentToken(C);
    expect(record).toMatchObject({ version: 1 });
    expect(record?.leaseOwner).toBeUndefined();
  });

  it('renews a token with less than the serve margin left once, and serves the new one', async () => {
    const mint = componentMint();
    const { ctx, clock, store, metrics } = await serving(mint);
    const at = EXPIRES - SERVE_MIN_REMAINING_MS + 1;
    clock.now = at;

    const first = await getComponentAccessToken(ctx);
    const second = await getComponentAccessToken(ctx);

    const renewed = { accessToken: 'component-token-2', expiresAt: promisedFromMint(at) };
    expect(first).toEqual(renewed);
    expect(second).toEqual(renewed);
    expect(mint.calls).toBe(1);
    expect(metrics.total(MetricName.ComponentRefreshSucceeded)).toBe(1);
    expect(await store.getComponentToken(C)).toMatchObject({
      accessToken: 'component-token-2',
      version: 2,
    });
  });

  it('renews once for callers that all find the token inside the serve margin at the same moment', async () => {
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    let calls = 0;
    const { ctx, clock } = await serving({
      apiComponentToken: async () => {
        calls += 1;
        await answered;
        return { component_access_token: 'component-token-2', expires_in: 7200 };
      },
    });
    clock.now = EXPIRES - MINUTE;
    // The waiters' first poll lets WeChat answer the holder.
    ctx.sleep = async (ms) => {
      clock.now += ms;
      answer();
    };

    const tokens = await Promise.all([1, 2, 3].map(() => getComponentAccessToken(ctx)));

    expect(calls).toBe(1);
    expect(tokens.map((token) => token.accessToken)).toEqual([
      'component-token-2',
      'component-token-2',
      'component-token-2',
    ]);
  });
});

describe('serveToken: a renewal that fails', () => {
  it('serves the stored token while its promised life lasts, counting and logging the failure', async () => {
    const mint = componentMint(busy());
    const { ctx, clock, store, metrics, log } = await serving(mint);
    const at = EXPIRES - 4 * MINUTE;
    clock.now = at;

    const token = await getComponentAccessToken(ctx);

    expect(token).toEqual({ accessToken: 'component-token', expiresAt: EXPIRES });
    expect(mint.calls).toBe(1);
    expect(metrics.total(MetricName.ComponentRefreshFailed, 'wechat_busy')).toBe(1);
    expect(log.entries).toContainEqual({
      level: 'warn',
      message: 'refresh failed; serving the stored token until its promised expiry',
      fields: { token: 'component', code: 'wechat_busy' },
    });
    expect(await store.getComponentToken(C)).toMatchObject({
      version: 1,
      lastErrorCode: 'wechat_busy',
      refreshAt: at + RETRY_AFTER_FAILURE_MS,
    });
  });

  it('throws the renewal’s coded error once the stored token has no promised life left', async () => {
    const failure = busy();
    const mint = componentMint(failure);
    const { ctx, clock } = await serving(mint);
    clock.now = EXPIRES;

    await expect(getComponentAccessToken(ctx)).rejects.toBe(failure);
    expect(failure.code).toBe('wechat_busy');
    expect(mint.calls).toBe(1);
  });

  it('while a failed renewal backs off, serves the stored token without calling WeChat', async () => {
    const mint = componentMint();
    const { ctx, clock, store, metrics } = await serving(mint);
    clock.now = EXPIRES - 4 * MINUTE;
    await releasedByRival(
      store,
      { errorCode: 'wechat_quota', retryAt: clock.now + MINUTE },
      clock.now
    );

    const token = await getComponentAccessToken(ctx);

    expect(token).toEqual({ accessToken: 'component-token', expiresAt: EXPIRES });
    expect(mint.calls).toBe(0);
    expect(metrics.total(MetricName.ComponentRefreshFailed)).toBe(0);
    expect(await store.getComponentToken(C)).toMatchObject({ version: 1 });
  });

  it('while a failed renewal backs off and no promised life is left, throws that failure without calling WeChat', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = EXPIRES + MINUTE;
    await releasedByRival(
      store,
      { errorCode: 'wechat_quota', retryAt: clock.now + MINUTE },
      clock.now
    );

    const error = await getComponentAccessToken(ctx).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ code: 'upstream_unavailable', reason: 'wechat_quota' });
    expect(mint.calls).toBe(0);
  });

  it('answers a backed-off ticket failure as ticket_unavailable', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = EXPIRES + MINUTE;
    await releasedByRival(
      store,
      { errorCode: 'ticket_unavailable', retryAt: clock.now + MINUTE },
      clock.now
    );

    await expect(getComponentAccessToken(ctx)).rejects.toThrow(TicketUnavailableError);
    expect(mint.calls).toBe(0);
  });

  it('tries WeChat again from the failed renewal’s retry time on', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = EXPIRES - 4 * MINUTE;
    const retryAt = clock.now + MINUTE;
    await releasedByRival(store, { errorCode: 'wechat_quota', retryAt }, clock.now);
    clock.now = retryAt;

    const token = await getComponentAccessToken(ctx);

    expect(token.accessToken).toBe('component-token-2');
    expect(mint.calls).toBe(1);
    const record = await store.getComponentToken(C);
    expect(record).toMatchObject({ version: 2 });
    expect(record?.lastErrorCode).toBeUndefined();
  });
});

describe('serveToken: reports and the kind’s checks', () => {
  it('serves the stored token to a caller reporting an older token, without checking or renewing', async () => {
    const mint = componentMint();
    let checks = 0;
    const { ctx, clock } = await serving({
      ...mint,
      getApiQuota: async () => {
        checks += 1;
        return { quota: { daily_limit: 1, used: 0, remain: 1 } };
      },
    });
    clock.now = T0 + 10 * MINUTE;

    const token = await getComponentAccessToken(ctx, { invalidToken: 'component-token-0' });

    expect(token.accessToken).toBe('component-token');
    expect(checks).toBe(0);
    expect(mint.calls).toBe(0);
  });

  it('renews a token rejected on the service’s own call without checking it, and records the forced renewal', async () => {
    const mint = componentMint();
    let checks = 0;
    const { ctx, clock, store } = await serving({
      ...mint,
      getApiQuota: async () => {
        checks += 1;
        return { quota: { daily_limit: 1, used: 0, remain: 1 } };
      },
    });
    const at = T0 + 10 * MINUTE;
    clock.now = at;

    const token = await getComponentAccessToken(ctx, {
      invalidToken: 'component-token',
      rejectedOnOwnCall: true,
    });

    expect(token.accessToken).toBe('component-token-2');
    expect(checks).toBe(0);
    expect(mint.calls).toBe(1);
    expect(await store.getComponentToken(C)).toMatchObject({ forcedAt: at, version: 2 });
  });

  it('throws the kind’s check error for a record that can never be served, without calling WeChat', async () => {
    let calls = 0;
    const { ctx, clock, store } = await serving({
      apiAuthorizerToken: async () => {
        calls += 1;
        return { authorizer_access_token: 'access-2', expires_in: 7200 };
      },
    });
    clock.now = EXPIRES;
    await store.endAuthorization(C, A, 'revoked', { eventTime: clock.now }, clock.now);

    await expect(getAuthorizerAccessToken(ctx, A)).rejects.toThrow(AuthorizerRevokedError);
    await expect(peekAuthorizerToken(ctx, A)).rejects.toThrow(AuthorizerRevokedError);
    expect(calls).toBe(0);
  });
});

describe('peekToken', () => {
  it('hands out the stored token while any promised life is left, and never renews', async () => {
    const mint = componentMint();
    const { ctx, clock } = await serving(mint);

    clock.now = EXPIRES - 1;
    const last = await peekComponentToken(ctx);
    clock.now = EXPIRES;
    const none = await peekComponentToken(ctx);

    expect(last).toEqual({ accessToken: 'component-token', expiresAt: EXPIRES });
    expect(none).toBeUndefined();
    expect(mint.calls).toBe(0);
  });

  it('hands a reported token back only when a check within the interval found it alive', async () => {
    const { ctx, clock, store } = await serving();
    clock.now = T0 + 10 * MINUTE;

    const unchecked = await peekComponentToken(ctx, 'component-token');
    await releasedByRival(store, { reportCheckedAt: clock.now }, clock.now);
    const checkedAlive = await peekComponentToken(ctx, 'component-token');

    expect(unchecked).toBeUndefined();
    expect(checkedAlive?.accessToken).toBe('component-token');
  });
});

describe('refreshTokenIfDue', () => {
  it('answers current when the token is not due, without calling WeChat', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = DUE - 1;

    expect(await refreshComponentTokenIfDue(ctx)).toBe('current');
    expect(mint.calls).toBe(0);
    expect(await store.getComponentToken(C)).toMatchObject({ version: 1 });
  });

  it('answers refreshed when it renewed a due token, counting the success', async () => {
    const mint = componentMint();
    const { ctx, clock, store, metrics } = await serving(mint);
    clock.now = DUE;

    expect(await refreshComponentTokenIfDue(ctx)).toBe('refreshed');
    expect(mint.calls).toBe(1);
    expect(metrics.total(MetricName.ComponentRefreshSucceeded)).toBe(1);
    expect(await store.getComponentToken(C)).toMatchObject({
      accessToken: 'component-token-2',
      version: 2,
    });
  });

  it('answers busy without waiting or calling WeChat while another refresher holds the lease', async () => {
    const mint = componentMint();
    const { ctx, clock, store } = await serving(mint);
    clock.now = DUE;
    await store.claim(componentRef, 1, { owner: 'rival', until: DUE + LEASE_MS }, DUE);

    expect(await refreshComponentTokenIfDue(ctx)).toBe('busy');
    expect(mint.calls).toBe(0);
    expect(clock.now).toBe(DUE);
  });

  it('answers kept when a re-authorization stored while WeChat was asked stands', async () => {
    const { ctx, clock, store, metrics } = await serving();
    clock.now = DUE;
    let calls = 0;
    ctx.api.apiAuthorizerToken = async () => {
      calls += 1;
      await store.saveAuthorization(
        {
          componentAppId: C,
          authorizerAppId: A,
          accessToken: 'access-reauthorized',
          expiresAt: DUE + 120 * MINUTE,
          refreshToken: 'refresh-2',
          funcInfo: [1],
          refreshAt: DUE + 105 * MINUTE,
          authorizedAt: DUE,
        },
        DUE
      );
      return {
        authorizer_access_token: 'access-2',
        expires_in: 7200,
        authorizer_refresh_token: 'refresh-1',
      };
    };
    const listed = await store.getAuthorizer(C, A);
    if (!listed) throw new Error('no stored authorizer');

    expect(await refreshAuthorizerIfDue(ctx, listed)).toBe('kept');
    expect(calls).toBe(1);
    expect(metrics.total(MetricName.AuthorizerRefreshSucceeded)).toBe(0);
    expect(await store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-reauthorized',
      refreshToken: 'refresh-2',
    });
  });

  it('rethrows a failed renewal after releasing the lease with a retry RETRY_AFTER_FAILURE_MS later', async () => {
    const failure = busy();
    const mint = componentMint(failure);
    const { ctx, clock, store, metrics } = await serving(mint);
    clock.now = DUE;

    await expect(refreshComponentTokenIfDue(ctx)).rejects.toBe(failure);

    expect(mint.calls).toBe(1);
    expect(metrics.total(MetricName.ComponentRefreshFailed, 'wechat_busy')).toBe(1);
    const record = await store.getComponentToken(C);
    expect(record).toMatchObject({
      version: 1,
      expiresAt: EXPIRES,
      lastErrorCode: 'wechat_busy',
      refreshAt: DUE + RETRY_AFTER_FAILURE_MS,
    });
    expect(record?.leaseOwner).toBeUndefined();
  });

  it('after an uncertain failure, promises the stored token only until the claim + the overlap, and retries at once', async () => {
    const failure = new WechatUnavailableError('api_component_token', 'no answer within 5000 ms', {
      uncertain: true,
    });
    const { ctx, clock, store } = await serving(componentMint(failure));
    clock.now = DUE;

    await expect(refreshComponentTokenIfDue(ctx)).rejects.toBe(failure);

    expect(await store.getComponentToken(C)).toMatchObject({
      version: 1,
      expiresAt: DUE + SUPERSEDED_OVERLAP_MS,
      refreshAt: DUE,
      lastErrorCode: 'wechat_unavailable',
    });
  });

  it('retries a refresh token WeChat lists without one it accepts only UNLISTED_REFRESH_TOKEN_RETRY_MS later', async () => {
    const { ctx, clock, store } = await serving({
      apiAuthorizerToken: async () => {
        throw new WechatApiError(
          'api_authorizer_token',
          61023,
          'invalid refresh token',
          'refresh_token_invalid'
        );
      },
      apiGetAuthorizerList: async () => ({
        total_count: 1,
        list: [{ authorizer_appid: A, refresh_token: '', auth_time: 1 }],
      }),
    });
    clock.now = DUE;
    const listed = await store.getAuthorizer(C, A);
    if (!listed) throw new Error('no stored authorizer');

    await expect(refreshAuthorizerIfDue(ctx, listed)).rejects.toThrow(RefreshTokenUnusableError);

    expect(await store.getAuthorizer(C, A)).toMatchObject({
      lastErrorCode: 'refresh_token_unusable',
      refreshAt: DUE + UNLISTED_REFRESH_TOKEN_RETRY_MS,
      accessToken: 'access-1',
    });
  });
});
