import { describe, expect, it } from 'vitest';
import type { Deps } from '../../../functions/lib/deps';
import { createHandler, SystemicRefreshError } from '../../../functions/refresh';
import { WechatApiError } from '../../../shared/errors';
import { MemoryTokenStore } from '../../support/memory-token-store';
import type { RecordedLog } from '../../support/recorders';
import { AUTHORIZER_APPID as A, COMPONENT_APPID, MINUTE, T0 } from '../../support/test-ids';
import { handlerDeps, storeComponentToken } from '../../support/token-context';
import { authorizerInfo } from '../../support/wechat-answers';

const C = COMPONENT_APPID;
const context = { getRemainingTimeInMillis: () => 60_000 };

function setup(api: Partial<Deps['api']> = {}) {
  const store = new MemoryTokenStore();
  const deps = handlerDeps(store, api, T0);
  return { store, log: deps.log, handler: createHandler(async () => deps) };
}

const refusals = (log: RecordedLog) =>
  log.entries.filter((e) => e.message === 'operator job refused').map((e) => e.fields);

describe('the refresh handler’s jobs', () => {
  it.each([
    [{ job: 'purge' }, /^unknown job "purge"/],
    ['status', /must be a JSON object/],
    [{ job: 'show', authorizerAppId: 'nope' }, /authorizerAppId must be an appid/],
  ])('answers %j with invalid_request and logs the refusal', async (payload, message) => {
    const { handler, log } = setup();
    const answer = (await handler(payload, context)) as {
      error: { code: string; message: string };
    };
    expect(answer.error.code).toBe('invalid_request');
    expect(answer.error.message).toMatch(message);
    expect(refusals(log)).toEqual([{ job: undefined, code: 'invalid_request' }]);
  });

  it('answers an operator job’s service error with its code, naming the job', async () => {
    const { handler, log } = setup();
    expect(
      await handler({ job: 'refresh', authorizerAppId: 'wxunknown00000001' }, context)
    ).toEqual({
      error: {
        code: 'authorizer_not_found',
        message: 'authorizer wxunknown00000001 has not authorized this platform',
      },
    });
    expect(refusals(log)).toEqual([{ job: 'refresh', code: 'authorizer_not_found' }]);
  });

  it('keeps every scheduled run’s summary for status, also when the run fails as a whole', async () => {
    const { handler, store } = setup({
      async apiComponentToken() {
        throw new WechatApiError(
          'api_component_token',
          61004,
          'access clientip is not registered',
          'ip_not_whitelisted'
        );
      },
    });
    await store.putTicket({
      componentAppId: C,
      ticket: 't',
      createTime: T0 - 1000,
      receivedAt: T0,
    });
    await expect(handler({}, context)).rejects.toThrow(SystemicRefreshError);
    const run = await store.getRunRecord(C, 'refresh');
    expect(run?.finishedAt).toBe(T0);
    expect(JSON.parse(run?.summary ?? '{}')).toMatchObject({
      component: 'failed',
      systemicError: 'wechat_ip_not_whitelisted',
    });
    const status = (await handler({ job: 'status' }, context)) as { lastRefresh: unknown };
    expect(status.lastRefresh).toEqual({
      finishedAt: new Date(T0).toISOString(),
      summary: expect.objectContaining({ systemicError: 'wechat_ip_not_whitelisted' }),
    });
  });

  describe('a reconciliation that did not complete', () => {
    /** A platform whose list answers 45009 while `quota.exhausted`, and lists A (never seen here) after. */
    async function platform() {
      const quota = { exhausted: true };
      let listCalls = 0;
      const store = new MemoryTokenStore();
      const deps = handlerDeps(store, {
        async apiGetAuthorizerList() {
          listCalls += 1;
          if (quota.exhausted) {
            throw new WechatApiError('api_get_authorizer_list', 45009, 'api limit', 'quota');
          }
          return {
            total_count: 1,
            list: [{ authorizer_appid: A, refresh_token: 'listed-refresh', auth_time: T0 / 1000 }],
          };
        },
        apiGetAuthorizerInfo: async () => authorizerInfo(A, 'listed-refresh'),
      });
      const clock = { now: T0 };
      deps.clock = () => clock.now;
      await storeComponentToken(store);
      await store.putTicket({ componentAppId: C, ticket: 't', createTime: T0, receivedAt: T0 });
      const handler = createHandler(async () => deps);
      const sweep = () => handler({}, context);
      return { store, quota, clock, handler, sweep, listCalls: () => listCalls };
    }

    it('records the failure and is retried by the first sweep 30 minutes later, not before', async () => {
      const p = await platform();
      await expect(p.handler({ job: 'reconcile' }, context)).rejects.toThrow(WechatApiError);
      expect(JSON.parse((await p.store.getRunRecord(C, 'reconcile'))?.summary ?? '')).toEqual({
        error: 'wechat_quota',
        startedAt: T0,
      });
      p.quota.exhausted = false;
      p.clock.now = T0 + 25 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(1);
      expect(await p.store.getAuthorizer(C, A)).toBeUndefined();
      p.clock.now = T0 + 30 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(2);
      expect(await p.store.getAuthorizer(C, A)).toMatchObject({ status: 'active' });
      expect(JSON.parse((await p.store.getRunRecord(C, 'reconcile'))?.summary ?? '')).toMatchObject(
        {
          imported: 1,
        }
      );
      p.clock.now = T0 + 90 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(2);
    });

    it('a retry that fails again is recorded and tried 30 minutes later, without failing the sweep', async () => {
      const p = await platform();
      await expect(p.handler({ job: 'reconcile' }, context)).rejects.toThrow(WechatApiError);
      p.clock.now = T0 + 30 * MINUTE;
      await expect(p.sweep()).resolves.toMatchObject({ component: expect.any(String) });
      expect(p.listCalls()).toBe(2);
      p.clock.now = T0 + 55 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(2);
      p.quota.exhausted = false;
      p.clock.now = T0 + 60 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(3);
      expect(await p.store.getAuthorizer(C, A)).toMatchObject({ status: 'active' });
    });

    it('a sweep does not reconcile when the last reconciliation completed', async () => {
      const p = await platform();
      p.quota.exhausted = false;
      await p.handler({ job: 'reconcile' }, context);
      p.clock.now = T0 + 3 * 60 * MINUTE;
      await p.sweep();
      expect(p.listCalls()).toBe(1);
    });
  });

  it('keeps the reconciliation’s summary', async () => {
    const { handler, store } = setup({
      async apiGetAuthorizerList() {
        return { total_count: 0, list: [] };
      },
    });
    await storeComponentToken(store);
    const summary = await handler({ job: 'reconcile' }, context);
    expect(summary).toMatchObject({ listed: 0, truncated: false });
    expect(JSON.parse((await store.getRunRecord(C, 'reconcile'))?.summary ?? '')).toEqual({
      ...summary,
      startedAt: T0,
    });
  });
});
