import {
  AuthorizationCodeNeededError,
  AuthorizerNotFoundError,
  AuthorizerRevokedError,
  AuthorizerWithoutApiPermissionError,
  ConcurrentUpdateError,
  NeedsReauthorizationError,
  RefreshTokenUnusableError,
  WechatApiError,
} from '../errors';
import { samePermissions } from '../events/lifecycle-event';
import { pendingEventOf, settlePendingEvents } from '../events/outbox';
import { MetricName } from '../log';
import { LEASE_MS, refreshAtFor, SUCCESSION_ATTEMPTS } from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import type { AuthorizerRecord } from '../store/token-store';
import type { TokenContext } from '../token-context';
import type { AuthorizerTokenResponse } from '../wechat/wire';
import { findListedAuthorizer, type ListedAuthorizer, readAuthorization } from './authorizer-list';
import { AUTHORIZER_PROBE_PATH } from './check-reported-token';
import type { IssuedToken } from './servable-token';
import {
  peekToken,
  type RefreshOutcome,
  refreshTokenIfDue,
  type ServeOptions,
  serveToken,
  type TokenKind,
} from './serve-token';
import type { Refreshed } from './single-flight';
import { succession } from './succession';
import { withComponentToken } from './with-component-token';

/** Throws the caller-facing error for an authorizer whose token can never be served. */
export function assertActive(record: AuthorizerRecord | undefined, authorizerAppId: string) {
  if (!record) throw new AuthorizerNotFoundError(authorizerAppId);
  switch (record.status) {
    case 'revoked':
      throw new AuthorizerRevokedError(authorizerAppId);
    case 'needs_reauthorization':
      throw new NeedsReauthorizationError(authorizerAppId);
    case 'without_api_permission':
      throw new AuthorizerWithoutApiPermissionError(authorizerAppId);
    case 'awaiting_authorization_code':
      throw new AuthorizationCodeNeededError(authorizerAppId);
  }
}

const wechatKind = (error: unknown) => (error instanceof WechatApiError ? error.kind : undefined);

/**
 * Ends the authorization as `status` unless its refresh token changed meanwhile (a re-authorization won the
 * race: that newer record is returned instead).
 *
 * @throws NeedsReauthorizationError / AuthorizerRevokedError when it was ended.
 */
async function endAuthorization(
  ctx: TokenContext,
  record: AuthorizerRecord,
  status: 'needs_reauthorization' | 'revoked'
): Promise<AuthorizerRecord> {
  const { componentAppId, authorizerAppId, refreshToken } = record;
  const eventTime = ctx.clock();
  const event = pendingEventOf(ctx, {
    type: status,
    authorizerAppId,
    status,
    permissionSetIds: record.funcInfo,
    reason:
      status === 'revoked' ? 'revocation_confirmed_by_list' : 'refresh_token_rejected_not_listed',
    at: eventTime,
  });
  const ended = await ctx.store.endAuthorization(
    componentAppId,
    authorizerAppId,
    status,
    refreshToken ? { eventTime, expectedRefreshToken: refreshToken, event } : { eventTime, event },
    eventTime
  );
  if (!ended) {
    const current = await ctx.store.getAuthorizer(componentAppId, authorizerAppId);
    assertActive(current, authorizerAppId);
    return current as AuthorizerRecord;
  }
  await settlePendingEvents(ctx, authorizerAppId);
  if (status === 'revoked') {
    ctx.log.warn('WeChat confirms the merchant revoked the authorization; marked revoked');
    throw new AuthorizerRevokedError(authorizerAppId);
  }
  ctx.metrics.count(MetricName.NeedsReauthorization);
  ctx.log.error('WeChat has no usable refresh token for this authorizer; it must authorize again');
  throw new NeedsReauthorizationError(authorizerAppId);
}

/**
 * A listing is paged by offset over a set that changes (protocol §11.11): an authorizer missing from it may
 * have moved between pages. `api_get_authorizer_info` answers for that one account: 61003 confirms it no
 * longer authorizes the platform; an answer means it does, with its current refresh token.
 *
 * @returns undefined when WeChat confirms the absence; the authorizer as WeChat describes it otherwise.
 */
async function confirmUnlisted(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<ListedAuthorizer | undefined> {
  try {
    const { refreshToken } = await readAuthorization(ctx, authorizerAppId);
    ctx.log.warn('an authorizer missing from the listing is authorized at WeChat');
    return { authorizer_appid: authorizerAppId, refresh_token: refreshToken ?? '', auth_time: 0 };
  } catch (error) {
    if (wechatKind(error) === 'not_authorized') return undefined;
    throw error;
  }
}

/**
 * The permission sets of the authorizer's current authorization (`api_get_authorizer_info`, which mints
 * nothing); undefined when WeChat cannot say now (the stored ones are kept, and read again next time).
 */
async function listedPermissions(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<number[] | undefined> {
  try {
    return (await readAuthorization(ctx, authorizerAppId)).funcInfo;
  } catch (error) {
    reportWechatFailure(ctx, error, { step: 'permissions' });
    return undefined;
  }
}

/**
 * Calls `api_authorizer_token` with the stored refresh token. When WeChat rejects it (61023), or says the
 * authorizer no longer authorizes the platform (61003), or none is stored, WeChat's own list decides
 * (architecture §7, "evidence before verdicts"): listed with a refresh token → that token is persisted and
 * tried once; listed without a usable one → kept as it is and asked about later; not in a complete listing
 * and confirmed by `api_get_authorizer_info` (`confirmUnlisted`) → `needs_reauthorization` (61023) or
 * `revoked` (61003).
 */
async function refreshWithRecovery(
  ctx: TokenContext,
  record: AuthorizerRecord,
  owner: string,
  forced: boolean
): Promise<Refreshed<AuthorizerRecord>> {
  const { componentAppId, authorizerAppId } = record;
  const requestedAt = ctx.clock();
  const call = (refreshToken: string) =>
    withComponentToken(ctx, (ct) => ctx.api.apiAuthorizerToken(ct, authorizerAppId, refreshToken));

  const stored = record.refreshToken;
  let used = stored ?? '';
  let answer: AuthorizerTokenResponse | undefined;
  let rejection: 'refresh_token_invalid' | 'not_authorized' = 'refresh_token_invalid';
  if (stored) {
    try {
      answer = await call(stored);
    } catch (error) {
      const kind = wechatKind(error);
      if (kind !== 'refresh_token_invalid' && kind !== 'not_authorized') throw error;
      rejection = kind;
      const { errcode } = error as WechatApiError;
      ctx.log.warn(`refresh token rejected (${errcode}); asking api_get_authorizer_list`, {
        errcode,
      });
    }
  }
  if (!answer) {
    const listed =
      (await findListedAuthorizer(ctx, authorizerAppId)) ??
      (await confirmUnlisted(ctx, authorizerAppId));
    if (!listed) {
      return {
        record: await endAuthorization(
          ctx,
          record,
          rejection === 'not_authorized' ? 'revoked' : 'needs_reauthorization'
        ),
        saved: false,
      };
    }
    if (!listed.refresh_token || listed.refresh_token === stored) {
      throw new RefreshTokenUnusableError(
        'WeChat lists the authorizer but without a refresh token it accepts; asking again later'
      );
    }
    const recoveredAt = ctx.clock();
    // A later listed authorization is one whose push and redirect never reached us (a re-authorization,
    // a permission change): its time is kept, or the reconciliation would later take the record for older
    // than WeChat's and drop a live token, and its permission sets are read again (mints nothing).
    const listedAt = listed.auth_time * 1000;
    const missed = listedAt > record.authorizedAt;
    const funcInfo = missed ? await listedPermissions(ctx, authorizerAppId) : undefined;
    const changed = funcInfo !== undefined && !samePermissions(funcInfo, record.funcInfo);
    const recovered = await ctx.store.replaceRefreshToken(
      componentAppId,
      authorizerAppId,
      stored,
      listed.refresh_token,
      recoveredAt,
      {
        // Without its permission sets the record keeps its older time: the reconciliation reads them.
        authorizedAt: funcInfo ? listedAt : undefined,
        funcInfo,
        event: pendingEventOf(ctx, {
          type: changed ? 'permissions_changed' : 'recovered',
          authorizerAppId,
          status: 'active',
          permissionSetIds: funcInfo ?? record.funcInfo,
          reason: 'refresh_token_found_in_list',
          at: changed ? listedAt : recoveredAt,
        }),
      }
    );
    if (recovered) await settlePendingEvents(ctx, authorizerAppId);
    ctx.metrics.count(MetricName.RefreshTokenRecovered);
    used = listed.refresh_token;
    try {
      answer = await call(used);
    } catch (error) {
      const kind = wechatKind(error);
      if (kind !== 'refresh_token_invalid' && kind !== 'not_authorized') throw error;
      throw new RefreshTokenUnusableError('WeChat rejects the refresh token it lists', {
        cause: error,
      });
    }
  }
  return saveRefreshed(ctx, record, owner, answer, used, forced, requestedAt);
}

/**
 * Saves a renewed token as the lease holder; a refresh token WeChat returned is never lost. When the record
 * moved while WeChat was asked (a code exchange or import wrote meanwhile, or the lease ran out), the
 * newer of the two tokens stays (`succession`, architecture §3): a write refused because the record moved
 * never leaves an older token in place.
 */
async function saveRefreshed(
  ctx: TokenContext,
  record: AuthorizerRecord,
  owner: string,
  answer: AuthorizerTokenResponse,
  usedRefreshToken: string,
  forced: boolean,
  requestedAt: number
): Promise<Refreshed<AuthorizerRecord>> {
  const { componentAppId, authorizerAppId } = record;
  const now = ctx.clock();
  const expiresAt = now + answer.expires_in * 1000;
  const returnedRefreshToken = answer.authorizer_refresh_token ?? usedRefreshToken;
  const token = {
    accessToken: answer.authorizer_access_token,
    expiresAt,
    refreshAt: refreshAtFor(now, expiresAt),
    refreshToken: returnedRefreshToken,
    forcedAt: forced ? now : record.forcedAt,
    requestedAt,
  };
  let version = record.version;
  for (let attempt = 0; attempt < SUCCESSION_ATTEMPTS; attempt++) {
    try {
      const saved = await ctx.store.saveAuthorizerToken(
        componentAppId,
        authorizerAppId,
        owner,
        token,
        now,
        version
      );
      return { record: saved, saved: true };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
    }
    const current = await ctx.store.getAuthorizer(componentAppId, authorizerAppId);
    assertActive(current, authorizerAppId);
    const stored = current as AuthorizerRecord;
    const sameAuthorization =
      stored.refreshToken === usedRefreshToken || stored.refreshToken === returnedRefreshToken;
    if (!sameAuthorization) {
      // A re-authorization (or a recovery) stored another refresh token: ours belongs to the authorization
      // before it, whose tokens WeChat ended.
      ctx.log.warn('a newer authorization was stored while renewing; kept it');
      return { record: stored, saved: false };
    }
    if (returnedRefreshToken !== stored.refreshToken) {
      await ctx.store.replaceRefreshToken(
        componentAppId,
        authorizerAppId,
        stored.refreshToken,
        returnedRefreshToken,
        now
      );
    }
    const held = await holdLease(ctx, stored, owner, now);
    if (!held) {
      // Another renewal claimed the record after our lease ran out: its call began after ours ended.
      ctx.log.warn('lost the lease while renewing; a later renewal stands');
      return { record: stored, saved: false };
    }
    const decision = succession(stored, { ...token, issuedAt: now });
    if (decision.keep === 'incoming') {
      version = stored.version;
      continue;
    }
    const capped = 'capAt' in decision;
    await ctx.store.release(
      { kind: 'authorizer', componentAppId, authorizerAppId },
      owner,
      capped ? { retryAt: now, expiresAt: decision.capAt } : { errorCode: stored.lastErrorCode },
      now
    );
    if (capped) {
      ctx.metrics.count(MetricName.SupersededTokenCapped);
      ctx.log.warn('two tokens were issued at once; the stored one is capped and renewed at once');
    }
    return {
      record: (await ctx.store.getAuthorizer(componentAppId, authorizerAppId)) ?? stored,
      saved: false,
    };
  }
  throw new ConcurrentUpdateError('the authorizer record kept moving while a renewal was saved');
}

/**
 * Whether `owner` holds the lease on `record` as it now stands: still ours (a writer that does not take
 * the lease wrote meanwhile), or claimed again on this version when it ran out and nobody took it.
 */
async function holdLease(
  ctx: TokenContext,
  record: AuthorizerRecord,
  owner: string,
  now: number
): Promise<boolean> {
  if (record.leaseOwner === owner) return true;
  if (record.leaseUntil !== undefined && record.leaseUntil >= now) return false;
  try {
    await ctx.store.claim(
      {
        kind: 'authorizer',
        componentAppId: record.componentAppId,
        authorizerAppId: record.authorizerAppId,
      },
      record.version,
      { owner, until: now + LEASE_MS },
      now
    );
    return true;
  } catch (error) {
    if (error instanceof ConcurrentUpdateError) return false;
    throw error;
  }
}

function authorizerKind(ctx: TokenContext, authorizerAppId: string): TokenKind<AuthorizerRecord> {
  return {
    ref: { kind: 'authorizer', componentAppId: ctx.componentAppId, authorizerAppId },
    read: () => ctx.store.getAuthorizer(ctx.componentAppId, authorizerAppId),
    check: (record) => assertActive(record, authorizerAppId),
    renewable: (record) => record?.status === 'active',
    renew: (record, owner, leaseCtx, forced) =>
      refreshWithRecovery(leaseCtx, record as AuthorizerRecord, owner, forced),
    metrics: {
      succeeded: MetricName.AuthorizerRefreshSucceeded,
      failed: MetricName.AuthorizerRefreshFailed,
    },
    probePath: AUTHORIZER_PROBE_PATH,
    fields: { authorizerAppId },
  };
}

/**
 * An authorizer's `authorizer_access_token` for a caller (`serveToken`'s rules).
 *
 * @throws AuthorizerNotFoundError, AuthorizerRevokedError, NeedsReauthorizationError,
 *   AuthorizerWithoutApiPermissionError
 * @throws UpstreamUnavailableError / TicketUnavailableError when a needed refresh failed and no usable token
 *   remains.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getauthorizeraccesstoken.html
 */
export function getAuthorizerAccessToken(
  ctx: TokenContext,
  authorizerAppId: string,
  options: ServeOptions = {}
): Promise<IssuedToken> {
  return serveToken(ctx, authorizerKind(ctx, authorizerAppId), options);
}

/**
 * The stored authorizer token while it has promised life left, without refreshing.
 *
 * @throws the same status errors as `getAuthorizerAccessToken`.
 */
export function peekAuthorizerToken(
  ctx: TokenContext,
  authorizerAppId: string,
  invalidToken?: string
): Promise<IssuedToken | undefined> {
  return peekToken(ctx, authorizerKind(ctx, authorizerAppId), invalidToken);
}

/**
 * An operator's renewal of one authorizer now, whatever its `refreshAt`: through the lease like any other
 * (one WeChat call, `busy` when another refresher holds it), and with the same 61023 recovery. Callers
 * holding the previous token keep WeChat's 5-minute overlap, as after a caller's `invalidToken` report.
 *
 * @throws the refresh's error; the lease is released with a retry time first.
 */
export function refreshAuthorizerNow(
  ctx: TokenContext,
  authorizerAppId: string
): Promise<RefreshOutcome> {
  return refreshTokenIfDue(ctx, authorizerKind(ctx, authorizerAppId), () => true);
}

/**
 * Scheduled renewal of one authorizer listed as due. Skips it (without calling WeChat) when another
 * refresher holds the lease or it is no longer due.
 *
 * @throws the refresh's error; the lease is released with a retry time first.
 */
export function refreshAuthorizerIfDue(
  ctx: TokenContext,
  listed: AuthorizerRecord
): Promise<RefreshOutcome> {
  return refreshTokenIfDue(
    ctx,
    authorizerKind(ctx, listed.authorizerAppId),
    (record, now) => record?.refreshAt !== undefined && record.refreshAt <= now,
    listed
  );
}
