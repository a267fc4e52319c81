import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkAuthorization } from '../support/browser';
import { type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID, HOUR } from '../support/test-ids';

describe('the whole token chain over HTTP, on dynalite, against the WeChat simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('stores the pushed component_verify_ticket and answers exactly "success"', async () => {
    const push = await h.simulator.pushTicket();
    expect(push).toMatchObject({ status: 200, body: 'success' });
    expect((await h.store.getTicket(h.deps.componentAppId))?.ticket).toBe(push.ticket);
  });

  it('mints the component token from that ticket for a caller', async () => {
    const answer = await h.token({ component: true });
    expect(answer).toMatchObject({ appId: h.deps.componentAppId });
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
    expect(h.simulator.callCount('api_component_token')).toBe(1);
  });

  it('authorizes a merchant through the page, the confirm step, the callback and the push, exchanging the code once', async () => {
    const walk = await walkAuthorization(h.service.url, {
      authorizerAppId: AUTHORIZER_APPID,
      query: 'auth_type=3&category_id_list=1|2|3',
    });
    expect(walk.link.startsWith(`${h.simulator.url}/cgi-bin/componentloginpage?`)).toBe(true);
    expect(new URL(walk.link).searchParams.get('redirect_uri')).toBe(
      `${h.service.url}/authorize/callback`
    );
    expect(walk.callback.status).toBe(200);
    expect(walk.callbackHtml).toContain('data-status="authorized"');
    expect(walk.callbackHtml).toContain(AUTHORIZER_APPID);
    await h.simulator.flushPushes();
    expect(h.simulator.pushes.find((p) => p.infoType === 'authorized')?.body).toBe('success');
    expect(h.simulator.callCount('api_query_auth')).toBe(1);
    const stored = await h.store.getAuthorizer(h.deps.componentAppId, AUTHORIZER_APPID);
    expect(stored).toMatchObject({ status: 'active', funcInfo: [1, 2, 3] });
    expect(stored?.refreshToken).toBe(
      h.simulator.state.authorizers.get(AUTHORIZER_APPID)?.refreshToken
    );
  });

  it('hands the merchant token to a caller with its expiry', async () => {
    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(answer.appId).toBe(AUTHORIZER_APPID);
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
    expect(Date.parse(answer.expiresAt as string)).toBeGreaterThan(h.clock.now + HOUR);
  });

  it('rotates the merchant token on the scheduled refresh once it is due, and callers get the new one', async () => {
    const before = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken;
    h.clock.advance(HOUR + 50 * 60_000);
    await h.simulator.pushTicket();
    const summary = await h.refresh();
    expect(summary).toMatchObject({ component: 'refreshed' });
    expect((summary.authorizers as Record<string, unknown>).refreshed).toBe(1);
    const after = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(after.accessToken).not.toBe(before);
    expect(h.simulator.tokenStatus(after.accessToken as string)).toBe('valid');
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
  });

  it('answers authorizer_revoked after the unauthorized push, and stops refreshing it', async () => {
    const push = await h.simulator.pushUnauthorized(AUTHORIZER_APPID);
    expect(push.body).toBe('success');
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toEqual({
      error: { code: 'authorizer_revoked', message: expect.stringContaining(AUTHORIZER_APPID) },
    });
    h.clock.advance(3 * HOUR);
    await h.simulator.pushTicket();
    await h.refresh();
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
  });
});
