import { describe, expect, it } from 'vitest';
import { handleAuthRedirect } from '../../../../shared/authorization/handle-auth-redirect';
import { spendPublicBudget } from '../../../../shared/budgets/public-budget';
import { WechatApiError, WechatUnavailableError } from '../../../../shared/errors';
import type { ComponentApi } from '../../../../shared/wechat/api-client';
import type { AuthorizerInfoResponse } from '../../../../shared/wechat/wire';
import { COMPONENT_APPID, OTHER_AUTHORIZER_APPID } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

const MERCHANT = OTHER_AUTHORIZER_APPID;
const CODE = `queryauthcode@@@${'R'.repeat(86)}`;
const BUDGET = { perMinute: 5, perDay: 100 };
const redirect = { code: CODE, lifetimeMs: 600_000 };

/** A context whose WeChat answers `methods`, each call counted by name, and whose merchant's push came first. */
async function redirectContext(methods: Partial<ComponentApi> = {}) {
  const calls: string[] = [];
  const answers: Partial<ComponentApi> = {
    apiQueryAuth: async () => {
      calls.push('apiQueryAuth');
      return {
        authorization_info: {
          authorizer_appid: MERCHANT,
          authorizer_access_token: 'access',
          expires_in: 7200,
          authorizer_refresh_token: 'refresh',
          func_info: [1, 15].map((id) => ({ funcscope_category: { id } })),
        },
      };
    },
    apiGetAuthorizerInfo: async () => {
      calls.push('apiGetAuthorizerInfo');
      return {
        authorizer_info: { nick_name: `  ${'店'.repeat(70)} ` },
        authorization_info: { authorizer_appid: MERCHANT },
      } as AuthorizerInfoResponse;
    },
    ...methods,
  };
  const context = await tokenContext(answers);
  const pushed = () =>
    context.store.putAuthCode({
      componentAppId: COMPONENT_APPID,
      code: CODE,
      source: 'push',
      authorizerAppId: MERCHANT,
      receivedAt: context.clock.now,
      expiresAt: context.clock.now + 600_000,
    });
  return { ...context, calls, pushed };
}

describe('handleAuthRedirect', () => {
  it('exchanges a code the push named and describes the account: its name trimmed and cut to 64', async () => {
    const { ctx, calls, pushed } = await redirectContext();
    await pushed();

    const outcome = await handleAuthRedirect(ctx, redirect, BUDGET);

    expect(outcome).toEqual({
      status: 'authorized',
      account: {
        appId: MERCHANT,
        nickName: '店'.repeat(64),
        funcInfo: [1, 15],
        withoutApiPermission: false,
      },
    });
    expect(calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo']);
  });

  it('answers busy past the budget, storing nothing and calling nobody', async () => {
    const { ctx, store, calls } = await redirectContext();
    const budget = { perMinute: 1, perDay: 100 };
    await spendPublicBudget(ctx, 'authorize-callback', budget);

    const outcome = await handleAuthRedirect(ctx, redirect, budget);

    expect(outcome).toMatchObject({
      status: 'busy',
      verdict: { granted: false, window: 'minute' },
    });
    expect(calls).toEqual([]);
    expect(await store.getAuthCode(COMPONENT_APPID, CODE)).toBeUndefined();
  });

  it('describes an exchanged code past the budget without asking WeChat for the name', async () => {
    const { ctx, calls, pushed } = await redirectContext();
    const budget = { perMinute: 1, perDay: 100 };
    await pushed();
    await handleAuthRedirect(ctx, redirect, budget);

    const again = await handleAuthRedirect(ctx, redirect, budget);

    expect(again).toEqual({
      status: 'authorized',
      account: { appId: MERCHANT, funcInfo: [1, 15], withoutApiPermission: false },
    });
    expect(calls).toEqual(['apiQueryAuth', 'apiGetAuthorizerInfo']);
  });

  it('still answers authorized, without a name, when api_get_authorizer_info fails', async () => {
    const { ctx, log, pushed } = await redirectContext({
      apiGetAuthorizerInfo: async () => {
        throw new WechatUnavailableError('api_get_authorizer_info', 'timed out');
      },
    });
    await pushed();

    const outcome = await handleAuthRedirect(ctx, redirect, BUDGET);

    expect(outcome).toEqual({
      status: 'authorized',
      account: { appId: MERCHANT, funcInfo: [1, 15], withoutApiPermission: false },
    });
    expect(log.entries.map((e) => e.message)).toContain(
      'account name unavailable; the result page names the appid only'
    );
  });

  it('holds a code no push has named: pending, without calling WeChat', async () => {
    const { ctx, store, calls } = await redirectContext();

    const outcome = await handleAuthRedirect(ctx, redirect, BUDGET);

    expect(outcome).toEqual({ status: 'pending' });
    expect(calls).toEqual([]);
    expect(await store.getAuthCode(COMPONENT_APPID, CODE)).toMatchObject({ status: 'pending' });
  });

  it('leaves the code pending, and logs it, when WeChat fails transiently', async () => {
    const { ctx, log, pushed } = await redirectContext({
      apiQueryAuth: async () => {
        throw new WechatApiError('api_query_auth', -1, 'system error', 'busy');
      },
    });
    await pushed();

    const outcome = await handleAuthRedirect(ctx, redirect, BUDGET);

    expect(outcome).toEqual({ status: 'pending' });
    expect(log.entries.map((e) => e.message)).toContain(
      'authorization code stored; exchange will be retried'
    );
  });

  it('answers expired when WeChat says the code is expired and the account is not authorized', async () => {
    const { ctx, pushed } = await redirectContext({
      apiQueryAuth: async () => {
        throw new WechatApiError('api_query_auth', 61010, 'code is expired', 'auth_code_invalid');
      },
      apiGetAuthorizerInfo: async () => {
        throw new WechatApiError(
          'api_get_authorizer_info',
          61003,
          'component is not authorized by this account',
          'not_authorized'
        );
      },
    });
    await pushed();

    expect(await handleAuthRedirect(ctx, redirect, BUDGET)).toEqual({ status: 'expired' });
  });
});
