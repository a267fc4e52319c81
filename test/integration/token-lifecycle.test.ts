import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import { MetricName } from '../../shared/log';
import {
  REPORT_CHECK_INTERVAL_MS,
  SUPERSEDED_OVERLAP_MS,
  UNLISTED_REFRESH_TOKEN_RETRY_MS,
} from '../../shared/policy';
import { getAuthorizerAccessToken } from '../../shared/serving/authorizer-tokens';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID, HOUR, MINUTE } from '../support/test-ids';

let dynamo: LocalDynamo;
let h: Harness;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  h = await startHarness({ dynamo });
});
afterEach(async () => {
  await h.close();
});

const stored = () => h.store.getAuthorizer(h.deps.componentAppId, AUTHORIZER_APPID);
const wechatRefreshToken = () => h.simulator.state.authorizers.get(AUTHORIZER_APPID)?.refreshToken;

describe('ticket gap', () => {
  it('keeps minting component tokens from the last ticket for 12 hours, then asks WeChat to resume pushes', async () => {
    await h.simulator.pushTicket();
    h.simulator.stopPushes();
    h.clock.advance(11 * HOUR);
    const within = await h.token({ component: true });
    expect(h.simulator.tokenStatus(within.accessToken as string)).toBe('valid');

    h.clock.advance(2 * HOUR);
    expect(await h.token({ component: true })).toEqual({
      error: { code: 'ticket_unavailable', message: expect.stringContaining('12 hours') },
    });
    expect(h.simulator.callCount('api_start_push_ticket')).toBe(1);
    expect(h.metrics.total(MetricName.TicketUnavailable)).toBeGreaterThan(0);
  });

  it('answers ticket_unavailable before any ticket arrived, without calling api_component_token', async () => {
    expect(await h.token({ component: true })).toMatchObject({
      error: { code: 'ticket_unavailable' },
    });
    expect(h.simulator.callCount('api_component_token')).toBe(0);
    expect(h.simulator.callCount('api_start_push_ticket')).toBe(1);
  });
});

describe('61023 refresh_token is invalid', () => {
  it('recovers a rotated refresh token from api_get_authorizer_list, persists it and retries once', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const rotated = h.simulator.rotateRefreshToken(AUTHORIZER_APPID);
    h.clock.advance(HOUR + 50 * MINUTE);

    const summary = await h.refresh();
    expect((summary.authorizers as Record<string, number>).refreshed).toBe(1);
    expect((await stored())?.refreshToken).toBe(rotated);
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
    expect(h.metrics.total(MetricName.RefreshTokenRecovered)).toBe(1);
    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
  });

  it('marks the authorizer revoked when refreshing answers 61003 and WeChat no longer lists it', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.simulator.forgetAuthorizer(AUTHORIZER_APPID);
    h.clock.advance(HOUR + 50 * MINUTE);

    await h.refresh();
    expect((await stored())?.status).toBe('revoked');
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toMatchObject({
      error: { code: 'authorizer_revoked' },
    });
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(1);
  });

  it('marks the authorizer needs_reauthorization when WeChat no longer lists it', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.simulator.forgetAuthorizer(AUTHORIZER_APPID);
    h.simulator.failNext('api_authorizer_token', { errcode: 61023 });
    h.clock.advance(HOUR + 50 * MINUTE);

    await h.refresh();
    expect((await stored())?.status).toBe('needs_reauthorization');
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toMatchObject({
      error: { code: 'needs_reauthorization' },
    });
    expect(h.metrics.total(MetricName.NeedsReauthorization)).toBe(1);
    h.clock.advance(3 * HOUR);
    await h.simulator.pushTicket();
    await h.refresh();
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
  });
});

describe('61023 on the token WeChat itself lists', () => {
  it('keeps the authorizer and its token when WeChat rejects the very token it lists, and asks again later', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.simulator.failNext('api_authorizer_token', { errcode: 61023 });
    h.clock.advance(HOUR + 50 * MINUTE);

    const summary = await h.refresh();
    expect((summary.authorizers as { failed: Record<string, number> }).failed).toEqual({
      refresh_token_unusable: 1,
    });
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
    expect((await stored())?.status).toBe('active');
    expect(h.metrics.total(MetricName.NeedsReauthorization)).toBe(0);
    const served = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(h.simulator.tokenStatus(served.accessToken as string)).toBe('valid');

    h.clock.advance(UNLISTED_REFRESH_TOKEN_RETRY_MS);
    await h.simulator.pushTicket();
    await h.refresh();
    expect((await stored())?.status).toBe('active');
    expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
  });
});

/** Another holder of the refresh token (a stray deployment) renews at WeChat: ours dies 5 minutes later. */
function killStoredToken(): void {
  h.simulator.renewElsewhere(AUTHORIZER_APPID);
  h.clock.advance(SUPERSEDED_OVERLAP_MS + MINUTE);
}

describe('a caller reports a token WeChat rejected (40001)', () => {
  it('renews a reported token WeChat confirms dead, once; a stale report of the replaced token renews nothing', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const first = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken as string;
    killStoredToken();
    expect(h.simulator.tokenStatus(first)).not.toBe('valid');

    const second = await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first });
    expect(second.accessToken).not.toBe(first);
    expect(h.simulator.tokenStatus(second.accessToken as string)).toBe('valid');
    expect(h.simulator.callCount('getApiQuota')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
    expect(h.metrics.total(MetricName.ReportedTokenDead)).toBe(1);

    const stale = await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first });
    expect(stale.accessToken).toBe(second.accessToken);
    expect(h.simulator.callCount('getApiQuota')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
  });

  it('renews nothing on a report of a token WeChat still accepts, and checks it at most once a minute', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const first = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken as string;
    for (let i = 0; i < 10; i++) {
      const again = await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first });
      expect(again.accessToken).toBe(first);
    }
    expect(h.simulator.callCount('getApiQuota')).toBe(1);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(0);
    expect(h.metrics.total(MetricName.ReportedTokenAlive)).toBe(1);

    h.clock.advance(REPORT_CHECK_INTERVAL_MS);
    await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first });
    expect(h.simulator.callCount('getApiQuota')).toBe(2);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(0);
  });

  it('renews a dead token reported within a minute of its issue and within the forced-refresh back-off', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const first = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken as string;
    killStoredToken();
    const second = (await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first }))
      .accessToken as string;
    // Killed again at once: issued within the last minute, and a forced renewal happened this hour.
    h.simulator.renewElsewhere(AUTHORIZER_APPID);
    h.clock.advance(SUPERSEDED_OVERLAP_MS + 1);
    const third = await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: second });
    expect(third.accessToken).not.toBe(second);
    expect(h.simulator.tokenStatus(third.accessToken as string)).toBe('valid');
  });

  it('refreshes the component token once when WeChat rejects it on an authorizer call', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const first = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken as string;
    killStoredToken();
    h.simulator.failNext('api_authorizer_token', { errcode: 40001 });

    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID, invalidToken: first });
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
    expect(h.simulator.callCount('api_component_token')).toBe(2);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(2);
    expect(h.simulator.callCount('getApiQuota')).toBe(1);
  });
});

describe('WeChat failures keep the old token', () => {
  it.each([
    [45009, 'wechat_quota'],
    [-1, 'wechat_busy'],
  ])('errcode %i on a scheduled refresh keeps serving the old token', async (errcode, code) => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const before = await stored();
    h.simulator.failNext('api_authorizer_token', { errcode }, 2);
    h.clock.advance(HOUR + 50 * MINUTE);

    const summary = await h.refresh();
    expect((summary.authorizers as { failed: Record<string, number> }).failed).toEqual({
      [code]: 1,
    });
    expect(summary.systemicError).toBeUndefined();
    const after = await stored();
    expect(after).toMatchObject({
      accessToken: before?.accessToken,
      refreshToken: wechatRefreshToken(),
      version: before?.version,
      lastErrorCode: code,
    });
    expect(after?.leaseOwner).toBeUndefined();
    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(answer.accessToken).toBe(before?.accessToken);
    expect(h.metrics.total(MetricName.AuthorizerRefreshFailed, code)).toBe(1);
  });
});

describe('-1 says nothing about whether WeChat acted', () => {
  it('a renewal answered -1 twice, though WeChat issued both tokens, leaves the stored token promised only 5 minutes from the attempt', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const before = await stored();
    h.simulator.failNext('api_authorizer_token', 'busy_after_processing', 2);
    h.clock.advance(HOUR + 50 * MINUTE);
    const attemptAt = h.clock.now;

    const summary = await h.refresh();
    expect((summary.authorizers as { failed: Record<string, number> }).failed).toEqual({
      wechat_busy: 1,
    });
    const after = await stored();
    expect(after?.accessToken).toBe(before?.accessToken);
    expect(after?.expiresAt).toBeLessThanOrEqual(attemptAt + SUPERSEDED_OVERLAP_MS);
    expect(after?.refreshAt).toBeLessThanOrEqual(h.clock.now);
    const served = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(Date.parse(served.expiresAt as string)).toBeLessThanOrEqual(
      attemptAt + SUPERSEDED_OVERLAP_MS
    );
  });
});

describe('61004 IP not whitelisted', () => {
  it('fails the scheduled run and logs the egress IP WeChat saw', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.clock.advance(HOUR + 50 * MINUTE);
    h.simulator.setWhitelisted(false);

    const response = await h.post('/local/refresh', {});
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'wechat_ip_not_whitelisted'
    );
    const entry = h.log.entries.find((e) => e.fields.requestIp);
    expect(entry?.fields.requestIp).toBe('203.0.113.7');
    expect(entry?.level).toBe('error');
    expect(h.metrics.total(MetricName.WhitelistRejected)).toBeGreaterThan(0);
  });
});

describe('61004 with a known NAT egress IP', () => {
  it.each([
    ['203.0.113.7', 'add it to the platform whitelist'],
    ['198.51.100.1', 'not our NAT egress IP'],
  ])('tells a missing whitelist entry from egress drift (our IP %s)', async (egressIp, message) => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.deps.egressIp = egressIp;
    h.clock.advance(HOUR + 50 * MINUTE);
    h.simulator.setWhitelisted(false);

    await h.post('/local/refresh', {});
    const entry = h.log.entries.find((e) => e.fields.requestIp === '203.0.113.7');
    expect(entry?.message).toContain(message);
    expect(entry?.fields.egressIp).toBe(egressIp);
  });
});

describe('concurrent callers', () => {
  it('50 concurrent get-token calls on an expiring token make exactly one api_authorizer_token call', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    h.clock.advance(HOUR + 56 * MINUTE);

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => getAuthorizerAccessToken(h.deps, AUTHORIZER_APPID))
    );
    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
    expect(new Set(answers.map((a) => a.accessToken)).size).toBe(1);
    expect(h.simulator.tokenStatus(answers[0]?.accessToken as string)).toBe('valid');
  });
});

describe('authorization codes', () => {
  it('holds a redirect no push named (it may be an active merchant’s code): the admin sees "pending", the list settles it, nothing is minted by it', async () => {
    await h.simulator.pushTicket();
    const code = h.simulator.authorize(AUTHORIZER_APPID);
    h.clock.advance(11 * MINUTE);

    const response = await fetch(
      `${h.service.url}/authorize/callback?auth_code=${code}&expires_in=600`
    );
    expect(response.status).toBe(202);
    expect(await response.text()).toContain('data-status="pending"');
    expect(await stored()).toBeUndefined();

    h.clock.advance(3 * MINUTE);
    const summary = await h.refresh();
    expect(summary.authCodes).toEqual({ exchanged: 1, expired: 0, pending: 0 });
    expect(h.simulator.callCount('api_query_auth')).toBe(0);
    expect(await stored()).toMatchObject({ status: 'active', refreshToken: wechatRefreshToken() });
    expect(await h.store.getAuthCode(h.deps.componentAppId, code)).toMatchObject({
      outcomeCode: 'recovered_by_reconciliation',
    });
  });

  it('exchanges a code that arrives by push and by redirect exactly once', async () => {
    await h.simulator.pushTicket();
    const { authCode } = await h.simulator.pushAuthorized(AUTHORIZER_APPID);
    const response = await fetch(
      `${h.service.url}/authorize/callback?auth_code=${authCode}&expires_in=600`
    );
    expect(response.status).toBe(200);
    expect(h.simulator.callCount('api_query_auth')).toBe(1);
    expect((await stored())?.refreshToken).toBe(wechatRefreshToken());
  });

  it('recovers a pushed code WeChat acted on but answered -1 (the resend: 61009) through api_get_authorizer_info at once', async () => {
    await h.simulator.pushTicket();
    h.simulator.failNext('api_query_auth', 'busy_after_processing');
    const { authCode: code } = await h.simulator.pushAuthorized(AUTHORIZER_APPID);
    expect(h.simulator.callCount('api_query_auth')).toBe(2);
    expect(h.simulator.callCount('api_get_authorizer_info')).toBe(1);
    expect((await stored())?.refreshToken).toBe(wechatRefreshToken());
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toMatchObject({
      accessToken: expect.any(String),
    });

    const response = await fetch(
      `${h.service.url}/authorize/callback?auth_code=${code}&expires_in=600`
    );
    expect(response.status).toBe(200);
    expect(h.simulator.callCount('api_query_auth')).toBe(2);
  });

  it('keeps a pushed code pending when WeChat is busy and settles it on the next scheduled run', async () => {
    await h.simulator.pushTicket();
    h.simulator.failNext('api_query_auth', { errcode: -1 }, 4);
    const { authCode: code } = await h.simulator.pushAuthorized(AUTHORIZER_APPID);
    expect((await h.store.getAuthCode(h.deps.componentAppId, code))?.status).toBe('pending');
    expect(await stored()).toBeUndefined();

    h.clock.advance(2 * MINUTE);
    const summary = await h.refresh();
    expect(summary.authCodes).toEqual({ exchanged: 1, expired: 0, pending: 0 });
    expect((await stored())?.status).toBe('active');
  });
});

describe('reconciliation with api_get_authorizer_list', () => {
  const reconcile = async () =>
    (await (await h.post('/local/refresh', { job: 'reconcile' })).json()) as Record<
      string,
      unknown
    >;

  it('stores a re-authorization whose push and redirect were both lost: the dead token is replaced, the permissions read again', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const before = (await h.token({ authorizerAppId: AUTHORIZER_APPID })).accessToken as string;
    h.clock.advance(2000);
    h.simulator.authorize(AUTHORIZER_APPID, [1, 17]);
    expect(h.simulator.tokenStatus(before)).not.toBe('valid');

    expect(await reconcile()).toMatchObject({ listed: 1, reauthorized: 1, failed: 0 });
    expect(await stored()).toMatchObject({
      status: 'active',
      refreshToken: wechatRefreshToken(),
      funcInfo: [1, 17],
    });
    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(answer.accessToken).not.toBe(before);
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
  });

  it('imports an authorization whose code never reached us, and callers get its token', async () => {
    await h.simulator.pushTicket();
    h.simulator.authorize(AUTHORIZER_APPID);
    expect(await h.token({ authorizerAppId: AUTHORIZER_APPID })).toMatchObject({
      error: { code: 'authorizer_not_found' },
    });

    expect(await reconcile()).toEqual({
      listed: 1,
      imported: 1,
      reactivated: 0,
      reauthorized: 0,
      withoutRefreshToken: 0,
      failed: 0,
      truncated: false,
    });
    expect((await stored())?.refreshToken).toBe(wechatRefreshToken());
    const answer = await h.token({ authorizerAppId: AUTHORIZER_APPID });
    expect(h.simulator.tokenStatus(answer.accessToken as string)).toBe('valid');
  });

  it('leaves active authorizers alone and reactivates one WeChat shows as authorized after its revocation', async () => {
    await authorizeMerchant(h, AUTHORIZER_APPID);
    const active = await stored();
    expect(await reconcile()).toMatchObject({ listed: 1, imported: 0, reactivated: 0 });
    expect(await stored()).toEqual(active);

    await h.simulator.pushUnauthorized(AUTHORIZER_APPID);
    h.clock.advance(60_000);
    h.simulator.authorize(AUTHORIZER_APPID);
    expect((await stored())?.status).toBe('revoked');
    expect(await reconcile()).toMatchObject({ imported: 0, reactivated: 1 });
    expect(await stored()).toMatchObject({ status: 'active', refreshToken: wechatRefreshToken() });
    h.clock.advance(10 * MINUTE);
    await h.simulator.pushTicket();
    const summary = await h.refresh();
    expect((summary.authorizers as Record<string, number>).refreshed).toBe(1);
  });
});
