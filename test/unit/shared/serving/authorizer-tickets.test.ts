import { describe, expect, it } from 'vitest';
import {
  AuthorizerNotFoundError,
  AuthorizerRevokedError,
  JsapiTicketUnavailableError,
  WechatApiError,
  WechatUnavailableError,
} from '../../../../shared/errors';
import { MetricName } from '../../../../shared/log';
import {
  FORCED_REFRESH_MIN_INTERVAL_MS,
  REFRESH_MARGIN_MS,
  SERVE_MIN_REMAINING_MS,
  SUPERSEDED_OVERLAP_MS,
  TICKET_SERVED_NOTE_INTERVAL_MS,
} from '../../../../shared/policy';
import {
  getAuthorizerTicket,
  peekAuthorizerTicket,
} from '../../../../shared/serving/authorizer-tickets';
import type { AuthorizerTicketType } from '../../../../shared/store/token-store';
import type { ComponentApi } from '../../../../shared/wechat/api-client';
import type { TicketResponse } from '../../../../shared/wechat/wire';
import { recordingMetrics } from '../../../support/recorders';
import {
  AUTHORIZER_APPID as A,
  OTHER_AUTHORIZER_APPID as B,
  COMPONENT_APPID as C,
  HOUR,
  MINUTE,
  T0,
} from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

/*
 * An authorizer's `getticket` tickets, served by the token rules (`serveToken`) through the ticket kind.
 * `tokenContext` stores authorizer A with token `access-1` (issued at T0, 2 h) and a component token.
 * A ticket fetched at `at` lives 2 h: planned renewal at + 1 h 45, promised until at + 1 h 50.
 */
const promisedFrom = (at: number) => at + 2 * HOUR - REFRESH_MARGIN_MS + SUPERSEDED_OVERLAP_MS;

/** A fake `getticket`: `jsapi-1`, `wx_card-2`, … (by call), or the next of `failures`; records tokens. */
function getticket(...failures: (Error | undefined)[]) {
  const wechat = {
    calls: [] as { token: string; type: AuthorizerTicketType }[],
    getTicket: async (token: string, type: AuthorizerTicketType): Promise<TicketResponse> => {
      wechat.calls.push({ token, type });
      const failure = failures.shift();
      if (failure) throw failure;
      return { ticket: `${type}-${wechat.calls.length}`, expires_in: 7200 };
    },
  };
  return wechat;
}

async function ticketing(methods: Partial<ComponentApi> = {}) {
  const setup = await tokenContext(methods);
  const metrics = recordingMetrics();
  setup.ctx.metrics = metrics;
  return { ...setup, metrics };
}

/** `api_authorizer_token`, answering `access-2`. */
const authorizerRenewal = () => ({
  apiAuthorizerToken: async () => ({
    authorizer_access_token: 'access-2',
    expires_in: 7200,
    authorizer_refresh_token: 'refresh-1',
  }),
});

const rejected = (errcode = 40001) =>
  new WechatApiError('getTicket', errcode, 'invalid credential', 'token_invalid');
const quota = () =>
  new WechatApiError('getTicket', 45009, 'reach max api daily quota limit', 'quota');

describe('getAuthorizerTicket: first use and the stored ticket', () => {
  it('fetches the ticket on the first request with the authorizer token, and serves it from the store after', async () => {
    const wechat = getticket();
    const { ctx, clock, store, metrics } = await ticketing(wechat);

    const first = await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 30 * MINUTE;
    const second = await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(first).toEqual({ accessToken: 'jsapi-1', expiresAt: promisedFrom(T0) });
    expect(second).toEqual(first);
    expect(wechat.calls).toEqual([{ token: 'access-1', type: 'jsapi' }]);
    expect(metrics.total(MetricName.JsapiTicketRefreshSucceeded)).toBe(1);
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
      ticket: 'jsapi-1',
      expiresAt: T0 + 2 * HOUR,
      refreshAt: T0 + 2 * HOUR - REFRESH_MARGIN_MS,
      requestedAt: T0,
      issuedAt: T0,
      servedAt: T0,
      version: 1,
    });
  });

  it('makes one getticket for 20 concurrent first requests, and every one gets its ticket', async () => {
    const wechat = getticket();
    const { ctx } = await ticketing(wechat);

    const served = await Promise.all(
      Array.from({ length: 20 }, () => getAuthorizerTicket(ctx, A, 'jsapi'))
    );

    expect(wechat.calls).toHaveLength(1);
    expect(new Set(served.map((s) => s.accessToken))).toEqual(new Set(['jsapi-1']));
  });

  it('keeps ticket types and authorizers apart', async () => {
    const wechat = getticket();
    const { ctx, store } = await ticketing({
      ...wechat,
      apiAuthorizerToken: async () => ({
        authorizer_access_token: 'access-b',
        expires_in: 7200,
        authorizer_refresh_token: 'refresh-b',
      }),
    });
    await store.saveAuthorization(
      {
        componentAppId: C,
        authorizerAppId: B,
        accessToken: 'access-b',
        expiresAt: T0 + 2 * HOUR,
        refreshToken: 'refresh-b',
        funcInfo: [1],
        refreshAt: T0 + HOUR,
        authorizedAt: T0,
      },
      T0
    );

    const tickets = [
      await getAuthorizerTicket(ctx, A, 'jsapi'),
      await getAuthorizerTicket(ctx, A, 'wx_card'),
      await getAuthorizerTicket(ctx, B, 'jsapi'),
      await getAuthorizerTicket(ctx, A, 'wx_card'),
    ].map((t) => t.accessToken);

    expect(tickets).toEqual(['jsapi-1', 'wx_card-2', 'jsapi-3', 'wx_card-2']);
    expect(wechat.calls).toEqual([
      { token: 'access-1', type: 'jsapi' },
      { token: 'access-1', type: 'wx_card' },
      { token: 'access-b', type: 'jsapi' },
    ]);
  });

  it('serves a ticket past its planned renewal until less than the serve margin is left, then renews it once', async () => {
    const wechat = getticket();
    const { ctx, clock } = await ticketing({ ...wechat, ...authorizerRenewal() });
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 2 * HOUR - SERVE_MIN_REMAINING_MS;
    const late = await getAuthorizerTicket(ctx, A, 'jsapi');
    const at = clock.now + 1;
    clock.now = at;

    const renewed = await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(late).toEqual({ accessToken: 'jsapi-1', expiresAt: T0 + 2 * HOUR });
    expect(renewed).toEqual({ accessToken: 'jsapi-2', expiresAt: promisedFrom(at) });
    expect(wechat.calls).toEqual([
      { token: 'access-1', type: 'jsapi' },
      { token: 'access-2', type: 'jsapi' },
    ]);
  });

  it('promises a ticket served during a renewal only until the lease claim plus the overlap', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 10 * MINUTE;
    const ref = { kind: 'authorizer_ticket', componentAppId: C, authorizerAppId: A, type: 'jsapi' };
    await store.claim(ref as never, 1, { owner: 'rival', until: clock.now + 30_000 }, clock.now);

    expect(await peekAuthorizerTicket(ctx, A, 'jsapi')).toEqual({
      accessToken: 'jsapi-1',
      expiresAt: clock.now + SUPERSEDED_OVERLAP_MS,
    });
  });

  it('notes a serve at most once an hour, so the hot path stays one read', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await ticketing(wechat);
    const notes: number[] = [];
    const note = store.noteTicketServed.bind(store);
    store.noteTicketServed = async (...args) => {
      notes.push(args[3]);
      return note(...args);
    };

    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + TICKET_SERVED_NOTE_INTERVAL_MS - 1;
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + TICKET_SERVED_NOTE_INTERVAL_MS;
    await getAuthorizerTicket(ctx, A, 'jsapi');
    await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(notes).toEqual([T0 + TICKET_SERVED_NOTE_INTERVAL_MS]);
    expect((await store.getAuthorizerTicket(C, A, 'jsapi'))?.servedAt).toBe(
      T0 + TICKET_SERVED_NOTE_INTERVAL_MS
    );
  });
});

describe('getAuthorizerTicket: the authorizer token', () => {
  it('renews an authorizer token getticket rejects without a check, and retries once with the new one', async () => {
    const wechat = getticket(rejected(40001));
    const authorizerToken = {
      calls: 0,
      apiAuthorizerToken: async () => {
        authorizerToken.calls += 1;
        return {
          authorizer_access_token: 'access-2',
          expires_in: 7200,
          authorizer_refresh_token: 'refresh-1',
        };
      },
    };
    // No getApiQuota: a check of the rejected token would fail the test.
    const { ctx, store } = await ticketing({ ...wechat, ...authorizerToken });

    const ticket = await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(ticket.accessToken).toBe('jsapi-2');
    expect(wechat.calls.map((c) => c.token)).toEqual(['access-1', 'access-2']);
    expect(authorizerToken.calls).toBe(1);
    expect(await store.getAuthorizer(C, A)).toMatchObject({ accessToken: 'access-2' });
  });

  it('retries only once: a second rejection is the ticket’s failure', async () => {
    const wechat = getticket(rejected(42001), rejected(40014));
    const { ctx } = await ticketing({
      ...wechat,
      apiAuthorizerToken: async () => ({
        authorizer_access_token: 'access-2',
        expires_in: 7200,
        authorizer_refresh_token: 'refresh-1',
      }),
    });

    const failure = await getAuthorizerTicket(ctx, A, 'jsapi').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(JsapiTicketUnavailableError);
    expect(failure).toMatchObject({
      code: 'jsapi_ticket_unavailable',
      reason: 'wechat_token_invalid',
    });
    expect(wechat.calls).toHaveLength(2);
  });

  it('answers the authorizer’s status errors as they are, without calling getticket', async () => {
    const wechat = getticket();
    const { ctx, store } = await ticketing(wechat);
    await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 1 }, T0 + 1);

    await expect(getAuthorizerTicket(ctx, A, 'jsapi')).rejects.toThrow(AuthorizerRevokedError);
    await expect(getAuthorizerTicket(ctx, 'wxunknown00000000', 'jsapi')).rejects.toThrow(
      AuthorizerNotFoundError
    );
    expect(wechat.calls).toHaveLength(0);
    expect(store.authorizerTickets.size).toBe(0);
  });

  it('serves a stored ticket of a since revoked authorizer until its promise ends, then answers its status', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 1 }, T0 + 1);
    clock.now = T0 + 2 * HOUR - MINUTE;

    const stored = await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 2 * HOUR + MINUTE;
    const after = await getAuthorizerTicket(ctx, A, 'jsapi').catch((error: unknown) => error);

    expect(stored).toEqual({ accessToken: 'jsapi-1', expiresAt: T0 + 2 * HOUR });
    expect(after).toBeInstanceOf(AuthorizerRevokedError);
    expect(wechat.calls).toHaveLength(1);
  });
});

describe('getAuthorizerTicket: failures', () => {
  it('answers jsapi_ticket_unavailable when getticket fails and nothing is stored, and backs off', async () => {
    const wechat = getticket(quota(), quota());
    const { ctx, clock, metrics } = await ticketing(wechat);

    const first = await getAuthorizerTicket(ctx, A, 'wx_card').catch((error: unknown) => error);
    clock.now = T0 + MINUTE;
    const second = await getAuthorizerTicket(ctx, A, 'wx_card').catch((error: unknown) => error);

    expect(first).toMatchObject({ code: 'jsapi_ticket_unavailable', reason: 'wechat_quota' });
    expect((first as Error).message).toContain('wx_card');
    expect(second).toBeInstanceOf(JsapiTicketUnavailableError);
    expect(wechat.calls).toHaveLength(1);
    expect(metrics.total(MetricName.JsapiTicketRefreshFailed, 'wechat_quota')).toBe(1);
  });

  it('keeps serving the stored ticket until its promise ends when a renewal fails', async () => {
    const wechat = getticket(undefined, quota());
    const { ctx, clock } = await ticketing({ ...wechat, ...authorizerRenewal() });
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 2 * HOUR - MINUTE;

    const ticket = await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(ticket).toEqual({ accessToken: 'jsapi-1', expiresAt: T0 + 2 * HOUR });
    expect(wechat.calls).toHaveLength(2);
  });

  it('after a renewal whose answer was lost, promises the stored ticket only until the attempt plus the overlap', async () => {
    const lost = new WechatUnavailableError('getTicket', 'no answer within 5000 ms');
    const wechat = getticket(undefined, lost);
    const { ctx, clock, store } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    const at = T0 + 10 * MINUTE;
    clock.now = at;

    const reporter = await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-1' }).catch(
      (error: unknown) => error
    );

    expect(reporter).toMatchObject({
      code: 'jsapi_ticket_unavailable',
      reason: 'wechat_unavailable',
    });
    expect(await peekAuthorizerTicket(ctx, A, 'jsapi')).toEqual({
      accessToken: 'jsapi-1',
      expiresAt: at + SUPERSEDED_OVERLAP_MS,
    });
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({ refreshAt: at });
  });
});

describe('getAuthorizerTicket: a caller reports the ticket rejected (invalidTicket)', () => {
  it('renews a reported ticket issued over a minute ago without any check call, and records the forced renewal', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + FORCED_REFRESH_MIN_INTERVAL_MS;

    const ticket = await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-1' });

    expect(ticket.accessToken).toBe('jsapi-2');
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
      ticket: 'jsapi-2',
      forcedAt: clock.now,
    });
  });

  it('refuses a report within the limits (a ticket under a minute old; a second forced renewal within the hour)', async () => {
    const wechat = getticket();
    const { ctx, clock } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + FORCED_REFRESH_MIN_INTERVAL_MS - 1;
    const young = await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-1' }).catch(
      (error: unknown) => error
    );
    clock.now = T0 + 2 * MINUTE;
    await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-1' });
    clock.now = T0 + 30 * MINUTE;
    const again = await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-2' }).catch(
      (error: unknown) => error
    );

    expect(young).toBeInstanceOf(JsapiTicketUnavailableError);
    expect(again).toBeInstanceOf(JsapiTicketUnavailableError);
    expect(wechat.calls).toHaveLength(2);
  });

  it('serves the stored ticket for a report of an older one, without renewing', async () => {
    const wechat = getticket();
    const { ctx, clock } = await ticketing(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + 2 * MINUTE;

    const ticket = await getAuthorizerTicket(ctx, A, 'jsapi', { invalidToken: 'jsapi-0' });

    expect(ticket.accessToken).toBe('jsapi-1');
    expect(wechat.calls).toHaveLength(1);
  });

  it('peeks nothing for a reported ticket', async () => {
    const { ctx } = await ticketing(getticket());
    await getAuthorizerTicket(ctx, A, 'jsapi');

    expect(await peekAuthorizerTicket(ctx, A, 'jsapi', 'jsapi-1')).toBeUndefined();
    expect(await peekAuthorizerTicket(ctx, A, 'jsapi')).toMatchObject({ accessToken: 'jsapi-1' });
  });
});
