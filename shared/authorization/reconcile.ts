import { ServiceError } from '../errors';
import { samePermissions } from '../events/lifecycle-event';
import { authorizationEventOf, pendingEventOf, settlePendingEvents } from '../events/outbox';
import { MetricName } from '../log';
import {
  RECONCILE_RETRY_PAUSES_MS,
  SUCCESSION_ATTEMPTS,
  SWEEP_CONCURRENCY,
  SWEEP_DEADLINE_RESERVE_MS,
} from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import { listPageSize, readAuthorization } from '../serving/authorizer-list';
import { storedTokenMayLive } from '../serving/check-reported-token';
import { withComponentToken } from '../serving/with-component-token';
import type { AuthorizerRecord } from '../store/token-store';
import { type TokenContext, withLogContext } from '../token-context';
import type { AuthorizerListResponse } from '../wechat/wire';

export interface ReconcileSummary {
  /** Authorizers WeChat lists for the platform. */
  listed: number;
  /** Listed but unknown here: their authorization code never reached us (or the table was restored). */
  imported: number;
  /** Revoked or needing re-authorization here, but authorized again at WeChat after that. */
  reactivated: number;
  /**
   * Active here, but authorized again at WeChat (a later `auth_time`) without the push or redirect
   * reaching us: with another refresh token, stored with it and renewed at once (the old token died with
   * the old authorization); with the same one (a permission change), its permission sets read again and
   * the token kept.
   */
  reauthorized: number;
  /**
   * Listed with an empty refresh token and none from `api_get_authorizer_info` either (WeChat's documented
   * empty-token case): an unknown one is recorded as `awaiting_authorization_code`.
   */
  withoutRefreshToken: number;
  /** Listed authorizers WeChat could not tell us more about this time (retried next run). */
  failed: number;
  /** The time budget ran out before every page was read. */
  truncated: boolean;
}

type Listed = AuthorizerListResponse['list'][number];

/**
 * What to do with one listed authorizer, given our record of it. An active record WeChat lists with another
 * refresh token and a later `auth_time` was authorized again while both the push and the redirect were lost
 * (a re-authorization always changes the refresh token, protocol §7.3): its token died with it, and its
 * permissions may differ.
 */
function decide(
  listed: Listed,
  record: AuthorizerRecord | undefined
): 'import' | 'reactivate' | 'reauthorize' | 'read_permissions' | 'keep' {
  if (!record) return 'import';
  if (record.status === 'active') {
    if (listed.auth_time * 1000 <= record.authorizedAt) return 'keep';
    const otherToken = listed.refresh_token !== '' && listed.refresh_token !== record.refreshToken;
    return otherToken ? 'reauthorize' : 'read_permissions';
  }
  // We concluded the refresh token was gone (or never issued), but WeChat lists one now: that is evidence.
  const tokenless =
    record.status === 'needs_reauthorization' ||
    record.status === 'without_api_permission' ||
    record.status === 'awaiting_authorization_code';
  if (tokenless && listed.refresh_token) return 'reactivate';
  const authorizedAt = listed.auth_time * 1000;
  return authorizedAt > (record.endedAt ?? record.authorizedAt) ? 'reactivate' : 'keep';
}

/**
 * Reconciles the table with WeChat's list of the platform's authorizers (`api_get_authorizer_list`, 500 a
 * page). A listed authorizer we do not know, one we hold as ended although WeChat shows a later
 * authorization, or one we marked `needs_reauthorization` that WeChat lists with a refresh token, is stored
 * as active with the listed refresh token and is due at once, so the next sweep
 * (or the first caller) mints its access token. An active record is touched only when WeChat shows a
 * re-authorization we missed (`decide`); otherwise its refresh token is healed by the 61023 path. This is
 * how an authorization whose code was lost is still never lost.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerlist
 */
export async function reconcileAuthorizers(
  ctx: TokenContext,
  options: {
    deadline: number;
    /** Time kept free before `deadline`. @default SWEEP_DEADLINE_RESERVE_MS */
    reserveMs?: number;
  }
): Promise<ReconcileSummary> {
  const stopAt = options.deadline - (options.reserveMs ?? SWEEP_DEADLINE_RESERVE_MS);
  const summary: ReconcileSummary = {
    listed: 0,
    imported: 0,
    reactivated: 0,
    reauthorized: 0,
    withoutRefreshToken: 0,
    failed: 0,
    truncated: false,
  };
  const pageSize = listPageSize(ctx);
  for (let offset = 0; ; offset += pageSize) {
    if (ctx.clock() >= stopAt) {
      summary.truncated = true;
      return summary;
    }
    const page = await readPage(ctx, offset, stopAt);
    summary.listed += page.list.length;
    for (let i = 0; i < page.list.length; i += SWEEP_CONCURRENCY) {
      await Promise.all(
        page.list
          .slice(i, i + SWEEP_CONCURRENCY)
          .map((listed) => reconcileOne(ctx, listed, summary))
      );
    }
    if (page.list.length === 0 || offset + pageSize >= page.total_count) return summary;
  }
}

/**
 * One list page. A transient failure (busy, timeout, malformed answer) is retried a few times within the
 * run rather than leaving authorizations unimported until the next scheduled reconciliation, 6 hours on.
 */
async function readPage(
  ctx: TokenContext,
  offset: number,
  stopAt: number
): Promise<AuthorizerListResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withComponentToken(ctx, (ct) =>
        ctx.api.apiGetAuthorizerList(ct, offset, listPageSize(ctx))
      );
    } catch (error) {
      const pause = RECONCILE_RETRY_PAUSES_MS[attempt];
      const transient = error instanceof ServiceError && error.retryable;
      if (!transient || pause === undefined || ctx.clock() + pause >= stopAt) throw error;
      await ctx.sleep(pause);
    }
  }
}

/**
 * Reconciles one listed authorizer. The write is made only on the version it was decided on: when a code
 * exchange or a renewal wrote meanwhile, the record is read and decided again (architecture §3). Every line
 * logged for it, here and below, carries its `authorizerAppId`.
 */
async function reconcileOne(
  runCtx: TokenContext,
  listed: Listed,
  summary: ReconcileSummary
): Promise<void> {
  const ctx = withLogContext(runCtx, { authorizerAppId: listed.authorizer_appid });
  for (let attempt = 0; attempt < SUCCESSION_ATTEMPTS; attempt++) {
    const record = await ctx.store.getAuthorizer(ctx.componentAppId, listed.authorizer_appid);
    const outcome = await reconcileRecord(ctx, listed, record, summary);
    if (outcome !== 'moved') return;
  }
  summary.failed += 1;
}

/**
 * An active authorizer authorized again at WeChat with the same refresh token (a permission change whose
 * push and redirect never reached us): its permission sets are read again (`api_get_authorizer_info`,
 * nothing minted) and stored with the listed time, the token kept; `permissions_changed` when they differ.
 */
async function readPermissions(
  ctx: TokenContext,
  listed: Listed,
  record: AuthorizerRecord,
  summary: ReconcileSummary,
  listedRefreshToken?: string
): Promise<'done' | 'moved'> {
  const appId = listed.authorizer_appid;
  let funcInfo: number[];
  try {
    funcInfo = (await readAuthorization(ctx, appId)).funcInfo;
  } catch (error) {
    summary.failed += 1;
    reportWechatFailure(ctx, error);
    return 'done';
  }
  const authorizedAt = listed.auth_time * 1000;
  const event = samePermissions(funcInfo, record.funcInfo)
    ? undefined
    : pendingEventOf(ctx, {
        type: 'permissions_changed',
        authorizerAppId: appId,
        status: 'active',
        permissionSetIds: funcInfo,
        reason: 'reconciliation',
        at: authorizedAt,
      });
  const refreshToken = record.refreshToken as string;
  const saved = await ctx.store.replaceRefreshToken(
    ctx.componentAppId,
    appId,
    refreshToken,
    listedRefreshToken ?? refreshToken,
    ctx.clock(),
    { authorizedAt, funcInfo, event }
  );
  if (!saved) return 'moved';
  await settlePendingEvents(ctx, appId);
  summary.reauthorized += 1;
  ctx.log.warn('read the permissions of an authorization whose push and redirect never reached us');
  return 'done';
}

async function reconcileRecord(
  ctx: TokenContext,
  listed: Listed,
  record: AuthorizerRecord | undefined,
  summary: ReconcileSummary
): Promise<'done' | 'moved'> {
  const action = decide(listed, record);
  if (action === 'keep') return 'done';
  if (action === 'read_permissions') {
    return readPermissions(ctx, listed, record as AuthorizerRecord, summary);
  }
  if (action === 'reauthorize' && (await storedTokenMayLive(ctx, record))) {
    // WeChat still accepts the token callers hold: a permission change that kept it, the refresh token
    // rotated meanwhile (protocol §11.12, §7.3). Dropping it would end their promises for nothing.
    return readPermissions(ctx, listed, record as AuthorizerRecord, summary, listed.refresh_token);
  }
  let granted: { refreshToken?: string; funcInfo: number[] };
  try {
    // Every action here stores an authorization we did not see: its permission sets are WeChat's, not
    // those of an earlier one (or none), and info's refresh token is the current one.
    const info = await readAuthorization(ctx, listed.authorizer_appid);
    granted = { ...info, refreshToken: info.refreshToken || listed.refresh_token || undefined };
  } catch (error) {
    summary.failed += 1;
    reportWechatFailure(ctx, error);
    return 'done';
  }
  if (!granted.refreshToken) {
    summary.withoutRefreshToken += 1;
    if (record && record.status !== 'revoked') return 'done';
  }
  const now = ctx.clock();
  // WeChat's FAQ: an empty refresh token is obtained again only with an authorization code.
  const withoutRefreshToken = 'awaiting_authorization_code' as const;
  const event = authorizationEventOf(
    ctx,
    record,
    { authorizerAppId: listed.authorizer_appid, ...granted, withoutRefreshToken },
    { at: listed.auth_time * 1000, reason: 'reconciliation' }
  );
  const saved = await ctx.store.saveAuthorization(
    {
      componentAppId: ctx.componentAppId,
      authorizerAppId: listed.authorizer_appid,
      expectedVersion: record?.version ?? 0,
      refreshToken: granted.refreshToken,
      withoutRefreshToken,
      funcInfo: granted.funcInfo,
      refreshAt: now,
      authorizedAt: Math.max(
        listed.auth_time * 1000,
        record?.status === 'needs_reauthorization' ? record.authorizedAt : 0
      ),
      event,
    },
    now
  );
  if (!saved) return 'moved';
  await settlePendingEvents(ctx, listed.authorizer_appid);
  summary[
    action === 'import' ? 'imported' : action === 'reactivate' ? 'reactivated' : 'reauthorized'
  ] += 1;
  ctx.metrics.count(MetricName.AuthorizationCompleted);
  ctx.log.warn(
    {
      import: 'imported an authorizer WeChat lists but whose authorization never reached us',
      reactivate: 'reactivated an authorizer WeChat shows as authorized again',
      reauthorize: 'stored a re-authorization whose push and redirect never reached us',
    }[action]
  );
  return 'done';
}
