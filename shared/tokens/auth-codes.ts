import { AuthCodeExpiredError, EmptyCredentialError, errorCode, WechatApiError } from '../errors';
import { MetricName } from '../log';
import type { AuthCodeRecord } from '../store/token-store';
import type { TokenContext } from './context';
import { AUTH_CODE_RETRY_MS, refreshAtFor } from './policy';
import { refreshUnderLease } from './single-flight';
import { withComponentToken } from './with-component-token';

export interface ReceivedAuthCode {
  code: string;
  source: 'redirect' | 'push';
  /** Epoch ms after which WeChat rejects the code (61010). */
  expiresAt: number;
  /** Epoch ms of the authorization: the push's CreateTime, or when the redirect arrived. */
  receivedAt: number;
  /** Known from the push; the redirect learns it from `api_query_auth`. */
  authorizerAppId?: string;
}

export type ExchangeResult =
  | { status: 'exchanged'; authorizerAppId: string }
  /** Stored and still pending (another exchange is in flight, or WeChat failed transiently). */
  | { status: 'pending' };

const fromPermissions = (funcInfo: { funcscope_category?: { id?: unknown } }[] | undefined) =>
  (funcInfo ?? [])
    .map((item) => item?.funcscope_category?.id)
    .filter((id): id is number => typeof id === 'number');

async function exchange(ctx: TokenContext, record: AuthCodeRecord, owner: string) {
  const { componentAppId, code } = record;
  const expired = () =>
    ctx.store.finishAuthCode(
      componentAppId,
      code,
      owner,
      { status: 'failed', outcomeCode: 'auth_code_expired' },
      ctx.clock()
    );
  if (ctx.clock() >= record.expiresAt) return expired();
  let answer: Awaited<ReturnType<TokenContext['api']['apiQueryAuth']>>;
  try {
    answer = await withComponentToken(ctx, (ct) => ctx.api.apiQueryAuth(ct, code));
  } catch (error) {
    if (error instanceof WechatApiError && error.kind === 'auth_code_invalid') return expired();
    if (error instanceof EmptyCredentialError && error.field === 'authorization_code') {
      return expired();
    }
    throw error;
  }
  const info = answer.authorization_info;
  const now = ctx.clock();
  const expiresAt =
    info.authorizer_access_token && info.expires_in ? now + info.expires_in * 1000 : undefined;
  await ctx.store.saveAuthorization(
    {
      componentAppId,
      authorizerAppId: info.authorizer_appid,
      accessToken: expiresAt ? info.authorizer_access_token : undefined,
      expiresAt,
      refreshToken: info.authorizer_refresh_token,
      funcInfo: fromPermissions(info.func_info),
      refreshAt: expiresAt ? refreshAtFor(now, expiresAt) : now,
      // WeChat's event times are whole seconds: compare on that grain, so that an `unauthorized` push
      // in the same second as the authorization is not mistaken for an older event.
      authorizedAt: Math.floor(record.receivedAt / 1000) * 1000,
    },
    now
  );
  ctx.metrics.count(MetricName.AuthorizationCompleted);
  ctx.log.info('authorization stored', {
    authorizerAppId: info.authorizer_appid,
    source: record.source,
    permissions: fromPermissions(info.func_info).join(','),
  });
  return ctx.store.finishAuthCode(
    componentAppId,
    code,
    owner,
    { status: 'exchanged', authorizerAppId: info.authorizer_appid },
    now
  );
}

function settle(record: AuthCodeRecord | undefined): ExchangeResult {
  if (record?.status === 'exchanged' && record.authorizerAppId) {
    return { status: 'exchanged', authorizerAppId: record.authorizerAppId };
  }
  if (record?.status === 'failed') {
    throw new AuthCodeExpiredError('the authorization code expired or was already used');
  }
  return { status: 'pending' };
}

/**
 * Stores an `authorization_code` (授权码) first, then exchanges it with `api_query_auth` exactly once, however
 * many times and by whichever path (redirect, `authorized` push, schedule) it arrives. The authorizer's
 * tokens and granted permission sets (`func_info`) are stored; a transient failure leaves the code pending
 * for the schedule until it expires.
 *
 * @throws AuthCodeExpiredError when WeChat says the code is expired or invalid (61010/61009), or it expired
 *   before it could be exchanged.
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export async function exchangeAuthCode(
  ctx: TokenContext,
  received: ReceivedAuthCode,
  options: { wait: boolean } = { wait: true }
): Promise<ExchangeResult> {
  const { record } = await ctx.store.putAuthCode({
    componentAppId: ctx.componentAppId,
    ...received,
  });
  return exchangeStored(ctx, record, options);
}

async function exchangeStored(
  ctx: TokenContext,
  first: AuthCodeRecord,
  options: { wait: boolean }
): Promise<ExchangeResult> {
  let pending: AuthCodeRecord | undefined = first;
  const result = await refreshUnderLease(
    ctx,
    {
      ref: { kind: 'auth_code', componentAppId: ctx.componentAppId, code: first.code },
      read: async () => {
        const record = pending ?? (await ctx.store.getAuthCode(ctx.componentAppId, first.code));
        pending = undefined;
        return record;
      },
      needsRefresh: (record) => record?.status === 'pending',
      refresh: (record, owner) => exchange(ctx, record as AuthCodeRecord, owner),
      onFailure: (error, now) => ({
        errorCode: errorCode(error),
        retryAt: now + AUTH_CODE_RETRY_MS,
      }),
    },
    options
  );
  return settle(result.record);
}

export interface PendingCodesSummary {
  exchanged: number;
  expired: number;
  pending: number;
}

/**
 * Retries every pending code whose next attempt is due (the schedule's safety net for exchanges that failed
 * transiently on the redirect or push path).
 */
export async function exchangePendingAuthCodes(
  ctx: TokenContext,
  limit = 100
): Promise<PendingCodesSummary> {
  const summary: PendingCodesSummary = { exchanged: 0, expired: 0, pending: 0 };
  const due = await ctx.store.listPendingAuthCodes(ctx.componentAppId, ctx.clock(), limit);
  for (const record of due) {
    try {
      const result = await exchangeStored(ctx, record, { wait: false });
      summary[result.status === 'exchanged' ? 'exchanged' : 'pending'] += 1;
    } catch (error) {
      if (error instanceof AuthCodeExpiredError) {
        summary.expired += 1;
      } else {
        summary.pending += 1;
        ctx.log.warn('pending authorization code not exchanged yet', { code: errorCode(error) });
      }
    }
  }
  return summary;
}
