import {
  AuthorizerNotFoundError,
  AuthorizerRevokedError,
  ConcurrentUpdateError,
  errorCode,
  NeedsReauthorizationError,
  WechatApiError,
} from '../errors';
import { MetricName } from '../log';
import type { AuthorizerRecord } from '../store/token-store';
import type { TokenContext } from './context';
import { failureFrom, type IssuedToken, servableToken } from './issued-token';
import { AUTHORIZER_LIST_PAGE, RETRY_AFTER_FAILURE_MS, refreshAtFor } from './policy';
import { type LeasedTarget, refreshUnderLease } from './single-flight';
import { withComponentToken } from './with-component-token';

function assertActive(record: AuthorizerRecord | undefined, authorizerAppId: string) {
  if (!record) throw new AuthorizerNotFoundError(authorizerAppId);
  if (record.status === 'revoked') throw new AuthorizerRevokedError(authorizerAppId);
  if (record.status === 'needs_reauthorization') {
    throw new NeedsReauthorizationError(authorizerAppId);
  }
}

/**
 * Finds this authorizer's current refresh token in `api_get_authorizer_list`, paging 500 at a time. This is
 * how a lost or rotated refresh token is recovered without asking the merchant to authorize again.
 *
 * @returns the listed refresh token, or undefined when WeChat no longer lists the authorizer (or lists it
 *   with an empty token).
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerlist
 */
export async function recoverRefreshToken(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<string | undefined> {
  return withComponentToken(ctx, async (componentAccessToken) => {
    for (let offset = 0; ; offset += AUTHORIZER_LIST_PAGE) {
      const page = await ctx.api.apiGetAuthorizerList(
        componentAccessToken,
        offset,
        AUTHORIZER_LIST_PAGE
      );
      const found = page.list.find((item) => item.authorizer_appid === authorizerAppId);
      if (found) return found.refresh_token || undefined;
      if (page.list.length === 0 || offset + AUTHORIZER_LIST_PAGE >= page.total_count) {
        return undefined;
      }
    }
  });
}

/**
 * Marks the authorizer `needs_reauthorization` (tokens dropped, off the schedule) unless its refresh token
 * changed meanwhile (a re-authorization won the race: that newer record is returned instead).
 *
 * @throws NeedsReauthorizationError when it was marked.
 */
async function needsReauthorization(
  ctx: TokenContext,
  record: AuthorizerRecord,
  failedRefreshToken: string | undefined
): Promise<AuthorizerRecord> {
  const { componentAppId, authorizerAppId } = record;
  const eventTime = ctx.clock();
  const ended = await ctx.store.endAuthorization(
    componentAppId,
    authorizerAppId,
    'needs_reauthorization',
    failedRefreshToken ? { eventTime, expectedRefreshToken: failedRefreshToken } : { eventTime },
    eventTime
  );
  if (!ended) {
    const current = await ctx.store.getAuthorizer(componentAppId, authorizerAppId);
    assertActive(current, authorizerAppId);
    return current as AuthorizerRecord;
  }
  ctx.metrics.count(MetricName.NeedsReauthorization);
  ctx.log.error('WeChat has no usable refresh token for this authorizer; it must authorize again', {
    authorizerAppId,
  });
  throw new NeedsReauthorizationError(authorizerAppId);
}

/**
 * Calls `api_authorizer_token` with the stored refresh token; on 61023 (or no stored token) recovers the
 * token from `api_get_authorizer_list`, persists it, and retries once. When WeChat no longer lists the
 * authorizer, or rejects the token it lists, the authorizer is marked `needs_reauthorization`.
 */
async function refreshWithRecovery(
  ctx: TokenContext,
  record: AuthorizerRecord,
  owner: string
): Promise<AuthorizerRecord> {
  const { componentAppId, authorizerAppId } = record;
  const call = (refreshToken: string) =>
    withComponentToken(ctx, (ct) => ctx.api.apiAuthorizerToken(ct, authorizerAppId, refreshToken));

  const refreshToken = record.refreshToken;
  let usedRefreshToken = refreshToken ?? '';
  let answer: Awaited<ReturnType<typeof call>> | undefined;
  if (refreshToken) {
    try {
      answer = await call(refreshToken);
    } catch (error) {
      if (!(error instanceof WechatApiError && error.kind === 'refresh_token_invalid')) throw error;
      ctx.log.warn('refresh token rejected (61023); recovering it from api_get_authorizer_list', {
        authorizerAppId,
      });
    }
  }
  if (!answer) {
    const recovered = await recoverRefreshToken(ctx, authorizerAppId);
    if (!recovered) return needsReauthorization(ctx, record, record.refreshToken);
    if (recovered !== refreshToken) {
      await ctx.store.replaceRefreshToken(
        componentAppId,
        authorizerAppId,
        refreshToken,
        recovered,
        ctx.clock()
      );
    }
    ctx.metrics.count(MetricName.RefreshTokenRecovered);
    usedRefreshToken = recovered;
    try {
      answer = await call(recovered);
    } catch (error) {
      if (!(error instanceof WechatApiError && error.kind === 'refresh_token_invalid')) throw error;
      // WeChat rejects the very token it lists: nothing left to recover automatically.
      return needsReauthorization(ctx, record, recovered);
    }
  }

  const now = ctx.clock();
  const expiresAt = now + answer.expires_in * 1000;
  const returnedRefreshToken = answer.authorizer_refresh_token ?? usedRefreshToken;
  try {
    return await ctx.store.saveAuthorizerToken(
      componentAppId,
      authorizerAppId,
      owner,
      {
        accessToken: answer.authorizer_access_token,
        expiresAt,
        refreshAt: refreshAtFor(now, expiresAt),
        refreshToken: returnedRefreshToken,
      },
      now
    );
  } catch (error) {
    if (!(error instanceof ConcurrentUpdateError)) throw error;
    if (returnedRefreshToken !== usedRefreshToken) {
      await ctx.store.replaceRefreshToken(
        componentAppId,
        authorizerAppId,
        usedRefreshToken,
        returnedRefreshToken,
        now
      );
    }
    ctx.log.warn('lost the lease while refreshing; kept the stored authorizer record', {
      authorizerAppId,
    });
    const current = await ctx.store.getAuthorizer(componentAppId, authorizerAppId);
    assertActive(current, authorizerAppId);
    return current as AuthorizerRecord;
  }
}

function authorizerTarget(
  ctx: TokenContext,
  authorizerAppId: string,
  needsRefresh: (record: AuthorizerRecord | undefined, now: number) => boolean,
  first?: AuthorizerRecord
): LeasedTarget<AuthorizerRecord> {
  let pending = first;
  return {
    ref: { kind: 'authorizer', componentAppId: ctx.componentAppId, authorizerAppId },
    read: async () => {
      if (pending) {
        const record = pending;
        pending = undefined;
        return record;
      }
      return ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId);
    },
    needsRefresh,
    refresh: (record, owner) => refreshWithRecovery(ctx, record as AuthorizerRecord, owner),
    onFailure: (error, now) => ({
      errorCode: errorCode(error),
      retryAt: now + RETRY_AFTER_FAILURE_MS,
    }),
  };
}

/**
 * An authorizer's `authorizer_access_token` for a caller. The hot path is one read. The token is refreshed
 * (once, across all concurrent callers) only when it has less than `SERVE_MIN_REMAINING_MS` left or equals
 * `invalidToken`, the token WeChat just rejected for the caller (compare-and-refresh: a stale report of an
 * already replaced token refreshes nothing).
 *
 * @throws AuthorizerNotFoundError, AuthorizerRevokedError, NeedsReauthorizationError
 * @throws UpstreamUnavailableError / TicketUnavailableError when a needed refresh failed and no usable token
 *   remains.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getauthorizeraccesstoken.html
 */
export async function getAuthorizerAccessToken(
  ctx: TokenContext,
  authorizerAppId: string,
  options: { invalidToken?: string } = {}
): Promise<IssuedToken> {
  const stored = await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId);
  assertActive(stored, authorizerAppId);
  const current = servableToken(stored, ctx.clock(), options.invalidToken);
  if (current) return current;
  const needsRefresh = (record: AuthorizerRecord | undefined, now: number) =>
    record?.status === 'active' && !servableToken(record, now, options.invalidToken);
  let result: Awaited<ReturnType<typeof refreshUnderLease<AuthorizerRecord>>>;
  try {
    result = await refreshUnderLease(
      ctx,
      authorizerTarget(ctx, authorizerAppId, needsRefresh, stored),
      { wait: true }
    );
  } catch (error) {
    ctx.metrics.count(MetricName.AuthorizerRefreshFailed, 1, errorCode(error));
    if (error instanceof NeedsReauthorizationError) throw error;
    const fallback = servableToken(
      await ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId),
      ctx.clock(),
      options.invalidToken,
      0
    );
    if (!fallback) throw error;
    ctx.log.warn('refresh failed; serving the stored token until it expires', {
      authorizerAppId,
      code: errorCode(error),
    });
    return fallback;
  }
  if (result.outcome === 'refreshed') ctx.metrics.count(MetricName.AuthorizerRefreshSucceeded);
  const record = result.record;
  assertActive(record, authorizerAppId);
  const served = servableToken(record, ctx.clock(), options.invalidToken, 0);
  if (served) return served;
  throw failureFrom(result.outcome === 'failed_elsewhere' ? result.errorCode : undefined);
}

export type AuthorizerRefreshOutcome = 'refreshed' | 'current' | 'busy';

/**
 * Scheduled renewal of one authorizer listed as due. Skips it (without calling WeChat) when another
 * refresher holds the lease or it is no longer due.
 *
 * @throws the refresh's error; the lease is released with a retry time first.
 */
export async function refreshAuthorizerIfDue(
  ctx: TokenContext,
  listed: AuthorizerRecord
): Promise<AuthorizerRefreshOutcome> {
  const target = authorizerTarget(
    ctx,
    listed.authorizerAppId,
    (record, now) =>
      record?.status === 'active' && record.refreshAt !== undefined && record.refreshAt <= now,
    listed
  );
  try {
    const result = await refreshUnderLease(ctx, target, { wait: false });
    if (result.outcome === 'refreshed') {
      ctx.metrics.count(MetricName.AuthorizerRefreshSucceeded);
      return 'refreshed';
    }
    return result.outcome === 'busy' ? 'busy' : 'current';
  } catch (error) {
    ctx.metrics.count(MetricName.AuthorizerRefreshFailed, 1, errorCode(error));
    throw error;
  }
}
