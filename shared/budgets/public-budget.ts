import {
  PUBLIC_ROUTE_BUDGET_PER_DAY,
  PUBLIC_ROUTE_BUDGET_PER_MINUTE,
  WECHAT_DAY_OFFSET_MS,
} from '../policy';
import type { BudgetWindow } from '../store/token-store';
import type { TokenContext } from '../token-context';

/**
 * The public routes, each with its own budget: `authorize` (`GET /authorize`, one `api_create_preauthcode`
 * per visit) and `authorize-callback` (`GET /authorize/callback`, at most one `api_query_auth` and one
 * `api_get_authorizer_info` per visit).
 */
export type PublicRoute = 'authorize' | 'authorize-callback';

export interface PublicRouteBudget {
  perMinute: number;
  perDay: number;
}

export interface BudgetDenied {
  granted: false;
  /** Which limit was reached. */
  window: 'minute' | 'day';
  /** Seconds until that window closes (the `Retry-After`). */
  retryAfterSeconds: number;
}

export type BudgetVerdict = { granted: true } | BudgetDenied;

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** The configured limits, or the defaults of `policy.ts`. */
export function publicRouteBudget(config: {
  publicRouteBudgetPerMinute?: number;
  publicRouteBudgetPerDay?: number;
}): PublicRouteBudget {
  return {
    perMinute: config.publicRouteBudgetPerMinute ?? PUBLIC_ROUTE_BUDGET_PER_MINUTE,
    perDay: config.publicRouteBudgetPerDay ?? PUBLIC_ROUTE_BUDGET_PER_DAY,
  };
}

/** The window of `lengthMs` containing `now`, its boundaries shifted by `offsetMs` (Beijing midnight). */
function windowAt(now: number, lengthMs: number, offsetMs: number) {
  const startsAt = Math.floor((now + offsetMs) / lengthMs) * lengthMs - offsetMs;
  return { startsAt, endsAt: startsAt + lengthMs };
}

/** The last window each budget was reported spent in (per container): a burst logs one line per window. */
const reported = new Map<string, number>();

/**
 * Takes one unit of a public route's WeChat budget before its WeChat calls are made (architecture §7 "Budgets"):
 * first of the current minute, then of the current day (Beijing time, as WeChat's quotas). Each count is
 * one conditional write on its own item in the token table, so the limits hold across every Lambda
 * container and the sandbox, and a visitor turned away spends nothing at WeChat. A minute unit taken when
 * the day is spent is not returned: it only lowers that minute's count, never raises WeChat's.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/openApi/get_api_quota.html
 */
export async function spendPublicBudget(
  ctx: Pick<TokenContext, 'componentAppId' | 'store' | 'clock' | 'log'>,
  route: PublicRoute,
  budget: PublicRouteBudget
): Promise<BudgetVerdict> {
  const now = ctx.clock();
  const limits = [
    { window: 'minute', limit: budget.perMinute, ...windowAt(now, MINUTE_MS, 0) },
    { window: 'day', limit: budget.perDay, ...windowAt(now, DAY_MS, WECHAT_DAY_OFFSET_MS) },
  ] as const;
  for (const { window, limit, startsAt, endsAt } of limits) {
    const budgetWindow: BudgetWindow = {
      componentAppId: ctx.componentAppId,
      name: `${route}/${window}`,
      startsAt,
      endsAt,
    };
    if (await ctx.store.spendBudget(budgetWindow, limit)) continue;
    const reportKey = `${ctx.componentAppId}#${budgetWindow.name}`;
    if (reported.get(reportKey) !== startsAt) {
      reported.set(reportKey, startsAt);
      ctx.log.warn('public route budget spent; visitors get the busy page until the window ends', {
        route,
        window,
        limit,
      });
    }
    return {
      granted: false,
      window,
      retryAfterSeconds: Math.max(1, Math.ceil((endsAt - now) / 1000)),
    };
  }
  return { granted: true };
}
