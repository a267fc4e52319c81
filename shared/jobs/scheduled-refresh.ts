import { exchangePendingAuthCodes, type PendingCodesSummary } from '../authorization/auth-codes';
import { errorCode, StoreUnavailableError, WechatApiError } from '../errors';
import { flushLifecycleEvents, settlePendingEvents } from '../events/outbox';
import { MetricName } from '../log';
import {
  SWEEP_CONCURRENCY,
  SWEEP_DEADLINE_RESERVE_MS,
  TICKET_LIFETIME_MS,
  TICKET_STALE_AFTER_MS,
} from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import { refreshAuthorizerIfDue } from '../serving/authorizer-tokens';
import {
  refreshComponentTokenIfDue,
  requestTicketPush,
  ticketUsable,
} from '../serving/component-token';
import { fallbackToken } from '../serving/servable-token';
import { type TokenContext, withLogContext } from '../token-context';
import { isSystemic } from '../wechat/errcodes';
import { dueAuthorizerFeed } from './due-authorizer-feed';
import { emptyTicketSweep, sweepTickets, type TicketSweepSummary } from './ticket-sweep';

export interface RefreshSummary {
  ticket: { ageSeconds?: number; usable: boolean };
  component: 'refreshed' | 'fresh' | 'busy' | 'failed';
  authorizers: {
    /** Due items this run looked at. */
    seen: number;
    refreshed: number;
    /**
     * Leased by another refresher, no longer due when read, or renewed while another writer's newer token
     * was stored (that renewal's token did not stand: architecture §3).
     */
    skipped: number;
    /** Failures by error code; each keeps its old token and is retried on a later run. */
    failed: Record<string, number>;
    /** True when the time budget ran out before every due authorizer was looked at. */
    truncated: boolean;
  };
  authCodes: PendingCodesSummary;
  /** The authorizers' `getticket` tickets: renewed while used, retired once not (`ticket-sweep.ts`). */
  tickets: TicketSweepSummary;
  /** Set when a failure means the whole platform is misconfigured (61004 whitelist, bad credentials). */
  systemicError?: string;
  durationMs: number;
}

/**
 * One scheduled pass (every 5 minutes): publish the lifecycle events left in the outbox
 * (`shared/events/outbox.ts`), report the ticket's age (and ask WeChat to resume pushes when it is
 * stale), renew the component token when due, renew every authorizer whose `refreshAt` has come (read from
 * every partition of the `due` index, never a scan: `due-authorizer-feed.ts`) with bounded concurrency
 * until `deadline`, retry pending authorization codes, then renew the authorizers' `getticket` tickets
 * that are due and still in use (`ticket-sweep.ts`).
 *
 * Per-item failures are counted and leave the old token in place; a systemic failure stops the pass and is
 * returned in `systemicError` so the Lambda edge can fail the invocation and fire the alarm.
 */
export async function runScheduledRefresh(
  ctx: TokenContext,
  options: { deadline: number; concurrency?: number }
): Promise<RefreshSummary> {
  const startedAt = ctx.clock();
  const summary: RefreshSummary = {
    ticket: { usable: false },
    component: 'fresh',
    authorizers: { seen: 0, refreshed: 0, skipped: 0, failed: {}, truncated: false },
    authCodes: { exchanged: 0, expired: 0, pending: 0 },
    tickets: emptyTicketSweep(),
    durationMs: 0,
  };
  const finish = () => {
    summary.durationMs = ctx.clock() - startedAt;
    return summary;
  };
  const systemic = (error: unknown) =>
    error instanceof WechatApiError && isSystemic(error.kind) ? errorCode(error) : undefined;

  await flushLifecycleEvents(ctx, options.deadline - SWEEP_DEADLINE_RESERVE_MS);
  try {
    await runSteps(ctx, summary, options, systemic);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    summary.systemicError = error.code;
    summary.authorizers.truncated = true;
    ctx.log.error('the token table is unavailable; scheduled refresh stopped', {
      code: error.code,
    });
  }
  return finish();
}

async function runSteps(
  ctx: TokenContext,
  summary: RefreshSummary,
  options: { deadline: number; concurrency?: number },
  systemic: (error: unknown) => string | undefined
): Promise<void> {
  const startedAt = ctx.clock();
  const ticket = await ctx.store.getTicket(ctx.componentAppId);
  const ageMs = ticket ? startedAt - ticket.createTime : TICKET_LIFETIME_MS;
  summary.ticket = {
    ...(ticket ? { ageSeconds: Math.round(ageMs / 1000) } : {}),
    usable: ticketUsable(ticket, startedAt),
  };
  ctx.metrics.gauge(MetricName.TicketAgeSeconds, Math.round(ageMs / 1000), 'Seconds');
  if (ageMs > TICKET_STALE_AFTER_MS) await requestTicketPush(ctx);

  try {
    const outcome = await refreshComponentTokenIfDue(ctx);
    summary.component = outcome === 'current' || outcome === 'kept' ? 'fresh' : outcome;
  } catch (error) {
    summary.component = 'failed';
    reportWechatFailure(ctx, error, { step: 'component_token' });
    summary.systemicError = systemic(error);
  }
  const component = fallbackToken(
    await ctx.store.getComponentToken(ctx.componentAppId),
    ctx.clock()
  );
  if (summary.systemicError || !component) {
    summary.authorizers.truncated = true;
    summary.tickets.truncated = true;
    return;
  }

  const sweepCtx: TokenContext = { ...ctx, componentTokenMemo: { token: component } };
  const stopAt = options.deadline - SWEEP_DEADLINE_RESERVE_MS;
  const inTime = () => !summary.systemicError && ctx.clock() < stopAt;
  await sweepAuthorizers(sweepCtx, summary, options, systemic);
  if (inTime()) summary.authCodes = await exchangePendingAuthCodes(sweepCtx);
  if (!inTime()) {
    summary.tickets.truncated = true;
    return;
  }
  const tickets = await sweepTickets(
    sweepCtx,
    { stopAt, concurrency: Math.max(1, options.concurrency ?? SWEEP_CONCURRENCY) },
    systemic
  );
  summary.tickets = tickets.summary;
  summary.systemicError ??= tickets.systemicError;
}

async function sweepAuthorizers(
  ctx: TokenContext,
  summary: RefreshSummary,
  options: { deadline: number; concurrency?: number },
  systemic: (error: unknown) => string | undefined
): Promise<void> {
  const stopAt = options.deadline - SWEEP_DEADLINE_RESERVE_MS;
  const workers = Math.max(1, options.concurrency ?? SWEEP_CONCURRENCY);
  const feed = dueAuthorizerFeed(ctx.store, ctx.componentAppId, ctx.clock(), { lowWater: workers });

  const worker = async () => {
    for (;;) {
      if (summary.systemicError) return;
      if (ctx.clock() >= stopAt) {
        summary.authorizers.truncated = !feed.drained();
        return;
      }
      const listed = await feed.next();
      if (!listed) return;
      summary.authorizers.seen += 1;
      const itemCtx = withLogContext(ctx, { authorizerAppId: listed.authorizerAppId });
      // Events a writer left on the item (the outbox refused them) go with the authorizer's renewal.
      if (listed.pendingEvents?.length) {
        await settlePendingEvents(itemCtx, listed.authorizerAppId, listed);
      }
      try {
        const outcome = await refreshAuthorizerIfDue(itemCtx, listed);
        if (outcome === 'refreshed') summary.authorizers.refreshed += 1;
        else summary.authorizers.skipped += 1;
      } catch (error) {
        const code = errorCode(error);
        summary.authorizers.failed[code] = (summary.authorizers.failed[code] ?? 0) + 1;
        reportWechatFailure(itemCtx, error);
        summary.systemicError ??= systemic(error);
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: workers }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}
