import { afterEach, describe, expect, it } from 'vitest';
import type { AuthorizerRecord } from '../../shared/store/token-store';
import { type Harness, startHarness } from '../support/harness';
import { mapLimit, seedAuthorizer, seedAuthorizers } from '../support/reliability-stack';
import { soak } from '../support/soak';
import { authorizerAppId, COMPONENT_APPID, MINUTE } from '../support/test-ids';

const CALLERS = soak(100, 1000);
const AUTHORIZERS = soak(500, 3000);

const open: Harness[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

async function stack() {
  const h = await startHarness();
  open.push(h);
  await h.simulator.pushTicket();
  return h;
}

const storedAll = (h: Harness, ids: string[]) =>
  mapLimit(
    ids,
    32,
    async (id) => (await h.store.getAuthorizer(COMPONENT_APPID, id)) as AuthorizerRecord
  );

describe('concurrency: one WeChat call per token, no lost update', () => {
  it(`gives ${CALLERS} concurrent get-token callers one new token from exactly one api_authorizer_token call`, async () => {
    const h = await stack();
    const merchant = authorizerAppId(0);
    await seedAuthorizer(h, merchant);
    const before = (await h.store.getAuthorizer(COMPONENT_APPID, merchant)) as AuthorizerRecord;
    h.clock.advance(116 * MINUTE);
    expect((before.expiresAt as number) - h.clock.now).toBeLessThan(5 * MINUTE);
    h.simulator.resetCalls();

    const answers = await Promise.all(
      Array.from({ length: CALLERS }, () => h.token({ authorizerAppId: merchant }))
    );

    expect(h.simulator.callCount('api_authorizer_token')).toBe(1);
    expect(h.simulator.callCount('api_component_token')).toBe(1);
    const tokens = new Set(answers.map((a) => a.accessToken));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens] as string[];
    expect(token).not.toBe(before.accessToken);
    expect(h.simulator.tokenStatus(token as string)).toBe('valid');
    const after = (await h.store.getAuthorizer(COMPONENT_APPID, merchant)) as AuthorizerRecord;
    expect(after).toMatchObject({ accessToken: token, version: before.version + 1 });
    expect(after.leaseUntil).toBeUndefined();
  });

  it(`refreshes ${AUTHORIZERS} due authorizers exactly once each across two overlapping scheduled runs`, async () => {
    const h = await stack();
    const ids = Array.from({ length: AUTHORIZERS }, (_, i) => authorizerAppId(i + 1));
    await seedAuthorizers(h, ids);
    const before = await storedAll(h, ids);
    h.clock.advance(106 * MINUTE);
    await h.simulator.pushTicket();
    h.simulator.resetCalls();

    const runs = await Promise.all([h.refresh(), h.refresh()]);

    const refreshCalls = h.simulator.calls.filter((c) => c.api === 'api_authorizer_token');
    expect(refreshCalls).toHaveLength(AUTHORIZERS);
    const refreshed = refreshCalls.map(
      (c) => (c.body as { authorizer_appid: string }).authorizer_appid
    );
    expect(new Set(refreshed)).toEqual(new Set(ids));
    expect(h.simulator.callCount('api_component_token')).toBe(1);
    const summaries = runs.map(
      (r) => r.authorizers as { seen: number; refreshed: number; skipped: number; failed: object }
    );
    expect(summaries.reduce((sum, s) => sum + s.refreshed, 0)).toBe(AUTHORIZERS);
    expect(summaries.reduce((sum, s) => sum + s.skipped, 0)).toBeGreaterThan(0);
    for (const summary of summaries) expect(summary.failed).toEqual({});
    const after = await storedAll(h, ids);
    after.forEach((record, i) => {
      expect(record.version).toBe((before[i] as AuthorizerRecord).version + 1);
      expect(record.accessToken).not.toBe((before[i] as AuthorizerRecord).accessToken);
      expect(h.simulator.tokenStatus(record.accessToken as string)).toBe('valid');
      expect(record.refreshToken).toBe(
        h.simulator.state.authorizers.get(record.authorizerAppId)?.refreshToken
      );
      expect(record.leaseUntil).toBeUndefined();
    });
  });
});
