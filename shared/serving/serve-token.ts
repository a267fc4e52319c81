import { errorCode, isUncertainOutcome, RefreshTokenUnusableError } from '../errors';
import { type LogFields, MetricName } from '../log';
import {
  RETRY_AFTER_FAILURE_MS,
  SUPERSEDED_OVERLAP_MS,
  UNLISTED_REFRESH_TOKEN_RETRY_MS,
} from '../policy';
import type { Leased, LeasedRef, ReleaseOutcome } from '../store/token-store';
import { type TokenContext, withLogContext } from '../token-context';
import { checkReportedToken } from './check-reported-token';
import {
  failureFrom,
  fallbackToken,
  forcesRefresh,
  type IssuedToken,
  reportPending,
  servableToken,
  type TokenFields,
} from './servable-token';
import { type LeasedTarget, type Refreshed, refreshUnderLease } from './single-flight';

type TokenRecord = Leased & TokenFields & { lastErrorCode?: string };

/**
 * One kind of token the service keeps (the platform's `component_access_token`, or one authorizer's
 * `authorizer_access_token`): where it is stored, when it can never be served or renewed, and how to renew
 * it. Serving, refreshing and falling back are then the same rules for both kinds (`serveToken`,
 * `refreshTokenIfDue`), and so is the lease a renewal holds (`renewalTarget`).
 */
export interface TokenKind<R extends TokenRecord> {
  /** The record a renewal holds the lease on. */
  ref: LeasedRef;
  read(): Promise<R | undefined>;
  /** Throws the caller-facing error when the record can never be served (unknown, revoked, …). */
  check(record: R | undefined): void;
  /** Whether the record may be renewed at all, whatever its token's age (an authorizer: only while active). */
  renewable(record: R | undefined): boolean;
  /**
   * Calls WeChat and saves the new token as the lease holder `owner` (`LeasedTarget.refresh`). `forced`: a
   * caller reported the stored token rejected, so the save records this renewal as `forcedAt`. `leaseCtx`
   * logs with {@link TokenKind.fields}.
   */
  renew(
    record: R | undefined,
    owner: string,
    leaseCtx: TokenContext,
    forced: boolean
  ): Promise<Refreshed<R>>;
  /**
   * The `cgi_path` a token of this kind asks getApiQuota about when a report is checked. Absent for a kind
   * no cheap call can check (an authorizer's `getticket` ticket): a report of it is then never checked,
   * and renews only within the report limits (`forcesRefresh`), as an inconclusive check does.
   */
  probePath?: string;
  metrics: { succeeded: MetricName; failed: MetricName };
  /**
   * On every log line of a serve or renewal of this token (e.g. the authorizer appid), including the lines of
   * what it calls under the lease (`withLogContext`).
   */
  fields: LogFields;
}

/**
 * What a failed renewal records. After an uncertain outcome (the call may have reached WeChat: timeout,
 * reset, lost answer) WeChat may have issued a successor at any moment since the lease was taken, so the
 * stored token is promised only until then plus the 5-minute overlap, and is renewed at once (architecture
 * §7). Otherwise the old token stays as it is and the renewal is retried a few minutes later.
 */
function tokenFailureOutcome(error: unknown, failedAt: number, claimedAt: number): ReleaseOutcome {
  if (isUncertainOutcome(error)) {
    return {
      errorCode: errorCode(error),
      retryAt: failedAt,
      expiresAt: claimedAt + SUPERSEDED_OVERLAP_MS,
    };
  }
  const wait =
    error instanceof RefreshTokenUnusableError
      ? UNLISTED_REFRESH_TOKEN_RETRY_MS
      : RETRY_AFTER_FAILURE_MS;
  return { errorCode: errorCode(error), retryAt: failedAt + wait };
}

/**
 * The lease target for a caller's report that the stored token was rejected: the holder first asks WeChat
 * whether the token is dead (`checkReportedToken`). Dead: renewed now, whatever the report limits say, and
 * if that renewal fails the dead token is no longer promised to anyone. Alive: nothing is renewed (a false
 * report shortens no other caller's token) and the check is recorded, so reports of it within
 * `REPORT_CHECK_INTERVAL_MS` are answered from the store. Inconclusive: renewed only within the
 * forced-refresh limits (`forcesRefresh`). A kind without a `probePath` is never checked: its reports
 * are all inconclusive.
 */
function checkingReport<R extends TokenRecord>(
  ctx: TokenContext,
  kind: TokenKind<R>,
  renewal: LeasedTarget<R>,
  invalidToken: string,
  verdicts: { dead: boolean; confirmed: boolean }
): LeasedTarget<R> {
  return {
    ...renewal,
    refresh: async (record, owner, leaseCtx) => {
      const at = leaseCtx.clock();
      if (!reportPending(record, invalidToken, at)) return renewal.refresh(record, owner, leaseCtx);
      const verdict = verdicts.confirmed
        ? 'dead'
        : kind.probePath === undefined
          ? 'unknown'
          : await checkReportedToken(leaseCtx, invalidToken, kind.probePath);
      verdicts.dead = verdict === 'dead';
      const checkedAt = leaseCtx.clock();
      const renew =
        verdict === 'dead' ||
        !servableToken(record, checkedAt) ||
        (verdict === 'unknown' && forcesRefresh(record, checkedAt));
      if (verdict !== 'unknown' && !verdicts.confirmed) {
        ctx.metrics.count(
          verdict === 'dead' ? MetricName.ReportedTokenDead : MetricName.ReportedTokenAlive
        );
      }
      ctx.log.info(
        kind.probePath === undefined && !verdicts.confirmed
          ? 'a caller reported a credential rejected that no call can check; report limits apply'
          : 'checked a token a caller reported as rejected',
        { verdict, renewed: renew }
      );
      if (renew) return renewal.refresh(record, owner, leaseCtx);
      // Alive: recorded, so reports within the interval are answered with it. Inconclusive and not
      // renewed (the report limits): nothing recorded, and no reporter is handed it back (`serveToken`).
      await ctx.store.release(
        renewal.ref,
        owner,
        {
          errorCode: record?.lastErrorCode,
          ...(verdict === 'alive' ? { reportCheckedAt: checkedAt } : {}),
        },
        checkedAt
      );
      return { record: (await kind.read()) ?? (record as R), saved: false };
    },
    onFailure: (error, failedAt, claimedAt, record) => {
      const outcome = renewal.onFailure(error, failedAt, claimedAt, record);
      return verdicts.dead ? { ...outcome, expiresAt: failedAt } : outcome;
    },
  };
}

export interface ServeOptions {
  /** A token a caller reports WeChat rejected (40001/42001/40014): checked, and renewed if dead. */
  invalidToken?: string;
  /**
   * WeChat rejected `invalidToken` on one of the service's own calls: first-hand evidence, so it is
   * renewed without a check.
   */
  rejectedOnOwnCall?: boolean;
}

/**
 * A token for a caller. The hot path is one read. The token is renewed (once, across every concurrent
 * caller, through the lease) only when its promised life is shorter than `SERVE_MIN_REMAINING_MS`, or when
 * it is the token the caller reports WeChat just rejected (`invalidToken`) and a check proves it dead
 * (`checkingReport`). When the renewal fails, a token not known to be dead is served until its promised
 * expiry rather than an error; until the failed renewal's retry time, nobody tries again.
 *
 * @throws the kind's `check` errors (not found, revoked, …)
 * @throws UpstreamUnavailableError / TicketUnavailableError / the renewal's error when no usable token remains.
 */
export async function serveToken<R extends TokenRecord>(
  callerCtx: TokenContext,
  kind: TokenKind<R>,
  options: ServeOptions = {}
): Promise<IssuedToken> {
  const { invalidToken } = options;
  const stored = await kind.read();
  kind.check(stored);
  const reported = reportPending(stored, invalidToken, callerCtx.clock());
  if (!reported) {
    const current = servableToken(stored, callerCtx.clock());
    if (current) return current;
  }
  const ctx = withLogContext(callerCtx, kind.fields);
  // The reported token goes back to a reporter only when a check within the interval found it alive.
  const fallbackForCaller = (record: R | undefined) =>
    reportPending(record, invalidToken, ctx.clock())
      ? undefined
      : fallbackToken(record, ctx.clock());
  const backedOffFailure = failureBackingOff(stored, ctx.clock());
  if (backedOffFailure) {
    const fallback = fallbackForCaller(stored);
    if (fallback) return fallback;
    throw failureFrom(backedOffFailure);
  }
  const needsRefresh = (record: R | undefined, now: number) =>
    reportPending(record, invalidToken, now) || !servableToken(record, now);
  const verdicts = { dead: false, confirmed: options.rejectedOnOwnCall === true };
  const renewal = renewalTarget(kind, needsRefresh, reported);
  const target =
    invalidToken === undefined
      ? renewal
      : checkingReport(ctx, kind, renewal, invalidToken, verdicts);
  let result: Awaited<ReturnType<typeof refreshUnderLease<R>>>;
  try {
    result = await refreshUnderLease(ctx, target, { wait: true, firstRead: stored });
  } catch (error) {
    ctx.metrics.count(kind.metrics.failed, 1, errorCode(error));
    const latest = await kind.read();
    kind.check(latest);
    const fallback = fallbackForCaller(latest);
    if (!fallback) throw error;
    ctx.log.warn('refresh failed; serving the stored token until its promised expiry', {
      code: errorCode(error),
    });
    return fallback;
  }
  if (result.outcome === 'refreshed') ctx.metrics.count(kind.metrics.succeeded);
  kind.check(result.record);
  const served = fallbackForCaller(result.record);
  if (served) return served;
  throw failureFrom(result.outcome === 'failed_elsewhere' ? result.errorCode : undefined);
}

/**
 * The stored token if it may still be handed out (any promised life left), without refreshing: what an
 * answer falls back to when its deadline comes first. A reported token is handed back only when a check
 * within `REPORT_CHECK_INTERVAL_MS` found it alive.
 */
export async function peekToken<R extends TokenRecord>(
  ctx: TokenContext,
  kind: TokenKind<R>,
  invalidToken?: string
): Promise<IssuedToken | undefined> {
  const record = await kind.read();
  kind.check(record);
  const now = ctx.clock();
  if (reportPending(record, invalidToken, now)) return undefined;
  return fallbackToken(record, now);
}

/**
 * The recorded failure when the last renewal failed and its retry time (`refreshAt`) has not come: callers
 * are answered from the store (or with that failure) instead of each trying WeChat again, so a failing
 * authorizer costs one WeChat call per retry period, not one per caller.
 */
function failureBackingOff(record: TokenRecord | undefined, now: number): string | undefined {
  if (record?.lastErrorCode === undefined || record.refreshAt === undefined) return undefined;
  return record.refreshAt > now ? record.lastErrorCode : undefined;
}

/** `kept`: this refresher called WeChat, but another writer's newer token stands (architecture §3). */
export type RefreshOutcome = 'refreshed' | 'current' | 'busy' | 'kept';

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
  firstRead?: R
): Promise<RefreshOutcome> {
  try {
    const result = await refreshUnderLease(
      withLogContext(ctx, kind.fields),
      renewalTarget(kind, isDue),
      { wait: false, firstRead }
    );
    if (result.outcome === 'refreshed') {
      ctx.metrics.count(kind.metrics.succeeded);
      return 'refreshed';
    }
    if (result.outcome === 'kept' || result.outcome === 'busy') return result.outcome;
    return 'current';
  } catch (error) {
    ctx.metrics.count(kind.metrics.failed, 1, errorCode(error));
    throw error;
  }
}

/**
 * The lease target of a renewal of `kind`'s record, renewed when `needsRefresh` says so and the kind allows it
 * (architecture §3). `forced`: a caller reported the stored token rejected (`TokenKind.renew`).
 */
function renewalTarget<R extends TokenRecord>(
  kind: TokenKind<R>,
  needsRefresh: (record: R | undefined, now: number) => boolean,
  forced = false
): LeasedTarget<R> {
  return {
    ref: kind.ref,
    read: kind.read,
    needsRefresh: (record, now) => kind.renewable(record) && needsRefresh(record, now),
    refresh: (record, owner, leaseCtx) => kind.renew(record, owner, leaseCtx, forced),
    onFailure: tokenFailureOutcome,
  };
}
