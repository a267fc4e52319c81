import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../functions/call-wechat';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID as A, MINUTE } from '../support/test-ids';

/*
 * call-wechat against the strict simulator on dynalite: the real relay over HTTP, the real token rules and
 * DynamoDB adapter, one clock for both sides.
 */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await authorizeMerchant(h, A);
});
afterEach(async () => {
  await h.close();
});

const quota = {
  authorizerAppId: A,
  path: '/cgi-bin/openapi/quota/get',
  body: { cgi_path: '/cgi-bin/message/custom/send' },
};

describe('call-wechat', () => {
  it('a token killed mid-call costs one check, one renewal and one retry', async () => {
    const handler = createHandler(async () => h.deps);
    const held = (await h.token({ authorizerAppId: A })).accessToken as string;
    // Another holder of the refresh token renews at WeChat: the stored token dies 5 minutes later.
    h.simulator.renewElsewhere(A);
    h.clock.advance(6 * MINUTE);
    expect(h.simulator.tokenStatus(held)).not.toBe('valid');
    const renewals = h.simulator.callCount('api_authorizer_token');
    const checks = h.simulator.callCount('getApiQuota');

    const answer = await handler(quota);

    expect(answer).toMatchObject({ status: 200, body: { errcode: 0, quota: expect.any(Object) } });
    expect(h.simulator.callCount('api_authorizer_token')).toBe(renewals + 1);
    // The relayed call twice (rejected, then with the new token) and the report's check once.
    expect(h.simulator.callCount('getApiQuota')).toBe(checks + 3);
    const stored = await h.store.getAuthorizer(h.deps.componentAppId, A);
    expect(stored?.accessToken).not.toBe(held);
    expect(h.simulator.tokenStatus(stored?.accessToken as string)).toBe('valid');
  });

  it('hands WeChat’s own refusal back as it came, and renews nothing for it', async () => {
    const handler = createHandler(async () => h.deps);
    const renewals = h.simulator.callCount('api_authorizer_token');
    const answer = await handler({
      authorizerAppId: A,
      path: '/wxa/getwxacodeunlimit',
      body: { scene: '' },
    });
    expect(answer).toMatchObject({ status: 200, body: { errcode: expect.any(Number) } });
    expect((answer as { body: { errcode: number } }).body.errcode).not.toBe(0);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(renewals);
  });
});
