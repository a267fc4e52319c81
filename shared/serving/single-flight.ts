import { ConcurrentUpdateError, errorCode, RefreshInProgressError } from '../errors';
import { LEASE_MS, LEASE_POLL_MS, LEASE_SAVE_RESERVE_MS, LEASE_WAIT_MS } from '../policy';
import type { Leased, LeasedRef, ReleaseOutcome } from '../store/token-store';
import type { TokenContext } from '../token-context';

/** One refreshable record, as seen by `refreshUnderLease`. */
export interface LeasedTarget<R extends Leased> {
  ref: LeasedRef;
  read(): Promise<R | undefined>;
  /** Whether this record still needs the refresh (re-checked after every wait). */
  needsRefresh(record: R | undefined, now: number): boolean;
  /**
   * Calls WeChat and saves as the lease holder `owner`; returns the record as stored, and whether what
   * this holder obtained was saved (`false`: another writer's token stands, architecture §3). `leaseCtx`
   * is the context to call WeChat with: its calls all end before the lease does.
   */
  refresh(record: R | undefined, owner: string, leaseCtx: TokenContext): Promise<Refreshed<R>>;
  /**
   * What to record when `refresh` throws; the lease is released with it. `claimedAt` is when the lease was
   * taken: no WeChat call of this attempt began earlier. `record` is the one `refresh` was given.
   */
  onFailure(
    error: unknown,
    failedAt: number,
    claimedAt: number,
    record: R | undefined
  ): ReleaseOutcome;
}

/** What a lease holder's refresh left in the store. */
export interface Refreshed<R> {
  record: R;
  /** False when the holder's result did not stand (another writer's newer token, a checked report). */
  saved: boolean;
}

export type SingleFlightResult<R> =
  /** This caller won the lease and refreshed. */
  | { outcome: 'refreshed'; record: R }
  /** This caller won the lease, but what it obtained did not replace the stored record's token. */
  | { outcome: 'kept'; record: R }
  /** Nothing to do: the record no longer needs a refresh (maybe someone else just did it). */
  | { outcome: 'current'; record: R | undefined }
  /** Another caller holds the lease (only when `wait` is false). */
  | { outcome: 'busy'; record: R | undefined }
  /** Another caller tried while we waited and failed; we did not call WeChat again. */
  | { outcome: 'failed_elsewhere'; record: R | undefined; errorCode?: string };

const leaseHeld = (record: Leased | undefined, now: number) =>
  record?.leaseUntil !== undefined && record.leaseUntil >= now;

/**
 * Refreshes a record with at most one WeChat call across every concurrent caller (architecture §3):
 * read → claim the lease on the version read → only the holder calls WeChat and saves. Losers never call
 * WeChat: with `wait` they poll (bounded, jittered) until the holder's write lands and return it; without
 * `wait` (the scheduled sweep) they move on.
 *
 * A waiter that sees the holder fail does not retry against WeChat itself (that is how 40001 storms
 * start); it reports `failed_elsewhere` with the holder's error code and the record as it stands.
 *
 * `firstRead` is the record as the caller just read it: the first round uses it instead of reading again
 * (the hot path of a renewal is then one read); every later round reads the store.
 *
 * @throws RefreshInProgressError when the holder has not finished within `LEASE_WAIT_MS`.
 * @throws whatever `refresh` throws, after releasing the lease.
 */
export async function refreshUnderLease<R extends Leased & { lastErrorCode?: string }>(
  ctx: TokenContext,
  target: LeasedTarget<R>,
  options: { wait: boolean; firstRead?: R }
): Promise<SingleFlightResult<R>> {
  const giveUpAt = waitLimit(ctx);
  let firstRead = options.firstRead;
  const read = async () => {
    const record = firstRead;
    firstRead = undefined;
    return record ?? target.read();
  };
  let waitedOnVersion: number | undefined;
  for (;;) {
    const now = ctx.clock();
    const record = await read();
    if (!target.needsRefresh(record, now)) return { outcome: 'current', record };
    const version = record?.version ?? 0;
    if (waitedOnVersion === version && !leaseHeld(record, now)) {
      return { outcome: 'failed_elsewhere', record, errorCode: record?.lastErrorCode };
    }
    if (!leaseHeld(record, now)) {
      const owner = await claimLease(ctx, target.ref, version, now);
      if (owner !== undefined) {
        try {
          const refreshed = await target.refresh(record, owner, holderContext(ctx, now));
          return { outcome: refreshed.saved ? 'refreshed' : 'kept', record: refreshed.record };
        } catch (error) {
          const outcome = target.onFailure(error, ctx.clock(), now, record);
          await releaseLease(ctx, target.ref, owner, outcome);
          throw error;
        }
      }
    }
    if (!options.wait) return { outcome: 'busy', record };
    waitedOnVersion = version;
    await pauseUntil(ctx, giveUpAt);
  }
}

/**
 * Runs `work` holding the record's lease, for a writer that is not a renewal but mints what the record
 * holds (a code exchange mints the authorizer's token: architecture §3, every writer joins the lease).
 * While it is held no renewal starts, and tokens served meanwhile are promised only until the claim plus
 * the 5-minute overlap (`promisedExpiry`), so what `work` mints kills no promise. Waits for another holder
 * as `refreshUnderLease` does; a record not there yet is claimed at version 0 (the store keeps a lease-only
 * item that readers do not see). The lease is released when `work` ends, whatever it did.
 *
 * @throws RefreshInProgressError when another holder kept the lease past `LEASE_WAIT_MS`.
 */
export async function holdingLease<T>(
  ctx: TokenContext,
  ref: LeasedRef,
  read: () => Promise<Leased | undefined>,
  work: (leaseCtx: TokenContext) => Promise<T>
): Promise<T> {
  const giveUpAt = waitLimit(ctx);
  for (;;) {
    const now = ctx.clock();
    const record = await read();
    if (!leaseHeld(record, now)) {
      const owner = await claimLease(ctx, ref, record?.version ?? 0, now);
      if (owner !== undefined) {
        try {
          return await work(holderContext(ctx, now));
        } finally {
          await releaseLease(ctx, ref, owner, {});
        }
      }
    }
    await pauseUntil(ctx, giveUpAt);
  }
}

/** When a caller stops waiting for another lease holder: after `LEASE_WAIT_MS`, or at its deadline. */
function waitLimit(ctx: TokenContext): number {
  return Math.min(ctx.clock() + LEASE_WAIT_MS, ctx.deadline ?? Number.POSITIVE_INFINITY);
}

/**
 * Claims the lease on `ref` for `LEASE_MS`, on the condition that the record is still at `version` and no
 * lease is held (architecture §3, step 2). Returns the new holder's id, or undefined when another writer
 * claimed or wrote first.
 */
async function claimLease(
  ctx: TokenContext,
  ref: LeasedRef,
  version: number,
  claimedAt: number
): Promise<string | undefined> {
  const owner = ctx.newLeaseOwner();
  try {
    await ctx.store.claim(ref, version, { owner, until: claimedAt + LEASE_MS }, claimedAt);
    return owner;
  } catch (error) {
    if (error instanceof ConcurrentUpdateError) return undefined;
    throw error;
  }
}

/** The context a holder whose lease was claimed at `claimedAt` works in: it saves before the lease ends. */
function holderContext(ctx: TokenContext, claimedAt: number): TokenContext {
  return underLease(ctx, claimedAt + LEASE_MS - LEASE_SAVE_RESERVE_MS);
}

/**
 * Releases the lease `owner` holds, recording `outcome`. A release that fails is only logged: the lease
 * expires by itself, and the holder's own result or error is what matters.
 */
function releaseLease(
  ctx: TokenContext,
  ref: LeasedRef,
  owner: string,
  outcome: ReleaseOutcome
): Promise<void> {
  return ctx.store.release(ref, owner, outcome, ctx.clock()).catch((releaseError: unknown) =>
    ctx.log.warn('could not release a lease; it will expire by itself', {
      kind: ref.kind,
      code: errorCode(releaseError),
    })
  );
}

/**
 * The context for work under a lease that ends at `until` (or earlier, at the invocation's deadline): every
 * WeChat call made with it ends before then, so a holder never calls WeChat after another may have taken the
 * lease (architecture §3, §7).
 */
export function underLease(ctx: TokenContext, until: number): TokenContext {
  const deadline = Math.min(until, ctx.deadline ?? Number.POSITIVE_INFINITY);
  return { ...ctx, deadline, api: ctx.api.within(deadline - ctx.clock()) };
}

async function pauseUntil(ctx: TokenContext, giveUpAt: number): Promise<void> {
  if (ctx.clock() >= giveUpAt) {
    throw new RefreshInProgressError('another refresh of this token has not finished yet');
  }
  await ctx.sleep(LEASE_POLL_MS * (0.5 + Math.random()));
}
