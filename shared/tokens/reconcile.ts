import { MetricName } from '../log';
import type { AuthorizerRecord } from '../store/token-store';
import type { AuthorizerListResponse } from '../wechat/wire';
import type { TokenContext } from './context';
import { AUTHORIZER_LIST_PAGE, SWEEP_CONCURRENCY, SWEEP_DEADLINE_RESERVE_MS } from './policy';
import { withComponentToken } from './with-component-token';

export interface ReconcileSummary {
  /** Authorizers WeChat lists for the platform. */
  listed: number;
  /** Listed but unknown here: their authorization code never reached us (or the table was restored). */
  imported: number;
  /** Revoked or needing re-authorization here, but authorized again at WeChat after that. */
  reactivated: number;
  /** Listed with an empty refresh token: only a new authorization can help (WeChat's documented case). */
  withoutRefreshToken: number;
  /** The time budget ran out before every page was read. */
  truncated: boolean;
}

type Listed = AuthorizerListResponse['list'][number];

/** What to do with one listed authorizer, given our record of it. */
function decide(
  listed: Listed,
  record: AuthorizerRecord | undefined
): 'import' | 'reactivate' | 'keep' {
  if (!record) return 'import';
  if (record.status === 'active') return 'keep';
  // We concluded the refresh token was gone, but WeChat lists one now: that listing is the evidence.
  if (record.status === 'needs_reauthorization' && listed.refresh_token) return 'reactivate';
  const authorizedAt = listed.auth_time * 1000;
  return authorizedAt > (record.endedAt ?? record.authorizedAt) ? 'reactivate' : 'keep';
}

/**
 * Reconciles the table with WeChat's list of the platform's authorizers (`api_get_authorizer_list`, 500 a
 * page). A listed authorizer we do not know, one we hold as ended although WeChat shows a later
 * authorization, or one we marked `needs_reauthorization` that WeChat lists with a refresh token, is stored
 * as active with the listed refresh token and is due at once, so the next sweep
 * (or the first caller) mints its access token. Active records are never touched here: their refresh token
 * is healed by the 61023 path. This is how an authorization whose code was lost is still never lost.
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
    withoutRefreshToken: 0,
    truncated: false,
  };
  for (let offset = 0; ; offset += AUTHORIZER_LIST_PAGE) {
    if (ctx.clock() >= stopAt) {
      summary.truncated = true;
      return summary;
    }
    const page = await withComponentToken(ctx, (ct) =>
      ctx.api.apiGetAuthorizerList(ct, offset, AUTHORIZER_LIST_PAGE)
    );
    summary.listed += page.list.length;
    for (let i = 0; i < page.list.length; i += SWEEP_CONCURRENCY) {
      await Promise.all(
        page.list
          .slice(i, i + SWEEP_CONCURRENCY)
          .map((listed) => reconcileOne(ctx, listed, summary))
      );
    }
    if (page.list.length === 0 || offset + AUTHORIZER_LIST_PAGE >= page.total_count) return summary;
  }
}

async function reconcileOne(
  ctx: TokenContext,
  listed: Listed,
  summary: ReconcileSummary
): Promise<void> {
  const record = await ctx.store.getAuthorizer(ctx.componentAppId, listed.authorizer_appid);
  const action = decide(listed, record);
  if (action === 'keep') return;
  if (!listed.refresh_token) {
    summary.withoutRefreshToken += 1;
    return;
  }
  const now = ctx.clock();
  const saved = await ctx.store.saveAuthorization(
    {
      componentAppId: ctx.componentAppId,
      authorizerAppId: listed.authorizer_appid,
      refreshToken: listed.refresh_token,
      funcInfo: record?.funcInfo ?? [],
      refreshAt: now,
      authorizedAt: Math.max(
        listed.auth_time * 1000,
        record?.status === 'needs_reauthorization' ? record.authorizedAt : 0
      ),
    },
    now
  );
  if (!saved) return;
  summary[action === 'import' ? 'imported' : 'reactivated'] += 1;
  ctx.metrics.count(MetricName.AuthorizationCompleted);
  ctx.log.warn(
    action === 'import'
      ? 'imported an authorizer WeChat lists but whose authorization never reached us'
      : 'reactivated an authorizer WeChat shows as authorized again',
    { authorizerAppId: listed.authorizer_appid }
  );
}
