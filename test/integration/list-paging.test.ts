import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshAuthorizerNow } from '../../shared/serving/authorizer-tokens';
import { type Harness, startHarness } from '../support/harness';
import { seedAuthorizers } from '../support/reliability-stack';
import { authorizerAppId } from '../support/test-ids';

/** More authorizers than one page of `api_get_authorizer_list` (500), so that a listing takes two. */
const COUNT = 501;
const ids = Array.from({ length: COUNT }, (_, i) => authorizerAppId(i));
const FIRST = ids[0] as string;
/** The last one: on the second page until an earlier entry leaves the list, then on the first. */
const LAST = ids[COUNT - 1] as string;
const NEWCOMER = authorizerAppId(COUNT);

describe('a listing that shifts while it is paged (protocol §11.11), on dynalite, against the simulator', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.simulator.pushTicket();
    await seedAuthorizers(h, ids);
  }, 60_000);
  afterAll(async () => {
    await h.close();
  });

  it('does not take an authorizer that moved to the page already read for one that is gone: its refresh token is recovered, no verdict', async () => {
    h.simulator.rotateRefreshToken(LAST);
    // Between the two pages one merchant revokes and another authorizes: the same total_count, every
    // entry after the first one page-boundary earlier, and LAST on the page that was already read.
    h.simulator.beforeNextListPage(() => {
      h.simulator.forgetAuthorizer(FIRST);
      h.simulator.authorize(NEWCOMER);
    });

    expect(await refreshAuthorizerNow(h.deps, LAST)).toBe('refreshed');

    expect(await h.store.getAuthorizer(h.deps.componentAppId, LAST)).toMatchObject({
      status: 'active',
      refreshToken: h.simulator.listedRefreshToken(LAST),
    });
    expect(h.simulator.isAuthorized(FIRST)).toBe(false);
    expect(h.simulator.callCount('api_get_authorizer_list')).toBe(2);
    expect(h.simulator.callCount('api_get_authorizer_info')).toBeGreaterThanOrEqual(1);
  });
});
