import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  errorCode,
  RefreshInProgressError,
  StoreUnavailableError,
  WechatApiError,
} from '../../../../shared/errors';
import {
  LEASE_MS,
  LEASE_POLL_MS,
  LEASE_SAVE_RESERVE_MS,
  LEASE_WAIT_MS,
} from '../../../../shared/policy';
import {
  holdingLease,
  type LeasedTarget,
  type Refreshed,
  refreshUnderLease,
  underLease,
} from '../../../../shared/serving/single-flight';
import type {
  ComponentTokenRecord,
  LeaseClaim,
  LeasedRef,
  ReleaseOutcome,
} from '../../../../shared/store/token-store';
import type { TokenContext } from '../../../../shared/token-context';
import { fakeComponentApi } from '../../../support/fake-component-api';
import { MemoryTokenStore } from '../../../support/memory-token-store';
import { AUTHORIZER_APPID as A, COMPONENT_APPID as C, MINUTE, T0 } from '../../../support/test-ids';
import { handlerDeps, storeComponentToken } from '../../../support/token-context';

const componentRef = { kind: 'component_token', componentAppId: C } as const;
/** When the stored component token (`storeComponentToken`) is due: it needs a refresh from then. */
const DUE = T0 + 105 * MINUTE;
const RIVAL = 'rival';

/** The in-memory store, recording every lease claimed (by whom, on which version) and released. */
class LeaseRecordingStore extends MemoryTokenStore {
  readonly claims: { owner: string; version: number }[] = [];
  readonly releases: string[] = [];
  failReleases = false;

  override async claim(ref: LeasedRef, expectedVersion: number, lease: LeaseClaim, now: number) {
    this.claims.push({ owner: lease.owner, version: expectedVersion });
    return super.claim(ref, expectedVersion, lease, now);
  }

  override async release(ref: LeasedRef, owner: string, outcome: ReleaseOutcome, now: number) {
    this.releases.push(owner);
    if (this.failReleases) throw new StoreUnavailableError('the table did not answer');
    return super.release(ref, owner, outcome, now);
  }
}

/**
 * A context over a store holding the component token `ct-1` (version 1, due at `DUE`), with a
 * clock the test moves and a `sleep` that advances it, then runs what the test set for that poll.
 */
async function leaseContext() {
  const store = new LeaseRecordingStore();
  await storeComponentToken(store, 'ct-1');
  store.claims.length = 0;
  store.releases.length = 0;
  const clock = { now: DUE };
  const sleeps: number[] = [];
  const duringPoll = new Map<number, () => Promise<unknown>>();
  let owners = 0;
  const deps = handlerDeps(store);
  const ctx: TokenContext = {
    ...deps,
    clock: () => clock.now,
    sleep: async (ms) => {
      clock.now += ms;
      sleeps.push(ms);
      await duringPoll.get(sleeps.length)?.();
    },
    newLeaseOwner: () => `owner-${++owners}`,
  };
  /** Runs `action` while the waiter sleeps for the `poll`-th time (1-based). */
  const whilePolling = (poll: number, action: () => Promise<unknown>) => {
    duringPoll.set(poll, action);
  };
  const rivalClaims = () =>
    store.claim(componentRef, 1, { owner: RIVAL, until: clock.now + LEASE_MS }, clock.now);
  const rivalSaves = (accessToken: string) =>
    store.saveComponentToken(
      C,
      RIVAL,
      { accessToken, expiresAt: clock.now + 120 * MINUTE, refreshAt: clock.now + 105 * MINUTE },
      clock.now
    );
  const stored = async () => {
    const record = await store.getComponentToken(C);
    if (!record) throw new Error('no stored component token');
    return record;
  };
  return {
    store,
    ctx,
    clock,
    sleeps,
    log: deps.log,
    whilePolling,
    rivalClaims,
    rivalSaves,
    stored,
  };
}

type Refresh = LeasedTarget<ComponentTokenRecord>['refresh'];
type OnFailure = LeasedTarget<ComponentTokenRecord>['onFailure'];

/**
 * A lease target over the component token that counts its reads and records what `refresh` and
 * `onFailure` were given; by default it saves `ct-2` as the holder and records a failure's code.
 */
function componentTarget(
  ctx: TokenContext,
  behaviour: {
    needsRefresh?: (record: ComponentTokenRecord | undefined, now: number) => boolean;
    refresh?: Refresh;
    onFailure?: OnFailure;
  } = {}
) {
  const calls = {
    reads: 0,
    refreshes: [] as { record?: ComponentTokenRecord; owner: string; leaseCtx: TokenContext }[],
    failures: [] as {
      error: unknown;
      failedAt: number;
      claimedAt: number;
      record?: ComponentTokenRecord;
    }[],
  };
  const saveAsHolder: Refresh = async (_record, owner, leaseCtx) => {
    const now = leaseCtx.clock();
    const record = await ctx.store.saveComponentToken(
      C,
      owner,
      { accessToken: 'ct-2', expiresAt: now + 120 * MINUTE, refreshAt: now + 105 * MINUTE },
      now
    );
    return { record, saved: true };
  };
  const refresh = behaviour.refresh ?? saveAsHolder;
  const onFailure: OnFailure =
    behaviour.onFailure ?? ((error) => ({ errorCode: errorCode(error) }));
  const target: LeasedTarget<ComponentTokenRecord> = {
    ref: componentRef,
    read: async () => {
      calls.reads += 1;
      return ctx.store.getComponentToken(C);
    },
    needsRefresh:
      behaviour.needsRefresh ??
      ((record, now) => record?.refreshAt === undefined || record.refreshAt <= now),
    refresh: (record, owner, leaseCtx) => {
      calls.refreshes.push({ record, owner, leaseCtx });
      return refresh(record, owner, leaseCtx);
    },
    onFailure: (error, failedAt, claimedAt, record) => {
      calls.failures.push({ error, failedAt, claimedAt, record });
      return onFailure(error, failedAt, claimedAt, record);
    },
  };
  return { target, calls };
}

const busyAnswer = () => new WechatApiError('api_component_token', -1, 'system busy', 'busy');

// Poll pauses are jittered (LEASE_POLL_MS × [0.5, 1.5)); the middle of the range makes them exact.
beforeEach(() => {
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('refreshUnderLease: who refreshes', () => {
  it('returns a record that needs no refresh as current, without claiming the lease', async () => {
    const { ctx, clock, store, sleeps } = await leaseContext();
    clock.now = DUE - 1;
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: true });

    expect(result).toEqual({ outcome: 'current', record: await store.getComponentToken(C) });
    expect(result.record?.accessToken).toBe('ct-1');
    expect(calls.reads).toBe(1);
    expect(calls.refreshes).toHaveLength(0);
    expect(store.claims).toEqual([]);
    expect(sleeps).toEqual([]);
  });

  it('uses firstRead for the first round instead of reading the store', async () => {
    const { ctx, clock, stored } = await leaseContext();
    const firstRead = await stored();
    clock.now = DUE - 1;
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: true, firstRead });

    expect(result.outcome).toBe('current');
    expect(result.record).toBe(firstRead);
    expect(calls.reads).toBe(0);
  });

  it('reads the store on every round after the first', async () => {
    const { ctx, store, rivalClaims, rivalSaves, stored, whilePolling, sleeps } =
      await leaseContext();
    await rivalClaims();
    const firstRead = await stored();
    whilePolling(2, () => rivalSaves('ct-rival'));
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: true, firstRead });

    expect(result).toMatchObject({ outcome: 'current', record: { accessToken: 'ct-rival' } });
    expect(sleeps).toHaveLength(2);
    expect(calls.reads).toBe(2);
    expect(store.claims).toEqual([{ owner: RIVAL, version: 1 }]);
  });

  it('claims a free record on the version read, refreshes it as the holder and returns it as refreshed', async () => {
    const { ctx, store, stored } = await leaseContext();
    const before = await stored();
    const leaseDuringRefresh: (ComponentTokenRecord | undefined)[] = [];
    const { target, calls } = componentTarget(ctx, {
      refresh: async (_record, owner, leaseCtx) => {
        leaseDuringRefresh.push(await store.getComponentToken(C));
        const record = await store.saveComponentToken(
          C,
          owner,
          { accessToken: 'ct-2', expiresAt: DUE + 120 * MINUTE, refreshAt: DUE + 105 * MINUTE },
          leaseCtx.clock()
        );
        return { record, saved: true };
      },
    });

    const result = await refreshUnderLease(ctx, target, { wait: false });

    expect(result).toEqual({ outcome: 'refreshed', record: await store.getComponentToken(C) });
    expect(result.record).toMatchObject({ accessToken: 'ct-2', version: 2 });
    expect(store.claims).toEqual([{ owner: 'owner-1', version: 1 }]);
    expect(calls.refreshes).toHaveLength(1);
    expect(calls.refreshes[0]?.owner).toBe('owner-1');
    expect(calls.refreshes[0]?.record).toEqual(before);
    expect(leaseDuringRefresh).toEqual([
      { ...before, leaseOwner: 'owner-1', leaseUntil: DUE + LEASE_MS },
    ]);
  });

  it('returns kept when the holder refreshed but its result did not replace the stored token', async () => {
    const { ctx, store, stored } = await leaseContext();
    const before = await stored();
    const { target, calls } = componentTarget(ctx, {
      refresh: async (record, owner, leaseCtx): Promise<Refreshed<ComponentTokenRecord>> => {
        await store.release(componentRef, owner, {}, leaseCtx.clock());
        return { record: record ?? before, saved: false };
      },
    });

    const result = await refreshUnderLease(ctx, target, { wait: false });

    expect(result).toEqual({ outcome: 'kept', record: before });
    expect(calls.refreshes).toHaveLength(1);
    expect(await stored()).toMatchObject({ version: 1, accessToken: 'ct-1' });
  });
});

describe('refreshUnderLease: callers that lose the lease never call WeChat', () => {
  it('answers busy without claiming or waiting while another holder has the lease', async () => {
    const { ctx, store, rivalClaims, sleeps } = await leaseContext();
    await rivalClaims();
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: false });

    expect(result).toEqual({ outcome: 'busy', record: await store.getComponentToken(C) });
    expect(result.record?.leaseOwner).toBe(RIVAL);
    expect(store.claims).toEqual([{ owner: RIVAL, version: 1 }]);
    expect(calls.refreshes).toHaveLength(0);
    expect(sleeps).toEqual([]);
  });

  it('answers busy without waiting when a rival claimed between its read and its claim', async () => {
    const { ctx, store, rivalClaims, stored, sleeps } = await leaseContext();
    const firstRead = await stored();
    await rivalClaims();
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: false, firstRead });

    expect(result).toEqual({ outcome: 'busy', record: firstRead });
    expect(store.claims).toEqual([
      { owner: RIVAL, version: 1 },
      { owner: 'owner-1', version: 1 },
    ]);
    expect(calls.refreshes).toHaveLength(0);
    expect(calls.reads).toBe(0);
    expect(sleeps).toEqual([]);
  });

  it('with wait, polls after a lost claim and returns the rival’s saved token as current', async () => {
    const { ctx, store, rivalClaims, rivalSaves, stored, sleeps, whilePolling } =
      await leaseContext();
    const firstRead = await stored();
    await rivalClaims();
    whilePolling(1, () => rivalSaves('ct-rival'));
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: true, firstRead });

    expect(result).toEqual({ outcome: 'current', record: await store.getComponentToken(C) });
    expect(result.record).toMatchObject({ accessToken: 'ct-rival', version: 2 });
    expect(sleeps).toEqual([LEASE_POLL_MS]);
    expect(calls.reads).toBe(1);
    expect(calls.refreshes).toHaveLength(0);
    expect(store.claims).toHaveLength(2);
  });

  it('reports failed_elsewhere with the holder’s error code when the holder released on the same version, and calls nothing itself', async () => {
    const { ctx, store, clock, rivalClaims, sleeps, whilePolling } = await leaseContext();
    await rivalClaims();
    whilePolling(1, () =>
      store.release(componentRef, RIVAL, { errorCode: 'wechat_quota' }, clock.now)
    );
    const { target, calls } = componentTarget(ctx);

    const result = await refreshUnderLease(ctx, target, { wait: true });

    expect(result).toEqual({
      outcome: 'failed_elsewhere',
      record: await store.getComponentToken(C),
      errorCode: 'wechat_quota',
    });
    expect(result.record).toMatchObject({ version: 1, accessToken: 'ct-1' });
    expect(store.claims).toEqual([{ owner: RIVAL, version: 1 }]);
    expect(calls.refreshes).toHaveLength(0);
    expect(calls.failures).toHaveLength(0);
    expect(sleeps).toHaveLength(1);
  });

  it('gives up with RefreshInProgressError after LEASE_WAIT_MS while the holder keeps the lease', async () => {
    const { ctx, clock, rivalClaims, sleeps } = await leaseContext();
    await rivalClaims();
    const { target, calls } = componentTarget(ctx);

    await expect(refreshUnderLease(ctx, target, { wait: true })).rejects.toThrow(
      RefreshInProgressError
    );

    expect(clock.now - DUE).toBe(LEASE_WAIT_MS);
    expect(sleeps).toHaveLength(LEASE_WAIT_MS / LEASE_POLL_MS);
    expect(calls.refreshes).toHaveLength(0);
  });

  it('gives up at its own deadline when that comes before LEASE_WAIT_MS', async () => {
    const { ctx, clock, rivalClaims, sleeps } = await leaseContext();
    await rivalClaims();
    const { target, calls } = componentTarget(ctx);
    const deadline = DUE + 1000;

    await expect(
      refreshUnderLease({ ...ctx, deadline }, target, { wait: true })
    ).rejects.toMatchObject({ code: 'refresh_in_progress' });

    // The first poll that ends at or past the deadline is the last: 7 polls of 150 ms.
    expect(sleeps).toHaveLength(Math.ceil(1000 / LEASE_POLL_MS));
    expect(clock.now).toBe(DUE + Math.ceil(1000 / LEASE_POLL_MS) * LEASE_POLL_MS);
    expect(calls.refreshes).toHaveLength(0);
  });
});

describe('refreshUnderLease: a failing holder', () => {
  it('releases the lease with onFailure’s outcome, giving it the failure time, the claim time and the record, then rethrows', async () => {
    const { ctx, clock, store, stored } = await leaseContext();
    const firstRead = await stored();
    const failure = busyAnswer();
    const { target, calls } = componentTarget(ctx, {
      refresh: async () => {
        clock.now += 2000;
        throw failure;
      },
      onFailure: (error, failedAt) => ({ errorCode: errorCode(error), retryAt: failedAt + MINUTE }),
    });

    await expect(refreshUnderLease(ctx, target, { wait: true, firstRead })).rejects.toBe(failure);

    expect(calls.failures).toHaveLength(1);
    expect(calls.failures[0]?.error).toBe(failure);
    expect(calls.failures[0]).toMatchObject({ failedAt: DUE + 2000, claimedAt: DUE });
    expect(calls.failures[0]?.record).toBe(firstRead);
    expect(store.releases).toEqual(['owner-1']);
    const after = await stored();
    expect(after).toMatchObject({
      version: 1,
      accessToken: 'ct-1',
      lastErrorCode: 'wechat_busy',
      refreshAt: DUE + 2000 + MINUTE,
    });
    expect(after.leaseOwner).toBeUndefined();
    expect(after.leaseUntil).toBeUndefined();
  });

  it('logs a release that fails instead of throwing it over the refresh’s error', async () => {
    const { ctx, store, stored, log } = await leaseContext();
    store.failReleases = true;
    const failure = busyAnswer();
    const { target } = componentTarget(ctx, {
      refresh: async () => {
        throw failure;
      },
    });

    await expect(refreshUnderLease(ctx, target, { wait: false })).rejects.toBe(failure);

    expect(store.releases).toEqual(['owner-1']);
    expect(log.entries).toContainEqual({
      level: 'warn',
      message: 'could not release a lease; it will expire by itself',
      fields: { kind: 'component_token', code: 'store_unavailable' },
    });
    expect((await stored()).leaseOwner).toBe('owner-1');
  });
});

describe('work under a lease ends before the lease', () => {
  it('gives the holder a deadline of the claim + LEASE_MS − LEASE_SAVE_RESERVE_MS, and WeChat calls that end by then', async () => {
    const { ctx, clock } = await leaseContext();
    const budgets: number[] = [];
    ctx.api = fakeComponentApi({}, { onWithin: (ms) => budgets.push(ms) });
    const { target, calls } = componentTarget(ctx);
    clock.now = DUE + 10;

    await refreshUnderLease(ctx, target, { wait: false });

    expect(calls.refreshes[0]?.leaseCtx.deadline).toBe(DUE + 10 + LEASE_MS - LEASE_SAVE_RESERVE_MS);
    expect(budgets).toEqual([LEASE_MS - LEASE_SAVE_RESERVE_MS]);
  });

  it('keeps the caller’s deadline for the holder when it comes before the lease’s', async () => {
    const { ctx } = await leaseContext();
    const budgets: number[] = [];
    ctx.api = fakeComponentApi({}, { onWithin: (ms) => budgets.push(ms) });
    const { target, calls } = componentTarget(ctx);

    await refreshUnderLease({ ...ctx, deadline: DUE + 5000 }, target, { wait: false });

    expect(calls.refreshes[0]?.leaseCtx.deadline).toBe(DUE + 5000);
    expect(budgets).toEqual([5000]);
  });

  it('underLease cuts a context to the lease’s end or the caller’s earlier deadline', async () => {
    const { ctx } = await leaseContext();
    const budgets: number[] = [];
    ctx.api = fakeComponentApi({}, { onWithin: (ms) => budgets.push(ms) });

    const toLease = underLease(ctx, DUE + 10_000);
    const toCaller = underLease({ ...ctx, deadline: DUE + 4000 }, DUE + 10_000);

    expect(toLease.deadline).toBe(DUE + 10_000);
    expect(toCaller.deadline).toBe(DUE + 4000);
    expect(budgets).toEqual([10_000, 4000]);
    expect(toLease.store).toBe(ctx.store);
  });
});

describe('holdingLease', () => {
  it('runs its work once under a lease it claimed, then releases the lease', async () => {
    const { ctx, store, stored } = await leaseContext();
    const before = await stored();
    const seen: { record?: ComponentTokenRecord; deadline?: number }[] = [];

    const result = await holdingLease(
      ctx,
      componentRef,
      () => store.getComponentToken(C),
      async (leaseCtx) => {
        seen.push({ record: await store.getComponentToken(C), deadline: leaseCtx.deadline });
        return 'exchanged';
      }
    );

    expect(result).toBe('exchanged');
    expect(seen).toEqual([
      {
        record: { ...before, leaseOwner: 'owner-1', leaseUntil: DUE + LEASE_MS },
        deadline: DUE + LEASE_MS - LEASE_SAVE_RESERVE_MS,
      },
    ]);
    expect(store.claims).toEqual([{ owner: 'owner-1', version: 1 }]);
    expect(store.releases).toEqual(['owner-1']);
    expect(await stored()).toEqual({ ...before, updatedAt: DUE });
  });

  it('releases the lease when its work throws, and rethrows', async () => {
    const { ctx, store, stored } = await leaseContext();
    const failure = busyAnswer();
    let runs = 0;

    await expect(
      holdingLease(
        ctx,
        componentRef,
        () => store.getComponentToken(C),
        async () => {
          runs += 1;
          throw failure;
        }
      )
    ).rejects.toBe(failure);

    expect(runs).toBe(1);
    expect(store.releases).toEqual(['owner-1']);
    const after = await stored();
    expect(after.leaseOwner).toBeUndefined();
    expect(after.leaseUntil).toBeUndefined();
  });

  it('claims a record that does not exist yet at version 0, unseen by readers', async () => {
    const { ctx, store } = await leaseContext();
    const authorizerRef = { kind: 'authorizer', componentAppId: C, authorizerAppId: A } as const;
    const seen: unknown[] = [];

    await holdingLease(
      ctx,
      authorizerRef,
      () => store.getAuthorizer(C, A),
      async () => {
        seen.push(await store.getAuthorizer(C, A), store.authorizers.get(`${C}#${A}`)?.leaseOwner);
      }
    );

    expect(store.claims).toEqual([{ owner: 'owner-1', version: 0 }]);
    expect(seen).toEqual([undefined, 'owner-1']);
    expect(store.releases).toEqual(['owner-1']);
    expect(store.authorizers.get(`${C}#${A}`)?.leaseOwner).toBeUndefined();
  });

  it('waits for another holder to release before running its work', async () => {
    const { ctx, store, clock, rivalClaims, whilePolling, sleeps } = await leaseContext();
    await rivalClaims();
    whilePolling(2, () => store.release(componentRef, RIVAL, {}, clock.now));
    let runs = 0;

    await holdingLease(
      ctx,
      componentRef,
      () => store.getComponentToken(C),
      async () => {
        runs += 1;
      }
    );

    expect(runs).toBe(1);
    expect(sleeps).toHaveLength(2);
    expect(store.claims).toEqual([
      { owner: RIVAL, version: 1 },
      { owner: 'owner-1', version: 1 },
    ]);
  });

  it('gives up with RefreshInProgressError, without running its work, when another holder keeps the lease', async () => {
    const { ctx, store, clock, rivalClaims } = await leaseContext();
    await rivalClaims();
    let runs = 0;

    await expect(
      holdingLease(
        ctx,
        componentRef,
        () => store.getComponentToken(C),
        async () => {
          runs += 1;
        }
      )
    ).rejects.toThrow(RefreshInProgressError);

    expect(runs).toBe(0);
    expect(clock.now - DUE).toBe(LEASE_WAIT_MS);
    expect(store.claims).toEqual([{ owner: RIVAL, version: 1 }]);
  });
});
