import { errorCode, TicketUnavailableError, WechatApiError } from '../errors';
import { MetricName } from '../log';
import type { ComponentTokenRecord, TicketRecord } from '../store/token-store';
import type { TokenContext } from './context';
import { failureFrom, type IssuedToken, servableToken } from './issued-token';
import {
  RETRY_AFTER_FAILURE_MS,
  refreshAtFor,
  START_PUSH_TICKET_MIN_INTERVAL_MS,
  TICKET_LIFETIME_MS,
} from './policy';
import { reportWechatFailure } from './report';
import { refreshUnderLease } from './single-flight';

/** True while a ticket is inside its 12 h life: WeChat still accepts it even when later pushes are missing. */
export function ticketUsable(
  ticket: TicketRecord | undefined,
  now: number
): ticket is TicketRecord {
  return !!ticket && now - ticket.createTime < TICKET_LIFETIME_MS;
}

/**
 * Asks WeChat to restart the ticket push (`api_start_push_ticket`), at most once per
 * `START_PUSH_TICKET_MIN_INTERVAL_MS` per container. Never throws: it is a remedy, not a dependency.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_verify_ticket_service.html
 */
export async function requestTicketPush(ctx: TokenContext): Promise<boolean> {
  const now = ctx.clock();
  const last = ctx.ticketPushRequestedAt;
  if (last !== undefined && now - last < START_PUSH_TICKET_MIN_INTERVAL_MS) return false;
  ctx.ticketPushRequestedAt = now;
  try {
    const secret = await ctx.secrets();
    await ctx.api.apiStartPushTicket(secret.componentAppSecret);
    ctx.log.warn('asked WeChat to restart component_verify_ticket pushes', {
      componentAppId: ctx.componentAppId,
    });
    return true;
  } catch (error) {
    reportWechatFailure(ctx, error, { api: 'api_start_push_ticket' });
    return false;
  }
}

async function mintComponentToken(ctx: TokenContext, owner: string): Promise<ComponentTokenRecord> {
  const now = ctx.clock();
  const ticket = await ctx.store.getTicket(ctx.componentAppId);
  if (!ticketUsable(ticket, now)) {
    ctx.metrics.count(MetricName.TicketUnavailable);
    await requestTicketPush(ctx);
    throw new TicketUnavailableError(
      ticket
        ? 'the last component_verify_ticket is older than 12 hours; ticket pushes were requested again'
        : 'no component_verify_ticket has been received yet; ticket pushes were requested'
    );
  }
  const secret = await ctx.secrets();
  let answer: Awaited<ReturnType<TokenContext['api']['apiComponentToken']>>;
  try {
    answer = await ctx.api.apiComponentToken(secret.componentAppSecret, ticket.ticket);
  } catch (error) {
    if (error instanceof WechatApiError && error.kind === 'ticket_invalid') {
      ctx.metrics.count(MetricName.TicketUnavailable);
      await requestTicketPush(ctx);
    }
    throw error;
  }
  const expiresAt = now + answer.expires_in * 1000;
  return ctx.store.saveComponentToken(
    ctx.componentAppId,
    owner,
    {
      accessToken: answer.component_access_token,
      expiresAt,
      refreshAt: refreshAtFor(now, expiresAt),
    },
    now
  );
}

function componentTarget(
  ctx: TokenContext,
  needsRefresh: (record: ComponentTokenRecord | undefined, now: number) => boolean
) {
  return {
    ref: { kind: 'component_token', componentAppId: ctx.componentAppId } as const,
    read: () => ctx.store.getComponentToken(ctx.componentAppId),
    needsRefresh,
    refresh: (_record: ComponentTokenRecord | undefined, owner: string) =>
      mintComponentToken(ctx, owner),
    onFailure: (error: unknown, now: number) => ({
      errorCode: errorCode(error),
      retryAt: now + RETRY_AFTER_FAILURE_MS,
    }),
  };
}

/** Updates the run's memo, when the caller keeps one, so a refreshed token replaces a rejected one. */
function remember(ctx: TokenContext, token: IssuedToken): IssuedToken {
  if (ctx.componentTokenMemo) ctx.componentTokenMemo = token;
  return token;
}

/**
 * The platform's `component_access_token` for a caller: the stored one while it has more than
 * `SERVE_MIN_REMAINING_MS` left and is not the one the caller reports WeChat rejected; otherwise one
 * compare-and-refresh through the lease.
 *
 * @throws TicketUnavailableError when no ticket inside its 12 h life exists.
 * @throws WechatApiError / WechatUnavailableError when the refresh failed and no usable token remains.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getcomponentaccesstoken
 */
export async function getComponentAccessToken(
  ctx: TokenContext,
  options: { invalidToken?: string } = {}
): Promise<IssuedToken> {
  const remembered = servableToken(ctx.componentTokenMemo, ctx.clock(), options.invalidToken);
  if (remembered) return remembered;
  const stored = await ctx.store.getComponentToken(ctx.componentAppId);
  const current = servableToken(stored, ctx.clock(), options.invalidToken);
  if (current) return remember(ctx, current);
  let result: Awaited<ReturnType<typeof refreshUnderLease<ComponentTokenRecord>>>;
  try {
    result = await refreshUnderLease(
      ctx,
      componentTarget(ctx, (record, now) => !servableToken(record, now, options.invalidToken)),
      { wait: true }
    );
  } catch (error) {
    ctx.metrics.count(MetricName.ComponentRefreshFailed, 1, errorCode(error));
    const fallback = servableToken(
      await ctx.store.getComponentToken(ctx.componentAppId),
      ctx.clock(),
      options.invalidToken,
      0
    );
    if (!fallback) throw error;
    ctx.log.warn('component token refresh failed; serving the stored token until it expires', {
      code: errorCode(error),
    });
    return fallback;
  }
  if (result.outcome === 'refreshed') ctx.metrics.count(MetricName.ComponentRefreshSucceeded);
  const served = servableToken(result.record, ctx.clock(), options.invalidToken, 0);
  if (served) return remember(ctx, served);
  throw failureFrom(result.outcome === 'failed_elsewhere' ? result.errorCode : undefined);
}

export type ComponentRefreshOutcome = 'refreshed' | 'fresh' | 'busy';

/**
 * Scheduled renewal: refreshes the component token when its `refreshAt` has come (or it has none).
 * Another refresher holding the lease counts as `busy`, not as a failure.
 */
export async function refreshComponentTokenIfDue(
  ctx: TokenContext
): Promise<ComponentRefreshOutcome> {
  try {
    const result = await refreshUnderLease(
      ctx,
      componentTarget(
        ctx,
        (record, now) =>
          !record?.accessToken || record.refreshAt === undefined || record.refreshAt <= now
      ),
      { wait: false }
    );
    if (result.outcome === 'refreshed') {
      ctx.metrics.count(MetricName.ComponentRefreshSucceeded);
      return 'refreshed';
    }
    return result.outcome === 'busy' ? 'busy' : 'fresh';
  } catch (error) {
    ctx.metrics.count(MetricName.ComponentRefreshFailed, 1, errorCode(error));
    throw error;
  }
}
