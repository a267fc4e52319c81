import { errorCode, isUncertainOutcome, RefreshTokenUnusableError } from '../errors';
import type { LogFields, MetricName } from '../log';
import type { Leased, ReleaseOutcome } from '../store/token-store';
import type { TokenContext } from './context';
import {
  failureFrom,
  forcesRefresh,
  type IssuedToken,
  servableToken,
  type TokenFields,
} from './issued-token';
import {
  RETRY_AFTER_FAILURE_MS,
  SUPERSEDED_OVERLAP_MS,
  UNLISTED_REFRESH_TOKEN_RETRY_MS,
} from './policy';
import { type LeasedTarget, refreshUnderLease } from './single-flight';

type TokenRecord = Leased & TokenFields & { lastErrorCode?: string };

/**
 * One kind of token the service keeps (the platform's `component_access_token`, or one authorizer's
 * `authorizer_access_token`): how to read it, when it can never be served, and how to renew it. Serving,
 * refreshing and falling back are then the same rules for both kinds (`serveToken`, `refreshTokenIfDue`).
 */
export interface TokenKind<R extends TokenRecord> {
  read(): Promise<R | undefined>;
  /** Throws the caller-facing error when the record can never be served (unknown, revoked, …). */
  check(record: R | undefined): void;
  /**
   * The lease target; `first` saves the lease's first read when the caller already has the record, and
   * `forced` marks a renewal forced by an `invalidToken` report (recorded as `forcedAt`).
   */
  target(
    needsRefresh: (record: R | undefined, now: number) => boolean,
    first?: R,
    forced?: boolean
  ): LeasedTarget<R>;
  metrics: { succeeded: MetricName; failed: MetricName };
  /** Added to log lines (e.g. the authorizer appid). */
  fields: LogFields;
}

/**
 * What a failed renewal records. After an uncertain outcome (the call may have reached WeChat: timeout,
 * reset, lost answer) WeChat may have issued a successor at any moment since the lease was taken, so the
 * stored token is promised only until then plus the 5-minute overlap, and is renewed at once (architecture
 * §7). Otherwise the old token stays as it is and the renewal is retried a few minutes later.
 */
export function tokenFailureOutcome(
  error: unknown,
  now: number,
  _record: unknown,
  claimedAt: number
): ReleaseOutcome {
  if (isUncertainOutcome(error)) {
    return {
      errorCode: errorCode(error),
      retryAt: now,
      expiresAt: claimedAt + SUPERSEDED_OVERLAP_MS,
    };
  }
  const wait =
    error instanceof RefreshTokenUnusableError
      ? UNLISTED_REFRESH_TOKEN_RETRY_MS
      : RETRY_AFTER_FAILURE_MS;
  return { errorCode: errorCode(error), retryAt: now + wait };
}

/**
 * A token for a caller. The hot path is one read. The token is renewed (once, across every concurrent
 * caller, through the lease) only when its promised life is shorter than `SERVE_MIN_REMAINING_MS`, or when it is the token the caller
 * reports WeChat just rejected (`invalidToken`; compare-and-refresh, at most once per token per
 * `FORCED_REFRESH_MIN_INTERVAL_MS`). When the renewal fails, a token WeChat still accepts is served until
 * its promised expiry rather than an error; until the failed renewal's retry time, nobody tries again.
 *
 * @throws the kind's `check` errors (not found, revoked, …)
 * @throws UpstreamUnavailableError / TicketUnavailableError / the renewal's error when no usable token remains.
 */
export async function serveToken<R extends TokenRecord>(
  ctx: TokenContext,
  kind: TokenKind<R>,
  options: { invalidToken?: string } = {}
): Promise<IssuedToken> {
  const { invalidToken } = options;
  const stored = await kind.read();
  kind.check(stored);
  const current = servableToken(stored, ctx.clock(), invalidToken);
  if (current) return current;
  const backingOff = retryNotDue(stored, ctx.clock());
  if (backingOff) {
    const fallback = servableToken(stored, ctx.clock(), invalidToken, 0);
    if (fallback) return fallback;
    throw failureFrom(backingOff);
  }
  const needsRefresh = (record: R | undefined, now: number) =>
    !servableToken(record, now, invalidToken);
  let result: Awaited<ReturnType<typeof refreshUnderLease<R>>>;
  const forced = forcesRefresh(stored, invalidToken, ctx.clock());
  try {
    result = await refreshUnderLease(ctx, kind.target(needsRefresh, stored, forced), {
      wait: true,
    });
  } catch (error) {
    ctx.metrics.count(kind.metrics.failed, 1, errorCode(error));
    const latest = await kind.read();
    kind.check(latest);
    const fallback = servableToken(latest, ctx.clock(), invalidToken, 0);
    if (!fallback) throw error;
    ctx.log.warn('refresh failed; serving the stored token until its promised expiry', {
      ...kind.fields,
      code: errorCode(error),
    });
    return fallback;
  }
  if (result.outcome === 'refreshed') ctx.metrics.count(kind.metrics.succeeded);
  kind.check(result.record);
  const served = servableToken(result.record, ctx.clock(), invalidToken, 0);
  if (served) return served;
  throw failureFrom(result.outcome === 'failed_elsewhere' ? result.errorCode : undefined);
}

/**
 * The stored token if it may still be handed out (any promised life left), without refreshing: what an
 * answer falls back to when its deadline comes first.
 */
export async function peekToken<R extends TokenRecord>(
  ctx: TokenContext,
  kind: TokenKind<R>,
  invalidToken?: string
): Promise<IssuedToken | undefined> {
  const record = await kind.read();
  kind.check(record);
  return servableToken(record, ctx.clock(), invalidToken, 0);
}

/**
 * The recorded failure when the last renewal failed and its retry time (`refreshAt`) has not come: callers
 * are answered from the store (or with that failure) instead of each trying WeChat again, so a failing
 * authorizer costs one WeChat call per retry period, not one per caller.
 */
function retryNotDue(record: TokenRecord | undefined, now: number): string | undefined {
  if (record?.lastErrorCode === undefined || record.refreshAt === undefined) return undefined;
  return record.refreshAt > now ? record.lastErrorCode : undefined;
}

export type RefreshOutcome = 'refreshed' | 'current' | 'busy';

/**
 * Scheduled renewal: renews the token when its `refreshAt` has come (or it has none), without waiting for
 * another refresher that holds the lease (`busy`).
 *
 * @throws the renewal's error, after the lease was released with a retry time.
 */
export async function refreshTokenIfDue<R extends TokenRecord>(
  ctx: TokenContext,
  kind: TokenKind<R>,
  isDue: (record: R | undefined, now: number) => boolean,
  first?: R
): Promise<RefreshOutcome> {
  try {
    const result = await refreshUnderLease(ctx, kind.target(isDue, first), { wait: false });
    if (result.outcome === 'refreshed') {
      ctx.metrics.count(kind.metrics.succeeded);
      return 'refreshed';
    }
    return result.outcome === 'busy' ? 'busy' : 'current';
  } catch (error) {
    ctx.metrics.count(kind.metrics.failed, 1, errorCode(error));
    throw error;
  }
}

/** The `forcedAt` a renewal saves: now when a report forced it, else the record's previous one. */
export function forcedAtFor(
  record: TokenFields | undefined,
  forced: boolean | undefined,
  now: number
): number | undefined {
  return forced ? now : record?.forcedAt;
}

/** A lease target whose first read can be served from a record the caller already holds. */
export function leasedTarget<R extends TokenRecord>(
  base: Omit<LeasedTarget<R>, 'read' | 'onFailure'>,
  read: () => Promise<R | undefined>,
  first?: R
): LeasedTarget<R> {
  let pending = first;
  return {
    ...base,
    read: async () => {
      const record = pending;
      pending = undefined;
      return record ?? read();
    },
    onFailure: tokenFailureOutcome,
  };
}
