import { describe, expect, it } from 'vitest';
import { WechatApiError } from '../../../../shared/errors';
import { runScheduledRefresh } from '../../../../shared/jobs/scheduled-refresh';
import { sweepTickets } from '../../../../shared/jobs/ticket-sweep';
import { RETRY_AFTER_FAILURE_MS, TICKET_KEPT_FRESH_FOR_MS } from '../../../../shared/policy';
import { getAuthorizerTicket } from '../../../../shared/serving/authorizer-tickets';
import type { AuthorizerTicketType, TokenStore } from '../../../../shared/store/token-store';
import type { ComponentApi } from '../../../../shared/wechat/api-client';
import type { TicketResponse } from '../../../../shared/wechat/wire';
import {
  AUTHORIZER_APPID as A,
  COMPONENT_APPID as C,
  HOUR,
  MINUTE,
  T0,
} from '../../../support/test-ids';
import { tokenContext } from '../../../support/token-context';

/*
 * The sweep's pass over the authorizers' tickets (`sweepTickets`). `tokenContext` stores authorizer A with
 * token `access-1` (T0 to T0 + 2 h) and a component token; a ticket fetched at T0 is due at T0 + 1 h 45.
 */
const DUE = T0 + 105 * MINUTE;

function getticket(...failures: (Error | undefined)[]) {
  const wechat = {
    calls: 0,
    getTicket: async (_token: string, type: AuthorizerTicketType): Promise<TicketResponse> => {
      wechat.calls += 1;
      const failure = failures.shift();
      if (failure) throw failure;
      return { ticket: `${type}-${wechat.calls}`, expires_in: 7200 };
    },
  };
  return wechat;
}

/** WeChat renewing the authorizer token and, from a ticket pushed when the test says, the component token. */
const renewsAuthorizers: Partial<ComponentApi> = {
  apiAuthorizerToken: async () => ({
    authorizer_access_token: 'access-2',
    expires_in: 7200,
    authorizer_refresh_token: 'refresh-1',
  }),
  apiComponentToken: async () => ({ component_access_token: 'ct-2', expires_in: 7200 }),
};

/** A `component_verify_ticket` pushed at `at`, so the component token can be minted then. */
const pushTicket = (store: TokenStore, at: number) =>
  store.putTicket({ componentAppId: C, ticket: 'ticket@@@t', createTime: at, receivedAt: at });

const sweep = (ctx: Parameters<typeof sweepTickets>[0]) =>
  sweepTickets(ctx, { stopAt: Number.POSITIVE_INFINITY, concurrency: 4 }, () => undefined);

async function dueTickets(store: TokenStore, now: number) {
  const pages = await Promise.all(
    store.ticketDuePartitions(C).map((p) => store.listDueTickets(p, now, 100))
  );
  return pages.flatMap((p) => p.items.map((t) => `${t.authorizerAppId}/${t.type}`));
}

describe('sweepTickets', () => {
  it('renews a due ticket served within the last day before it expires, without counting a serve', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await tokenContext(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = DUE;

    const { summary } = await sweep(ctx);

    expect(summary).toMatchObject({ seen: 1, refreshed: 1, retired: 0, failed: {} });
    expect(wechat.calls).toBe(2);
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
      ticket: 'jsapi-2',
      expiresAt: DUE + 2 * HOUR,
      servedAt: T0,
    });
    expect(await dueTickets(store, DUE)).toEqual([]);
    expect(await dueTickets(store, DUE + 105 * MINUTE)).toEqual([`${A}/jsapi`]);
  });

  it('takes a ticket nobody was served for a day off the due index without calling WeChat; the next request fetches it anew', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await tokenContext({ ...wechat, ...renewsAuthorizers });
    await getAuthorizerTicket(ctx, A, 'wx_card');
    const later = T0 + TICKET_KEPT_FRESH_FOR_MS + 1;
    clock.now = later;
    await pushTicket(store, later);

    const { summary } = await sweep(ctx);

    expect(summary).toMatchObject({ seen: 1, refreshed: 0, retired: 1 });
    expect(wechat.calls).toBe(1);
    expect(await dueTickets(store, later + 3 * HOUR)).toEqual([]);

    expect((await getAuthorizerTicket(ctx, A, 'wx_card')).accessToken).toBe('wx_card-2');
    expect(await dueTickets(store, later + 3 * HOUR)).toEqual([`${A}/wx_card`]);
  });

  it('renews a ticket served lately even when it was first fetched long ago', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await tokenContext({ ...wechat, ...renewsAuthorizers });
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + HOUR;
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = T0 + HOUR + TICKET_KEPT_FRESH_FOR_MS - 1;
    await pushTicket(store, clock.now);

    const { summary } = await sweep(ctx);

    expect(summary).toMatchObject({ refreshed: 1, retired: 0 });
    expect((await store.getAuthorizerTicket(C, A, 'jsapi'))?.servedAt).toBe(T0 + HOUR);
  });

  it('takes the tickets of an authorizer that can no longer be served off the due index', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await tokenContext(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    await store.endAuthorization(C, A, 'revoked', { eventTime: T0 + 1 }, T0 + 1);
    clock.now = DUE;

    const { summary } = await sweep(ctx);

    expect(summary).toMatchObject({ seen: 1, refreshed: 0, retired: 1, failed: {} });
    expect(wechat.calls).toBe(1);
    expect(await dueTickets(store, DUE + HOUR)).toEqual([]);
  });

  it('counts a failed renewal and keeps the ticket, retried a few minutes later', async () => {
    const quota = new WechatApiError('getTicket', 45009, 'quota', 'quota');
    const wechat = getticket(undefined, quota);
    const { ctx, clock, store } = await tokenContext(wechat);
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = DUE;

    const { summary } = await sweep(ctx);

    expect(summary).toMatchObject({ refreshed: 0, failed: { wechat_quota: 1 } });
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({
      ticket: 'jsapi-1',
      refreshAt: DUE + RETRY_AFTER_FAILURE_MS,
      lastErrorCode: 'wechat_quota',
    });
  });

  it('runs in the scheduled refresh after the authorizers, and reports its counts', async () => {
    const wechat = getticket();
    const { ctx, clock, store } = await tokenContext({ ...wechat, ...renewsAuthorizers });
    await getAuthorizerTicket(ctx, A, 'jsapi');
    clock.now = DUE;
    await pushTicket(store, DUE - MINUTE);

    const summary = await runScheduledRefresh(ctx, { deadline: DUE + 10 * MINUTE });

    expect(summary.authorizers).toMatchObject({ refreshed: 1 });
    expect(summary.tickets).toEqual({
      seen: 1,
      refreshed: 1,
      retired: 0,
      skipped: 0,
      failed: {},
      truncated: false,
    });
    expect(await store.getAuthorizerTicket(C, A, 'jsapi')).toMatchObject({ ticket: 'jsapi-2' });
  });
});
