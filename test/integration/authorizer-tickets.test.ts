import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../local/local-dynamo';
import { SUPERSEDED_OVERLAP_MS, TICKET_KEPT_FRESH_FOR_MS } from '../../shared/policy';
import { authorizeMerchant, type Harness, startHarness } from '../support/harness';
import { AUTHORIZER_APPID as A, HOUR, MINUTE } from '../support/test-ids';

/*
 * Tickets from get-token against the strict simulator on dynalite: the real handlers, the real HTTP client
 * (getticket as a GET), the real DynamoDB adapter, one clock for both sides.
 */

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
  await authorizeMerchant(h, A);
});
afterEach(async () => {
  await h.close();
});

const ticketOf = (answer: Record<string, unknown>) => answer.ticket as string;

/** Every ticket record due at `now`, as `appid/type`. */
async function dueTickets(now: number) {
  const c = h.deps.componentAppId;
  const pages = await Promise.all(
    h.store.ticketDuePartitions(c).map((p) => h.store.listDueTickets(p, now, 100))
  );
  return pages.flatMap((p) => p.items.map((t) => `${t.authorizerAppId}/${t.type}`));
}

describe('tickets from get-token', () => {
  it('makes one getticket for 100 concurrent first requests, and every caller gets the ticket WeChat issued', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => h.token({ authorizerAppId: A, ticket: 'jsapi' }))
    );

    expect(h.simulator.callCount('getTicket')).toBe(1);
    expect(h.simulator.ticketQuotaUsed(A, 'jsapi')).toBe(1);
    const issued = h.simulator.currentTicket(A, 'jsapi');
    expect(new Set(answers.map(ticketOf))).toEqual(new Set([issued]));
    expect(h.simulator.ticketStatus(issued as string)).toBe('valid');
    for (const answer of answers) {
      expect(answer).toEqual({ appId: A, ticket: issued, expiresAt: expect.any(String) });
      expect(Date.parse(answer.expiresAt as string)).toBeLessThanOrEqual(h.clock.now + 2 * HOUR);
    }
  });

  it('keeps the card ticket apart, and answers a report of a ticket over a minute old with a new one', async () => {
    const card = ticketOf(await h.token({ authorizerAppId: A, ticket: 'wx_card' }));
    const jsapi = ticketOf(await h.token({ authorizerAppId: A, ticket: 'jsapi' }));
    h.clock.advance(2 * MINUTE);

    const renewed = ticketOf(
      await h.token({ authorizerAppId: A, ticket: 'jsapi', invalidTicket: jsapi })
    );

    expect(card).toBe(h.simulator.currentTicket(A, 'wx_card'));
    expect(renewed).not.toBe(jsapi);
    expect(renewed).toBe(h.simulator.currentTicket(A, 'jsapi'));
    expect(h.simulator.callCount('getTicket')).toBe(3);
  });

  it('renews the authorizer token getticket refuses (40001) without a check, and fetches once more with it', async () => {
    const killed = (await h.token({ authorizerAppId: A })).accessToken as string;
    h.simulator.renewElsewhere(A);
    h.clock.advance(SUPERSEDED_OVERLAP_MS + MINUTE);
    const before = h.simulator.callCount('api_authorizer_token');

    const answer = await h.token({ authorizerAppId: A, ticket: 'jsapi' });

    expect(h.simulator.ticketStatus(ticketOf(answer))).toBe('valid');
    expect(h.simulator.callCount('getTicket')).toBe(2);
    expect(h.simulator.callCount('api_authorizer_token')).toBe(before + 1);
    expect(h.simulator.callCount('getApiQuota')).toBe(0);
    const token = (await h.token({ authorizerAppId: A })).accessToken as string;
    expect(token).not.toBe(killed);
    expect(h.simulator.tokenStatus(token)).toBe('valid');
  });
});

describe('the sweep and tickets', () => {
  it('renews a ticket in use before it expires, and the one callers hold keeps working meanwhile', async () => {
    const first = ticketOf(await h.token({ authorizerAppId: A, ticket: 'jsapi' }));
    h.clock.advance(HOUR + 50 * MINUTE);

    const summary = await h.refresh();

    expect(summary.tickets).toMatchObject({ refreshed: 1, retired: 0, failed: {} });
    expect(h.simulator.callCount('getTicket')).toBe(2);
    const renewed = h.simulator.currentTicket(A, 'jsapi') as string;
    expect(renewed).not.toBe(first);
    expect(h.simulator.ticketStatus(first)).toBe('valid');
    expect(ticketOf(await h.token({ authorizerAppId: A, ticket: 'jsapi' }))).toBe(renewed);
    expect(h.simulator.callCount('getTicket')).toBe(2);
  });

  it('drops a ticket nobody asked for in a day from the due index without calling getticket, and fetches it again on the next request', async () => {
    await h.token({ authorizerAppId: A, ticket: 'wx_card' });
    h.clock.advance(TICKET_KEPT_FRESH_FOR_MS + HOUR);
    await h.simulator.pushTicket();

    const summary = await h.refresh();

    expect(summary.tickets).toMatchObject({ seen: 1, refreshed: 0, retired: 1 });
    expect(h.simulator.callCount('getTicket')).toBe(1);
    expect(await dueTickets(h.clock.now + 3 * HOUR)).toEqual([]);

    const again = ticketOf(await h.token({ authorizerAppId: A, ticket: 'wx_card' }));
    expect(h.simulator.ticketStatus(again)).toBe('valid');
    expect(h.simulator.callCount('getTicket')).toBe(2);
    expect(await dueTickets(h.clock.now + 3 * HOUR)).toEqual([`${A}/wx_card`]);
  });
});
