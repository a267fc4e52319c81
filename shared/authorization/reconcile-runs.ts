import { errorCode } from '../errors';
import { settleOrphanedEvents } from '../events/outbox';
import { RECONCILE_RETRY_AFTER_MS } from '../policy';
import { reportWechatFailure } from '../report-wechat-failure';
import { readRun, recordRun } from '../run-records';
import type { TokenContext } from '../token-context';
import { type ReconcileSummary, reconcileAuthorizers } from './reconcile';

/**
 * What a reconciliation run records for the operators' `status`, for its own retry, and for held codes
 * (`startedAt`: every authorization made before it was listed to it).
 */
type RecordedReconcile = Partial<ReconcileSummary> & { error?: string; startedAt?: number };

/**
 * One reconciliation run (the schedule's `{"job":"reconcile"}`, or a retry): reconciles, logs the summary
 * and records it; a run that fails records its error code before the error is rethrown, so the next sweep
 * knows to retry it (see {@link retryIncompleteReconciliation}).
 */
export async function reconcileAndRecord(
  ctx: TokenContext,
  options: Parameters<typeof reconcileAuthorizers>[1]
): Promise<ReconcileSummary> {
  const startedAt = ctx.clock();
  let summary: ReconcileSummary;
  try {
    summary = await reconcileAuthorizers(ctx, options);
  } catch (error) {
    await recordRun(ctx, 'reconcile', {
      error: errorCode(error),
      startedAt,
    } satisfies RecordedReconcile);
    throw error;
  }
  await settleOrphanedEvents(ctx, options.deadline - (options.reserveMs ?? 0)).catch(
    (error: unknown) =>
      ctx.log.warn(
        'left lifecycle events on their authorizers; the next reconciliation moves them',
        {
          code: errorCode(error),
        }
      )
  );
  ctx.log.info('authorizer reconciliation finished', { ...summary });
  await recordRun(ctx, 'reconcile', { ...summary, startedAt } satisfies RecordedReconcile);
  return summary;
}

/**
 * Whether a reconciliation that started at or after `since` read every listed authorizer and stored each:
 * every authorization made before `since` is then stored here, and a held code of that time is settled
 * without another run (a burst of codes costs one list read, not one each).
 */
export async function reconciledSince(ctx: TokenContext, since: number): Promise<boolean> {
  const last = await readRun(ctx, 'reconcile');
  const recorded = last?.summary as RecordedReconcile | undefined;
  if (!recorded || incomplete(recorded)) return false;
  return recorded.startedAt !== undefined && recorded.startedAt >= since;
}

/** Whether a recorded reconciliation left something undone: it failed, ran out of time, or skipped some. */
function incomplete(recorded: RecordedReconcile): boolean {
  return recorded.error !== undefined || recorded.truncated === true || (recorded.failed ?? 0) > 0;
}

/**
 * Called by every scheduled sweep: reruns the last reconciliation when it did not complete (a list answer
 * of 45009 or a WeChat outage, the time budget, an authorizer WeChat could not describe) and
 * `RECONCILE_RETRY_AFTER_MS` have passed since, instead of waiting for the next scheduled one hours later.
 * That is how an authorization neither of whose channels reached us is imported within the schedule's
 * interval even when the one reconciliation inside it failed. Costs one run-record read per sweep; never
 * throws (a failed retry is logged, recorded and tried again later).
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/openApi/authorization-management/api_getauthorizerlist
 */
export async function retryIncompleteReconciliation(
  ctx: TokenContext,
  options: { deadline: number }
): Promise<ReconcileSummary | undefined> {
  const last = await readRun(ctx, 'reconcile');
  if (!last || ctx.clock() - last.finishedAt < RECONCILE_RETRY_AFTER_MS) return undefined;
  if (!incomplete(last.summary as RecordedReconcile)) return undefined;
  try {
    return await reconcileAndRecord(ctx, options);
  } catch (error) {
    reportWechatFailure(ctx, error, { step: 'reconcile_retry' });
    return undefined;
  }
}
