import { describe, expect, it } from 'vitest';
import { WechatApiError, WechatUnavailableError } from '../../../../shared/errors';
import { MetricName } from '../../../../shared/log';
import { FORCED_REFRESH_BACKOFF_MS, REPORT_CHECK_INTERVAL_MS } from '../../../../shared/policy';
import { getAuthorizerAccessToken } from '../../../../shared/serving/authorizer-tokens';
import { checkReportedToken } from '../../../../shared/serving/check-reported-token';
import { getComponentAccessToken } from '../../../../shared/serving/component-token';
import type { AuthorizerTokenResponse } from '../../../../shared/wechat/wire';
import type { recordingMetrics } from '../../../support/recorders';
import { AUTHORIZER_APPID as A, COMPONENT_APPID as C, MINUTE, T0 } from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

const renewedAnswer = (n: number): AuthorizerTokenResponse => ({
  authorizer_access_token: `access-${n}`,
  expires_in: 7200,
  authorizer_refresh_token: 'refresh-1',
});
const wechatError = (errcode: number, kind: WechatApiError['kind']) =>
  new WechatApiError('getApiQuota', errcode, 'from the test', kind);
const quota = { quota: { daily_limit: 10_000, used: 1, remain: 9_999 } };

/** A WeChat whose getApiQuota answers `verdict` for the reported token; renewals counted. */
async function reporting(verdict: () => Promise<typeof quota>) {
  const calls = { checks: [] as string[], renewals: 0 };
  const setup = await tokenContext({
    apiAuthorizerToken: async () => renewedAnswer(++calls.renewals + 1),
    getApiQuota: async (token, cgiPath) => {
      calls.checks.push(`${token} ${cgiPath}`);
      return verdict();
    },
  });
  setup.clock.now = T0 + 10 * MINUTE;
  return { ...setup, calls };
}

const total = (ctx: { metrics: unknown }, name: MetricName) =>
  (ctx.metrics as ReturnType<typeof recordingMetrics>).total(name);

describe('checkReportedToken reads only what WeChat proves', () => {
  it.each([
    ['an answer', async () => quota, 'alive'],
    ['40001', async () => Promise.reject(wechatError(40001, 'token_invalid')), 'dead'],
    ['42001', async () => Promise.reject(wechatError(42001, 'token_invalid')), 'dead'],
    ['40014', async () => Promise.reject(wechatError(40014, 'token_invalid')), 'dead'],
    [
      '76022 (checked after the token)',
      async () => Promise.reject(wechatError(76022, 'unknown')),
      'alive',
    ],
    [
      '45009 (checked after the token)',
      async () => Promise.reject(wechatError(45009, 'quota')),
      'alive',
    ],
    ['-1', async () => Promise.reject(wechatError(-1, 'busy')), 'unknown'],
    [
      '61004 (checked before the token)',
      async () => Promise.reject(wechatError(61004, 'ip_not_whitelisted')),
      'unknown',
    ],
    [
      'no answer',
      async () => Promise.reject(new WechatUnavailableError('getApiQuota', 'timeout')),
      'unknown',
    ],
  ] as const)('%s → %s', async (_name, answer, verdict) => {
    const { ctx } = await tokenContext({ getApiQuota: answer });
    expect(await checkReportedToken(ctx, 'access-1', '/cgi-bin/openapi/quota/get')).toBe(verdict);
  });
});

describe('a report of the stored token is checked before anything is renewed', () => {
  it('renews nothing when WeChat still accepts the token, and checks it at most once a minute', async () => {
    const { ctx, clock, calls, store } = await reporting(async () => quota);
    for (let i = 0; i < 5; i++) {
      const answer = await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' });
      expect(answer.accessToken).toBe('access-1');
    }
    expect(calls.checks).toEqual(['access-1 /cgi-bin/openapi/quota/get']);
    expect(calls.renewals).toBe(0);
    expect(await store.getAuthorizer(C, A)).toMatchObject({
      accessToken: 'access-1',
      version: 1,
      reportCheckedAt: T0 + 10 * MINUTE,
    });
    expect(total(ctx, MetricName.ReportedTokenAlive)).toBe(1);
    clock.now += REPORT_CHECK_INTERVAL_MS;
    await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' });
    expect(calls.checks).toHaveLength(2);
    expect(calls.renewals).toBe(0);
  });

  it('renews a token WeChat confirms dead, even one issued within the minute and within the back-off', async () => {
    const { ctx, clock, calls } = await reporting(async () => {
      throw wechatError(40001, 'token_invalid');
    });
    expect((await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' })).accessToken).toBe(
      'access-2'
    );
    clock.now += 1000;
    expect((await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-2' })).accessToken).toBe(
      'access-3'
    );
    clock.now += FORCED_REFRESH_BACKOFF_MS / 2;
    expect((await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-3' })).accessToken).toBe(
      'access-4'
    );
    expect(calls.renewals).toBe(3);
    expect(total(ctx, MetricName.ReportedTokenDead)).toBe(3);
  });

  it('never hands back a token WeChat confirmed dead when its renewal fails, to this caller or the next', async () => {
    const { ctx, store } = await tokenContext({
      apiAuthorizerToken: async () => {
        throw new WechatApiError('api_authorizer_token', 45009, 'quota', 'quota');
      },
      getApiQuota: async () => {
        throw wechatError(40001, 'token_invalid');
      },
    });
    await expect(getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' })).rejects.toThrow(
      WechatApiError
    );
    const record = await store.getAuthorizer(C, A);
    expect(record?.expiresAt).toBeLessThanOrEqual(T0);
    await expect(getAuthorizerAccessToken(ctx, A)).rejects.toMatchObject({
      code: 'upstream_unavailable',
    });
  });

  it('makes one check and one renewal for many concurrent reports of a dead token', async () => {
    const { ctx, calls } = await reporting(async () => {
      throw wechatError(42001, 'token_invalid');
    });
    // The waiters poll without moving the test's clock: 19 of them would otherwise spend the wait limit
    // between two steps of the holder's (a flaky give-up, not what this test is about).
    ctx.sleep = () => new Promise((resolve) => setImmediate(resolve));
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' })
      )
    );
    expect(new Set(answers.map((a) => a.accessToken))).toEqual(new Set(['access-2']));
    expect(calls.checks).toHaveLength(1);
    expect(calls.renewals).toBe(1);
  });

  it('checks nothing for a stale report (the reported token was already replaced)', async () => {
    const { ctx, calls } = await reporting(async () => quota);
    const answer = await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-0' });
    expect(answer.accessToken).toBe('access-1');
    expect(calls.checks).toEqual([]);
  });

  it('names the token it checked on the check’s line', async () => {
    const { ctx, log } = await reporting(async () => {
      throw wechatError(40001, 'token_invalid');
    });
    ctx.api.apiAuthorizerToken = async () => {
      throw new WechatApiError('api_authorizer_token', 45009, 'quota', 'quota');
    };
    await getAuthorizerAccessToken(ctx, A, { invalidToken: 'access-1' }).catch(() => undefined);
    expect(log.entries).toContainEqual({
      level: 'info',
      message: 'checked a token a caller reported as rejected',
      fields: { authorizerAppId: A, verdict: 'dead', renewed: true },
    });

    const component = await reporting(async () => quota);
    await getComponentAccessToken(component.ctx, { invalidToken: 'component-token' });
    expect(component.log.entries).toContainEqual({
      level: 'info',
      message: 'checked a token a caller reported as rejected',
      fields: { token: 'component', verdict: 'alive', renewed: false },
    });
  });

  it('checks a reported component token with the component API path', async () => {
    const checks: string[] = [];
    const { ctx } = await tokenContext({
      getApiQuota: async (token, cgiPath) => {
        checks.push(`${token} ${cgiPath}`);
        return quota;
      },
    });
    const answer = await getComponentAccessToken(ctx, { invalidToken: 'component-token' });
    expect(answer.accessToken).toBe('component-token');
    expect(checks).toEqual(['component-token /cgi-bin/component/api_component_token']);
  });
});
