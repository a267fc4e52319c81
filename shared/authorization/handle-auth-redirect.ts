import {
  type BudgetDenied,
  type PublicRouteBudget,
  spendPublicBudget,
} from '../budgets/public-budget';
import { AuthCodeExpiredError, errorCode } from '../errors';
import { REDIRECT_PUSH_WAIT_MS } from '../policy';
import { readAuthorization } from '../serving/authorizer-list';
import type { TokenContext } from '../token-context';
import { AWAITING_PUSH, awaitAuthCode, exchangeAuthCode } from './auth-codes';

/** The redirect's query, checked: the authorization code and how long it lives. */
export interface AuthRedirect {
  code: string;
  lifetimeMs: number;
}

/** What the callback's result page shows of an account that authorized. */
export interface LinkedAccount {
  appId: string;
  /** `authorizer_info.nick_name`, when WeChat told us. */
  nickName?: string;
  /** Granted permission-set ids (`func_info`). */
  funcInfo: readonly number[];
  /** WeChat issued no tokens: the account has no API permission. */
  withoutApiPermission: boolean;
}

/**
 * How a redirect ended: the route's budget was spent (nothing stored or called), the account authorized,
 * the code expired, or the code is stored and its exchange left to the push or the schedule.
 */
export type AuthRedirectOutcome =
  | { status: 'busy'; verdict: BudgetDenied }
  | { status: 'authorized'; account: LinkedAccount }
  | { status: 'expired' }
  | { status: 'pending' };

/**
 * The account's name, unless WeChat fails: the result page then names the account by its appid.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerinfo
 */
async function accountName(ctx: TokenContext, appId: string): Promise<string | undefined> {
  try {
    return (await readAuthorization(ctx, appId)).accountName;
  } catch (error) {
    ctx.log.warn('account name unavailable; the result page names the appid only', {
      authorizerAppId: appId,
      code: errorCode(error),
    });
    return undefined;
  }
}

/**
 * An authorized account's stored status and permission sets, and, when `askWechat` (the visit may spend a
 * WeChat call), its name.
 */
async function linkedAccount(
  ctx: TokenContext,
  appId: string,
  askWechat: boolean
): Promise<LinkedAccount> {
  const [stored, name] = await Promise.all([
    ctx.store.getAuthorizer(ctx.componentAppId, appId),
    askWechat ? accountName(ctx, appId) : undefined,
  ]);
  return {
    appId,
    nickName: name,
    funcInfo: stored?.funcInfo ?? [],
    withoutApiPermission: stored?.status === 'without_api_permission',
  };
}

/**
 * The admin's return from WeChat's authorization page (`GET /authorize/callback`): the code is stored
 * first, then exchanged once with `api_query_auth` (the `authorized` push carries the same code; the two
 * paths never exchange it twice), and the account is described for the result page.
 *
 * Anyone can call the route, so a code that may still cost WeChat calls (unknown or pending) first takes a
 * unit of `budget`, which also covers the name lookup; past the budget nothing is stored or called. An
 * exchanged code reached without spending asks WeChat for the name only if a unit is still left. The push
 * is never budgeted: it is signed, and usually completes the authorization while the redirect is on its way.
 *
 * A failure other than an expired code leaves the code stored and pending for the schedule; it is logged,
 * not thrown.
 *
 * @throws StoreUnavailableError from the reads before the exchange (the code's record, the budget).
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export async function handleAuthRedirect(
  ctx: TokenContext,
  redirect: AuthRedirect,
  budget: PublicRouteBudget
): Promise<AuthRedirectOutcome> {
  const known = await ctx.store.getAuthCode(ctx.componentAppId, redirect.code);
  let spent = false;
  if (known?.status !== 'exchanged' && known?.status !== 'failed') {
    const verdict = await spendPublicBudget(ctx, 'authorize-callback', budget);
    if (!verdict.granted) return { status: 'busy', verdict };
    spent = true;
  }
  const now = ctx.clock();
  try {
    let result = await exchangeAuthCode(ctx, {
      code: redirect.code,
      source: 'redirect',
      receivedAt: now,
      expiresAt: now + redirect.lifetimeMs,
    }).catch((error: unknown) => {
      if (errorCode(error) !== AWAITING_PUSH) throw error;
      return { status: 'pending' } as const;
    });
    // A redirect's code is held until the push names its authorizer (exchangeAuthCode): the push
    // normally settles it within a second or two, so the admin sees the outcome, not "pending".
    if (result.status === 'pending') {
      result = await awaitAuthCode(ctx, redirect.code, ctx.clock() + REDIRECT_PUSH_WAIT_MS);
    }
    if (result.status === 'exchanged') {
      const askWechat =
        spent || (await spendPublicBudget(ctx, 'authorize-callback', budget)).granted;
      const account = await linkedAccount(ctx, result.authorizerAppId, askWechat);
      return { status: 'authorized', account };
    }
  } catch (error) {
    if (error instanceof AuthCodeExpiredError) return { status: 'expired' };
    ctx.log.warn('authorization code stored; exchange will be retried', { code: errorCode(error) });
  }
  return { status: 'pending' };
}
