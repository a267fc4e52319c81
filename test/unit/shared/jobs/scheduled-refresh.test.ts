import { describe, expect, it } from 'vitest';
import { WechatApiError } from '../../../../shared/errors';
import { runScheduledRefresh } from '../../../../shared/jobs/scheduled-refresh';
import type { TokenContext } from '../../../../shared/token-context';
import { fakeComponentApi } from '../../../support/fake-component-api';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { authorizerAppId, COMPONENT_APPID, HOUR, T0 } from '../../../support/test-ids';
import { handlerDeps } from '../../../support/token-context';

const C = COMPONENT_APPID;

class CountingStore extends MemoryTokenStore {
  componentReads = 0;
  override async getComponentToken(componentAppId: string) {
    this.componentReads += 1;
    return super.getComponentToken(componentAppId);
  }
}

async function setup(dueCount: number, options: { latencyMs?: number } = {}) {
  const store = new CountingStore();
  await store.putTicket({
    componentAppId: C,
    ticket: 'ticket@@@t',
    createTime: T0 - 60_000,
    receivedAt: T0,
  });
  await store.claim(
    { kind: 'component_token', componentAppId: C },
    0,
    { owner: 'o', until: T0 },
    T0 - 1
  );
  await store.saveComponentToken(
    C,
    'o',
    { accessToken: 'ct', expiresAt: T0 + HOUR, refreshAt: T0 + HOUR / 2 },
    T0
  );
  for (let i = 0; i < dueCount; i++) {
    await store.saveAuthorization(
      {
        componentAppId: C,
        authorizerAppId: authorizerAppId(i),
        accessToken: `old-${i}`,
        expiresAt: T0 + 600_000,
        refreshToken: `refresh-${i}`,
        funcInfo: [1],
        refreshAt: T0 - 1,
        authorizedAt: T0 - HOUR,
      },
      T0 - HOUR
    );
  }
  let inFlight = 0;
  let maxInFlight = 0;
  const calls: string[] = [];
  const api = fakeComponentApi({
    async apiAuthorizerToken(_ct: string, appId: string, refreshToken: string) {
      calls.push(appId);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, options.latencyMs ?? 1));
      inFlight -= 1;
      return {
        authorizer_access_token: `new-${appId}`,
        expires_in: 7200,
        authorizer_refresh_token: refreshToken,
      };
    },
  });
  let now = T0;
  let owners = 0;
  const ctx: TokenContext = {
    ...handlerDeps(store, {}, T0),
    api,
    clock: () => now,
    newLeaseOwner: () => `owner-${++owners}`,
  };
  return { store, ctx, calls, maxInFlight: () => maxInFlight, setNow: (t: number) => (now = t) };
}

describe('runScheduledRefresh', () => {
  it('refreshes every due authorizer once, with bounded concurrency and one component-token read', async () => {
    const { store, ctx, calls, maxInFlight } = await setup(40);
    const summary = await runScheduledRefresh(ctx, { deadline: T0 + 300_000, concurrency: 8 });
    expect(summary.authorizers).toMatchObject({
      seen: 40,
      refreshed: 40,
      skipped: 0,
      failed: {},
      truncated: false,
    });
    expect(new Set(calls).size).toBe(40);
    expect(calls).toHaveLength(40);
    expect(maxInFlight()).toBe(8);
    expect(store.componentReads).toBe(2);
    const sample = await store.getAuthorizer(C, authorizerAppId(7));
    expect(sample).toMatchObject({ accessToken: `new-${authorizerAppId(7)}`, version: 2 });
  });

  it('shares a component token renewed for one authorizer with the rest of the sweep', async () => {
    const { ctx, calls } = await setup(3);
    let minted = 0;
    ctx.api.apiComponentToken = async () => ({
      component_access_token: `ct-${++minted}`,
      expires_in: 7200,
    });
    ctx.api.apiAuthorizerToken = async (ct, appId, refreshToken) => {
      calls.push(`${appId} ${ct}`);
      if (ct === 'ct') {
        throw new WechatApiError(
          'api_authorizer_token',
          40001,
          'invalid credential',
          'token_invalid'
        );
      }
      return {
        authorizer_access_token: `new-${appId}`,
        expires_in: 7200,
        authorizer_refresh_token: refreshToken,
      };
    };
    const summary = await runScheduledRefresh(ctx, { deadline: T0 + 300_000, concurrency: 1 });
    expect(summary.authorizers).toMatchObject({ refreshed: 3, failed: {} });
    expect(minted).toBe(1);
    expect(calls.filter((call) => call.endsWith(' ct'))).toHaveLength(1);
    expect(calls).toHaveLength(4);
  });

  it('names each authorizer on the lines of its own renewal, with workers running at once', async () => {
    const { ctx } = await setup(4);
    const log = ctx.log as ReturnType<typeof handlerDeps>['log'];
    const [recovered, failing] = [authorizerAppId(1), authorizerAppId(2)];
    ctx.api.apiAuthorizerToken = async (_ct, appId, refreshToken) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (appId === recovered && refreshToken === 'refresh-1') {
        throw new WechatApiError('api_authorizer_token', 61023, 'invalid', 'refresh_token_invalid');
      }
      if (appId === failing) {
        throw new WechatApiError('api_authorizer_token', 45009, 'quota', 'quota');
      }
      return { authorizer_access_token: `new-${appId}`, expires_in: 7200 };
    };
    ctx.api.apiGetAuthorizerList = async () => ({
      total_count: 1,
      list: [{ authorizer_appid: recovered, refresh_token: 'refresh-1-listed', auth_time: 0 }],
    });

    const summary = await runScheduledRefresh(ctx, { deadline: T0 + 300_000, concurrency: 4 });

    expect(summary.authorizers).toMatchObject({ refreshed: 3, failed: { wechat_quota: 1 } });
    expect(log.entries).toContainEqual({
      level: 'warn',
      message: 'refresh token rejected (61023); asking api_get_authorizer_list',
      fields: { authorizerAppId: recovered, errcode: 61023 },
    });
    const failures = log.entries.filter((e) => e.message === 'WeChat operation failed');
    expect(failures).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({
          authorizerAppId: failing,
          code: 'wechat_quota',
          errcode: 45009,
        }),
      }),
    ]);
  });

  it('starts nothing new once the deadline reserve is reached, and says the run was truncated', async () => {
    const { ctx, calls } = await setup(5);
    const summary = await runScheduledRefresh(ctx, { deadline: T0 + 10_000 });
    expect(summary.authorizers).toMatchObject({ seen: 0, refreshed: 0, truncated: true });
    expect(calls).toEqual([]);
  });

  it('skips the authorizer sweep when no valid component token exists, without calling WeChat per authorizer', async () => {
    const { ctx, calls, setNow } = await setup(3);
    setNow(T0 + 2 * HOUR);
    ctx.api.apiComponentToken = async () => {
      throw new Error('WeChat is down');
    };
    ctx.api.apiStartPushTicket = async () => {};
    const summary = await runScheduledRefresh(ctx, { deadline: T0 + 2 * HOUR + 300_000 });
    expect(summary.component).toBe('failed');
    expect(summary.authorizers.truncated).toBe(true);
    expect(calls).toEqual([]);
  });
});
