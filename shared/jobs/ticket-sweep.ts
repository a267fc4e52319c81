import { errorCode } from '../errors';
import { TICKET_KEPT_FRESH_FOR_MS } from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import { authorizerEnded, refreshTicketIfDue, servedLately } from '../serving/authorizer-tickets';
import type { AuthorizerTicketRecord } from '../store/token-store';
import { type TokenContext, withLogContext } from '../token-context';
import { dueTicketFeed } from './due-authorizer-feed';

export interface TicketSweepSummary {
  /** Due tickets this run looked at. */
  seen: number;
  refreshed: number;
  /** Taken off the `due` index: not served lately, or their authorizer can no longer be served. */
  retired: number;
  /** Leased by another renewal, no longer due when read, or served meanwhile (not retired). */
  skipped: number;
  /** Failures by error code; each keeps its ticket and is retried on a later run. */
  failed: Record<string, number>;
  /** True when the time budget ran out (or the run stopped) before every due ticket was looked at. */
  truncated: boolean;
}

/** The summary of a ticket pass that looked at nothing (yet). */
export const emptyTicketSweep = (): TicketSweepSummary => ({
  seen: 0,
  refreshed: 0,
  retired: 0,
  skipped: 0,
  failed: {},
  truncated: false,
});

/**
 * The sweep's pass over the authorizers' `getticket` tickets due at this run (from every ticket partition
 * of the `due` index, never a scan), with bounded concurrency until `stopAt`. A ticket served within
 * `TICKET_KEPT_FRESH_FOR_MS` is renewed ahead of expiry (one `getticket` through its lease), so callers of a
 * page in use never wait for one; any other leaves the index (`retireTicket`; a serve noted meanwhile keeps
 * it there), so merchants that stopped using JS-SDK pages spend no quota. A ticket whose authorizer can no
 * longer be served (revoked, …) leaves it too.
 *
 * Per-ticket failures are counted and leave the ticket in place; `systemic` names a failure that concerns
 * the whole platform, which stops the pass.
 */
export async function sweepTickets(
  ctx: TokenContext,
  options: { stopAt: number; concurrency: number },
  systemic: (error: unknown) => string | undefined
): Promise<{ summary: TicketSweepSummary; systemicError?: string }> {
  const summary = emptyTicketSweep();
  let systemicError: string | undefined;
  const feed = dueTicketFeed(ctx.store, ctx.componentAppId, ctx.clock(), {
    lowWater: options.concurrency,
  });

  const retire = async (listed: AuthorizerTicketRecord, servedBefore: number) => {
    const now = ctx.clock();
    const { authorizerAppId, type } = listed;
    const retired = await ctx.store.retireTicket(
      ctx.componentAppId,
      authorizerAppId,
      type,
      servedBefore,
      now
    );
    if (retired) summary.retired += 1;
    else summary.skipped += 1;
  };

  const worker = async () => {
    for (;;) {
      if (systemicError) return;
      if (ctx.clock() >= options.stopAt) {
        summary.truncated = !feed.drained();
        return;
      }
      const listed = await feed.next();
      if (!listed) return;
      summary.seen += 1;
      const itemCtx = withLogContext(ctx, {
        authorizerAppId: listed.authorizerAppId,
        token: `${listed.type}_ticket`,
      });
      const now = itemCtx.clock();
      if (!servedLately(listed, now)) {
        await retire(listed, now - TICKET_KEPT_FRESH_FOR_MS);
        continue;
      }
      try {
        const outcome = await refreshTicketIfDue(itemCtx, listed);
        if (outcome === 'refreshed') summary.refreshed += 1;
        else summary.skipped += 1;
      } catch (error) {
        if (authorizerEnded(error)) {
          itemCtx.log.info('the ticket’s authorizer can no longer be served; ticket retired', {
            code: errorCode(error),
          });
          await retire(listed, itemCtx.clock() + 1);
          continue;
        }
        const code = errorCode(error);
        summary.failed[code] = (summary.failed[code] ?? 0) + 1;
        reportWechatFailure(itemCtx, error, { step: 'ticket' });
        systemicError ??= systemic(error);
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: options.concurrency }, worker));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return { summary, ...(systemicError ? { systemicError } : {}) };
}
