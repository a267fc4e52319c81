import { errorCode } from '../errors';
import { MetricName } from '../log';
import { QUOTA_WARN_SHARE, WECHAT_QUOTA_CHECK_EVERY_MS } from '../policy';
import { readRun, recordRun } from '../run-records';
import { withComponentToken } from '../serving/with-component-token';
import type { TokenContext } from '../token-context';
import { ApiPath } from '../wechat/wire';

/**
 * The component APIs the service calls, whose daily quota is the platform's (protocol §7.4, §11.6):
 * 45009 on any of them stops a flow for every merchant until Beijing midnight.
 */
export const QUOTA_WATCHED_APIS = [
  'api_component_token',
  'api_create_preauthcode',
  'api_query_auth',
  'api_authorizer_token',
  'api_get_authorizer_list',
  'api_get_authorizer_info',
] as const satisfies readonly (keyof typeof ApiPath)[];

export type WatchedApi = (typeof QUOTA_WATCHED_APIS)[number];

/** One API's quota as WeChat reports it: today's calls against the daily limit. */
export interface ApiQuotaUse {
  dailyLimit: number;
  used: number;
  /** `used / dailyLimit`, 0–1 (0 when WeChat reports no limit). */
  share: number;
}

/** What a quota check records for `status` (the run record `quota`). */
export interface QuotaSummary {
  /** Per API; an API WeChat could not report on this time is absent and named in `failed`. */
  apis: Partial<Record<WatchedApi, ApiQuotaUse>>;
  /** The largest share of any API: the metric `WechatQuotaUsedPercent` is this × 100. */
  highestShare: number;
  /** `highestShare` reached `QUOTA_WARN_SHARE` (the alarm's threshold). */
  nearLimit: boolean;
  failed: Partial<Record<WatchedApi, string>>;
}

/**
 * Asks WeChat how much of each watched API's daily quota the platform has used (`getApiQuota` with the
 * component token: the only way to see the limits, which WeChat does not publish), publishes the highest
 * share as `WechatQuotaUsedPercent` (its alarm fires at 80 %), logs each API's figures and records them for
 * `status`. One getApiQuota call per API; getApiQuota has its own quota, so this runs once a day
 * ({@link checkWechatQuotaIfDue}). Never throws: an API WeChat cannot report on is named in `failed`.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export async function checkWechatQuota(ctx: TokenContext): Promise<QuotaSummary> {
  const summary: QuotaSummary = { apis: {}, highestShare: 0, nearLimit: false, failed: {} };
  for (const api of QUOTA_WATCHED_APIS) {
    try {
      const { quota } = await withComponentToken(ctx, (ct) =>
        ctx.api.getApiQuota(ct, ApiPath[api])
      );
      const share = quota.daily_limit > 0 ? quota.used / quota.daily_limit : 0;
      summary.apis[api] = { dailyLimit: quota.daily_limit, used: quota.used, share };
      summary.highestShare = Math.max(summary.highestShare, share);
    } catch (error) {
      summary.failed[api] = errorCode(error);
    }
  }
  if (Object.keys(summary.apis).length > 0) {
    ctx.metrics.gauge(
      MetricName.WechatQuotaUsedPercent,
      Math.round(summary.highestShare * 1000) / 10,
      'Percent'
    );
  }
  summary.nearLimit = summary.highestShare >= QUOTA_WARN_SHARE;
  const log = summary.nearLimit ? ctx.log.warn : ctx.log.info;
  log('WeChat quota checked', {
    highestPercent: Math.round(summary.highestShare * 100),
    quotas: Object.entries(summary.apis)
      .map(([api, use]) => `${api} ${use.used}/${use.dailyLimit}`)
      .join(', '),
    unreported: Object.keys(summary.failed).length,
  });
  await recordRun(ctx, 'quota', summary);
  return summary;
}

/**
 * {@link checkWechatQuota} when the last check is older than `WECHAT_QUOTA_CHECK_EVERY_MS` (a day): called
 * by every scheduled sweep, at the cost of one run-record read.
 */
export async function checkWechatQuotaIfDue(ctx: TokenContext): Promise<QuotaSummary | undefined> {
  const last = await readRun(ctx, 'quota');
  if (last && ctx.clock() - last.finishedAt < WECHAT_QUOTA_CHECK_EVERY_MS) return undefined;
  return checkWechatQuota(ctx);
}
