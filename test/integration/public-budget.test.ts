import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkAuthorization } from '../support/browser';
import { type Harness, startHarness } from '../support/harness';
import { scanTable } from '../support/reliability-stack';
import { AUTHORIZER_APPID, OTHER_AUTHORIZER_APPID } from '../support/test-ids';

const VISITORS = 300;
const PER_MINUTE = 20;

/** `count` requests, `concurrency` at a time (a burst from many browsers). */
async function burst(
  count: number,
  request: (i: number) => Promise<Response>,
  concurrency = 25
): Promise<{ status: number; retryAfter: string | null; body: string }[]> {
  const answers: { status: number; retryAfter: string | null; body: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const response = await request(i);
        answers[i] = {
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.text(),
        };
      }
    })
  );
  return answers;
}

const tally = (answers: { status: number }[]) =>
  answers.reduce<Record<number, number>>((counts, { status }) => {
    counts[status] = (counts[status] ?? 0) + 1;
    return counts;
  }, {});

/** Random base64url bodies: shaped like WeChat's codes, but WeChat never issued them. */
const forgedCode = () =>
  `queryauthcode@@@${Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64url')}`;

describe('the public routes’ WeChat budgets, on dynalite, against the simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.simulator.pushTicket();
    await h.token({ component: true });
    h.simulator.resetCalls();
  });
  afterAll(async () => {
    await h.close();
  });

  it(`lets ${VISITORS} anonymous visits to /authorize spend ${PER_MINUTE} api_create_preauthcode calls`, async () => {
    const answers = await burst(VISITORS, () => fetch(`${h.service.url}/authorize`));

    expect(tally(answers)).toEqual({ 200: PER_MINUTE, 429: VISITORS - PER_MINUTE });
    expect(h.simulator.callCount('api_create_preauthcode')).toBe(PER_MINUTE);
    const busy = answers.filter((a) => a.status === 429);
    expect(busy.every((a) => Number(a.retryAfter) >= 1 && Number(a.retryAfter) <= 60)).toBe(true);
    expect(busy.every((a) => a.body.includes('data-status="busy"'))).toBe(true);
  });

  it(`holds ${VISITORS} forged codes on the callback: ${PER_MINUTE} stored, no api_query_auth, one list read settles them`, async () => {
    const before = (await scanTable(h)).filter((item) => String(item.pk).startsWith('AUTHCODE#'));

    const answers = await burst(VISITORS, (i) => {
      const code = i % 2 === 0 ? `forged-${i}-${'x'.repeat(40)}` : forgedCode();
      return fetch(
        `${h.service.url}/authorize/callback?auth_code=${encodeURIComponent(code)}&expires_in=600`
      );
    });

    const malformed = answers.filter((_, i) => i % 2 === 0);
    const shaped = answers.filter((_, i) => i % 2 === 1);
    expect(tally(malformed)).toEqual({ 400: VISITORS / 2 });
    expect(malformed.every((a) => a.body.includes('auth_code is malformed'))).toBe(true);
    // No push names a forged code: it is held (it could be an active merchant's), never sent to WeChat.
    expect(tally(shaped)).toEqual({ 202: PER_MINUTE, 429: VISITORS / 2 - PER_MINUTE });
    expect(h.simulator.callCount('api_query_auth')).toBe(0);
    expect(h.simulator.callCount('api_get_authorizer_info')).toBe(0);
    const held = (await scanTable(h)).filter((item) => String(item.pk).startsWith('AUTHCODE#'));
    expect(held.length - before.length).toBe(PER_MINUTE);
    expect(held.every((item) => item.status === 'pending')).toBe(true);
  });

  it('never budgets WeChat’s own authorized push: its code is exchanged and the admin sees the result', async () => {
    const { authCode } = await h.simulator.pushAuthorized(OTHER_AUTHORIZER_APPID);

    const page = await fetch(
      `${h.service.url}/authorize/callback?auth_code=${encodeURIComponent(authCode)}&expires_in=600`
    );

    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('data-status="authorized"');
    expect(html).toContain(OTHER_AUTHORIZER_APPID);
    expect(h.simulator.callCount('api_query_auth')).toBe(1);
    expect(
      (await h.store.getAuthorizer(h.deps.componentAppId, OTHER_AUTHORIZER_APPID))?.status
    ).toBe('active');
  });

  it('lets a real authorization complete once the burst’s minute has passed', async () => {
    await expect(
      walkAuthorization(h.service.url, { authorizerAppId: AUTHORIZER_APPID })
    ).rejects.toThrow('authorization page answered 429');

    h.clock.advance(60_000);
    const walk = await walkAuthorization(h.service.url, {
      authorizerAppId: AUTHORIZER_APPID,
      headers: { 'accept-language': 'en-US,en;q=0.9' },
    });

    expect(walk.callback.status).toBe(200);
    expect(walk.callbackHtml).toContain('<html lang="en">');
    expect(walk.callbackHtml).toContain('data-status="authorized"');
    expect(walk.callbackHtml).toContain(
      h.simulator.state.authorizers.get(AUTHORIZER_APPID)?.nickName
    );
    expect(walk.callbackHtml).toMatch(/<li data-id="\d+">[A-Z][^<]+<\/li>/);
    expect((await h.store.getAuthorizer(h.deps.componentAppId, AUTHORIZER_APPID))?.status).toBe(
      'active'
    );
  });

  it('settles the held forged codes once the push had its chance, with one list read and no api_query_auth', async () => {
    const listReads = h.simulator.callCount('api_get_authorizer_list');
    h.clock.advance(3 * 60_000);

    expect((await h.refresh()).authCodes).toEqual({
      exchanged: PER_MINUTE,
      expired: 0,
      pending: 0,
    });
    expect(h.simulator.callCount('api_get_authorizer_list') - listReads).toBe(1);
    expect(h.simulator.callCount('api_query_auth')).toBe(2);
    const held = (await scanTable(h)).filter(
      (item) => String(item.pk).startsWith('AUTHCODE#') && item.source === 'redirect'
    );
    expect(held.filter((item) => item.outcomeCode === 'recovered_by_reconciliation')).toHaveLength(
      PER_MINUTE
    );
  });
});
