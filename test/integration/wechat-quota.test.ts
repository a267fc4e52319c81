import { afterEach, describe, expect, it } from 'vitest';
import type { QuotaSummary } from '../../shared/jobs/wechat-quota';
import { MetricName } from '../../shared/log';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import {
  AUTHORIZER_APPID,
  authorizerAppId,
  DAY,
  OTHER_AUTHORIZER_APPID,
} from '../support/test-ids';

let h: Harness;
afterEach(async () => {
  await h.close();
});

const lastQuota = async () => {
  const run = await h.store.getRunRecord(h.deps.componentAppId, 'quota');
  return run && (JSON.parse(run.summary) as QuotaSummary);
};

describe('WeChat quota in sight (getApiQuota, once a day), against the simulator on dynalite', () => {
  it('records each watched API’s calls against its daily limit as WeChat counts them, once a day', async () => {
    h = await startHarness();
    await authorizeMerchant(h, AUTHORIZER_APPID);
    await h.refresh();

    const summary = await lastQuota();
    expect(summary?.failed).toEqual({});
    expect(summary?.apis.api_query_auth).toEqual({
      dailyLimit: h.simulator.rules.dailyQuota.api_query_auth,
      used: h.simulator.quotaUsed('api_query_auth'),
      share: h.simulator.quotaUsed('api_query_auth') / h.simulator.rules.dailyQuota.api_query_auth,
    });
    expect(summary?.apis.api_component_token?.used).toBe(
      h.simulator.quotaUsed('api_component_token')
    );
    expect(Object.keys(summary?.apis ?? {}).sort()).toEqual([
      'api_authorizer_token',
      'api_component_token',
      'api_create_preauthcode',
      'api_get_authorizer_info',
      'api_get_authorizer_list',
      'api_query_auth',
    ]);
    expect(summary?.nearLimit).toBe(false);
    const asked = h.simulator.callCount('getApiQuota');
    expect(asked).toBe(6);

    await h.refresh();
    expect(h.simulator.callCount('getApiQuota')).toBe(asked);
    h.clock.advance(DAY);
    await h.simulator.pushTicket();
    await h.refresh();
    expect(h.simulator.callCount('getApiQuota')).toBe(asked + 6);
  });

  it('says a quota is near its limit, in the metric the alarm watches and in the log', async () => {
    h = await startHarness({ rules: { dailyQuota: { api_query_auth: 2 } } });
    await authorizeMerchant(h, AUTHORIZER_APPID);
    await h.refresh();

    const summary = await lastQuota();
    expect(summary?.apis.api_query_auth).toMatchObject({ dailyLimit: 2, used: 1, share: 0.5 });
    expect(summary?.nearLimit).toBe(false);
    await authorizeMerchant(h, OTHER_AUTHORIZER_APPID);
    h.clock.advance(DAY);
    // A new Beijing day resets WeChat's counts: the check after it reads the new day's calls.
    await h.simulator.pushTicket();
    await authorizeMerchant(h, authorizerAppId(3));
    await authorizeMerchant(h, authorizerAppId(4));
    await h.refresh();
    expect((await lastQuota())?.apis.api_query_auth).toMatchObject({ used: 2, share: 1 });
    expect((await lastQuota())?.nearLimit).toBe(true);
    const percents = h.metrics.gauges.filter((g) => g.name === MetricName.WechatQuotaUsedPercent);
    expect(percents.at(-1)?.value).toBe(100);
    expect(h.log.text()).toContain('WeChat quota checked');
  });
});
