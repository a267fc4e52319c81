import { TicketUnavailableError, WechatApiError } from '../errors';
import { MetricName } from '../log';
import {
  refreshAtFor,
  SERVE_MIN_REMAINING_MS,
  START_PUSH_TICKET_MIN_INTERVAL_MS,
  TICKET_LIFETIME_MS,
} from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import type { ComponentTokenRecord, TicketRecord } from '../store/token-store';
import type { TokenContext } from '../token-context';
import type { IssuedToken } from './servable-token';
import {
  peekToken,
  type RefreshOutcome,
  refreshTokenIfDue,
  type ServeOptions,
  serveToken,
  type TokenKind,
} from './serve-token';

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
  const last = ctx.ticketPush.requestedAt;
  if (last !== undefined && now - last < START_PUSH_TICKET_MIN_INTERVAL_MS) return false;
  ctx.ticketPush.requestedAt = now;
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

async function mintComponentToken(
  ctx: TokenContext,
  owner: string,
  forcedAt: number | undefined
): Promise<ComponentTokenRecord> {
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
      forcedAt,
      requestedAt: now,
    },
    ctx.clock()
  );
}

function componentKind(ctx: TokenContext): TokenKind<ComponentTokenRecord> {
  return {
    ref: { kind: 'component_token', componentAppId: ctx.componentAppId },
    read: () => ctx.store.getComponentToken(ctx.componentAppId),
    check: () => undefined,
    renewable: () => true,
    renew: async (record, owner, leaseCtx, forced) => ({
      record: await mintComponentToken(
        leaseCtx,
        owner,
        forced ? leaseCtx.clock() : record?.forcedAt
      ),
      saved: true,
    }),
    probePath: '/cgi-bin/component/api_component_token',
    metrics: {
      succeeded: MetricName.ComponentRefreshSucceeded,
      failed: MetricName.ComponentRefreshFailed,
    },
    fields: { token: 'component' },
  };
}

/** The run's memo (see `TokenContext.componentTokenMemo`) while it has enough promised life left. */
function fromMemo(ctx: TokenContext, invalidToken: string | undefined): IssuedToken | undefined {
  const memo = ctx.componentTokenMemo?.token;
  if (!memo || memo.accessToken === invalidToken) return undefined;
  return memo.expiresAt - ctx.clock() >= SERVE_MIN_REMAINING_MS ? memo : undefined;
}

/**
 * The platform's `component_access_token` for a caller (`serveToken`'s rules): the stored one while its
 * promised life lasts and it is not the one the caller reports WeChat rejected; otherwise one
 * compare-and-refresh through the lease.
 *
 * @throws TicketUnavailableError when no ticket inside its 12 h life exists.
 * @throws WechatApiError / WechatUnavailableError when the refresh failed and no usable token remains.
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/ticket-token/api_getcomponentaccesstoken
 */
export async function getComponentAccessToken(
  ctx: TokenContext,
  options: ServeOptions = {}
): Promise<IssuedToken> {
  const remembered = fromMemo(ctx, options.invalidToken);
  if (remembered) return remembered;
  const token = await serveToken(ctx, componentKind(ctx), options);
  if (ctx.componentTokenMemo) ctx.componentTokenMemo.token = token;
  return token;
}

/** The stored component token while it has promised life left, without refreshing. */
export function peekComponentToken(
  ctx: TokenContext,
  invalidToken?: string
): Promise<IssuedToken | undefined> {
  return peekToken(ctx, componentKind(ctx), invalidToken);
}

/**
 * Scheduled renewal: refreshes the component token when its `refreshAt` has come (or it has none).
 * Another refresher holding the lease counts as `busy`, not as a failure.
 */
export function refreshComponentTokenIfDue(ctx: TokenContext): Promise<RefreshOutcome> {
  return refreshTokenIfDue(
    ctx,
    componentKind(ctx),
    (record, now) =>
      !record?.accessToken || record.refreshAt === undefined || record.refreshAt <= now
  );
}
